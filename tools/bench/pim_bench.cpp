// pim_bench: PIM Register packets/s of a DR, umigame.ko's in-kernel
// encapsulation against the way routing daemons do it today, on the same
// stream, in the 6.1 guest (tools/bench/pim_bench.sh sets up the namespace
// and runs this in it):
//
//   ours:    ip6mr forwards (S,G) to an umigame-pimreg MIF, which sends the
//            Register (umigame pim rp add was done by the script)
//   upcall:  ip6mr forwards (S,G) to the register MIF (MIFF_REGISTER): each
//            packet goes up the mroute socket as MRT6MSG_WHOLEPKT, and a
//            minimal encapsulator thread of this process reads it, builds
//            the Register header (checksum included) and sends header and
//            packet with a raw IPPROTO_PIM socket, as pim6d does
//
// Frames (Ethernet / IPv6 S -> G / UDP) are fed to the input port with
// BPF_PROG_TEST_RUN in live-frames mode by bpf/esp_bench_feed.bpf.c
// (FEED_PASS: up the stack, into ip6mr); the Registers leave by a veth
// whose peer counts and drops them in XDP (the feed object's sink). Every
// thread is pinned to one CPU, so time is the CPU's work per packet. A
// third way, for information, forwards the same stream to an ordinary MIF
// (a veth whose peer also counts in XDP): what every way pays, from the
// frame to ip6mr's output; less it, the rows show the Register part. A
// call feeds kPerCall frames and lasts until the sink has counted all of
// them; the two ways take turns call by call (neighbours share the host's
// weather), a round's ratio is the median of its calls', the table's the
// median of the rounds'.
//
// usage: pim_bench --in IF --spare IF --sink IF --plain IF --plain-sink IF --rp ADDR --dr ADDR
//                  [--rounds N] [--calls N] [--sizes 100,1000]
#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/mroute6.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "live_feed.h"

namespace {

using Clock = std::chrono::steady_clock;
using umigame::bench::LiveFeeder;
using umigame::bench::mac_of;
using umigame::bench::median;

constexpr uint32_t kPerCall = 256;
const char *const kSource = "2001:db8:1::10";
const char *const kGroup = "ff0e::1234";
constexpr int kProtoPim = 103;

[[noreturn]] void die(const std::string &msg)
{
	std::fprintf(stderr, "pim_bench: %s\n", msg.c_str());
	std::exit(1);
}

in6_addr addr6(const char *text)
{
	in6_addr a{};
	if (inet_pton(AF_INET6, text, &a) != 1)
		die(std::string("bad address ") + text);
	return a;
}

uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += uint32_t(p[i]) << 8 | p[i + 1];
	if (n % 2)
		sum += uint32_t(p[n - 1]) << 8;
	return sum;
}

// ---- ip6mr, as a routing daemon drives it ---------------------------------

class Mroute {
public:
	Mroute()
	{
		fd_ = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
		int one = 1;
		if (fd_ < 0 || setsockopt(fd_, IPPROTO_IPV6, MRT6_INIT, &one, sizeof(one)) != 0)
			die(std::string("MRT6_INIT: ") + std::strerror(errno));
		// Upcalls only: no ICMPv6 message of the link on this socket.
		icmp6_filter block;
		ICMP6_FILTER_SETBLOCKALL(&block);
		setsockopt(fd_, IPPROTO_ICMPV6, ICMP6_FILTER, &block, sizeof(block));
		int buf = 8 << 20;
		setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	}
	~Mroute() { close(fd_); }
	int fd() const { return fd_; }

	void add_mif(mifi_t mif, const char *dev, unsigned char flags = 0)
	{
		mif6ctl c{};
		c.mif6c_mifi = mif;
		c.mif6c_flags = flags;
		c.vifc_threshold = 1;
		c.mif6c_pifi = dev ? uint16_t(if_nametoindex(dev)) : 0;
		if (setsockopt(fd_, IPPROTO_IPV6, MRT6_ADD_MIF, &c, sizeof(c)) != 0)
			die(std::string("MRT6_ADD_MIF ") + (dev ? dev : "register") + ": " + std::strerror(errno));
	}

