// Router Solicitation / Router Advertisement wire format: hand-assembled
// bytes against the value types, and the malformed messages RFC 4861 §6.1
// and RFC 8106 §5 say to discard.
#include "umigame/dhcp6d/ra_message.h"

#include <gtest/gtest.h>

#include "../../dhcp6/tests/hex.h"

namespace umigame::dhcp6d {
namespace {

using dhcp6::test::hex;

RouterAdvertisement full_advertisement()
{
	RouterAdvertisement ra;
	ra.cur_hop_limit = 64;
	ra.other = true;
	ra.preference = RouterPreference::high;
	ra.router_lifetime = 1800;
	ra.reachable_time = 30000;
	ra.retrans_timer = 1000;
	ra.source_link_layer = MacAddress::parse("02:00:00:00:00:01");
	ra.mtu = 1500;
	ra.prefixes.push_back({.prefix = *Ipv6Prefix::parse("2001:db8:100:5::/64"),
			       .valid_lifetime = 3600,
			       .preferred_lifetime = 1800});
	ra.rdnss.push_back({1200, {*Ipv6Address::parse("2001:db8::53")}});
	ra.dnssl.push_back({1200, {*dhcp6::DomainName::from_text("example.net")}});
	return ra;
}

// RFC 4861 §4.2, §4.6.1, §4.6.2, §4.6.4; RFC 4191 §2.2; RFC 8106 §5.1-§5.2.
const char *kFullAdvertisement =
	"86 00 0000"              // type 134, code 0, checksum (kernel's)
	"40 48 0708"              // hop limit 64, O=1 Prf=01 (high), lifetime 1800
	"00007530 000003e8"       // reachable 30000 ms, retrans 1000 ms
	"01 01 020000000001"      // SLLA
	"05 01 0000 000005dc"     // MTU 1500
	"03 04 40 c0 00000e10 00000708 00000000"  // PIO /64 L A valid pref
	"20010db8010000050000000000000000"
	"19 03 0000 000004b0 20010db8000000000000000000000053" // RDNSS
	"1f 03 0000 000004b0 07 6578616d706c65 03 6e6574 00 000000"; // DNSSL + padding

// RFC 4861 §4.2 and the options above: serialize gives exactly the bytes,
// parse gives back the value.
TEST(RaMessage, AdvertisementRoundTripsThroughHandAssembledBytes)
{
	RouterAdvertisement ra = full_advertisement();
	EXPECT_EQ(dhcp6::test::to_hex(ra.serialize()), dhcp6::test::to_hex(hex(kFullAdvertisement)));
	EXPECT_EQ(RouterAdvertisement::parse(hex(kFullAdvertisement)), ra);
}

// RFC 4191 §2.2: Prf 10 is reserved and read as medium; every value maps.
TEST(RaMessage, RouterPreferenceBits)
{
	struct Case {
		uint8_t flags;
		RouterPreference expected;
	} cases[] = {
		{0x00, RouterPreference::medium}, {0x08, RouterPreference::high},
		{0x18, RouterPreference::low},    {0x10, RouterPreference::medium},
	};
	for (const Case &c : cases) {
		auto bytes = hex("86 00 0000 40 00 0000 00000000 00000000");
		bytes[5] = c.flags;
		EXPECT_EQ(RouterAdvertisement::parse(bytes).preference, c.expected) << int(c.flags);
	}
}

// RFC 4861 §4.1: a Router Solicitation with a source link-layer option.
TEST(RaMessage, SolicitationRoundTrip)
{
	auto bytes = hex("85 00 0000 00000000 01 01 020000000066");
	RouterSolicitation rs = RouterSolicitation::parse(bytes);
	EXPECT_EQ(rs.source_link_layer, MacAddress::parse("02:00:00:00:00:66"));
	EXPECT_EQ(rs.serialize(), bytes);
	// §4.6: unknown options are skipped.
	auto unknown = hex("85 00 0000 00000000 fe 01 000000000000");
	EXPECT_FALSE(RouterSolicitation::parse(unknown).source_link_layer);
}

struct Malformed {
	const char *name;
	const char *bytes;
};

// RFC 4861 §6.1.1: what a router silently discards.
const Malformed kBadSolicitations[] = {
	{"shorter than 8 octets (§6.1.1)", "85 00 0000 000000"},
	{"code not 0 (§6.1.1)", "85 01 0000 00000000"},
	{"not type 133", "86 00 0000 00000000"},
	{"option of length 0 (§6.1.1)", "85 00 0000 00000000 01 00 020000000066"},
	{"option past the end (§6.1.1)", "85 00 0000 00000000 01 02 020000000066"},
	{"option header cut short", "85 00 0000 00000000 01"},
	{"empty", ""},
};

TEST(RaMessage, MalformedSolicitationsAreRefused)
{
	for (const Malformed &m : kBadSolicitations)
		EXPECT_THROW(RouterSolicitation::parse(hex(m.bytes)), RaParseError) << m.name;
}

// RFC 4861 §6.1.2 and the options' own length rules.
const Malformed kBadAdvertisements[] = {
	{"shorter than 16 octets (§6.1.2)", "86 00 0000 40 00 0000 00000000 000000"},
	{"code not 0 (§6.1.2)", "86 01 0000 40 00 0000 00000000 00000000"},
	{"option of length 0", "86 00 0000 40 00 0000 00000000 00000000 05 00 0000 000005dc"},
	{"MTU option of length 2 (§4.6.4)",
	 "86 00 0000 40 00 0000 00000000 00000000 05 02 0000 000005dc 0000000000000000"},
	{"PIO of length 3 (§4.6.2)",
	 "86 00 0000 40 00 0000 00000000 00000000 03 03 40 c0 00000e10 00000708 00000000 20010db8010000050000"},
	{"PIO prefix length 129 (§4.6.2)",
	 "86 00 0000 40 00 0000 00000000 00000000 03 04 81 c0 00000e10 00000708 00000000"
	 "20010db8010000050000000000000000"},
	{"RDNSS of even length 2 (RFC 8106 §5.1)",
	 "86 00 0000 40 00 0000 00000000 00000000 19 02 0000 000004b0 0000000000000000"},
	{"RDNSS of length 4 (RFC 8106 §5.1)",
	 "86 00 0000 40 00 0000 00000000 00000000 19 04 0000 000004b0 20010db8000000000000000000000053"
	 "0000000000000000"},
	{"DNSSL of length 1 (RFC 8106 §5.2)", "86 00 0000 40 00 0000 00000000 00000000 1f 01 0000 000004b0"},
	{"DNSSL name with a compression pointer",
	 "86 00 0000 40 00 0000 00000000 00000000 1f 02 0000 000004b0 c00c 0000 00000000"},
	{"DNSSL label past the option",
	 "86 00 0000 40 00 0000 00000000 00000000 1f 02 0000 000004b0 3f 6578616d706c65"},
	{"DNSSL with padding only (RFC 8106 §5.2: one or more names)",
	 "86 00 0000 40 00 0000 00000000 00000000 1f 02 0000 000004b0 00 00 00 00 00 00 00 00"},
	{"DNSSL data after the padding (RFC 8106 §5.2)",
	 "86 00 0000 40 00 0000 00000000 00000000 1f 02 0000 000004b0 00 00 00 41 00 00 00 00"},
};

TEST(RaMessage, MalformedAdvertisementsAreRefused)
{
	for (const Malformed &m : kBadAdvertisements)
		EXPECT_THROW(RouterAdvertisement::parse(hex(m.bytes)), RaParseError) << m.name;
}

// RFC 8106 §5.2: several names, padded with zeros to a multiple of 8.
TEST(RaMessage, DnsslWithSeveralNamesPadsToEightOctets)
{
	RouterAdvertisement ra;
	ra.dnssl.push_back({600, {*dhcp6::DomainName::from_text("a.example"), *dhcp6::DomainName::from_text("b")}});
	auto bytes = ra.serialize();
	EXPECT_EQ(bytes.size() % 8, 0u);
	EXPECT_EQ(RouterAdvertisement::parse(bytes), ra);
}

// An RDNSS without servers or DNSSL without names is not sent (§5.1: at
// least one address).
TEST(RaMessage, EmptyDnsOptionsAreLeftOut)
{
	RouterAdvertisement ra;
	ra.rdnss.push_back({600, {}});
	ra.dnssl.push_back({600, {}});
	EXPECT_EQ(ra.serialize().size(), 16u);
}

// RFC 4191 §2.3: a Route Information option carries only the octets its
// prefix length needs: length 2 for up to /64, 3 beyond, 1 for ::/0.
TEST(RaMessage, RouteInformationLengthFollowsThePrefixLength)
{
	struct Case {
		const char *prefix;
		const char *bytes;
	} cases[] = {
		{"2001:db8:100::/56", "18 02 38 08 00000e10 20010db801000000"},
		{"2001:db8:100:5:8000::/65", "18 03 41 08 00000e10 20010db80100000580000000000000 00"},
		{"::/0", "18 01 00 08 00000e10"},
	};
	for (const Case &c : cases) {
		RouterAdvertisement ra;
		ra.routes.push_back({*Ipv6Prefix::parse(c.prefix), RouterPreference::high, 3600});
		auto bytes = ra.serialize();
		std::vector<uint8_t> option(bytes.begin() + 16, bytes.end());
		EXPECT_EQ(dhcp6::test::to_hex(option), dhcp6::test::to_hex(hex(c.bytes))) << c.prefix;
		EXPECT_EQ(RouterAdvertisement::parse(bytes), ra) << c.prefix;
	}
}

// RFC 4191 §2.3: a RIO too short for its prefix length, longer than 3, or
// with the reserved preference is ignored, not the whole RA.
TEST(RaMessage, BadRouteInformationIsIgnored)
{
	const char *header = "86 00 0000 40 00 0000 00000000 00000000";
	const char *bad[] = {
		"18 01 38 00 00000e10",                                          // /56 in length 1
		"18 02 41 00 00000e10 20010db801000000",                         // /65 in length 2
		"18 02 38 10 00000e10 20010db801000000",                         // Prf 10
		"18 04 38 00 00000e10 20010db8010000000000000000000000 0000000000000000", // length 4
	};
	for (const char *option : bad) {
		RouterAdvertisement ra = RouterAdvertisement::parse(hex(std::string(header) + option));
		EXPECT_TRUE(ra.routes.empty()) << option;
	}
}

// RFC 8910 §2.3: the URI padded with NULs to a multiple of 8 octets; the
// padding is not part of the URI read back.
TEST(RaMessage, CaptivePortalUriIsPaddedWithNuls)
{
	RouterAdvertisement ra;
	ra.captive_portal = "https://cp.example/";
	auto bytes = ra.serialize();
	std::vector<uint8_t> option(bytes.begin() + 16, bytes.end());
	EXPECT_EQ(dhcp6::test::to_hex(option),
		  dhcp6::test::to_hex(hex("25 03 68747470733a2f2f63702e6578616d706c652f 000000")));
	EXPECT_EQ(RouterAdvertisement::parse(bytes), ra);
}

} // namespace
} // namespace umigame::dhcp6d
