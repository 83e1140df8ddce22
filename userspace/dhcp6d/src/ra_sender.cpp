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

#include "umigame/icmp6_socket.h"
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

namespace {

// What an RA says of a prefix's lifetimes at `now`.
// RFC 9096's limits for what a CE router announces on the LAN.
constexpr uint32_t kNdPreferredLimit = 2700;
constexpr uint32_t kNdValidLimit = 5400;

uint32_t valid_at(const AnnouncedPrefix &p, Seconds now)
{
	return p.steady ? p.lifetimes.valid : p.lifetimes.valid_left(now);
}

uint32_t preferred_at(const AnnouncedPrefix &p, Seconds now)
{
	return std::min(p.steady ? p.lifetimes.preferred : p.lifetimes.preferred_left(now), valid_at(p, now));
}

bool same_prefixes(const std::vector<AnnouncedPrefix> &a, const std::vector<AnnouncedPrefix> &b)
{
	return std::equal(a.begin(), a.end(), b.begin(), b.end(),
			  [](const AnnouncedPrefix &x, const AnnouncedPrefix &y) { return x.prefix == y.prefix; });
}

} // namespace

RouterAdvertisement build_advertisement(const RaConfig &config, Seconds now, const RaContent &content,
					const std::vector<AnnouncedPrefix> &withdrawn, std::optional<MacAddress> mac,
					bool upstream_default, bool final)
{
	RouterAdvertisement ra;
	ra.preference = config.preference;
	// A default router needs somewhere to send the traffic: a live leased
	// prefix (a ULA alone is not enough: RFC 7084 ULA-5) and a default
	// route on the WAN (G-4). §6.2.5: the final RAs say "not a router" too.
	bool live = std::any_of(content.prefixes.begin(), content.prefixes.end(), [&](const AnnouncedPrefix &p) {
		return !p.steady && p.lifetimes.valid_left(now) > 0;
	});
	ra.router_lifetime = (live && upstream_default && !final) ? config.router_lifetime : 0;
	// RFC 4191 §2.2: the preference is meaningless with lifetime 0 and
	// MUST then be sent as medium.
	if (ra.router_lifetime == 0)
		ra.preference = RouterPreference::medium;
	ra.other = config.other_config.value_or(false);
	ra.source_link_layer = mac;
	ra.mtu = config.mtu;
	for (const AnnouncedPrefix &p : content.prefixes) {
		PrefixInformation pio{.prefix = p.prefix, .on_link = config.on_link, .autonomous = config.autonomous};
		if (!final) {
			// The lease goes with us on a final RA: deprecated, and gone.
			pio.valid_lifetime = valid_at(p, now);
			pio.preferred_lifetime = preferred_at(p, now);
			// RFC 9096: a leased prefix is announced for at most
			// ND_VALID_LIMIT / ND_PREFERRED_LIMIT, so that hosts drop it
			// soon after a renumbering the RAs could not tell them about
			// (a CE router that crashed, say).
			if (!p.steady) {
				pio.valid_lifetime = std::min(pio.valid_lifetime, kNdValidLimit);
				pio.preferred_lifetime = std::min(pio.preferred_lifetime, kNdPreferredLimit);
			}
		}
		ra.prefixes.push_back(pio);
	}
	for (const AnnouncedPrefix &p : withdrawn) {
		if (std::any_of(content.prefixes.begin(), content.prefixes.end(),
				[&](const AnnouncedPrefix &q) { return q.prefix == p.prefix; }))
			continue;
		// RFC 7084 L-13: a prefix we no longer hold is deprecated
		// (preferred 0), not silently dropped, so hosts stop choosing
		// addresses from it; valid is what is left, at most two hours.
		ra.prefixes.push_back(PrefixInformation{
			.prefix = p.prefix,
			.valid_lifetime = final ? 0 : std::min<uint32_t>(valid_at(p, now), 7200),
			.preferred_lifetime = 0,
		});
	}
	// RFC 7084 L-3: routes for the delegated prefixes and the ULA, with the
	// router's preference; RFC 4191 §2.3: lifetime 0 takes them away.
	for (const AnnouncedPrefix &r : content.routes)
		ra.routes.push_back({r.prefix, config.preference, final ? 0 : valid_at(r, now)});
	// RFC 8106 §5.1: MaxRtrAdvInterval <= Lifetime <= 2 x MaxRtrAdvInterval;
	// 0 withdraws them.
	uint32_t dns_lifetime = (live && !final) ? 2 * config.max_interval : 0;
	std::vector<Ipv6Address> servers = config.dns_servers;
	for (const Ipv6Address &a : content.dns_servers)
		if (std::find(servers.begin(), servers.end(), a) == servers.end())
			servers.push_back(a);
	if (!servers.empty())
		ra.rdnss.push_back({dns_lifetime, servers});
	std::vector<dhcp6::DomainName> domains = config.search_domains;
	for (const dhcp6::DomainName &n : content.search_domains)
		if (std::find(domains.begin(), domains.end(), n) == domains.end())
			domains.push_back(n);
	if (!domains.empty())
		ra.dnssl.push_back({dns_lifetime, domains});
	// RFC 8910 §2.3: the operator's URI, else the one upstream gave us.
	ra.captive_portal = config.captive_portal ? config.captive_portal : content.captive_portal;
	if (ra.captive_portal && ra.captive_portal->empty())
		ra.captive_portal.reset(); // configured "": announce none
	return ra;
}

