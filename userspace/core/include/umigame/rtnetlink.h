// rtnetlink for umigame daemons, on libmnl: links, IPv6 addresses, IPv6
// routes and the address-selection policy table (`ip addrlabel`), plus a
// notification socket that feeds the event loop.
//
// Layers, lowest first:
//   NetlinkMessage   builds one request (bounded buffer, checked puts)
//   NetlinkSocket    one request/reply exchange at a time: sequence numbers,
//                    ACKs, dumps, NLMSG_ERROR + extended ACK -> exceptions;
//                    any netlink protocol (NETLINK_XFRM for IKE, too)
//   Rtnetlink        typed operations on NETLINK_ROUTE
//   RtnetlinkMonitor multicast notifications, parsed, through the EventLoop
//
// Every message from the kernel is parsed with its lengths checked: message
// lengths against the datagram, fixed headers against the message, each
// attribute against the message and against its expected size
// (mnl_attr_validate). What does not fit is a NetlinkParseError; the parse_*
// functions are public so tests and fuzzers can feed them bytes.
//
// Requests block: rtnetlink answers from the sender's context, so the reply
// is queued by the time send returns. A receive timeout still bounds every
// exchange, so a daemon never hangs on a kernel that does not answer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "umigame/event_loop.h"
#include "umigame/net.h"

struct mnl_socket;

namespace umigame {

// The kernel refused a request. what() reads "OPERATION: REASON", where the
// reason is the kernel's extended-ACK message when it sent one.
class NetlinkRequestError : public std::runtime_error {
public:
	NetlinkRequestError(std::string operation, int error, std::string kernel_message);
	const std::string &operation() const { return operation_; }
	int error() const { return error_; } // positive errno
	const std::string &kernel_message() const { return kernel_message_; }

private:
	std::string operation_;
	int error_;
	std::string kernel_message_;
};

// A message from the kernel (or a test) whose lengths or attribute sizes do
// not add up.
class NetlinkParseError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

// One request message. NLM_F_REQUEST is always set; NetlinkSocket fills in
// the sequence number and adds NLM_F_ACK to everything but dumps. A put that
// does not fit throws std::length_error.
class NetlinkMessage {
public:
	static constexpr size_t kCapacity = 8192;

	NetlinkMessage(uint16_t type, uint16_t flags);

	// The fixed header after nlmsghdr (ifaddrmsg, rtmsg, ...), zeroed. Put
	// it once, before any attribute.
	template <typename T> T &put_header() { return *static_cast<T *>(put_header_bytes(sizeof(T))); }
	void *put_header_bytes(size_t size);

	void put(uint16_t type, const void *data, size_t size);
	void put_u8(uint16_t type, uint8_t value) { put(type, &value, sizeof(value)); }
	void put_u32(uint16_t type, uint32_t value) { put(type, &value, sizeof(value)); }
	void put_string(uint16_t type, const std::string &value); // NUL-terminated
	void put_address(uint16_t type, const Ipv6Address &address)
	{
		put(type, address.bytes.data(), address.bytes.size());
	}
	// Nested attributes: put() between begin and end lands inside.
	nlattr *begin_nested(uint16_t type);
	void end_nested(nlattr *nest);

	nlmsghdr *header() { return reinterpret_cast<nlmsghdr *>(buffer_.data()); }
	const nlmsghdr *header() const { return reinterpret_cast<const nlmsghdr *>(buffer_.data()); }
	std::span<const uint8_t> bytes() const;

private:
	std::vector<uint32_t> buffer_; // uint32_t: netlink's 4-byte alignment
};

// A request socket for one netlink protocol.
class NetlinkSocket {
public:
	explicit NetlinkSocket(int protocol = NETLINK_ROUTE,
			       std::chrono::milliseconds reply_timeout = std::chrono::seconds(5));
	~NetlinkSocket();
	NetlinkSocket(const NetlinkSocket &) = delete;
	NetlinkSocket &operator=(const NetlinkSocket &) = delete;

	// Send `message` and read the kernel's answer: data messages of this
	// exchange go to on_reply, stale replies (another sequence number) are
	// skipped, the exchange ends with the ACK (or, for a dump — flags
	// NLM_F_DUMP — with NLMSG_DONE). An error from the kernel throws
	// NetlinkRequestError naming `operation` ("adding route ...").
	// Returns false when the kernel flagged a dump as interrupted by a
	// concurrent change (NLM_F_DUMP_INTR): its parts may be inconsistent and
	// the caller should dump again.
	bool request(NetlinkMessage &message, const std::string &operation,
		     const std::function<void(const nlmsghdr &)> &on_reply = {});

	uint32_t port_id() const { return port_id_; }

private:
	// Read replies until the exchange is complete; see request().
	bool read_replies(uint32_t seq, bool dump, const std::string &operation,
			  const std::function<void(const nlmsghdr &)> &on_reply);

