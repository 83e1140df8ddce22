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
// chunk walk, the rule table, the per-reason and per-rule counters. The
// goal applies to a port as `rules load` sets it by default (flows =
// false); the rows with per-flow statistics (flows = true) show what those
// add. Each round runs both programs on a row's frame back to back; a
// row's ratio is the median over the rounds of that round's ratio. Every
// verdict and the rule's counter are checked: a faster wrong answer must
// not pass for a speed-up.
//
// --guest (in the 6.1 guest, with umigame.ko and sctp loaded: tools/bench/
// classify_bench.sh; the host's kernel refuses live frames here):
//
//  - the same match against nftables' (`sctp chunk data exists`, which runs
//    in the netdev ingress hook, after the skb is built), measured the same
//    way for both: BPF_PROG_TEST_RUN in live-frames mode on a veth in a
//    namespace of the bench's own, every frame passed up the stack and
//    dropped by the ingress chain's policy, so each run's time holds the
//    skb and the hook. The empty program with an empty drop chain is the
//    base; against it, in every round and in turn, the classifier (a count
//    rule on a DATA chunk anywhere) with the same chain, the empty program
//    with the nft rule in the chain, and the floor program: each a pair of
//    neighbouring runs with the base, so that the classifier and nft are
//    measured in the same weather. Each one's cost is the median over the
//    rounds of its run less the base's; the verdict is the median over the
//    rounds of the classifier's cost less nft's in that round. Both
//    counters are checked.
//  - CRC32c: the classifier's verification (umigame.ko's kfunc) against the
//    kernel SCTP stack's own, on the same frames with a right checksum. Ours:
//    the classifier on a port with checksum = "verify" (its own instance,
//    row 1) less on a port without (test runs, each packet matched by the
//    rule, so none was bad_checksum). The kernel's: live frames to a
//    local address up to sctp_rcv, with the sctp module's no_checksums off
//    less on (every packet in SctpInSCTPPacks, none in SctpChecksumErrors).
//    Bytes per ns of the SCTP packet.
//
// Usage: classify_bench [--guest] [ROUNDS [REPEAT]]  (default 21 rounds x 500000 runs)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "classify.h"
#include "classify.skel.h"
#include "classify_floor.skel.h"
#include "empty_pass.skel.h"
#include "frames.h"
#include "test_run_timing.h"
#include "umigame/classify.h"

using namespace umigame::testing;
using umigame::bench::median;
using umigame::bench::ns_per_run;

namespace {

constexpr uint32_t kLo = 1; // test runs arrive on lo's ifindex

using ClassifyPtr = std::unique_ptr<classify, void (*)(classify *)>;

// An instance of the classifier for the port in row `slot` of the maps
// pinned under pin_dir, as `umigame classify attach` loads one per port.
ClassifyPtr load_classifier(const std::string &pin_dir, uint32_t slot)
{
	try {
		return ClassifyPtr(umigame::load_classify_instance(pin_dir, slot), classify__destroy);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "classify bench: %s\n", e.what());
		return ClassifyPtr(nullptr, classify__destroy);
	}
}

// Rule `rule` of row `slot`: packets counted, over every CPU.
uint64_t rule_packets(classify *cls, uint32_t slot, uint32_t rule)
{
	std::vector<umigame_cls_cpu_row> v(static_cast<size_t>(libbpf_num_possible_cpus()));
	if (bpf_map__lookup_elem(cls->maps.cls_counters, &slot, sizeof(slot), v.data(), v.size() * sizeof(v[0]),
				 0) != 0)
		return 0;
	uint64_t n = 0;
	for (const auto &c : v)
		n += c.counters.rules[rule].packets;
	return n;
}

// Row `slot` of the tables: the port, its flags, the rules in `rules`.
bool set_table(classify *cls, umigame_cls_table *rules, uint32_t slot, uint32_t ifindex, uint32_t flags)
{
	rules->owner = ifindex;
	rules->ifindex = ifindex;
	rules->flags = flags;
	return bpf_map__update_elem(cls->maps.cls_tables, &slot, sizeof(slot), rules, sizeof(*rules), BPF_ANY) ==
	       0;
}

// An ingress chain on dev that drops everything, behind the nft match
// when wanted (table netdev umigame_bench_DEV).
bool nft_chain(const std::string &dev, bool with_match)
{
	std::string cmd = "nft -f - <<'EOF'\ntable netdev umigame_bench_" + dev + " {\n chain c {\n"
			  "  type filter hook ingress device " + dev + " priority 0; policy drop;\n" +
			  (with_match ? "  sctp chunk data exists counter\n" : "") + " }\n}\nEOF";
	return std::system(cmd.c_str()) == 0;
}

