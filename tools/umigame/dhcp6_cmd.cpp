// umigame dhcp6 show|reload: talks to umigame-dhcp6d over its control socket
// (docs/dhcp6.md). The daemon answers in JSON; --json prints it as it is,
// otherwise it is laid out for people: scalars as "key: value", lists of
// records (leases, pools, interfaces) as aligned tables.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "daemon_reply.h"
#include "umigame/control_socket.h"

namespace umigame::cli {

namespace {

using nlohmann::json;

constexpr const char *kDefaultSocket = "/run/umigame/dhcp6d.sock";

} // namespace

int dhcp6(const Globals &, std::vector<std::string> args)
{
	auto [sub, socket, as_json, names] = daemon_args("dhcp6", std::move(args), "UMIGAME_DHCP6D_SOCKET", kDefaultSocket,
							 "dhcp6: show [--json] | reload  (--socket PATH)");
	if (sub == "show") {
		json state = ask(socket, "show");
		if (as_json) {
			std::printf("%s\n", state.dump(2).c_str());
			return 0;
		}
		for (const char *role : {"client", "server"}) {
			if (!state.contains(role) || state[role].is_null())
				continue;
			std::printf("%s:\n", std::string(role) == "client" ? "requesting router (client)"
									 : "delegating router (server)");
			print_object(state[role], "  ");
		}
		return 0;
	}
	if (sub == "reload") {
		json reply = ask(socket, "reload");
		if (as_json)
			std::printf("%s\n", reply.dump(2).c_str());
		else
			std::printf("reloaded %s\n", reply.value("config", std::string("the configuration")).c_str());
		return 0;
	}
	throw UsageError("dhcp6: unknown subcommand '" + sub + "' (show, reload)");
}

} // namespace umigame::cli
