// make bench: the RA guard's targets (issue 15), measured in one run with
// BPF_PROG_TEST_RUN (the kernel times `repeat` runs and reports ns per run):
//
//   non-ND traffic           <= 1.3 x an empty XDP_PASS program
//   RA behind 4 ext headers  <= 1.5 x the walk+policy floor (same frame)
//   rogue-RA flood           <= 1.3 x the walk+policy floor (same frame)
//
// The floor (bpf/raguard_floor.bpf.c) walks the extension headers and the
// RA's options, finds the port's policy in the guard's own maps and bumps a
// counter: what any RA guard with per-port policies does before judging.
// Each round runs every program on a row's frame back to back; a row's ratio
// is the median over the rounds of that round's ratio, so machine noise that
// lasts a round hits both sides alike. Every verdict is checked: a faster
// wrong answer must not pass for a speed-up.
//
// Usage: raguard_bench [ROUNDS [REPEAT]]  (default 21 rounds x 500000 runs)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sys/utsname.h>
#include <unistd.h>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "empty_pass.skel.h"
#include "raguard_floor.skel.h"
#include "packets.h"
#include "raguard.h"
#include "test_run_timing.h"

using namespace umigame;
using namespace umigame::testing;
using umigame::bench::median;

namespace {

int rounds = 21;
uint32_t repeat = 500000;

uint64_t sum(const std::array<umigame_raguard_counter, UMIGAME_RAG_REASON_COUNT> &row,
	     __u64 umigame_raguard_counter::*field)
{
	uint64_t n = 0;
	for (size_t r = UMIGAME_RAG_FIRST_DROP; r < row.size(); r++)
		n += row[r].*field;
	return n;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc > 1)
		rounds = std::max(1, std::atoi(argv[1]));
	if (argc > 2)
		repeat = uint32_t(std::max(2, std::atoi(argv[2])));

	const umigame::bench::ScratchPinDir pins("umigame-bench");
	const std::string &dir = pins.path;

	// The guard with a one-router policy and the default event limit.
	RaGuard guard(dir + "/raguard");
	guard.open(true);
	const RaGuardPolicy policy = parse_raguard_policy("[raguard]\nrouters = [\"fe80::1\"]\n"
							  "prefixes = [\"2001:db8:1::/48\"]\n",
							  "bench-policy");
	guard.set_policy(1, policy);
	struct empty_pass *empty = empty_pass__open_and_load();
	if (!empty) {
		std::perror("loading the empty XDP program");
		return 1;
	}

	// The floor runs on the guard's own maps, so its policy lookup finds
	// the same entry the guard judges by.
	struct raguard_floor *floor = raguard_floor__open();
	if (!floor) {
		std::perror("opening the floor XDP programs");
		return 1;
	}
	for (auto [map, name] : {std::pair{floor->maps.rag_ports, "rag_ports"},
				 std::pair{floor->maps.rag_policies, "rag_policies"},
				 std::pair{floor->maps.rag_counters, "rag_counters"}}) {
		int fd = bpf_obj_get((dir + "/raguard/" + name).c_str());
		if (fd < 0 || bpf_map__reuse_fd(map, fd) != 0) {
			std::perror(name);
			return 1;
		}
		close(fd);
	}
	if (raguard_floor__load(floor) != 0) {
		std::perror("loading the floor XDP programs");
		return 1;
	}

	Frame tcp;
	tcp.src = "2001:db8::1";
	tcp.dst = "2001:db8::2";
	tcp.upper_proto = kTcp;
	tcp.upper = tcp_syn();
	Frame ra;
	ra.upper = router_advert(0, 1800, concat({opt_source_lladdr(ra.src_mac), opt_mtu(1500),
						  opt_prefix("2001:db8:1:1::/64")}));
	Frame ra4 = ra;
	ra4.ext = {{kHopByHop}, {kDestOpts, 16}, {kRouting, 24}, {kDestOpts}};
	Frame rogue = ra;
	rogue.src = "fe80::66";

	struct Program {
		const char *name;
		int fd;
	};
	const Program p_empty{"empty", bpf_program__fd(empty->progs.umigame_empty_pass)};
	const Program p_walk{"walk", bpf_program__fd(floor->progs.umigame_floor_walk)};
	const Program p_floor{"walk+policy", bpf_program__fd(floor->progs.umigame_floor_walk_policy)};
	const Program p_guard{"guard", guard.prog_fd()};
	constexpr int kEmpty = 0, kWalk = 1, kFloor = 2, kGuard = 3, kPrograms = 4;
	const Program *programs[kPrograms] = {&p_empty, &p_walk, &p_floor, &p_guard};

