#include "umigame/dhcp6d/server_engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include <openssl/rand.h>

#include "umigame/dhcp6/error.h"

namespace umigame::dhcp6d {

using namespace umigame::dhcp6;

namespace {

// RFC 8415 §21.22 keeps the prefix octets as received, host bits and all;
// compare prefixes with those bits cleared.
Ipv6Prefix canonical(Ipv6Prefix p)
{
	for (unsigned bit = p.length; bit < 128; bit++)
		p.address.bytes[bit / 8] &= uint8_t(~(0x80u >> (bit % 8)));
	return p;
}

bool is_unspecified(const Ipv6Address &a) { return a == Ipv6Address{}; }

// RFC 8415 §16: what each client message must and must not carry.
enum class ServerIdRule { forbidden, required, optional };

ServerIdRule server_id_rule(MessageType type)
{
	switch (type) {
	case MessageType::Solicit:
	case MessageType::Confirm:
	case MessageType::Rebind:
		return ServerIdRule::forbidden;
	case MessageType::Request:
	case MessageType::Renew:
	case MessageType::Release:
	case MessageType::Decline:
		return ServerIdRule::required;
	default:
		return ServerIdRule::optional; // Information-request, §16.12
	}
}

bool is_client_message(MessageType type)
{
	switch (type) {
	case MessageType::Solicit:
	case MessageType::Request:
	case MessageType::Confirm:
	case MessageType::Renew:
	case MessageType::Rebind:
	case MessageType::Release:
	case MessageType::Decline:
	case MessageType::InformationRequest:
		return true;
	default:
		return false;
	}
}

// RFC 8415 §7.6: REC_TIMEOUT 2 s, REC_MAX_RC 8 (no MRT, no MRD).
const RetransmitParams kReconfigureRetransmit{Seconds(2), Seconds(0), 8, Seconds(0), false};

std::optional<ReconfigureKey> random_key()
{
	// §20.4.1: 128 bits from a cryptographically strong generator.
	ReconfigureKey key{};
	if (RAND_bytes(key.data(), int(key.size())) != 1)
		return std::nullopt;
	return key;
}

// RFC 8415 §13.1: the link-address of the relay closest to the client, or
// the next one out when that one is 0 or link-local (a relay without a
// global address on the client's link). `chain` is outermost first.
std::optional<Ipv6Address> relay_link_address(const std::vector<const Message *> &chain)
{
	for (auto it = chain.rbegin(); it != chain.rend(); ++it)
		if (!is_unspecified((*it)->link_address) && !(*it)->link_address.is_link_local())
			return (*it)->link_address;
	return std::nullopt;
}

// The Relay-Forward levels of `received`, outermost first, without the
// client's message or relay options other than Interface-Id: all a
// Relay-Reply echoes (§19.3), serialized around an empty message.
std::vector<uint8_t> relay_path_of(const Message &received)
{
	std::vector<const Message *> chain;
	for (const Message *m = &received; m && m->is_relay(); m = m->relayed())
		chain.push_back(m);
	Message inner;
	inner.type = MessageType::Reconfigure;
	for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
		Message level;
		level.type = MessageType::RelayForw;
		level.hop_count = (*it)->hop_count;
		level.link_address = (*it)->link_address;
		level.peer_address = (*it)->peer_address;
		if (const InterfaceId *id = (*it)->get<InterfaceId>())
			level.options.add(*id);
		level.options.add(RelayMessage(std::move(inner)));
		inner = std::move(level);
	}
	return inner.serialize();
}

int64_t expiry(int64_t now, uint32_t valid)
{
	// RFC 8415 §7.7: all ones is forever.
	if (valid == kInfinity)
		return std::numeric_limits<int64_t>::max() / 2;
	return now + valid;
}

} // namespace

// One client message on its way to an answer.
struct ServerEngine::Exchange {
	const Message &message; // the innermost, client's, message
	const Duid &client;     // empty for an Information-request without one
	Link link;
	const ReceiveContext &context;
	int64_t now;
	const Message &received; // as it arrived: the client's, or the outermost Relay-Forward
	// §21.20: the client sent Reconfigure Accept and we send Reconfigure.
	bool reconfigure_accept = false;
	// The key its leases get in this exchange (§20.4.1), once one is bound.
	mutable std::optional<ReconfigureKey> key{};
};

const std::vector<uint8_t> &ServerEngine::declined_owner()
{
	// DUID type 0xffff is unassigned (RFC 8415 §11.1): no client has it.
	static const std::vector<uint8_t> owner = {0xff, 0xff, 'd', 'e', 'c', 'l', 'i', 'n', 'e', 'd'};
	return owner;
}

ServerEngine::ServerEngine(const ServerConfig &config, LeaseStore &leases, Duid server_duid,
			   ReconfigureKeySource keys, std::function<double()> rand)
	: leases_(leases), duid_(std::move(server_duid)), keys_(std::move(keys)), rand_(std::move(rand))
{
	if (!keys_)
		keys_ = random_key;
	if (!rand_) {
		auto gen = std::make_shared<std::mt19937>(std::random_device{}());
		rand_ = [gen] { return std::uniform_real_distribution<double>(-0.1, 0.1)(*gen); };
	}
	reconfigure(config);
}

