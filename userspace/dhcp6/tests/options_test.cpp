// Every option type against bytes written out from its RFC format: encoding
// gives exactly those bytes, decoding them gives the value back.
#include <array>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hex.h"
#include "umigame/dhcp6/message.h"
#include "umigame/dhcp6/options.h"

namespace umigame::dhcp6 {
namespace {

using test::hex;
using test::to_hex;

Ipv6Address addr(const char *text)
{
	return *Ipv6Address::parse(text);
}

Ipv6Prefix prefix(const char *text)
{
	return *Ipv6Prefix::parse(text);
}

struct OptionCase {
	const char *name; // the RFC section it follows
	Option option;
	const char *wire; // the whole TLV
};

std::vector<OptionCase> option_cases()
{
	const std::array<uint8_t, 6> mac{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
	const std::array<uint8_t, 2> en_id{0x01, 0x02};
	Message inner;
	inner.type = MessageType::Reply;
	inner.transaction_id = 1;
	return {
		{"RFC 8415 §21.2 Client Identifier (DUID-LL)", ClientId{Duid::ll(kHardwareTypeEthernet, mac)},
		 "0001 000a  0003 0001 02005e100001"},
		{"RFC 8415 §21.3 Server Identifier (DUID-EN)", ServerId{Duid::en(32473, en_id)},
		 "0002 0008  0002 00007ed9 0102"},
		{"RFC 8415 §21.4 IA_NA with §21.6 IA Address and §21.13 Status Code",
		 IaNa{.iaid = 2,
		      .t1 = 3600,
		      .t2 = 7200,
		      .options = {IaAddress{.address = addr("2001:db8::100"),
					    .preferred_lifetime = 7200,
					    .valid_lifetime = 10800,
					    .options = {StatusCode{Status::Success, ""}}}}},
		 "0003 002e  00000002 00000e10 00001c20"
		 "  0005 001e  20010db8000000000000000000000100 00001c20 00002a30"
		 "    000d 0002  0000"},
		{"RFC 8415 §21.6 IA Address, infinite lifetimes",
		 IaAddress{.address = addr("2001:db8::100"),
			   .preferred_lifetime = kInfinity,
			   .valid_lifetime = kInfinity},
		 "0005 0018  20010db8000000000000000000000100 ffffffff ffffffff"},
		{"RFC 8415 §21.7 Option Request", OptionRequest{{23, 24, 82}},
		 "0006 0006  0017 0018 0052"},
		{"RFC 8415 §21.8 Preference", Preference{10}, "0007 0001  0a"},
		{"RFC 8415 §21.9 Elapsed Time", ElapsedTime{0xffff}, "0008 0002  ffff"},
		{"RFC 8415 §21.10 Relay Message", RelayMessage(inner), "0009 0004  07 000001"},
		{"RFC 8415 §21.11 Authentication",
		 Authentication{3, 1, 0, 0x0102030405060708,
				hex("01 000102030405060708090a0b0c0d0e0f")},
		 "000b 001c  03 01 00 0102030405060708  01 000102030405060708090a0b0c0d0e0f"},
		{"RFC 8415 §21.12 Server Unicast", ServerUnicast{addr("2001:db8::1")},
		 "000c 0010  20010db8000000000000000000000001"},
		{"RFC 8415 §21.13 Status Code NoPrefixAvail", StatusCode{Status::NoPrefixAvail, "none"},
		 "000d 0006  0006 6e6f6e65"},
		{"RFC 8415 §21.14 Rapid Commit", RapidCommit{}, "000e 0000"},
		{"RFC 8415 §21.18 Interface-Id", InterfaceId{{'e', 't', 'h', '0'}}, "0012 0004  65746830"},
		{"RFC 8415 §21.19 Reconfigure Message", ReconfigureMessage{MessageType::Rebind},
		 "0013 0001  06"},
		{"RFC 8415 §21.20 Reconfigure Accept", ReconfigureAccept{}, "0014 0000"},
		{"RFC 3646 §3 DNS Recursive Name Server", DnsServers{{addr("2001:db8::53")}},
		 "0017 0010  20010db8000000000000000000000053"},
		{"RFC 3646 §3 DNS Recursive Name Server, empty", DnsServers{}, "0017 0000"},
		{"RFC 3646 §4 Domain Search List",
		 DomainList{{*DomainName::from_text("example.com"), *DomainName::from_text(".")}},
		 "0018 000e  07 6578616d706c65 03 636f6d 00  00"},
		{"RFC 8415 §21.21 IA_PD with §21.22 IA Prefix and Status Code",
		 IaPd{.iaid = 1,
		      .t1 = 1800,
		      .t2 = 2880,
		      .options = {IaPrefix{.preferred_lifetime = 3600,
					   .valid_lifetime = 7200,
					   .prefix = prefix("2001:db8:12:3400::/56")},
				  StatusCode{Status::Success, "ok"}}},
		 "0019 0031  00000001 00000708 00000b40"
		 "  001a 0019  00000e10 00001c20 38 20010db8001234000000000000000000"
		 "  000d 0004  0000 6f6b"},
		{"RFC 8415 §21.22 IA Prefix, infinite lifetimes",
		 IaPrefix{.preferred_lifetime = kInfinity,
			  .valid_lifetime = kInfinity,
			  .prefix = prefix("2001:db8::/48")},
		 "001a 0019  ffffffff ffffffff 30 20010db8000000000000000000000000"},
		{"RFC 8415 §21.23 Information Refresh Time", InformationRefreshTime{86400},
		 "0020 0004  00015180"},
		{"RFC 8415 §21.24 SOL_MAX_RT", SolMaxRt{3600}, "0052 0004  00000e10"},
		{"RFC 8415 §21.25 INF_MAX_RT", InfMaxRt{60}, "0053 0004  0000003c"},
		{"RFC 7078 §3 Address Selection with two policies",
		 AddressSelection{.automatic_row_addition = true,
				  .options = {AddressSelectionPolicy{5, 45, prefix("2001:db8::/32")},
					      AddressSelectionPolicy{1, 40, prefix("::/0")}}},
		 "0054 0013  02"
		 "  0055 0007  05 2d 20 20010db8"
		 "  0055 0003  01 28 00"},
		{"RFC 7078 §3 Address Selection, P flag and no policies",
		 AddressSelection{.privacy_preference = true}, "0054 0001  01"},
		{"RFC 7078 §3 policy row, /96 takes 12 octets",
		 AddressSelectionPolicy{4, 35, prefix("::ffff:0:0/96")},
		 "0055 000f  04 23 60 00000000000000000000ffff"},
		{"RFC 7078 §3 policy row, /17 takes 3 octets",
		 AddressSelectionPolicy{7, 1, prefix("2001:8000::/17")}, "0055 0006  07 01 11 200180"},
		{"RFC 6603 §4.2 PD Exclude, a /64 of a /56: one subnet-ID byte", PdExclude{64, {0x05}},
		 "0043 0002  40 05"},
		{"RFC 8910 §2.2 Captive-Portal", CaptivePortal{"https://portal.example/api"},
		 "0067 001a  68747470733a2f2f706f7274616c2e6578616d706c652f617069"},
		{"RFC 8415 §21.16 Vendor Class kept raw", RawOption{OPTION_VENDOR_CLASS, hex("00007ed9 0003 616263")},
		 "0010 0009  00007ed9 0003 616263"},
		{"unknown option kept raw", RawOption{0xfff0, {}}, "fff0 0000"},
	};
}

TEST(Options, EncodeGivesTheRfcBytes)
{
	for (const OptionCase &c : option_cases()) {
		SCOPED_TRACE(c.name);
		EXPECT_EQ(to_hex(encode_option(c.option)), to_hex(hex(c.wire)));
	}
}

TEST(Options, DecodeGivesTheValueBack)
{
	for (const OptionCase &c : option_cases()) {
		SCOPED_TRACE(c.name);
		Option decoded = decode_option(hex(c.wire));
		EXPECT_EQ(decoded.code(), c.option.code());
		EXPECT_TRUE(decoded == c.option);
		EXPECT_EQ(encode_option(decoded), hex(c.wire));
	}
}

TEST(Options, EveryModelledTypeHasARoundTripCase)
{
	// Guards the table above: a new alternative in Option::Value needs a
	// case here.
	std::set<size_t> covered;
	for (const OptionCase &c : option_cases())
		covered.insert(c.option.value.index());
	EXPECT_EQ(covered.size(), std::variant_size_v<Option::Value>);
}

// RFC 7078 §3 against an independent encoder: FreeRADIUS's test vector
// (src/tests/unit/protocols/dhcpv6/rfc7078.txt): P set, one row with label
// 17, precedence 8 and the IPv4-mapped prefix ::ffff:0.0.0.16/128.
TEST(Options, Rfc7078s3_IndependentTestVectorBothWays)
{
	const char *wire = "00 54 00 18 01 00 55 00 13 11 08 80 00 00 00 00 00 00 00 00 00 00 ff ff 00 00 00 10";
	AddressSelection sel{.privacy_preference = true,
			     .options = {AddressSelectionPolicy{.label = 17,
								.precedence = 8,
								.prefix = prefix("::ffff:0.0.0.16/128")}}};
	EXPECT_EQ(to_hex(encode_option(sel)), to_hex(hex(wire)));

	AddressSelection decoded = decode_option<AddressSelection>(hex(wire));
	EXPECT_TRUE(decoded.privacy_preference);
	EXPECT_FALSE(decoded.automatic_row_addition);
	EXPECT_EQ(decoded.reserved, 0);
	ASSERT_EQ(decoded.policies().size(), 1u);
	EXPECT_EQ(decoded.policies()[0]->label, 17);
	EXPECT_EQ(decoded.policies()[0]->precedence, 8);
	EXPECT_EQ(decoded.policies()[0]->prefix.str(), "::ffff:0.0.0.16/128");
	EXPECT_TRUE(decoded == sel);
}

// RFC 7078 §3: "If an option with a prefix length greater than 128 is
// included, the whole Address Selection option MUST be ignored" — the
// option, with its good rows, not the message around it.
TEST(Options, Rfc7078s3_RowOverPrefixLen128IgnoresTheWholeOption)
{
	const std::string z16(32, '0');
	for (const char *len : {"81", "ff"}) {
		SCOPED_TRACE(std::string("prefix-len 0x") + len);
		// A Reply: Server and Client Identifier, then OPTION_ADDRSEL with a
		// good row (label 5, precedence 45, 2001:db8::/32) and a bad one.
		std::string addrsel = std::string("0054 0023 00") + "  0055 0007 05 2d 20 20010db8" +
				      "  0055 0013 01 01 " + len + z16;
		std::vector<uint8_t> wire = hex("07 abcdef"
						"0002 000a 0003 0001 02005e1000fe"
						"0001 000a 0003 0001 02005e100001" +
						addrsel + "0017 0010 20010db8000000000000000000000053");
		Message m = Message::parse(wire); // not malformed
		EXPECT_EQ(m.get<AddressSelection>(), nullptr);
		ASSERT_NE(m.options.find(OPTION_ADDRSEL), nullptr);
		EXPECT_TRUE(std::holds_alternative<RawOption>(m.options.find(OPTION_ADDRSEL)->value));
		ASSERT_NE(m.get<DnsServers>(), nullptr); // the rest of the message counts
		EXPECT_EQ(m.get<DnsServers>()->servers.at(0).str(), "2001:db8::53");
		EXPECT_EQ(m.serialize(), wire); // and goes back out unchanged
		// The lone option likewise.
		Option lone = decode_option(hex(addrsel));
		EXPECT_TRUE(std::holds_alternative<RawOption>(lone.value));
		EXPECT_EQ(encode_option(lone), hex(addrsel));
	}
	// 128 itself is the longest allowed: parsed.
	AddressSelection ok = decode_option<AddressSelection>(hex("0054 0018 00  0055 0013 01 01 80" + z16));
	ASSERT_EQ(ok.policies().size(), 1u);
	EXPECT_EQ(ok.policies()[0]->prefix.length, 128);
}

TEST(Options, TypedDecodeRejectsAnotherType)
{
	EXPECT_EQ(decode_option<Preference>(hex("0007 0001 ff")).value, 255);
	EXPECT_THROW(decode_option<ElapsedTime>(hex("0007 0001 ff")), ParseError);
}

TEST(Options, Rfc8415s21_13_IaWithoutStatusCodeIsSuccess)
{
	IaPd ia{.iaid = 7};
	EXPECT_EQ(ia.status(), Status::Success);
	EXPECT_EQ(ia.status_code(), nullptr);
	ia.options.add(StatusCode{Status::NoPrefixAvail, "pool empty"});
	EXPECT_EQ(ia.status(), Status::NoPrefixAvail);
	EXPECT_EQ(ia.status_code()->message, "pool empty");
}

TEST(Options, IaHelpersListTheirBindings)
{
	IaPd pd{.options = {IaPrefix{.prefix = prefix("2001:db8:1::/48")},
			    IaPrefix{.prefix = prefix("2001:db8:2::/48")}}};
	ASSERT_EQ(pd.prefixes().size(), 2u);
	EXPECT_EQ(pd.prefixes()[1]->prefix.str(), "2001:db8:2::/48");

	IaNa na{.options = {IaAddress{.address = addr("2001:db8::5")}}};
	ASSERT_EQ(na.addresses().size(), 1u);
	EXPECT_EQ(na.addresses()[0]->address.str(), "2001:db8::5");
	EXPECT_EQ(na.addresses()[0]->status(), Status::Success);

	AddressSelection sel{.options = {AddressSelectionPolicy{1, 2, prefix("::/0")}}};
	ASSERT_EQ(sel.policies().size(), 1u);
	EXPECT_EQ(sel.policies()[0]->precedence, 2);
}

TEST(Options, ListAccessors)
{
	OptionList list{ClientId{Duid::ll(*MacAddress::parse("02:00:00:00:00:01"))},
			IaPd{.iaid = 1}, RawOption{999, {1, 2}}, IaPd{.iaid = 2}};
	EXPECT_EQ(list.get<IaPd>()->iaid, 1u);
	EXPECT_EQ(list.all<IaPd>().size(), 2u);
	EXPECT_EQ(list.get<IaNa>(), nullptr);
	EXPECT_TRUE(list.has<ClientId>());
	ASSERT_NE(list.find(999), nullptr);
	EXPECT_EQ(list.find(999)->as<RawOption>()->data.size(), 2u);
	EXPECT_EQ(list.find_all(OPTION_IA_PD).size(), 2u);

	list.set(IaPd{.iaid = 9}); // replaces the first
	EXPECT_EQ(list.all<IaPd>()[0]->iaid, 9u);
	EXPECT_EQ(list.all<IaPd>()[1]->iaid, 2u);
	list.set(Preference{3}); // appends
	EXPECT_EQ(list.size(), 5u);
	EXPECT_EQ(list.remove<IaPd>(), 2u);
	EXPECT_EQ(list.remove(999), 1u);
	EXPECT_EQ(list.size(), 2u);

	list.get<Preference>()->value = 4; // typed access is mutable
	EXPECT_EQ(list.get<Preference>()->value, 4);
}

TEST(Options, SolMaxRtUsableRangeRfc8415s21_24)
{
	EXPECT_FALSE(SolMaxRt{59}.usable());
	EXPECT_TRUE(SolMaxRt{60}.usable());
	EXPECT_TRUE(SolMaxRt{86400}.usable());
	EXPECT_FALSE(InfMaxRt{86401}.usable());
}

TEST(Options, RelayMessageCopiesAreDeep)
{
	Message inner;
	inner.type = MessageType::Reply;
	RelayMessage a(inner);
	RelayMessage b = a;
	b.message().transaction_id = 5;
	EXPECT_EQ(a.message().transaction_id, 0u);
	EXPECT_FALSE(a == b);
	b = a;
	EXPECT_TRUE(a == b);
}

TEST(Options, SerializeRefusesWhatTheWireCannotCarry)
{
	EXPECT_THROW(encode_option(ClientId{}), std::invalid_argument); // empty DUID
	EXPECT_THROW(encode_option(IaPrefix{.prefix = {{}, 129}}), std::invalid_argument);
	EXPECT_THROW(encode_option(AddressSelectionPolicy{0, 0, {{}, 200}}), std::invalid_argument);
	EXPECT_THROW(encode_option(AddressSelection{.reserved = 0x40}), std::invalid_argument);
	DomainName long_label{{std::string(64, 'a')}};
	EXPECT_THROW(encode_option(DomainList{{long_label}}), std::invalid_argument);
	DomainName empty_label{{"a", "", "b"}};
	EXPECT_THROW(encode_option(DomainList{{empty_label}}), std::invalid_argument);
	EXPECT_THROW(encode_option(InterfaceId{std::vector<uint8_t>(65536)}), std::length_error);
	EXPECT_NO_THROW(encode_option(InterfaceId{std::vector<uint8_t>(65535)}));
}

struct NameCase {
	const char *text;
	bool valid;
	const char *canonical;
	size_t wire_size;
};

TEST(DomainName, FromTextTableRfc1035s2_3_4)
{
	const std::string label63(63, 'a');
	// 4 labels of 63 = 4 * 64 + 1 = 257 octets: too long; three and a
	// 61-octet label = 3 * 64 + 62 + 1 = 255: the limit.
	const std::string at_limit = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
	const std::string over_limit = label63 + "." + label63 + "." + label63 + "." + std::string(62, 'b');
	const std::string too_long_label = std::string(64, 'a') + ".com";
	const NameCase cases[] = {
		{"example.com", true, "example.com", 13},
		{"example.com.", true, "example.com", 13},
		{".", true, ".", 1},
		{"a", true, "a", 3},
		{label63.c_str(), true, label63.c_str(), 65},
		{at_limit.c_str(), true, at_limit.c_str(), 255},
		{over_limit.c_str(), false, nullptr, 0},
		{too_long_label.c_str(), false, nullptr, 0},
		{"", false, nullptr, 0},
		{"a..b", false, nullptr, 0},
		{".a", false, nullptr, 0},
		{"..", false, nullptr, 0},
	};
	for (const NameCase &c : cases) {
		SCOPED_TRACE(c.text);
		auto name = DomainName::from_text(c.text);
		EXPECT_EQ(name.has_value(), c.valid);
		if (name) {
			EXPECT_EQ(name->str(), c.canonical);
			EXPECT_EQ(name->wire_size(), c.wire_size);
		}
	}
}

TEST(DomainName, StrEscapesOctetsThatTextCannotShow)
{
	DomainName odd{{"a.b", "c\\d", std::string("\x01 ", 2)}};
	EXPECT_EQ(odd.str(), "a\\046b.c\\092d.\\001\\032");
	// ... and the wire keeps them exactly.
	DomainList list{{odd}};
	EXPECT_TRUE(decode_option(encode_option(list)) == Option(list));
}

// RFC 6603 §4.2: the subnet ID is the excluded prefix's bits after the
// delegated one, in ceil(bits / 8) bytes; a prefix not longer than the
// delegated one, or a subnet ID of the wrong size, places nothing.
TEST(Options, PdExcludeIsRelativeToTheDelegatedPrefix)
{
	Ipv6Prefix delegated = *Ipv6Prefix::parse("2001:db8:100::/56");
	struct Case {
		const char *excluded;
		PdExclude wire;
	} cases[] = {
		{"2001:db8:100:5::/64", {64, {0x05}}},
		{"2001:db8:100:50::/60", {60, {0x50}}},
		{"2001:db8:100:ff:ab00::/72", {72, {0xff, 0xab}}},
		{"2001:db8:100:1::/127", {127, {0x01, 0, 0, 0, 0, 0, 0, 0, 0}}},
	};
	for (const Case &c : cases) {
		Ipv6Prefix excluded = *Ipv6Prefix::parse(c.excluded);
		EXPECT_EQ(PdExclude::of(delegated, excluded), c.wire) << c.excluded;
		EXPECT_EQ(c.wire.excluded_from(delegated), excluded) << c.excluded;
	}
	EXPECT_FALSE((PdExclude{56, {0x00}}.excluded_from(delegated)));
	EXPECT_FALSE((PdExclude{64, {0x05, 0x00}}.excluded_from(delegated)));
	EXPECT_FALSE((PdExclude{72, {0x05}}.excluded_from(delegated)));
}

} // namespace
} // namespace umigame::dhcp6
