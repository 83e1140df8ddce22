#include "umigame/dhcp6d/firewall.h"

#include <stdexcept>

#include <nftables/libnftables.h>

#include "umigame/log.h"

namespace umigame::dhcp6d {

using nlohmann::json;

namespace {

// ---- libnftables JSON building blocks (nftables 1.0.6 JSON schema) ----

json payload(const char *protocol, const char *field)
{
	return {{"payload", {{"protocol", protocol}, {"field", field}}}};
}

json match(json left, json right, const char *op = "==")
{
	return {{"match", {{"op", op}, {"left", std::move(left)}, {"right", std::move(right)}}}};
}

json meta(const char *key)
{
	return {{"meta", {{"key", key}}}};
}

json prefix(const Ipv6Prefix &p)
{
	if (p.length == 128)
		return p.address.str();
	return {{"prefix", {{"addr", p.address.str()}, {"len", p.length}}}};
}

json prefix_set(const std::vector<Ipv6Prefix> &prefixes)
{
	json elems = json::array();
	for (const Ipv6Prefix &p : prefixes)
		elems.push_back(prefix(p));
	return {{"set", elems}};
}

json name_set(const std::vector<std::string> &names)
{
	if (names.size() == 1)
		return names.front();
	return {{"set", names}};
}

json iif(const std::string &wan) { return match(meta("iifname"), wan); }
json oif(const std::string &wan) { return match(meta("oifname"), wan); }
json iif_any(const std::vector<std::string> &lans) { return match(meta("iifname"), name_set(lans)); }
json oif_any(const std::vector<std::string> &lans) { return match(meta("oifname"), name_set(lans)); }

json counter() { return {{"counter", nullptr}}; }
json verdict(const char *v) { return {{v, nullptr}}; }
json reject_icmpv6(const char *code) { return {{"reject", {{"type", "icmpv6"}, {"expr", code}}}}; }

// One rule: the table's, in `chain`, with its comment. Every rule that
// stops traffic counts what it stopped.
struct RuleBuilder {
	json &batch;
	const char *chain;
	void add(json exprs, const std::string &comment) const
	{
		json rule = {{"family", "ip6"},
			     {"table", kFirewallTable},
			     {"chain", chain},
			     {"expr", std::move(exprs)},
			     {"comment", comment}};
		batch.push_back({{"add", {{"rule", std::move(rule)}}}});
	}
	void stop(json exprs, json how, const std::string &comment) const
	{
		exprs.push_back(counter());
		exprs.push_back(std::move(how));
		add(std::move(exprs), comment);
	}
};

// RFC 6092 REC-3 / RFC 5156: never on the public Internet.
const std::vector<Ipv6Prefix> &forbidden_on_internet()
{
	static const std::vector<Ipv6Prefix> list = {
		*Ipv6Prefix::parse("fec0::/10"),     // site-local, deprecated (RFC 3879)
		*Ipv6Prefix::parse("::ffff:0:0/96"), // IPv4-mapped
		*Ipv6Prefix::parse("::/96"),         // IPv4-compatible (and ::, ::1)
		*Ipv6Prefix::parse("2001:db8::/32"), // documentation (RFC 3849)
		*Ipv6Prefix::parse("2001:10::/28"),  // ORCHID (RFC 4843)
	};
	return list;
}

const Ipv6Prefix kUla = *Ipv6Prefix::parse("fc00::/7");
const Ipv6Prefix kMulticast = *Ipv6Prefix::parse("ff00::/8");

json set_ref(const char *name) { return std::string("@") + name; }

} // namespace

FirewallConfig parse_firewall_config(ConfigTable &t)
{
	FirewallConfig c;
	c.enabled = t.boolean("enabled", c.enabled);
	c.ipsec_passthrough = t.boolean("ipsec_passthrough", c.ipsec_passthrough);
	c.ike_passthrough = t.boolean("ike_passthrough", c.ike_passthrough);
	c.inbound_echo = t.boolean("inbound_echo", c.inbound_echo);
	if (auto r = t.integer("inbound_new_rate")) {
		if (r->value < 0 || r->value > 1000000)
			throw ConfigError(r->where, "inbound_new_rate must be between 0 and 1000000, not " +
							    std::to_string(r->value));
		c.inbound_new_rate = uint32_t(r->value);
	}
	auto timeout = [&](const char *key, uint32_t &out, int64_t least, const char *why) {
		if (auto v = t.integer(key)) {
			if (v->value < least || v->value > 86400)
				throw ConfigError(v->where, std::string(key) + " must be between " + std::to_string(least) +
								    " and 86400 seconds (" + why + "), not " +
								    std::to_string(v->value));
			out = uint32_t(v->value);
		}
	};
	timeout("udp_idle_timeout", c.udp_idle_timeout, 120, "RFC 6092 REC-14");
	timeout("tcp_transitory_timeout", c.tcp_transitory_timeout, 240, "RFC 6092 REC-35");
	for (ConfigTable &a : t.table_array("allow")) {
		FirewallPinhole p;
		auto dest = a.string("destination");
		if (!dest)
			a.fail("a pinhole needs 'destination' (a LAN address or prefix)");
		if (auto pfx = Ipv6Prefix::parse(dest->value))
			p.destination = *pfx;
		else if (auto addr = Ipv6Address::parse(dest->value))
			p.destination = {*addr, 128};
		else
			throw ConfigError(dest->where, "invalid IPv6 address or prefix '" + dest->value + "'");
		if (auto proto = a.string("protocol")) {
			if (proto->value != "tcp" && proto->value != "udp")
				throw ConfigError(proto->where, "protocol must be \"tcp\" or \"udp\"");
			p.protocol = proto->value;
		}
		auto port = a.integer("port");
		if (!port)
			a.fail("a pinhole needs 'port'");
		if (port->value < 1 || port->value > 65535)
			throw ConfigError(port->where, "port must be between 1 and 65535, not " +
							       std::to_string(port->value));
		p.port = uint16_t(port->value);
		a.finish();
		c.allow.push_back(p);
	}
	t.finish();
	return c;
}

json build_firewall_batch(const FirewallConfig &config, const FirewallView &view)
{
	json batch = json::array();
	json table = {{"family", "ip6"}, {"name", kFirewallTable}};
	// add + delete + add: one transaction that replaces the table whether
	// or not it existed, so there is no moment without rules.
	batch.push_back({{"add", {{"table", table}}}});
	batch.push_back({{"delete", {{"table", table}}}});
	batch.push_back({{"add", {{"table", table}}}});

	json prefixes = {{"family", "ip6"}, {"table", kFirewallTable}, {"name", "lan_prefixes"},
			 {"type", "ipv6_addr"}, {"flags", {"interval"}}};
	if (!view.lan_prefixes.empty())
		prefixes["elem"] = prefix_set(view.lan_prefixes)["set"];
	batch.push_back({{"add", {{"set", prefixes}}}});
	// RFC 6583 §7.3: the addresses LAN hosts really use, learned from what
	// they send; bounded, and forgotten after an hour of silence.
	batch.push_back({{"add",
			  {{"set",
			    {{"family", "ip6"},
			     {"table", kFirewallTable},
			     {"name", "lan_hosts"},
			     {"type", "ipv6_addr"},
			     // "dynamic" is implied by the update rules below
			     // (nft 1.0.6's JSON has no word for it).
			     {"flags", {"timeout"}},
			     {"timeout", 3600},
			     {"size", 65536}}}}}});
	// Filled by flow_timeout_commands() (see there why not here).
	batch.push_back({{"add", {{"chain", {{"family", "ip6"}, {"table", kFirewallTable}, {"name", "flow_timeouts"}}}}}});
	for (const char *hook : {"forward", "input"})
		batch.push_back({{"add",
				  {{"chain",
				    {{"family", "ip6"},
				     {"table", kFirewallTable},
				     {"name", hook},
				     {"type", "filter"},
				     {"hook", hook},
				     {"prio", 0},
				     {"policy", "accept"}}}}}});

	const std::string &wan = view.wan;
	RuleBuilder fwd{batch, "forward"}, in{batch, "input"};
	json learn = {{"set",
		       {{"op", "update"},
			{"elem", payload("ip6", "saddr")},
			{"set", set_ref("lan_hosts")}}}};

	// ---- forward: only traffic crossing the WAN is ours to judge ----
	fwd.stop({match(payload("ip6", "saddr"), prefix(kMulticast))}, verdict("drop"),
		 "RFC 6092 REC-1: multicast source address");
	fwd.stop({iif(wan), match(payload("ip6", "daddr"), prefix(kMulticast))}, verdict("drop"),
		 "RFC 6092 REC-2: multicast from the WAN (we route no multicast across it)");
	fwd.stop({iif(wan), match(payload("ip6", "saddr"), prefix_set(forbidden_on_internet()))}, verdict("drop"),
		 "RFC 6092 REC-3: source forbidden on the Internet (RFC 5156)");
	fwd.stop({oif(wan), match(payload("ip6", "daddr"), prefix_set(forbidden_on_internet()))},
		 reject_icmpv6("no-route"), "RFC 6092 REC-3: destination forbidden on the Internet (RFC 5156)");
	fwd.stop({match({{"exthdr", {{"name", "rt"}, {"field", "type"}}}}, 0)}, verdict("drop"),
		 "RFC 6092 REC-4, RFC 5095: routing header type 0");
	fwd.stop({iif(wan), match(payload("ip6", "saddr"), prefix(kUla))}, verdict("drop"),
		 "RFC 6092 REC-7, RFC 7084 ULA-4: ULA source from the WAN");
	fwd.stop({oif(wan), match(payload("ip6", "daddr"), prefix(kUla))}, reject_icmpv6("admin-prohibited"),
		 "RFC 6092 REC-7, RFC 7084 ULA-4: ULA destination out of the site");
	fwd.stop({oif(wan), match(payload("ip6", "saddr"), prefix(kUla))}, reject_icmpv6("policy-fail"),
		 "RFC 6092 REC-7, RFC 7084 ULA-4: ULA source out of the site");
	fwd.stop({iif(wan), match(payload("ip6", "saddr"), set_ref("lan_prefixes"))}, verdict("drop"),
		 "RFC 6092 REC-6, RFC 7084 S-2: a LAN source from the WAN (BCP 38)");
	if (!view.lans.empty()) {
		if (!view.delegated) {
			fwd.stop({iif_any(view.lans), oif(wan)}, reject_icmpv6("no-route"),
				 "RFC 7084 G-3: no prefix delegated yet, no forwarding to the WAN");
			fwd.stop({iif(wan), oif_any(view.lans)}, verdict("drop"),
				 "RFC 7084 G-3: no prefix delegated yet, no forwarding from the WAN");
		}
		// RFC 7084 L-14: a source from a prefix we no longer hold (or never
		// did) gets ICMPv6 "source address failed ingress/egress policy".
		fwd.stop({iif_any(view.lans), oif(wan), match(payload("ip6", "saddr"), set_ref("lan_prefixes"), "!=")},
			 reject_icmpv6("policy-fail"), "RFC 6092 REC-5, RFC 7084 L-14: LAN source outside our prefixes");
		fwd.add({iif_any(view.lans), match(payload("ip6", "saddr"), set_ref("lan_prefixes")), learn},
			"RFC 6583 7.3: a LAN host seen sending");
		// A timeout policy attaches to a flow before its first packet
		// leaves (conntrack confirms it in postrouting).
		fwd.add({iif_any(view.lans), oif(wan), match({{"ct", {{"key", "state"}}}}, "new"),
			 {{"jump", {{"target", "flow_timeouts"}}}}},
			"RFC 6092 REC-14, REC-35: the flows LAN hosts start outlive the kernel's timeouts");
		fwd.add({iif(wan), oif_any(view.lans), match({{"ct", {{"key", "state"}}}}, {"established", "related"}, "in"),
			 verdict("accept")},
			"RFC 6092 REC-16, REC-31: replies to what the LAN started; REC-18, REC-36, RFC 4890 4.3.1: "
			"the ICMPv6 errors about it (Packet Too Big) are related");
		fwd.stop({iif(wan), oif_any(view.lans), match({{"ct", {{"key", "state"}}}}, "invalid")}, verdict("drop"),
			 "RFC 6092 REC-10: an ICMPv6 error or segment that belongs to no flow");
		// What is let in without being a reply: only to addresses a LAN host
		// uses (RFC 6583: no neighbour resolution for a scan of the /64),
		// and only so fast.
		json to_known = match(payload("ip6", "daddr"), set_ref("lan_hosts"));
		auto let_in = [&](json what, const std::string &why, bool known_only = true) {
			json exprs = {iif(wan), oif_any(view.lans)};
			for (json &e : what)
				exprs.push_back(std::move(e));
			if (known_only)
				exprs.push_back(to_known);
			if (config.inbound_new_rate)
				exprs.push_back({{"limit", {{"rate", config.inbound_new_rate}, {"per", "second"}}}});
			exprs.push_back(verdict("accept"));
			fwd.add(std::move(exprs), why);
		};
		if (config.ipsec_passthrough) {
			// ESP is the upper layer (after any extension headers); AH
			// counts as an extension header to the kernel, so it is
			// matched where it usually sits, first.
			let_in({match(meta("l4proto"), "esp")}, "RFC 6092 REC-22: IPsec ESP passes");
			let_in({match(payload("ip6", "nexthdr"), "ah")}, "RFC 6092 REC-21: IPsec AH passes");
		}
		if (config.ike_passthrough)
			let_in({match(payload("udp", "dport"), {{"set", {500, 4500}}})},
			       "RFC 6092 REC-24: IKE (and its NAT traversal port) pass");
		if (config.inbound_echo)
			let_in({match(payload("icmpv6", "type"), "echo-request")},
			       "RFC 4890 4.3.1: echo requests allowed by configuration");
		for (const FirewallPinhole &p : config.allow)
			let_in({match(payload("ip6", "daddr"), prefix(p.destination)),
				match(payload(p.protocol.c_str(), "dport"), p.port)},
			       "RFC 6092 3.4: pinhole " + p.protocol + " " + p.destination.str() + " port " +
				       std::to_string(p.port),
			       // one configured address is known (a quiet server
			       // need not have spoken first); a prefix is not
			       p.destination.length != 128);
		fwd.stop({iif(wan), oif_any(view.lans)}, verdict("drop"),
			 "RFC 6092 2.3: unsolicited inbound traffic");
	}

	// ---- input: what reaches the router itself ----
	if (!view.lans.empty())
		in.add({iif_any(view.lans), match(payload("ip6", "saddr"), set_ref("lan_prefixes")), learn},
		       "RFC 6583 7.3: a LAN host seen sending");
	in.stop({iif(wan), match(payload("udp", "dport"), 547)}, verdict("drop"),
		"RFC 6092 REC-9: no DHCPv6 service towards the WAN");
	// A resolver on the router (dnsmasq, unbound) must not become an open
	// one for the Internet.
	in.stop({iif(wan), match(meta("l4proto"), {{"set", {"udp", "tcp"}}}), match(payload("th", "dport"), 53)},
		verdict("drop"), "RFC 6092 REC-8: no DNS service towards the WAN");
	return {{"nftables", batch}};
}

std::string flow_timeout_commands(const FirewallConfig &config)
{
	// nft 1.0.6 reads a "ct timeout" object from JSON without its policy
	// (the kernel then uses its own timeouts), so these few lines go in
	// nft's native syntax, right after the JSON batch made the table.
	const std::string table = std::string("ip6 ") + kFirewallTable;
	const std::string udp = std::to_string(config.udp_idle_timeout);
	const std::string tcp = std::to_string(config.tcp_transitory_timeout);
	std::string tcp_policy;
	for (const char *state : {"syn_sent", "syn_recv", "fin_wait", "close_wait", "last_ack", "time_wait"})
		tcp_policy += std::string(tcp_policy.empty() ? "" : ", ") + state + " : " + tcp;
	return "add ct timeout " + table + " udp_flows { protocol udp; l3proto ip6; policy = { unreplied : " + udp +
	       ", replied : " + udp + " }; }\n" +
	       "add ct timeout " + table + " tcp_flows { protocol tcp; l3proto ip6; policy = { " + tcp_policy +
	       " }; }\n" + "add rule " + table +
	       " flow_timeouts udp sport 1024-65535 udp dport 1024-65535 ct timeout set \"udp_flows\" comment " +
	       "\"RFC 6092 REC-14: a UDP flow between ports above 1023 lives " + udp + " s idle\"\n" + "add rule " +
	       table + " flow_timeouts meta l4proto tcp ct timeout set \"tcp_flows\" comment " +
	       "\"RFC 6092 REC-35: a TCP connection not established lives " + tcp + " s idle\"\n";
}

Firewall::Firewall(FirewallConfig config) : config_(std::move(config))
{
	ctx_ = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx_)
		throw std::runtime_error("firewall: libnftables context");
	nft_ctx_output_set_flags(ctx_, NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
	nft_ctx_buffer_output(ctx_);
	nft_ctx_buffer_error(ctx_);
}

Firewall::~Firewall()
{
	if (ctx_)
		nft_ctx_free(ctx_);
}

void Firewall::run(const json &batch, const std::string &what) const
{
	run_text(batch.dump(), what);
}

void Firewall::run_text(const std::string &commands, const std::string &what) const
{
	if (nft_run_cmd_from_buffer(ctx_, commands.c_str()) != 0) {
		std::string error = nft_ctx_get_error_buffer(ctx_);
		while (!error.empty() && (error.back() == '\n' || error.back() == ' '))
			error.pop_back();
		throw std::runtime_error("firewall: " + what + ": " + error);
	}
}

void Firewall::apply(const FirewallView &view)
{
	if (installed_ && *installed_ == view)
		return;
	run(build_firewall_batch(config_, view), std::string("installing table ip6 ") + kFirewallTable);
	installed_.reset(); // should the next step fail, the next apply starts over
	run_text(flow_timeout_commands(config_), "adding the flow timeouts");
	installed_ = view;
}

void Firewall::set_config(FirewallConfig config)
{
	if (config == config_)
		return;
	config_ = std::move(config);
	installed_.reset(); // the next apply() installs it, whatever the view
}

void Firewall::remove()
{
	json table = {{"family", "ip6"}, {"name", kFirewallTable}};
	// add first: deleting a table that is not there is an error.
	run({{"nftables", {{{"add", {{"table", table}}}}, {{"delete", {{"table", table}}}}}}},
	    std::string("deleting table ip6 ") + kFirewallTable);
	installed_.reset();
}

json Firewall::status() const
{
	json out = {{"table", std::string("ip6 ") + kFirewallTable}, {"installed", installed_.has_value()}};
	if (!installed_)
		return out;
	std::string cmd = std::string("list table ip6 ") + kFirewallTable;
	if (nft_run_cmd_from_buffer(ctx_, cmd.c_str()) != 0) {
		out["error"] = nft_ctx_get_error_buffer(ctx_);
		return out;
	}
	json drops = json::object();
	try {
		json listing = json::parse(nft_ctx_get_output_buffer(ctx_));
		for (const json &item : listing.at("nftables")) {
			if (!item.contains("rule"))
				continue;
			const json &rule = item["rule"];
			for (const json &e : rule.value("expr", json::array()))
				if (e.contains("counter") && rule.contains("comment"))
					drops[rule["comment"].get<std::string>()] = e["counter"].value("packets", 0);
		}
	} catch (const std::exception &e) {
		out["error"] = std::string("reading the table: ") + e.what();
	}
	out["counters"] = drops;
	return out;
}

} // namespace umigame::dhcp6d
