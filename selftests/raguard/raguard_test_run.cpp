// BPF_PROG_TEST_RUN table tests of bpf/raguard.bpf.c on the host kernel.
// Each case builds a frame, runs the program with ingress_ifindex = lo and
// checks the verdict and which per-reason counter moved. The policy is
// written by the CLI's own code (RaGuard::set_policy).
#include <filesystem>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include "packets.h"
#include "raguard.h"
#include "raguard_events.h"

using namespace umigame;
using namespace umigame::testing;

namespace {

constexpr uint32_t kLo = 1;
constexpr int kNone = -1; // no counter may move

const char *kPolicy = R"(
[raguard]
routers = ["fe80::1"]
router-macs = ["02:00:00:00:00:03"]
prefixes = ["2001:db8:1::/48"]
max-preference = "medium"
allow-managed = false
allow-other-config = true
dhcpv6-servers = ["fe80::547"]

[[raguard.router]]
address = "fe80::2"
mac = "02:00:00:00:00:02"
)";

class RaGuardTestRun : public ::testing::Test {
protected:
	void SetUp() override
	{
		dir_ = "/sys/fs/bpf/umigame-test-" + std::to_string(getpid());
		guard_ = std::make_unique<RaGuard>(dir_ + "/raguard");
		ASSERT_TRUE(guard_->open(true));
		guard_->set_policy(kLo, parse_raguard_policy(kPolicy, "test-policy"));
	}

	void TearDown() override
	{
		guard_.reset();
		std::error_code ec;
		std::filesystem::remove_all(dir_, ec);
	}

	std::array<umigame_raguard_counter, UMIGAME_RAG_REASON_COUNT> counters() const
	{
		for (const auto &p : guard_->ports())
			if (p.ifindex == kLo)
				return p.counters;
		return guard_->unattributed();
	}

	struct Outcome {
		int action = -1;
		int reason = kNone; // the one counter that moved
		int moved = 0;      // how many counters moved
	};

	Outcome run(const Bytes &frame)
	{
		auto before = counters();
		xdp_md md{};
		md.data_end = uint32_t(frame.size());
		md.ingress_ifindex = kLo;
		Bytes out(frame.size() + 256);
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
			    .data_out = out.data(), .data_size_in = uint32_t(frame.size()),
			    .data_size_out = uint32_t(out.size()), .ctx_in = &md,
			    .ctx_size_in = sizeof(md), .repeat = 1);
		int err = bpf_prog_test_run_opts(guard_->prog_fd(), &opts);
		EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN failed: " << strerror(errno);
		auto after = counters();
		Outcome o;
		o.action = int(opts.retval);
		for (int r = 0; r < UMIGAME_RAG_REASON_COUNT; r++) {
			if (after[r].packets != before[r].packets) {
				o.moved++;
				o.reason = r;
				EXPECT_EQ(after[r].packets - before[r].packets, 1u);
				EXPECT_EQ(after[r].bytes - before[r].bytes, frame.size());
			}
		}
		return o;
	}

	std::string dir_;
	std::unique_ptr<RaGuard> guard_;
};

struct Case {
	const char *name;
	Frame frame;
	int action;
	int reason;
};

Frame ra(Bytes body, std::string src = "fe80::1", std::string mac = "02:00:00:00:00:01")
{
	Frame f;
	f.src = std::move(src);
	f.src_mac = std::move(mac);
	f.upper = std::move(body);
	return f;
}

Frame with(Frame f, auto change)
{
	change(f);
	return f;
}

const Bytes kLegitOptions = concat({opt_source_lladdr("02:00:00:00:00:01"), opt_mtu(1500),
				    opt_prefix("2001:db8:1:2::/64")});

