// umigame-ike-load: many IKEv2 initiators against one responder, for load
// tests and `make bench`. Each setup is a fresh IKE SA: IKE_SA_INIT, then
// IKE_AUTH with a PSK, an ID_FQDN identity and the first CHILD_SA (RFC 7296
// §1.2), then, unless --keep, an INFORMATIONAL Delete of the IKE SA
// (§1.4.1) so that the responder's tables stay as small as the window. At
// most --window setups are in flight; a message whose answer does not come
// is sent again after --timeout-ms, doubling (§2.1), up to --attempts times.
//
// Each setup offers its own pair of /32 tunnel selectors (TSi from
// 10.128.0.0/9, TSr from 10.0.0.0/9, numbered by setup and --seed), so a
// responder that allows those /9s installs a distinct policy per CHILD_SA
// and none replaces another.
//
// A setup counts only when the IKE_AUTH answer is right: its AUTH verifies
// against the PSK (§2.15) and it accepts one of our ESP proposals with
// selectors inside what we offered (§2.9, §3.3.6). No INITIAL_CONTACT is
// sent: a responder must not tear down the other setups of the same
// identity.
//
// Output: a summary line, or a JSON object with --json. Exit status 0 when
// every setup succeeded, 1 otherwise.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "umigame/event_loop.h"
#include "umigame/ike/constants.h"
#include "umigame/iked/hand_initiator.h"
#include "umigame/iked/selectors.h"

using namespace umigame;
using namespace umigame::iked;
using Bytes = std::vector<uint8_t>;

namespace {

struct Options {
	IpAddress server;
	uint16_t port = 500;
	uint32_t count = 1000;
	double duration_s = 0; // > 0: start setups for this long instead of --count
	uint32_t window = 32;
	uint32_t sockets = 1;
	uint32_t seed = 0;
	std::string psk;
	std::string id = "load.example";
	std::string ike_proposal = "aes128gcm16-prfsha256-ecp256";
	std::string esp_proposal = "aes128gcm16";
	bool remove = true;
	bool reuse_ke = true;
	double timeout_s = 1.0;
	uint32_t attempts = 5;
	double deadline_s = 300;
	bool json = false;
};

[[noreturn]] void usage(int status)
{
	std::fprintf(status ? stderr : stdout,
		     "usage: umigame-ike-load -s ADDR --psk SECRET [options]\n"
		     "  -s, --server ADDR      the responder (IPv4 or IPv6; required)\n"
		     "  -p, --port N           its IKE port (default 500)\n"
		     "  -n, --count N          setups to make (default 1000)\n"
		     "  -d, --duration SEC     start setups for SEC seconds instead of --count\n"
		     "  -w, --window N         setups in flight at once (default 32)\n"
		     "      --sockets N        spread setups over N UDP sockets (default 1)\n"
		     "      --seed N           shifts the tunnel selectors between runs (default 0)\n"
		     "      --psk SECRET       the pre-shared key (required)\n"
		     "      --id FQDN          our identity, ID_FQDN (default load.example)\n"
		     "      --ike PROPOSAL     default aes128gcm16-prfsha256-ecp256\n"
		     "      --esp PROPOSAL     default aes128gcm16\n"
		     "      --keep             do not delete the IKE SAs (the responder keeps them)\n"
		     "      --fresh-ke         a new DH value per setup (default: one reused, RFC 7296\n"
		     "                         §2.12, so the generator costs less than the responder)\n"
		     "      --timeout-ms N     first retransmission (default 1000), doubling\n"
		     "      --attempts N       transmissions per message (default 5)\n"
		     "      --deadline SEC     give up on the whole run (default 300)\n"
		     "      --json             print the summary as JSON\n");
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
			std::fprintf(stderr, "umigame-ike-load: bad number '%s'\n", s.c_str());
			std::exit(2);
		}
		return v;
	};
	bool have_server = false;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "-s" || a == "--server") {
			auto addr = IpAddress::parse(need(i));
			if (!addr)
				usage(2);
			o.server = *addr;
			have_server = true;
		} else if (a == "-p" || a == "--port")
			o.port = static_cast<uint16_t>(number(need(i), 65535));
		else if (a == "-n" || a == "--count")
			o.count = static_cast<uint32_t>(number(need(i), 1u << 24));
		else if (a == "-d" || a == "--duration")
			o.duration_s = static_cast<double>(number(need(i), 86400));
		else if (a == "-w" || a == "--window")
			o.window = static_cast<uint32_t>(std::max(1ul, number(need(i), 65536)));
		else if (a == "--sockets")
			o.sockets = static_cast<uint32_t>(std::max(1ul, number(need(i), 64)));
		else if (a == "--seed")
			o.seed = static_cast<uint32_t>(number(need(i), 0xffff));
		else if (a == "--psk")
			o.psk = need(i);
		else if (a == "--id")
			o.id = need(i);
		else if (a == "--ike")
			o.ike_proposal = need(i);
		else if (a == "--esp")
			o.esp_proposal = need(i);
		else if (a == "--keep")
			o.remove = false;
		else if (a == "--fresh-ke")
			o.reuse_ke = false;
		else if (a == "--timeout-ms")
			o.timeout_s = static_cast<double>(std::max(1ul, number(need(i), 3600000))) / 1000.0;
		else if (a == "--attempts")
			o.attempts = static_cast<uint32_t>(std::max(1ul, number(need(i), 100)));
		else if (a == "--deadline")
			o.deadline_s = static_cast<double>(number(need(i), 86400));
		else if (a == "--json")
			o.json = true;
		else if (a == "-h" || a == "--help")
			usage(0);
		else
			usage(2);
	}
	if (!have_server || o.psk.empty() || o.id.empty())
		usage(2);
	return o;
}

