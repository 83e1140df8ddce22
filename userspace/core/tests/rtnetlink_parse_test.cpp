// Parsing of rtnetlink messages built by hand: valid ones, and the same
// messages damaged — truncated, with attribute lengths that lie, with
// attributes of the wrong size. Nothing here needs privileges or a kernel.
#include "umigame/rtnetlink.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <linux/if_addr.h>
#include <linux/if_addrlabel.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/socket.h>

using namespace umigame;

namespace {

Ipv6Address ip(const char *text)
{
	auto a = Ipv6Address::parse(text);
	if (!a)
		throw std::invalid_argument(text);
	return *a;
}

// A message as 4-byte-aligned bytes that a case may damage.
struct Bytes {
	std::vector<uint32_t> words;
	size_t size = 0;

	explicit Bytes(const NetlinkMessage &m)
	{
		auto b = m.bytes();
		size = b.size();
		words.resize((size + 3) / 4 + 64, 0); // slack, so a case may grow it
		std::memcpy(words.data(), b.data(), size);
	}
	uint8_t *data() { return reinterpret_cast<uint8_t *>(words.data()); }
	nlmsghdr *header() { return reinterpret_cast<nlmsghdr *>(words.data()); }
	std::span<const uint8_t> span() const
	{
		return {reinterpret_cast<const uint8_t *>(words.data()), size};
	}
	// The first attribute of `type` after a fixed header of header_size.
	nlattr *attribute(size_t header_size, uint16_t type)
	{
		size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(header_size);
		while (off + sizeof(nlattr) <= size) {
			auto *a = reinterpret_cast<nlattr *>(data() + off);
			if ((a->nla_type & NLA_TYPE_MASK) == type)
				return a;
			off += NLA_ALIGN(a->nla_len);
		}
		throw std::logic_error("test message lacks attribute " + std::to_string(type));
	}
	// Cut the message (buffer and nlmsg_len) to n bytes.
	void truncate(size_t n)
	{
		size = n;
		if (n >= sizeof(nlmsghdr))
			header()->nlmsg_len = uint32_t(n);
	}
};

struct DamageCase {
	const char *name;
	std::function<void(Bytes &)> damage;
	const char *error; // nullptr: must still parse
};

template <typename Parse>
void run_cases(const NetlinkMessage &valid, const std::vector<DamageCase> &cases, Parse parse)
{
	for (const auto &c : cases) {
		SCOPED_TRACE(c.name);
		Bytes b(valid);
		c.damage(b);
		if (!c.error) {
			EXPECT_NO_THROW(parse(b.span()));
			continue;
		}
		try {
			parse(b.span());
			ADD_FAILURE() << "parsed, expected an error containing '" << c.error << "'";
		} catch (const NetlinkParseError &e) {
			EXPECT_NE(std::string(e.what()).find(c.error), std::string::npos)
				<< "error was: " << e.what();
		}
	}
}

// Damage that applies to every message type.
std::vector<DamageCase> framing_cases(size_t header_size)
{
	return {
		{"valid", [](Bytes &) {}, nullptr},
		{"shorter than nlmsghdr", [](Bytes &b) { b.size = 10; }, "shorter than its header"},
		{"nlmsg_len beyond the buffer",
		 [](Bytes &b) { b.header()->nlmsg_len = uint32_t(b.size + 4); }, "does not fit"},
		{"nlmsg_len below nlmsghdr", [](Bytes &b) { b.header()->nlmsg_len = 8; },
		 "does not fit"},
		{"fixed header cut", [header_size](Bytes &b) { b.truncate(NLMSG_HDRLEN + header_size - 4); },
		 "truncated"},
		{"attribute length past the end",
		 [header_size](Bytes &b) {
			 auto *a = reinterpret_cast<nlattr *>(b.data() + NLMSG_HDRLEN +
							      NLMSG_ALIGN(header_size));
			 a->nla_len = uint16_t(b.size);
		 },
		 "claims"},
		{"attribute length below its header",
		 [header_size](Bytes &b) {
			 auto *a = reinterpret_cast<nlattr *>(b.data() + NLMSG_HDRLEN +
							      NLMSG_ALIGN(header_size));
			 a->nla_len = 2;
		 },
		 "claims"},
		{"stray bytes after the last attribute",
		 [](Bytes &b) {
			 std::memset(b.data() + b.size, 0, 2);
			 b.truncate(b.size + 2);
		 },
		 "stray bytes"},
		{"message cut inside the last attribute", [](Bytes &b) { b.truncate(b.size - 2); },
		 "claims"},
		{"unknown attribute is skipped",
		 [](Bytes &b) {
			 auto *a = reinterpret_cast<nlattr *>(b.data() + b.size);
			 a->nla_len = 8;
			 a->nla_type = 0x3ff0;
			 b.truncate(b.size + 8);
		 },
		 nullptr},
	};
}

NetlinkMessage address_message(uint16_t type = RTM_NEWADDR)
{
	NetlinkMessage m(type, 0);
	auto &ifa = m.put_header<ifaddrmsg>();
	ifa.ifa_family = AF_INET6;
	ifa.ifa_prefixlen = 64;
	ifa.ifa_flags = IFA_F_TENTATIVE;
	ifa.ifa_index = 7;
	m.put_address(IFA_ADDRESS, ip("2001:db8::1"));
	m.put_u32(IFA_FLAGS, IFA_F_TENTATIVE | IFA_F_NOPREFIXROUTE);
	ifa_cacheinfo ci{};
	ci.ifa_prefered = 1800;
	ci.ifa_valid = 3600;
	m.put(IFA_CACHEINFO, &ci, sizeof(ci));
	return m;
}

NetlinkMessage route_message(uint16_t type = RTM_NEWROUTE)
{
	NetlinkMessage m(type, 0);
	auto &rtm = m.put_header<rtmsg>();
	rtm.rtm_family = AF_INET6;
	rtm.rtm_dst_len = 48;
	rtm.rtm_table = RT_TABLE_MAIN;
	rtm.rtm_protocol = RTPROT_DHCP;
	rtm.rtm_type = RTN_UNICAST;
	m.put_address(RTA_DST, ip("2001:db8:1::"));
	m.put_address(RTA_GATEWAY, ip("fe80::1"));
	m.put_u32(RTA_OIF, 3);
	m.put_u32(RTA_PRIORITY, 1024);
	m.put_u32(RTA_TABLE, 1000);
	return m;
}

NetlinkMessage link_message(uint16_t type = RTM_NEWLINK, uint8_t family = AF_UNSPEC)
{
	NetlinkMessage m(type, 0);
	auto &ifi = m.put_header<ifinfomsg>();
	ifi.ifi_family = family;
	ifi.ifi_index = 5;
	ifi.ifi_flags = IFF_UP | IFF_BROADCAST;
	m.put_string(IFLA_IFNAME, "veth0");
	m.put_u32(IFLA_MTU, 1500);
	const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x42};
	m.put(IFLA_ADDRESS, mac, sizeof(mac));
	m.put_u8(IFLA_OPERSTATE, 6 /* IF_OPER_UP */);
	nlattr *info = m.begin_nested(IFLA_LINKINFO);
	m.put_string(IFLA_INFO_KIND, "veth");
	m.end_nested(info);
	return m;
}

