#include "umigame/mldproxy/config.h"

#include <linux/capability.h>
#include <net/if.h>

#include <set>

#include "umigame/config.h"

namespace umigame::mldproxy {

namespace {

int64_t bounded(ConfigTable &t, const std::string &key, int64_t fallback, int64_t low, int64_t high)
{
	auto v = t.integer(key);
	if (!v)
		return fallback;
	if (v->value < low || v->value > high)
		throw ConfigError(v->where, key + " must be between " + std::to_string(low) + " and " +
						    std::to_string(high));
	return v->value;
}

InterfaceSettings parse_interface(ConfigTable &t, bool downstream)
{
	InterfaceSettings s;
	auto name = t.string("interface");
	if (!name)
		t.fail("'interface' is missing");
	if (name->value.empty() || name->value.size() >= IFNAMSIZ)
		throw ConfigError(name->where, "'" + name->value + "' is not an interface name");
	s.name = name->value;
	// RFC 3810 §9.1: robustness must not be 0 (and should not be 1).
	s.robustness = unsigned(bounded(t, "robustness", 2, 1, 7));
	if (downstream) {
		s.fast_leave = t.boolean("fast_leave", false);
		// §9.2, §9.3: the response interval must be shorter than the query
		// interval; both as the codes of §5.1.3 and §5.1.9 can carry them.
		s.query_interval = mld::Millis(bounded(t, "query_interval", 125, 1, 31744) * 1000);
		s.query_response_interval = mld::Millis(bounded(t, "query_response_interval_ms", 10000, 100, 8387584));
		if (s.query_response_interval >= s.query_interval)
			t.fail("query_response_interval_ms must be shorter than query_interval");
		s.last_listener_query_interval =
			mld::Millis(bounded(t, "last_listener_query_interval_ms", 1000, 100, 8387584));
		s.max_groups = size_t(bounded(t, "max_groups", 20000, 1, 1000000));
		s.max_sources = size_t(bounded(t, "max_sources", 1024, 1, 65535));
	}
	t.finish();
	return s;
}

Config parse_table(const toml::table &root, const std::string &name)
{
	Config out;
	out.file = name;
	ConfigTable top(root, name, "");
	if (auto daemon = top.table("daemon")) {
		// MRT6_* on the multicast routing socket needs CAP_NET_ADMIN; the
		// raw ICMPv6 socket and its Router Alert option CAP_NET_RAW.
		read_daemon_keys(*daemon, out.run_as, out.control_socket, {CAP_NET_ADMIN, CAP_NET_RAW});
		out.unsolicited_report_interval =
			mld::Millis(bounded(*daemon, "unsolicited_report_interval_ms", 1000, 10, 60000));
		daemon->finish();
	}
	auto up = top.table("upstream");
	if (!up)
		top.fail("[upstream] is missing: RFC 4605 §1.1 wants exactly one upstream interface");
	out.upstream = parse_interface(*up, false);
	std::set<std::string> names{out.upstream.name};
	for (auto &d : top.table_array("downstream")) {
		auto s = parse_interface(d, true);
		if (!names.insert(s.name).second)
			d.fail("interface '" + s.name + "' appears twice");
		out.downstream.push_back(s);
	}
	if (out.downstream.empty())
		top.fail("no [[downstream]] interface");
	// One MIF each, and ip6mr has MAXMIFS (32) of them.
	if (out.downstream.size() > 31)
		top.fail("at most 31 downstream interfaces (the kernel's MAXMIFS is 32)");
	top.finish();
	return out;
}

} // namespace

Config parse_config(std::string_view text, const std::string &name)
{
	toml::table root = parse_toml(text, name);
	return parse_table(root, name);
}

Config load_config(const std::string &file)
{
	toml::table root = load_toml_file(file);
	return parse_table(root, file);
}

mld::EngineConfig engine_config(const Config &c, uint32_t upstream_ifindex,
				const std::vector<uint32_t> &downstream_ifindexes)
{
	auto convert = [](const InterfaceSettings &s, uint32_t ifindex) {
		mld::InterfaceConfig i;
		i.name = s.name;
		i.ifindex = ifindex;
		i.fast_leave = s.fast_leave;
		i.robustness = s.robustness;
		i.query_interval = s.query_interval;
		i.query_response_interval = s.query_response_interval;
		i.last_listener_query_interval = s.last_listener_query_interval;
		i.max_groups = s.max_groups;
		i.max_sources = s.max_sources;
		return i;
	};
	mld::EngineConfig e;
	e.upstream = convert(c.upstream, upstream_ifindex);
	for (size_t i = 0; i < c.downstream.size(); i++)
		e.downstream.push_back(convert(c.downstream[i], downstream_ifindexes.at(i)));
	e.unsolicited_report_interval = c.unsolicited_report_interval;
	return e;
}

} // namespace umigame::mldproxy