void ServerEngine::reconfigure(const ServerConfig &config)
{
	std::vector<Pool> pools;
	for (const PoolConfig &p : config.pools)
		pools.push_back({p, PrefixPool(p.prefix, p.delegated_length)});
	config_ = config;
	pools_ = std::move(pools);
	full_.assign(pools_.size(), FullMark{});
	if (!config_.reconfigure)
		reconfigures_.clear();
}

void ServerEngine::set_link_prefixes(std::map<std::string, std::vector<Ipv6Prefix>> prefixes)
{
	link_prefixes_ = std::move(prefixes);
}

bool ServerEngine::relay_allowed(const Ipv6Address &source) const
{
	if (!config_.relay_allow)
		return true;
	return std::any_of(config_.relay_allow->begin(), config_.relay_allow->end(),
			   [&](const Ipv6Prefix &p) { return p.contains({source, 128}); });
}

std::optional<Message> ServerEngine::drop(const std::string &reason)
{
	counters_.dropped[reason]++;
	return std::nullopt;
}

std::optional<Outgoing> ServerEngine::handle_datagram(std::span<const uint8_t> payload,
						      const ReceiveContext &context, int64_t now)
{
	std::optional<Message> received;
	try {
		received = Message::parse(payload);
	} catch (const ParseError &e) {
		// The parser checked every length and count before reading; what
		// it refused is never looked at again. By reason: the message
		// header or the option at fault, named only when it is one we
		// know, so the set of counters stays small whatever arrives.
		counters_.dropped["malformed"]++;
		std::string where = option_name(e.option_code());
		if (e.option_code() == 0)
			where = "message header";
		else if (where.starts_with("option "))
			where = "unknown option";
		counters_.malformed[where]++;
		return std::nullopt;
	}
	std::optional<Message> reply = handle(*received, context, now);
	if (!reply)
		return std::nullopt;
	Outgoing out;
	try {
		out.payload = reply->serialize();
	} catch (const std::exception &) {
		// Something of the client's that we echo (Interface-Id, a
		// relay's hop-count) does not serialize: nothing to send.
		counters_.dropped["reply does not serialize"]++;
		return std::nullopt;
	}
	out.destination = context.source;
	out.ifindex = context.ifindex;
	// RFC 8415 §19.3: a Relay-Reply goes to the relay's port; §18.3 a
	// reply to a client to the client port.
	out.port = reply->is_relay() ? kServerPort : kClientPort;
	out.type = reply->innermost().type;
	counters_.sent[message_type_name(out.type)]++;
	return out;
}

std::optional<Message> ServerEngine::handle(const Message &received, const ReceiveContext &context,
					    int64_t now)
{
	const Message &inner = received.innermost();
	counters_.received[message_type_name(inner.type)]++;
	if (received.type == MessageType::RelayRepl)
		return drop("relay-reply received");
	Link link;
	if (received.type == MessageType::RelayForw) {
		// Only from the relays we were told of ([server] relay_allow):
		// anyone who reaches port 547 could otherwise speak for any link.
		if (!relay_allowed(context.source))
			return drop("relay not allowed");
		link.relayed = true;
		std::vector<const Message *> chain;
		unsigned depth = 0;
		for (const Message *m = &received; m && m->is_relay(); m = m->relayed()) {
			// Only Relay-Forwards nest on the way to a server.
			if (m->type != MessageType::RelayForw)
				return drop("relay-reply received");
			chain.push_back(m);
			// §7.6: a relay drops what has seen HOP_COUNT_LIMIT
			// relays; more wrappers than that are not relays.
			if (++depth > kHopCountLimit + 1u)
				return drop("too many relay levels");
		}
		// RFC 8415 §13.1.
		link.relay_link_address = relay_link_address(chain);
	} else {
		link.interface = context.interface;
		if (std::find(config_.interfaces.begin(), config_.interfaces.end(), context.interface) ==
		    config_.interfaces.end())
			return drop("interface not served");
	}
	std::optional<Message> reply = answer(received, inner, link, context, now);
	if (!reply)
		return std::nullopt;
	if (received.type == MessageType::RelayForw)
		// §19.3: one Relay-Reply per Relay-Forward level, each with its
		// hop-count, addresses and Interface-Id echoed.
		return Message::relay_reply(received, std::move(*reply));
	return reply;
}

