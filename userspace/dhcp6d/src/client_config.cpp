#include "umigame/dhcp6d/client_config.h"

#include <algorithm>
#include <map>
#include <set>

namespace umigame::dhcp6d {

namespace {

// An integer key in [lo, hi]; nullopt when absent.
std::optional<int64_t> ranged(ConfigTable &t, const std::string &key, int64_t lo, int64_t hi)
{
	auto v = t.integer(key);
	if (!v)
		return std::nullopt;
	if (v->value < lo || v->value > hi)
		throw ConfigError(v->where, key + " must be between " + std::to_string(lo) + " and " +
						    std::to_string(hi) + ", not " + std::to_string(v->value));
	return v->value;
}

std::string interface_name(ConfigTable &t, const std::string &key)
{
	auto v = t.string(key);
	if (!v)
		t.fail("'" + key + "' is required");
	// IFNAMSIZ - 1, and no '/' (it names a sysctl path).
	if (v->value.empty() || v->value.size() > 15 || v->value.find('/') != std::string::npos)
		throw ConfigError(v->where, "invalid interface name '" + v->value + "'");
	return v->value;
}

RaConfig parse_ra(ConfigTable &t)
{
	RaConfig ra;
	ra.enabled = t.boolean("enabled", true);
	// RFC 4861 §6.2.1: MaxRtrAdvInterval 4..1800, MinRtrAdvInterval
	// 3..0.75 x max, AdvDefaultLifetime 0 or max..9000.
	if (auto v = ranged(t, "max_interval", 4, 1800))
		ra.max_interval = uint32_t(*v);
	if (auto v = ranged(t, "min_interval", 3, 1350))
		ra.min_interval = uint32_t(*v);
	else
		ra.min_interval = std::max<uint32_t>(3, ra.max_interval / 3);
	if (ra.min_interval * 4 > ra.max_interval * 3)
		t.fail("min_interval must be at most 0.75 x max_interval (RFC 4861 §6.2.1)");
	if (auto v = ranged(t, "router_lifetime", 0, 9000)) {
		if (*v != 0 && *v < ra.max_interval)
			t.fail("router_lifetime must be 0 or at least max_interval (RFC 4861 §6.2.1)");
		ra.router_lifetime = uint16_t(*v);
	} else {
		ra.router_lifetime = uint16_t(std::min<uint32_t>(9000, 3 * ra.max_interval));
	}
	if (auto p = t.string("preference")) {
		if (p->value == "high")
			ra.preference = RouterPreference::high;
		else if (p->value == "medium")
			ra.preference = RouterPreference::medium;
		else if (p->value == "low")
			ra.preference = RouterPreference::low;
		else
			throw ConfigError(p->where, "preference must be \"high\", \"medium\" or \"low\" (RFC 4191)");
	}
	if (auto v = ranged(t, "mtu", 1280, 65535))
		ra.mtu = uint32_t(*v);
	for (const auto &s : t.string_array("dns_servers"))
		ra.dns_servers.push_back(t.convert<Ipv6Address>(s, Ipv6Address::parse, "IPv6 address"));
	for (const auto &s : t.string_array("search_domains"))
		ra.search_domains.push_back(
			t.convert<dhcp6::DomainName>(s, dhcp6::DomainName::from_text, "domain name"));
	if (auto c = t.string("captive_portal")) {
		if (!c->value.empty() && !valid_captive_portal_uri(c->value))
			throw ConfigError(c->where, "captive_portal must be an https:// URI or "
						    "urn:ietf:params:capport:unrestricted, printable ASCII, at most "
						    "2000 characters (RFC 8910 §2, RFC 8908 §2)");
		ra.captive_portal = c->value;
	}
	ra.on_link = t.boolean("on_link", ra.on_link);
	ra.autonomous = t.boolean("autonomous", ra.autonomous);
	if (t.has("other_config"))
		ra.other_config = t.boolean("other_config", false);
	t.finish();
	return ra;
}

UlaConfig parse_ula(ConfigTable &t)
{
	UlaConfig u;
	u.enabled = t.boolean("enabled", true);
	if (auto p = t.string("prefix")) {
		auto prefix = Ipv6Prefix::parse(p->value);
		// RFC 4193 §3.1: fd00::/8 (L = 1), a /48 for the site.
		if (!prefix || prefix->length != 48 || prefix->address.bytes[0] != 0xfd)
			throw ConfigError(p->where, "ULA prefix must be a /48 in fd00::/8 (RFC 4193 §3.1), not '" +
							    p->value + "'");
		u.prefix = *prefix;
	}
	if (auto v = ranged(t, "valid_lifetime", 1, 0xffffffff))
		u.valid_lifetime = uint32_t(*v);
	if (auto v = ranged(t, "preferred_lifetime", 0, 0xffffffff))
		u.preferred_lifetime = uint32_t(*v);
	if (u.preferred_lifetime > u.valid_lifetime)
		t.fail("preferred_lifetime must not exceed valid_lifetime (RFC 4862 §5.5.3)");
	t.finish();
	return u;
}

} // namespace

bool valid_captive_portal_uri(const std::string &uri)
{
	// RFC 8908 §2: the API URI is https; RFC 8910 §2 adds the "no portal"
	// URN. An RA option holds at most 2038 octets; stay well below.
	if (uri.empty() || uri.size() > 2000)
		return false;
	for (char c : uri)
		if (c <= 0x20 || c >= 0x7f)
			return false;
	return uri.rfind("https://", 0) == 0 || uri == "urn:ietf:params:capport:unrestricted";
}

ClientConfig parse_client_config(ConfigTable &table)
{
	ClientConfig c;
	c.interface = interface_name(table, "interface");
	c.rapid_commit = table.boolean("rapid_commit", false);
	c.reconfigure_accept = table.boolean("reconfigure_accept", true);
	c.address_selection = table.boolean("address_selection", true);
	c.accept_ra = table.boolean("accept_ra", true);
	c.address_when_managed = table.boolean("address_when_managed", true);
	c.release_on_stop = table.boolean("release_on_stop", true);
	if (auto d = table.string("duid_type")) {
		if (d->value == "ll")
			c.duid_llt = false;
		else if (d->value == "llt")
			c.duid_llt = true;
		else
			throw ConfigError(d->where, "duid_type must be \"ll\" or \"llt\" (RFC 8415 §11)");
	}
	std::set<uint32_t> iaids;
	std::map<uint32_t, SourceLocation> hint_at;
	for (ConfigTable &p : table.table_array("prefix")) {
		PrefixRequest r;
		auto iaid = ranged(p, "iaid", 0, 0xffffffff);
		r.iaid = iaid ? uint32_t(*iaid) : uint32_t(c.prefixes.size() + 1);
		if (!iaids.insert(r.iaid).second)
			p.fail("IAID " + std::to_string(r.iaid) + " is used twice (RFC 8415 §12: one IAID per IA)");
		if (auto at = p.integer("length_hint"))
			hint_at.emplace(r.iaid, at->where);
		if (auto h = ranged(p, "length_hint", 1, 128))
			r.length_hint = uint8_t(*h);
		p.finish();
		c.prefixes.push_back(r);
	}
	if (auto a = table.table("address")) {
		auto iaid = ranged(*a, "iaid", 0, 0xffffffff);
		c.address_iaid = iaid ? uint32_t(*iaid) : 0u;
		a->finish();
	}
	if (c.prefixes.empty() && !c.address_iaid)
		table.fail("nothing to ask for: add a [[client.prefix]] or a [client.address]");
	std::map<uint32_t, std::set<uint64_t>> taken;
	for (ConfigTable &d : table.table_array("downstream")) {
		Downstream ds;
		ds.interface = interface_name(d, "interface");
		if (ds.interface == c.interface)
			d.fail("downstream interface " + ds.interface + " is the upstream interface");
		for (const Downstream &other : c.downstream)
			if (other.interface == ds.interface)
				d.fail("downstream interface " + ds.interface + " is listed twice");
		auto iaid = ranged(d, "iaid", 0, 0xffffffff);
		if (c.prefixes.empty())
			d.fail("a downstream interface needs a [[client.prefix]] to carve from");
		ds.iaid = iaid ? uint32_t(*iaid) : c.prefixes.front().iaid;
		if (!iaids.count(ds.iaid))
			d.fail("no [[client.prefix]] with IAID " + std::to_string(ds.iaid));
		if (auto l = ranged(d, "length", 1, 128))
			ds.length = uint8_t(*l);
		if (auto s = d.integer("subnet_id")) {
			if (s->value < 0)
				throw ConfigError(s->where, "subnet_id must not be negative");
			ds.subnet_id = uint64_t(s->value);
			if (!taken[ds.iaid].insert(*ds.subnet_id).second)
				throw ConfigError(s->where, "subnet_id " + std::to_string(s->value) +
								    " is used twice for IAID " + std::to_string(ds.iaid));
		}
		d.finish();
		c.downstream.push_back(ds);
	}
	// RFC 7084 WPD-2: a hint asks for at least a /64 per downstream
	// interface, rounded up to the nearest nibble.
	for (const PrefixRequest &r : c.prefixes) {
		if (!r.length_hint)
			continue;
		size_t lans = std::count_if(c.downstream.begin(), c.downstream.end(),
					    [&](const Downstream &d) { return d.iaid == r.iaid; });
		unsigned bits = 0;
		while ((size_t(1) << bits) < lans)
			bits++;
		unsigned longest = 64 - (bits + 3) / 4 * 4;
		if (r.length_hint > longest)
			throw ConfigError(hint_at.at(r.iaid),
					  "length_hint /" + std::to_string(r.length_hint) + " is too small for " +
						  std::to_string(lans) + " downstream /64s: ask for /" +
						  std::to_string(longest) + " or shorter (RFC 7084 WPD-2)");
	}
	if (auto ra = table.table("ra"))
		c.ra = parse_ra(*ra);
	if (auto u = table.table("ula"))
		c.ula = parse_ula(*u);
	table.finish();
	return c;
}

} // namespace umigame::dhcp6d
