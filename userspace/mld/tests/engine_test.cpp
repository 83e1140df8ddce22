// The proxy's membership engine, driven message by message on a fake clock:
// the router side of RFC 3810 §7 (the §7.4.1 and §7.4.2 tables, specific
// queries, timers, querier election §7.6.2, startup queries, MLDv1 hosts
// §8.3.2, fast leave), the merge of RFC 4605 §4.1 and the host side
// upstream (RFC 3810 §6.1 state changes, §6.2/§6.3 current state).
#include "umigame/mld/engine.h"

#include <gtest/gtest.h>

namespace umigame::mld {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kUp = 1, kDown1 = 2, kDown2 = 3;

Ipv6Address a(const std::string &text)
{
	return *Ipv6Address::parse(text);
}

// Source n is 2001:db8::n.
Ipv6Address s(int n)
{
	return a("2001:db8::" + std::to_string(n));
}

const Ipv6Address G = a("ff3e::1234");
const Ipv6Address kHost = a("fe80::100");

std::string short_list(const std::vector<Ipv6Address> &v)
{
	std::string out = "{";
	for (const auto &x : v) {
		if (out.size() > 1)
			out += ",";
		out += std::to_string(x.bytes[15]);
	}
	return out + "}";
}

struct Sent {
	uint32_t ifindex;
	Ipv6Address to;
	Message message;
};

struct Harness : Output {
	std::vector<Sent> sent;
	std::vector<Ipv6Address> changes;
	TimePoint now = TimePoint(1h);
	std::unique_ptr<Engine> engine;
	uint32_t random_fraction_percent = 50;

	explicit Harness(std::function<void(EngineConfig &)> tweak = {})
	{
		EngineConfig c;
		c.upstream = {"up0", kUp};
		c.downstream = {{"down1", kDown1}, {"down2", kDown2}};
		if (tweak)
			tweak(c);
		engine = std::make_unique<Engine>(c, *this,
						  [this](uint32_t n) { return n * random_fraction_percent / 100; });
		engine->set_address(kDown1, a("fe80::2"));
		engine->set_address(kDown2, a("fe80::2"));
	}
	void send(uint32_t ifindex, const Ipv6Address &to, std::vector<uint8_t> icmp) override
	{
		sent.push_back({ifindex, to, parse(icmp)});
	}
	void membership_changed(const Ipv6Address &group) override { changes.push_back(group); }

