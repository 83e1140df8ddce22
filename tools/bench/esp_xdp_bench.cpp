// esp_xdp_bench: ESP packets/s decrypted by XDP + umigame.ko against the
// kernel's xfrm, and replayed packets/s each drops; same SA, same frames,
// same port, same CPU, in the 6.1 guest (tools/bench/esp_bench.sh sets up
// the namespace, a router between a WAN and a LAN port, and runs this in
// it).
//
// The frames (tunnel mode IPv6-in-IPv6, AES-GCM-128 rfc4106, ESN) are built
// here with OpenSSL and fed to the WAN port by bpf/esp_bench_feed.bpf.c under
// BPF_PROG_TEST_RUN in live-frames mode:
//
//   copy frame i into the XDP buffer ─┬─ FEED_OURS: tail call → umigame_esp (replay
//                                     │    check, umigame.ko's kfunc decrypts, strip)
//                                     │    → XDP_PASS the inner packet → skb → ip6_rcv
//                                     ├─ FEED_PASS: XDP_PASS → skb → ip6_rcv → esp6
//                                     │    → xfrm_input (decrypt) → inner → ip6_rcv
//                                     └─ FEED_DROP: the feeding alone
//   inner packet: forwarded out of the LAN port, a dummy device, which
//   counts it as sent and frees it
//
// With --lan-xdp, a third run per round routes the inner packets out of a
// veth LAN port instead, whose peer counts and drops them in XDP (a NIC
// and its wire); there our program forwards them itself (`umigame esp
// forward`: bpf_fib_lookup, redirect), xfrm's go through the stack to the
// same port:
//
//   FEED_OURS: ... decrypt, strip → fib lookup → XDP_REDIRECT → veth → sink
//   FEED_PASS: ... xfrm_input → ip6_rcv → ip6_forward → veth → sink
//
// The same SA is in xfrm and in umigame.ko (window 4096, xfrm's largest),
// each with a window of its own, installed afresh every round; xfrm's
// forward policy has an optional template, so that the packets our program
// decrypted (which xfrm never saw) pass it too, paying for its lookup as
// they would next to xfrm policies on a router. Per payload size, each
// round:
//   decrypt: new frames, for --seconds each or until --frames run out,
//            each fed to one receiver and then to the other; a call is
//            complete when every inner packet left the LAN port (the same
//            point for both). In the same turns, the inner packets alone
//            in the clear (FEED_PASS): forwarding them is what both pay;
//   replay:  the newest 4096 of them again, in turn, to both: every one a
//            duplicate inside both windows; complete when all were counted
//            as dropped (the program's `replay` reason, xfrm's
//            XfrmInStateSeqError).
// Every call (kPerCall frames) of a receiver comes right after a FEED_DROP
// call over the same frames; its cost per packet is the difference, so the
// feeding is subtracted under the same load, and the receivers take turns.
// It all runs on one CPU, synchronously (softirq work the kernel defers to
// ksoftirqd runs on that CPU too before a call counts as complete), so wall
// time is work. The guest cannot see the host take its CPU away;
// neighbouring calls share the host's weather, so a ratio is taken call by
// call; a round's ratio is the median of its calls', the table's the
// median of the rounds'.
//
// usage: esp_xdp_bench --rx IF --spare IF --lan IF --pin-dir DIR
//                      [--lan-xdp IF --lan-xdp-peer IF]
//                      [--sizes 64,512,1400] [--rounds N] [--frames N] [--seconds S]
// --rx is the WAN port, --lan the LAN port (inner packets are routed out of
// it), --spare a port the feeder is attached to (see bpf/esp_bench_feed.bpf.c);
// --lan-xdp a veth LAN port for the XDP forwarding run (the route to the
// inner destinations is moved to it for that run, and its neighbour must be
// resolved), --lan-xdp-peer its peer, where the sink counts.
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <map>
#include <memory>
#include <net/if.h>
#include <sched.h>
#include <stdexcept>
#include <string>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <openssl/evp.h>

#include "esp.h"
#include "esp_bench_feed.h"
#include "esp_bench_feed.skel.h"
#include "sa_args.h"
#include "umigame/sa_netlink.h"
#include "umigame/xfrm.h"

using namespace umigame;

