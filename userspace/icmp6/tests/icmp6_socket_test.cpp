// The hop-by-hop header check behind Icmp6Datagram::router_alert (RFC 2711
// option type 5 inside an RFC 8200 §4.3 header), and a socket opened and
// used over loopback.
#include "umigame/icmp6_socket.h"

#include <netinet/icmp6.h>

#include <unistd.h>

#include <gtest/gtest.h>

namespace umigame {
namespace {

TEST(HopOptions, RouterAlertFoundOnlyInWellFormedHeaders)
{
	struct Case {
		const char *name;
		std::vector<uint8_t> header;
		bool alert;
	} cases[] = {
		{"RFC 3810 §5: Router Alert value 0, PadN", {58, 0, 5, 2, 0, 0, 1, 0}, true},
		{"after Pad1 bytes", {58, 0, 0, 0, 5, 2, 0, 0}, true},
		{"no Router Alert (PadN only)", {58, 0, 1, 4, 0, 0, 0, 0}, false},
		{"Router Alert of the wrong length", {58, 0, 5, 1, 0, 1, 0, 0}, false},
		{"option running past the header", {58, 0, 1, 9, 0, 0, 0, 0}, false},
		{"header length beyond the bytes", {58, 1, 5, 2, 0, 0, 1, 0}, false},
		{"too short for a header", {58}, false},
	};
	for (const auto &c : cases)
		EXPECT_EQ(hop_options_have_router_alert(c.header), c.alert) << c.name;
}

TEST(Icmp6Socket, LoopbackEchoCarriesInterfaceDestinationAndHopLimit)
{
	Icmp6SocketOptions o;
	o.hop_limit = 1;
	o.pass_types = {ICMP6_ECHO_REQUEST};
	UniqueFd fd;
	try {
		fd = open_icmp6_socket(o);
	} catch (const std::exception &e) {
		GTEST_SKIP() << "no raw socket here: " << e.what();
	}
	uint8_t echo[8] = {ICMP6_ECHO_REQUEST, 0, 0, 0, 0x12, 0x34, 0, 1};
	auto loopback = *Ipv6Address::parse("::1");
	ASSERT_TRUE(send_icmp6(fd.get(), 1, loopback, echo, loopback));
	uint8_t buf[64];
	std::optional<Icmp6Datagram> d;
	for (int i = 0; i < 200 && !d; i++) {
		d = receive_icmp6(fd.get(), buf);
		if (!d)
			usleep(5000);
	}
	ASSERT_TRUE(d);
	EXPECT_EQ(d->icmp.size(), sizeof(echo));
	EXPECT_EQ(d->source, loopback);
	EXPECT_EQ(d->destination, loopback);
	EXPECT_EQ(d->ifindex, 1u);
	EXPECT_EQ(d->hop_limit, 1);
	EXPECT_FALSE(d->router_alert);
}

} // namespace
} // namespace umigame
