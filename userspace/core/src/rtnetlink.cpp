// rtnetlink on libmnl; see rtnetlink.h.
#include "umigame/rtnetlink.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <string_view>
#include <system_error>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_addrlabel.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/socket.h>

#include "umigame/log.h"

namespace umigame {

namespace {

// Big enough for any dump part (the kernel caps those at 32 KiB) and for the
// largest single reply we ask for (links without statistics).
constexpr size_t kReceiveSize = 65536;
// Kernel text ends up on a terminal or in the journal: bounded, printable.
constexpr size_t kMaxKernelMessage = 512;
// How often a dump interrupted by concurrent changes is tried again.
constexpr int kDumpAttempts = 4;

std::string printable(std::string_view text)
{
	std::string out;
	for (char c : text.substr(0, kMaxKernelMessage))
		out += (c >= 0x20 && c < 0x7f) ? c : '?';
	return out;
}

std::string message_type_name(uint16_t type)
{
	switch (type) {
	case RTM_NEWLINK: return "RTM_NEWLINK";
	case RTM_DELLINK: return "RTM_DELLINK";
	case RTM_NEWADDR: return "RTM_NEWADDR";
	case RTM_DELADDR: return "RTM_DELADDR";
	case RTM_NEWROUTE: return "RTM_NEWROUTE";
	case RTM_DELROUTE: return "RTM_DELROUTE";
	case RTM_NEWADDRLABEL: return "RTM_NEWADDRLABEL";
	case RTM_DELADDRLABEL: return "RTM_DELADDRLABEL";
	case NLMSG_ERROR: return "NLMSG_ERROR";
	case NLMSG_DONE: return "NLMSG_DONE";
	default: return "netlink message type " + std::to_string(type);
	}
}

// ---- Parsing ------------------------------------------------------------

// The header of one message, checked against the bytes that hold it.
const nlmsghdr &checked_header(std::span<const uint8_t> message)
{
	if (message.size() < sizeof(nlmsghdr))
		throw NetlinkParseError("netlink message truncated: " + std::to_string(message.size()) +
					" bytes, shorter than its header");
	if (reinterpret_cast<uintptr_t>(message.data()) % NLMSG_ALIGNTO)
		throw std::invalid_argument("netlink message not 4-byte aligned");
	const auto &nlh = *reinterpret_cast<const nlmsghdr *>(message.data());
	if (nlh.nlmsg_len < sizeof(nlmsghdr) || nlh.nlmsg_len > message.size())
		throw NetlinkParseError(message_type_name(nlh.nlmsg_type) + ": length " +
					std::to_string(nlh.nlmsg_len) + " does not fit the " +
					std::to_string(message.size()) + " bytes received");
	return nlh;
}

// The fixed header after nlmsghdr (ifaddrmsg, rtmsg, ...), copied out.
template <typename T> T fixed_header(const nlmsghdr &nlh, const char *header_name)
{
	if (mnl_nlmsg_get_payload_len(&nlh) < MNL_ALIGN(sizeof(T)))
		throw NetlinkParseError(message_type_name(nlh.nlmsg_type) + ": truncated, " +
					std::to_string(mnl_nlmsg_get_payload_len(&nlh)) +
					" bytes cannot hold struct " + header_name);
	T header;
	std::memcpy(&header, mnl_nlmsg_get_payload(&nlh), sizeof(T));
	return header;
}

// Walks attributes that must tile [start, start + length) exactly. Written
// out rather than mnl_attr_parse(), which stops silently at an attribute
// whose length runs past the end: a truncated message must be an error, not
// a message that merely looks shorter.
template <typename Fn>
void walk_attributes(const void *start, size_t length, const std::string &context, Fn &&fn)
{
	const auto *p = static_cast<const uint8_t *>(start);
	size_t remaining = length;
	while (remaining > 0) {
		if (remaining < sizeof(nlattr))
			throw NetlinkParseError(context + ": " + std::to_string(remaining) +
						" stray bytes after the last attribute");
		nlattr header;
		std::memcpy(&header, p, sizeof(header));
		if (header.nla_len < sizeof(nlattr) || header.nla_len > remaining)
			throw NetlinkParseError(context + ": attribute type " +
						std::to_string(header.nla_type & NLA_TYPE_MASK) +
						" claims " + std::to_string(header.nla_len) +
						" bytes where " + std::to_string(remaining) + " are left");
		fn(reinterpret_cast<const nlattr *>(p));
		const size_t step = MNL_ALIGN(header.nla_len);
		if (step >= remaining)
			break; // the last attribute may go without its padding
		p += step;
		remaining -= step;
	}
}

template <typename Fn>
void walk_message_attributes(const nlmsghdr &nlh, size_t header_size, Fn &&fn)
{
	const size_t offset = MNL_ALIGN(header_size);
	walk_attributes(static_cast<const uint8_t *>(mnl_nlmsg_get_payload(&nlh)) + offset,
			mnl_nlmsg_get_payload_len(&nlh) - offset, message_type_name(nlh.nlmsg_type),
			std::forward<Fn>(fn));
}

[[noreturn]] void bad_attribute(const std::string &context, const char *name, const nlattr *a,
				const std::string &expected)
{
	throw NetlinkParseError(context + ": attribute " + name + " has " +
				std::to_string(mnl_attr_get_payload_len(a)) + " bytes, expected " +
				expected);
}

uint8_t get_u8(const nlattr *a, const std::string &context, const char *name)
{
	if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
		bad_attribute(context, name, a, "1");
	return mnl_attr_get_u8(a);
}

uint32_t get_u32(const nlattr *a, const std::string &context, const char *name)
{
	if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		bad_attribute(context, name, a, "4");
	return mnl_attr_get_u32(a);
}

Ipv6Address get_ipv6(const nlattr *a, const std::string &context, const char *name)
{
	Ipv6Address address;
	if (mnl_attr_validate2(a, MNL_TYPE_BINARY, address.bytes.size()) < 0)
		bad_attribute(context, name, a, "16 (an IPv6 address)");
	std::memcpy(address.bytes.data(), mnl_attr_get_payload(a), address.bytes.size());
	return address;
}

std::string get_string(const nlattr *a, const std::string &context, const char *name)
{
	if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
		bad_attribute(context, name, a, "a NUL-terminated string");
	return mnl_attr_get_str(a);
}

// Structs the kernel may grow: at least our size; the tail is newer fields.
template <typename T> T get_struct(const nlattr *a, const std::string &context, const char *name)
{
	if (mnl_attr_get_payload_len(a) < sizeof(T))
		bad_attribute(context, name, a, "at least " + std::to_string(sizeof(T)));
	T value;
	std::memcpy(&value, mnl_attr_get_payload(a), sizeof(T));
	return value;
}

void check_nested(const nlattr *a, const std::string &context, const char *name)
{
	if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
		bad_attribute(context, name, a, "nested attributes");
}

// The kernel keeps prefixes masked; we mask again rather than refuse, since
// a route dump must not fail as a whole over it, and Ipv6Prefix's
// operations assume zero host bits.
Ipv6Prefix masked_prefix(Ipv6Address address, uint8_t length)
{
	for (size_t i = 0; i < address.bytes.size(); ++i) {
		const int bits = int(length) - int(i) * 8;
		if (bits >= 8)
			continue;
		address.bytes[i] &= bits <= 0 ? 0 : uint8_t(0xff << (8 - bits));
	}
	return Ipv6Prefix{address, length};
}

void check_ipv6_family(uint8_t family, const std::string &context)
{
	if (family != AF_INET6)
		throw NetlinkParseError(context + ": address family " + std::to_string(family) +
					" is not IPv6");
}

void check_prefix_length(unsigned length, const std::string &context)
{
	if (length > 128)
		throw NetlinkParseError(context + ": prefix length " + std::to_string(length) +
					" exceeds 128");
}

void check_type(const nlmsghdr &nlh, uint16_t a, uint16_t b, const char *what)
{
	if (nlh.nlmsg_type != a && nlh.nlmsg_type != b)
		throw NetlinkParseError(message_type_name(nlh.nlmsg_type) + " is not " + what);
}

Link parse_link(const nlmsghdr &nlh)
{
	check_type(nlh, RTM_NEWLINK, RTM_DELLINK, "a link message");
	const std::string context = message_type_name(nlh.nlmsg_type);
	const auto ifi = fixed_header<ifinfomsg>(nlh, "ifinfomsg");
	if (ifi.ifi_index <= 0)
		throw NetlinkParseError(context + ": interface index " +
					std::to_string(ifi.ifi_index) + " is not valid");
	Link link;
	link.index = uint32_t(ifi.ifi_index);
	link.flags = ifi.ifi_flags;
	walk_message_attributes(nlh, sizeof(ifinfomsg), [&](const nlattr *a) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_IFNAME: link.name = get_string(a, context, "IFLA_IFNAME"); break;
		case IFLA_MTU: link.mtu = get_u32(a, context, "IFLA_MTU"); break;
		case IFLA_OPERSTATE: link.operstate = get_u8(a, context, "IFLA_OPERSTATE"); break;
		case IFLA_ADDRESS: {
			// Any length is valid (tunnels carry IP addresses here); only
			// a 6-byte one is a MAC address.
			const auto *b = static_cast<const uint8_t *>(mnl_attr_get_payload(a));
			link.address.assign(b, b + mnl_attr_get_payload_len(a));
			if (mnl_attr_get_payload_len(a) == 6) {
				MacAddress mac;
				std::memcpy(mac.bytes.data(), mnl_attr_get_payload(a), 6);
				link.mac = mac;
			}
			break;
		}
		case IFLA_LINKINFO:
			check_nested(a, context, "IFLA_LINKINFO");
			walk_attributes(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a),
					context + " IFLA_LINKINFO", [&](const nlattr *info) {
						if (mnl_attr_get_type(info) == IFLA_INFO_KIND) {
							link.kind = get_string(info, context,
									       "IFLA_INFO_KIND");
						} else if (mnl_attr_get_type(info) == IFLA_INFO_DATA) {
							const auto *d = static_cast<const uint8_t *>(
								mnl_attr_get_payload(info));
							link.info_data.assign(d, d + mnl_attr_get_payload_len(info));
						}
					});
			break;
		default: break;
		}
	});
	if (link.name.empty())
		throw NetlinkParseError(context + ": interface " + std::to_string(link.index) +
					" has no IFLA_IFNAME");
	return link;
}

