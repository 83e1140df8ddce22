// BPF_PROG_TEST_RUN table tests of bpf/classify.bpf.c on the host kernel
// (issue 17). Each case builds a frame, runs the program with
// ingress_ifindex = lo against a rule table and checks the verdict, which
// per-reason counter moved and which rules' counters moved. RFC sections are
// named in the cases: RFC 9260 (SCTP), RFC 8260 (I-DATA), RFC 4340 (DCCP).
#include <filesystem>
#include <set>
#include <unistd.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include "classify.skel.h"
#include "frames.h"
#include "umigame/classify.h"

using namespace umigame::testing;

namespace {

constexpr uint32_t kLo = 1;
constexpr int kNone = -1;

umigame_cls_rule rule(uint32_t action)
{
	umigame_cls_rule r{};
	r.action = action;
	return r;
}

umigame_cls_rule chunk_rule(uint8_t type, uint32_t action = UMIGAME_CLS_COUNT)
{
	auto r = rule(action);
	r.match = UMIGAME_CLS_M_CHUNK;
	r.chunk_type = type;
	return r;
}

umigame_cls_rule ppid_rule(uint32_t ppid, uint32_t action = UMIGAME_CLS_DROP)
{
	auto r = rule(action);
	r.match = UMIGAME_CLS_M_PPID;
	r.ppid = ppid;
	return r;
}

umigame_cls_rule dccp_type_rule(uint8_t type, uint32_t action = UMIGAME_CLS_COUNT)
{
	auto r = rule(action);
	r.match = UMIGAME_CLS_M_DCCP_TYPE;
	r.dccp_type = type;
	return r;
}

class ClassifyTestRun : public ::testing::Test {
protected:
	void SetUp() override
	{
		dir_ = "/sys/fs/bpf/umigame-cls-test-" + std::to_string(getpid());
		std::filesystem::create_directories(dir_);
		LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = dir_.c_str());
		skel_ = classify__open_opts(&opts);
		ASSERT_NE(skel_, nullptr);
		ASSERT_EQ(classify__load(skel_), 0) << "the classifier does not load";
		ncpus_ = libbpf_num_possible_cpus();
	}

	void TearDown() override
	{
		if (skel_)
			classify__destroy(skel_);
		std::error_code ec;
		std::filesystem::remove_all(dir_, ec);
	}

	void set_rules(std::vector<umigame_cls_rule> rules, uint32_t flags = UMIGAME_CLS_F_FLOWS,
		       uint32_t n_cpus = 0)
	{
		auto t = std::make_unique<umigame_cls_table>();
		t->owner = kLo;
		t->ifindex = kLo;
		t->flags = flags;
		t->n_cpus = n_cpus;
		t->n_rules = uint32_t(rules.size());
		for (size_t i = 0; i < rules.size(); i++)
			t->rules[i] = rules[i];
		const uint32_t row = 0; // the instance's port_slot
		ASSERT_EQ(bpf_map__update_elem(skel_->maps.cls_tables, &row, sizeof(row), t.get(),
					       sizeof(*t), BPF_ANY),
			  0);
	}

	// Row 0 of cls_counters, summed over the CPUs.
	umigame_cls_port_counters counters() const
	{
		std::vector<umigame_cls_cpu_row> v(ncpus_);
		umigame_cls_port_counters s{};
		const uint32_t row = 0;
		EXPECT_EQ(bpf_map__lookup_elem(skel_->maps.cls_counters, &row, sizeof(row), v.data(),
					       v.size() * sizeof(v[0]), 0),
			  0);
		for (const auto &[c, scratch] : v) {
			for (int r = 0; r < UMIGAME_CLS_REASON_COUNT; r++)
				s.reasons[r].packets += c.reasons[r].packets;
			for (int r = 0; r < UMIGAME_CLS_MAX_RULES; r++)
				s.rules[r].packets += c.rules[r].packets;
		}
		return s;
	}

	struct Outcome {
		int action = -1;
		int reason = kNone;       // the one reason counter that moved
		int reasons_moved = 0;
		std::set<int> rules;      // the rules whose counters moved
	};

	Outcome run(const Bytes &frame, uint32_t ingress_ifindex = kLo)
	{
		const umigame_cls_port_counters before = counters();
		xdp_md md{};
		md.data_end = uint32_t(frame.size());
		md.ingress_ifindex = ingress_ifindex;
		Bytes out(frame.size() + 256);
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
			    .data_size_in = uint32_t(frame.size()),
			    .data_size_out = uint32_t(out.size()), .ctx_in = &md,
			    .ctx_size_in = sizeof(md), .repeat = 1);
		int err = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.umigame_classify), &opts);
		EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN failed: " << strerror(errno);
		Outcome o;
		o.action = int(opts.retval);
		const umigame_cls_port_counters after = counters();
		for (int r = 0; r < UMIGAME_CLS_REASON_COUNT; r++) {
			if (after.reasons[r].packets != before.reasons[r].packets) {
				EXPECT_EQ(after.reasons[r].packets - before.reasons[r].packets, 1u);
				o.reasons_moved++;
				o.reason = r;
			}
		}
		for (int r = 0; r < UMIGAME_CLS_MAX_RULES; r++)
			if (after.rules[r].packets != before.rules[r].packets)
				o.rules.insert(r);
		return o;
	}

	std::string dir_;
	classify *skel_ = nullptr;
	int ncpus_ = 1;
};


