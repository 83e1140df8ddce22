// umigame mld show|reload: talks to umigame-mldproxy over its control
// socket (docs/mldproxy.md). --json prints the daemon's answer as it is;
// otherwise interfaces, querier state, groups with their sources and
// timers, and the kernel's forwarding entries with their counters.
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

constexpr const char *kDefaultSocket = "/run/umigame/mldproxy.sock";

std::string sources_text(const json &sources)
{
	std::string out;
	for (const auto &s : sources) {
		if (!out.empty())
			out += " ";
		if (s.is_string())
			out += s.get<std::string>();
		else
			out += s["address"].get<std::string>() + "(" + std::to_string(s["timer_ms"].get<int64_t>()) +
			       "ms)";
	}
	return out.empty() ? "-" : out;
}

void print_show(const json &state)
{
	const json &up = state["upstream"];
	std::printf("upstream %s: %s, robustness %d\n", up["interface"].get<std::string>().c_str(),
		    up["up"].get<bool>() ? "up" : "down", up["robustness"].get<int>());
	for (const auto &g : up["groups"])
		std::printf("  %s %s %s\n", g["group"].get<std::string>().c_str(), g["mode"].get<std::string>().c_str(),
			    sources_text(g["sources"]).c_str());
	for (const auto &d : state["downstream"]) {
		std::printf("downstream %s (%s): %s", d["interface"].get<std::string>().c_str(),
			    d["address"].get<std::string>().c_str(),
			    d["querier"].get<bool>() ? "querier" : "non-querier");
		if (!d["querier"].get<bool>())
			std::printf(", querier %s, present %lld ms", d["querier_address"].get<std::string>().c_str(),
				    (long long)d["other_querier_present_ms"].get<int64_t>());
		std::printf(", %zu groups%s\n", d["group_count"].get<size_t>(),
			    d["fast_leave"].get<bool>() ? ", fast leave" : "");
		for (const auto &g : d["groups"])
			std::printf("  %s %s filter %lld ms: %s\n", g["group"].get<std::string>().c_str(),
				    g["mode"].get<std::string>().c_str(), (long long)g["filter_timer_ms"].get<int64_t>(),
				    sources_text(g["sources"]).c_str());
	}
	std::printf("forwarding entries: %zu\n", state["mfc_count"].get<size_t>());
	for (const auto &e : state["mfc"]) {
		std::string outs;
		for (const auto &o : e["outputs"])
			outs += (outs.empty() ? "" : ",") + o.get<std::string>();
		std::printf("  (%s, %s) %s -> %s, %llu packets\n", e["source"].get<std::string>().c_str(),
			    e["group"].get<std::string>().c_str(), e["input"].get<std::string>().c_str(),
			    outs.empty() ? "(dropped)" : outs.c_str(), (unsigned long long)e.value("packets", 0ULL));
	}
}

} // namespace

int mld(const Globals &, std::vector<std::string> args)
{
	auto [sub, socket, as_json, names] = daemon_args("mld", std::move(args), "UMIGAME_MLDPROXY_SOCKET", kDefaultSocket,
							 "mld: show [--json] | reload  (--socket PATH)");
	if (sub == "show") {
		json state = ask(socket, "show");
		if (as_json)
			std::printf("%s\n", state.dump(2).c_str());
		else
			print_show(state);
		return 0;
	}
	if (sub == "reload") {
		json reply = ask(socket, "reload");
		std::printf("reloaded %s\n", reply.value("config", std::string("the configuration")).c_str());
		return 0;
	}
	throw UsageError("mld: unknown subcommand '" + sub + "' (show, reload)");
}

} // namespace umigame::cli