InterfaceAddress parse_address(const nlmsghdr &nlh)
{
	check_type(nlh, RTM_NEWADDR, RTM_DELADDR, "an address message");
	const std::string context = message_type_name(nlh.nlmsg_type);
	const auto ifa = fixed_header<ifaddrmsg>(nlh, "ifaddrmsg");
	check_ipv6_family(ifa.ifa_family, context);
	check_prefix_length(ifa.ifa_prefixlen, context);
	InterfaceAddress out;
	out.ifindex = ifa.ifa_index;
	out.prefix_length = ifa.ifa_prefixlen;
	out.scope = ifa.ifa_scope;
	out.flags = ifa.ifa_flags;
	std::optional<Ipv6Address> address, local;
	walk_message_attributes(nlh, sizeof(ifaddrmsg), [&](const nlattr *a) {
		switch (mnl_attr_get_type(a)) {
		case IFA_ADDRESS: address = get_ipv6(a, context, "IFA_ADDRESS"); break;
		case IFA_LOCAL: local = get_ipv6(a, context, "IFA_LOCAL"); break;
		case IFA_FLAGS: out.flags = get_u32(a, context, "IFA_FLAGS"); break;
		case IFA_CACHEINFO: {
			const auto ci = get_struct<ifa_cacheinfo>(a, context, "IFA_CACHEINFO");
			out.valid_lifetime = ci.ifa_valid;
			out.preferred_lifetime = ci.ifa_prefered;
			break;
		}
		default: break;
		}
	});
	// With a peer, IFA_LOCAL is ours and IFA_ADDRESS the peer's.
	if (local)
		out.address = *local;
	else if (address)
		out.address = *address;
	else
		throw NetlinkParseError(context + ": no IFA_ADDRESS");
	return out;
}

