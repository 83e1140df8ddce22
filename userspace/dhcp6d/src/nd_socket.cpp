#include "umigame/dhcp6d/nd_socket.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace umigame::dhcp6d {

namespace {

void set_option(int fd, int level, int name, int value, const std::string &interface, const char *what)
{
	if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0)
		throw std::runtime_error("ND socket on " + interface + ": cannot set " + what + ": " +
					 std::strerror(errno));
}

} // namespace

UniqueFd open_nd_socket(uint32_t ifindex, const std::string &interface, uint8_t pass_type)
{
	UniqueFd fd(::socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6));
	if (!fd)
		throw std::runtime_error("ND socket on " + interface + ": " + std::strerror(errno));
	int s = fd.get();
	if (::setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(), socklen_t(interface.size())) != 0)
		throw std::runtime_error("ND socket: cannot bind to " + interface + ": " + std::strerror(errno));
	// RFC 4861 §6.1: ND messages carry hop limit 255 so that a receiver
	// knows they were not forwarded.
	set_option(s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255, interface, "multicast hop limit");
	set_option(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255, interface, "unicast hop limit");
	set_option(s, IPPROTO_IPV6, IPV6_MULTICAST_IF, int(ifindex), interface, "multicast interface");
	set_option(s, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, interface, "multicast loop");
	set_option(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, interface, "hop limit reception");
	icmp6_filter filter;
	ICMP6_FILTER_SETBLOCKALL(&filter);
	ICMP6_FILTER_SETPASS(pass_type, &filter);
	if (::setsockopt(s, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter)) != 0)
		throw std::runtime_error("ND socket on " + interface +
					 ": cannot set the ICMPv6 filter: " + std::strerror(errno));
	return fd;
}

std::optional<NdDatagram> receive_nd(int fd, std::span<uint8_t> buffer)
{
	alignas(cmsghdr) uint8_t control[256];
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
	NdDatagram d;
	d.icmp = buffer.first(size_t(n));
	d.truncated = msg.msg_flags & MSG_TRUNC;
	std::memcpy(d.source.bytes.data(), &from.sin6_addr, 16);
	for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int)))
			std::memcpy(&d.hop_limit, CMSG_DATA(c), sizeof(int));
	return d;
}

bool send_nd(int fd, uint32_t ifindex, const Ipv6Address &to, std::span<const uint8_t> icmp)
{
	sockaddr_in6 dest{};
	dest.sin6_family = AF_INET6;
	std::memcpy(&dest.sin6_addr, to.bytes.data(), 16);
	dest.sin6_scope_id = ifindex;
	return ::sendto(fd, icmp.data(), icmp.size(), 0, reinterpret_cast<sockaddr *>(&dest), sizeof(dest)) >= 0;
}

} // namespace umigame::dhcp6d