std::optional<Message> ServerEngine::answer(const Message &received, const Message &message,
					    const Link &link, const ReceiveContext &context, int64_t now)
{
	if (!is_client_message(message.type))
		return drop("not a client message");
	// RFC 8415 §16: Solicit, Confirm, Rebind and Information-request sent
	// straight to a unicast address are discarded: they are for every
	// server, and we never send Server Unicast (§21.12) that would allow
	// it.
	const ServerIdRule rule = server_id_rule(message.type);
	if (!link.relayed && !context.multicast &&
	    (message.type == MessageType::Solicit || message.type == MessageType::Confirm ||
	     message.type == MessageType::Rebind || message.type == MessageType::InformationRequest))
		return drop("unicast " + message_type_name(message.type));

	const std::vector<const ClientId *> client_ids = message.all<ClientId>();
	const std::vector<const ServerId *> server_ids = message.all<ServerId>();
	// §16: every message but Information-request MUST carry one Client
	// Identifier; two leave open whose lease this is.
	if (client_ids.size() > 1)
		return drop("several client identifiers");
	if (client_ids.empty() && message.type != MessageType::InformationRequest)
		return drop("no client identifier");
	if (server_ids.size() > 1)
		return drop("several server identifiers");
	if (rule == ServerIdRule::forbidden && !server_ids.empty())
		return drop("server identifier in " + message_type_name(message.type));
	if (rule == ServerIdRule::required && server_ids.empty())
		return drop("no server identifier");
	if (!server_ids.empty() && server_ids[0]->duid != duid_)
		return drop("another server's identifier");
	// §16.12: an Information-request with an IA is not one.
	if (message.type == MessageType::InformationRequest &&
	    (message.has<IaNa>() || message.has<IaPd>() || message.options.find(OPTION_IA_TA)))
		return drop("IA in Information-request");

	static const Duid kNone;
	Exchange x{message, client_ids.empty() ? kNone : client_ids[0]->duid, link, context, now, received};
	x.reconfigure_accept = config_.reconfigure && message.has<ReconfigureAccept>();

	// §18.3.2, §18.3.4, §18.3.7, §18.3.8: we send no Server Unicast
	// option, so a client that unicasts to us is told to multicast.
	if (!link.relayed && !context.multicast && rule == ServerIdRule::required) {
		Message reply = Message::reply(message, duid_);
		reply.add(StatusCode{Status::UseMulticast, "send to ff02::1:2"});
		return reply;
	}

	// §18.3.11: a Renew or Rebind is what our Reconfigure asked for (the
	// client may have been in an exchange already and Rebinds instead).
	if (message.type == MessageType::Renew || message.type == MessageType::Rebind)
		if (reconfigures_.erase(x.client.bytes()))
			counters_.reconfigure["answered"]++;

	std::optional<Message> reply;
	switch (message.type) {
	case MessageType::Solicit:
		reply = solicit(x);
		break;
	case MessageType::Request:
		reply = request(x);
		break;
	case MessageType::Renew:
		reply = renew_or_rebind(x, false);
		break;
	case MessageType::Rebind:
		reply = renew_or_rebind(x, true);
		break;
	case MessageType::Release:
		reply = release(x);
		break;
	case MessageType::Decline:
		reply = decline(x);
		break;
	case MessageType::Confirm:
		reply = confirm(x);
		break;
	default:
		reply = information_request(x);
		break;
	}
	// §20.4.1, §21.20: leases were bound with a Reconfigure Key: the
	// client learns the key (again: one that lost it after a restart can
	// be reached too) and that we may send Reconfigure.
	if (reply && x.key && reply->type == MessageType::Reply) {
		reply->add(ReconfigureAccept{});
		reply->add(reconfigure_key_option(*x.key, next_replay_detection(Seconds(double(now)))));
	}
	return reply;
}

std::vector<ServerEngine::IaRequest> ServerEngine::ias_of(const Message &message) const
{
	std::vector<IaRequest> out;
	auto seen = [&](LeaseKind kind, uint32_t iaid) {
		return std::any_of(out.begin(), out.end(), [&](const IaRequest &r) {
			return r.kind == kind && r.iaid == iaid;
		});
	};
	// The same IAID twice in one message is one IA: answer the first.
	for (const IaPd *ia : message.all<IaPd>()) {
		if (seen(LeaseKind::prefix, ia->iaid))
			continue;
		IaRequest r{LeaseKind::prefix, ia->iaid, {}};
		for (const IaPrefix *p : ia->prefixes())
			r.listed.push_back(canonical(p->prefix));
		out.push_back(std::move(r));
	}
	for (const IaNa *ia : message.all<IaNa>()) {
		if (seen(LeaseKind::address, ia->iaid))
			continue;
		IaRequest r{LeaseKind::address, ia->iaid, {}};
		for (const IaAddress *a : ia->addresses())
			r.listed.push_back({a->address, 128});
		out.push_back(std::move(r));
	}
	return out;
}

std::vector<const ServerEngine::Pool *> ServerEngine::pools_for(const Link &link, LeaseKind kind) const
{
	std::vector<const Pool *> out;
	for (const Pool &p : pools_) {
		if (p.config.kind != kind)
			continue;
		if (link.relayed) {
			if (p.config.relay_link && link.relay_link_address &&
			    p.config.relay_link->contains({*link.relay_link_address, 128}))
				out.push_back(&p);
		} else if (!p.config.relay_link && p.config.interface == link.interface) {
			out.push_back(&p);
		}
	}
	return out;
}

bool ServerEngine::appropriate(const Ipv6Prefix &prefix, const Link &link, LeaseKind kind) const
{
	for (const Pool *p : pools_for(link, kind))
		if (p->range.index_of(prefix))
			return true;
	return false;
}

bool ServerEngine::in_any_pool(const Lease &lease) const
{
	for (const Pool &p : pools_)
		if (p.config.kind == lease.key.kind && p.range.index_of(lease.prefix))
			return true;
	return false;
}

bool ServerEngine::reserved_for_other(const Ipv6Prefix &prefix, const LeaseKey &key) const
{
	for (const Reservation &r : config_.reservations)
		if (r.prefix == prefix)
			return !(key.kind == LeaseKind::prefix && r.duid.bytes() == key.duid &&
				 (!r.iaid || *r.iaid == key.iaid));
	return false;
}

