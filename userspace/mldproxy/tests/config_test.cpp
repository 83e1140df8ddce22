// umigame-mldproxy's configuration: defaults from RFC 3810 §9, and errors
// that name file:line:column.
#include "umigame/mldproxy/config.h"

#include <linux/capability.h>

#include <gtest/gtest.h>

#include "umigame/config.h"

namespace umigame::mldproxy {
namespace {

TEST(Config, DefaultsAreThoseOfRfc3810Section9)
{
	auto c = parse_config("[upstream]\ninterface = \"wan\"\n[[downstream]]\ninterface = \"lan0\"\n"
			      "[[downstream]]\ninterface = \"lan1\"\nfast_leave = true\nrobustness = 3\n",
			      "t.toml");
	EXPECT_EQ(c.upstream.name, "wan");
	ASSERT_EQ(c.downstream.size(), 2u);
	EXPECT_EQ(c.downstream[0].robustness, 2u);			      // §9.1
	EXPECT_EQ(c.downstream[0].query_interval, mld::Millis(125000));       // §9.2
	EXPECT_EQ(c.downstream[0].query_response_interval, mld::Millis(10000)); // §9.3
	EXPECT_EQ(c.downstream[0].last_listener_query_interval, mld::Millis(1000)); // §9.8
	EXPECT_FALSE(c.downstream[0].fast_leave);
	EXPECT_TRUE(c.downstream[1].fast_leave);
	EXPECT_EQ(c.downstream[1].robustness, 3u);
	EXPECT_FALSE(c.run_as);
	auto e = engine_config(c, 7, {8, 9});
	EXPECT_EQ(e.upstream.ifindex, 7u);
	EXPECT_EQ(e.downstream[1].ifindex, 9u);
	EXPECT_TRUE(e.downstream[1].fast_leave);
}

TEST(Config, UserKeepsExactlyTheCapabilitiesTheProxyNeeds)
{
	auto c = parse_config("[daemon]\nuser = \"umigame\"\ngroup = \"netdev\"\ncontrol_socket = \"/run/x.sock\"\n"
			      "[upstream]\ninterface = \"wan\"\n[[downstream]]\ninterface = \"lan0\"\n",
			      "t.toml");
	ASSERT_TRUE(c.run_as);
	EXPECT_EQ(c.run_as->user, "umigame");
	EXPECT_EQ(c.run_as->group, "netdev");
	// MRT6_* needs CAP_NET_ADMIN; the raw socket and its Router Alert CAP_NET_RAW.
	EXPECT_EQ(c.run_as->keep_capabilities, (std::vector<int>{CAP_NET_ADMIN, CAP_NET_RAW}));
	EXPECT_EQ(c.control_socket, "/run/x.sock");
}

TEST(Config, RefusalsNameWhereTheyAre)
{
	struct Case {
		const char *text;
		const char *where; // file:line:column prefix of the message
	} cases[] = {
		{"[[downstream]]\ninterface = \"lan0\"\n", "t.toml"},
		{"[upstream]\ninterface = \"wan\"\n", "t.toml"},
		{"[upstream]\ninterface = \"wan\"\n[[downstream]]\ninterface = \"lan0\"\nrobustness = 0\n",
		 "t.toml:5:14"},
		{"[upstream]\ninterface = \"wan\"\n[[downstream]]\ninterface = \"lan0\"\nfast_leeve = true\n",
		 "t.toml:5"},
		{"[upstream]\ninterface = \"wan\"\n[[downstream]]\ninterface = \"wan\"\n", "t.toml:3"},
		{"[upstream]\ninterface = \"wan\"\n[[downstream]]\ninterface = \"lan0\"\nquery_interval = 5\n"
		 "query_response_interval_ms = 5000\n",
		 "t.toml:3"},
		{"[upstream]\ninterface = \"wan\"\n[[downstream]]\ninterface = \"lan0\"\n[daemon]\n"
		 "control_socket = \"relative\"\n",
		 "t.toml:6:18"},
		{"[upstream]\ninterface = \"wan\"\n[[downstream]]\ninterface = \"lan0\"\n[daemon]\n"
		 "group = \"netdev\"\n",
		 "t.toml:5"},
	};
	for (const auto &c : cases) {
		try {
			parse_config(c.text, "t.toml");
			ADD_FAILURE() << "accepted: " << c.text;
		} catch (const ConfigError &e) {
			EXPECT_EQ(std::string(e.what()).rfind(c.where, 0), 0u) << e.what();
		}
	}
}

} // namespace
} // namespace umigame::mldproxy
