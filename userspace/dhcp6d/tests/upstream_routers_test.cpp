// The WAN side's RA check (RFC 4861 §6.1.2): only an RA with hop limit 255
// from a link-local source, complete, is believed; its M and O flags are
// what RFC 7084 WAA-6 acts on.
#include "umigame/dhcp6d/upstream_routers.h"

#include <gtest/gtest.h>

namespace umigame::dhcp6d {
namespace {

struct Datagram {
	std::vector<uint8_t> bytes;
	NdDatagram view(const char *source, int hop_limit, bool truncated = false) const
	{
		NdDatagram d;
		d.icmp = bytes;
		d.source = *Ipv6Address::parse(source);
		d.hop_limit = hop_limit;
		d.truncated = truncated;
		return d;
	}
};

Datagram managed_advertisement()
{
	RouterAdvertisement ra;
	ra.managed = true;
	ra.other = true;
	ra.router_lifetime = 1800;
	return {ra.serialize()};
}

TEST(UpstreamRouters, OnlyLinkLocalHopLimit255AdvertisementsAreBelieved)
{
	Datagram d = managed_advertisement();
	auto ra = valid_upstream_advertisement(d.view("fe80::1", 255));
	ASSERT_TRUE(ra);
	EXPECT_TRUE(ra->managed);
	EXPECT_TRUE(ra->other);
	EXPECT_EQ(ra->router_lifetime, 1800);
	struct Case {
		const char *name;
		NdDatagram datagram;
	} refused[] = {
		{"forwarded (hop limit 254)", d.view("fe80::1", 254)},
		{"hop limit unknown", d.view("fe80::1", -1)},
		{"global source", d.view("2001:db8::1", 255)},
		{"unspecified source", d.view("::", 255)},
		{"truncated", d.view("fe80::1", 255, true)},
	};
	for (const Case &c : refused)
		EXPECT_FALSE(valid_upstream_advertisement(c.datagram)) << c.name;
}

TEST(UpstreamRouters, ShortAdvertisementIsAParseError)
{
	Datagram d = managed_advertisement();
	d.bytes.resize(10); // §4.2: 16 bytes before any option
	EXPECT_THROW(valid_upstream_advertisement(d.view("fe80::1", 255)), RaParseError);
}

} // namespace
} // namespace umigame::dhcp6d