bool ServerEngine::usable_by(const Ipv6Prefix &prefix, const LeaseKey &key, int64_t now) const
{
	const Lease *holder = leases_.holder(prefix, now);
	return (!holder || holder->key == key) && !reserved_for_other(prefix, key);
}

LeaseKey ServerEngine::key_of(const Exchange &x, const IaRequest &ia) const
{
	return {x.client.bytes(), ia.iaid, ia.kind};
}

// The prefix (or address) for one IA, most stable first.
std::optional<Ipv6Prefix> ServerEngine::pick(const Exchange &x, const IaRequest &ia) const
{
	const LeaseKey key = key_of(x, ia);
	// A reservation wins when its prefix is on this client's link.
	if (ia.kind == LeaseKind::prefix)
		for (const Reservation &r : config_.reservations)
			if (r.duid.bytes() == key.duid && (!r.iaid || *r.iaid == key.iaid) &&
			    appropriate(r.prefix, x.link, ia.kind) && usable_by(r.prefix, key, x.now))
				return r.prefix;
	const std::vector<const Pool *> pools = pools_for(x.link, ia.kind);
	auto excluded = [&](const Ipv6Prefix &p) {
		if (reserved_for_other(p, key))
			return true;
		// An address pool's first address is the Subnet-Router anycast
		// address (RFC 4291 §2.6.1).
		if (ia.kind == LeaseKind::address)
			for (const Pool *pool : pools)
				if (pool->range.index_of(p) == 0u)
					return true;
		return false;
	};
	// RFC 8415 §18.3.1/§18.3.4: a client keeps what it has (unless a
	// reservation made since gave it to someone else).
	if (const Lease *mine = leases_.find(key); mine && mine->live(x.now) &&
	    appropriate(mine->prefix, x.link, ia.kind) && !excluded(mine->prefix))
		return mine->prefix;
	// §18.3.1: the client's hint, when it names a whole prefix we may give.
	for (const Ipv6Prefix &hint : ia.listed)
		if (!is_unspecified(hint.address) && appropriate(hint, x.link, ia.kind) &&
		    usable_by(hint, key, x.now) && !excluded(hint))
			return hint;
	// A length-only hint (::/56) prefers pools delegating that length.
	std::vector<const Pool *> ordered;
	for (int pass = 0; pass < 2; pass++)
		for (const Pool *p : pools) {
			bool hinted = std::any_of(ia.listed.begin(), ia.listed.end(), [&](const Ipv6Prefix &h) {
				return h.length == p->config.delegated_length;
			});
			if (hinted == (pass == 0))
				ordered.push_back(p);
		}
	// A full pool costs a scan of the whole pool to find out; a flood of
	// Solicits from made-up DUIDs must not buy one scan each. Until the
	// journal changes or the clock moves on (a lease may end), a pool
	// found full stays full for every client: what one client could not
	// get is held live by others or reserved, and a client's own prefix
	// and reservation were tried above.
	const uint64_t generation = leases_.journal_lines() + leases_.staged();
	for (const Pool *p : ordered) {
		const size_t index = size_t(p - pools_.data());
		if (full_[index] == FullMark{x.now, generation})
			continue;
		if (auto chosen = leases_.choose(key, p->range, x.now, excluded))
			return chosen;
		full_[index] = {x.now, generation};
	}
	return std::nullopt;
}

void ServerEngine::bind(const Exchange &x, const LeaseKey &key, const Ipv6Prefix &prefix)
{
	Lease lease;
	lease.key = key;
	lease.prefix = prefix;
	lease.preferred = config_.preferred_lifetime;
	lease.valid = config_.valid_lifetime;
	lease.expires = expiry(x.now, config_.valid_lifetime);
	// The route towards a delegated prefix points at whoever sent us the
	// message: the requesting router itself, or the relay nearest to us,
	// which knows the way on. A Reconfigure goes there too (§18.3.11).
	lease.next_hop = x.context.source;
	lease.interface = x.context.interface;
	if (x.reconfigure_accept) {
		// §20.4.1: one key per client, made once, kept with every lease.
		if (!x.key)
			x.key = key_of_client(key.duid);
		if (!x.key)
			x.key = keys_();
		lease.reconfigure_key = x.key;
		if (x.key && x.link.relayed)
			lease.relay_path = relay_path_of(x.received);
	}
	leases_.bind(lease, x.now);
}

std::optional<ReconfigureKey> ServerEngine::key_of_client(const std::vector<uint8_t> &duid) const
{
	const auto &all = leases_.all();
	for (auto it = all.lower_bound(LeaseKey{duid, 0, LeaseKind::prefix});
	     it != all.end() && it->first.duid == duid; ++it)
		if (it->second.reconfigure_key)
			return it->second.reconfigure_key;
	return std::nullopt;
}