	mnl_socket *socket_ = nullptr;
	uint32_t port_id_ = 0;
	uint32_t seq_ = 0;
	std::vector<uint32_t> receive_buffer_;
};

// Calls fn(attribute) for each attribute that must tile `bytes` exactly
// (a nested attribute's payload, Link::info_data); throws NetlinkParseError
// naming `context` at a length that lies or stray bytes at the end.
void for_each_attribute(std::span<const uint8_t> bytes, const std::string &context,
			const std::function<void(const nlattr &)> &fn);

// "Forever" for address lifetimes (INFINITY_LIFE_TIME).
constexpr uint32_t kInfiniteLifetime = 0xffffffff;

struct Link {
	uint32_t index = 0;
	std::string name;
	uint32_t flags = 0; // IFF_*
	uint32_t mtu = 0;
	uint8_t operstate = 0; // IF_OPER_*
	std::optional<MacAddress> mac; // Ethernet-like links only
	std::string kind;              // IFLA_INFO_KIND: "veth", "bridge"; empty for hardware
	std::vector<uint8_t> address;  // IFLA_ADDRESS as sent, any length (an ISATAP or sit
	                               // link's IPv4 locator: 4 bytes)
	std::vector<uint8_t> info_data; // IFLA_INFO_DATA's payload, the kind's own attributes

	bool is_up() const;       // administratively up (IFF_UP)
	bool has_carrier() const; // lower layer up (IFF_LOWER_UP)
};

// An IPv6 address on an interface, as the kernel reports it.
struct InterfaceAddress {
	uint32_t ifindex = 0;
	Ipv6Address address;
	uint8_t prefix_length = 0;
	uint8_t scope = 0;  // RT_SCOPE_*
	uint32_t flags = 0; // IFA_F_*, all 32 bits (IFA_FLAGS)
	// Seconds left, as of the message; kInfiniteLifetime for forever.
	uint32_t valid_lifetime = kInfiniteLifetime;
	uint32_t preferred_lifetime = kInfiniteLifetime;

	bool tentative() const;  // DAD still running: not usable yet
	bool dad_failed() const; // a duplicate answered: never usable
	bool deprecated() const; // preferred lifetime over
	std::string str() const; // "2001:db8::1/64"
};

// How to add an address. Lifetimes are in seconds; preferred must not
// exceed valid.
struct AddressOptions {
	uint32_t valid_lifetime = kInfiniteLifetime;
	uint32_t preferred_lifetime = kInfiniteLifetime;
	// IFA_F_NOPREFIXROUTE: no on-link route for the prefix (a delegated
	// prefix is routed by us, not made on-link on the interface).
	bool no_prefix_route = false;
	// IFA_F_MANAGETEMPADDR: the kernel derives RFC 8981 temporary addresses
	// from this one (with prefix length 64).
	bool manage_temporary = false;
	// IFA_F_NODAD: usable at once, skipping duplicate address detection.
	bool no_dad = false;
};

// Route types (RTN_*) umigame installs; dumps may show others (the values
// are the kernel's, so any rtm_type fits).
enum class RouteType : uint8_t {
	unicast = RTN_UNICAST,
	blackhole = RTN_BLACKHOLE,     // silently dropped
	unreachable = RTN_UNREACHABLE, // dropped with ICMPv6 unreachable
	prohibit = RTN_PROHIBIT,       // dropped with ICMPv6 administratively prohibited
};
std::string route_type_name(RouteType type);

struct Route {
	Ipv6Prefix destination;
	RouteType type = RouteType::unicast;
	std::optional<Ipv6Address> gateway;
	uint32_t ifindex = 0; // output device; 0: none
	// RTA_PRIORITY. On add, 0 lets the kernel pick (1024 for IPv6); on
	// delete, 0 matches any.
	uint32_t metric = 0;
	// RTPROT_*: who installed it. A daemon marks its routes with its own
	// (RTPROT_DHCP for dhcp6d) to find them again after a restart. On
	// delete, 0 matches any.
	uint8_t protocol = RTPROT_STATIC;
	uint32_t table = RT_TABLE_MAIN;

	// "unreachable 2001:db8::/48 via fe80::1 dev 3 metric 1024 proto 4 table 254"
	std::string str() const;
};

// One entry of the RFC 6724 policy table's labels (`ip addrlabel`).
struct AddressLabel {
	Ipv6Prefix prefix;
	uint32_t label = 0;
	uint32_t ifindex = 0; // 0: any interface
	std::string str() const;
};

// The bytes of a message handed to NetlinkSocket::request's on_reply (its
// length already checked against what was received), for the parse_*
// functions below.
inline std::span<const uint8_t> message_bytes(const nlmsghdr &message)
{
	return {reinterpret_cast<const uint8_t *>(&message), message.nlmsg_len};
}

// Parse one message. `message` must be 4-byte aligned and hold exactly the
// message (nlmsg_len is checked against its size). Throws NetlinkParseError.
Link parse_link_message(std::span<const uint8_t> message);
InterfaceAddress parse_address_message(std::span<const uint8_t> message);
Route parse_route_message(std::span<const uint8_t> message);
AddressLabel parse_address_label_message(std::span<const uint8_t> message);

struct LinkEvent {
	bool removed = false; // RTM_DELLINK; otherwise new or changed (up/down, carrier)
	Link link;
};
struct AddressEvent {
	bool removed = false; // RTM_DELADDR; otherwise new or changed (DAD done, lifetimes)
	InterfaceAddress address;
};
struct RouteEvent {
	bool removed = false;
	Route route;
};
using RtnetlinkEvent = std::variant<LinkEvent, AddressEvent, RouteEvent>;

// A notification as an event; std::nullopt for what umigame does not track
// (other families, cloned/cached routes, other message types).
std::optional<RtnetlinkEvent> parse_rtnetlink_event(std::span<const uint8_t> message);

// Typed NETLINK_ROUTE operations. Errors name the operation and the
// interface ("adding address 2001:db8::1/64 on veth0: File exists").
class Rtnetlink {
public:
	Rtnetlink();

