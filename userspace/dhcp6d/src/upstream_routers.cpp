#include "umigame/dhcp6d/upstream_routers.h"

#include <cerrno>
#include <cstring>
#include <random>

#include "umigame/log.h"

namespace umigame::dhcp6d {

namespace {

// RFC 4861 §10 host constants.
constexpr auto kMaxRtrSolicitationDelay = std::chrono::milliseconds(1000);
constexpr auto kRtrSolicitationInterval = std::chrono::seconds(4);
constexpr unsigned kMaxRtrSolicitations = 3;
// No usable link-local address yet (DAD running): look again soon, for a
// while; a link that never gets one is solicited again when it comes up.
// (The first DHCPv6 Solicit waits for it too: look often.)
constexpr auto kLinkLocalRetry = std::chrono::milliseconds(200);
constexpr unsigned kLinkLocalRetries = 150;

const Ipv6Address kAllRouters{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02}};

} // namespace

std::optional<RouterAdvertisement> valid_upstream_advertisement(const NdDatagram &d)
{
	if (!d.from_the_link() || !d.source.is_link_local())
		return std::nullopt;
	return RouterAdvertisement::parse(d.icmp);
}

UpstreamRouters::UpstreamRouters(EventLoop &loop, Rtnetlink &rtnl, uint32_t ifindex, std::string interface,
				 std::optional<MacAddress> mac, std::function<void(const Heard &)> listener,
				 std::function<void()> link_ready)
	: loop_(loop), rtnl_(rtnl), ifindex_(ifindex), interface_(std::move(interface)), mac_(mac),
	  listener_(std::move(listener)), link_ready_(std::move(link_ready))
{
	fd_ = open_nd_socket(ifindex_, interface_, kIcmpRouterAdvertisement);
	watch_ = loop_.watch(fd_.get(), IoInterest::read, [this](IoReady) { on_readable(); });
	// RFC 7084 W-2 at start: as soon as the link-local address is usable.
	// RFC 4861 §6.3.7 asks for no second random delay after the one DAD
	// took, and an ISP router answering at once then tells its M flag
	// before the first Solicit leaves (WAA-6).
	begin(EventLoop::Duration(0));
}

void UpstreamRouters::restart()
{
	// §6.3.7: a random delay first, so that routers whose link came back
	// together do not solicit together.
	static thread_local std::mt19937 gen{std::random_device{}()};
	auto delay = std::uniform_int_distribution<int64_t>(0, kMaxRtrSolicitationDelay.count())(gen);
	begin(std::chrono::milliseconds(delay));
}

void UpstreamRouters::begin(EventLoop::Duration first)
{
	solicitations_left_ = kMaxRtrSolicitations;
	link_local_waits_ = 0;
	link_ready_told_ = false;
	schedule(first);
}

void UpstreamRouters::schedule(EventLoop::Duration wait)
{
	timer_ = loop_.after(wait, [this] { solicit(); });
}

bool UpstreamRouters::link_local_usable()
{
	bool ready = false;
	try {
		for (const InterfaceAddress &a : rtnl_.addresses(ifindex_))
			ready |= a.address.is_link_local() && !a.tentative() && !a.dad_failed();
	} catch (const std::exception &e) {
		log::warning("client: reading " + interface_ + "'s addresses: " + e.what());
	}
	return ready;
}

void UpstreamRouters::tell_link_ready()
{
	if (link_ready_told_)
		return;
	link_ready_told_ = true;
	if (link_ready_)
		link_ready_();
}

void UpstreamRouters::solicit()
{
	if (solicitations_left_ == 0 && link_ready_told_)
		return;
	// RFC 7084 W-2: from the link-local address, once DAD has finished.
	if (!link_local_usable()) {
		if (++link_local_waits_ <= kLinkLocalRetries) {
			schedule(kLinkLocalRetry);
		} else {
			log::warning("client: " + interface_ + " has no usable link-local address: no Router "
				     "Solicitation sent (RFC 7084 W-2)");
			solicitations_left_ = 0;
			tell_link_ready();
		}
		return;
	}
	// (An RA heard while DAD ran ended the solicitations already.)
	if (solicitations_left_ > 0) {
		RouterSolicitation rs{.source_link_layer = mac_}; // §4.1: SLLA with a source address
		if (send_nd(fd_.get(), ifindex_, kAllRouters, rs.serialize()))
			counters_.solicitations++;
		else
			log::debug("RS on " + interface_ + ": " + std::strerror(errno));
		if (--solicitations_left_ > 0)
			schedule(kRtrSolicitationInterval);
	}
	tell_link_ready();
}

void UpstreamRouters::on_readable()
{
	for (;;) {
		uint8_t buf[1500];
		auto d = receive_nd(fd_.get(), buf);
		if (!d)
			return;
		std::optional<RouterAdvertisement> ra;
		try {
			ra = valid_upstream_advertisement(*d);
		} catch (const RaParseError &e) {
			log::debug("RA on " + interface_ + " dropped: " + e.what());
		}
		if (!ra) {
			counters_.malformed++;
			continue;
		}
		counters_.advertisements++;
		// §6.3.7: a valid RA ends the solicitations (while DAD still runs,
		// the timer goes on looking for the link-local address).
		solicitations_left_ = 0;
		if (link_ready_told_)
			timer_.reset();
		last_ = Heard{d->source, ra->managed, ra->other, ra->router_lifetime};
		if (listener_)
			listener_(*last_);
	}
}

nlohmann::json UpstreamRouters::status() const
{
	nlohmann::json out = {{"solicitations", counters_.solicitations},
			      {"advertisements", counters_.advertisements},
			      {"malformed", counters_.malformed}};
	if (last_)
		out["last"] = {{"router", last_->router.str()},
			       {"managed", last_->managed},
			       {"other", last_->other},
			       {"router_lifetime", last_->router_lifetime}};
	return out;
}

} // namespace umigame::dhcp6d
