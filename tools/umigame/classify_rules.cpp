// The classifier's rule file: [[port]] tables, each with ordered
// [[port.rule]] tables. Every key is checked; errors name file:line:column.
#include "classify_rules.h"

#include <array>
#include <cstring>
#include <utility>

#include "umigame/net.h"

namespace umigame {

namespace {

constexpr uint8_t kSctp = 132, kDccp = 33;

// RFC 9260 §3.2, RFC 8260 §2.1, RFC 4895, RFC 3758, RFC 5061, RFC 6525, RFC 4820.
const std::pair<const char *, uint8_t> kChunks[] = {
	{"data", 0},           {"init", 1},          {"init-ack", 2},     {"sack", 3},
	{"heartbeat", 4},      {"heartbeat-ack", 5}, {"abort", 6},        {"shutdown", 7},
	{"shutdown-ack", 8},   {"error", 9},         {"cookie-echo", 10}, {"cookie-ack", 11},
	{"ecne", 12},          {"cwr", 13},          {"shutdown-complete", 14},
	{"auth", 15},          {"nr-sack", 16},      {"i-data", 64},      {"asconf-ack", 128},
	{"re-config", 130},    {"pad", 132},         {"forward-tsn", 192}, {"asconf", 193},
	{"i-forward-tsn", 194},
};

// RFC 4340 §5.1.
const char *const kDccpTypes[] = {"request", "response", "data",  "ack",  "dataack",
				  "closereq", "close",   "reset", "sync", "syncack"};

const char *const kActions[] = {"pass",         "drop",       "count",  "redirect",
				"redirect-cpu", "rate-limit", "rewrite"};
static_assert(std::size(kActions) == UMIGAME_CLS_ACTION_COUNT);

// An integer or a string under key: the located value as text, or nullopt.
std::optional<Located<std::string>> int_or_string(ConfigTable &t, const std::string &key)
{
	if (!t.has(key))
		return std::nullopt;
	try {
		auto v = t.integer(key);
		return Located<std::string>{std::to_string(v->value), v->where};
	} catch (const ConfigError &) {
	}
	try {
		return t.string(key);
	} catch (const ConfigError &e) {
		throw ConfigError(e.where(), key + " must be a number or a string");
	}
}

std::optional<uint64_t> number(std::string_view s, uint64_t max)
{
	if (s.empty() || s.size() > 12)
		return std::nullopt;
	uint64_t v = 0;
	for (char c : s) {
		if (c < '0' || c > '9')
			return std::nullopt;
		v = v * 10 + uint64_t(c - '0');
	}
	if (v > max)
		return std::nullopt;
	return v;
}

// "38412" or "1000-2000".
std::pair<uint16_t, uint16_t> port_range(const Located<std::string> &v, const std::string &key)
{
	auto dash = v.value.find('-');
	auto lo = number(v.value.substr(0, dash), 65535);
	auto hi = dash == std::string::npos ? lo : number(v.value.substr(dash + 1), 65535);
	if (!lo || !hi || *lo > *hi)
		throw ConfigError(v.where, key + " must be a port (0-65535) or a range LOW-HIGH, not '" +
						   v.value + "'");
	return {uint16_t(*lo), uint16_t(*hi)};
}

void prefix_into(ConfigTable &t, const std::string &key, umigame_cls_rule &r, uint8_t *addr,
		 uint8_t *mask, uint32_t bit)
{
	auto v = t.string(key);
	if (!v)
		return;
	IpPrefix p = t.convert<IpPrefix>(*v, IpPrefix::parse,
					 "address or prefix (host bits must be zero)");
	const uint8_t family = p.address.is_v4() ? 4 : 6;
	if ((r.match & UMIGAME_CLS_M_FAMILY) && r.family != family)
		throw ConfigError(v->where, key + " " + v->value + " is not of the rule's family (IPv" +
						   std::to_string(r.family) + ")");
	r.match |= UMIGAME_CLS_M_FAMILY | bit;
	r.family = family;
	std::memcpy(addr, p.address.bytes.data(), 16);
	for (unsigned i = 0; i < 16; i++) {
		const unsigned bits = p.length > i * 8 ? std::min(8u, p.length - i * 8) : 0;
		mask[i] = uint8_t(0xff00 >> bits);
	}
}

void need_proto(ConfigTable &t, const Located<std::string> &at, umigame_cls_rule &r, uint8_t proto,
		const std::string &key)
{
	if ((r.match & UMIGAME_CLS_M_PROTO) && r.proto != proto)
		throw ConfigError(at.where, key + " only applies to " +
						    (proto == kSctp ? "SCTP" : "DCCP") + " rules");
	(void)t;
	r.match |= UMIGAME_CLS_M_PROTO;
	r.proto = proto;
}

ClassifyRule parse_rule(ConfigTable &t)
{
	ClassifyRule cr;
	cr.where = t.where();
	umigame_cls_rule &r = cr.rule;

	auto action = t.string("action");
	if (!action)
		t.fail("a rule needs an 'action' (pass, drop, count, redirect, redirect-cpu, rate-limit, "
		       "rewrite)");
	r.action = UMIGAME_CLS_ACTION_COUNT;
	for (uint32_t i = 0; i < UMIGAME_CLS_ACTION_COUNT; i++)
		if (action->value == kActions[i])
			r.action = i;
	if (r.action == UMIGAME_CLS_ACTION_COUNT)
		throw ConfigError(action->where, "action must be pass, drop, count, redirect, "
						 "redirect-cpu, rate-limit or rewrite, not '" + action->value + "'");

	if (auto v = t.string("family")) {
		if (v->value != "ipv4" && v->value != "ipv6")
			throw ConfigError(v->where, "family must be ipv4 or ipv6, not '" + v->value + "'");
		r.match |= UMIGAME_CLS_M_FAMILY;
		r.family = v->value == "ipv4" ? 4 : 6;
	}
	if (auto v = t.string("protocol")) {
		if (v->value != "sctp" && v->value != "dccp")
			throw ConfigError(v->where, "protocol must be sctp or dccp, not '" + v->value + "'");
		r.match |= UMIGAME_CLS_M_PROTO;
		r.proto = v->value == "sctp" ? kSctp : kDccp;
	}
	// The rewrite recomputes SCTP's CRC32c; DCCP's checksum is not done.
	if (r.action == UMIGAME_CLS_REWRITE)
		need_proto(t, *action, r, kSctp, "action = \"rewrite\"");
	prefix_into(t, "src", r, r.src, r.src_mask, UMIGAME_CLS_M_SRC);
	prefix_into(t, "dst", r, r.dst, r.dst_mask, UMIGAME_CLS_M_DST);
	if (auto v = int_or_string(t, "sport")) {
		std::tie(r.sport_lo, r.sport_hi) = port_range(*v, "sport");
		r.match |= UMIGAME_CLS_M_SPORT;
	}
	if (auto v = int_or_string(t, "dport")) {
		std::tie(r.dport_lo, r.dport_hi) = port_range(*v, "dport");
		r.match |= UMIGAME_CLS_M_DPORT;
	}
	if (auto v = int_or_string(t, "chunk")) {
		need_proto(t, *v, r, kSctp, "chunk");
		std::optional<uint64_t> type = number(v->value, 255);
		for (const auto &[name, value] : kChunks)
			if (v->value == name)
				type = value;
		if (!type)
			throw ConfigError(v->where, "chunk must be an SCTP chunk type (a name such as "
						    "init or data, or 0-255), not '" + v->value + "'");
		r.match |= UMIGAME_CLS_M_CHUNK;
		r.chunk_type = uint8_t(*type);
	}
	if (auto v = t.integer("ppid")) {
		Located<std::string> at{std::to_string(v->value), v->where};
		need_proto(t, at, r, kSctp, "ppid");
		if (v->value < 0 || v->value > 0xffffffffLL)
			throw ConfigError(v->where, "ppid must be between 0 and 4294967295");
		r.match |= UMIGAME_CLS_M_PPID;
		r.ppid = uint32_t(v->value);
	}
	if (auto v = t.string("dccp-type")) {
		need_proto(t, *v, r, kDccp, "dccp-type");
		int type = -1;
		for (int i = 0; i < int(std::size(kDccpTypes)); i++)
			if (v->value == kDccpTypes[i])
				type = i;
		if (type < 0)
			throw ConfigError(v->where, "dccp-type must be request, response, data, ack, "
						    "dataack, closereq, close, reset, sync or syncack, not '" +
						    v->value + "'");
		r.match |= UMIGAME_CLS_M_DCCP_TYPE;
		r.dccp_type = uint8_t(type);
	}
	if (auto v = int_or_string(t, "service")) {
		need_proto(t, *v, r, kDccp, "service");
		auto n = number(v->value, 0xffffffffULL);
		if (!n && v->value.size() == 4) { // RFC 4340 §8.1.2: four ASCII characters
			n = 0;
			for (unsigned char c : v->value) {
				if (c < 32 || c > 126) {
					n.reset();
					break;
				}
				*n = *n << 8 | c;
			}
		}
		if (!n)
			throw ConfigError(v->where, "service must be a number (0-4294967295) or four "
						    "printable characters, not '" + v->value + "'");
		r.match |= UMIGAME_CLS_M_SERVICE;
		r.service = uint32_t(*n);
	}
	if (auto v = t.string("target")) {
		if (r.action != UMIGAME_CLS_REDIRECT)
			throw ConfigError(v->where, "target only applies to action = \"redirect\"");
		if (v->value.empty() || v->value.size() >= 16)
			throw ConfigError(v->where, "target must be an interface name");
		cr.target_dev = v->value;
	} else if (r.action == UMIGAME_CLS_REDIRECT) {
		t.fail("action = \"redirect\" needs a 'target' interface");
	}
	for (const char *key : {"rate", "burst"}) {
		auto v = t.integer(key);
		if (!v)
			continue;
		if (r.action != UMIGAME_CLS_RATE_LIMIT)
			throw ConfigError(v->where, std::string(key) + " only applies to action = \"rate-limit\"");
		if (v->value < 1 || v->value > 1000000)
			throw ConfigError(v->where, std::string(key) + " must be between 1 and 1000000");
		(std::strcmp(key, "rate") ? r.burst : r.rate) = uint32_t(v->value);
	}
	if (r.action == UMIGAME_CLS_RATE_LIMIT && !r.rate)
		t.fail("action = \"rate-limit\" needs a 'rate' (SCTP INITs / DCCP Requests per second "
		       "per source)");
	if (r.action == UMIGAME_CLS_RATE_LIMIT && !r.burst)
		r.burst = r.rate;
	for (const char *key : {"to-sport", "to-dport"}) {
		auto v = t.integer(key);
		if (!v)
			continue;
		if (r.action != UMIGAME_CLS_REWRITE)
			throw ConfigError(v->where, std::string(key) + " only applies to action = \"rewrite\"");
		if (v->value < 1 || v->value > 65535)
			throw ConfigError(v->where, std::string(key) + " must be a port, 1-65535");
		(std::strcmp(key, "to-sport") ? r.to_dport : r.to_sport) = uint16_t(v->value);
	}
	if (r.action == UMIGAME_CLS_REWRITE && !r.to_sport && !r.to_dport)
		t.fail("action = \"rewrite\" needs 'to-sport', 'to-dport' or both");
	t.finish();
	return cr;
}

ClassifyRules parse(const toml::table &doc, const std::string &file)
{
	ConfigTable root(doc, file, "");
	ClassifyRules rules;
	for (auto &p : root.table_array("port")) {
		ClassifyPort port;
		port.where = p.where();
		auto dev = p.string("interface");
		if (!dev)
			p.fail("[[port]] needs an 'interface'");
		if (dev->value.empty() || dev->value.size() >= 16)
			throw ConfigError(dev->where, "interface must be an interface name");
		for (const auto &other : rules.ports)
			if (other.dev == dev->value)
				throw ConfigError(dev->where, "interface " + dev->value + " has rules above (" +
								  other.where.str() + ")");
		port.dev = dev->value;
		if (auto v = p.string("malformed")) {
			if (v->value == "pass")
				port.flags |= UMIGAME_CLS_F_PASS_MALFORMED;
			else if (v->value != "drop")
				throw ConfigError(v->where, "malformed must be drop or pass, not '" + v->value + "'");
		}
		if (auto v = p.string("checksum")) {
			if (v->value == "verify")
				port.flags |= UMIGAME_CLS_F_VERIFY_CSUM;
			else if (v->value != "ignore")
				throw ConfigError(v->where, "checksum must be verify or ignore, not '" + v->value + "'");
		}
		// Off unless asked for, as conntrack's accounting
		// (nf_conntrack_acct) is: the flow table's update costs more
		// than the rest of the classifier (docs/classify.md, "Performance").
		if (p.boolean("flows", false))
			port.flags |= UMIGAME_CLS_F_FLOWS;
		if (auto v = p.integer("cpus")) {
			if (v->value < 1 || v->value > UMIGAME_CLS_MAX_CPUS)
				throw ConfigError(v->where, "cpus must be between 1 and " +
								    std::to_string(UMIGAME_CLS_MAX_CPUS));
			port.cpus = uint32_t(v->value);
		}
		for (auto &r : p.table_array("rule")) {
			if (port.rules.size() >= UMIGAME_CLS_MAX_RULES)
				r.fail("more than " + std::to_string(UMIGAME_CLS_MAX_RULES) +
				       " rules on one port");
			port.rules.push_back(parse_rule(r));
		}
		p.finish();
		rules.ports.push_back(std::move(port));
	}
	root.finish();
	if (rules.ports.empty())
		throw ConfigError(SourceLocation{file, 1, 1}, "no [[port]] table");
	return rules;
}

std::string prefix_text(uint8_t family, const uint8_t *addr, const uint8_t *mask)
{
	IpAddress a = family == 4 ? IpAddress::v4(std::span<const uint8_t, 4>(addr, 4))
				  : IpAddress::v6(std::span<const uint8_t, 16>(addr, 16));
	unsigned len = 0;
	for (unsigned i = 0; i < (family == 4 ? 4u : 16u); i++)
		len += unsigned(__builtin_popcount(mask[i]));
	return a.str() + "/" + std::to_string(len);
}

std::string range_text(uint16_t lo, uint16_t hi)
{
	return lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi);
}

} // namespace