namespace {

using Bytes = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;

// The SA, as `umigame sa add` and `ip xfrm state add` take it.
constexpr uint32_t kSpi = 0x4200;
constexpr const char *kKeyHex = "0x0102030405060708090a0b0c0d0e0f10a1a2a3a4"; // key || salt
constexpr uint32_t kWindow = 4096;
const char *const kOuterSrc = "2001:db8:ffff::1";
const char *const kOuterDst = "2001:db8:ffff::2"; // rx's address
const char *const kInnerSrc = "2001:db8:1::1";
const char *const kInnerSrcNet = "2001:db8:1::/64";
const char *const kInnerDst = "2001:db8:2::1"; // behind the LAN port
const char *const kInnerDstNet = "2001:db8:2::/64";
constexpr uint16_t kPort = 6000;

constexpr uint32_t kPerCall = 512; // frames per BPF_PROG_TEST_RUN call
constexpr uint32_t kBatch = 64;    // frames per batch handed to the stack (a NAPI budget)
constexpr auto kStall = std::chrono::seconds(3);

[[noreturn]] void die(const std::string &msg)
{
	std::fprintf(stderr, "esp_xdp_bench: %s\n", msg.c_str());
	std::exit(1);
}

// ---- frames ------------------------------------------------------------

std::array<uint8_t, 16> addr6(const char *text)
{
	std::array<uint8_t, 16> a{};
	if (inet_pton(AF_INET6, text, a.data()) != 1)
		die(std::string("bad address ") + text);
	return a;
}

void put16(Bytes &b, uint16_t v)
{
	b.push_back(uint8_t(v >> 8));
	b.push_back(uint8_t(v));
}

void put32(Bytes &b, uint32_t v)
{
	put16(b, uint16_t(v >> 16));
	put16(b, uint16_t(v));
}

void put_ipv6(Bytes &b, uint16_t payload_len, uint8_t next, const char *src, const char *dst)
{
	put32(b, 6u << 28);
	put16(b, payload_len);
	b.push_back(next);
	b.push_back(64); // hop limit
	auto s = addr6(src), d = addr6(dst);
	b.insert(b.end(), s.begin(), s.end());
	b.insert(b.end(), d.begin(), d.end());
}

// RFC 8200 §8.1: UDP over IPv6 always carries its checksum.
uint16_t udp6_checksum(const Bytes &udp)
{
	uint32_t sum = 0;
	auto add = [&](const uint8_t *p, size_t n) {
		for (size_t i = 0; i + 1 < n; i += 2)
			sum += uint32_t(p[i]) << 8 | p[i + 1];
		if (n % 2)
			sum += uint32_t(p[n - 1]) << 8;
	};
	auto s = addr6(kInnerSrc), d = addr6(kInnerDst);
	add(s.data(), s.size());
	add(d.data(), d.size());
	sum += uint32_t(udp.size()) + 17;
	add(udp.data(), udp.size());
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t c = uint16_t(~sum);
	return c ? c : 0xffff;
}

Bytes key_bytes()
{
	Bytes k;
	for (size_t i = 2; i + 1 < std::strlen(kKeyHex); i += 2)
		k.push_back(uint8_t(std::stoul(std::string(kKeyHex + i, 2), nullptr, 16)));
	return k; // 16-byte AES key, then the 4-byte salt (RFC 4106 §8.1)
}

// Ethernet / IPv6 / ESP (tunnel mode) / IPv6 / UDP / payload, AES-GCM-128
// with a 16-byte ICV (RFC 4106), sequence number seq (64 bits, ESN: the high
// half in the AAD, RFC 4106 §5), IV = seq (unique per packet, §3.1).
class FrameBuilder {
public:
	FrameBuilder(const std::array<uint8_t, 6> &dst_mac, const std::array<uint8_t, 6> &src_mac)
	    : key_(key_bytes()), ctx_(EVP_CIPHER_CTX_new())
	{
		if (!ctx_ || EVP_EncryptInit_ex(ctx_.get(), EVP_aes_128_gcm(), nullptr, key_.data(),
						 nullptr) != 1)
			die("OpenSSL: cannot set up AES-128-GCM");
		eth_.insert(eth_.end(), dst_mac.begin(), dst_mac.end());
		eth_.insert(eth_.end(), src_mac.begin(), src_mac.end());
		put16(eth_, 0x86dd);
	}

	// The inner packet alone, as it leaves the tunnel: Ethernet / IPv6 / UDP.
	Bytes build_bare(uint64_t seq, size_t payload_len)
	{
		Bytes frame = eth_;
		Bytes inner = inner_packet(seq, payload_len);
		frame.insert(frame.end(), inner.begin(), inner.end());
		return frame;
	}

	Bytes build(uint64_t seq, size_t payload_len)
	{
		Bytes plain = inner_packet(seq, payload_len);
		size_t pad = (4 - (plain.size() + 2) % 4) % 4; // RFC 4303 §2.4
		for (size_t i = 1; i <= pad; i++)
			plain.push_back(uint8_t(i));
		plain.push_back(uint8_t(pad));
		plain.push_back(41); // next header: IPv6

		uint8_t iv[8], nonce[12], aad[12];
		for (int i = 0; i < 8; i++)
			iv[i] = uint8_t(seq >> (56 - 8 * i));
		std::memcpy(nonce, key_.data() + 16, 4);
		std::memcpy(nonce + 4, iv, 8);
		const uint32_t words[3] = {htonl(kSpi), htonl(uint32_t(seq >> 32)), htonl(uint32_t(seq))};
		std::memcpy(aad, words, sizeof(aad));

		Bytes esp;
		put32(esp, kSpi);
		put32(esp, uint32_t(seq));
		esp.insert(esp.end(), iv, iv + 8);
		size_t ct_off = esp.size();
		esp.resize(ct_off + plain.size() + 16);
		int len = 0;
		EVP_CIPHER_CTX *c = ctx_.get();
		if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, nonce) != 1 ||
		    EVP_EncryptUpdate(c, nullptr, &len, aad, sizeof(aad)) != 1 ||
		    EVP_EncryptUpdate(c, esp.data() + ct_off, &len, plain.data(), int(plain.size())) != 1 ||
		    EVP_EncryptFinal_ex(c, esp.data() + ct_off + len, &len) != 1 ||
		    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, esp.data() + ct_off + plain.size()) != 1)
			die("OpenSSL: AES-128-GCM encryption failed");

		Bytes frame = eth_;
		put_ipv6(frame, uint16_t(esp.size()), 50, kOuterSrc, kOuterDst);
		frame.insert(frame.end(), esp.begin(), esp.end());
		return frame;
	}

