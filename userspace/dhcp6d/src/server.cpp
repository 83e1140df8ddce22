// The delegating router as a daemon part: the UDP socket on port 547, the
// lease journal, the routes towards delegated prefixes and their expiry.
// The protocol is ServerEngine's; this file moves bytes and keeps the
// kernel in step with the leases.
#include "umigame/dhcp6d/server.h"

#include "umigame/dhcp6d/journal_flusher.h"
#include "umigame/event_loop.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <limits>
#include <random>
#include <stdexcept>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "umigame/dhcp6d/server_engine.h"
#include "umigame/log.h"

namespace umigame::dhcp6d {

using namespace umigame::dhcp6;

namespace {

// Every datagram one loop turn reads at most, so a flood cannot starve the
// other watches; what is left is read at the next turn.
constexpr int kMaxBatch = 256;

int64_t wall_now() { return int64_t(std::time(nullptr)); }

// The wall clock with sub-second precision, for Reconfigure timing.
Seconds wall_seconds()
{
	return std::chrono::duration_cast<Seconds>(std::chrono::system_clock::now().time_since_epoch());
}

std::string errno_text(const std::string &what) { return what + ": " + std::strerror(errno); }

sockaddr_in6 socket_address(const Ipv6Address &address, uint16_t port, uint32_t ifindex)
{
	sockaddr_in6 sa{};
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons(port);
	std::memcpy(&sa.sin6_addr, address.bytes.data(), 16);
	if (address.is_link_local() || address.is_multicast())
		sa.sin6_scope_id = ifindex;
	return sa;
}

std::string interface_name(uint32_t ifindex)
{
	char name[IF_NAMESIZE] = {};
	return if_indextoname(ifindex, name) ? std::string(name) : std::string();
}

// Colon-separated hex like Duid::str(), for any bytes the journal holds.
std::string duid_text(const std::vector<uint8_t> &bytes)
{
	static const char digits[] = "0123456789abcdef";
	std::string out;
	for (uint8_t b : bytes) {
		if (!out.empty())
			out += ':';
		out += digits[b >> 4];
		out += digits[b & 15];
	}
	return out;
}

// RFC 8415 §11.2: DUID-LLT time is seconds since 2000-01-01 00:00 UTC.
constexpr int64_t kDuidEpoch = 946684800;

Duid make_server_duid(Rtnetlink &rtnl, const std::vector<std::string> &preferred)
{
	std::optional<MacAddress> mac;
	for (const std::string &name : preferred)
		if (auto link = rtnl.link(name); link && link->mac && !link->mac->is_zero()) {
			mac = link->mac;
			break;
		}
	if (!mac)
		for (const Link &link : rtnl.links())
			if (link.mac && !link.mac->is_zero()) {
				mac = link.mac;
				break;
			}
	if (mac)
		return Duid::llt(*mac, uint32_t(wall_now() - kDuidEpoch));
	// §11.5: no link-layer address at all: a random UUID.
	std::array<uint8_t, 16> uuid{};
	std::random_device random;
	for (uint8_t &b : uuid)
		b = uint8_t(random());
	uuid[6] = uint8_t((uuid[6] & 0x0f) | 0x40); // RFC 4122 version 4
	uuid[8] = uint8_t((uuid[8] & 0x3f) | 0x80);
	return Duid::uuid(uuid);
}

// The server's DUID must not change across restarts (clients Renew with
// it, §18.2.4): made once and kept in the state directory.
Duid load_or_make_duid(Rtnetlink &rtnl, const ServerConfig &config, const std::string &state_dir)
{
	if (config.duid)
		return *config.duid;
	const std::string path = state_dir + "/server-duid";
	std::ifstream in(path);
	std::string text;
	if (in && std::getline(in, text)) {
		if (auto duid = Duid::from_hex(text))
			return *duid;
		throw std::runtime_error(path + ": not a DUID; delete it to make a new one");
	}
	Duid duid = make_server_duid(rtnl, config.interfaces);
	const std::string tmp = path + ".tmp";
	{
		std::ofstream out(tmp, std::ios::trunc);
		out << duid.str() << "\n";
		if (!out.flush())
			throw std::runtime_error("cannot write " + tmp);
	}
	if (std::rename(tmp.c_str(), path.c_str()) != 0)
		throw std::runtime_error(errno_text("cannot write " + path));
	log::notice("server DUID " + duid.str() + " (kept in " + path + ")");
	return duid;
}

} // namespace

// UDP [::]:547 with the arrival interface and destination of each datagram
// (IPV6_RECVPKTINFO), joined to ff02::1:2 on the served interfaces.
class ServerSocket {
public:
	struct Datagram {
		std::span<const uint8_t> payload; // into the socket's buffer, until the next receive
		Ipv6Address source;
		uint32_t ifindex = 0;
		bool multicast = false;
		bool truncated = false;
	};