Route parse_route(const nlmsghdr &nlh)
{
	check_type(nlh, RTM_NEWROUTE, RTM_DELROUTE, "a route message");
	const std::string context = message_type_name(nlh.nlmsg_type);
	const auto rtm = fixed_header<rtmsg>(nlh, "rtmsg");
	check_ipv6_family(rtm.rtm_family, context);
	check_prefix_length(rtm.rtm_dst_len, context);
	Route route;
	route.type = RouteType(rtm.rtm_type);
	route.protocol = rtm.rtm_protocol;
	route.table = rtm.rtm_table;
	std::optional<Ipv6Address> destination;
	walk_message_attributes(nlh, sizeof(rtmsg), [&](const nlattr *a) {
		switch (mnl_attr_get_type(a)) {
		case RTA_DST: destination = get_ipv6(a, context, "RTA_DST"); break;
		case RTA_GATEWAY: route.gateway = get_ipv6(a, context, "RTA_GATEWAY"); break;
		case RTA_OIF: route.ifindex = get_u32(a, context, "RTA_OIF"); break;
		case RTA_PRIORITY: route.metric = get_u32(a, context, "RTA_PRIORITY"); break;
		case RTA_TABLE: route.table = get_u32(a, context, "RTA_TABLE"); break;
		default: break; // multipath nexthops, preferences, metrics: not ours
		}
	});
	if (rtm.rtm_dst_len && !destination)
		throw NetlinkParseError(context + ": prefix length " +
					std::to_string(rtm.rtm_dst_len) + " but no RTA_DST");
	route.destination = masked_prefix(destination.value_or(Ipv6Address{}), rtm.rtm_dst_len);
	return route;
}

AddressLabel parse_address_label(const nlmsghdr &nlh)
{
	check_type(nlh, RTM_NEWADDRLABEL, RTM_DELADDRLABEL, "an address label message");
	const std::string context = message_type_name(nlh.nlmsg_type);
	const auto ifal = fixed_header<ifaddrlblmsg>(nlh, "ifaddrlblmsg");
	check_ipv6_family(ifal.ifal_family, context);
	check_prefix_length(ifal.ifal_prefixlen, context);
	std::optional<Ipv6Address> address;
	std::optional<uint32_t> label;
	walk_message_attributes(nlh, sizeof(ifaddrlblmsg), [&](const nlattr *a) {
		switch (mnl_attr_get_type(a)) {
		case IFAL_ADDRESS: address = get_ipv6(a, context, "IFAL_ADDRESS"); break;
		case IFAL_LABEL: label = get_u32(a, context, "IFAL_LABEL"); break;
		default: break;
		}
	});
	if (!address)
		throw NetlinkParseError(context + ": no IFAL_ADDRESS");
	if (!label)
		throw NetlinkParseError(context + ": no IFAL_LABEL");
	return AddressLabel{masked_prefix(*address, ifal.ifal_prefixlen), *label, ifal.ifal_index};
}

// Splits one datagram into its messages; a length that does not fit is an
// error, never a reason to read past the end. fn returns false to stop (when
// the buffer may be gone: a callback destroyed its owner).
template <typename Fn> void walk_messages(std::span<const uint8_t> datagram, Fn &&fn)
{
	const auto *nlh = reinterpret_cast<const nlmsghdr *>(datagram.data());
	int remaining = int(datagram.size());
	while (mnl_nlmsg_ok(nlh, remaining)) {
		if (!fn(*nlh))
			return;
		nlh = mnl_nlmsg_next(nlh, &remaining);
	}
	if (remaining > 0)
		throw NetlinkParseError("netlink datagram: a message of " +
					std::to_string(remaining >= int(sizeof(nlmsghdr))
							       ? nlh->nlmsg_len
							       : uint32_t(remaining)) +
					" bytes does not fit the " + std::to_string(remaining) +
					" bytes left");
}

// ---- Errors from the kernel ------------------------------------------------

// The extended ACK's message, when the kernel sent one. A malformed one is
// dropped: it must not hide the error it came with.
std::string extack_message(const uint8_t *tlvs, size_t length)
{
	std::string message;
	try {
		walk_attributes(tlvs, length, "extended ACK", [&](const nlattr *a) {
			if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
			    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				message = printable(mnl_attr_get_str(a));
		});
	} catch (const NetlinkParseError &) {
	}
	// Kernel messages end in a full stop; ours continue after them.
	while (!message.empty() && (message.back() == '.' || message.back() == ' '))
		message.pop_back();
	return message;
}

// NLMSG_ERROR: returns for an ACK, throws for an error.
void check_error_message(const nlmsghdr &nlh, const std::string &operation)
{
	const size_t length = mnl_nlmsg_get_payload_len(&nlh);
	if (length < sizeof(nlmsgerr))
		throw NetlinkParseError(operation + ": truncated netlink error message");
	const auto *payload = static_cast<const uint8_t *>(mnl_nlmsg_get_payload(&nlh));
	nlmsgerr err;
	std::memcpy(&err, payload, sizeof(err));
	if (err.error == 0)
		return;
	if (err.error > 0 || err.error == INT_MIN)
		throw NetlinkParseError(operation + ": malformed netlink error " +
					std::to_string(err.error));
	std::string message;
	if (nlh.nlmsg_flags & NLM_F_ACK_TLVS) {
		// Behind nlmsgerr: our request, unless capped, then the TLVs.
		size_t offset = sizeof(nlmsgerr);
		if (!(nlh.nlmsg_flags & NLM_F_CAPPED))
			offset = sizeof(int) + size_t(err.msg.nlmsg_len);
		offset = MNL_ALIGN(offset);
		if (offset < length)
			message = extack_message(payload + offset, length - offset);
	}
	throw NetlinkRequestError(operation, -err.error, message);
}

