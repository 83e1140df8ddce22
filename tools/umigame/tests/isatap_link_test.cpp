// The rtnetlink messages of `umigame isatap` (include/umigame/isatap.h):
// the PRL arguments, the RTM_NEWLINK that sets the list, and the reading
// of a link's answer, truncated and lying ones included.
#include <arpa/inet.h>
#include <cstring>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "cli.h"
#include "isatap_link.h"
#include "umigame/isatap.h"

using namespace umigame;
using namespace umigame::cli;

namespace {

uint32_t v4(const char *text)
{
	in_addr a{};
	inet_pton(AF_INET, text, &a);
	return a.s_addr;
}

std::vector<uint8_t> bytes_of(const NetlinkMessage &m)
{
	auto b = m.bytes();
	return {b.begin(), b.end()};
}

// What the module dumps for a link: its locator and two routers.
NetlinkMessage link_reply(const char *kind = UMIGAME_ISATAP_KIND)
{
	NetlinkMessage m(RTM_NEWLINK, 0);
	auto &ifi = m.put_header<ifinfomsg>();
	ifi.ifi_index = 7;
	m.put_string(IFLA_IFNAME, "isa0");
	const uint32_t local = v4("192.0.2.10");
	m.put(IFLA_ADDRESS, &local, 4);
	nlattr *info = m.begin_nested(IFLA_LINKINFO);
	m.put_string(IFLA_INFO_KIND, kind);
	nlattr *data = m.begin_nested(IFLA_INFO_DATA);
	nlattr *prl = m.begin_nested(UMIGAME_ISATAP_A_PRL);
	for (auto [addr, state] : {std::pair{"192.0.2.1", UMIGAME_ISATAP_RTR_REACHABLE},
				   std::pair{"192.0.2.2", UMIGAME_ISATAP_RTR_UNREACHABLE}}) {
		nlattr *e = m.begin_nested(UMIGAME_ISATAP_A_PRL_ENTRY);
		const uint32_t a = v4(addr);
		m.put(UMIGAME_ISATAP_PRL_A_ADDR, &a, 4);
		m.put_u32(UMIGAME_ISATAP_PRL_A_LIFETIME, 3599);
		m.put_u8(UMIGAME_ISATAP_PRL_A_STATE, uint8_t(state));
		m.put_u32(UMIGAME_ISATAP_PRL_A_RTR_LIFETIME, 1800);
		m.put_u32(UMIGAME_ISATAP_PRL_A_RS_SENT, 3);
		m.put_u32(UMIGAME_ISATAP_PRL_A_RA_RCVD, 2);
		m.end_nested(e);
	}
	m.end_nested(prl);
	m.end_nested(data);
	m.end_nested(info);
	return m;
}

// The link a request describes, as core's parser would return it: the kind
// and IFLA_INFO_DATA from the request's IFLA_LINKINFO.
Link link_of_request(const NetlinkMessage &m)
{
	Link link;
	auto b = m.bytes();
	for_each_attribute(b.subspan(NLMSG_SPACE(sizeof(ifinfomsg))), "request", [&](const nlattr &a) {
		if (mnl_attr_get_type(&a) != IFLA_LINKINFO)
			return;
		std::span<const uint8_t> info{static_cast<const uint8_t *>(mnl_attr_get_payload(&a)),
					      mnl_attr_get_payload_len(&a)};
		for_each_attribute(info, "IFLA_LINKINFO", [&](const nlattr &i) {
			const auto *p = static_cast<const uint8_t *>(mnl_attr_get_payload(&i));
			if (mnl_attr_get_type(&i) == IFLA_INFO_KIND)
				link.kind = mnl_attr_get_str(&i);
			else if (mnl_attr_get_type(&i) == IFLA_INFO_DATA)
				link.info_data.assign(p, p + mnl_attr_get_payload_len(&i));
		});
	});
	return link;
}

std::optional<IsatapLink> read_reply(const std::vector<uint8_t> &bytes)
{
	return isatap_of(parse_link_message(bytes));
}

} // namespace

TEST(IsatapArgs, Accepted)
{
	auto prl = parse_prl_args({"192.0.2.1", "192.0.2.2", "lifetime", "3600", "198.51.100.7"});
	ASSERT_EQ(prl.size(), 3u);
	EXPECT_EQ(prl[0].address, v4("192.0.2.1"));
	EXPECT_EQ(prl[0].lifetime, 0u);
	EXPECT_EQ(prl[1].address, v4("192.0.2.2"));
	EXPECT_EQ(prl[1].lifetime, 3600u);
	EXPECT_EQ(prl[2].lifetime, 0u);
	EXPECT_TRUE(parse_prl_args({}).empty()); // empties the list
}

