#include "umigame/dhcp6d/ra_sender.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>

#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "umigame/log.h"

namespace umigame::dhcp6d {

Seconds monotonic_now()
{
	return std::chrono::duration_cast<Seconds>(EventLoop::now().time_since_epoch());
}

RaSchedule::RaSchedule(Seconds min_interval, Seconds max_interval, std::function<double()> uniform01)
	: min_(min_interval), max_(max_interval), uniform01_(std::move(uniform01))
{
}

void RaSchedule::restart(Seconds now)
{
	initial_left_ = kMaxInitialRtrAdvertisements;
	next_ = now;
	// Never closer than MIN_DELAY_BETWEEN_RAS to the last one (§6.2.6
	// applies to every multicast RA).
	if (last_ && next_ < *last_ + kMinDelayBetweenRas)
		next_ = *last_ + kMinDelayBetweenRas;
}

void RaSchedule::solicited(Seconds now)
{
	Seconds at = now + kMaxRaDelayTime * uniform01_();
	if (last_ && at < *last_ + kMinDelayBetweenRas)
		at = *last_ + kMinDelayBetweenRas;
	if (at < next_)
		next_ = at;
}

void RaSchedule::sent(Seconds now)
{
	last_ = now;
	Seconds interval = min_ + (max_ - min_) * uniform01_();
	if (initial_left_ > 0) {
		initial_left_--;
		if (initial_left_ > 0)
			interval = std::min(interval, kMaxInitialRtrAdvertInterval);
	}
	next_ = now + interval;
}

bool Announcements::update(std::vector<AnnouncedPrefix> prefixes)
{
	auto has = [](const std::vector<AnnouncedPrefix> &list, const Ipv6Prefix &prefix) {
		return std::any_of(list.begin(), list.end(), [&](const AnnouncedPrefix &p) { return p.prefix == prefix; });
	};
	bool changed = false;
	for (const AnnouncedPrefix &old : current_)
		if (!has(prefixes, old.prefix)) {
			std::erase_if(withdrawn_, [&](const Withdrawn &w) { return w.prefix.prefix == old.prefix; });
			withdrawn_.push_back({old, kMaxInitialRtrAdvertisements});
			changed = true;
		}
	for (const AnnouncedPrefix &p : prefixes)
		if (!has(current_, p.prefix)) {
			// Announced again: no longer withdrawn.
			std::erase_if(withdrawn_, [&](const Withdrawn &w) { return w.prefix.prefix == p.prefix; });
			changed = true;
		}
	current_ = std::move(prefixes);
	return changed;
}

std::vector<AnnouncedPrefix> Announcements::withdrawn() const
{
	std::vector<AnnouncedPrefix> out;
	for (const Withdrawn &w : withdrawn_)
		out.push_back(w.prefix);
	return out;
}

void Announcements::sent(Seconds now)
{
	for (Withdrawn &w : withdrawn_)
		w.announcements_left--;
	std::erase_if(withdrawn_, [&](const Withdrawn &w) {
		return w.announcements_left <= 0 && w.prefix.lifetimes.valid_left(now) == 0;
	});
}

RouterAdvertisement build_advertisement(const RaConfig &config, Seconds now,
					const std::vector<AnnouncedPrefix> &prefixes,
					const std::vector<AnnouncedPrefix> &withdrawn,
					const std::vector<Ipv6Address> &dns_servers,
					const std::vector<dhcp6::DomainName> &search_domains,
					std::optional<MacAddress> mac, bool final)
{
	RouterAdvertisement ra;
	ra.preference = config.preference;
	// Without a live prefix we have no upstream to offer: not a default
	// router. §6.2.5: the final RAs say so too.
	bool live = std::any_of(prefixes.begin(), prefixes.end(),
				[&](const AnnouncedPrefix &p) { return p.lifetimes.valid_left(now) > 0; });
	ra.router_lifetime = (live && !final) ? config.router_lifetime : 0;
	// RFC 4191 §2.2: the preference is meaningless with lifetime 0 and
	// MUST then be sent as medium.
	if (ra.router_lifetime == 0)
		ra.preference = RouterPreference::medium;
	ra.source_link_layer = mac;
	ra.mtu = config.mtu;
	for (const AnnouncedPrefix &p : prefixes) {
		PrefixInformation pio{.prefix = p.prefix};
		if (final) {
			// The lease goes with us: deprecated, and gone.
			pio.valid_lifetime = 0;
			pio.preferred_lifetime = 0;
		} else {
			pio.valid_lifetime = p.lifetimes.valid_left(now);
			pio.preferred_lifetime = std::min(p.lifetimes.preferred_left(now), pio.valid_lifetime);
		}
		ra.prefixes.push_back(pio);
	}
	for (const AnnouncedPrefix &p : withdrawn) {
		if (std::any_of(prefixes.begin(), prefixes.end(),
				[&](const AnnouncedPrefix &q) { return q.prefix == p.prefix; }))
			continue;
		// RFC 7084 L-13: a prefix we no longer hold is deprecated
		// (preferred 0), not silently dropped, so hosts stop choosing
		// addresses from it; valid is what is left, at most two hours.
		ra.prefixes.push_back(PrefixInformation{
			.prefix = p.prefix,
			.valid_lifetime = final ? 0 : std::min<uint32_t>(p.lifetimes.valid_left(now), 7200),
			.preferred_lifetime = 0,
		});
	}
	// RFC 8106 §5.1: MaxRtrAdvInterval <= Lifetime <= 2 x MaxRtrAdvInterval;
	// 0 withdraws them.
	uint32_t dns_lifetime = (live && !final) ? 2 * config.max_interval : 0;
	std::vector<Ipv6Address> servers = config.dns_servers;
	for (const Ipv6Address &a : dns_servers)
		if (std::find(servers.begin(), servers.end(), a) == servers.end())
			servers.push_back(a);
	if (!servers.empty())
		ra.rdnss.push_back({dns_lifetime, servers});
	std::vector<dhcp6::DomainName> domains = config.search_domains;
	for (const dhcp6::DomainName &n : search_domains)
		if (std::find(domains.begin(), domains.end(), n) == domains.end())
			domains.push_back(n);
	if (!domains.empty())
		ra.dnssl.push_back({dns_lifetime, domains});
	return ra;
}

namespace {

void set_option(int fd, int level, int name, int value, const std::string &what)
{
	if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0)
		throw std::runtime_error("RA socket: cannot set " + what + ": " + std::strerror(errno));
}

const Ipv6Address kAllNodes{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}};
const Ipv6Address kAllRouters{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02}};