std::vector<Case> cases()
{
	const Frame legit = ra(router_advert(0, 1800, kLegitOptions));
	const Frame dhcp = with(Frame{}, [](Frame &f) {
		f.src = "fe80::547";
		f.dst = "fe80::99";
		f.upper_proto = kUdp;
		f.upper = udp(547, 546, dhcp6(7));
	});
	auto ext = [](std::vector<ExtHeader> e, Frame f) {
		f.ext = std::move(e);
		return f;
	};
	return {
		// RFC 6105 §3: RAs from the trusted router pass, others are dropped.
		{"legit_ra", legit, XDP_PASS, UMIGAME_RAG_RA_TRUSTED},
		{"untrusted_source", ra(router_advert(), "fe80::bad"), XDP_DROP,
		 UMIGAME_RAG_RA_UNTRUSTED_SOURCE},
		{"trusted_addr_pinned_mac_ok", ra(router_advert(), "fe80::2", "02:00:00:00:00:02"),
		 XDP_PASS, UMIGAME_RAG_RA_TRUSTED},
		{"trusted_addr_spoofed_mac", ra(router_advert(), "fe80::2", "02:00:00:00:00:66"),
		 XDP_DROP, UMIGAME_RAG_RA_UNTRUSTED_SOURCE},
		{"trusted_mac_any_ll", ra(router_advert(), "fe80::77", "02:00:00:00:00:03"), XDP_PASS,
		 UMIGAME_RAG_RA_TRUSTED},
		// RFC 6105 §3 (prefix list), RFC 4191 §2.2 (preference).
		{"prefix_not_allowed", ra(router_advert(0, 1800, opt_prefix("2001:db8:66::/64"))),
		 XDP_DROP, UMIGAME_RAG_RA_PREFIX},
		{"prefix_shorter_than_allowed", ra(router_advert(0, 1800, opt_prefix("2001:db8::/32"))),
		 XDP_DROP, UMIGAME_RAG_RA_PREFIX},
		{"prefix_exactly_allowed", ra(router_advert(0, 1800, opt_prefix("2001:db8:1::/48"))),
		 XDP_PASS, UMIGAME_RAG_RA_TRUSTED},
		{"second_pio_bad", ra(router_advert(0, 1800, concat({opt_prefix("2001:db8:1::/64"),
								    opt_prefix("2001:db8:9::/64")}))),
		 XDP_DROP, UMIGAME_RAG_RA_PREFIX},
		{"preference_high", ra(router_advert(kPrefHigh)), XDP_DROP, UMIGAME_RAG_RA_PREFERENCE},
		{"preference_low", ra(router_advert(kPrefLow)), XDP_PASS, UMIGAME_RAG_RA_TRUSTED},
		{"preference_high_lifetime_0", ra(router_advert(kPrefHigh, 0)), XDP_PASS,
		 UMIGAME_RAG_RA_TRUSTED},
		{"managed_flag", ra(router_advert(kFlagManaged)), XDP_DROP, UMIGAME_RAG_RA_MANAGED_FLAG},
		{"other_flag_allowed", ra(router_advert(kFlagOther)), XDP_PASS, UMIGAME_RAG_RA_TRUSTED},
		{"slla_mismatch", ra(router_advert(0, 1800, opt_source_lladdr("02:00:00:00:00:99"))),
		 XDP_DROP, UMIGAME_RAG_RA_LLADDR_MISMATCH},
		// RFC 4861 §4.6: zero-length option; options running off the end.
		{"option_len_0", ra(router_advert(0, 1800, {5, 0, 0, 0, 0, 0, 0, 0})), XDP_DROP,
		 UMIGAME_RAG_MALFORMED},
		{"option_overruns", ra(router_advert(0, 1800, {5, 2, 0, 0, 0, 0, 0, 0})), XDP_DROP,
		 UMIGAME_RAG_MALFORMED},
		{"too_many_options",
		 ra(router_advert(0, 1800, [] {
			    Bytes b;
			    for (int i = 0; i < UMIGAME_RAGUARD_MAX_ND_OPTS + 1; i++)
				    b = concat({b, opt_mtu(1500)});
			    return b;
		    }())),
		 XDP_DROP, UMIGAME_RAG_MALFORMED},
		// RFC 7113 §3: RAs hosts must ignore (RFC 4861 §6.1.2) pass.
		{"hop_limit_64", with(legit, [](Frame &f) { f.hop_limit = 64; }), XDP_PASS,
		 UMIGAME_RAG_RA_NOT_ACCEPTABLE},
		{"global_source", ra(router_advert(), "2001:db8::1"), XDP_PASS,
		 UMIGAME_RAG_RA_NOT_ACCEPTABLE},
		// RFC 7113 §3: the whole chain is walked; RAs behind it are judged.
		{"legit_behind_4_ext",
		 ext({{kHopByHop}, {kDestOpts, 16}, {kRouting, 24}, {kDestOpts}}, legit), XDP_PASS,
		 UMIGAME_RAG_RA_TRUSTED},
		{"rogue_behind_hbh", ext({{kHopByHop}}, ra(router_advert(), "fe80::bad")), XDP_DROP,
		 UMIGAME_RAG_RA_UNTRUSTED_SOURCE},
		{"rogue_behind_8_ext",
		 ext(std::vector<ExtHeader>(UMIGAME_RAGUARD_MAX_EXT_HDRS, ExtHeader{kDestOpts}),
		     ra(router_advert(), "fe80::bad")),
		 XDP_DROP, UMIGAME_RAG_RA_UNTRUSTED_SOURCE},
		{"legit_behind_8_mixed_ext",
		 ext({{kHopByHop}, {kDestOpts, 16}, {kRouting, 24}, {kAh, 16}, {kDestOpts}, {139},
		      {253, 32}, {kDestOpts}},
		     legit),
		 XDP_PASS, UMIGAME_RAG_RA_TRUSTED},
		{"chain_too_long",
		 ext(std::vector<ExtHeader>(UMIGAME_RAGUARD_MAX_EXT_HDRS + 1, ExtHeader{kDestOpts}),
		     ra(router_advert(), "fe80::bad")),
		 XDP_DROP, UMIGAME_RAG_CHAIN_TOO_LONG},
		// RFC 6980 §5: ND in a fragment (an atomic one too) is dropped.
		{"atomic_fragment_ra", ext({{kFragment}}, legit), XDP_DROP, UMIGAME_RAG_ND_FRAGMENT},
		{"first_fragment_ra", ext({{kDestOpts}, {kFragment, 8, 0, true}}, legit), XDP_DROP,
		 UMIGAME_RAG_ND_FRAGMENT},
		// RFC 6980 §5 + RFC 5722: ND's signature in a fragment (thc -E O/o
		// send an echo request an overlapping fragment turns into an RA).
		{"fragmented_echo_hop255_ll",
		 ext({{kFragment, 8, 0, true}},
		     with(Frame{}, [](Frame &f) { f.upper = {128, 0, 0, 0, 0, 1, 0, 1}; })),
		 XDP_DROP, UMIGAME_RAG_ND_FRAGMENT},
		{"fragmented_echo_global_passes",
		 ext({{kFragment, 8, 0, true}}, with(Frame{}, [](Frame &f) {
			     f.src = "2001:db8::1";
			     f.hop_limit = 64;
			     f.upper = {128, 0, 0, 0, 0, 1, 0, 1};
		     })),
		 XDP_PASS, kNone},
		// RFC 7112 §5: first fragment whose chain stops before the upper layer.
		{"incomplete_chain",
		 with(ext({{kFragment, 8, 0, true}, {kDestOpts, 64}}, legit),
		      [](Frame &f) { f.upper.clear(); }),
		 XDP_DROP, UMIGAME_RAG_INCOMPLETE_CHAIN},
		// RFC 7113 §3: non-first fragments pass (their first one is dropped).
		{"nonfirst_fragment", ext({{kFragment, 8, 100, false}}, legit), XDP_PASS,
		 UMIGAME_RAG_NONFIRST_FRAGMENT},
		// 802.1Q and 802.1ad tags.
		{"vlan_legit", with(legit, [](Frame &f) { f.vlan_tpids = {0x8100}; }), XDP_PASS,
		 UMIGAME_RAG_RA_TRUSTED},
		{"vlan_rogue",
		 with(ra(router_advert(), "fe80::bad"), [](Frame &f) { f.vlan_tpids = {0x8100}; }),
		 XDP_DROP, UMIGAME_RAG_RA_UNTRUSTED_SOURCE},
		{"qinq_rogue",
		 with(ra(router_advert(), "fe80::bad"),
		      [](Frame &f) { f.vlan_tpids = {0x88a8, 0x8100}; }),
		 XDP_DROP, UMIGAME_RAG_RA_UNTRUSTED_SOURCE},
		// RFC 7610 §5: DHCPv6 server messages only from trusted servers.
		{"dhcp6_reply_trusted", dhcp, XDP_PASS, UMIGAME_RAG_DHCP6_SERVER_TRUSTED},
		{"dhcp6_advertise_rogue", with(dhcp, [](Frame &f) {
			 f.src = "fe80::bad";
			 f.upper = udp(547, 546, dhcp6(2));
		 }),
		 XDP_DROP, UMIGAME_RAG_DHCP6_SERVER_UNTRUSTED},
		{"dhcp6_reconfigure_rogue", with(dhcp, [](Frame &f) {
			 f.src = "fe80::bad";
			 f.upper = udp(547, 546, dhcp6(10));
		 }),
		 XDP_DROP, UMIGAME_RAG_DHCP6_SERVER_UNTRUSTED},
		{"dhcp6_relay_reply_rogue", with(dhcp, [](Frame &f) {
			 f.src = "2001:db8::bad";
			 f.upper = udp(547, 547, dhcp6(13));
		 }),
		 XDP_DROP, UMIGAME_RAG_DHCP6_SERVER_UNTRUSTED},
		{"dhcp6_rogue_behind_ext", with(ext({{kHopByHop}, {kDestOpts}}, dhcp), [](Frame &f) {
			 f.src = "fe80::bad";
		 }),
		 XDP_DROP, UMIGAME_RAG_DHCP6_SERVER_UNTRUSTED},
		{"dhcp6_solicit_passes", with(dhcp, [](Frame &f) {
			 f.src = "fe80::99";
			 f.upper = udp(546, 547, dhcp6(1));
		 }),
		 XDP_PASS, kNone},
		// Ordinary traffic passes without being counted.
		{"tcp", with(Frame{}, [](Frame &f) {
			 f.src = "2001:db8::1";
			 f.dst = "2001:db8::2";
			 f.upper_proto = kTcp;
			 f.upper = tcp_syn();
		 }),
		 XDP_PASS, kNone},
		{"icmpv6_echo", with(Frame{}, [](Frame &f) { f.upper = {128, 0, 0, 0, 0, 1, 0, 1}; }),
		 XDP_PASS, kNone},
		{"neighbour_solicit", with(Frame{}, [](Frame &f) { f.upper = Bytes(24, 0); f.upper[0] = 135; }),
		 XDP_PASS, kNone},
	};
}