private:
	// IPv6 / UDP to kInnerDst:kPort, checksum included.
	static Bytes inner_packet(uint64_t seq, size_t payload_len)
	{
		Bytes udp;
		put16(udp, kPort);
		put16(udp, kPort);
		put16(udp, uint16_t(8 + payload_len));
		put16(udp, 0);
		for (size_t i = 0; i < payload_len; i++)
			udp.push_back(uint8_t(seq + i));
		uint16_t csum = udp6_checksum(udp);
		udp[6] = uint8_t(csum >> 8);
		udp[7] = uint8_t(csum);
		Bytes packet;
		put_ipv6(packet, uint16_t(udp.size()), 17, kInnerSrc, kInnerDst);
		packet.insert(packet.end(), udp.begin(), udp.end());
		return packet;
	}

	struct CtxFree {
		void operator()(EVP_CIPHER_CTX *c) const { EVP_CIPHER_CTX_free(c); }
	};
	Bytes key_;
	std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx_;
	Bytes eth_;
};

std::array<uint8_t, 6> mac_of(const std::string &dev)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ifreq ifr{};
	std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev.c_str());
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr) != 0)
		die("cannot read the MAC address of " + dev + ": " + std::strerror(errno));
	close(s);
	std::array<uint8_t, 6> m{};
	std::memcpy(m.data(), ifr.ifr_hwaddr.sa_data, 6);
	return m;
}

// ---- counters -------------------------------------------------------------

// A /proc file (this namespace's, under /proc/self/net), read afresh on
// every call.
class ProcFile {
public:
	explicit ProcFile(std::string path) : path_(std::move(path))
	{
		fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
		if (fd_ < 0)
			die("cannot open " + path_ + ": " + std::strerror(errno));
	}
	~ProcFile() { close(fd_); }
	ProcFile(const ProcFile &) = delete;
	ProcFile &operator=(const ProcFile &) = delete;

	// The lines, each split into words (at blanks and colons).
	std::vector<std::vector<std::string>> lines()
	{
		ssize_t n = pread(fd_, buf_, sizeof(buf_) - 1, 0);
		if (n <= 0)
			die("cannot read " + path_);
		buf_[n] = 0;
		std::vector<std::vector<std::string>> out;
		for (char *line = std::strtok(buf_, "\n"); line; line = std::strtok(nullptr, "\n")) {
			out.emplace_back();
			for (char *save = nullptr, *w = strtok_r(line, " \t:", &save); w;
			     w = strtok_r(nullptr, " \t:", &save))
				out.back().emplace_back(w);
		}
		return out;
	}

	// The number at `index` in the line whose first word is `first`.
	uint64_t field(const std::string &first, size_t index)
	{
		for (const auto &words : lines())
			if (words.size() > index && words[0] == first)
				return std::strtoull(words[index].c_str(), nullptr, 10);
		die("no " + first + " in " + path_);
	}

private:
	std::string path_;
	int fd_ = -1;
	char buf_[16384];
};

// The sum over CPUs of one slot of a per-CPU array.
uint64_t percpu_sum(int map_fd, uint32_t key)
{
	static const size_t ncpu = size_t(libbpf_num_possible_cpus());
	std::vector<uint64_t> v(ncpu, 0);
	if (bpf_map_lookup_elem(map_fd, &key, v.data()) != 0)
		die("cannot read the ESP program's counters");
	uint64_t sum = 0;
	for (uint64_t x : v)
		sum += x;
	return sum;
}

// ---- the feeder --------------------------------------------------------------

