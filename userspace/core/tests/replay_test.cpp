// include/umigame/replay.h: the anti-replay window the kernel module, the
// XDP program and userspace share. Table-driven vectors for each rule, and
// a differential test against a naive model with every window size.
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "umigame/replay.h"

namespace {

constexpr int OK = UMIGAME_REPLAY_OK, DUP = UMIGAME_REPLAY_DUPLICATE,
	      OLD = UMIGAME_REPLAY_TOO_OLD, EXHAUSTED = UMIGAME_REPLAY_EXHAUSTED,
	      ZERO = UMIGAME_REPLAY_ZERO;
constexpr uint64_t k2to32 = 1ULL << 32;

// The window is ~16 KiB: keep it off the stack.
std::unique_ptr<umigame_replay_window> make_window(uint32_t size, bool esn, uint64_t start = 0)
{
	auto w = std::make_unique<umigame_replay_window>();
	EXPECT_EQ(umigame_replay_init(w.get(), size, esn ? UMIGAME_REPLAY_F_ESN : 0, start), 0);
	return w;
}

// One received packet whose ICV verified: infer, check, advance.
int receive(umigame_replay_window *w, uint32_t seq_lo, uint64_t *seq_out = nullptr)
{
	__u64 seq = 0;
	int v = umigame_replay_infer(w, seq_lo, &seq);
	if (v == OK)
		v = umigame_replay_check(w, seq);
	if (v == OK)
		v = umigame_replay_advance(w, seq);
	if (seq_out)
		*seq_out = seq;
	return v;
}

struct Step {
	uint32_t seq_lo;
	int verdict;
	uint64_t seq = 0; // expected 64-bit number when non-zero
};

struct Vector {
	const char *name;
	uint32_t window;
	bool esn;
	uint64_t start;
	std::vector<Step> steps;
};

std::vector<Step> in_order(uint32_t from, uint32_t to)
{
	std::vector<Step> s;
	for (uint32_t i = from; i <= to; i++)
		s.push_back({i, OK});
	return s;
}

std::vector<Step> operator+(std::vector<Step> a, const std::vector<Step> &b)
{
	a.insert(a.end(), b.begin(), b.end());
	return a;
}

std::vector<Vector> vectors()
{
	return {
		// RFC 4303 §3.4.3: a new number passes once.
		{"in_order", 64, false, 0, in_order(1, 300)},
		{"reordered_inside_window", 64, false, 0,
		 in_order(1, 10) + std::vector<Step>{{20, OK}, {15, OK}, {11, OK}, {19, OK}}},
		{"duplicate", 64, false, 0, {{7, OK}, {7, DUP}, {8, OK}, {7, DUP}, {8, DUP}}},
		// RFC 4303 §3.4.3: left of the window is dropped; the edge is top - W + 1.
		{"window_edge", 64, false, 0, {{100, OK}, {37, OK}, {36, OLD}, {38, OK}, {37, DUP}}},
		{"far_ahead_jump", 64, false, 0,
		 {{1, OK}, {1000000, OK}, {1, OLD}, {1000000 - 63, OK}, {1000000 - 64, OLD},
		  {1000000, DUP}}},
		// RFC 6479 §2.2: sliding clears the blocks entered, so stale bits of
		// an earlier lap of the ring never read as duplicates.
		{"ring_lap_leaves_no_stale_bits", 64, false, 0,
		 in_order(1, 64) + std::vector<Step>{{200, OK}, {150, OK}, {137, OK}, {136, OLD},
						     {190, OK}, {150, DUP}}},
		// RFC 4303 §3.3.3: 0 is never sent.
		{"zero_without_esn", 64, false, 0, {{0, ZERO}, {1, OK}}},
		{"zero_with_esn_before_start", 64, true, 0, {{0, ZERO}, {1, OK, 1}}},
		// Without ESN the counter cannot wrap: after 2^32 - 1 nothing new fits.
		{"no_esn_no_wrap", 64, false, 0xfffffff0,
		 {{0xffffffff, OK}, {1, OLD}, {0xfffffff0 + 1, OK}}},
		// RFC 4303 Appendix A2.2 case A then B: the low 32 bits wrap and the
		// high bits follow; late packets from before the wrap still land in
		// the previous subspace.
		{"esn_low_bits_wrap", 128, true, 0xffffff80,
		 {{0xffffffc0, OK, 0xffffffc0},
		  {0xfffffffe, OK, 0xfffffffe},
		  {0xffffffff, OK, 0xffffffff},
		  {0, OK, k2to32},
		  {1, OK, k2to32 + 1},
		  {0xfffffff0, OK, 0xfffffff0},
		  {0xfffffffe, DUP, 0xfffffffe},
		  {0, DUP, k2to32},
		  {40, OK, k2to32 + 40},
		  {0xffffffc0, DUP, 0xffffffc0},
		  // Below the bottom (mod 2^32) reads as ahead, in T's subspace;
		  // a packet really that old then fails its ICV.
		  {0xffffffa0, OK, k2to32 + 0xffffffa0}}},
		// Case B far from the start: a number below the window's bottom
		// (mod 2^32) is ahead, in T's own subspace.
		{"esn_case_b_ahead", 64, true, 3 * k2to32 + 10,
		 {{20, OK, 3 * k2to32 + 20}, {0xfffffff0, OK, 2 * k2to32 + 0xfffffff0}}},
		// Case A: a number below the window's bottom is read as the next
		// subspace (a late packet that old would fail its ICV).
		{"esn_case_a_behind_is_next_subspace", 64, true, 5 * k2to32 + 0x1000,
		 {{0x10, OK, 6 * k2to32 + 0x10}}},
		// ESN exhausted: passing 2^64 - 1 is refused, never wrapped to 0.
		{"esn_64bit_wrap_refused", 64, true, ~0ULL - 0x20,
		 {{0xfffffff0, OK, ~0ULL - 0xf}, {0xffffffff, OK, ~0ULL}, {5, EXHAUSTED},
		  {0, EXHAUSTED}, {0xfffffffe, OK, ~0ULL - 1}}},
	};
}

TEST(ReplayWindow, Vectors)
{
	for (const auto &v : vectors()) {
		SCOPED_TRACE(v.name);
		auto w = make_window(v.window, v.esn, v.start);
		for (size_t i = 0; i < v.steps.size(); i++) {
			const Step &s = v.steps[i];
			uint64_t seq = 0;
			int got = receive(w.get(), s.seq_lo, &seq);
			EXPECT_EQ(got, s.verdict) << "step " << i << " seq_lo " << s.seq_lo;
			if (s.seq && got != EXHAUSTED) {
				EXPECT_EQ(seq, s.seq) << "step " << i << " seq_lo " << s.seq_lo;
			}
		}
	}
}

TEST(ReplayWindow, SizesArePowersOfTwoFrom64To65536)
{
	umigame_replay_window *w = new umigame_replay_window;
	for (uint32_t bad : {0U, 1U, 32U, 63U, 65U, 96U, 1000U, 131072U, 0x80000000U})
		EXPECT_NE(umigame_replay_init(w, bad, 0, 0), 0) << bad;
	for (uint32_t good = 64; good <= 65536; good *= 2) {
		EXPECT_EQ(umigame_replay_init(w, good, 0, 0), 0) << good;
		EXPECT_EQ(w->blocks, 2 * good / 64);
	}
	delete w;
}

// check() never changes the window; advance() re-checks, so a number that
// two CPUs verified at once is accepted by exactly one.
TEST(ReplayWindow, CheckIsPureAndAdvanceRechecks)
{
	auto w = make_window(1024, false);
	EXPECT_EQ(umigame_replay_check(w.get(), 5), OK);
	EXPECT_EQ(umigame_replay_check(w.get(), 5), OK);
	EXPECT_EQ(umigame_replay_advance(w.get(), 5), OK);
	EXPECT_EQ(umigame_replay_advance(w.get(), 5), DUP);
	EXPECT_EQ(umigame_replay_check(w.get(), 5), DUP);
}

// The reordering case: a burst reordered by 20000 packets fits a
// 65536 window once, and every replay of it is refused.
TEST(ReplayWindow, BurstReorderedBy20000)
{
	auto w = make_window(65536, true);
	for (uint32_t s = 20001; s <= 40000; s++)
		ASSERT_EQ(receive(w.get(), s), OK) << s;
	for (uint32_t s = 1; s <= 20000; s++)
		ASSERT_EQ(receive(w.get(), s), OK) << s;
	for (uint32_t s = 1; s <= 40000; s++)
		ASSERT_EQ(receive(w.get(), s), DUP) << s;
	// xfrm's largest window: with ESN, Appendix A reads each late number as
	// one from the next 2^32 subspace, whose ICV then fails; either way
	// none of them is accepted as itself.
	auto small = make_window(4096, true);
	for (uint32_t s = 20001; s <= 40000; s++)
		ASSERT_EQ(receive(small.get(), s), OK);
	int lost = 0;
	for (uint32_t s = 1; s <= 20000; s++) {
		__u64 seq = 0;
		lost += umigame_replay_infer(small.get(), s, &seq) != OK || seq != s ||
			umigame_replay_check(small.get(), seq) != OK;
	}
	EXPECT_EQ(lost, 20000) << "a 4096 window cannot hold a 20000-packet reorder";
}

// Differential: random streams (in order, reordered, duplicated, jumps of
// up to several windows) against a model that remembers every number.
TEST(ReplayWindow, MatchesNaiveModel)
{
	std::mt19937_64 rng(4303);
	for (uint32_t size = 64; size <= 65536; size *= 2) {
		SCOPED_TRACE("window " + std::to_string(size));
		auto w = make_window(size, false);
		uint64_t top = 0;
		std::set<uint64_t> seen;
		for (int i = 0; i < 20000; i++) {
			uint64_t seq;
			switch (rng() % 6) {
			case 0: seq = top + 1; break;
			case 1: seq = top + 1 + rng() % (3 * uint64_t(size)); break;
			case 2: seq = top > 0 ? top - rng() % (uint64_t(size) + 64) : 1; break;
			case 3: seq = seen.empty() ? 1 : *seen.rbegin() - rng() % 3; break;
			case 4: seq = top + 1 + rng() % 64; break;
			default: seq = top > 2 ? top - rng() % 3 : 1; break;
			}
			if (seq == 0 || seq > 0xffffffffULL)
				continue;
			int want = seq > top                   ? OK
				   : top - seq >= size        ? OLD
				   : seen.count(seq)          ? DUP
							      : OK;
			ASSERT_EQ(umigame_replay_check(w.get(), seq), want) << "seq " << seq << " top " << top;
			ASSERT_EQ(umigame_replay_advance(w.get(), seq), want);
			if (want == OK) {
				seen.insert(seq);
				top = std::max(top, seq);
			}
		}
	}
}

} // namespace