std::function<double()> make_uniform01()
{
	auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
	return [gen] { return std::uniform_real_distribution<double>(0, 1)(*gen); };
}

} // namespace

RaSender::RaSender(EventLoop &loop, uint32_t ifindex, std::string interface, std::optional<MacAddress> mac,
		   RaConfig config)
	: loop_(loop), ifindex_(ifindex), interface_(std::move(interface)), mac_(mac), config_(std::move(config)),
	  schedule_(Seconds(config_.min_interval), Seconds(config_.max_interval), make_uniform01())
{
	fd_ = UniqueFd(::socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6));
	if (!fd_)
		throw std::runtime_error("RA socket on " + interface_ + ": " + std::strerror(errno));
	int fd = fd_.get();
	if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, interface_.c_str(), socklen_t(interface_.size())) != 0)
		throw std::runtime_error("RA socket: cannot bind to " + interface_ + ": " + std::strerror(errno));
	// RFC 4861 §6.1.2/§6.1.1: ND messages carry hop limit 255 so that a
	// receiver knows they were not forwarded.
	set_option(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255, "multicast hop limit");
	set_option(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255, "unicast hop limit");
	set_option(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, int(ifindex_), "multicast interface");
	set_option(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, "multicast loop");
	set_option(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "hop limit reception");
	set_option(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "packet info reception");
	// Only Router Solicitations reach us.
	icmp6_filter filter;
	ICMP6_FILTER_SETBLOCKALL(&filter);
	ICMP6_FILTER_SETPASS(kIcmpRouterSolicitation, &filter);
	if (::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter)) != 0)
		throw std::runtime_error("RA socket: cannot set ICMPv6 filter: " + std::string(std::strerror(errno)));
	// RS go to all-routers (§6.1.1); a forwarding interface is in the group
	// already, join anyway for one that is not.
	ipv6_mreq mreq{};
	std::memcpy(&mreq.ipv6mr_multiaddr, kAllRouters.bytes.data(), 16);
	mreq.ipv6mr_interface = ifindex_;
	if (::setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0 && errno != EADDRINUSE)
		log::warning("RA socket on " + interface_ + ": cannot join ff02::2: " + std::strerror(errno));
	watch_ = loop_.watch(fd, IoInterest::read, [this](IoReady) { on_readable(); });
	schedule_.restart(monotonic_now());
	arm();
}

RaSender::~RaSender() = default;

void RaSender::arm()
{
	if (!config_.enabled) {
		timer_.reset();
		return;
	}
	Seconds wait = std::max(Seconds(0), schedule_.next() - monotonic_now());
	timer_ = loop_.after(std::chrono::duration_cast<EventLoop::Duration>(wait), [this] { on_timer(); });
}

void RaSender::on_timer()
{
	send_now(false);
	schedule_.sent(monotonic_now());
	arm();
}