	ServerSocket()
	{
		fd_.reset(::socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
		if (!fd_)
			throw std::runtime_error(errno_text("cannot open a UDP socket"));
		int on = 1, off = 0;
		setsockopt(fd_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		if (setsockopt(fd_.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on)) != 0)
			throw std::runtime_error(errno_text("IPV6_RECVPKTINFO"));
		setsockopt(fd_.get(), IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof(off));
		// A client reading 64 KiB replies is not our concern; a burst of
		// Solicits queued behind a commit is: room for a few thousand.
		request_receive_buffer(fd_.get(), 4 << 20);
		sockaddr_in6 any = socket_address({}, kServerPort, 0);
		if (::bind(fd_.get(), reinterpret_cast<sockaddr *>(&any), sizeof(any)) != 0)
			throw std::runtime_error(errno_text("cannot bind [::]:547"));
	}

	int fd() const { return fd_.get(); }

	// RFC 8415 §7.1: All_DHCP_Relay_Agents_and_Servers on the link.
	bool join(uint32_t ifindex, bool join)
	{
		ipv6_mreq mreq{};
		std::memcpy(&mreq.ipv6mr_multiaddr, kAllDhcpRelayAgentsAndServers.bytes.data(), 16);
		mreq.ipv6mr_interface = ifindex;
		int rc = setsockopt(fd_.get(), IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &mreq,
				    sizeof(mreq));
		return rc == 0 || (join && errno == EADDRINUSE);
	}

	// Everything waiting, up to `max` datagrams, in one recvmmsg(2): under
	// load a batch costs one system call, not one per message. Each slot
	// is as large as a UDP payload can be, so nothing legitimate is cut.
	std::vector<Datagram> receive_batch(size_t max)
	{
		max = std::min(max, kSlots);
		std::vector<Datagram> out;
		for (size_t i = 0; i < max; i++) {
			slots_[i].from = {};
			slots_[i].iov = {buffer_.data() + i * kSlotSize, kSlotSize};
			msghdr &msg = headers_[i].msg_hdr;
			msg = {};
			msg.msg_name = &slots_[i].from;
			msg.msg_namelen = sizeof(slots_[i].from);
			msg.msg_iov = &slots_[i].iov;
			msg.msg_iovlen = 1;
			msg.msg_control = slots_[i].control;
			msg.msg_controllen = sizeof(slots_[i].control);
			headers_[i].msg_len = 0;
		}
		int n;
		do
			n = ::recvmmsg(fd_.get(), headers_.data(), unsigned(max), MSG_DONTWAIT, nullptr);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log::warning(errno_text("receiving on port 547"));
			return out;
		}
		out.reserve(size_t(n));
		for (int i = 0; i < n; i++) {
			msghdr &msg = headers_[i].msg_hdr;
			Datagram d;
			d.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
			const uint8_t *data = buffer_.data() + size_t(i) * kSlotSize;
			d.payload = std::span<const uint8_t>(data, std::min<size_t>(headers_[i].msg_len, kSlotSize));
			std::memcpy(d.source.bytes.data(), &slots_[i].from.sin6_addr, 16);
			for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
				if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
				    c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
					in6_pktinfo info;
					std::memcpy(&info, CMSG_DATA(c), sizeof(info));
					d.ifindex = info.ipi6_ifindex;
					d.multicast = info.ipi6_addr.s6_addr[0] == 0xff;
				}
			out.push_back(std::move(d));
		}
		return out;
	}

