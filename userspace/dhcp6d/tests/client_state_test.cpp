// Prefix splitting and the state file of the requesting router.
#include "umigame/dhcp6d/client_state.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <unistd.h>

namespace umigame::dhcp6d {
namespace {

Ipv6Prefix prefix(const char *p) { return *Ipv6Prefix::parse(p); }

// RFC 7084 L-2 (a separate /64 from the delegated prefix for each LAN),
// RFC 8415 §6.3: the subnet id lands in the bits between the delegated
// length and the piece's length; what does not fit is refused.
TEST(ClientState, CarveSubnet)
{
	struct Case {
		const char *delegated;
		uint8_t length;
		uint64_t id;
		const char *expected; // nullptr: does not fit
	} cases[] = {
		{"2001:db8:100::/56", 64, 0, "2001:db8:100::/64"},
		{"2001:db8:100::/56", 64, 5, "2001:db8:100:5::/64"},
		{"2001:db8:100::/56", 64, 255, "2001:db8:100:ff::/64"},
		{"2001:db8:100::/56", 64, 256, nullptr},
		{"2001:db8:100::/56", 60, 3, "2001:db8:100:30::/60"},
		{"2001:db8:100::/56", 56, 0, "2001:db8:100::/56"},
		{"2001:db8:100::/56", 56, 1, nullptr},
		{"2001:db8:100::/56", 48, 0, nullptr},
		{"2001:db8::/32", 64, 0x10005, "2001:db8:1:5::/64"},
		{"2001:db8:100:a00::/55", 64, 0x1ff, "2001:db8:100:bff::/64"},
	};
	for (const Case &c : cases) {
		auto got = carve_subnet(prefix(c.delegated), c.length, c.id);
		if (c.expected) {
			ASSERT_TRUE(got) << c.delegated << " " << c.id;
			EXPECT_EQ(got->str(), c.expected);
		} else {
			EXPECT_FALSE(got) << c.delegated << " " << c.id;
		}
	}
}

Binding binding_with(std::vector<const char *> prefixes)
{
	Binding b;
	b.server = dhcp6::Duid::ll(*MacAddress::parse("02:00:00:00:55:01"));
	IaBinding ia{.iaid = 1, .t1 = 100, .t2 = 160, .obtained = Seconds(10)};
	for (const char *p : prefixes)
		ia.prefixes.push_back({prefix(p), {300, 600, Seconds(10)}});
	b.ias.push_back(ia);
	return b;
}

// RFC 7084 L-2: automatic subnet ids skip explicit ones and keep
// configuration order;
// the router's address is ::1 of the piece; every prefix of the IA is
// carved.
TEST(ClientState, AssignSubnets)
{
	std::vector<Downstream> d = {
		{.interface = "lan0", .iaid = 1},
		{.interface = "lan1", .iaid = 1, .subnet_id = 0},
		{.interface = "lan2", .iaid = 1, .length = 60},
		{.interface = "lan3", .iaid = 2},
	};
	auto a = assign_subnets(d, binding_with({"2001:db8:100::/56", "2001:db8:200::/56"}));
	ASSERT_EQ(a.size(), 6u); // lan3's IA is not bound
	EXPECT_EQ(a[0].interface, "lan0");
	EXPECT_EQ(a[0].subnet.str(), "2001:db8:100:1::/64");
	EXPECT_EQ(a[0].router_address.str(), "2001:db8:100:1::1");
	EXPECT_EQ(a[1].subnet.str(), "2001:db8:200:1::/64");
	EXPECT_EQ(a[2].subnet.str(), "2001:db8:100::/64");
	EXPECT_EQ(a[4].subnet.str(), "2001:db8:100:20::/60"); // id 2 at /60
	EXPECT_EQ(a[4].lifetimes.valid, 600u);
}

TEST(ClientState, PiecesThatDoNotFitAreReported)
{
	std::vector<Downstream> d = {{.interface = "lan0", .iaid = 1, .length = 64, .subnet_id = 300}};
	std::vector<std::string> problems;
	auto a = assign_subnets(d, binding_with({"2001:db8:100::/56"}), &problems);
	EXPECT_TRUE(a.empty());
	ASSERT_EQ(problems.size(), 1u);
}

// RFC 6603 §4.2, RFC 7084 WPD-8: the piece the ISP excluded is nobody's;
// automatic ids step over it, an explicit one that hits it is reported;
// the state file keeps the exclusion.
TEST(ClientState, ExcludedPieceIsSkippedOrReported)
{
	Binding b = binding_with({"2001:db8:100::/56"});
	b.ias[0].prefixes[0].excluded = prefix("2001:db8:100:1::/64");
	std::vector<Downstream> d = {
		{.interface = "lan0", .iaid = 1},
		{.interface = "lan1", .iaid = 1},
		{.interface = "lan2", .iaid = 1, .subnet_id = 1},
	};
	std::vector<std::string> problems;
	auto a = assign_subnets(d, b, &problems);
	ASSERT_EQ(a.size(), 2u);
	EXPECT_EQ(a[0].subnet.str(), "2001:db8:100::/64");
	EXPECT_EQ(a[1].subnet.str(), "2001:db8:100:2::/64");
	ASSERT_EQ(problems.size(), 1u);
	EXPECT_NE(problems[0].find("lan2 is excluded by the ISP (2001:db8:100:1::/64"), std::string::npos) << problems[0];
	// A /127 for the WAN link excludes the /64 around it.
	b.ias[0].prefixes[0].excluded = prefix("2001:db8:100::/127");
	a = assign_subnets({{.interface = "lan0", .iaid = 1}}, b);
	ASSERT_EQ(a.size(), 1u);
	EXPECT_EQ(a[0].subnet.str(), "2001:db8:100:1::/64");
	auto wall = std::chrono::system_clock::now();
	dhcp6::Duid duid = dhcp6::Duid::ll(*MacAddress::parse("02:00:00:00:00:01"));
	SavedState s = decode_state(encode_state(duid, b, Seconds(20), wall), Seconds(5), wall);
	ASSERT_TRUE(s.binding);
	EXPECT_EQ(s.binding->prefixes()[0]->excluded, prefix("2001:db8:100::/127"));
}

// RFC 8415 §11 (the DUID is stable) and §18.2.12 (leases reused after a
// restart): the state file keeps the DUID and the leases; lifetimes are kept as
// wall-clock times so that they count on across restarts.
TEST(ClientState, EncodeDecodeAcrossRestart)
{
	Binding b = binding_with({"2001:db8:100::/56"});
	b.dns_servers = {*Ipv6Address::parse("2001:db8::53")};
	b.search_domains = {*dhcp6::DomainName::from_text("example.net")};
	b.address_selection = {{.label = 7, .precedence = 40, .prefix = prefix("2001:db8:100::/56")}};
	b.reconfigure_key = dhcp6::ReconfigureKey{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	b.replay_detection = 42;
	dhcp6::Duid duid = dhcp6::Duid::ll(*MacAddress::parse("02:00:00:00:00:01"));
	auto wall = std::chrono::system_clock::now();
	std::string text = encode_state(duid, b, Seconds(110), wall);
	// Restarted 50 s later, with a monotonic clock that began anew.
	SavedState s = decode_state(text, Seconds(7), wall + std::chrono::seconds(50));
	EXPECT_EQ(s.duid, duid);
	ASSERT_TRUE(s.binding);
	ASSERT_EQ(s.binding->prefixes().size(), 1u);
	// Obtained 100 s before the save, now 150 s ago: 450 s left.
	EXPECT_EQ(s.binding->prefixes()[0]->lifetimes.valid_left(Seconds(7)), 450u);
	EXPECT_EQ(s.binding->dns_servers, b.dns_servers);
	EXPECT_EQ(s.binding->search_domains, b.search_domains);
	EXPECT_EQ(s.binding->address_selection, b.address_selection);
	EXPECT_EQ(s.binding->reconfigure_key, b.reconfigure_key);
	EXPECT_EQ(s.binding->replay_detection, 42u);
	EXPECT_EQ(s.binding->server, b.server);

	// No lease: the DUID alone.
	SavedState empty = decode_state(encode_state(duid, Binding{}, Seconds(1), wall), Seconds(1), wall);
	EXPECT_EQ(empty.duid, duid);
	EXPECT_FALSE(empty.binding);
}

TEST(ClientState, DamagedStateIsRefused)
{
	auto wall = std::chrono::system_clock::now();
	for (const char *text : {"", "{", "{\"version\": 2}", "{\"version\": 1, \"duid\": \"zz\"}",
				 "{\"version\": 1, \"duid\": \"00:03:00:01:02:00:00:00:00:01\", \"server\": 5}"})
		EXPECT_THROW(decode_state(text, Seconds(0), wall), std::runtime_error) << text;
}

// tmp + fsync + rename: the file is whole, and no temporary is left.
TEST(ClientState, AtomicWrite)
{
	char dir[] = "/tmp/umigame-client-state-XXXXXX";
	ASSERT_TRUE(mkdtemp(dir));
	write_file_atomically(dir, "client.json", "first\n");
	write_file_atomically(dir, "client.json", "second\n");
	std::ifstream in(std::string(dir) + "/client.json");
	std::stringstream ss;
	ss << in.rdbuf();
	EXPECT_EQ(ss.str(), "second\n");
	EXPECT_NE(access((std::string(dir) + "/client.json.tmp").c_str(), F_OK), 0);
	unlink((std::string(dir) + "/client.json").c_str());
	rmdir(dir);
}

} // namespace
} // namespace umigame::dhcp6d
