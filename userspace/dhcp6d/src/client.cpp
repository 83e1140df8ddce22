#include "umigame/dhcp6d/client.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "umigame/dhcp6/constants.h"
#include "umigame/dhcp6d/ula.h"
#include "umigame/log.h"

namespace umigame::dhcp6d {

using namespace dhcp6;
using nlohmann::json;

namespace {

constexpr const char *kStateFile = "client.json";

// `managed`: the ISP's RAs set M (RFC 7084 WAA-6).
MachineOptions machine_options(const ClientConfig &c, bool managed)
{
	std::optional<uint32_t> address_iaid = c.address_iaid;
	if (!address_iaid && managed && c.address_when_managed)
		address_iaid = 0;
	return {c.prefixes, address_iaid, c.rapid_commit, c.reconfigure_accept, c.address_selection};
}

std::function<uint32_t()> make_random32()
{
	auto gen = std::make_shared<std::mt19937>(std::random_device{}());
	return [gen] { return uint32_t((*gen)()); };
}

// RFC 8415 §11.2: DUID-LLT time is seconds since 2000-01-01 00:00 UTC,
// mod 2^32.
uint32_t duid_time()
{
	constexpr int64_t kEpoch2000 = 946684800;
	auto now = std::chrono::duration_cast<std::chrono::seconds>(
			   std::chrono::system_clock::now().time_since_epoch())
			   .count();
	return uint32_t(uint64_t(now - kEpoch2000));
}

std::optional<std::string> read_file(const std::string &path)
{
	std::ifstream in(path);
	if (!in)
		return std::nullopt;
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

std::string seconds_text(uint32_t s)
{
	return s == kInfinity ? "infinity" : std::to_string(s);
}

json lifetimes_status(const Lifetimes &l, Seconds now)
{
	uint32_t valid = l.valid_left(now), preferred = l.preferred_left(now);
	return {{"valid", valid == kInfinity ? json("infinity") : json(valid)},
		{"preferred", preferred == kInfinity ? json("infinity") : json(preferred)}};
}

} // namespace

Client::Client(EventLoop &loop, Rtnetlink &rtnl, const ClientConfig &config, const FirewallConfig &firewall,
	       const std::string &state_dir)
	: loop_(loop), rtnl_(rtnl), config_(config), state_dir_(state_dir), firewall_config_(firewall)
{
	auto upstream = rtnl_.link(config_.interface);
	if (!upstream)
		throw std::runtime_error("client: no upstream interface " + config_.interface);
	upstream_index_ = upstream->index;

	// The DUID is made once and kept (RFC 8415 §11: stable across
	// restarts); leases saved by an earlier run are used again.
	Seconds now = monotonic_now();
	auto wall = std::chrono::system_clock::now();
	Duid duid;
	std::optional<Binding> saved;
	if (auto text = read_file(state_dir_ + "/" + kStateFile)) {
		try {
			SavedState s = decode_state(*text, now, wall);
			duid = s.duid;
			saved = std::move(s.binding);
		} catch (const std::exception &e) {
			// The DUID would change; better to say so than to start quietly
			// as a new client.
			throw std::runtime_error(state_dir_ + "/" + kStateFile + ": " + e.what());
		}
	}
	if (duid.empty()) {
		if (upstream->mac && !upstream->mac->is_zero())
			duid = config_.duid_llt ? Duid::llt(*upstream->mac, duid_time()) : Duid::ll(*upstream->mac);
		else {
			// No link-layer address: RFC 6355 DUID-UUID, random.
			std::array<uint8_t, 16> uuid;
			auto r = make_random32();
			for (auto &b : uuid)
				b = uint8_t(r());
			uuid[6] = uint8_t((uuid[6] & 0x0f) | 0x40);
			uuid[8] = uint8_t((uuid[8] & 0x3f) | 0x80);
			duid = Duid::uuid(uuid);
		}
		write_file_atomically(state_dir_, kStateFile, encode_state(duid, Binding{}, now, wall));
		log::notice("client: new DUID " + duid.str());
	}

	socket_ = UniqueFd(::socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
	if (!socket_)
		throw std::runtime_error(std::string("client: socket: ") + std::strerror(errno));
	int fd = socket_.get();
	int one = 1;
	::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, config_.interface.c_str(),
			 socklen_t(config_.interface.size())) != 0)
		throw std::runtime_error("client: cannot bind to " + config_.interface + ": " + std::strerror(errno));
	int ifindex = int(upstream_index_);
	::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex));
	sockaddr_in6 local{};
	local.sin6_family = AF_INET6;
	local.sin6_port = htons(kClientPort);
	if (::bind(fd, reinterpret_cast<sockaddr *>(&local), sizeof(local)) != 0)
		throw std::runtime_error("client: cannot bind port 546 on " + config_.interface + ": " +
					 std::strerror(errno));
	watch_ = loop_.watch(fd, IoInterest::read, [this](IoReady) { on_readable(); });

	if (config_.ula.enabled)
		ula_ = config_.ula.prefix ? *config_.ula.prefix : load_or_create_ula(state_dir_, upstream->mac);
	// The LANs are protected from the start, before any lease (RFC 7084
	// G-3); a table we cannot install is fatal here, not
	// a router left open.
	if (firewall_config_.enabled && !config_.downstream.empty()) {
		firewall_ = std::make_unique<Firewall>(firewall_config_);
		apply_firewall(Binding{}, true);
	}
	if (config_.accept_ra) {
		// RFC 7084 W-3: the WAN default router comes from its RAs; a
		// forwarding interface only takes them with accept_ra = 2.
		std::string path = "/proc/sys/net/ipv6/conf/" + config_.interface + "/accept_ra";
		std::ofstream sysctl(path);
		if (!(sysctl << "2\n") || !sysctl.flush())
			log::warning("client: cannot set " + path + " to 2: the WAN default router must then be "
				     "configured by hand (RFC 7084 W-3)");
	}
	open_ra_senders();
	// Carrier changes upstream (§18.2.12), DAD results of IA_NA addresses
	// (§18.2.8) and the WAN default route (RFC 7084 G-4/G-5).
	upstream_carrier_ = upstream->has_carrier();
	monitor_ = std::make_unique<RtnetlinkMonitor>(
		loop_, [this](const RtnetlinkEvent &e) { on_rtnetlink_event(e); },
		[this] { refresh_upstream_default(); },
		RtnetlinkMonitor::kIpv6Addresses | RtnetlinkMonitor::kLinks | RtnetlinkMonitor::kIpv6Routes);
	refresh_upstream_default();

	// What a previous run installed for the saved leases is ours to
	// update or take away, even for leases that ran out while we were not
	// running (the unreachable routes have no lifetime of their own).
	if (saved) {
		for (const Assignment &a : assign_subnets(config_.downstream, *saved))
			addresses_.insert({downstream_index_.at(a.interface), a.router_address, a.subnet.length});
		for (const LeasedPrefix *p : saved->prefixes())
			routes_.insert(p->prefix);
		if (config_.address_selection)
			for (const AddressSelectionPolicy &row : saved->address_selection)
				labels_.insert(row.prefix);
	}

	machine_ = std::make_unique<ClientMachine>(machine_options(config_, managed_), duid, make_random32());
	if (saved && !saved->empty())
		log::notice("client: rebinding the leases saved by the last run");
	// The first Solicit's random delay starts once the link-local address
	// is usable, when the Router Solicitation leaves too (below).
	machine_->start(now, std::move(saved), false);
	// RFC 7084 W-2, WAA-6: solicit the ISP's routers, read their M flag.
	upstream_routers_ = std::make_unique<UpstreamRouters>(
		loop_, rtnl_, upstream_index_, config_.interface, upstream->mac,
		[this](const UpstreamRouters::Heard &h) { on_upstream_router(h); },
		[this] {
			machine_->link_ready(monotonic_now());
			pump();
		});
	// The ULA and the LAN's RAs do not wait for a lease.
	apply();
	pump();
}