	// A batch's replies in sendmmsg(2) calls of up to kSlots each; each
	// leaves by the interface its request came in on (the kernel picks
	// the source address there). Returns how many could not be sent.
	size_t send_batch(const std::vector<Outgoing> &replies)
	{
		size_t failed = 0;
		for (size_t first = 0; first < replies.size(); first += kSlots) {
			const size_t count = std::min(kSlots, replies.size() - first);
			for (size_t i = 0; i < count; i++) {
				const Outgoing &out = replies[first + i];
				Slot &slot = slots_[i];
				slot.to = socket_address(out.destination, out.port, out.ifindex);
				slot.iov = {const_cast<uint8_t *>(out.payload.data()), out.payload.size()};
				std::memset(slot.control, 0, sizeof(slot.control));
				msghdr &msg = headers_[i].msg_hdr;
				msg = {};
				msg.msg_name = &slot.to;
				msg.msg_namelen = sizeof(slot.to);
				msg.msg_iov = &slot.iov;
				msg.msg_iovlen = 1;
				msg.msg_control = slot.control;
				msg.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo));
				cmsghdr *c = CMSG_FIRSTHDR(&msg);
				c->cmsg_level = IPPROTO_IPV6;
				c->cmsg_type = IPV6_PKTINFO;
				c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
				in6_pktinfo info{};
				info.ipi6_ifindex = out.ifindex;
				std::memcpy(CMSG_DATA(c), &info, sizeof(info));
			}
			size_t done = 0;
			while (done < count) {
				int n = ::sendmmsg(fd_.get(), headers_.data() + done, unsigned(count - done), MSG_DONTWAIT);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0) {
					// This one cannot go (no route, buffer full): count
					// it and go on with the rest; the client resends.
					log::debug(errno_text("sending to " + replies[first + done].destination.str()));
					failed++;
					done++;
					continue;
				}
				done += size_t(n);
			}
		}
		return failed;
	}

private:
	static constexpr size_t kSlots = 64;
	static constexpr size_t kSlotSize = 65536;
	struct Slot {
		sockaddr_in6 from{}, to{};
		iovec iov{};
		alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo)) + 64];
	};
	UniqueFd fd_;
	// Virtual size 4 MiB; only what datagrams touch becomes resident.
	std::vector<uint8_t> buffer_ = std::vector<uint8_t>(kSlots * kSlotSize);
	std::vector<Slot> slots_ = std::vector<Slot>(kSlots);
	std::vector<mmsghdr> headers_ = std::vector<mmsghdr>(kSlots);
};

Server::Server(EventLoop &loop, Rtnetlink &rtnl, const ServerConfig &config, const std::string &state_dir)
	: loop_(loop), rtnl_(rtnl), config_(config), state_dir_(state_dir)
{
	leases_ = std::make_unique<LeaseStore>(state_dir + "/server-leases");
	flusher_ = std::make_unique<JournalFlusher>(
		loop_, [this](const std::string &lines) { leases_->append_durably(lines); },
		[this](uint64_t ticket) { on_durable(ticket); });
	engine_ = std::make_unique<ServerEngine>(config_, *leases_, load_or_make_duid(rtnl, config_, state_dir));
	socket_ = std::make_unique<ServerSocket>();
	join_interfaces();
	watch_ = loop_.watch(socket_->fd(), IoInterest::read, [this](IoReady) { on_readable(); });
	// Interfaces come and go (a PPP link, a VLAN recreated): listen again
	// and put the routes back when they return.
	links_ = std::make_unique<RtnetlinkMonitor>(
		loop_, [this](const RtnetlinkEvent &event) { on_link_event(event); },
		[this] {
			interface_names_.clear();
			join_interfaces();
			sync_routes();
			update_link_prefixes();
		},
		RtnetlinkMonitor::kLinks | RtnetlinkMonitor::kIpv6Addresses);
	update_link_prefixes();

	// Routes of ours left by the previous run: adopt them, then make them
	// match the journal (re-install the live ones, drop the rest).
	for (const Route &r : rtnl_.routes(RT_TABLE_MAIN))
		if (r.protocol == config_.route_protocol && r.gateway)
			routes_[r.destination] = {*r.gateway, r.ifindex};
	maybe_compact();
	sync_routes();
	// A restart with a changed file is a reload too.
	schedule_reconfigures();
	log::notice("delegating router: " + std::to_string(config_.pools.size()) + " pool(s), " +
		    std::to_string(leases_->size()) + " remembered lease(s), DUID " +
		    engine_->duid().str());
}

