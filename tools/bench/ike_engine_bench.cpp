// ike_engine_bench: the responder's CPU per IKE SA setup, on the host, with
// no VM and no network. ike_bench.sh measures the whole daemon in a TCG
// guest, where every change costs minutes and the numbers wander with the
// other VMs on the host; this runs the same setup in-process so a change to
// the engine or to libumigame-ikecrypto can be judged in seconds.
//
// One responder Engine (tests/harness.h's FakeEnvironment and FakeKernel)
// configured like ike_bench.sh's umigame-iked (PSK, any initiator,
// aes128gcm16-prfsha256-ecp256, ESP aes128gcm16-esn, 10.0.0.0/9 <->
// 10.128.0.0/9), and a HandInitiator that reuses one ECDH value like
// umigame-ike-load. Each setup is IKE_SA_INIT, IKE_AUTH with the first
// CHILD_SA (own /32 pair), then an INFORMATIONAL Delete of the IKE SA; the
// answers are checked as the load generator checks them, so a change that
// breaks the exchange fails here instead of looking fast.
//
// Only the responder is timed: the thread's CPU clock around
// Engine::receive (and the reaper run after the Delete); building and
// checking the initiator's side happens outside. Medians over rounds.
//
// The breakdown times the responder's cryptographic primitives alone, with
// the sizes and counts this flow uses, and calls the remainder "engine".
//
// --established K first sets up K IKE SAs that stay, to show what the
// engine's per-setup work grows with.
//
// usage: ike_engine_bench [--setups N] [--rounds R] [--warmup W] [--established K] [--json]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.h"
#include "umigame/ike/constants.h"
#include "umigame/iked/hand_initiator.h"
#include "umigame/iked/selectors.h"
#include "umigame/log.h"

using namespace umigame;
using namespace umigame::iked;
using umigame::iked::test::FakeEnvironment;
using umigame::iked::test::FakeKernel;

namespace {

double thread_cpu_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	size_t n = v.size();
	return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

const char *kPsk = "umigame bench secret, long enough";
const char *kConfig = R"([daemon]
cookie_threshold = 0

[[connection]]
name = "bench"
local_addr = "192.0.2.1"
local_id = "fqdn:responder.example"
psk = "umigame bench secret, long enough"
ike_proposals = ["aes128gcm16-prfsha256-ecp256"]
dpd_delay = 0
[[connection.child]]
name = "t"
local_ts = ["10.0.0.0/9"]
remote_ts = ["10.128.0.0/9"]
esp_proposals = ["aes128gcm16-esn"]
)";

std::span<const uint8_t> bytes_of(const char *s)
{
	return {reinterpret_cast<const uint8_t *>(s), std::strlen(s)};
}

IpAddress v4(uint32_t a)
{
	uint8_t b[4] = {uint8_t(a >> 24), uint8_t(a >> 16), uint8_t(a >> 8), uint8_t(a)};
	return IpAddress::v4(b);
}

// CPU nanoseconds the responder spent in each exchange of one setup.
struct SetupCost {
	double init = 0, auth = 0, del = 0;
	double total() const { return init + auth + del; }
};

class Bench {
public:
	Bench() : env_(v4(0xc0000201)), kernel_(0xb0000001), engine_(loop_, env_, kernel_)
	{
		engine_.configure(parse_daemon_config(kConfig, "ike_engine_bench.toml"));
		ike_ = *parse_proposal("aes128gcm16-prfsha256-ecp256", true, nullptr);
		esp_ = *parse_proposal("aes128gcm16", false, nullptr);
		shared_ke_ = ike::KeyExchange::create(ike_.dh);
	}

	// `keep`: leave the IKE SA up (no Delete), as a responder with many
	// tunnels would hold them while new ones are set up.
	SetupCost setup(uint32_t number, bool keep = false)
	{
		SetupCost cost;
		HandInitiator h(ike_, shared_ke_);
		Bytes init_request = h.init_message().serialize();
		Bytes init_response = exchange(init_request, cost.init);
		if (!h.accept_init_response(init_response))
			throw std::runtime_error("bad IKE_SA_INIT answer");

		std::vector<ike::Payload> p;
		ike::IdPayload idi{ike::IdType::FQDN, Bytes{'l', 'o', 'a', 'd'}};
		p.push_back({ike::PayloadType::IDi, false, idi});
		p.push_back({ike::PayloadType::AUTH, false, h.psk_auth(init_request, bytes_of(kPsk), idi)});
		Bytes esp_spi = ike::random_bytes(4);
		esp_spi[0] |= 0x01;
		p.push_back({ike::PayloadType::SA, false,
			     ike::SaPayload{{to_wire(esp_, ike::ProtocolId::ESP, 1, esp_spi)}}});
		auto ours = selector_for(IpPrefix{v4(0x0a800000u | (number & 0x7fffff)), 32}, 0);
		auto theirs = selector_for(IpPrefix{v4(0x0a000000u | (number & 0x7fffff)), 32}, 0);
		p.push_back({ike::PayloadType::TSi, false, ike::TsPayload{{ours}}});
		p.push_back({ike::PayloadType::TSr, false, ike::TsPayload{{theirs}}});
		Bytes auth_response = exchange(h.protect(ike::ExchangeType::IkeAuth, 1, p), cost.auth);
		check_auth(h, init_response, auth_response);
		if (keep) {
			kept_++;
			return cost;
		}

		std::vector<ike::Payload> del{
			{ike::PayloadType::Delete, false, ike::DeletePayload{ike::ProtocolId::IKE, {}}}};
		Bytes del_response = exchange(h.protect(ike::ExchangeType::Informational, 2, del), cost.del, true);
		if (!h.open(del_response))
			throw std::runtime_error("bad Delete answer");
		if (engine_.ike_sa_count() != kept_)
			throw std::runtime_error("the responder kept state after the Delete");
		return cost;
	}

private:
	using Bytes = std::vector<uint8_t>;