Client::~Client() = default;

void Client::on_upstream_router(const UpstreamRouters::Heard &heard)
{
	if (done_)
		return;
	// RFC 7084 WAA-6: M = 1 means "addresses from DHCPv6": add an IA_NA.
	// M going back to 0 later changes nothing: the address stays until its
	// lease ends.
	if (heard.managed && !managed_) {
		managed_ = true;
		if (!config_.address_iaid && config_.address_when_managed)
			log::notice("client: " + heard.router.str() + " on " + config_.interface +
				    " says M=1: asking for an address too (RFC 7084 WAA-6)");
	}
	// Any RA ends the first Solicit's random delay; after that, the IA_NA
	// waits for the next Renew or Solicit: an RA never restarts an
	// exchange (RFC 8415 §15, §18.2.4).
	machine_->router_advertised(monotonic_now(), machine_options(config_, managed_));
	pump();
}

void Client::open_ra_senders()
{
	std::map<std::string, std::unique_ptr<RaSender>> next;
	downstream_index_.clear();
	for (const Downstream &d : config_.downstream) {
		auto link = rtnl_.link(d.interface);
		if (!link)
			throw std::runtime_error("client: no downstream interface " + d.interface);
		downstream_index_[d.interface] = link->index;
		if (auto it = ra_.find(d.interface); it != ra_.end()) {
			it->second->set_config(config_.ra);
			next[d.interface] = std::move(it->second);
		} else {
			next[d.interface] =
				std::make_unique<RaSender>(loop_, link->index, d.interface, link->mac, config_.ra);
		}
	}
	for (auto &[name, sender] : ra_)
		if (sender)
			sender->send_final(); // no longer ours to announce on
	ra_ = std::move(next);
	for (auto &[name, sender] : ra_)
		sender->set_upstream_default(upstream_default_);
}

