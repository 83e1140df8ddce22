// umigame ike show|sas|up|down|rekey|reload: talks to umigame-iked over its
// control socket (docs/ike.md). --json prints the daemon's answer as it is.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "daemon_reply.h"

namespace umigame::cli {

namespace {

using nlohmann::json;

constexpr const char *kDefaultSocket = "/run/umigame/iked.sock";
constexpr const char *kUsage =
	"ike: show [--json] | sas [--json] | up NAME | down NAME | rekey NAME [CHILD] | reload  "
	"(--socket PATH)";

void print_sas(const json &sas)
{
	if (sas.empty()) {
		std::printf("no IKE SAs\n");
		return;
	}
	for (const auto &sa : sas) {
		std::printf("%s: %s %s %s <-> %s, SPIs %s/%s, %s%s\n", sa.value("connection", "").c_str(),
			    sa.value("state", "").c_str(), sa.value("initiator", false) ? "(initiator)" : "(responder)",
			    sa.value("local", "").c_str(), sa.value("remote", "").c_str(), sa.value("spi_i", "").c_str(),
			    sa.value("spi_r", "").c_str(), sa.value("proposal", "").c_str(),
			    sa.value("nat_local", false) || sa.value("nat_remote", false) ? ", NAT-T" : "");
		if (sa.contains("children") && !sa["children"].empty())
			print_table(sa["children"], "  ");
	}
}

} // namespace

int ike(const Globals &, std::vector<std::string> args)
{
	auto [sub, socket, as_json, names] =
		daemon_args("ike", std::move(args), "UMIGAME_IKED_SOCKET", kDefaultSocket, kUsage, true);
	auto want_names = [&](size_t min, size_t max) {
		if (names.size() < min || names.size() > max)
			throw UsageError(kUsage);
	};
	if (sub == "show" || sub == "sas") {
		want_names(0, 0);
		json state = ask(socket, json{{"cmd", sub}});
		if (as_json)
			std::printf("%s\n", state.dump(2).c_str());
		else if (sub == "sas")
			print_sas(state["ike_sas"]);
		else
			print_object(state, "");
		return 0;
	}
	if (sub == "up" || sub == "down") {
		want_names(1, 1);
		ask(socket, json{{"cmd", sub}, {"name", names[0]}});
		return 0;
	}
	if (sub == "rekey") {
		want_names(1, 2);
		json req{{"cmd", "rekey"}, {"name", names[0]}};
		if (names.size() == 2)
			req["child"] = names[1];
		ask(socket, req);
		return 0;
	}
	if (sub == "reload") {
		want_names(0, 0);
		json reply = ask(socket, "reload");
		std::printf("reloaded %s\n", reply.value("config", std::string("the configuration")).c_str());
		return 0;
	}
	throw UsageError("ike: unknown subcommand '" + sub + "'\n" + kUsage);
}

} // namespace umigame::cli
