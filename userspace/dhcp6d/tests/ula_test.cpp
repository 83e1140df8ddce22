// RFC 4193 §3.2.2 Global ID generation, and RFC 7084 ULA-2: the prefix is
// made once and read back on every later start.
#include "umigame/dhcp6d/ula.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace umigame::dhcp6d {
namespace {

// RFC 4291 App. A: the universal/local bit flipped, ff:fe in the middle.
TEST(Ula, ModifiedEui64FromMac)
{
	auto e = modified_eui64(*MacAddress::parse("00:11:22:33:44:55"));
	EXPECT_EQ(e, (std::array<uint8_t, 8>{0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55}));
}

// RFC 4193 §3.2.2: fd + the low 40 bits of SHA-1(time || EUI-64), a /48.
// The digest of these 16 octets, computed independently
// (`printf 0123456789abcdef021122fffe334455 | xxd -r -p | sha1sum`), ends
// in 36 88 c7 b3 d9.
TEST(Ula, GlobalIdIsTheLow40BitsOfTheDigest)
{
	Ipv6Prefix p = make_ula_prefix(0x0123456789abcdefull, {0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55});
	EXPECT_EQ(p.length, 48);
	EXPECT_EQ(p.address.bytes[0], 0xfd);
	EXPECT_EQ(p.str(), "fd36:88c7:b3d9::/48");
	// Another time, another prefix.
	EXPECT_NE(make_ula_prefix(0x0123456789abcdeeull, {0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55}), p);
}

// RFC 7084 ULA-2: generated once, the same on every later start; a
// garbled file is an error, not a silent renumbering.
TEST(Ula, GeneratedOnceAndKept)
{
	char tmpl[] = "/tmp/umigame-ula-XXXXXX";
	ASSERT_NE(mkdtemp(tmpl), nullptr);
	std::string dir = tmpl;
	Ipv6Prefix first = load_or_create_ula(dir, MacAddress::parse("00:11:22:33:44:55"));
	EXPECT_EQ(first.address.bytes[0], 0xfd);
	EXPECT_EQ(load_or_create_ula(dir, MacAddress::parse("00:aa:bb:cc:dd:ee")), first);
	std::ofstream(dir + "/ula") << "2001:db8::/48\n";
	EXPECT_THROW(load_or_create_ula(dir, std::nullopt), std::runtime_error);
	std::filesystem::remove_all(dir);
}

} // namespace
} // namespace umigame::dhcp6d