void RaSender::send_now(bool final)
{
	Seconds now = monotonic_now();
	RouterAdvertisement ra = build_advertisement(config_, now, announcements_.current(),
						     announcements_.withdrawn(), dns_, domains_, mac_, final);
	std::vector<uint8_t> bytes;
	try {
		bytes = ra.serialize();
	} catch (const std::exception &e) {
		counters_.send_errors++;
		log::error("RA on " + interface_ + ": " + e.what());
		return;
	}
	sockaddr_in6 to{};
	to.sin6_family = AF_INET6;
	std::memcpy(&to.sin6_addr, kAllNodes.bytes.data(), 16);
	to.sin6_scope_id = ifindex_;
	if (::sendto(fd_.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr *>(&to), sizeof(to)) < 0) {
		// Typically no link-local address yet (DAD): the next one will do.
		counters_.send_errors++;
		log::debug("RA on " + interface_ + ": " + std::strerror(errno));
		return;
	}
	counters_.advertisements++;
	announcements_.sent(now);
}

void RaSender::on_readable()
{
	for (;;) {
		uint8_t buf[1500];
		alignas(cmsghdr) uint8_t control[256];
		sockaddr_in6 from{};
		iovec iov{buf, sizeof(buf)};
		msghdr msg{};
		msg.msg_name = &from;
		msg.msg_namelen = sizeof(from);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control;
		msg.msg_controllen = sizeof(control);
		ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT);
		if (n < 0)
			return;
		if (msg.msg_flags & MSG_TRUNC) {
			counters_.malformed++;
			continue;
		}
		int hop_limit = -1;
		for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT &&
			    c->cmsg_len >= CMSG_LEN(sizeof(int)))
				std::memcpy(&hop_limit, CMSG_DATA(c), sizeof(int));
		// §6.1.1: hop limit 255, or it came through a router: discard.
		if (hop_limit != 255) {
			counters_.malformed++;
			continue;
		}
		try {
			RouterSolicitation rs = RouterSolicitation::parse({buf, size_t(n)});
			Ipv6Address source;
			std::memcpy(source.bytes.data(), &from.sin6_addr, 16);
			// §6.1.1: from the unspecified address, no SLLA option.
			if (source == Ipv6Address{} && rs.source_link_layer) {
				counters_.malformed++;
				continue;
			}
		} catch (const RaParseError &e) {
			counters_.malformed++;
			log::debug("RS on " + interface_ + " dropped: " + e.what());
			continue;
		}
		counters_.solicitations++;
		if (config_.enabled) {
			schedule_.solicited(monotonic_now());
			arm();
		}
	}
}

void RaSender::update(std::vector<AnnouncedPrefix> prefixes, std::vector<Ipv6Address> dns_servers,
		      std::vector<dhcp6::DomainName> search_domains)
{
	bool changed = announcements_.update(std::move(prefixes));
	changed |= dns_servers != dns_ || search_domains != domains_;
	dns_ = std::move(dns_servers);
	domains_ = std::move(search_domains);
	// §6.2.4: what we announce changed: tell the hosts soon. Lifetimes
	// that merely moved on (a renewal) wait for the next regular RA.
	if (changed) {
		schedule_.restart(monotonic_now());
		arm();
	}
}

void RaSender::set_config(RaConfig config)
{
	config_ = std::move(config);
	schedule_.set_intervals(Seconds(config_.min_interval), Seconds(config_.max_interval));
	schedule_.restart(monotonic_now());
	arm();
}

void RaSender::send_final()
{
	timer_.reset();
	if (config_.enabled)
		send_now(true);
}

nlohmann::json RaSender::status() const
{
	Seconds now = monotonic_now();
	nlohmann::json prefixes = nlohmann::json::array();
	for (const AnnouncedPrefix &p : announcements_.current())
		prefixes.push_back({{"prefix", p.prefix.str()},
				    {"valid", p.lifetimes.valid_left(now)},
				    {"preferred", p.lifetimes.preferred_left(now)}});
	for (const AnnouncedPrefix &p : announcements_.withdrawn())
		prefixes.push_back({{"prefix", p.prefix.str()},
				    {"valid", p.lifetimes.valid_left(now)},
				    {"preferred", 0},
				    {"deprecated", true}});
	double next = (schedule_.next() - now).count();
	return {{"interface", interface_},
		{"enabled", config_.enabled},
		{"prefixes", prefixes},
		{"next_in", std::max(0.0, next)},
		{"counters",
		 {{"advertisements", counters_.advertisements},
		  {"solicitations", counters_.solicitations},
		  {"malformed", counters_.malformed},
		  {"send_errors", counters_.send_errors}}}};
}

} // namespace umigame::dhcp6d
