// The RA sender's timing (RFC 4861 §6.2.4, §6.2.6) and content (§6.2.3,
// §6.2.5, RFC 4191, RFC 8106), without a socket.
#include "umigame/dhcp6d/ra_sender.h"

#include <gtest/gtest.h>

namespace umigame::dhcp6d {
namespace {

std::function<double()> fixed(double v)
{
	return [v] { return v; };
}

// RFC 4861 §6.2.4: the first MAX_INITIAL_RTR_ADVERTISEMENTS intervals are
// capped at MAX_INITIAL_RTR_ADVERT_INTERVAL (16 s), later ones lie in
// [MinRtrAdvInterval, MaxRtrAdvInterval].
TEST(RaSchedule, InitialAdvertisementsComeFastThenRandomisedIntervals)
{
	RaSchedule s(Seconds(200), Seconds(600), fixed(0.5));
	s.restart(Seconds(10));
	EXPECT_EQ(s.next(), Seconds(10));
	Seconds now{10};
	std::vector<double> gaps;
	for (int i = 0; i < 5; i++) {
		s.sent(now);
		gaps.push_back((s.next() - now).count());
		now = s.next();
	}
	EXPECT_EQ(gaps[0], 16);
	EXPECT_EQ(gaps[1], 16);
	EXPECT_EQ(gaps[2], 400); // 200 + 0.5 x 400
	EXPECT_EQ(gaps[3], 400);
}

// RFC 4861 §6.2.4: the interval is uniformly distributed between Min and
// Max: the random factor's extremes give the bounds.
TEST(RaSchedule, IntervalFollowsTheRandomFactor)
{
	for (double r : {0.0, 0.999}) {
		RaSchedule s(Seconds(200), Seconds(600), fixed(r));
		s.restart(Seconds(0));
		for (int i = 0; i < 3; i++)
			s.sent(Seconds(0)); // past the initial ones
		s.sent(Seconds(1000));
		double gap = (s.next() - Seconds(1000)).count();
		EXPECT_GE(gap, 200);
		EXPECT_LE(gap, 600);
		EXPECT_NEAR(gap, 200 + r * 400, 1e-6);
	}
}

// RFC 4861 §6.2.6: a solicited RA waits up to MAX_RA_DELAY_TIME and never
// comes within MIN_DELAY_BETWEEN_RAS of the last multicast RA.
TEST(RaSchedule, SolicitedAdvertisementsAreDelayedAndRateLimited)
{
	RaSchedule s(Seconds(200), Seconds(600), fixed(0.5));
	s.restart(Seconds(0));
	s.sent(Seconds(0));
	s.sent(Seconds(16));
	s.sent(Seconds(32)); // next at 432
	s.solicited(Seconds(100));
	EXPECT_EQ(s.next(), Seconds(100.25)); // 0.5 x 0.5 s
	s.sent(Seconds(100.25));
	s.solicited(Seconds(101)); // 0.75 s after the last one
	EXPECT_EQ(s.next(), Seconds(103.25));
	// An RA already due sooner answers the solicitation too.
	RaSchedule t(Seconds(200), Seconds(600), fixed(0.5));
	t.restart(Seconds(50));
	t.solicited(Seconds(49.9));
	EXPECT_EQ(t.next(), Seconds(50));
}

// RFC 4861 §6.2.4/§6.2.6: a restart (new settings, new prefixes) sends at
// once, but not within MIN_DELAY_BETWEEN_RAS of the last RA.
TEST(RaSchedule, RestartKeepsTheMinimumDelay)
{
	RaSchedule s(Seconds(200), Seconds(600), fixed(0.5));
	s.restart(Seconds(0));
	s.sent(Seconds(0));
	s.set_intervals(Seconds(3), Seconds(10));
	s.restart(Seconds(1));
	EXPECT_EQ(s.next(), Seconds(3));
	s.restart(Seconds(20));
	EXPECT_EQ(s.next(), Seconds(20));
}

RaConfig config()
{
	RaConfig c;
	c.max_interval = 600;
	c.router_lifetime = 1800;
	c.preference = RouterPreference::high;
	c.dns_servers = {*Ipv6Address::parse("2001:db8::1")};
	return c;
}

AnnouncedPrefix announced(const char *p, uint32_t preferred, uint32_t valid, double obtained)
{
	return {*Ipv6Prefix::parse(p), {preferred, valid, Seconds(obtained)}};
}

// RFC 4861 §6.2.4 (changes announced soon), RFC 7084 L-13: a
// prefix that goes away stays in the RAs, deprecated, until its valid
// lifetime ends and at least three RAs have carried it.
TEST(Announcements, ChangedPrefixIsKeptDeprecated)
{
	Announcements a;
	EXPECT_TRUE(a.update({announced("2001:db8:1:5::/64", 300, 600, 0)}));
	// A renewal: same prefix, new lifetimes: no change to hurry out.
	EXPECT_FALSE(a.update({announced("2001:db8:1:5::/64", 300, 600, 100)}));
	// The server moved us to another prefix.
	EXPECT_TRUE(a.update({announced("2001:db8:2:5::/64", 300, 600, 200)}));
	ASSERT_EQ(a.withdrawn().size(), 1u);
	EXPECT_EQ(a.withdrawn()[0].prefix, *Ipv6Prefix::parse("2001:db8:1:5::/64"));
	for (int i = 0; i < 5; i++)
		a.sent(Seconds(200 + i));
	EXPECT_EQ(a.withdrawn().size(), 1u); // still valid until 700
	a.sent(Seconds(700));
	EXPECT_TRUE(a.withdrawn().empty());
	// A lease lost for good (lifetime over): still announced three times.
	a.update({});
	ASSERT_EQ(a.withdrawn().size(), 1u);
	a.sent(Seconds(900));
	a.sent(Seconds(901));
	EXPECT_EQ(a.withdrawn().size(), 1u);
	a.sent(Seconds(902));
	EXPECT_TRUE(a.withdrawn().empty());
	// A prefix that comes back is current again, not withdrawn.
	a.update({announced("2001:db8:2:5::/64", 300, 600, 950)});
	a.update({});
	a.update({announced("2001:db8:2:5::/64", 300, 600, 960)});
	EXPECT_TRUE(a.withdrawn().empty());
}

RaContent content(std::vector<AnnouncedPrefix> prefixes, std::vector<Ipv6Address> dns = {})
{
	RaContent c;
	c.prefixes = std::move(prefixes);
	c.dns_servers = std::move(dns);
	return c;
}

const std::vector<AnnouncedPrefix> kNone;

// RFC 4861 §6.2.3: PIO lifetimes follow the lease and count down; RFC 8106:
// the DHCPv6 DNS servers join the configured ones; RFC 4191: preference.
TEST(RaContent, PrefixLifetimesCountDownWithTheLease)
{
	auto ra = build_advertisement(config(), Seconds(1100),
				      content({announced("2001:db8:1:5::/64", 1800, 3600, 1000)},
					      {*Ipv6Address::parse("2001:db8::53")}),
				      kNone, MacAddress::parse("02:00:00:00:00:01"), true, false);
	ASSERT_EQ(ra.prefixes.size(), 1u);
	EXPECT_EQ(ra.prefixes[0].valid_lifetime, 3500u);
	EXPECT_EQ(ra.prefixes[0].preferred_lifetime, 1700u);
	EXPECT_TRUE(ra.prefixes[0].on_link);
	EXPECT_TRUE(ra.prefixes[0].autonomous);
	EXPECT_EQ(ra.router_lifetime, 1800);
	EXPECT_EQ(ra.preference, RouterPreference::high);
	ASSERT_EQ(ra.rdnss.size(), 1u);
	EXPECT_EQ(ra.rdnss[0].servers.size(), 2u);
	EXPECT_EQ(ra.rdnss[0].lifetime, 1200u); // 2 x MaxRtrAdvInterval
	EXPECT_EQ(ra.source_link_layer, MacAddress::parse("02:00:00:00:00:01"));
}

// RFC 7084 G-4: no default route on the WAN, no default router on the
// LAN: router lifetime 0 (and RFC 4191 §2.2 preference medium), while the
// prefixes and DNS stay as they are.
TEST(RaContent, NoUpstreamDefaultRouteNoDefaultRouter)
{
	auto ra = build_advertisement(config(), Seconds(1100),
				      content({announced("2001:db8:1:5::/64", 1800, 3600, 1000)}), kNone,
				      std::nullopt, false, false);
	EXPECT_EQ(ra.router_lifetime, 0);
	EXPECT_EQ(ra.preference, RouterPreference::medium);
	ASSERT_EQ(ra.prefixes.size(), 1u);
	EXPECT_EQ(ra.prefixes[0].valid_lifetime, 3500u);
	EXPECT_EQ(ra.rdnss[0].lifetime, 1200u);
}

// RFC 7084 L-6: L and A set by default; L-7: configurable; L-9: the O
// flag as configured, M never set (no stateful addresses on the LAN).
TEST(RaContent, PrefixFlagsAndOtherConfig)
{
	auto ra = build_advertisement(config(), Seconds(1100),
				      content({announced("2001:db8:1:5::/64", 1800, 3600, 1000)}), kNone,
				      std::nullopt, true, false);
	ASSERT_EQ(ra.prefixes.size(), 1u);
	EXPECT_TRUE(ra.prefixes[0].on_link);
	EXPECT_TRUE(ra.prefixes[0].autonomous);
	EXPECT_FALSE(ra.managed);
	EXPECT_FALSE(ra.other);
	RaConfig c = config();
	c.autonomous = false;
	c.on_link = false;
	c.other_config = true;
	ra = build_advertisement(c, Seconds(1100), content({announced("2001:db8:1:5::/64", 1800, 3600, 1000)}), kNone,
				 std::nullopt, true, false);
	EXPECT_FALSE(ra.prefixes[0].on_link);
	EXPECT_FALSE(ra.prefixes[0].autonomous);
	EXPECT_FALSE(ra.managed);
	EXPECT_TRUE(ra.other);
}

// RFC 7084 ULA-5: a ULA alone makes no default router, even with a WAN
// default route; RFC 4861 §6.2.1: its lifetimes do not count down.
TEST(RaContent, UlaAloneIsNoDefaultRouterAndKeepsItsLifetimes)
{
	RaContent c;
	c.prefixes.push_back({*Ipv6Prefix::parse("fd12:3456:789a:1::/64"), {604800, 2592000, Seconds(0)}, true});
	auto ra = build_advertisement(config(), Seconds(100000), c, kNone, std::nullopt, true, false);
	EXPECT_EQ(ra.router_lifetime, 0);
	ASSERT_EQ(ra.prefixes.size(), 1u);
	EXPECT_EQ(ra.prefixes[0].valid_lifetime, 2592000u);
	EXPECT_EQ(ra.prefixes[0].preferred_lifetime, 604800u);
}

// RFC 7084 L-3 / RFC 4191 §2.3: a Route Information option for each
// delegated prefix (lifetime = what is left of the lease) and the ULA,
// with or without a default route.
TEST(RaContent, RoutesForDelegatedPrefixAndUla)
{
	RaContent c = content({announced("2001:db8:1:5::/64", 1800, 3600, 1000)});
	c.routes.push_back(announced("2001:db8:1::/56", 1800, 3600, 1000));
	c.routes.push_back({*Ipv6Prefix::parse("fd12:3456:789a::/48"), {604800, 2592000, Seconds(0)}, true});
	auto ra = build_advertisement(config(), Seconds(1100), c, kNone, std::nullopt, false, false);
	ASSERT_EQ(ra.routes.size(), 2u);
	EXPECT_EQ(ra.routes[0].prefix, *Ipv6Prefix::parse("2001:db8:1::/56"));
	EXPECT_EQ(ra.routes[0].lifetime, 3500u);
	EXPECT_EQ(ra.routes[0].preference, RouterPreference::high);
	EXPECT_EQ(ra.routes[1].lifetime, 2592000u);
	auto last = build_advertisement(config(), Seconds(1100), c, kNone, std::nullopt, true, true);
	EXPECT_EQ(last.routes[0].lifetime, 0u); // §6.2.5 / RFC 4191 §2.3: withdrawn
}

// RFC 8910 §2.3: the upstream URI is passed on; the configured one wins;
// a configured "" announces none.
TEST(RaContent, CaptivePortalFromUpstreamOrConfig)
{
	RaContent c = content({announced("2001:db8:1:5::/64", 1800, 3600, 1000)});
	c.captive_portal = "https://isp.example/capport";
	EXPECT_EQ(build_advertisement(config(), Seconds(1100), c, kNone, std::nullopt, true, false).captive_portal,
		  "https://isp.example/capport");
	RaConfig mine = config();
	mine.captive_portal = "https://mine.example/api";
	EXPECT_EQ(build_advertisement(mine, Seconds(1100), c, kNone, std::nullopt, true, false).captive_portal,
		  "https://mine.example/api");
	mine.captive_portal = "";
	EXPECT_FALSE(build_advertisement(mine, Seconds(1100), c, kNone, std::nullopt, true, false).captive_portal);
}

// RFC 7084 L-13: a prefix that is gone (lease lost or changed) is
// announced deprecated: preferred lifetime 0, valid what is left of it.
TEST(RaContent, WithdrawnPrefixIsDeprecatedNotDropped)
{
	auto ra = build_advertisement(config(), Seconds(1100),
				      content({announced("2001:db8:2:5::/64", 1800, 3600, 1100)}),
				      {announced("2001:db8:1:5::/64", 1800, 3600, 1000)}, std::nullopt, true, false);
	ASSERT_EQ(ra.prefixes.size(), 2u);
	EXPECT_EQ(ra.prefixes[1].prefix, *Ipv6Prefix::parse("2001:db8:1:5::/64"));
	EXPECT_EQ(ra.prefixes[1].preferred_lifetime, 0u);
	EXPECT_EQ(ra.prefixes[1].valid_lifetime, 3500u);
	// RFC 7084 L-13: at most two hours.
	auto longer = build_advertisement(config(), Seconds(1100), content({}),
					  {announced("2001:db8:1:5::/64", 1800, 86400, 1000)}, std::nullopt, true,
					  false);
	EXPECT_EQ(longer.prefixes[0].valid_lifetime, 7200u);
}

// Without a live prefix the router offers no upstream: router lifetime 0,
// and RFC 4191 §2.2 then wants preference medium; DNS lifetimes 0.
TEST(RaContent, NoLeaseNoDefaultRouter)
{
	auto ra = build_advertisement(config(), Seconds(5000), content({}),
				      {announced("2001:db8:1:5::/64", 1800, 3600, 1000)}, std::nullopt, true, false);
	EXPECT_EQ(ra.router_lifetime, 0);
	EXPECT_EQ(ra.preference, RouterPreference::medium);
	ASSERT_EQ(ra.prefixes.size(), 1u);
	EXPECT_EQ(ra.prefixes[0].valid_lifetime, 0u);
	EXPECT_EQ(ra.rdnss[0].lifetime, 0u);
}

// RFC 4861 §6.2.5: the final RA has router lifetime 0 and every prefix
// deprecated.
TEST(RaContent, FinalAdvertisement)
{
	auto ra = build_advertisement(config(), Seconds(1100),
				      content({announced("2001:db8:1:5::/64", 1800, 3600, 1000)}), kNone,
				      std::nullopt, true, true);
	EXPECT_EQ(ra.router_lifetime, 0);
	ASSERT_EQ(ra.prefixes.size(), 1u);
	EXPECT_EQ(ra.prefixes[0].preferred_lifetime, 0u);
	EXPECT_EQ(ra.prefixes[0].valid_lifetime, 0u);
}

// RFC 9096: a leased prefix is announced for at most ND_VALID_LIMIT
// (5400 s) and ND_PREFERRED_LIMIT (2700 s), even when the lease is long
// or infinite (RFC 8415 §7.7); every RA renews that. A shorter lease wins;
// the ULA, ours, keeps its own lifetimes.
TEST(RaContent, LeasedPrefixLifetimesAreCappedForRenumbering)
{
	struct Case {
		uint32_t preferred, valid, want_preferred, want_valid;
	} cases[] = {
		{0xffffffff, 0xffffffff, 2700, 5400},
		{86400, 172800, 2700, 5400},
		{1800, 3600, 1800 - 100, 3600 - 100},
	};
	for (const Case &c : cases) {
		auto ra = build_advertisement(config(), Seconds(1100),
					      content({announced("2001:db8:1:5::/64", c.preferred, c.valid, 1000)}),
					      kNone, std::nullopt, true, false);
		EXPECT_EQ(ra.prefixes[0].valid_lifetime, c.want_valid) << c.valid;
		EXPECT_EQ(ra.prefixes[0].preferred_lifetime, c.want_preferred) << c.preferred;
	}
	RaContent ula;
	ula.prefixes.push_back({*Ipv6Prefix::parse("fd12:3456:789a:1::/64"), {604800, 2592000, Seconds(0)}, true});
	auto ra = build_advertisement(config(), Seconds(1100), ula, kNone, std::nullopt, true, false);
	EXPECT_EQ(ra.prefixes[0].valid_lifetime, 2592000u);
}

} // namespace
} // namespace umigame::dhcp6d
