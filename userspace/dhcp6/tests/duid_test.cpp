// DUIDs, RFC 8415 §11: built from their parts, viewed back, bounded.
#include <array>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hex.h"
#include "umigame/dhcp6/duid.h"

namespace umigame::dhcp6 {
namespace {

using test::hex;
using test::to_hex;

const MacAddress kMac = *MacAddress::parse("02:00:5e:10:00:01");

TEST(Duid, FactoriesGiveTheRfcLayouts)
{
	const std::array<uint8_t, 3> id{0xaa, 0xbb, 0xcc};
	const std::array<uint8_t, 16> uuid{0x6f, 0x2a, 0x9c, 0x11, 0x43, 0x8e, 0x4f, 0x4b,
					   0x9e, 0x0d, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};
	const std::pair<const char *, std::pair<Duid, const char *>> cases[] = {
		// type, hw type, time, link-layer address
		{"§11.2 DUID-LLT", {Duid::llt(kMac, 0x2a3b4c5d), "0001 0001 2a3b4c5d 02005e100001"}},
		// type, enterprise number, identifier
		{"§11.3 DUID-EN", {Duid::en(32473, id), "0002 00007ed9 aabbcc"}},
		// type, hw type, link-layer address
		{"§11.4 DUID-LL", {Duid::ll(kMac), "0003 0001 02005e100001"}},
		// type, UUID (RFC 6355)
		{"§11.5 DUID-UUID", {Duid::uuid(uuid), "0004 6f2a9c11438e4f4b9e0d123456789abc"}},
	};
	for (const auto &[name, c] : cases) {
		SCOPED_TRACE(name);
		EXPECT_EQ(to_hex(c.first.bytes()), to_hex(hex(c.second)));
	}
}

TEST(Duid, ViewsMatchOnlyTheirType)
{
	Duid llt = Duid::llt(kMac, 77);
	ASSERT_TRUE(llt.as_llt());
	EXPECT_EQ(llt.as_llt()->time, 77u);
	EXPECT_EQ(llt.as_llt()->hardware_type, kHardwareTypeEthernet);
	EXPECT_FALSE(llt.as_ll());
	EXPECT_FALSE(llt.as_en());
	EXPECT_EQ(llt.mac(), kMac);
	EXPECT_EQ(llt.type(), static_cast<uint16_t>(DuidType::Llt));

	Duid ll = Duid::ll(kMac);
	EXPECT_EQ(ll.mac(), kMac);
	EXPECT_EQ(ll.as_ll()->link_layer_address.size(), 6u);

	const std::array<uint8_t, 1> one{0x01};
	Duid en = Duid::en(9, one);
	EXPECT_EQ(en.as_en()->enterprise_number, 9u);
	EXPECT_EQ(en.as_en()->identifier, std::vector<uint8_t>{0x01});
	EXPECT_FALSE(en.mac());

	// A UUID DUID is exactly 18 octets; a longer one is kept, not viewed.
	Duid odd = Duid::from_bytes(hex("0004 00112233445566778899aabbccddeeff 00"));
	EXPECT_FALSE(odd.as_uuid());
	// Non-Ethernet hardware: no MAC.
	const std::array<uint8_t, 8> eui64{1, 2, 3, 4, 5, 6, 7, 8};
	EXPECT_FALSE(Duid::ll(27, eui64).mac());
}

TEST(Duid, UnknownTypesAreOpaqueButKeptRfc8415s11)
{
	Duid d = Duid::from_bytes(hex("ff00 0102"));
	EXPECT_EQ(d.type(), 0xff00);
	EXPECT_FALSE(d.as_llt() || d.as_en() || d.as_ll() || d.as_uuid());
	EXPECT_EQ(d, Duid::from_bytes(hex("ff00 0102")));
	EXPECT_NE(d, Duid::from_bytes(hex("ff00 0103")));
}

TEST(Duid, SizeBoundsRfc8415s11_1)
{
	EXPECT_THROW(Duid::from_bytes(hex("0001")), std::invalid_argument);
	EXPECT_NO_THROW(Duid::from_bytes(hex("0001 00")));
	EXPECT_NO_THROW(Duid::from_bytes(std::vector<uint8_t>(130, 1)));
	EXPECT_THROW(Duid::from_bytes(std::vector<uint8_t>(131, 1)), std::invalid_argument);
	const std::vector<uint8_t> long_id(124, 0);
	EXPECT_NO_THROW(Duid::en(1, long_id)); // 2 + 4 + 124 = 130
	const std::vector<uint8_t> too_long_id(125, 0);
	EXPECT_THROW(Duid::en(1, too_long_id), std::invalid_argument);
	EXPECT_TRUE(Duid().empty());
	EXPECT_EQ(Duid().type(), 0);
}

TEST(Duid, HexTextTable)
{
	const std::pair<const char *, const char *> cases[] = {
		{"00:03:00:01:02:00:5e:10:00:01", "00030001 02005e100001"},
		{"00-03-00-01-02-00-5e-10-00-01", "00030001 02005e100001"},
		{"000300010200", "000300010200"},
		{"0003:0001", "00030001"}, // a separator may sit between any two octets
		{"00:03", nullptr},     // too short
		{"00:03:0", nullptr},
		{"00:03:00:", nullptr},
		{"00:03:zz", nullptr},
		{"", nullptr},
	};
	for (const auto &[text, expected] : cases) {
		SCOPED_TRACE(text);
		auto d = Duid::from_hex(text);
		EXPECT_EQ(d.has_value(), expected != nullptr);
		if (d && expected) {
			EXPECT_EQ(to_hex(d->bytes()), to_hex(hex(expected)));
		}
	}
	EXPECT_EQ(Duid::ll(kMac).str(), "00:03:00:01:02:00:5e:10:00:01");
	EXPECT_EQ(Duid::from_hex(Duid::ll(kMac).str()), Duid::ll(kMac));
}

} // namespace
} // namespace umigame::dhcp6
