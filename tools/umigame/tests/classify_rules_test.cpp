// The classifier's rule file: what it accepts and how each field lands in
// the table entry, and refusals named by file:line:column.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "classify_rules.h"

using namespace umigame;

namespace {

const char *kRules = R"(
[[port]]
interface = "lan0"
malformed = "pass"
flows = true
cpus = 2

[[port.rule]]
action = "drop"
chunk = "init"
src = "192.0.2.0/24"
dport = "36412-36422"

[[port.rule]]
action = "count"
protocol = "sctp"
ppid = 60

[[port.rule]]
action = "rate-limit"
rate = 10

[[port.rule]]
action = "redirect"
target = "lan1"
dccp-type = "request"
service = "PERF"

[[port.rule]]
action = "redirect-cpu"
dst = "2001:db8::/32"
sport = 5000

[[port]]
interface = "lan1"
)";

TEST(ClassifyRules, FieldsLandInTheTable)
{
	auto r = parse_classify_rules(kRules, "rules.toml");
	ASSERT_EQ(r.ports.size(), 2u);
	const auto &p = r.ports[0];
	EXPECT_EQ(p.dev, "lan0");
	EXPECT_EQ(p.flags, uint32_t(UMIGAME_CLS_F_PASS_MALFORMED | UMIGAME_CLS_F_FLOWS));
	EXPECT_EQ(p.cpus, 2u);
	ASSERT_EQ(p.rules.size(), 5u);

	const auto &drop = p.rules[0].rule;
	EXPECT_EQ(drop.action, uint32_t(UMIGAME_CLS_DROP));
	EXPECT_EQ(drop.match, uint32_t(UMIGAME_CLS_M_CHUNK | UMIGAME_CLS_M_PROTO | UMIGAME_CLS_M_SRC |
				       UMIGAME_CLS_M_FAMILY | UMIGAME_CLS_M_DPORT));
	EXPECT_EQ(drop.chunk_type, 1);
	EXPECT_EQ(drop.proto, 132);
	EXPECT_EQ(drop.family, 4);
	uint8_t want[4];
	inet_pton(AF_INET, "192.0.2.0", want);
	EXPECT_EQ(memcmp(drop.src, want, 4), 0);
	EXPECT_EQ(drop.src_mask[2], 0xff);
	EXPECT_EQ(drop.src_mask[3], 0);
	EXPECT_EQ(drop.dport_lo, 36412);
	EXPECT_EQ(drop.dport_hi, 36422);
	EXPECT_EQ(describe_rule(drop), "drop ipv4 sctp src 192.0.2.0/24 dport 36412-36422 chunk init");

	EXPECT_EQ(p.rules[1].rule.ppid, 60u);
	EXPECT_EQ(p.rules[2].rule.rate, 10u);
	EXPECT_EQ(p.rules[2].rule.burst, 10u); // burst defaults to the rate
	EXPECT_EQ(p.rules[3].target_dev, "lan1");
	EXPECT_EQ(p.rules[3].rule.service, 0x50455246u);
	EXPECT_EQ(p.rules[3].rule.dccp_type, 0);
	EXPECT_EQ(p.rules[3].rule.proto, 33);
	EXPECT_EQ(p.rules[4].rule.family, 6);
	EXPECT_EQ(p.rules[4].rule.dst_mask[3], 0xff);
	EXPECT_EQ(p.rules[4].rule.dst_mask[4], 0);
	EXPECT_EQ(r.ports[1].flags, 0u); // no per-flow statistics unless asked for
}

struct Refusal {
	const char *text;
	const char *where;   // file:line:column
	const char *message; // part of it
};

