// What the guest benches that push one frame through a router's stack share
// (pim_bench, isatap_bench): bpf/esp_bench_feed.bpf.c feeds a frame to an
// input port with BPF_PROG_TEST_RUN in live-frames mode (FEED_PASS: up the
// stack), and its sink program counts and drops, in XDP, what reaches the
// peers of the output ports. A call lasts until the sinks counted every
// frame of it, yielding the CPU meanwhile (to a user-space thread on the
// same CPU, say), so its time is the work per frame.
#pragma once

#include <algorithm>
#include <chrono>
#include <map>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <net/if.h>
#include <sched.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "esp_bench_feed.h"
#include "esp_bench_feed.skel.h"
#include "test_run_timing.h"

namespace umigame::bench {

[[noreturn]] inline void live_feed_die(const std::string &msg)
{
	std::fprintf(stderr, "bench: %s\n", msg.c_str());
	std::exit(1);
}

inline std::vector<uint8_t> mac_of(const char *dev)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ifreq ifr{};
	std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr) != 0)
		live_feed_die(std::string("no MAC address for ") + dev);
	close(s);
	return std::vector<uint8_t>(ifr.ifr_hwaddr.sa_data, ifr.ifr_hwaddr.sa_data + 6);
}

// `--name value` options: every name in `required` must be given, the
// others in `defaults` may be; `--rounds`, `--calls` and `--sizes` (a
// comma list) are every such bench's. Dies with a usage message.
struct LiveBenchArgs {
	std::map<std::string, std::string> values;
	int rounds = 5, calls = 20;
	std::vector<size_t> sizes = {100, 1000};
	const std::string &operator[](const std::string &name) const { return values.at(name); }
};

inline LiveBenchArgs parse_live_bench_args(int argc, char **argv, const std::vector<std::string> &required)
{
	LiveBenchArgs a;
	std::string usage = "usage:";
	for (const auto &r : required)
		usage += " --" + r + " V";
	usage += " [--rounds N] [--calls N] [--sizes 100,1000]";
	for (int i = 1; i < argc; i++) {
		std::string name = argv[i];
		if (name.rfind("--", 0) != 0 || i + 1 >= argc)
			live_feed_die(usage);
		std::string value = argv[++i];
		name = name.substr(2);
		if (name == "rounds")
			a.rounds = std::max(1, std::atoi(value.c_str()));
		else if (name == "calls")
			a.calls = std::max(1, std::atoi(value.c_str()));
		else if (name == "sizes") {
			a.sizes.clear();
			for (size_t pos = 0; pos < value.size();) {
				size_t end = std::min(value.find(',', pos), value.size());
				a.sizes.push_back(std::strtoul(value.substr(pos, end - pos).c_str(), nullptr, 10));
				pos = end + 1;
			}
		} else if (std::find(required.begin(), required.end(), name) != required.end())
			a.values[name] = value;
		else
			live_feed_die("unknown option --" + name + "; " + usage);
	}
	for (const auto &r : required)
		if (!a.values.count(r))
			live_feed_die("--" + r + " is needed; " + usage);
	return a;
}

inline void pin_to_cpu0()
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		live_feed_die("cannot pin to CPU 0");
}

// Ethernet (to dst_mac) / IPv6 src -> dst with hop_limit / UDP 5000 -> 9000
// carrying `size` bytes (checksum 0: forwarding does not look).
inline std::vector<uint8_t> udp6_frame(const std::vector<uint8_t> &dst_mac, const char *src, const char *dst,
				       uint8_t hop_limit, size_t size)
{
	std::vector<uint8_t> f(dst_mac.begin(), dst_mac.end());
	f.insert(f.end(), {0x02, 0, 0, 0, 0, 0x10, 0x86, 0xdd});
	const uint16_t plen = uint16_t(8 + size);
	f.insert(f.end(), {0x60, 0, 0, 0, uint8_t(plen >> 8), uint8_t(plen), 17, hop_limit});
	uint8_t s[16], d[16];
	if (inet_pton(AF_INET6, src, s) != 1 || inet_pton(AF_INET6, dst, d) != 1)
		live_feed_die(std::string("bad address ") + src + " or " + dst);
	f.insert(f.end(), s, s + 16);
	f.insert(f.end(), d, d + 16);
	f.insert(f.end(), {0x13, 0x88, 0x23, 0x28, uint8_t(plen >> 8), uint8_t(plen), 0, 0});
	for (size_t i = 0; i < size; i++)
		f.push_back(uint8_t(i));
	return f;
}

