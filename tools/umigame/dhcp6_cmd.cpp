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
	if (args.empty())
		throw UsageError("dhcp6: show [--json] | reload  (--socket PATH)");
	const std::string sub = args.front();
	args.erase(args.begin());
	const char *env = std::getenv("UMIGAME_DHCP6D_SOCKET");
	std::string socket = env && *env ? env : kDefaultSocket;
	bool as_json = false;
	for (size_t i = 0; i < args.size(); i++) {
		if (args[i] == "--json")
			as_json = true;
		else if (args[i] == "--socket" && i + 1 < args.size())
			socket = args[++i];
		else
			throw UsageError("dhcp6 " + sub + ": unexpected '" + args[i] + "'");
	}
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
