// libFuzzer target: umigame-iked's Engine as a responder (userspace/iked),
// with a fake Environment (records what is sent) and a fake Kernel (hands
// out SPIs, records SAs, fails on demand). Nothing a peer sends may crash,
// leak or hang it.
//
// The first input byte selects a mode (low two bits) and kernel failures
// (bit 7: add_inbound throws; bit 6: allocate_spi throws):
//   0  the rest is one datagram for a fresh engine (parser, IKE_SA_INIT,
//      cookies, SPI lookup);
//   1  an in-process initiator (this file, on the ikecrypto library: the
//      same KE, key derivation and SK protection the engine uses) runs a
//      real IKE_SA_INIT first, so keys exist; the rest is records, each
//      delivered to the half-open SA (IKE_AUTH handler);
//   2  as 1, plus a valid IKE_AUTH with PSK first: the records reach the
//      CREATE_CHILD_SA and INFORMATIONAL handlers of an established SA.
// A record is [kind][first payload type][length, 2 octets][data]:
//   kind & 3 == 0  data is the plaintext payload chain of an SK payload,
//                  sealed with the initiator's keys; exchange 34 +
//                  ((kind >> 2) & 3), next message ID (kind & 0x40: the
//                  previous ID again, a retransmission; kind & 0x20: a
//                  response, to the responder's own requests);
//   kind & 3 == 1  an SKF fragment (RFC 7383): data[0] number, data[1]
//                  total, the rest its plaintext;
//   kind & 3 == 2  data is sent as it is, with the SA's SPIs written over
//                  its header when it has one;
//   kind & 3 == 3  the engine's timers fire (operator rekeys, DPD-free
//                  paths: rekey_child / rekey_ike / down by data[0]).
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "umigame/event_loop.h"
#include "umigame/ike/crypto.h"
#include "umigame/ike/message.h"
#include "umigame/iked/config.h"
#include "umigame/iked/engine.h"
#include "umigame/iked/hand_initiator.h"
#include "umigame/iked/proposal.h"
#include "umigame/iked/selectors.h"
#include "umigame/log.h"

using namespace umigame;
using namespace umigame::iked;

namespace {

constexpr const char *kPsk = "a fuzzing secret of some length";

const char *kConfig = R"(
[daemon]
control_socket = "/nonexistent/iked.sock"
cookie_threshold = 4
half_open_timeout = 30

[[connection]]
name = "fuzz"
local_id = "fqdn:responder.example"
remote_id = "fqdn:peer.example"
auth = "psk"
psk = "a fuzzing secret of some length"
ike_proposals = ["aes128gcm16-prfsha256-x25519", "aes128-sha256-x25519"]
dpd_delay = 0
[[connection.child]]
name = "lan"
local_ts = ["10.1.0.0/16"]
remote_ts = ["10.2.0.0/16"]
esp_proposals = ["aes128gcm16-esn", "aes128gcm16-x25519-esn"]
[[connection.child]]
name = "host"
mode = "transport"
local_ts = ["192.0.2.1/32"]
remote_ts = ["192.0.2.2/32"]
)";

struct FakeEnv : Environment {
	std::deque<std::vector<uint8_t>> sent;
	void send(const Endpoint &, const Endpoint &, std::span<const uint8_t> message) override
	{
		if (sent.size() < 64)
			sent.emplace_back(message.begin(), message.end());
	}
	std::optional<IpAddress> source_for(const IpAddress &) override { return IpAddress::parse("192.0.2.1"); }
	void keepalive(const Endpoint &, const Endpoint &) override {}
};

struct FakeKernel : Kernel {
	bool fail_add = false, fail_spi = false;
	uint32_t next_spi = 0xc0000001;
	std::map<uint32_t, uint32_t> inbound, outbound; // SPI -> reqid
	size_t policies = 0;
	uint32_t allocate_spi(const Endpoint &, const Endpoint &, uint32_t) override
	{
		if (fail_spi)
			throw std::runtime_error("fake: no SPI");
		return next_spi++;
	}
	void add_inbound(const ChildSaSpec &s) override
	{
		if (fail_add)
			throw std::runtime_error("fake: add_inbound fails");
		inbound[s.spi_in] = s.reqid;
	}
	void add_outbound(const ChildSaSpec &s) override { outbound[s.spi_out] = s.reqid; }
	void add_policies(const ChildSaSpec &) override { policies++; }
	void remove_policies(const ChildSaSpec &) override
	{
		if (policies)
			policies--;
	}
	void del_inbound(const ChildSaSpec &s) override { inbound.erase(s.spi_in); }
	void del_outbound(const ChildSaSpec &s) override { outbound.erase(s.spi_out); }
	void add_trap(const ConnectionConfig &, const ChildConfig &, uint32_t) override {}
	void remove_trap(const ConnectionConfig &, const ChildConfig &, uint32_t) override {}
};

const DaemonConfig &config()
{
	static DaemonConfig c = [] {
		log::set_max_level(log::Level::error);
		return parse_daemon_config(kConfig, "fuzz.toml");
	}();
	return c;
}

