// What a peer can get wrong, rule by rule: each malformed message must give
// a ParseError naming the option and the offset where it starts, and no
// input (truncated, corrupted, nested too deep) may do anything else.
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hex.h"
#include "umigame/dhcp6/message.h"
#include "vectors.h"

namespace umigame::dhcp6 {
namespace {

using namespace test;

// A Relay-Forw header (§9): type, hop-count 0, link- and peer-address ::.
const std::string kRelayHeader = "0c 00" + std::string(64, '0');

struct MalformedCase {
	std::string name;
	std::string wire;
	size_t offset;        // where the offending option (or message) starts
	uint16_t option_code; // 0: the message itself
	const char *reason;   // a part of ParseError::reason()
};

std::vector<MalformedCase> malformed_cases()
{
	const std::string z12(24, '0'), z15(30, '0'), z16(32, '0'), z24(48, '0'), z25(50, '0');
	std::string label63 = "3f" + std::string(126, '6');
	return {
		// Headers, RFC 8415 §8 and §9.
		{"§8 empty message", "", 0, 0, "empty message"},
		{"§8 header of 3 octets", "01 1234", 0, 0, "shorter than the 4-octet header"},
		{"§9 relay header of 33 octets", "0c" + std::string(64, '0'), 0, 0,
		 "shorter than the 34-octet relay header"},
		{"§9 Relay-Forw without a Relay Message option", kRelayHeader + "0012 0001 01", 0, 0,
		 "with 0 Relay Message options"},
		{"§9 Relay-Forw with two Relay Message options",
		 kRelayHeader + "0009 0004 07000001 0009 0004 07000002", 0, 0,
		 "with 2 Relay Message options"},
		{"§21.10 Relay Message option holding nothing", kRelayHeader + "0009 0000", 34,
		 OPTION_RELAY_MSG, "empty message"},
		{"§21.10 Relay Message option holding a 2-octet message", kRelayHeader + "0009 0002 0100",
		 34, OPTION_RELAY_MSG, "shorter than the 4-octet header"},
		{"§21.10 Relay Message option holding a short relay header",
		 kRelayHeader + "0009 0005 0c00000000", 34, OPTION_RELAY_MSG,
		 "shorter than the 34-octet relay header"},

		// TLV framing, §21.1.
		{"§21.1 option header cut after the code", "01 000001 0001 00", 4, OPTION_CLIENTID,
		 "option header truncated: 3 octets left"},
		{"§21.1 option header cut inside the code", "01 000001 00", 4, 0,
		 "option header truncated: 1 octets left"},
		{"§21.1 option-len past the end of the message", "01 000001 0008 0004 0000", 4,
		 OPTION_ELAPSED_TIME, "option-len 4 exceeds the 2 octets left in the enclosing message"},

		// Nested lengths: an option must fit the option it is in.
		{"§21.21 IAPREFIX longer than the IA_PD holding it",
		 "01 000001 0019 0029 " + z12 + " 001a 001a " + z25, 20, OPTION_IAPREFIX,
		 "option-len 26 exceeds the 25 octets left in the enclosing IA_PD"},
		{"§21.4 Status Code longer than the IA_NA holding it",
		 "07 000001 0003 0012 " + z12 + " 000d 0004 0000", 20, OPTION_STATUS_CODE,
		 "exceeds the 2 octets left in the enclosing IA_NA"},

		// Fixed parts and fixed lengths.
		{"§21.21 IA_PD option-len under 12", "01 000001 0019 000b 00000001 00000000 000000", 4,
		 OPTION_IA_PD, "option-len 11, must be at least 12 (RFC 8415 §21.21)"},
		{"§21.4 IA_NA option-len under 12", "01 000001 0003 0004 00000001", 4, OPTION_IA_NA,
		 "must be at least 12"},
		{"§21.22 IAPREFIX option-len under 25", "01 000001 0019 0028 " + z12 + " 001a 0018 " + z24,
		 20, OPTION_IAPREFIX, "option-len 24, must be at least 25 (RFC 8415 §21.22)"},
		{"§21.6 IAADDR option-len under 24", "07 000001 0003 001f " + z12 + " 0005 000f " + z15,
		 20, OPTION_IAADDR, "must be at least 24"},
		{"§21.7 ORO of odd length", "01 000001 0006 0003 001700", 4, OPTION_ORO, "is odd"},
		{"§21.8 Preference of 2 octets", "02 000001 0007 0002 0000", 4, OPTION_PREFERENCE,
		 "option-len 2, must be 1"},
		{"§21.9 Elapsed Time of 1 octet", "01 000001 0008 0001 00", 4, OPTION_ELAPSED_TIME,
		 "must be 2"},
		{"§21.11 Authentication under 11", "0a 000000 000b 000a 03010000000000000000", 4,
		 OPTION_AUTH, "must be at least 11"},
		{"§21.12 Server Unicast of 15 octets", "07 000001 000c 000f " + z15, 4, OPTION_UNICAST,
		 "must be 16"},
		{"§21.13 Status Code of 1 octet", "07 000001 000d 0001 00", 4, OPTION_STATUS_CODE,
		 "must be at least 2"},
		{"§21.14 Rapid Commit with data", "01 000001 000e 0001 00", 4, OPTION_RAPID_COMMIT,
		 "must be 0"},
		{"§21.19 Reconfigure Message empty", "0a 000000 0013 0000", 4, OPTION_RECONF_MSG,
		 "must be 1"},
		{"§21.20 Reconfigure Accept with data", "01 000001 0014 0001 00", 4, OPTION_RECONF_ACCEPT,
		 "must be 0"},
		{"§21.23 Information Refresh Time of 3", "07 000001 0020 0003 000000", 4,
		 OPTION_INFORMATION_REFRESH_TIME, "must be 4"},
		{"§21.24 SOL_MAX_RT of 5", "07 000001 0052 0005 0000000000", 4, OPTION_SOL_MAX_RT,
		 "must be 4"},
		{"§21.25 INF_MAX_RT of 2", "07 000001 0053 0002 0000", 4, OPTION_INF_MAX_RT, "must be 4"},

		// Values.
		{"§21.22 prefix-length 129", "07 000001 0019 0029 " + z12 + " 001a 0019 0000000000000000 81" + z16,
		 20, OPTION_IAPREFIX, "prefix-length 129 is over 128"},
		{"§11.1 DUID of 131 octets", "01 000001 0001 0083 " + std::string(262, 'a'), 4,
		 OPTION_CLIENTID, "DUID of 131 octets: RFC 8415 §11.1 allows 3 to 130"},
		{"§11.1 DUID of 2 octets", "01 000001 0001 0002 0003", 4, OPTION_CLIENTID,
		 "DUID of 2 octets"},
		{"§11.1 empty Server Identifier", "07 000001 0002 0000", 4, OPTION_SERVERID,
		 "DUID of 0 octets"},

		// Where options may appear.
		{"§21.22 IAPREFIX at the top of a message", "07 000001 001a 0019 " + z25, 4,
		 OPTION_IAPREFIX, "only allowed inside IA_PD"},
		{"§21.6 IAADDR at the top of a message", "07 000001 0005 0018 " + z24, 4, OPTION_IAADDR,
		 "only allowed inside IA_NA"},
		{"§21.6 IAADDR inside an IA_PD", "07 000001 0019 0028 " + z12 + " 0005 0018 " + z24, 20,
		 OPTION_IAADDR, "only allowed inside IA_NA"},
		{"§21.22 IAPREFIX inside an IA_NA", "07 000001 0003 0029 " + z12 + " 001a 0019 " + z25, 20,
		 OPTION_IAPREFIX, "only allowed inside IA_PD"},
		{"§21.21 IA_PD inside an IA_PD", "07 000001 0019 001c " + z12 + " 0019 000c " + z12, 20,
		 OPTION_IA_PD, "only allowed at the top of a client/server message"},
		{"§21.4 IA_NA among a relay's own options", kRelayHeader + "0003 000c " + z12, 34,
		 OPTION_IA_NA, "only allowed at the top of a client/server message"},
		{"§21.10 Relay Message in a client message", "01 000001 0009 0004 07000001", 4,
		 OPTION_RELAY_MSG, "only allowed in Relay-forward/Relay-reply"},
		{"RFC 7078 §3 policy row outside OPTION_ADDRSEL", "07 000001 0055 0003 012800", 4,
		 OPTION_ADDRSEL_TABLE, "only allowed inside OPTION_ADDRSEL"},
		{"RFC 6603 §4.2 PD_EXCLUDE at the top of a message", "07 000001 0043 0002 4005", 4,
		 OPTION_PD_EXCLUDE, "only allowed inside an IA Prefix"},
		{"RFC 6603 §4.2 PD_EXCLUDE no longer than its /56",
		 "07 000001 0019 002f " + z12 + " 001a 001f 0000000000000000 38 20010db8010000000000000000000000"
		 " 0043 0002 38 00", 20, OPTION_IAPREFIX, "OPTION_PD_EXCLUDE /56 with 1 subnet-ID bytes does not fit"},
		{"RFC 6603 §4.2 PD_EXCLUDE /72 of a /56 with one byte",
		 "07 000001 0019 002f " + z12 + " 001a 001f 0000000000000000 38 20010db8010000000000000000000000"
		 " 0043 0002 48 05", 20, OPTION_IAPREFIX, "OPTION_PD_EXCLUDE /72 with 1 subnet-ID bytes does not fit"},

		// RFC 3646 and RFC 1035 names.
		{"RFC 3646 §3 DNS servers of 17 octets", "07 000001 0017 0011 " + z16 + "00", 4,
		 OPTION_DNS_SERVERS, "not a multiple of 16"},
		{"RFC 8415 §10 compression pointer in the search list",
		 "07 000001 0018 000a 07 6578616d706c65 c00c", 4, OPTION_DOMAIN_LIST,
		 "compression pointer at offset 16"},
		{"RFC 8415 §10 pointer as the second name",
		 "07 000001 0018 0007 03 636f6d 00 c0 08", 4, OPTION_DOMAIN_LIST,
		 "compression pointer at offset 13"},
		{"RFC 1035 §2.3.4 label of 64 octets (top bits 01)", "07 000001 0018 0002 4000", 4,
		 OPTION_DOMAIN_LIST, "label length 64 at offset 8 exceeds 63"},
		{"RFC 1035 §2.3.4 reserved label type 10", "07 000001 0018 0002 8000", 4,
		 OPTION_DOMAIN_LIST, "label length 128 at offset 8 exceeds 63"},
		{"RFC 1035 §2.3.4 name of 257 octets",
		 "07 000001 0018 0101 " + label63 + label63 + label63 + label63 + "00", 4,
		 OPTION_DOMAIN_LIST, "longer than 255 octets"},
		{"RFC 1035 §3.1 label running past the option", "07 000001 0018 0003 05 6162", 4,
		 OPTION_DOMAIN_LIST, "runs past the option"},
		{"RFC 1035 §3.1 name without a root label", "07 000001 0018 0004 03 636f6d", 4,
		 OPTION_DOMAIN_LIST, "without a root label"},

		// RFC 7078 §3.
		{"RFC 7078 §3 empty OPTION_ADDRSEL", "07 000001 0054 0000", 4, OPTION_ADDRSEL,
		 "must be at least 1"},
		// (A row with prefix-len over 128 is not malformed: RFC 7078 §3
		// ignores the whole option; options_test.cpp.)
		{"RFC 7078 §3 policy row prefix longer than prefix-len",
		 "07 000001 0054 000d 00 0055 0008 0101 20 20010db800", 9, OPTION_ADDRSEL_TABLE,
		 "prefix of 5 octets, prefix-len 32 needs 4"},
	};
}

TEST(Malformed, EachRuleGivesAParseErrorAtTheOffendingOption)
{
	for (const MalformedCase &c : malformed_cases()) {
		SCOPED_TRACE(c.name);
		try {
			Message::parse(hex(c.wire));
			ADD_FAILURE() << "parsed";
		} catch (const ParseError &e) {
			EXPECT_EQ(e.offset(), c.offset) << e.what();
			EXPECT_EQ(e.option_code(), c.option_code) << e.what();
			EXPECT_NE(e.reason().find(c.reason), std::string::npos) << e.what();
		}
	}
}

TEST(Malformed, ErrorTextNamesOptionAndOffset)
{
	try {
		Message::parse(hex("01 000001 0019 000b 00000001 00000000 000000"));
		FAIL();
	} catch (const ParseError &e) {
		EXPECT_STREQ(e.what(), "DHCPv6 IA_PD (25) at offset 4: option-len 11, must be at "
				       "least 12 (RFC 8415 §21.21)");
	}
}

// Message lengths at which a prefix of `wire` is itself a whole message: the
// ends of its top-level options (for a relay, only once the Relay Message
// option is in).
std::vector<size_t> whole_message_lengths(const std::vector<uint8_t> &wire)
{
	bool relay = wire[0] == 12 || wire[0] == 13;
	size_t pos = relay ? 34 : 4;
	bool have_relay_msg = false;
	std::vector<size_t> out;
	if (!relay)
		out.push_back(pos);
	while (pos < wire.size()) {
		uint16_t code = static_cast<uint16_t>(wire[pos] << 8 | wire[pos + 1]);
		pos += 4 + (wire[pos + 2] << 8 | wire[pos + 3]);
		have_relay_msg |= code == OPTION_RELAY_MSG;
		if (!relay || have_relay_msg)
			out.push_back(pos);
	}
	return out;
}

const std::pair<const char *, std::vector<uint8_t> (*)()> kVectors[] = {
	{"Solicit", solicit_wire},          {"Advertise", advertise_wire},
	{"Reply", reply_wire},              {"Relay-Forw", relay_forward_wire},
	{"Reconfigure", reconfigure_wire},
};

TEST(Malformed, TruncatedAtEveryLengthGivesAParseErrorOrAShorterWholeMessage)
{
	for (const auto &[name, make] : kVectors) {
		const std::vector<uint8_t> wire = make();
		const std::vector<size_t> whole = whole_message_lengths(wire);
		for (size_t n = 0; n < wire.size(); n++) {
			SCOPED_TRACE(std::string(name) + " cut to " + std::to_string(n));
			std::vector<uint8_t> cut(wire.begin(), wire.begin() + static_cast<long>(n));
			bool is_whole = std::find(whole.begin(), whole.end(), n) != whole.end();
			try {
				Message m = Message::parse(cut);
				EXPECT_TRUE(is_whole);
				EXPECT_EQ(m.serialize(), cut);
			} catch (const ParseError &e) {
				EXPECT_FALSE(is_whole) << e.what();
				EXPECT_LE(e.offset(), n);
			}
		}
	}
}

TEST(Malformed, CorruptedBytesNeverEscapeAsAnythingButParseError)
{
	// Every byte of every vector set to a few hostile values: lengths grow
	// past their parent, shrink inside a field, types change. Whatever
	// parses must serialize back to exactly the same bytes.
	const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xc0, 0xff};
	size_t parsed = 0, rejected = 0;
	for (const auto &[name, make] : kVectors) {
		const std::vector<uint8_t> wire = make();
		for (size_t i = 0; i < wire.size(); i++) {
			for (uint8_t v : values) {
				std::vector<uint8_t> bad = wire;
				bad[i] = v;
				try {
					Message m = Message::parse(bad);
					EXPECT_EQ(m.serialize(), bad) << name << " byte " << i;
					parsed++;
				} catch (const ParseError &) {
					rejected++;
				}
			}
		}
	}
	EXPECT_GT(parsed, 0u);
	EXPECT_GT(rejected, 0u);
}

std::vector<uint8_t> message_with_empty_options(size_t count)
{
	std::vector<uint8_t> wire = hex("07 000001");
	for (size_t i = 0; i < count; i++) {
		auto o = hex("fff0 0000");
		wire.insert(wire.end(), o.begin(), o.end());
	}
	return wire;
}

TEST(Malformed, OptionCountIsBounded)
{
	EXPECT_EQ(Message::parse(message_with_empty_options(kMaxOptionsPerMessage)).options.size(),
		  kMaxOptionsPerMessage);
	try {
		Message::parse(message_with_empty_options(kMaxOptionsPerMessage + 1));
		FAIL();
	} catch (const ParseError &e) {
		EXPECT_EQ(e.offset(), 4 + 4 * kMaxOptionsPerMessage);
		EXPECT_EQ(e.option_code(), 0xfff0);
		EXPECT_NE(e.reason().find("more than 1024 options"), std::string::npos);
	}
}

TEST(Malformed, OptionCountIncludesNestedOptions)
{
	// Two IA_PDs of 600 unknown options each: 1202 in all.
	std::vector<uint8_t> wire = hex("07 000001");
	for (int ia = 0; ia < 2; ia++) {
		auto head = hex("0019 0000 00000001 00000000 00000000");
		uint16_t len = 12 + 600 * 4;
		head[2] = static_cast<uint8_t>(len >> 8);
		head[3] = static_cast<uint8_t>(len);
		wire.insert(wire.end(), head.begin(), head.end());
		for (int i = 0; i < 600; i++) {
			auto o = hex("fff0 0000");
			wire.insert(wire.end(), o.begin(), o.end());
		}
	}
	EXPECT_THROW(Message::parse(wire), ParseError);
}

// `levels` Relay-Forw wrappers around a minimal Solicit.
std::vector<uint8_t> relay_chain(unsigned levels)
{
	std::vector<uint8_t> wire = hex("01 000001");
	for (unsigned i = 0; i < levels; i++) {
		std::vector<uint8_t> outer = hex(kRelayHeader);
		outer[1] = static_cast<uint8_t>(i);
		outer.push_back(0);
		outer.push_back(OPTION_RELAY_MSG);
		outer.push_back(static_cast<uint8_t>(wire.size() >> 8));
		outer.push_back(static_cast<uint8_t>(wire.size()));
		outer.insert(outer.end(), wire.begin(), wire.end());
		wire = std::move(outer);
	}
	return wire;
}

TEST(Malformed, RelayNestingIsBoundedRfc8415s7_6)
{
	// HOP_COUNT_LIMIT + 1 wrappers is the most a legitimate chain has.
	Message deepest_legal = Message::parse(relay_chain(kHopCountLimit + 1));
	EXPECT_EQ(deepest_legal.hop_count, kHopCountLimit);
	EXPECT_EQ(deepest_legal.innermost().type, MessageType::Solicit);
	EXPECT_EQ(deepest_legal.serialize(), relay_chain(kHopCountLimit + 1));
	try {
		Message::parse(relay_chain(40));
		FAIL();
	} catch (const ParseError &e) {
		EXPECT_NE(e.reason().find("nested more than 32 levels"), std::string::npos) << e.what();
	}
	// The budget is per parse: a failed deep parse leaves nothing behind.
	EXPECT_NO_THROW(Message::parse(relay_chain(15)));
}

TEST(Malformed, DecodeOptionRejectsTrailingBytes)
{
	EXPECT_THROW(decode_option(hex("000e 0000 00")), ParseError);
	EXPECT_THROW(decode_option(hex("000e")), ParseError);
}

} // namespace
} // namespace umigame::dhcp6
