#include "raguard_policy.h"

#include "umigame/config.h"

namespace umigame {

const char *preference_name(umigame_raguard_pref pref)
{
	switch (pref) {
	case UMIGAME_RAG_PREF_LOW: return "low";
	case UMIGAME_RAG_PREF_MEDIUM: return "medium";
	case UMIGAME_RAG_PREF_HIGH: return "high";
	}
	return "?";
}

uint32_t RaGuardPolicy::map_flags() const
{
	uint32_t f = 0;
	if (block_all)
		f |= UMIGAME_RAG_F_BLOCK_ALL;
	if (allow_managed)
		f |= UMIGAME_RAG_F_ALLOW_MANAGED;
	if (allow_other_config)
		f |= UMIGAME_RAG_F_ALLOW_OTHER;
	if (check_prefixes)
		f |= UMIGAME_RAG_F_CHECK_PREFIXES;
	if (drop_invalid)
		f |= UMIGAME_RAG_F_DROP_INVALID;
	return f;
}

RaGuardEventLimit raguard_event_limit(uint32_t burst, uint32_t rate, uint32_t hz)
{
	RaGuardEventLimit l;
	if (rate == 0 || hz == 0)
		return l; // unlimited (the program's reading of 0/0)
	const uint64_t per_second = uint64_t(hz) << UMIGAME_RAG_EVENT_SHIFT;
	l.interval = (per_second + rate - 1) / rate;
	l.window = uint64_t(burst) * l.interval;
	return l;
}

namespace {

// RFC 4861 §6.1.2: hosts accept RAs only from link-local sources, so a
// trusted router named by any other address could never be matched.
Ipv6Address router_address(const ConfigTable &t, const Located<std::string> &v)
{
	auto a = t.convert<Ipv6Address>(v, Ipv6Address::parse, "IPv6 address");
	if (!a.is_link_local())
		throw ConfigError(v.where, "router address " + v.value +
						   " is not link-local (RAs come from fe80::/10, "
						   "RFC 4861 §6.1.2)");
	return a;
}

MacAddress unicast_mac(const ConfigTable &t, const Located<std::string> &v)
{
	auto m = t.convert<MacAddress>(v, MacAddress::parse, "MAC address");
	if (m.is_multicast() || m.is_zero())
		throw ConfigError(v.where, "MAC address " + v.value + " is not a unicast address");
	return m;
}

// The guard keeps a port's whole policy in one map entry of fixed size.
void check_room(size_t have, size_t limit, const SourceLocation &where, const char *what)
{
	if (have >= limit)
		throw ConfigError(where, "more than " + std::to_string(limit) + " " + what +
						 " on one port (the RA guard's per-port limit)");
}

RaGuardPolicy parse(const toml::table &doc, const std::string &file)
{
	ConfigTable root(doc, file, "");
	auto section = root.table("raguard");
	if (!section)
		throw ConfigError(SourceLocation{file, 1, 1}, "missing [raguard] section");
	root.finish();

	RaGuardPolicy p;
	ConfigTable &t = *section;
	auto routers = [&] { return p.routers.size() + p.router_macs.size(); };
	for (const auto &v : t.string_array("routers")) {
		check_room(routers(), UMIGAME_RAGUARD_MAX_ROUTERS, v.where, "trusted routers");
		p.routers.push_back({router_address(t, v), std::nullopt});
	}
	for (auto &r : t.table_array("router")) {
		auto addr = r.string("address");
		if (!addr)
			r.fail("[[raguard.router]] needs an 'address'");
		check_room(routers(), UMIGAME_RAGUARD_MAX_ROUTERS, addr->where, "trusted routers");
		RaGuardPolicy::Router router{router_address(r, *addr), std::nullopt};
		if (auto mac = r.string("mac"))
			router.mac = unicast_mac(r, *mac);
		r.finish();
		p.routers.push_back(router);
	}
	for (const auto &v : t.string_array("router-macs")) {
		check_room(routers(), UMIGAME_RAGUARD_MAX_ROUTERS, v.where, "trusted routers");
		p.router_macs.push_back(unicast_mac(t, v));
	}

	if (t.has("prefixes")) {
		p.check_prefixes = true;
		for (const auto &v : t.string_array("prefixes")) {
			check_room(p.prefixes.size(), UMIGAME_RAGUARD_MAX_PREFIXES, v.where,
				   "allowed prefixes");
			p.prefixes.push_back(t.convert<Ipv6Prefix>(v, Ipv6Prefix::parse,
								   "IPv6 prefix (host bits must be zero)"));
		}
	}

	if (auto v = t.string("max-preference")) {
		if (v->value == "low")
			p.max_preference = UMIGAME_RAG_PREF_LOW;
		else if (v->value == "medium")
			p.max_preference = UMIGAME_RAG_PREF_MEDIUM;
		else if (v->value == "high")
			p.max_preference = UMIGAME_RAG_PREF_HIGH;
		else
			throw ConfigError(v->where, "max-preference must be low, medium or high "
						    "(RFC 4191 §2.1), not '" + v->value + "'");
	}
	p.allow_managed = t.boolean("allow-managed", true);
	p.allow_other_config = t.boolean("allow-other-config", true);
	p.block_all = t.boolean("block-all", false);
	p.drop_invalid = t.boolean("drop-invalid", false);

	// Drop events sent per port (the rest are counted, not sent).
	auto bounded = [&](const char *key, int64_t min, int64_t max, uint32_t fallback) {
		auto v = t.integer(key);
		if (!v)
			return fallback;
		if (v->value < min || v->value > max)
			throw ConfigError(v->where, std::string(key) + " must be between " +
							    std::to_string(min) + " and " +
							    std::to_string(max));
		return uint32_t(v->value);
	};
	p.event_burst = bounded("event-burst", 0, UMIGAME_RAG_EVENT_BURST_MAX,
				UMIGAME_RAG_EVENT_BURST_DEFAULT);
	p.event_rate = bounded("event-rate", 1, UMIGAME_RAG_EVENT_RATE_MAX,
			       UMIGAME_RAG_EVENT_RATE_DEFAULT);

	for (const auto &v : t.string_array("dhcpv6-servers")) {
		check_room(p.dhcpv6_servers.size(), UMIGAME_RAGUARD_MAX_DHCP_SERVERS, v.where,
			   "DHCPv6 servers");
		p.dhcpv6_servers.push_back(t.convert<Ipv6Address>(v, Ipv6Address::parse,
								  "IPv6 address"));
	}
	t.finish();

	if (!p.block_all && p.routers.empty() && p.router_macs.empty())
		t.fail("no trusted router: list 'routers', 'router-macs' or [[raguard.router]], "
		       "or set block-all = true for a port with no routers");
	return p;
}

} // namespace

RaGuardPolicy load_raguard_policy(const std::string &file)
{
	return parse(load_toml_file(file), file);
}

RaGuardPolicy parse_raguard_policy(std::string_view text, const std::string &name)
{
	return parse(parse_toml(text, name), name);
}

} // namespace umigame
