// The [server] table of umigame-dhcp6d.toml (docs/dhcp6.md, "Delegating
// router"). Everything is checked here, with the file:line of the value at
// fault, so that the engine can trust what it gets: pools that do not
// overlap, lengths that fit, reservations inside a pool of theirs.
#include <algorithm>
#include <set>

#include "umigame/dhcp6d/client_config.h"
#include "umigame/dhcp6d/server.h"

namespace umigame::dhcp6d {

namespace {

uint32_t u32(ConfigTable &t, const std::string &key, uint32_t fallback, uint32_t min = 0,
	     uint32_t max = UINT32_MAX)
{
	auto v = t.integer(key);
	if (!v)
		return fallback;
	if (v->value < int64_t(min) || v->value > int64_t(max))
		throw ConfigError(v->where, "'" + key + "' must be between " + std::to_string(min) +
						    " and " + std::to_string(max));
	return uint32_t(v->value);
}

Ipv6Prefix prefix_value(ConfigTable &t, const Located<std::string> &v, const std::string &what)
{
	return t.convert<Ipv6Prefix>(v, Ipv6Prefix::parse, what + " (host bits must be zero)");
}

bool overlap(const Ipv6Prefix &a, const Ipv6Prefix &b) { return a.contains(b) || b.contains(a); }

PoolConfig parse_pool(ConfigTable &t, LeaseKind kind)
{
	PoolConfig pool;
	pool.kind = kind;
	pool.where = t.where();
	auto interface = t.string("interface");
	auto relay_link = t.string("relay_link");
	if (interface.has_value() == relay_link.has_value())
		t.fail("a pool needs exactly one of 'interface' (clients on that link) or "
		       "'relay_link' (clients behind a relay whose link-address is in that prefix)");
	if (interface) {
		if (interface->value.empty() || interface->value.size() > 15 ||
		    interface->value.find_first_of("/ \t") != std::string::npos)
			throw ConfigError(interface->where, "invalid interface name '" + interface->value + "'");
		pool.interface = interface->value;
	} else {
		pool.relay_link = prefix_value(t, *relay_link, "relay link prefix");
	}
	auto prefix = t.string("prefix");
	if (!prefix)
		t.fail("a pool needs 'prefix'");
	pool.prefix = prefix_value(t, *prefix, "pool prefix");
	if (kind == LeaseKind::prefix) {
		auto length = t.integer("delegated_length");
		if (!length)
			t.fail("a prefix pool needs 'delegated_length'");
		// RFC 8415 §21.22: prefix-length is 1 to 128; a delegated
		// prefix is at least as long as the pool it comes from.
		if (length->value < pool.prefix.length || length->value > 128 || length->value < 1)
			throw ConfigError(length->where, "delegated_length must be between the pool's length (/" +
								 std::to_string(pool.prefix.length) + ") and 128");
		pool.delegated_length = uint8_t(length->value);
	} else {
		if (pool.prefix.length > 126)
			throw ConfigError(prefix->where, "an address pool needs at least a /126");
		pool.delegated_length = 128;
	}
	t.finish();
	return pool;
}

dhcp6::AddressSelection parse_address_selection(ConfigTable &t)
{
	// RFC 7078 §3.
	dhcp6::AddressSelection out;
	out.automatic_row_addition = t.boolean("automatic_row_addition", false);
	out.privacy_preference = t.boolean("privacy_preference", false);
	for (ConfigTable &row : t.table_array("policy")) {
		dhcp6::AddressSelectionPolicy policy;
		auto prefix = row.string("prefix");
		if (!prefix)
			row.fail("a policy row needs 'prefix'");
		policy.prefix = prefix_value(row, *prefix, "policy prefix");
		policy.precedence = uint8_t(u32(row, "precedence", 0, 0, 255));
		policy.label = uint8_t(u32(row, "label", 0, 0, 255));
		row.finish();
		out.options.add(policy);
	}
	t.finish();
	return out;
}

} // namespace

ServerConfig parse_server_config(ConfigTable &table)
{
	ServerConfig c;
	for (const auto &name : table.string_array("interfaces")) {
		if (name.value.empty() || name.value.size() > 15)
			throw ConfigError(name.where, "invalid interface name '" + name.value + "'");
		if (std::find(c.interfaces.begin(), c.interfaces.end(), name.value) != c.interfaces.end())
			throw ConfigError(name.where, "interface '" + name.value + "' listed twice");
		c.interfaces.push_back(name.value);
	}
	const bool interfaces_given = table.has("interfaces");

	// Lifetimes (RFC 8415 §7.7: 0xffffffff is infinity).
	c.valid_lifetime = u32(table, "valid_lifetime", c.valid_lifetime, 1);
	c.preferred_lifetime = u32(table, "preferred_lifetime", std::min(c.preferred_lifetime, c.valid_lifetime));
	if (c.preferred_lifetime > c.valid_lifetime)
		table.fail("preferred_lifetime is longer than valid_lifetime (RFC 8415 §21.22 says a "
			   "client discards such a prefix)");
	// §21.4: T1 = 0.5 and T2 = 0.8 times the shortest preferred lifetime
	// are the recommended values.
	c.t1 = u32(table, "t1", c.preferred_lifetime / 2);
	c.t2 = u32(table, "t2", uint32_t(uint64_t(c.preferred_lifetime) * 4 / 5));
	if (c.t1 > c.t2)
		table.fail("t1 is later than t2 (RFC 8415 §21.21)");
	c.rapid_commit = table.boolean("rapid_commit", c.rapid_commit);
	if (table.has("preference"))
		c.preference = uint8_t(u32(table, "preference", 0, 0, 255));
	for (const auto &v : table.string_array("dns_servers"))
		c.dns_servers.push_back(table.convert<Ipv6Address>(v, Ipv6Address::parse, "IPv6 address"));
	for (const auto &v : table.string_array("domain_search"))
		c.domain_search.push_back(
			table.convert<dhcp6::DomainName>(v, dhcp6::DomainName::from_text, "domain name"));
	if (auto portal = table.string("captive_portal")) {
		if (!portal->value.empty() && !valid_captive_portal_uri(portal->value))
			throw ConfigError(portal->where, "captive_portal must be an https:// URI or "
						    "urn:ietf:params:capport:unrestricted (RFC 8910 §2, RFC 8908 §2)");
		c.captive_portal = portal->value;
	}
	if (auto duid = table.string("duid"))
		c.duid = table.convert<dhcp6::Duid>(*duid, dhcp6::Duid::from_hex, "DUID");
	c.route_protocol = uint8_t(u32(table, "route_protocol", c.route_protocol, 5, 255));
	c.route_metric = u32(table, "route_metric", c.route_metric);
	c.remember_ended = u32(table, "remember_ended", c.remember_ended);
	if (table.has("relay_allow")) {
		// An address is a /128; a prefix must have its host bits clear.
		std::vector<Ipv6Prefix> allow;
		for (const auto &v : table.string_array("relay_allow")) {
			if (v.value.find('/') == std::string::npos)
				allow.push_back({table.convert<Ipv6Address>(v, Ipv6Address::parse,
									    "IPv6 address or prefix"),
						 128});
			else
				allow.push_back(prefix_value(table, v, "relay address or prefix"));
		}
		c.relay_allow = std::move(allow);
	}
	c.reconfigure = table.boolean("reconfigure", c.reconfigure);
	if (auto t = table.table("address_selection"))
		c.address_selection = parse_address_selection(*t);

	for (ConfigTable &t : table.table_array("pool"))
		c.pools.push_back(parse_pool(t, LeaseKind::prefix));
	for (ConfigTable &t : table.table_array("address_pool"))
		c.pools.push_back(parse_pool(t, LeaseKind::address));
	// One prefix, one pool: two pools over the same space would hand out
	// the same prefix twice.
	for (size_t i = 0; i < c.pools.size(); i++)
		for (size_t j = 0; j < i; j++)
			if (overlap(c.pools[i].prefix, c.pools[j].prefix))
				throw ConfigError(c.pools[i].where, c.pools[i].prefix.str() + " overlaps the pool " +
									    c.pools[j].prefix.str() + " at " +
									    c.pools[j].where.str());
	for (const PoolConfig &p : c.pools) {
		if (p.interface.empty())
			continue;
		if (!interfaces_given) {
			if (std::find(c.interfaces.begin(), c.interfaces.end(), p.interface) == c.interfaces.end())
				c.interfaces.push_back(p.interface);
		} else if (std::find(c.interfaces.begin(), c.interfaces.end(), p.interface) ==
			   c.interfaces.end()) {
			throw ConfigError(p.where, "pool on '" + p.interface +
							   "', which is not in 'interfaces': it would never be used");
		}
	}

	std::set<Ipv6Prefix> reserved;
	std::set<std::pair<std::vector<uint8_t>, std::optional<uint32_t>>> owners;
	for (ConfigTable &t : table.table_array("reservation")) {
		Reservation r;
		r.where = t.where();
		auto duid = t.string("duid");
		auto prefix = t.string("prefix");
		if (!duid || !prefix)
			t.fail("a reservation needs 'duid' and 'prefix'");
		r.duid = t.convert<dhcp6::Duid>(*duid, dhcp6::Duid::from_hex, "DUID");
		if (t.has("iaid"))
			r.iaid = u32(t, "iaid", 0);
		r.prefix = prefix_value(t, *prefix, "reserved prefix");
		t.finish();
		auto pool = std::find_if(c.pools.begin(), c.pools.end(), [&](const PoolConfig &p) {
			return p.kind == LeaseKind::prefix && p.prefix.contains(r.prefix);
		});
		if (pool == c.pools.end())
			throw ConfigError(prefix->where, r.prefix.str() + " is inside no prefix pool");
		if (pool->delegated_length != r.prefix.length)
			throw ConfigError(prefix->where, r.prefix.str() + " is not a /" +
								 std::to_string(pool->delegated_length) +
								 ", the length its pool at " + pool->where.str() +
								 " delegates");
		if (!reserved.insert(r.prefix).second)
			throw ConfigError(prefix->where, r.prefix.str() + " is reserved twice");
		if (!owners.insert({r.duid.bytes(), r.iaid}).second)
			throw ConfigError(duid->where, "this DUID (and IAID) has a reservation already");
		c.reservations.push_back(std::move(r));
	}
	if (c.pools.empty() && c.interfaces.empty())
		table.fail("nothing to serve: configure [[server.pool]] (or 'interfaces' for "
			   "Information-request only)");
	table.finish();
	return c;
}

} // namespace umigame::dhcp6d