TEST_F(RaGuardTestRun, VerdictTable)
{
	for (const auto &c : cases()) {
		SCOPED_TRACE(c.name);
		Outcome o = run(c.frame.serialize());
		EXPECT_EQ(o.action, c.action);
		EXPECT_EQ(o.reason, c.reason) << "moved counter: "
					      << (o.reason >= 0 ? raguard_reason_names[o.reason] : "none");
		EXPECT_LE(o.moved, 1);
	}
}

TEST_F(RaGuardTestRun, BlockAllPort)
{
	guard_->set_policy(kLo, parse_raguard_policy("[raguard]\nblock-all = true\n", "p"));
	Outcome o = run(ra(router_advert(0, 1800, kLegitOptions)).serialize());
	EXPECT_EQ(o.action, XDP_DROP);
	EXPECT_EQ(o.reason, UMIGAME_RAG_RA_BLOCK_ALL);
}

TEST_F(RaGuardTestRun, DropInvalidOptIn)
{
	guard_->set_policy(kLo, parse_raguard_policy(
					"[raguard]\nrouters = [\"fe80::1\"]\ndrop-invalid = true\n", "p"));
	Frame f = ra(router_advert());
	f.hop_limit = 1;
	Outcome o = run(f.serialize());
	EXPECT_EQ(o.action, XDP_DROP);
	EXPECT_EQ(o.reason, UMIGAME_RAG_RA_INVALID);
}

