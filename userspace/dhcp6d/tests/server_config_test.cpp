// The [server] table: the documented sample parses, and what would make
// the server hand out one prefix twice or never is refused at file:line.
#include <gtest/gtest.h>

#include "umigame/dhcp6d/daemon_config.h"

namespace umigame::dhcp6d {
namespace {

// The sample of docs/dhcp6.md, "Delegating router".
const char *kSample = R"([server]
interfaces = ["eth0"]
preferred_lifetime = 1800
valid_lifetime = 3600
t1 = 900
t2 = 1440
rapid_commit = true
preference = 255
dns_servers = ["2001:db8::53"]
domain_search = ["example.net"]
relay_allow = ["2001:db8:ee::/64", "fe80::1"]
reconfigure = true

[[server.pool]]
interface = "eth0"
prefix = "2001:db8:100::/40"
delegated_length = 56

[[server.pool]]
relay_link = "2001:db8:200::/64"
prefix = "2001:db8:300::/48"
delegated_length = 60

[[server.address_pool]]
interface = "eth0"
prefix = "2001:db8:ffff::/64"

[[server.reservation]]
duid = "00:03:00:01:02:00:00:00:00:07"
iaid = 1
prefix = "2001:db8:100:ff00::/56"

[server.address_selection]
privacy_preference = true
[[server.address_selection.policy]]
prefix = "2001:db8::/32"
precedence = 45
label = 14
)";

TEST(ServerConfig, SampleParses)
{
	DaemonConfig c = parse_daemon_config(kSample, "sample.toml");
	ASSERT_TRUE(c.server);
	const ServerConfig &s = *c.server;
	EXPECT_EQ(s.interfaces, std::vector<std::string>{"eth0"});
	ASSERT_EQ(s.pools.size(), 3u);
	EXPECT_EQ(s.pools[0].delegated_length, 56);
	EXPECT_EQ(s.pools[1].relay_link->str(), "2001:db8:200::/64");
	EXPECT_EQ(s.pools[2].kind, LeaseKind::address);
	EXPECT_EQ(s.pools[2].delegated_length, 128);
	ASSERT_EQ(s.reservations.size(), 1u);
	EXPECT_EQ(s.reservations[0].iaid, 1u);
	EXPECT_EQ(s.preference, 255);
	// An address in relay_allow is a /128.
	ASSERT_TRUE(s.relay_allow);
	EXPECT_EQ(*s.relay_allow, (std::vector<Ipv6Prefix>{*Ipv6Prefix::parse("2001:db8:ee::/64"),
							   *Ipv6Prefix::parse("fe80::1/128")}));
	EXPECT_TRUE(s.reconfigure);
	ASSERT_TRUE(s.address_selection);
	EXPECT_EQ(s.address_selection->policies().size(), 1u);
}

TEST(ServerConfig, DefaultsFollowRfc)
{
	DaemonConfig c = parse_daemon_config("[server]\npreferred_lifetime = 1000\n[[server.pool]]\n"
					     "interface = \"lan\"\nprefix = \"2001:db8::/48\"\n"
					     "delegated_length = 60\n",
					     "d.toml");
	// RFC 8415 §21.4: T1 0.5, T2 0.8 of the preferred lifetime.
	EXPECT_EQ(c.server->t1, 500u);
	EXPECT_EQ(c.server->t2, 800u);
	EXPECT_EQ(c.server->interfaces, std::vector<std::string>{"lan"});
	// Relays: any, as Kea does; Reconfigure to clients that accept it.
	EXPECT_FALSE(c.server->relay_allow);
	EXPECT_TRUE(c.server->reconfigure);
	DaemonConfig none = parse_daemon_config("[server]\ninterfaces = [\"lan\"]\nrelay_allow = []\n", "n.toml");
	ASSERT_TRUE(none.server->relay_allow);
	EXPECT_TRUE(none.server->relay_allow->empty());
}

struct Bad {
	const char *what;
	const char *text;
	const char *where;   // "file:line"
	const char *message; // part of the error
};

class ServerConfigRefuses : public ::testing::TestWithParam<Bad> {};

TEST_P(ServerConfigRefuses, NamesFileAndLine)
{
	const Bad &b = GetParam();
	try {
		parse_daemon_config(b.text, "bad.toml");
		FAIL() << b.what << ": accepted";
	} catch (const ConfigError &e) {
		EXPECT_NE(std::string(e.what()).find(b.where), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find(b.message), std::string::npos) << e.what();
	}
}

INSTANTIATE_TEST_SUITE_P(
	Cases, ServerConfigRefuses,
	::testing::Values(
		Bad{"overlapping pools",
		    "[server]\n[[server.pool]]\ninterface = \"a\"\nprefix = \"2001:db8::/40\"\ndelegated_length = 56\n"
		    "[[server.pool]]\ninterface = \"b\"\nprefix = \"2001:db8:10::/48\"\ndelegated_length = 56\n",
		    "bad.toml:6", "overlaps the pool 2001:db8::/40 at bad.toml:2"},
		Bad{"prefix pool overlapping an address pool",
		    "[server]\n[[server.pool]]\ninterface = \"a\"\nprefix = \"2001:db8::/40\"\ndelegated_length = 56\n"
		    "[[server.address_pool]]\ninterface = \"a\"\nprefix = \"2001:db8:1::/64\"\n",
		    "bad.toml:6", "overlaps"},
		Bad{"delegated length shorter than the pool",
		    "[server]\n[[server.pool]]\ninterface = \"a\"\nprefix = \"2001:db8::/40\"\ndelegated_length = 32\n",
		    "bad.toml:5", "delegated_length must be between"},
		Bad{"delegated length over 128",
		    "[server]\n[[server.pool]]\ninterface = \"a\"\nprefix = \"2001:db8::/40\"\ndelegated_length = 129\n",
		    "bad.toml:5", "delegated_length"},
		Bad{"host bits in a pool prefix",
		    "[server]\n[[server.pool]]\ninterface = \"a\"\nprefix = \"2001:db8::1/40\"\ndelegated_length = 56\n",
		    "bad.toml:4", "invalid pool prefix"},
		Bad{"reservation outside every pool",
		    "[server]\n[[server.pool]]\ninterface = \"a\"\nprefix = \"2001:db8::/40\"\ndelegated_length = 56\n"
		    "[[server.reservation]]\nduid = \"00:03:00:01:02:00:00:00:00:07\"\nprefix = \"2001:db9::/56\"\n",
		    "bad.toml:8", "inside no prefix pool"},
		Bad{"reservation of the wrong length",
		    "[server]\n[[server.pool]]\ninterface = \"a\"\nprefix = \"2001:db8::/40\"\ndelegated_length = 56\n"
		    "[[server.reservation]]\nduid = \"00:03:00:01:02:00:00:00:00:07\"\nprefix = \"2001:db8::/60\"\n",
		    "bad.toml:8", "is not a /56"},
		Bad{"both interface and relay_link",
		    "[server]\n[[server.pool]]\ninterface = \"a\"\nrelay_link = \"2001:db8:1::/64\"\n"
		    "prefix = \"2001:db8::/40\"\ndelegated_length = 56\n",
		    "bad.toml:2", "exactly one of"},
		Bad{"pool on an interface not served",
		    "[server]\ninterfaces = [\"b\"]\n[[server.pool]]\ninterface = \"a\"\n"
		    "prefix = \"2001:db8::/40\"\ndelegated_length = 56\n",
		    "bad.toml:3", "not in 'interfaces'"},
		Bad{"preferred over valid", "[server]\nvalid_lifetime = 100\npreferred_lifetime = 200\n"
					    "interfaces = [\"a\"]\n",
		    "bad.toml:1", "preferred_lifetime is longer"},
		Bad{"t1 after t2", "[server]\nt1 = 100\nt2 = 50\ninterfaces = [\"a\"]\n", "bad.toml:1",
		    "t1 is later than t2"},
		Bad{"a typo'd key",
		    "[server]\n[[server.pool]]\ninterface = \"a\"\nprefix = \"2001:db8::/40\"\ndelegated_lenght = 56\n",
		    "bad.toml:", "delegated_length"},
		Bad{"unknown key in [server]", "[server]\ninterfaces = [\"a\"]\nrapid_comit = true\n",
		    "bad.toml:3", "rapid_comit"},
		Bad{"bad DNS server", "[server]\ninterfaces = [\"a\"]\ndns_servers = [\"10.0.0.1\"]\n",
		    "bad.toml:3", "invalid IPv6 address"},
		Bad{"relay_allow entry that is no address",
		    "[server]\ninterfaces = [\"a\"]\nrelay_allow = [\"2001:db8::/32\", \"relay1\"]\n", "bad.toml:3:",
		    "invalid IPv6 address or prefix"},
		Bad{"relay_allow prefix with host bits",
		    "[server]\ninterfaces = [\"a\"]\nrelay_allow = [\"2001:db8::1/32\"]\n", "bad.toml:3:",
		    "invalid relay address or prefix"},
		Bad{"relay_allow not a list", "[server]\ninterfaces = [\"a\"]\nrelay_allow = \"2001:db8::/32\"\n",
		    "bad.toml:3", "relay_allow"},
		Bad{"reconfigure not a boolean", "[server]\ninterfaces = [\"a\"]\nreconfigure = \"yes\"\n",
		    "bad.toml:3", "reconfigure"}));

} // namespace
} // namespace umigame::dhcp6d