namespace {

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
	// Only Router Solicitations reach us.
	fd_ = open_nd_socket(ifindex_, interface_, kIcmpRouterSolicitation);
	int fd = fd_.get();
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
	RouterAdvertisement ra = build_advertisement(config_, now, content_, announcements_.withdrawn(), mac_,
						     upstream_default_, final);
	std::vector<uint8_t> bytes;
	try {
		bytes = ra.serialize();
	} catch (const std::exception &e) {
		counters_.send_errors++;
		log::error("RA on " + interface_ + ": " + e.what());
		return;
	}
	if (!send_nd(fd_.get(), ifindex_, kAllNodes, bytes)) {
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
		auto d = receive_nd(fd_.get(), buf);
		if (!d)
			return;
		// §6.1.1: hop limit 255, or it came through a router: discard.
		if (!d->from_the_link()) {
			counters_.malformed++;
			continue;
		}
		try {
			RouterSolicitation rs = RouterSolicitation::parse(d->icmp);
			// §6.1.1: from the unspecified address, no SLLA option.
			if (d->source == Ipv6Address{} && rs.source_link_layer) {
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

void RaSender::update(RaContent content)
{
	bool changed = announcements_.update(content.prefixes);
	// Lifetimes that merely moved on (a renewal) wait for the next regular
	// RA; new routes, DNS or portal are news.
	changed |= !same_prefixes(content.routes, content_.routes) || content.dns_servers != content_.dns_servers ||
		   content.search_domains != content_.search_domains ||
		   content.captive_portal != content_.captive_portal;
	content_ = std::move(content);
	// §6.2.4: what we announce changed: tell the hosts soon.
	if (changed) {
		schedule_.restart(monotonic_now());
		arm();
	}
}

void RaSender::set_upstream_default(bool available)
{
	if (available == upstream_default_)
		return;
	upstream_default_ = available;
	if (!config_.enabled)
		return;
	Seconds now = monotonic_now();
	if (!available) {
		// RFC 7084 G-5: invalidate ourselves as default router immediately.
		log::notice("RA on " + interface_ + ": no default route upstream, router lifetime 0 now");
		send_now(false);
		schedule_.sent(now);
	} else {
		schedule_.restart(now);
	}
	arm();
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
				    {"valid", valid_at(p, now)},
				    {"preferred", preferred_at(p, now)}});
	for (const AnnouncedPrefix &p : announcements_.withdrawn())
		prefixes.push_back({{"prefix", p.prefix.str()},
				    {"valid", p.lifetimes.valid_left(now)},
				    {"preferred", 0},
				    {"deprecated", true}});
	double next = (schedule_.next() - now).count();
	nlohmann::json routes = nlohmann::json::array();
	for (const AnnouncedPrefix &r : content_.routes)
		routes.push_back(r.prefix.str());
	RouterAdvertisement now_ra =
		build_advertisement(config_, now, content_, announcements_.withdrawn(), mac_, upstream_default_, false);
	return {{"interface", interface_},
		{"enabled", config_.enabled},
		{"upstream_default", upstream_default_},
		{"router_lifetime", now_ra.router_lifetime},
		{"prefixes", prefixes},
		{"routes", routes},
		{"captive_portal", now_ra.captive_portal ? nlohmann::json(*now_ra.captive_portal) : nlohmann::json(nullptr)},
		{"last_sent_ago", schedule_.last_sent() ? nlohmann::json((now - *schedule_.last_sent()).count())
							  : nlohmann::json(nullptr)},
		{"next_in", std::max(0.0, next)},
		{"counters",
		 {{"advertisements", counters_.advertisements},
		  {"solicitations", counters_.solicitations},
		  {"malformed", counters_.malformed},
		  {"send_errors", counters_.send_errors}}}};
}

} // namespace umigame::dhcp6d