class LiveFeeder {
public:
	// in: the input port; spare: a port that holds the feeder (an XDP
	// program staying attached spares every test run two dispatcher
	// updates); sinks: the output ports' peers.
	LiveFeeder(const char *in, const char *spare, const std::vector<std::string> &sinks,
		   const std::vector<uint8_t> &frame)
	    : in_(if_nametoindex(in)), spare_(if_nametoindex(spare)), frame_(frame)
	{
		if (!in_ || !spare_)
			live_feed_die(std::string("no interface ") + in + " or " + spare);
		skel_ = esp_bench_feed__open();
		if (!skel_)
			live_feed_die("cannot open the feeder");
		skel_->rodata->spare_ifindex = spare_;
		if (esp_bench_feed__load(skel_) != 0)
			live_feed_die("cannot load the feeder");
		if (bpf_xdp_attach(int(spare_), bpf_program__fd(skel_->progs.umigame_esp_bench_feed),
				   XDP_FLAGS_DRV_MODE, nullptr) != 0)
			live_feed_die(std::string("cannot attach the feeder: ") + std::strerror(errno));
		for (const auto &s : sinks) {
			uint32_t i = if_nametoindex(s.c_str());
			if (!i || bpf_xdp_attach(int(i), bpf_program__fd(skel_->progs.umigame_esp_bench_sink),
						 XDP_FLAGS_DRV_MODE, nullptr) != 0)
				live_feed_die("cannot attach the sink to " + s);
			sinks_.push_back(i);
		}
		auto *table = static_cast<esp_bench_frame *>(mmap(nullptr, sizeof(esp_bench_frame),
								   PROT_READ | PROT_WRITE, MAP_SHARED,
								   bpf_map__fd(skel_->maps.frames), 0));
		if (table == MAP_FAILED || frame.size() > ESP_BENCH_FRAME_MAX)
			live_feed_die("cannot fill the frame table");
		table->len = uint32_t(frame.size());
		std::memcpy(table->data, frame.data(), frame.size());
		munmap(table, sizeof(esp_bench_frame));
		skel_->bss->mode = FEED_PASS;
		skel_->bss->first = 0;
		skel_->bss->span = 1;
	}
	~LiveFeeder()
	{
		bpf_xdp_detach(int(spare_), XDP_FLAGS_DRV_MODE, nullptr);
		for (uint32_t i : sinks_)
			bpf_xdp_detach(int(i), XDP_FLAGS_DRV_MODE, nullptr);
		esp_bench_feed__destroy(skel_);
	}
	LiveFeeder(const LiveFeeder &) = delete;
	LiveFeeder &operator=(const LiveFeeder &) = delete;

	uint64_t sunk() const { return __atomic_load_n(&skel_->bss->sunk, __ATOMIC_RELAXED); }

	// Feed n frames; the seconds until the sinks counted them all, or -1
	// when some went missing (nothing new for `stall`).
	double call(uint32_t n, std::chrono::steady_clock::duration stall = std::chrono::seconds(3))
	{
		using Clock = std::chrono::steady_clock;
		const uint64_t before = sunk();
		uint32_t unused;
		auto t0 = Clock::now();
		ns_per_run(bpf_program__fd(skel_->progs.umigame_esp_bench_feed), frame_, n, in_, &unused, true);
		auto last = Clock::now();
		uint64_t seen = sunk() - before;
		while (seen < n && Clock::now() - last < stall) {
			sched_yield();
			uint64_t now = sunk() - before;
			if (now != seen) {
				seen = now;
				last = Clock::now();
			}
		}
		return seen < n ? -1 : std::chrono::duration<double>(last - t0).count();
	}

private:
	uint32_t in_, spare_;
	std::vector<uint32_t> sinks_;
	std::vector<uint8_t> frame_;
	esp_bench_feed *skel_ = nullptr;
};

} // namespace umigame::bench
