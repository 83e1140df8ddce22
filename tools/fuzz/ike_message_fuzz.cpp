// libFuzzer target: the IKEv2 wire format (userspace/ike) must turn any
// datagram into a Message or a ParseError, never a crash, hang or sanitizer
// report. Whatever parses must serialize (serialize() throwing on a parsed
// message is a bug: every parsed field fits its wire field), parse again to
// the same value, and serialize again to the same octets; the first
// serialization may differ from the input only where the RFC says to ignore
// what was received (reserved bits, an IKE Delete's SPI count). The same
// bytes are also tried as a decrypted SK chain and as fragment plaintexts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "umigame/ike/fragments.h"
#include "umigame/ike/message.h"

namespace {

using namespace umigame::ike;

void require(bool ok)
{
	if (!ok)
		std::abort();
}

// Touch what a daemon would read, so the accessors run on odd input too.
void read_like_a_daemon(const Message &m)
{
	(void)to_string(m.header.exchange);
	for (const Payload &p : m.payloads)
		(void)to_string(p.type);
	if (const SaPayload *sa = m.find<SaPayload>())
		for (const Proposal &p : sa->proposals)
			for (const Transform &t : p.transforms)
				(void)transform_name(t.type, t.id);
	for (const NotifyPayload *n : m.find_all<NotifyPayload>())
		(void)notify_name(n->type);
	for (const TsPayload *ts : m.find_all<TsPayload>())
		for (const TrafficSelector &s : ts->selectors)
			(void)(s.start.str() + s.end.str());
	if (const IdPayload *id = m.find<IdPayload>())
		(void)id->body();
}

void chain_round_trip(uint8_t first_type, std::span<const uint8_t> data)
{
	try {
		std::vector<Payload> chain = parse_payloads(first_type, data, 28);
		uint8_t first = 0;
		std::vector<uint8_t> again = serialize_payloads(chain, &first);
		require(again.size() == data.size());
		require(chain.empty() || first == first_type);
		require(parse_payloads(first, again, 28) == chain);
	} catch (const ParseError &) {
	}
}

// The input as a stream of fragment plaintexts: each record is message id,
// number, total, length, then that many octets.
void reassemble(std::span<const uint8_t> data)
{
	FragmentReassembler r;
	size_t pos = 0;
	while (data.size() - pos >= 4) {
		uint8_t id = data[pos] & 3, number = data[pos + 1] & 7, total = data[pos + 2] & 7,
			length = data[pos + 3];
		pos += 4;
		size_t n = std::min<size_t>(length, data.size() - pos);
		uint8_t first = 0;
		auto whole = r.add(id, number, total, 35, data.subspan(pos, n), &first);
		if (whole)
			require(first == 35 && whole->size() <= kMaxReassembledSize);
		pos += n;
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::span<const uint8_t> wire(data, size);
	try {
		Message message = Message::parse(wire);
		std::vector<uint8_t> once = message.serialize();
		require(once.size() == wire.size());
		Message again = Message::parse(once);
		require(again == message);
		std::vector<uint8_t> twice = again.serialize();
		require(once == twice);
		Message copy = message;
		require(copy == message);
		read_like_a_daemon(message);
	} catch (const ParseError &) {
		(void)Message::peek_major(wire);
	}
	if (size > 0)
		chain_round_trip(data[0], wire.subspan(1));
	for (uint8_t first : {33, 41, 44, 46, 53})
		chain_round_trip(first, wire);
	reassemble(wire);
	return 0;
}