class Feeder {
public:
	Feeder(const std::string &rx, const std::string &spare, const std::string &sink_port,
	       uint32_t capacity, int ours_fd)
	{
		rx_ifindex_ = if_nametoindex(rx.c_str());
		spare_ifindex_ = if_nametoindex(spare.c_str());
		if (!rx_ifindex_ || !spare_ifindex_)
			die("no interface " + rx + " or " + spare);
		skel_ = esp_bench_feed__open();
		if (!skel_)
			die("cannot open the feeder's BPF object");
		skel_->rodata->spare_ifindex = spare_ifindex_;
		if (bpf_map__set_max_entries(skel_->maps.frames, capacity) != 0 ||
		    esp_bench_feed__load(skel_) != 0)
			die("cannot load the feeder's BPF program");
		uint32_t zero = 0;
		if (bpf_map_update_elem(bpf_map__fd(skel_->maps.next_prog), &zero, &ours_fd, BPF_ANY) != 0)
			die(std::string("cannot put umigame's ESP program behind the feeder: ") +
			    std::strerror(errno));
		prog_fd_ = bpf_program__fd(skel_->progs.umigame_esp_bench_feed);
		if (bpf_xdp_attach(int(spare_ifindex_), prog_fd_, XDP_FLAGS_DRV_MODE, nullptr) != 0)
			die("cannot attach the feeder to " + spare + ": " + std::strerror(errno));
		if (!sink_port.empty()) {
			sink_ifindex_ = if_nametoindex(sink_port.c_str());
			if (!sink_ifindex_ ||
			    bpf_xdp_attach(int(sink_ifindex_),
					   bpf_program__fd(skel_->progs.umigame_esp_bench_sink),
					   XDP_FLAGS_DRV_MODE, nullptr) != 0)
				die("cannot attach the sink to " + sink_port + ": " + std::strerror(errno));
		}
		capacity_ = capacity;
		table_len_ = sizeof(esp_bench_frame) * capacity;
		void *m = mmap(nullptr, table_len_, PROT_READ | PROT_WRITE, MAP_SHARED,
			       bpf_map__fd(skel_->maps.frames), 0);
		if (m == MAP_FAILED)
			die(std::string("cannot mmap the frame table: ") + std::strerror(errno));
		table_ = static_cast<esp_bench_frame *>(m);
	}
	~Feeder()
	{
		munmap(table_, table_len_);
		bpf_xdp_detach(int(spare_ifindex_), XDP_FLAGS_DRV_MODE, nullptr);
		if (sink_ifindex_)
			bpf_xdp_detach(int(sink_ifindex_), XDP_FLAGS_DRV_MODE, nullptr);
		esp_bench_feed__destroy(skel_);
	}
	Feeder(const Feeder &) = delete;
	Feeder &operator=(const Feeder &) = delete;

	// Frames the sink counted so far.
	uint64_t sunk() const { return __atomic_load_n(&skel_->bss->sunk, __ATOMIC_RELAXED); }

	void set(uint32_t i, const Bytes &frame)
	{
		if (i >= capacity_ || frame.size() > ESP_BENCH_FRAME_MAX)
			die("frame does not fit the table");
		table_[i].len = uint32_t(frame.size());
		std::memcpy(table_[i].data, frame.data(), frame.size());
	}

	// Feed frames [first, first + span) in turn, from the next-th on.
	void start(esp_bench_feed_mode mode, uint32_t first, uint32_t span, uint64_t next)
	{
		// The test frame: as long as every frame of the run (the program
		// overwrites it).
		test_frame_.assign(table_[first].data, table_[first].data + table_[first].len);
		skel_->bss->mode = mode;
		skel_->bss->first = first;
		skel_->bss->span = span;
		skel_->bss->next = next;
	}

	void feed(uint32_t n)
	{
		xdp_md md{};
		md.data_end = uint32_t(test_frame_.size());
		md.ingress_ifindex = rx_ifindex_;
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = test_frame_.data(),
			    .data_size_in = uint32_t(test_frame_.size()), .ctx_in = &md,
			    .ctx_size_in = sizeof(md), .repeat = int(n),
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = kBatch);
		if (bpf_prog_test_run_opts(prog_fd_, &opts) != 0)
			die(std::string("BPF_PROG_TEST_RUN (live frames): ") + std::strerror(errno));
	}

private:
	esp_bench_feed *skel_ = nullptr;
	esp_bench_frame *table_ = nullptr;
	size_t table_len_ = 0;
	uint32_t capacity_ = 0, rx_ifindex_ = 0, spare_ifindex_ = 0, sink_ifindex_ = 0;
	int prog_fd_ = -1;
	Bytes test_frame_;
};

// A receiver in a run: how frames are handed to it, what counts them as
// done, and what it cost.
struct Receiver {
	Receiver(esp_bench_feed_mode m, std::function<uint64_t()> c, uint32_t f, uint32_t s)
	    : mode(m), counter(std::move(c)), first(f), span(s)
	{
	}
	esp_bench_feed_mode mode;
	std::function<uint64_t()> counter;
	uint32_t first, span; // it gets frames [first, first + span), in turn
	uint64_t fed = 0, counted = 0;
	double fed_s = 0, drop_s = 0; // time in its calls, and in the FEED_DROP calls paired with them
	std::vector<double> costs;    // per call: (its time - the FEED_DROP call's) / frames, s
	double gross() const { return fed ? fed_s / double(fed) : 0; }
	double feeding() const { return fed ? drop_s / double(fed) : 0; }
	bool complete() const { return counted == fed; }
};