void ServerEngine::add_ia(Message &reply, const IaAnswer &a) const
{
	const bool granted = a.granted.has_value();
	const uint32_t t1 = granted ? config_.t1 : 0, t2 = granted ? config_.t2 : 0;
	OptionList options;
	if (a.kind == LeaseKind::prefix) {
		if (a.granted)
			options.add(IaPrefix{config_.preferred_lifetime, config_.valid_lifetime, *a.granted, {}});
		for (const Ipv6Prefix &p : a.withdrawn)
			options.add(IaPrefix{0, 0, p, {}});
	} else {
		if (a.granted)
			options.add(IaAddress{a.granted->address, config_.preferred_lifetime,
					      config_.valid_lifetime, {}});
		for (const Ipv6Prefix &p : a.withdrawn)
			options.add(IaAddress{p.address, 0, 0, {}});
	}
	if (a.status)
		options.add(StatusCode{*a.status, a.status_message});
	if (a.kind == LeaseKind::prefix)
		reply.add(IaPd{a.iaid, t1, t2, std::move(options)});
	else
		reply.add(IaNa{a.iaid, t1, t2, std::move(options)});
}

void ServerEngine::add_requested_options(Message &reply, const Message &received) const
{
	// RFC 8415 §18.3: configuration options the client asked for (ORO,
	// §21.7) and we have.
	const OptionRequest *oro = received.get<OptionRequest>();
	if (!oro)
		return;
	if (!config_.dns_servers.empty() && oro->requests(OPTION_DNS_SERVERS))
		reply.add(DnsServers{config_.dns_servers});
	if (!config_.domain_search.empty() && oro->requests(OPTION_DOMAIN_LIST))
		reply.add(DomainList{config_.domain_search});
	if (config_.address_selection && oro->requests(OPTION_ADDRSEL))
		reply.add(*config_.address_selection);
	// RFC 8910 §2.2: the configured URI, else the upstream one.
	const std::optional<std::string> &portal =
		config_.captive_portal ? config_.captive_portal : upstream_captive_portal_;
	if (portal && !portal->empty() && oro->requests(OPTION_CAPTIVE_PORTAL))
		reply.add(CaptivePortal{*portal});
}

namespace {

std::string no_lease_message(LeaseKind kind)
{
	return kind == LeaseKind::prefix ? "no prefix available on this link"
					 : "no address available on this link";
}

Status no_lease_status(LeaseKind kind)
{
	return kind == LeaseKind::prefix ? Status::NoPrefixAvail : Status::NoAddrsAvail;
}

// RFC 8415 §21.5: we assign no temporary addresses. Each IA_TA (kept raw
// by the parser) is answered with its IAID and `status`; one shorter than
// its 4-octet IAID is not an IA and gets nothing.
void answer_ia_tas(Message &reply, const Message &received, Status status, const std::string &text)
{
	std::vector<uint32_t> seen;
	for (const Option *o : received.options.find_all(OPTION_IA_TA)) {
		const RawOption *raw = o->as<RawOption>();
		if (!raw || raw->data.size() < 4)
			continue;
		const uint32_t iaid = uint32_t(raw->data[0]) << 24 | uint32_t(raw->data[1]) << 16 |
				      uint32_t(raw->data[2]) << 8 | raw->data[3];
		if (std::find(seen.begin(), seen.end(), iaid) != seen.end())
			continue;
		seen.push_back(iaid);
		RawOption ia{OPTION_IA_TA, {raw->data.begin(), raw->data.begin() + 4}};
		std::vector<uint8_t> status_tlv = encode_option(StatusCode{status, text});
		ia.data.insert(ia.data.end(), status_tlv.begin(), status_tlv.end());
		reply.options.add(std::move(ia));
	}
}

bool has_ia_ta(const Message &m) { return m.options.find(OPTION_IA_TA) != nullptr; }

} // namespace

// RFC 8415 §18.3.1.
Message ServerEngine::solicit(const Exchange &x)
{
	// §18.3.1, §21.14: commit at once only when both sides want it.
	const bool rapid = config_.rapid_commit && x.message.has<RapidCommit>();
	const std::vector<IaRequest> ias = ias_of(x.message);
	std::vector<IaAnswer> answers;
	bool any_granted = false;
	for (const IaRequest &ia : ias) {
		IaAnswer a{ia.kind, ia.iaid, pick(x, ia), {}, {}, {}};
		if (a.granted) {
			any_granted = true;
			if (rapid)
				bind(x, key_of(x, ia), *a.granted);
		} else {
			a.status = no_lease_status(ia.kind);
			a.status_message = no_lease_message(ia.kind);
		}
		answers.push_back(std::move(a));
	}
	Message reply = rapid ? Message::reply(x.message, duid_) : Message::advertise(x.message, duid_);
	if (rapid) {
		reply.add(RapidCommit{});
	} else if (!any_granted) {
		// §18.3.9 (and RFC 3633 §11.2 with its verified erratum 2470):
		// nothing to offer: every IA comes back empty with NoPrefixAvail
		// or NoAddrsAvail inside it (below). The top-level Status Code
		// is what RFC 3315 §17.2.2 clients look for; RFC 8415 clients
		// ignore an Advertise without leases either way (§18.2.9). No
		// Preference: it would only draw a client to an empty offer.
		bool wants_prefix = std::any_of(ias.begin(), ias.end(), [](const IaRequest &ia) {
			return ia.kind == LeaseKind::prefix;
		});
		LeaseKind kind = wants_prefix || (ias.empty() && !has_ia_ta(x.message)) ? LeaseKind::prefix
											 : LeaseKind::address;
		reply.add(StatusCode{no_lease_status(kind), no_lease_message(kind)});
	} else if (config_.preference) {
		reply.add(Preference{*config_.preference});
	}
	for (const IaAnswer &a : answers)
		add_ia(reply, a);
	answer_ia_tas(reply, x.message, Status::NoAddrsAvail, "no temporary addresses here");
	add_requested_options(reply, x.message);
	return reply;
}