// NLMSG_DONE of a dump: its int is negative when the dump failed.
void check_done_message(const nlmsghdr &nlh, const std::string &operation)
{
	const size_t length = mnl_nlmsg_get_payload_len(&nlh);
	if (length < sizeof(int))
		return; // old kernels send an empty DONE
	const auto *payload = static_cast<const uint8_t *>(mnl_nlmsg_get_payload(&nlh));
	int error;
	std::memcpy(&error, payload, sizeof(error));
	if (error >= 0)
		return;
	if (error == INT_MIN)
		throw NetlinkParseError(operation + ": malformed end of dump");
	std::string message;
	const size_t offset = MNL_ALIGN(sizeof(int));
	if ((nlh.nlmsg_flags & NLM_F_ACK_TLVS) && offset < length)
		message = extack_message(payload + offset, length - offset);
	throw NetlinkRequestError(operation, -error, message);
}

std::string reason_text(int error, const std::string &kernel_message)
{
	std::string reason = std::strerror(error);
	if (!kernel_message.empty())
		return kernel_message + " (" + reason + ")";
	if (error == EPERM)
		return reason + " (changing the network configuration needs CAP_NET_ADMIN)";
	return reason;
}

struct Received {
	size_t size = 0;
	bool truncated = false;
	bool from_kernel = false;
};

// One datagram; -1/errno like recvmsg. Checks who sent it: only the kernel
// (port 0) speaks for the kernel.
ssize_t receive(int fd, std::vector<uint32_t> &buffer, Received &out, int flags)
{
	sockaddr_nl from{};
	iovec iov{buffer.data(), buffer.size() * sizeof(uint32_t)};
	msghdr msg{};
	msg.msg_name = &from;
	msg.msg_namelen = sizeof(from);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	const ssize_t n = ::recvmsg(fd, &msg, flags);
	if (n < 0)
		return n;
	out.size = size_t(n);
	out.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
	out.from_kernel = msg.msg_namelen == sizeof(from) && from.nl_family == AF_NETLINK &&
			  from.nl_pid == 0;
	return n;
}

std::span<const uint8_t> received_bytes(const std::vector<uint32_t> &buffer, const Received &r)
{
	return {reinterpret_cast<const uint8_t *>(buffer.data()), r.size};
}

std::string interface_text(uint32_t ifindex)
{
	char name[IF_NAMESIZE];
	if (::if_indextoname(ifindex, name))
		return name;
	return "ifindex " + std::to_string(ifindex);
}

std::string address_text(const Ipv6Address &address, uint8_t prefix_length)
{
	return address.str() + "/" + std::to_string(prefix_length);
}

} // namespace

// ---- Public parsing --------------------------------------------------------

void for_each_attribute(std::span<const uint8_t> bytes, const std::string &context,
			const std::function<void(const nlattr &)> &fn)
{
	walk_attributes(bytes.data(), bytes.size(), context, [&](const nlattr *a) { fn(*a); });
}

Link parse_link_message(std::span<const uint8_t> message)
{
	return parse_link(checked_header(message));
}

InterfaceAddress parse_address_message(std::span<const uint8_t> message)
{
	return parse_address(checked_header(message));
}

Route parse_route_message(std::span<const uint8_t> message)
{
	return parse_route(checked_header(message));
}

AddressLabel parse_address_label_message(std::span<const uint8_t> message)
{
	return parse_address_label(checked_header(message));
}

std::optional<RtnetlinkEvent> parse_rtnetlink_event(std::span<const uint8_t> message)
{
	const nlmsghdr &nlh = checked_header(message);
	switch (nlh.nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		// AF_UNSPEC is the link itself; bridges report port state as
		// AF_BRIDGE on the same group.
		if (fixed_header<ifinfomsg>(nlh, "ifinfomsg").ifi_family != AF_UNSPEC)
			return std::nullopt;
		return LinkEvent{nlh.nlmsg_type == RTM_DELLINK, parse_link(nlh)};
	case RTM_NEWADDR:
	case RTM_DELADDR:
		if (fixed_header<ifaddrmsg>(nlh, "ifaddrmsg").ifa_family != AF_INET6)
			return std::nullopt;
		return AddressEvent{nlh.nlmsg_type == RTM_DELADDR, parse_address(nlh)};
	case RTM_NEWROUTE:
	case RTM_DELROUTE: {
		const auto rtm = fixed_header<rtmsg>(nlh, "rtmsg");
		if (rtm.rtm_family != AF_INET6 || (rtm.rtm_flags & RTM_F_CLONED))
			return std::nullopt;
		return RouteEvent{nlh.nlmsg_type == RTM_DELROUTE, parse_route(nlh)};
	}
	default:
		return std::nullopt;
	}
}

// ---- Value types -----------------------------------------------------------

bool Link::is_up() const { return flags & IFF_UP; }
// IFF_LOWER_UP lives in <linux/if.h>, which clashes with glibc's <net/if.h>.
constexpr uint32_t kIffLowerUp = 1u << 16;
bool Link::has_carrier() const { return flags & kIffLowerUp; }

bool InterfaceAddress::tentative() const { return flags & IFA_F_TENTATIVE; }
bool InterfaceAddress::dad_failed() const { return flags & IFA_F_DADFAILED; }
bool InterfaceAddress::deprecated() const { return flags & IFA_F_DEPRECATED; }
std::string InterfaceAddress::str() const { return address_text(address, prefix_length); }

std::string route_type_name(RouteType type)
{
	switch (type) {
	case RouteType::unicast: return "unicast";
	case RouteType::blackhole: return "blackhole";
	case RouteType::unreachable: return "unreachable";
	case RouteType::prohibit: return "prohibit";
	}
	return "type " + std::to_string(unsigned(type));
}

std::string Route::str() const
{
	std::string s;
	if (type != RouteType::unicast)
		s += route_type_name(type) + " ";
	s += destination.str();
	if (gateway)
		s += " via " + gateway->str();
	if (ifindex)
		s += " dev " + std::to_string(ifindex);
	if (metric)
		s += " metric " + std::to_string(metric);
	s += " proto " + std::to_string(protocol);
	s += " table " + std::to_string(table);
	return s;
}