// The counter of that chain's rule ("counter packets N").
uint64_t nft_rule_packets(const std::string &dev)
{
	FILE *f = popen(("nft list chain netdev umigame_bench_" + dev + " c 2>/dev/null").c_str(), "r");
	if (!f)
		return 0;
	char line[512];
	uint64_t n = 0;
	while (std::fgets(line, sizeof(line), f))
		if (const char *at = std::strstr(line, "counter packets "))
			n = std::strtoull(at + std::strlen("counter packets "), nullptr, 10);
	pclose(f);
	return n;
}

// A counter of this namespace's SCTP MIB.
uint64_t sctp_mib(const char *name)
{
	FILE *f = std::fopen("/proc/self/net/sctp/snmp", "r");
	if (!f)
		return 0;
	char key[64];
	unsigned long long v = 0, found = 0;
	while (std::fscanf(f, "%63s %llu", key, &v) == 2)
		if (!std::strcmp(key, name))
			found = v;
	std::fclose(f);
	return found;
}

bool set_no_checksums(bool on)
{
	FILE *f = std::fopen("/sys/module/sctp/parameters/no_checksums", "w");
	if (!f)
		return false;
	bool ok = std::fputs(on ? "Y" : "N", f) >= 0;
	return std::fclose(f) == 0 && ok;
}

bool mac_of(const char *dev, uint8_t mac[6])
{
	// Not /sys/class/net: sysfs still shows the namespace it was mounted in.
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ifreq ifr{};
	std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	bool ok = sk >= 0 && ioctl(sk, SIOCGIFHWADDR, &ifr) == 0;
	if (sk >= 0)
		close(sk);
	if (ok)
		std::memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return ok;
}

// One pair of neighbouring short runs, b's cost less a's, b first when
// `turn` is odd: under TCG the host takes the guest's CPU away for
// milliseconds at a time, and only neighbours share the weather.
double paired_once(int turn, const std::function<double()> &a, const std::function<double()> &b)
{
	double x, y;

	if (turn % 2) {
		y = b();
		x = a();
	} else {
		x = a();
		y = b();
	}
	return y - x;
}

// The median over `pairs` such pairs, the order alternating.
double paired(int pairs, const std::function<double()> &a, const std::function<double()> &b)
{
	std::vector<double> d;
	for (int i = 0; i < pairs; i++)
		d.push_back(paired_once(i, a, b));
	return median(d);
}