// A valid chunk of each type (RFC 9260 §3.3, RFC 8260 §2.1, RFC 4895 §4.1,
// RFC 3758 §3.2), and whether it must travel alone (§6.10).
struct ChunkCase {
	const char *name;
	uint8_t type;
	Bytes chunk;
	bool alone;
};

std::vector<ChunkCase> chunk_cases()
{
	return {
		{"DATA_rfc9260_3_3_1", 0, data_chunk(46), false},
		{"INIT_rfc9260_3_3_2", 1, init_chunk(1), true},
		{"INIT_ACK_rfc9260_3_3_3", 2, init_chunk(2, 0x55667788, 5, 5, {0, 7, 0, 8, 1, 2, 3, 4}), true},
		{"SACK_rfc9260_3_3_4", 3, sack_chunk(), false},
		{"HEARTBEAT_rfc9260_3_3_5", 4, heartbeat_chunk(4), false},
		{"HEARTBEAT_ACK_rfc9260_3_3_6", 5, heartbeat_chunk(5), false},
		{"ABORT_rfc9260_3_3_7", 6, chunk(6, 0, {}), false},
		{"SHUTDOWN_rfc9260_3_3_8", 7, chunk(7, 0, {0, 0, 3, 0xe7}), false},
		{"SHUTDOWN_ACK_rfc9260_3_3_9", 8, chunk(8, 0, {}), false},
		{"ERROR_rfc9260_3_3_10", 9, chunk(9, 0, {0, 1, 0, 8, 0, 5, 0, 0}), false},
		{"COOKIE_ECHO_rfc9260_3_3_11", 10, chunk(10, 0, {9, 9, 9, 9, 9, 9, 9, 9}), false},
		{"COOKIE_ACK_rfc9260_3_3_12", 11, chunk(11, 0, {}), false},
		{"ECNE_rfc9260_appA", 12, chunk(12, 0, {0, 0, 3, 0xe8}), false},
		{"CWR_rfc9260_appA", 13, chunk(13, 0, {0, 0, 3, 0xe8}), false},
		{"SHUTDOWN_COMPLETE_rfc9260_3_3_13", 14, chunk(14, 0, {}), true},
		{"AUTH_rfc4895_4_1", 15, chunk(15, 0, {0, 1, 0, 1, 1, 2, 3, 4}), false},
		{"I_DATA_rfc8260_2_1", 64, idata_chunk(60, 0x03), false},
		{"FORWARD_TSN_rfc3758_3_2", 192, chunk(192, 0, {0, 0, 3, 0xe8}), false},
	};
}

// Every chunk type is found, alone or (where §6.10 allows bundling) as the
// third chunk behind a SACK and a HEARTBEAT; exactly its rule counts.
TEST_F(ClassifyTestRun, EveryChunkTypeFoundAnywhere)
{
	auto cases = chunk_cases();
	std::vector<umigame_cls_rule> rules;
	for (const auto &c : cases)
		rules.push_back(chunk_rule(c.type));
	set_rules(rules);
	for (size_t i = 0; i < cases.size(); i++) {
		const auto &c = cases[i];
		const uint32_t vtag = c.type == 1 ? 0 : 0xabcdef01; // §8.5.1: INIT has tag 0
		for (int fam : {4, 6}) {
			Bytes l4 = sctp(vtag, {c.chunk});
			auto o = run(fam == 4 ? v4(l4) : v6(l4));
			EXPECT_EQ(o.action, XDP_PASS) << c.name;
			EXPECT_EQ(o.reason, UMIGAME_CLS_SCTP) << c.name << " IPv" << fam;
			EXPECT_EQ(o.rules, std::set<int>{int(i)}) << c.name << " IPv" << fam;
			if (c.alone)
				continue;
			// Bundled behind two others (and SACK/HEARTBEAT's own rules count too).
			Bytes bundled = sctp(vtag, {sack_chunk(), heartbeat_chunk(), c.chunk});
			o = run(fam == 4 ? v4(bundled) : v6(bundled));
			std::set<int> want = {3, 4, int(i)};
			EXPECT_EQ(o.reason, UMIGAME_CLS_SCTP) << c.name << " bundled";
			EXPECT_EQ(o.rules, want) << c.name << " bundled IPv" << fam;
		}
	}
}