TEST_F(RaGuardTestRun, PortWithoutPolicyDropsRas)
{
	guard_->clear_policy(kLo);
	Outcome o = run(ra(router_advert()).serialize());
	EXPECT_EQ(o.action, XDP_DROP);
	EXPECT_EQ(o.reason, UMIGAME_RAG_NO_POLICY);
}

// A policy swap keeps judging by a complete policy: before it the old
// trusted router passes, after it only the new one does.
TEST_F(RaGuardTestRun, PolicySwapIsAtomicPerPacket)
{
	EXPECT_EQ(run(ra(router_advert()).serialize()).action, XDP_PASS);
	guard_->set_policy(kLo, parse_raguard_policy("[raguard]\nrouters = [\"fe80::9\"]\n", "p"));
	EXPECT_EQ(run(ra(router_advert()).serialize()).action, XDP_DROP);
	EXPECT_EQ(run(ra(router_advert(), "fe80::9").serialize()).action, XDP_PASS);
	auto ports = guard_->ports();
	ASSERT_EQ(ports.size(), 1u);
	EXPECT_EQ(ports[0].routers.size(), 1u) << "only the policy in force is listed";
}

// RFC 6105 §4 wants policy changes without a gap: while one thread flips the
// port between two policies as fast as it can, packets judged on another
// CPU see one whole policy or the other. Policy A trusts fe80::a for
// 2001:db8:a::/48, policy B trusts fe80::b for 2001:db8:b::/48; an RA from
// fe80::a for the A prefix is trusted (A) or untrusted (B). A mix of the two
// (A's router, B's prefixes) would say ra_prefix; no policy, no_policy.
TEST_F(RaGuardTestRun, PolicyFlipsUnderLoadNeverMix)
{
	const auto a = parse_raguard_policy(
		"[raguard]\nrouters = [\"fe80::a\"]\nprefixes = [\"2001:db8:a::/48\"]\n", "a");
	const auto b = parse_raguard_policy(
		"[raguard]\nrouters = [\"fe80::b\"]\nprefixes = [\"2001:db8:b::/48\"]\n", "b");
	guard_->set_policy(kLo, a);
	const Bytes frame = ra(router_advert(0, 1800, opt_prefix("2001:db8:a:1::/64")), "fe80::a")
				    .serialize();
	// The flipper runs until the judge has seen both verdicts (and at least
	// 200 flips), or a deadline passes: a fixed number of flips could end
	// before the first run started, proving nothing.
	std::atomic<bool> stop{false};
	std::atomic<unsigned> flips{0};
	std::thread flipper([&] {
		while (!stop) {
			guard_->set_policy(kLo, flips % 2 ? a : b);
			flips++;
		}
	});
	std::array<uint64_t, UMIGAME_RAG_REASON_COUNT> before{};
	auto c0 = counters();
	for (int r = 0; r < UMIGAME_RAG_REASON_COUNT; r++)
		before[r] = c0[r].packets;
	uint64_t runs = 0;
	bool saw_pass = false, saw_drop = false;
	// One run per call: on 6.18 a call with repeat > 1 costs an RCU grace
	// period (~16 ms), as long as a flip's, and the two lock into step so
	// that every call sees the same policy.
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
	while (!(saw_pass && saw_drop && flips >= 200) &&
	       std::chrono::steady_clock::now() < deadline) {
		xdp_md md{};
		md.data_end = uint32_t(frame.size());
		md.ingress_ifindex = kLo;
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
			    .data_size_in = uint32_t(frame.size()), .ctx_in = &md,
			    .ctx_size_in = sizeof(md), .repeat = 1);
		int err = bpf_prog_test_run_opts(guard_->prog_fd(), &opts);
		if (err != 0) {
			stop = true;
			flipper.join();
			FAIL() << "test run: " << err;
		}
		runs++;
		saw_pass = saw_pass || opts.retval == XDP_PASS;
		saw_drop = saw_drop || opts.retval == XDP_DROP;
	}
	stop = true;
	flipper.join();
	auto c1 = counters();
	uint64_t trusted = c1[UMIGAME_RAG_RA_TRUSTED].packets - before[UMIGAME_RAG_RA_TRUSTED];
	uint64_t untrusted = c1[UMIGAME_RAG_RA_UNTRUSTED_SOURCE].packets -
			     before[UMIGAME_RAG_RA_UNTRUSTED_SOURCE];
	EXPECT_EQ(c1[UMIGAME_RAG_RA_PREFIX].packets, before[UMIGAME_RAG_RA_PREFIX]);
	EXPECT_EQ(c1[UMIGAME_RAG_NO_POLICY].packets, before[UMIGAME_RAG_NO_POLICY]);
	EXPECT_EQ(guard_->unattributed()[UMIGAME_RAG_NO_POLICY].packets, 0u);
	EXPECT_EQ(trusted + untrusted, runs);
	EXPECT_GT(trusted, 0u);
	EXPECT_GT(untrusted, 0u) << "the flips never overlapped a run: the test proved nothing";
}