Server::~Server()
{
	// Replies already decided go out once their leases are on disk.
	if (flusher_ && !flusher_->drain(std::chrono::seconds(5)))
		log::warning("stopping with lease journal writes outstanding; their replies are not sent");
}

void Server::join_interfaces()
{
	auto &joined = joined_;
	// Leave what is no longer served.
	for (auto it = joined.begin(); it != joined.end();) {
		if (std::find(config_.interfaces.begin(), config_.interfaces.end(), it->first) ==
		    config_.interfaces.end()) {
			socket_->join(it->second, false);
			it = joined.erase(it);
		} else {
			++it;
		}
	}
	bool missing = false;
	for (const std::string &name : config_.interfaces) {
		uint32_t ifindex = if_nametoindex(name.c_str());
		auto have = joined.find(name);
		if (have != joined.end() && have->second == ifindex)
			continue;
		if (ifindex == 0 || !socket_->join(ifindex, true)) {
			// Once per interface, not at every retry.
			if (unavailable_.insert(name).second)
				log::warning("cannot listen on " + name + " yet (" +
					     (ifindex ? std::strerror(errno) : "no such interface") +
					     "); retrying every 2 s");
			missing = true;
			continue;
		}
		unavailable_.erase(name);
		joined[name] = ifindex;
		log::info("listening for DHCPv6 clients on " + name);
	}
	join_retry_.reset();
	if (missing)
		join_retry_ = loop_.after(std::chrono::seconds(2), [this] { join_interfaces(); });
}

const std::string &Server::interface_name_of(uint32_t ifindex)
{
	auto known = interface_names_.find(ifindex);
	if (known == interface_names_.end())
		known = interface_names_.emplace(ifindex, interface_name(ifindex)).first;
	return known->second;
}

void Server::update_link_prefixes()
{
	// Every global address of a served interface names a prefix of its
	// link (a /128 names none); tentative ones too: the prefix is there.
	std::map<std::string, std::vector<Ipv6Prefix>> prefixes;
	std::vector<InterfaceAddress> addresses;
	try {
		addresses = rtnl_.addresses();
	} catch (const std::exception &e) {
		log::warning(std::string("cannot read interface addresses for Confirm: ") + e.what());
		return;
	}
	for (const InterfaceAddress &a : addresses) {
		if (a.scope != RT_SCOPE_UNIVERSE || a.prefix_length == 0 || a.prefix_length >= 128 || a.dad_failed())
			continue;
		const std::string &name = interface_name_of(a.ifindex);
		if (std::find(config_.interfaces.begin(), config_.interfaces.end(), name) == config_.interfaces.end())
			continue;
		Ipv6Prefix p = Ipv6Prefix{a.address, a.prefix_length}.masked();
		auto &list = prefixes[name];
		if (std::find(list.begin(), list.end(), p) == list.end())
			list.push_back(p);
	}
	engine_->set_link_prefixes(std::move(prefixes));
}

void Server::schedule_reconfigures()
{
	if (size_t n = engine_->schedule_reconfigures(wall_seconds()))
		log::notice("telling " + std::to_string(n) +
			    " requesting router(s) to Renew at once (Reconfigure, RFC 8415 §18.3.11): "
			    "their leases are outside the pools now");
	send_due_reconfigures();
}

void Server::send_due_reconfigures()
{
	std::vector<Outgoing> out = engine_->due_reconfigures(wall_seconds());
	std::erase_if(out, [](Outgoing &o) {
		o.ifindex = if_nametoindex(o.interface.c_str());
		return o.ifindex == 0; // the interface is gone: the retransmission may find it back
	});
	if (!out.empty())
		send_errors_ += socket_->send_batch(out);
	arm_reconfigure_timer();
}

