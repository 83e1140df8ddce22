#include "raguard_policy.h"

#include <gtest/gtest.h>

#include "umigame/config.h"

using namespace umigame;

namespace {
std::string error_of(const std::string &text)
{
	try {
		parse_raguard_policy(text, "policy.toml");
	} catch (const ConfigError &e) {
		return e.what();
	}
	return "";
}
} // namespace

TEST(RaGuardPolicy, FullPolicy)
{
	auto p = parse_raguard_policy(R"(
[raguard]
routers = ["fe80::1"]
router-macs = ["02:00:00:00:00:02"]
prefixes = ["2001:db8:1::/48", "2001:db8:2::/64"]
max-preference = "medium"
allow-managed = false
allow-other-config = true
dhcpv6-servers = ["fe80::53"]

[[raguard.router]]
address = "fe80::2"
mac = "02:00:00:00:00:03"
)",
				      "policy.toml");
	ASSERT_EQ(p.routers.size(), 2u);
	EXPECT_EQ(p.routers[0].address.str(), "fe80::1");
	EXPECT_FALSE(p.routers[0].mac);
	EXPECT_EQ(p.routers[1].mac->str(), "02:00:00:00:00:03");
	EXPECT_EQ(p.router_macs.size(), 1u);
	EXPECT_TRUE(p.check_prefixes);
	EXPECT_EQ(p.prefixes.size(), 2u);
	EXPECT_EQ(p.max_preference, UMIGAME_RAG_PREF_MEDIUM);
	EXPECT_EQ(p.map_flags(), UMIGAME_RAG_F_ALLOW_OTHER | UMIGAME_RAG_F_CHECK_PREFIXES);
	EXPECT_EQ(p.dhcpv6_servers.size(), 1u);
}

TEST(RaGuardPolicy, DefaultsFollowRfc6105)
{
	auto p = parse_raguard_policy("[raguard]\nrouters = [\"fe80::1\"]\n", "p");
	EXPECT_FALSE(p.check_prefixes);
	EXPECT_EQ(p.max_preference, UMIGAME_RAG_PREF_HIGH);
	EXPECT_TRUE(p.allow_managed);
	EXPECT_TRUE(p.allow_other_config);
	EXPECT_FALSE(p.block_all);
	EXPECT_TRUE(p.dhcpv6_servers.empty());
}

TEST(RaGuardPolicy, BlockAllNeedsNoRouter)
{
	auto p = parse_raguard_policy("[raguard]\nblock-all = true\n", "p");
	EXPECT_TRUE(p.block_all);
}

// The guard keeps a port's policy in one map entry: more than fits is an
// error at the entry that does not fit.
TEST(RaGuardPolicy, PerPortLimitsNameTheLine)
{
	std::string text = "[raguard]\nrouters = [\n";
	for (int i = 1; i <= UMIGAME_RAGUARD_MAX_ROUTERS + 1; i++)
		text += "  \"fe80::" + std::to_string(i) + "\",\n";
	text += "]\n";
	std::string msg = error_of(text);
	std::string want = "policy.toml:" + std::to_string(3 + UMIGAME_RAGUARD_MAX_ROUTERS) +
			   ":3: more than " + std::to_string(UMIGAME_RAGUARD_MAX_ROUTERS) +
			   " trusted routers";
	EXPECT_EQ(msg.rfind(want, 0), 0u) << msg;

	text = "[raguard]\nrouters = [\"fe80::1\"]\nprefixes = [";
	for (int i = 1; i <= UMIGAME_RAGUARD_MAX_PREFIXES + 1; i++)
		text += "\"2001:db8:" + std::to_string(i) + "::/48\",";
	text += "]\n";
	msg = error_of(text);
	EXPECT_NE(msg.find("more than " + std::to_string(UMIGAME_RAGUARD_MAX_PREFIXES) +
			   " allowed prefixes"), std::string::npos) << msg;
	EXPECT_EQ(msg.rfind("policy.toml:3:", 0), 0u) << msg;
}