TEST(ClassifyRules, RefusedWithFileLineColumn)
{
	const Refusal cases[] = {
		{"[[port]]\ninterface = \"a\"\n[[port.rule]]\naction = \"explode\"\n", "r.toml:4:10",
		 "action must be"},
		{"[[port]]\ninterface = \"a\"\n[[port.rule]]\naction = \"drop\"\nchunk = \"inot\"\n",
		 "r.toml:5:9", "chunk must be"},
		{"[[port]]\ninterface = \"a\"\n[[port.rule]]\naction = \"drop\"\nprotocol = \"dccp\"\nppid = 5\n",
		 "r.toml:6:8", "only applies to SCTP"},
		{"[[port]]\ninterface = \"a\"\n[[port.rule]]\naction = \"drop\"\nsrc = \"10.0.0.1/8\"\n",
		 "r.toml:5:7", "host bits"},
		{"[[port]]\ninterface = \"a\"\n[[port.rule]]\naction = \"drop\"\nsrc = \"10.0.0.0/8\"\n"
		 "dst = \"2001:db8::/32\"\n",
		 "r.toml:6:7", "family"},
		{"[[port]]\ninterface = \"a\"\n[[port.rule]]\naction = \"drop\"\ndport = \"9-3\"\n",
		 "r.toml:5:9", "dport must be"},
		{"[[port]]\ninterface = \"a\"\n[[port.rule]]\naction = \"redirect\"\n", "r.toml:3:1",
		 "needs a 'target'"},
		{"[[port]]\ninterface = \"a\"\n[[port.rule]]\naction = \"drop\"\nrate = 5\n", "r.toml:5:8",
		 "only applies to action"},
		{"[[port]]\ninterface = \"a\"\n[[port.rule]]\naction = \"drop\"\nservice = \"AB\\u0001C\"\n",
		 "r.toml:5:11", "service must be"},
		{"[[port]]\ninterface = \"a\"\nchecksum = \"check\"\n", "r.toml:3:12",
		 "checksum must be verify or ignore"},
		{"[[port]]\ninterface = \"a\"\ncolour = \"red\"\n", "r.toml:3:1", "colour"},
		{"[[port]]\ninterface = \"a\"\n[[port]]\ninterface = \"a\"\n", "r.toml:4:13",
		 "has rules above"},
		{"x = 1\n", "r.toml:1:1", ""},
		{"[[port]]\ninterface = \"a\"\n[[port.rule]]\naction = \"rewrite\"\n", "r.toml:3:1",
		 "needs 'to-sport', 'to-dport'"},
		{"[[port]]\ninterface = \"a\"\n[[port.rule]]\nprotocol = \"dccp\"\naction = \"rewrite\"\n"
		 "to-dport = 5\n",
		 "r.toml:5:10", "only applies to SCTP"},
		{"[[port]]\ninterface = \"a\"\n[[port.rule]]\naction = \"rewrite\"\nto-dport = 0\n",
		 "r.toml:5:12", "must be a port"},
		{"[[port]]\ninterface = \"a\"\n[[port.rule]]\naction = \"pass\"\nto-sport = 9\n",
		 "r.toml:5:12", "only applies to action = \"rewrite\""},
	};
	for (const auto &c : cases) {
		try {
			parse_classify_rules(c.text, "r.toml");
			ADD_FAILURE() << "accepted: " << c.text;
		} catch (const ConfigError &e) {
			EXPECT_EQ(e.where().str(), c.where) << c.text << " -> " << e.what();
			EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos)
				<< c.text << " -> " << e.what();
		}
	}
}

TEST(ClassifyRules, RewriteIsSctpWithItsPorts)
{
	auto r = parse_classify_rules("[[port]]\ninterface = \"a\"\n[[port.rule]]\naction = \"rewrite\"\n"
				      "dport = 7000\nto-dport = 5000\n[[port.rule]]\naction = \"rewrite\"\n"
				      "sport = 5000\nto-sport = 7000\nto-dport = 7001\n",
				      "r.toml");
	ASSERT_EQ(r.ports.at(0).rules.size(), 2u);
	const auto &in = r.ports[0].rules[0].rule, &out = r.ports[0].rules[1].rule;
	EXPECT_EQ(in.action, uint32_t(UMIGAME_CLS_REWRITE));
	EXPECT_EQ(in.proto, 132); // implied: only SCTP's checksum is recomputed
	EXPECT_EQ(in.to_sport, 0);
	EXPECT_EQ(in.to_dport, 5000);
	EXPECT_EQ(describe_rule(in), "rewrite to-dport 5000 sctp dport 7000");
	EXPECT_EQ(out.to_sport, 7000);
	EXPECT_EQ(out.to_dport, 7001);
}

TEST(ClassifyRules, ChecksumVerifyIsAPortFlag)
{
	auto r = parse_classify_rules("[[port]]\ninterface = \"a\"\nchecksum = \"verify\"\n"
				      "[[port]]\ninterface = \"b\"\nchecksum = \"ignore\"\n",
				      "r.toml");
	ASSERT_EQ(r.ports.size(), 2u);
	EXPECT_EQ(r.ports[0].flags, uint32_t(UMIGAME_CLS_F_VERIFY_CSUM));
	EXPECT_EQ(r.ports[1].flags, 0u);
}

TEST(ClassifyRules, AtMost32RulesPerPort)
{
	std::string text = "[[port]]\ninterface = \"a\"\n";
	for (int i = 0; i <= UMIGAME_CLS_MAX_RULES; i++)
		text += "[[port.rule]]\naction = \"count\"\n";
	EXPECT_THROW(parse_classify_rules(text, "r.toml"), ConfigError);
}

} // namespace
