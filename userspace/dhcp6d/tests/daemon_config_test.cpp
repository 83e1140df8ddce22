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