const char *const cls_reason_names[UMIGAME_CLS_REASON_COUNT] = {
	"sctp", "dccp", "nonfirst_fragment", "truncated", "bad_length", "malformed_chunk",
	"too_many_chunks", "bad_checksum", "rate_limited", "bad_ip", "cannot_rewrite",
};

const char *cls_action_name(uint32_t action)
{
	return action < UMIGAME_CLS_ACTION_COUNT ? kActions[action] : "?";
}

std::string describe_rule(const umigame_cls_rule &r)
{
	std::string s = cls_action_name(r.action);
	if (r.action == UMIGAME_CLS_REDIRECT)
		s += " ifindex " + std::to_string(r.target);
	if (r.action == UMIGAME_CLS_RATE_LIMIT)
		s += " " + std::to_string(r.rate) + "/s burst " + std::to_string(r.burst);
	if (r.action == UMIGAME_CLS_REWRITE) {
		if (r.to_sport)
			s += " to-sport " + std::to_string(r.to_sport);
		if (r.to_dport)
			s += " to-dport " + std::to_string(r.to_dport);
	}
	if (r.match & UMIGAME_CLS_M_FAMILY)
		s += r.family == 4 ? " ipv4" : " ipv6";
	if (r.match & UMIGAME_CLS_M_PROTO)
		s += r.proto == kSctp ? " sctp" : " dccp";
	if (r.match & UMIGAME_CLS_M_SRC)
		s += " src " + prefix_text(r.family, r.src, r.src_mask);
	if (r.match & UMIGAME_CLS_M_DST)
		s += " dst " + prefix_text(r.family, r.dst, r.dst_mask);
	if (r.match & UMIGAME_CLS_M_SPORT)
		s += " sport " + range_text(r.sport_lo, r.sport_hi);
	if (r.match & UMIGAME_CLS_M_DPORT)
		s += " dport " + range_text(r.dport_lo, r.dport_hi);
	if (r.match & UMIGAME_CLS_M_CHUNK) {
		std::string name = std::to_string(r.chunk_type);
		for (const auto &[n, v] : kChunks)
			if (v == r.chunk_type)
				name = n;
		s += " chunk " + name;
	}
	if (r.match & UMIGAME_CLS_M_PPID)
		s += " ppid " + std::to_string(r.ppid);
	if (r.match & UMIGAME_CLS_M_DCCP_TYPE)
		s += std::string(" dccp-type ") +
		     (r.dccp_type < std::size(kDccpTypes) ? kDccpTypes[r.dccp_type] : "?");
	if (r.match & UMIGAME_CLS_M_SERVICE)
		s += " service " + std::to_string(r.service);
	return s;
}

ClassifyRules load_classify_rules(const std::string &file)
{
	return parse(load_toml_file(file), file);
}

ClassifyRules parse_classify_rules(std::string_view text, const std::string &name)
{
	return parse(parse_toml(text, name), name);
}

} // namespace umigame