NetlinkMessage label_message()
{
	NetlinkMessage m(RTM_NEWADDRLABEL, 0);
	auto &ifal = m.put_header<ifaddrlblmsg>();
	ifal.ifal_family = AF_INET6;
	ifal.ifal_prefixlen = 48;
	ifal.ifal_index = 2;
	m.put_address(IFAL_ADDRESS, ip("2001:db8:7::"));
	m.put_u32(IFAL_LABEL, 99);
	return m;
}

} // namespace

TEST(RtnetlinkParse, AddressValid)
{
	Bytes b(address_message());
	auto a = parse_address_message(b.span());
	EXPECT_EQ(a.ifindex, 7u);
	EXPECT_EQ(a.str(), "2001:db8::1/64");
	EXPECT_TRUE(a.tentative());
	EXPECT_FALSE(a.dad_failed());
	EXPECT_TRUE(a.flags & IFA_F_NOPREFIXROUTE); // from IFA_FLAGS, beyond 8 bits
	EXPECT_EQ(a.valid_lifetime, 3600u);
	EXPECT_EQ(a.preferred_lifetime, 1800u);
}

TEST(RtnetlinkParse, AddressLocalWinsOverPeer)
{
	NetlinkMessage m(RTM_NEWADDR, 0);
	auto &ifa = m.put_header<ifaddrmsg>();
	ifa.ifa_family = AF_INET6;
	ifa.ifa_prefixlen = 128;
	ifa.ifa_index = 1;
	m.put_address(IFA_ADDRESS, ip("2001:db8::99")); // the peer
	m.put_address(IFA_LOCAL, ip("2001:db8::1"));
	Bytes b(m);
	EXPECT_EQ(parse_address_message(b.span()).address, ip("2001:db8::1"));
}

