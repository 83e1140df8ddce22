// IKE fragmentation (RFC 7383) at the plaintext level: the daemon decrypts
// each Encrypted Fragment payload on its own (§2.6.2: each fragment is
// authenticated separately) and hands the plaintexts here; on the sending
// side it splits the inner payload chain and encrypts each chunk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

namespace umigame::ike {

// What one reassembly may hold. RFC 7383 sets no limit; a 64 KiB message
// (kMaxMessageSize) in 1280-octet datagrams is about 55 fragments.
inline constexpr uint16_t kMaxFragments = 64;
inline constexpr size_t kMaxReassembledSize = 64 * 1024;
// Message IDs reassembled at once (a window of requests, RFC 7296 §2.3,
// plus the responses to ours); the lowest is dropped when a new one comes.
inline constexpr size_t kMaxReassemblies = 8;

class FragmentReassembler {
public:
	// One verified, decrypted fragment. Returns the whole inner payload
	// chain once fragments 1..total are all in, with *first_inner_out (if
	// not null) set to fragment 1's Next Payload; nullopt until then, and
	// for a fragment that is dropped: number outside 1..total, total above
	// kMaxFragments, a duplicate, or a smaller total than the set in
	// progress (§2.6.2). A larger total starts the set again (the sender
	// re-fragmented for a smaller PMTU). A set that would grow past
	// kMaxReassembledSize is dropped whole.
	std::optional<std::vector<uint8_t>> add(uint32_t message_id, uint16_t number, uint16_t total,
						uint8_t first_inner_if_number_1, std::span<const uint8_t> plaintext,
						uint8_t *first_inner_out);
	void clear() { sets_.clear(); }
	// Message IDs with fragments waiting, for tests and status.
	size_t pending() const { return sets_.size(); }

private:
	struct Set {
		uint16_t total = 0;
		uint8_t first_inner = 0;
		size_t bytes = 0;
		std::map<uint16_t, std::vector<uint8_t>> chunks;
	};
	std::map<uint32_t, Set> sets_;
};

// Splits an inner payload chain into chunks of at most max_chunk octets,
// in order (RFC 7383 §2.5); an empty chain gives one empty chunk.
// Throws std::invalid_argument for max_chunk 0, std::length_error if more
// than 65535 chunks would be needed (Total Fragments is 16 bits).
std::vector<std::vector<uint8_t>> split_for_fragments(std::span<const uint8_t> plaintext, size_t max_chunk);

} // namespace umigame::ike