void Client::apply_firewall(const Binding &binding, bool must)
{
	FirewallView view;
	view.wan = config_.interface;
	for (const Downstream &d : config_.downstream)
		view.lans.push_back(d.interface);
	for (const LeasedPrefix *p : binding.prefixes()) {
		view.lan_prefixes.push_back(p->prefix);
		view.delegated = true;
	}
	if (ula_)
		view.lan_prefixes.push_back(*ula_);
	try {
		firewall_->apply(view);
	} catch (const std::exception &e) {
		if (must)
			throw;
		firewall_errors_++;
		log::error(std::string("client: ") + e.what() + " (the previous table stays in force)");
	}
}

void Client::refresh_upstream_default()
{
	bool found = false;
	try {
		for (const Route &r : rtnl_.routes())
			if (r.destination.length == 0 && r.type == RouteType::unicast && r.ifindex == upstream_index_)
				found = true;
	} catch (const std::exception &e) {
		log::error(std::string("client: reading the routes: ") + e.what());
		return;
	}
	// G-5 also counts a lost WAN link as losing the default router.
	bool available = found && upstream_carrier_;
	if (available == upstream_default_)
		return;
	upstream_default_ = available;
	log::notice(std::string("client: ") + (available ? "a" : "no") + " default route on " + config_.interface +
		    (available ? ": advertising ourselves as default router" : ": router lifetime 0 downstream"));
	for (auto &[name, sender] : ra_)
		sender->set_upstream_default(available);
}

void Client::on_readable()
{
	for (;;) {
		uint8_t buf[65536];
		sockaddr_in6 from{};
		socklen_t len = sizeof(from);
		ssize_t n = ::recvfrom(socket_.get(), buf, sizeof(buf), MSG_DONTWAIT, reinterpret_cast<sockaddr *>(&from),
				       &len);
		if (n < 0)
			break;
		machine_->receive(monotonic_now(), {buf, size_t(n)});
	}
	pump();
}