std::string AddressLabel::str() const
{
	std::string s = "prefix " + prefix.str();
	if (ifindex)
		s += " dev " + std::to_string(ifindex);
	return s + " label " + std::to_string(label);
}

NetlinkRequestError::NetlinkRequestError(std::string operation, int error,
					 std::string kernel_message)
	: std::runtime_error(operation + ": " + reason_text(error, kernel_message)),
	  operation_(std::move(operation)), error_(error),
	  kernel_message_(std::move(kernel_message))
{
}

// ---- NetlinkMessage --------------------------------------------------------

NetlinkMessage::NetlinkMessage(uint16_t type, uint16_t flags)
	: buffer_(kCapacity / sizeof(uint32_t), 0)
{
	nlmsghdr *nlh = mnl_nlmsg_put_header(buffer_.data());
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = uint16_t(NLM_F_REQUEST | flags);
}

void *NetlinkMessage::put_header_bytes(size_t size)
{
	if (header()->nlmsg_len + MNL_ALIGN(size) > kCapacity)
		throw std::length_error("netlink request larger than " +
					std::to_string(kCapacity) + " bytes");
	return mnl_nlmsg_put_extra_header(header(), size);
}

void NetlinkMessage::put(uint16_t type, const void *data, size_t size)
{
	if (size > UINT16_MAX || !mnl_attr_put_check(header(), kCapacity, type, size, data))
		throw std::length_error("netlink request larger than " +
					std::to_string(kCapacity) + " bytes");
}

void NetlinkMessage::put_string(uint16_t type, const std::string &value)
{
	put(type, value.c_str(), value.size() + 1);
}

nlattr *NetlinkMessage::begin_nested(uint16_t type)
{
	nlattr *nest = mnl_attr_nest_start_check(header(), kCapacity, type);
	if (!nest)
		throw std::length_error("netlink request larger than " +
					std::to_string(kCapacity) + " bytes");
	return nest;
}

void NetlinkMessage::end_nested(nlattr *nest)
{
	mnl_attr_nest_end(header(), nest);
}

std::span<const uint8_t> NetlinkMessage::bytes() const
{
	return {reinterpret_cast<const uint8_t *>(buffer_.data()), header()->nlmsg_len};
}

// ---- NetlinkSocket ---------------------------------------------------------

