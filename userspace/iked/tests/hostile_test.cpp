// What a hostile or broken peer may send to Engine::receive: never a
// crash, always counted, and answered only where RFC 7296 says so.
#include <random>

#include "harness.h"
#include "peer.h"

namespace umigame::iked::test {
namespace {

Endpoint left_ep()
{
	return {addr("192.0.2.1"), 500};
}
Endpoint right_ep()
{
	return {addr("192.0.2.2"), 500};
}

class Hostile : public ::testing::Test {
protected:
	void SetUp() override
	{
		p.establish(ConnOptions{});
		ASSERT_TRUE(p.right.established());
	}
	// A protected request from left to right, captured before delivery.
	Bytes captured_request()
	{
		p.left.engine->rekey_child("site", "net");
		EXPECT_EQ(p.left.env.outbox.size(), 1u);
		Bytes b = p.left.env.outbox.front().bytes;
		p.left.env.outbox.clear();
		return b;
	}
	void inject(const Bytes &b) { p.right.engine->receive(right_ep(), left_ep(), b); }
	Pair p;
};

TEST_F(Hostile, RandomBytes)
{
	// RFC 7296 §2.21: what does not parse is dropped.
	std::mt19937 rng(4);
	for (int i = 0; i < 500; i++) {
		Bytes b(std::uniform_int_distribution<size_t>(0, 700)(rng));
		for (auto &x : b)
			x = static_cast<uint8_t>(rng());
		if (i % 2 && b.size() >= 28) {
			b[17] = 0x20; // version 2.0, so more of the parser is reached
			b[18] = static_cast<uint8_t>(34 + i % 4);
		}
		inject(b);
	}
	EXPECT_GT(p.right.counters().malformed + p.right.counters().bad_spi + p.right.counters().invalid_major, 0u);
	EXPECT_TRUE(p.right.established());
	EXPECT_EQ(p.right.engine->ike_sa_count(), 1u);
}

TEST_F(Hostile, TruncatedHeader)
{
	// RFC 7296 §3.1: the header is 28 octets.
	uint64_t before = p.right.counters().malformed;
	Bytes b = captured_request();
	inject(Bytes(b.begin(), b.begin() + 20));
	EXPECT_EQ(p.right.counters().malformed, before + 1);
	EXPECT_TRUE(p.right.env.outbox.empty());
}

TEST_F(Hostile, LyingHeaderLength)
{
	// RFC 7296 §3.1: Length is the whole message; a header that claims
	// more or less than arrived is malformed.
	Bytes b = captured_request();
	uint64_t before = p.right.counters().malformed;
	for (uint32_t len : {static_cast<uint32_t>(b.size() + 1), static_cast<uint32_t>(b.size() - 1), 28u, 0xffffffffu}) {
		Bytes lie = b;
		lie[24] = static_cast<uint8_t>(len >> 24);
		lie[25] = static_cast<uint8_t>(len >> 16);
		lie[26] = static_cast<uint8_t>(len >> 8);
		lie[27] = static_cast<uint8_t>(len);
		inject(lie);
	}
	EXPECT_EQ(p.right.counters().malformed, before + 4);
	EXPECT_TRUE(p.right.env.outbox.empty());
	// The real one still works.
	inject(b);
	p.deliver_all();
	EXPECT_EQ(p.right.counters().child_rekeys, 1u);
}

TEST_F(Hostile, FlippedByteFailsIntegrity)
{
	// RFC 7296 §3.14 / §2.21: an SK payload that does not verify is
	// dropped without an answer; the sender's retransmission gets through.
	Bytes b = captured_request();
	Bytes bad = b;
	bad[bad.size() - 5] ^= 0x40;
	inject(bad);
	EXPECT_EQ(p.right.counters().integrity_failed, 1u);
	EXPECT_TRUE(p.right.env.outbox.empty());
	inject(b);
	p.deliver_all();
	EXPECT_EQ(p.right.counters().child_rekeys, 1u);
	EXPECT_EQ(p.left.counters().child_rekeys, 1u);
}

TEST_F(Hostile, WrongSpis)
{
	// RFC 7296 §2.21.4: no IKE SA for the SPIs: dropped (and counted).
	Bytes b = captured_request();
	Bytes bad = b;
	bad[8] ^= 0xff; // SPIr
	inject(bad);
	bad = b;
	bad[0] ^= 0xff; // SPIi
	inject(bad);
	EXPECT_EQ(p.right.counters().bad_spi, 2u);
	EXPECT_TRUE(p.right.env.outbox.empty());
}

TEST_F(Hostile, MessageIdOutsideTheWindow)
{
	// RFC 7296 §2.3: a request ID neither expected nor the last one is
	// dropped; so is a response to nothing we asked.
	Bytes b = captured_request();
	Bytes bad = b;
	bad[23] = static_cast<uint8_t>(bad[23] + 7);
	inject(bad);
	EXPECT_EQ(p.right.counters().bad_message_id, 1u);
	EXPECT_TRUE(p.right.env.outbox.empty());
	bad = b;
	bad[19] |= ike::Header::kFlagResponse;
	inject(bad);
	EXPECT_EQ(p.right.counters().bad_message_id, 2u);
	EXPECT_TRUE(p.right.env.outbox.empty());
}

TEST_F(Hostile, VersionThreeInitGetsInvalidMajorVersion)
{
	// RFC 7296 §2.5: INVALID_MAJOR_VERSION, sent with the highest version
	// we support; no state kept.
	ManualInitiator m({addr("192.0.2.1"), 500}, right_ep());
	p.right.engine->receive(right_ep(), m.self, m.init_request({}, 3));
	EXPECT_EQ(p.right.counters().invalid_major, 1u);
	ASSERT_EQ(p.right.env.outbox.size(), 1u);
	auto reply = ike::Message::parse(p.right.env.outbox.front().bytes);
	EXPECT_EQ(reply.header.major, 2);
	EXPECT_TRUE(reply.header.is_response());
	EXPECT_EQ(reply.header.spi_i, m.spi_i);
	EXPECT_NE(reply.find_notify(ike::notify::INVALID_MAJOR_VERSION), nullptr);
	EXPECT_EQ(p.right.engine->ike_sa_count(), 1u);
	p.right.env.outbox.clear();
	// Anything else of version 3 is only counted.
	Bytes other = captured_request();
	other[17] = 0x30;
	inject(other);
	EXPECT_EQ(p.right.counters().invalid_major, 2u);
	EXPECT_TRUE(p.right.env.outbox.empty());
}

TEST_F(Hostile, UnknownCriticalPayloadInsideSk)
{
	// RFC 7296 §2.5: a critical payload we do not know refuses the whole
	// message with UNSUPPORTED_CRITICAL_PAYLOAD naming its type.
	ManualInitiator m({addr("192.0.2.1"), 500}, right_ep());
	p.right.engine->receive(right_ep(), m.self, m.init_request());
	ASSERT_EQ(p.right.env.outbox.size(), 1u);
	ASSERT_TRUE(m.accept_init_response(p.right.env.outbox.front().bytes));
	p.right.env.outbox.clear();
	std::vector<ike::Payload> payloads{
		{static_cast<ike::PayloadType>(200), true, ike::UnknownPayload{200, {1, 2, 3, 4}}}};
	p.right.engine->receive(right_ep(), m.self, m.protect(ike::ExchangeType::IkeAuth, 1, payloads));
	EXPECT_EQ(p.right.counters().unsupported_critical, 1u);
	ASSERT_EQ(p.right.env.outbox.size(), 1u);
	auto answer = m.open(p.right.env.outbox.front().bytes);
	ASSERT_TRUE(answer.has_value());
	const auto *n = notify_in(*answer, ike::notify::UNSUPPORTED_CRITICAL_PAYLOAD);
	ASSERT_NE(n, nullptr);
	EXPECT_EQ(n->data, Bytes{200});
	// A non-critical unknown payload is skipped (§2.5): the message is
	// processed (here an IKE_AUTH without AUTH: INVALID_SYNTAX).
	p.right.env.outbox.clear();
	payloads.front().critical = false;
	p.right.engine->receive(right_ep(), m.self, m.protect(ike::ExchangeType::IkeAuth, 2, payloads));
	EXPECT_EQ(p.right.counters().unsupported_critical, 1u);
}

TEST_F(Hostile, ManyHalfOpenSasDoNotDisturbTheEstablishedOne)
{
	// RFC 7296 §2.6: IKE_SA_INIT floods make half-open SAs, each bounded
	// by half_open_timeout; the established SA is untouched.
	for (int i = 0; i < 50; i++) {
		ManualInitiator m({addr("192.0.2.1"), static_cast<uint16_t>(1000 + i)}, right_ep());
		p.right.engine->receive(right_ep(), m.self, m.init_request());
	}
	// §2.6: past cookie_threshold (16 by default) only cookies go out.
	EXPECT_EQ(p.right.engine->half_open_count(), 16u);
	EXPECT_EQ(p.right.counters().cookies_sent, 34u);
	size_t established = 0;
	for (const IkeSa *sa : p.right.engine->ike_sas("site"))
		established += sa->state() == IkeSa::State::established;
	EXPECT_EQ(established, 1u);
	p.right.env.outbox.clear();
	p.left.engine->rekey_child("site", "net");
	p.deliver_all();
	EXPECT_EQ(p.right.counters().child_rekeys, 1u);
}

} // namespace
} // namespace umigame::iked::test