TEST(RaGuardPolicy, ErrorsNameFileAndLine)
{
	struct Case {
		const char *text;
		const char *error;
	} cases[] = {
		{"[raguard]\nrouters = [\"2001:db8::1\"]\n",
		 "policy.toml:2:12: router address 2001:db8::1 is not link-local"},
		{"[raguard]\nrouters = [\"fe80::1\"]\nprefixes = [\"2001:db8::1/64\"]\n",
		 "policy.toml:3:13: invalid IPv6 prefix (host bits must be zero) '2001:db8::1/64'"},
		{"[raguard]\nrouters = [\"fe80::1\"]\nmax-preference = \"highest\"\n",
		 "policy.toml:3:18: max-preference must be low, medium or high"},
		{"[raguard]\nrouters = [\"fe80::1\"]\nallow-manged = true\n",
		 "policy.toml:3:1: unknown key 'raguard.allow-manged'"},
		{"[raguard]\nrouter-macs = [\"01:00:5e:00:00:01\"]\n",
		 "policy.toml:2:16: MAC address 01:00:5e:00:00:01 is not a unicast address"},
		{"[raguard]\nrouters = [\"fe80::1\"]\nblock-all = \"yes\"\n",
		 "policy.toml:3:13: 'raguard.block-all' must be true or false"},
		{"[raguard]\nallow-managed = false\n", "policy.toml:1:1: no trusted router"},
		{"[raguard]\n[[raguard.router]]\nmac = \"02:00:00:00:00:01\"\n",
		 "policy.toml:2:1: [[raguard.router]] needs an 'address'"},
		{"[raguard]\nrouters = [\"fe80::1\"]\nevent-burst = 100001\n",
		 "policy.toml:3:15: event-burst must be between 0 and 100000"},
		{"[raguard]\nrouters = [\"fe80::1\"]\nevent-rate = 0\n",
		 "policy.toml:3:14: event-rate must be between 1 and 1000000"},
		{"[raguard]\nrouters = [\"fe80::1\"]\nevent-rate = \"10/s\"\n",
		 "policy.toml:3:14: 'raguard.event-rate' must be"},
		{"[ragaurd]\n", "policy.toml:1:1: missing [raguard] section"},
		{"[raguard]\nrouters = [\"fe80::1\"\n", "policy.toml:2:"},
	};
	for (const auto &c : cases) {
		auto msg = error_of(c.text);
		EXPECT_EQ(msg.rfind(c.error, 0), 0u) << "text:\n" << c.text << "\ngot: " << msg;
	}
}

TEST(RaGuardPolicy, EventLimit)
{
	auto p = parse_raguard_policy("[raguard]\nrouters = [\"fe80::1\"]\n", "p");
	EXPECT_EQ(p.event_burst, uint32_t(UMIGAME_RAG_EVENT_BURST_DEFAULT));
	EXPECT_EQ(p.event_rate, uint32_t(UMIGAME_RAG_EVENT_RATE_DEFAULT));
	p = parse_raguard_policy(
		"[raguard]\nrouters = [\"fe80::1\"]\nevent-burst = 0\nevent-rate = 1000000\n", "p");
	EXPECT_EQ(p.event_burst, 0u);
	EXPECT_EQ(p.event_rate, 1000000u);
}

// The program counts time in 2^-20 jiffies: at HZ 250, one event a tenth of
// a second is 25 jiffies; a rate that does not divide evenly rounds the
// interval up, so the rate is never exceeded.
TEST(RaGuardPolicy, EventLimitUnits)
{
	const uint64_t jiffy = 1ULL << UMIGAME_RAG_EVENT_SHIFT;
	auto l = raguard_event_limit(50, 10, 250);
	EXPECT_EQ(l.interval, 25 * jiffy);
	EXPECT_EQ(l.window, 50 * 25 * jiffy);
	l = raguard_event_limit(1, 3, 1000);
	EXPECT_EQ(l.interval, (1000 * jiffy + 2) / 3);
	EXPECT_GE(l.interval * 3, 1000 * jiffy);
	l = raguard_event_limit(0, 10, 100);
	EXPECT_EQ(l.window, 0u) << "no event at all";
	EXPECT_GT(l.interval, 0u);
	EXPECT_EQ(raguard_event_limit(1000000, 1000000, 1000).window,
		  1000000ULL * ((1000 * jiffy + 999999) / 1000000));
}
