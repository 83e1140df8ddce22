// The [client] table: a full sample is read as written, defaults fill the
// rest, and every refusal names file:line.
#include <functional>

#include <gtest/gtest.h>

#include "umigame/dhcp6d/daemon_config.h"

#include "config_error.h"

namespace umigame::dhcp6d {
namespace {

// The sample of docs/dhcp6.md ("Requesting router"), verbatim: keep the two
// in step.
const char *kSample = R"(
[client]
interface = "wan0"            # upstream; required
rapid_commit = false          # RFC 8415 §21.14: two-message exchange
reconfigure_accept = true     # §21.20: accept authenticated Reconfigure
address_selection = true      # apply RFC 7078 policy (ip addrlabel)
duid_type = "ll"              # "ll" or "llt" (§11); made once, kept
accept_ra = true              # set accept_ra = 2 on the interface: the WAN
                              # default router comes from its RAs (RFC 7084 W-3)
address_when_managed = true   # the ISP's RAs set M: ask for an address (IA_NA,
                              # IAID 0) too, without [client.address] (WAA-6)
release_on_stop = true        # Release the leases on stop (RFC 8415 §18.2.7);
                              # false: keep them for the next start, so a
                              # restart does not renumber the LAN (RFC 9096)

[[client.prefix]]             # one IA_PD each (§21.21)
iaid = 1                      # default: 1, 2, ... in order
length_hint = 56              # IA Prefix hint ::/56 (§18.2.1); optional; must
                              # leave a /64 per downstream, nibble-rounded
                              # (RFC 7084 WPD-2), or the file is refused

[client.address]              # optional IA_NA (§21.4), /128 on wan0
iaid = 100

[[client.downstream]]
interface = "lan0"
# iaid = 1                    # which IA_PD; default the first
# length = 64                 # the piece's length (default /64)
# subnet_id = 5               # default: lowest number nobody else asked for

[[client.downstream]]
interface = "guest0"
subnet_id = 7

[client.ra]                   # RFC 4861 §6.2.1 variables, same for every LAN
preference = "medium"         # RFC 4191: "high", "medium", "low"
max_interval = 600            # MaxRtrAdvInterval, 4..1800
# min_interval = 200          # default max/3, at most 0.75 x max
# router_lifetime = 1800      # default 3 x max; 0 or >= max_interval
# mtu = 1492                  # MTU option; absent: none
dns_servers = ["2001:db8::53"]        # added to the DHCPv6 ones (RDNSS)
search_domains = ["home.example"]     # added to the DHCPv6 ones (DNSSL)
# captive_portal = "https://portal.example/api"  # RFC 8910 option 37; default:
                              # the upstream's DHCPv6 option 103; "" = none
# on_link = true              # PIO L flag (RFC 7084 L-6, L-7)
# autonomous = true           # PIO A flag: hosts use SLAAC
# other_config = ...          # O flag (L-9); default: set when this daemon's
                              # [server] answers on a downstream interface
# enabled = true

[client.ula]                  # RFC 4193 / RFC 7084 ULA-1..5
# enabled = true
# prefix = "fd12:3456:789a::/48"  # default: generated once (RFC 4193 §3.2.2),
                              # kept in state_dir/ula
# valid_lifetime = 2592000    # PIO lifetimes of the ULA /64s (RFC 4861 defaults)
# preferred_lifetime = 604800
)";

TEST(ClientConfig, SampleIsReadAsWritten)
{
	DaemonConfig d = parse_daemon_config(kSample, "c.toml");
	ASSERT_TRUE(d.client);
	const ClientConfig &c = *d.client;
	EXPECT_EQ(c.interface, "wan0");
	EXPECT_FALSE(c.rapid_commit);
	EXPECT_FALSE(c.duid_llt);
	EXPECT_TRUE(c.reconfigure_accept);
	EXPECT_TRUE(c.address_selection);
	ASSERT_EQ(c.prefixes.size(), 1u);
	EXPECT_EQ(c.prefixes[0], (PrefixRequest{1, 56}));
	EXPECT_EQ(c.address_iaid, 100u);
	ASSERT_EQ(c.downstream.size(), 2u);
	EXPECT_EQ(c.downstream[0].interface, "lan0");
	EXPECT_EQ(c.downstream[0].length, 64);
	EXPECT_FALSE(c.downstream[0].subnet_id);
	EXPECT_EQ(c.downstream[0].iaid, 1u); // the first IA_PD
	EXPECT_EQ(c.downstream[1].subnet_id, 7u);
	EXPECT_EQ(c.ra.preference, RouterPreference::medium);
	EXPECT_EQ(c.ra.max_interval, 600u);
	EXPECT_EQ(c.ra.min_interval, 200u);   // RFC 4861 §6.2.1: 0.33 x max
	EXPECT_EQ(c.ra.router_lifetime, 1800); // 3 x max
	EXPECT_FALSE(c.ra.mtu);
	EXPECT_EQ(c.ra.dns_servers.size(), 1u);
	EXPECT_EQ(c.ra.search_domains.size(), 1u);
}

// Everything set that the sample leaves at its default.
TEST(ClientConfig, NonDefaults)
{
	DaemonConfig d = parse_daemon_config(R"(
[client]
interface = "wan0"
rapid_commit = true
duid_type = "llt"
reconfigure_accept = false
address_selection = false
[[client.prefix]]
[[client.downstream]]
interface = "lan0"
length = 60
[client.ra]
preference = "low"
max_interval = 300
min_interval = 30
router_lifetime = 0
mtu = 1492
enabled = false
captive_portal = "https://portal.example/api"
[client.ula]
prefix = "fd12:3456:789a::/48"
valid_lifetime = 86400
preferred_lifetime = 14400
)", "c.toml");
	const ClientConfig &c = *d.client;
	EXPECT_TRUE(c.rapid_commit);
	EXPECT_TRUE(c.duid_llt);
	EXPECT_FALSE(c.reconfigure_accept);
	EXPECT_FALSE(c.address_selection);
	EXPECT_EQ(c.downstream[0].length, 60);
	EXPECT_EQ(c.ra.preference, RouterPreference::low);
	EXPECT_EQ(c.ra.min_interval, 30u);
	EXPECT_EQ(c.ra.router_lifetime, 0);
	EXPECT_EQ(c.ra.mtu, 1492u);
	EXPECT_FALSE(c.ra.enabled);
	EXPECT_EQ(c.ra.captive_portal, "https://portal.example/api");
	EXPECT_EQ(c.ula.prefix, Ipv6Prefix::parse("fd12:3456:789a::/48"));
	EXPECT_EQ(c.ula.valid_lifetime, 86400u);
	EXPECT_EQ(c.ula.preferred_lifetime, 14400u);
}

TEST(ClientConfig, MinimalDefaults)
{
	DaemonConfig d = parse_daemon_config("[client]\ninterface = \"wan0\"\n[[client.prefix]]\n", "c.toml");
	const ClientConfig &c = *d.client;
	EXPECT_EQ(c.prefixes[0].iaid, 1u);
	EXPECT_EQ(c.prefixes[0].length_hint, 0);
	EXPECT_FALSE(c.rapid_commit);
	EXPECT_FALSE(c.duid_llt);
	EXPECT_EQ(c.ra.max_interval, 600u);
	EXPECT_EQ(c.ra.min_interval, 200u);
	EXPECT_EQ(c.ra.router_lifetime, 1800);
	EXPECT_FALSE(c.ra.mtu);
	// RFC 7084 W-3, WAA-6 and ULA-1: on unless turned off.
	EXPECT_TRUE(c.accept_ra);
	EXPECT_TRUE(c.address_when_managed);
	EXPECT_TRUE(c.release_on_stop); // RFC 8415 §18.2.7; RFC 9096 would say false
	EXPECT_TRUE(c.ula.enabled);
	EXPECT_FALSE(c.ula.prefix);
	EXPECT_FALSE(c.ra.captive_portal);
	// RFC 7084 L-6: L and A set; L-9: O decided with the [server] role.
	EXPECT_TRUE(c.ra.on_link);
	EXPECT_TRUE(c.ra.autonomous);
	EXPECT_EQ(c.ra.other_config, false); // no [server] here
}

// RFC 7084 WPD-2: the longest hint that still gives every downstream
// interface its /64, rounded to a nibble, is taken.
TEST(ClientConfig, HintLargeEnoughForTheLans)
{
	const std::string head = "[client]\ninterface = \"wan0\"\n[[client.prefix]]\n";
	const std::string two = "[[client.downstream]]\ninterface = \"lan0\"\n[[client.downstream]]\ninterface = \"lan1\"\n";
	EXPECT_EQ(config_error_of(head + "length_hint = 64\n[[client.downstream]]\ninterface = \"lan0\"\n"), "");
	EXPECT_EQ(config_error_of(head + "length_hint = 60\n" + two), "");
	EXPECT_NE(config_error_of(head + "length_hint = 61\n" + two), "");
}

TEST(ClientConfig, RefusalsNameFileAndLine)
{
	const std::string head = "[client]\ninterface = \"wan0\"\n";
	struct Case {
		std::string text;
		const char *error;
	} cases[] = {
		{"[client]\n[[client.prefix]]\n", "c.toml:1:1: 'interface' is required"},
		{head, "c.toml:1:1: nothing to ask for: add a [[client.prefix]] or a [client.address]"},
		{head + "[[client.prefix]]\nlength_hint = 129\n",
		 "c.toml:4:15: length_hint must be between 1 and 128, not 129"},
		// RFC 7084 WPD-2: two /64s need one bit, a nibble: /60 at most.
		{head + "[[client.prefix]]\nlength_hint = 62\n[[client.downstream]]\ninterface = \"lan0\"\n"
			"[[client.downstream]]\ninterface = \"lan1\"\n",
		 "c.toml:4:15: length_hint /62 is too small for 2 downstream /64s: ask for /60 or shorter (RFC 7084 "
		 "WPD-2)"},
		{head + "[[client.prefix]]\niaid = 1\n[[client.prefix]]\niaid = 1\n",
		 "c.toml:5:1: IAID 1 is used twice (RFC 8415 §12: one IAID per IA)"},
		{head + "[[client.prefix]]\n[[client.downstream]]\ninterface = \"wan0\"\n",
		 "c.toml:4:1: downstream interface wan0 is the upstream interface"},
		{head + "[[client.prefix]]\n[[client.downstream]]\ninterface = \"lan0\"\niaid = 9\n",
		 "c.toml:4:1: no [[client.prefix]] with IAID 9"},
		{head + "[[client.prefix]]\n[[client.downstream]]\ninterface = \"lan0\"\nsubnet_id = 1\n"
			"[[client.downstream]]\ninterface = \"lan1\"\nsubnet_id = 1\n",
		 "c.toml:9:13: subnet_id 1 is used twice for IAID 1"},
		{head + "[[client.prefix]]\n[client.ra]\npreference = \"highest\"\n",
		 "c.toml:5:14: preference must be \"high\", \"medium\" or \"low\" (RFC 4191)"},
		{head + "[[client.prefix]]\n[client.ra]\nmax_interval = 2\n",
		 "c.toml:5:16: max_interval must be between 4 and 1800, not 2"},
		{head + "[[client.prefix]]\n[client.ra]\nmax_interval = 10\nmin_interval = 9\n",
		 "c.toml:4:1: min_interval must be at most 0.75 x max_interval (RFC 4861 §6.2.1)"},
		{head + "[[client.prefix]]\n[client.ra]\nrouter_lifetime = 100\n",
		 "c.toml:4:1: router_lifetime must be 0 or at least max_interval (RFC 4861 §6.2.1)"},
		{head + "[[client.prefix]]\n[client.ra]\ndns_servers = [\"10.0.0.1\"]\n",
		 "c.toml:5:16: invalid IPv6 address '10.0.0.1'"},
		{head + "[[client.prefix]]\nhint = 56\n", "c.toml:4:1: unknown key 'client.prefix.hint'"},
		{head + "[[client.prefix]]\n[client.ula]\nprefix = \"2001:db8::/48\"\n",
		 "c.toml:5:10: ULA prefix must be a /48 in fd00::/8 (RFC 4193 §3.1), not '2001:db8::/48'"},
		{head + "[[client.prefix]]\n[client.ula]\nvalid_lifetime = 10\npreferred_lifetime = 20\n",
		 "c.toml:4:1: preferred_lifetime must not exceed valid_lifetime (RFC 4862 §5.5.3)"},
		{head + "[[client.prefix]]\n[client.ra]\ncaptive_portal = \"http://portal.example/\"\n",
		 "c.toml:5:18: captive_portal must be an https:// URI or urn:ietf:params:capport:unrestricted, "
		 "printable ASCII, at most 2000 characters (RFC 8910 §2, RFC 8908 §2)"},
		{head + "duid_type = \"en\"\n[[client.prefix]]\n",
		 "c.toml:3:13: duid_type must be \"ll\" or \"llt\" (RFC 8415 §11)"},
	};
	for (const Case &c : cases)
		EXPECT_EQ(config_error_of(c.text), c.error) << c.text;
}

} // namespace
} // namespace umigame::dhcp6d