	// The (S,G) entry from MIF 0 to `out` (replacing any).
	void route_to(mifi_t out)
	{
		mf6cctl c{};
		c.mf6cc_origin.sin6_family = AF_INET6;
		c.mf6cc_origin.sin6_addr = addr6(kSource);
		c.mf6cc_mcastgrp.sin6_family = AF_INET6;
		c.mf6cc_mcastgrp.sin6_addr = addr6(kGroup);
		c.mf6cc_parent = 0;
		IF_SET(out, &c.mf6cc_ifset);
		if (setsockopt(fd_, IPPROTO_IPV6, MRT6_ADD_MFC, &c, sizeof(c)) != 0)
			die(std::string("MRT6_ADD_MFC: ") + std::strerror(errno));
	}

private:
	int fd_ = -1;
};

// The minimal user-space encapsulator: WHOLEPKT upcalls in, Registers out.
class Encapsulator {
public:
	Encapsulator(int mroute_fd, const in6_addr &dr, const in6_addr &rp) : mroute_fd_(mroute_fd), rp_(rp)
	{
		pim_fd_ = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, kProtoPim);
		sockaddr_in6 a{};
		a.sin6_family = AF_INET6;
		a.sin6_addr = dr;
		if (pim_fd_ < 0 || bind(pim_fd_, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0)
			die(std::string("raw PIM socket: ") + std::strerror(errno));
		// RFC 7761 §4.9: the checksum of a Register covers its 8-byte
		// header and the pseudo-header (upper-layer length 8): the same
		// for every packet of one (DR, RP) pair but for nothing.
		uint8_t pseudo[40] = {};
		std::memcpy(pseudo, dr.s6_addr, 16);
		std::memcpy(pseudo + 16, rp.s6_addr, 16);
		pseudo[35] = 8;
		pseudo[39] = kProtoPim;
		uint8_t header[8] = {0x21, 0, 0, 0, 0, 0, 0, 0};
		uint32_t sum = csum_add(csum_add(0, pseudo, sizeof(pseudo)), header, sizeof(header));
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		header_ = {0x21, 0, uint8_t(~sum >> 8), uint8_t(~sum), 0, 0, 0, 0};
		thread_ = std::thread([this] { run(); });
	}
	~Encapsulator()
	{
		stop_ = true;
		thread_.join();
		close(pim_fd_);
	}

private:
	void run()
	{
		umigame::bench::pin_to_cpu0();
		std::vector<uint8_t> buf(65536);
		sockaddr_in6 to{};
		to.sin6_family = AF_INET6;
		to.sin6_addr = rp_;
		while (!stop_) {
			pollfd p{mroute_fd_, POLLIN, 0};
			if (poll(&p, 1, 20) <= 0)
				continue;
			ssize_t n = recv(mroute_fd_, buf.data(), buf.size(), MSG_DONTWAIT);
			if (n < ssize_t(sizeof(mrt6msg) + 40))
				continue;
			const auto *m = reinterpret_cast<const mrt6msg *>(buf.data());
			if (m->im6_mbz != 0 || m->im6_msgtype != MRT6MSG_WHOLEPKT)
				continue;
			iovec iov[2] = {{header_.data(), header_.size()},
					{buf.data() + sizeof(mrt6msg), size_t(n) - sizeof(mrt6msg)}};
			msghdr msg{};
			msg.msg_name = &to;
			msg.msg_namelen = sizeof(to);
			msg.msg_iov = iov;
			msg.msg_iovlen = 2;
			sendmsg(pim_fd_, &msg, 0);
		}
	}

	int mroute_fd_, pim_fd_ = -1;
	in6_addr rp_;
	std::array<uint8_t, 8> header_{};
	std::atomic<bool> stop_{false};
	std::thread thread_;
};

} // namespace