NetlinkSocket::NetlinkSocket(int protocol, std::chrono::milliseconds reply_timeout)
	: receive_buffer_(kReceiveSize / sizeof(uint32_t))
{
	std::unique_ptr<mnl_socket, int (*)(mnl_socket *)> sock(
		mnl_socket_open2(protocol, SOCK_CLOEXEC), mnl_socket_close);
	if (!sock)
		throw std::system_error(errno, std::generic_category(),
					"opening a netlink socket (protocol " +
						std::to_string(protocol) + ")");
	if (mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0)
		throw std::system_error(errno, std::generic_category(), "binding a netlink socket");
	int one = 1;
	// Extended ACKs carry the kernel's reason in words; capped ACKs leave
	// our request out of error messages (we still have it). Strict checking
	// makes dumps honour their filters (ifindex, table). Older kernels lack
	// some of these; requests still work without them.
	mnl_socket_setsockopt(sock.get(), NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(sock.get(), NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(sock.get(), NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	timeval tv{};
	tv.tv_sec = reply_timeout.count() / 1000;
	tv.tv_usec = (reply_timeout.count() % 1000) * 1000;
	if (::setsockopt(mnl_socket_get_fd(sock.get()), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		throw std::system_error(errno, std::generic_category(), "setting SO_RCVTIMEO");
	port_id_ = mnl_socket_get_portid(sock.get());
	socket_ = sock.release();
}

NetlinkSocket::~NetlinkSocket()
{
	mnl_socket_close(socket_);
}

bool NetlinkSocket::request(NetlinkMessage &message, const std::string &operation,
			    const std::function<void(const nlmsghdr &)> &on_reply)
{
	nlmsghdr *nlh = message.header();
	// NLM_F_DUMP is ROOT|MATCH. On NEW requests those bits mean REPLACE and
	// EXCL, which no request sets together.
	const bool dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	if (!dump)
		nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++seq_;
	nlh->nlmsg_pid = 0;
	const ssize_t sent = mnl_socket_sendto(socket_, nlh, nlh->nlmsg_len);
	if (sent < 0)
		throw NetlinkRequestError(operation, errno, "");
	if (size_t(sent) != nlh->nlmsg_len)
		throw NetlinkRequestError(operation, EMSGSIZE, "request sent only in part");
	return read_replies(nlh->nlmsg_seq, dump, operation, on_reply);
}

bool NetlinkSocket::read_replies(uint32_t seq, bool dump, const std::string &operation,
				 const std::function<void(const nlmsghdr &)> &on_reply)
{
	const int fd = mnl_socket_get_fd(socket_);
	bool interrupted = false;
	bool complete = false;
	try {
		while (!complete) {
			Received r;
			if (receive(fd, receive_buffer_, r, 0) < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					throw NetlinkRequestError(operation, ETIMEDOUT,
								  "no reply from the kernel");
				throw NetlinkRequestError(operation, errno, "");
			}
			if (r.truncated)
				throw NetlinkParseError(operation + ": reply larger than " +
							std::to_string(kReceiveSize) + " bytes");
			if (!r.from_kernel)
				continue;
			walk_messages(received_bytes(receive_buffer_, r), [&](const nlmsghdr &m) {
				// Replies to an earlier request that ended early (an
				// exception mid-dump) are not ours.
				if (m.nlmsg_seq != seq || m.nlmsg_pid != port_id_)
					return true;
				switch (m.nlmsg_type) {
				case NLMSG_NOOP: return true;
				case NLMSG_OVERRUN:
					throw NetlinkRequestError(operation, EOVERFLOW,
								  "netlink overrun");
				case NLMSG_ERROR:
					complete = true; // an ACK, or an error ends it too
					check_error_message(m, operation);
					return false;
				case NLMSG_DONE:
					if (!dump)
						return true;
					complete = true;
					check_done_message(m, operation);
					return false;
				default:
					if (m.nlmsg_flags & NLM_F_DUMP_INTR)
						interrupted = true;
					if (on_reply)
						on_reply(m);
					return true;
				}
			});
		}
	} catch (...) {
		// A dump left half-read would make the kernel refuse the next
		// one (EBUSY): read out the rest, then report.
		if (dump && !complete) {
			try {
				while (!complete) {
					Received r;
					if (receive(fd, receive_buffer_, r, 0) < 0) {
						if (errno == EINTR)
							continue;
						break;
					}
					if (r.truncated || !r.from_kernel)
						continue;
					walk_messages(received_bytes(receive_buffer_, r),
						      [&](const nlmsghdr &m) {
							      if (m.nlmsg_seq == seq &&
								  (m.nlmsg_type == NLMSG_DONE ||
								   m.nlmsg_type == NLMSG_ERROR))
								      complete = true;
							      return !complete;
						      });
				}
			} catch (...) {
			}
		}
		throw;
	}
	return !interrupted;
}

// ---- Rtnetlink -------------------------------------------------------------

Rtnetlink::Rtnetlink() : socket_(NETLINK_ROUTE) {}

template <typename T>
std::vector<T> Rtnetlink::dump(const std::function<NetlinkMessage()> &make_request,
			       const std::function<std::optional<T>(std::span<const uint8_t>)> &parse,
			       const std::string &operation)
{
	for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
		std::vector<T> out;
		NetlinkMessage request = make_request();
		const bool consistent = socket_.request(request, operation, [&](const nlmsghdr &m) {
			try {
				if (auto item = parse(message_bytes(m)))
					out.push_back(std::move(*item));
			} catch (const NetlinkParseError &e) {
				throw NetlinkParseError(operation + ": " + e.what());
			}
		});
		if (consistent)
			return out;
	}
	throw NetlinkRequestError(operation, EAGAIN,
				  "the table kept changing during " + std::to_string(kDumpAttempts) +
					  " dumps");
}

std::vector<Link> Rtnetlink::links()
{
	return dump<Link>(
		[] {
			NetlinkMessage m(RTM_GETLINK, NLM_F_DUMP);
			m.put_header<ifinfomsg>().ifi_family = AF_UNSPEC;
			m.put_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
			return m;
		},
		[](std::span<const uint8_t> bytes) -> std::optional<Link> {
			return parse_link_message(bytes);
		},
		"listing links");
}

std::optional<Link> Rtnetlink::link(uint32_t index)
{
	if (index == 0 || index > uint32_t(INT_MAX))
		return std::nullopt;
	NetlinkMessage m(RTM_GETLINK, 0);
	auto &ifi = m.put_header<ifinfomsg>();
	ifi.ifi_family = AF_UNSPEC;
	ifi.ifi_index = int(index);
	m.put_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	std::optional<Link> out;
	try {
		socket_.request(m, "looking up interface " + std::to_string(index),
				[&](const nlmsghdr &reply) { out = parse_link(reply); });
	} catch (const NetlinkRequestError &e) {
		if (e.error() == ENODEV)
			return std::nullopt;
		throw;
	}
	return out;
}

std::optional<Link> Rtnetlink::link(const std::string &name)
{
	if (name.empty() || name.size() >= IFNAMSIZ)
		throw std::invalid_argument("interface name '" + name + "' must have 1 to " +
					    std::to_string(IFNAMSIZ - 1) + " characters");
	NetlinkMessage m(RTM_GETLINK, 0);
	m.put_header<ifinfomsg>().ifi_family = AF_UNSPEC;
	m.put_string(IFLA_IFNAME, name);
	m.put_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	std::optional<Link> out;
	try {
		socket_.request(m, "looking up interface " + name,
				[&](const nlmsghdr &reply) { out = parse_link(reply); });
	} catch (const NetlinkRequestError &e) {
		if (e.error() == ENODEV)
			return std::nullopt;
		throw;
	}
	return out;
}

std::vector<InterfaceAddress> Rtnetlink::addresses(uint32_t ifindex)
{
	return dump<InterfaceAddress>(
		[ifindex] {
			NetlinkMessage m(RTM_GETADDR, NLM_F_DUMP);
			auto &ifa = m.put_header<ifaddrmsg>();
			ifa.ifa_family = AF_INET6;
			ifa.ifa_index = ifindex; // a filter with strict checking
			return m;
		},
		[ifindex](std::span<const uint8_t> bytes) -> std::optional<InterfaceAddress> {
			auto a = parse_address_message(bytes);
			if (ifindex && a.ifindex != ifindex)
				return std::nullopt; // kernels without strict checking
			return a;
		},
		ifindex ? "listing IPv6 addresses on " + interface_text(ifindex)
			: std::string("listing IPv6 addresses"));
}

void Rtnetlink::write_address(uint16_t flags, uint32_t ifindex, const Ipv6Address &address,
			      uint8_t prefix_length, const AddressOptions &options,
			      const char *verb)
{
	const std::string what = std::string(verb) + " address " +
				 address_text(address, prefix_length);
	if (ifindex == 0)
		throw std::invalid_argument(what + ": no interface given");
	if (prefix_length > 128)
		throw std::invalid_argument(what + ": prefix length exceeds 128");
	if (options.valid_lifetime == 0)
		throw std::invalid_argument(what + ": the valid lifetime must be above 0 "
						   "(delete the address instead)");
	if (options.preferred_lifetime > options.valid_lifetime)
		throw std::invalid_argument(what + ": preferred lifetime " +
					    std::to_string(options.preferred_lifetime) +
					    " s exceeds valid lifetime " +
					    std::to_string(options.valid_lifetime) + " s");
	uint32_t ifa_flags = 0;
	if (options.no_prefix_route)
		ifa_flags |= IFA_F_NOPREFIXROUTE;
	if (options.manage_temporary)
		ifa_flags |= IFA_F_MANAGETEMPADDR;
	if (options.no_dad)
		ifa_flags |= IFA_F_NODAD;

	NetlinkMessage m(RTM_NEWADDR, uint16_t(NLM_F_CREATE | flags));
	auto &ifa = m.put_header<ifaddrmsg>();
	ifa.ifa_family = AF_INET6;
	ifa.ifa_prefixlen = prefix_length;
	ifa.ifa_flags = uint8_t(ifa_flags & 0xff); // the rest only fits IFA_FLAGS
	ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	ifa.ifa_index = ifindex;
	m.put_address(IFA_LOCAL, address);
	m.put_address(IFA_ADDRESS, address);
	m.put_u32(IFA_FLAGS, ifa_flags);
	ifa_cacheinfo ci{};
	ci.ifa_prefered = options.preferred_lifetime;
	ci.ifa_valid = options.valid_lifetime;
	m.put(IFA_CACHEINFO, &ci, sizeof(ci));
	try {
		socket_.request(m, what);
	} catch (const NetlinkRequestError &e) {
		throw NetlinkRequestError(what + " on " + interface_text(ifindex), e.error(),
					  e.kernel_message());
	}
}

void Rtnetlink::add_address(uint32_t ifindex, const Ipv6Address &address, uint8_t prefix_length,
			    const AddressOptions &options)
{
	write_address(NLM_F_EXCL, ifindex, address, prefix_length, options, "adding");
}

void Rtnetlink::replace_address(uint32_t ifindex, const Ipv6Address &address,
				uint8_t prefix_length, const AddressOptions &options)
{
	write_address(NLM_F_REPLACE, ifindex, address, prefix_length, options, "replacing");
}

void Rtnetlink::delete_address(uint32_t ifindex, const Ipv6Address &address, uint8_t prefix_length)
{
	const std::string what = "deleting address " + address_text(address, prefix_length);
	if (prefix_length > 128)
		throw std::invalid_argument(what + ": prefix length exceeds 128");
	NetlinkMessage m(RTM_DELADDR, 0);
	auto &ifa = m.put_header<ifaddrmsg>();
	ifa.ifa_family = AF_INET6;
	ifa.ifa_prefixlen = prefix_length;
	ifa.ifa_index = ifindex;
	m.put_address(IFA_LOCAL, address);
	m.put_address(IFA_ADDRESS, address);
	try {
		socket_.request(m, what);
	} catch (const NetlinkRequestError &e) {
		throw NetlinkRequestError(what + " on " + interface_text(ifindex), e.error(),
					  e.kernel_message());
	}
}

std::vector<Route> Rtnetlink::routes(std::optional<uint32_t> table)
{
	try {
		return dump_routes(table);
	} catch (const NetlinkRequestError &e) {
		// With strict checking, a table nobody created is ENOENT; to a
		// caller it is a table without routes.
		if (table && e.error() == ENOENT)
			return {};
		throw;
	}
}

std::vector<Route> Rtnetlink::dump_routes(std::optional<uint32_t> table)
{
	return dump<Route>(
		[table] {
			NetlinkMessage m(RTM_GETROUTE, NLM_F_DUMP);
			m.put_header<rtmsg>().rtm_family = AF_INET6;
			if (table)
				m.put_u32(RTA_TABLE, *table); // a filter with strict checking
			return m;
		},
		[table](std::span<const uint8_t> bytes) -> std::optional<Route> {
			const nlmsghdr &nlh = checked_header(bytes);
			if (fixed_header<rtmsg>(nlh, "rtmsg").rtm_flags & RTM_F_CLONED)
				return std::nullopt;
			auto r = parse_route(nlh);
			if (table && r.table != *table)
				return std::nullopt;
			return r;
		},
		table ? "listing IPv6 routes of table " + std::to_string(*table)
		      : std::string("listing IPv6 routes"));
}

void Rtnetlink::write_route(uint16_t type, uint16_t flags, const Route &route, const char *verb)
{
	const std::string what = std::string(verb) + " route " + route.destination.str();
	const bool adding = type == RTM_NEWROUTE;
	if (route.destination.length > 128)
		throw std::invalid_argument(what + ": prefix length exceeds 128");
	if (adding && route.type == RouteType::unicast && !route.gateway && !route.ifindex)
		throw std::invalid_argument(what + ": a unicast route needs a gateway or a device");
	if (adding && route.type != RouteType::unicast && route.gateway)
		throw std::invalid_argument(what + ": a " + route_type_name(route.type) +
					    " route takes no gateway");

	NetlinkMessage m(type, flags);
	auto &rtm = m.put_header<rtmsg>();
	rtm.rtm_family = AF_INET6;
	rtm.rtm_dst_len = route.destination.length;
	// rtm_table has 8 bits; RTA_TABLE carries the whole number.
	rtm.rtm_table = route.table < 256 ? uint8_t(route.table) : uint8_t(RT_TABLE_UNSPEC);
	rtm.rtm_protocol = route.protocol;
	rtm.rtm_scope = adding ? RT_SCOPE_UNIVERSE : RT_SCOPE_NOWHERE;
	rtm.rtm_type = uint8_t(route.type);
	if (route.destination.length)
		m.put_address(RTA_DST, route.destination.address);
	if (route.gateway)
		m.put_address(RTA_GATEWAY, *route.gateway);
	if (route.ifindex)
		m.put_u32(RTA_OIF, route.ifindex);
	if (route.metric)
		m.put_u32(RTA_PRIORITY, route.metric);
	m.put_u32(RTA_TABLE, route.table);
	try {
		socket_.request(m, what);
	} catch (const NetlinkRequestError &e) {
		std::string where = what;
		if (route.gateway)
			where += " via " + route.gateway->str();
		if (route.ifindex)
			where += " dev " + interface_text(route.ifindex);
		if (route.type != RouteType::unicast)
			where += " (" + route_type_name(route.type) + ")";
		throw NetlinkRequestError(where, e.error(), e.kernel_message());
	}
}

void Rtnetlink::add_route(const Route &route)
{
	write_route(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, route, "adding");
}

void Rtnetlink::replace_route(const Route &route)
{
	write_route(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, route, "replacing");
}

void Rtnetlink::delete_route(const Route &route)
{
	write_route(RTM_DELROUTE, 0, route, "deleting");
}

std::vector<AddressLabel> Rtnetlink::address_labels()
{
	return dump<AddressLabel>(
		[] {
			NetlinkMessage m(RTM_GETADDRLABEL, NLM_F_DUMP);
			m.put_header<ifaddrlblmsg>().ifal_family = AF_INET6;
			return m;
		},
		[](std::span<const uint8_t> bytes) -> std::optional<AddressLabel> {
			return parse_address_label_message(bytes);
		},
		"listing address labels");
}

void Rtnetlink::write_address_label(uint16_t type, uint16_t flags, const AddressLabel &label,
				    const char *verb)
{
	const std::string what = std::string(verb) + " address label " + label.str();
	// The kernel takes all-ones to mean "no label" and refuses it.
	constexpr uint32_t kDefaultLabel = 0xffffffff;
	if (type == RTM_NEWADDRLABEL && label.label == kDefaultLabel)
		throw std::invalid_argument(what + ": label 4294967295 is reserved");
	if (label.prefix.length > 128)
		throw std::invalid_argument(what + ": prefix length exceeds 128");
	NetlinkMessage m(type, flags);
	auto &ifal = m.put_header<ifaddrlblmsg>();
	ifal.ifal_family = AF_INET6;
	ifal.ifal_prefixlen = label.prefix.length;
	ifal.ifal_index = label.ifindex;
	m.put_address(IFAL_ADDRESS, label.prefix.address);
	// Deleting ignores the label, but the kernel wants a valid one anyway.
	m.put_u32(IFAL_LABEL, label.label == kDefaultLabel ? 0 : label.label);
	try {
		socket_.request(m, what);
	} catch (const NetlinkRequestError &e) {
		std::string where = what;
		if (label.ifindex)
			where += " (dev " + interface_text(label.ifindex) + ")";
		throw NetlinkRequestError(where, e.error(), e.kernel_message());
	}
}

void Rtnetlink::add_address_label(const AddressLabel &label)
{
	write_address_label(RTM_NEWADDRLABEL, NLM_F_CREATE | NLM_F_REPLACE, label, "adding");
}

void Rtnetlink::delete_address_label(const AddressLabel &label)
{
	write_address_label(RTM_DELADDRLABEL, 0, label, "deleting");
}

// ---- RtnetlinkMonitor ------------------------------------------------------

RtnetlinkMonitor::RtnetlinkMonitor(EventLoop &loop,
				   std::function<void(const RtnetlinkEvent &)> on_event,
				   std::function<void()> on_overrun, uint32_t groups)
	: callbacks_(std::make_shared<const Callbacks>(
		  Callbacks{std::move(on_event), std::move(on_overrun)})),
	  receive_buffer_(kReceiveSize / sizeof(uint32_t)), alive_(std::make_shared<bool>(true))
{
	std::unique_ptr<mnl_socket, int (*)(mnl_socket *)> sock(
		mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK), mnl_socket_close);
	if (!sock)
		throw std::system_error(errno, std::generic_category(),
					"opening the rtnetlink notification socket");
	if (mnl_socket_bind(sock.get(), groups, MNL_SOCKET_AUTOPID) < 0)
		throw std::system_error(errno, std::generic_category(),
					"subscribing to rtnetlink notifications");
	// A burst (an interface with many addresses going away, a routing
	// daemon's table load) must not overflow us: ask for a large buffer,
	// beyond rmem_max when privileged.
	const int fd = mnl_socket_get_fd(sock.get());
	request_receive_buffer(fd, 4 << 20);
	socket_ = sock.release();
	try {
		watch_ = loop.watch(fd, IoInterest::read, [this](IoReady) { on_readable(); });
	} catch (...) {
		mnl_socket_close(socket_);
		throw;
	}
}

RtnetlinkMonitor::~RtnetlinkMonitor()
{
	*alive_ = false;
	watch_.reset(); // before the fd goes
	mnl_socket_close(socket_);
}

void RtnetlinkMonitor::on_readable()
{
	// A callback may destroy this monitor; `alive` says when it did, and
	// these copies keep what is running and what we check alive.
	const std::shared_ptr<bool> alive = alive_;
	const std::shared_ptr<const Callbacks> callbacks = callbacks_;
	const int fd = mnl_socket_get_fd(socket_);
	// A bounded batch: the loop is level-triggered and calls again for the
	// rest, so a notification storm cannot starve other watches.
	for (int i = 0; i < 64 && *alive; ++i) {
		Received r;
		if (receive(fd, receive_buffer_, r, MSG_DONTWAIT) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == ENOBUFS) {
				log::warning("rtnetlink notifications were lost (receive buffer "
					     "overflow); resynchronizing");
				if (callbacks->on_overrun)
					callbacks->on_overrun();
				continue;
			}
			log::error(std::string("reading rtnetlink notifications: ") +
				   std::strerror(errno));
			return;
		}
		if (r.truncated) {
			log::warning("an rtnetlink notification larger than " +
				     std::to_string(kReceiveSize) + " bytes was cut; resynchronizing");
			if (callbacks->on_overrun)
				callbacks->on_overrun();
			continue;
		}
		if (!r.from_kernel)
			continue;
		try {
			walk_messages(received_bytes(receive_buffer_, r), [&](const nlmsghdr &m) {
				std::optional<RtnetlinkEvent> event;
				try {
					event = parse_rtnetlink_event(message_bytes(m));
				} catch (const NetlinkParseError &e) {
					log::warning(std::string("ignoring a malformed rtnetlink "
								 "notification: ") +
						     e.what());
					return true;
				}
				if (event && callbacks->on_event)
					callbacks->on_event(*event);
				return *alive; // the buffer is gone with the monitor
			});
		} catch (const NetlinkParseError &e) {
			// The messages before the bad framing were delivered.
			log::warning(std::string("ignoring a malformed rtnetlink datagram: ") +
				     e.what());
		}
	}
}

} // namespace umigame