TEST(RtnetlinkParse, AddressDamaged)
{
	auto cases = framing_cases(sizeof(ifaddrmsg));
	const size_t h = sizeof(ifaddrmsg);
	cases.push_back({"IFA_ADDRESS of 4 bytes",
			 [h](Bytes &b) {
				 // Shrink IFA_ADDRESS to an IPv4-sized payload; the
				 // bytes after it are re-framed as a skipped attribute.
				 auto *a = b.attribute(h, IFA_ADDRESS);
				 a->nla_len = 8;
				 auto *filler = reinterpret_cast<nlattr *>(
					 reinterpret_cast<uint8_t *>(a) + 8);
				 filler->nla_len = 12;
				 filler->nla_type = 0x3ff0;
			 },
			 "IFA_ADDRESS has 4 bytes"});
	cases.push_back({"IFA_FLAGS of 8 bytes",
			 [h](Bytes &b) {
				 // IFA_FLAGS swallows IFA_CACHEINFO's header; what is
				 // left of IFA_CACHEINFO becomes a skipped attribute.
				 auto *flags = b.attribute(h, IFA_FLAGS);
				 auto *ci = b.attribute(h, IFA_CACHEINFO);
				 flags->nla_len = 12;
				 auto *rest = reinterpret_cast<nlattr *>(reinterpret_cast<uint8_t *>(ci) + 4);
				 rest->nla_len = 16;
				 rest->nla_type = 0x3ff0;
			 },
			 "IFA_FLAGS has 8 bytes"});
	cases.push_back({"IFA_CACHEINFO too short",
			 [h](Bytes &b) {
				 b.attribute(h, IFA_CACHEINFO)->nla_len = 4 + 8;
				 b.truncate(b.size - 8);
			 },
			 "IFA_CACHEINFO has 8 bytes"});
	cases.push_back({"IPv4 family",
			 [](Bytes &b) {
				 reinterpret_cast<ifaddrmsg *>(b.data() + NLMSG_HDRLEN)->ifa_family = AF_INET;
			 },
			 "not IPv6"});
	cases.push_back({"prefix length 129",
			 [](Bytes &b) {
				 reinterpret_cast<ifaddrmsg *>(b.data() + NLMSG_HDRLEN)->ifa_prefixlen = 129;
			 },
			 "exceeds 128"});
	cases.push_back({"no address",
			 [h](Bytes &b) { b.attribute(h, IFA_ADDRESS)->nla_type = 0x3ff0; },
			 "no IFA_ADDRESS"});
	cases.push_back({"not an address message",
			 [](Bytes &b) { b.header()->nlmsg_type = RTM_NEWROUTE; },
			 "is not an address message"});
	run_cases(address_message(), cases,
		  [](std::span<const uint8_t> s) { parse_address_message(s); });
}

TEST(RtnetlinkParse, RouteValid)
{
	Bytes b(route_message());
	auto r = parse_route_message(b.span());
	EXPECT_EQ(r.destination.str(), "2001:db8:1::/48");
	EXPECT_EQ(r.type, RouteType::unicast);
	ASSERT_TRUE(r.gateway);
	EXPECT_EQ(*r.gateway, ip("fe80::1"));
	EXPECT_EQ(r.ifindex, 3u);
	EXPECT_EQ(r.metric, 1024u);
	EXPECT_EQ(r.protocol, RTPROT_DHCP);
	EXPECT_EQ(r.table, 1000u); // RTA_TABLE beats the 8-bit rtm_table
}

TEST(RtnetlinkParse, RouteDefaultAndUnreachableAndHostBits)
{
	NetlinkMessage m(RTM_NEWROUTE, 0);
	auto &rtm = m.put_header<rtmsg>();
	rtm.rtm_family = AF_INET6;
	rtm.rtm_table = RT_TABLE_MAIN;
	rtm.rtm_type = RTN_UNREACHABLE;
	Bytes b(m);
	auto r = parse_route_message(b.span());
	EXPECT_EQ(r.destination.str(), "::/0");
	EXPECT_EQ(r.type, RouteType::unreachable);
	EXPECT_EQ(r.table, unsigned(RT_TABLE_MAIN));
	EXPECT_EQ(r.str(), "unreachable ::/0 proto 0 table 254");

	NetlinkMessage m2(RTM_NEWROUTE, 0);
	auto &rtm2 = m2.put_header<rtmsg>();
	rtm2.rtm_family = AF_INET6;
	rtm2.rtm_dst_len = 32;
	m2.put_address(RTA_DST, ip("2001:db8:ffff::"));
	Bytes b2(m2);
	EXPECT_EQ(parse_route_message(b2.span()).destination.str(), "2001:db8::/32");
}