	// Hands the responder one request and returns its one answer; the
	// responder's CPU time goes to `spent`.
	Bytes exchange(const Bytes &request, double &spent, bool reap = false)
	{
		double t0 = thread_cpu_ns();
		engine_.receive(local_, remote_, request);
		if (reap)
			loop_.run_once(std::chrono::milliseconds(0)); // the Delete's SA dies in the reaper
		spent += thread_cpu_ns() - t0;
		if (env_.outbox.size() != 1)
			throw std::runtime_error("expected one answer, the responder sent " +
						 std::to_string(env_.outbox.size()));
		Bytes out = std::move(env_.outbox.front().bytes);
		env_.outbox.clear();
		return out;
	}

	void check_auth(HandInitiator &h, const Bytes &init_response, const Bytes &d)
	{
		auto payloads = h.open(d);
		if (!payloads)
			throw std::runtime_error("IKE_AUTH answer does not verify");
		const auto *idr = find_payload(*payloads, ike::PayloadType::IDr);
		const auto *auth = find_payload(*payloads, ike::PayloadType::AUTH);
		const auto *sa = find_payload(*payloads, ike::PayloadType::SA);
		if (!idr || !auth || !sa ||
		    !h.responder_psk_ok(init_response, bytes_of(kPsk), std::get<ike::IdPayload>(idr->body),
					std::get<ike::AuthPayload>(auth->body)))
			throw std::runtime_error("responder AUTH wrong");
		if (!accept_answer(std::get<ike::SaPayload>(sa->body), ike::ProtocolId::ESP, {esp_}))
			throw std::runtime_error("CHILD_SA not accepted");
	}

	EventLoop loop_;
	FakeEnvironment env_;
	FakeKernel kernel_;
	Engine engine_;
	Endpoint local_{v4(0xc0000201), 500}, remote_{v4(0xc0000202), 500};
	AlgorithmSet ike_, esp_;
	std::shared_ptr<const ike::KeyExchange> shared_ke_;
	size_t kept_ = 0;
};

// The median CPU nanoseconds of one call of `f`, over `n` calls in a few
// batches.
double per_call_ns(size_t n, const std::function<void()> &f)
{
	std::vector<double> batches;
	for (int b = 0; b < 5; b++) {
		double t0 = thread_cpu_ns();
		for (size_t i = 0; i < n; i++)
			f();
		batches.push_back((thread_cpu_ns() - t0) / static_cast<double>(n));
	}
	return median(batches);
}

// The responder's primitives, one setup's worth each, timed alone: what a
// setup would cost if the engine around them were free.
nlohmann::json primitives(size_t n)
{
	using namespace umigame::ike;
	auto peer = KeyExchange::create(19);
	Bytes peer_value = peer->public_value();
	Prf prf(5);
	Bytes key(64, 0x5a), data(400, 0xa5);
	CipherSuite gcm{20, 128, 0};
	Secret ek(Bytes(20, 1)), ik;
	SkProtection sk(gcm, ek.span(), ik.span());
	Bytes aad(32, 0), plain(200, 0x11);
	Bytes sealed = sk.seal(aad, plain);

	double keygen = per_call_ns(n, [] { KeyExchange::create(19); });
	auto ours = KeyExchange::create(19);
	double derive = per_call_ns(n, [&] { ours->shared_secret(peer_value); });
	double hmac = per_call_ns(n * 10, [&] { prf.compute(key, data); });
	double seal = per_call_ns(n * 10, [&] { sk.seal(aad, plain); });
	double open = per_call_ns(n * 10, [&] {
		if (!sk.open(aad, sealed))
			throw std::runtime_error("open failed");
	});
	double nat = per_call_ns(n * 10, [] { nat_detection_hash(1, 2, v4(0xc0000201), 500); });
	// Per responder setup (PSK, AES-GCM, no PFS): one keygen and one
	// derivation; SKEYSEED, 5 prf+ blocks of IKE keys, 2 of ESP keys, and
	// for each of the two AUTHs MACedID plus the two PRFs of §2.15 (14);
	// the IKE_AUTH and Delete requests opened, their answers sealed.
	constexpr double kPrfCalls = 14, kSeals = 2, kOpens = 2;
	double ke = keygen + derive;
	double prfs = kPrfCalls * hmac;
	double sks = kSeals * seal + kOpens * open;
	return {
		{"keygen_us", keygen / 1e3},
		{"derive_us", derive / 1e3},
		{"hmac_us", hmac / 1e3},
		{"seal_us", seal / 1e3},
		{"open_us", open / 1e3},
		{"nat_hash_us", nat / 1e3},
		{"per_setup_us", {{"key_exchange", ke / 1e3}, {"prf", prfs / 1e3}, {"sk", sks / 1e3}}},
	};
}

