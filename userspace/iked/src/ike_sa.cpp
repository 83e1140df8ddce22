// One IKE SA: IKE_SA_INIT and IKE_AUTH in both roles, CREATE_CHILD_SA
// (new CHILD_SAs, CHILD_SA and IKE SA rekeys, §1.3), INFORMATIONAL (Delete,
// liveness, §1.4), the window of one request with retransmission (§2.1,
// §2.3) and rekey collisions (§2.8.1, §2.8.2).
#include <sys/socket.h>

#include <algorithm>
#include <random>

#include "umigame/iked/credentials.h"
#include "umigame/iked/engine.h"
#include "umigame/iked/engine_util.h"
#include "umigame/iked/selectors.h"
#include "umigame/log.h"

namespace umigame::iked {

using namespace umigame::ike;

namespace {

constexpr size_t kNonceSize = 32;
// How long an old inbound SA keeps accepting after a rekey: packets the
// peer sent before it switched may still be on their way.
constexpr auto kRekeyGrace = std::chrono::seconds(2);
// How long the responder of a CHILD_SA rekey waits for the initiator's
// Delete of the old SA before it sends on the new one anyway.
constexpr auto kOutboundDelay = std::chrono::seconds(5);

Payload payload(PayloadType type, PayloadBody body)
{
	return Payload{type, false, std::move(body)};
}

Payload notify_payload(uint16_t type, std::vector<uint8_t> data = {}, ProtocolId protocol = ProtocolId{0},
		       std::vector<uint8_t> spi = {})
{
	NotifyPayload n;
	n.protocol = protocol;
	n.spi = std::move(spi);
	n.type = type;
	n.data = std::move(data);
	return payload(PayloadType::Notify, n);
}

std::vector<uint8_t> spi_bytes(uint32_t spi)
{
	return {static_cast<uint8_t>(spi >> 24), static_cast<uint8_t>(spi >> 16), static_cast<uint8_t>(spi >> 8),
		static_cast<uint8_t>(spi)};
}

std::vector<uint8_t> spi_bytes64(uint64_t spi)
{
	std::vector<uint8_t> out(8);
	for (int i = 7; i >= 0; i--, spi >>= 8)
		out[static_cast<size_t>(i)] = static_cast<uint8_t>(spi);
	return out;
}

uint32_t spi_value(std::span<const uint8_t> b)
{
	return b.size() == 4 ? (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3] : 0;
}

uint64_t spi_value64(std::span<const uint8_t> b)
{
	uint64_t v = 0;
	for (uint8_t x : b)
		v = (v << 8) | x;
	return b.size() == 8 ? v : 0;
}

// "The lowest of the four nonces" (§2.8.1): octet strings in
// lexicographic order, a nonce that is a prefix of another being lower
// (the RFC names no other order; both ends must use the same one).
bool nonce_less(std::span<const uint8_t> a, std::span<const uint8_t> b)
{
	return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}

const Bytes &lower(const Bytes &a, const Bytes &b)
{
	return nonce_less(a, b) ? a : b;
}

Bytes make_nonce(std::deque<uint8_t> &forced)
{
	Bytes n = random_bytes(kNonceSize);
	if (!forced.empty()) {
		n[0] = forced.front();
		forced.pop_front();
	}
	return n;
}

std::chrono::seconds jittered(std::chrono::seconds base, std::chrono::seconds rand)
{
	if (rand.count() <= 0)
		return base;
	static std::mt19937_64 rng{std::random_device{}()};
	std::uniform_int_distribution<int64_t> d(0, rand.count());
	return base - std::chrono::seconds(d(rng));
}

std::string state_name(IkeSa::State s)
{
	switch (s) {
	case IkeSa::State::init_sent: return "init_sent";
	case IkeSa::State::init_answered: return "init_answered";
	case IkeSa::State::auth_sent: return "auth_sent";
	case IkeSa::State::established: return "established";
	case IkeSa::State::rekeyed: return "rekeyed";
	case IkeSa::State::deleting: return "deleting";
	}
	return "?";
}

} // namespace

IkeSa::IkeSa(Engine &engine, const ConnectionConfig *conn, bool initiator, Endpoint local, Endpoint remote,
	     uint64_t local_spi)
	: engine_(engine), conn_(conn), initiator_(initiator), local_(local), remote_(remote),
	  reply_local_(local), reply_remote_(remote), state_(initiator ? State::init_sent : State::init_answered), created_(EventLoop::now())
{
	(initiator ? spi_i_ : spi_r_) = local_spi;
	last_heard_ = created_;
}

IkeSa::~IkeSa()
{
	// Both halves of every CHILD_SA go, whatever state it was in (an
	// outbound SA a rekey already removed is simply not found).
	for (auto &child : children_) {
		try {
			engine_.kernel_.del_outbound(child->spec);
		} catch (const std::exception &e) {
			log::warning("removing an outbound SA: " + std::string(e.what()));
		}
		try {
			engine_.kernel_.del_inbound(child->spec);
		} catch (const std::exception &e) {
			log::warning("removing an inbound SA: " + std::string(e.what()));
		}
	}
	// Policies go with the last CHILD_SA that has their selectors (other
	// peers of the same child config share the reqid, not the selectors);
	// a rekeyed IKE SA's children moved to its successor and are not here.
	for (auto &child : children_) {
		if (!engine_.policies_in_use(child->spec, this)) {
			try {
				engine_.kernel_.remove_policies(child->spec);
			} catch (const std::exception &e) {
				log::warning("removing policies: " + std::string(e.what()));
			}
			engine_.rearm_trap(child->spec.reqid);
		}
	}
}

std::string name_of(const IkeSa &sa)
{
	return (sa.connection() ? sa.connection()->name : std::string("(unnamed)")) + "[" + hex64(sa.spi_i()) + "/" +
	       hex64(sa.spi_r()) + "]";
}

nlohmann::json IkeSa::json() const
{
	nlohmann::json children = nlohmann::json::array();
	for (const auto &c : children_) {
		const char *st = c->state == ChildSa::State::installed  ? "installed"
				 : c->state == ChildSa::State::rekeying ? "rekeying"
				 : c->state == ChildSa::State::rekeyed  ? "rekeyed"
									: "deleting";
		nlohmann::json tsl = nlohmann::json::array(), tsr = nlohmann::json::array();
		for (const auto &t : c->spec.local_ts)
			tsl.push_back(to_string(t));
		for (const auto &t : c->spec.remote_ts)
			tsr.push_back(to_string(t));
		nlohmann::json j = {{"name", c->spec.child},
				    {"state", st},
				    {"reqid", c->spec.reqid},
				    {"mode", c->spec.transport ? "transport" : "tunnel"},
				    {"spi_in", hex32(c->spec.spi_in)},
				    {"spi_out", hex32(c->spec.spi_out)},
				    {"encap", c->spec.encap},
				    {"proposal", c->spec.algorithms.str(false)},
				    {"local_ts", tsl},
				    {"remote_ts", tsr},
				    {"age_seconds", std::chrono::duration_cast<std::chrono::seconds>(
							    EventLoop::now() - c->established)
							    .count()}};
		if (auto usage = engine_.kernel_.inbound_usage(c->spec))
			j["in_bytes"] = usage->bytes, j["in_packets"] = usage->packets;
		children.push_back(j);
	}
	return {{"connection", conn_ ? conn_->name : ""},
		{"state", state_name(state_)},
		{"initiator", initiator_},
		{"spi_i", hex64(spi_i_)},
		{"spi_r", hex64(spi_r_)},
		{"local", local_.str()},
		{"remote", remote_.str()},
		{"nat_local", nat_local_},
		{"nat_remote", nat_remote_},
		{"proposal", alg_.encr ? alg_.str(true) : ""},
		{"fragmentation", peer_fragmentation_},
		{"children", children}};
}

// ---------------------------------------------------------------------------
// Sending: protection, fragmentation (RFC 7383), window and retransmission.

std::vector<std::vector<uint8_t>> IkeSa::protect(const Header &header_in, const Payloads &payloads)
{
	uint8_t first = 0;
	Bytes plain = serialize_payloads(payloads, &first);
	Header header = header_in;
	size_t whole = Header::kSize + 4 + sk_out_->sealed_size(plain.size());
	// RFC 7383 §2.5: fragment only what would not fit, only after the
	// peer said it can reassemble, and never IKE_SA_INIT.
	bool fragment = conn_ && conn_->fragmentation && peer_fragmentation_ && whole > conn_->fragment_size &&
			header.exchange != ExchangeType::IkeSaInit;
	if (!fragment) {
		header.next_payload = static_cast<uint8_t>(PayloadType::SK);
		header.length = static_cast<uint32_t>(whole);
		Bytes aad;
		header.serialize(aad);
		size_t body = sk_out_->sealed_size(plain.size());
		aad.push_back(first);
		aad.push_back(0);
		aad.push_back(static_cast<uint8_t>((4 + body) >> 8));
		aad.push_back(static_cast<uint8_t>(4 + body));
		Bytes sealed = sk_out_->seal(aad, plain);
		aad.insert(aad.end(), sealed.begin(), sealed.end());
		return {aad};
	}
	// §2.5.1: the fragment's IKE datagram (header, SKF header, body) fits
	// fragment_size; 8 more octets for UDP, the IP header is the MTU's.
	size_t overhead = Header::kSize + 8;
	size_t max_body = conn_->fragment_size > overhead + 8 ? conn_->fragment_size - overhead - 8 : 64;
	size_t chunk = sk_out_->overhead_for_mtu(max_body);
	if (chunk == 0)
		chunk = 64;
	auto pieces = split_for_fragments(plain, chunk);
	std::vector<std::vector<uint8_t>> out;
	uint16_t total = static_cast<uint16_t>(pieces.size());
	for (uint16_t i = 0; i < total; i++) {
		size_t body = sk_out_->sealed_size(pieces[i].size());
		header.next_payload = static_cast<uint8_t>(PayloadType::SKF);
		header.length = static_cast<uint32_t>(Header::kSize + 8 + body);
		Bytes aad;
		header.serialize(aad);
		aad.push_back(i == 0 ? first : 0);
		aad.push_back(0);
		aad.push_back(static_cast<uint8_t>((8 + body) >> 8));
		aad.push_back(static_cast<uint8_t>(8 + body));
		uint16_t number = static_cast<uint16_t>(i + 1);
		aad.push_back(static_cast<uint8_t>(number >> 8));
		aad.push_back(static_cast<uint8_t>(number));
		aad.push_back(static_cast<uint8_t>(total >> 8));
		aad.push_back(static_cast<uint8_t>(total));
		Bytes sealed = sk_out_->seal(aad, pieces[i]);
		aad.insert(aad.end(), sealed.begin(), sealed.end());
		out.push_back(std::move(aad));
	}
	engine_.counters_.fragments_sent += out.size();
	return out;
}

void IkeSa::transmit(const std::vector<std::vector<uint8_t>> &datagrams)
{
	transmit_to(datagrams, local_, remote_);
}

void IkeSa::transmit_to(const std::vector<std::vector<uint8_t>> &datagrams, const Endpoint &local,
			const Endpoint &remote)
{
	for (const auto &d : datagrams) {
		engine_.env_.send(local, remote, d);
		engine_.counters_.sent++;
	}
}

void IkeSa::request(ExchangeType type, Payloads payloads, ResponseHandler on_response)
{
	Outstanding o;
	o.type = type;
	o.payloads = std::move(payloads);
	o.on_response = std::move(on_response);
	queued_.push_back(std::move(o));
	if (!outstanding_)
		send_next_request();
}

void IkeSa::send_next_request()
{
	if (outstanding_ || queued_.empty() || state_ == State::deleting)
		return;
	outstanding_ = std::move(queued_.front());
	queued_.pop_front();
	Outstanding &o = *outstanding_;
	o.id = next_request_id_++;
	Header h;
	h.spi_i = spi_i_;
	h.spi_r = spi_r_;
	h.exchange = o.type;
	h.flags = initiator_ ? Header::kFlagInitiator : 0;
	h.message_id = o.id;
	if (o.type == ExchangeType::IkeSaInit) {
		Message m;
		m.header = h;
		m.payloads = o.payloads;
		o.datagrams = {m.serialize()};
		init_request_ = o.datagrams.front();
	} else {
		o.datagrams = protect(h, o.payloads);
	}
	o.tries = 0;
	transmit(o.datagrams);
	retransmit_timer_ = engine_.loop_.after(conn_ ? conn_->retransmit_timeout : std::chrono::seconds(2),
						[this] { retransmit(); });
}

void IkeSa::retransmit()
{
	if (!outstanding_)
		return;
	Outstanding &o = *outstanding_;
	uint32_t tries = conn_ ? conn_->retransmit_tries : 5;
	if (++o.tries > tries) {
		// §2.4: "the other endpoint ... is considered dead".
		engine_.counters_.dead_peers++;
		die("no answer to " + to_string(o.type) + " after " + std::to_string(tries) +
		    " retransmissions: peer is dead (RFC 7296 §2.4)");
		return;
	}
	engine_.counters_.retransmits++;
	transmit(o.datagrams);
	// §2.1: exponential back-off.
	auto base = conn_ ? conn_->retransmit_timeout : std::chrono::milliseconds(2000);
	auto next = base * (1u << std::min<uint32_t>(o.tries, 6));
	retransmit_timer_ = engine_.loop_.after(next, [this] { retransmit(); });
}

void IkeSa::respond(const Message &request_msg, Payloads payloads)
{
	Header h;
	h.spi_i = spi_i_;
	h.spi_r = spi_r_;
	h.exchange = request_msg.header.exchange;
	h.flags = Header::kFlagResponse | (initiator_ ? Header::kFlagInitiator : 0);
	h.message_id = request_msg.header.message_id;
	last_response_ = protect(h, payloads);
	last_response_valid_ = true;
	transmit_to(last_response_, reply_local_, reply_remote_);
}

// ---------------------------------------------------------------------------
// Receiving.

std::optional<IkeSa::Payloads> IkeSa::decrypt(const Message &msg, std::span<const uint8_t> datagram)
{
	if (!sk_in_)
		return std::nullopt;
	if (msg.payloads.empty())
		return std::nullopt;
	const Payload &last = msg.payloads.back();
	if (const auto *sk = std::get_if<EncryptedPayload>(&last.body)) {
		if (sk->offset + 4 > datagram.size())
			return std::nullopt;
		auto plain = sk_in_->open(datagram.first(sk->offset + 4), sk->data);
		if (!plain) {
			engine_.counters_.integrity_failed++;
			return std::nullopt;
		}
		try {
			return parse_payloads(sk->first_inner, *plain, sk->offset + 4);
		} catch (const ParseError &e) {
			engine_.counters_.malformed++;
			log::info(name_of(*this) + ": malformed payloads inside SK: " + e.reason());
			return std::nullopt;
		}
	}
	if (const auto *skf = std::get_if<EncryptedFragmentPayload>(&last.body)) {
		engine_.counters_.fragments_received++;
		if (skf->offset + 8 > datagram.size())
			return std::nullopt;
		auto plain = sk_in_->open(datagram.first(skf->offset + 8), skf->data);
		if (!plain) {
			engine_.counters_.integrity_failed++;
			return std::nullopt;
		}
		// RFC 7383 §2.6: a peer that fragments supports fragmentation.
		peer_fragmentation_ = true;
		uint8_t first = 0;
		auto whole = fragments_.add(msg.header.message_id, skf->number, skf->total, skf->first_inner, *plain,
					    &first);
		if (!whole)
			return std::nullopt;
		try {
			return parse_payloads(first, *whole, 0);
		} catch (const ParseError &e) {
			engine_.counters_.malformed++;
			log::info(name_of(*this) + ": malformed payloads in reassembled message: " + e.reason());
			return std::nullopt;
		}
	}
	return std::nullopt;
}

void IkeSa::receive(const Message &msg, std::span<const uint8_t> datagram, const Endpoint &local,
		    const Endpoint &remote)
{
	const Header &h = msg.header;
	if (h.exchange == ExchangeType::IkeSaInit) {
		if (h.is_response() && initiator_ && state_ == State::init_sent && outstanding_ &&
		    outstanding_->type == ExchangeType::IkeSaInit)
			on_init_response(msg, datagram);
		return;
	}
	if (h.is_response()) {
		if (!outstanding_ || h.message_id != outstanding_->id) {
			engine_.counters_.bad_message_id++;
			return;
		}
		auto payloads = decrypt(msg, datagram);
		if (!payloads)
			return;
		last_heard_ = EventLoop::now();
		// §2.23: after NAT detection, follow the peer's address and port.
		if ((nat_remote_ || nat_local_) && remote != remote_ && local.port == remote.port)
			remote_ = remote;
		Outstanding done = std::move(*outstanding_);
		outstanding_.reset();
		retransmit_timer_.reset();
		Message header_only;
		header_only.header = h;
		done.on_response(header_only, *payloads);
		send_next_request();
		return;
	}
	// A request from the peer (§2.3): the next one, or the last one again.
	if (h.message_id + 1 == peer_next_id_ && last_response_valid_) {
		transmit_to(last_response_, local, remote);
		return;
	}
	if (h.message_id != peer_next_id_) {
		engine_.counters_.bad_message_id++;
		return;
	}
	auto payloads = decrypt(msg, datagram);
	if (!payloads)
		return;
	last_heard_ = EventLoop::now();
	// §2.11: the response goes back where the request came from. A peer
	// that floated to the NAT-T port (§2.23: it may, NAT or not) is
	// followed there for good; other moves only behind a NAT.
	reply_local_ = local;
	reply_remote_ = remote;
	bool floated = remote.addr == remote_.addr && local.port == engine_.config_.nat_port &&
		       local_.port != engine_.config_.nat_port;
	if (((nat_remote_ || nat_local_) || floated) && remote != remote_) {
		log::info(name_of(*this) + ": peer moved to " + remote.str() +
			  (floated ? " (port float, §2.23)" : " (NAT, §2.23)"));
		remote_ = remote;
		local_ = local;
		for (auto &c : children_)
			if (c->spec.encap && c->spec.remote.port != remote.port) {
				c->spec.remote = remote;
				try {
					engine_.kernel_.add_outbound(c->spec); // updates the encap port
				} catch (const std::exception &e) {
					log::warning(std::string("updating the encapsulation port: ") + e.what());
				}
			}
	}
	peer_next_id_++;
	if (const Payload *p = find_unknown_critical(*payloads)) {
		// §2.5: refuse the whole message, naming the payload type.
		engine_.counters_.unsupported_critical++;
		uint8_t type = std::get<UnknownPayload>(p->body).type;
		respond(msg, {notify_payload(notify::UNSUPPORTED_CRITICAL_PAYLOAD, {type})});
		return;
	}
	switch (h.exchange) {
	case ExchangeType::IkeAuth:
		if (!initiator_ && state_ == State::init_answered)
			on_auth_request(msg, *payloads);
		break;
	case ExchangeType::CreateChildSa:
		if (state_ != State::established) {
			// §2.25 / RFC 7296 §2.7: not ready for it.
			respond(msg, {notify_payload(notify::TEMPORARY_FAILURE)});
			break;
		}
		on_create_child_request(msg, *payloads);
		break;
	case ExchangeType::Informational:
		on_informational_request(msg, *payloads);
		break;
	default:
		respond(msg, {notify_payload(notify::INVALID_SYNTAX)});
	}
}

// ---------------------------------------------------------------------------
// Keys, AUTH, NAT detection.

void IkeSa::set_keys(IkeKeys keys)
{
	keys_ = std::move(keys);
	CipherSuite suite = alg_.suite();
	// The initiator sends with SK_ei/SK_ai (§2.14); "initiator" here is the
	// original initiator of this IKE SA.
	if (initiator_) {
		sk_out_ = std::make_unique<SkProtection>(suite, keys_.sk_ei, keys_.sk_ai);
		sk_in_ = std::make_unique<SkProtection>(suite, keys_.sk_er, keys_.sk_ar);
	} else {
		sk_out_ = std::make_unique<SkProtection>(suite, keys_.sk_er, keys_.sk_ar);
		sk_in_ = std::make_unique<SkProtection>(suite, keys_.sk_ei, keys_.sk_ai);
	}
}

void IkeSa::derive_keys(std::span<const uint8_t> shared)
{
	prf_ = std::make_unique<Prf>(alg_.prf);
	set_keys(derive_ike_keys(*prf_, alg_.suite(), ni_, nr_, shared, spi_i_, spi_r_));
}

Bytes IkeSa::auth_octets(bool ours, const IdPayload &id) const
{
	// §2.15: the initiator signs its IKE_SA_INIT request, Nr and
	// prf(SK_pi, IDi'); the responder its response, Ni and prf(SK_pr, IDr').
	bool as_initiator = ours == initiator_;
	const Bytes &message = as_initiator ? init_request_ : init_response_;
	const Bytes &nonce = as_initiator ? nr_ : ni_;
	const Secret &sk_p = as_initiator ? keys_.sk_pi : keys_.sk_pr;
	return signed_octets(message, nonce, *prf_, sk_p, id.body());
}

Payload IkeSa::nat_detection(uint16_t type, const Endpoint &addr) const
{
	return notify_payload(type, nat_detection_hash(spi_i_, spi_r_, addr.addr, addr.port));
}

void IkeSa::check_nat(const Payloads &payloads, const Endpoint &local, const Endpoint &remote)
{
	// §2.23: the peer's DESTINATION hash covers what it sent to (us as it
	// sees us); a mismatch means a NAT in front of us. Its SOURCE hashes
	// cover where it sent from; none matching means a NAT in front of it.
	// Hashes in the IKE_SA_INIT request carry SPIr = 0.
	uint64_t spi_r = initiator_ ? spi_r_ : 0;
	bool saw_source = false, source_ok = false, saw_dest = false, dest_ok = false;
	for (const auto &p : payloads) {
		const auto *n = std::get_if<NotifyPayload>(&p.body);
		if (!n)
			continue;
		if (n->type == notify::NAT_DETECTION_SOURCE_IP) {
			saw_source = true;
			source_ok |= n->data == nat_detection_hash(spi_i_, spi_r, remote.addr, remote.port);
		} else if (n->type == notify::NAT_DETECTION_DESTINATION_IP) {
			saw_dest = true;
			dest_ok |= n->data == nat_detection_hash(spi_i_, spi_r, local.addr, local.port);
		}
	}
	nat_remote_ = saw_source && !source_ok;
	nat_local_ = saw_dest && !dest_ok;
	if (conn_ && conn_->force_encap && saw_source)
		nat_local_ = true; // pretend, as RFC 7296 §2.23 allows, to get UDP encapsulation
	if (nat_local_ || nat_remote_)
		log::info(name_of(*this) + ": NAT detected " +
			  (nat_local_ ? std::string("in front of us") : std::string("in front of the peer")) +
			  ", using UDP encapsulation (RFC 7296 §2.23, RFC 3948)");
}

// ---------------------------------------------------------------------------
// IKE_SA_INIT and IKE_AUTH, initiator.

void IkeSa::start(const std::vector<const ChildConfig *> &children, std::optional<uint16_t> group, Bytes cookie)
{
	pending_children_ = children;
	if (ni_.empty())
		ni_ = make_nonce(engine_.nonce_first_octets);
	uint16_t g = group ? *group : conn_->ike_proposals.front().dh;
	if (!ke_ || ke_->group() != g)
		ke_ = KeyExchange::create(g);
	cookie_ = std::move(cookie);
	SaPayload sa;
	uint8_t number = 1;
	for (const auto &set : conn_->ike_proposals)
		sa.proposals.push_back(to_wire(set, ProtocolId::IKE, number++, {}));
	Payloads p;
	// §2.6: the cookie is the first payload.
	if (!cookie_.empty())
		p.push_back(notify_payload(notify::COOKIE, cookie_));
	p.push_back(payload(PayloadType::SA, sa));
	p.push_back(payload(PayloadType::KE, KePayload{g, ke_->public_value()}));
	p.push_back(payload(PayloadType::Nonce, NoncePayload{ni_}));
	spi_r_ = 0;
	p.push_back(nat_detection(notify::NAT_DETECTION_SOURCE_IP, local_));
	p.push_back(nat_detection(notify::NAT_DETECTION_DESTINATION_IP, remote_));
	if (conn_->fragmentation)
		p.push_back(notify_payload(notify::IKEV2_FRAGMENTATION_SUPPORTED));
	if (conn_->auth == ConnectionConfig::Auth::pubkey)
		p.push_back(notify_payload(notify::SIGNATURE_HASH_ALGORITHMS, supported_signature_hashes()));
	state_ = State::init_sent;
	// A restarted IKE_SA_INIT reuses message ID 0 (§2.6, §1.2).
	outstanding_.reset();
	queued_.clear();
	next_request_id_ = 0;
	request(ExchangeType::IkeSaInit, std::move(p), nullptr);
	log::info(name_of(*this) + ": IKE_SA_INIT sent to " + remote_.str());
}

void IkeSa::on_init_response(const Message &msg, std::span<const uint8_t> datagram)
{
	const Payloads &p = msg.payloads;
	last_heard_ = EventLoop::now();
	if (const auto *cookie = find_notify(p, notify::COOKIE)) {
		// §2.6: once per exchange; a second cookie demand is retried too
		// (the responder may have rolled its secret), bounded by tries.
		if (cookie->data.empty() || cookie->data.size() > 64)
			return;
		retransmit_timer_.reset();
		log::info(name_of(*this) + ": responder asks for a cookie (RFC 7296 §2.6)");
		start(pending_children_, ke_->group(), cookie->data);
		return;
	}
	if (const auto *invalid = find_notify(p, notify::INVALID_KE_PAYLOAD)) {
		// §1.2: retry with the group the responder wants, if we offered it.
		if (invalid->data.size() != 2)
			return;
		uint16_t g = static_cast<uint16_t>((invalid->data[0] << 8) | invalid->data[1]);
		bool offered = false;
		for (const auto &set : conn_->ike_proposals)
			offered |= set.dh == g;
		if (!offered || g == ke_->group()) {
			die("responder wants DH group " + std::to_string(g) + ", which we do not offer");
			return;
		}
		retransmit_timer_.reset();
		log::info(name_of(*this) + ": INVALID_KE_PAYLOAD, retrying with group " + std::to_string(g) +
			  " (RFC 7296 §1.2)");
		start(pending_children_, g, cookie_);
		return;
	}
	if (const auto *err = find_error(p)) {
		die("IKE_SA_INIT refused: " + notify_name(err->type));
		return;
	}
	const auto *sa = msg.find<SaPayload>();
	const auto *ke = msg.find<KePayload>();
	const auto *nr = msg.find<NoncePayload>();
	if (!sa || !ke || !nr || msg.header.spi_r == 0) {
		engine_.counters_.malformed++;
		return; // §2.21: keep waiting for a real answer
	}
	auto chosen = accept_answer(*sa, ProtocolId::IKE, conn_->ike_proposals);
	if (!chosen || chosen->set.dh != ke->group || ke->group != ke_->group()) {
		die("IKE_SA_INIT answer does not match our proposals");
		return;
	}
	alg_ = chosen->set;
	spi_r_ = msg.header.spi_r;
	nr_ = nr->data;
	Secret shared;
	try {
		shared = ke_->shared_secret(ke->data);
	} catch (const CryptoError &e) {
		die(std::string("responder's KE payload: ") + e.what());
		return;
	}
	outstanding_.reset();
	retransmit_timer_.reset();
	init_response_.assign(datagram.begin(), datagram.end());
	derive_keys(shared);
	peer_fragmentation_ = find_notify(p, notify::IKEV2_FRAGMENTATION_SUPPORTED) != nullptr;
	if (const auto *hashes = find_notify(p, notify::SIGNATURE_HASH_ALGORITHMS))
		peer_signature_hashes_ = parse_signature_hashes(hashes->data); // RFC 7427 §4
	check_nat(p, local_, remote_);
	if (nat_local_ || nat_remote_) {
		// §2.23: "the initiator MUST ... switch to port 4500".
		local_.port = engine_.config_.nat_port;
		remote_.port = engine_.config_.nat_port;
	}
	send_auth();
}

std::vector<TrafficSelector> IkeSa::local_selectors(const ChildConfig &c) const
{
	std::vector<TrafficSelector> out;
	for (const auto &p : c.local_ts)
		out.push_back(selector_for(p, c.ip_protocol));
	return out;
}

std::vector<TrafficSelector> IkeSa::remote_selectors(const ChildConfig &c) const
{
	std::vector<TrafficSelector> out;
	for (const auto &p : c.remote_ts)
		out.push_back(selector_for(p, c.ip_protocol));
	return out;
}

namespace {

IdPayload id_payload(const Identity &id)
{
	return IdPayload{id.type, id.data};
}

SaPayload esp_offer(const ChildConfig &c, uint32_t spi_in, bool with_dh)
{
	SaPayload sa;
	uint8_t number = 1;
	for (auto set : c.esp_proposals) {
		if (!with_dh)
			set.dh = 0; // §1.3.1: no KE in IKE_AUTH's child SA
		sa.proposals.push_back(to_wire(set, ProtocolId::ESP, number++, spi_bytes(spi_in)));
	}
	return sa;
}

} // namespace

void IkeSa::send_auth()
{
	Payloads p;
	IdPayload idi = id_payload(conn_->local_id);
	p.push_back(payload(PayloadType::IDi, idi));
	bool pubkey = conn_->auth == ConnectionConfig::Auth::pubkey;
	if (pubkey) {
		// §1.2: IDi, [CERT,] [CERTREQ,] [IDr,] AUTH. §3.7: the initiator
		// asks for the responder's certificate here, having learnt
		// nothing of its CAs it could act on in IKE_SA_INIT.
		for (auto &cert : cert_payloads(*conn_->credentials))
			p.push_back(payload(PayloadType::CERT, std::move(cert)));
		p.push_back(payload(PayloadType::CERTREQ, cert_request(cert_request_key_ids())));
	}
	if (conn_->remote_id)
		p.push_back(payload(PayloadType::IDr, id_payload(*conn_->remote_id)));
	Bytes octets = auth_octets(true, idi);
	if (pubkey) {
		try {
			p.push_back(payload(PayloadType::AUTH,
					    sign_auth_payload(*conn_->credentials, peer_signature_hashes_, octets)));
		} catch (const CryptoError &e) {
			die(std::string("cannot sign AUTH: ") + e.what());
			return;
		}
	} else {
		auto psk = std::span(reinterpret_cast<const uint8_t *>(conn_->psk.data()), conn_->psk.size());
		p.push_back(payload(PayloadType::AUTH, AuthPayload{AuthMethod::PSK, psk_auth(*prf_, psk, octets)}));
	}
	// §2.4: INITIAL_CONTACT says this is the only IKE SA between the two
	// identities, and the peer may drop the others without a Delete. With
	// another connection up under the same pair of IDs it would take that
	// one's SA down at the peer while ours still believes in it.
	bool only_one = true;
	for (const auto &[spi, other] : engine_.sas_)
		if (other.get() != this && other->conn_ && other->state_ != State::deleting &&
		    other->conn_->local_id == conn_->local_id && other->conn_->remote_id == conn_->remote_id)
			only_one = false;
	if (only_one)
		p.push_back(notify_payload(notify::INITIAL_CONTACT));
	// The first CHILD_SA rides along (§1.2), without PFS (§1.3.1).
	const ChildConfig *child = pending_children_.empty() ? nullptr : pending_children_.front();
	uint32_t spi_in = 0;
	std::vector<TrafficSelector> tsi, tsr;
	if (child) {
		pending_children_.erase(pending_children_.begin());
		try {
			spi_in = engine_.kernel_.allocate_spi(local_, remote_,
							      engine_.reqid_for(conn_->name, child->name));
		} catch (const std::exception &e) {
			log::error(name_of(*this) + ": cannot allocate an SPI: " + e.what());
			child = nullptr;
		}
	}
	if (child) {
		if (child->transport)
			p.push_back(notify_payload(notify::USE_TRANSPORT_MODE));
		p.push_back(payload(PayloadType::SA, esp_offer(*child, spi_in, false)));
		tsi = local_selectors(*child);
		tsr = remote_selectors(*child);
		p.push_back(payload(PayloadType::TSi, TsPayload{tsi}));
		p.push_back(payload(PayloadType::TSr, TsPayload{tsr}));
	}
	state_ = State::auth_sent;
	request(ExchangeType::IkeAuth, std::move(p),
		[this, child, spi_in, tsi, tsr](const Message &, const Payloads &answer) {
			on_auth_response(answer);
			if (state_ != State::established || !child)
				return;
			if (const auto *err = find_error(answer)) {
				log::warning(name_of(*this) + "/" + child->name +
					     ": CHILD_SA refused: " + notify_name(err->type));
				return;
			}
			const auto *sa = find_payload<SaPayload>(answer);
			auto ts = find_payloads<TsPayload>(answer);
			// Checked against what we offered: the proposals without
			// their PFS group (§1.3.1, esp_offer).
			std::vector<AlgorithmSet> offered = child->esp_proposals;
			for (auto &s : offered)
				s.dh = 0;
			auto chosen = sa ? accept_answer(*sa, ProtocolId::ESP, offered) : std::nullopt;
			const TsPayload *ats = find_typed<TsPayload>(answer, PayloadType::TSi);
			const TsPayload *rts = find_typed<TsPayload>(answer, PayloadType::TSr);
			if (!chosen || chosen->spi.size() != 4 || !ats || !rts || !within(ats->selectors, tsi) ||
			    !within(rts->selectors, tsr)) {
				log::warning(name_of(*this) + "/" + child->name +
					     ": the responder's CHILD_SA answer is not acceptable; deleting it");
				if (chosen && chosen->spi.size() == 4) {
					DeletePayload d{ProtocolId::ESP, {chosen->spi}};
					request(ExchangeType::Informational, {payload(PayloadType::Delete, d)},
						[](const Message &, const Payloads &) {});
				}
				return;
			}
			bool transport = find_notify(answer, notify::USE_TRANSPORT_MODE) != nullptr;
			if (transport != child->transport) {
				log::warning(name_of(*this) + "/" + child->name + ": mode mismatch, deleting it");
				DeletePayload d{ProtocolId::ESP, {chosen->spi}};
				request(ExchangeType::Informational, {payload(PayloadType::Delete, d)},
					[](const Message &, const Payloads &) {});
				return;
			}
			install_child(*child, chosen->set, spi_in, spi_value(chosen->spi), ni_, nr_, {}, ats->selectors,
				      rts->selectors, true);
		});
}

void IkeSa::on_auth_response(const Payloads &p)
{
	if (find_notify(p, notify::AUTHENTICATION_FAILED)) {
		engine_.counters_.auth_failed++;
		die("the responder refused our authentication (AUTHENTICATION_FAILED)");
		return;
	}
	const IdPayload *idr = find_typed<IdPayload>(p, PayloadType::IDr);
	const auto *auth = find_payload<AuthPayload>(p);
	if (!idr || !auth) {
		if (const auto *err = find_error(p)) {
			die("IKE_AUTH refused: " + notify_name(err->type));
			return;
		}
		engine_.counters_.malformed++;
		die("IKE_AUTH response without IDr or AUTH (§1.2)");
		return;
	}
	Identity peer = Identity::from_payload(idr->type, idr->data);
	if (conn_->remote_id && !identity_matches(*conn_->remote_id, peer)) {
		refuse_responder("responder identifies as '" + peer.text + "', expected '" + conn_->remote_id->text + "'");
		return;
	}
	Bytes octets = auth_octets(false, *idr);
	bool ok = false;
	std::string why = "the responder's AUTH does not verify";
	if (conn_->auth == ConnectionConfig::Auth::psk && auth->method == AuthMethod::PSK) {
		auto psk = std::span(reinterpret_cast<const uint8_t *>(conn_->psk.data()), conn_->psk.size());
		ok = psk_auth_matches(*prf_, psk, octets, auth->data);
	} else if (conn_->auth == ConnectionConfig::Auth::pubkey) {
		auto failure = verify_pubkey_peer(*conn_, p, *idr, *auth);
		ok = !failure;
		if (failure)
			why = *failure;
	}
	if (!ok) {
		refuse_responder(why);
		return;
	}
	established("as initiator, peer '" + peer.text + "'");
}

void IkeSa::established(const std::string &how)
{
	state_ = State::established;
	established_at_ = EventLoop::now();
	half_open_timer_.reset();
	engine_.half_open_.erase(local_spi());
	engine_.counters_.ike_established++;
	log::notice(name_of(*this) + ": IKE SA established " + how + " with " + remote_.str() + " (" +
		    alg_.str(true) + ")");
	schedule_ike_timers();
	// Children beyond the first come with CREATE_CHILD_SA (§1.3.1).
	auto rest = std::move(pending_children_);
	pending_children_.clear();
	for (const ChildConfig *c : rest)
		create_child(*c, nullptr);
}

// ---------------------------------------------------------------------------
// IKE_SA_INIT and IKE_AUTH, responder.

bool IkeSa::answer_init(const Message &msg, std::span<const uint8_t> datagram)
{
	const Header &h = msg.header;
	spi_i_ = h.spi_i;
	const auto *sa = msg.find<SaPayload>();
	const auto *ke = msg.find<KePayload>();
	const auto *ni = msg.find<NoncePayload>();
	// §1.2 / §3.4: prefer a proposal whose group matches the KE payload;
	// otherwise ask for the group of the one we choose.
	std::vector<AlgorithmSet> same_group;
	for (const auto &set : conn_->ike_proposals)
		if (set.dh == ke->group)
			same_group.push_back(set);
	auto chosen = select_proposal(*sa, ProtocolId::IKE, same_group);
	if (!chosen) {
		auto any = select_proposal(*sa, ProtocolId::IKE, conn_->ike_proposals);
		if (!any) {
			engine_.counters_.no_proposal++;
			log::info("IKE_SA_INIT from " + remote_.str() + ": no acceptable proposal");
			engine_.send_notify_unprotected(local_, remote_, h, notify::NO_PROPOSAL_CHOSEN, {});
			return false;
		}
		uint16_t g = any->set.dh;
		Bytes data{static_cast<uint8_t>(g >> 8), static_cast<uint8_t>(g)};
		log::info("IKE_SA_INIT from " + remote_.str() + ": KE group " + std::to_string(ke->group) +
			  ", asking for " + std::to_string(g) + " (INVALID_KE_PAYLOAD, §1.2)");
		engine_.send_notify_unprotected(local_, remote_, h, notify::INVALID_KE_PAYLOAD, data);
		return false;
	}
	alg_ = chosen->set;
	try {
		ke_ = KeyExchange::create(alg_.dh);
		Secret shared = ke_->shared_secret(ke->data);
		ni_ = ni->data;
		nr_ = make_nonce(engine_.nonce_first_octets);
		check_nat(msg.payloads, local_, remote_);
		Message reply;
		reply.header.spi_i = spi_i_;
		reply.header.spi_r = spi_r_;
		reply.header.exchange = ExchangeType::IkeSaInit;
		reply.header.flags = Header::kFlagResponse;
		reply.header.message_id = 0;
		reply.payloads.push_back(payload(PayloadType::SA,
						 SaPayload{{to_wire(alg_, ProtocolId::IKE, chosen->number, {})}}));
		reply.payloads.push_back(payload(PayloadType::KE, KePayload{alg_.dh, ke_->public_value()}));
		reply.payloads.push_back(payload(PayloadType::Nonce, NoncePayload{nr_}));
		reply.payloads.push_back(nat_detection(notify::NAT_DETECTION_SOURCE_IP, local_));
		reply.payloads.push_back(nat_detection(notify::NAT_DETECTION_DESTINATION_IP, remote_));
		peer_fragmentation_ = msg.find_notify(notify::IKEV2_FRAGMENTATION_SUPPORTED) != nullptr;
		if (peer_fragmentation_ && conn_->fragmentation)
			reply.payloads.push_back(notify_payload(notify::IKEV2_FRAGMENTATION_SUPPORTED));
		else
			peer_fragmentation_ = false;
		if (const auto *hashes = msg.find_notify(notify::SIGNATURE_HASH_ALGORITHMS))
			peer_signature_hashes_ = parse_signature_hashes(hashes->data); // RFC 7427 §4
		if (conn_->auth == ConnectionConfig::Auth::pubkey)
			reply.payloads.push_back(
				notify_payload(notify::SIGNATURE_HASH_ALGORITHMS, supported_signature_hashes()));
		// §3.7 / §1.2: the responder's CERTREQ goes in its IKE_SA_INIT
		// answer, naming the anchors of every connection the peer may
		// turn out to be (its identity is known only at IKE_AUTH).
		if (auto ids = cert_request_key_ids(); !ids.empty())
			reply.payloads.push_back(payload(PayloadType::CERTREQ, cert_request(ids)));
		init_request_.assign(datagram.begin(), datagram.end());
		init_response_ = reply.serialize();
		derive_keys(shared);
		last_response_ = {init_response_};
		last_response_valid_ = true;
		peer_next_id_ = 1;
		transmit(last_response_);
	} catch (const CryptoError &e) {
		engine_.counters_.malformed++;
		log::info("IKE_SA_INIT from " + remote_.str() + ": " + e.what());
		return false;
	}
	// §2.6 / §2.4: a half-open SA that never completes goes away.
	half_open_timer_ = engine_.loop_.after(engine_.config_.half_open_timeout, [this] {
		log::info(name_of(*this) + ": half-open IKE SA timed out");
		engine_.remove(this);
	});
	return true;
}

const ConnectionConfig *IkeSa::match_connection(const IdPayload &idi, const IdPayload *idr) const
{
	Identity peer = Identity::from_payload(idi.type, idi.data);
	for (const auto &c : engine_.config_.connections) {
		if (!c.remote_addr.is_unset() && c.remote_addr != remote_.addr)
			continue;
		if (!c.local_addr.is_unset() && c.local_addr != local_.addr)
			continue;
		// DNs compare as Names: the peer's encoder may pick other string
		// types than ours (RFC 4945 §3.1.5).
		if (c.remote_id && !identity_matches(*c.remote_id, peer))
			continue;
		if (idr && !identity_matches(c.local_id, Identity::from_payload(idr->type, idr->data)))
			continue;
		// Keep the IKE proposal we chose acceptable under the new one.
		bool acceptable = false;
		for (const auto &set : c.ike_proposals)
			acceptable |= set == alg_;
		if (!acceptable)
			continue;
		return &c;
	}
	return nullptr;
}

void IkeSa::on_auth_request(const Message &msg, const Payloads &p)
{
	const IdPayload *idi = find_typed<IdPayload>(p, PayloadType::IDi);
	const IdPayload *idr = find_typed<IdPayload>(p, PayloadType::IDr);
	const auto *auth = find_payload<AuthPayload>(p);
	if (!idi || !auth) {
		engine_.counters_.malformed++;
		respond(msg, {notify_payload(notify::INVALID_SYNTAX)});
		die("IKE_AUTH without IDi or AUTH (§2.21.2)");
		return;
	}
	Identity peer = Identity::from_payload(idi->type, idi->data);
	const ConnectionConfig *conn = match_connection(*idi, idr);
	bool ok = false;
	std::string why = conn ? "" : " (no connection for this identity)";
	if (conn && conn->auth == ConnectionConfig::Auth::psk && auth->method == AuthMethod::PSK) {
		auto psk = std::span(reinterpret_cast<const uint8_t *>(conn->psk.data()), conn->psk.size());
		ok = psk_auth_matches(*prf_, psk, auth_octets(false, *idi), auth->data);
	} else if (conn && conn->auth == ConnectionConfig::Auth::pubkey) {
		auto failure = verify_pubkey_peer(*conn, p, *idi, *auth);
		ok = !failure;
		if (failure)
			why = ": " + *failure;
	}
	if (!ok) {
		// §2.21.2: AUTHENTICATION_FAILED in the response, then the SA
		// is gone.
		engine_.counters_.auth_failed++;
		log::warning("IKE_AUTH from " + remote_.str() + " as '" + peer.text + "': authentication failed" + why);
		respond(msg, {notify_payload(notify::AUTHENTICATION_FAILED)});
		state_ = State::deleting;
		engine_.remove(this);
		return;
	}
	conn_ = conn;
	Payloads reply;
	IdPayload our_id = id_payload(conn_->local_id);
	reply.push_back(payload(PayloadType::IDr, our_id));
	if (conn_->auth == ConnectionConfig::Auth::pubkey) {
		// §1.2: IDr, [CERT,] AUTH. We send the certificate whether or not
		// the peer asked (§3.6 allows it): strongSwan asks, others may not.
		for (auto &cert : cert_payloads(*conn_->credentials))
			reply.push_back(payload(PayloadType::CERT, std::move(cert)));
		reply.push_back(payload(PayloadType::AUTH, sign_auth_payload(*conn_->credentials, peer_signature_hashes_,
									     auth_octets(true, our_id))));
	} else {
		auto psk = std::span(reinterpret_cast<const uint8_t *>(conn_->psk.data()), conn_->psk.size());
		reply.push_back(payload(PayloadType::AUTH,
					AuthPayload{AuthMethod::PSK, psk_auth(*prf_, psk, auth_octets(true, our_id))}));
	}
	// The CHILD_SA: its errors go into this response, the IKE SA stands.
	const auto *sa = find_payload<SaPayload>(p);
	const TsPayload *tsi = find_typed<TsPayload>(p, PayloadType::TSi);
	const TsPayload *tsr = find_typed<TsPayload>(p, PayloadType::TSr);
	bool transport = find_notify(p, notify::USE_TRANSPORT_MODE) != nullptr;
	ChildSa *installed = nullptr;
	if (sa && tsi && tsr) {
		uint16_t error = notify::TS_UNACCEPTABLE;
		for (const auto &child : conn_->children) {
			if (child.transport != transport)
				continue;
			auto my_tsi = narrow(tsi->selectors, remote_selectors(child));
			auto my_tsr = narrow(tsr->selectors, local_selectors(child));
			if (my_tsi.empty() || my_tsr.empty())
				continue;
			std::vector<AlgorithmSet> no_pfs = child.esp_proposals;
			for (auto &s : no_pfs)
				s.dh = 0;
			auto chosen = select_proposal(*sa, ProtocolId::ESP, no_pfs);
			if (!chosen) {
				error = notify::NO_PROPOSAL_CHOSEN;
				continue;
			}
			try {
				uint32_t spi_in = engine_.kernel_.allocate_spi(
					local_, remote_, engine_.reqid_for(conn_->name, child.name));
				installed = install_child(child, chosen->set, spi_in, spi_value(chosen->spi), ni_, nr_, {},
							  my_tsi, my_tsr, false);
				if (transport)
					reply.push_back(notify_payload(notify::USE_TRANSPORT_MODE));
				reply.push_back(payload(PayloadType::SA,
							SaPayload{{to_wire(chosen->set, ProtocolId::ESP, chosen->number,
									   spi_bytes(spi_in))}}));
				reply.push_back(payload(PayloadType::TSi, TsPayload{my_tsi}));
				reply.push_back(payload(PayloadType::TSr, TsPayload{my_tsr}));
			} catch (const std::exception &e) {
				log::error(conn_->name + "/" + child.name + ": installing the CHILD_SA: " + e.what());
				error = notify::TEMPORARY_FAILURE;
			}
			break;
		}
		if (!installed) {
			if (error == notify::TS_UNACCEPTABLE)
				engine_.counters_.ts_unacceptable++;
			else if (error == notify::NO_PROPOSAL_CHOSEN)
				engine_.counters_.no_proposal++;
			reply.push_back(notify_payload(error));
		}
	}
	respond(msg, std::move(reply));
	established("as responder, peer '" + peer.text + "'");
}

void IkeSa::refuse_responder(const std::string &why)
{
	engine_.counters_.auth_failed++;
	log::warning(name_of(*this) + ": " + why + "; refusing the responder (AUTHENTICATION_FAILED)");
	// §2.21.2: an initiator's AUTHENTICATION_FAILED goes in a separate
	// INFORMATIONAL. The responder already installed the IKE SA and its
	// first CHILD_SA; the Delete (§1.4.1) in the same message makes a peer
	// that only logs the notify remove them too, rather than keeping them
	// until its liveness check.
	queued_.clear();
	request(ExchangeType::Informational,
		{notify_payload(notify::AUTHENTICATION_FAILED),
		 payload(PayloadType::Delete, DeletePayload{ProtocolId::IKE, {}})},
		[this](const Message &, const Payloads &) {
			state_ = State::deleting;
			engine_.remove(this);
		});
	state_ = State::deleting;
	// Never trust an unauthenticated peer with our retransmissions for long.
	delete_timer_ = engine_.loop_.after(std::chrono::seconds(5), [this] { engine_.remove(this); });
}

std::vector<Bytes> IkeSa::cert_request_key_ids() const
{
	std::vector<Bytes> ids;
	auto add = [&ids](const ConnectionConfig &c) {
		if (!c.credentials)
			return;
		for (const auto &id : c.credentials->ca_key_ids)
			if (std::find(ids.begin(), ids.end(), id) == ids.end())
				ids.push_back(id);
	};
	if (initiator_) {
		add(*conn_);
		return ids;
	}
	// The same address filter as Engine::handle_init_request's.
	for (const auto &c : engine_.config_.connections) {
		if (!c.remote_addr.is_unset() && c.remote_addr != remote_.addr)
			continue;
		if (!c.local_addr.is_unset() && c.local_addr != local_.addr)
			continue;
		add(c);
	}
	return ids;
}

std::optional<std::string> IkeSa::verify_pubkey_peer(const ConnectionConfig &c, const Payloads &payloads,
						     const IdPayload &id, const AuthPayload &auth) const
{
	if (!c.credentials)
		return std::string("no credentials loaded for connection ") + c.name;
	// §2.15: the peer signed its own ID payload's body into the octets.
	return verify_peer(*c.credentials, find_payloads<CertPayload>(payloads), id, c.remote_id, auth,
			   auth_octets(false, id));
}

// ---------------------------------------------------------------------------
// CHILD_SAs.

ChildSa *IkeSa::install_child(const ChildConfig &config, const AlgorithmSet &alg, uint32_t spi_in, uint32_t spi_out,
			      const Bytes &ni, const Bytes &nr, std::span<const uint8_t> shared,
			      std::vector<TrafficSelector> tsi, std::vector<TrafficSelector> tsr, bool made_by_us,
			      bool defer_outbound)
{
	auto child = std::make_unique<ChildSa>();
	ChildSaSpec &s = child->spec;
	s.connection = conn_->name;
	s.child = config.name;
	s.reqid = engine_.reqid_for(conn_->name, config.name);
	s.transport = config.transport;
	s.local = local_;
	s.remote = remote_;
	s.encap = nat_local_ || nat_remote_;
	// TSi is the initiator's side of this exchange.
	s.local_ts = made_by_us ? std::move(tsi) : std::move(tsr);
	s.remote_ts = made_by_us ? std::move(tsr) : std::move(tsi);
	s.algorithms = alg;
	s.spi_in = spi_in;
	s.spi_out = spi_out;
	// §2.17: keys for initiator-to-responder first, where "initiator" is
	// the initiator of this exchange.
	ChildKeys k = derive_child_keys(*prf_, keys_.sk_d, alg.suite(), ni, nr, shared);
	if (made_by_us) {
		s.encr_out = std::move(k.encr_i), s.integ_out = std::move(k.integ_i);
		s.encr_in = std::move(k.encr_r), s.integ_in = std::move(k.integ_r);
	} else {
		s.encr_in = std::move(k.encr_i), s.integ_in = std::move(k.integ_i);
		s.encr_out = std::move(k.encr_r), s.integ_out = std::move(k.integ_r);
	}
	s.replay_window = config.replay_window;
	if (config.rekey_time.count()) {
		s.soft_life = jittered(config.rekey_time, config.rand_time);
		s.hard_life = config.life_time;
	}
	s.soft_bytes = config.rekey_bytes;
	s.soft_packets = config.rekey_packets;
	s.xdp = config.xdp;
	child->config = &config;
	child->made_by_us = made_by_us;
	child->nonces_min = lower(ni, nr);
	child->established = EventLoop::now();
	// Make before break (docs/ike.md): the inbound SA first, so the
	// peer's first packet on the new SA is accepted, then outbound; the
	// kernel prefers the newest outbound SA of a reqid.
	auto install_start = std::chrono::steady_clock::now();
	engine_.kernel_.add_inbound(s);
	try {
		if (!defer_outbound)
			engine_.kernel_.add_outbound(s);
		engine_.kernel_.add_policies(s);
	} catch (...) {
		engine_.kernel_.del_inbound(s);
		throw;
	}
	engine_.child_install_.add(std::chrono::steady_clock::now() - install_start);
	engine_.counters_.child_established++;
	log::notice(name_of(*this) + "/" + config.name + ": CHILD_SA " + hex32(spi_in) + "/" + hex32(spi_out) +
		    " installed (" + alg.str(false) + (s.encap ? ", UDP-encapsulated" : "") + ")");
	ChildSa *raw = child.get();
	children_.push_back(std::move(child));
	schedule_child_timers(*raw);
	if (defer_outbound) {
		raw->outbound_pending = true;
		// Captures no IkeSa: an IKE rekey may move the child elsewhere;
		// the timer dies with the child.
		raw->outbound_timer = engine_.loop_.after(kOutboundDelay, [&engine = engine_, raw] {
			raw->outbound_pending = false;
			try {
				engine.kernel_.add_outbound(raw->spec);
			} catch (const std::exception &e) {
				log::error(raw->spec.connection + "/" + raw->spec.child + ": outbound SA: " + e.what());
			}
		});
	}
	return raw;
}

// The initiator of a CHILD_SA rekey can install its inbound SA only once it
// has our response (the keys need Nr, §2.17); had we switched our outbound
// traffic to the new SA when we answered, what we sent until then would be
// dropped. So, as responder, we keep sending on the old SA until the
// initiator deletes it (§2.8: it SHOULD, and only once its new SA is in), or
// kOutboundDelay passes.
void IkeSa::install_pending_outbound(ChildSa *child)
{
	if (!child->outbound_pending)
		return;
	child->outbound_pending = false;
	child->outbound_timer.reset();
	try {
		engine_.kernel_.add_outbound(child->spec);
	} catch (const std::exception &e) {
		log::error(name_of(*this) + "/" + child->spec.child + ": outbound SA: " + e.what());
	}
}

void IkeSa::schedule_child_timers(ChildSa &child)
{
	// The kernel's soft expiry (XFRMNLGRP_EXPIRE) starts the rekey; this
	// timer is the fallback for a kernel that never says so (and the
	// only clock for tests).
	if (child.spec.soft_life.count())
		child.rekey_timer = engine_.loop_.after(child.spec.soft_life + std::chrono::seconds(1), [this, &child] {
			if (child.state == ChildSa::State::installed && child.config && state_ == State::established)
				create_child(*child.config, &child);
		});
}

void IkeSa::create_child(const ChildConfig &config, ChildSa *rekey_of, uint16_t group_asked)
{
	uint32_t spi_in = 0;
	try {
		spi_in = engine_.kernel_.allocate_spi(local_, remote_, engine_.reqid_for(conn_->name, config.name));
	} catch (const std::exception &e) {
		log::error(name_of(*this) + "/" + config.name + ": cannot allocate an SPI: " + e.what());
		return;
	}
	Bytes ni = make_nonce(engine_.nonce_first_octets);
	// PFS when the first proposal asks for it (§1.3.1: the KE goes with
	// the first proposal's group), or the group the peer asked for (§1.3).
	uint16_t group = group_asked ? group_asked : config.esp_proposals.front().dh;
	std::shared_ptr<KeyExchange> ke;
	if (group)
		ke = KeyExchange::create(group);
	Payloads p;
	std::vector<TrafficSelector> tsi, tsr;
	if (rekey_of) {
		rekey_of->state = ChildSa::State::rekeying;
		// §1.3.3: the SPI of the SA being rekeyed, as we receive it.
		p.push_back(notify_payload(notify::REKEY_SA, {}, ProtocolId::ESP, spi_bytes(rekey_of->spec.spi_in)));
		tsi = rekey_of->spec.local_ts;
		tsr = rekey_of->spec.remote_ts;
	} else {
		tsi = local_selectors(config);
		tsr = remote_selectors(config);
	}
	if (config.transport)
		p.push_back(notify_payload(notify::USE_TRANSPORT_MODE));
	p.push_back(payload(PayloadType::SA, esp_offer(config, spi_in, true)));
	p.push_back(payload(PayloadType::Nonce, NoncePayload{ni}));
	if (ke)
		p.push_back(payload(PayloadType::KE, KePayload{group, ke->public_value()}));
	p.push_back(payload(PayloadType::TSi, TsPayload{tsi}));
	p.push_back(payload(PayloadType::TSr, TsPayload{tsr}));
	uint32_t old_spi = rekey_of ? rekey_of->spec.spi_in : 0;
	request(ExchangeType::CreateChildSa, std::move(p),
		[this, &config, old_spi, ni, ke, spi_in, tsi, tsr, group_asked](const Message &, const Payloads &answer) {
			ChildSa *old = old_spi ? child_by_inbound(old_spi) : nullptr;
			on_create_child_response(config, old, ni, ke, spi_in, tsi, tsr, answer, group_asked != 0);
			// §2.8.1: the peer deleted the SA we were rekeying before our
			// answer came: it rekeyed it too and won. If its successor is
			// here, ours is the redundant one, and ours to delete.
			ChildSa *fresh = old_spi && !old ? child_by_inbound(spi_in) : nullptr;
			if (!fresh)
				return;
			for (const auto &c : children_)
				if (c.get() != fresh && c->config == &config && c->state == ChildSa::State::installed) {
					engine_.counters_.collisions++;
					retire_child(fresh);
					return;
				}
		});
}

void IkeSa::on_create_child_response(const ChildConfig &config, ChildSa *rekey_of, Bytes ni,
				     std::shared_ptr<KeyExchange> ke, uint32_t spi_in, std::vector<TrafficSelector> tsi,
				     std::vector<TrafficSelector> tsr, const Payloads &answer, bool retried_group)
{
	std::vector<uint32_t> deleted_by_peer = std::move(deleted_unknown_);
	deleted_unknown_.clear();
	auto give_up = [&](const std::string &why) {
		log::warning(name_of(*this) + "/" + config.name + ": CREATE_CHILD_SA: " + why);
		if (rekey_of && rekey_of->state == ChildSa::State::rekeying)
			rekey_of->state = ChildSa::State::installed;
	};
	if (const auto *invalid = find_notify(answer, notify::INVALID_KE_PAYLOAD)) {
		// §1.3: retry once with the group the peer wants, if one of our
		// proposals has it.
		uint16_t g = invalid->data.size() == 2 ? static_cast<uint16_t>((invalid->data[0] << 8) | invalid->data[1]) : 0;
		bool ours = false;
		for (const auto &set : config.esp_proposals)
			ours |= g && set.dh == g;
		if (!ours || retried_group || (ke && ke->group() == g)) {
			give_up("peer wants DH group " + std::to_string(g) + " (INVALID_KE_PAYLOAD), which we do not offer or already tried");
			return;
		}
		give_up("peer wants DH group " + std::to_string(g) + " (INVALID_KE_PAYLOAD, RFC 7296 §1.3); retrying with it");
		// A rekey whose SA went away meanwhile (a collision) is not retried.
		if (!rekey_of || rekey_of->state == ChildSa::State::installed)
			create_child(config, rekey_of, g);
		return;
	}
	if (const auto *err = find_error(answer)) {
		if (err->type == notify::TEMPORARY_FAILURE || err->type == notify::CHILD_SA_NOT_FOUND) {
			// §2.25: a collision the peer resolved; its own exchange
			// does the work.
			give_up(notify_name(err->type) + " (collision, RFC 7296 §2.25)");
			return;
		}
		give_up("refused: " + notify_name(err->type));
		return;
	}
	const auto *sa = find_payload<SaPayload>(answer);
	const auto *nr = find_payload<NoncePayload>(answer);
	const auto *ker = find_payload<KePayload>(answer);
	const TsPayload *ats = find_typed<TsPayload>(answer, PayloadType::TSi);
	const TsPayload *rts = find_typed<TsPayload>(answer, PayloadType::TSr);
	auto chosen = sa ? accept_answer(*sa, ProtocolId::ESP, config.esp_proposals) : std::nullopt;
	if (!chosen || chosen->spi.size() != 4 || !nr || !ats || !rts || !within(ats->selectors, tsi) ||
	    !within(rts->selectors, tsr)) {
		give_up("unacceptable answer");
		return;
	}
	Secret shared;
	if (chosen->set.dh) {
		if (!ke || !ker || ker->group != chosen->set.dh || ke->group() != chosen->set.dh) {
			give_up("PFS group mismatch");
			return;
		}
		try {
			shared = ke->shared_secret(ker->data);
		} catch (const CryptoError &e) {
			give_up(e.what());
			return;
		}
	}
	if (std::ranges::find(deleted_by_peer, spi_value(chosen->spi)) != deleted_by_peer.end()) {
		// §1.4.1: the peer has deleted the new SA already; installed here
		// it would have no other half. A rekey is done all the same: the
		// old SA goes as usual (§2.8).
		log::info(name_of(*this) + "/" + config.name +
			  ": the peer deleted the new CHILD_SA before its answer came");
		if (rekey_of)
			retire_child(rekey_of);
		return;
	}
	ChildSa *fresh = nullptr;
	try {
		fresh = install_child(config, chosen->set, spi_in, spi_value(chosen->spi), ni, nr->data, shared,
				      ats->selectors, rts->selectors, true);
	} catch (const std::exception &e) {
		give_up(std::string("installing: ") + e.what());
		return;
	}
	if (!rekey_of)
		return;
	engine_.counters_.child_rekeys++;
	// §2.8.1: did the peer rekey the same SA meanwhile? Then two new SAs
	// exist; the one made with the lowest of the four nonces goes, deleted
	// by whoever initiated it, and the other side deletes the old SA.
	ChildSa *theirs = rekey_of->collision_spi_in ? child_by_inbound(rekey_of->collision_spi_in) : nullptr;
	if (theirs) {
		engine_.counters_.collisions++;
		bool ours_lose = nonce_less(fresh->nonces_min, theirs->nonces_min);
		log::info(name_of(*this) + "/" + config.name + ": CHILD_SA rekey collision (RFC 7296 §2.8.1), " +
			  (ours_lose ? "ours has the lowest nonce: deleting it" : "the peer's has the lowest nonce"));
		if (ours_lose) {
			retire_child(fresh);
			return;
		}
		// The peer should now delete the SA its exchange made. One that
		// does not (libreswan 4.10 keeps it and sends on it,
		// docs/ike-libreswan.md) would leave two CHILD_SAs for one child:
		// after four retransmission timeouts we give up ours instead, the
		// one such a peer does not treat as current (deleting its SA left
		// libreswan without one to send on).
		uint32_t redundant = theirs->spec.spi_in, mine = fresh->spec.spi_in;
		auto wait = (conn_ ? conn_->retransmit_timeout : std::chrono::milliseconds(2000)) * 4;
		fresh->grace_timer = engine_.loop_.after(wait, [this, redundant, mine] {
			ChildSa *left_over = child_by_inbound(redundant);
			ChildSa *ours = child_by_inbound(mine);
			if (left_over && left_over->state == ChildSa::State::installed && ours &&
			    ours->state == ChildSa::State::installed) {
				log::info(name_of(*this) + "/" + ours->spec.child + ": the peer kept its CHILD_SA " +
					  hex32(redundant) + " after the collision; deleting ours, " + hex32(mine) +
					  ", so one remains (RFC 7296 §2.8.1)");
				retire_child(ours);
			}
		});
	}
	retire_child(rekey_of);
}

void IkeSa::retire_child(ChildSa *old)
{
	if (!old || old->state == ChildSa::State::deleting)
		return;
	old->state = ChildSa::State::deleting;
	old->rekey_timer.reset();
	uint32_t spi_in = old->spec.spi_in;
	// §1.4.1: Delete with our inbound SPI; the peer answers with its own.
	DeletePayload d{ProtocolId::ESP, {spi_bytes(spi_in)}};
	request(ExchangeType::Informational, {payload(PayloadType::Delete, d)},
		[this, spi_in](const Message &, const Payloads &) {
			if (ChildSa *c = child_by_inbound(spi_in))
				delete_child_now(c, false);
		});
	// Stop sending on it at once; keep receiving until the exchange ends.
	try {
		engine_.kernel_.del_outbound(old->spec);
	} catch (const std::exception &e) {
		log::warning(std::string("removing the old outbound SA: ") + e.what());
	}
}

ChildSa *IkeSa::child_by_inbound(uint32_t spi)
{
	for (auto &c : children_)
		if (c->spec.spi_in == spi)
			return c.get();
	return nullptr;
}

ChildSa *IkeSa::child_by_outbound(uint32_t spi)
{
	for (auto &c : children_)
		if (c->spec.spi_out == spi)
			return c.get();
	return nullptr;
}

void IkeSa::remove_child(ChildSa *child)
{
	std::erase_if(children_, [child](const std::unique_ptr<ChildSa> &c) { return c.get() == child; });
}

void IkeSa::delete_child_now(ChildSa *child, bool send_delete)
{
	if (send_delete && state_ == State::established) {
		DeletePayload d{ProtocolId::ESP, {spi_bytes(child->spec.spi_in)}};
		request(ExchangeType::Informational, {payload(PayloadType::Delete, d)},
			[](const Message &, const Payloads &) {});
	}
	bool last_with_selectors = !engine_.policies_in_use(child->spec, nullptr, child);
	try {
		engine_.kernel_.del_outbound(child->spec);
	} catch (const std::exception &) {
		// Already gone (a rekey removed it first, or the kernel expired it).
	}
	if (last_with_selectors) {
		try {
			engine_.kernel_.remove_policies(child->spec);
		} catch (const std::exception &e) {
			log::warning(std::string("removing policies: ") + e.what());
		}
		engine_.rearm_trap(child->spec.reqid);
	}
	try {
		engine_.kernel_.del_inbound(child->spec);
	} catch (const std::exception &) {
	}
	log::info(name_of(*this) + "/" + child->spec.child + ": CHILD_SA " + hex32(child->spec.spi_in) + "/" +
		  hex32(child->spec.spi_out) + " deleted");
	remove_child(child);
}

void IkeSa::on_create_child_request(const Message &msg, const Payloads &p)
{
	const auto *sa = find_payload<SaPayload>(p);
	const auto *ni = find_payload<NoncePayload>(p);
	const auto *kei = find_payload<KePayload>(p);
	if (!sa || !ni) {
		engine_.counters_.malformed++;
		respond(msg, {notify_payload(notify::INVALID_SYNTAX)});
		return;
	}
	// An IKE SA rekey (§1.3.2): the SA payload is of protocol IKE.
	bool ike_rekey = !sa->proposals.empty() && sa->proposals.front().protocol == ProtocolId::IKE;
	if (ike_rekey) {
		// §2.25.2: not while one of our CHILD_SA exchanges runs; its
		// answer would come to this SA after the children moved.
		bool child_busy = !rekeying_ && outstanding_ && outstanding_->type == ExchangeType::CreateChildSa;
		for (const auto &c : children_)
			child_busy |= c->state == ChildSa::State::rekeying || c->state == ChildSa::State::deleting;
		if (child_busy) {
			respond(msg, {notify_payload(notify::TEMPORARY_FAILURE)});
			return;
		}
		if (rekeying_ && outstanding_ && outstanding_->type == ExchangeType::CreateChildSa) {
			// §2.8.2: both sides rekey the IKE SA. Answer; whoever made
			// the SA with the lowest nonce deletes it (below, when our
			// own exchange completes).
			engine_.counters_.collisions++;
		}
		std::vector<AlgorithmSet> same_group;
		if (!kei) {
			respond(msg, {notify_payload(notify::INVALID_SYNTAX)});
			return;
		}
		for (const auto &set : conn_->ike_proposals)
			if (set.dh == kei->group)
				same_group.push_back(set);
		auto chosen = select_proposal(*sa, ProtocolId::IKE, same_group);
		if (!chosen || chosen->spi.size() != 8) {
			auto any = select_proposal(*sa, ProtocolId::IKE, conn_->ike_proposals);
			if (any && any->spi.size() == 8) {
				uint16_t g = any->set.dh;
				respond(msg, {notify_payload(notify::INVALID_KE_PAYLOAD,
							     {static_cast<uint8_t>(g >> 8), static_cast<uint8_t>(g)})});
			} else {
				engine_.counters_.no_proposal++;
				respond(msg, {notify_payload(notify::NO_PROPOSAL_CHOSEN)});
			}
			return;
		}
		auto ke = KeyExchange::create(chosen->set.dh);
		Secret shared;
		try {
			shared = ke->shared_secret(kei->data);
		} catch (const CryptoError &) {
			respond(msg, {notify_payload(notify::INVALID_SYNTAX)});
			return;
		}
		Bytes nr = make_nonce(engine_.nonce_first_octets);
		// §2.18: the new SA's initiator is the initiator of the rekey.
		auto fresh = std::make_unique<IkeSa>(engine_, conn_, false, local_, remote_, engine_.new_spi());
		fresh->spi_i_ = spi_value64(chosen->spi);
		fresh->alg_ = chosen->set;
		fresh->ni_ = ni->data;
		fresh->nr_ = nr;
		fresh->prf_ = std::make_unique<Prf>(chosen->set.prf);
		fresh->set_keys(derive_rekeyed_ike_keys(*prf_, keys_.sk_d, *fresh->prf_, chosen->set.suite(), ni->data,
							nr, shared, fresh->spi_i_, fresh->spi_r_));
		fresh->peer_fragmentation_ = peer_fragmentation_;
		fresh->nat_local_ = nat_local_;
		fresh->nat_remote_ = nat_remote_;
		fresh->rekey_nonces_min_ = lower(ni->data, nr);
		respond(msg, {payload(PayloadType::SA, SaPayload{{to_wire(chosen->set, ProtocolId::IKE, chosen->number,
									   spi_bytes64(fresh->spi_r_))}}),
			      payload(PayloadType::Nonce, NoncePayload{nr}),
			      payload(PayloadType::KE, KePayload{chosen->set.dh, ke->public_value()})});
		engine_.counters_.ike_rekeys++;
		IkeSa *raw = fresh.get();
		fresh->state_ = State::established;
		fresh->established_at_ = EventLoop::now();
		fresh->half_open_timer_.reset();
		engine_.adopt(std::move(fresh));
		raw->schedule_ike_timers();
		rekeyed_by_peer_ = raw;
		log::notice(name_of(*this) + ": IKE SA rekeyed by the peer as " + name_of(*raw));
		// The children move now; the peer deletes this SA next (§2.18).
		if (!rekeying_)
			transfer_children_to(*raw);
		return;
	}
	if (rekeying_) {
		// §2.25: we are rekeying the IKE SA ourselves.
		respond(msg, {notify_payload(notify::TEMPORARY_FAILURE)});
		return;
	}
	const NotifyPayload *rekey = find_notify(p, notify::REKEY_SA);
	ChildSa *old = nullptr;
	if (rekey) {
		// The peer names the SA by the SPI it receives on: our outbound.
		old = child_by_outbound(spi_value(rekey->spi));
		if (!old || old->state == ChildSa::State::deleting) {
			// §2.25: it is gone (we deleted it meanwhile).
			NotifyPayload n{ProtocolId::ESP, rekey->spi, notify::CHILD_SA_NOT_FOUND, {}};
			respond(msg, {payload(PayloadType::Notify, n)});
			return;
		}
	}
	const TsPayload *tsi = find_typed<TsPayload>(p, PayloadType::TSi);
	const TsPayload *tsr = find_typed<TsPayload>(p, PayloadType::TSr);
	if (!tsi || !tsr) {
		respond(msg, {notify_payload(notify::INVALID_SYNTAX)});
		return;
	}
	bool transport = find_notify(p, notify::USE_TRANSPORT_MODE) != nullptr;
	uint16_t error = notify::TS_UNACCEPTABLE;
	for (const auto &child : conn_->children) {
		if (old && old->config != &child)
			continue;
		if (child.transport != transport)
			continue;
		auto my_tsi = narrow(tsi->selectors, remote_selectors(child));
		auto my_tsr = narrow(tsr->selectors, local_selectors(child));
		if (my_tsi.empty() || my_tsr.empty())
			continue;
		// PFS: match the peer's KE group first (§1.3.1), INVALID_KE else.
		std::vector<AlgorithmSet> acceptable = child.esp_proposals;
		std::optional<Selected> chosen;
		if (kei) {
			std::vector<AlgorithmSet> with_group;
			for (const auto &s : acceptable)
				if (s.dh == kei->group)
					with_group.push_back(s);
			chosen = select_proposal(*sa, ProtocolId::ESP, with_group);
		}
		if (!chosen) {
			chosen = select_proposal(*sa, ProtocolId::ESP, acceptable);
			if (chosen && chosen->set.dh && (!kei || kei->group != chosen->set.dh)) {
				uint16_t g = chosen->set.dh;
				respond(msg, {notify_payload(notify::INVALID_KE_PAYLOAD,
							     {static_cast<uint8_t>(g >> 8), static_cast<uint8_t>(g)})});
				return;
			}
		}
		if (!chosen) {
			error = notify::NO_PROPOSAL_CHOSEN;
			continue;
		}
		Secret shared;
		std::unique_ptr<KeyExchange> ke;
		if (chosen->set.dh) {
			ke = KeyExchange::create(chosen->set.dh);
			try {
				shared = ke->shared_secret(kei->data);
			} catch (const CryptoError &) {
				respond(msg, {notify_payload(notify::INVALID_SYNTAX)});
				return;
			}
		}
		Bytes nr = make_nonce(engine_.nonce_first_octets);
		try {
			uint32_t spi_in = engine_.kernel_.allocate_spi(local_, remote_,
								       engine_.reqid_for(conn_->name, child.name));
			// A collision (§2.8.1) keeps its own rules: switch at once.
			bool defer = old && old->state != ChildSa::State::rekeying;
			ChildSa *fresh = install_child(child, chosen->set, spi_in, spi_value(chosen->spi), ni->data, nr,
						       shared, my_tsi, my_tsr, false, defer);
			Payloads reply;
			if (transport)
				reply.push_back(notify_payload(notify::USE_TRANSPORT_MODE));
			reply.push_back(payload(PayloadType::SA, SaPayload{{to_wire(chosen->set, ProtocolId::ESP,
										    chosen->number, spi_bytes(spi_in))}}));
			reply.push_back(payload(PayloadType::Nonce, NoncePayload{nr}));
			if (ke)
				reply.push_back(payload(PayloadType::KE, KePayload{chosen->set.dh, ke->public_value()}));
			reply.push_back(payload(PayloadType::TSi, TsPayload{my_tsi}));
			reply.push_back(payload(PayloadType::TSr, TsPayload{my_tsr}));
			respond(msg, std::move(reply));
			if (old) {
				engine_.counters_.child_rekeys++;
				// §2.8.1: when we rekey it too, our own exchange's
				// response settles which of the two new SAs stays.
				if (old->state == ChildSa::State::rekeying)
					old->collision_spi_in = fresh->spec.spi_in;
				else
					old->state = ChildSa::State::rekeyed;
				old->rekey_timer.reset();
			}
		} catch (const std::exception &e) {
			log::error(conn_->name + "/" + child.name + ": installing the CHILD_SA: " + e.what());
			respond(msg, {notify_payload(notify::TEMPORARY_FAILURE)});
		}
		return;
	}
	if (error == notify::TS_UNACCEPTABLE)
		engine_.counters_.ts_unacceptable++;
	else
		engine_.counters_.no_proposal++;
	respond(msg, {notify_payload(error)});
}

// ---------------------------------------------------------------------------
// IKE SA rekey (§1.3.2, §2.18).

void IkeSa::rekey_ike()
{
	if (rekeying_ || state_ != State::established)
		return;
	rekeying_ = true;
	auto successor = std::make_unique<IkeSa>(engine_, conn_, true, local_, remote_, engine_.new_spi());
	Bytes ni = make_nonce(engine_.nonce_first_octets);
	uint16_t group = alg_.dh;
	std::shared_ptr<KeyExchange> ke = KeyExchange::create(group);
	SaPayload sa;
	uint8_t number = 1;
	// The group we use now goes first: the KE payload carries it.
	std::vector<AlgorithmSet> offer;
	offer.push_back(alg_);
	for (const auto &s : conn_->ike_proposals)
		if (!(s == alg_))
			offer.push_back(s);
	for (const auto &s : offer)
		sa.proposals.push_back(to_wire(s, ProtocolId::IKE, number++, spi_bytes64(successor->spi_i_)));
	Payloads p{payload(PayloadType::SA, sa), payload(PayloadType::Nonce, NoncePayload{ni}),
		   payload(PayloadType::KE, KePayload{group, ke->public_value()})};
	auto holder = std::make_shared<std::unique_ptr<IkeSa>>(std::move(successor));
	request(ExchangeType::CreateChildSa, std::move(p),
		[this, holder, ni, ke, offer](const Message &, const Payloads &answer) {
			const auto *sar = find_payload<SaPayload>(answer);
			const auto *nr = find_payload<NoncePayload>(answer);
			const auto *ker = find_payload<KePayload>(answer);
			auto chosen = sar ? accept_answer(*sar, ProtocolId::IKE, offer) : std::nullopt;
			if (!chosen || !nr || !ker || chosen->spi.size() != 8 || ker->group != ke->group()) {
				rekeying_ = false;
				log::warning(name_of(*this) + ": IKE SA rekey failed" +
					     (find_error(answer) ? ": " + notify_name(find_error(answer)->type) : ""));
				// A peer that rekeyed meanwhile already moved the children.
				if (rekeyed_by_peer_)
					transfer_children_to(*rekeyed_by_peer_);
				return;
			}
			std::unique_ptr<IkeSa> fresh = std::move(*holder);
			Secret shared;
			try {
				shared = ke->shared_secret(ker->data);
			} catch (const CryptoError &e) {
				rekeying_ = false;
				return;
			}
			fresh->spi_r_ = spi_value64(chosen->spi);
			fresh->alg_ = chosen->set;
			fresh->ni_ = ni;
			fresh->nr_ = nr->data;
			fresh->prf_ = std::make_unique<Prf>(chosen->set.prf);
			fresh->set_keys(derive_rekeyed_ike_keys(*prf_, keys_.sk_d, *fresh->prf_, chosen->set.suite(), ni,
								nr->data, shared, fresh->spi_i_, fresh->spi_r_));
			fresh->peer_fragmentation_ = peer_fragmentation_;
			fresh->nat_local_ = nat_local_;
			fresh->nat_remote_ = nat_remote_;
			fresh->rekey_nonces_min_ = lower(ni, nr->data);
			fresh->state_ = State::established;
			fresh->established_at_ = EventLoop::now();
			engine_.counters_.ike_rekeys++;
			IkeSa *raw = fresh.get();
			engine_.adopt(std::move(fresh));
			raw->schedule_ike_timers();
			// §2.8.2: both rekeyed. The new SA made with the lowest nonce
			// is deleted by its initiator; the old one by whoever wins.
			if (rekeyed_by_peer_) {
				engine_.counters_.collisions++;
				IkeSa *theirs = rekeyed_by_peer_;
				if (nonce_less(raw->rekey_nonces_min_, theirs->rekey_nonces_min_)) {
					log::info(name_of(*this) + ": IKE SA rekey collision (§2.8.2): ours loses");
					transfer_children_to(*theirs);
					raw->send_delete_ike();
					rekeying_ = false;
					state_ = State::rekeyed;
					return; // the peer deletes the old SA
				}
				log::info(name_of(*this) + ": IKE SA rekey collision (§2.8.2): ours wins");
				// The peer deletes its redundant SA when its exchange
				// ends; if our Delete of the old SA reaches it first, that
				// exchange never ends there: then we delete it.
				theirs->delete_timer_ = engine_.loop_.after(conn_->retransmit_timeout * 4,
									   [theirs] { theirs->send_delete_ike(); });
			}
			transfer_children_to(*raw);
			log::notice(name_of(*this) + ": IKE SA rekeyed as " + name_of(*raw));
			state_ = State::rekeyed;
			send_delete_ike();
		});
}

void IkeSa::transfer_children_to(IkeSa &fresh)
{
	// Exchanges for these children still queued here would die with this
	// SA's Delete: a child waiting for its Delete gets it on the new SA, a
	// child waiting for its rekey is rekeyed there (§2.18: the children
	// belong to the new IKE SA from now on).
	std::vector<ChildSa *> to_delete, to_rekey;
	for (auto &c : children_) {
		if (c->state == ChildSa::State::deleting)
			to_delete.push_back(c.get());
		else if (c->state == ChildSa::State::rekeying && !c->collision_spi_in)
			to_rekey.push_back(c.get());
		fresh.children_.push_back(std::move(c));
	}
	children_.clear();
	for (auto &c : fresh.children_)
		fresh.schedule_child_timers(*c);
	fresh.pending_children_ = std::move(pending_children_);
	pending_children_.clear();
	for (ChildSa *c : to_delete) {
		uint32_t spi_in = c->spec.spi_in;
		IkeSa *target = &fresh;
		fresh.request(ExchangeType::Informational,
			      {payload(PayloadType::Delete, DeletePayload{ProtocolId::ESP, {spi_bytes(spi_in)}})},
			      [target, spi_in](const Message &, const Payloads &) {
				      if (ChildSa *child = target->child_by_inbound(spi_in))
					      target->delete_child_now(child, false);
			      });
	}
	for (ChildSa *c : to_rekey) {
		c->state = ChildSa::State::installed;
		if (c->config && fresh.state_ == State::established)
			fresh.create_child(*c->config, c);
	}
}

// ---------------------------------------------------------------------------
// INFORMATIONAL: Delete and liveness (§1.4, §2.4).

void IkeSa::on_informational_request(const Message &msg, const Payloads &p)
{
	Payloads reply;
	bool delete_ike = false;
	std::vector<std::vector<uint8_t>> our_spis;
	for (const auto *d : find_payloads<DeletePayload>(p)) {
		if (d->protocol == ProtocolId::IKE) {
			delete_ike = true;
			continue;
		}
		if (d->protocol != ProtocolId::ESP)
			continue;
		for (const auto &spi : d->spis) {
			// The peer names its inbound SPIs: our outbound ones.
			ChildSa *c = child_by_outbound(spi_value(spi));
			if (!c) {
				// Perhaps the SA our CREATE_CHILD_SA makes: the peer
				// answered, then deleted it, and the Delete overtook the
				// answer.
				if (outstanding_ && outstanding_->type == ExchangeType::CreateChildSa && !rekeying_ &&
				    deleted_unknown_.size() < 8)
					deleted_unknown_.push_back(spi_value(spi));
				continue;
			}
			// §1.4.1: answer with our inbound SPI of the pair, unless we
			// are deleting it ourselves at the same moment.
			if (c->state != ChildSa::State::deleting)
				our_spis.push_back(spi_bytes(c->spec.spi_in));
			// The old SA of a rekey we answered: its successor's
			// outbound SA goes in before the old one goes out.
			for (const auto &n : children_)
				if (n.get() != c && n->outbound_pending && n->spec.reqid == c->spec.reqid)
					install_pending_outbound(n.get());
			delete_child_now(c, false);
		}
	}
	if (delete_ike) {
		// §1.4.1: an empty response, then the IKE SA and its children go.
		respond(msg, {});
		log::notice(name_of(*this) + ": the peer deleted the IKE SA");
		// Our own rekey, if any, cannot complete now: the peer's SA is
		// the successor (§2.8.2 when the peer saw no collision).
		if (rekeyed_by_peer_ && !children_.empty())
			transfer_children_to(*rekeyed_by_peer_);
		state_ = State::deleting;
		engine_.remove(this);
		return;
	}
	if (!our_spis.empty())
		reply.push_back(payload(PayloadType::Delete, DeletePayload{ProtocolId::ESP, our_spis}));
	respond(msg, std::move(reply));
}

void IkeSa::schedule_ike_timers()
{
	if (!conn_)
		return;
	if (conn_->dpd_delay.count())
		dpd_timer_ = engine_.loop_.every(conn_->dpd_delay, [this] { dpd(); });
	if (conn_->ike_rekey_time.count())
		rekey_timer_ = engine_.loop_.after(jittered(conn_->ike_rekey_time, conn_->ike_rand_time),
						   [this] { rekey_ike(); });
	if (nat_local_ && conn_->nat_keepalive.count())
		keepalive_timer_ = engine_.loop_.every(conn_->nat_keepalive, [this] {
			engine_.env_.keepalive(local_, remote_);
		});
}

void IkeSa::dpd()
{
	// §2.4: ask only when the peer has been silent for a whole interval
	// and nothing of ours is outstanding (that one's retransmissions
	// already check liveness).
	if (state_ != State::established || outstanding_ || !queued_.empty())
		return;
	if (EventLoop::now() - last_heard_ < conn_->dpd_delay)
		return;
	request(ExchangeType::Informational, {}, [](const Message &, const Payloads &) {});
}

void IkeSa::send_delete_ike()
{
	if (state_ == State::deleting)
		return;
	dpd_timer_.reset();
	rekey_timer_.reset();
	if (!sk_out_ || (state_ != State::established && state_ != State::rekeyed)) {
		state_ = State::deleting;
		engine_.remove(this);
		return;
	}
	// §1.4.1: the Delete goes out alone; the SA is gone once it is
	// answered or the retransmissions give up.
	queued_.clear();
	outstanding_.reset();
	retransmit_timer_.reset();
	request(ExchangeType::Informational, {payload(PayloadType::Delete, DeletePayload{ProtocolId::IKE, {}})},
		[this](const Message &, const Payloads &) {
			state_ = State::deleting;
			engine_.remove(this);
		});
	// No retransmission storm for a Delete: two tries, then gone.
	delete_timer_ = engine_.loop_.after(std::chrono::seconds(5), [this] {
		state_ = State::deleting;
		engine_.remove(this);
	});
	state_ = State::deleting;
	// The Delete itself was queued before the state changed: send it.
	if (!outstanding_) {
		State keep = state_;
		state_ = State::established;
		send_next_request();
		state_ = keep;
	}
}

void IkeSa::die(const std::string &why)
{
	log::warning(name_of(*this) + ": " + why);
	state_ = State::deleting;
	outstanding_.reset();
	queued_.clear();
	retransmit_timer_.reset();
	// A dead peer's traps come back: start_action = start retries.
	engine_.remove(this);
}

const ChildConfig *IkeSa::child_config(const std::string &name) const
{
	if (!conn_)
		return nullptr;
	for (const auto &c : conn_->children)
		if (c.name == name)
			return &c;
	return nullptr;
}

std::string fingerprint(const ConnectionConfig &c)
{
	std::string s = c.name + "|" + c.local_addr.str() + "|" + c.remote_addr.str() + "|" +
			std::to_string(c.remote_port) + "|" + c.local_id.text + "|" +
			(c.remote_id ? c.remote_id->text : "") + "|" + std::to_string(static_cast<int>(c.auth)) + "|" +
			c.psk + "|" + c.certificate + "|" + c.private_key + "|";
	for (const auto &p : c.ike_proposals)
		s += p.str(true) + ",";
	s += "|" + std::to_string(c.fragmentation) + std::to_string(c.force_encap);
	for (const auto &ch : c.children) {
		s += "|" + ch.name + ":" + std::to_string(ch.transport) + ":";
		for (const auto &t : ch.local_ts)
			s += t.str() + ",";
		s += ":";
		for (const auto &t : ch.remote_ts)
			s += t.str() + ",";
		for (const auto &p : ch.esp_proposals)
			s += p.str(false) + ",";
		s += std::to_string(ch.ip_protocol) + std::to_string(ch.replay_window);
	}
	return s;
}

} // namespace umigame::iked