// What one packet leaves in the per-CPU row never matches the next: the
// words of chunk types 64-255 are zeroed only when a packet holds one
// (bpf/classify.bpf.c, struct cls_pkt), the PPID count with every packet,
// and a chunk rule does not test the protocol.
TEST_F(ClassifyTestRun, OnePacketsChunksNeverMatchTheNext)
{
	set_rules({chunk_rule(64), chunk_rule(192), ppid_rule(60, UMIGAME_CLS_COUNT)});
	auto o = run(v4(sctp(1, {idata_chunk(60, 0x03), chunk(192, 0, {0, 0, 3, 0xe8})})));
	EXPECT_EQ(o.rules, (std::set<int>{0, 1, 2}));
	o = run(v4(sctp(1, {sack_chunk()})));
	EXPECT_EQ(o.reason, UMIGAME_CLS_SCTP);
	EXPECT_TRUE(o.rules.empty());
	o = run(v4(sctp(1, {chunk(192, 0, {0, 0, 3, 0xe8})})));
	EXPECT_EQ(o.rules, std::set<int>{1});
	o = run(v6(sctp(1, {idata_chunk(7, 0x01)})));
	EXPECT_EQ(o.rules, std::set<int>{0});

	// A DCCP packet has no chunks: nothing an SCTP packet left matches it.
	set_rules({chunk_rule(0), chunk_rule(64), ppid_rule(60, UMIGAME_CLS_COUNT)});
	o = run(v4(sctp(1, {data_chunk(60), idata_chunk(60, 0x02)})));
	EXPECT_EQ(o.rules, (std::set<int>{0, 1, 2}));
	Dccp d;
	o = run(v4(d.serialize(), kDccp));
	EXPECT_EQ(o.reason, UMIGAME_CLS_DCCP);
	EXPECT_TRUE(o.rules.empty());
}

// §6.10: INIT, INIT ACK and SHUTDOWN COMPLETE must not be bundled.
TEST_F(ClassifyTestRun, SoloChunksBundledAreMalformed)
{
	set_rules({chunk_rule(1, UMIGAME_CLS_PASS), chunk_rule(2, UMIGAME_CLS_PASS),
		   chunk_rule(14, UMIGAME_CLS_PASS)});
	for (auto c : {init_chunk(1), init_chunk(2), chunk(14, 0, {})}) {
		auto o = run(v4(sctp(c[0] == 1 ? 0 : 7, {c, data_chunk(1)})));
		EXPECT_EQ(o.action, XDP_DROP) << int(c[0]);
		EXPECT_EQ(o.reason, UMIGAME_CLS_MALFORMED_CHUNK) << int(c[0]);
		EXPECT_TRUE(o.rules.empty()) << int(c[0]);
	}
}

// §3.3.1: the PPID of any DATA chunk, the matching one the fourth of four.
TEST_F(ClassifyTestRun, PpidOfFourthDataChunk)
{
	set_rules({ppid_rule(60)}); // 60: NGAP
	auto pkt = sctp(1, {data_chunk(18), data_chunk(46), data_chunk(18), data_chunk(60, 7)});
	auto o = run(v4(pkt));
	EXPECT_EQ(o.action, XDP_DROP);
	EXPECT_EQ(o.reason, UMIGAME_CLS_SCTP);
	EXPECT_EQ(o.rules, std::set<int>{0});
	o = run(v4(sctp(1, {data_chunk(18), data_chunk(46), data_chunk(18), data_chunk(61)})));
	EXPECT_EQ(o.action, XDP_PASS);
	EXPECT_TRUE(o.rules.empty());
}

// RFC 8260 §2.1: an I-DATA chunk carries a PPID only with B set; otherwise
// the same field is the Fragment Sequence Number and must not match.
TEST_F(ClassifyTestRun, IDataPpidOnlyInFirstFragment)
{
	set_rules({ppid_rule(60)});
	auto o = run(v6(sctp(1, {idata_chunk(60, 0x02)})));
	EXPECT_EQ(o.action, XDP_DROP);
	EXPECT_EQ(o.rules, std::set<int>{0});
	o = run(v6(sctp(1, {idata_chunk(60, 0x01)}))); // E only: FSN 60
	EXPECT_EQ(o.action, XDP_PASS);
	EXPECT_EQ(o.reason, UMIGAME_CLS_SCTP);
	EXPECT_TRUE(o.rules.empty());
	o = run(v6(sctp(1, {sack_chunk(), idata_chunk(5, 0x00), idata_chunk(60, 0x03)})));
	EXPECT_EQ(o.action, XDP_DROP);
}

