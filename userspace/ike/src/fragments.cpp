// IKE fragment reassembly and splitting, RFC 7383 §2.5 and §2.6.
#include "umigame/ike/fragments.h"

#include <stdexcept>
#include <string>

namespace umigame::ike {

std::optional<std::vector<uint8_t>> FragmentReassembler::add(uint32_t message_id, uint16_t number, uint16_t total,
							     uint8_t first_inner_if_number_1,
							     std::span<const uint8_t> plaintext,
							     uint8_t *first_inner_out)
{
	// RFC 7383 §2.5: numbered from 1 up to Total Fragments, which is not 0.
	if (total == 0 || total > kMaxFragments || number == 0 || number > total)
		return std::nullopt;
	auto found = sets_.find(message_id);
	if (found == sets_.end()) {
		if (sets_.size() >= kMaxReassemblies)
			sets_.erase(sets_.begin());
		found = sets_.emplace(message_id, Set{}).first;
		found->second.total = total;
	}
	Set &set = found->second;
	// RFC 7383 §2.6.2: a larger Total Fragments means the sender
	// re-fragmented for a smaller PMTU: what we have is stale. A
	// smaller one is a fragment of the older set, dropped.
	if (total > set.total) {
		set = Set{};
		set.total = total;
	} else if (total < set.total) {
		return std::nullopt;
	}
	if (set.chunks.contains(number))
		return std::nullopt;
	if (set.bytes + plaintext.size() > kMaxReassembledSize) {
		sets_.erase(found);
		return std::nullopt;
	}
	if (number == 1)
		set.first_inner = first_inner_if_number_1;
	set.bytes += plaintext.size();
	set.chunks.emplace(number, std::vector<uint8_t>(plaintext.begin(), plaintext.end()));
	if (set.chunks.size() < set.total)
		return std::nullopt;

	std::vector<uint8_t> whole;
	whole.reserve(set.bytes);
	// std::map iterates in fragment order.
	for (const auto &[n, chunk] : set.chunks)
		whole.insert(whole.end(), chunk.begin(), chunk.end());
	if (first_inner_out)
		*first_inner_out = set.first_inner;
	sets_.erase(found);
	return whole;
}

std::vector<std::vector<uint8_t>> split_for_fragments(std::span<const uint8_t> plaintext, size_t max_chunk)
{
	if (max_chunk == 0)
		throw std::invalid_argument("IKEv2 fragment size 0");
	size_t count = plaintext.empty() ? 1 : (plaintext.size() + max_chunk - 1) / max_chunk;
	if (count > 0xffff)
		throw std::length_error("IKEv2 message needs " + std::to_string(count) +
					" fragments, Total Fragments is 16 bits (RFC 7383 §2.5)");
	std::vector<std::vector<uint8_t>> chunks;
	chunks.reserve(count);
	for (size_t i = 0; i < count; i++) {
		auto chunk = plaintext.subspan(i * max_chunk, std::min(max_chunk, plaintext.size() - i * max_chunk));
		chunks.emplace_back(chunk.begin(), chunk.end());
	}
	return chunks;
}

} // namespace umigame::ike