// RFC 6105 §3: trust by address, by MAC, or by both. On a port with a single
// trusted router the program decides inline, without the loop over the
// list; these are the cases that path must get right (the table above uses a
// port with several routers, which takes the loop).
TEST_F(RaGuardTestRun, SingleRouterPolicies)
{
	struct One {
		const char *policy;
		const char *src;
		const char *mac;
		int action;
		int reason;
	} cases[] = {
		{"routers = [\"fe80::1\"]", "fe80::1", "02:00:00:00:00:44", XDP_PASS,
		 UMIGAME_RAG_RA_TRUSTED},
		{"routers = [\"fe80::1\"]", "fe80::bad", "02:00:00:00:00:01", XDP_DROP,
		 UMIGAME_RAG_RA_UNTRUSTED_SOURCE},
		{"router-macs = [\"02:00:00:00:00:03\"]", "fe80::77", "02:00:00:00:00:03", XDP_PASS,
		 UMIGAME_RAG_RA_TRUSTED},
		{"router-macs = [\"02:00:00:00:00:03\"]", "fe80::77", "02:00:00:00:00:04", XDP_DROP,
		 UMIGAME_RAG_RA_UNTRUSTED_SOURCE},
		{"[[raguard.router]]\naddress = \"fe80::2\"\nmac = \"02:00:00:00:00:02\"", "fe80::2",
		 "02:00:00:00:00:02", XDP_PASS, UMIGAME_RAG_RA_TRUSTED},
		// The right address from another MAC is a spoof (RFC 6105 §4.1) …
		{"[[raguard.router]]\naddress = \"fe80::2\"\nmac = \"02:00:00:00:00:02\"", "fe80::2",
		 "02:00:00:00:00:66", XDP_DROP, UMIGAME_RAG_RA_UNTRUSTED_SOURCE},
		// … and the right MAC does not vouch for another address.
		{"[[raguard.router]]\naddress = \"fe80::2\"\nmac = \"02:00:00:00:00:02\"", "fe80::3",
		 "02:00:00:00:00:02", XDP_DROP, UMIGAME_RAG_RA_UNTRUSTED_SOURCE},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(std::string(c.policy) + " / " + c.src + " from " + c.mac);
		guard_->set_policy(kLo, parse_raguard_policy(std::string("[raguard]\n") + c.policy + "\n",
							     "p"));
		Outcome o = run(ra(router_advert(), c.src, c.mac).serialize());
		EXPECT_EQ(o.action, c.action);
		EXPECT_EQ(o.reason, c.reason);
	}
}

