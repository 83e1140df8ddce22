// isatap_bench: ISATAP forwarding packets/s, umigame.ko's umigame-isatap
// link against the 6.1 kernel's sit ISATAP on the same traffic, in the
// guest (tools/bench/isatap_bench.sh sets up the namespace and runs this in
// it). IPv6 frames to an ISATAP address (RFC 5214 §6.1) are fed to the LAN
// port with BPF_PROG_TEST_RUN in live-frames mode (live_feed.h); the route
// to their prefix points, in turn, at sit's link and at ours; each
// encapsulates in IPv4 (protocol 41) to the embedded address, out of the
// WAN port, whose peer counts and drops in XDP. A call of kPerCall frames
// lasts until all were counted; the two take turns call by call (who goes
// first alternates), a round's ratio is the median of its calls', the
// table's the median of the rounds'.
//
// usage: isatap_bench --in IF --spare IF --sink IF --sit IF --ours IF
//                     --prefix P/LEN --dst ADDR [--rounds N] [--calls N] [--sizes 100,1000]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "live_feed.h"

namespace {

using umigame::bench::LiveFeeder;
using umigame::bench::live_feed_die;
using umigame::bench::mac_of;
using umigame::bench::median;

constexpr uint32_t kPerCall = 256;

void route_via(const std::string &prefix, const std::string &dev)
{
	const std::string cmd = "ip -6 route replace " + prefix + " dev " + dev;
	if (std::system(cmd.c_str()) != 0)
		live_feed_die("cannot route " + prefix + " out of " + dev);
}

} // namespace

int main(int argc, char **argv)
{
	const auto args = umigame::bench::parse_live_bench_args(argc, argv,
								 {"in", "spare", "sink", "sit", "ours", "prefix", "dst"});
	const std::string &prefix = args["prefix"];
	umigame::bench::pin_to_cpu0();

	std::printf("| %-26s | %11s | %11s | %7s | %-13s | %-6s | %-6s |\n", "ISATAP forwarding, 6.1 guest",
		    "sit us/pkt", "ours us/pkt", "ratio", "rounds", "goal", "");
	std::printf("|%s|%s|%s|%s|%s|%s|%s|\n", std::string(28, '-').c_str(), std::string(13, '-').c_str(),
		    std::string(13, '-').c_str(), std::string(9, '-').c_str(), std::string(15, '-').c_str(),
		    std::string(8, '-').c_str(), std::string(8, '-').c_str());
	int problems = 0;
	for (size_t size : args.sizes) {
		LiveFeeder feeder(args["in"].c_str(), args["spare"].c_str(), {args["sink"]},
				  umigame::bench::udp6_frame(mac_of(args["in"].c_str()), "2001:db8:1::10",
							     args["dst"].c_str(), 64, size));
		std::vector<double> ratios, sit_us, ours_us;
		for (int r = 0; r < args.rounds; r++) {
			std::vector<double> call_ratios;
			for (int c = 0; c < args.calls; c++) {
				double t[2] = {};
				for (int k = 0; k < 2; k++) {
					const int way = (c + k) % 2; // 0 sit, 1 ours
					route_via(prefix, way ? args["ours"] : args["sit"]);
					t[way] = feeder.call(kPerCall);
				}
				if (t[0] < 0 || t[1] < 0) {
					std::printf("# %zu B: a call lost packets (sit %s, ours %s)\n", size,
						    t[0] < 0 ? "lost" : "ok", t[1] < 0 ? "lost" : "ok");
					problems++;
					continue;
				}
				sit_us.push_back(1e6 * t[0] / kPerCall);
				ours_us.push_back(1e6 * t[1] / kPerCall);
				call_ratios.push_back(t[0] / t[1]);
			}
			if (!call_ratios.empty())
				ratios.push_back(median(call_ratios));
		}
		if (ratios.empty())
			live_feed_die("no call completed");
		auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
		char name[40], range[32];
		std::snprintf(name, sizeof(name), "%zu-byte UDP payload", size);
		std::snprintf(range, sizeof(range), "%.2f-%.2fx", *lo, *hi);
		const double ratio = median(ratios);
		std::printf("| %-26s | %11.1f | %11.1f | %6.2fx | %-13s | %-6s | %-6s |\n", name, median(sit_us),
			    median(ours_us), ratio, range, ">= 1x", ratio >= 1 ? "met" : "missed");
		std::fflush(stdout);
	}
	std::printf("ratio: sit's time per packet over ours (above 1: ours forwards more), the median of %d "
		    "rounds, each the median of %d pairs of calls of %u packets\n",
		    args.rounds, args.calls, kPerCall);
	return problems ? 1 : 0;
}
