// The IKEv2 engine: how datagrams find their IKE SA, IKE_SA_INIT as
// responder (cookies, §2.6), and the operator's commands. The exchanges of
// one IKE SA are in ike_sa.cpp.
#include "umigame/iked/engine.h"

#include <sys/socket.h>

#include <algorithm>

#include "umigame/iked/engine_util.h"
#include "umigame/log.h"

namespace umigame::iked {

using namespace umigame::ike;

std::string Endpoint::str() const
{
	return addr.family == AF_INET6 ? "[" + addr.str() + "]:" + std::to_string(port)
				       : addr.str() + ":" + std::to_string(port);
}

nlohmann::json Counters::json() const
{
	return {{"received", received},
		{"sent", sent},
		{"retransmits", retransmits},
		{"malformed", malformed},
		{"bad_spi", bad_spi},
		{"bad_message_id", bad_message_id},
		{"integrity_failed", integrity_failed},
		{"unsupported_critical", unsupported_critical},
		{"invalid_major", invalid_major},
		{"cookies_sent", cookies_sent},
		{"cookie_rejected", cookie_rejected},
		{"no_proposal", no_proposal},
		{"auth_failed", auth_failed},
		{"ts_unacceptable", ts_unacceptable},
		{"ike_established", ike_established},
		{"child_established", child_established},
		{"child_rekeys", child_rekeys},
		{"ike_rekeys", ike_rekeys},
		{"collisions", collisions},
		{"dead_peers", dead_peers},
		{"fragments_received", fragments_received},
		{"fragments_sent", fragments_sent},
		{"internal_errors", internal_errors}};
}

Engine::Engine(EventLoop &loop, Environment &env, Kernel &kernel) : loop_(loop), env_(env), kernel_(kernel)
{
	// §2.6: "the secret ... SHOULD be changed periodically".
	cookie_roll_ = loop_.every(std::chrono::minutes(5), [this] { cookies_.roll(); });
	volume_check_ = loop_.every(kVolumeCheckInterval, [this] { check_volumes(); });
}

void Engine::check_volumes()
{
	// rekey_bytes / rekey_packets: xfrm's soft limits say when xfrm
	// decrypts, but packets the XDP program decrypts are counted only by
	// umigame.ko, whose SA has no soft limit: read the counters here.
	std::vector<std::pair<IkeSa *, ChildSa *>> due;
	for (auto &[spi, sa] : sas_) {
		if (sa->state() != IkeSa::State::established)
			continue;
		for (auto &c : sa->children_) {
			const ChildSaSpec &s = c->spec;
			if (c->state != ChildSa::State::installed || !c->config || (!s.soft_bytes && !s.soft_packets))
				continue;
			auto usage = kernel_.inbound_usage(s);
			if (usage && ((s.soft_bytes && usage->bytes >= s.soft_bytes) ||
				      (s.soft_packets && usage->packets >= s.soft_packets)))
				due.emplace_back(sa.get(), c.get());
		}
	}
	for (auto [sa, child] : due) {
		log::info(child->spec.connection + "/" + child->spec.child + ": SA " + hex32(child->spec.spi_in) +
			  " passed its rekey volume (" + std::to_string(child->spec.soft_packets) + " packets / " +
			  std::to_string(child->spec.soft_bytes) + " bytes, xfrm and umigame.ko together), rekeying");
		sa->create_child(*child->config, child);
	}
}

Engine::~Engine()
{
	disarm_traps();
	// Destroying IKE SAs removes their kernel state; the daemon sends
	// Deletes first through shutdown(). One at a time: ~IkeSa looks at
	// the other SAs (shared policies), which map::clear() frees under it.
	while (!sas_.empty()) {
		std::unique_ptr<IkeSa> sa = std::move(sas_.begin()->second);
		sas_.erase(sas_.begin());
		sa.reset();
	}
	graveyard_.clear();
}

size_t Engine::half_open_count() const
{
	return half_open_.size();
}

IkeSa *Engine::find(uint64_t local_spi)
{
	auto it = sas_.find(local_spi);
	return it == sas_.end() ? nullptr : it->second.get();
}

void Engine::adopt(std::unique_ptr<IkeSa> sa)
{
	uint64_t spi = sa->local_spi();
	sas_[spi] = std::move(sa);
}

void Engine::remove(IkeSa *sa)
{
	// The SA may be running one of its own callbacks: keep the object
	// until the loop comes back.
	auto it = sas_.find(sa->local_spi());
	if (it == sas_.end() || it->second.get() != sa)
		return;
	graveyard_.push_back(std::move(it->second));
	sas_.erase(it);
	half_open_.erase(sa->local_spi());
	if (auto key = init_key_by_spi_.find(sa->local_spi()); key != init_key_by_spi_.end()) {
		responder_by_initiator_.erase(key->second);
		init_key_by_spi_.erase(key);
	}
	// An old SA must not follow a successor that is gone (§2.8.2: the
	// loser of a collision deletes the SA it made).
	for (auto &[spi, other] : sas_)
		if (other->rekeyed_by_peer_ == sa)
			other->rekeyed_by_peer_ = nullptr;
	if (!reaper_.active())
		reaper_ = loop_.after(std::chrono::milliseconds(0), [this] { graveyard_.clear(); });
}

uint64_t Engine::new_spi()
{
	for (;;) {
		uint64_t spi = random_u64();
		if (spi != 0 && !sas_.contains(spi))
			return spi;
	}
}

uint32_t Engine::reqid_for(const std::string &connection, const std::string &child)
{
	auto key = std::make_pair(connection, child);
	auto it = reqids_.find(key);
	if (it != reqids_.end())
		return it->second;
	reqids_[key] = next_reqid_;
	return next_reqid_++;
}

const ConnectionConfig *Engine::connection(const std::string &name) const
{
	for (const auto &c : config_.connections)
		if (c.name == name)
			return &c;
	return nullptr;
}

void Engine::configure(const DaemonConfig &config)
{
	// Which connections stay as they are: same name, same settings. The
	// rest lose their SAs (a Delete to the peer), then the new ones start.
	auto same = [](const ConnectionConfig &a, const ConnectionConfig &b) {
		return fingerprint(a) == fingerprint(b);
	};
	disarm_traps();
	std::vector<IkeSa *> stale;
	std::map<std::string, const ConnectionConfig *> kept;
	for (const auto &[spi, sa] : sas_) {
		const ConnectionConfig *old = sa->connection();
		const ConnectionConfig *fresh = nullptr;
		if (old)
			for (const auto &c : config.connections)
				if (c.name == old->name && same(c, *old))
					fresh = &c;
		if (old && !fresh)
			stale.push_back(sa.get());
	}
	for (IkeSa *sa : stale) {
		log::notice(sa->connection()->name + ": configuration changed, deleting its IKE SA");
		sa->send_delete_ike();
		sa->conn_ = nullptr;
	}
	DaemonConfig previous = std::move(config_);
	config_ = config;
	// Repoint surviving SAs at the new copies of their connections.
	for (auto &[spi, sa] : sas_) {
		if (!sa->conn_)
			continue;
		const ConnectionConfig *now = connection(sa->conn_->name);
		sa->conn_ = now;
		for (auto &child : sa->children_)
			if (child->config)
				child->config = now ? sa->child_config(child->config->name) : nullptr;
		for (auto &pending : sa->pending_children_)
			pending = now ? sa->child_config(pending->name) : nullptr;
		std::erase(sa->pending_children_, nullptr);
	}
	arm_traps();
	for (const auto &c : config_.connections) {
		std::vector<const ChildConfig *> start;
		for (const auto &child : c.children)
			if (child.start_action == StartAction::start)
				start.push_back(&child);
		if (start.empty())
			continue;
		bool have = false;
		for (const auto &[spi, sa] : sas_)
			have |= sa->conn_ && sa->conn_->name == c.name;
		if (!have)
			initiate(c, start);
	}
}

void Engine::arm_traps()
{
	for (const auto &c : config_.connections)
		for (const auto &child : c.children)
			if (child.start_action == StartAction::trap) {
				try {
					kernel_.add_trap(c, child, reqid_for(c.name, child.name));
					traps_.emplace_back(&c, &child);
				} catch (const std::exception &e) {
					log::error(c.name + "/" + child.name + ": cannot install trap policy: " + e.what());
				}
			}
}

void Engine::disarm_traps()
{
	for (auto [conn, child] : traps_) {
		try {
			kernel_.remove_trap(*conn, *child, reqid_for(conn->name, child->name));
		} catch (const std::exception &e) {
			log::warning(conn->name + "/" + child->name + ": removing trap policy: " + e.what());
		}
	}
	traps_.clear();
}

bool Engine::policies_in_use(const ChildSaSpec &spec, const IkeSa *except_sa, const ChildSa *except_child) const
{
	// XFRM policies are keyed by selectors and direction: one installed
	// for this CHILD_SA serves every other CHILD_SA with the same reqid
	// and selectors (its rekeyed successor, say), so it stays while one is
	// left.
	for (const auto &[spi, sa] : sas_) {
		if (sa.get() == except_sa)
			continue;
		for (const auto &c : sa->children_)
			if (c.get() != except_child && c->state != ChildSa::State::deleting &&
			    c->spec.reqid == spec.reqid && c->spec.local_ts == spec.local_ts &&
			    c->spec.remote_ts == spec.remote_ts)
				return true;
	}
	return false;
}

void Engine::rearm_trap(uint32_t reqid)
{
	// The CHILD_SA's out policy had the trap's selectors, so removing it
	// removed the trap; without it the next packet would leave in clear
	// or be dropped without an ACQUIRE.
	for (auto [conn, child] : traps_) {
		if (reqid_for(conn->name, child->name) != reqid)
			continue;
		try {
			kernel_.add_trap(*conn, *child, reqid);
			log::info(conn->name + "/" + child->name + ": trap policy back in place");
		} catch (const std::exception &e) {
			log::error(conn->name + "/" + child->name + ": cannot restore trap policy: " + e.what());
		}
	}
}

IkeSa *Engine::initiate(const ConnectionConfig &conn, const std::vector<const ChildConfig *> &children)
{
	if (conn.remote_addr.is_unset())
		throw std::runtime_error(conn.name + " has no remote_addr: it can only respond");
	Endpoint remote{conn.remote_addr, conn.remote_port};
	IpAddress local_addr = conn.local_addr;
	if (local_addr.is_unset()) {
		auto src = env_.source_for(conn.remote_addr);
		if (!src)
			throw std::runtime_error(conn.name + ": no route to " + conn.remote_addr.str());
		local_addr = *src;
	}
	Endpoint local{local_addr, config_.port};
	if (conn.remote_port == config_.nat_port)
		local.port = config_.nat_port;
	auto sa = std::make_unique<IkeSa>(*this, &conn, true, local, remote, new_spi());
	IkeSa *raw = sa.get();
	adopt(std::move(sa));
	raw->start(children);
	return raw;
}

void Engine::up(const std::string &name)
{
	const ConnectionConfig *conn = connection(name);
	if (!conn)
		throw std::runtime_error("no connection named '" + name + "'");
	std::vector<const ChildConfig *> children;
	for (const auto &c : conn->children)
		children.push_back(&c);
	// An established IKE SA gets the missing children; otherwise a new one.
	for (auto &[spi, sa] : sas_) {
		if (sa->conn_ != conn || sa->state() != IkeSa::State::established)
			continue;
		for (const ChildConfig *c : children) {
			bool have = false;
			for (const auto &child : sa->children_)
				have |= child->config == c && child->state != ChildSa::State::deleting;
			if (!have)
				sa->create_child(*c, nullptr);
		}
		return;
	}
	initiate(*conn, children);
}

void Engine::down(const std::string &name)
{
	if (!connection(name))
		throw std::runtime_error("no connection named '" + name + "'");
	std::vector<IkeSa *> victims;
	for (auto &[spi, sa] : sas_)
		if (sa->conn_ && sa->conn_->name == name)
			victims.push_back(sa.get());
	if (victims.empty())
		throw std::runtime_error(name + " has no IKE SA");
	for (IkeSa *sa : victims)
		sa->send_delete_ike();
}

void Engine::rekey_child(const std::string &connection, const std::string &child)
{
	for (auto &[spi, sa] : sas_) {
		if (!sa->conn_ || sa->conn_->name != connection || sa->state() != IkeSa::State::established)
			continue;
		for (auto &c : sa->children_)
			if (c->config && c->config->name == child && c->state == ChildSa::State::installed) {
				sa->create_child(*c->config, c.get());
				return;
			}
	}
	throw std::runtime_error(connection + "/" + child + " has no installed CHILD_SA");
}

void Engine::rekey_ike(const std::string &connection)
{
	for (auto &[spi, sa] : sas_)
		if (sa->conn_ && sa->conn_->name == connection && sa->state() == IkeSa::State::established &&
		    !sa->rekeying_) {
			sa->rekey_ike();
			return;
		}
	throw std::runtime_error(connection + " has no established IKE SA");
}

void Engine::acquire(uint32_t reqid, const IpAddress &src, const IpAddress &dst)
{
	for (auto [conn, child] : traps_) {
		if (reqid_for(conn->name, child->name) != reqid)
			continue;
		log::info(conn->name + "/" + child->name + ": acquire for " + src.str() + " -> " + dst.str());
		// An IKE SA on its way already brings this child: nothing to do.
		for (auto &[spi, sa] : sas_) {
			if (sa->conn_ != conn)
				continue;
			for (auto &c : sa->children_)
				if (c->config == child)
					return;
			for (auto *p : sa->pending_children_)
				if (p == child)
					return;
			if (sa->state() == IkeSa::State::established) {
				sa->create_child(*child, nullptr);
				return;
			}
			sa->pending_children_.push_back(child);
			return;
		}
		try {
			initiate(*conn, {child});
		} catch (const std::exception &e) {
			log::error(e.what());
		}
		return;
	}
}

void Engine::expire(uint32_t spi, const IpAddress &dst, bool hard)
{
	for (auto &[ikespi, sa] : sas_) {
		ChildSa *child = sa->child_by_inbound(spi);
		if (!child || child->spec.local.addr != dst)
			child = sa->child_by_outbound(spi);
		if (!child)
			continue;
		if (hard) {
			// The kernel removed it: tell the peer (§1.4.1), forget it.
			log::notice(child->spec.connection + "/" + child->spec.child + ": SA " + hex32(spi) +
				    " reached its hard lifetime");
			sa->delete_child_now(child, true);
		} else if (child->state == ChildSa::State::installed && child->config &&
			   sa->state() == IkeSa::State::established) {
			log::info(child->spec.connection + "/" + child->spec.child + ": SA " + hex32(spi) +
				  " reached its soft lifetime, rekeying");
			sa->create_child(*child->config, child);
		}
		return;
	}
}

std::vector<const IkeSa *> Engine::ike_sas(const std::string &connection) const
{
	std::vector<const IkeSa *> out;
	for (const auto &[spi, sa] : sas_)
		if (sa->conn_ && sa->conn_->name == connection)
			out.push_back(sa.get());
	return out;
}

void Engine::shutdown()
{
	std::vector<IkeSa *> all;
	for (auto &[spi, sa] : sas_)
		all.push_back(sa.get());
	for (IkeSa *sa : all)
		sa->send_delete_ike();
}

nlohmann::json Engine::show() const
{
	nlohmann::json conns = nlohmann::json::array();
	for (const auto &c : config_.connections) {
		nlohmann::json children = nlohmann::json::array();
		for (const auto &child : c.children)
			children.push_back({{"name", child.name},
					    {"mode", child.transport ? "transport" : "tunnel"},
					    {"start_action", child.start_action == StartAction::start  ? "start"
							     : child.start_action == StartAction::trap ? "trap"
												       : "none"}});
		size_t n = 0;
		for (const auto &[spi, sa] : sas_)
			n += sa->conn_ == &c;
		conns.push_back({{"name", c.name},
				 {"local_addr", c.local_addr.is_unset() ? "%any" : c.local_addr.str()},
				 {"remote_addr", c.remote_addr.is_unset() ? "%any" : c.remote_addr.str()},
				 {"local_id", c.local_id.text},
				 {"auth", c.auth == ConnectionConfig::Auth::psk ? "psk" : "pubkey"},
				 {"ike_sas", n},
				 {"children", children}});
	}
	return {{"connections", conns},
		{"ike_sas", sas_.size()},
		{"half_open", half_open_count()},
		{"counters", counters_.json()},
		{"child_install", child_install_.json()}};
}

nlohmann::json Engine::sas() const
{
	nlohmann::json out = nlohmann::json::array();
	for (const auto &[spi, sa] : sas_)
		out.push_back(sa->json());
	return out;
}

void Engine::send_notify_unprotected(const Endpoint &local, const Endpoint &remote, const Header &request,
				     uint16_t type, std::span<const uint8_t> data)
{
	Message reply;
	reply.header = request;
	reply.header.flags = Header::kFlagResponse;
	reply.header.spi_r = 0;
	NotifyPayload n;
	n.type = type;
	n.data.assign(data.begin(), data.end());
	reply.payloads.push_back({PayloadType::Notify, false, n});
	auto bytes = reply.serialize();
	env_.send(local, remote, bytes);
	counters_.sent++;
}

void Engine::receive(const Endpoint &local, const Endpoint &remote, std::span<const uint8_t> datagram)
{
	counters_.received++;
	// §2.5: a higher major version gets INVALID_MAJOR_VERSION (to an
	// IKE_SA_INIT request only: nothing else can be answered without keys).
	if (auto major = Message::peek_major(datagram); major && *major > 2) {
		counters_.invalid_major++;
		if (datagram.size() >= Header::kSize) {
			Header h;
			try {
				h = Header::parse(datagram);
			} catch (const ParseError &) {
				return;
			}
			if (h.exchange == ExchangeType::IkeSaInit && !h.is_response()) {
				h.major = 2;
				h.minor = 0;
				send_notify_unprotected(local, remote, h, notify::INVALID_MAJOR_VERSION, {});
			}
		}
		return;
	}
	Message msg;
	try {
		msg = Message::parse(datagram);
	} catch (const ParseError &e) {
		counters_.malformed++;
		log::debug("from " + remote.str() + ": malformed IKE message dropped: " + e.reason() +
			   " at offset " + std::to_string(e.offset()));
		return;
	}
	const Header &h = msg.header;
	if (h.exchange == ExchangeType::IkeSaInit && !h.is_response() && h.spi_r == 0) {
		try {
			handle_init_request(local, remote, msg, datagram);
		} catch (const std::exception &e) {
			counters_.internal_errors++;
			log::error("IKE_SA_INIT from " + remote.str() + ": " + e.what());
		}
		return;
	}
	// §2.6 / §3.1: the SPI that is ours is the one of the side that did not
	// send it as original initiator.
	uint64_t ours = h.from_initiator() ? h.spi_r : h.spi_i;
	IkeSa *sa = find(ours);
	if (!sa || (h.from_initiator() ? sa->spi_i() != h.spi_i : (sa->spi_r() != h.spi_r && h.spi_r != 0 &&
									  sa->state() != IkeSa::State::init_sent))) {
		counters_.bad_spi++;
		log::debug("from " + remote.str() + ": no IKE SA for SPIs " + hex64(h.spi_i) + "/" +
			   hex64(h.spi_r) + " (§2.21.4), dropped");
		return;
	}
	// A failure of ours (the kernel refused an SA, a crypto library error)
	// ends that exchange, never the daemon.
	try {
		sa->receive(msg, datagram, local, remote);
	} catch (const std::exception &e) {
		counters_.internal_errors++;
		log::error(name_of(*sa) + ": " + e.what());
	}
}

void Engine::handle_init_request(const Endpoint &local, const Endpoint &remote, const Message &msg,
				 std::span<const uint8_t> datagram)
{
	const Header &h = msg.header;
	if (h.message_id != 0 || !h.from_initiator()) {
		counters_.malformed++;
		return;
	}
	// A retransmitted IKE_SA_INIT: the SA we made for it answers again
	// (found by index: a scan per request would cost O(SAs) each).
	if (auto known = responder_by_initiator_.find({h.spi_i, remote.addr}); known != responder_by_initiator_.end()) {
		if (IkeSa *sa = find(known->second))
			if (sa->state() == IkeSa::State::init_answered && sa->init_request_.size() == datagram.size() &&
			    std::equal(datagram.begin(), datagram.end(), sa->init_request_.begin()))
				sa->transmit(sa->last_response_);
		return;
	}
	if (const Payload *p = find_unknown_critical(msg.payloads)) {
		// §2.5: the whole message is rejected, the answer names the
		// payload type; in IKE_SA_INIT it goes unprotected (§2.21.1) and
		// no state is kept.
		counters_.unsupported_critical++;
		uint8_t type = std::get<UnknownPayload>(p->body).type;
		send_notify_unprotected(local, remote, h, notify::UNSUPPORTED_CRITICAL_PAYLOAD,
					std::span<const uint8_t>(&type, 1));
		return;
	}
	const NoncePayload *ni = msg.find<NoncePayload>();
	if (!ni || !msg.find<SaPayload>() || !msg.find<KePayload>()) {
		// §2.21.1: an IKE_SA_INIT request without these gets
		// INVALID_SYNTAX... but unauthenticated: only drop and count.
		counters_.malformed++;
		return;
	}
	// §2.6: cookies once too many SAs are half open. The cookie must be
	// the first payload.
	if (config_.cookie_threshold && half_open_count() >= config_.cookie_threshold) {
		const NotifyPayload *cookie = nullptr;
		if (!msg.payloads.empty())
			if (const auto *n = std::get_if<NotifyPayload>(&msg.payloads.front().body))
				if (n->type == notify::COOKIE)
					cookie = n;
		if (!cookie || !cookies_.valid(cookie->data, ni->data, remote.addr, h.spi_i)) {
			if (cookie)
				counters_.cookie_rejected++;
			counters_.cookies_sent++;
			auto value = cookies_.make(ni->data, remote.addr, h.spi_i);
			send_notify_unprotected(local, remote, h, notify::COOKIE, value);
			return;
		}
	}
	// The connection: by addresses now, by identities at IKE_AUTH. Several
	// connections may share an address pair with different IKE proposals
	// (the peer's identity is unknown until IKE_AUTH): take the first whose
	// proposals accept the offer (§2.7), not merely the first by address,
	// or the others could never be reached by a peer that initiates them.
	const ConnectionConfig *conn = nullptr;
	const auto *offer = msg.find<SaPayload>();
	for (const auto &c : config_.connections) {
		if (!c.remote_addr.is_unset() && c.remote_addr != remote.addr)
			continue;
		if (!c.local_addr.is_unset() && c.local_addr != local.addr)
			continue;
		if (!conn)
			conn = &c;
		if (select_proposal(*offer, ProtocolId::IKE, c.ike_proposals)) {
			conn = &c;
			break;
		}
	}
	if (!conn) {
		counters_.no_proposal++;
		log::info("IKE_SA_INIT from " + remote.str() + ": no connection for this peer");
		send_notify_unprotected(local, remote, h, notify::NO_PROPOSAL_CHOSEN, {});
		return;
	}
	auto sa = std::make_unique<IkeSa>(*this, conn, false, local, remote, new_spi());
	IkeSa *raw = sa.get();
	adopt(std::move(sa));
	uint64_t ours = raw->local_spi();
	responder_by_initiator_[{h.spi_i, remote.addr}] = ours;
	init_key_by_spi_[ours] = {h.spi_i, remote.addr};
	if (raw->answer_init(msg, datagram))
		half_open_.insert(ours);
	else
		remove(raw);
}

} // namespace umigame::iked