// The guest part (see the top). Returns false when it cannot run, said.
bool guest_rows(classify *cls, classify *cls_verify, classify_floor *floor, empty_pass *empty, int rounds,
		uint32_t repeat)
{
	// A namespace of our own, so the links, the address and the nft tables
	// go with us. Each port has one job, so nothing is switched mid-run:
	//   cb0  drop chain; the classifier's count rule          (base, ours)
	//   cb2  drop chain behind nft's sctp chunk match          (nft)
	//   cb4  no chain, 198.51.100.2/24; the count rule with    (CRC32c)
	//        checksum verification
	if (unshare(CLONE_NEWNET) != 0) {
		std::perror("classify bench: unshare(CLONE_NEWNET)");
		return false;
	}
	for (const char *dev : {"cb0", "cb2", "cb4"}) {
		std::string peer = std::string("cb") + char(dev[2] + 1);
		if (std::system(("ip link add " + std::string(dev) + " type veth peer name " + peer +
				 " && ip link set " + dev + " up && ip link set " + peer + " up")
					.c_str()) != 0) {
			std::fprintf(stderr, "classify bench: cannot make veth %s\n", dev);
			return false;
		}
	}
	if (!nft_chain("cb0", false) || !nft_chain("cb2", true) ||
	    std::system("ip addr add 198.51.100.2/24 dev cb4") != 0) {
		std::fprintf(stderr, "classify bench: no nftables netdev chain or no address here\n");
		return false;
	}
	const uint32_t cb0 = if_nametoindex("cb0"), cb2 = if_nametoindex("cb2"), cb4 = if_nametoindex("cb4");
	auto table = std::make_unique<umigame_cls_table>();
	table->n_rules = 1;
	table->rules[0].match = UMIGAME_CLS_M_CHUNK;
	table->rules[0].chunk_type = 0; // DATA
	table->rules[0].action = UMIGAME_CLS_COUNT;
	const uint32_t zero = 0;
	if (!set_table(cls, table.get(), 0, cb0, 0) ||
	    !set_table(cls, table.get(), 1, cb4, UMIGAME_CLS_F_VERIFY_CSUM) ||
	    bpf_map__update_elem(floor->maps.floor_tables, &zero, sizeof(zero), table.get(), sizeof(*table),
				 BPF_ANY) != 0) {
		std::perror("setting the rule tables");
		return false;
	}
	const int empty_fd = bpf_program__fd(empty->progs.umigame_empty_pass);
	const int cls_fd = bpf_program__fd(cls->progs.umigame_classify);
	const int verify_fd = bpf_program__fd(cls_verify->progs.umigame_classify);
	const int pairs = 2 * rounds + 1;
	uint32_t unused;
	utsname u{};
	uname(&u);

	auto chunk4 = [](uint8_t type) { return chunk(type, 0, {0, 0, 0, 1}); };
	const Bytes one = v4(sctp(1, {data_chunk(60)}));
	// RFC 9260 §6.10: control chunks first, DATA last (SACK, ECNE, CWR).
	const Bytes fourth = v4(sctp(1, {sack_chunk(), chunk4(12), chunk4(13), data_chunk(60)}));
	struct Row {
		const char *name;
		const Bytes &frame;
		double base, ours, nft, floor, ours_less_nft;
	} rows[] = {
		{"one DATA chunk", one, 0, 0, 0, 0, 0},
		{"DATA the 4th chunk (SACK, ECNE, CWR)", fourth, 0, 0, 0, 0, 0},
	};
	for (auto &row : rows) {
		auto run = [&](int fd, uint32_t ifindex) {
			return [&, fd, ifindex] { return ns_per_run(fd, row.frame, repeat, ifindex, &unused, true); };
		};
		const uint64_t rule0 = rule_packets(cls, 0, 0), nft0 = nft_rule_packets("cb2");
		std::vector<double> base;
		auto base_run = [&] {
			double t = ns_per_run(empty_fd, row.frame, repeat, cb0, &unused, true);
			base.push_back(t);
			return t;
		};
		const std::function<double()> matches[3] = {
			run(cls_fd, cb0), run(empty_fd, cb2), run(bpf_program__fd(floor->progs.umigame_cls_floor), cb0)};
		std::vector<double> cost[3], ours_less_nft;
		for (int i = 0; i < pairs; i++) {
			double round[3];
			for (int k = 0; k < 3; k++) {
				const int m = (i + k) % 3;
				round[m] = paired_once(i + k, base_run, matches[m]);
				cost[m].push_back(round[m]);
			}
			ours_less_nft.push_back(round[0] - round[1]);
		}
		row.ours = median(cost[0]);
		row.nft = median(cost[1]);
		row.floor = median(cost[2]);
		row.ours_less_nft = median(ours_less_nft);
		row.base = median(base);
		const uint64_t counted = rule_packets(cls, 0, 0) - rule0,
			       nft_counted = nft_rule_packets("cb2") - nft0;
		if (counted != uint64_t(pairs) * repeat || nft_counted != uint64_t(pairs) * repeat) {
			std::fprintf(stderr, "classify bench: %s: the classifier counted %llu, nft %llu, of %llu\n",
				     row.name, (unsigned long long)counted, (unsigned long long)nft_counted,
				     (unsigned long long)pairs * repeat);
			return false;
		}
	}
	std::printf("\nAgainst nftables through the stack (%s guest; live frames on a veth whose ingress "
		    "chain drops them): ns per packet, each match's cost the median over %d rounds of its run "
		    "(x %u) less the base's beside it; ours - nft: the median over the rounds of the "
		    "classifier's cost less nft's in the same round\n",
		    u.release, pairs, repeat);
	std::printf("%-38s %7s %10s %8s %8s %9s %11s %s\n", "packet (IPv4, SCTP)", "base", "classifier",
		    "floor *", "nft", "nft/ours", "ours - nft", "cheaper than nft (goal)");
	for (const auto &row : rows)
		std::printf("%-38s %7.0f %+10.0f %+8.0f %+8.0f %8.2fx %+11.0f %s\n", row.name, row.base, row.ours,
			    row.floor, row.nft, row.ours > 0 ? row.nft / row.ours : 0, row.ours_less_nft,
			    row.ours_less_nft < 0 ? "yes" : "no");
	std::printf("* bpf/classify_floor.bpf.c in place of the classifier: the least any XDP classifier of "
		    "chunks anywhere in a packet does\n");

	// CRC32c: ours against the kernel SCTP stack's, the same right checksums.
	uint8_t cb4_mac[6] = {}, peer_mac[6] = {2, 0, 0, 0, 0, 1};
	if (!mac_of("cb4", cb4_mac)) {
		std::perror("classify bench: the MAC address of cb4");
		return false;
	}
	struct CrcRow {
		size_t payload;
		Bytes frame;
		size_t sctp_bytes;
		double ours, kernel;
	} crc_rows[] = {{64, {}, 0, 0, 0}, {1400, {}, 0, 0, 0}};
	const uint64_t errors0 = sctp_mib("SctpChecksumErrors");
	for (auto &r : crc_rows) {
		// To port 9 of 198.51.100.2, where nothing listens: sctp_rcv checks
		// the checksum before it looks for an association.
		r.frame = wire_ready(v4(sctp(1, {data_chunk(60, 1, Bytes(r.payload, 0xab))}, 38412, 9)), cb4_mac,
				     peer_mac);
		r.sctp_bytes = r.frame.size() - 14 - 20;
		const uint64_t verified0 = rule_packets(cls, 1, 0);
		r.ours = paired(
			pairs, [&] { return ns_per_run(cls_fd, r.frame, repeat, cb0, &unused); },
			[&] { return ns_per_run(verify_fd, r.frame, repeat, cb4, &unused); });
		// A wrong checksum would be bad_checksum, matched by no rule.
		const uint64_t verified = rule_packets(cls, 1, 0) - verified0;
		const uint64_t in0 = sctp_mib("SctpInSCTPPacks");
		auto kernel = [&](bool check) {
			return [&, check] {
				set_no_checksums(!check);
				return ns_per_run(empty_fd, r.frame, repeat, cb4, &unused, true);
			};
		};
		r.kernel = paired(pairs, kernel(false), kernel(true));
		set_no_checksums(false);
		const uint64_t taken = sctp_mib("SctpInSCTPPacks") - in0;
		if (verified != uint64_t(pairs) * repeat || taken != 2ULL * pairs * repeat) {
			std::fprintf(stderr, "classify bench: CRC32c %zu B: %llu verified by us, %llu taken by sctp_rcv, "
					     "of %llu each\n",
				     r.payload, (unsigned long long)verified, (unsigned long long)taken / 2,
				     (unsigned long long)pairs * repeat);
			return false;
		}
	}
	if (sctp_mib("SctpChecksumErrors") != errors0) {
		std::fprintf(stderr, "classify bench: the kernel found wrong checksums in the frames\n");
		return false;
	}
	std::printf("\nCRC32c over the SCTP packet (%s guest): ns per packet with verification less "
		    "without, the median over %d neighbouring pairs of runs (x %u)\n",
		    u.release, pairs, repeat);
	std::printf("%-24s %9s %10s %14s %16s %7s\n", "DATA payload", "ours ns", "kernel ns", "ours bytes/ns",
		    "kernel bytes/ns", "ratio");
	for (const auto &r : crc_rows) {
		char name[32];
		std::snprintf(name, sizeof(name), "%zu B (%zu B SCTP)", r.payload, r.sctp_bytes);
		std::printf("%-24s %9.0f %10.0f %14.2f %16.2f %6.2fx\n", name, r.ours, r.kernel,
			    r.ours > 0 ? double(r.sctp_bytes) / r.ours : 0,
			    r.kernel > 0 ? double(r.sctp_bytes) / r.kernel : 0, r.ours > 0 ? r.kernel / r.ours : 0);
	}
	return true;
}

} // namespace

