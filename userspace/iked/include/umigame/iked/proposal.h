// Proposals as an operator writes them and as IKEv2 carries them.
//
// The text form is the one strongSwan's swanctl.conf uses, so that the two
// ends of a tunnel can be configured from one line:
//
//   IKE:  aes256gcm16-prfsha384-ecp384      aes128-sha256-modp2048
//   ESP:  aes128gcm16-esn                   aes256gcm16-ecp256-esn (PFS)
//
// One Proposal holds one algorithm per transform type; a list of proposals
// is offered in order of preference (RFC 7296 §3.3). Selection follows
// §2.7: the responder picks the first of the initiator's proposals that it
// accepts, and answers with exactly one transform of each type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "umigame/ike/message.h"
#include "umigame/ike/crypto.h"

namespace umigame::iked {

struct AlgorithmSet {
	uint16_t encr = 0;
	uint16_t encr_key_bits = 0;
	uint16_t integ = 0;   // 0 for AEAD
	uint16_t prf = 0;     // IKE only
	uint16_t dh = 0;      // IKE: required; ESP: PFS group, 0 = none
	// ESP only: which ESN transforms are acceptable (kEsnNo | kEsnYes);
	// offered with ESN first, so a peer that can do ESN does (RFC 4303
	// §2.2.1, the 65536-packet window of umigame.ko needs it). A negotiated
	// set has exactly one bit.
	uint8_t esn_mask = 0;
	static constexpr uint8_t kEsnNo = 1, kEsnYes = 2;
	bool esn() const { return esn_mask == kEsnYes; }

	ike::CipherSuite suite() const { return {encr, encr_key_bits, integ}; }
	std::string str(bool for_ike) const;
	auto operator<=>(const AlgorithmSet &) const = default;
};

// Parses one proposal ("aes128gcm16-prfsha256-ecp256"). for_ike: a PRF and a
// DH group are required (a missing PRF follows the integrity algorithm, as
// strongSwan does); for ESP a DH group means PFS, "esn" or "noesn" allows
// only that, both or neither allows both with ESN preferred (strongSwan
// reads neither as "noesn": we prefer ESN by default). Returns nullopt and
// sets *error on failure.
std::optional<AlgorithmSet> parse_proposal(const std::string &text, bool for_ike, std::string *error);

// One SA payload proposal carrying `set` (an ESP proposal carries its
// allowed ESN transforms, ESN first).
ike::Proposal to_wire(const AlgorithmSet &set, ike::ProtocolId protocol, uint8_t number,
		      std::vector<uint8_t> spi);

// §2.7 selection as responder: the first offered proposal of `protocol` for
// which some configured set is fully acceptable. Returns the chosen set and
// the number and SPI of the offered proposal.
struct Selected {
	AlgorithmSet set;
	uint8_t number = 0;
	std::vector<uint8_t> spi;
};
std::optional<Selected> select_proposal(const ike::SaPayload &offered, ike::ProtocolId protocol,
					const std::vector<AlgorithmSet> &acceptable);

// The initiator's check of the responder's answer (§3.3.6): exactly one
// proposal, one of ours (by number), exactly one transform per type and
// every transform one we offered in that proposal.
std::optional<Selected> accept_answer(const ike::SaPayload &answer, ike::ProtocolId protocol,
				      const std::vector<AlgorithmSet> &offered);

} // namespace umigame::iked
