// Round trips for every payload type: each case is a value and the exact
// octets RFC 7296 §3 (or RFC 7383 §2.5) gives for it. serialize() must give
// those octets and parse() the value back, alone and inside a message.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hex.h"
#include "umigame/ike/message.h"

namespace umigame::ike {
namespace {

using namespace test;

IpAddress ip(const char *text)
{
	return IpAddress::parse(text).value();
}

std::vector<uint8_t> bytes(std::string_view h)
{
	return hex(h);
}

struct RoundTripCase {
	std::string name;
	Payload payload;
	std::string wire; // the payload alone: generic header and body
};

std::vector<RoundTripCase> round_trip_cases()
{
	std::string nonce16 = "000102030405060708090a0b0c0d0e0f";
	return {
		// §3.3, §3.3.1, §3.3.2, §3.3.5: one IKE proposal, Key Length as TV.
		{"§3.3 SA, one IKE proposal",
		 {PayloadType::SA, false,
		  SaPayload{{Proposal{1, ProtocolId::IKE, {},
				      {Transform{TransformType::ENCR, encr::AES_CBC, 128, {}},
				       Transform{TransformType::PRF, prf::HMAC_SHA2_256, {}, {}},
				       Transform{TransformType::INTEG, integ::HMAC_SHA2_256_128, {}, {}},
				       Transform{TransformType::DH, dh::MODP_2048, {}, {}}}}}}},
		 "00 00 0030"
		 " 00 00 002c 01 01 00 04"
		 " 03 00 000c 01 00 000c 800e 0080"
		 " 03 00 0008 02 00 0005"
		 " 03 00 0008 03 00 000c"
		 " 00 00 0008 04 00 000e"},
		// §3.3.1: Last Substruc 2 then 0, ESP SPIs; §3.3.5: TLV and TV
		// attributes other than Key Length kept in order.
		{"§3.3.1 SA, two ESP proposals with SPIs and other attributes",
		 {PayloadType::SA, false,
		  SaPayload{{Proposal{1, ProtocolId::ESP, bytes("11223344"),
				      {Transform{TransformType::ENCR, encr::AES_GCM_16, 256, {}},
				       Transform{TransformType::ESN, esn::NO, {}, {}}}},
			     Proposal{2, ProtocolId::ESP, bytes("55667788"),
				      {Transform{TransformType::ENCR, encr::AES_CBC, {},
						 {Attribute{1, {}, bytes("abcd")}, Attribute{2, 5, {}}}}}}}}},
		 "00 00 0042"
		 " 02 00 0020 01 03 04 02 11223344"
		 " 03 00 000c 01 00 0014 800e 0100"
		 " 00 00 0008 05 00 0000"
		 " 00 00 001e 02 03 04 01 55667788"
		 " 00 00 0012 01 00 000c 0001 0002 abcd 8002 0005"},
		// §3.4.
		{"§3.4 KE", {PayloadType::KE, false, KePayload{dh::ECP_256, bytes("01020304")}},
		 "00 00 000c 0013 0000 01020304"},
		// §3.5.
		{"§3.5 IDi FQDN", {PayloadType::IDi, false, IdPayload{IdType::FQDN, bytes("612e6578616d706c65")}},
		 "00 00 0011 02 000000 612e6578616d706c65"},
		{"§3.5 IDr IPv4", {PayloadType::IDr, false, IdPayload{IdType::IPv4, bytes("c0000201")}},
		 "00 00 000c 01 000000 c0000201"},
		{"§3.5 IDr IPv6",
		 {PayloadType::IDr, false, IdPayload{IdType::IPv6, bytes("20010db8000000000000000000000001")}},
		 "00 00 0018 05 000000 20010db8000000000000000000000001"},
		// §3.6, §3.7.
		{"§3.6 CERT", {PayloadType::CERT, false, CertPayload{4, bytes("308201")}}, "00 00 0008 04 308201"},
		{"§3.7 CERTREQ",
		 {PayloadType::CERTREQ, false, CertReqPayload{4, bytes("00112233445566778899aabbccddeeff00112233")}},
		 "00 00 0019 04 00112233445566778899aabbccddeeff00112233"},
		// §3.8.
		{"§3.8 AUTH PSK", {PayloadType::AUTH, false, AuthPayload{AuthMethod::PSK, bytes("deadbeef")}},
		 "00 00 000c 02 000000 deadbeef"},
		// §3.9: the shortest nonce allowed.
		{"§3.9 Nonce of 16", {PayloadType::Nonce, false, NoncePayload{bytes(nonce16)}}, "00 00 0014 " + nonce16},
		// §3.10: without and with an SPI.
		{"§3.10 Notify COOKIE",
		 {PayloadType::Notify, false, NotifyPayload{ProtocolId{0}, {}, notify::COOKIE, bytes("0102030405060708")}},
		 "00 00 0010 00 00 4006 0102030405060708"},
		{"§3.10 Notify REKEY_SA with an ESP SPI",
		 {PayloadType::Notify, false, NotifyPayload{ProtocolId::ESP, bytes("aabbccdd"), notify::REKEY_SA, {}}},
		 "00 00 000c 03 04 4009 aabbccdd"},
		// §3.11: SPI size follows the protocol.
		{"§3.11 Delete IKE SA", {PayloadType::Delete, false, DeletePayload{ProtocolId::IKE, {}}},
		 "00 00 0008 01 00 0000"},
		{"§3.11 Delete two ESP SAs",
		 {PayloadType::Delete, false, DeletePayload{ProtocolId::ESP, {bytes("11111111"), bytes("22222222")}}},
		 "00 00 0010 03 04 0002 11111111 22222222"},
		// §3.12.
		{"§3.12 Vendor ID", {PayloadType::VendorID, false, VendorIdPayload{bytes("deadbeef")}},
		 "00 00 0008 deadbeef"},
		// §3.13, §3.13.1: lengths 16 and 40.
		{"§3.13.1 TSi IPv4 range",
		 {PayloadType::TSi, false,
		  TsPayload{{TrafficSelector{TsType::IPv4_ADDR_RANGE, 0, 0, 65535, ip("10.1.0.0"), ip("10.1.255.255")}}}},
		 "00 00 0018 01 000000 07 00 0010 0000 ffff 0a010000 0a01ffff"},
		{"§3.13.1 TSr IPv6 and IPv4",
		 {PayloadType::TSr, false,
		  TsPayload{{TrafficSelector{TsType::IPv6_ADDR_RANGE, 6, 443, 443, ip("2001:db8::"), ip("2001:db8::ffff")},
			     TrafficSelector{TsType::IPv4_ADDR_RANGE, 0, 0, 65535, ip("0.0.0.0"), ip("255.255.255.255")}}}},
		 "00 00 0040 02 000000"
		 " 08 06 0028 01bb 01bb 20010db8000000000000000000000000 20010db800000000000000000000ffff"
		 " 07 00 0010 0000 ffff 00000000 ffffffff"},
		// §3.13.1: start > end is the daemon's business, not a parse error.
		{"§3.13.1 TSi with start after end",
		 {PayloadType::TSi, false,
		  TsPayload{{TrafficSelector{TsType::IPv4_ADDR_RANGE, 17, 600, 500, ip("10.0.0.9"), ip("10.0.0.1")}}}},
		 "00 00 0018 01 000000 07 11 0010 0258 01f4 0a000009 0a000001"},
		// §3.15, §3.15.1: empty attributes ask for a value.
		{"§3.15 CP request",
		 {PayloadType::CP, false,
		  CpPayload{1, {CpAttribute{1, {}}, CpAttribute{3, {}}, CpAttribute{1, bytes("c0000264")}}}},
		 "00 00 0018 01 000000 0001 0000 0003 0000 0001 0004 c0000264"},
		// §3.16.
		{"§3.16 EAP", {PayloadType::EAP, false, EapPayload{bytes("0102000501")}}, "00 00 0009 0102000501"},
		// §3.14: Next Payload is the first inner payload's type.
		{"§3.14 SK", {PayloadType::SK, false, EncryptedPayload{35, bytes("0102030405060708"), 0}},
		 "23 00 000c 0102030405060708"},
		// RFC 7383 §2.5.
		{"RFC 7383 §2.5 SKF fragment 2 of 3",
		 {PayloadType::SKF, false, EncryptedFragmentPayload{2, 3, 0, bytes("aabbccdd"), 0}},
		 "00 00 000c 0002 0003 aabbccdd"},
		{"RFC 7383 §2.5 SKF fragment 1 of 1",
		 {PayloadType::SKF, false, EncryptedFragmentPayload{1, 1, 41, bytes("aabbccdd"), 0}},
		 "29 00 000c 0001 0001 aabbccdd"},
		// §3.2: unknown types are kept, critical bit and all.
		{"§3.2 unknown, not critical",
		 {static_cast<PayloadType>(200), false, UnknownPayload{200, bytes("abcd")}}, "00 00 0006 abcd"},
		{"§3.2 unknown, critical", {static_cast<PayloadType>(201), true, UnknownPayload{201, {}}}, "00 80 0004"},
		// §3.2: the critical bit of a known payload survives too.
		{"§3.2 Nonce with the critical bit", {PayloadType::Nonce, true, NoncePayload{bytes(nonce16)}},
		 "00 80 0014 " + nonce16},
	};
}

// Failures name the case, not its bytes.
void PrintTo(const RoundTripCase &c, std::ostream *os)
{
	*os << c.name;
}

class RoundTrip : public testing::TestWithParam<RoundTripCase> {};

TEST_P(RoundTrip, SerializesToTheRfcOctets)
{
	const RoundTripCase &c = GetParam();
	uint8_t first = 0;
	EXPECT_EQ(to_hex(serialize_payloads({c.payload}, &first)), to_hex(hex(c.wire)));
	EXPECT_EQ(first, static_cast<uint8_t>(c.payload.type));
}

TEST_P(RoundTrip, ParsesBackToTheValue)
{
	const RoundTripCase &c = GetParam();
	std::vector<Payload> parsed = parse_payloads(static_cast<uint8_t>(c.payload.type), hex(c.wire));
	ASSERT_EQ(parsed.size(), 1u);
	EXPECT_EQ(parsed[0], c.payload);
}

// The same payload inside a message: header Next Payload and Length are
// computed (§3.1), and the SK/SKF offset is the datagram's.
TEST_P(RoundTrip, InsideAMessage)
{
	const RoundTripCase &c = GetParam();
	Message m;
	m.header.spi_i = 0x0102030405060708;
	m.header.flags = Header::kFlagInitiator;
	m.payloads = {c.payload};
	if (auto *sk = std::get_if<EncryptedPayload>(&m.payloads[0].body))
		sk->offset = Header::kSize;
	if (auto *skf = std::get_if<EncryptedFragmentPayload>(&m.payloads[0].body))
		skf->offset = Header::kSize;
	std::vector<uint8_t> wire = m.serialize();
	EXPECT_EQ(to_hex(wire), to_hex(hex(datagram(static_cast<uint8_t>(c.payload.type), c.wire))));
	Message parsed = Message::parse(wire);
	m.header.next_payload = static_cast<uint8_t>(c.payload.type);
	m.header.length = static_cast<uint32_t>(wire.size());
	EXPECT_EQ(parsed, m);
}

INSTANTIATE_TEST_SUITE_P(Ike, RoundTrip, testing::ValuesIn(round_trip_cases()),
			 case_name<RoundTripCase>);

// §3.1: every header field in its place, SPIs big-endian.
TEST(Header, FieldsInPlace)
{
	Header h;
	h.spi_i = 0x0102030405060708;
	h.spi_r = 0x1112131415161718;
	h.next_payload = 33;
	h.major = 2;
	h.minor = 1;
	h.exchange = ExchangeType::IkeAuth;
	h.flags = Header::kFlagResponse;
	h.message_id = 0x01020304;
	h.length = 0x0a0b0c0d;
	std::vector<uint8_t> out;
	h.serialize(out);
	EXPECT_EQ(to_hex(out), to_hex(hex("0102030405060708 1112131415161718 21 21 23 20 01020304 0a0b0c0d")));
	Header back = Header::parse(out);
	EXPECT_EQ(back, h);
	EXPECT_TRUE(back.is_response());
	EXPECT_FALSE(back.from_initiator());
}

// §3.1: Header::parse reads only the first 28 octets and checks nothing
// else; peek_major finds the version even when parse() refuses it.
TEST(Header, PeekMajor)
{
	std::vector<uint8_t> v3 = hex(datagram(0, ""));
	v3[17] = 0x30;
	EXPECT_EQ(Message::peek_major(v3), 3);
	EXPECT_EQ(Header::parse(v3).major, 3);
	EXPECT_EQ(Message::peek_major(std::span(v3).first(27)), std::nullopt);
	EXPECT_THROW(Message::parse(v3), ParseError);
}

// §3.2: Next Payload fields chain the payloads; the last one says 0. With
// an SK payload last, its Next Payload is the first inner type (§3.14).
TEST(Message, NextPayloadChain)
{
	Message m;
	m.header.exchange = ExchangeType::IkeAuth;
	m.payloads = {
		{PayloadType::Notify, false, NotifyPayload{ProtocolId{0}, {}, notify::INITIAL_CONTACT, {}}},
		{PayloadType::SK, false, EncryptedPayload{35, bytes("00"), 0}},
	};
	std::vector<uint8_t> wire = m.serialize();
	// Next Payload Notify, version 2.0, IKE_AUTH, no flags.
	EXPECT_EQ(to_hex(wire).substr(32, 8), "29202300");
	EXPECT_EQ(to_hex(wire).substr(56), to_hex(hex("2e 00 0008 00 00 4000  23 00 0005 00")));
}

TEST(Message, FindHelpers)
{
	Message m;
	m.payloads = {
		{PayloadType::Notify, false, NotifyPayload{ProtocolId{0}, {}, notify::NAT_DETECTION_SOURCE_IP, bytes("01")}},
		{PayloadType::IDr, false, IdPayload{IdType::FQDN, bytes("72")}},
		{PayloadType::Notify, false, NotifyPayload{ProtocolId{0}, {}, notify::NAT_DETECTION_SOURCE_IP, bytes("02")}},
		{PayloadType::Notify, false, NotifyPayload{ProtocolId{0}, {}, notify::COOKIE, bytes("03")}},
	};
	ASSERT_NE(m.find<IdPayload>(), nullptr);
	EXPECT_EQ(m.find<SaPayload>(), nullptr);
	EXPECT_EQ(m.find_all<NotifyPayload>().size(), 3u);
	ASSERT_NE(m.find_notify(notify::COOKIE), nullptr);
	EXPECT_EQ(m.find_notify(notify::COOKIE)->data, bytes("03"));
	EXPECT_EQ(m.find_notify(notify::INVALID_SYNTAX), nullptr);
	EXPECT_EQ(m.find_notifies(notify::NAT_DETECTION_SOURCE_IP).size(), 2u);
	EXPECT_EQ(m.find_type(PayloadType::IDi), nullptr);
	ASSERT_NE(m.find_type(PayloadType::IDr), nullptr);
}

// §2.15: AUTH signs the ID payload's body, reserved octets included.
TEST(IdPayload, BodyIsWhatAuthSigns)
{
	IdPayload id{IdType::IPv4, bytes("c0000201")};
	EXPECT_EQ(to_hex(id.body()), "01000000c0000201");
}

// §3.11: a count of IKE SPIs carries nothing (SPI size 0); it parses to no
// SPIs and goes out as 0.
TEST(DeletePayload, IkeCountWithoutSpis)
{
	auto parsed = parse_payloads(42, hex("00 00 0008 01 00 0003"));
	ASSERT_EQ(parsed.size(), 1u);
	EXPECT_TRUE(std::get<DeletePayload>(parsed[0].body).spis.empty());
	EXPECT_EQ(to_hex(serialize_payloads(parsed, nullptr)), "0000000801000000");
}

// What serialize() refuses, because the wire cannot say it.
TEST(Serialize, Refuses)
{
	// §3.14: nothing may follow SK.
	EXPECT_THROW(serialize_payloads({{PayloadType::SK, false, EncryptedPayload{}},
					 {PayloadType::VendorID, false, VendorIdPayload{}}},
					nullptr),
		     std::invalid_argument);
	// A body that does not fit the type.
	EXPECT_THROW(serialize_payloads({{PayloadType::IDi, false, NoncePayload{}}}, nullptr), std::invalid_argument);
	// §3.11: ESP SPIs are 4 octets.
	EXPECT_THROW(serialize_payloads({{PayloadType::Delete, false, DeletePayload{ProtocolId::ESP, {bytes("01")}}}},
					nullptr),
		     std::invalid_argument);
	// §3.2: Payload Length is 16 bits.
	EXPECT_THROW(serialize_payloads({{PayloadType::VendorID, false, VendorIdPayload{std::vector<uint8_t>(65532)}}},
					nullptr),
		     std::length_error);
	// §3.3.5: attribute types are 15 bits.
	Transform t{TransformType::ENCR, encr::AES_CBC, {}, {Attribute{0x8001, 1, {}}}};
	EXPECT_THROW(serialize_payloads({{PayloadType::SA, false, SaPayload{{Proposal{1, ProtocolId::IKE, {}, {t}}}}}},
					nullptr),
		     std::invalid_argument);
}

TEST(Names, ForLogs)
{
	EXPECT_EQ(to_string(ExchangeType::IkeSaInit), "IKE_SA_INIT");
	EXPECT_EQ(to_string(static_cast<ExchangeType>(99)), "EXCHANGE_99");
	EXPECT_EQ(to_string(PayloadType::SKF), "SKF");
	EXPECT_EQ(to_string(static_cast<PayloadType>(200)), "PAYLOAD_200");
	EXPECT_EQ(notify_name(notify::COOKIE), "COOKIE");
	EXPECT_EQ(notify_name(8000), "ERROR_8000");
	EXPECT_EQ(notify_name(40000), "STATUS_40000");
	EXPECT_EQ(transform_name(TransformType::ENCR, encr::AES_GCM_16), "ENCR_AES_GCM_16");
	EXPECT_EQ(transform_name(TransformType::DH, dh::CURVE25519), "CURVE25519");
	EXPECT_EQ(transform_name(TransformType::PRF, 99), "PRF_99");
	// RFC 7296 §3.10.1: below 16384 an error, from it a status.
	EXPECT_TRUE(notify::is_error(notify::INVALID_SYNTAX));
	EXPECT_FALSE(notify::is_error(notify::INITIAL_CONTACT));
}

} // namespace
} // namespace umigame::ike