void Server::arm_reconfigure_timer()
{
	reconfigure_timer_.reset();
	const std::optional<Seconds> next = engine_->next_reconfigure();
	if (!next)
		return;
	const Seconds wait = std::max(Seconds(0), *next - wall_seconds());
	reconfigure_timer_ = loop_.after(std::chrono::duration_cast<EventLoop::Duration>(wait) +
						 std::chrono::milliseconds(1),
					 [this] { send_due_reconfigures(); });
}

void Server::on_link_event(const RtnetlinkEvent &event)
{
	if (std::holds_alternative<AddressEvent>(event)) {
		update_link_prefixes();
		return;
	}
	const auto *link = std::get_if<LinkEvent>(&event);
	if (!link)
		return;
	interface_names_.clear();
	if (link->removed) {
		// The kernel took its routes and memberships with it.
		std::erase_if(routes_, [&](const auto &r) { return r.second.ifindex == link->link.index; });
		std::erase_if(joined_, [&](const auto &j) { return j.second == link->link.index; });
	}
	join_interfaces();
	sync_routes();
}

void Server::on_readable()
{
	// Group commit: every datagram waiting now is answered from one
	// batch; the journal is written and flushed once, the routes follow,
	// and only then does any reply leave.
	std::vector<Outgoing> replies;
	const int64_t now = wall_now();
	uint64_t read = 0;
	while (read < uint64_t(kMaxBatch)) {
		// Each datagram is handled where recvmmsg put it, before the
		// next receive_batch() reuses the buffer.
		auto datagrams = socket_->receive_batch(size_t(kMaxBatch) - read);
		if (datagrams.empty())
			break;
		read += datagrams.size();
		for (const auto &datagram : datagrams) {
			if (datagram.truncated || datagram.ifindex == 0) {
				// Cut short by our buffer, or no arrival
				// interface: not something to answer.
				engine_->count_dropped(datagram.truncated ? "truncated" : "no arrival interface");
				continue;
			}
			ReceiveContext context;
			context.ifindex = datagram.ifindex;
			context.interface = interface_name_of(datagram.ifindex);
			context.source = datagram.source;
			context.multicast = datagram.multicast;
			if (auto reply = engine_->handle_datagram(datagram.payload, context, now))
				replies.push_back(std::move(*reply));
		}
	}
	if (read == 0)
		return;
	batches_++;
	largest_batch_ = std::max(largest_batch_, read);
	// No Reply leaves before the journal lines it depends on are on
	// disk: this batch's own, and (a Renew may confirm a binding made a
	// moment ago) any handed over earlier and not flushed yet.
	// An Advertise promises nothing (RFC 8415 §18.3.1: no binding is made
	// for it), so it need not wait for the disk; every Reply does.
	std::vector<Outgoing> offers;
	std::erase_if(replies, [&](Outgoing &out) {
		if (out.type != dhcp6::MessageType::Advertise)
			return false;
		offers.push_back(std::move(out));
		return true;
	});
	if (!offers.empty())
		send_errors_ += socket_->send_batch(offers);
	Pending batch;
	batch.changed = leases_->take_changed();
	batch.replies = std::move(replies);
	if (leases_->staged() > 0)
		batch.ticket = flusher_->submit(leases_->take_staged());
	else
		batch.ticket = flusher_->submitted();
	if (batch.ticket <= flusher_->durable() && pending_.empty())
		release(batch);
	else
		pending_.push_back(std::move(batch));
	maybe_compact();
}

void Server::on_durable(uint64_t ticket)
{
	while (!pending_.empty() && pending_.front().ticket <= ticket) {
		release(pending_.front());
		pending_.pop_front();
	}
}

void Server::release(Pending &batch)
{
	// Replies first: the routes take a netlink round trip each, and a
	// requesting router needs longer than that to use its prefix.
	send_errors_ += socket_->send_batch(batch.replies);
	if (!batch.changed.empty())
		sync_changed_routes(batch.changed);
}

