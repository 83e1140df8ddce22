// make bench: the RA guard against an empty XDP_PASS program, both measured
// in the same run with BPF_PROG_TEST_RUN (the kernel times `repeat` runs and
// reports ns per run). Median of several rounds, interleaved so machine noise
// hits both programs alike.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <unistd.h>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "empty_pass.skel.h"
#include "raguard_floor.skel.h"
#include "packets.h"
#include "raguard.h"

using namespace umigame;
using namespace umigame::testing;

namespace {

constexpr int kRounds = 21;
constexpr uint32_t kRepeat = 200000;

double ns_per_run(int prog_fd, const Bytes &frame, uint32_t *verdict = nullptr)
{
	xdp_md md{};
	md.data_end = uint32_t(frame.size());
	md.ingress_ifindex = 1; // lo, where the bench policy lives
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
		    .data_size_in = uint32_t(frame.size()), .ctx_in = &md, .ctx_size_in = sizeof(md),
		    .repeat = kRepeat);
	if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) {
		std::perror("BPF_PROG_TEST_RUN");
		std::exit(1);
	}
	if (verdict)
		*verdict = opts.retval;
	return double(opts.duration);
}

// The kernel reports whole ns per run; a trimmed mean of the rounds (the
// middle half) resolves below 1 ns and is as robust to outliers as a median.
double trimmed_mean(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	size_t cut = v.size() / 4;
	double sum = 0;
	for (size_t i = cut; i < v.size() - cut; i++)
		sum += v[i];
	return sum / double(v.size() - 2 * cut);
}

} // namespace

int main()
{
	std::string dir = "/sys/fs/bpf/umigame-bench-" + std::to_string(getpid());
	struct Cleanup {
		std::string dir;
		~Cleanup()
		{
			std::error_code ec;
			std::filesystem::remove_all(dir, ec);
		}
	} cleanup{dir};

	RaGuard guard(dir + "/raguard");
	guard.open(true);
	guard.set_policy(1, parse_raguard_policy("[raguard]\nrouters = [\"fe80::1\"]\n"
						 "prefixes = [\"2001:db8:1::/48\"]\n",
						 "bench-policy"));
	struct empty_pass *empty = empty_pass__open_and_load();
	if (!empty) {
		std::perror("loading the empty XDP program");
		return 1;
	}
	const int empty_fd = bpf_program__fd(empty->progs.umigame_empty_pass);

	// The lower bounds run on the guard's own maps, so their policy lookup
	// finds the same entry the guard judges by.
	struct raguard_floor *floor = raguard_floor__open();
	if (!floor) {
		std::perror("opening the lower-bound XDP programs");
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
		std::perror("loading the lower-bound XDP programs");
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

	// The issue set its ratio targets believing an empty XDP_PASS run costs
	// 22 ns here; it costs about 5 ns with a large repeat count (the 22 ns
	// show at repeat counts near 10, where the syscall dominates). So the
	// table gives both: the ratio against the empty program measured now,
	// and the added time against the budget those targets meant,
	// (target - 1) x 22 ns.
	constexpr double kAssumedEmptyNs = 22.0;
	struct Row {
		const char *name;
		Bytes frame;
		uint32_t verdict; // a faster wrong answer must not pass for a speed-up
		double target;
		bool is_ra;       // the lower bounds apply
	} rows[] = {
		{"IPv6 TCP (non-ND)", tcp.serialize(), XDP_PASS, 1.3, false},
		{"legit RA", ra.serialize(), XDP_PASS, 0, true},
		{"RA behind 4 ext headers", ra4.serialize(), XDP_PASS, 3.0, true},
		{"rogue RA (dropped, event)", rogue.serialize(), XDP_DROP, 0, false},
	};
	struct Program {
		const char *name;
		int fd;
	};
	const Program walk{"walk", bpf_program__fd(floor->progs.umigame_floor_walk)};
	const Program walk_policy{"walk+policy",
				  bpf_program__fd(floor->progs.umigame_floor_walk_policy)};

	std::printf("RA guard vs empty XDP_PASS, BPF_PROG_TEST_RUN, trimmed mean of %d rounds x %u runs\n",
		    kRounds, kRepeat);
	std::printf("%-26s %8s %8s %8s %7s %11s %16s\n", "packet", "empty ns", "guard ns",
		    "added ns", "ratio", "ratio target", "added budget ns");
	bool ratios_met = true, budgets_met = true;
	struct Floor {
		const char *name;
		double empty, walk, walk_policy, guard;
	};
	std::vector<Floor> floors;
	for (const auto &row : rows) {
		std::vector<double> e, g, w, wp;
		for (int i = 0; i < kRounds; i++) {
			uint32_t verdict = ~0U;
			e.push_back(ns_per_run(empty_fd, row.frame));
			g.push_back(ns_per_run(guard.prog_fd(), row.frame, &verdict));
			if (verdict != row.verdict) {
				std::fprintf(stderr, "raguard bench: %s got verdict %u, want %u\n",
					     row.name, verdict, row.verdict);
				return 1;
			}
			if (!row.is_ra)
				continue;
			for (auto [prog, out] : {std::pair{&walk, &w}, std::pair{&walk_policy, &wp}}) {
				out->push_back(ns_per_run(prog->fd, row.frame, &verdict));
				if (verdict != XDP_PASS) {
					std::fprintf(stderr, "raguard bench: %s did not walk %s\n",
						     prog->name, row.name);
					return 1;
				}
			}
		}
		double me = trimmed_mean(e), mg = trimmed_mean(g), ratio = mg / me;
		char target[24] = "-", budget[24] = "-";
		if (row.target > 0) {
			bool met = ratio <= row.target;
			double allowed = (row.target - 1) * kAssumedEmptyNs;
			bool in_budget = mg - me <= allowed;
			ratios_met &= met;
			budgets_met &= in_budget;
			std::snprintf(target, sizeof(target), "<=%.1fx %s", row.target,
				      met ? "ok" : "MISS");
			std::snprintf(budget, sizeof(budget), "<=%.1f %s", allowed,
				      in_budget ? "ok" : "MISS");
		}
		std::printf("%-26s %8.1f %8.1f %8.1f %6.2fx %11s %16s\n", row.name, me, mg, mg - me,
			    ratio, target, budget);
		if (row.is_ra)
			floors.push_back({row.name, me, trimmed_mean(w), trimmed_mean(wp), mg});
	}

	// What no RA guard can go below on these frames: reading every header's
	// and option's length (walk), plus finding the port's policy and
	// bumping a counter (walk+policy). Both judge nothing.
	std::printf("\nLower bounds (bpf/raguard_floor.bpf.c: the same frames, judged by nothing)\n");
	std::printf("%-26s %8s %8s %7s %12s %7s %8s %7s\n", "packet", "empty ns", "walk ns", "ratio",
		    "+policy ns", "ratio", "guard ns", "ratio");
	for (const auto &f : floors)
		std::printf("%-26s %8.1f %8.1f %6.2fx %12.1f %6.2fx %8.1f %6.2fx\n", f.name, f.empty,
			    f.walk, f.walk / f.empty, f.walk_policy, f.walk_policy / f.empty, f.guard,
			    f.guard / f.empty);
	raguard_floor__destroy(floor);
	empty_pass__destroy(empty);
	std::printf("raguard bench: ratio targets vs the measured empty program: %s; "
		    "added-time budgets (targets x %.0f ns baseline): %s\n",
		    ratios_met ? "met" : "MISSED", kAssumedEmptyNs, budgets_met ? "met" : "MISSED");
	return 0;
}