// Feed frames to each receiver from its range, kPerCall at a time, for
// about `seconds` or until `limit` are fed: each call goes to one receiver
// and then the next gets the same position in its own range (the same
// frames when the ranges are the same: each receiver has a window of its
// own), the first one rotating. Every such call is paired
// with a FEED_DROP call over the same frames just before it, so that the
// feeding is subtracted under the same machine load, and lasts until the
// receiver's counter has counted all its frames (the kernel may leave
// softirq work to ksoftirqd on this CPU: the wait sleeps so that it runs).
// Stops early when frames went missing.
void feed_turns(Feeder &f, uint64_t limit, double seconds, const std::vector<Receiver *> &receivers)
{
	using std::chrono::duration;
	const auto stop = Clock::now() + std::chrono::duration_cast<Clock::duration>(
						  duration<double>(seconds));
	uint64_t pos = 0;
	for (size_t call = 0; pos < limit && Clock::now() < stop; call++) {
		uint32_t n = uint32_t(std::min<uint64_t>(kPerCall, limit - pos));
		for (size_t j = 0; j < receivers.size(); j++) {
			Receiver &r = *receivers[(call + j) % receivers.size()];
			const uint64_t c0 = r.counter();
			f.start(FEED_DROP, r.first, r.span, pos);
			auto t0 = Clock::now();
			f.feed(n);
			auto t1 = Clock::now();
			f.start(r.mode, r.first, r.span, pos);
			f.feed(n);
			auto t2 = Clock::now();
			r.fed += n;
			uint64_t c = r.counter() - c0;
			auto last_change = t2;
			while (c < n && Clock::now() - last_change < kStall) {
				std::this_thread::sleep_for(std::chrono::microseconds(50));
				uint64_t now = r.counter() - c0;
				if (now != c) {
					c = now;
					last_change = Clock::now();
				}
			}
			r.counted += c;
			double drop = duration<double>(t1 - t0).count();
			double fed = duration<double>(std::max(t2, last_change) - t1).count();
			r.drop_s += drop;
			r.fed_s += fed;
			r.costs.push_back((fed - drop) / n);
			if (c != n)
				return;
		}
		pos += n;
	}
}

// ---- the two receivers ---------------------------------------------------------

struct Options {
	std::string rx, spare, lan, pin_dir;
	std::string lan_xdp, lan_xdp_peer; // empty: no XDP forwarding run
	std::vector<size_t> sizes = {64, 512, 1400};
	int rounds = 5;
	uint32_t frames = 60000; // decrypt frames per size (the table: 1.6 KB each)
	double seconds = 1.5;    // per receiver and kind of run, each round
	int cpu = 0;
};

class Receivers {
public:
	explicit Receivers(const Options &o) : esp_(o.pin_dir)
	{
		if (!Esp::module_present())
			die("umigame.ko is not loaded");
		esp_.open(true);
		stats_fd_ = bpf_obj_get((o.pin_dir + "/esp_stats").c_str());
		if (stats_fd_ < 0)
			die("cannot open the ESP program's counters");
	}
	~Receivers() { close(stats_fd_); }
	Receivers(const Receivers &) = delete;
	Receivers &operator=(const Receivers &) = delete;

	int program_fd() const { return esp_.prog_fd(); }

	// The same SA, fresh, in both (each has a window of its own).
	void reset()
	{
		xfrm_.flush_sas();
		xfrm_.flush_policies();
		XfrmSa sa;
		sa.id = {*IpAddress::parse(kOuterDst), kSpi, IPPROTO_ESP};
		sa.src = *IpAddress::parse(kOuterSrc);
		sa.mode = XfrmMode::tunnel;
		sa.reqid = 1;
		sa.aead_name = "rfc4106(gcm(aes))";
		Bytes k = key_bytes();
		sa.aead_key = SecretBytes(k.size());
		std::memcpy(sa.aead_key.data(), k.data(), k.size());
		sa.aead_icv_bits = 128;
		sa.esn = true;
		sa.replay_window = kWindow;
		xfrm_.add_sa(sa);
		// Tunnel mode: a packet xfrm decapsulated is not forwarded unless a
		// forward policy covers it (XfrmInNoPols). An optional template
		// ("level use") also lets the packets our program decrypted through,
		// which xfrm never saw: they pay for the policy lookup too, as they
		// would next to xfrm policies on a real router.
		XfrmPolicy p;
		p.selector.src = *IpPrefix::parse(kInnerSrcNet);
		p.selector.dst = *IpPrefix::parse(kInnerDstNet);
		p.dir = XfrmDir::fwd;
		XfrmTemplate t;
		t.src = sa.src;
		t.dst = sa.id.dst;
		t.mode = XfrmMode::tunnel;
		t.reqid = sa.reqid;
		t.optional = true;
		p.templates.push_back(t);
		xfrm_.add_policy(p);

		char spi[16];
		std::snprintf(spi, sizeof(spi), "0x%x", kSpi);
		auto cmd = cli::parse_sa_args({"add", "src", kOuterSrc, "dst", kOuterDst, "spi", spi,
					       "mode", "tunnel", "aead", "rfc4106(gcm(aes))", kKeyHex,
					       "128", "replay-window", std::to_string(kWindow), "flag",
					       "esn"});
		SaNetlink nl;
		nl.flush();
		nl.add(cmd.params);
		sync_from_module(esp_);
	}