	std::vector<Link> links();
	std::optional<Link> link(uint32_t index);          // nullopt: no such link
	std::optional<Link> link(const std::string &name); // nullopt: no such link

	// IPv6 addresses, of one interface or (ifindex 0) all.
	std::vector<InterfaceAddress> addresses(uint32_t ifindex = 0);
	// Fails (EEXIST) when the address is already there.
	void add_address(uint32_t ifindex, const Ipv6Address &address, uint8_t prefix_length,
			 const AddressOptions &options = {});
	// Adds, or updates lifetimes and flags of an existing address (renewals).
	void replace_address(uint32_t ifindex, const Ipv6Address &address, uint8_t prefix_length,
			     const AddressOptions &options = {});
	void delete_address(uint32_t ifindex, const Ipv6Address &address, uint8_t prefix_length);

	// IPv6 routes of one table (default main) or, with std::nullopt, all.
	// Cloned (cached) routes are not listed.
	std::vector<Route> routes(std::optional<uint32_t> table = RT_TABLE_MAIN);
	void add_route(const Route &route);     // fails (EEXIST) when present
	void replace_route(const Route &route); // adds or replaces
	// Matches destination and table, and gateway, device, metric, protocol
	// where they are set.
	void delete_route(const Route &route);

	std::vector<AddressLabel> address_labels();
	void add_address_label(const AddressLabel &label); // NLM_F_REPLACE: updates the label
	// Matches prefix and ifindex; the label is not compared.
	void delete_address_label(const AddressLabel &label);

	// For requests this class does not wrap.
	NetlinkSocket &socket() { return socket_; }

private:
	void write_address(uint16_t flags, uint32_t ifindex, const Ipv6Address &address,
			   uint8_t prefix_length, const AddressOptions &options, const char *verb);
	void write_route(uint16_t type, uint16_t flags, const Route &route, const char *verb);
	void write_address_label(uint16_t type, uint16_t flags, const AddressLabel &label,
				 const char *verb);
	std::vector<Route> dump_routes(std::optional<uint32_t> table);
	template <typename T>
	std::vector<T> dump(const std::function<NetlinkMessage()> &make_request,
			    const std::function<std::optional<T>(std::span<const uint8_t>)> &parse,
			    const std::string &operation);

	NetlinkSocket socket_;
};

// Notifications, parsed, delivered from the event loop. A malformed message
// is logged and skipped. When the kernel dropped notifications because the
// receive buffer overflowed (ENOBUFS), on_overrun runs: the daemon's view is
// stale and it should dump what it tracks again.
class RtnetlinkMonitor {
public:
	static constexpr uint32_t kLinks = RTMGRP_LINK;
	static constexpr uint32_t kIpv6Addresses = RTMGRP_IPV6_IFADDR;
	static constexpr uint32_t kIpv6Routes = RTMGRP_IPV6_ROUTE;
	static constexpr uint32_t kAllGroups = kLinks | kIpv6Addresses | kIpv6Routes;

	RtnetlinkMonitor(EventLoop &loop, std::function<void(const RtnetlinkEvent &)> on_event,
			 std::function<void()> on_overrun = {}, uint32_t groups = kAllGroups);
	~RtnetlinkMonitor();
	RtnetlinkMonitor(const RtnetlinkMonitor &) = delete;
	RtnetlinkMonitor &operator=(const RtnetlinkMonitor &) = delete;

private:
	void on_readable();

	struct Callbacks {
		std::function<void(const RtnetlinkEvent &)> on_event;
		std::function<void()> on_overrun;
	};

	mnl_socket *socket_ = nullptr;
	// Shared with the running dispatch: a callback that destroys the
	// monitor must not destroy itself while it runs.
	std::shared_ptr<const Callbacks> callbacks_;
	std::vector<uint32_t> receive_buffer_;
	// Cleared by the destructor: on_event may destroy the monitor, and the
	// receive loop must then stop touching it.
	std::shared_ptr<bool> alive_;
	FdWatch watch_;
};

} // namespace umigame
