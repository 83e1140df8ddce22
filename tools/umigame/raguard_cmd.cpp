// `umigame raguard …`: argument handling and output; the work is in raguard.cpp.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <net/if.h>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "raguard.h"
#include "raguard_events.h"

namespace umigame::cli {

namespace {

using json = nlohmann::json;

struct Args {
	std::vector<std::string> positional;
	std::optional<std::string> policy;
	bool json_out = false;
	bool generic = false;
	std::optional<long> count;
	std::optional<long> timeout_s;
};

long parse_number(const std::string &opt, const std::string &v)
{
	size_t used = 0;
	long n = -1;
	try {
		n = std::stol(v, &used);
	} catch (const std::exception &) {
	}
	if (used != v.size() || n < 0)
		throw UsageError(opt + " needs a non-negative number, not '" + v + "'");
	return n;
}

Args parse_args(const std::vector<std::string> &in)
{
	Args a;
	for (size_t i = 0; i < in.size(); i++) {
		const std::string &s = in[i];
		auto value = [&]() -> const std::string & {
			if (i + 1 >= in.size())
				throw UsageError(s + " needs a value");
			return in[++i];
		};
		if (s == "--policy")
			a.policy = value();
		else if (s == "--json")
			a.json_out = true;
		else if (s == "--generic")
			a.generic = true;
		else if (s == "--count")
			a.count = parse_number(s, value());
		else if (s == "--timeout")
			a.timeout_s = parse_number(s, value());
		else if (s.rfind("--", 0) == 0)
			throw UsageError("unknown option '" + s + "'");
		else
			a.positional.push_back(s);
	}
	return a;
}

bool is_drop(size_t reason) { return reason >= UMIGAME_RAG_FIRST_DROP; }

json counters_json(const std::array<umigame_raguard_counter, UMIGAME_RAG_REASON_COUNT> &row)
{
	json c = json::object();
	for (size_t r = 0; r < row.size(); r++)
		c[raguard_reason_names[r]] = {{"packets", row[r].packets},
					      {"bytes", row[r].bytes},
					      {"events_suppressed", row[r].suppressed},
					      {"verdict", is_drop(r) ? "drop" : "pass"}};
	return c;
}

json port_json(const RaGuardPortState &p)
{
	json routers = json::array();
	for (const auto &[addr, mac] : p.routers) {
		json r = {{"address", addr.str()}};
		if (mac)
			r["mac"] = mac->str();
		routers.push_back(r);
	}
	json macs = json::array(), prefixes = json::array(), dhcp = json::array();
	for (const auto &m : p.router_macs)
		macs.push_back(m.str());
	for (const auto &x : p.prefixes)
		prefixes.push_back(x.str());
	for (const auto &a : p.dhcpv6_servers)
		dhcp.push_back(a.str());
	const uint32_t f = p.policy.flags;
	json policy = {
		{"slot", p.policy.port_slot},
		{"routers", routers},
		{"router-macs", macs},
		{"prefixes", (f & UMIGAME_RAG_F_CHECK_PREFIXES) ? prefixes : json("any")},
		{"max-preference",
		 preference_name(static_cast<umigame_raguard_pref>(p.policy.max_preference))},
		{"allow-managed", bool(f & UMIGAME_RAG_F_ALLOW_MANAGED)},
		{"allow-other-config", bool(f & UMIGAME_RAG_F_ALLOW_OTHER)},
		{"block-all", bool(f & UMIGAME_RAG_F_BLOCK_ALL)},
		{"drop-invalid", bool(f & UMIGAME_RAG_F_DROP_INVALID)},
		{"dhcpv6-servers", dhcp},
		{"event-burst", p.policy.event_burst},
		{"event-rate", p.policy.event_rate},
	};
	return {{"dev", p.dev},	      {"ifindex", p.ifindex},
		{"mode", p.mode},     {"policy", policy},
		{"counters", counters_json(p.counters)}};
}

void print_port(const RaGuardPortState &p)
{
	std::printf("%s (ifindex %u): %s XDP, counter slot %u\n",
		    p.dev.empty() ? "<gone>" : p.dev.c_str(), p.ifindex, p.mode.c_str(),
		    p.policy.port_slot);
	const uint32_t f = p.policy.flags;
	if (f & UMIGAME_RAG_F_BLOCK_ALL)
		std::printf("  block-all: every RA is dropped on this port\n");
	for (const auto &[addr, mac] : p.routers)
		std::printf("  trusted router %s%s%s\n", addr.str().c_str(), mac ? " at " : "",
			    mac ? mac->str().c_str() : "");
	for (const auto &m : p.router_macs)
		std::printf("  trusted router MAC %s\n", m.str().c_str());
	if (f & UMIGAME_RAG_F_CHECK_PREFIXES) {
		std::printf("  allowed prefixes:");
		for (const auto &x : p.prefixes)
			std::printf(" %s", x.str().c_str());
		std::printf("%s\n", p.prefixes.empty() ? " none" : "");
	}
	std::printf("  max preference %s, M flag %s, O flag %s%s\n",
		    preference_name(static_cast<umigame_raguard_pref>(p.policy.max_preference)),
		    (f & UMIGAME_RAG_F_ALLOW_MANAGED) ? "allowed" : "refused",
		    (f & UMIGAME_RAG_F_ALLOW_OTHER) ? "allowed" : "refused",
		    (f & UMIGAME_RAG_F_DROP_INVALID) ? ", invalid RAs dropped" : "");
	for (const auto &a : p.dhcpv6_servers)
		std::printf("  trusted DHCPv6 server %s\n", a.str().c_str());
	std::printf("  drop events: %u at once, then %u per second\n", p.policy.event_burst,
		    p.policy.event_rate);
	bool any = false;
	for (size_t r = 0; r < p.counters.size(); r++) {
		if (!p.counters[r].packets)
			continue;
		if (!any)
			std::printf("  %-8s %-24s %10s %12s %10s\n", "verdict", "reason", "packets",
				    "bytes", "no event");
		any = true;
		std::printf("  %-8s %-24s %10llu %12llu %10llu\n", is_drop(r) ? "drop" : "pass",
			    raguard_reason_names[r], (unsigned long long)p.counters[r].packets,
			    (unsigned long long)p.counters[r].bytes,
			    (unsigned long long)p.counters[r].suppressed);
	}
	if (!any)
		std::printf("  no RA or DHCPv6 server message seen yet\n");
}

std::string pin_dir(const Globals &g)
{
	return g.pin_dir ? *g.pin_dir + "/raguard" : RaGuard::default_pin_dir();
}

volatile std::sig_atomic_t stop_events = 0;

std::string format_time(uint64_t mono_ns)
{
	// bpf_ktime_get_ns() is CLOCK_MONOTONIC; shift it onto the wall clock.
	timespec mono{}, real{};
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	int64_t now_mono = int64_t(mono.tv_sec) * 1000000000 + mono.tv_nsec;
	int64_t now_real = int64_t(real.tv_sec) * 1000000000 + real.tv_nsec;
	int64_t t = now_real - (now_mono - int64_t(mono_ns));
	time_t secs = time_t(t / 1000000000);
	struct tm tm{};
	localtime_r(&secs, &tm);
	char buf[64];
	std::snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%06lld", tm.tm_hour, tm.tm_min, tm.tm_sec,
		      (long long)(t % 1000000000) / 1000);
	return buf;
}

int cmd_events(const Globals &g, const Args &a)
{
	RaGuard guard(pin_dir(g));
	if (!guard.open(false))
		throw std::runtime_error("the RA guard is not attached anywhere");
	std::optional<uint32_t> only;
	if (!a.positional.empty())
		only = interface_index(a.positional[0]);
	long seen = 0;
	std::signal(SIGINT, [](int) { stop_events = 1; });
	std::signal(SIGTERM, [](int) { stop_events = 1; });
	const auto deadline = std::chrono::steady_clock::now() +
			      std::chrono::seconds(a.timeout_s.value_or(0));
	auto dev_name = [](uint32_t ifindex) -> std::string {
		char name[IF_NAMESIZE] = "?";
		if_indextoname(ifindex, name);
		return name;
	};
	auto on_event = [&](const umigame_raguard_event &ev) {
		if (only && ev.ifindex != *only)
			return true;
		const std::string name = dev_name(ev.ifindex);
		Ipv6Address src;
		std::memcpy(src.bytes.data(), ev.src_addr, 16);
		MacAddress mac;
		std::memcpy(mac.bytes.data(), ev.src_mac, 6);
		const char *reason = ev.reason < UMIGAME_RAG_REASON_COUNT ?
					     raguard_reason_names[ev.reason] : "?";
		if (a.json_out) {
			json j = {{"time", format_time(ev.timestamp_ns)}, {"dev", name},
				  {"ifindex", ev.ifindex}, {"reason", reason},
				  {"src_mac", mac.str()}, {"src_addr", src.str()},
				  {"vlan", ev.vlan}};
			std::printf("%s\n", j.dump().c_str());
		} else {
			std::printf("%s %-8s drop %-24s from %s %s%s\n",
				    format_time(ev.timestamp_ns).c_str(), name.c_str(), reason,
				    mac.str().c_str(), src.str().c_str(),
				    ev.vlan ? (" vlan " + std::to_string(ev.vlan)).c_str() : "");
		}
		std::fflush(stdout);
		seen++;
		return !(a.count && seen >= *a.count);
	};

	// The drops the guard counted instead of sending (each port's event
	// limit) or could not send (ring buffer full): read when we start,
	// then every second and when we stop; what rose in between is printed
	// after the events, so the output accounts for every drop.
	RaGuardSuppressed last = guard.suppressed();
	uint64_t last_lost = guard.events_lost();
	auto report = [&] {
		RaGuardSuppressed now = guard.suppressed();
		for (const auto &d : suppressed_since(last, now)) {
			if (only && d.ifindex != *only)
				continue;
			const std::string name = d.ifindex ? dev_name(d.ifindex) : "";
			if (a.json_out) {
				json reasons = json::object();
				for (size_t r = 0; r < d.by_reason.size(); r++)
					if (d.by_reason[r])
						reasons[raguard_reason_names[r]] = d.by_reason[r];
				json j = {{"suppressed", d.total}, {"reasons", reasons}};
				if (d.ifindex) {
					j["dev"] = name;
					j["ifindex"] = d.ifindex;
				}
				std::printf("%s\n", j.dump().c_str());
			} else {
				std::printf("%s\n", format_suppressed(name, d).c_str());
			}
		}
		last = std::move(now);
		const uint64_t lost = guard.events_lost();
		if (lost > last_lost) {
			if (a.json_out)
				std::printf("%s\n", json({{"lost", lost - last_lost}}).dump().c_str());
			else
				std::printf("%s\n", format_lost(lost - last_lost).c_str());
		}
		last_lost = lost;
		std::fflush(stdout);
	};

	RaGuardEventReader reader(guard, on_event);
	constexpr auto kReportEvery = std::chrono::seconds(1);
	auto next_report = std::chrono::steady_clock::now() + kReportEvery;
	while (!stop_events) {
		int slice_ms = 200;
		const auto now = std::chrono::steady_clock::now();
		if (a.timeout_s) {
			auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
			if (left.count() <= 0)
				break;
			slice_ms = int(std::min<long>(left.count(), slice_ms));
		}
		if (!reader.poll(slice_ms))
			break; // --count reached
		if (std::chrono::steady_clock::now() >= next_report) {
			report();
			next_report = std::chrono::steady_clock::now() + kReportEvery;
		}
	}
	report();
	return 0;
}

} // namespace