std::span<const uint8_t> bytes_of(const std::string &s)
{
	return {reinterpret_cast<const uint8_t *>(s.data()), s.size()};
}

EventLoop::Duration seconds(double s)
{
	return std::chrono::duration_cast<EventLoop::Duration>(std::chrono::duration<double>(s));
}

enum class Phase { init, auth, deleting };

struct Setup {
	std::unique_ptr<HandInitiator> sa;
	Phase phase = Phase::init;
	uint32_t number = 0;  // which setup of the run: picks the selectors
	uint32_t socket = 0;
	Bytes init_request, init_response, pending;
	uint32_t message_id = 0, sent = 0;
	uint32_t cookies = 0;
	Timer timeout;
	EventLoop::TimePoint started{};
};

class LoadGenerator {
public:
	explicit LoadGenerator(Options options) : o_(std::move(options))
	{
		std::string error;
		auto ike = parse_proposal(o_.ike_proposal, true, &error);
		if (!ike)
			throw std::runtime_error("--ike: " + error);
		ike_ = *ike;
		auto esp = parse_proposal(o_.esp_proposal, false, &error);
		if (!esp)
			throw std::runtime_error("--esp: " + error);
		esp_ = *esp;
		if (o_.reuse_ke)
			shared_ke_ = ike::KeyExchange::create(ike_.dh);
		for (uint32_t i = 0; i < o_.sockets; i++)
			open_socket();
	}