void Client::transmit(const Message &m)
{
	std::vector<uint8_t> bytes;
	try {
		bytes = m.serialize();
	} catch (const std::exception &e) {
		send_errors_++;
		log::error(std::string("client: cannot encode ") + message_type_name(m.type) + ": " + e.what());
		return;
	}
	// RFC 8415 §13: to All_DHCP_Relay_Agents_and_Servers on the upstream link.
	sockaddr_in6 to{};
	to.sin6_family = AF_INET6;
	to.sin6_port = htons(kServerPort);
	std::memcpy(&to.sin6_addr, kAllDhcpRelayAgentsAndServers.bytes.data(), 16);
	to.sin6_scope_id = upstream_index_;
	if (::sendto(socket_.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr *>(&to), sizeof(to)) < 0) {
		// No link-local address yet, link down: the retransmission retries.
		send_errors_++;
		log::debug(std::string("client: sending ") + message_type_name(m.type) + ": " + std::strerror(errno));
		return;
	}
	log::debug(std::string("client: sent ") + message_type_name(m.type));
}

void Client::pump()
{
	for (const Message &m : machine_->take_outgoing())
		transmit(m);
	if (machine_->take_changed()) {
		apply();
		save();
	}
	if (done_ && machine_->finished()) {
		timer_.reset();
		auto done = std::move(done_);
		done_ = nullptr;
		done();
		return;
	}
	if (auto d = machine_->deadline()) {
		Seconds wait = std::max(Seconds(0), *d - monotonic_now());
		// Round up: the loop's timers never fire early, and firing just
		// before the deadline would only re-arm.
		auto delay = std::chrono::ceil<std::chrono::milliseconds>(wait);
		timer_ = loop_.after(delay, [this] {
			machine_->tick(monotonic_now());
			pump();
		});
	} else {
		timer_.reset();
	}
}

