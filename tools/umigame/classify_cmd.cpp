// `umigame classify …`: argument handling and output; the work is in
// classify.cpp and classify_rules.cpp.
#include <arpa/inet.h>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "classify.h"
#include "cli.h"
#include "umigame/net.h"

namespace umigame::cli {

namespace {

using json = nlohmann::json;

struct Args {
	std::vector<std::string> positional;
	bool json_out = false;
	bool prometheus = false;
	bool generic = false;
};

Args parse_args(const std::vector<std::string> &in)
{
	Args a;
	for (const auto &s : in) {
		if (s == "--json")
			a.json_out = true;
		else if (s == "--prometheus")
			a.prometheus = true;
		else if (s == "--generic")
			a.generic = true;
		else if (s.rfind("--", 0) == 0)
			throw UsageError("classify: unknown option " + s);
		else
			a.positional.push_back(s);
	}
	return a;
}

std::string pin_dir(const Globals &g)
{
	return g.pin_dir ? *g.pin_dir + "/classify" : Classifier::default_pin_dir();
}

std::string addr_text(uint8_t family, const uint8_t *b)
{
	return family == 4 ? IpAddress::v4(std::span<const uint8_t, 4>(b, 4)).str()
			   : IpAddress::v6(std::span<const uint8_t, 16>(b, 16)).str();
}

json counter_json(const umigame_cls_counter &c)
{
	return {{"packets", c.packets}, {"bytes", c.bytes}};
}

int show(Classifier &c, const Args &a)
{
	const std::string only = a.positional.size() > 1 ? a.positional[1] : "";
	auto ports = c.ports();
	if (a.prometheus) {
		std::printf("# HELP umigame_classify_packets_total SCTP/DCCP packets by port and reason\n"
			    "# TYPE umigame_classify_packets_total counter\n");
		for (const auto &p : ports)
			for (int r = 0; r < UMIGAME_CLS_REASON_COUNT; r++)
				std::printf("umigame_classify_packets_total{interface=\"%s\",reason=\"%s\"} %llu\n",
					    p.dev.c_str(), cls_reason_names[r],
					    (unsigned long long)p.reasons[r].packets);
		std::printf("# HELP umigame_classify_bytes_total SCTP/DCCP bytes by port and reason\n"
			    "# TYPE umigame_classify_bytes_total counter\n");
		for (const auto &p : ports)
			for (int r = 0; r < UMIGAME_CLS_REASON_COUNT; r++)
				std::printf("umigame_classify_bytes_total{interface=\"%s\",reason=\"%s\"} %llu\n",
					    p.dev.c_str(), cls_reason_names[r],
					    (unsigned long long)p.reasons[r].bytes);
		std::printf("# HELP umigame_classify_rule_packets_total packets each rule matched\n"
			    "# TYPE umigame_classify_rule_packets_total counter\n");
		for (const auto &p : ports)
			for (size_t r = 0; r < p.rules.size(); r++)
				std::printf("umigame_classify_rule_packets_total{interface=\"%s\",rule=\"%zu\","
					    "action=\"%s\"} %llu\n",
					    p.dev.c_str(), r, cls_action_name(p.table.rules[r].action),
					    (unsigned long long)p.rules[r].packets);
		return 0;
	}
	json out = json::array();
	for (const auto &p : ports) {
		if (!only.empty() && p.dev != only)
			continue;
		if (a.json_out) {
			json j = {{"interface", p.dev}, {"ifindex", p.ifindex}, {"attached", p.attached},
				  {"malformed", (p.table.flags & UMIGAME_CLS_F_PASS_MALFORMED) ? "pass" : "drop"},
				  {"flows", bool(p.table.flags & UMIGAME_CLS_F_FLOWS)},
				  {"checksum", (p.table.flags & UMIGAME_CLS_F_VERIFY_CSUM) ? "verify" : "ignore"}};
			json reasons = json::object();
			for (int r = 0; r < UMIGAME_CLS_REASON_COUNT; r++)
				reasons[cls_reason_names[r]] = counter_json(p.reasons[r]);
			j["reasons"] = reasons;
			json rules = json::array();
			for (size_t r = 0; r < p.rules.size(); r++) {
				json jr = counter_json(p.rules[r]);
				jr["rule"] = describe_rule(p.table.rules[r]);
				rules.push_back(jr);
			}
			j["rules"] = rules;
			out.push_back(j);
			continue;
		}
		std::printf("%s (ifindex %u)%s, malformed packets: %s\n",
			    p.dev.empty() ? "?" : p.dev.c_str(), p.ifindex,
			    p.attached ? "" : " [not attached]",
			    (p.table.flags & UMIGAME_CLS_F_PASS_MALFORMED) ? "pass" : "drop");
		for (size_t r = 0; r < p.rules.size(); r++)
			std::printf("  rule %-2zu %12llu pkts %14llu bytes  %s\n", r,
				    (unsigned long long)p.rules[r].packets,
				    (unsigned long long)p.rules[r].bytes,
				    describe_rule(p.table.rules[r]).c_str());
		for (int r = 0; r < UMIGAME_CLS_REASON_COUNT; r++)
			if (p.reasons[r].packets)
				std::printf("  %-18s %12llu pkts %14llu bytes\n", cls_reason_names[r],
					    (unsigned long long)p.reasons[r].packets,
					    (unsigned long long)p.reasons[r].bytes);
	}
	if (a.json_out)
		std::printf("%s\n", out.dump(2).c_str());
	return 0;
}

int flows(Classifier &c, const Args &a)
{
	timespec now{};
	clock_gettime(CLOCK_MONOTONIC, &now);
	const uint64_t now_ns = uint64_t(now.tv_sec) * 1000000000ULL + uint64_t(now.tv_nsec);
	json out = json::array();
	for (const auto &f : c.flows()) {
		const auto &k = f.key;
		const bool sctp = k.proto == 132;
		const double age = double(now_ns - f.stats.last_ns) / 1e9;
		if (a.json_out) {
			json j = {{"protocol", sctp ? "sctp" : "dccp"}, {"sport", k.sport},
				  {"dport", k.dport}, {"packets", f.stats.packets},
				  {"bytes", f.stats.bytes}, {"first_ns", f.stats.first_ns},
				  {"last_ns", f.stats.last_ns}};
			if (sctp)
				j["vtag"] = k.vtag;
			else {
				j["src"] = addr_text(k.family, k.saddr);
				j["dst"] = addr_text(k.family, k.daddr);
			}
			out.push_back(j);
			continue;
		}
		if (sctp)
			std::printf("sctp vtag 0x%08x ports %u > %u", k.vtag, k.sport, k.dport);
		else
			std::printf("dccp %s.%u > %s.%u", addr_text(k.family, k.saddr).c_str(), k.sport,
				    addr_text(k.family, k.daddr).c_str(), k.dport);
		std::printf("  %llu pkts %llu bytes, last %.1f s ago\n",
			    (unsigned long long)f.stats.packets, (unsigned long long)f.stats.bytes, age);
	}
	if (a.json_out)
		std::printf("%s\n", out.dump(2).c_str());
	return 0;
}

} // namespace

int classify(const Globals &globals, std::vector<std::string> args)
{
	const Args a = parse_args(args);
	if (a.positional.empty())
		throw UsageError("classify needs attach, detach, rules, show or flows");
	const std::string &sub = a.positional[0];
	if (sub == "rules") {
		if (a.positional.size() != 3 || (a.positional[1] != "load" && a.positional[1] != "check"))
			throw UsageError("usage: umigame classify rules load|check FILE");
		const ClassifyRules rules = load_classify_rules(a.positional[2]);
		if (a.positional[1] == "check") {
			std::printf("%s: %zu ports, rules valid\n", a.positional[2].c_str(), rules.ports.size());
			return 0;
		}
		Classifier c(pin_dir(globals));
		c.open(true);
		for (const auto &line : c.load(rules))
			std::printf("%s\n", line.c_str());
		return 0;
	}
	if (sub == "attach" || sub == "detach") {
		if (a.positional.size() != 2)
			throw UsageError("usage: umigame classify " + sub + " IFACE");
		Classifier c(pin_dir(globals));
		if (sub == "attach") {
			c.open(true);
			std::printf("%s\n", c.attach(a.positional[1], a.generic).c_str());
		} else {
			if (!c.open(false))
				throw std::runtime_error("the classifier is not loaded");
			std::printf("%s\n", c.detach(a.positional[1]).c_str());
		}
		return 0;
	}
	if (sub == "show" || sub == "flows") {
		Classifier c(pin_dir(globals));
		if (!c.open(false)) {
			if (a.json_out)
				std::printf("[]\n");
			else if (!a.prometheus)
				std::printf("the classifier is not loaded\n");
			return 0;
		}
		return sub == "show" ? show(c, a) : flows(c, a);
	}
	throw UsageError("classify: unknown subcommand " + sub);
}

} // namespace umigame::cli