	void report(uint32_t ifindex, RecordType t, std::vector<int> sources, const Ipv6Address &g = G)
	{
		Record r{t, g, {}, {}};
		for (int n : sources)
			r.sources.push_back(s(n));
		engine->receive(ifindex, kHost, V2Report{{r}, 0}, now);
	}
	void advance(Millis by)
	{
		TimePoint end = now + by;
		// Tick at every deadline on the way, as the daemon's timer does.
		while (engine->next_deadline() <= end) {
			now = std::max(now, engine->next_deadline());
			engine->tick(now);
		}
		now = end;
		engine->tick(now);
	}
	// "IN {1,2}" or "EX X={1} Y={2}" for down1's state of G, "-" for none.
	std::string state(uint32_t ifindex = kDown1, const Ipv6Address &g = G)
	{
		auto j = engine->show(now);
		for (const auto &d : j["downstream"]) {
			if (d["ifindex"] != ifindex)
				continue;
			for (const auto &gr : d["groups"]) {
				if (gr["group"] != g.str())
					continue;
				std::vector<Ipv6Address> x, y;
				for (const auto &src : gr["sources"])
					(src["timer_ms"].get<int64_t>() > 0 ? x : y)
						.push_back(*Ipv6Address::parse(src["address"].get<std::string>()));
				if (gr["mode"] == "include")
					return "IN " + short_list(x);
				return "EX X=" + short_list(x) + " Y=" + short_list(y);
			}
		}
		return "-";
	}
	// The specific queries sent on ifindex since the last call: "Q(MA)",
	// "Q(MA,{1,3})", in order; general queries as "Q(*)".
	std::string queries(uint32_t ifindex = kDown1, bool general = false)
	{
		std::string out;
		for (const auto &m : sent) {
			if (m.ifindex != ifindex)
				continue;
			std::string q;
			if (auto *v2 = std::get_if<V2Query>(&m.message))
				q = v2->general() ? "Q(*)"
						  : v2->sources.empty() ? "Q(MA)" : "Q(MA," + short_list(v2->sources) + ")";
			else if (auto *v1 = std::get_if<V1Message>(&m.message); v1 && v1->type == kTypeQuery)
				q = "v1Q(MA)";
			if (!q.empty() && (general || q != "Q(*)"))
				out += (out.empty() ? "" : " ") + q;
		}
		std::erase_if(sent, [&](const Sent &m) { return m.ifindex == ifindex; });
		return out;
	}
	// Records sent upstream since the last call: "TO_EX(ff3e::1234){}".
	std::vector<std::string> upstream()
	{
		std::vector<std::string> out;
		for (const auto &m : sent) {
			if (m.ifindex != kUp)
				continue;
			if (auto *r = std::get_if<V2Report>(&m.message)) {
				EXPECT_EQ(m.to, kAllMldv2Routers) << "RFC 3810 §5.2.14";
				for (const auto &rec : r->records)
					out.push_back(std::string(record_type_name(rec.type)) + short_list(rec.sources));
			} else if (auto *v1 = std::get_if<V1Message>(&m.message)) {
				out.push_back(v1->type == kTypeV1Report ? "v1Report" : "v1Done");
			}
		}
		std::erase_if(sent, [](const Sent &m) { return m.ifindex == kUp; });
		return out;
	}
};

using R = RecordType;

struct Step {
	R type;
	std::vector<int> sources;
};

TEST(RouterState, TransitionTablesOfSections741And742)
{
	// Set-up records put down1 in a start state; then one record, and the
	// state and specific queries that must follow. X is the requested list
	// (timers > 0), Y the exclude list (timers 0).
	const std::vector<Step> include12 = {{R::mode_is_include, {1, 2}}};
	const std::vector<Step> exclude_x1_y2 = {{R::mode_is_include, {1}}, {R::mode_is_exclude, {1, 2}}};
	struct Case {
		const char *section;
		std::vector<Step> setup;
		Step record;
		const char *state;
		const char *queries;
	} cases[] = {
		{"§7.4.1 INCLUDE(A) IS_IN(B): INCLUDE(A+B)", include12, {R::mode_is_include, {2, 3}}, "IN {1,2,3}", ""},
		{"§7.4.1 INCLUDE(A) IS_EX(B): EXCLUDE(A*B, B-A)", include12, {R::mode_is_exclude, {2, 3}},
		 "EX X={2} Y={3}", ""},
		{"§7.4.1 EXCLUDE(X,Y) IS_IN(A): EXCLUDE(X+A, Y-A)", exclude_x1_y2, {R::mode_is_include, {2, 3}},
		 "EX X={1,2,3} Y={}", ""},
		{"§7.4.1 EXCLUDE(X,Y) IS_EX(A): EXCLUDE(A-Y, Y*A)", exclude_x1_y2, {R::mode_is_exclude, {2, 3, 4}},
		 "EX X={3,4} Y={2}", ""},
		{"§7.4.2 INCLUDE(A) ALLOW(B): INCLUDE(A+B)", include12, {R::allow_new_sources, {3}}, "IN {1,2,3}", ""},
		{"§7.4.2 INCLUDE(A) BLOCK(B): INCLUDE(A), Q(MA,A*B)", include12, {R::block_old_sources, {2, 3}},
		 "IN {1,2}", "Q(MA,{2})"},
		{"§7.4.2 INCLUDE(A) TO_EX(B): EXCLUDE(A*B, B-A), Q(MA,A*B)", include12,
		 {R::change_to_exclude, {2, 3}}, "EX X={2} Y={3}", "Q(MA,{2})"},
		{"§7.4.2 INCLUDE(A) TO_IN(B): INCLUDE(A+B), Q(MA,A-B)", include12, {R::change_to_include, {2, 3}},
		 "IN {1,2,3}", "Q(MA,{1})"},
		{"§7.4.2 EXCLUDE(X,Y) ALLOW(A): EXCLUDE(X+A, Y-A)", exclude_x1_y2, {R::allow_new_sources, {2}},
		 "EX X={1,2} Y={}", ""},
		{"§7.4.2 EXCLUDE(X,Y) BLOCK(A): EXCLUDE(X+(A-Y), Y), Q(MA,A-Y)", exclude_x1_y2,
		 {R::block_old_sources, {1, 2, 3}}, "EX X={1,3} Y={2}", "Q(MA,{1,3})"},
		{"§7.4.2 EXCLUDE(X,Y) TO_EX(A): EXCLUDE(A-Y, Y*A), Q(MA,A-Y)", exclude_x1_y2,
		 {R::change_to_exclude, {1, 3}}, "EX X={1,3} Y={}", "Q(MA,{1,3})"},
		{"§7.4.2 EXCLUDE(X,Y) TO_IN(A): EXCLUDE(X+A, Y-A), Q(MA,X-A), Q(MA)", exclude_x1_y2,
		 {R::change_to_include, {3}}, "EX X={1,3} Y={2}", "Q(MA) Q(MA,{1})"},
	};
	for (const auto &c : cases) {
		Harness h;
		for (const auto &st : c.setup)
			h.report(kDown1, st.type, st.sources);
		h.queries();
		h.report(kDown1, c.record.type, c.record.sources);
		EXPECT_EQ(h.state(), c.state) << c.section;
		EXPECT_EQ(h.queries(), c.queries) << c.section;
	}
}

TEST(RouterState, LastListenerLeavesAfterLastListenerQueryTime)
{
	// §7.6.3.1: Q(MA) sent LLQC (= RV = 2) times, LLQI (1 s) apart; without
	// an answer the filter timer runs out at LLQT = 2 s and the group goes.
	Harness h;
	h.report(kDown1, R::mode_is_exclude, {});
	EXPECT_TRUE(h.engine->wanted(kDown1, s(7), G, h.now));
	h.queries();
	h.report(kDown1, R::change_to_include, {});
	EXPECT_EQ(h.queries(), "Q(MA)");
	h.advance(1000ms);
	EXPECT_EQ(h.queries(), "Q(MA)") << "the retransmission, LLQI later";
	h.advance(999ms);
	EXPECT_TRUE(h.engine->wanted(kDown1, s(7), G, h.now)) << "still inside LLQT";
	h.advance(1ms);
	EXPECT_FALSE(h.engine->wanted(kDown1, s(7), G, h.now)) << "gone at LLQT";
	EXPECT_EQ(h.state(), "-");
	EXPECT_EQ(h.queries(), "");
}

TEST(RouterState, AnswerToTheSpecificQueryKeepsTheGroupAndSetsSuppress)
{
	// §7.6.3.1: a report during the queries raises the filter timer; the
	// retransmission then carries the S flag.
	Harness h;
	h.report(kDown1, R::mode_is_exclude, {});
	h.queries();
	h.report(kDown1, R::change_to_include, {});
	h.report(kDown1, R::mode_is_exclude, {}); // another listener answers
	h.sent.clear();
	h.advance(1000ms);
	std::erase_if(h.sent, [](const Sent &m) {
		auto *q = std::get_if<V2Query>(&m.message);
		return m.ifindex != kDown1 || !q || q->general();
	});
	ASSERT_EQ(h.sent.size(), 1u);
	EXPECT_TRUE(std::get<V2Query>(h.sent[0].message).suppress);
	h.advance(10s);
	EXPECT_EQ(h.state(), "EX X={} Y={}");
}

TEST(RouterState, SourceTimersAndFilterTimerExpire)
{
	// §7.2.3, §7.5: MALI = RV × QI + QRI = 260 s. In INCLUDE an expired
	// source is deleted; in EXCLUDE it moves to Y; when the filter timer
	// expires the group keeps only its requested sources.
	Harness h;
	h.report(kDown1, R::mode_is_include, {1});
	h.advance(259999ms);
	EXPECT_EQ(h.state(), "IN {1}");
	h.advance(1ms);
	EXPECT_EQ(h.state(), "-");

	h.report(kDown1, R::mode_is_exclude, {2});
	h.advance(100s);
	h.report(kDown1, R::allow_new_sources, {3});
	h.advance(160s); // the filter timer expires; 3 has 100 s left
	EXPECT_EQ(h.state(), "IN {3}");
	EXPECT_TRUE(h.engine->wanted(kDown1, s(3), G, h.now));
	EXPECT_FALSE(h.engine->wanted(kDown1, s(2), G, h.now));
}

TEST(RouterState, ForwardingDecision)
{
	// §7.2.3: INCLUDE forwards its sources; EXCLUDE all but Y.
	Harness h;
	h.report(kDown1, R::mode_is_include, {1});
	h.report(kDown2, R::mode_is_exclude, {2});
	struct Case {
		uint32_t ifindex;
		int source;
		bool wanted;
	} cases[] = {{kDown1, 1, true}, {kDown1, 2, false}, {kDown2, 1, true}, {kDown2, 2, false}, {kDown2, 3, true}};
	for (const auto &c : cases)
		EXPECT_EQ(h.engine->wanted(c.ifindex, s(c.source), G, h.now), c.wanted)
			<< "if " << c.ifindex << " source " << c.source;
	EXPECT_FALSE(h.engine->wanted(kDown1, s(1), a("ff3e::99"), h.now)) << "no listener";
}

TEST(RouterState, FastLeaveDropsAtOnce)
{
	Harness h([](EngineConfig &c) { c.downstream[0].fast_leave = true; });
	h.report(kDown1, R::mode_is_exclude, {});
	h.report(kDown1, R::mode_is_include, {1});
	h.queries();
	h.report(kDown1, R::change_to_include, {});
	EXPECT_EQ(h.state(), "-") << "no query, no wait";
	EXPECT_EQ(h.queries(), "");
	h.report(kDown1, R::mode_is_include, {1, 2});
	h.report(kDown1, R::block_old_sources, {1});
	EXPECT_EQ(h.state(), "IN {2}");
}

TEST(RouterState, ScopesAndSourcesThatAreIgnored)
{
	Harness h;
	h.report(kDown1, R::mode_is_exclude, {}, a("ff02::fb"));
	EXPECT_EQ(h.state(kDown1, a("ff02::fb")), "-") << "link-scope groups never leave the link";
	EXPECT_EQ(h.engine->counters(kDown1)->ignored_group, 1u);
	// §5.2.13: a report from :: (or any non-link-local source) is dropped.
	h.engine->receive(kDown1, Ipv6Address{}, V2Report{{{R::mode_is_exclude, G, {}, {}}}, 0}, h.now);
	h.engine->receive(kDown1, s(1), V2Report{{{R::mode_is_exclude, G, {}, {}}}, 0}, h.now);
	EXPECT_EQ(h.state(), "-");
	EXPECT_EQ(h.engine->counters(kDown1)->ignored_not_link_local, 2u);
}

TEST(RouterState, GroupLimitBoundsState)
{
	Harness h([](EngineConfig &c) { c.downstream[0].max_groups = 3; });
	for (int i = 1; i <= 5; i++)
		h.report(kDown1, R::mode_is_exclude, {}, a("ff3e::" + std::to_string(i)));
	EXPECT_EQ(h.engine->group_count(kDown1), 3u);
	EXPECT_EQ(h.engine->counters(kDown1)->refused_limits, 2u);
}

TEST(Querier, StartupQueriesThenTheQueryInterval)
{
	// §7.6: Startup Query Count (RV = 2) at Startup Query Interval (QI/4).
	Harness h;
	h.engine->start(h.now);
	h.advance(0ms);
	EXPECT_EQ(h.queries(kDown1, true), "Q(*)");
	h.advance(31249ms);
	EXPECT_EQ(h.queries(kDown1, true), "");
	h.advance(1ms);
	EXPECT_EQ(h.queries(kDown1, true), "Q(*)");
	h.advance(124999ms);
	EXPECT_EQ(h.queries(kDown1, true), "");
	h.advance(1ms);
	EXPECT_EQ(h.queries(kDown1, true), "Q(*)");
	// The general query's fields (§5.1.3, §5.1.8, §5.1.9), to ff02::1.
	h.advance(125s);
	ASSERT_FALSE(h.sent.empty());
	EXPECT_EQ(h.sent[0].to, kAllNodes);
	auto q = std::get<V2Query>(h.sent[0].message);
	EXPECT_EQ(q.max_response_delay_ms(), 10000u);
	EXPECT_EQ(q.qrv, 2);
	EXPECT_EQ(q.query_interval_s(), 125u);
}

TEST(Querier, LowestAddressWinsAndTheLoserTakesOverWhenItFallsSilent)
{
	// §7.6.2; Other Querier Present Timeout = RV × QI + QRI/2 = 255 s (§9.5).
	Harness h;
	h.engine->start(h.now);
	h.advance(0ms);
	h.queries(kDown1, true);
	V2Query q;
	h.engine->receive(kDown1, a("fe80::3"), q, h.now);
	EXPECT_TRUE(h.engine->querier(kDown1)) << "a higher address does not win";
	h.engine->receive(kDown1, a("fe80::1"), q, h.now);
	EXPECT_FALSE(h.engine->querier(kDown1));
	EXPECT_TRUE(h.engine->querier(kDown2)) << "per link";
	h.advance(254999ms);
	EXPECT_EQ(h.queries(kDown1, true), "") << "a non-querier stays silent";
	// A non-querier sends no specific queries either.
	h.report(kDown1, R::mode_is_exclude, {});
	h.report(kDown1, R::change_to_include, {});
	EXPECT_EQ(h.queries(kDown1, true), "");
	h.advance(1ms);
	EXPECT_TRUE(h.engine->querier(kDown1));
	EXPECT_EQ(h.queries(kDown1, true), "Q(*)") << "takes over at once";
}

TEST(Querier, NonQuerierLowersTimersOnTheQueriersSpecificQuery)
{
	// §7.6.3.2: a specific query with S clear lowers the timers of every
	// router on the link to LLQT.
	Harness h;
	h.engine->receive(kDown1, a("fe80::1"), V2Query{}, h.now);
	h.report(kDown1, R::mode_is_exclude, {});
	h.report(kDown1, R::change_to_include, {});
	V2Query specific;
	specific.address = G;
	specific.max_resp_code = 1000;
	h.engine->receive(kDown1, a("fe80::1"), specific, h.now);
	h.advance(1999ms);
	EXPECT_EQ(h.state(), "EX X={} Y={}");
	h.advance(1ms);
	EXPECT_EQ(h.state(), "-");
}

TEST(MldV1, HostsAreServedInCompatibilityMode)
{
	// §8.3.2: Report = IS_EX({}), Done = TO_IN({}); while an MLDv1 host is
	// present BLOCK is ignored and TO_EX(x) counts as TO_EX({}); the
	// group-specific query goes out as MLDv1.
	Harness h;
	h.engine->receive(kDown1, kHost, V1Message{kTypeV1Report, 0, G}, h.now);
	EXPECT_EQ(h.state(), "EX X={} Y={}");
	h.report(kDown1, R::block_old_sources, {1});
	EXPECT_EQ(h.state(), "EX X={} Y={}");
	h.report(kDown1, R::change_to_exclude, {1});
	EXPECT_TRUE(h.engine->wanted(kDown1, s(1), G, h.now));
	h.queries();
	h.engine->receive(kDown1, kHost, V1Message{kTypeV1Done, 0, G}, h.now);
	EXPECT_EQ(h.queries(), "v1Q(MA)");
	h.advance(2s);
	EXPECT_EQ(h.state(), "-");
}

TEST(Proxy, MergeOfDownstreamsFollowsRfc4605Section41)
{
	struct Case {
		const char *what;
		Step down1, down2;
		Membership merged;
	} cases[] = {
		{"INCLUDE + INCLUDE: union", {R::mode_is_include, {1}}, {R::mode_is_include, {2}},
		 {FilterMode::include, {s(1), s(2)}}},
		{"EXCLUDE + EXCLUDE: intersection", {R::mode_is_exclude, {2, 3}}, {R::mode_is_exclude, {3, 4}},
		 {FilterMode::exclude, {s(3)}}},
		{"EXCLUDE + INCLUDE: excluded minus included", {R::mode_is_exclude, {2, 3}},
		 {R::mode_is_include, {2, 5}}, {FilterMode::exclude, {s(3)}}},
		{"ASM join anywhere: EXCLUDE({})", {R::mode_is_exclude, {}}, {R::mode_is_include, {1}},
		 {FilterMode::exclude, {}}},
	};
	for (const auto &c : cases) {
		Harness h;
		h.report(kDown1, c.down1.type, c.down1.sources);
		h.report(kDown2, c.down2.type, c.down2.sources);
		auto m = h.engine->merged(h.now);
		ASSERT_EQ(m.count(G), 1u) << c.what;
		EXPECT_EQ(m[G], c.merged) << c.what;
	}
}

TEST(Proxy, StateChangesGoUpstreamAtOnceAndRobustnessTimes)
{
	// RFC 4605 §4.1 with RFC 3810 §6.1: every change of the merged state is
	// reported at once, and the report goes out RV (2) times in all, the
	// repeat within the Unsolicited Report Interval (1 s).
	Harness h;
	h.report(kDown1, R::mode_is_include, {1});
	h.advance(0ms);
	EXPECT_EQ(h.upstream(), (std::vector<std::string>{"ALLOW{1}"}));
	h.advance(1s);
	EXPECT_EQ(h.upstream(), (std::vector<std::string>{"ALLOW{1}"}));
	h.advance(10s);
	EXPECT_TRUE(h.upstream().empty()) << "no third copy";
	h.report(kDown2, R::mode_is_exclude, {2});
	h.advance(0ms);
	EXPECT_EQ(h.upstream(), (std::vector<std::string>{"TO_EX{2}"}));
	h.report(kDown1, R::allow_new_sources, {2});
	h.advance(0ms);
	EXPECT_EQ(h.upstream(), (std::vector<std::string>{"TO_EX{}"}))
		<< "§6.1: while a filter-mode change is pending it carries the list as it is now";
	h.advance(1s);
	EXPECT_EQ(h.upstream(), (std::vector<std::string>{"TO_EX{}"}));
	h.advance(10s);
	EXPECT_TRUE(h.upstream().empty());
	// The last EXCLUDE leaves after LLQT: back to INCLUDE({1,2}).
	h.report(kDown2, R::change_to_include, {});
	h.advance(3s);
	EXPECT_EQ(h.upstream(), (std::vector<std::string>{"TO_IN{1,2}", "TO_IN{1,2}"}));
}

TEST(Proxy, CurrentStateAnswersUpstreamQueries)
{
	// RFC 3810 §6.2, §6.3: a general query is answered with every group's
	// current state after a random part of the Maximum Response Delay; a
	// group-and-source-specific query with the queried sources we want.
	Harness h;
	h.report(kDown1, R::mode_is_include, {1, 2});
	h.report(kDown2, R::mode_is_exclude, {3}, a("ff3e::2"));
	h.advance(2s);
	h.upstream();
	V2Query general;
	general.max_resp_code = 10000;
	h.engine->receive(kUp, a("fe80::99"), general, h.now);
	h.advance(4999ms);
	EXPECT_TRUE(h.upstream().empty()) << "50 % of the 10 s delay";
	h.advance(1ms);
	EXPECT_EQ(h.upstream(), (std::vector<std::string>{"IS_EX{3}", "IS_IN{1,2}"}));
	V2Query gss;
	gss.address = G;
	gss.sources = {s(2), s(4)};
	gss.max_resp_code = 1000;
	h.engine->receive(kUp, a("fe80::99"), gss, h.now);
	h.advance(1s);
	EXPECT_EQ(h.upstream(), (std::vector<std::string>{"IS_IN{2}"}));
	gss.address = a("ff3e::2");
	gss.sources = {s(3), s(4)};
	h.engine->receive(kUp, a("fe80::99"), gss, h.now);
	h.advance(1s);
	EXPECT_EQ(h.upstream(), (std::vector<std::string>{"IS_IN{4}"})) << "§6.3: EXCLUDE answers Q - excluded";
	V2Query from_global = general;
	h.engine->receive(kUp, s(9), from_global, h.now);
	h.advance(20s);
	EXPECT_TRUE(h.upstream().empty()) << "§5.1.14: a query from a global address is ignored";
}

TEST(Proxy, MldV1QuerierUpstreamGetsMldV1Reports)
{
	// RFC 3810 §8.2.1: with an MLDv1 querier upstream, the proxy reports
	// as an MLDv1 host: Report on join, Done on leave.
	Harness h;
	h.engine->receive(kUp, a("fe80::99"), V1Message{kTypeQuery, 1000, {}}, h.now);
	h.advance(2s);
	h.report(kDown1, R::mode_is_exclude, {});
	h.advance(0ms);
	EXPECT_EQ(h.upstream(), (std::vector<std::string>{"v1Report"}));
	h.advance(2s);
	h.upstream();
	h.report(kDown1, R::change_to_include, {});
	h.advance(3s);
	auto up = h.upstream();
	ASSERT_FALSE(up.empty());
	EXPECT_EQ(up[0], "v1Done");
}

TEST(Proxy, UpstreamComingBackIsToldTheWholeState)
{
	Harness h;
	h.report(kDown1, R::mode_is_exclude, {2});
	h.report(kDown1, R::mode_is_include, {1}, a("ff3e::5"));
	h.advance(3s);
	h.upstream();
	h.engine->upstream_down();
	h.report(kDown2, R::mode_is_exclude, {}, a("ff3e::6"));
	h.advance(3s);
	EXPECT_TRUE(h.upstream().empty()) << "nothing sent while down";
	h.engine->upstream_up(h.now);
	h.advance(0ms);
	EXPECT_EQ(h.upstream(), (std::vector<std::string>{"ALLOW{1}", "TO_EX{}", "TO_EX{2}"}))
		<< "ff3e::5, ff3e::6, ff3e::1234";
}

} // namespace
} // namespace umigame::mld