void Client::apply()
{
	Seconds now = monotonic_now();
	const Binding &b = machine_->binding();
	auto attempt = [&](const std::string &what, auto &&op) {
		try {
			op();
			return true;
		} catch (const std::exception &e) {
			apply_errors_++;
			log::error("client: " + what + ": " + e.what());
			return false;
		}
	};

	problems_.clear();
	std::vector<Assignment> assignments = assign_subnets(config_.downstream, b, &problems_);
	for (const std::string &p : problems_)
		log::warning("client: " + p);
	// RFC 7084 ULA-1/L-2: the ULA's /64s, whatever the lease does.
	std::vector<Assignment> ula_assignments;
	if (ula_)
		ula_assignments = assign_ula_subnets(config_.downstream, *ula_,
						     {config_.ula.preferred_lifetime, config_.ula.valid_lifetime, now});

	// Our address in each piece, lifetimes following the lease.
	std::set<std::tuple<uint32_t, Ipv6Address, uint8_t>> addresses;
	for (const Assignment &a : assignments) {
		uint32_t ifindex = downstream_index_.at(a.interface);
		AddressOptions o;
		o.valid_lifetime = a.lifetimes.valid_left(now);
		o.preferred_lifetime = std::min(a.lifetimes.preferred_left(now), o.valid_lifetime);
		if (o.valid_lifetime == 0)
			continue;
		if (attempt("adding " + a.router_address.str() + " on " + a.interface,
			    [&] { rtnl_.replace_address(ifindex, a.router_address, a.subnet.length, o); }))
			addresses.insert({ifindex, a.router_address, a.subnet.length});
	}
	for (const Assignment &a : ula_assignments) {
		uint32_t ifindex = downstream_index_.at(a.interface);
		if (attempt("adding " + a.router_address.str() + " on " + a.interface,
			    [&] { rtnl_.replace_address(ifindex, a.router_address, a.subnet.length); }))
			addresses.insert({ifindex, a.router_address, a.subnet.length});
	}
	// IA_NA addresses on the upstream interface: /128, the server's link
	// prefix is not ours to route (RFC 8415 §18.2.10.1).
	for (const IaBinding &ia : b.ias)
		for (const LeasedAddress &l : ia.addresses) {
			AddressOptions o;
			o.valid_lifetime = l.lifetimes.valid_left(now);
			o.preferred_lifetime = std::min(l.lifetimes.preferred_left(now), o.valid_lifetime);
			o.no_prefix_route = true;
			if (o.valid_lifetime == 0)
				continue;
			if (attempt("adding " + l.address.str() + " on " + config_.interface,
				    [&] { rtnl_.replace_address(upstream_index_, l.address, 128, o); }))
				addresses.insert({upstream_index_, l.address, 128});
		}
	for (const auto &old : addresses_)
		if (!addresses.count(old))
			attempt("removing " + std::get<1>(old).str(), [&] {
				rtnl_.delete_address(std::get<0>(old), std::get<1>(old), std::get<2>(old));
			});
	addresses_ = std::move(addresses);

	// The whole delegated prefix is unreachable but for the pieces in use:
	// unassigned space must never follow the default route upstream
	// (RFC 7084 WPD-5: such packets are dropped, not forwarded).
	// RFC 4193 §4.3: the rest of the ULA /48 likewise stays inside.
	std::set<Ipv6Prefix> routes;
	std::vector<Ipv6Prefix> unreachable;
	for (const LeasedPrefix *p : b.prefixes())
		unreachable.push_back(p->prefix);
	if (ula_)
		unreachable.push_back(*ula_);
	for (const Ipv6Prefix &prefix : unreachable) {
		Route r;
		r.destination = prefix;
		r.type = RouteType::unreachable;
		r.protocol = RTPROT_DHCP;
		if (attempt("adding unreachable route " + prefix.str(), [&] { rtnl_.replace_route(r); }))
			routes.insert(prefix);
	}
	for (const Ipv6Prefix &old : routes_)
		if (!routes.count(old))
			attempt("removing unreachable route " + old.str(), [&] {
				Route r;
				r.destination = old;
				r.type = RouteType::unreachable;
				r.protocol = RTPROT_DHCP;
				rtnl_.delete_route(r);
			});
	routes_ = std::move(routes);

	// RFC 7078 §3: the policy's labels into the kernel's RFC 6724 table
	// (`ip addrlabel`; the kernel keeps no precedence), for as long as the
	// lease lasts.
	std::set<Ipv6Prefix> labels;
	if (config_.address_selection && !b.empty())
		for (const AddressSelectionPolicy &row : b.address_selection)
			if (attempt("adding address label " + row.prefix.str(), [&] {
				    rtnl_.add_address_label({row.prefix, row.label, 0});
			    }))
				labels.insert(row.prefix);
	for (const Ipv6Prefix &old : labels_)
		if (!labels.count(old))
			attempt("removing address label " + old.str(),
				[&] { rtnl_.delete_address_label({old, 0, 0}); });
	labels_ = std::move(labels);

	// What each downstream interface announces.
	for (auto &[name, sender] : ra_) {
		RaContent content;
		for (const Assignment &a : assignments)
			if (a.interface == name)
				content.prefixes.push_back({a.subnet, a.lifetimes});
		for (const Assignment &a : ula_assignments)
			if (a.interface == name)
				content.prefixes.push_back({a.subnet, a.lifetimes, true});
		// RFC 7084 L-3: the whole delegated prefixes and the ULA are
		// reachable through us, whether or not the WAN works.
		for (const LeasedPrefix *p : b.prefixes())
			content.routes.push_back({p->prefix, p->lifetimes});
		if (ula_)
			content.routes.push_back(
				{*ula_, {config_.ula.preferred_lifetime, config_.ula.valid_lifetime, now}, true});
		content.dns_servers = b.dns_servers;
		content.search_domains = b.search_domains;
		content.captive_portal = b.captive_portal;
		sender->update(std::move(content));
	}
	if (firewall_)
		apply_firewall(b, false);
	if (portal_listener_ && b.captive_portal != portal_told_) {
		portal_told_ = b.captive_portal;
		portal_listener_(portal_told_);
	}
}