// Drop events are limited per port (event-burst at once, event-rate per
// second after that; the generic cell rate algorithm on jiffies), and every
// drop is still accounted for: sent as an event, lost (ring buffer full) or
// counted as suppressed under its reason, which `umigame raguard events`
// prints as "… and N more".
class RaGuardEventLimit : public RaGuardTestRun {
protected:
	static constexpr uint32_t kBurst = 20, kRate = 50;

	void SetUp() override
	{
		RaGuardTestRun::SetUp();
		guard_->set_policy(kLo, parse_raguard_policy("[raguard]\nrouters = [\"fe80::1\"]\n"
							     "event-burst = 20\nevent-rate = 50\n",
							     "limited"));
		tick_s_ = 1.0 / kernel_hz();
	}

	static double now_s()
	{
		timespec t{};
		clock_gettime(CLOCK_MONOTONIC, &t);
		return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
	}

	// The frame `repeat` times in one BPF_PROG_TEST_RUN call, as a flood.
	void flood(const Bytes &frame, uint32_t repeat, uint32_t verdict)
	{
		xdp_md md{};
		md.data_end = uint32_t(frame.size());
		md.ingress_ifindex = kLo;
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
			    .data_size_in = uint32_t(frame.size()), .ctx_in = &md,
			    .ctx_size_in = sizeof(md), .repeat = int(repeat));
		ASSERT_EQ(bpf_prog_test_run_opts(guard_->prog_fd(), &opts), 0) << strerror(errno);
		EXPECT_EQ(opts.retval, verdict);
	}

	std::vector<umigame_raguard_event> drain()
	{
		std::vector<umigame_raguard_event> out;
		RaGuardEventReader reader(*guard_, [&](const umigame_raguard_event &ev) {
			out.push_back(ev);
			return true;
		});
		reader.consume();
		return out;
	}

	double tick_s_ = 0;
};

