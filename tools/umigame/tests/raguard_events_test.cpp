// The lines `umigame raguard events` prints for drops it was sent no event
// for (the per-port event limit) or lost (ring buffer full).
#include "raguard_events.h"

#include <gtest/gtest.h>

using namespace umigame;

namespace {

std::array<uint64_t, UMIGAME_RAG_REASON_COUNT> counts(
	std::initializer_list<std::pair<umigame_raguard_reason, uint64_t>> v)
{
	std::array<uint64_t, UMIGAME_RAG_REASON_COUNT> a{};
	for (auto [r, n] : v)
		a[r] = n;
	return a;
}

} // namespace

TEST(RaGuardEvents, OneLinePerPortWithItsReasons)
{
	RaGuardSuppressed before = {
		{3, counts({{UMIGAME_RAG_RA_UNTRUSTED_SOURCE, 100}})},
		{7, counts({{UMIGAME_RAG_ND_FRAGMENT, 5}})},
	};
	RaGuardSuppressed now = {
		{3, counts({{UMIGAME_RAG_RA_UNTRUSTED_SOURCE, 1100},
			    {UMIGAME_RAG_DHCP6_SERVER_UNTRUSTED, 200}})},
		{7, counts({{UMIGAME_RAG_ND_FRAGMENT, 5}})}, // nothing new: no line
		{9, counts({{UMIGAME_RAG_ND_FRAGMENT, 2}})}, // guarded since: all new
	};
	auto d = suppressed_since(before, now);
	ASSERT_EQ(d.size(), 2u);
	EXPECT_EQ(d[0].ifindex, 3u);
	EXPECT_EQ(d[0].total, 1200u);
	EXPECT_EQ(format_suppressed("lan0", d[0]),
		  "\u2026 and 1200 more on lan0 (event limit): ra_untrusted_source 1000, "
		  "dhcp6_server_untrusted 200");
	EXPECT_EQ(d[1].ifindex, 9u);
	EXPECT_EQ(format_suppressed("lan1", d[1]),
		  "\u2026 and 2 more on lan1 (event limit): nd_fragment 2");
}

// A port detached and guarded again starts its counters from zero: what it
// has now is new, not a negative difference.
TEST(RaGuardEvents, CountsThatWentDownStartOver)
{
	auto d = suppressed_since({{4, counts({{UMIGAME_RAG_RA_PREFIX, 500}})}},
				  {{4, counts({{UMIGAME_RAG_RA_PREFIX, 30}})}});
	ASSERT_EQ(d.size(), 1u);
	EXPECT_EQ(d[0].total, 30u);
}

TEST(RaGuardEvents, PortsWithoutPolicyAndLostEvents)
{
	auto d = suppressed_since({}, {{0, counts({{UMIGAME_RAG_NO_POLICY, 9}})}});
	ASSERT_EQ(d.size(), 1u);
	EXPECT_EQ(format_suppressed("", d[0]),
		  "\u2026 and 9 more on ports without a policy (event limit): no_policy 9");
	EXPECT_EQ(format_lost(3), "\u2026 and 3 more, events lost: the ring buffer was full");
}