	struct Row {
		const char *name;
		Bytes frame;
		uint32_t verdict;  // the guard's
		bool ra;           // the floor applies (it walks RAs only)
		int base;          // kEmpty or kFloor: what the ratio divides by
		double target;     // 0: no target, shown for comparison
		std::vector<double> ns[kPrograms];
		std::vector<double> ratio;
	} rows[] = {
		{"IPv6 TCP (non-ND)", tcp.serialize(), XDP_PASS, false, kEmpty, 1.3, {}, {}},
		{"legit RA", ra.serialize(), XDP_PASS, true, kFloor, 0, {}, {}},
		{"RA behind 4 ext headers", ra4.serialize(), XDP_PASS, true, kFloor, 1.5, {}, {}},
		{"rogue-RA flood", rogue.serialize(), XDP_DROP, true, kFloor, 1.3, {}, {}},
	};

	auto drops_before = guard.ports().at(0).counters;
	const uint64_t lost_before = guard.events_lost();
	for (int i = 0; i < rounds; i++) {
		for (auto &row : rows) {
			double ns[kPrograms] = {};
			for (int p = 0; p < kPrograms; p++) {
				if (!row.ra && (p == kWalk || p == kFloor))
					continue;
				uint32_t verdict = ~0U;
				ns[p] = umigame::bench::ns_per_run(programs[p]->fd, row.frame, repeat, 1 /* lo, where the bench policy lives */, &verdict);
				const uint32_t want = p == kGuard ? row.verdict : uint32_t(XDP_PASS);
				if (verdict != want) {
					std::fprintf(stderr, "raguard bench: %s on %s: verdict %u, want %u\n",
						     programs[p]->name, row.name, verdict, want);
					return 1;
				}
				row.ns[p].push_back(ns[p]);
			}
			row.ratio.push_back(ns[kGuard] / ns[row.base]);
		}
	}
	auto drops_after = guard.ports().at(0).counters;

	utsname u{};
	uname(&u);
	std::printf("RA guard, BPF_PROG_TEST_RUN on %s: median of %d rounds x %u runs, ns per run\n",
		    u.release, rounds, repeat);
	std::printf("%-24s %6s %6s %8s %6s  %-21s %8s %s\n", "packet", "empty", "walk",
		    "w+policy", "guard", "ratio", "target", "met");
	int targets = 0, met = 0;
	for (auto &row : rows) {
		auto cell = [&](int p) {
			static char buf[kPrograms][16];
			if (row.ns[p].empty())
				return "-";
			std::snprintf(buf[p], sizeof(buf[p]), "%.1f", median(row.ns[p]));
			return static_cast<const char *>(buf[p]);
		};
		const double r = median(row.ratio);
		char ratio[32], target[16] = "-";
		std::snprintf(ratio, sizeof(ratio), "%.2fx %s", r,
			      row.base == kEmpty ? "guard/empty" : "guard/w+policy");
		const char *verdict = "-";
		if (row.target > 0) {
			std::snprintf(target, sizeof(target), "<=%.1fx", row.target);
			targets++;
			bool ok = r <= row.target;
			met += ok;
			verdict = ok ? "yes" : "NO";
		}
		std::printf("%-24s %6s %6s %8s %6s  %-21s %8s %s\n", row.name, cell(kEmpty),
			    cell(kWalk), cell(kFloor), cell(kGuard), ratio, target, verdict);
	}
	// The flood row is a flood only if the events were in fact limited.
	const uint64_t drops = sum(drops_after, &umigame_raguard_counter::packets) -
			       sum(drops_before, &umigame_raguard_counter::packets);
	const uint64_t suppressed = sum(drops_after, &umigame_raguard_counter::suppressed) -
				    sum(drops_before, &umigame_raguard_counter::suppressed);
	const uint64_t lost = guard.events_lost() - lost_before;
	std::printf("rogue-RA flood: %llu drops; %llu sent as events (limit: %u at once, then %u/s), "
		    "%llu lost, %llu counted as suppressed\n",
		    (unsigned long long)drops, (unsigned long long)(drops - suppressed - lost),
		    policy.event_burst, policy.event_rate, (unsigned long long)lost,
		    (unsigned long long)suppressed);
	std::printf("raguard bench: %d of %d targets met\n", met, targets);
	raguard_floor__destroy(floor);
	empty_pass__destroy(empty);
	return 0;
}
