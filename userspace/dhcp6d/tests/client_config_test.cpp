// The [client] table: a full sample is read as written, defaults fill the
// rest, and every refusal names file:line.
#include <functional>

#include <gtest/gtest.h>

#include "umigame/dhcp6d/daemon_config.h"

namespace umigame::dhcp6d {
namespace {

std::string error_of(const std::string &text)
{
	try {
		parse_daemon_config(text, "c.toml");
	} catch (const ConfigError &e) {
		return e.what();
	}
	return "";
}

// The sample of docs/dhcp6.md ("Requesting router").
const char *kSample = R"(
[client]
interface = "wan0"
rapid_commit = true
duid_type = "llt"

[[client.prefix]]
iaid = 1
length_hint = 56

[client.address]
iaid = 100

[[client.downstream]]
interface = "lan0"

[[client.downstream]]
interface = "lan1"
length = 64
subnet_id = 7

[[client.downstream]]
interface = "guest0"

[client.ra]
preference = "high"
max_interval = 300
mtu = 1492
dns_servers = ["2001:db8::53"]
search_domains = ["home.example"]
)";

TEST(ClientConfig, SampleIsReadAsWritten)
{
	DaemonConfig d = parse_daemon_config(kSample, "c.toml");
	ASSERT_TRUE(d.client);
	const ClientConfig &c = *d.client;
	EXPECT_EQ(c.interface, "wan0");
	EXPECT_TRUE(c.rapid_commit);
	EXPECT_TRUE(c.duid_llt);
	EXPECT_TRUE(c.reconfigure_accept);
	EXPECT_TRUE(c.address_selection);
	ASSERT_EQ(c.prefixes.size(), 1u);
	EXPECT_EQ(c.prefixes[0], (PrefixRequest{1, 56}));
	EXPECT_EQ(c.address_iaid, 100u);
	ASSERT_EQ(c.downstream.size(), 3u);
	EXPECT_EQ(c.downstream[0].length, 64);
	EXPECT_FALSE(c.downstream[0].subnet_id);
	EXPECT_EQ(c.downstream[0].iaid, 1u); // the first IA_PD
	EXPECT_EQ(c.downstream[1].subnet_id, 7u);
	EXPECT_EQ(c.ra.preference, RouterPreference::high);
	EXPECT_EQ(c.ra.max_interval, 300u);
	EXPECT_EQ(c.ra.min_interval, 100u);      // RFC 4861 §6.2.1: 0.33 x max
	EXPECT_EQ(c.ra.router_lifetime, 900);    // 3 x max
	EXPECT_EQ(c.ra.mtu, 1492u);
	EXPECT_EQ(c.ra.dns_servers.size(), 1u);
	EXPECT_EQ(c.ra.search_domains.size(), 1u);
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
		{head + "duid_type = \"en\"\n[[client.prefix]]\n",
		 "c.toml:3:13: duid_type must be \"ll\" or \"llt\" (RFC 8415 §11)"},
	};
	for (const Case &c : cases)
		EXPECT_EQ(error_of(c.text), c.error) << c.text;
}

} // namespace
} // namespace umigame::dhcp6d
