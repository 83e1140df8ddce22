// `umigame esp …`: the ESP fast path's ports and counters; the work is in esp.cpp.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "esp.h"
#include "umigame/sa_netlink.h"

namespace umigame::cli {

namespace {

using json = nlohmann::json;

struct EspArgs {
	std::vector<std::string> positional;
	bool json_out = false;
	bool generic = false;
	std::optional<bool> drop_unknown_spi;
};

EspArgs parse_esp_args(const std::vector<std::string> &in)
{
	EspArgs a;
	for (const auto &s : in) {
		if (s == "--json")
			a.json_out = true;
		else if (s == "--generic")
			a.generic = true;
		else if (s == "--drop-unknown-spi")
			a.drop_unknown_spi = true;
		else if (s == "--pass-unknown-spi")
			a.drop_unknown_spi = false;
		else if (s.rfind("--", 0) == 0)
			throw UsageError("unknown option '" + s + "'");
		else
			a.positional.push_back(s);
	}
	return a;
}

std::string esp_dir(const Globals &g)
{
	return g.pin_dir ? *g.pin_dir + "/esp" : Esp::default_pin_dir();
}

json stats_json(const Esp &esp, const EspStats &s)
{
	json reasons = json::object();
	for (size_t r = 0; r < s.reasons.size(); r++)
		reasons[esp_reason_names[r]] = {
			{"packets", s.reasons[r]},
			{"verdict", r >= UMIGAME_ESP_FIRST_DROP ? "drop" : "pass"}};
	json sas = json::array();
	for (const auto &sa : s.sas)
		sas.push_back({{"id", sa.sa_id},
			       {"packets", sa.counters.packets},
			       {"bytes", sa.counters.bytes},
			       {"replay_drops", sa.counters.replay_drops},
			       {"auth_failures", sa.counters.auth_failures},
			       {"errors", sa.counters.errors},
			       {"replay_top", sa.replay_top}});
	auto port_list = [](const std::vector<EspPort> &in) {
		json out = json::array();
		for (const auto &p : in)
			out.push_back({{"dev", p.dev}, {"ifindex", p.ifindex}});
		return out;
	};
	return {{"pin_dir", esp.pin_dir()},	   {"decrypts_in_xdp", s.have_module},
		{"ports", port_list(s.ports)},	   {"xdp_forward_ports", port_list(s.forward_ports)},
		{"reasons", reasons},		   {"sas", sas}};
}

void print_stats(const EspStats &s)
{
	std::printf("ESP fast path: %s\n",
		    s.have_module ? "decrypts in XDP (umigame.ko)"
				  : "checks only; decryption left to the kernel's xfrm (no umigame.ko "
				    "when it was loaded)");
	for (const auto &p : s.ports)
		std::printf("  port %s (ifindex %u)\n", p.dev.empty() ? "<gone>" : p.dev.c_str(),
			    p.ifindex);
	for (const auto &p : s.forward_ports)
		std::printf("  forwards inner packets in XDP to %s (ifindex %u)\n",
			    p.dev.empty() ? "<gone>" : p.dev.c_str(), p.ifindex);
	for (size_t r = 0; r < s.reasons.size(); r++)
		if (s.reasons[r])
			std::printf("  %-18s %-4s %llu\n", esp_reason_names[r],
				    r >= UMIGAME_ESP_FIRST_DROP ? "drop" : "pass",
				    (unsigned long long)s.reasons[r]);
	for (const auto &sa : s.sas)
		std::printf("  SA %u: %llu packets, %llu bytes, %llu replays, %llu auth failures, "
			    "%llu errors, highest seq %llu\n",
			    sa.sa_id, (unsigned long long)sa.counters.packets,
			    (unsigned long long)sa.counters.bytes,
			    (unsigned long long)sa.counters.replay_drops,
			    (unsigned long long)sa.counters.auth_failures,
			    (unsigned long long)sa.counters.errors,
			    (unsigned long long)sa.replay_top);
}

} // namespace

void sync_esp_sas(const Globals &g)
{
	Esp esp(esp_dir(g));
	if (esp.open(false))
		sync_from_module(esp);
}

int esp(const Globals &g, std::vector<std::string> args)
{
	if (args.empty())
		throw UsageError("esp needs a subcommand: attach, detach, forward, stats");
	const std::string sub = args.front();
	EspArgs a = parse_esp_args({args.begin() + 1, args.end()});

	if (sub == "attach") {
		if (a.positional.size() != 1)
			throw UsageError("esp attach needs one DEV");
		Esp esp(esp_dir(g));
		esp.open(true);
		if (a.drop_unknown_spi)
			esp.set_drop_unknown_spi(*a.drop_unknown_spi);
		sync_from_module(esp);
		std::printf("%s\n", esp.attach(a.positional[0], a.generic).c_str());
		return 0;
	}
	if (sub == "detach") {
		if (a.positional.size() != 1)
			throw UsageError("esp detach needs one DEV");
		Esp esp(esp_dir(g));
		if (!esp.open(false))
			throw std::runtime_error("the ESP program is not loaded");
		esp.detach(a.positional[0]);
		return 0;
	}
	if (sub == "forward") {
		// `forward none` (or `off`) clears the set; forwarding then stops.
		std::vector<std::string> devs = a.positional;
		if (devs.size() == 1 && (devs[0] == "none" || devs[0] == "off"))
			devs.clear();
		else if (devs.empty())
			throw UsageError("esp forward needs the LAN ports (DEV...), or none");
		Esp esp(esp_dir(g));
		if (!esp.open(false))
			throw std::runtime_error("the ESP program is not loaded: esp attach first");
		esp.set_forward_ports(devs);
		if (devs.empty())
			std::printf("XDP forwarding off: inner packets go up the stack\n");
		else {
			std::string list;
			for (const auto &d : devs)
				list += (list.empty() ? "" : ", ") + d;
			std::printf("inner packets routed out of %s are forwarded in XDP "
				    "(no netfilter, no xfrm forward policy)\n",
				    list.c_str());
		}
		return 0;
	}
	if (sub == "stats") {
		Esp esp(esp_dir(g));
		if (!esp.open(false)) {
			if (a.json_out)
				std::printf("%s\n", json{{"pin_dir", esp.pin_dir()}, {"ports", json::array()}}
							    .dump(2)
							    .c_str());
			else
				std::printf("the ESP program is not attached anywhere\n");
			return 0;
		}
		EspStats s = esp.stats();
		if (a.json_out)
			std::printf("%s\n", stats_json(esp, s).dump(2).c_str());
		else
			print_stats(s);
		return 0;
	}
	throw UsageError("unknown esp subcommand '" + sub + "'");
}

} // namespace umigame::cli
