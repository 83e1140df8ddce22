// A hand-played IKEv2 initiator for what the engine must survive from a
// peer that is not another engine: a third host's half-open SA, forged
// cookies, a newer major version, payloads it does not know. The key
// exchange and SK protection are HandInitiator's (shared with the fuzzer
// and the load generator), so its messages are as authentic as the
// engine's own.
#pragma once

#include <vector>

#include "harness.h"
#include "umigame/iked/hand_initiator.h"
#include "umigame/iked/proposal.h"

namespace umigame::iked::test {

class ManualInitiator : public HandInitiator {
public:
	ManualInitiator(Endpoint from, Endpoint to, const char *proposal = "aes128gcm16-prfsha256-ecp256")
		: HandInitiator(*parse_proposal(proposal, true, nullptr)), self(from), peer(to)
	{
	}

	Endpoint self, peer;

	Bytes init_request(const Bytes &cookie = {}, uint8_t major = 2) const
	{
		Bytes out = init_message(cookie).serialize();
		if (major != 2)
			out[17] = static_cast<uint8_t>(major << 4); // §3.1: MjVer in the high nibble
		return out;
	}
};

// The notify types in an unprotected message.
inline std::vector<uint16_t> notifies_in(const Bytes &datagram)
{
	std::vector<uint16_t> out;
	auto m = ike::Message::parse(datagram);
	for (const auto *n : m.find_all<ike::NotifyPayload>())
		out.push_back(n->type);
	return out;
}

} // namespace umigame::iked::test
