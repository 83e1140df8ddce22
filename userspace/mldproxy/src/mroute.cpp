#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/mroute6.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "umigame/mldproxy/mroute.h"

namespace umigame::mldproxy {

namespace {

std::runtime_error failure(const std::string &what)
{
	return std::runtime_error("ip6mr: " + what + ": " + std::strerror(errno));
}

sockaddr_in6 sockaddr_of(const Ipv6Address &a)
{
	sockaddr_in6 s{};
	s.sin6_family = AF_INET6;
	std::memcpy(&s.sin6_addr, a.bytes.data(), 16);
	return s;
}

} // namespace

std::optional<Upcall> parse_upcall(std::span<const uint8_t> bytes)
{
	if (bytes.size() < sizeof(mrt6msg) || bytes[0] != 0)
		return std::nullopt;
	mrt6msg m;
	std::memcpy(&m, bytes.data(), sizeof(m));
	Upcall u;
	u.type = m.im6_msgtype;
	u.mif = m.im6_mif;
	std::memcpy(u.source.bytes.data(), &m.im6_src, 16);
	std::memcpy(u.group.bytes.data(), &m.im6_dst, 16);
	return u;
}

Mroute::Mroute(int fd) : fd_(fd)
{
	int one = 1;
	if (::setsockopt(fd_, IPPROTO_IPV6, MRT6_INIT, &one, sizeof(one)) != 0)
		throw failure(errno == EADDRINUSE ? "MRT6_INIT (another multicast router runs here)" : "MRT6_INIT");
}

Mroute::~Mroute()
{
	::setsockopt(fd_, IPPROTO_IPV6, MRT6_DONE, nullptr, 0);
}

void Mroute::add_mif(uint16_t mif, uint32_t ifindex)
{
	mif6ctl c{};
	c.mif6c_mifi = mif;
	c.vifc_threshold = 1;
	c.mif6c_pifi = uint16_t(ifindex);
	if (::setsockopt(fd_, IPPROTO_IPV6, MRT6_ADD_MIF, &c, sizeof(c)) != 0)
		throw failure("MRT6_ADD_MIF " + std::to_string(mif) + " (ifindex " + std::to_string(ifindex) + ")");
}

void Mroute::set_mfc(const Ipv6Address &source, const Ipv6Address &group, uint16_t parent,
		     const std::set<uint16_t> &out)
{
	mf6cctl c{};
	c.mf6cc_origin = sockaddr_of(source);
	c.mf6cc_mcastgrp = sockaddr_of(group);
	c.mf6cc_parent = parent;
	IF_ZERO(&c.mf6cc_ifset);
	for (uint16_t m : out)
		IF_SET(m, &c.mf6cc_ifset);
	if (::setsockopt(fd_, IPPROTO_IPV6, MRT6_ADD_MFC, &c, sizeof(c)) != 0)
		throw failure("MRT6_ADD_MFC (" + source.str() + ", " + group.str() + ")");
}

void Mroute::delete_mfc(const Ipv6Address &source, const Ipv6Address &group, uint16_t parent)
{
	mf6cctl c{};
	c.mf6cc_origin = sockaddr_of(source);
	c.mf6cc_mcastgrp = sockaddr_of(group);
	c.mf6cc_parent = parent;
	if (::setsockopt(fd_, IPPROTO_IPV6, MRT6_DEL_MFC, &c, sizeof(c)) != 0 && errno != ENOENT)
		throw failure("MRT6_DEL_MFC (" + source.str() + ", " + group.str() + ")");
}

std::optional<MfcCounters> Mroute::counters(const Ipv6Address &source, const Ipv6Address &group) const
{
	sioc_sg_req6 r{};
	r.src = sockaddr_of(source);
	r.grp = sockaddr_of(group);
	if (::ioctl(fd_, SIOCGETSGCNT_IN6, &r) != 0)
		return std::nullopt;
	return MfcCounters{r.pktcnt, r.bytecnt, r.wrong_if};
}

} // namespace umigame::mldproxy
