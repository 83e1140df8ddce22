// RFC 7383 reassembly and splitting at the plaintext level.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hex.h"
#include "umigame/ike/fragments.h"

namespace umigame::ike {
namespace {

using namespace test;

std::vector<uint8_t> chunk(uint8_t fill, size_t n = 3)
{
	return std::vector<uint8_t>(n, fill);
}

// RFC 7383 §2.6.2: once fragments 1..total are in, the plaintexts joined
// in fragment order are the inner payload chain; Next Payload comes from
// fragment 1 (§2.5: the others carry 0).
TEST(FragmentReassembler, InOrder)
{
	FragmentReassembler r;
	uint8_t first = 0;
	EXPECT_FALSE(r.add(7, 1, 3, 35, chunk(1), &first));
	EXPECT_FALSE(r.add(7, 2, 3, 0, chunk(2), &first));
	auto whole = r.add(7, 3, 3, 0, chunk(3), &first);
	ASSERT_TRUE(whole);
	EXPECT_EQ(to_hex(*whole), "010101020202030303");
	EXPECT_EQ(first, 35);
	EXPECT_EQ(r.pending(), 0u);
}

TEST(FragmentReassembler, OutOfOrder)
{
	FragmentReassembler r;
	uint8_t first = 0;
	EXPECT_FALSE(r.add(7, 3, 3, 0, chunk(3), &first));
	EXPECT_FALSE(r.add(7, 1, 3, 41, chunk(1), &first));
	auto whole = r.add(7, 2, 3, 99, chunk(2), &first); // 99: ignored, not fragment 1
	ASSERT_TRUE(whole);
	EXPECT_EQ(to_hex(*whole), "010101020202030303");
	EXPECT_EQ(first, 41);
}

// A single fragment is a whole message (Total Fragments 1).
TEST(FragmentReassembler, SingleFragment)
{
	FragmentReassembler r;
	uint8_t first = 0;
	auto whole = r.add(1, 1, 1, 33, chunk(9), &first);
	ASSERT_TRUE(whole);
	EXPECT_EQ(to_hex(*whole), "090909");
	EXPECT_EQ(first, 33);
}

// A retransmitted fragment adds nothing: the first copy stays.
TEST(FragmentReassembler, DuplicateIgnored)
{
	FragmentReassembler r;
	uint8_t first = 0;
	EXPECT_FALSE(r.add(7, 1, 2, 35, chunk(1), &first));
	EXPECT_FALSE(r.add(7, 1, 2, 36, chunk(0xee), &first));
	auto whole = r.add(7, 2, 2, 0, chunk(2), &first);
	ASSERT_TRUE(whole);
	EXPECT_EQ(to_hex(*whole), "010101020202");
	EXPECT_EQ(first, 35);
}

// RFC 7383 §2.6.2: a larger Total Fragments means the peer re-fragmented
// the message, so the older fragments go; a smaller one belongs to the old
// set and is dropped.
TEST(FragmentReassembler, InconsistentTotal)
{
	FragmentReassembler r;
	uint8_t first = 0;
	EXPECT_FALSE(r.add(7, 1, 2, 35, chunk(1), &first));
	EXPECT_FALSE(r.add(7, 1, 3, 35, chunk(0x11), &first)); // restarts the set
	EXPECT_FALSE(r.add(7, 2, 2, 0, chunk(0xee), &first));  // old set: dropped
	EXPECT_FALSE(r.add(7, 2, 3, 0, chunk(0x22), &first));
	auto whole = r.add(7, 3, 3, 0, chunk(0x33), &first);
	ASSERT_TRUE(whole);
	EXPECT_EQ(to_hex(*whole), "111111222222333333");
}

// RFC 7383 §2.5: numbered 1..Total Fragments, and Total Fragments is not 0.
// Our bound: at most kMaxFragments.
TEST(FragmentReassembler, NumbersOutOfRangeDropped)
{
	FragmentReassembler r;
	EXPECT_FALSE(r.add(7, 0, 2, 35, chunk(1), nullptr));
	EXPECT_FALSE(r.add(7, 3, 2, 0, chunk(1), nullptr));
	EXPECT_FALSE(r.add(7, 1, 0, 35, chunk(1), nullptr));
	EXPECT_FALSE(r.add(7, 1, kMaxFragments + 1, 35, chunk(1), nullptr));
	EXPECT_EQ(r.pending(), 0u);
	// kMaxFragments itself is fine.
	for (uint16_t n = 1; n < kMaxFragments; n++)
		EXPECT_FALSE(r.add(8, n, kMaxFragments, 35, chunk(1, 1), nullptr));
	auto whole = r.add(8, kMaxFragments, kMaxFragments, 0, chunk(1, 1), nullptr);
	ASSERT_TRUE(whole);
	EXPECT_EQ(whole->size(), kMaxFragments);
}

// A set that would outgrow kMaxReassembledSize is dropped whole, so no
// later fragment can complete it.
TEST(FragmentReassembler, SizeBound)
{
	FragmentReassembler r;
	size_t half = kMaxReassembledSize / 2;
	EXPECT_FALSE(r.add(7, 1, 3, 35, chunk(1, half), nullptr));
	EXPECT_FALSE(r.add(7, 2, 3, 0, chunk(2, half), nullptr));
	EXPECT_EQ(r.pending(), 1u);
	EXPECT_FALSE(r.add(7, 3, 3, 0, chunk(3, 1), nullptr)); // one octet too many
	EXPECT_EQ(r.pending(), 0u);
	EXPECT_FALSE(r.add(7, 2, 3, 0, chunk(2), nullptr));
	EXPECT_FALSE(r.add(7, 3, 3, 0, chunk(3), nullptr));
	// Exactly the bound completes.
	EXPECT_FALSE(r.add(9, 1, 2, 35, chunk(1, half), nullptr));
	auto whole = r.add(9, 2, 2, 0, chunk(2, kMaxReassembledSize - half), nullptr);
	ASSERT_TRUE(whole);
	EXPECT_EQ(whole->size(), kMaxReassembledSize);
}

// Message IDs reassemble apart; past kMaxReassemblies the lowest goes.
TEST(FragmentReassembler, PerMessageId)
{
	FragmentReassembler r;
	uint8_t first = 0;
	EXPECT_FALSE(r.add(1, 1, 2, 35, chunk(1), &first));
	EXPECT_FALSE(r.add(2, 1, 2, 36, chunk(0x11), &first));
	auto two = r.add(2, 2, 2, 0, chunk(0x22), &first);
	ASSERT_TRUE(two);
	EXPECT_EQ(first, 36);
	EXPECT_EQ(to_hex(*two), "111111222222");
	for (uint32_t id = 10; id < 10 + kMaxReassemblies; id++)
		EXPECT_FALSE(r.add(id, 1, 2, 35, chunk(1), nullptr));
	EXPECT_EQ(r.pending(), kMaxReassemblies);
	EXPECT_FALSE(r.add(1, 2, 2, 0, chunk(2), nullptr)); // message 1 was evicted
	r.clear();
	EXPECT_EQ(r.pending(), 0u);
}

// RFC 7383 §2.5: the inner chain split in order, every chunk but the last
// full.
TEST(SplitForFragments, Sizes)
{
	std::vector<uint8_t> plain(10);
	for (size_t i = 0; i < plain.size(); i++)
		plain[i] = static_cast<uint8_t>(i);
	auto chunks = split_for_fragments(plain, 4);
	ASSERT_EQ(chunks.size(), 3u);
	EXPECT_EQ(to_hex(chunks[0]), "00010203");
	EXPECT_EQ(to_hex(chunks[1]), "04050607");
	EXPECT_EQ(to_hex(chunks[2]), "0809");
	EXPECT_EQ(split_for_fragments(plain, 10).size(), 1u);
	EXPECT_EQ(split_for_fragments(plain, 5).size(), 2u);
	EXPECT_EQ(split_for_fragments({}, 5).size(), 1u);
	EXPECT_THROW(split_for_fragments(plain, 0), std::invalid_argument);
	std::vector<uint8_t> big(0x10000);
	EXPECT_THROW(split_for_fragments(big, 1), std::length_error);
}

TEST(SplitForFragments, ReassemblesBack)
{
	std::vector<uint8_t> plain(3000);
	for (size_t i = 0; i < plain.size(); i++)
		plain[i] = static_cast<uint8_t>(i * 7);
	auto chunks = split_for_fragments(plain, 1200);
	FragmentReassembler r;
	std::optional<std::vector<uint8_t>> whole;
	uint8_t first = 0;
	auto total = static_cast<uint16_t>(chunks.size());
	// Last first, to make the order matter.
	for (size_t i = chunks.size(); i-- > 0;)
		whole = r.add(5, static_cast<uint16_t>(i + 1), total, i == 0 ? 35 : 0, chunks[i], &first);
	ASSERT_TRUE(whole);
	EXPECT_EQ(*whole, plain);
	EXPECT_EQ(first, 35);
}

} // namespace
} // namespace umigame::ike
