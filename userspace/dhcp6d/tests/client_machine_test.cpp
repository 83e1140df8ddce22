// The requesting router's state machine (RFC 8415 §18.2), driven with a
// scripted clock, a seeded random source and a fake delegating router
// built from the wire library's server-side builders.
#include "umigame/dhcp6d/client_machine.h"

#include <functional>
#include <random>

#include <gtest/gtest.h>

#include "umigame/dhcp6/auth.h"

namespace umigame::dhcp6d {
namespace {

using namespace dhcp6;

Duid client_duid() { return Duid::ll(*MacAddress::parse("02:00:00:00:00:01")); }
Duid server_duid(int n = 1)
{
	return Duid::ll(MacAddress{{0x02, 0, 0, 0, 0x55, uint8_t(n)}});
}
Ipv6Prefix prefix(const char *text) { return *Ipv6Prefix::parse(text); }

const ReconfigureKey kKey{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

struct Harness {
	explicit Harness(MachineOptions o = defaults())
		: machine(std::move(o), client_duid(), [this] { return uint32_t(gen()); })
	{
	}
	static MachineOptions defaults()
	{
		MachineOptions o;
		o.prefixes = {{.iaid = 1, .length_hint = 56}};
		return o;
	}

	// Run the clock to the next deadline.
	void advance()
	{
		ASSERT_TRUE(machine.deadline().has_value());
		now = *machine.deadline();
		machine.tick(now);
	}
	void advance_by(double s)
	{
		Seconds end = now + Seconds(s);
		while (machine.deadline() && *machine.deadline() <= end) {
			now = *machine.deadline();
			machine.tick(now);
		}
		now = end;
		machine.tick(now);
	}
	std::vector<Message> sent() { return machine.take_outgoing(); }
	Message last_sent()
	{
		auto all = sent();
		EXPECT_FALSE(all.empty());
		return all.empty() ? Message{} : all.back();
	}
	void deliver(const Message &m) { machine.receive(now, m.serialize()); }

	// Start, wait out the first delay: the first Solicit.
	Message solicit()
	{
		machine.start(now);
		advance();
		return last_sent();
	}
	// The four-message exchange with one server.
	Message bind(uint32_t t1 = 1000, uint32_t t2 = 1600, uint32_t preferred = 1800, uint32_t valid = 3600)
	{
		Message s = solicit();
		deliver(advertise(s, "2001:db8:100::/56", 0, t1, t2, preferred, valid));
		advance(); // first RT over: choose
		Message request = last_sent();
		EXPECT_EQ(request.type, MessageType::Request);
		Message r = reply(request, "2001:db8:100::/56", t1, t2, preferred, valid);
		deliver(r);
		EXPECT_EQ(machine.phase(), ClientPhase::Bound);
		return request;
	}

	// Bound with T1 100 s (T2 160, lifetimes 300/600), then the clock run
	// to T1: the Renew (§18.2.4).
	Message renew()
	{
		bind(100, 160, 300, 600);
		sent();
		advance();
		return last_sent();
	}

	static IaPd ia(const char *p, uint32_t t1, uint32_t t2, uint32_t preferred, uint32_t valid)
	{
		IaPd ia{.iaid = 1, .t1 = t1, .t2 = t2};
		ia.options.add(IaPrefix{.preferred_lifetime = preferred, .valid_lifetime = valid, .prefix = prefix(p)});
		return ia;
	}
	static Message advertise(const Message &to, const char *p, uint8_t pref, uint32_t t1 = 1000,
				 uint32_t t2 = 1600, uint32_t preferred = 1800, uint32_t valid = 3600, int server = 1)
	{
		Message a = Message::advertise(to, server_duid(server));
		a.add(ia(p, t1, t2, preferred, valid));
		if (pref)
			a.add(Preference{pref});
		return a;
	}
	// §18.2.10.1: the Reply that refuses the prefix (NoPrefixAvail in the IA).
	static Message refusal(const Message &to, const char *why = "pool exhausted")
	{
		Message r = Message::reply(to, server_duid());
		IaPd ia{.iaid = 1};
		ia.options.add(StatusCode{Status::NoPrefixAvail, why});
		return r.add(ia);
	}
	static Message reply(const Message &to, const char *p, uint32_t t1 = 1000, uint32_t t2 = 1600,
			     uint32_t preferred = 1800, uint32_t valid = 3600, int server = 1)
	{
		Message r = Message::reply(to, server_duid(server));
		r.add(ia(p, t1, t2, preferred, valid));
		r.add(DnsServers{{*Ipv6Address::parse("2001:db8::53")}});
		r.add(DomainList{{*DomainName::from_text("example.net")}});
		return r;
	}

	std::mt19937 gen{42};
	ClientMachine machine;
	Seconds now{100};
};

// RFC 8415 §18.2.1: the first Solicit waits a random time up to
// SOL_MAX_DELAY, and carries what §18.2.1 and §21.24 require.
TEST(ClientMachine, FirstSolicitAfterRandomDelayWithRequiredOptions)
{
	Harness h;
	h.machine.start(h.now);
	EXPECT_TRUE(h.sent().empty());
	ASSERT_TRUE(h.machine.deadline());
	EXPECT_GE(*h.machine.deadline(), h.now);
	EXPECT_LE(*h.machine.deadline(), h.now + rfc8415::kSolMaxDelay);
	h.advance();
	Message s = h.last_sent();
	EXPECT_EQ(s.type, MessageType::Solicit);
	EXPECT_EQ(*s.client_id(), client_duid());
	EXPECT_EQ(s.server_id(), nullptr);
	ASSERT_TRUE(s.get<ElapsedTime>());
	EXPECT_EQ(s.get<ElapsedTime>()->centiseconds, 0);
	ASSERT_TRUE(s.get<OptionRequest>());
	EXPECT_TRUE(s.get<OptionRequest>()->requests(OPTION_SOL_MAX_RT)); // §21.24: MUST
	EXPECT_TRUE(s.get<OptionRequest>()->requests(OPTION_DNS_SERVERS));
	ASSERT_TRUE(s.get<IaPd>());
	EXPECT_EQ(s.get<IaPd>()->iaid, 1u);
	ASSERT_EQ(s.get<IaPd>()->prefixes().size(), 1u);
	EXPECT_EQ(s.get<IaPd>()->prefixes()[0]->prefix.length, 56); // the length hint
	EXPECT_FALSE(s.has<RapidCommit>());
	EXPECT_TRUE(s.has<ReconfigureAccept>()); // §21.20
}

// RFC 8415 §15: the first RT of a Solicit is strictly over IRT, each next
// about double, Elapsed Time (§21.9) grows, the transaction-id stays.
TEST(ClientMachine, SolicitRetransmitsWithBackoffAndElapsedTime)
{
	Harness h;
	Message first = h.solicit();
	Seconds t0 = h.now;
	h.advance();
	Message second = h.last_sent();
	double rt1 = (h.now - t0).count();
	EXPECT_GT(rt1, 1.0);
	EXPECT_LE(rt1, 1.1);
	EXPECT_EQ(second.transaction_id, first.transaction_id);
	EXPECT_NEAR(second.get<ElapsedTime>()->centiseconds, rt1 * 100, 1);
	Seconds t1 = h.now;
	h.advance();
	double rt2 = (h.now - t1).count();
	EXPECT_GE(rt2, rt1 * 1.9);
	EXPECT_LE(rt2, rt1 * 2.1);
	EXPECT_EQ(h.machine.phase(), ClientPhase::Soliciting);
}

// RFC 8415 §18.2.1: Advertises are collected during the first RT and the
// one with the highest preference wins.
TEST(ClientMachine, ChoosesTheMostPreferredAdvertiseAfterTheFirstRt)
{
	Harness h;
	Message s = h.solicit();
	h.deliver(Harness::advertise(s, "2001:db8:100::/56", 10, 1000, 1600, 1800, 3600, 1));
	h.deliver(Harness::advertise(s, "2001:db8:200::/56", 200, 1000, 1600, 1800, 3600, 2));
	h.deliver(Harness::advertise(s, "2001:db8:300::/56", 50, 1000, 1600, 1800, 3600, 3));
	EXPECT_TRUE(h.sent().empty()); // still collecting
	h.advance();
	Message r = h.last_sent();
	EXPECT_EQ(r.type, MessageType::Request);
	EXPECT_EQ(*r.server_id(), server_duid(2));
	ASSERT_EQ(r.get<IaPd>()->prefixes().size(), 1u);
	EXPECT_EQ(r.get<IaPd>()->prefixes()[0]->prefix, prefix("2001:db8:200::/56"));
	EXPECT_EQ(h.machine.phase(), ClientPhase::Requesting);
}

// RFC 8415 §18.2.1: preference 255 means Request at once.
TEST(ClientMachine, Preference255RequestsAtOnce)
{
	Harness h;
	Message s = h.solicit();
	h.deliver(Harness::advertise(s, "2001:db8:100::/56", 255));
	Message r = h.last_sent();
	EXPECT_EQ(r.type, MessageType::Request);
	EXPECT_EQ(*r.server_id(), server_duid(1));
}

// RFC 8415 §18.2.1: after the first RT, the first acceptable Advertise wins.
TEST(ClientMachine, AfterTheFirstRtTheFirstAdvertiseWins)
{
	Harness h;
	Message s = h.solicit();
	h.advance(); // first RT over, nothing received: retransmit
	EXPECT_EQ(h.last_sent().type, MessageType::Solicit);
	h.deliver(Harness::advertise(s, "2001:db8:100::/56", 1));
	EXPECT_EQ(h.last_sent().type, MessageType::Request);
}

// RFC 8415 §18.2.9: an Advertise with no prefixes (NoPrefixAvail) is
// ignored, but its SOL_MAX_RT (§21.24) is honoured.
TEST(ClientMachine, AdvertiseWithoutPrefixesIgnoredButSolMaxRtApplied)
{
	Harness h;
	Message s = h.solicit();
	Message a = Message::advertise(s, server_duid());
	IaPd empty{.iaid = 1};
	empty.options.add(StatusCode{Status::NoPrefixAvail, "none"});
	a.add(empty);
	a.add(SolMaxRt{120});
	h.deliver(a);
	h.advance();
	EXPECT_EQ(h.last_sent().type, MessageType::Solicit);
	EXPECT_EQ(h.machine.sol_max_rt(), Seconds(120));
	// §21.24: values outside 60..86400 are ignored.
	h.deliver(Message::advertise(s, server_duid()).add(SolMaxRt{30}));
	EXPECT_EQ(h.machine.sol_max_rt(), Seconds(120));
	// The cap holds: no wait grows past SOL_MAX_RT + RAND.
	for (int i = 0; i < 20; i++) {
		Seconds before = h.now;
		h.advance();
		EXPECT_LE((h.now - before).count(), 120 * 1.1 + 1e-9);
	}
}

// RFC 8415 §18.2.10: the Reply binds the prefix, its lifetimes, DNS
// servers and search list (RFC 3646).
TEST(ClientMachine, ReplyToRequestBinds)
{
	Harness h;
	Message request = h.bind();
	EXPECT_EQ(request.get<IaPd>()->prefixes()[0]->prefix, prefix("2001:db8:100::/56"));
	const Binding &b = h.machine.binding();
	EXPECT_EQ(b.server, server_duid());
	ASSERT_EQ(b.prefixes().size(), 1u);
	EXPECT_EQ(b.prefixes()[0]->prefix, prefix("2001:db8:100::/56"));
	EXPECT_EQ(b.prefixes()[0]->lifetimes.valid_left(h.now), 3600u);
	EXPECT_EQ(b.dns_servers, std::vector{*Ipv6Address::parse("2001:db8::53")});
	ASSERT_EQ(b.search_domains.size(), 1u);
	EXPECT_TRUE(h.machine.take_changed());
	EXPECT_EQ(h.machine.renew_at(), h.now + Seconds(1000));
	EXPECT_EQ(h.machine.rebind_at(), h.now + Seconds(1600));
}

// RFC 8415 §18.2.10/§16: a Reply with another transaction-id or another
// client's DUID is not ours; garbage is counted as malformed.
TEST(ClientMachine, ForeignAndMalformedMessagesAreDroppedAndCounted)
{
	Harness h;
	Message s = h.solicit();
	Message wrong_xid = Harness::advertise(s, "2001:db8:100::/56", 255);
	wrong_xid.transaction_id ^= 1;
	h.deliver(wrong_xid);
	Message other = Harness::advertise(s, "2001:db8:100::/56", 255);
	other.set(ClientId{server_duid(9)});
	h.deliver(other);
	Message no_server = Harness::advertise(s, "2001:db8:100::/56", 255);
	no_server.options.remove<ServerId>();
	h.deliver(no_server);
	std::vector<uint8_t> garbage{2, 0, 0, 1, 0, 1, 0, 50, 1};
	h.machine.receive(h.now, garbage);
	EXPECT_TRUE(h.sent().empty());
	EXPECT_EQ(h.machine.phase(), ClientPhase::Soliciting);
	EXPECT_EQ(h.machine.counters().ignored, 3u);
	EXPECT_EQ(h.machine.counters().malformed, 1u);
}

// RFC 8415 §18.2.1, §21.14: with Rapid Commit, a Reply to the Solicit binds
// at once; without it configured, such a Reply is ignored.
TEST(ClientMachine, RapidCommit)
{
	MachineOptions o = Harness::defaults();
	o.rapid_commit = true;
	Harness h(o);
	Message s = h.solicit();
	EXPECT_TRUE(s.has<RapidCommit>());
	h.deliver(Harness::reply(s, "2001:db8:100::/56").add(RapidCommit{}));
	EXPECT_EQ(h.machine.phase(), ClientPhase::Bound);
	EXPECT_EQ(h.machine.binding().prefixes().size(), 1u);

	Harness plain;
	Message s2 = plain.solicit();
	plain.deliver(Harness::reply(s2, "2001:db8:100::/56").add(RapidCommit{}));
	EXPECT_EQ(plain.machine.phase(), ClientPhase::Soliciting);
}

// RFC 8415 §18.2.4: Renew at T1 to the server that gave the lease, with
// the IA and its prefix; the Reply extends the lifetimes.
TEST(ClientMachine, RenewAtT1)
{
	Harness h;
	h.bind(100, 160, 300, 600);
	Seconds bound_at = h.now;
	h.sent();
	h.advance();
	EXPECT_EQ(h.now, bound_at + Seconds(100));
	Message renew = h.last_sent();
	EXPECT_EQ(renew.type, MessageType::Renew);
	EXPECT_EQ(*renew.server_id(), server_duid());
	EXPECT_EQ(renew.get<IaPd>()->prefixes()[0]->prefix, prefix("2001:db8:100::/56"));
	EXPECT_EQ(h.machine.phase(), ClientPhase::Renewing);
	h.deliver(Harness::reply(renew, "2001:db8:100::/56", 100, 160, 300, 600));
	EXPECT_EQ(h.machine.phase(), ClientPhase::Bound);
	EXPECT_EQ(h.machine.binding().prefixes()[0]->lifetimes.valid_left(h.now), 600u);
	EXPECT_EQ(h.machine.renew_at(), h.now + Seconds(100));
}

// RFC 8415 §18.2.4/§18.2.5: an unanswered Renew gives way to a Rebind at
// T2 (multicast to any server, no Server Identifier).
TEST(ClientMachine, RebindAtT2WhenRenewIsUnanswered)
{
	Harness h;
	h.bind(100, 160, 300, 600);
	Seconds bound_at = h.now;
	h.advance_by(160.5 - 0.0 - (h.now - bound_at).count());
	auto all = h.sent();
	ASSERT_FALSE(all.empty());
	EXPECT_EQ(all.front().type, MessageType::Renew);
	EXPECT_EQ(all.back().type, MessageType::Rebind);
	EXPECT_EQ(all.back().server_id(), nullptr);
	EXPECT_EQ(h.machine.phase(), ClientPhase::Rebinding);
	// Another server answers the Rebind: it is ours now.
	h.deliver(Harness::reply(all.back(), "2001:db8:100::/56", 100, 160, 300, 600, 2));
	EXPECT_EQ(h.machine.phase(), ClientPhase::Bound);
	EXPECT_EQ(h.machine.binding().server, server_duid(2));
}

// RFC 8415 §18.2.5, §18.2.10.1: nobody answers; at the end of the valid
// lifetime the prefix is gone and the client solicits again.
TEST(ClientMachine, LeaseExpiresAtValidLifetime)
{
	Harness h;
	h.bind(100, 160, 300, 600);
	Seconds bound_at = h.now;
	h.machine.take_changed();
	h.advance_by(599);
	EXPECT_EQ(h.machine.binding().prefixes().size(), 1u);
	h.advance_by(1.5);
	EXPECT_TRUE(h.machine.binding().empty());
	EXPECT_TRUE(h.machine.take_changed());
	EXPECT_EQ(h.machine.phase(), ClientPhase::Soliciting);
	EXPECT_GE(h.now, bound_at + Seconds(600));
}

// RFC 8415 §21.21: T1 and T2 of 0 leave the timers to the client:
// 0.5 and 0.8 times the shortest preferred lifetime.
TEST(ClientMachine, ZeroT1T2UseTheRecommendedFractions)
{
	Harness h;
	h.bind(0, 0, 1000, 2000);
	EXPECT_EQ(h.machine.renew_at(), h.now + Seconds(500));
	EXPECT_EQ(h.machine.rebind_at(), h.now + Seconds(800));
}

// RFC 8415 §21.21 with only a deprecated prefix (preferred 0): the
// timers count from the valid lifetime, not 0 (§14.1: no Renew storm).
TEST(ClientMachine, ZeroT1T2WithDeprecatedPrefixDoNotRenewAtOnce)
{
	Harness h;
	h.bind(0, 0, 0, 1000);
	EXPECT_EQ(h.machine.renew_at(), h.now + Seconds(500));
	EXPECT_EQ(h.machine.rebind_at(), h.now + Seconds(800));
}

// RFC 8415 §21.21: T1 > T2 (both non-zero): the IA_PD is discarded.
TEST(ClientMachine, T1AboveT2DiscardsTheIa)
{
	Harness h;
	Message s = h.solicit();
	h.deliver(Harness::advertise(s, "2001:db8:100::/56", 255));
	Message request = h.last_sent();
	h.deliver(Harness::reply(request, "2001:db8:100::/56", 900, 800));
	EXPECT_TRUE(h.machine.binding().empty());
	EXPECT_EQ(h.machine.phase(), ClientPhase::Starting); // discovery again, after a pause
}

// RFC 8415 §21.22: a prefix with preferred over valid lifetime is dropped.
TEST(ClientMachine, PreferredOverValidDiscardsThePrefix)
{
	Harness h;
	Message s = h.solicit();
	h.deliver(Harness::advertise(s, "2001:db8:100::/56", 255));
	Message request = h.last_sent();
	h.deliver(Harness::reply(request, "2001:db8:100::/56", 100, 160, 700, 600));
	EXPECT_TRUE(h.machine.binding().empty());
}

// RFC 8415 §18.2.10.1: NoPrefixAvail for the IA in the Reply to Request:
// nothing bound, discover again.
TEST(ClientMachine, NoPrefixAvailInReplyRestartsSolicit)
{
	Harness h;
	Message s = h.solicit();
	h.deliver(Harness::advertise(s, "2001:db8:100::/56", 255));
	h.deliver(Harness::refusal(h.last_sent()));
	EXPECT_TRUE(h.machine.binding().empty());
	// §14.1: not at once: a pause of about IRT, doubling per failed round.
	EXPECT_TRUE(h.sent().empty());
	EXPECT_EQ(h.machine.phase(), ClientPhase::Starting);
	Seconds failed_at = h.now;
	h.advance();
	EXPECT_EQ(h.last_sent().type, MessageType::Solicit);
	EXPECT_NEAR((h.now - failed_at).count(), 1.0, 0.1 + 1e-9);
}

// RFC 8415 §14.1: a server that advertises and then refuses draws rounds
// further and further apart, never a flood.
TEST(ClientMachine, RefusedRequestsAreRateLimited)
{
	Harness h;
	h.machine.start(h.now);
	std::vector<double> pauses;
	for (int round = 0; round < 6; round++) {
		h.advance();
		Message s = h.last_sent();
		ASSERT_EQ(s.type, MessageType::Solicit);
		h.deliver(Harness::advertise(s, "2001:db8:100::/56", 255));
		Message request = h.last_sent();
		ASSERT_EQ(request.type, MessageType::Request);
		h.deliver(Harness::refusal(request, "no"));
		ASSERT_TRUE(h.machine.deadline());
		pauses.push_back((*h.machine.deadline() - h.now).count());
	}
	for (size_t i = 1; i < pauses.size(); i++)
		EXPECT_GT(pauses[i], pauses[i - 1] * 1.5) << i;
}

// RFC 8415 §18.2.10.1: NoBinding for an IA in the Reply to Renew: Request.
TEST(ClientMachine, NoBindingInRenewReplySendsRequest)
{
	Harness h;
	Message renew = h.renew();
	Message r = Message::reply(renew, server_duid());
	IaPd ia{.iaid = 1};
	ia.options.add(StatusCode{Status::NoBinding, "who are you"});
	r.add(ia);
	h.deliver(r);
	Message request = h.last_sent();
	EXPECT_EQ(request.type, MessageType::Request);
	EXPECT_EQ(*request.server_id(), server_duid());
	EXPECT_EQ(h.machine.phase(), ClientPhase::Requesting);
}

// RFC 8415 §18.2.10.1: NoPrefixAvail in the Reply to Renew: the leases
// stay until they run out and the Renew goes on as if no Reply had come
// (no burst of Renews).
TEST(ClientMachine, RenewReplyWithoutExtensionKeepsRetransmitting)
{
	Harness h;
	Message renew = h.renew();
	Seconds sent_at = h.now;
	Message r = Message::reply(renew, server_duid());
	IaPd ia{.iaid = 1};
	ia.options.add(StatusCode{Status::NoPrefixAvail, "cannot extend"});
	r.add(ia);
	h.deliver(r);
	EXPECT_EQ(h.machine.phase(), ClientPhase::Renewing);
	EXPECT_TRUE(h.sent().empty());
	ASSERT_EQ(h.machine.binding().prefixes().size(), 1u);
	ASSERT_TRUE(h.machine.deadline());
	EXPECT_GE(*h.machine.deadline(), sent_at + Seconds(9)); // REN_TIMEOUT 10 s - RAND
	h.advance();
	EXPECT_EQ(h.last_sent().type, MessageType::Renew);
}

// RFC 8415 §18.2.10.1: a valid lifetime of 0 in a Reply ends that prefix;
// the new one the server sends is added.
TEST(ClientMachine, ValidLifetimeZeroRemovesThePrefix)
{
	Harness h;
	Message renew = h.renew();
	Message r = Message::reply(renew, server_duid());
	IaPd ia{.iaid = 1, .t1 = 100, .t2 = 160};
	ia.options.add(IaPrefix{.preferred_lifetime = 0, .valid_lifetime = 0, .prefix = prefix("2001:db8:100::/56")});
	ia.options.add(IaPrefix{.preferred_lifetime = 300, .valid_lifetime = 600, .prefix = prefix("2001:db8:900::/56")});
	r.add(ia);
	h.deliver(r);
	ASSERT_EQ(h.machine.binding().prefixes().size(), 1u);
	EXPECT_EQ(h.machine.binding().prefixes()[0]->prefix, prefix("2001:db8:900::/56"));
}

// RFC 8415 §18.2.7: Release names the server and the prefixes, the leases
// are dropped at once, the exchange ends with the Reply.
TEST(ClientMachine, ReleaseOnShutdown)
{
	Harness h;
	h.bind();
	h.sent();
	h.machine.take_changed();
	h.machine.release(h.now);
	EXPECT_TRUE(h.machine.binding().empty());
	EXPECT_TRUE(h.machine.take_changed());
	Message release = h.last_sent();
	EXPECT_EQ(release.type, MessageType::Release);
	EXPECT_EQ(*release.server_id(), server_duid());
	EXPECT_EQ(release.get<IaPd>()->prefixes()[0]->prefix, prefix("2001:db8:100::/56"));
	EXPECT_FALSE(h.machine.finished());
	h.deliver(Message::reply(release, server_duid()).add(StatusCode{Status::Success, ""}));
	EXPECT_TRUE(h.machine.finished());
}

// RFC 9096 WPD-9: stopping without a Release sends nothing, stops
// using the leases at once and is finished.
TEST(ClientMachine, StopKeepingLeasesSendsNoRelease)
{
	Harness h;
	h.bind();
	h.sent();
	h.machine.take_changed();
	h.machine.stop_keeping_leases();
	EXPECT_TRUE(h.sent().empty());
	EXPECT_TRUE(h.machine.finished());
	EXPECT_TRUE(h.machine.binding().empty());
	EXPECT_TRUE(h.machine.take_changed());
	EXPECT_FALSE(h.machine.deadline());
}

// RFC 8415 §18.2.7, §7.6: an unanswered Release gives up after REL_MAX_RC
// (4) transmissions.
TEST(ClientMachine, UnansweredReleaseGivesUpAfterFourTransmissions)
{
	Harness h;
	h.bind();
	h.sent();
	h.machine.release(h.now);
	size_t n = h.sent().size();
	while (!h.machine.finished()) {
		h.advance();
		n += h.sent().size();
	}
	EXPECT_EQ(n, 4u);
	EXPECT_FALSE(h.machine.deadline().has_value());
}

// RFC 8415 §18.2.7: nothing to release: finished at once.
TEST(ClientMachine, ReleaseWithoutLeasesFinishesAtOnce)
{
	Harness h;
	h.solicit();
	h.machine.release(h.now);
	EXPECT_TRUE(h.machine.finished());
}

Message signed_reconfigure(MessageType answer, uint64_t counter, const ReconfigureKey &key, int server = 1)
{
	Message m = Message::reconfigure(server_duid(server), client_duid(), answer);
	sign_reconfigure(m, key, counter);
	return m;
}

// Bound, with the server's Reconfigure Key (§20.4.1) from the Reply.
Harness bound_with_key()
{
	Harness h;
	Message s = h.solicit();
	h.deliver(Harness::advertise(s, "2001:db8:100::/56", 255));
	Message request = h.last_sent();
	h.deliver(Harness::reply(request, "2001:db8:100::/56").add(reconfigure_key_option(kKey, 5)));
	EXPECT_TRUE(h.machine.binding().reconfigure_key.has_value());
	h.sent();
	return h;
}

// RFC 8415 §18.2.11, §20.4.3: a Reconfigure with a valid HMAC from our
// server starts a Renew.
TEST(ClientMachine, AuthenticatedReconfigureStartsRenew)
{
	Harness h = bound_with_key();
	h.deliver(signed_reconfigure(MessageType::Renew, 6, kKey));
	EXPECT_EQ(h.machine.counters().reconfigure_accepted, 1u);
	EXPECT_EQ(h.last_sent().type, MessageType::Renew);
	EXPECT_EQ(h.machine.phase(), ClientPhase::Renewing);
}

// RFC 8415 §18.2.11: Information-request when asked for.
TEST(ClientMachine, ReconfigureToInformationRequest)
{
	Harness h = bound_with_key();
	h.deliver(signed_reconfigure(MessageType::InformationRequest, 6, kKey));
	Message ir = h.last_sent();
	EXPECT_EQ(ir.type, MessageType::InformationRequest);
	EXPECT_FALSE(ir.has<IaPd>());
	h.deliver(Message::reply(ir, server_duid()).add(DnsServers{{*Ipv6Address::parse("2001:db8::99")}}));
	EXPECT_EQ(h.machine.phase(), ClientPhase::Bound);
	EXPECT_EQ(h.machine.binding().dns_servers, std::vector{*Ipv6Address::parse("2001:db8::99")});
}

// RFC 8415 §20.4.3, §20.3: wrong key, replayed counter, another server,
// or no key at all: the Reconfigure is refused.
TEST(ClientMachine, UnauthenticatedReconfigureIsRefused)
{
	Harness h = bound_with_key();
	ReconfigureKey wrong = kKey;
	wrong[0] ^= 0xff;
	h.deliver(signed_reconfigure(MessageType::Renew, 6, wrong));
	h.deliver(signed_reconfigure(MessageType::Renew, 5, kKey)); // not above the Reply's 5
	h.deliver(signed_reconfigure(MessageType::Renew, 7, kKey, 2)); // not our server
	Message unsigned_one = Message::reconfigure(server_duid(), client_duid(), MessageType::Renew);
	h.deliver(unsigned_one);
	EXPECT_EQ(h.machine.counters().reconfigure_rejected, 4u);
	EXPECT_TRUE(h.sent().empty());
	EXPECT_EQ(h.machine.phase(), ClientPhase::Bound);

	Harness keyless;
	keyless.bind();
	keyless.sent();
	keyless.deliver(signed_reconfigure(MessageType::Renew, 6, kKey));
	EXPECT_EQ(keyless.machine.counters().reconfigure_rejected, 1u);
	EXPECT_TRUE(keyless.sent().empty());
}

// RFC 8415 §18.2.12: restarted with valid saved leases: Rebind first.
TEST(ClientMachine, RestartWithSavedLeasesRebinds)
{
	Binding saved;
	saved.server = server_duid();
	IaBinding ia{.iaid = 1, .t1 = 100, .t2 = 160, .obtained = Seconds(50)};
	ia.prefixes.push_back({prefix("2001:db8:100::/56"), {300, 600, Seconds(50)}});
	saved.ias.push_back(ia);
	Harness h;
	h.machine.start(h.now, saved);
	Message rebind = h.last_sent();
	EXPECT_EQ(rebind.type, MessageType::Rebind);
	EXPECT_EQ(rebind.get<IaPd>()->prefixes()[0]->prefix, prefix("2001:db8:100::/56"));
	EXPECT_EQ(h.machine.phase(), ClientPhase::Rebinding);
	EXPECT_TRUE(h.machine.take_changed()); // the saved prefix is in use

	// Expired ones are not: Solicit.
	Harness late;
	late.now = Seconds(1000);
	late.machine.start(late.now, saved);
	EXPECT_TRUE(late.machine.binding().empty());
	EXPECT_EQ(late.machine.phase(), ClientPhase::Starting);
}

// RFC 8415 §18.2.12: the upstream link came back: Rebind, even mid-Renew.
TEST(ClientMachine, LinkUpRebinds)
{
	Harness h;
	h.bind(100, 160, 300, 600);
	h.sent();
	h.machine.link_up(h.now);
	Message rebind = h.last_sent();
	EXPECT_EQ(rebind.type, MessageType::Rebind);
	EXPECT_EQ(rebind.get<IaPd>()->prefixes()[0]->prefix, prefix("2001:db8:100::/56"));
	// Soliciting without leases: nothing changes.
	Harness idle;
	idle.solicit();
	idle.machine.link_up(idle.now);
	EXPECT_TRUE(idle.sent().empty());
	EXPECT_EQ(idle.machine.phase(), ClientPhase::Soliciting);
}

// RFC 8415 §18.2.4: a reload that adds an IA_PD asks for it in a Renew
// to the same server, next to the bound one.
TEST(ClientMachine, ReloadWithANewIaRenewsWithIt)
{
	Harness h;
	h.bind();
	h.sent();
	MachineOptions more = Harness::defaults();
	more.prefixes.push_back({.iaid = 2, .length_hint = 60});
	h.machine.reconfigure(h.now, more);
	Message renew = h.last_sent();
	EXPECT_EQ(renew.type, MessageType::Renew);
	auto ias = renew.all<IaPd>();
	ASSERT_EQ(ias.size(), 2u);
	EXPECT_EQ(ias[0]->prefixes()[0]->prefix, prefix("2001:db8:100::/56"));
	EXPECT_EQ(ias[1]->iaid, 2u);
	// The same IAs again: nothing to do.
	h.machine.reconfigure(h.now, more);
	EXPECT_TRUE(h.sent().empty());
}

// What the client wants once an RA said M = 1 (RFC 7084 WAA-6): an IA_NA
// with IAID 0 beside the IA_PD.
MachineOptions managed_options()
{
	MachineOptions o = Harness::defaults();
	o.address_iaid = 0;
	return o;
}

// One transmission as the wire sees it.
struct Sent {
	double at;
	MessageType type;
	uint32_t xid;
	uint16_t elapsed;
	bool ia_na;
};

std::vector<Sent> take_sent(Harness &h)
{
	std::vector<Sent> out;
	for (const Message &m : h.sent())
		out.push_back({h.now.count(), m.type, m.transaction_id,
			       m.get<ElapsedTime>() ? m.get<ElapsedTime>()->centiseconds : uint16_t(0),
			       m.get<IaNa>() != nullptr});
	return out;
}

// Runs the clock `seconds` on, recording every transmission at its time;
// `at` (seconds from the beginning) runs `event` on the way.
std::vector<Sent> run(Harness &h, double seconds, double at = -1, std::function<void()> event = {})
{
	std::vector<Sent> log;
	Seconds end = h.now + Seconds(seconds), event_at = h.now + Seconds(at);
	bool pending = bool(event);
	while (true) {
		Seconds next = h.machine.deadline() ? *h.machine.deadline() : end;
		if (pending && event_at <= next && event_at <= end) {
			h.now = event_at;
			event();
			pending = false;
		} else if (next <= end) {
			h.now = next;
			h.machine.tick(h.now);
		} else {
			break;
		}
		for (const Sent &s : take_sent(h))
			log.push_back(s);
	}
	h.now = end;
	return log;
}

// RFC 8415 §15: an RA learned in the middle of the Solicit exchange
// changes nothing on the wire: every retransmission keeps the
// transaction-id, the RT sequence (first RT in (IRT, 1.1 IRT], then each
// 2 RT +/- RAND) and the Elapsed Time clock, and carries what the first
// Solicit carried (no IA_NA). The same seed without the RA sends exactly
// the same messages at exactly the same times.
TEST(ClientMachine, AnRaMidSolicitChangesNoRetransmission)
{
	Harness with, without;
	with.machine.start(with.now);
	without.machine.start(without.now);
	const double ra_at = with.now.count() + 5.0;
	std::vector<Sent> a = run(with, 40, 5.0, [&] { with.machine.router_advertised(with.now, managed_options()); });
	std::vector<Sent> b = run(without, 40);
	ASSERT_EQ(a.size(), b.size());
	ASSERT_GE(a.size(), 5u); // about 0.5, 1.5, 3.7, 8, 17, 34 s: the RA at 5 s is mid-exchange
	for (size_t i = 0; i < a.size(); i++) {
		SCOPED_TRACE("transmission " + std::to_string(i));
		EXPECT_EQ(a[i].at, b[i].at);
		EXPECT_EQ(a[i].type, MessageType::Solicit);
		EXPECT_EQ(a[i].xid, a[0].xid);
		EXPECT_EQ(a[i].elapsed, b[i].elapsed);
		EXPECT_NEAR(a[i].elapsed, (a[i].at - a[0].at) * 100, 1);
		EXPECT_FALSE(a[i].ia_na);
		if (i == 1) {
			EXPECT_GT(a[1].at - a[0].at, 1.0);
			EXPECT_LE(a[1].at - a[0].at, 1.1 + 1e-9);
		} else if (i > 1) {
			double rt = a[i].at - a[i - 1].at, prev = a[i - 1].at - a[i - 2].at;
			EXPECT_GE(rt, prev * 1.9 - 1e-9);
			EXPECT_LE(rt, prev * 2.1 + 1e-9);
		}
	}
	EXPECT_LT(a[1].at, ra_at);
	EXPECT_GT(a.back().at, ra_at);
}

// RFC 8415 §15, §18.2.2: the exchange goes on after the RA; the Request
// that follows the Advertise asks for the Solicit's IAs only; the IA_NA
// then goes into the Renew at T1 (§18.2.4), not earlier.
TEST(ClientMachine, AnIaNaWantedMidSolicitWaitsForTheRenewAtT1)
{
	Harness h;
	Message s = h.solicit();
	h.advance(); // the first retransmission
	h.sent();
	h.machine.router_advertised(h.now, managed_options());
	EXPECT_TRUE(h.sent().empty());
	h.deliver(Harness::advertise(s, "2001:db8:100::/56", 0, 100, 160, 300, 600));
	Message request = h.last_sent(); // after the first RT: the first Advertise wins
	ASSERT_EQ(request.type, MessageType::Request);
	EXPECT_EQ(request.get<IaNa>(), nullptr);
	ASSERT_NE(request.get<IaPd>(), nullptr);
	h.deliver(Harness::reply(request, "2001:db8:100::/56", 100, 160, 300, 600));
	ASSERT_EQ(h.machine.phase(), ClientPhase::Bound);
	Seconds bound_at = h.now;
	h.advance();
	EXPECT_EQ(h.now, bound_at + Seconds(100));
	Message renew = h.last_sent();
	ASSERT_EQ(renew.type, MessageType::Renew);
	ASSERT_NE(renew.get<IaNa>(), nullptr);
	EXPECT_EQ(renew.get<IaNa>()->iaid, 0u);
	EXPECT_TRUE(renew.get<IaNa>()->addresses().empty());
	EXPECT_EQ(renew.get<IaPd>()->prefixes()[0]->prefix, prefix("2001:db8:100::/56"));
}

// RFC 7084 WAA-6, RFC 8415 §18.2.4: once bound, an RA saying M = 1 sends
// nothing at once (the issue: a Renew 2 s after the Reply); the IA_NA goes
// into the Renew at T1, beside the IA_PD it holds, and the Reply binds it.
TEST(ClientMachine, AnAddressWantedAfterAnRaGoesIntoTheRenewAtT1)
{
	Harness h;
	h.bind(100, 160, 300, 600);
	Seconds bound_at = h.now;
	h.sent();
	h.now += Seconds(2);
	h.machine.router_advertised(h.now, managed_options());
	EXPECT_TRUE(h.sent().empty());
	ASSERT_TRUE(h.machine.deadline());
	EXPECT_EQ(*h.machine.deadline(), bound_at + Seconds(100));
	EXPECT_EQ(h.machine.phase(), ClientPhase::Bound);
	h.advance();
	EXPECT_EQ(h.now, bound_at + Seconds(100));
	Message renew = h.last_sent();
	ASSERT_EQ(renew.type, MessageType::Renew);
	ASSERT_NE(renew.get<IaNa>(), nullptr);
	EXPECT_EQ(renew.get<IaNa>()->iaid, 0u);
	ASSERT_NE(renew.get<IaPd>(), nullptr);
	EXPECT_EQ(renew.get<IaPd>()->prefixes()[0]->prefix, prefix("2001:db8:100::/56"));
	Message r = Harness::reply(renew, "2001:db8:100::/56", 100, 160, 300, 600);
	IaNa na{.iaid = 0, .t1 = 100, .t2 = 160};
	na.options.add(IaAddress{.address = *Ipv6Address::parse("2001:db8:ffff::10"),
				 .preferred_lifetime = 300,
				 .valid_lifetime = 600});
	h.deliver(r.add(na));
	EXPECT_EQ(h.machine.phase(), ClientPhase::Bound);
	ASSERT_NE(h.machine.binding().find(false, 0), nullptr);
	EXPECT_EQ(h.machine.binding().find(false, 0)->addresses[0].address.str(), "2001:db8:ffff::10");
}

// RFC 8415 §15: an RA during a Renew leaves the Renew as it is (same
// transaction-id, no IA_NA, Elapsed Time counting on).
TEST(ClientMachine, AnRaMidRenewChangesNoRetransmission)
{
	Harness h;
	Message renew = h.renew();
	ASSERT_EQ(renew.type, MessageType::Renew);
	Seconds renew_at = h.now;
	h.now += Seconds(3);
	h.machine.router_advertised(h.now, managed_options());
	EXPECT_TRUE(h.sent().empty());
	h.advance();
	Message again = h.last_sent();
	EXPECT_EQ(again.type, MessageType::Renew);
	EXPECT_EQ(again.transaction_id, renew.transaction_id);
	EXPECT_EQ(again.get<IaNa>(), nullptr);
	EXPECT_NEAR(again.get<ElapsedTime>()->centiseconds, (h.now - renew_at).count() * 100, 1);
	EXPECT_GT((h.now - renew_at).count(), 9.0); // REN_TIMEOUT 10 s +/- RAND
}

// RFC 8415 §18.2.1 and RFC 7084 WAA-6: an RA heard during the first
// Solicit's random delay ends it: the Solicit leaves at once and carries
// the IA_NA the M flag asked for, next to the IA_PD, Elapsed Time 0.
TEST(ClientMachine, AnRaDuringTheFirstDelaySolicitsAtOnceWithAnAddress)
{
	Harness h;
	h.machine.start(h.now);
	ASSERT_TRUE(h.machine.deadline());
	ASSERT_GT(*h.machine.deadline(), h.now + Seconds(0.01));
	h.now += Seconds(0.01);
	h.machine.router_advertised(h.now, managed_options());
	Message s = h.last_sent();
	ASSERT_EQ(s.type, MessageType::Solicit);
	ASSERT_NE(s.get<IaNa>(), nullptr);
	EXPECT_EQ(s.get<IaNa>()->iaid, 0u);
	ASSERT_NE(s.get<IaPd>(), nullptr);
	EXPECT_EQ(s.get<ElapsedTime>()->centiseconds, 0);
	EXPECT_EQ(h.machine.phase(), ClientPhase::Soliciting);
	// Later RAs (periodic ones) change nothing.
	h.machine.router_advertised(h.now + Seconds(0.5), managed_options());
	EXPECT_TRUE(h.sent().empty());
	EXPECT_EQ(h.machine.counters().solicits, 1u);
}

// RFC 8415 §18.2.1: an RA without M ends the delay too (M is known: 0);
// the Solicit asks for the prefix alone.
TEST(ClientMachine, AnRaWithoutMAlsoEndsTheFirstDelay)
{
	Harness h;
	h.machine.start(h.now);
	ASSERT_GT(*h.machine.deadline(), h.now);
	h.machine.router_advertised(h.now, Harness::defaults());
	Message s = h.last_sent();
	ASSERT_EQ(s.type, MessageType::Solicit);
	EXPECT_EQ(s.get<IaNa>(), nullptr);
}

// RFC 8415 §13 (a client sends from its link-local address) and RFC 7084
// W-2: while the upstream link-local address is not usable nothing can
// leave; the first Solicit's random delay (§18.2.1, up to SOL_MAX_DELAY)
// starts when it is.
TEST(ClientMachine, TheFirstDelayStartsWhenTheLinkLocalAddressIsUsable)
{
	Harness h;
	h.machine.start(h.now, std::nullopt, false);
	EXPECT_FALSE(h.machine.deadline().has_value());
	h.advance_by(5);
	EXPECT_TRUE(h.sent().empty());
	EXPECT_EQ(h.machine.phase(), ClientPhase::Starting);
	h.machine.link_ready(h.now);
	ASSERT_TRUE(h.machine.deadline());
	EXPECT_GE(*h.machine.deadline(), h.now);
	EXPECT_LE(*h.machine.deadline(), h.now + rfc8415::kSolMaxDelay);
	h.advance();
	EXPECT_EQ(h.last_sent().type, MessageType::Solicit);
	h.machine.link_ready(h.now); // again: nothing
	EXPECT_TRUE(h.sent().empty());
}

// RFC 7084 W-2, WAA-6: an unsolicited RA heard while DAD still runs says
// what to ask for; the Solicit leaves as soon as the address is usable.
TEST(ClientMachine, AnRaHeardBeforeTheLinkLocalAddressSolicitsWhenItIsUsable)
{
	Harness h;
	h.machine.start(h.now, std::nullopt, false);
	h.machine.router_advertised(h.now, managed_options());
	EXPECT_TRUE(h.sent().empty());
	EXPECT_FALSE(h.machine.deadline().has_value());
	h.now += Seconds(1.5);
	h.machine.link_ready(h.now);
	Message s = h.last_sent();
	ASSERT_EQ(s.type, MessageType::Solicit);
	EXPECT_NE(s.get<IaNa>(), nullptr);
}

// RFC 8415 §14.1: an RA during the pause after a refused round neither
// shortens the pause nor sends anything; the next Solicit (nothing is
// bound) carries the newly wanted IA_NA.
TEST(ClientMachine, AnIaNaWantedWhileUnboundGoesIntoTheNextSolicit)
{
	Harness h;
	Message s = h.solicit();
	h.deliver(Harness::advertise(s, "2001:db8:100::/56", 255));
	h.deliver(Harness::refusal(h.last_sent()));
	ASSERT_EQ(h.machine.phase(), ClientPhase::Starting);
	Seconds next = *h.machine.deadline();
	ASSERT_GT(next, h.now);
	h.machine.router_advertised(h.now, managed_options());
	EXPECT_TRUE(h.sent().empty());
	EXPECT_EQ(*h.machine.deadline(), next);
	h.advance();
	EXPECT_EQ(h.now, next);
	Message again = h.last_sent();
	ASSERT_EQ(again.type, MessageType::Solicit);
	EXPECT_NE(again.transaction_id, s.transaction_id);
	ASSERT_NE(again.get<IaNa>(), nullptr);
	EXPECT_EQ(again.get<IaNa>()->iaid, 0u);
}

// RFC 7078 §3: a row with prefix-len over 128 makes the client ignore the
// whole Address Selection option, not the Reply: the prefix is bound, no
// policy taken.
TEST(ClientMachine, AReplyWithAnIgnoredAddressSelectionOptionStillBinds)
{
	Harness h;
	Message s = h.solicit();
	h.deliver(Harness::advertise(s, "2001:db8:100::/56", 255));
	Message request = h.last_sent();
	// A good row (label 5, precedence 45, 2001:db8::/32) and one with prefix-len 129.
	std::vector<uint8_t> addrsel{0x00, 0x00, 0x55, 0x00, 0x07, 0x05, 0x2d, 0x20, 0x20, 0x01, 0x0d, 0xb8,
				     0x00, 0x55, 0x00, 0x13, 0x01, 0x01, 0x81};
	addrsel.resize(addrsel.size() + 16, 0);
	h.deliver(Harness::reply(request, "2001:db8:100::/56").add(RawOption{OPTION_ADDRSEL, addrsel}));
	EXPECT_EQ(h.machine.counters().malformed, 0u);
	ASSERT_EQ(h.machine.phase(), ClientPhase::Bound);
	EXPECT_EQ(h.machine.binding().prefixes().size(), 1u);
	EXPECT_TRUE(h.machine.binding().address_selection.empty());
	EXPECT_EQ(h.machine.binding().dns_servers.size(), 1u);
}

// RFC 7084 WPD-6: asking for an address and a prefix, the client takes an
// Advertise and a Reply with the prefix alone (NoAddrsAvail for the IA_NA).
TEST(ClientMachine, PrefixWithoutAddressIsTaken)
{
	MachineOptions both = Harness::defaults();
	both.address_iaid = 0;
	Harness h(both);
	Message s = h.solicit();
	ASSERT_TRUE(s.get<IaNa>());
	ASSERT_TRUE(s.get<IaPd>());
	auto no_address = [](Message m) {
		IaNa na{.iaid = 0};
		na.options.add(StatusCode{Status::NoAddrsAvail, "no addresses"});
		m.add(na);
		return m;
	};
	h.deliver(no_address(Harness::advertise(s, "2001:db8:100::/56", 0)));
	h.advance();
	Message request = h.last_sent();
	EXPECT_EQ(request.type, MessageType::Request);
	h.deliver(no_address(Harness::reply(request, "2001:db8:100::/56")));
	EXPECT_EQ(h.machine.phase(), ClientPhase::Bound);
	ASSERT_EQ(h.machine.binding().prefixes().size(), 1u);
	EXPECT_EQ(h.machine.binding().prefixes()[0]->prefix, prefix("2001:db8:100::/56"));
}

// RFC 6603 §4.1/§4.2 (RFC 7084 WPD-8): the client asks for Prefix Exclude
// and keeps what the server excluded with the prefix.
TEST(ClientMachine, PrefixExcludeIsRequestedAndKept)
{
	Harness h;
	Message s = h.solicit();
	EXPECT_TRUE(s.get<OptionRequest>()->requests(OPTION_PD_EXCLUDE));
	h.deliver(Harness::advertise(s, "2001:db8:100::/56", 255));
	Message request = h.last_sent();
	ASSERT_EQ(request.type, MessageType::Request);
	EXPECT_TRUE(request.get<OptionRequest>()->requests(OPTION_PD_EXCLUDE));
	Message r = Message::reply(request, server_duid());
	IaPd ia{.iaid = 1, .t1 = 1000, .t2 = 1600};
	IaPrefix p{.preferred_lifetime = 1800, .valid_lifetime = 3600, .prefix = prefix("2001:db8:100::/56")};
	p.options.add(PdExclude::of(prefix("2001:db8:100::/56"), prefix("2001:db8:100:7::/64")));
	ia.options.add(p);
	r.add(ia);
	h.deliver(r);
	ASSERT_EQ(h.machine.phase(), ClientPhase::Bound);
	EXPECT_EQ(h.machine.binding().prefixes()[0]->excluded, prefix("2001:db8:100:7::/64"));
}

// RFC 8415 §18.2.8: an IA_NA address that failed DAD is declined.
TEST(ClientMachine, DeclineAfterDadFailure)
{
	MachineOptions o = Harness::defaults();
	o.address_iaid = 7;
	Harness h(o);
	Message s = h.solicit();
	EXPECT_TRUE(s.get<IaNa>());
	Message a = Harness::advertise(s, "2001:db8:100::/56", 255);
	IaNa na{.iaid = 7, .t1 = 100, .t2 = 160};
	Ipv6Address addr = *Ipv6Address::parse("2001:db8:ffff::77");
	na.options.add(IaAddress{.address = addr, .preferred_lifetime = 300, .valid_lifetime = 600});
	a.add(na);
	h.deliver(a);
	Message request = h.last_sent();
	h.deliver(Harness::reply(request, "2001:db8:100::/56").add(na));
	ASSERT_NE(h.machine.binding().find(false, 7), nullptr);
	h.sent();
	h.machine.decline(h.now, addr);
	EXPECT_EQ(h.machine.binding().find(false, 7), nullptr);
	Message decline = h.last_sent();
	EXPECT_EQ(decline.type, MessageType::Decline);
	EXPECT_EQ(decline.get<IaNa>()->addresses()[0]->address, addr);
	h.deliver(Message::reply(decline, server_duid()));
	EXPECT_EQ(h.machine.phase(), ClientPhase::Bound);
	EXPECT_EQ(h.machine.binding().prefixes().size(), 1u);
}

// RFC 8415 §18.2.2: a Request nobody answers (REQ_MAX_RC = 10) sends the
// client back to discovery.
TEST(ClientMachine, UnansweredRequestRestartsDiscovery)
{
	Harness h;
	Message s = h.solicit();
	h.deliver(Harness::advertise(s, "2001:db8:100::/56", 255));
	size_t requests = h.sent().size();
	while (h.machine.phase() == ClientPhase::Requesting) {
		h.advance();
		for (const Message &m : h.sent())
			requests += m.type == MessageType::Request;
	}
	EXPECT_EQ(requests, 10u);
	EXPECT_EQ(h.machine.phase(), ClientPhase::Starting); // §14.1 pause
	h.advance();
	EXPECT_EQ(h.last_sent().type, MessageType::Solicit);
}

} // namespace
} // namespace umigame::dhcp6d
