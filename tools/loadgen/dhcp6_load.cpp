// umigame-dhcp6-load: many DHCPv6 requesting routers from one socket, for
// load tests and `make bench`. Each simulated client has its own DUID-LL
// (a MAC made from --seed and its number) and one IA_PD, and runs the
// four-message exchange of RFC 8415 §18 (Solicit, Advertise, Request, Reply)
// or the two-message one with Rapid Commit (§18.2.1). At most --window
// exchanges are in flight; a client whose answer does not come within
// --timeout sends again, up to --attempts times (a fixed timeout, not the
// RFC's back-off: the point is to load the server, and a restarted server
// must be reached again quickly).
//
// It talks to any RFC 8415 server (it was checked against Kea first) and
// records each granted lease, as the Reply arrives, as one line
//   <duid hex> <iaid> <prefix/len>
// in --leases FILE (flushed per line, so a test that kills the server knows
// exactly what had been granted). A prefix granted to two clients is a
// failure of the server and is counted.
//
// Output: a summary line, or a JSON object with --json. Exit status 0 when
// every client got a prefix, 1 otherwise.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "umigame/dhcp6/message.h"
#include "umigame/event_loop.h"

using namespace umigame;
using namespace umigame::dhcp6;

namespace {

struct Options {
	std::string interface;
	Ipv6Address server = kAllDhcpRelayAgentsAndServers;
	uint32_t clients = 200;
	uint32_t window = 32;
	uint32_t seed = 1;
	uint8_t hint_length = 0; // 0: no hint
	bool rapid_commit = false;
	bool json = false;
	double timeout_s = 1.0;
	uint32_t attempts = 10;
	double deadline_s = 120;
	uint32_t rate = 0; // new clients per second, 0 = as fast as the window allows
	std::string leases_file;
};

[[noreturn]] void usage(int status)
{
	std::fprintf(status ? stderr : stdout,
		     "usage: umigame-dhcp6-load -i IFACE [options]\n"
		     "  -i, --interface IF   where the requesting routers are (required)\n"
		     "  -s, --server ADDR    server address (default ff02::1:2)\n"
		     "  -n, --clients N      simulated requesting routers (default 200)\n"
		     "  -w, --window N       exchanges in flight at once (default 32)\n"
		     "      --seed N         varies the DUIDs between runs (default 1)\n"
		     "      --hint LEN       ask for a prefix of this length\n"
		     "      --rapid-commit   two-message exchange\n"
		     "      --timeout SEC    wait before sending again (default 1)\n"
		     "      --attempts N     transmissions per message (default 10)\n"
		     "      --deadline SEC   give up on the whole run (default 120)\n"
		     "      --rate N         start at most N clients per second (spreads a run\n"
		     "                       out in time, e.g. to kill the server in the middle)\n"
		     "      --leases FILE    append each granted lease as it arrives\n"
		     "      --json           print the summary as JSON\n");
	std::exit(status);
}

Options parse_args(int argc, char **argv)
{
	Options o;
	auto need = [&](int &i) -> std::string {
		if (i + 1 >= argc)
			usage(2);
		return argv[++i];
	};
	auto number = [](const std::string &s, unsigned long max) -> unsigned long {
		char *end = nullptr;
		errno = 0;
		unsigned long v = std::strtoul(s.c_str(), &end, 10);
		if (errno || end == s.c_str() || *end || v > max) {
			std::fprintf(stderr, "umigame-dhcp6-load: bad number '%s'\n", s.c_str());
			std::exit(2);
		}
		return v;
	};
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "-i" || a == "--interface")
			o.interface = need(i);
		else if (a == "-s" || a == "--server") {
			auto addr = Ipv6Address::parse(need(i));
			if (!addr)
				usage(2);
			o.server = *addr;
		} else if (a == "-n" || a == "--clients")
			o.clients = static_cast<uint32_t>(number(need(i), 1u << 24));
		else if (a == "-w" || a == "--window")
			o.window = static_cast<uint32_t>(std::max(1ul, number(need(i), 65536)));
		else if (a == "--seed")
			o.seed = static_cast<uint32_t>(number(need(i), 0xffff));
		else if (a == "--hint")
			o.hint_length = static_cast<uint8_t>(number(need(i), 128));
		else if (a == "--rapid-commit")
			o.rapid_commit = true;
		else if (a == "--timeout")
			o.timeout_s = static_cast<double>(number(need(i), 3600));
		else if (a == "--timeout-ms")
			o.timeout_s = static_cast<double>(number(need(i), 3600000)) / 1000.0;
		else if (a == "--attempts")
			o.attempts = static_cast<uint32_t>(std::max(1ul, number(need(i), 1000)));
		else if (a == "--deadline")
			o.deadline_s = static_cast<double>(number(need(i), 86400));
		else if (a == "--rate")
			o.rate = static_cast<uint32_t>(number(need(i), 1000000));
		else if (a == "--leases")
			o.leases_file = need(i);
		else if (a == "--json")
			o.json = true;
		else if (a == "-h" || a == "--help")
			usage(0);
		else
			usage(2);
	}
	if (o.interface.empty())
		usage(2);
	return o;
}