int main(int argc, char **argv)
{
	const bool guest = argc > 1 && std::strcmp(argv[1], "--guest") == 0;
	if (guest) {
		argc--;
		argv++;
	}
	int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 21;
	uint32_t repeat = argc > 2 ? uint32_t(std::max(2, std::atoi(argv[2]))) : 500000;

	const umigame::bench::ScratchPinDir pins("umigame-cls-bench");
	// Port rows 0 and 1 (the guest's CRC32c rows verify on row 1's port).
	ClassifyPtr cls = load_classifier(pins.path, 0), cls_verify = load_classifier(pins.path, 1);
	if (!cls || !cls_verify)
		return 1;
	std::unique_ptr<empty_pass, void (*)(empty_pass *)> empty(empty_pass__open_and_load(),
								   empty_pass__destroy);
	if (!empty) {
		std::perror("loading the empty XDP program");
		return 1;
	}

	// The least any classifier must do (bpf/classify_floor.bpf.c).
	std::unique_ptr<classify_floor, void (*)(classify_floor *)> floor(classify_floor__open_and_load(),
									    classify_floor__destroy);
	if (!floor) {
		std::perror("loading the floor program");
		return 1;
	}

	if (guest) {
		if (!guest_rows(cls.get(), cls_verify.get(), floor.get(), empty.get(), rounds, repeat)) {
			std::printf("the guest part could not run (above)\n");
			return 1;
		}
		return 0;
	}

	// One rule: count SCTP DATA with PPID 60 (NGAP), then pass; per-flow
	// statistics off (the default) or on.
	auto table = std::make_unique<umigame_cls_table>();
	table->n_rules = 1;
	table->rules[0].match = UMIGAME_CLS_M_PPID;
	table->rules[0].ppid = 60;
	table->rules[0].action = UMIGAME_CLS_COUNT;

	const Bytes one = v4(sctp(1, {data_chunk(60)}));
	const Bytes fourth = v4(sctp(1, {data_chunk(18), data_chunk(46), data_chunk(18), data_chunk(60)}));
	const uint32_t zero = 0;
	if (bpf_map__update_elem(floor->maps.floor_tables, &zero, sizeof(zero), table.get(), sizeof(*table),
				 BPF_ANY) != 0) {
		std::perror("setting the floor's table");
		return 1;
	}
	struct Row {
		const char *name;
		uint32_t flags;
		const Bytes &frame;
		double target; // 0: shown for comparison
		bool floor;    // the floor program instead of the classifier
		std::vector<double> empty_ns, cls_ns, ratio;
	} rows[] = {
		{"one DATA chunk", 0, one, 1.5, false, {}, {}, {}},
		{"4th of 4 DATA chunks", 0, fourth, 0, false, {}, {}, {}},
		{"one DATA chunk, flows = true", UMIGAME_CLS_F_FLOWS, one, 0, false, {}, {}, {}},
		{"4th of 4 DATA chunks, flows = true", UMIGAME_CLS_F_FLOWS, fourth, 0, false, {}, {}, {}},
		{"one DATA chunk, floor *", 0, one, 0, true, {}, {}, {}},
		{"4th of 4 DATA chunks, floor *", 0, fourth, 0, true, {}, {}, {}},
	};
	const int empty_fd = bpf_program__fd(empty->progs.umigame_empty_pass);
	const int cls_fd = bpf_program__fd(cls->progs.umigame_classify);
	const int floor_fd = bpf_program__fd(floor->progs.umigame_cls_floor);
	auto floor_packets = [&] {
		std::vector<umigame_cls_counter> v(static_cast<size_t>(libbpf_num_possible_cpus()));
		uint64_t n = 0;
		if (bpf_map__lookup_elem(floor->maps.floor_counter, &zero, sizeof(zero), v.data(),
					 v.size() * sizeof(v[0]), 0) == 0)
			for (const auto &c : v)
				n += c.packets;
		return n;
	};
	for (int i = 0; i < rounds; i++)
		for (auto &row : rows) {
			if (!set_table(cls.get(), table.get(), 0, kLo, row.flags)) {
				std::perror("setting the rule table");
				return 1;
			}
			uint32_t v_empty = ~0U, v_cls = ~0U;
			auto counter = [&] { return row.floor ? floor_packets() : rule_packets(cls.get(), 0, 0); };
			const uint64_t before = counter();
			double e = ns_per_run(empty_fd, row.frame, repeat, kLo, &v_empty);
			double c = ns_per_run(row.floor ? floor_fd : cls_fd, row.frame, repeat, kLo, &v_cls);
			const uint64_t counted = counter() - before;
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
	std::printf("%-34s %7s %10s %7s %-13s %8s %s\n", "packet (IPv4, SCTP)", "empty", "classifier", "ratio",
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
		std::printf("%-34s %7.1f %10.1f %6.2fx %-13s %8s %s\n", row.name, median(row.empty_ns),
			    median(row.cls_ns), r, range, target, verdict);
	}
	std::printf("%d of %d targets met\n", met, targets);
	std::printf("* bpf/classify_floor.bpf.c: the chunk walk (each length read to find the next, a DATA "
		    "chunk's PPID), the port's table looked up and one counter bumped, nothing checked: the "
		    "least any classifier of chunks anywhere in a packet does\n");
	return 0;
}
