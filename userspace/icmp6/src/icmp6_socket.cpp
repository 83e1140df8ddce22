#include "umigame/icmp6_socket.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace umigame {

namespace {

std::string where(const Icmp6SocketOptions &o)
{
	return o.interface.empty() ? std::string("ICMPv6 socket") : "ICMPv6 socket on " + o.interface;
}

void set_option(int fd, int level, int name, int value, const Icmp6SocketOptions &o, const char *what)
{
	if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0)
		throw std::runtime_error(where(o) + ": cannot set " + what + ": " + std::strerror(errno));
}

} // namespace

UniqueFd open_icmp6_socket(const Icmp6SocketOptions &o)
{
	UniqueFd fd(::socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6));
	if (!fd)
		throw std::runtime_error(where(o) + ": " + std::strerror(errno));
	int s = fd.get();
	if (!o.interface.empty() &&
	    ::setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, o.interface.c_str(), socklen_t(o.interface.size())) != 0)
		throw std::runtime_error("ICMPv6 socket: cannot bind to " + o.interface + ": " + std::strerror(errno));
	set_option(s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, o.hop_limit, o, "multicast hop limit");
	set_option(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, o.hop_limit, o, "unicast hop limit");
	if (o.multicast_ifindex)
		set_option(s, IPPROTO_IPV6, IPV6_MULTICAST_IF, int(o.multicast_ifindex), o, "multicast interface");
	set_option(s, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, o, "multicast loop");
	set_option(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, o, "hop limit reception");
	set_option(s, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, o, "packet info reception");
	if (o.receive_hop_options)
		set_option(s, IPPROTO_IPV6, IPV6_RECVHOPOPTS, 1, o, "hop-by-hop options reception");
	if (o.router_alert) {
		// Next header (filled in by the kernel), length 0 (8 bytes), Router
		// Alert (type 5, length 2, value), PadN of length 0.
		uint8_t hbh[8] = {0, 0, 5, 2, uint8_t(*o.router_alert >> 8), uint8_t(*o.router_alert), 1, 0};
		if (::setsockopt(s, IPPROTO_IPV6, IPV6_HOPOPTS, hbh, sizeof(hbh)) != 0)
			throw std::runtime_error(where(o) + ": cannot set the Router Alert option: " +
						 std::strerror(errno));
	}
	if (o.receive_buffer > 0)
		request_receive_buffer(s, o.receive_buffer);
	icmp6_filter filter;
	ICMP6_FILTER_SETBLOCKALL(&filter);
	for (uint8_t t : o.pass_types)
		ICMP6_FILTER_SETPASS(t, &filter);
	if (::setsockopt(s, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter)) != 0)
		throw std::runtime_error(where(o) + ": cannot set the ICMPv6 filter: " + std::strerror(errno));
	return fd;
}

UniqueFd open_nd_socket(uint32_t ifindex, const std::string &interface, uint8_t pass_type)
{
	Icmp6SocketOptions o;
	o.interface = interface;
	o.multicast_ifindex = ifindex;
	o.hop_limit = 255; // RFC 4861 §6.1: so that a receiver knows it was not forwarded
	o.pass_types = {pass_type};
	return open_icmp6_socket(o);
}

bool hop_options_have_router_alert(std::span<const uint8_t> h)
{
	if (h.size() < 2)
		return false;
	size_t len = (size_t(h[1]) + 1) * 8;
	if (len > h.size())
		return false;
	for (size_t i = 2; i < len;) {
		uint8_t type = h[i];
		if (type == 0) { // Pad1
			i++;
			continue;
		}
		if (i + 2 > len || i + 2 + h[i + 1] > len)
			return false;
		if (type == 5 && h[i + 1] == 2)
			return true;
		i += 2 + h[i + 1];
	}
	return false;
}

std::optional<Icmp6Datagram> receive_icmp6(int fd, std::span<uint8_t> buffer)
{
	alignas(cmsghdr) uint8_t control[512];
	sockaddr_in6 from{};
	iovec iov{buffer.data(), buffer.size()};
	msghdr msg{};
	msg.msg_name = &from;
	msg.msg_namelen = sizeof(from);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control;
	msg.msg_controllen = sizeof(control);
	ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
	if (n < 0)
		return std::nullopt;
	Icmp6Datagram d;
	d.icmp = buffer.first(std::min(size_t(n), buffer.size()));
	d.truncated = msg.msg_flags & MSG_TRUNC;
	std::memcpy(d.source.bytes.data(), &from.sin6_addr, 16);
	for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != IPPROTO_IPV6)
			continue;
		size_t data_len = c->cmsg_len - CMSG_LEN(0);
		if (c->cmsg_type == IPV6_HOPLIMIT && data_len >= sizeof(int)) {
			std::memcpy(&d.hop_limit, CMSG_DATA(c), sizeof(int));
		} else if (c->cmsg_type == IPV6_PKTINFO && data_len >= sizeof(in6_pktinfo)) {
			in6_pktinfo pi;
			std::memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			std::memcpy(d.destination.bytes.data(), &pi.ipi6_addr, 16);
			d.ifindex = pi.ipi6_ifindex;
		} else if (c->cmsg_type == IPV6_HOPOPTS) {
			d.router_alert = hop_options_have_router_alert({CMSG_DATA(c), data_len});
		}
	}
	return d;
}

bool send_icmp6(int fd, uint32_t ifindex, const Ipv6Address &to, std::span<const uint8_t> icmp,
		const std::optional<Ipv6Address> &source)
{
	sockaddr_in6 dest{};
	dest.sin6_family = AF_INET6;
	std::memcpy(&dest.sin6_addr, to.bytes.data(), 16);
	dest.sin6_scope_id = ifindex;
	iovec iov{const_cast<uint8_t *>(icmp.data()), icmp.size()};
	msghdr msg{};
	msg.msg_name = &dest;
	msg.msg_namelen = sizeof(dest);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
	if (source) {
		// The source address and the interface both, so that a multicast
		// destination leaves where asked and from the address asked.
		msg.msg_control = control;
		msg.msg_controllen = sizeof(control);
		cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
		in6_pktinfo pi{};
		std::memcpy(&pi.ipi6_addr, source->bytes.data(), 16);
		pi.ipi6_ifindex = ifindex;
		std::memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
	return ::sendmsg(fd, &msg, 0) >= 0;
}

} // namespace umigame