enum class Phase { idle, soliciting, requesting, done, failed };

struct SimClient {
	Duid duid;
	uint32_t iaid = 1;
	Phase phase = Phase::idle;
	uint32_t xid = 0;
	uint32_t sent = 0; // transmissions of the current message
	Message pending;   // what to send again
	Timer timeout;
	EventLoop::TimePoint started{};
};

class LoadGenerator {
public:
	explicit LoadGenerator(Options options) : o_(std::move(options)), rng_(o_.seed)
	{
		ifindex_ = ::if_nametoindex(o_.interface.c_str());
		if (!ifindex_)
			throw std::runtime_error("no interface " + o_.interface);
		open_socket();
		if (!o_.leases_file.empty()) {
			leases_out_ = std::fopen(o_.leases_file.c_str(), "a");
			if (!leases_out_)
				throw std::runtime_error("cannot open " + o_.leases_file + ": " + std::strerror(errno));
		}
		clients_.resize(o_.clients);
		for (uint32_t i = 0; i < o_.clients; i++) {
			// Locally administered MAC: 02:<seed>:<client number>.
			MacAddress mac{{0x02, static_cast<uint8_t>(o_.seed >> 8), static_cast<uint8_t>(o_.seed),
					static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
					static_cast<uint8_t>(i)}};
			clients_[i].duid = Duid::ll(mac);
		}
	}

	~LoadGenerator()
	{
		if (leases_out_)
			std::fclose(leases_out_);
	}