// RFC 4340 §5.1: every packet type with X=1, and Data/Ack/DataAck with X=0;
// exactly its rule counts.
TEST_F(ClassifyTestRun, EveryDccpPacketType)
{
	std::vector<umigame_cls_rule> rules;
	for (uint8_t t = 0; t <= 9; t++)
		rules.push_back(dccp_type_rule(t));
	set_rules(rules);
	for (uint8_t t = 0; t <= 9; t++) {
		for (bool x : {true, false}) {
			if (!x && t != 2 && t != 3 && t != 4)
				continue;
			Dccp d;
			d.type = t;
			d.x = x;
			for (int fam : {4, 6}) {
				auto o = run(fam == 4 ? v4(d.serialize(), kDccp) : v6(d.serialize(), kDccp));
				EXPECT_EQ(o.action, XDP_PASS) << int(t) << " x=" << x;
				EXPECT_EQ(o.reason, UMIGAME_CLS_DCCP) << int(t) << " x=" << x << " IPv" << fam;
				EXPECT_EQ(o.rules, std::set<int>{t}) << int(t) << " x=" << x;
			}
		}
	}
}

// RFC 4340 §5.4/§5.5: the service code of Request and Response; a Data
// packet whose bytes at that place equal it does not match.
TEST_F(ClassifyTestRun, DccpServiceCode)
{
	auto r = rule(UMIGAME_CLS_DROP);
	r.match = UMIGAME_CLS_M_SERVICE;
	r.service = 0x50455246; // "PERF"
	set_rules({r});
	for (uint8_t t : {0, 1}) {
		Dccp d;
		d.type = t;
		d.service = 0x50455246;
		auto o = run(v4(d.serialize(), kDccp));
		EXPECT_EQ(o.action, XDP_DROP) << int(t);
		EXPECT_EQ(o.rules, std::set<int>{0});
		d.service = 0x50455247;
		EXPECT_EQ(run(v6(d.serialize(), kDccp)).action, XDP_PASS) << int(t);
	}
	Dccp data;
	data.type = 2;
	data.payload = {0x50, 0x45, 0x52, 0x46};
	auto o = run(v4(data.serialize(), kDccp));
	EXPECT_EQ(o.action, XDP_PASS);
	EXPECT_TRUE(o.rules.empty());
}

// IPv6 extension headers (RFC 8200 §4) and VLAN tags (802.1Q, QinQ), IPv4
// options (RFC 791): the same SCTP DATA found behind each.
TEST_F(ClassifyTestRun, BehindExtensionHeadersTagsAndOptions)
{
	set_rules({ppid_rule(60)});
	Bytes l4 = sctp(9, {data_chunk(60)});
	std::vector<std::pair<std::string, Bytes>> frames = {
		{"hbh+dst+routing", v6(l4, kSctp, {{kHopByHop}, {kDestOpts, 16}, {kRouting, 24}})},
		{"ah", v6(l4, kSctp, {{kAh, 16}})},
		{"atomic fragment", v6(l4, kSctp, {{kFragment}})},
		{"8 ext headers", v6(l4, kSctp, std::vector<ExtHeader>(8, ExtHeader{kDestOpts}))},
		{"802.1Q v6", v6(l4, kSctp, {}, {0x8100})},
		{"QinQ v6 + hbh", v6(l4, kSctp, {{kHopByHop}}, {0x88a8, 0x8100})},
	};
	for (uint8_t ihl : {6, 15}) {
		Packet p;
		p.ihl_words = ihl;
		p.vlan_tpids = {0x88a8, 0x8100};
		p.l4 = l4;
		frames.push_back({"QinQ v4 ihl " + std::to_string(ihl), p.serialize()});
	}
	for (const auto &[name, f] : frames) {
		auto o = run(f);
		EXPECT_EQ(o.action, XDP_DROP) << name;
		EXPECT_EQ(o.reason, UMIGAME_CLS_SCTP) << name;
		EXPECT_EQ(o.rules, std::set<int>{0}) << name;
	}
	// A ninth extension header: the chain is not walked to its end.
	auto o = run(v6(l4, kSctp, std::vector<ExtHeader>(9, ExtHeader{kDestOpts})));
	EXPECT_EQ(o.reason, UMIGAME_CLS_BAD_IP);
	EXPECT_TRUE(o.rules.empty());
}