	int run()
	{
		for (size_t i = 0; i < socks_.size(); i++)
			watches_.push_back(loop_.watch(socks_[i].get(), IoInterest::read, [this, i](IoReady) {
				receive_all(i);
			}));
		deadline_ = loop_.after(seconds(o_.deadline_s), [this] {
			timed_out_ = true;
			loop_.stop();
		});
		start_ = EventLoop::now();
		if (o_.duration_s > 0)
			stop_starting_ = loop_.after(seconds(o_.duration_s), [this] {
				starting_ = false;
				if (setups_.empty())
					loop_.stop();
			});
		fill_window();
		if (!setups_.empty())
			loop_.run();
		end_ = EventLoop::now();
		return report();
	}

private:
	void open_socket()
	{
		int family = o_.server.family;
		UniqueFd fd(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
		if (!fd)
			throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
		int big = 4 << 20;
		::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		// connect(): the kernel then drops anything not from the responder,
		// and send() needs no address. The source port is ephemeral: a
		// responder answers where a request came from (RFC 7296 §2.11).
		sockaddr_storage to{};
		socklen_t len;
		if (family == AF_INET6) {
			auto *s6 = reinterpret_cast<sockaddr_in6 *>(&to);
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(o_.port);
			std::memcpy(&s6->sin6_addr, o_.server.bytes.data(), 16);
			len = sizeof(*s6);
		} else {
			auto *s4 = reinterpret_cast<sockaddr_in *>(&to);
			s4->sin_family = AF_INET;
			s4->sin_port = htons(o_.port);
			std::memcpy(&s4->sin_addr, o_.server.bytes.data(), 4);
			len = sizeof(*s4);
		}
		if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&to), len) != 0)
			throw std::runtime_error("connect " + o_.server.str() + ": " + std::strerror(errno));
		socks_.push_back(std::move(fd));
	}

	bool more_to_start() const { return o_.duration_s > 0 ? starting_ : started_ < o_.count; }

	void fill_window()
	{
		while (setups_.size() < o_.window && more_to_start())
			begin();
	}

	void begin()
	{
		auto owned = std::make_unique<Setup>();
		Setup &s = *owned;
		s.sa = shared_ke_ ? std::make_unique<HandInitiator>(ike_, shared_ke_)
				  : std::make_unique<HandInitiator>(ike_);
		s.number = started_++;
		s.socket = s.number % static_cast<uint32_t>(socks_.size());
		s.started = EventLoop::now();
		s.init_request = s.sa->init_message().serialize();
		s.pending = s.init_request;
		uint64_t spi = s.sa->spi_i;
		setups_[spi] = std::move(owned);
		transmit(spi);
	}

	void transmit(uint64_t spi)
	{
		Setup &s = *setups_.at(spi);
		if (s.sent >= o_.attempts) {
			if (s.phase == Phase::deleting) {
				// The setup itself succeeded; only the cleanup went unanswered.
				delete_unanswered_++;
				finish(spi, nullptr);
			} else
				finish(spi, s.phase == Phase::init ? "no IKE_SA_INIT answer" : "no IKE_AUTH answer");
			return;
		}
		if (s.sent)
			retransmissions_++;
		double wait = o_.timeout_s * static_cast<double>(1u << std::min(s.sent, 10u));
		s.sent++;
		messages_sent_++;
		if (::send(socks_[s.socket].get(), s.pending.data(), s.pending.size(), 0) < 0 && !send_errors_++)
			first_send_error_ = std::strerror(errno); // the timer sends again
		s.timeout = loop_.after(seconds(wait), [this, spi] { transmit(spi); });
	}

	void send_new(uint64_t spi, Bytes message, Phase phase, uint32_t message_id)
	{
		Setup &s = *setups_.at(spi);
		s.pending = std::move(message);
		s.phase = phase;
		s.message_id = message_id;
		s.sent = 0;
		transmit(spi);
	}

	void receive_all(size_t sock)
	{
		constexpr size_t kBatch = 32, kSize = 4096;
		for (;;) {
			iovec iov[kBatch];
			mmsghdr msgs[kBatch] = {};
			for (size_t i = 0; i < kBatch; i++) {
				iov[i] = {inbox_.data() + i * kSize, kSize};
				msgs[i].msg_hdr.msg_iov = &iov[i];
				msgs[i].msg_hdr.msg_iovlen = 1;
			}
			int n = ::recvmmsg(socks_[sock].get(), msgs, kBatch, MSG_DONTWAIT, nullptr);
			if (n <= 0)
				break; // EAGAIN: drained
			for (int i = 0; i < n; i++) {
				std::span<const uint8_t> d(inbox_.data() + size_t(i) * kSize, msgs[i].msg_len);
				if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || d.size() < ike::Header::kSize) {
					malformed_++;
					continue;
				}
				handle(d);
			}
		}
	}

	void handle(std::span<const uint8_t> d)
	{
		ike::Header h;
		try {
			h = ike::Header::parse(d);
		} catch (const std::exception &) {
			malformed_++;
			return;
		}
		auto it = setups_.find(h.spi_i);
		if (it == setups_.end() || !h.is_response() || h.from_initiator()) {
			stray_++; // late, a duplicate, or the responder's own request
			return;
		}
		Setup &s = *it->second;
		if (h.message_id != s.message_id) {
			stray_++;
			return;
		}
		switch (s.phase) {
		case Phase::init:
			on_init_response(h.spi_i, d);
			break;
		case Phase::auth:
			on_auth_response(h.spi_i, d);
			break;
		case Phase::deleting:
			// §1.4.1: the answer to our Delete; its contents do not matter.
			if (!s.sa->open(d)) {
				stray_++;
				return;
			}
			finish(h.spi_i, nullptr);
			break;
		}
	}

	void on_init_response(uint64_t spi, std::span<const uint8_t> d)
	{
		Setup &s = *setups_.at(spi);
		ike::Message m;
		try {
			m = ike::Message::parse(d);
		} catch (const ike::ParseError &) {
			malformed_++;
			return;
		}
		if (const auto *cookie = m.find_notify(ike::notify::COOKIE); cookie && s.cookies < 3) {
			// §2.6: the same request again, the cookie first.
			cookies_++;
			s.cookies++;
			s.init_request = s.sa->init_message(cookie->data).serialize();
			send_new(spi, s.init_request, Phase::init, 0);
			return;
		}
		for (const auto *n : m.find_all<ike::NotifyPayload>())
			if (n->type < 16384) {
				finish(spi, ("IKE_SA_INIT refused: " + ike::notify_name(n->type)).c_str());
				return;
			}
		const auto *sa = m.find<ike::SaPayload>();
		if (!sa || !accept_answer(*sa, ike::ProtocolId::IKE, {ike_}) || !s.sa->accept_init_response(d)) {
			finish(spi, "bad IKE_SA_INIT answer");
			return;
		}
		s.init_response.assign(d.begin(), d.end());
		send_new(spi, auth_request(s), Phase::auth, 1);
	}

	// Setup k's tunnel: 10.128.0.0/9 + k (ours) to 10.0.0.0/9 + k.
	using SelectorList = std::vector<ike::TrafficSelector>;
	std::pair<SelectorList, SelectorList> selectors(uint32_t number) const
	{
		uint32_t k = ((o_.seed << 16) + number) & 0x7fffff;
		auto host = [k](uint32_t base) {
			uint32_t a = base | k;
			uint8_t b[4] = {uint8_t(a >> 24), uint8_t(a >> 16), uint8_t(a >> 8), uint8_t(a)};
			return selector_for(IpPrefix{IpAddress::v4(b), 32}, 0);
		};
		return {{host(0x0a800000)}, {host(0x0a000000)}};
	}

	// §1.2: IDi, AUTH, SAi2, TSi, TSr; one /32 pair per setup.
	Bytes auth_request(Setup &s)
	{
		std::vector<ike::Payload> p;
		ike::IdPayload idi{ike::IdType::FQDN, Bytes(o_.id.begin(), o_.id.end())};
		p.push_back({ike::PayloadType::IDi, false, idi});
		p.push_back({ike::PayloadType::AUTH, false, s.sa->psk_auth(s.init_request, bytes_of(o_.psk), idi)});
		Bytes esp_spi = ike::random_bytes(4);
		esp_spi[0] |= 0x01; // SPIs below 256 are reserved (RFC 4303 §2.1)
		p.push_back({ike::PayloadType::SA, false, ike::SaPayload{{to_wire(esp_, ike::ProtocolId::ESP, 1, esp_spi)}}});
		auto [tsi, tsr] = selectors(s.number);
		p.push_back({ike::PayloadType::TSi, false, ike::TsPayload{std::move(tsi)}});
		p.push_back({ike::PayloadType::TSr, false, ike::TsPayload{std::move(tsr)}});
		return s.sa->protect(ike::ExchangeType::IkeAuth, 1, p);
	}

	void on_auth_response(uint64_t spi, std::span<const uint8_t> d)
	{
		Setup &s = *setups_.at(spi);
		auto payloads = s.sa->open(d);
		if (!payloads) {
			integrity_failed_++; // not from the responder: keep waiting
			return;
		}
		for (const auto &p : *payloads)
			if (const auto *n = std::get_if<ike::NotifyPayload>(&p.body); n && n->type < 16384) {
				finish(spi, ("IKE_AUTH refused: " + ike::notify_name(n->type)).c_str());
				return;
			}
		const auto *idr = find_payload(*payloads, ike::PayloadType::IDr);
		const auto *auth = find_payload(*payloads, ike::PayloadType::AUTH);
		if (!idr || !auth ||
		    !s.sa->responder_psk_ok(s.init_response, bytes_of(o_.psk), std::get<ike::IdPayload>(idr->body),
					    std::get<ike::AuthPayload>(auth->body))) {
			finish(spi, "responder AUTH wrong");
			return;
		}
		const auto *sa = find_payload(*payloads, ike::PayloadType::SA);
		const auto *tsi = find_payload(*payloads, ike::PayloadType::TSi);
		const auto *tsr = find_payload(*payloads, ike::PayloadType::TSr);
		std::optional<Selected> child;
		if (sa)
			child = accept_answer(std::get<ike::SaPayload>(sa->body), ike::ProtocolId::ESP, {esp_});
		if (!child || child->spi.size() != 4 || !tsi || !tsr) {
			finish(spi, "CHILD_SA not accepted");
			return;
		}
		// §2.9: what came back lies within this setup's own /32s.
		auto [our_tsi, our_tsr] = selectors(s.number);
		if (!within(std::get<ike::TsPayload>(tsi->body).selectors, our_tsi) ||
		    !within(std::get<ike::TsPayload>(tsr->body).selectors, our_tsr)) {
			finish(spi, "CHILD_SA selectors not ours");
			return;
		}
		latencies_ms_.push_back(std::chrono::duration<double, std::milli>(EventLoop::now() - s.started).count());
		established_++;
		if (!o_.remove) {
			finish(spi, nullptr);
			return;
		}
		std::vector<ike::Payload> del{{ike::PayloadType::Delete, false, ike::DeletePayload{ike::ProtocolId::IKE, {}}}};
		send_new(spi, s.sa->protect(ike::ExchangeType::Informational, 2, del), Phase::deleting, 2);
	}

	void finish(uint64_t spi, const char *failure)
	{
		if (failure) {
			failed_++;
			failures_[failure]++;
		}
		setups_.erase(spi);
		if (more_to_start())
			fill_window();
		else if (setups_.empty())
			loop_.stop();
	}

	static double percentile(const std::vector<double> &sorted, double q)
	{
		if (sorted.empty())
			return 0.0;
		return sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))];
	}

	int report()
	{
		double secs = std::chrono::duration<double>(end_ - start_).count();
		std::sort(latencies_ms_.begin(), latencies_ms_.end());
		nlohmann::json out{
			{"started", started_},
			{"setups", established_},
			{"failed", failed_},
			{"unfinished", setups_.size()},
			{"deleted", o_.remove},
			{"delete_unanswered", delete_unanswered_},
			{"cookies", cookies_},
			{"retransmissions", retransmissions_},
			{"messages_sent", messages_sent_},
			{"send_errors", send_errors_},
			{"first_send_error", first_send_error_},
			{"malformed", malformed_},
			{"integrity_failed", integrity_failed_},
			{"stray", stray_},
			{"window", o_.window},
			{"seconds", secs},
			{"setups_per_second", secs > 0 ? static_cast<double>(established_) / secs : 0.0},
			{"latency_ms_p50", percentile(latencies_ms_, 0.5)},
			{"latency_ms_p90", percentile(latencies_ms_, 0.9)},
			{"latency_ms_p99", percentile(latencies_ms_, 0.99)},
			{"latency_ms_max", latencies_ms_.empty() ? 0.0 : latencies_ms_.back()},
			{"timed_out", timed_out_},
		};
		out["failures"] = nlohmann::json::object();
		for (auto &[why, n] : failures_)
			out["failures"][why] = n;
		if (o_.json)
			std::printf("%s\n", out.dump().c_str());
		else
			std::printf("%u/%u IKE SAs with a CHILD_SA in %.3f s (%.1f setups/s), %u failed, "
				    "%u retransmissions, p50 %.1f ms, p99 %.1f ms\n",
				    established_, started_, secs, out["setups_per_second"].get<double>(), failed_,
				    retransmissions_, percentile(latencies_ms_, 0.5), percentile(latencies_ms_, 0.99));
		return failed_ == 0 && setups_.empty() && established_ > 0 ? 0 : 1;
	}

	Options o_;
	AlgorithmSet ike_, esp_;
	std::shared_ptr<const ike::KeyExchange> shared_ke_;
	std::vector<UniqueFd> socks_;
	EventLoop loop_;
	std::vector<FdWatch> watches_;
	Timer deadline_, stop_starting_;
	std::map<uint64_t, std::unique_ptr<Setup>> setups_; // by SPIi
	std::map<std::string, uint32_t> failures_;
	std::vector<double> latencies_ms_;
	bool starting_ = true, timed_out_ = false;
	uint32_t started_ = 0, established_ = 0, failed_ = 0, delete_unanswered_ = 0, cookies_ = 0;
	uint32_t retransmissions_ = 0, messages_sent_ = 0, send_errors_ = 0, malformed_ = 0, stray_ = 0,
		 integrity_failed_ = 0;
	std::string first_send_error_;
	std::vector<uint8_t> inbox_ = std::vector<uint8_t>(32 * 4096);
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
		std::fprintf(stderr, "umigame-ike-load: %s\n", e.what());
		return 2;
	}
}
