// Upcalls from ip6mr (struct mrt6msg, <linux/mroute6.h>) told apart from
// ICMPv6 messages on the same socket.
#include "umigame/mldproxy/mroute.h"

#include <cstring>

#include <gtest/gtest.h>

namespace umigame::mldproxy {
namespace {

TEST(Upcall, NoCacheIsReadAndIcmpv6IsNot)
{
	std::vector<uint8_t> b(40, 0);
	b[1] = 1; // MRT6MSG_NOCACHE
	uint16_t mif = 2;
	std::memcpy(&b[2], &mif, 2); // host order, as the kernel writes it
	auto s = *Ipv6Address::parse("2001:db8::1"), g = *Ipv6Address::parse("ff3e::1234");
	std::copy(s.bytes.begin(), s.bytes.end(), b.begin() + 8);
	std::copy(g.bytes.begin(), g.bytes.end(), b.begin() + 24);
	auto u = parse_upcall(b);
	ASSERT_TRUE(u);
	EXPECT_EQ(u->type, 1);
	EXPECT_EQ(u->mif, 2);
	EXPECT_EQ(u->source, s);
	EXPECT_EQ(u->group, g);
	b[0] = 143; // an MLDv2 Report
	EXPECT_FALSE(parse_upcall(b));
	b[0] = 0;
	b.resize(39);
	EXPECT_FALSE(parse_upcall(b)) << "short";
}

} // namespace
} // namespace umigame::mldproxy