	uint64_t decrypted_by_program() const { return esp_.stats().reasons[UMIGAME_ESP_DECRYPTED]; }
	uint64_t forwarded_by_program() const { return esp_.stats().reasons[UMIGAME_ESP_FORWARDED]; }

	// The inner destinations routed out of `lan`; with `xdp`, our program
	// forwards what goes there itself.
	void route_out_of(const std::string &lan, bool xdp)
	{
		const std::string cmd = std::string("ip -6 route replace ") + kInnerDstNet + " dev " + lan;
		if (std::system(cmd.c_str()) != 0)
			die("cannot route " + std::string(kInnerDstNet) + " out of " + lan);
		esp_.set_forward_ports(xdp ? std::vector<std::string>{lan} : std::vector<std::string>{});
	}
	uint64_t replays_by_program() const { return percpu_sum(stats_fd_, UMIGAME_ESP_REPLAY); }
	uint64_t decrypted_by_xfrm()
	{
		auto s = xfrm_.sa_stats({*IpAddress::parse(kOuterDst), kSpi, IPPROTO_ESP});
		return s ? s->packets : 0;
	}

private:
	Esp esp_;
	Xfrm xfrm_;
	int stats_fd_ = -1;
};

double median(std::vector<double> v)
{
	if (v.empty())
		return 0;
	std::sort(v.begin(), v.end());
	return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::vector<size_t> parse_sizes(const std::string &s)
{
	std::vector<size_t> out;
	size_t pos = 0;
	while (pos < s.size()) {
		size_t end = s.find(',', pos);
		if (end == std::string::npos)
			end = s.size();
		out.push_back(std::stoul(s.substr(pos, end - pos)));
		pos = end + 1;
	}
	return out;
}

Options parse_options(int argc, char **argv)
{
	Options o;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		auto value = [&]() -> std::string {
			if (i + 1 >= argc)
				die(a + " needs a value");
			return argv[++i];
		};
		if (a == "--rx")
			o.rx = value();
		else if (a == "--spare")
			o.spare = value();
		else if (a == "--lan")
			o.lan = value();
		else if (a == "--pin-dir")
			o.pin_dir = value();
		else if (a == "--lan-xdp")
			o.lan_xdp = value();
		else if (a == "--lan-xdp-peer")
			o.lan_xdp_peer = value();
		else if (a == "--sizes")
			o.sizes = parse_sizes(value());
		else if (a == "--rounds")
			o.rounds = std::stoi(value());
		else if (a == "--frames")
			o.frames = uint32_t(std::stoul(value()));
		else if (a == "--seconds")
			o.seconds = std::stod(value());
		else
			die("unknown argument " + a +
			    " (usage: esp_xdp_bench --rx IF --spare IF --lan IF --pin-dir DIR [--sizes 64,512,1400] "
			    "[--rounds N] [--frames N] [--seconds S])");
	}
	if (o.rx.empty() || o.spare.empty() || o.lan.empty() || o.pin_dir.empty())
		die("--rx, --spare, --lan and --pin-dir are needed");
	if (o.lan_xdp.empty() != o.lan_xdp_peer.empty())
		die("--lan-xdp and --lan-xdp-peer go together");
	if (o.rounds < 1 || o.frames < kWindow || !(o.seconds > 0) || o.sizes.empty())
		die("--rounds and --seconds must be positive, --frames at least the window (4096)");
	return o;
}

