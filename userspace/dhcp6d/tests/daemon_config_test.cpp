// The [daemon] table and the file as a whole: every refusal names
// file:line:column, and a file with no role is refused.
#include "umigame/dhcp6d/daemon_config.h"

#include <functional>

#include <gtest/gtest.h>

using namespace umigame;
using namespace umigame::dhcp6d;

namespace {

std::string error_of(const std::function<void()> &fn)
{
	try {
		fn();
	} catch (const ConfigError &e) {
		return e.what();
	}
	return "";
}

struct Refusal {
	const char *text;
	const char *error;
};

} // namespace

TEST(DaemonConfig, RefusalsNameFileLineColumn)
{
	const Refusal cases[] = {
		{"", "d.toml:1:1: nothing to do: configure [client], [server] or both"},
		{"[daemon]\nuser = \"nobody\"\n", "d.toml:1:1: nothing to do: configure [client], [server] or both"},
		{"[daemon]\ncontrol_socket = \"relative.sock\"\n",
		 "d.toml:2:18: control_socket must be an absolute path"},
		{"[daemon]\nstate_dir = \"var/lib\"\n", "d.toml:2:13: state_dir must be an absolute path"},
		{"[daemon]\ngroup = \"adm\"\n", "d.toml:1:1: 'group' needs 'user'"},
		{"[daemon]\nusr = \"nobody\"\n", "d.toml:2:1: unknown key 'daemon.usr'"},
		{"[deamon]\n", "d.toml:1:2: unknown key 'deamon'"},
		{"[daemon\n", nullptr}, // a TOML syntax error: only the location is checked
	};
	for (const auto &c : cases) {
		std::string error = error_of([&] { parse_daemon_config(c.text, "d.toml"); });
		if (c.error)
			EXPECT_EQ(error, c.error) << "for: " << c.text;
		else
			EXPECT_EQ(error.rfind("d.toml:1:", 0), 0u) << error;
	}
}

TEST(DaemonConfig, UnreadableFileIsAnError)
{
	EXPECT_NE(error_of([] { load_daemon_config("/nonexistent/dhcp6d.toml"); }).find("/nonexistent/dhcp6d.toml"),
		  std::string::npos);
}

// RFC 7084 L-9: the LAN's RAs say O = 1 when this daemon's server answers
// on a downstream interface (stateless DHCPv6, RFC 3736), O = 0 when
// nobody there would answer; configuration wins either way.
TEST(DaemonConfig, OtherConfigFlagFollowsOurServerOnTheLan)
{
	const std::string client = "[client]\ninterface = \"wan0\"\n[[client.prefix]]\n"
				   "[[client.downstream]]\ninterface = \"lan0\"\n";
	struct Case {
		std::string text;
		bool other;
	} cases[] = {
		{client, false},
		{client + "[server]\ninterfaces = [\"lan0\"]\n", true},
		{client + "[server]\ninterfaces = [\"dmz0\"]\n", false},
		{client + "[client.ra]\nother_config = true\n", true},
		{client + "[client.ra]\nother_config = false\n[server]\ninterfaces = [\"lan0\"]\n", false},
	};
	for (const Case &c : cases) {
		DaemonConfig d = parse_daemon_config(c.text, "d.toml");
		ASSERT_TRUE(d.client);
		EXPECT_EQ(d.client->ra.other_config, c.other) << c.text;
	}
}