// RFC 6104 §3.2 names the flood; RFC 6105 §4.1 drops it (ra_untrusted_source).
TEST_F(RaGuardEventLimit, RogueFloodSendsBurstPlusRateAndCountsTheRest)
{
	constexpr uint32_t kFlood = 200000;
	const Bytes rogue = ra(router_advert(), "fe80::66").serialize();
	drain();
	const auto before = counters();
	const RaGuardSuppressed before_s = guard_->suppressed();
	const uint64_t lost0 = guard_->events_lost();

	const double t0 = now_s();
	flood(rogue, kFlood, XDP_DROP);
	const double t1 = now_s();

	const auto after = counters();
	const auto events = drain();
	const uint64_t lost = guard_->events_lost() - lost0;
	const uint64_t drops = after[UMIGAME_RAG_RA_UNTRUSTED_SOURCE].packets -
			       before[UMIGAME_RAG_RA_UNTRUSTED_SOURCE].packets;
	const uint64_t suppressed = after[UMIGAME_RAG_RA_UNTRUSTED_SOURCE].suppressed -
				    before[UMIGAME_RAG_RA_UNTRUSTED_SOURCE].suppressed;
	EXPECT_EQ(drops, kFlood);
	EXPECT_EQ(lost, 0u) << "the ring buffer overflowed: the limit did not hold";
	// A fresh port sends its whole burst at once; then at most the rate,
	// over the flood's time plus one tick (the limit counts whole jiffies).
	const double bound = kBurst + kRate * (t1 - t0 + tick_s_);
	EXPECT_GE(events.size(), kBurst);
	EXPECT_LE(double(events.size()), bound) << "flood took " << (t1 - t0) << " s";
	// Exact: each drop was sent or suppressed, nothing else.
	EXPECT_EQ(events.size() + suppressed, drops);
	for (int r = 0; r < UMIGAME_RAG_REASON_COUNT; r++) {
		if (r != UMIGAME_RAG_RA_UNTRUSTED_SOURCE) {
			EXPECT_EQ(after[r].suppressed, before[r].suppressed) << raguard_reason_names[r];
		}
	}
	for (const auto &ev : events) {
		ASSERT_EQ(ev.reason, uint32_t(UMIGAME_RAG_RA_UNTRUSTED_SOURCE));
		ASSERT_EQ(ev.ifindex, kLo);
		Ipv6Address src;
		std::memcpy(src.bytes.data(), ev.src_addr, 16);
		ASSERT_EQ(src.str(), "fe80::66");
	}

	// What `umigame raguard events` prints after the events it showed.
	const auto deltas = suppressed_since(before_s, guard_->suppressed());
	ASSERT_EQ(deltas.size(), 1u);
	EXPECT_EQ(deltas[0].ifindex, kLo);
	EXPECT_EQ(deltas[0].total, suppressed);
	const std::string n = std::to_string(suppressed);
	EXPECT_EQ(format_suppressed("lo", deltas[0]),
		  "\u2026 and " + n + " more on lo (event limit): ra_untrusted_source " + n);
}

// After a pause the port reports again, at the rate: the bucket refills from
// the moment the flood stopped, never past the burst.
TEST_F(RaGuardEventLimit, RefillsAtTheRateAfterAPause)
{
	constexpr uint32_t kFlood = 20000;
	const Bytes rogue = ra(router_advert(), "fe80::66").serialize();
	drain();
	const uint64_t lost0 = guard_->events_lost();
	const double t0 = now_s();
	flood(rogue, kFlood, XDP_DROP);
	const double t1 = now_s();
	const size_t first = drain().size();
	// A pause in the flood (the behaviour under test is about time).
	std::this_thread::sleep_for(std::chrono::milliseconds(300));
	const double t2 = now_s();
	flood(rogue, kFlood, XDP_DROP);
	const double t3 = now_s();
	const size_t second = drain().size();
	EXPECT_EQ(guard_->events_lost(), lost0);

	EXPECT_GE(first, kBurst);
	// The bucket was empty when the first flood ended; the pause refilled
	// it by the rate over whole jiffies, at most up to the burst.
	const double refilled = std::min<double>(kBurst, kRate * (t2 - t1 - tick_s_));
	EXPECT_GE(double(second), std::floor(refilled)) << "pause " << (t2 - t1) << " s";
	EXPECT_LE(double(first + second), kBurst + kRate * (t3 - t0 + tick_s_));
	EXPECT_LE(second, size_t(kBurst + kRate * (t3 - t2 + tick_s_)) + 1)
		<< "more than a burst after the pause";
	auto c = counters();
	EXPECT_EQ(first + second + c[UMIGAME_RAG_RA_UNTRUSTED_SOURCE].suppressed,
		  c[UMIGAME_RAG_RA_UNTRUSTED_SOURCE].packets);
}

// The limit is per port: a port whose burst is spent does not silence
// another. Drops on a port without a policy have their own row and the
// default limit, which the loader set (event-burst 50).
TEST_F(RaGuardEventLimit, PortsHaveTheirOwnLimit)
{
	const Bytes rogue = ra(router_advert(), "fe80::66").serialize();
	drain();
	flood(rogue, 5000, XDP_DROP);
	const auto limited = drain();
	EXPECT_GE(limited.size(), kBurst);
	EXPECT_LT(limited.size(), size_t(UMIGAME_RAG_EVENT_BURST_DEFAULT));

	guard_->clear_policy(kLo);
	const double t0 = now_s();
	flood(rogue, 5000, XDP_DROP);
	const double t1 = now_s();
	const auto unattributed = drain();
	EXPECT_GE(unattributed.size(), size_t(UMIGAME_RAG_EVENT_BURST_DEFAULT));
	EXPECT_LE(double(unattributed.size()),
		  UMIGAME_RAG_EVENT_BURST_DEFAULT +
			  UMIGAME_RAG_EVENT_RATE_DEFAULT * (t1 - t0 + tick_s_));
	for (const auto &ev : unattributed)
		ASSERT_EQ(ev.reason, uint32_t(UMIGAME_RAG_NO_POLICY));
	const auto row = guard_->unattributed()[UMIGAME_RAG_NO_POLICY];
	EXPECT_EQ(row.packets, 5000u);
	EXPECT_EQ(unattributed.size() + row.suppressed, row.packets);
	const auto deltas = suppressed_since({}, guard_->suppressed());
	ASSERT_EQ(deltas.size(), 1u);
	EXPECT_EQ(deltas[0].ifindex, 0u);
	EXPECT_EQ(format_suppressed("", deltas[0]),
		  "\u2026 and " + std::to_string(row.suppressed) +
			  " more on ports without a policy (event limit): no_policy " +
			  std::to_string(row.suppressed));
}

