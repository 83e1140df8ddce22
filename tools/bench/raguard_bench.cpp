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
	} rows[] = {
		{"IPv6 TCP (non-ND)", tcp.serialize(), XDP_PASS, 1.3},
		{"legit RA", ra.serialize(), XDP_PASS, 0},
		{"RA behind 4 ext headers", ra4.serialize(), XDP_PASS, 3.0},
		{"rogue RA (dropped, event)", rogue.serialize(), XDP_DROP, 0},
	};

	std::printf("RA guard vs empty XDP_PASS, BPF_PROG_TEST_RUN, trimmed mean of %d rounds x %u runs\n",
		    kRounds, kRepeat);
	std::printf("%-26s %8s %8s %8s %7s %11s %16s\n", "packet", "empty ns", "guard ns",
		    "added ns", "ratio", "ratio target", "added budget ns");
	bool ratios_met = true, budgets_met = true;
	for (const auto &row : rows) {
		std::vector<double> e, g;
		for (int i = 0; i < kRounds; i++) {
			uint32_t verdict = ~0U;
			e.push_back(ns_per_run(empty_fd, row.frame));
			g.push_back(ns_per_run(guard.prog_fd(), row.frame, &verdict));
			if (verdict != row.verdict) {
				std::fprintf(stderr, "raguard bench: %s got verdict %u, want %u\n",
					     row.name, verdict, row.verdict);
				return 1;
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
	}
	empty_pass__destroy(empty);
	std::printf("raguard bench: ratio targets vs the measured empty program: %s; "
		    "added-time budgets (targets x %.0f ns baseline): %s\n",
		    ratios_met ? "met" : "MISSED", kAssumedEmptyNs, budgets_met ? "met" : "MISSED");
	return 0;
}