int raguard(const Globals &g, std::vector<std::string> argv)
{
	if (argv.empty())
		throw UsageError("raguard needs a subcommand: attach, detach, show, events, check");
	const std::string sub = argv.front();
	Args a = parse_args({argv.begin() + 1, argv.end()});

	if (sub == "check") {
		if (!a.policy)
			throw UsageError("raguard check needs --policy FILE");
		RaGuardPolicy p = load_raguard_policy(*a.policy);
		std::printf("%s: ok (%zu routers, %zu router MACs, %s, %zu DHCPv6 servers)\n",
			    a.policy->c_str(), p.routers.size(), p.router_macs.size(),
			    p.check_prefixes ? (std::to_string(p.prefixes.size()) + " prefixes").c_str()
					     : "any prefix",
			    p.dhcpv6_servers.size());
		return 0;
	}
	if (sub == "attach") {
		if (a.positional.size() != 1 || !a.policy)
			throw UsageError("usage: umigame raguard attach DEV --policy FILE [--generic]");
		// Validate before touching anything: a bad file leaves the running
		// policy as it was.
		RaGuardPolicy p = load_raguard_policy(*a.policy);
		interface_index(a.positional[0]); // refuse a typo before loading anything
		RaGuard guard(pin_dir(g));
		guard.open(true);
		std::printf("raguard: %s\n", guard.attach(a.positional[0], p, a.generic).c_str());
		return 0;
	}
	if (sub == "detach") {
		if (a.positional.size() != 1)
			throw UsageError("usage: umigame raguard detach DEV");
		RaGuard guard(pin_dir(g));
		if (!guard.open(false))
			throw std::runtime_error("the RA guard is not attached anywhere");
		guard.detach(a.positional[0]);
		std::printf("raguard: detached from %s\n", a.positional[0].c_str());
		return 0;
	}
	if (sub == "show") {
		RaGuard guard(pin_dir(g));
		std::vector<RaGuardPortState> ports;
		bool loaded = guard.open(false);
		if (loaded)
			ports = guard.ports();
		if (!a.positional.empty()) {
			uint32_t idx = interface_index(a.positional[0]);
			std::erase_if(ports, [&](const auto &p) { return p.ifindex != idx; });
			if (ports.empty())
				throw std::runtime_error("the RA guard is not attached to " +
							 a.positional[0]);
		}
		if (a.json_out) {
			json j = {{"pin_dir", guard.pin_dir()}, {"ports", json::array()}};
			for (const auto &p : ports)
				j["ports"].push_back(port_json(p));
			if (loaded) {
				j["unattributed"] = counters_json(guard.unattributed());
				j["events_lost"] = guard.events_lost();
			}
			std::printf("%s\n", j.dump(2).c_str());
			return 0;
		}
		if (ports.empty())
			std::printf("raguard: not attached to any port\n");
		for (const auto &p : ports)
			print_port(p);
		return 0;
	}
	if (sub == "events")
		return cmd_events(g, a);
	throw UsageError("unknown raguard subcommand '" + sub + "'");
}

} // namespace umigame::cli