// RFC 8415 §18.3.2.
Message ServerEngine::request(const Exchange &x)
{
	Message reply = Message::reply(x.message, duid_);
	for (const IaRequest &ia : ias_of(x.message)) {
		// §18.3.2: an address from another link is answered with
		// NotOnLink, so the client asks again without it (§18.2.10.1).
		// Prefix hints from elsewhere are just not followed.
		if (ia.kind == LeaseKind::address && !all_on_link(x, ia.listed)) {
			add_ia(reply, {ia.kind, ia.iaid, {}, {}, Status::NotOnLink, "address not on this link"});
			continue;
		}
		IaAnswer a{ia.kind, ia.iaid, pick(x, ia), {}, {}, {}};
		if (a.granted) {
			bind(x, key_of(x, ia), *a.granted);
		} else {
			a.status = no_lease_status(ia.kind);
			a.status_message = no_lease_message(ia.kind);
		}
		add_ia(reply, a);
	}
	answer_ia_tas(reply, x.message, Status::NoAddrsAvail, "no temporary addresses here");
	add_requested_options(reply, x.message);
	return reply;
}

// RFC 8415 §18.3.4 (Renew) and §18.3.5 (Rebind).
Message ServerEngine::renew_or_rebind(const Exchange &x, bool rebind)
{
	Message reply = Message::reply(x.message, duid_);
	for (const IaRequest &ia : ias_of(x.message)) {
		const LeaseKey key = key_of(x, ia);
		IaAnswer a{ia.kind, ia.iaid, {}, {}, {}, {}};
		const Lease *lease = leases_.find(key);
		// The client's entry: a live lease, or an ended one whose
		// prefix nobody took in the meantime.
		const bool have_entry = lease && (lease->live(x.now) || usable_by(lease->prefix, key, x.now));
		if (have_entry) {
			if (appropriate(lease->prefix, x.link, ia.kind) && usable_by(lease->prefix, key, x.now)) {
				a.granted = lease->prefix;
			} else {
				// §18.3.4: no longer appropriate for the link (the
				// pools changed, or a reservation took it): lifetimes
				// 0, and a new prefix when one is free.
				a.withdrawn.push_back(lease->prefix);
				if (lease->live(x.now))
					leases_.release(key, x.now);
				a.granted = pick(x, ia);
			}
		} else if (rebind) {
			// §18.3.5: no entry. What the client holds and is ours to
			// give (e.g. after the journal was lost) is bound again;
			// what is not ours gets lifetimes 0.
			for (const Ipv6Prefix &p : ia.listed) {
				if (!a.granted && appropriate(p, x.link, ia.kind) && usable_by(p, key, x.now))
					a.granted = p;
				else
					a.withdrawn.push_back(p);
			}
		}
		if (a.granted)
			bind(x, key, *a.granted);
		// What the client lists that is not (any more) its lease.
		for (const Ipv6Prefix &p : ia.listed)
			if (p != a.granted && std::find(a.withdrawn.begin(), a.withdrawn.end(), p) == a.withdrawn.end() &&
			    have_entry)
				a.withdrawn.push_back(p);
		if (!a.granted && a.withdrawn.empty()) {
			// §18.3.4/§18.3.5: no binding for this IA.
			a.status = Status::NoBinding;
			a.status_message = "no binding for this IA";
		}
		add_ia(reply, a);
	}
	answer_ia_tas(reply, x.message, Status::NoBinding, "no binding for this IA");
	add_requested_options(reply, x.message);
	return reply;
}

// RFC 8415 §18.3.7.
Message ServerEngine::release(const Exchange &x)
{
	Message reply = Message::reply(x.message, duid_);
	for (const IaRequest &ia : ias_of(x.message)) {
		const LeaseKey key = key_of(x, ia);
		const Lease *lease = leases_.find(key);
		if (lease && lease->live(x.now) &&
		    std::find(ia.listed.begin(), ia.listed.end(), lease->prefix) != ia.listed.end()) {
			leases_.release(key, x.now);
			continue;
		}
		add_ia(reply, {ia.kind, ia.iaid, {}, {}, Status::NoBinding, "no binding for this IA"});
	}
	answer_ia_tas(reply, x.message, Status::NoBinding, "no binding for this IA");
	reply.add(StatusCode{Status::Success, "released"});
	return reply;
}