std::vector<uint8_t> span_bytes(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

// The initiator: just enough of one to make the responder's SA real
// (HandInitiator, as the unit tests and the load generator use it), with a
// fixed SPI and nonce so that a crash reproduces from its input alone.
struct Initiator : HandInitiator {
	std::vector<uint8_t> init_request;
	uint32_t next_id = 1;

	Initiator()
		: HandInitiator(*parse_proposal("aes128gcm16-prfsha256-x25519", true, nullptr), 0x1122334455667788ull,
				std::vector<uint8_t>(32, 0x4e))
	{
	}

	std::vector<uint8_t> init()
	{
		ike::Message m = init_message();
		ike::NotifyPayload frag;
		frag.type = ike::notify::IKEV2_FRAGMENTATION_SUPPORTED;
		m.payloads.push_back({ike::PayloadType::Notify, false, frag});
		init_request = m.serialize();
		return init_request;
	}

	bool answer(std::span<const uint8_t> response) { return accept_init_response(response); }

	ike::Header header(uint8_t exchange, uint32_t id, bool response) const
	{
		return HandInitiator::header(static_cast<ike::ExchangeType>(exchange), id, response);
	}

	// A valid IKE_AUTH request (§1.2, §2.15) with a CHILD_SA for "lan".
	std::vector<uint8_t> auth()
	{
		std::vector<ike::Payload> p;
		ike::IdPayload idi{ike::IdType::FQDN, span_bytes(std::span(reinterpret_cast<const uint8_t *>("peer.example"), 12))};
		p.push_back({ike::PayloadType::IDi, false, idi});
		auto psk = std::span(reinterpret_cast<const uint8_t *>(kPsk), std::strlen(kPsk));
		p.push_back({ike::PayloadType::AUTH, false, psk_auth(init_request, psk, idi)});
		AlgorithmSet esp = *parse_proposal("aes128gcm16-esn", false, nullptr);
		p.push_back({ike::PayloadType::SA, false,
			     ike::SaPayload{{to_wire(esp, ike::ProtocolId::ESP, 1, {0xd0, 0, 0, 1})}}});
		p.push_back({ike::PayloadType::TSi, false,
			     ike::TsPayload{{selector_for(*IpPrefix::parse("10.2.0.0/16"), 0)}}});
		p.push_back({ike::PayloadType::TSr, false,
			     ike::TsPayload{{selector_for(*IpPrefix::parse("10.1.0.0/16"), 0)}}});
		uint8_t first = 0;
		auto plain = ike::serialize_payloads(p, &first);
		return seal(header(static_cast<uint8_t>(ike::ExchangeType::IkeAuth), next_id++, false), first, plain);
	}
};

struct Run {
	EventLoop loop;
	FakeEnv env;
	FakeKernel kernel;
	std::unique_ptr<Engine> engine;
	Endpoint local{*IpAddress::parse("192.0.2.1"), 500}, remote{*IpAddress::parse("192.0.2.2"), 500};

	Run(bool fail_add, bool fail_spi)
	{
		kernel.fail_add = fail_add;
		kernel.fail_spi = fail_spi;
		engine = std::make_unique<Engine>(loop, env, kernel);
		engine->configure(config());
	}
	~Run()
	{
		engine.reset();
		loop.run_once(std::chrono::milliseconds(0));
	}
	void deliver(std::span<const uint8_t> d)
	{
		engine->receive(local, remote, d);
		loop.run_once(std::chrono::milliseconds(0)); // the engine's reaper
	}
};

void records(Run &run, Initiator &in, std::span<const uint8_t> data)
{
	uint32_t last_id = in.next_id;
	for (int n = 0; n < 16 && data.size() >= 4; n++) {
		uint8_t kind = data[0], first = data[1];
		size_t len = std::min<size_t>((size_t{data[2]} << 8) | data[3], data.size() - 4);
		auto body = data.subspan(4, len);
		data = data.subspan(4 + len);
		uint8_t exchange = static_cast<uint8_t>(34 + ((kind >> 2) & 3));
		bool response = kind & 0x20;
		uint32_t id;
		if (response)
			id = (kind >> 4) & 1; // the responder's own requests start at 0
		else if (kind & 0x40)
			id = last_id;
		else
			id = last_id = in.next_id++;
		switch (kind & 3) {
		case 0:
			run.deliver(in.seal(in.header(exchange, id, response), first, body));
			break;
		case 1:
			if (body.size() >= 2)
				run.deliver(in.seal_fragment(in.header(exchange, id, response), first, body[0], body[1],
							     body.subspan(2)));
			break;
		case 2: {
			std::vector<uint8_t> raw(body.begin(), body.end());
			if (raw.size() >= ike::Header::kSize) {
				std::vector<uint8_t> h;
				in.header(exchange, id, response).serialize(h);
				std::copy(h.begin(), h.begin() + 16, raw.begin()); // the SPIs
			}
			run.deliver(raw);
			break;
		}
		case 3:
			try {
				switch (body.empty() ? 0 : body[0] % 4) {
				case 0: run.engine->rekey_child("fuzz", "lan"); break;
				case 1: run.engine->rekey_ike("fuzz"); break;
				case 2: run.engine->up("fuzz"); break;
				case 3: run.engine->down("fuzz"); break;
				}
			} catch (const std::runtime_error &) {
				// "has no ... SA": fine.
			}
			run.loop.run_once(std::chrono::milliseconds(0));
			break;
		}
		(void)run.engine->show();
		(void)run.engine->sas();
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 16384)
		return 0;
	uint8_t mode = data[0] & 3;
	Run run(data[0] & 0x80, data[0] & 0x40);
	std::span<const uint8_t> rest(data + 1, size - 1);
	if (mode == 0 || mode == 3) {
		run.deliver(rest);
		(void)run.engine->show();
		return 0;
	}
	Initiator in;
	run.deliver(in.init());
	if (run.env.sent.empty() || !in.answer(run.env.sent.back()))
		__builtin_trap(); // a well-formed IKE_SA_INIT must be answered
	if (mode == 2)
		run.deliver(in.auth());
	records(run, in, rest);
	return 0;
}