std::string kernel_release()
{
	char buf[128] = "";
	FILE *f = std::fopen("/proc/sys/kernel/osrelease", "r");
	if (f) {
		if (!std::fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		std::fclose(f);
	}
	std::string r = buf;
	while (!r.empty() && r.back() == '\n')
		r.pop_back();
	return r;
}

void pin_to_cpu(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		die("cannot pin to CPU " + std::to_string(cpu));
}

// The ratio of two receivers' costs for the same frames, fed one right
// after the other: the host's share of CPU for the guest drifts, but
// hardly between two neighbouring calls. A cost of 0 or less (noise, when a
// receiver costs little more than the feeding) counts as infinitely cheap.
double ratio_of(double xfrm_cost, double our_cost)
{
	return our_cost > 0 ? xfrm_cost / our_cost : HUGE_VAL;
}

// Per size and kind: each round's ratio, the median of its calls' ratios.
struct Results {
	std::vector<double> rounds;
	// less: a receiver whose cost both pay, taken off each call's.
	void add(const Receiver &ours, const Receiver &xfrm, const Receiver *less = nullptr)
	{
		std::vector<double> calls;
		size_t n = std::min(ours.costs.size(), xfrm.costs.size());
		if (less)
			n = std::min(n, less->costs.size());
		for (size_t i = 0; i < n; i++) {
			double base = less ? less->costs[i] : 0;
			calls.push_back(ratio_of(xfrm.costs[i] - base, ours.costs[i] - base));
		}
		rounds.push_back(median(calls));
	}
};

// target 0: a row for information, without one.
void print_row(const std::string &what, const Results &r, double target)
{
	double ratio = median(r.rounds);
	auto [lo, hi] = std::minmax_element(r.rounds.begin(), r.rounds.end());
	char range[48], want[48] = "";
	std::snprintf(range, sizeof(range), "%.2f-%.2fx", *lo, *hi);
	if (target > 0)
		std::snprintf(want, sizeof(want), ">= %gx", target);
	std::printf("| %-37s | %6.2fx | %13s | %-7s | %-6s |\n", what.c_str(), ratio, range, want,
		    target <= 0 ? "" : ratio >= target ? "met" : "missed");
}

void print_receiver(size_t size, int round, const char *who, const char *kind, const Receiver &r)
{
	std::printf("# %4zu B round %d %-4s %-7s %7" PRIu64 " packets: %7.2f us - %5.2f feeding, "
		    "median of the calls %7.2f us\n",
		    size, round, who, kind, r.fed, 1e6 * r.gross(), 1e6 * r.feeding(),
		    1e6 * median(r.costs));
}

} // namespace