TEST(IsatapArgs, Refused)
{
	std::vector<std::string> seventeen;
	for (int i = 1; i <= UMIGAME_ISATAP_PRL_MAX + 1; i++)
		seventeen.push_back("192.0.2." + std::to_string(i));
	const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
		{{"192.0.2"}, "'192.0.2' is not an IPv4 address"},
		{{"2001:db8::1"}, "'2001:db8::1' is not an IPv4 address"},
		{{"192.0.2.1", "lifetime"}, "lifetime needs a number of seconds"},
		{{"192.0.2.1", "lifetime", "-1"}, "lifetime '-1' is not a number of seconds"},
		{{"192.0.2.1", "lifetime", "1h"}, "lifetime '1h' is not a number of seconds"},
		{{"192.0.2.1", "lifetime", "4294967296"}, "lifetime '4294967296' is not a number of seconds"},
		{{"192.0.2.1", "192.0.2.1"}, "192.0.2.1 is listed twice"},
		{seventeen, "at most 16 routers"},
	};
	for (const auto &[args, message] : cases) {
		try {
			parse_prl_args(args);
			ADD_FAILURE() << "accepted: " << args[0];
		} catch (const UsageError &e) {
			EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
		}
	}
}

// The request carries the kind and the list; read back as a link would be,
// it names the same routers and lifetimes.
TEST(IsatapMessages, PrlRequestRoundTrip)
{
	auto m = isatap_prl_request(7, parse_prl_args({"192.0.2.1", "lifetime", "60", "192.0.2.2"}));
	EXPECT_EQ(m.header()->nlmsg_type, RTM_NEWLINK);
	auto link = isatap_of(link_of_request(m));
	ASSERT_TRUE(link);
	ASSERT_EQ(link->prl.size(), 2u);
	EXPECT_EQ(link->prl[0].address, "192.0.2.1");
	EXPECT_EQ(link->prl[0].lifetime, 60u);
	EXPECT_EQ(link->prl[1].address, "192.0.2.2");
	EXPECT_EQ(link->prl[1].lifetime, 0u);
	// An empty list is still sent: it empties the link's.
	auto empty = isatap_of(link_of_request(isatap_prl_request(7, {})));
	ASSERT_TRUE(empty);
	EXPECT_TRUE(empty->prl.empty());
}

TEST(IsatapMessages, LinkReply)
{
	auto link = read_reply(bytes_of(link_reply()));
	ASSERT_TRUE(link);
	EXPECT_EQ(link->local, "192.0.2.10");
	ASSERT_EQ(link->prl.size(), 2u);
	EXPECT_EQ(link->prl[0].state, "reachable");
	EXPECT_EQ(link->prl[1].state, "unreachable");
	EXPECT_EQ(link->prl[1].lifetime, 3599u);
	EXPECT_EQ(link->prl[1].router_lifetime, 1800u);
	EXPECT_EQ(link->prl[1].rs_sent, 3u);
	EXPECT_EQ(link->prl[1].ra_received, 2u);
	EXPECT_FALSE(read_reply(bytes_of(link_reply("sit"))));
}

// Every truncation, and every length field set to a lie, is read without
// reading past the buffer (the ASan tier watches): a true answer or a
// clear error.
TEST(IsatapMessages, TruncatedAndLyingReplies)
{
	const auto whole = bytes_of(link_reply());
	for (size_t n = 0; n < whole.size(); n++) {
		std::vector<uint8_t> cut(whole.begin(), whole.begin() + long(n));
		if (n >= sizeof(nlmsghdr)) {
			nlmsghdr h;
			std::memcpy(&h, cut.data(), sizeof(h));
			h.nlmsg_len = uint32_t(n);
			std::memcpy(cut.data(), &h, sizeof(h));
		}
		try {
			// A cut at an attribute boundary reads as a shorter answer:
			// never a router that was not there.
			if (auto link = read_reply(cut)) {
				for (const auto &r : link->prl) {
					EXPECT_TRUE(r.address == "192.0.2.1" || r.address == "192.0.2.2") << r.address;
				}
			}
		} catch (const std::runtime_error &) {
		}
	}
	for (size_t at = NLMSG_SPACE(sizeof(ifinfomsg)); at + 2 <= whole.size(); at += 2)
		for (uint16_t lie : {uint16_t(0), uint16_t(3), uint16_t(5), uint16_t(0xffff)}) {
			auto bad = whole;
			std::memcpy(bad.data() + at, &lie, 2);
			try {
				(void)read_reply(bad);
			} catch (const std::runtime_error &) {
			}
		}
}
