// The PIM Register client's reply parsing: a GET reply as the module builds
// it, and replies that lie about sizes and counts.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include "umigame/pim_netlink.h"

using namespace umigame;

namespace {

Ipv6Bytes a6(const char *text)
{
	Ipv6Bytes b{};
	inet_pton(AF_INET6, text, b.data());
	return b;
}

struct Reply {
	std::vector<uint8_t> buf = std::vector<uint8_t>(8192);
	nlmsghdr *nlh;
	Reply()
	{
		nlh = mnl_nlmsg_put_header(buf.data());
		nlh->nlmsg_type = 0x1b;
		auto *g = static_cast<genlmsghdr *>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
		g->cmd = UMIGAME_PIM_CMD_GET;
		g->version = UMIGAME_PIM_GENL_VERSION;
	}
	void range(const char *group, uint8_t len, const char *rp, bool with_rp = true)
	{
		nlattr *e = mnl_attr_nest_start(nlh, UMIGAME_PIM_A_RP_ENTRY);
		mnl_attr_put(nlh, UMIGAME_PIM_A_GROUP, 16, a6(group).data());
		mnl_attr_put_u8(nlh, UMIGAME_PIM_A_PREFIX_LEN, len);
		if (with_rp)
			mnl_attr_put(nlh, UMIGAME_PIM_A_RP, 16, a6(rp).data());
		mnl_attr_nest_end(nlh, e);
	}
};

TEST(PimNetlink, GetReplyAsTheModuleBuildsIt)
{
	Reply r;
	mnl_attr_put_u32(r.nlh, UMIGAME_PIM_A_IFINDEX, 7);
	mnl_attr_put_strz(r.nlh, UMIGAME_PIM_A_IFNAME, "preg0");
	mnl_attr_put_u64(r.nlh, UMIGAME_PIM_A_TX_REGISTERS, 200);
	mnl_attr_put_u64(r.nlh, UMIGAME_PIM_A_TX_NULL_REGISTERS, 1);
	mnl_attr_put_u64(r.nlh, UMIGAME_PIM_A_DROP_TOO_BIG, 3);
	mnl_attr_put(r.nlh, UMIGAME_PIM_A_SOURCE, 16, a6("2001:db8:12::1").data());
	mnl_attr_put_u32(r.nlh, UMIGAME_PIM_A_RATE, 20);
	mnl_attr_put_u32(r.nlh, UMIGAME_PIM_A_FLAGS, UMIGAME_PIM_F_BORDER);
	mnl_attr_put_u16(r.nlh, 200, 1); // a future attribute: skipped
	nlattr *list = mnl_attr_nest_start(r.nlh, UMIGAME_PIM_A_RP_LIST);
	r.range("ff0e::", 16, "2001:db8:12::2");
	r.range("ff05::77", 128, "2001:db8:12::3");
	mnl_attr_nest_end(r.nlh, list);

	PimDevice d = parse_pim_message(r.nlh);
	EXPECT_EQ(d.ifindex, 7u);
	EXPECT_EQ(d.name, "preg0");
	EXPECT_EQ(d.source, a6("2001:db8:12::1"));
	EXPECT_EQ(d.rate, 20u);
	EXPECT_EQ(d.flags, uint32_t(UMIGAME_PIM_F_BORDER));
	EXPECT_EQ(d.registers, 200u);
	EXPECT_EQ(d.null_registers, 1u);
	EXPECT_EQ(d.drop_too_big, 3u);
	ASSERT_EQ(d.ranges.size(), 2u);
	EXPECT_EQ(d.ranges[0].group, a6("ff0e::"));
	EXPECT_EQ(d.ranges[0].prefix_len, 16);
	EXPECT_EQ(d.ranges[1].rp, a6("2001:db8:12::3"));
}

TEST(PimNetlink, LyingRepliesAreRefused)
{
	{ // no IFINDEX
		Reply r;
		mnl_attr_put_strz(r.nlh, UMIGAME_PIM_A_IFNAME, "preg0");
		EXPECT_THROW(parse_pim_message(r.nlh), std::runtime_error);
	}
	{ // a 4-byte source
		Reply r;
		mnl_attr_put_u32(r.nlh, UMIGAME_PIM_A_IFINDEX, 7);
		mnl_attr_put_u32(r.nlh, UMIGAME_PIM_A_SOURCE, 1);
		EXPECT_THROW(parse_pim_message(r.nlh), std::runtime_error);
	}
	{ // a range without its RP
		Reply r;
		mnl_attr_put_u32(r.nlh, UMIGAME_PIM_A_IFINDEX, 7);
		nlattr *list = mnl_attr_nest_start(r.nlh, UMIGAME_PIM_A_RP_LIST);
		r.range("ff0e::", 16, nullptr, false);
		mnl_attr_nest_end(r.nlh, list);
		EXPECT_THROW(parse_pim_message(r.nlh), std::runtime_error);
	}
	{ // more ranges than a device holds
		Reply r;
		mnl_attr_put_u32(r.nlh, UMIGAME_PIM_A_IFINDEX, 7);
		nlattr *list = mnl_attr_nest_start(r.nlh, UMIGAME_PIM_A_RP_LIST);
		for (int i = 0; i <= UMIGAME_PIM_MAX_RPS; i++)
			r.range("ff0e::", 16, "2001:db8::2");
		mnl_attr_nest_end(r.nlh, list);
		EXPECT_THROW(parse_pim_message(r.nlh), std::runtime_error);
	}
	{ // a counter attribute that says it runs past the message
		Reply r;
		mnl_attr_put_u32(r.nlh, UMIGAME_PIM_A_IFINDEX, 7);
		auto *a = static_cast<nlattr *>(mnl_nlmsg_get_payload_tail(r.nlh));
		mnl_attr_put_u64(r.nlh, UMIGAME_PIM_A_TX_BYTES, 1);
		a->nla_len = 200;
		EXPECT_THROW(parse_pim_message(r.nlh), std::runtime_error);
	}
	{ // not a GET reply
		Reply r;
		static_cast<genlmsghdr *>(mnl_nlmsg_get_payload(r.nlh))->cmd = UMIGAME_PIM_CMD_SET;
		mnl_attr_put_u32(r.nlh, UMIGAME_PIM_A_IFINDEX, 7);
		EXPECT_THROW(parse_pim_message(r.nlh), std::runtime_error);
	}
}

} // namespace