[[noreturn]] void usage(int status)
{
	std::fprintf(status ? stderr : stdout,
		     "usage: ike_engine_bench [--setups N] [--rounds R] [--warmup W] [--established K] [--json]\n"
		     "  the responder's thread CPU per IKE_SA_INIT + IKE_AUTH (+ Delete) setup, in-process\n");
	std::exit(status);
}

} // namespace

int main(int argc, char **argv)
{
	size_t setups = 2000, rounds = 5, warmup = 200, established = 0;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		auto number = [&](long min = 1) -> size_t {
			if (i + 1 >= argc)
				usage(2);
			long v = std::atol(argv[++i]);
			if (v < min)
				usage(2);
			return static_cast<size_t>(v);
		};
		if (a == "--setups")
			setups = number();
		else if (a == "--rounds")
			rounds = number();
		else if (a == "--warmup")
			warmup = number();
		else if (a == "--established")
			established = number(0);
		else if (a == "--json")
			json = true;
		else if (a == "-h" || a == "--help")
			usage(0);
		else
			usage(2);
	}
	// The daemon's default level (info), so the engine builds the log lines
	// it builds in production; where they go is not what is measured.
	log::set_max_level(log::Level::info);
	if (!std::freopen("/dev/null", "w", stderr))
		return 1;

	try {
		Bench bench;
		uint32_t number = 0;
		for (size_t i = 0; i < established; i++)
			bench.setup(number++, true);
		for (size_t i = 0; i < warmup; i++)
			bench.setup(number++);
		std::vector<double> total, init, auth, del;
		for (size_t r = 0; r < rounds; r++) {
			SetupCost sum;
			for (size_t i = 0; i < setups; i++) {
				SetupCost c = bench.setup(number++);
				sum.init += c.init;
				sum.auth += c.auth;
				sum.del += c.del;
			}
			double n = static_cast<double>(setups) * 1e3; // ns -> us per setup
			total.push_back(sum.total() / n);
			init.push_back(sum.init / n);
			auth.push_back(sum.auth / n);
			del.push_back(sum.del / n);
		}
		nlohmann::json prim = primitives(std::max<size_t>(setups / 10, 50));
		double crypto = prim["per_setup_us"]["key_exchange"].get<double>() +
				prim["per_setup_us"]["prf"].get<double>() + prim["per_setup_us"]["sk"].get<double>();
		nlohmann::json out = {
			{"setups_per_round", setups},
			{"rounds", rounds},
			{"established", established},
			{"responder_cpu_us_per_setup", median(total)},
			{"rounds_us", total},
			{"by_exchange_us", {{"ike_sa_init", median(init)}, {"ike_auth", median(auth)}, {"delete", median(del)}}},
			{"primitives", prim},
			{"engine_rest_us", median(total) - crypto},
		};
		if (json) {
			std::printf("%s\n", out.dump().c_str());
			return 0;
		}
		std::printf("responder CPU per setup: %.1f us (median of %zu rounds of %zu, %zu other IKE SAs up; rounds:",
			    median(total), rounds, setups, established);
		for (double t : total)
			std::printf(" %.1f", t);
		std::printf(")\n  by exchange: IKE_SA_INIT %.1f, IKE_AUTH %.1f, Delete %.1f us\n", median(init),
			    median(auth), median(del));
		const auto &ps = prim["per_setup_us"];
		std::printf("  primitives alone, per setup: key exchange %.1f (keygen %.1f + derive %.1f), PRF %.1f "
			    "(14 x %.2f), SK %.1f (2 x seal %.2f + 2 x open %.2f); NAT-D hash %.2f each\n",
			    ps["key_exchange"].get<double>(), prim["keygen_us"].get<double>(),
			    prim["derive_us"].get<double>(), ps["prf"].get<double>(), prim["hmac_us"].get<double>(),
			    ps["sk"].get<double>(), prim["seal_us"].get<double>(), prim["open_us"].get<double>(),
			    prim["nat_hash_us"].get<double>());
		std::printf("  the rest (engine, framing, kernel calls, logging): %.1f us\n", median(total) - crypto);
	} catch (const std::exception &e) {
		std::fprintf(stdout, "ike_engine_bench: %s\n", e.what());
		return 1;
	}
	return 0;
}