// RFC 8415 §18.3.8: Decline is about addresses a client found in use.
Message ServerEngine::decline(const Exchange &x)
{
	Message reply = Message::reply(x.message, duid_);
	for (const IaRequest &ia : ias_of(x.message)) {
		const LeaseKey key = key_of(x, ia);
		const Lease *lease = leases_.find(key);
		const bool bound = lease && lease->live(x.now) &&
				   std::find(ia.listed.begin(), ia.listed.end(), lease->prefix) != ia.listed.end();
		if (!bound) {
			add_ia(reply, {ia.kind, ia.iaid, {}, {}, Status::NoBinding, "no binding for this IA"});
			continue;
		}
		if (ia.kind == LeaseKind::address) {
			// Park the address so that nobody gets it before its
			// lifetime would have ended.
			const Ipv6Prefix address = lease->prefix;
			leases_.release(key, x.now);
			Lease parked;
			parked.key = {declined_owner(), ia.iaid, LeaseKind::address};
			parked.prefix = address;
			parked.expires = expiry(x.now, config_.valid_lifetime);
			leases_.bind(parked, x.now);
		}
	}
	answer_ia_tas(reply, x.message, Status::NoBinding, "no binding for this IA");
	reply.add(StatusCode{Status::Success, "declined"});
	return reply;
}

// Whether every address lies in an address pool's prefix of the client's
// link (what Request may assign there, §18.3.2).
bool ServerEngine::all_on_link(const Exchange &x, const std::vector<Ipv6Prefix> &addresses) const
{
	const std::vector<const Pool *> pools = pools_for(x.link, LeaseKind::address);
	return std::all_of(addresses.begin(), addresses.end(), [&](const Ipv6Prefix &a) {
		return is_unspecified(a.address) || std::any_of(pools.begin(), pools.end(), [&](const Pool *p) {
			       return p->config.prefix.contains(a);
		       });
	});
}

// RFC 8415 §18.3.3.
std::optional<Message> ServerEngine::confirm(const Exchange &x)
{
	std::vector<Ipv6Prefix> addresses;
	for (const IaRequest &ia : ias_of(x.message))
		if (ia.kind == LeaseKind::address)
			addresses.insert(addresses.end(), ia.listed.begin(), ia.listed.end());
	// No addresses, or no address pool telling us the link's prefixes:
	// the test cannot be made and the server MUST NOT reply.
	if (addresses.empty())
		return drop("Confirm without addresses");
	// The link's prefixes: on a link of ours, those of the interface's own
	// global addresses (kept current from rtnetlink); behind a relay, the
	// relay_link of the pools serving it; on either, the address pools'.
	std::vector<Ipv6Prefix> on_link;
	if (x.link.relayed) {
		for (const Pool &p : pools_)
			if (p.config.relay_link && x.link.relay_link_address &&
			    p.config.relay_link->contains({*x.link.relay_link_address, 128}))
				on_link.push_back(*p.config.relay_link);
	} else if (auto known = link_prefixes_.find(x.link.interface); known != link_prefixes_.end()) {
		on_link = known->second;
	}
	for (const Pool *p : pools_for(x.link, LeaseKind::address))
		on_link.push_back(p->config.prefix);
	if (on_link.empty())
		return drop("Confirm on a link of unknown prefixes");
	const bool all_fit = std::all_of(addresses.begin(), addresses.end(), [&](const Ipv6Prefix &a) {
		return std::any_of(on_link.begin(), on_link.end(),
				   [&](const Ipv6Prefix &p) { return p.contains(a); });
	});
	Message reply = Message::reply(x.message, duid_);
	if (all_fit)
		reply.add(StatusCode{Status::Success, "all addresses on link"});
	else
		reply.add(StatusCode{Status::NotOnLink, "an address is not on this link"});
	return reply;
}

// RFC 8415 §18.3.6.
Message ServerEngine::information_request(const Exchange &x)
{
	Message reply = Message::reply(x.message, duid_);
	add_requested_options(reply, x.message);
	return reply;
}

uint64_t ServerEngine::next_replay_detection(Seconds now)
{
	// NTP format: seconds since 1900 in the upper half, the fraction in
	// the lower; never the same value twice, never smaller.
	const double t = std::max(0.0, now.count());
	const uint64_t seconds = uint64_t(t) + 2208988800ULL;
	const uint64_t fraction = uint64_t((t - std::floor(t)) * 4294967296.0) & 0xffffffffULL;
	last_replay_detection_ = std::max(last_replay_detection_ + 1, seconds << 32 | fraction);
	return last_replay_detection_;
}

bool ServerEngine::still_fits(const Lease &lease) const
{
	if (reserved_for_other(lease.prefix, lease.key))
		return false;
	Link link;
	if (!lease.relay_path.empty()) {
		Message path;
		try {
			path = Message::parse(lease.relay_path);
		} catch (const ParseError &) {
			return in_any_pool(lease); // not ours to judge: leave it be
		}
		std::vector<const Message *> chain;
		for (const Message *m = &path; m && m->is_relay(); m = m->relayed())
			chain.push_back(m);
		link.relayed = true;
		link.relay_link_address = relay_link_address(chain);
	} else {
		link.interface = lease.interface;
	}
	return appropriate(lease.prefix, link, lease.key.kind);
}

const Lease *ServerEngine::reconfigure_target(const std::vector<uint8_t> &duid, int64_t now) const
{
	const auto &all = leases_.all();
	for (auto it = all.lower_bound(LeaseKey{duid, 0, LeaseKind::prefix});
	     it != all.end() && it->first.duid == duid; ++it) {
		const Lease &l = it->second;
		if (l.live(now) && l.reconfigure_key && l.next_hop && !l.interface.empty())
			return &l;
	}
	return nullptr;
}

