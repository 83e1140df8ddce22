// The Reconfigure Key Authentication Protocol, RFC 8415 §20.4: the server
// hands the client a 128-bit key in an Authentication option of a Reply
// (§20.4.1) and later proves a Reconfigure is its own with an HMAC-MD5 of
// the whole message, computed with the digest field zeroed (§20.4.2) and
// checked the same way by the client (§20.4.3).
//
// Authentication option fields for this protocol: protocol 3, algorithm 1
// (HMAC-MD5), RDM 0 (a monotonically increasing 64-bit counter in replay
// detection), and 17 octets of information: a type (1 = key, 2 = HMAC-MD5
// digest) and a 16-octet value.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "umigame/dhcp6/message.h"
#include "umigame/dhcp6/options.h"

namespace umigame::dhcp6 {

inline constexpr uint8_t kAuthProtocolReconfigureKey = 3;
inline constexpr uint8_t kAuthAlgorithmHmacMd5 = 1;
inline constexpr uint8_t kAuthRdmMonotonicCounter = 0;

enum class ReconfigureKeyType : uint8_t {
	Key = 1,     // in a Reply: the key itself
	HmacMd5 = 2, // in a Reconfigure: the digest
};

using ReconfigureKey = std::array<uint8_t, 16>;

struct ReconfigureKeyInfo {
	ReconfigureKeyType type;
	std::array<uint8_t, 16> value;
};

// The Authentication option a server puts in a Reply to give the client its
// key (§20.4.1).
Authentication reconfigure_key_option(const ReconfigureKey &key, uint64_t replay_detection);

// The type and value when `auth` is a Reconfigure Key option (protocol 3,
// algorithm 1, RDM 0, 17 octets of information with type 1 or 2);
// nullopt otherwise.
std::optional<ReconfigureKeyInfo> reconfigure_key_info(const Authentication &auth);

// HMAC-MD5 (RFC 2104) over `data`.
std::array<uint8_t, 16> hmac_md5(std::span<const uint8_t> key, std::span<const uint8_t> data);

// §20.4.2: set (replacing any) the top-level Authentication option of
// `message` to a Reconfigure Key HMAC-MD5 option with this replay
// detection value, and fill in the digest of message.serialize() taken
// with the digest zeroed. Serialize the message afterwards to send it.
void sign_reconfigure(Message &message, const ReconfigureKey &key, uint64_t replay_detection);

enum class AuthCheck {
	Valid,
	Missing,           // no top-level Authentication option
	Duplicate,         // more than one: which one would count?
	NotReconfigureKey, // some other protocol, algorithm, RDM, type or size
	BadDigest,
};

// §20.4.3: check a received message's HMAC-MD5 over the bytes exactly as
// received, the digest zeroed. Throws ParseError if `wire` is not a valid
// message at all. Replay detection (is the counter larger than the last
// one?) is the caller's: it needs the client's state.
AuthCheck verify_reconfigure(std::span<const uint8_t> wire, const ReconfigureKey &key);

} // namespace umigame::dhcp6
