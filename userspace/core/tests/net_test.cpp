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
