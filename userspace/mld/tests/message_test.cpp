// The MLD wire formats: MLDv1 (RFC 2710 §3), the MLDv2 Query (RFC 3810
// §5.1) with its two floating-point codes (§5.1.3, §5.1.9), the MLDv2
// Report and its records (§5.2), and refusals of lying lengths and counts.
#include "umigame/mld/message.h"

#include <gtest/gtest.h>

#include "hex_vectors.h"

namespace umigame::mld {
namespace {

using test::hex;
using test::to_hex;

Ipv6Address a(const char *text)
{
	return *Ipv6Address::parse(text);
}

TEST(Codes, MaxRespCodeDecodesAsSection513Says)
{
	struct Case {
		const char *what;
		uint16_t code;
		uint32_t ms;
	} cases[] = {
		{"§5.1.3: below 32768 the code is the delay", 10000, 10000},
		{"§5.1.3: largest linear value", 32767, 32767},
		{"§5.1.3: exp 0, mant 0: 0x1000 << 3", 0x8000, 32768},
		{"§5.1.3: exp 1, mant 1: 0x1001 << 4", 0x9001, 0x1001 << 4},
		{"§5.1.3: exp 7, mant 0xfff: the largest delay", 0xffff, 0x1fff << 10},
	};
	for (const auto &c : cases)
		EXPECT_EQ(decode_max_resp_code(c.code), c.ms) << c.what;
}

TEST(Codes, MaxRespCodeEncodesRoundingDownAndSaturating)
{
	struct Case {
		const char *what;
		uint32_t ms;
		uint16_t code;
	} cases[] = {
		{"linear", 1000, 1000},
		{"first exponential value", 32768, 0x8000},
		{"rounded down to a multiple of 8", 32775, 0x8000},
		{"exp 1", 0x1001 << 4, 0x9001},
		{"saturates", 100000000, 0xffff},
	};
	for (const auto &c : cases)
		EXPECT_EQ(encode_max_resp_code(c.ms), c.code) << c.what;
	for (uint32_t ms = 0; ms < 9000000; ms = ms * 3 / 2 + 1) {
		uint32_t back = decode_max_resp_code(encode_max_resp_code(ms));
		EXPECT_LE(back, ms) << ms;
		EXPECT_GE(back, std::min<uint32_t>(ms, 0x1fff << 10) * 255 / 256) << ms;
	}
}

TEST(Codes, QqicAsSection519Says)
{
	struct Case {
		const char *what;
		uint8_t code;
		uint32_t seconds;
	} cases[] = {
		{"§5.1.9: below 128 the code is the interval (default 125 s)", 125, 125},
		{"§5.1.9: exp 0, mant 0: 0x10 << 3", 0x80, 128},
		{"§5.1.9: exp 2, mant 5: 0x15 << 5", 0xa5, 0x15 << 5},
		{"§5.1.9: the largest interval", 0xff, 0x1f << 10},
	};
	for (const auto &c : cases) {
		EXPECT_EQ(decode_qqic(c.code), c.seconds) << c.what;
		EXPECT_EQ(encode_qqic(c.seconds), c.code) << c.what;
	}
	EXPECT_EQ(encode_qqic(1000000), 0xff) << "saturates";
	EXPECT_EQ(decode_qqic(encode_qqic(130)), 128u) << "rounds down";
}

TEST(Parse, MessagesOfEachKind)
{
	struct Case {
		const char *what;
		const char *bytes;
		Message expected;
	} cases[] = {
		{"RFC 2710 §3: MLDv1 general query, 24 bytes, delay 10 s",
		 "8200 0000 2710 0000  00000000000000000000000000000000",
		 V1Message{kTypeQuery, 10000, {}}},
		{"RFC 2710 §3: MLDv1 Report for ff05::1:3",
		 "8300 0000 0000 0000  ff050000000000000000000000010003",
		 V1Message{kTypeV1Report, 0, a("ff05::1:3")}},
		{"RFC 2710 §3: MLDv1 Done for ff05::1:3",
		 "8400 0000 0000 0000  ff050000000000000000000000010003",
		 V1Message{kTypeV1Done, 0, a("ff05::1:3")}},
		{"RFC 3810 §5.1: MLDv2 general query, QRV 2, QQIC 125",
		 "8200 0000 2710 0000  00000000000000000000000000000000  02 7d 0000",
		 V2Query{10000, {}, false, 2, 125, {}}},
		{"RFC 3810 §5.1: group-and-source-specific query, S flag, two sources",
		 "8200 0000 03e8 0000  ff3e0000000000000000000000001234  0a 7d 0002"
		 "20010db8000000000000000000000001 20010db8000000000000000000000002",
		 V2Query{1000, a("ff3e::1234"), true, 2, 125, {a("2001:db8::1"), a("2001:db8::2")}}},
		{"RFC 3810 §5.1.12: bytes after the sources are ignored",
		 "8200 0000 03e8 0000  ff3e0000000000000000000000001234  02 7d 0000 deadbeef",
		 V2Query{1000, a("ff3e::1234"), false, 2, 125, {}}},
		{"RFC 3810 §5.2: MLDv2 Report with every record type",
		 "8f00 0000 0000 0006"
		 "01 00 0001 ff3e0000000000000000000000000001 20010db8000000000000000000000001"
		 "02 00 0000 ff3e0000000000000000000000000002"
		 "03 00 0000 ff3e0000000000000000000000000003"
		 "04 00 0001 ff3e0000000000000000000000000004 20010db8000000000000000000000004"
		 "05 00 0001 ff3e0000000000000000000000000005 20010db8000000000000000000000005"
		 "06 01 0001 ff3e0000000000000000000000000006 20010db8000000000000000000000006 01020304",
		 V2Report{{
				  {RecordType::mode_is_include, a("ff3e::1"), {a("2001:db8::1")}, {}},
				  {RecordType::mode_is_exclude, a("ff3e::2"), {}, {}},
				  {RecordType::change_to_include, a("ff3e::3"), {}, {}},
				  {RecordType::change_to_exclude, a("ff3e::4"), {a("2001:db8::4")}, {}},
				  {RecordType::allow_new_sources, a("ff3e::5"), {a("2001:db8::5")}, {}},
				  {RecordType::block_old_sources, a("ff3e::6"), {a("2001:db8::6")}, {1, 2, 3, 4}},
			  },
			  0}},
	};
	for (const auto &c : cases) {
		auto bytes = hex(c.bytes);
		Message m = parse(bytes);
		EXPECT_EQ(m, c.expected) << c.what;
		auto back = std::visit([](const auto &v) { return v.serialize(); }, m);
		EXPECT_EQ(to_hex(back), to_hex(bytes).substr(0, back.size() * 2)) << c.what;
	}
}

TEST(Parse, UnknownRecordTypesAreSkippedNotFatal)
{
	// §5.2.12: unrecognised Record Type values are silently ignored; the
	// record's length still moves us to the next one.
	auto bytes = hex("8f00 0000 0000 0002"
			 "07 00 0001 ff3e0000000000000000000000000007 20010db8000000000000000000000007"
			 "05 00 0001 ff3e0000000000000000000000000005 20010db8000000000000000000000005");
	auto r = std::get<V2Report>(parse(bytes));
	EXPECT_EQ(r.unknown_records, 1u);
	ASSERT_EQ(r.records.size(), 1u);
	EXPECT_EQ(r.records[0].address, a("ff3e::5"));
}

TEST(Parse, LyingLengthsAndCountsAreRefused)
{
	struct Case {
		const char *what;
		const char *bytes;
	} cases[] = {
		{"shorter than an ICMPv6 header", "8f00"},
		{"RFC 3810 §8.1: a 26-byte Query is neither version",
		 "8200 0000 2710 0000  00000000000000000000000000000000 0000"},
		{"RFC 2710 §3: a Report shorter than 24 bytes", "8300 0000 0000 0000 ff05"},
		{"RFC 2710 §3: a Done shorter than 24 bytes", "8400 0000 0000 0000"},
		{"§5.1.10: a Query claiming more sources than it carries",
		 "8200 0000 2710 0000  ff3e0000000000000000000000001234  02 7d 0002"
		 "20010db8000000000000000000000001"},
		{"§5.1.10: a Query claiming 65535 sources",
		 "8200 0000 2710 0000  ff3e0000000000000000000000001234  02 7d ffff"},
		{"§5.2: a Report shorter than its header", "8f00 0000 0000"},
		{"§5.2.3: a Report claiming a record it does not carry", "8f00 0000 0000 0001"},
		{"§5.2.3: two records claimed, one present",
		 "8f00 0000 0000 0002  02 00 0000 ff3e0000000000000000000000000002"},
		{"§5.2.5: a record claiming more sources than remain",
		 "8f00 0000 0000 0001  01 00 0002 ff3e0000000000000000000000000001"
		 "20010db8000000000000000000000001"},
		{"§5.2.6: aux data running past the end",
		 "8f00 0000 0000 0001  01 02 0000 ff3e0000000000000000000000000001 01020304"},
		{"a record header cut short", "8f00 0000 0000 0001  01 00 0000 ff3e"},
		{"not MLD (echo request)", "8000 0000 0000 0000"},
	};
	for (const auto &c : cases)
		EXPECT_THROW(parse(hex(c.bytes)), ParseError) << c.what;
}

TEST(SplitReport, RecordsPackedAndLongRecordsSplitAsSection5215Says)
{
	std::vector<Record> records;
	std::vector<Ipv6Address> many;
	for (int i = 0; i < 200; i++) {
		Ipv6Address s = a("2001:db8::");
		s.bytes[14] = uint8_t(i >> 8);
		s.bytes[15] = uint8_t(i);
		many.push_back(s);
	}
	// 1280 - 40 - 8 - 8 = 1224 bytes of records: 75 sources per record.
	records.push_back({RecordType::allow_new_sources, a("ff3e::1"), many, {}});
	records.push_back({RecordType::change_to_exclude, a("ff3e::2"), many, {}});
	records.push_back({RecordType::mode_is_include, a("ff3e::3"), {many[0]}, {}});
	records.push_back({RecordType::mode_is_include, a("ff3e::4"), {many[1]}, {}});
	auto reports = split_report(records);
	// ALLOW: 75 + 75 + 50 in three Reports (each source kept); TO_EX: only
	// the first 75 (§5.2.15); the two small records share the next Report.
	ASSERT_EQ(reports.size(), 5u);
	EXPECT_EQ(reports[0].records[0].sources.size(), 75u);
	EXPECT_EQ(reports[1].records[0].sources.size(), 75u);
	EXPECT_EQ(reports[2].records[0].sources.size(), 50u);
	EXPECT_EQ(reports[2].records[0].sources.back(), many.back());
	EXPECT_EQ(reports[3].records[0].type, RecordType::change_to_exclude);
	EXPECT_EQ(reports[3].records[0].sources.size(), 75u);
	EXPECT_EQ(reports[4].records.size(), 2u);
	for (const auto &r : reports)
		EXPECT_LE(r.serialize().size() + 48, 1280u);
}

} // namespace
} // namespace umigame::mld