// Non-first fragments (RFC 791, RFC 8200 §4.5) are counted apart and pass:
// no rule can judge them.
TEST_F(ClassifyTestRun, NonFirstFragmentsCountedApart)
{
	set_rules({rule(UMIGAME_CLS_DROP)}); // drop everything SCTP/DCCP
	Packet p;
	p.frag = 0x0010; // offset 16 * 8
	p.l4 = {1, 2, 3, 4, 5, 6, 7, 8};
	auto o = run(p.serialize());
	EXPECT_EQ(o.action, XDP_PASS);
	EXPECT_EQ(o.reason, UMIGAME_CLS_NONFIRST_FRAGMENT);
	EXPECT_TRUE(o.rules.empty());
	o = run(v6({1, 2, 3, 4, 5, 6, 7, 8}, kDccp, {{kFragment, 8, 100, false}}));
	EXPECT_EQ(o.action, XDP_PASS);
	EXPECT_EQ(o.reason, UMIGAME_CLS_NONFIRST_FRAGMENT);
	// A first fragment is judged on what it holds (its cut chunk is fine).
	Bytes l4 = sctp(9, {data_chunk(60), data_chunk(61, 1, Bytes(64, 0))});
	l4.resize(l4.size() - 20);
	Packet first;
	first.frag = 0x2000; // MF
	first.l4 = l4;
	o = run(first.serialize());
	EXPECT_EQ(o.action, XDP_DROP);
	EXPECT_EQ(o.reason, UMIGAME_CLS_SCTP);
}

// Traffic that is neither SCTP nor DCCP passes uncounted.
TEST_F(ClassifyTestRun, OtherTrafficUntouched)
{
	set_rules({rule(UMIGAME_CLS_DROP)});
	for (uint8_t proto : {uint8_t(6), uint8_t(17), uint8_t(58)}) {
		for (auto f : {v4(Bytes(20, 0), proto), v6(Bytes(20, 0), proto, {{kHopByHop}})}) {
			auto o = run(f);
			EXPECT_EQ(o.action, XDP_PASS);
			EXPECT_EQ(o.reasons_moved, 0);
			EXPECT_TRUE(o.rules.empty());
		}
	}
}

// An instance serves its row's port only: packets on another port, or on
// a port whose row has no rules yet, pass untouched and uncounted.
TEST_F(ClassifyTestRun, RowServesItsPortOnly)
{
	set_rules({rule(UMIGAME_CLS_DROP)});
	const Bytes data = v4(sctp(1, {data_chunk(42)}));
	auto o = run(data, kLo + 1);
	EXPECT_EQ(o.action, XDP_PASS);
	EXPECT_EQ(o.reasons_moved, 0);
	EXPECT_TRUE(o.rules.empty());
	o = run(data);
	EXPECT_EQ(o.action, XDP_DROP);
	EXPECT_EQ(o.reason, UMIGAME_CLS_SCTP);

	// Attached, no rules loaded: the row is held (owner) but serves none.
	auto t = std::make_unique<umigame_cls_table>();
	t->owner = kLo;
	const uint32_t row = 0;
	ASSERT_EQ(bpf_map__update_elem(skel_->maps.cls_tables, &row, sizeof(row), t.get(), sizeof(*t),
				       BPF_ANY),
		  0);
	o = run(data);
	EXPECT_EQ(o.action, XDP_PASS);
	EXPECT_EQ(o.reasons_moved, 0);
}

struct Malformed {
	const char *name;
	Bytes frame;
	int reason;
};