	int run()
	{
		watch_ = loop_.watch(sock_.get(), IoInterest::read, [this](IoReady) { receive_all(); });
		deadline_ = loop_.after(std::chrono::duration_cast<EventLoop::Duration>(
						std::chrono::duration<double>(o_.deadline_s)),
					[this] {
						timed_out_ = true;
						loop_.stop();
					});
		start_ = EventLoop::now();
		fill_window();
		flush();
		if (finished_ < clients_.size())
			loop_.run();
		end_ = EventLoop::now();
		return report();
	}

private:
	void open_socket()
	{
		sock_ = UniqueFd(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
		if (!sock_)
			throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
		int one = 1;
		::setsockopt(sock_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		int big = 4 << 20;
		::setsockopt(sock_.get(), SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		::setsockopt(sock_.get(), SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		if (::setsockopt(sock_.get(), SOL_SOCKET, SO_BINDTODEVICE, o_.interface.c_str(),
				 static_cast<socklen_t>(o_.interface.size())) != 0)
			throw std::runtime_error("SO_BINDTODEVICE " + o_.interface + ": " + std::strerror(errno));
		int hops = 1;
		::setsockopt(sock_.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops));
		unsigned idx = ifindex_;
		::setsockopt(sock_.get(), IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx));
		sockaddr_in6 local{};
		local.sin6_family = AF_INET6;
		local.sin6_port = htons(kClientPort);
		if (::bind(sock_.get(), reinterpret_cast<sockaddr *>(&local), sizeof(local)) != 0)
			throw std::runtime_error(std::string("bind [::]:546: ") + std::strerror(errno));
	}

	void fill_window()
	{
		while (in_flight_ < o_.window && next_ < clients_.size()) {
			if (o_.rate) {
				// Client k may start k/rate seconds into the run.
				auto due = start_ + std::chrono::duration_cast<EventLoop::Duration>(
							    std::chrono::duration<double>(static_cast<double>(next_) / o_.rate));
				if (EventLoop::now() < due) {
					if (!pacer_.active())
						pacer_ = loop_.at(due, [this] {
							fill_window();
							flush();
						});
					return;
				}
			}
			begin(next_++);
		}
	}

	uint32_t new_xid(size_t index)
	{
		uint32_t xid;
		do
			xid = rng_() & 0xffffff;
		while (by_xid_.count(xid));
		by_xid_[xid] = index;
		return xid;
	}

	IaPd ia_request(const SimClient &c) const
	{
		IaPd ia{.iaid = c.iaid};
		if (o_.hint_length)
			ia.options.add(IaPrefix{.prefix = Ipv6Prefix{{}, o_.hint_length}});
		return ia;
	}

	void begin(size_t index)
	{
		SimClient &c = clients_[index];
		in_flight_++;
		c.phase = Phase::soliciting;
		c.started = EventLoop::now();
		c.xid = new_xid(index);
		c.pending = Message::solicit(c.xid, c.duid).add(ia_request(c));
		if (o_.rapid_commit)
			c.pending.add(RapidCommit{});
		c.sent = 0;
		transmit(index);
	}

	void transmit(size_t index)
	{
		SimClient &c = clients_[index];
		if (c.sent >= o_.attempts) {
			finish(index, Phase::failed, "no answer");
			return;
		}
		if (c.sent)
			retransmissions_++;
		c.sent++;
		outbox_.push_back(c.pending.serialize());
		sent_total_++;
		c.timeout = loop_.after(std::chrono::duration_cast<EventLoop::Duration>(
						std::chrono::duration<double>(o_.timeout_s)),
					[this, index] {
						transmit(index);
						flush();
					});
	}

	// What one turn of the loop queued, in sendmmsg(2) calls of up to 64:
	// the generator must cost the machine less than the server it loads.
	void flush()
	{
		constexpr size_t kBatch = 64;
		sockaddr_in6 to{};
		to.sin6_family = AF_INET6;
		to.sin6_port = htons(kServerPort);
		std::memcpy(&to.sin6_addr, o_.server.bytes.data(), 16);
		to.sin6_scope_id = ifindex_;
		for (size_t first = 0; first < outbox_.size(); first += kBatch) {
			const size_t count = std::min(kBatch, outbox_.size() - first);
			iovec iov[kBatch];
			mmsghdr msgs[kBatch] = {};
			for (size_t i = 0; i < count; i++) {
				iov[i] = {outbox_[first + i].data(), outbox_[first + i].size()};
				msgs[i].msg_hdr.msg_name = &to;
				msgs[i].msg_hdr.msg_namelen = sizeof(to);
				msgs[i].msg_hdr.msg_iov = &iov[i];
				msgs[i].msg_hdr.msg_iovlen = 1;
			}
			size_t done = 0;
			while (done < count) {
				int n = ::sendmmsg(sock_.get(), msgs + done, unsigned(count - done), 0);
				if (n > 0) {
					done += size_t(n);
					continue;
				}
				// This one is lost (the client's timer resends it).
				if (errno != EAGAIN && errno != ENOBUFS && !send_errors_++)
					first_send_error_ = std::strerror(errno);
				done++;
			}
		}
		outbox_.clear();
	}

	void receive_all()
	{
		constexpr size_t kBatch = 64, kSize = 4096;
		for (;;) {
			iovec iov[kBatch];
			mmsghdr msgs[kBatch] = {};
			for (size_t i = 0; i < kBatch; i++) {
				iov[i] = {inbox_.data() + i * kSize, kSize};
				msgs[i].msg_hdr.msg_iov = &iov[i];
				msgs[i].msg_hdr.msg_iovlen = 1;
			}
			int n = ::recvmmsg(sock_.get(), msgs, kBatch, MSG_DONTWAIT, nullptr);
			if (n <= 0)
				break; // EAGAIN: drained
			for (int i = 0; i < n; i++) {
				Message m;
				try {
					if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
						throw std::length_error("truncated");
					m = Message::parse(std::span<const uint8_t>(inbox_.data() + size_t(i) * kSize,
										   msgs[i].msg_len));
				} catch (const std::exception &) {
					malformed_++;
					continue;
				}
				auto it = by_xid_.find(m.transaction_id);
				if (it == by_xid_.end()) {
					stray_++; // a late answer to a message we already gave up on
					continue;
				}
				handle(it->second, m);
			}
		}
		flush();
	}

	const IaPd *our_ia(const SimClient &c, const Message &m) const
	{
		for (const IaPd *ia : m.all<IaPd>())
			if (ia->iaid == c.iaid)
				return ia;
		return nullptr;
	}

	void handle(size_t index, const Message &m)
	{
		SimClient &c = clients_[index];
		const Duid *cid = m.client_id();
		if (!cid || !(*cid == c.duid) || !m.server_id()) {
			stray_++; // RFC 8415 §16.3/§16.10: not for this client
			return;
		}
		const IaPd *ia = our_ia(c, m);
		if (c.phase == Phase::soliciting && m.type == MessageType::Advertise) {
			if (!ia || ia->status() != Status::Success || ia->prefixes().empty()) {
				// §18.2.1 / §18.2.9: an Advertise with no prefix is no
				// offer; keep soliciting.
				no_prefix_++;
				return;
			}
			by_xid_.erase(c.xid);
			c.xid = new_xid(index);
			IaPd asked{.iaid = c.iaid};
			for (const IaPrefix *p : ia->prefixes())
				asked.options.add(IaPrefix{.prefix = p->prefix});
			c.pending = Message::request(c.xid, c.duid, *m.server_id()).add(std::move(asked));
			c.phase = Phase::requesting;
			c.sent = 0;
			transmit(index);
			return;
		}
		bool reply_expected = c.phase == Phase::requesting ||
				      (c.phase == Phase::soliciting && o_.rapid_commit);
		if (!reply_expected || m.type != MessageType::Reply) {
			stray_++;
			return;
		}
		if (!ia || ia->status() != Status::Success || ia->prefixes().empty() ||
		    ia->prefixes().front()->valid_lifetime == 0) {
			finish(index, Phase::failed, "no prefix in Reply");
			return;
		}
		record(c, ia->prefixes().front()->prefix);
		finish(index, Phase::done, nullptr);
	}

	void record(const SimClient &c, const Ipv6Prefix &prefix)
	{
		std::string key = hex_string(c.duid.bytes()) + " " + std::to_string(c.iaid);
		auto [it, fresh] = holder_.emplace(prefix, key);
		if (!fresh && it->second != key)
			duplicates_++;
		if (leases_out_) {
			std::fprintf(leases_out_, "%s %s\n", key.c_str(), prefix.str().c_str());
			std::fflush(leases_out_);
		}
		latencies_ms_.push_back(
			std::chrono::duration<double, std::milli>(EventLoop::now() - c.started).count());
	}

	void finish(size_t index, Phase phase, const char *why)
	{
		SimClient &c = clients_[index];
		c.timeout.reset();
		by_xid_.erase(c.xid);
		c.phase = phase;
		if (phase == Phase::done)
			granted_++;
		else {
			failed_++;
			if (why)
				failures_[why]++;
		}
		in_flight_--;
		finished_++;
		if (finished_ == clients_.size()) {
			loop_.stop();
			return;
		}
		fill_window();
	}

	int report()
	{
		double seconds = std::chrono::duration<double>(end_ - start_).count();
		std::sort(latencies_ms_.begin(), latencies_ms_.end());
		auto pct = [&](double q) {
			if (latencies_ms_.empty())
				return 0.0;
			return latencies_ms_[static_cast<size_t>(q * static_cast<double>(latencies_ms_.size() - 1))];
		};
		nlohmann::json out{
			{"clients", clients_.size()},
			{"granted", granted_},
			{"failed", failed_},
			{"unfinished", clients_.size() - finished_},
			{"duplicates", duplicates_},
			{"retransmissions", retransmissions_},
			{"messages_sent", sent_total_},
			{"send_errors", send_errors_},
			{"first_send_error", first_send_error_},
			{"malformed", malformed_},
			{"stray", stray_},
			{"advertise_without_prefix", no_prefix_},
			{"seconds", seconds},
			{"exchanges_per_second", seconds > 0 ? static_cast<double>(granted_) / seconds : 0.0},
			{"latency_ms_p50", pct(0.5)},
			{"latency_ms_p99", pct(0.99)},
			{"timed_out", timed_out_},
		};
		for (auto &[why, n] : failures_)
			out["failures"][why] = n;
		if (o_.json)
			std::printf("%s\n", out.dump().c_str());
		else
			std::printf("%u/%zu granted in %.3f s (%.0f exchanges/s), %u failed, %u duplicate "
				    "prefixes, %u retransmissions, p50 %.2f ms, p99 %.2f ms\n",
				    granted_, clients_.size(), seconds, out["exchanges_per_second"].get<double>(),
				    failed_, duplicates_, retransmissions_, pct(0.5), pct(0.99));
		return granted_ == clients_.size() && duplicates_ == 0 ? 0 : 1;
	}

	Options o_;
	std::mt19937 rng_;
	unsigned ifindex_ = 0;
	UniqueFd sock_;
	FILE *leases_out_ = nullptr;
	EventLoop loop_;
	FdWatch watch_;
	Timer deadline_, pacer_;
	std::vector<SimClient> clients_;
	std::map<uint32_t, size_t> by_xid_;
	std::map<Ipv6Prefix, std::string> holder_;
	std::map<std::string, uint32_t> failures_;
	std::vector<double> latencies_ms_;
	size_t next_ = 0, finished_ = 0;
	uint32_t in_flight_ = 0, granted_ = 0, failed_ = 0, duplicates_ = 0;
	uint32_t retransmissions_ = 0, sent_total_ = 0, send_errors_ = 0, malformed_ = 0, stray_ = 0,
		 no_prefix_ = 0;
	std::string first_send_error_;
	std::vector<std::vector<uint8_t>> outbox_;
	std::vector<uint8_t> inbox_ = std::vector<uint8_t>(64 * 4096);
	bool timed_out_ = false;
	EventLoop::TimePoint start_{}, end_{};
};

} // namespace

int main(int argc, char **argv)
{
	Options options = parse_args(argc, argv);
	try {
		LoadGenerator gen(std::move(options));
		return gen.run();
	} catch (const std::exception &e) {
		std::fprintf(stderr, "umigame-dhcp6-load: %s\n", e.what());
		return 2;
	}
}