int main(int argc, char **argv)
{
	Options o = parse_options(argc, argv);
	pin_to_cpu(o.cpu);
	try {
		Receivers rx(o);
		Feeder feeder(o.rx, o.spare, o.lan_xdp_peer, o.frames + kWindow, rx.program_fd());
		const bool xdp_run = !o.lan_xdp.empty();
		FrameBuilder fb(mac_of(o.rx), {0x02, 0, 0, 0, 0, 0x01});
		// Sent by the LAN port: /proc/net/dev has "dev:", 8 receive counters,
		// transmit bytes, transmit packets, ...
		ProcFile dev("/proc/self/net/dev");
		auto forwarded = [&] { return dev.field(o.lan, 10); };
		ProcFile xfrm_stat("/proc/self/net/xfrm_stat");
		auto xfrm_replays = [&] { return xfrm_stat.field("XfrmInStateSeqError", 1); };

		std::map<size_t, Results> decrypt, replay, crypto_only, decrypt_xdp_fwd;
		int problems = 0;
		for (size_t size : o.sizes) {
			auto g0 = Clock::now();
			for (uint32_t i = 0; i < o.frames; i++)
				feeder.set(i, fb.build(uint64_t(i) + 1, size));
			// Behind them: the inner packets alone, in the clear.
			for (uint32_t i = 0; i < kWindow; i++)
				feeder.set(o.frames + i, fb.build_bare(uint64_t(i) + 1, size));
			std::printf("# %zu B: %u frames of %zu bytes built in %.1f s\n", size, o.frames,
				    fb.build(1, size).size(),
				    std::chrono::duration<double>(Clock::now() - g0).count());
			for (int round = 1; round <= o.rounds; round++) {
				rx.reset();
				const uint64_t d0 = rx.decrypted_by_program();
				// With them, what forwarding the bare inner packet costs, which
				// both pay.
				Receiver d_ours{FEED_OURS, forwarded, 0, o.frames};
				Receiver d_xfrm{FEED_PASS, forwarded, 0, o.frames};
				Receiver bare{FEED_PASS, forwarded, o.frames, kWindow};
				feed_turns(feeder, o.frames, 3 * o.seconds, {&d_ours, &d_xfrm, &bare});
				const uint64_t by_ours = rx.decrypted_by_program() - d0,
					       by_xfrm = rx.decrypted_by_xfrm();
				// The newest frames again: every one a duplicate inside both windows.
				const uint32_t fed = uint32_t(std::min(d_ours.counted, d_xfrm.counted));
				const uint32_t span = std::min(fed, kWindow);
				Receiver r_ours{FEED_OURS, [&] { return rx.replays_by_program(); }, fed - span, span};
				Receiver r_xfrm{FEED_PASS, xfrm_replays, fed - span, span};
				if (span)
					feed_turns(feeder, UINT64_MAX, 2 * o.seconds, {&r_ours, &r_xfrm});

				print_receiver(size, round, "xfrm", "decrypt", d_xfrm);
				print_receiver(size, round, "ours", "decrypt", d_ours);
				print_receiver(size, round, "xfrm", "replay", r_xfrm);
				print_receiver(size, round, "ours", "replay", r_ours);
				print_receiver(size, round, "", "bare", bare);

				// The same decryption, the inner packets now leaving by the veth
				// port: ours forwarded in XDP, xfrm's by the stack.
				Receiver f_ours{FEED_OURS, [&] { return feeder.sunk(); }, 0, o.frames};
				Receiver f_xfrm{FEED_PASS, [&] { return feeder.sunk(); }, 0, o.frames};
				uint64_t fwd_by_ours = 0, fwd_by_xfrm = 0;
				if (xdp_run) {
					rx.reset();
					const uint64_t f0 = rx.forwarded_by_program();
					rx.route_out_of(o.lan_xdp, true);
					feed_turns(feeder, o.frames, 2 * o.seconds, {&f_ours, &f_xfrm});
					rx.route_out_of(o.lan, false);
					fwd_by_ours = rx.forwarded_by_program() - f0;
					fwd_by_xfrm = rx.decrypted_by_xfrm();
					print_receiver(size, round, "xfrm", "xdp-fwd", f_xfrm);
					print_receiver(size, round, "ours", "xdp-fwd", f_ours);
					if (!f_ours.complete() || !f_xfrm.complete() || fwd_by_ours != f_ours.fed ||
					    fwd_by_xfrm != f_xfrm.fed) {
						std::printf("#   incomplete (XDP forwarding): sunk %" PRIu64 "/%" PRIu64
							    " (ours, %" PRIu64 " forwarded in XDP), %" PRIu64 "/%" PRIu64
							    " (xfrm, %" PRIu64 " decrypted)\n",
							    f_ours.counted, f_ours.fed, fwd_by_ours, f_xfrm.counted,
							    f_xfrm.fed, fwd_by_xfrm);
						problems++;
					}
					decrypt_xdp_fwd[size].add(f_ours, f_xfrm);
				}
				if (!d_ours.complete() || !d_xfrm.complete() || by_ours != d_ours.fed ||
				    by_xfrm != d_xfrm.fed || !r_ours.complete() || !r_xfrm.complete() ||
				    !bare.complete() || !span) {
					std::printf("#   incomplete: forwarded %" PRIu64 "/%" PRIu64 " (ours, %" PRIu64
						    " decrypted), %" PRIu64 "/%" PRIu64 " (xfrm, %" PRIu64
						    " decrypted), %" PRIu64 "/%" PRIu64 " (bare); replays dropped %" PRIu64
						    "/%" PRIu64 " (ours), %" PRIu64 "/%" PRIu64 " (xfrm)\n",
						    d_ours.counted, d_ours.fed, by_ours, d_xfrm.counted, d_xfrm.fed, by_xfrm,
						    bare.counted, bare.fed, r_ours.counted, r_ours.fed, r_xfrm.counted,
						    r_xfrm.fed);
					problems++;
				}
				decrypt[size].add(d_ours, d_xfrm);
				replay[size].add(r_ours, r_xfrm);
				crypto_only[size].add(d_ours, d_xfrm, &bare);
				std::printf("# %4zu B round %d: ratios: decrypt %.2fx, replay %.2fx, decrypt less "
					    "forwarding %.2fx; forwarding the bare inner packet is %.0f %% of ours' cost",
					    size, round, decrypt[size].rounds.back(), replay[size].rounds.back(),
					    crypto_only[size].rounds.back(), 100 * median(bare.costs) / median(d_ours.costs));
				if (xdp_run)
					std::printf("; decrypt, ours forwarded in XDP %.2fx",
						    decrypt_xdp_fwd[size].rounds.back());
				std::printf("\n");
				std::fflush(stdout);
			}
		}

		std::printf("\nXDP + umigame.ko against xfrm in the %s guest: packets/s of one CPU, ours "
			    "over xfrm's (the median of %d rounds, each the median of its calls)\n",
			    kernel_release().c_str(), o.rounds);
		std::printf("| %-37s | %7s | %13s | %-7s | %-6s |\n",
			    "tunnel mode, AES-GCM-128, ESN, w 4096", "ratio", "rounds", "target", "");
		std::printf("|%s|%s|%s|%s|%s|\n", std::string(39, '-').c_str(), std::string(9, '-').c_str(),
			    std::string(15, '-').c_str(), std::string(9, '-').c_str(),
			    std::string(8, '-').c_str());
		for (size_t size : o.sizes)
			print_row("decrypted, " + std::to_string(size) + " B payload", decrypt[size], 1.5);
		if (xdp_run)
			for (size_t size : o.sizes)
				print_row("decrypted, " + std::to_string(size) + " B, XDP forwarding **",
					  decrypt_xdp_fwd[size], 1.5);
		for (size_t size : o.sizes)
			print_row("replays dropped, " + std::to_string(size) + " B payload", replay[size], 5.0);
		for (size_t size : o.sizes)
			print_row("decrypted, " + std::to_string(size) + " B, less forwarding *", crypto_only[size], 0);
		std::printf("* each call's cost less that of forwarding the bare inner packet just before or "
			    "after it (what both pay): the decryption paths alone, for information\n");
		if (xdp_run)
			std::printf("** the inner packets leave by a veth port (%s) whose peer drops them in XDP: "
				    "ours forwards them from XDP (umigame esp forward), xfrm through the stack\n",
				    o.lan_xdp.c_str());
		if (problems)
			std::printf("# %d runs incomplete (see above)\n", problems);
		return problems ? 1 : 0;
	} catch (const std::exception &e) {
		die(e.what());
	}
}
