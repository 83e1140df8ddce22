#include "umigame/net.h"

#include <gtest/gtest.h>

using namespace umigame;

struct PrefixCase {
	const char *text;
	bool valid;
	const char *canonical;
};

TEST(Ipv6Prefix, ParseTable)
{
	const PrefixCase cases[] = {
		{"2001:db8::/32", true, "2001:db8::/32"},
		{"2001:db8:1::/48", true, "2001:db8:1::/48"},
		{"::/0", true, "::/0"},
		{"fe80::1/128", true, "fe80::1/128"},
		{"2001:db8::1/64", false, nullptr},  // host bits set
		{"2001:db8::/129", false, nullptr},
		{"2001:db8::", false, nullptr},      // no length
		{"2001:db8::/", false, nullptr},
		{"2001:db8::/6x", false, nullptr},
		{"not-an-address/64", false, nullptr},
		{"", false, nullptr},
	};
	for (const auto &c : cases) {
		auto p = Ipv6Prefix::parse(c.text);
		EXPECT_EQ(p.has_value(), c.valid) << c.text;
		if (p && c.canonical) {
			EXPECT_EQ(p->str(), c.canonical);
		}
	}
}

TEST(Ipv6Prefix, Contains)
{
	auto outer = *Ipv6Prefix::parse("2001:db8:1::/48");
	EXPECT_TRUE(outer.contains(*Ipv6Prefix::parse("2001:db8:1:2::/64")));
	EXPECT_TRUE(outer.contains(outer));
	EXPECT_FALSE(outer.contains(*Ipv6Prefix::parse("2001:db8:2::/64")));
	EXPECT_FALSE(outer.contains(*Ipv6Prefix::parse("2001:db8::/32")));
}

TEST(Ipv6Address, LinkLocal)
{
	EXPECT_TRUE(Ipv6Address::parse("fe80::1")->is_link_local());
	EXPECT_TRUE(Ipv6Address::parse("febf::1")->is_link_local());
	EXPECT_FALSE(Ipv6Address::parse("fec0::1")->is_link_local());
	EXPECT_FALSE(Ipv6Address::parse("2001:db8::1")->is_link_local());
	EXPECT_FALSE(Ipv6Address::parse(std::string(100, '1')).has_value());
}

TEST(MacAddress, ParseTable)
{
	EXPECT_EQ(MacAddress::parse("02:00:5e:10:00:01")->str(), "02:00:5e:10:00:01");
	EXPECT_EQ(MacAddress::parse("02-00-5E-10-00-01")->str(), "02:00:5e:10:00:01");
	EXPECT_FALSE(MacAddress::parse("02:00:5e:10:00").has_value());
	EXPECT_FALSE(MacAddress::parse("02:00:5e:10:00:0g").has_value());
	EXPECT_FALSE(MacAddress::parse("0200:5e:10:00:01:").has_value());
	EXPECT_TRUE(MacAddress::parse("01:00:5e:00:00:01")->is_multicast());
}

TEST(IpAddress, ParsesBothFamiliesAndRefusesJunk)
{
	auto v4 = umigame::IpAddress::parse("192.0.2.1");
	ASSERT_TRUE(v4);
	EXPECT_TRUE(v4->is_v4());
	EXPECT_EQ(v4->size(), 4u);
	EXPECT_EQ(v4->str(), "192.0.2.1");
	auto v6 = umigame::IpAddress::parse("2001:db8::1");
	ASSERT_TRUE(v6);
	EXPECT_EQ(v6->str(), "2001:db8::1");
	EXPECT_FALSE(umigame::IpAddress::parse("192.0.2.256"));
	EXPECT_FALSE(umigame::IpAddress::parse(""));
	EXPECT_NE(*v4, *v6);
}

TEST(IpPrefix, ContainsAndBounds)
{
	auto p = umigame::IpPrefix::parse("10.1.0.0/16");
	ASSERT_TRUE(p);
	EXPECT_TRUE(p->contains(*umigame::IpAddress::parse("10.1.255.3")));
	EXPECT_FALSE(p->contains(*umigame::IpAddress::parse("10.2.0.1")));
	EXPECT_FALSE(p->contains(*umigame::IpAddress::parse("::a01:1")));
	EXPECT_EQ(p->last().str(), "10.1.255.255");
	EXPECT_EQ(umigame::IpPrefix::parse("2001:db8::1")->length, 128);
	EXPECT_FALSE(umigame::IpPrefix::parse("10.1.0.1/16")); // host bits set
	EXPECT_FALSE(umigame::IpPrefix::parse("10.0.0.0/33"));
}

// hex_bytes() reads back what hex_string() writes, and nothing else.
TEST(Hex, BytesRoundTripAndRefusals)
{
	const std::vector<uint8_t> bytes = {0x00, 0x0a, 0xff, 0x42};
	EXPECT_EQ(umigame::hex_string(bytes), "000aff42");
	EXPECT_EQ(umigame::hex_bytes("000aff42"), bytes);
	EXPECT_EQ(umigame::hex_bytes("000AFF42"), bytes);
	EXPECT_EQ(umigame::hex_bytes(""), std::vector<uint8_t>{});
	for (const char *bad : {"0", "00a", "0g", "00 0a", "00:0a", "-1"})
		EXPECT_FALSE(umigame::hex_bytes(bad)) << bad;
}
