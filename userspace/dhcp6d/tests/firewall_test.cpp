// The CE firewall's table (RFC 6092, RFC 7084 G-3/L-14/ULA-4, RFC 6583):
// what the batch holds for a configuration and a view, the [firewall]
// table's refusals, and — as root, in a network namespace of its own —
// that the kernel takes the batch, replaces it atomically and leaves other
// tables alone.
#include "umigame/dhcp6d/firewall.h"

#include <cstdio>
#include <string>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "umigame/dhcp6d/daemon_config.h"

#include "config_error.h"

namespace umigame::dhcp6d {
namespace {

using nlohmann::json;

FirewallView view(bool delegated = true)
{
	FirewallView v;
	v.wan = "wan0";
	v.lans = {"lan0", "lan1"};
	if (delegated)
		v.lan_prefixes.push_back(*Ipv6Prefix::parse("2001:2:0:1000::/56"));
	v.lan_prefixes.push_back(*Ipv6Prefix::parse("fd12:3456:789a::/48"));
	v.delegated = delegated;
	return v;
}

std::vector<json> rules(const json &batch, const char *chain)
{
	std::vector<json> out;
	for (const json &cmd : batch.at("nftables"))
		if (cmd.contains("add") && cmd["add"].contains("rule") && cmd["add"]["rule"]["chain"] == chain)
			out.push_back(cmd["add"]["rule"]);
	return out;
}

bool has_rule(const json &batch, const char *chain, const std::string &comment_part)
{
	for (const json &r : rules(batch, chain))
		if (r["comment"].get<std::string>().find(comment_part) != std::string::npos)
			return true;
	return false;
}

// The batch replaces our table (add, delete, add: one transaction) and
// names no other table.
TEST(Firewall, BatchReplacesOnlyOurTable)
{
	json batch = build_firewall_batch({}, view());
	const json &cmds = batch.at("nftables");
	ASSERT_GE(cmds.size(), 3u);
	EXPECT_TRUE(cmds[0]["add"].contains("table"));
	EXPECT_TRUE(cmds[1]["delete"].contains("table"));
	EXPECT_TRUE(cmds[2]["add"].contains("table"));
	for (const json &cmd : cmds)
		for (const auto &[verb, object] : cmd.items())
			for (const auto &[kind, body] : object.items()) {
				std::string table = kind == "table" ? body["name"].get<std::string>()
								    : body["table"].get<std::string>();
				EXPECT_EQ(table, kFirewallTable) << verb << " " << kind;
				EXPECT_EQ(body["family"], "ip6");
			}
}

// Every rule says why (the RFC it implements); every rule that stops
// traffic counts it.
TEST(Firewall, EveryRuleHasACommentAndEveryStopACounter)
{
	FirewallConfig c;
	c.inbound_echo = true;
	c.allow.push_back({*Ipv6Prefix::parse("2001:2:0:1001::5/128"), "tcp", 22});
	for (bool delegated : {false, true}) {
		json batch = build_firewall_batch(c, view(delegated));
		for (const char *chain : {"forward", "input"})
			for (const json &r : rules(batch, chain)) {
				std::string comment = r["comment"];
				EXPECT_TRUE(comment.rfind("RFC ", 0) == 0) << comment;
				bool stops = false, counts = false;
				for (const json &e : r["expr"]) {
					stops |= e.contains("drop") || e.contains("reject");
					counts |= e.contains("counter");
				}
				EXPECT_EQ(stops, counts) << comment;
			}
	}
}

// Which requirement's rule is there for which configuration and view.
TEST(Firewall, RulesFollowConfigurationAndView)
{
	struct Case {
		const char *name;
		FirewallConfig config;
		bool delegated;
		const char *comment;
		bool present;
	} cases[] = {
		{"G-3 before the first lease", {}, false, "RFC 7084 G-3", true},
		{"no G-3 once delegated", {}, true, "RFC 7084 G-3", false},
		{"REC-10 always", {}, true, "REC-10", true},
		{"REC-4 always", {}, true, "routing header type 0", true},
		{"L-14 always", {}, true, "L-14", true},
		{"ULA-4 always", {}, true, "ULA-4", true},
		{"ESP by default", {}, true, "IPsec ESP passes", true},
		{"AH by default", {}, true, "IPsec AH passes", true},
		{"ESP off", {.ipsec_passthrough = false}, true, "IPsec ESP passes", false},
		{"AH off", {.ipsec_passthrough = false}, true, "IPsec AH passes", false},
		{"IKE by default", {}, true, "IKE", true},
		{"IKE off", {.ike_passthrough = false}, true, "IKE", false},
		{"no inbound echo by default", {}, true, "echo requests", false},
		{"inbound echo on", {.inbound_echo = true}, true, "echo requests", true},
		{"unsolicited dropped", {}, true, "unsolicited inbound", true},
		{"flow timeouts for LAN-started flows", {}, true, "REC-14, REC-35", true},
	};
	for (const Case &c : cases)
		EXPECT_EQ(has_rule(build_firewall_batch(c.config, view(c.delegated)), "forward", c.comment), c.present)
			<< c.name;
	EXPECT_TRUE(has_rule(build_firewall_batch({}, view()), "input", "REC-8"));
	EXPECT_TRUE(has_rule(build_firewall_batch({}, view()), "input", "REC-9"));
}

// RFC 6583 §7.3: what comes in unsolicited goes only to addresses LAN hosts
// use; a pinhole for one configured address is known without that, one
// for a prefix is not (a scan of it must not resolve every address).
TEST(Firewall, PinholesForAPrefixReachOnlyKnownHosts)
{
	FirewallConfig c;
	c.allow.push_back({*Ipv6Prefix::parse("2001:2:0:1001::5/128"), "tcp", 22});
	c.allow.push_back({*Ipv6Prefix::parse("2001:2:0:1002::/64"), "udp", 5060});
	auto to_known_hosts = [](const json &rule) {
		for (const json &e : rule["expr"])
			if (e.contains("match") && e["match"]["right"] == "@lan_hosts")
				return true;
		return false;
	};
	struct Want {
		const char *comment;
		bool known_only;
	} wants[] = {
		{"pinhole tcp 2001:2:0:1001::5/128", false},
		{"pinhole udp 2001:2:0:1002::/64", true},
		{"IPsec ESP passes", true},
	};
	int seen = 0;
	for (const json &r : rules(build_firewall_batch(c, view()), "forward"))
		for (const Want &w : wants)
			if (r["comment"].get<std::string>().find(w.comment) != std::string::npos) {
				EXPECT_EQ(to_known_hosts(r), w.known_only) << w.comment;
				seen++;
			}
	EXPECT_EQ(seen, 3);
}

// The LAN prefixes (delegated and ULA) fill the set the ingress and egress
// rules test.
TEST(Firewall, LanPrefixesFillTheSet)
{
	json batch = build_firewall_batch({}, view());
	for (const json &cmd : batch.at("nftables"))
		if (cmd.contains("add") && cmd["add"].contains("set") && cmd["add"]["set"]["name"] == "lan_prefixes") {
			const json &elem = cmd["add"]["set"]["elem"];
			ASSERT_EQ(elem.size(), 2u);
			EXPECT_EQ(elem[0]["prefix"]["addr"], "2001:2:0:1000::");
			EXPECT_EQ(elem[0]["prefix"]["len"], 56);
			EXPECT_EQ(elem[1]["prefix"]["addr"], "fd12:3456:789a::");
			return;
		}
	FAIL() << "no lan_prefixes set";
}

// RFC 6092 REC-14 (UDP, five minutes by default) and REC-35 (TCP not
// established, four minutes): the policies carry the configured seconds.
TEST(Firewall, FlowTimeoutsCarryTheConfiguredSeconds)
{
	std::string text = flow_timeout_commands({});
	EXPECT_NE(text.find("policy = { unreplied : 300, replied : 300 }"), std::string::npos) << text;
	EXPECT_NE(text.find("syn_sent : 240, syn_recv : 240, fin_wait : 240, close_wait : 240, last_ack : 240, "
			    "time_wait : 240"),
		  std::string::npos)
		<< text;
	EXPECT_NE(text.find("udp sport 1024-65535 udp dport 1024-65535"), std::string::npos) << text;
	text = flow_timeout_commands({.udp_idle_timeout = 600, .tcp_transitory_timeout = 300});
	EXPECT_NE(text.find("unreplied : 600, replied : 600"), std::string::npos) << text;
	EXPECT_NE(text.find("time_wait : 300"), std::string::npos) << text;
}

TEST(FirewallConfig, DefaultsAndKeys)
{
	const std::string client = "[client]\ninterface = \"wan0\"\n[[client.prefix]]\n";
	DaemonConfig d = parse_daemon_config(client, "c.toml");
	EXPECT_TRUE(d.firewall.enabled);
	EXPECT_TRUE(d.firewall.ipsec_passthrough);
	EXPECT_TRUE(d.firewall.ike_passthrough);
	EXPECT_FALSE(d.firewall.inbound_echo);
	EXPECT_EQ(d.firewall.inbound_new_rate, 200u);
	EXPECT_EQ(d.firewall.udp_idle_timeout, 300u);       // RFC 6092 REC-14: five minutes
	EXPECT_EQ(d.firewall.tcp_transitory_timeout, 240u); // RFC 6092 REC-35: four minutes
	d = parse_daemon_config(client + "[firewall]\nipsec_passthrough = false\ninbound_echo = true\n"
					 "[[firewall.allow]]\ndestination = \"2001:2::5\"\nprotocol = \"udp\"\nport = 53\n",
				"c.toml");
	EXPECT_FALSE(d.firewall.ipsec_passthrough);
	EXPECT_TRUE(d.firewall.inbound_echo);
	ASSERT_EQ(d.firewall.allow.size(), 1u);
	EXPECT_EQ(d.firewall.allow[0].destination, *Ipv6Prefix::parse("2001:2::5/128"));
	EXPECT_EQ(d.firewall.allow[0].protocol, "udp");
	EXPECT_EQ(d.firewall.allow[0].port, 53);
}

TEST(FirewallConfig, RefusalsNameFileAndLine)
{
	const std::string client = "[client]\ninterface = \"wan0\"\n[[client.prefix]]\n";
	struct Case {
		std::string text;
		const char *error;
	} cases[] = {
		{"[server]\ninterfaces = [\"eth0\"]\n[firewall]\n",
		 "c.toml:3:1: [firewall] protects the LANs of a [client]: configure one"},
		{client + "[firewall]\nstateful = true\n", "c.toml:5:1: unknown key 'firewall.stateful'"},
		{client + "[[firewall.allow]]\ndestination = \"lan host\"\nport = 22\n",
		 "c.toml:5:15: invalid IPv6 address or prefix 'lan host'"},
		{client + "[[firewall.allow]]\ndestination = \"2001:2::5\"\nport = 0\n",
		 "c.toml:6:8: port must be between 1 and 65535, not 0"},
		{client + "[[firewall.allow]]\ndestination = \"2001:2::5\"\nprotocol = \"sctp\"\nport = 9\n",
		 "c.toml:6:12: protocol must be \"tcp\" or \"udp\""},
		{client + "[firewall]\nudp_idle_timeout = 30\n",
		 "c.toml:5:20: udp_idle_timeout must be between 120 and 86400 seconds (RFC 6092 REC-14), not 30"},
		{client + "[firewall]\ntcp_transitory_timeout = 120\n",
		 "c.toml:5:26: tcp_transitory_timeout must be between 240 and 86400 seconds (RFC 6092 REC-35), not 120"},
		{client + "[[firewall.allow]]\nport = 9\n",
		 "c.toml:4:1: a pinhole needs 'destination' (a LAN address or prefix)"},
	};
	for (const Case &c : cases)
		EXPECT_EQ(config_error_of(c.text), c.error) << c.text;
}

// The kernel's side, in a fresh network namespace (root only): the table
// goes in, a second apply with a new view replaces it, another table is
// never touched, remove() takes ours away.
int run_in_netns(void (*body)())
{
	pid_t pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) != 0)
			_exit(77);
		body();
		_exit(testing::Test::HasFailure() ? 1 : 0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

std::string sh(const std::string &cmd)
{
	std::string out;
	if (FILE *p = popen(cmd.c_str(), "r")) {
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
			out.append(buf, n);
		pclose(p);
	}
	return out;
}

void kernel_round_trip()
{
	sh("nft add table inet other && nft add chain inet other c '{ type filter hook input priority 10; }' && "
	   "nft add rule inet other c counter comment '\"not ours\"'");
	std::string other = sh("nft list table inet other");
	Firewall fw({});
	fw.apply(view(false));
	std::string listed = sh("nft list table ip6 umigame_ce");
	EXPECT_NE(listed.find("RFC 7084 G-3"), std::string::npos) << listed;
	fw.apply(view(true));
	listed = sh("nft list table ip6 umigame_ce");
	EXPECT_EQ(listed.find("RFC 7084 G-3"), std::string::npos) << listed;
	EXPECT_NE(listed.find("2001:2:0:1000::/56"), std::string::npos) << listed;
	EXPECT_NE(listed.find("policy = { unreplied : 300, replied : 300 }"), std::string::npos) << listed;
	EXPECT_NE(listed.find("ct timeout set \"tcp_flows\""), std::string::npos) << listed;
	EXPECT_EQ(fw.status()["installed"], true);
	EXPECT_TRUE(fw.status()["counters"].contains("RFC 6092 REC-10: an ICMPv6 error or segment that belongs to no flow"));
	EXPECT_EQ(sh("nft list table inet other"), other);
	fw.remove();
	EXPECT_EQ(sh("nft list tables 2>&1").find("umigame_ce"), std::string::npos);
	EXPECT_EQ(sh("nft list table inet other"), other);
}

TEST(Firewall, KernelTakesReplacesAndRemovesOnlyOurTable)
{
	if (geteuid() != 0)
		GTEST_SKIP() << "needs root (a network namespace and nftables)";
	int rc = run_in_netns(kernel_round_trip);
	if (rc == 77)
		GTEST_SKIP() << "cannot create a network namespace here";
	EXPECT_EQ(rc, 0);
}

} // namespace
} // namespace umigame::dhcp6d
