// What a peer can get wrong, rule by rule: each malformed datagram must give
// a ParseError naming the payload and the offset of the structure at fault,
// and nothing else (no crash, no partial message).
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hex.h"
#include "umigame/ike/message.h"

namespace umigame::ike {
namespace {

using namespace test;

struct MalformedCase {
	std::string name;
	std::string wire;     // the whole datagram
	size_t offset;        // where the structure at fault starts
	uint8_t payload_type; // 0: the IKE header
	const char *reason;   // a part of ParseError::reason()
};

// A chain of `count` empty Vendor ID payloads.
std::string vendor_ids(size_t count)
{
	std::string out;
	for (size_t i = 0; i < count; i++)
		out += i + 1 < count ? "2b 00 0004 " : "00 00 0004";
	return out;
}

// An SA payload at offset 28 holding one proposal (at 32) with one transform
// (at 40) whose attributes (from 48) are `attributes`.
std::string sa_with_attributes(std::string_view attributes)
{
	size_t attr_size = hex(attributes).size();
	char buf[64];
	snprintf(buf, sizeof buf, "00 00 %04zx 00 00 %04zx 01 01 00 01 00 00 %04zx 01 00 000c ",
		 4 + 8 + 8 + attr_size, 8 + 8 + attr_size, 8 + attr_size);
	return datagram(33, std::string(buf) + std::string(attributes));
}

const std::string kNonce16 = "000102030405060708090a0b0c0d0e0f";
const std::string kTsV4 = "07 00 0010 0000 ffff 0a010000 0a01ffff";

std::vector<MalformedCase> malformed_cases()
{
	return {
		// The header, RFC 7296 §3.1.
		{"§3.1 header of 27 octets", "0102030405060708 0000000000000000 00 20 22 08 00000000 000000", 0, 0,
		 "IKE header (RFC 7296 §3.1) truncated: 27 octets"},
		{"§3.1 empty datagram", "", 0, 0, "truncated: 0 octets"},
		{"§3.1 major version 3", "0102030405060708 0000000000000000 00 30 22 08 00000000 0000001c", 0, 0,
		 "major version 3, must be 2"},
		{"§3.1 Length over the datagram", "0102030405060708 0000000000000000 00 20 22 08 00000000 00000064", 0,
		 0, "Length 100 but the datagram has 28 octets"},
		{"§3.1 Length under the datagram",
		 "0102030405060708 0000000000000000 2b 20 22 08 00000000 0000001c 00000004", 0, 0,
		 "Length 28 but the datagram has 32 octets"},

		// The generic payload header, §3.2.
		{"§3.2 Payload Length under 4", datagram(40, "00 00 0003"), 28, 40,
		 "Payload Length 3, must be at least 4"},
		{"§3.2 Payload Length 0", datagram(43, "00 00 0000"), 28, 43, "Payload Length 0, must be at least 4"},
		{"§3.2 Payload Length past the end", datagram(43, "00 00 0010 aabb"), 28, 43,
		 "Payload Length 16 overruns the message: 6 octets left"},
		{"§3.2 generic header cut short", datagram(43, "00 00"), 28, 43,
		 "generic payload header truncated: 2 octets left"},
		{"§3.2 Next Payload with nothing after", datagram(43, "29 00 0004"), 32, 41,
		 "generic payload header truncated: 0 octets left"},
		{"§3.2 octets after the last payload", datagram(43, "00 00 0004 0000"), 32, 0,
		 "2 octets after the last payload"},
		{"§3.2 header says no payloads but octets follow", datagram(0, "00 00 0004"), 28, 0,
		 "4 octets after the last payload"},
		{"budget: 257 payloads", datagram(43, vendor_ids(257)), 28 + 256 * 4, 43, "more than 256 payloads"},

		// SK and SKF end the chain, §3.14 and RFC 7383 §2.5.
		{"§3.14 SK not last", datagram(46, "00 00 0008 01020304 00 00 0004"), 28, 46,
		 "SK must be the last payload (RFC 7296 §3.14)"},
		{"§3.14 SK not last, behind a Notify", datagram(41, "2e 00 0008 00 00 4000 29 00 0005 00 00 00 0008 00 00 4000"),
		 36, 46, "8 octets after it"},
		{"RFC 7383 §2.5 SKF not last", datagram(53, "00 00 000c 0001 0002 01020304 00 00 0004"), 28, 53,
		 "SKF must be the last payload (RFC 7383 §2.5)"},
		{"RFC 7383 §2.5 SKF fragment 0", datagram(53, "00 00 000c 0000 0002 01020304"), 28, 53,
		 "Fragment Number 0 outside 1..2"},
		{"RFC 7383 §2.5 SKF fragment past the total", datagram(53, "00 00 000c 0003 0002 01020304"), 28, 53,
		 "Fragment Number 3 outside 1..2"},
		{"RFC 7383 §2.5 SKF total 0", datagram(53, "00 00 000c 0000 0000 01020304"), 28, 53,
		 "Total Fragments 0"},
		{"RFC 7383 §2.5 SKF header cut short", datagram(53, "00 00 0006 0001"), 28, 53,
		 "Encrypted Fragment payload (RFC 7383 §2.5) truncated"},

		// Nonce, §3.9.
		{"§3.9 nonce of 15", datagram(40, "00 00 0013 " + kNonce16.substr(2)), 28, 40,
		 "nonce of 15 octets, must be 16 to 256"},
		{"§3.9 nonce of 257", datagram(40, "00 00 0105 " + std::string(514, 'a')), 28, 40,
		 "nonce of 257 octets"},

		// Traffic selectors, §3.13 and §3.13.1.
		{"§3.13.1 IPv4 selector of length 40",
		 datagram(44, "00 00 0030 01 000000 07 00 0028 0000 ffff" + std::string(64, '0')), 36, 44,
		 "Selector Length 40, must be 16 for TS Type 7"},
		{"§3.13.1 IPv6 selector of length 16", datagram(45, "00 00 0018 01 000000 08 00 0010 0000 ffff 0a010000 0a01ffff"),
		 36, 45, "Selector Length 16, must be 40 for TS Type 8"},
		{"§3.13.1 unknown TS Type", datagram(44, "00 00 0018 01 000000 09 00 0010 0000 ffff 0a010000 0a01ffff"), 36, 44,
		 "TS Type 9 unknown"},
		{"§3.13.1 selector cut short", datagram(44, "00 00 0012 01 000000 07 00 0010 0000 ffff 0a01"), 36, 44,
		 "Selector Length 16 overruns the payload"},
		{"§3.13 Number of TSs over the selectors", datagram(44, "00 00 0018 02 000000 " + kTsV4), 28, 44,
		 "Number of TSs 2 but 1 present"},
		{"§3.13 Number of TSs under the selectors", datagram(44, "00 00 0028 01 000000 " + kTsV4 + kTsV4), 52, 44,
		 "more traffic selectors than the 1"},
		{"§3.13 TS payload under 4", datagram(44, "00 00 0006 0100"), 28, 44, "TS payload (RFC 7296 §3.13) truncated"},

		// SA, proposals and transforms, §3.3.
		{"§3.3 SA without proposals", datagram(33, "00 00 0004"), 28, 33, "SA payload without proposals"},
		{"§3.3.1 proposal header cut short", datagram(33, "00 00 000a 00 00 0008 0101"), 32, 33,
		 "proposal header (RFC 7296 §3.3.1) truncated"},
		{"§3.3.1 proposal length past the SA", datagram(33, "00 00 000c 00 00 0010 01 01 00 00"), 32, 33,
		 "proposal length 16 overruns the SA payload: 8 octets left"},
		{"§3.3.1 proposal length under 8", datagram(33, "00 00 000c 00 00 0004 01 01 00 00"), 32, 33,
		 "proposal length 4, must be at least 8"},
		{"§3.3.1 Last Substruc 1", datagram(33, "00 00 000c 01 00 0008 01 01 00 00"), 32, 33,
		 "proposal Last Substruc 1, must be 0 or 2"},
		{"§3.3.1 proposal marked last, another follows",
		 datagram(33, "00 00 0014 00 00 0008 01 01 00 00 00 00 0008 02 01 00 00"), 40, 33,
		 "proposal after the one marked last"},
		{"§3.3.1 last proposal says more follow", datagram(33, "00 00 000c 02 00 0008 01 01 00 00"), 32, 33,
		 "last proposal not marked last"},
		{"§3.3.1 SPI Size past the proposal", datagram(33, "00 00 000c 00 00 0008 01 03 04 00"), 32, 33,
		 "SPI size 4 overruns the proposal"},
		{"§3.3.1 # of Transforms over what is there",
		 datagram(33, "00 00 0014 00 00 0010 01 01 00 02 00 00 0008 01 00 000c"), 32, 33,
		 "# of Transforms 2 but 1 present"},
		{"§3.3.1 # of Transforms under what is there",
		 datagram(33, "00 00 001c 00 00 0018 01 01 00 01 03 00 0008 01 00 000c 00 00 0008 02 00 0005"), 48, 33,
		 "more transforms than the 1"},
		{"§3.3.2 transform length past the proposal",
		 datagram(33, "00 00 0014 00 00 0010 01 01 00 01 00 00 0020 01 00 000c"), 40, 33,
		 "transform length 32 overruns the proposal: 8 octets left"},
		{"§3.3.2 transform length under 8", datagram(33, "00 00 0014 00 00 0010 01 01 00 01 00 00 0004 01 00 000c"),
		 40, 33, "transform length 4, must be at least 8"},
		{"§3.3.2 transform Last Substruc 2",
		 datagram(33, "00 00 0014 00 00 0010 01 01 00 01 02 00 0008 01 00 000c"), 40, 33,
		 "transform Last Substruc 2, must be 0 or 3"},
		{"§3.3.2 last transform says more follow",
		 datagram(33, "00 00 0014 00 00 0010 01 01 00 01 03 00 0008 01 00 000c"), 40, 33,
		 "last transform not marked last"},
		{"§3.3.5 TLV attribute past the transform", sa_with_attributes("0001 000a abcd"), 48, 33,
		 "attribute length 10 overruns the transform: 2 octets left"},
		{"§3.3.5 attribute header cut short", sa_with_attributes("800e"), 48, 33,
		 "attribute header (RFC 7296 §3.3.5) truncated: 2 octets"},
		{"§3.3.5 second attribute cut short", sa_with_attributes("800e 0080 00"), 52, 33,
		 "attribute header (RFC 7296 §3.3.5) truncated: 1 octets"},
		{"§3.3.5 Key Length in TLV format", sa_with_attributes("000e 0002 0080"), 48, 33,
		 "Key Length attribute in TLV format"},
		{"§3.3.5 Key Length twice", sa_with_attributes("800e 0080 800e 0100"), 52, 33,
		 "Key Length attribute twice"},
		{"budget: 17 attributes in a transform", sa_with_attributes([] {
			 std::string a;
			 for (int i = 0; i < 17; i++)
				 a += "8001 0000 ";
			 return a;
		 }()),
		 48 + 16 * 4, 33, "more than 16 attributes"},

		// Fixed parts of the other payloads.
		{"§3.4 KE under 4", datagram(34, "00 00 0007 0013 00"), 28, 34, "KE payload (RFC 7296 §3.4) truncated: 3"},
		{"§3.5 ID under 4", datagram(35, "00 00 0006 0200"), 28, 35, "ID payload (RFC 7296 §3.5) truncated"},
		{"§3.5 ID_IPV4_ADDR of 5", datagram(36, "00 00 000d 01 000000 c000020101"), 28, 36,
		 "ID_IPV4_ADDR of 5 octets, must be 4"},
		{"§3.5 ID_IPV6_ADDR of 4", datagram(35, "00 00 000c 05 000000 c0000201"), 28, 35,
		 "ID_IPV6_ADDR of 4 octets, must be 16"},
		{"§3.6 empty CERT", datagram(37, "00 00 0004"), 28, 37, "CERT payload (RFC 7296 §3.6) truncated"},
		{"§3.7 empty CERTREQ", datagram(38, "00 00 0004"), 28, 38, "CERTREQ payload (RFC 7296 §3.7) truncated"},
		{"§3.8 AUTH under 4", datagram(39, "00 00 0007 02 0000"), 28, 39, "AUTH payload (RFC 7296 §3.8) truncated"},
		{"§3.10 Notify under 4", datagram(41, "00 00 0006 0000"), 28, 41, "Notify payload (RFC 7296 §3.10) truncated"},
		{"§3.10 Notify SPI Size past the payload", datagram(41, "00 00 000a 03 04 4009 aabb"), 28, 41,
		 "SPI Size 4 overruns the payload: 2 octets left"},
		{"§3.11 Delete ESP with SPI Size 8", datagram(42, "00 00 0010 03 08 0001 1111111111111111"), 28, 42,
		 "SPI Size 8, must be 4 for Protocol ID 3"},
		{"§3.11 Delete IKE with SPI Size 4", datagram(42, "00 00 000c 01 04 0001 11111111"), 28, 42,
		 "SPI Size 4, must be 0 for Protocol ID 1"},
		{"§3.11 Delete Num of SPIs over the SPIs", datagram(42, "00 00 000c 03 04 0002 11111111"), 28, 42,
		 "Num of SPIs 2 of 4 octets, but 4 octets follow"},
		{"§3.11 Delete Num of SPIs under the SPIs", datagram(42, "00 00 0010 03 04 0001 11111111 22222222"), 28, 42,
		 "Num of SPIs 1 of 4 octets, but 8 octets follow"},
		{"§3.11 Delete for Protocol ID 4", datagram(42, "00 00 0008 04 00 0000"), 28, 42,
		 "Protocol ID 4, must be 1, 2 or 3"},
		{"§3.15 CP under 4", datagram(47, "00 00 0006 0100"), 28, 47, "CP payload (RFC 7296 §3.15) truncated"},
		{"§3.15.1 CP attribute past the payload", datagram(47, "00 00 0010 01 000000 0001 0008 c0000264"), 36, 47,
		 "configuration attribute length 8 overruns the payload: 4 octets left"},
		{"§3.15.1 CP attribute header cut short", datagram(47, "00 00 000a 01 000000 0001"), 36, 47,
		 "configuration attribute header (RFC 7296 §3.15.1) truncated"},

		// The second payload's errors name the second payload.
		{"§3.9 short nonce behind a KE", datagram(34, "28 00 0008 0013 0000 00 00 0005 00"), 36, 40,
		 "nonce of 1 octets"},
	};
}

// Failures name the case, not its bytes.
void PrintTo(const MalformedCase &c, std::ostream *os)
{
	*os << c.name;
}

class Malformed : public testing::TestWithParam<MalformedCase> {};

TEST_P(Malformed, ThrowsParseError)
{
	const MalformedCase &c = GetParam();
	std::vector<uint8_t> wire = hex(c.wire);
	try {
		Message::parse(wire);
		FAIL() << "parsed: " << c.wire;
	} catch (const ParseError &e) {
		EXPECT_EQ(e.offset(), c.offset) << e.what();
		EXPECT_EQ(e.payload_type(), c.payload_type) << e.what();
		EXPECT_NE(e.reason().find(c.reason), std::string::npos)
			<< "reason: " << e.reason() << "\nexpected a part: " << c.reason;
	}
}

// Cutting any valid message short anywhere must fail cleanly: the header
// Length no longer matches (§3.1), and with the Length patched to match,
// some payload length overruns (§3.2).
TEST_P(Malformed, NoCrashOnTruncation)
{
	std::vector<uint8_t> wire = hex(GetParam().wire);
	for (size_t n = 0; n < wire.size(); n++) {
		std::vector<uint8_t> cut(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n));
		if (cut.size() >= Header::kSize) {
			cut[24] = static_cast<uint8_t>(n >> 24);
			cut[25] = static_cast<uint8_t>(n >> 16);
			cut[26] = static_cast<uint8_t>(n >> 8);
			cut[27] = static_cast<uint8_t>(n);
		}
		try {
			Message::parse(cut);
		} catch (const ParseError &) {
		}
	}
}

INSTANTIATE_TEST_SUITE_P(Ike, Malformed, testing::ValuesIn(malformed_cases()),
			 case_name<MalformedCase>);

// The datagram bound comes before anything in the payloads is read.
TEST(MalformedMessage, OverSixtyFourKiB)
{
	std::vector<uint8_t> wire = hex(datagram(43, "00 00 0004"));
	size_t size = kMaxMessageSize + 1;
	wire.resize(size);
	wire[24] = static_cast<uint8_t>(size >> 24);
	wire[25] = static_cast<uint8_t>(size >> 16);
	wire[26] = static_cast<uint8_t>(size >> 8);
	wire[27] = static_cast<uint8_t>(size);
	try {
		Message::parse(wire);
		FAIL();
	} catch (const ParseError &e) {
		EXPECT_EQ(e.offset(), 0u);
		EXPECT_NE(e.reason().find("over 65536"), std::string::npos) << e.reason();
	}
}

// §3.2, §2.5: an unknown payload parses whether critical or not; the
// critical bit is what tells the daemon to answer
// UNSUPPORTED_CRITICAL_PAYLOAD.
TEST(UnknownPayloads, CriticalBitKept)
{
	Message m = Message::parse(hex(datagram(200, "c9 00 0006 abcd  00 80 0005 ef")));
	ASSERT_EQ(m.payloads.size(), 2u);
	EXPECT_EQ(m.payloads[0].type, static_cast<PayloadType>(200));
	EXPECT_FALSE(m.payloads[0].critical);
	EXPECT_EQ(std::get<UnknownPayload>(m.payloads[0].body).data, hex("abcd"));
	EXPECT_EQ(m.payloads[1].type, static_cast<PayloadType>(201));
	EXPECT_TRUE(m.payloads[1].critical);
	EXPECT_EQ(std::get<UnknownPayload>(m.payloads[1].body).type, 201);
	// Reserved bits next to the critical bit are ignored on receipt and
	// sent as zero (§3.2).
	Message reserved = Message::parse(hex(datagram(43, "00 7f 0004")));
	EXPECT_FALSE(reserved.payloads[0].critical);
	EXPECT_EQ(to_hex(reserved.serialize()).substr(56), "00000004");
}

// parse_payloads() counts offsets from base_offset, for errors and SK.
TEST(ParsePayloads, BaseOffset)
{
	try {
		parse_payloads(40, hex("00 00 0005 00"), 100);
		FAIL();
	} catch (const ParseError &e) {
		EXPECT_EQ(e.offset(), 100u);
		EXPECT_EQ(e.payload_type(), 40);
	}
	auto chain = parse_payloads(43, hex("2e 00 0004 00 00 0005 ff"), 100);
	ASSERT_EQ(chain.size(), 2u);
	EXPECT_EQ(std::get<EncryptedPayload>(chain[1].body).offset, 104u);
	EXPECT_TRUE(parse_payloads(0, {}).empty());
}

} // namespace
} // namespace umigame::ike
