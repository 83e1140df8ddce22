#include "isatap_link.h"

#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "cli.h"
#include "umigame/isatap.h"

namespace umigame::cli {

namespace {

std::span<const uint8_t> payload(const nlattr &a)
{
	return {static_cast<const uint8_t *>(mnl_attr_get_payload(&a)), mnl_attr_get_payload_len(&a)};
}

uint32_t u32_of(const nlattr &a, const char *what)
{
	if (mnl_attr_validate(const_cast<nlattr *>(&a), MNL_TYPE_U32) < 0)
		throw NetlinkParseError(std::string("PRL entry: ") + what + " has " +
					std::to_string(mnl_attr_get_payload_len(&a)) + " bytes, expected 4");
	return mnl_attr_get_u32(&a);
}

std::string dotted(const uint8_t *be)
{
	char text[INET_ADDRSTRLEN];
	return inet_ntop(AF_INET, be, text, sizeof(text));
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
	r.state = "?";
	bool have_address = false;
	for_each_attribute(entry, "PRL entry", [&](const nlattr &a) {
		switch (mnl_attr_get_type(&a)) {
		case UMIGAME_ISATAP_PRL_A_ADDR:
			if (mnl_attr_get_payload_len(&a) != 4)
				throw NetlinkParseError("PRL entry: ADDR has " +
							std::to_string(mnl_attr_get_payload_len(&a)) +
							" bytes, expected 4");
			r.address = dotted(payload(a).data());
			have_address = true;
			break;
		case UMIGAME_ISATAP_PRL_A_LIFETIME: r.lifetime = u32_of(a, "LIFETIME"); break;
		case UMIGAME_ISATAP_PRL_A_RTR_LIFETIME: r.router_lifetime = u32_of(a, "RTR_LIFETIME"); break;
		case UMIGAME_ISATAP_PRL_A_RS_SENT: r.rs_sent = u32_of(a, "RS_SENT"); break;
		case UMIGAME_ISATAP_PRL_A_RA_RCVD: r.ra_received = u32_of(a, "RA_RCVD"); break;
		case UMIGAME_ISATAP_PRL_A_STATE:
			if (mnl_attr_validate(const_cast<nlattr *>(&a), MNL_TYPE_U8) < 0)
				throw NetlinkParseError("PRL entry: STATE has " +
							std::to_string(mnl_attr_get_payload_len(&a)) +
							" bytes, expected 1");
			r.state = state_name(mnl_attr_get_u8(&a));
			break;
		default: break; // from a newer module
		}
	});
	if (!have_address)
		throw NetlinkParseError("PRL entry without an address");
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

std::optional<IsatapLink> isatap_of(const Link &link)
{
	if (link.kind != UMIGAME_ISATAP_KIND)
		return std::nullopt;
	IsatapLink out;
	out.local = link.address.size() == 4 ? dotted(link.address.data()) : "?";
	for_each_attribute(link.info_data, "IFLA_INFO_DATA", [&](const nlattr &a) {
		if (mnl_attr_get_type(&a) != UMIGAME_ISATAP_A_PRL)
			return;
		for_each_attribute(payload(a), "PRL", [&](const nlattr &e) {
			if (mnl_attr_get_type(&e) == UMIGAME_ISATAP_A_PRL_ENTRY)
				out.prl.push_back(parse_router(payload(e)));
		});
	});
	return out;
}

} // namespace umigame::cli