std::optional<Server::InstalledRoute> Server::wanted_route(const Lease &l, int64_t now,
							  std::map<std::string, uint32_t> &ifindex_of) const
{
	if (l.key.kind != LeaseKind::prefix || !l.live(now) || !l.next_hop || l.interface.empty())
		return std::nullopt;
	auto known = ifindex_of.find(l.interface);
	if (known == ifindex_of.end())
		known = ifindex_of.emplace(l.interface, if_nametoindex(l.interface.c_str())).first;
	if (known->second == 0)
		return std::nullopt; // the interface is gone; its route went with it
	return InstalledRoute{*l.next_hop, known->second};
}

void Server::set_route(const Ipv6Prefix &prefix, const std::optional<InstalledRoute> &want)
{
	auto have = routes_.find(prefix);
	if (want && have != routes_.end() && have->second == *want)
		return;
	if (!want) {
		if (have == routes_.end())
			return;
		try {
			Route r;
			r.destination = prefix;
			r.gateway = have->second.next_hop;
			r.ifindex = have->second.ifindex;
			r.protocol = config_.route_protocol;
			r.metric = 0; // whatever metric it was installed with
			rtnl_.delete_route(r);
			log::info("route to " + prefix.str() + " removed");
		} catch (const std::exception &e) {
			// ESRCH: somebody removed it already; anything else is
			// worth a line but not a reason to keep trying forever.
			if (const auto *ne = dynamic_cast<const NetlinkRequestError *>(&e); !ne || ne->error() != ESRCH) {
				route_errors_++;
				log::warning(e.what());
			}
		}
		routes_.erase(have);
		return;
	}
	try {
		Route r;
		r.destination = prefix;
		r.gateway = want->next_hop;
		r.ifindex = want->ifindex;
		r.metric = config_.route_metric;
		r.protocol = config_.route_protocol;
		rtnl_.replace_route(r);
		routes_[prefix] = *want;
		log::info("route to " + prefix.str() + " via " + want->next_hop.str() + " dev " +
			  interface_name_of(want->ifindex));
	} catch (const std::exception &e) {
		route_errors_++;
		log::warning(e.what());
	}
}

// Wake up when the next lease runs out, to take its route away.
void Server::arm_expiry(int64_t expires, int64_t now)
{
	if (expires >= next_expiry_ && expiry_timer_.active())
		return;
	next_expiry_ = expires;
	const int64_t wait = std::clamp<int64_t>(expires - now, 0, 3600);
	expiry_timer_ = loop_.after(std::chrono::seconds(wait) + std::chrono::milliseconds(100),
				   [this] { sync_routes(); });
}

// The whole walk: at start, on reload, on link changes and when a lease
// runs out. Batches use sync_changed_routes(), which costs what the batch
// changed, not what the server holds.
void Server::sync_routes()
{
	const int64_t now = wall_now();
	std::map<Ipv6Prefix, InstalledRoute> wanted;
	std::map<std::string, uint32_t> ifindex_of;
	next_expiry_ = std::numeric_limits<int64_t>::max();
	expiry_timer_.reset();
	int64_t next_expiry = std::numeric_limits<int64_t>::max();
	for (const auto &[key, l] : leases_->all()) {
		if (auto want = wanted_route(l, now, ifindex_of)) {
			wanted[l.prefix] = *want;
			next_expiry = std::min(next_expiry, l.expires);
		}
	}
	leases_->take_changed(); // covered by this walk
	std::vector<Ipv6Prefix> gone;
	for (const auto &[prefix, _] : routes_)
		if (!wanted.count(prefix))
			gone.push_back(prefix);
	for (const Ipv6Prefix &prefix : gone)
		set_route(prefix, std::nullopt);
	for (const auto &[prefix, want] : wanted)
		set_route(prefix, want);
	if (next_expiry != std::numeric_limits<int64_t>::max())
		arm_expiry(next_expiry, now);
}

void Server::sync_changed_routes(const std::vector<Ipv6Prefix> &changed)
{
	const int64_t now = wall_now();
	std::map<std::string, uint32_t> ifindex_of;
	for (const Ipv6Prefix &prefix : changed) {
		const Lease *l = leases_->holder(prefix, now);
		std::optional<InstalledRoute> want = l ? wanted_route(*l, now, ifindex_of) : std::nullopt;
		set_route(prefix, want);
		if (want)
			arm_expiry(l->expires, now);
	}
}