TEST(RtnetlinkParse, RouteDamaged)
{
	auto cases = framing_cases(sizeof(rtmsg));
	const size_t h = sizeof(rtmsg);
	cases.push_back({"no RTA_DST for a /48",
			 [h](Bytes &b) { b.attribute(h, RTA_DST)->nla_type = 0x3ff0; },
			 "but no RTA_DST"});
	cases.push_back({"RTA_OIF of 8 bytes",
			 [h](Bytes &b) {
				 // RTA_OIF swallows RTA_PRIORITY's header; its value
				 // becomes an empty skipped attribute.
				 auto *oif = b.attribute(h, RTA_OIF);
				 auto *priority = b.attribute(h, RTA_PRIORITY);
				 oif->nla_len = 12;
				 auto *rest = reinterpret_cast<nlattr *>(
					 reinterpret_cast<uint8_t *>(priority) + 4);
				 rest->nla_len = 4;
				 rest->nla_type = 0x3ff0;
			 },
			 "RTA_OIF has 8 bytes"});
	cases.push_back({"RTA_GATEWAY of 20 bytes",
			 [h](Bytes &b) {
				 auto *gw = b.attribute(h, RTA_GATEWAY);
				 gw->nla_len = 4 + 16 + 8; // swallows RTA_OIF whole
			 },
			 "RTA_GATEWAY has 24 bytes"});
	cases.push_back({"IPv4 family",
			 [](Bytes &b) {
				 reinterpret_cast<rtmsg *>(b.data() + NLMSG_HDRLEN)->rtm_family = AF_INET;
			 },
			 "not IPv6"});
	cases.push_back({"dst_len 200",
			 [](Bytes &b) {
				 reinterpret_cast<rtmsg *>(b.data() + NLMSG_HDRLEN)->rtm_dst_len = 200;
			 },
			 "exceeds 128"});
	run_cases(route_message(), cases, [](std::span<const uint8_t> s) { parse_route_message(s); });
}

TEST(RtnetlinkParse, LinkValid)
{
	Bytes b(link_message());
	auto l = parse_link_message(b.span());
	EXPECT_EQ(l.index, 5u);
	EXPECT_EQ(l.name, "veth0");
	EXPECT_EQ(l.mtu, 1500u);
	EXPECT_TRUE(l.is_up());
	EXPECT_FALSE(l.has_carrier());
	ASSERT_TRUE(l.mac);
	EXPECT_EQ(l.mac->str(), "02:00:00:00:00:42");
	EXPECT_EQ(l.operstate, 6);
	EXPECT_EQ(l.kind, "veth");
}

TEST(RtnetlinkParse, LinkDamaged)
{
	auto cases = framing_cases(sizeof(ifinfomsg));
	const size_t h = sizeof(ifinfomsg);
	cases.push_back({"name without its NUL",
			 [h](Bytes &b) {
				 auto *a = b.attribute(h, IFLA_IFNAME);
				 std::memcpy(reinterpret_cast<uint8_t *>(a) + 4, "veth0abc", 8);
			 },
			 "IFLA_IFNAME"});
	cases.push_back({"no name",
			 [h](Bytes &b) { b.attribute(h, IFLA_IFNAME)->nla_type = 0x3ff0; },
			 "no IFLA_IFNAME"});
	cases.push_back({"MTU of 2 bytes",
			 [h](Bytes &b) {
				 auto *a = b.attribute(h, IFLA_MTU);
				 a->nla_len = 6; // padding keeps the tiling
			 },
			 "IFLA_MTU has 2 bytes"});
	cases.push_back({"nested kind runs past IFLA_LINKINFO",
			 [h](Bytes &b) {
				 auto *info = b.attribute(h, IFLA_LINKINFO);
				 auto *kind = reinterpret_cast<nlattr *>(reinterpret_cast<uint8_t *>(info) + 4);
				 kind->nla_len = uint16_t(info->nla_len); // > what the nest holds
			 },
			 "IFLA_LINKINFO: attribute type 1 claims"});
	cases.push_back({"ifindex 0",
			 [](Bytes &b) {
				 reinterpret_cast<ifinfomsg *>(b.data() + NLMSG_HDRLEN)->ifi_index = 0;
			 },
			 "is not valid"});
	cases.push_back({"a 16-byte link address is not a MAC",
			 [h](Bytes &b) {
				 // Grow IFLA_ADDRESS to 16 bytes, swallowing its padding
				 // and IFLA_OPERSTATE.
				 b.attribute(h, IFLA_ADDRESS)->nla_len = 4 + 16;
			 },
			 nullptr});
	run_cases(link_message(), cases, [](std::span<const uint8_t> s) { parse_link_message(s); });
}