// RFC 8415 §18.3.11.
size_t ServerEngine::schedule_reconfigures(Seconds now)
{
	if (!config_.reconfigure)
		return 0;
	const int64_t t = int64_t(now.count());
	size_t queued = 0;
	for (const auto &[key, lease] : leases_.all()) {
		if (!lease.live(t) || !lease.reconfigure_key || !lease.next_hop || lease.interface.empty() ||
		    key.duid == declined_owner() || reconfigures_.count(key.duid) || still_fits(lease))
			continue;
		reconfigures_.emplace(key.duid, PendingReconfigure{Retransmission(kReconfigureRetransmit, rand_), now});
		counters_.reconfigure["queued"]++;
		queued++;
	}
	return queued;
}

std::optional<Outgoing> ServerEngine::reconfigure_message(const Lease &lease, Seconds now)
{
	// §18.3.11: transaction-id 0, Server and Client Identifier, the
	// message to answer with (§21.19), and §20.4.2's HMAC-MD5 with the
	// client's key. Renew: the client comes back to us, and its next
	// Reply withdraws the lease that no longer fits (§18.3.4).
	Message m;
	try {
		m = Message::reconfigure(duid_, Duid::from_bytes(lease.key.duid), MessageType::Renew);
	} catch (const std::invalid_argument &) {
		return std::nullopt; // a journal DUID no Client Identifier can carry
	}
	sign_reconfigure(m, *lease.reconfigure_key, next_replay_detection(now));
	Outgoing out;
	out.destination = *lease.next_hop;
	out.interface = lease.interface;
	out.type = MessageType::Reconfigure;
	if (lease.relay_path.empty()) {
		// §18.3.11: to an address of the client (the one it sent from).
		out.port = kClientPort;
		out.payload = m.serialize();
	} else {
		// A relayed client: through its relays, as a Relay-Reply (§19.3)
		// to the relay nearest to us, on the relay port (§7.2).
		try {
			out.payload = Message::relay_reply(Message::parse(lease.relay_path), std::move(m)).serialize();
		} catch (const std::exception &) {
			return std::nullopt;
		}
		out.port = kServerPort;
	}
	return out;
}

std::vector<Outgoing> ServerEngine::due_reconfigures(Seconds now)
{
	std::vector<Outgoing> out;
	const int64_t t = int64_t(now.count());
	for (auto it = reconfigures_.begin(); it != reconfigures_.end();) {
		PendingReconfigure &p = it->second;
		if (p.next > now) {
			++it;
			continue;
		}
		const Lease *lease = reconfigure_target(it->first, t);
		std::optional<Seconds> wait = p.retransmission.transmissions() == 0 ? p.retransmission.first(now)
										 : p.retransmission.next(now);
		std::optional<Outgoing> message;
		if (lease && wait)
			message = reconfigure_message(*lease, now);
		if (!message) {
			// §18.3.11: after REC_MAX_RC transmissions the server
			// SHOULD give up; a lease that ended needs nothing more.
			counters_.reconfigure[!lease ? "lease ended" : !wait ? "unanswered" : "cannot send"]++;
			it = reconfigures_.erase(it);
			continue;
		}
		counters_.sent[message_type_name(MessageType::Reconfigure)]++;
		out.push_back(std::move(*message));
		p.next = now + *wait;
		++it;
	}
	return out;
}

std::optional<Seconds> ServerEngine::next_reconfigure() const
{
	std::optional<Seconds> next;
	for (const auto &[duid, p] : reconfigures_)
		if (!next || p.next < *next)
			next = p.next;
	return next;
}

nlohmann::json ServerEngine::reconfigure_status() const
{
	nlohmann::json out = nlohmann::json::array();
	for (const auto &[duid, p] : reconfigures_)
	{
		std::string text;
		for (uint8_t b : duid) {
			static const char digits[] = "0123456789abcdef";
			if (!text.empty())
				text += ':';
			text += digits[b >> 4];
			text += digits[b & 15];
		}
		out.push_back({{"duid", text}, {"transmissions", p.retransmission.transmissions()}});
	}
	return out;
}

nlohmann::json ServerEngine::pools_status(int64_t now) const
{
	std::vector<uint64_t> used(pools_.size(), 0);
	for (const auto &[key, l] : leases_.all()) {
		if (!l.live(now))
			continue;
		for (size_t i = 0; i < pools_.size(); i++)
			if (pools_[i].config.kind == l.key.kind && pools_[i].range.index_of(l.prefix)) {
				used[i]++;
				break;
			}
	}
	nlohmann::json out = nlohmann::json::array();
	for (size_t i = 0; i < pools_.size(); i++) {
		const PoolConfig &c = pools_[i].config;
		nlohmann::json p;
		p["kind"] = c.kind == LeaseKind::prefix ? "prefix" : "address";
		p["prefix"] = c.prefix.str();
		p["delegated_length"] = c.delegated_length;
		if (c.relay_link)
			p["relay_link"] = c.relay_link->str();
		else
			p["interface"] = c.interface;
		p["size"] = pools_[i].range.size();
		p["used"] = used[i];
		out.push_back(std::move(p));
	}
	return out;
}

} // namespace umigame::dhcp6d