void Client::save()
{
	if (keep_saved_)
		return; // stopping without Release: the file keeps the leases
	try {
		write_file_atomically(state_dir_, kStateFile,
				      encode_state(machine_->duid(), machine_->binding(), monotonic_now(),
						   std::chrono::system_clock::now()));
	} catch (const std::exception &e) {
		log::error(std::string("client: cannot save state: ") + e.what());
	}
}

void Client::on_rtnetlink_event(const RtnetlinkEvent &event)
{
	if (const RouteEvent *r = std::get_if<RouteEvent>(&event)) {
		if (r->route.destination.length == 0)
			refresh_upstream_default();
		return;
	}
	if (const LinkEvent *l = std::get_if<LinkEvent>(&event)) {
		if (l->removed || l->link.index != upstream_index_)
			return;
		bool carrier = l->link.is_up() && l->link.has_carrier();
		if (carrier && !upstream_carrier_ && !done_) {
			log::notice("client: " + config_.interface + " is up again: rebinding (RFC 8415 §18.2.12)");
			machine_->link_up(monotonic_now());
			upstream_routers_->restart();
			upstream_carrier_ = carrier;
			refresh_upstream_default();
			pump();
			return;
		}
		upstream_carrier_ = carrier;
		refresh_upstream_default();
		return;
	}
	const AddressEvent *a = std::get_if<AddressEvent>(&event);
	if (!a || a->removed || a->address.ifindex != upstream_index_ || !a->address.dad_failed())
		return;
	// RFC 8415 §18.2.8: a leased address that is a duplicate is declined.
	for (const IaBinding &ia : machine_->binding().ias)
		for (const LeasedAddress &l : ia.addresses)
			if (l.address == a->address.address) {
				log::warning("client: " + l.address.str() + " failed DAD: declining it");
				machine_->decline(monotonic_now(), l.address);
				pump();
				return;
			}
}

void Client::reconfigure(const ClientConfig &config, const FirewallConfig &firewall)
{
	if (config.interface != config_.interface)
		log::warning("client: a new upstream interface takes effect at the next start");
	ClientConfig next = config;
	next.interface = config_.interface;
	if (next.ula != config_.ula) {
		ula_.reset();
		if (next.ula.enabled)
			ula_ = next.ula.prefix ? *next.ula.prefix
					       : load_or_create_ula(state_dir_, rtnl_.link(upstream_index_)->mac);
	}
	config_ = next;
	firewall_config_ = firewall;
	if (!firewall_config_.enabled || config_.downstream.empty()) {
		if (firewall_) {
			drop_firewall();
			log::notice("client: firewall off, table ip6 " + std::string(kFirewallTable) + " removed");
		}
	} else if (firewall_) {
		firewall_->set_config(firewall_config_);
	} else {
		firewall_ = std::make_unique<Firewall>(firewall_config_);
	}
	open_ra_senders();
	machine_->reconfigure(monotonic_now(), machine_options(config_, managed_));
	apply();
	pump();
}

void Client::on_captive_portal(std::function<void(const std::optional<std::string> &)> listener)
{
	portal_listener_ = std::move(listener);
	portal_told_ = machine_->binding().captive_portal;
	if (portal_listener_)
		portal_listener_(portal_told_);
}