std::vector<Malformed> malformed_cases()
{
	Dccp req;
	req.type = 0;
	req.service = 42;
	auto dccp = [](auto change) {
		Dccp d;
		d.type = 0;
		d.service = 42;
		change(d);
		return v4(d.serialize(), kDccp);
	};
	Bytes trailing = sctp(1, {data_chunk(42)});
	trailing.insert(trailing.end(), {0, 0});
	std::vector<Bytes> seventeen(17, data_chunk(42));
	return {
		{"chunk_length_0_rfc9260_3_2", v4(sctp(1, {chunk(0, 3, Bytes(16, 0), 0)})),
		 UMIGAME_CLS_MALFORMED_CHUNK},
		{"chunk_length_3_rfc9260_3_2", v4(sctp(1, {data_chunk(42), chunk(9, 0, {}, 3)})),
		 UMIGAME_CLS_MALFORMED_CHUNK},
		{"chunk_beyond_packet_rfc9260_3_2", v4(sctp(1, {data_chunk(42), chunk(0, 3, Bytes(16, 0), 200)})),
		 UMIGAME_CLS_BAD_LENGTH},
		{"trailing_bytes_rfc9260_3_2", v4(trailing), UMIGAME_CLS_BAD_LENGTH},
		{"data_without_user_data_rfc9260_3_3_1", v4(sctp(1, {chunk(0, 3, Bytes(12, 0))})),
		 UMIGAME_CLS_MALFORMED_CHUNK},
		{"init_tag_0_rfc9260_3_3_2", v4(sctp(0, {init_chunk(1, 0)})), UMIGAME_CLS_MALFORMED_CHUNK},
		{"init_os_0_rfc9260_3_3_2", v4(sctp(0, {init_chunk(1, 5, 0)})), UMIGAME_CLS_MALFORMED_CHUNK},
		{"init_vtag_not_0_rfc9260_8_5_1", v4(sctp(5, {init_chunk(1)})), UMIGAME_CLS_MALFORMED_CHUNK},
		{"shutdown_length_12_rfc9260_3_3_8", v4(sctp(1, {chunk(7, 0, {0, 0, 0, 1, 0, 0, 0, 0})})),
		 UMIGAME_CLS_MALFORMED_CHUNK},
		{"shutdown_length_4_rfc9260_3_3_8", v4(sctp(1, {chunk(7, 0, {})})), UMIGAME_CLS_MALFORMED_CHUNK},
		{"shutdown_ack_length_8_rfc9260_3_3_9", v4(sctp(1, {chunk(8, 0, {0, 0, 0, 0})})),
		 UMIGAME_CLS_MALFORMED_CHUNK},
		{"cookie_echo_without_cookie_rfc9260_3_3_11", v4(sctp(1, {chunk(10, 0, {})})),
		 UMIGAME_CLS_MALFORMED_CHUNK},
		{"no_chunk_rfc9260_3_1", v4(sctp(1, {})), UMIGAME_CLS_MALFORMED_CHUNK},
		{"seventeen_chunks", v4(sctp(1, seventeen)), UMIGAME_CLS_TOO_MANY_CHUNKS},
		{"dccp_doff_beyond_packet_rfc4340_5_1", dccp([](Dccp &d) { d.doff_override = 60; }),
		 UMIGAME_CLS_BAD_LENGTH},
		{"dccp_doff_below_header_rfc4340_5_1", dccp([](Dccp &d) { d.doff_override = 4; }),
		 UMIGAME_CLS_BAD_LENGTH},
		{"dccp_cscov_beyond_packet_rfc4340_9_2", dccp([](Dccp &d) { d.cscov = 15; }),
		 UMIGAME_CLS_BAD_LENGTH},
		{"dccp_reserved_type_rfc4340_5_1", dccp([](Dccp &d) { d.type = 12; }),
		 UMIGAME_CLS_MALFORMED_CHUNK},
		{"dccp_request_x0_rfc4340_5_1", dccp([](Dccp &d) { d.x = false; }),
		 UMIGAME_CLS_MALFORMED_CHUNK},
		{"sctp_shorter_than_common_header", v4(Bytes(8, 0)), UMIGAME_CLS_TRUNCATED},
	};
}

// Malformed packets are counted under their reason, never matched, and
// dropped (or passed, if the table says so).
TEST_F(ClassifyTestRun, MalformedCountedNeverMatched)
{
	auto any = rule(UMIGAME_CLS_COUNT); // matches every well-formed packet
	for (uint32_t flags : {0u, uint32_t(UMIGAME_CLS_F_PASS_MALFORMED)}) {
		set_rules({any, chunk_rule(0), ppid_rule(42), dccp_type_rule(0)}, flags);
		for (const auto &c : malformed_cases()) {
			auto o = run(c.frame);
			EXPECT_EQ(o.reason, c.reason) << c.name;
			EXPECT_EQ(o.reasons_moved, 1) << c.name;
			EXPECT_TRUE(o.rules.empty()) << c.name;
			EXPECT_EQ(o.action, flags ? XDP_PASS : XDP_DROP) << c.name;
		}
	}
}

// Every truncation of every test frame (the IP length still says the whole
// packet): never a match, never an error, counted as truncated once the IP
// header is whole, untouched before.
TEST_F(ClassifyTestRun, EveryTruncationOfEveryFrame)
{
	std::vector<umigame_cls_rule> rules = {rule(UMIGAME_CLS_COUNT)};
	set_rules(rules);
	std::vector<std::pair<std::string, Bytes>> frames;
	for (const auto &c : chunk_cases()) {
		Bytes l4 = sctp(c.type == 1 ? 0 : 5, {c.chunk});
		frames.push_back({c.name, v4(l4)});
		frames.push_back({std::string(c.name) + " v6 QinQ ext",
				  v6(l4, kSctp, {{kHopByHop}, {kFragment}}, {0x88a8, 0x8100})});
	}
	frames.push_back({"bundled", v4(sctp(5, {sack_chunk(), data_chunk(1), data_chunk(2), data_chunk(60)}))});
	for (uint8_t t = 0; t <= 9; t++) {
		Dccp d;
		d.type = t;
		frames.push_back({"dccp " + std::to_string(t), v6(d.serialize(), kDccp, {{kDestOpts}}, {0x8100})});
		frames.push_back({"dccp v4 " + std::to_string(t), v4(d.serialize(), kDccp)});
	}
	size_t runs = 0;
	for (const auto &[name, f] : frames) {
		// The whole frame first: it must be a match, or the cuts prove nothing.
		auto whole = run(f);
		ASSERT_EQ(whole.rules, std::set<int>{0}) << name;
		for (size_t len = 0; len < f.size(); len++) {
			Bytes cut(f.begin(), f.begin() + long(len));
			if (cut.size() < 14)
				continue; // BPF_PROG_TEST_RUN refuses frames below ETH_HLEN
			auto o = run(cut);
			runs++;
			ASSERT_TRUE(o.rules.empty()) << name << " cut to " << len;
			ASSERT_TRUE(o.action == XDP_PASS || o.action == XDP_DROP) << name << " " << len;
			if (o.reasons_moved) {
				EXPECT_NE(o.reason, UMIGAME_CLS_SCTP) << name << " " << len;
				EXPECT_NE(o.reason, UMIGAME_CLS_DCCP) << name << " " << len;
				EXPECT_EQ(o.action, XDP_DROP) << name << " " << len;
			}
		}
	}
	EXPECT_GT(runs, 2000u);
}

