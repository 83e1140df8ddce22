// Two engines negotiating through the harness: IKE_SA_INIT, IKE_AUTH with
// PSK and the first CHILD_SA, the ways they fail, cookies, retransmission,
// liveness, Delete and fragmentation.
#include <set>

#include "harness.h"
#include "peer.h"
#include "umigame/iked/selectors.h"

namespace umigame::iked::test {
namespace {

using ike::notify::AUTHENTICATION_FAILED;
using ike::notify::COOKIE;
using ike::notify::INVALID_KE_PAYLOAD;
using ike::notify::NO_PROPOSAL_CHOSEN;

// The IKE_SA_INIT requests in an outbox, by their KE group.
std::vector<uint16_t> init_groups(const std::deque<Datagram> &box)
{
	std::vector<uint16_t> out;
	for (const auto &d : box) {
		auto m = ike::Message::parse(d.bytes);
		if (m.header.exchange == ike::ExchangeType::IkeSaInit && !m.header.is_response())
			if (const auto *ke = m.find<ike::KePayload>())
				out.push_back(ke->group);
	}
	return out;
}

TEST(Exchange, PskEstablishesGcmEsnChild)
{
	// RFC 7296 §1.2: IKE_SA_INIT + IKE_AUTH make the IKE SA and the first
	// CHILD_SA; §2.17: each direction's keys are the same on both ends.
	Pair p;
	p.establish(ConnOptions{});
	ASSERT_TRUE(p.left.established());
	ASSERT_TRUE(p.right.established());
	EXPECT_TRUE(p.left.sa()->initiator());
	EXPECT_FALSE(p.right.sa()->initiator());
	EXPECT_EQ(p.left.sa()->spi_i(), p.right.sa()->spi_i());
	EXPECT_EQ(p.left.sa()->spi_r(), p.right.sa()->spi_r());
	EXPECT_EQ(p.left.child_count(), 1u);
	EXPECT_EQ(p.right.child_count(), 1u);
	ASSERT_EQ(p.left.kernel.inbound.size(), 1u);
	ASSERT_EQ(p.right.kernel.inbound.size(), 1u);
	p.expect_sas_paired();
	const auto &sa = p.left.kernel.inbound.begin()->second;
	EXPECT_EQ(sa.algorithms.encr, ike::encr::AES_GCM_16);
	EXPECT_EQ(sa.algorithms.encr_key_bits, 128);
	// RFC 4303 §2.2.1 / RFC 7296 §3.3.2: ESN offered and taken.
	EXPECT_TRUE(sa.algorithms.esn());
	EXPECT_EQ(sa.encr.size(), 16u + 4u); // RFC 4106 §8.1: key and salt
	EXPECT_TRUE(sa.integ.empty());
	// The outbound SA of each side uses the peer's inbound SPI.
	EXPECT_EQ(p.left.kernel.outbound.begin()->first, p.right.kernel.inbound.begin()->first);
	EXPECT_EQ(p.left.kernel.policies.size(), 1u);
	EXPECT_EQ(p.right.kernel.policies.size(), 1u);
	EXPECT_EQ(p.left.counters().ike_established, 1u);
	EXPECT_EQ(p.right.counters().child_established, 1u);
}

TEST(Exchange, PskEstablishesCbcHmacChild)
{
	// RFC 7296 §2.17 with separate encryption and integrity keys.
	ConnOptions o;
	o.ike_proposals = "\"aes256-sha256-modp2048\"";
	o.esp_proposals = "\"aes128-sha256\"";
	Pair p;
	p.establish(o);
	ASSERT_TRUE(p.left.established());
	ASSERT_TRUE(p.right.established());
	p.expect_sas_paired();
	ASSERT_EQ(p.left.kernel.inbound.size(), 1u);
	const auto &sa = p.left.kernel.inbound.begin()->second;
	EXPECT_EQ(sa.algorithms.encr, ike::encr::AES_CBC);
	EXPECT_EQ(sa.algorithms.integ, ike::integ::HMAC_SHA2_256_128);
	EXPECT_EQ(sa.encr.size(), 16u);
	EXPECT_EQ(sa.integ.size(), 32u); // RFC 4868 §2.1.1
	// Both ESN transforms offered, ESN first: ESN is chosen.
	EXPECT_TRUE(sa.algorithms.esn());
	EXPECT_EQ(p.left.sa()->json()["proposal"], "aes256-sha256-prfsha256-modp2048");
}

TEST(Exchange, ResponderNarrowsTrafficSelectors)
{
	// RFC 7296 §2.9: the responder answers with the subset it allows; both
	// ends install the intersection.
	ConnOptions l;
	ConnOptions r = l.mirrored();
	r.local_ts = "\"10.2.1.0/24\"";
	Pair p;
	p.establish(l, &r);
	ASSERT_TRUE(p.left.established());
	ASSERT_EQ(p.left.kernel.policies.size(), 1u);
	ASSERT_EQ(p.right.kernel.policies.size(), 1u);
	auto want_l = selector_for(prefix("10.1.0.0/16"), 0), want_r = selector_for(prefix("10.2.1.0/24"), 0);
	const auto &lp = p.left.kernel.policies.begin()->second;
	const auto &rp = p.right.kernel.policies.begin()->second;
	EXPECT_EQ(lp.local_ts, std::vector{want_l});
	EXPECT_EQ(lp.remote_ts, std::vector{want_r});
	EXPECT_EQ(rp.local_ts, std::vector{want_r});
	EXPECT_EQ(rp.remote_ts, std::vector{want_l});
	p.expect_sas_paired();
}

TEST(Exchange, DisjointSelectorsRefuseOnlyTheChild)
{
	// RFC 7296 §2.9: nothing in common is TS_UNACCEPTABLE; §2.21.3: the
	// IKE SA stands.
	ConnOptions l;
	ConnOptions r = l.mirrored();
	r.local_ts = "\"10.3.0.0/16\"";
	Pair p;
	p.establish(l, &r);
	EXPECT_TRUE(p.left.established());
	EXPECT_TRUE(p.right.established());
	EXPECT_EQ(p.right.counters().ts_unacceptable, 1u);
	EXPECT_EQ(p.left.child_count() + p.right.child_count(), 0u);
	p.expect_kernels_empty();
}

TEST(Exchange, SecondChildComesWithCreateChildSa)
{
	// RFC 7296 §1.3.1: the first CHILD_SA rides in IKE_AUTH, every further
	// one is a CREATE_CHILD_SA of its own on the same IKE SA.
	auto second = [](const char *local, const char *remote) {
		return std::string("[[connection.child]]\nname = \"mgmt\"\nlocal_ts = [\"") + local +
		       "\"]\nremote_ts = [\"" + remote + "\"]\nesp_proposals = [\"aes256gcm16\"]\nrekey_time = 0\n";
	};
	ConnOptions l;
	l.extra_child = second("10.11.0.0/24", "10.12.0.0/24");
	ConnOptions r = l.mirrored();
	r.extra_child = second("10.12.0.0/24", "10.11.0.0/24");
	Pair p;
	p.establish(l, &r);
	ASSERT_TRUE(p.left.established());
	EXPECT_EQ(p.left.child_count(), 2u);
	EXPECT_EQ(p.right.child_count(), 2u);
	EXPECT_EQ(p.left.kernel.inbound.size(), 2u);
	EXPECT_EQ(p.right.kernel.inbound.size(), 2u);
	p.expect_sas_paired();
	// One IKE SA carries both; the second child has its own reqid.
	EXPECT_EQ(p.left.engine->ike_sa_count(), 1u);
	std::set<uint32_t> reqids;
	for (const auto &c : p.left.sa()->children())
		reqids.insert(c->spec.reqid);
	EXPECT_EQ(reqids.size(), 2u);
}

TEST(Exchange, ChildRekeyRetriesWithTheGroupThePeerWants)
{
	// RFC 7296 §1.3: a CREATE_CHILD_SA whose KE group the responder does
	// not take gets INVALID_KE_PAYLOAD naming its group; the initiator
	// tries again with it, once.
	ConnOptions l;
	l.esp_proposals = "\"aes128gcm16-ecp256-esn\", \"aes128gcm16-modp2048-esn\"";
	ConnOptions r = l.mirrored();
	r.esp_proposals = "\"aes128gcm16-modp2048-esn\"";
	Pair p;
	p.establish(l, &r);
	ASSERT_EQ(p.left.child_count(), 1u);
	uint32_t old_spi = p.left.sa()->children().front()->spec.spi_in;
	p.left.engine->rekey_child("site", "net");
	p.deliver_all();
	p.run_for(std::chrono::milliseconds(50));
	p.deliver_all();
	ASSERT_EQ(p.left.child_count(), 1u);
	ASSERT_EQ(p.right.child_count(), 1u);
	const auto &child = *p.left.sa()->children().front();
	EXPECT_NE(child.spec.spi_in, old_spi);
	EXPECT_EQ(child.spec.algorithms.dh, ike::dh::MODP_2048);
	p.expect_sas_paired();
}

TEST(Exchange, TransportModeMismatchLeavesIkeSaUp)
{
	// RFC 7296 §1.3.1: USE_TRANSPORT_MODE is a request; a responder whose
	// child is a tunnel (or the other way round) makes no CHILD_SA, and
	// §2.21.3: the IKE SA stays.
	for (bool left_transport : {true, false}) {
		SCOPED_TRACE(left_transport ? "left transport, right tunnel" : "left tunnel, right transport");
		ConnOptions l;
		ConnOptions r = l.mirrored();
		(left_transport ? l : r).mode = "transport";
		Pair p;
		p.establish(l, &r);
		EXPECT_TRUE(p.left.established());
		EXPECT_TRUE(p.right.established());
		EXPECT_EQ(p.left.child_count(), 0u);
		EXPECT_EQ(p.right.child_count(), 0u);
		p.expect_kernels_empty();
	}
}

TEST(Exchange, TransportModeBothSides)
{
	// RFC 7296 §1.3.1: both want transport: the SA is a transport SA.
	ConnOptions l;
	l.mode = "transport";
	Pair p;
	p.establish(l);
	ASSERT_EQ(p.left.kernel.inbound.size(), 1u);
	EXPECT_TRUE(p.left.kernel.inbound.begin()->second.transport);
	EXPECT_TRUE(p.right.kernel.inbound.begin()->second.transport);
	p.expect_sas_paired();
}

TEST(Exchange, WrongPskFailsOnBothSides)
{
	// RFC 7296 §2.21.2: AUTHENTICATION_FAILED in the IKE_AUTH response;
	// neither side keeps an SA.
	ConnOptions l;
	ConnOptions r = l.mirrored();
	r.psk = "another long shared secret";
	Pair p;
	p.left.configure(l.toml());
	p.right.configure(r.toml());
	p.left.engine->up("site");
	p.deliver_one(p.left);  // IKE_SA_INIT
	p.deliver_one(p.right); // its answer
	p.deliver_one(p.left);  // IKE_AUTH
	ASSERT_EQ(p.right.env.outbox.size(), 1u);
	EXPECT_EQ(p.right.counters().auth_failed, 1u);
	p.deliver_all();
	EXPECT_EQ(p.left.counters().auth_failed, 1u);
	EXPECT_EQ(p.left.engine->ike_sa_count(), 0u);
	EXPECT_EQ(p.right.engine->ike_sa_count(), 0u);
	EXPECT_EQ(p.left.counters().ike_established + p.right.counters().ike_established, 0u);
	p.expect_kernels_empty();
}

TEST(Exchange, WrongIdentityFails)
{
	// RFC 7296 §2.15/§2.21.2: an IDi that no connection expects is refused.
	ConnOptions l;
	ConnOptions r = l.mirrored();
	r.remote_id = "fqdn:somebody-else.example";
	Pair p;
	p.establish(l, &r);
	EXPECT_EQ(p.right.counters().auth_failed, 1u);
	EXPECT_EQ(p.left.counters().auth_failed, 1u);
	EXPECT_EQ(p.left.engine->ike_sa_count() + p.right.engine->ike_sa_count(), 0u);
	p.expect_kernels_empty();
}

TEST(Exchange, IkeProposalMismatch)
{
	// RFC 7296 §3.10.1 NO_PROPOSAL_CHOSEN, §2.21.1: no SA on either side.
	ConnOptions l;
	ConnOptions r = l.mirrored();
	r.ike_proposals = "\"aes256-sha384-modp3072\"";
	Pair p;
	p.left.configure(l.toml());
	p.right.configure(r.toml());
	p.left.engine->up("site");
	p.deliver_one(p.left);
	ASSERT_EQ(p.right.env.outbox.size(), 1u);
	EXPECT_EQ(notifies_in(p.right.env.outbox.front().bytes), std::vector<uint16_t>{NO_PROPOSAL_CHOSEN});
	p.deliver_all();
	EXPECT_EQ(p.right.counters().no_proposal, 1u);
	EXPECT_EQ(p.left.engine->ike_sa_count(), 0u);
	EXPECT_EQ(p.right.engine->ike_sa_count(), 0u);
}

TEST(Exchange, EspProposalMismatchRefusesOnlyTheChild)
{
	// RFC 7296 §2.21.3 / §3.10.1: NO_PROPOSAL_CHOSEN for the CHILD_SA in
	// IKE_AUTH leaves the IKE SA up.
	ConnOptions l;
	ConnOptions r = l.mirrored();
	r.esp_proposals = "\"aes256-sha512\"";
	Pair p;
	p.establish(l, &r);
	EXPECT_TRUE(p.left.established());
	EXPECT_TRUE(p.right.established());
	EXPECT_EQ(p.right.counters().no_proposal, 1u);
	EXPECT_EQ(p.left.child_count() + p.right.child_count(), 0u);
	p.expect_kernels_empty();
}

TEST(Exchange, InvalidKePayloadRetriesOnce)
{
	// RFC 7296 §1.2: the responder names the group it wants; the initiator
	// retries once with it and the IKE SA uses that group.
	ConnOptions l;
	l.ike_proposals = "\"aes128gcm16-prfsha256-ecp256\", \"aes128gcm16-prfsha256-modp2048\"";
	ConnOptions r = l.mirrored();
	r.ike_proposals = "\"aes128gcm16-prfsha256-modp2048\"";
	Pair p;
	p.left.configure(l.toml());
	p.right.configure(r.toml());
	p.left.engine->up("site");
	EXPECT_EQ(init_groups(p.left.env.outbox), std::vector<uint16_t>{ike::dh::ECP_256});
	p.deliver_one(p.left);
	ASSERT_EQ(p.right.env.outbox.size(), 1u);
	{
		auto m = ike::Message::parse(p.right.env.outbox.front().bytes);
		const auto *n = m.find_notify(INVALID_KE_PAYLOAD);
		ASSERT_NE(n, nullptr);
		EXPECT_EQ(n->data, (Bytes{0, 14})); // §3.10.1: the group, 2 octets
	}
	EXPECT_EQ(p.right.engine->ike_sa_count(), 0u); // §1.2: nothing kept for it
	p.deliver_one(p.right);
	EXPECT_EQ(init_groups(p.left.env.outbox), std::vector<uint16_t>{ike::dh::MODP_2048});
	p.deliver_all();
	ASSERT_TRUE(p.left.established());
	ASSERT_TRUE(p.right.established());
	EXPECT_EQ(p.left.sa()->json()["proposal"], "aes128gcm16-prfsha256-modp2048");
	EXPECT_EQ(p.right.sa()->json()["proposal"], "aes128gcm16-prfsha256-modp2048");
	p.expect_sas_paired();
}

// Right takes any peer on a second connection, so that a third host can
// hold a half-open IKE SA there.
std::string right_with_any_peer(const ConnOptions &r)
{
	return r.toml() + "[[connection]]\n"
			  "name = \"any\"\n"
			  "local_addr = \"192.0.2.2\"\n"
			  "local_id = \"fqdn:right.example\"\n"
			  "psk = \"a long and random shared secret\"\n"
			  "ike_proposals = [\"aes128gcm16-prfsha256-ecp256\"]\n";
}

TEST(Exchange, CookiesUnderLoad)
{
	// RFC 7296 §2.6: with cookie_threshold half-open SAs, IKE_SA_INIT is
	// answered with a COOKIE only; the retry carrying it proceeds.
	ConnOptions l;
	ConnOptions r = l.mirrored();
	r.daemon = "cookie_threshold = 1";
	Pair p;
	p.left.configure(l.toml());
	p.right.configure(right_with_any_peer(r));
	Endpoint third{addr("192.0.2.3"), 500}, right_ep{addr("192.0.2.2"), 500};
	ManualInitiator stranger(third, right_ep);
	p.right.engine->receive(right_ep, third, stranger.init_request());
	ASSERT_EQ(p.right.env.outbox.size(), 1u);
	EXPECT_EQ(p.right.engine->half_open_count(), 1u);
	p.right.env.outbox.clear(); // the stranger never answers

	p.left.engine->up("site");
	p.deliver_one(p.left);
	ASSERT_EQ(p.right.env.outbox.size(), 1u);
	EXPECT_EQ(notifies_in(p.right.env.outbox.front().bytes), std::vector<uint16_t>{COOKIE});
	EXPECT_EQ(p.right.counters().cookies_sent, 1u);
	EXPECT_EQ(p.right.engine->ike_sa_count(), 1u); // §2.6: no state for it
	p.deliver_one(p.right);
	// §2.6: the retry starts with the COOKIE notify.
	ASSERT_EQ(p.left.env.outbox.size(), 1u);
	{
		auto m = ike::Message::parse(p.left.env.outbox.front().bytes);
		ASSERT_FALSE(m.payloads.empty());
		const auto *n = std::get_if<ike::NotifyPayload>(&m.payloads.front().body);
		ASSERT_NE(n, nullptr);
		EXPECT_EQ(n->type, COOKIE);
	}
	p.deliver_all();
	EXPECT_TRUE(p.left.established());
	EXPECT_TRUE(p.right.established());
	EXPECT_EQ(p.right.counters().cookie_rejected, 0u);
	p.expect_sas_paired();
}

TEST(Exchange, WrongCookieIsRefusedAndCounted)
{
	// RFC 7296 §2.6: a cookie that does not verify gets a fresh COOKIE, no
	// state.
	ConnOptions r = ConnOptions{}.mirrored();
	r.daemon = "cookie_threshold = 1";
	Pair p;
	p.right.configure(right_with_any_peer(r));
	Endpoint right_ep{addr("192.0.2.2"), 500};
	ManualInitiator first({addr("192.0.2.3"), 500}, right_ep);
	p.right.engine->receive(right_ep, first.self, first.init_request());
	ASSERT_EQ(p.right.engine->half_open_count(), 1u);
	p.right.env.outbox.clear();

	ManualInitiator second({addr("192.0.2.4"), 500}, right_ep);
	p.right.engine->receive(right_ep, second.self, second.init_request());
	ASSERT_EQ(p.right.env.outbox.size(), 1u);
	Bytes cookie = ike::Message::parse(p.right.env.outbox.front().bytes).find_notify(COOKIE)->data;
	p.right.env.outbox.clear();
	Bytes forged = cookie;
	forged.back() ^= 0xff;
	p.right.engine->receive(right_ep, second.self, second.init_request(forged));
	EXPECT_EQ(p.right.counters().cookie_rejected, 1u);
	ASSERT_EQ(p.right.env.outbox.size(), 1u);
	EXPECT_EQ(notifies_in(p.right.env.outbox.front().bytes), std::vector<uint16_t>{COOKIE});
	EXPECT_EQ(p.right.engine->ike_sa_count(), 1u);
	p.right.env.outbox.clear();
	// A cookie made for another host does not work from this one either.
	ManualInitiator third({addr("192.0.2.5"), 500}, right_ep);
	third.ni = second.ni;
	third.spi_i = second.spi_i;
	p.right.engine->receive(right_ep, third.self, third.init_request(cookie));
	EXPECT_EQ(p.right.counters().cookie_rejected, 2u);
	p.right.env.outbox.clear();
	// The real cookie from the right host does.
	p.right.engine->receive(right_ep, second.self, second.init_request(cookie));
	ASSERT_EQ(p.right.env.outbox.size(), 1u);
	EXPECT_TRUE(second.accept_init_response(p.right.env.outbox.front().bytes));
	EXPECT_EQ(p.right.engine->half_open_count(), 2u);
}

TEST(Exchange, LostIkeAuthRequestIsRetransmitted)
{
	// RFC 7296 §2.1: the initiator retransmits until answered.
	Pair p;
	p.left.configure(ConnOptions{}.toml());
	p.right.configure(ConnOptions{}.mirrored().toml());
	p.left.engine->up("site");
	p.deliver_one(p.left);
	p.deliver_one(p.right);
	ASSERT_EQ(p.left.env.outbox.size(), 1u);
	Bytes first = p.left.env.outbox.front().bytes;
	p.drop_one(p.left);
	ASSERT_TRUE(p.run_until([&] { return p.left.established(); }, 3s));
	EXPECT_EQ(p.left.counters().retransmits, 1u);
	EXPECT_TRUE(p.right.established());
	p.expect_sas_paired();
}

TEST(Exchange, DeadResponderIsGivenUp)
{
	// RFC 7296 §2.4: after retransmit_tries unanswered retransmissions the
	// peer is dead and the SA goes.
	Pair p;
	p.left.configure(ConnOptions{}.toml());
	p.right.configure(ConnOptions{}.mirrored().toml());
	p.right_unplugged = true;
	p.left.engine->up("site");
	// 100 + 200 + 400 + 800 ms of back-off (§2.1) for 3 tries.
	ASSERT_TRUE(p.run_until([&] { return p.left.engine->ike_sa_count() == 0; }, 5s));
	EXPECT_EQ(p.left.counters().dead_peers, 1u);
	EXPECT_EQ(p.left.counters().retransmits, 3u);
	EXPECT_EQ(p.left.counters().ike_established, 0u);
	p.expect_kernels_empty();
}

TEST(Exchange, DuplicatedRequestsGetTheCachedResponse)
{
	// RFC 7296 §2.1: a retransmitted request is answered with the same
	// response, not processed again.
	Pair p;
	p.left.configure(ConnOptions{}.toml());
	p.right.configure(ConnOptions{}.mirrored().toml());
	p.left.engine->up("site");
	p.duplicate_one(p.left); // IKE_SA_INIT twice
	p.deliver_one(p.left);
	p.deliver_one(p.left);
	ASSERT_EQ(p.right.env.outbox.size(), 2u);
	EXPECT_EQ(p.right.env.outbox[0].bytes, p.right.env.outbox[1].bytes);
	EXPECT_EQ(p.right.engine->ike_sa_count(), 1u);
	p.deliver_one(p.right);
	p.drop_one(p.right);
	p.duplicate_one(p.left); // IKE_AUTH twice
	p.deliver_one(p.left);
	p.deliver_one(p.left);
	ASSERT_EQ(p.right.env.outbox.size(), 2u);
	EXPECT_EQ(p.right.env.outbox[0].bytes, p.right.env.outbox[1].bytes);
	EXPECT_EQ(p.right.counters().ike_established, 1u);
	EXPECT_EQ(p.right.counters().child_established, 1u);
	EXPECT_EQ(p.right.kernel.inbound_added, 1u);
	p.deliver_all();
	EXPECT_TRUE(p.left.established());
	// The second copy of the response finds nothing outstanding (§2.3).
	EXPECT_EQ(p.left.counters().bad_message_id, 1u);
	EXPECT_EQ(p.left.counters().child_established, 1u);
	p.expect_sas_paired();
}

TEST(Exchange, DeadPeerDetection)
{
	// RFC 7296 §2.4: a silent peer is asked (empty INFORMATIONAL); no
	// answer within the retransmissions means it is dead.
	ConnOptions o;
	o.dpd_delay = 1;
	Pair p;
	p.establish(o);
	ASSERT_TRUE(p.left.established());
	// A live peer answers: still up after more than two intervals.
	uint64_t before = p.right.counters().received;
	p.run_for(2500ms);
	EXPECT_TRUE(p.left.established());
	EXPECT_GT(p.right.counters().received, before);
	EXPECT_EQ(p.left.counters().dead_peers, 0u);

	p.right_unplugged = true;
	auto start = EventLoop::now();
	// dpd_delay, then 100 + 200 + 400 + 800 ms of retransmissions, plus
	// up to one DPD interval of phase.
	ASSERT_TRUE(p.run_until([&] { return p.left.engine->ike_sa_count() == 0; }, 6s));
	EXPECT_LT(EventLoop::now() - start, 5s);
	EXPECT_EQ(p.left.counters().dead_peers, 1u);
	p.loop.run_once(0ms);
	EXPECT_TRUE(p.left.kernel.inbound.empty());
	EXPECT_TRUE(p.left.kernel.outbound.empty());
	EXPECT_TRUE(p.left.kernel.policies.empty());
}

TEST(Exchange, DeleteRemovesEverything)
{
	// RFC 7296 §1.4.1: deleting the IKE SA deletes its CHILD_SAs, on both
	// sides.
	Pair p;
	p.establish(ConnOptions{});
	ASSERT_TRUE(p.left.established());
	ASSERT_EQ(p.left.kernel.inbound.size(), 1u);
	p.left.engine->down("site");
	p.deliver_all();
	EXPECT_EQ(p.left.engine->ike_sa_count(), 0u);
	EXPECT_EQ(p.right.engine->ike_sa_count(), 0u);
	p.expect_kernels_empty();
}

TEST(Exchange, DeleteFromResponder)
{
	// RFC 7296 §1.4.1: either end may delete.
	Pair p;
	p.establish(ConnOptions{});
	ASSERT_TRUE(p.right.established());
	p.right.engine->down("site");
	p.deliver_all();
	EXPECT_EQ(p.left.engine->ike_sa_count(), 0u);
	EXPECT_EQ(p.right.engine->ike_sa_count(), 0u);
	p.expect_kernels_empty();
}

TEST(Exchange, FragmentedIkeAuth)
{
	// RFC 7383 §2.5: an IKE_AUTH larger than fragment_size goes in
	// fragments, each its own SKF payload; §2.6.2: reassembled.
	std::string many;
	for (int i = 0; i < 48; i++)
		many += std::string(i ? ", " : "") + "\"10.1." + std::to_string(i) + ".0/24\"";
	ConnOptions l;
	l.local_ts = many;
	l.extra_conn = "fragment_size = 576";
	ConnOptions r = l.mirrored();
	r.remote_ts = "\"10.1.0.0/16\"";
	r.local_ts = "\"10.2.0.0/16\"";
	Pair p;
	p.left.configure(l.toml());
	p.right.configure(r.toml());
	p.left.engine->up("site");
	p.deliver_one(p.left);
	p.deliver_one(p.right);
	ASSERT_GT(p.left.env.outbox.size(), 1u);
	for (const auto &d : p.left.env.outbox)
		EXPECT_LE(d.bytes.size(), 576u - 8u); // §2.5.1: UDP header inside the size
	p.deliver_all();
	EXPECT_GT(p.left.counters().fragments_sent, 1u);
	EXPECT_GT(p.right.counters().fragments_received, 1u);
	ASSERT_TRUE(p.left.established());
	ASSERT_TRUE(p.right.established());
	ASSERT_EQ(p.right.kernel.policies.size(), 1u);
	EXPECT_EQ(p.right.kernel.policies.begin()->second.remote_ts.size(), 48u);
	p.expect_sas_paired();
}

TEST(Exchange, Ipv6Peers)
{
	// RFC 7296 §3.13.1: IPv6 address ranges end to end.
	ConnOptions l;
	l.local = "2001:db8::1";
	l.remote = "2001:db8::2";
	l.local_ts = "\"2001:db8:1::/48\"";
	l.remote_ts = "\"2001:db8:2::/48\"";
	Pair p("2001:db8::1", "2001:db8::2");
	p.establish(l);
	ASSERT_TRUE(p.left.established());
	ASSERT_TRUE(p.right.established());
	p.expect_sas_paired();
	ASSERT_EQ(p.left.kernel.policies.size(), 1u);
	EXPECT_EQ(p.left.kernel.policies.begin()->second.remote_ts.front().type, ike::TsType::IPv6_ADDR_RANGE);
}

} // namespace
} // namespace umigame::iked::test