void Client::shutdown(std::function<void()> done)
{
	done_ = std::move(done);
	if (config_.release_on_stop) {
		machine_->release(monotonic_now());
	} else {
		// RFC 9096 WPD-9: the leases stay ours; the state file keeps them
		// for the next start, which rebinds them (§18.2.12).
		save();
		keep_saved_ = true;
		machine_->stop_keeping_leases();
	}
	// The binding is gone the moment Release starts (§18.2.7): pump()
	// takes the pieces off the downstream interfaces, and the RA senders
	// announce them deprecated with router lifetime 0 (RFC 4861 §6.2.5).
	machine_->take_changed();
	// Everything we installed goes, the ULA's address and route too (the
	// final RA below withdraws its prefix from the hosts).
	ula_.reset();
	apply();
	save();
	for (auto &[name, sender] : ra_)
		sender->send_final();
	// Nothing of ours is left to protect: the table goes with us.
	if (firewall_)
		drop_firewall();
	pump();
}

void Client::drop_firewall()
{
	try {
		firewall_->remove();
	} catch (const std::exception &e) {
		log::error(std::string("client: ") + e.what());
	}
	firewall_.reset();
}

json Client::status() const
{
	Seconds now = monotonic_now();
	const Binding &b = machine_->binding();
	json ias = json::array();
	for (const IaBinding &ia : b.ias) {
		json leases = json::array();
		for (const LeasedPrefix &p : ia.prefixes) {
			json l = lifetimes_status(p.lifetimes, now);
			l["prefix"] = p.prefix.str();
			if (p.excluded)
				l["excluded"] = p.excluded->str();
			leases.push_back(l);
		}
		for (const LeasedAddress &a : ia.addresses) {
			json l = lifetimes_status(a.lifetimes, now);
			l["address"] = a.address.str();
			leases.push_back(l);
		}
		ias.push_back({{"type", ia.prefix_delegation ? "IA_PD" : "IA_NA"},
			       {"iaid", ia.iaid},
			       {"t1", seconds_text(ia.t1)},
			       {"t2", seconds_text(ia.t2)},
			       {"leases", leases}});
	}
	json downstream = json::array();
	for (const Assignment &a : assign_subnets(config_.downstream, b))
		downstream.push_back({{"interface", a.interface},
				      {"subnet", a.subnet.str()},
				      {"address", a.router_address.str()},
				      {"from", a.delegated.str()}});
	json ra = json::array();
	for (const auto &[name, sender] : ra_)
		ra.push_back(sender->status());
	const ClientCounters &c = machine_->counters();
	auto in = [&](Seconds at) {
		return std::isinf(at.count()) ? json(nullptr) : json(std::max(0.0, (at - now).count()));
	};
	bool holding = !b.empty();
	json out = {{"interface", config_.interface},
		{"phase", phase_name(machine_->phase())},
		{"duid", machine_->duid().str()},
		{"server", b.server.empty() ? json(nullptr) : json(b.server.str())},
		{"renew_in", holding ? in(machine_->renew_at()) : json(nullptr)},
		{"rebind_in", holding ? in(machine_->rebind_at()) : json(nullptr)},
		{"ias", ias},
		{"reconfigure_key", b.reconfigure_key.has_value()},
		{"downstream", downstream},
		{"problems", problems_},
		{"ula", ula_ ? json(ula_->str()) : json(nullptr)},
		{"firewall", firewall_ ? firewall_->status() : json(nullptr)},
		{"upstream_routers", upstream_routers_ ? upstream_routers_->status() : json(nullptr)},
		{"upstream_default", upstream_default_},
		{"ra", ra},
		{"counters",
		 {{"sent", c.sent},
		  {"received", c.received},
		  {"malformed", c.malformed},
		  {"ignored", c.ignored},
		  {"solicit", c.solicits},
		  {"request", c.requests},
		  {"renew", c.renews},
		  {"rebind", c.rebinds},
		  {"release", c.releases},
		  {"decline", c.declines},
		  {"information_request", c.information_requests},
		  {"reconfigure_accepted", c.reconfigure_accepted},
		  {"reconfigure_rejected", c.reconfigure_rejected},
		  {"send_errors", send_errors_},
		  {"apply_errors", apply_errors_},
		  {"firewall_errors", firewall_errors_}}}};
	put_server_options(b, out);
	return out;
}

} // namespace umigame::dhcp6d