// Rate limit (the SYN-flood analogue): INITs of one source beyond its burst
// are dropped; another source's INIT still passes; DATA is never limited.
TEST_F(ClassifyTestRun, InitRateLimitPerSource)
{
	auto rl = rule(UMIGAME_CLS_RATE_LIMIT);
	rl.rate = 1;
	rl.burst = 2;
	set_rules({rl});
	auto init_from = [](const std::string &src) {
		Packet p;
		p.src4 = src;
		p.l4 = sctp(0, {init_chunk(1)});
		return p.serialize();
	};
	EXPECT_EQ(run(init_from("192.0.2.66")).action, XDP_PASS);
	EXPECT_EQ(run(init_from("192.0.2.66")).action, XDP_PASS);
	auto o = run(init_from("192.0.2.66"));
	EXPECT_EQ(o.action, XDP_DROP);
	EXPECT_EQ(o.reasons_moved, 2); // counted as SCTP and as rate-limited
	EXPECT_EQ(run(init_from("192.0.2.7")).action, XDP_PASS);
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(run(v4(sctp(1, {data_chunk(1)}))).action, XDP_PASS);
	Dccp req;
	req.type = 0;
	for (int i = 0; i < 2; i++)
		EXPECT_EQ(run(v4(req.serialize(), kDccp)).action, XDP_PASS);
	EXPECT_EQ(run(v4(req.serialize(), kDccp)).action, XDP_DROP);
}

// The rewrite needs umigame.ko's CRC32c (absent on the host): a matching
// packet is dropped as cannot_rewrite rather than passed half-translated;
// one the rule does not match passes untouched.
TEST_F(ClassifyTestRun, RewriteWithoutTheModuleDrops)
{
	auto r = rule(UMIGAME_CLS_REWRITE);
	r.match = UMIGAME_CLS_M_PROTO | UMIGAME_CLS_M_DPORT;
	r.proto = kSctp;
	r.dport_lo = r.dport_hi = 7000;
	r.to_dport = 5000;
	set_rules({r});
	auto o = run(v4(sctp(1, {data_chunk(1)}, 1234, 7000)));
	EXPECT_EQ(o.action, XDP_DROP);
	EXPECT_EQ(o.reasons_moved, 2); // counted as SCTP and as cannot_rewrite
	EXPECT_EQ(o.reason, int(UMIGAME_CLS_CANNOT_REWRITE));
	EXPECT_EQ(o.rules, std::set<int>{0});
	EXPECT_EQ(run(v4(sctp(1, {data_chunk(1)}, 1234, 7001))).action, XDP_PASS);
}

// Address, port and protocol matches; redirect to an ifindex and a cpumap.
TEST_F(ClassifyTestRun, AddressPortMatchesAndRedirects)
{
	auto r = rule(UMIGAME_CLS_REDIRECT);
	r.match = UMIGAME_CLS_M_SRC | UMIGAME_CLS_M_DPORT | UMIGAME_CLS_M_PROTO;
	inet_pton(AF_INET6, "2001:db8::", r.src);
	memset(r.src_mask, 0xff, 4); // /32
	r.dport_lo = 36412;
	r.dport_hi = 36412; // S1AP
	r.proto = kSctp;
	r.target = 1;
	auto c = rule(UMIGAME_CLS_REDIRECT_CPU);
	c.match = UMIGAME_CLS_M_FAMILY;
	c.family = 4;
	set_rules({r, c}, UMIGAME_CLS_F_FLOWS, 1);
	bpf_cpumap_val v{};
	v.qsize = 192;
	uint32_t zero = 0;
	ASSERT_EQ(bpf_map__update_elem(skel_->maps.cls_cpumap, &zero, sizeof(zero), &v, sizeof(v), 0), 0);
	EXPECT_EQ(run(v6(sctp(1, {data_chunk(1)}, 1234, 36412))).action, XDP_REDIRECT);
	EXPECT_EQ(run(v6(sctp(1, {data_chunk(1)}, 1234, 36413))).action, XDP_PASS);
	Packet other;
	other.family = 6;
	other.src6 = "2001:db9::1";
	other.l4 = sctp(1, {data_chunk(1)}, 1234, 36412);
	EXPECT_EQ(run(other.serialize()).action, XDP_PASS);
	EXPECT_EQ(run(v4(sctp(1, {data_chunk(1)}))).action, XDP_REDIRECT); // the cpumap
}

