// Generic-netlink client of umigame.ko's PIM Register devices; see
// pim_netlink.h.
#include "umigame/pim_netlink.h"

#include <cstring>
#include <stdexcept>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

namespace umigame {

namespace {

constexpr std::array<const char *, UMIGAME_PIM_A_MAX + 1> kPimAttrNames = {
	"UNSPEC",	 "IFINDEX",	       "SOURCE",	"RATE",		"FLAGS",
	"GROUP",	 "PREFIX_LEN",	       "RP",		"RP_LIST",	"RP_ENTRY",
	"IFNAME",	 "PAD",		       "TX_REGISTERS",	"TX_NULL_REGISTERS", "TX_BYTES",
	"DROP_NO_RP",	 "DROP_RATE",	       "DROP_TOO_BIG",	"DROP_NO_ROUTE", "DROP_BAD",
};
static_assert(kPimAttrNames.back() != nullptr, "a name for every UMIGAME_PIM_A_*");

[[noreturn]] void malformed(const std::string &what)
{
	throw std::runtime_error("malformed umigame_pim reply: " + what);
}

void copy_addr(const nlattr *a, Ipv6Bytes &out)
{
	if (mnl_attr_get_payload_len(a) != out.size())
		malformed(std::string(kPimAttrNames[mnl_attr_get_type(a)]) + " is not 16 bytes");
	std::memcpy(out.data(), mnl_attr_get_payload(a), out.size());
}

uint64_t u64_of(const nlattr *a)
{
	if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
		malformed(std::string(kPimAttrNames[mnl_attr_get_type(a)]) + " is not a u64");
	return mnl_attr_get_u64(a);
}

uint32_t u32_of(const nlattr *a)
{
	if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		malformed(std::string(kPimAttrNames[mnl_attr_get_type(a)]) + " is not a u32");
	return mnl_attr_get_u32(a);
}

// Each attribute in [start, start + len); throws when one runs past the end.
template <typename F>
void for_each_attr(const void *start, size_t len, F &&f)
{
	auto *a = static_cast<const nlattr *>(start);
	int left = int(len);
	while (mnl_attr_ok(a, left)) {
		f(a);
		left -= int(MNL_ALIGN(a->nla_len));
		a = mnl_attr_next(a);
	}
	if (left != 0)
		malformed("an attribute runs past its message or nest");
}

PimRange parse_range(const nlattr *entry)
{
	PimRange r;
	bool group = false, len = false, rp = false;
	for_each_attr(mnl_attr_get_payload(entry), mnl_attr_get_payload_len(entry), [&](const nlattr *a) {
		switch (mnl_attr_get_type(a)) {
		case UMIGAME_PIM_A_GROUP:
			copy_addr(a, r.group);
			group = true;
			break;
		case UMIGAME_PIM_A_PREFIX_LEN:
			if (mnl_attr_validate(a, MNL_TYPE_U8) < 0 || mnl_attr_get_u8(a) > 128)
				malformed("PREFIX_LEN is not a u8 up to 128");
			r.prefix_len = mnl_attr_get_u8(a);
			len = true;
			break;
		case UMIGAME_PIM_A_RP:
			copy_addr(a, r.rp);
			rp = true;
			break;
		default:
			break;
		}
	});
	if (!group || !len || !rp)
		malformed("a group range without its GROUP, PREFIX_LEN or RP");
	return r;
}

} // namespace

std::span<const char *const> pim_attr_names() { return kPimAttrNames; }

PimDevice parse_pim_message(const nlmsghdr *nlh)
{
	if (nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
		malformed("shorter than its headers");
	auto *g = static_cast<const genlmsghdr *>(mnl_nlmsg_get_payload(nlh));
	if (g->cmd != UMIGAME_PIM_CMD_GET)
		malformed("not a GET reply");
	PimDevice d;
	bool have_ifindex = false;
	const auto *attrs = reinterpret_cast<const uint8_t *>(nlh) + NLMSG_HDRLEN + GENL_HDRLEN;
	for_each_attr(attrs, nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN, [&](const nlattr *a) {
		switch (mnl_attr_get_type(a)) {
		case UMIGAME_PIM_A_IFINDEX:
			d.ifindex = u32_of(a);
			have_ifindex = true;
			break;
		case UMIGAME_PIM_A_IFNAME:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0 || mnl_attr_get_payload_len(a) > 16)
				malformed("IFNAME is not an interface name");
			d.name = mnl_attr_get_str(a);
			break;
		case UMIGAME_PIM_A_SOURCE:
			copy_addr(a, d.source);
			break;
		case UMIGAME_PIM_A_RATE:
			d.rate = u32_of(a);
			break;
		case UMIGAME_PIM_A_FLAGS:
			d.flags = u32_of(a);
			break;
		case UMIGAME_PIM_A_RP_LIST:
			for_each_attr(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a), [&](const nlattr *e) {
				if (mnl_attr_get_type(e) != UMIGAME_PIM_A_RP_ENTRY)
					return;
				if (d.ranges.size() == UMIGAME_PIM_MAX_RPS)
					malformed("more group ranges than a device holds");
				d.ranges.push_back(parse_range(e));
			});
			break;
		case UMIGAME_PIM_A_TX_REGISTERS: d.registers = u64_of(a); break;
		case UMIGAME_PIM_A_TX_NULL_REGISTERS: d.null_registers = u64_of(a); break;
		case UMIGAME_PIM_A_TX_BYTES: d.bytes = u64_of(a); break;
		case UMIGAME_PIM_A_DROP_NO_RP: d.drop_no_rp = u64_of(a); break;
		case UMIGAME_PIM_A_DROP_RATE: d.drop_rate = u64_of(a); break;
		case UMIGAME_PIM_A_DROP_TOO_BIG: d.drop_too_big = u64_of(a); break;
		case UMIGAME_PIM_A_DROP_NO_ROUTE: d.drop_no_route = u64_of(a); break;
		case UMIGAME_PIM_A_DROP_BAD: d.drop_bad = u64_of(a); break;
		default:
			break;
		}
	});
	if (!have_ifindex)
		malformed("no IFINDEX");
	return d;
}