TEST(RtnetlinkParse, AddressLabel)
{
	Bytes valid(label_message());
	auto l = parse_address_label_message(valid.span());
	EXPECT_EQ(l.prefix.str(), "2001:db8:7::/48");
	EXPECT_EQ(l.label, 99u);
	EXPECT_EQ(l.ifindex, 2u);

	auto cases = framing_cases(sizeof(ifaddrlblmsg));
	const size_t h = sizeof(ifaddrlblmsg);
	cases.push_back({"no label", [h](Bytes &b) { b.attribute(h, IFAL_LABEL)->nla_type = 0x3ff0; },
			 "no IFAL_LABEL"});
	cases.push_back({"label of 2 bytes",
			 [h](Bytes &b) { b.attribute(h, IFAL_LABEL)->nla_len = 6; },
			 "IFAL_LABEL has 2 bytes"});
	cases.push_back({"no address",
			 [h](Bytes &b) { b.attribute(h, IFAL_ADDRESS)->nla_type = 0x3ff0; },
			 "no IFAL_ADDRESS"});
	run_cases(label_message(), cases,
		  [](std::span<const uint8_t> s) { parse_address_label_message(s); });
}

TEST(RtnetlinkParse, Events)
{
	{
		Bytes b(address_message(RTM_DELADDR));
		auto e = parse_rtnetlink_event(b.span());
		ASSERT_TRUE(e);
		auto *a = std::get_if<AddressEvent>(&*e);
		ASSERT_TRUE(a);
		EXPECT_TRUE(a->removed);
		EXPECT_EQ(a->address.str(), "2001:db8::1/64");
	}
	{
		Bytes b(link_message(RTM_DELLINK));
		auto e = parse_rtnetlink_event(b.span());
		ASSERT_TRUE(e);
		auto *l = std::get_if<LinkEvent>(&*e);
		ASSERT_TRUE(l);
		EXPECT_TRUE(l->removed);
		EXPECT_EQ(l->link.name, "veth0");
	}
	{
		Bytes b(route_message());
		auto e = parse_rtnetlink_event(b.span());
		ASSERT_TRUE(e);
		auto *r = std::get_if<RouteEvent>(&*e);
		ASSERT_TRUE(r);
		EXPECT_FALSE(r->removed);
	}
	// What umigame does not track: bridge port state, IPv4, cached routes.
	{
		Bytes b(link_message(RTM_NEWLINK, AF_BRIDGE));
		EXPECT_FALSE(parse_rtnetlink_event(b.span()));
	}
	{
		Bytes b(address_message());
		reinterpret_cast<ifaddrmsg *>(b.data() + NLMSG_HDRLEN)->ifa_family = AF_INET;
		EXPECT_FALSE(parse_rtnetlink_event(b.span()));
	}
	{
		Bytes b(route_message());
		reinterpret_cast<rtmsg *>(b.data() + NLMSG_HDRLEN)->rtm_flags = RTM_F_CLONED;
		EXPECT_FALSE(parse_rtnetlink_event(b.span()));
	}
	{
		Bytes b(route_message());
		b.header()->nlmsg_type = RTM_NEWNEIGH;
		EXPECT_FALSE(parse_rtnetlink_event(b.span()));
	}
	// Damage still throws through the event parser.
	{
		Bytes b(address_message());
		b.truncate(NLMSG_HDRLEN + 4);
		EXPECT_THROW(parse_rtnetlink_event(b.span()), NetlinkParseError);
	}
}

TEST(NetlinkMessage, RefusesOverflow)
{
	NetlinkMessage m(RTM_NEWADDR, 0);
	m.put_header<ifaddrmsg>();
	std::vector<uint8_t> big(1000);
	EXPECT_THROW(
		{
			for (int i = 0; i < 20; ++i)
				m.put(IFA_ADDRESS, big.data(), big.size());
		},
		std::length_error);
	EXPECT_LE(m.bytes().size(), NetlinkMessage::kCapacity);
}

TEST(NetlinkRequestError, ReadsLikeASentence)
{
	NetlinkRequestError plain("adding address 2001:db8::1/64 on veth0", EEXIST, "");
	EXPECT_STREQ(plain.what(), "adding address 2001:db8::1/64 on veth0: File exists");
	NetlinkRequestError extack("adding route 2001:db8::/48 dev veth0", ENETDOWN,
				   "Nexthop device is not up");
	EXPECT_STREQ(extack.what(),
		     "adding route 2001:db8::/48 dev veth0: Nexthop device is not up (Network is down)");
	NetlinkRequestError perm("adding route ::/0", EPERM, "");
	EXPECT_NE(std::string(perm.what()).find("CAP_NET_ADMIN"), std::string::npos);
}