// Address rules read the addresses where the IP header is, behind 0 to 2
// VLAN tags, IPv4 and IPv6, source and destination: a /24 or /64 prefix
// matches, the next prefix does not. A port rule before them on the same
// packet leaves the addresses to be read by the first rule that needs them.
TEST_F(ClassifyTestRun, AddressRulesBehindVlanTags)
{
	auto sport = rule(UMIGAME_CLS_COUNT);
	sport.match = UMIGAME_CLS_M_SPORT;
	sport.sport_lo = sport.sport_hi = 1234;
	// A count rule on the prefix (bytes long) of the source or destination.
	auto prefix_rule = [](int family, bool dst, const char *prefix, size_t bytes) {
		auto r = rule(UMIGAME_CLS_COUNT);
		r.match = UMIGAME_CLS_M_FAMILY | (dst ? UMIGAME_CLS_M_DST : UMIGAME_CLS_M_SRC);
		r.family = uint8_t(family);
		inet_pton(family == 4 ? AF_INET : AF_INET6, prefix, dst ? r.dst : r.src);
		memset(dst ? r.dst_mask : r.src_mask, 0xff, bytes);
		return r;
	};
	const auto v4_src = prefix_rule(4, false, "192.0.2.0", 3), v4_dst = prefix_rule(4, true, "198.51.100.0", 3),
		   v6_src = prefix_rule(6, false, "2001:db8::", 8), v6_dst = prefix_rule(6, true, "2001:db8:0:2::", 8);
	set_rules({sport, v4_src, v4_dst, v6_src, v6_dst}, 0);
	const std::vector<uint16_t> tag_sets[] = {{}, {0x8100}, {0x88a8, 0x8100}};
	for (const auto &tpids : tag_sets) {
		const size_t tags = tpids.size();
		Packet p;
		p.vlan_tpids = tpids;
		p.l4 = sctp(1, {data_chunk(1)}, 1234, 5000);
		EXPECT_EQ(run(p.serialize()).rules, (std::set<int>{0, 1, 2})) << tags << " tags";
		p.src4 = "192.0.3.1";
		EXPECT_EQ(run(p.serialize()).rules, (std::set<int>{0, 2})) << tags << " tags";
		p.dst4 = "198.51.101.2";
		EXPECT_EQ(run(p.serialize()).rules, (std::set<int>{0})) << tags << " tags";
		p.family = 6;
		p.dst6 = "2001:db8:0:2::2";
		EXPECT_EQ(run(p.serialize()).rules, (std::set<int>{0, 3, 4})) << tags << " tags";
		p.src6 = "2001:db8:0:1::1"; // outside 2001:db8::/64
		EXPECT_EQ(run(p.serialize()).rules, (std::set<int>{0, 4})) << tags << " tags";
	}
}

// Flows: SCTP by verification tag, so a multihomed association's second
// path is the same flow; DCCP by 5-tuple.
TEST_F(ClassifyTestRun, FlowsKeyedByVerificationTag)
{
	set_rules({});
	for (const char *src : {"192.0.2.1", "192.0.2.99", "192.0.2.1"}) {
		Packet p;
		p.src4 = src;
		p.l4 = sctp(0xfeedf00d, {data_chunk(1)});
		run(p.serialize());
	}
	Dccp d;
	run(v4(d.serialize(), kDccp));
	run(v6(d.serialize(), kDccp));
	std::vector<std::pair<umigame_cls_flow_key, umigame_cls_flow>> flows;
	umigame_cls_flow_key k{}, next{};
	void *prev = nullptr;
	while (bpf_map__get_next_key(skel_->maps.cls_flows, prev, &next, sizeof(next)) == 0) {
		umigame_cls_flow f{};
		ASSERT_EQ(bpf_map__lookup_elem(skel_->maps.cls_flows, &next, sizeof(next), &f, sizeof(f), 0), 0);
		flows.push_back({next, f});
		k = next;
		prev = &k;
	}
	ASSERT_EQ(flows.size(), 3u);
	int sctp_flows = 0;
	for (const auto &[key, f] : flows) {
		if (key.proto == kSctp) {
			sctp_flows++;
			EXPECT_EQ(key.vtag, 0xfeedf00du);
			EXPECT_EQ(f.packets, 3u);
			EXPECT_LE(f.first_ns, f.last_ns);
		} else {
			EXPECT_EQ(f.packets, 1u);
		}
	}
	EXPECT_EQ(sctp_flows, 1);
}

} // namespace