PimNetlink::PimNetlink() : genl_(UMIGAME_PIM_GENL_NAME, UMIGAME_PIM_GENL_VERSION, pim_attr_names()) {}

namespace {

void put_or_throw(bool ok)
{
	if (!ok)
		throw std::runtime_error("pim: request too large");
}

} // namespace

void PimNetlink::set(uint32_t ifindex, const std::optional<Ipv6Bytes> &source, std::optional<uint32_t> rate,
		     std::optional<uint32_t> flags)
{
	auto req = genl_.request(UMIGAME_PIM_CMD_SET, NLM_F_REQUEST | NLM_F_ACK);
	auto *nlh = reinterpret_cast<nlmsghdr *>(req.data());
	const size_t cap = req.size();
	put_or_throw(mnl_attr_put_u32_check(nlh, cap, UMIGAME_PIM_A_IFINDEX, ifindex));
	if (source)
		put_or_throw(mnl_attr_put_check(nlh, cap, UMIGAME_PIM_A_SOURCE, source->size(), source->data()));
	if (rate)
		put_or_throw(mnl_attr_put_u32_check(nlh, cap, UMIGAME_PIM_A_RATE, *rate));
	if (flags)
		put_or_throw(mnl_attr_put_u32_check(nlh, cap, UMIGAME_PIM_A_FLAGS, *flags));
	genl_.transact(req, "pim set", false, [](const nlmsghdr *) {});
}

void PimNetlink::rp_add(uint32_t ifindex, const Ipv6Bytes &group, uint8_t prefix_len, const Ipv6Bytes &rp)
{
	auto req = genl_.request(UMIGAME_PIM_CMD_RP_ADD, NLM_F_REQUEST | NLM_F_ACK);
	auto *nlh = reinterpret_cast<nlmsghdr *>(req.data());
	const size_t cap = req.size();
	put_or_throw(mnl_attr_put_u32_check(nlh, cap, UMIGAME_PIM_A_IFINDEX, ifindex));
	put_or_throw(mnl_attr_put_check(nlh, cap, UMIGAME_PIM_A_GROUP, group.size(), group.data()));
	put_or_throw(mnl_attr_put_u8_check(nlh, cap, UMIGAME_PIM_A_PREFIX_LEN, prefix_len));
	put_or_throw(mnl_attr_put_check(nlh, cap, UMIGAME_PIM_A_RP, rp.size(), rp.data()));
	genl_.transact(req, "pim rp add", false, [](const nlmsghdr *) {});
}

void PimNetlink::rp_del(uint32_t ifindex, const Ipv6Bytes &group, uint8_t prefix_len)
{
	auto req = genl_.request(UMIGAME_PIM_CMD_RP_DEL, NLM_F_REQUEST | NLM_F_ACK);
	auto *nlh = reinterpret_cast<nlmsghdr *>(req.data());
	const size_t cap = req.size();
	put_or_throw(mnl_attr_put_u32_check(nlh, cap, UMIGAME_PIM_A_IFINDEX, ifindex));
	put_or_throw(mnl_attr_put_check(nlh, cap, UMIGAME_PIM_A_GROUP, group.size(), group.data()));
	put_or_throw(mnl_attr_put_u8_check(nlh, cap, UMIGAME_PIM_A_PREFIX_LEN, prefix_len));
	genl_.transact(req, "pim rp del", false, [](const nlmsghdr *) {});
}

PimDevice PimNetlink::get(uint32_t ifindex)
{
	auto req = genl_.request(UMIGAME_PIM_CMD_GET, NLM_F_REQUEST | NLM_F_ACK);
	mnl_attr_put_u32(reinterpret_cast<nlmsghdr *>(req.data()), UMIGAME_PIM_A_IFINDEX, ifindex);
	std::vector<PimDevice> out;
	genl_.transact(req, "pim show", false, [&](const nlmsghdr *m) { out.push_back(parse_pim_message(m)); });
	if (out.size() != 1)
		throw std::runtime_error("pim show: " + std::to_string(out.size()) + " replies for one device");
	return out.front();
}

std::vector<PimDevice> PimNetlink::dump()
{
	auto req = genl_.request(UMIGAME_PIM_CMD_GET, NLM_F_REQUEST | NLM_F_DUMP);
	std::vector<PimDevice> out;
	genl_.transact(req, "pim show", true, [&](const nlmsghdr *m) { out.push_back(parse_pim_message(m)); });
	return out;
}

} // namespace umigame