// A burst of 0 sends no event at all; every drop is counted as suppressed.
TEST_F(RaGuardEventLimit, BurstZeroSendsNothing)
{
	guard_->set_policy(kLo, parse_raguard_policy("[raguard]\nrouters = [\"fe80::1\"]\n"
						     "event-burst = 0\n",
						     "silent"));
	drain();
	auto before = counters();
	flood(ra(router_advert(), "fe80::66").serialize(), 1000, XDP_DROP);
	EXPECT_EQ(drain().size(), 0u);
	auto after = counters();
	EXPECT_EQ(after[UMIGAME_RAG_RA_UNTRUSTED_SOURCE].suppressed -
			  before[UMIGAME_RAG_RA_UNTRUSTED_SOURCE].suppressed,
		  1000u);
}

// Every truncation of a rogue RA, and of a legit one inside an option,
// is dropped; none is an error.
TEST_F(RaGuardTestRun, TruncatedFramesNeverPass)
{
	Frame rogue = ra(router_advert(0, 1800, kLegitOptions), "fe80::bad");
	rogue.ext = {{kHopByHop}, {kDestOpts}};
	Bytes full = rogue.serialize();
	for (size_t len = 1; len < full.size(); len++) {
		SCOPED_TRACE("rogue truncated to " + std::to_string(len));
		Bytes cut(full.begin(), full.begin() + long(len));
		if (len < 14) {
			// Shorter than an Ethernet header: test-run refuses < 14 bytes.
			continue;
		}
		Outcome o = run(cut);
		// A cut before the IPv6 header's next-header byte is an IPv6
		// frame too short to judge: dropped as malformed.
		EXPECT_EQ(o.action, XDP_DROP);
	}
	Frame legit = ra(router_advert(0, 1800, kLegitOptions));
	full = legit.serialize();
	const size_t options_start = full.size() - kLegitOptions.size();
	for (size_t len = options_start + 1; len < full.size(); len++) {
		size_t into = len - options_start;
		// Cuts on an option boundary leave a valid, shorter RA.
		if (into == 8 || into == 16)
			continue;
		SCOPED_TRACE("legit truncated to " + std::to_string(len));
		Bytes cut(full.begin(), full.begin() + long(len));
		Outcome o = run(cut);
		EXPECT_EQ(o.action, XDP_DROP);
		EXPECT_EQ(o.reason, UMIGAME_RAG_MALFORMED);
	}
}

// Random bytes after the IPv6 header: never an error; anything claiming to
// be an RA from an untrusted source is never passed.
TEST_F(RaGuardTestRun, GarbageNeverPassesAsRa)
{
	std::mt19937 rng(20261123);
	const uint8_t nexthdrs[] = {kHopByHop, kRouting, kFragment, kDestOpts, kIcmpv6, kUdp, 135, 139,
				    140, 253, 51, 59, 50};
	for (int i = 0; i < 3000; i++) {
		Frame f;
		f.src = "fe80::bad";
		f.upper_proto = nexthdrs[rng() % sizeof(nexthdrs)];
		f.upper.resize(rng() % 200);
		for (auto &b : f.upper)
			b = uint8_t(rng());
		bool claims_ra = f.upper_proto == kIcmpv6 && !f.upper.empty();
		if (claims_ra)
			f.upper[0] = 134;
		Bytes frame = f.serialize();
		Outcome o = run(frame);
		ASSERT_TRUE(o.action == XDP_PASS || o.action == XDP_DROP) << "iteration " << i;
		if (claims_ra) {
			EXPECT_EQ(o.action, XDP_DROP) << "iteration " << i;
		}
	}
}

} // namespace
