#include "umigame/dhcp6d/client_machine.h"

#include <algorithm>
#include <cmath>

#include "umigame/dhcp6/error.h"
#include "umigame/log.h"

namespace umigame::dhcp6d {

using namespace dhcp6;

namespace {

Seconds until(Seconds from, uint32_t lifetime)
{
	return lifetime == kInfinity ? kForever : from + Seconds(lifetime);
}

uint32_t left(Seconds end, Seconds now)
{
	if (std::isinf(end.count()))
		return kInfinity;
	double s = (end - now).count();
	if (s <= 0)
		return 0;
	// Never report "forever" for a finite lifetime.
	return s >= double(kInfinity - 1) ? kInfinity - 1 : uint32_t(std::ceil(s));
}

// §21.4/§21.21: when the server leaves T1 and T2 to the client (0), use
// 0.5 and 0.8 times the shortest preferred lifetime in the IA.
void choose_timers(IaBinding &ia, uint32_t t1, uint32_t t2)
{
	uint32_t shortest = kInfinity, shortest_valid = kInfinity;
	for (const LeasedPrefix &p : ia.prefixes) {
		shortest = std::min(shortest, p.lifetimes.preferred);
		shortest_valid = std::min(shortest_valid, p.lifetimes.valid);
	}
	for (const LeasedAddress &a : ia.addresses) {
		shortest = std::min(shortest, a.lifetimes.preferred);
		shortest_valid = std::min(shortest_valid, a.lifetimes.valid);
	}
	// Only deprecated leases (preferred 0): count from the valid lifetime,
	// or T1 = 0 would Renew again the moment each Reply arrives (§14.1:
	// rate-limit). Never less than a second.
	if (shortest == 0)
		shortest = shortest_valid;
	auto fraction = [&](double f) {
		return shortest == kInfinity ? kInfinity : std::max<uint32_t>(1, uint32_t(double(shortest) * f));
	};
	ia.t1 = t1 ? t1 : fraction(0.5);
	ia.t2 = t2 ? t2 : fraction(0.8);
	if (ia.t2 < ia.t1)
		ia.t2 = ia.t1;
}

} // namespace

Seconds Lifetimes::preferred_until() const { return until(obtained, preferred); }
Seconds Lifetimes::valid_until() const { return until(obtained, valid); }
uint32_t Lifetimes::preferred_left(Seconds now) const { return left(preferred_until(), now); }
uint32_t Lifetimes::valid_left(Seconds now) const { return left(valid_until(), now); }

bool Binding::empty() const
{
	return std::all_of(ias.begin(), ias.end(), [](const IaBinding &ia) { return ia.empty(); });
}

std::vector<const LeasedPrefix *> Binding::prefixes() const
{
	std::vector<const LeasedPrefix *> out;
	for (const IaBinding &ia : ias)
		for (const LeasedPrefix &p : ia.prefixes)
			out.push_back(&p);
	return out;
}

const IaBinding *Binding::find(bool pd, uint32_t iaid) const
{
	for (const IaBinding &ia : ias)
		if (ia.prefix_delegation == pd && ia.iaid == iaid)
			return &ia;
	return nullptr;
}

std::string phase_name(ClientPhase phase)
{
	switch (phase) {
	case ClientPhase::Starting: return "starting";
	case ClientPhase::Soliciting: return "soliciting";
	case ClientPhase::Requesting: return "requesting";
	case ClientPhase::Bound: return "bound";
	case ClientPhase::Renewing: return "renewing";
	case ClientPhase::Rebinding: return "rebinding";
	case ClientPhase::Informing: return "information-request";
	case ClientPhase::Declining: return "declining";
	case ClientPhase::Releasing: return "releasing";
	case ClientPhase::Stopped: return "stopped";
	}
	return "?";
}

ClientMachine::ClientMachine(MachineOptions options, Duid duid, std::function<uint32_t()> random32)
	: options_(std::move(options)), duid_(std::move(duid)), random32_(std::move(random32))
{
}

double ClientMachine::rand_factor()
{
	// §15: RAND uniformly in [-0.1, +0.1].
	return (double(random32_()) / 4294967295.0) * 0.2 - 0.1;
}

uint32_t ClientMachine::new_xid()
{
	// §16.1: a fresh random 24-bit transaction-id per exchange.
	return random32_() & 0xffffff;
}

OptionRequest ClientMachine::option_request(bool solicit) const
{
	OptionRequest oro;
	oro.codes = {OPTION_DNS_SERVERS, OPTION_DOMAIN_LIST};
	// §21.24: a client MUST request SOL_MAX_RT in Solicit (and may in
	// others); it honours the option in Advertise and Reply.
	oro.codes.push_back(OPTION_SOL_MAX_RT);
	if (!solicit)
		oro.codes.push_back(OPTION_INF_MAX_RT);
	if (options_.address_selection)
		oro.codes.push_back(OPTION_ADDRSEL);
	// RFC 8910 §2.2: a CE router passes the captive portal on to its LAN.
	oro.codes.push_back(OPTION_CAPTIVE_PORTAL);
	// RFC 6603 §4.1, RFC 7084 WPD-8: tell us what of a prefix is not ours.
	if (!options_.prefixes.empty())
		oro.codes.push_back(OPTION_PD_EXCLUDE);
	return oro;
}

bool ClientMachine::wants(bool pd, uint32_t iaid) const
{
	if (pd)
		return std::any_of(options_.prefixes.begin(), options_.prefixes.end(),
				   [&](const PrefixRequest &r) { return r.iaid == iaid; });
	return options_.address_iaid == iaid;
}

// §18.2.1: one IA per wanted IA, a prefix-length hint as an IA Prefix of
// ::/len with zero lifetimes (§18.2.1, §21.22).
void ClientMachine::add_wanted_ias(Message &m, bool with_hints) const
{
	for (const PrefixRequest &r : options_.prefixes) {
		IaPd ia{.iaid = r.iaid};
		if (with_hints && r.length_hint) {
			IaPrefix hint;
			hint.prefix.length = r.length_hint;
			ia.options.add(hint);
		}
		m.add(ia);
	}
	if (options_.address_iaid)
		m.add(IaNa{.iaid = *options_.address_iaid});
}

// §18.2.4/§18.2.5: the IAs with the leases the client holds, T1/T2 and
// lifetimes 0 (the server ignores them, §21.21/§21.22); wanted IAs that
// hold nothing go along empty so the server may bind them.
void ClientMachine::add_bound_ias(Message &m) const
{
	for (const PrefixRequest &r : options_.prefixes) {
		IaPd ia{.iaid = r.iaid};
		if (const IaBinding *b = binding_.find(true, r.iaid))
			for (const LeasedPrefix &p : b->prefixes)
				ia.options.add(IaPrefix{.prefix = p.prefix});
		m.add(ia);
	}
	if (options_.address_iaid) {
		IaNa ia{.iaid = *options_.address_iaid};
		if (const IaBinding *b = binding_.find(false, *options_.address_iaid))
			for (const LeasedAddress &a : b->addresses)
				ia.options.add(IaAddress{.address = a.address});
		m.add(ia);
	}
}

Seconds ClientMachine::first_solicit_delay()
{
	// §18.2.1: delay the first Solicit by a random time in [0, SOL_MAX_DELAY].
	return rfc8415::kSolMaxDelay * (double(random32_()) / 4294967295.0);
}

void ClientMachine::start(Seconds now, std::optional<Binding> saved, bool link_ready)
{
	binding_ = {};
	router_heard_ = false;
	if (saved) {
		binding_ = std::move(*saved);
		expire(now);
	}
	if (!binding_.empty()) {
		changed_ = true;
		begin_rebind(now);
		return;
	}
	binding_ = {};
	phase_ = ClientPhase::Starting;
	first_delay_ = true;
	awaiting_link_ = !link_ready;
	start_at_ = awaiting_link_ ? kForever : now + first_solicit_delay();
}

void ClientMachine::link_ready(Seconds now)
{
	if (!awaiting_link_)
		return;
	awaiting_link_ = false;
	if (phase_ != ClientPhase::Starting || !first_delay_)
		return;
	// An RA heard meanwhile has said what to ask for: no reason to wait.
	if (router_heard_)
		begin_solicit(now);
	else
		start_at_ = now + first_solicit_delay();
}

void ClientMachine::router_advertised(Seconds now, MachineOptions options)
{
	router_heard_ = true;
	// Only what the next message will carry changes: the one in flight is
	// retransmitted as it is (§15), a Renew goes at T1 as scheduled.
	options_ = std::move(options);
	// RFC 7084 WAA-6: the first Solicit waited (§18.2.1) and now knows M.
	if (phase_ == ClientPhase::Starting && first_delay_ && !awaiting_link_)
		begin_solicit(now);
}

void ClientMachine::begin(MessageType type, Message message, RetransmitParams params, Seconds now)
{
	exchange_.emplace(Exchange{type, std::move(message),
				   Retransmission(params, [this] { return rand_factor(); }), now});
	Seconds rt = exchange_->retransmission.first(now);
	send(now);
	exchange_->next_send = now + rt;
}

void ClientMachine::send(Seconds now)
{
	Exchange &x = *exchange_;
	// §21.9: Elapsed Time of this exchange, 0 in the first message.
	x.message.set(ElapsedTime{x.retransmission.elapsed_centiseconds(now)});
	outgoing_.push_back(x.message);
	counters_.sent++;
}

void ClientMachine::begin_solicit(Seconds now)
{
	phase_ = ClientPhase::Soliciting;
	first_delay_ = false;
	awaiting_link_ = false;
	offers_.clear();
	Message m = Message::solicit(new_xid(), duid_);
	m.add(option_request(true));
	add_wanted_ias(m, true);
	if (options_.rapid_commit)
		m.add(RapidCommit{});
	if (options_.reconfigure_accept)
		m.add(ReconfigureAccept{});
	RetransmitParams p = rfc8415::solicit();
	p.mrt = sol_max_rt_;
	begin(MessageType::Solicit, std::move(m), p, now);
	counters_.solicits++;
	collecting_ = true;
	first_rt_end_ = exchange_->next_send;
}

void ClientMachine::begin_request(Seconds now, const Message &advertise)
{
	phase_ = ClientPhase::Requesting;
	collecting_ = false;
	offers_.clear();
	// The IAs of the exchange this Request follows (the Solicit the server
	// answered, or the Renew/Rebind it had no binding for): an IA wanted
	// since then (an RA's M) waits for the Renew at T1 (§18.2.4).
	auto asked = [&](bool pd, uint32_t iaid) {
		if (!exchange_)
			return true;
		const Message &x = exchange_->message;
		if (pd) {
			auto ias = x.all<IaPd>();
			return std::any_of(ias.begin(), ias.end(), [&](const IaPd *ia) { return ia->iaid == iaid; });
		}
		auto ias = x.all<IaNa>();
		return std::any_of(ias.begin(), ias.end(), [&](const IaNa *ia) { return ia->iaid == iaid; });
	};
	Message m = Message::request(new_xid(), duid_, *advertise.server_id());
	m.add(option_request(false));
	// §18.2.2: the IAs, with the leases the Advertise offered as hints.
	for (const PrefixRequest &r : options_.prefixes) {
		if (!asked(true, r.iaid))
			continue;
		IaPd ia{.iaid = r.iaid};
		for (const IaPd *offered : advertise.all<IaPd>())
			if (offered->iaid == r.iaid && offered->status() == Status::Success)
				for (const IaPrefix *p : offered->prefixes())
					ia.options.add(IaPrefix{.prefix = p->prefix});
		if (ia.options.empty() && r.length_hint) {
			IaPrefix hint;
			hint.prefix.length = r.length_hint;
			ia.options.add(hint);
		}
		m.add(ia);
	}
	if (options_.address_iaid && asked(false, *options_.address_iaid)) {
		IaNa ia{.iaid = *options_.address_iaid};
		for (const IaNa *offered : advertise.all<IaNa>())
			if (offered->iaid == ia.iaid && offered->status() == Status::Success)
				for (const IaAddress *a : offered->addresses())
					ia.options.add(IaAddress{.address = a->address});
		m.add(ia);
	}
	if (options_.reconfigure_accept)
		m.add(ReconfigureAccept{});
	begin(MessageType::Request, std::move(m), rfc8415::request(), now);
	counters_.requests++;
}

void ClientMachine::begin_renew(Seconds now)
{
	phase_ = ClientPhase::Renewing;
	Message m = Message::renew(new_xid(), duid_, binding_.server);
	m.add(option_request(false));
	add_bound_ias(m);
	if (options_.reconfigure_accept)
		m.add(ReconfigureAccept{});
	// §18.2.4: Renew's MRD is the time until T2.
	RetransmitParams p = rfc8415::renew();
	Seconds t2 = rebind_at();
	p.mrd = std::isinf(t2.count()) ? Seconds(0) : std::max(t2 - now, Seconds(1));
	begin(MessageType::Renew, std::move(m), p, now);
	counters_.renews++;
}

void ClientMachine::begin_rebind(Seconds now)
{
	phase_ = ClientPhase::Rebinding;
	Message m = Message::rebind(new_xid(), duid_);
	m.add(option_request(false));
	add_bound_ias(m);
	if (options_.reconfigure_accept)
		m.add(ReconfigureAccept{});
	// §18.2.5: Rebind's MRD is the time until the valid lifetimes of all
	// leases end.
	Seconds last{0};
	for (const IaBinding &ia : binding_.ias) {
		for (const LeasedPrefix &p : ia.prefixes)
			last = std::max(last, p.lifetimes.valid_until());
		for (const LeasedAddress &a : ia.addresses)
			last = std::max(last, a.lifetimes.valid_until());
	}
	RetransmitParams p = rfc8415::rebind();
	p.mrd = std::isinf(last.count()) ? Seconds(0) : std::max(last - now, Seconds(1));
	begin(MessageType::Rebind, std::move(m), p, now);
	counters_.rebinds++;
}

void ClientMachine::begin_information_request(Seconds now)
{
	phase_ = ClientPhase::Informing;
	Message m = Message::information_request(new_xid(), duid_);
	m.add(option_request(false));
	if (options_.reconfigure_accept)
		m.add(ReconfigureAccept{});
	RetransmitParams p = rfc8415::information_request();
	p.mrt = inf_max_rt_;
	begin(MessageType::InformationRequest, std::move(m), p, now);
	counters_.information_requests++;
}

Seconds ClientMachine::renew_at() const
{
	Seconds at = kForever;
	for (const IaBinding &ia : binding_.ias)
		if (!ia.empty())
			at = std::min(at, until(ia.obtained, ia.t1));
	return at;
}

Seconds ClientMachine::rebind_at() const
{
	Seconds at = kForever;
	for (const IaBinding &ia : binding_.ias)
		if (!ia.empty())
			at = std::min(at, until(ia.obtained, ia.t2));
	return at;
}

void ClientMachine::rediscover(Seconds now)
{
	// §14.1: a client MUST rate-limit what it sends. A server that
	// advertises prefixes and then refuses them would otherwise draw a
	// Solicit-Advertise-Request round every second: each round that ends
	// without a binding doubles the pause before the next one (from IRT,
	// up to SOL_MAX_RT, with RAND).
	exchange_.reset();
	collecting_ = false;
	offers_.clear();
	Seconds pause = rfc8415::solicit().irt * std::pow(2.0, double(std::min(failed_rounds_, 24u)));
	pause = std::min(pause, sol_max_rt_);
	pause += pause * rand_factor();
	failed_rounds_++;
	phase_ = ClientPhase::Starting;
	start_at_ = now + pause;
}

void ClientMachine::enter_bound(Seconds now)
{
	if (!binding_.empty())
		failed_rounds_ = 0;
	exchange_.reset();
	collecting_ = false;
	phase_ = ClientPhase::Bound;
	if (!declining_.empty()) {
		Ipv6Address a = declining_.front();
		declining_.erase(declining_.begin());
		decline(now, a);
	}
}

void ClientMachine::drop_binding()
{
	if (!binding_.empty() || !binding_.ias.empty())
		changed_ = true;
	binding_ = {};
}

// Leases whose valid lifetime has ended are gone (§18.2.10.1, §21.22).
void ClientMachine::expire(Seconds now)
{
	bool any = false;
	for (IaBinding &ia : binding_.ias) {
		any |= std::erase_if(ia.prefixes, [&](const LeasedPrefix &p) {
			return p.lifetimes.valid_until() <= now;
		}) > 0;
		any |= std::erase_if(ia.addresses, [&](const LeasedAddress &a) {
			return a.lifetimes.valid_until() <= now;
		}) > 0;
	}
	std::erase_if(binding_.ias, [](const IaBinding &ia) { return ia.empty(); });
	if (any)
		changed_ = true;
}

std::optional<Seconds> ClientMachine::deadline() const
{
	std::optional<Seconds> d;
	auto consider = [&](Seconds t) {
		if (!std::isinf(t.count()) && (!d || t < *d))
			d = t;
	};
	switch (phase_) {
	case ClientPhase::Starting:
		consider(start_at_);
		break;
	case ClientPhase::Stopped:
		return std::nullopt;
	default:
		break;
	}
	if (exchange_)
		consider(exchange_->next_send);
	if (phase_ == ClientPhase::Bound || phase_ == ClientPhase::Informing) {
		consider(renew_at());
		consider(rebind_at());
	}
	if (phase_ != ClientPhase::Releasing)
		for (const IaBinding &ia : binding_.ias) {
			for (const LeasedPrefix &p : ia.prefixes)
				consider(p.lifetimes.valid_until());
			for (const LeasedAddress &a : ia.addresses)
				consider(a.lifetimes.valid_until());
		}
	return d;
}

void ClientMachine::tick(Seconds now)
{
	if (phase_ == ClientPhase::Stopped)
		return;
	if (phase_ != ClientPhase::Releasing) {
		expire(now);
		bool holding = phase_ == ClientPhase::Bound || phase_ == ClientPhase::Renewing ||
			       phase_ == ClientPhase::Rebinding || phase_ == ClientPhase::Informing ||
			       phase_ == ClientPhase::Declining;
		if (holding && binding_.empty()) {
			// Every lease ran out: start over (§18.2.5).
			drop_binding();
			exchange_.reset();
			begin_solicit(now);
			return;
		}
	}
	if (phase_ == ClientPhase::Starting) {
		if (now >= start_at_)
			begin_solicit(now);
		return;
	}
	if (phase_ == ClientPhase::Bound || phase_ == ClientPhase::Informing) {
		// §18.2.4/§18.2.5: Rebind at T2, Renew at T1 (a Reconfigure's
		// Information-request gives way to them).
		if (now >= rebind_at()) {
			begin_rebind(now);
			return;
		}
		if (now >= renew_at()) {
			begin_renew(now);
			return;
		}
	}
	if (!exchange_ || now < exchange_->next_send)
		return;
	// §18.2.1: the first RT of the Solicit is over; take the best offer.
	if (phase_ == ClientPhase::Soliciting && collecting_) {
		collecting_ = false;
		if (!offers_.empty()) {
			auto best = std::max_element(offers_.begin(), offers_.end(), [](const Offer &a, const Offer &b) {
				return std::tie(a.preference, a.leases) < std::tie(b.preference, b.leases);
			});
			Message advertise = best->advertise;
			begin_request(now, advertise);
			return;
		}
	}
	if (auto rt = exchange_->retransmission.next(now)) {
		send(now);
		exchange_->next_send = now + *rt;
	} else {
		exchange_failed(now);
	}
}

void ClientMachine::exchange_failed(Seconds now)
{
	MessageType type = exchange_->type;
	exchange_.reset();
	switch (type) {
	case MessageType::Request:
		// §18.2.2: give up on this server; discover again.
		rediscover(now);
		break;
	case MessageType::Renew:
		// §18.2.4: MRD is T2: Rebind.
		begin_rebind(now);
		break;
	case MessageType::Rebind:
		// §18.2.5: the leases ran out with nobody answering.
		expire(now);
		drop_binding();
		begin_solicit(now);
		break;
	case MessageType::Release:
		phase_ = ClientPhase::Stopped;
		break;
	case MessageType::Decline:
	case MessageType::InformationRequest:
		enter_bound(now);
		break;
	default:
		begin_solicit(now);
		break;
	}
}

void ClientMachine::receive(Seconds now, std::span<const uint8_t> wire)
{
	counters_.received++;
	Message m;
	try {
		m = Message::parse(wire);
	} catch (const ParseError &e) {
		counters_.malformed++;
		log::debug(std::string("client: dropped malformed message: ") + e.what());
		return;
	}
	// §16.10/§16.11: Advertise, Reply and Reconfigure carry exactly one
	// Server Identifier and our Client Identifier.
	if (m.is_relay() || m.options.all<ServerId>().size() != 1 || m.options.all<ClientId>().size() != 1 ||
	    *m.client_id() != duid_) {
		counters_.ignored++;
		return;
	}
	switch (m.type) {
	case MessageType::Advertise:
		on_advertise(now, m);
		return;
	case MessageType::Reply:
		on_reply(now, m);
		return;
	case MessageType::Reconfigure:
		on_reconfigure(now, m, wire);
		return;
	default:
		counters_.ignored++;
	}
}

size_t ClientMachine::count_leases(const Message &m) const
{
	size_t n = 0;
	for (const IaPd *ia : m.all<IaPd>())
		if (wants(true, ia->iaid) && ia->status() == Status::Success)
			for (const IaPrefix *p : ia->prefixes())
				n += p->valid_lifetime > 0 && p->status() == Status::Success;
	for (const IaNa *ia : m.all<IaNa>())
		if (wants(false, ia->iaid) && ia->status() == Status::Success)
			for (const IaAddress *a : ia->addresses())
				n += a->valid_lifetime > 0 && a->status() == Status::Success;
	return n;
}

void ClientMachine::on_advertise(Seconds now, const Message &m)
{
	if (phase_ != ClientPhase::Soliciting || !exchange_ ||
	    m.transaction_id != exchange_->message.transaction_id) {
		counters_.ignored++;
		return;
	}
	// §21.24: SOL_MAX_RT counts even in an Advertise we otherwise ignore,
	// from the next retransmission on.
	if (const SolMaxRt *s = m.get<SolMaxRt>(); s && s->usable()) {
		sol_max_rt_ = Seconds(s->seconds);
		exchange_->retransmission.set_mrt(sol_max_rt_);
	}
	// §18.2.9: an Advertise with no prefixes and no addresses is ignored.
	size_t leases = count_leases(m);
	if (leases == 0) {
		counters_.ignored++;
		return;
	}
	uint8_t pref = m.get<Preference>() ? m.get<Preference>()->value : 0;
	// §18.2.1: preference 255 means at once; after the first RT, the
	// first acceptable Advertise wins.
	if (pref == 255 || !collecting_) {
		begin_request(now, m);
		return;
	}
	offers_.push_back({m, pref, leases});
}

void ClientMachine::apply_options(const Message &m)
{
	// RFC 3646: the Reply's DNS configuration replaces the last one.
	std::vector<Ipv6Address> dns = m.get<DnsServers>() ? m.get<DnsServers>()->servers : std::vector<Ipv6Address>{};
	std::vector<DomainName> domains = m.get<DomainList>() ? m.get<DomainList>()->names : std::vector<DomainName>{};
	std::vector<AddressSelectionPolicy> policy;
	if (const AddressSelection *sel = m.get<AddressSelection>())
		for (const AddressSelectionPolicy *p : sel->policies())
			policy.push_back(*p);
	std::optional<std::string> portal;
	if (const CaptivePortal *c = m.get<CaptivePortal>(); c && !c->uri.empty())
		portal = c->uri;
	if (dns != binding_.dns_servers || domains != binding_.search_domains ||
	    policy != binding_.address_selection || portal != binding_.captive_portal) {
		binding_.dns_servers = std::move(dns);
		binding_.search_domains = std::move(domains);
		binding_.address_selection = std::move(policy);
		binding_.captive_portal = std::move(portal);
		changed_ = true;
	}
	if (const SolMaxRt *s = m.get<SolMaxRt>(); s && s->usable())
		sol_max_rt_ = Seconds(s->seconds);
	if (const InfMaxRt *s = m.get<InfMaxRt>(); s && s->usable())
		inf_max_rt_ = Seconds(s->seconds);
}

bool ClientMachine::apply_reply(Seconds now, const Message &m, bool &no_binding)
{
	no_binding = false;
	const Duid &server = *m.server_id();
	if (binding_.server != server) {
		// A Reply from another server (Rebind, or a new Request) brings
		// its own key, or none.
		binding_.reconfigure_key.reset();
		binding_.replay_detection = 0;
		binding_.server = server;
		changed_ = true;
	}
	// §20.4.1: the Reconfigure Key from this server.
	for (const Authentication *auth : m.all<Authentication>())
		if (auto info = reconfigure_key_info(*auth); info && info->type == ReconfigureKeyType::Key) {
			binding_.reconfigure_key = info->value;
			binding_.replay_detection = auth->replay_detection;
			changed_ = true;
		}
	auto take_ia = [&](bool pd, uint32_t iaid, uint32_t t1, uint32_t t2, Status status,
			   auto &&fill) {
		if (!wants(pd, iaid))
			return;
		if (status == Status::NoBinding) {
			// §18.2.10.1: the server has no binding for this IA: Request it.
			no_binding = true;
			return;
		}
		if (status != Status::Success) // NoPrefixAvail, NoAddrsAvail, ...
			return;
		// §21.4/§21.21: T1 > T2 (both non-zero): discard the IA.
		if (t1 && t2 && t1 > t2)
			return;
		IaBinding *ia = nullptr;
		for (IaBinding &b : binding_.ias)
			if (b.prefix_delegation == pd && b.iaid == iaid)
				ia = &b;
		if (!ia) {
			binding_.ias.push_back(IaBinding{.prefix_delegation = pd, .iaid = iaid});
			ia = &binding_.ias.back();
		}
		fill(*ia);
		ia->obtained = now;
		choose_timers(*ia, t1, t2);
		changed_ = true;
	};
	for (const IaPd *r : m.all<IaPd>())
		take_ia(true, r->iaid, r->t1, r->t2, r->status(), [&](IaBinding &ia) {
			for (const IaPrefix *p : r->prefixes()) {
				// §21.22: preferred over valid: discard the prefix.
				if (p->preferred_lifetime > p->valid_lifetime || p->status() != Status::Success)
					continue;
				Ipv6Prefix prefix = p->prefix;
				// Clear the bits past the length: the wire keeps them.
				for (unsigned bit = prefix.length; bit < 128; bit++)
					prefix.address.bytes[bit / 8] &= uint8_t(~(0x80 >> (bit % 8)));
				std::erase_if(ia.prefixes, [&](const LeasedPrefix &l) { return l.prefix == prefix; });
				// §18.2.10.1: valid lifetime 0 means the prefix is gone.
				if (p->valid_lifetime == 0)
					continue;
				std::optional<Ipv6Prefix> excluded;
				if (const PdExclude *x = p->options.get<PdExclude>())
					excluded = x->excluded_from(prefix); // checked by the parser
				ia.prefixes.push_back({prefix, {p->preferred_lifetime, p->valid_lifetime, now}, excluded});
			}
		});
	for (const IaNa *r : m.all<IaNa>())
		take_ia(false, r->iaid, r->t1, r->t2, r->status(), [&](IaBinding &ia) {
			for (const IaAddress *a : r->addresses()) {
				if (a->preferred_lifetime > a->valid_lifetime || a->status() != Status::Success)
					continue;
				std::erase_if(ia.addresses, [&](const LeasedAddress &l) { return l.address == a->address; });
				if (a->valid_lifetime == 0)
					continue;
				ia.addresses.push_back({a->address, {a->preferred_lifetime, a->valid_lifetime, now}});
			}
		});
	std::erase_if(binding_.ias, [](const IaBinding &ia) { return ia.empty(); });
	apply_options(m);
	return !binding_.empty();
}

void ClientMachine::on_reply(Seconds now, const Message &m)
{
	if (!exchange_ || m.transaction_id != exchange_->message.transaction_id) {
		counters_.ignored++;
		return;
	}
	MessageType type = exchange_->type;
	if (type == MessageType::Solicit) {
		// §18.2.1/§21.14: a Reply to a Solicit only with Rapid Commit.
		if (!options_.rapid_commit || !m.has<RapidCommit>()) {
			counters_.ignored++;
			return;
		}
	}
	Status status = m.status();
	// §18.2.10: UnspecFail and UseMulticast: keep retransmitting (we
	// always use multicast).
	if (status == Status::UnspecFail || status == Status::UseMulticast) {
		counters_.ignored++;
		return;
	}
	if (type == MessageType::Release || type == MessageType::Decline) {
		// §18.2.10.2/§18.2.10.3: done, whatever the status.
		exchange_.reset();
		if (type == MessageType::Release)
			phase_ = ClientPhase::Stopped;
		else
			enter_bound(now);
		return;
	}
	if (type == MessageType::InformationRequest) {
		apply_options(m);
		enter_bound(now);
		return;
	}
	bool no_binding = false;
	bool bound = apply_reply(now, m, no_binding);
	if (no_binding && (type == MessageType::Renew || type == MessageType::Rebind)) {
		begin_request(now, m);
		return;
	}
	if (bound && (type == MessageType::Renew || type == MessageType::Rebind)) {
		// §18.2.10.1: an IA the Reply did not extend (NoPrefixAvail, or
		// left out) keeps its leases until they run out, and the client
		// goes on "as if the Reply message had not been received": the
		// exchange retransmits on its own schedule, not at once.
		bool stale = std::any_of(binding_.ias.begin(), binding_.ias.end(),
					 [&](const IaBinding &ia) { return ia.obtained < now; });
		if (stale)
			return;
	}
	if (!bound) {
		if (type == MessageType::Solicit) {
			// A Rapid Commit Reply that binds nothing: as an Advertise
			// without leases (§18.2.9), ignored; the Solicit goes on.
			counters_.ignored++;
		} else if (type == MessageType::Request) {
			// §18.2.10.1: nothing bound (NoPrefixAvail ...): discover again.
			rediscover(now);
		} else {
			drop_binding();
			exchange_.reset();
			begin_solicit(now);
		}
		return;
	}
	enter_bound(now);
}

void ClientMachine::on_reconfigure(Seconds now, const Message &m, std::span<const uint8_t> wire)
{
	// §18.2.11: only from the server we are bound to, with our key.
	auto reject = [&](const char *why) {
		counters_.reconfigure_rejected++;
		log::info(std::string("client: Reconfigure refused: ") + why);
	};
	if (binding_.empty() || *m.server_id() != binding_.server)
		return reject("not from the server of our leases");
	if (!binding_.reconfigure_key)
		return reject("no Reconfigure Key from that server (RFC 8415 §20.4)");
	const ReconfigureMessage *what = m.get<ReconfigureMessage>();
	if (!what || m.options.all<ReconfigureMessage>().size() != 1)
		return reject("no Reconfigure Message option (§21.19)");
	if (what->type != MessageType::Renew && what->type != MessageType::Rebind &&
	    what->type != MessageType::InformationRequest)
		return reject("asks for an unsupported message type (§21.19)");
	if (verify_reconfigure(wire, *binding_.reconfigure_key) != AuthCheck::Valid)
		return reject("authentication failed (§20.4.3)");
	const Authentication *auth = m.get<Authentication>();
	// §20.3: the replay detection value must grow.
	if (auth->replay_detection <= binding_.replay_detection)
		return reject("replayed (§20.3)");
	binding_.replay_detection = auth->replay_detection;
	changed_ = true;
	if (phase_ != ClientPhase::Bound) {
		// §18.2.11: an exchange is in progress; it will refresh us anyway.
		return reject("an exchange is already in progress");
	}
	counters_.reconfigure_accepted++;
	if (what->type == MessageType::Renew)
		begin_renew(now);
	else if (what->type == MessageType::Rebind)
		begin_rebind(now);
	else
		begin_information_request(now);
}

void ClientMachine::release(Seconds now)
{
	if (phase_ == ClientPhase::Releasing || phase_ == ClientPhase::Stopped)
		return;
	exchange_.reset();
	collecting_ = false;
	expire(now);
	if (binding_.empty()) {
		drop_binding();
		phase_ = ClientPhase::Stopped;
		return;
	}
	// §18.2.7: the IAs and their leases; stop using them at once.
	Message m = Message::release(new_xid(), duid_, binding_.server);
	for (const IaBinding &ia : binding_.ias) {
		if (ia.prefix_delegation) {
			IaPd pd{.iaid = ia.iaid};
			for (const LeasedPrefix &p : ia.prefixes)
				pd.options.add(IaPrefix{.prefix = p.prefix});
			m.add(pd);
		} else {
			IaNa na{.iaid = ia.iaid};
			for (const LeasedAddress &a : ia.addresses)
				na.options.add(IaAddress{.address = a.address});
			m.add(na);
		}
	}
	drop_binding();
	phase_ = ClientPhase::Releasing;
	begin(MessageType::Release, std::move(m), rfc8415::release(), now);
	counters_.releases++;
}

void ClientMachine::stop_keeping_leases()
{
	exchange_.reset();
	collecting_ = false;
	drop_binding();
	phase_ = ClientPhase::Stopped;
}

void ClientMachine::decline(Seconds now, const Ipv6Address &address)
{
	IaBinding *owner = nullptr;
	for (IaBinding &ia : binding_.ias)
		for (const LeasedAddress &a : ia.addresses)
			if (!ia.prefix_delegation && a.address == address)
				owner = &ia;
	if (!owner)
		return;
	if (phase_ != ClientPhase::Bound) {
		// Finish the exchange in progress first; then Decline.
		if (std::find(declining_.begin(), declining_.end(), address) == declining_.end())
			declining_.push_back(address);
		return;
	}
	// §18.2.8: stop using it, tell the server.
	uint32_t iaid = owner->iaid;
	std::erase_if(owner->addresses, [&](const LeasedAddress &a) { return a.address == address; });
	std::erase_if(binding_.ias, [](const IaBinding &ia) { return ia.empty(); });
	changed_ = true;
	Message m = Message::decline(new_xid(), duid_, binding_.server);
	IaNa na{.iaid = iaid};
	na.options.add(IaAddress{.address = address});
	m.add(na);
	phase_ = ClientPhase::Declining;
	begin(MessageType::Decline, std::move(m), rfc8415::decline(), now);
	counters_.declines++;
}

void ClientMachine::link_up(Seconds now)
{
	// §18.2.12: a requesting router that may have moved Rebinds its
	// delegated prefixes; without leases, a Solicit in progress goes on.
	if (phase_ != ClientPhase::Bound && phase_ != ClientPhase::Renewing && phase_ != ClientPhase::Informing)
		return;
	exchange_.reset();
	expire(now);
	if (binding_.empty()) {
		drop_binding();
		begin_solicit(now);
		return;
	}
	begin_rebind(now);
}

void ClientMachine::reconfigure(Seconds now, MachineOptions options)
{
	bool ias_changed = options.prefixes != options_.prefixes || options.address_iaid != options_.address_iaid;
	options_ = std::move(options);
	if (!ias_changed)
		return;
	if (phase_ == ClientPhase::Bound)
		begin_renew(now); // §18.2.4: the new IAs go into a Renew
	else if (phase_ == ClientPhase::Soliciting || phase_ == ClientPhase::Requesting) {
		exchange_.reset();
		begin_solicit(now);
	}
}

std::vector<Message> ClientMachine::take_outgoing()
{
	return std::exchange(outgoing_, {});
}

bool ClientMachine::take_changed()
{
	return std::exchange(changed_, false);
}

} // namespace umigame::dhcp6d