int main(int argc, char **argv)
{
	const auto args = umigame::bench::parse_live_bench_args(
		argc, argv, {"in", "spare", "sink", "plain", "plain-sink", "rp", "dr"});
	const std::string &in = args["in"];
	umigame::bench::pin_to_cpu0();

	Mroute mr;
	mr.add_mif(0, in.c_str());
	mr.add_mif(1, "preg0");
	mr.add_mif(2, nullptr, MIFF_REGISTER);
	mr.add_mif(3, args["plain"].c_str());
	Encapsulator encap(mr.fd(), addr6(args["dr"].c_str()), addr6(args["rp"].c_str()));

	int problems = 0;
	struct Row {
		std::string name;
		double ours, upcall, ratio, lo, hi;
		const char *goal;
	};
	std::vector<Row> rows;
	for (size_t size : args.sizes) {
		LiveFeeder feeder(in.c_str(), args["spare"].c_str(), {args["sink"], args["plain-sink"]},
				  umigame::bench::udp6_frame(mac_of(in.c_str()), kSource, kGroup, 8, size));
		// Per round: the median of its calls' ratios, whole and less the
		// plain forwarding of the same calls.
		std::vector<double> ratios, encap_ratios, ceilings, ours_all, upcall_all, plain_all;
		for (int r = 0; r < args.rounds; r++) {
			std::vector<double> call_ratios, call_encap, call_ceiling;
			for (int c = 0; c < args.calls; c++) {
				double t[3] = {};
				for (int k = 0; k < 3; k++) {
					const int way = (c + k) % 3; // who goes first rotates
					mr.route_to(way == 0 ? 1 : way == 1 ? 2 : 3);
					t[way] = feeder.call(kPerCall);
				}
				if (t[0] < 0 || t[1] < 0 || t[2] < 0) {
					std::printf("# %zu B: a call lost packets (ours %s, upcall %s, plain %s)\n", size,
						    t[0] < 0 ? "lost" : "ok", t[1] < 0 ? "lost" : "ok", t[2] < 0 ? "lost" : "ok");
					problems++;
					continue;
				}
				ours_all.push_back(1e6 * t[0] / kPerCall);
				upcall_all.push_back(1e6 * t[1] / kPerCall);
				plain_all.push_back(1e6 * t[2] / kPerCall);
				call_ratios.push_back(t[1] / t[0]);
				call_encap.push_back(t[0] > t[2] ? (t[1] - t[2]) / (t[0] - t[2]) : 0);
				call_ceiling.push_back(t[1] / t[2]);
			}
			if (!call_ratios.empty()) {
				ratios.push_back(median(call_ratios));
				encap_ratios.push_back(median(call_encap));
				ceilings.push_back(median(call_ceiling));
			}
		}
		if (ratios.empty())
			die("no call completed");
		auto add = [&](const std::string &name, const std::vector<double> &v, double ours, double upcall,
			       const char *goal) {
			auto [lo, hi] = std::minmax_element(v.begin(), v.end());
			rows.push_back({name, ours, upcall, median(v), *lo, *hi, goal});
		};
		const double plain_us = median(plain_all);
		add(std::to_string(size) + "-byte UDP payload", ratios, median(ours_all), median(upcall_all), ">= 5x");
		add(std::to_string(size) + " B, less plain fwd *", encap_ratios, median(ours_all) - plain_us,
		    median(upcall_all) - plain_us, "");
		add(std::to_string(size) + " B, ceiling **", ceilings, plain_us, median(upcall_all), "");
		std::printf("# %zu B: plain forwarding to a veth MIF %.1f us/packet\n", size, plain_us);
		std::fflush(stdout);
	}
	std::printf("| %-26s | %12s | %12s | %7s | %-13s | %-7s | %-6s |\n", "PIM Registers, 6.1 guest",
		    "ours us/pkt", "upcall us/pkt", "ratio", "rounds", "goal", "");
	std::printf("|%s|%s|%s|%s|%s|%s|%s|\n", std::string(28, '-').c_str(), std::string(14, '-').c_str(),
		    std::string(14, '-').c_str(), std::string(9, '-').c_str(), std::string(15, '-').c_str(),
		    std::string(9, '-').c_str(), std::string(8, '-').c_str());
	for (const auto &r : rows) {
		char range[32];
		std::snprintf(range, sizeof(range), "%.2f-%.2fx", r.lo, r.hi);
		std::printf("| %-26s | %12.1f | %12.1f | %6.2fx | %-13s | %-7s | %-6s |\n", r.name.c_str(), r.ours,
			    r.upcall, r.ratio, range, r.goal, !*r.goal ? "" : r.ratio >= 5 ? "met" : "missed");
	}
	std::printf("ratio: the upcall path's time per packet over ours, the median of %d rounds, each the "
		    "median of %d turns of calls of %u packets\n"
		    "* each call's time less that of forwarding the same packets to an ordinary (veth) MIF in "
		    "the same turn: the Register part alone, for information\n"
		    "** plain forwarding in ours' column: what the upcall path would be against a Register "
		    "that cost nothing at all\n",
		    args.rounds, args.calls, kPerCall);
	return problems ? 1 : 0;
}