void Server::maybe_compact()
{
	// Rewrite the journal once it holds far more lines than leases.
	const uint64_t remembered = leases_->size();
	if (leases_->journal_lines() < 4 * remembered + 10000)
		return;
	// The rewrite replaces the file the flusher appends to: let it finish.
	if (!flusher_->drain(std::chrono::seconds(10)))
		return;
	try {
		leases_->compact(wall_now(), config_.remember_ended);
	} catch (const std::exception &e) {
		log::warning(std::string("lease journal compaction: ") + e.what());
	}
}

void Server::set_upstream_captive_portal(std::optional<std::string> uri)
{
	engine_->set_upstream_captive_portal(std::move(uri));
}

void Server::reconfigure(const ServerConfig &config)
{
	if (config.route_protocol != config_.route_protocol)
		log::warning("reload: route_protocol changes take effect at the next start");
	ServerConfig next = config;
	next.route_protocol = config_.route_protocol;
	engine_->reconfigure(next); // throws before anything changed
	if (next.duid && *next.duid != engine_->duid())
		log::warning("reload: a new server DUID takes effect at the next start");
	config_ = std::move(next);
	join_interfaces();
	sync_routes();
	update_link_prefixes();
	schedule_reconfigures();
}

nlohmann::json Server::status() const
{
	const int64_t now = wall_now();
	nlohmann::json out;
	out["duid"] = engine_->duid().str();
	out["interfaces"] = config_.interfaces;
	out["pools"] = engine_->pools_status(now);
	nlohmann::json leases = nlohmann::json::array();
	uint64_t ended = 0;
	for (const auto &[key, l] : leases_->all()) {
		if (!l.live(now)) {
			ended++;
			continue;
		}
		nlohmann::json j;
		j["duid"] = duid_text(l.key.duid);
		j["iaid"] = l.key.iaid;
		j["kind"] = l.key.kind == LeaseKind::prefix ? "prefix" : "address";
		j[l.key.kind == LeaseKind::prefix ? "prefix" : "address"] =
			l.key.kind == LeaseKind::prefix ? l.prefix.str() : l.prefix.address.str();
		const int64_t preferred_end = l.expires - int64_t(l.valid) + int64_t(l.preferred);
		j["preferred_left"] = std::max<int64_t>(0, preferred_end - now);
		j["valid_left"] = l.expires - now;
		if (l.next_hop)
			j["next_hop"] = l.next_hop->str();
		if (!l.interface.empty())
			j["interface"] = l.interface;
		j["route"] = routes_.count(l.prefix) > 0;
		if (l.key.duid == ServerEngine::declined_owner())
			j["declined"] = true;
		j["reconfigure_key"] = l.reconfigure_key.has_value();
		leases.push_back(std::move(j));
	}
	out["leases"] = std::move(leases);
	out["ended_leases_remembered"] = ended;
	const ServerCounters &c = engine_->counters();
	out["counters"] = {{"received", c.received},
			   {"sent", c.sent},
			   {"dropped", c.dropped},
			   {"malformed", c.malformed},
			   {"reconfigure", c.reconfigure},
			   {"batches", batches_},
			   {"largest_batch", largest_batch_},
			   {"send_errors", send_errors_},
			   {"route_errors", route_errors_}};
	out["reconfigure"] = config_.reconfigure;
	out["reconfigure_pending"] = engine_->reconfigure_status();
	if (config_.relay_allow) {
		nlohmann::json allow = nlohmann::json::array();
		for (const Ipv6Prefix &p : *config_.relay_allow)
			allow.push_back(p.str());
		out["relay_allow"] = std::move(allow);
	} else {
		out["relay_allow"] = "any";
	}
	out["routes"] = routes_.size();
	out["route_protocol"] = config_.route_protocol;
	out["journal"] = {{"path", leases_->path()}, {"lines", leases_->journal_lines()}};
	return out;
}

} // namespace umigame::dhcp6d
