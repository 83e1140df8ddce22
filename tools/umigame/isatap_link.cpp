#include "isatap_link.h"

#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <algorithm>
#include <stdexcept>

#include "cli.h"
#include "umigame/isatap.h"

namespace umigame::cli {

namespace {

// One attribute stream, walked with every length checked against what is
// left; a callback gets (type without flags, payload).
template <typename F> void each_attr(std::span<const uint8_t> buf, F &&f)
{
	while (buf.size() >= sizeof(nlattr)) {
		nlattr a;
		std::memcpy(&a, buf.data(), sizeof(a));
		if (a.nla_len < sizeof(nlattr) || a.nla_len > buf.size())
			return; // a lying length ends the stream
		f(uint16_t(a.nla_type & NLA_TYPE_MASK), buf.subspan(sizeof(nlattr), a.nla_len - sizeof(nlattr)));
		const size_t step = NLA_ALIGN(a.nla_len);
		if (step >= buf.size())
			return;
		buf = buf.subspan(step);
	}
}

uint32_t u32_of(std::span<const uint8_t> p, const char *what)
{
	if (p.size() != 4)
		throw std::runtime_error(std::string("malformed link reply: ") + what + " has " +
					 std::to_string(p.size()) + " bytes");
	uint32_t v;
	std::memcpy(&v, p.data(), 4);
	return v;
}

std::string dotted(uint32_t be)
{
	char text[INET_ADDRSTRLEN];
	in_addr a{be};
	return inet_ntop(AF_INET, &a, text, sizeof(text));
}

const char *state_name(uint8_t s)
{
	switch (s) {
	case UMIGAME_ISATAP_RTR_SOLICIT: return "solicit";
	case UMIGAME_ISATAP_RTR_REACHABLE: return "reachable";
	case UMIGAME_ISATAP_RTR_UNREACHABLE: return "unreachable";
	case UMIGAME_ISATAP_RTR_EXPIRED: return "expired";
	default: return "?";
	}
}

IsatapRouter parse_router(std::span<const uint8_t> entry)
{
	IsatapRouter r;
	bool have_address = false;
	each_attr(entry, [&](uint16_t type, std::span<const uint8_t> p) {
		switch (type) {
		case UMIGAME_ISATAP_PRL_A_ADDR:
			r.address = dotted(u32_of(p, "a router's address"));
			have_address = true;
			break;
		case UMIGAME_ISATAP_PRL_A_LIFETIME: r.lifetime = u32_of(p, "LIFETIME"); break;
		case UMIGAME_ISATAP_PRL_A_RTR_LIFETIME: r.router_lifetime = u32_of(p, "RTR_LIFETIME"); break;
		case UMIGAME_ISATAP_PRL_A_RS_SENT: r.rs_sent = u32_of(p, "RS_SENT"); break;
		case UMIGAME_ISATAP_PRL_A_RA_RCVD: r.ra_received = u32_of(p, "RA_RCVD"); break;
		case UMIGAME_ISATAP_PRL_A_STATE:
			if (p.size() != 1)
				throw std::runtime_error("malformed link reply: STATE has " + std::to_string(p.size()) +
							 " bytes");
			r.state = state_name(p[0]);
			break;
		default: break; // from a newer module
		}
	});
	if (!have_address)
		throw std::runtime_error("malformed link reply: a PRL entry without an address");
	if (r.state.empty())
		r.state = "?";
	return r;
}

} // namespace

std::vector<IsatapPrlEntry> parse_prl_args(const std::vector<std::string> &args)
{
	std::vector<IsatapPrlEntry> out;
	for (size_t i = 0; i < args.size(); i++) {
		const std::string &text = args[i];
		IsatapPrlEntry e;
		in_addr a{};
		if (inet_pton(AF_INET, text.c_str(), &a) != 1)
			throw UsageError("isatap prl: '" + text + "' is not an IPv4 address");
		e.address = a.s_addr;
		if (i + 1 < args.size() && args[i + 1] == "lifetime") {
			if (i + 2 >= args.size())
				throw UsageError("isatap prl: lifetime needs a number of seconds");
			const std::string &s = args[i + 2];
			char *end = nullptr;
			errno = 0;
			unsigned long v = std::strtoul(s.c_str(), &end, 10);
			if (s.empty() || s[0] < '0' || s[0] > '9' || *end || errno || v > UINT32_MAX)
				throw UsageError("isatap prl: lifetime '" + s + "' is not a number of seconds");
			e.lifetime = uint32_t(v);
			i += 2;
		}
		for (const auto &seen : out)
			if (seen.address == e.address)
				throw UsageError("isatap prl: " + text + " is listed twice");
		out.push_back(e);
	}
	if (out.size() > UMIGAME_ISATAP_PRL_MAX)
		throw UsageError("isatap prl: at most " + std::to_string(UMIGAME_ISATAP_PRL_MAX) + " routers");
	return out;
}

NetlinkMessage isatap_prl_request(uint32_t ifindex, const std::vector<IsatapPrlEntry> &prl)
{
	NetlinkMessage m(RTM_NEWLINK, 0);
	auto &ifi = m.put_header<ifinfomsg>();
	ifi.ifi_family = AF_UNSPEC;
	ifi.ifi_index = int(ifindex);
	nlattr *info = m.begin_nested(IFLA_LINKINFO);
	m.put_string(IFLA_INFO_KIND, UMIGAME_ISATAP_KIND);
	nlattr *data = m.begin_nested(IFLA_INFO_DATA);
	nlattr *list = m.begin_nested(UMIGAME_ISATAP_A_PRL);
	for (const auto &e : prl) {
		nlattr *entry = m.begin_nested(UMIGAME_ISATAP_A_PRL_ENTRY);
		m.put(UMIGAME_ISATAP_PRL_A_ADDR, &e.address, sizeof(e.address));
		if (e.lifetime)
			m.put_u32(UMIGAME_ISATAP_PRL_A_LIFETIME, e.lifetime);
		m.end_nested(entry);
	}
	m.end_nested(list);
	m.end_nested(data);
	m.end_nested(info);
	return m;
}

std::optional<IsatapLink> parse_isatap_link(std::span<const uint8_t> message)
{
	if (message.size() < NLMSG_LENGTH(sizeof(ifinfomsg)))
		throw std::runtime_error("malformed link reply: " + std::to_string(message.size()) + " bytes");
	nlmsghdr h;
	std::memcpy(&h, message.data(), sizeof(h));
	if (h.nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg)) || h.nlmsg_len > message.size())
		throw std::runtime_error("malformed link reply: length " + std::to_string(h.nlmsg_len));
	auto attrs = message.subspan(NLMSG_SPACE(sizeof(ifinfomsg)) <= h.nlmsg_len ? NLMSG_SPACE(sizeof(ifinfomsg))
										    : h.nlmsg_len,
				     h.nlmsg_len - std::min<size_t>(h.nlmsg_len, NLMSG_SPACE(sizeof(ifinfomsg))));
	std::optional<uint32_t> local;
	std::span<const uint8_t> info_data;
	bool ours = false;
	each_attr(attrs, [&](uint16_t type, std::span<const uint8_t> p) {
		if (type == IFLA_ADDRESS && p.size() == 4) {
			uint32_t v;
			std::memcpy(&v, p.data(), 4);
			local = v;
		} else if (type == IFLA_LINKINFO) {
			each_attr(p, [&](uint16_t t, std::span<const uint8_t> q) {
				if (t == IFLA_INFO_KIND) {
					std::string kind(reinterpret_cast<const char *>(q.data()), q.size());
					kind = kind.substr(0, kind.find('\0'));
					ours = kind == UMIGAME_ISATAP_KIND;
				} else if (t == IFLA_INFO_DATA) {
					info_data = q;
				}
			});
		}
	});
	if (!ours)
		return std::nullopt;
	IsatapLink link;
	link.local = local ? dotted(*local) : "?";
	each_attr(info_data, [&](uint16_t type, std::span<const uint8_t> p) {
		if (type != UMIGAME_ISATAP_A_PRL)
			return;
		each_attr(p, [&](uint16_t t, std::span<const uint8_t> entry) {
			if (t == UMIGAME_ISATAP_A_PRL_ENTRY && link.prl.size() < 4 * UMIGAME_ISATAP_PRL_MAX)
				link.prl.push_back(parse_router(entry));
		});
	});
	return link;
}

std::optional<IsatapLink> isatap_link(NetlinkSocket &socket, uint32_t ifindex)
{
	NetlinkMessage m = get_link_request(ifindex);
	std::optional<IsatapLink> out;
	socket.request(m, "reading link " + std::to_string(ifindex), [&](const nlmsghdr &reply) {
		out = parse_isatap_link({reinterpret_cast<const uint8_t *>(&reply), reply.nlmsg_len});
	});
	return out;
}

} // namespace umigame::cli
