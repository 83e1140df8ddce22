// make bench: the SCTP/DCCP classifier's cost against an empty XDP_PASS
// program (issue 17), measured in one run with BPF_PROG_TEST_RUN (the
// kernel times `repeat` runs and reports ns per run), on the frames of the
// issue's two rows:
//
//   one DATA chunk whose PPID a rule matches        goal <= 1.5 x empty
//   the matching DATA chunk the fourth of four      (shown beside it)
//
// The rule counts (and the packet then passes), so both programs return
// XDP_PASS and the ratio is the classification alone: the header walk, the
// chunk walk, the rule table, the per-reason, per-rule and per-flow
// counters. Each round runs both programs on a row's frame back to back; a
// row's ratio is the median over the rounds of that round's ratio. Every
// verdict and the rule's counter are checked: a faster wrong answer must
// not pass for a speed-up. Still to come (issue 17): the same frames
// against nftables' sctp match, and the CRC32c kfunc's throughput.
//
// Usage: classify_bench [ROUNDS [REPEAT]]  (default 21 rounds x 500000 runs)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <sys/utsname.h>
#include <unistd.h>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "classify.skel.h"
#include "empty_pass.skel.h"
#include "frames.h"
#include "test_run_timing.h"
#include "umigame/classify.h"

using namespace umigame::testing;
using umigame::bench::median;
using umigame::bench::ns_per_run;

namespace {

constexpr uint32_t kLo = 1; // the rule table lives on lo's ifindex

uint64_t rule_packets(bpf_map *counters, uint32_t rule)
{
	std::vector<umigame_cls_counter> v(static_cast<size_t>(libbpf_num_possible_cpus()));
	if (bpf_map__lookup_elem(counters, &rule, sizeof(rule), v.data(), v.size() * sizeof(v[0]), 0) != 0)
		return 0;
	uint64_t n = 0;
	for (const auto &c : v)
		n += c.packets;
	return n;
}

} // namespace

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 21;
	uint32_t repeat = argc > 2 ? uint32_t(std::max(2, std::atoi(argv[2]))) : 500000;

	const umigame::bench::ScratchPinDir pins("umigame-cls-bench");
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pins.path.c_str());
	std::unique_ptr<classify, void (*)(classify *)> cls(classify__open_opts(&opts), classify__destroy);
	if (!cls || classify__load(cls.get()) != 0) {
		std::perror("loading the classifier");
		return 1;
	}
	std::unique_ptr<empty_pass, void (*)(empty_pass *)> empty(empty_pass__open_and_load(),
								   empty_pass__destroy);
	if (!empty) {
		std::perror("loading the empty XDP program");
		return 1;
	}

	// One rule: count SCTP DATA with PPID 60 (NGAP), then pass; per-flow
	// statistics on (the default) or off.
	auto table = std::make_unique<umigame_cls_table>();
	table->n_rules = 1;
	table->rules[0].match = UMIGAME_CLS_M_PPID;
	table->rules[0].ppid = 60;
	table->rules[0].action = UMIGAME_CLS_COUNT;

	const Bytes one = v4(sctp(1, {data_chunk(60)}));
	const Bytes fourth = v4(sctp(1, {data_chunk(18), data_chunk(46), data_chunk(18), data_chunk(60)}));
	struct Row {
		const char *name;
		uint32_t flags;
		const Bytes &frame;
		double target; // 0: shown for comparison
		std::vector<double> empty_ns, cls_ns, ratio;
	} rows[] = {
		{"one DATA chunk, flows on", UMIGAME_CLS_F_FLOWS, one, 1.5, {}, {}, {}},
		{"4th of 4 DATA chunks, flows on", UMIGAME_CLS_F_FLOWS, fourth, 0, {}, {}, {}},
		{"one DATA chunk, flows off", 0, one, 0, {}, {}, {}},
		{"4th of 4 DATA chunks, flows off", 0, fourth, 0, {}, {}, {}},
	};
	const int empty_fd = bpf_program__fd(empty->progs.umigame_empty_pass);
	const int cls_fd = bpf_program__fd(cls->progs.umigame_classify);
	for (int i = 0; i < rounds; i++)
		for (auto &row : rows) {
			table->flags = row.flags;
			if (bpf_map__update_elem(cls->maps.cls_tables, &kLo, sizeof(kLo), table.get(), sizeof(*table),
						 BPF_ANY) != 0) {
				std::perror("setting the rule table");
				return 1;
			}
			uint32_t v_empty = ~0U, v_cls = ~0U;
			const uint64_t before = rule_packets(cls->maps.cls_rule_counters, 0);
			double e = ns_per_run(empty_fd, row.frame, repeat, kLo, &v_empty);
			double c = ns_per_run(cls_fd, row.frame, repeat, kLo, &v_cls);
			const uint64_t counted = rule_packets(cls->maps.cls_rule_counters, 0) - before;
			if (v_empty != XDP_PASS || v_cls != XDP_PASS || counted != repeat) {
				std::fprintf(stderr,
					     "classify bench: %s: verdicts %u/%u, the rule counted %llu of %u\n",
					     row.name, v_empty, v_cls, (unsigned long long)counted, repeat);
				return 1;
			}
			row.empty_ns.push_back(e);
			row.cls_ns.push_back(c);
			row.ratio.push_back(c / e);
		}

	utsname u{};
	uname(&u);
	std::printf("SCTP/DCCP classifier, BPF_PROG_TEST_RUN on %s: median of %d rounds x %u runs, ns per run\n",
		    u.release, rounds, repeat);
	std::printf("%-32s %7s %10s %7s %-13s %8s %s\n", "packet (IPv4, SCTP)", "empty", "classifier", "ratio",
		    "rounds", "target", "met");
	int targets = 0, met = 0;
	for (auto &row : rows) {
		auto [lo, hi] = std::minmax_element(row.ratio.begin(), row.ratio.end());
		double r = median(row.ratio);
		char range[32], target[16] = "-";
		std::snprintf(range, sizeof(range), "%.2f-%.2fx", *lo, *hi);
		const char *verdict = "";
		if (row.target > 0) {
			std::snprintf(target, sizeof(target), "<= %.1fx", row.target);
			targets++;
			met += r <= row.target;
			verdict = r <= row.target ? "met" : "missed";
		}
		std::printf("%-32s %7.1f %10.1f %6.2fx %-13s %8s %s\n", row.name, median(row.empty_ns),
			    median(row.cls_ns), r, range, target, verdict);
	}
	std::printf("%d of %d targets met\n", met, targets);
	return 0;
}
