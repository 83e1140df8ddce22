// rtnetlink against the running kernel, each test in a network namespace of
// its own (unshare(CLONE_NEWNET), undone in TearDown), so nothing touches the
// host's configuration. Needs root (CAP_SYS_ADMIN + CAP_NET_ADMIN): skipped
// otherwise. Links are veth pairs, made with our own RTM_NEWLINK: the host
// kernel has no dummy links.
#include "umigame/rtnetlink.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace umigame;
using namespace std::chrono_literals;

namespace {

Ipv6Address ip(const char *text)
{
	return *Ipv6Address::parse(text);
}

Ipv6Prefix prefix(const char *text)
{
	return *Ipv6Prefix::parse(text);
}

// RTM_NEWLINK for a veth pair. VETH_INFO_PEER holds an ifinfomsg and then
// the peer's attributes: laid out by hand, NetlinkMessage puts attributes.
void create_veth_pair(NetlinkSocket &nl, const std::string &name, const std::string &peer)
{
	NetlinkMessage m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	m.put_header<ifinfomsg>().ifi_family = AF_UNSPEC;
	m.put_string(IFLA_IFNAME, name);
	nlattr *linkinfo = m.begin_nested(IFLA_LINKINFO);
	m.put_string(IFLA_INFO_KIND, "veth");
	nlattr *data = m.begin_nested(IFLA_INFO_DATA);
	std::vector<uint8_t> peer_payload(sizeof(ifinfomsg) + NLA_ALIGN(NLA_HDRLEN + peer.size() + 1));
	nlattr name_attr{uint16_t(NLA_HDRLEN + peer.size() + 1), IFLA_IFNAME};
	std::memcpy(peer_payload.data() + sizeof(ifinfomsg), &name_attr, sizeof(name_attr));
	std::memcpy(peer_payload.data() + sizeof(ifinfomsg) + NLA_HDRLEN, peer.c_str(), peer.size() + 1);
	m.put(VETH_INFO_PEER, peer_payload.data(), peer_payload.size());
	m.end_nested(data);
	m.end_nested(linkinfo);
	nl.request(m, "creating veth pair " + name + "/" + peer);
}

void set_link_up(NetlinkSocket &nl, uint32_t index, bool up)
{
	NetlinkMessage m(RTM_NEWLINK, 0);
	auto &ifi = m.put_header<ifinfomsg>();
	ifi.ifi_family = AF_UNSPEC;
	ifi.ifi_index = int(index);
	ifi.ifi_flags = up ? IFF_UP : 0;
	ifi.ifi_change = IFF_UP;
	nl.request(m, "setting link " + std::to_string(index) + (up ? " up" : " down"));
}

void delete_link(NetlinkSocket &nl, uint32_t index)
{
	NetlinkMessage m(RTM_DELLINK, 0);
	auto &ifi = m.put_header<ifinfomsg>();
	ifi.ifi_family = AF_UNSPEC;
	ifi.ifi_index = int(index);
	nl.request(m, "deleting link " + std::to_string(index));
}

// Best effort: only makes DAD quicker.
void write_sysctl(const std::string &path, const std::string &value)
{
	std::ofstream(path) << value;
}

class RtnetlinkLive : public ::testing::Test {
protected:
	void SetUp() override
	{
		original_netns_.reset(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
		if (!original_netns_)
			GTEST_SKIP() << "cannot open /proc/self/ns/net: " << std::strerror(errno);
		if (::unshare(CLONE_NEWNET) < 0)
			GTEST_SKIP() << "needs root: unshare(CLONE_NEWNET): " << std::strerror(errno);
		in_own_netns_ = true;
		rtnl_.emplace();
	}

	void TearDown() override
	{
		rtnl_.reset(); // its socket belongs to the namespace we leave
		if (in_own_netns_) {
			ASSERT_EQ(::setns(original_netns_.get(), CLONE_NEWNET), 0) << std::strerror(errno);
		}
	}

	// veth0/veth1, both up; returns their indexes.
	std::pair<uint32_t, uint32_t> make_veth_up()
	{
		create_veth_pair(rtnl().socket(), "veth0", "veth1");
		auto a = rtnl().link("veth0");
		auto b = rtnl().link("veth1");
		EXPECT_TRUE(a && b);
		if (!a || !b)
			throw std::runtime_error("veth pair did not appear");
		set_link_up(rtnl().socket(), a->index, true);
		set_link_up(rtnl().socket(), b->index, true);
		return {a->index, b->index};
	}

	Rtnetlink &rtnl() { return *rtnl_; }

private:
	UniqueFd original_netns_;
	bool in_own_netns_ = false;
	std::optional<Rtnetlink> rtnl_;
};

template <typename T, typename Pred> bool contains(const std::vector<T> &v, Pred pred)
{
	return std::any_of(v.begin(), v.end(), pred);
}

} // namespace

TEST_F(RtnetlinkLive, LinkLookupAndDump)
{
	auto lo = rtnl().link("lo");
	ASSERT_TRUE(lo);
	EXPECT_EQ(lo->index, 1u);
	EXPECT_FALSE(lo->is_up()); // a new namespace's loopback starts down
	EXPECT_FALSE(rtnl().link("nosuch0"));
	EXPECT_FALSE(rtnl().link(uint32_t(4242)));
	EXPECT_THROW(rtnl().link("a-name-much-too-long-for-linux"), std::invalid_argument);

	auto [a, b] = make_veth_up();
	auto veth0 = rtnl().link(a);
	ASSERT_TRUE(veth0);
	EXPECT_EQ(veth0->name, "veth0");
	EXPECT_EQ(veth0->kind, "veth");
	EXPECT_TRUE(veth0->is_up());
	EXPECT_TRUE(veth0->mac);
	EXPECT_EQ(veth0->mtu, 1500u);

	auto links = rtnl().links();
	EXPECT_EQ(links.size(), 3u);
	EXPECT_TRUE(contains(links, [](const Link &l) { return l.name == "lo"; }));
	EXPECT_TRUE(contains(links, [&](const Link &l) { return l.name == "veth1" && l.index == b; }));
}

TEST_F(RtnetlinkLive, AddressAddReplaceDumpDelete)
{
	auto [veth0, veth1] = make_veth_up();
	(void)veth1;
	const auto addr = ip("2001:db8:2::1");
	AddressOptions opts;
	opts.valid_lifetime = 3600;
	opts.preferred_lifetime = 1800;
	opts.no_prefix_route = true;
	opts.no_dad = true;
	rtnl().add_address(veth0, addr, 64, opts);

	auto find = [&]() -> std::optional<InterfaceAddress> {
		for (const auto &a : rtnl().addresses(veth0))
			if (a.address == addr)
				return a;
		return std::nullopt;
	};
	auto found = find();
	ASSERT_TRUE(found);
	EXPECT_EQ(found->prefix_length, 64);
	EXPECT_EQ(found->ifindex, veth0);
	EXPECT_TRUE(found->flags & IFA_F_NOPREFIXROUTE);
	EXPECT_FALSE(found->tentative());
	EXPECT_LE(found->valid_lifetime, 3600u);
	EXPECT_GT(found->valid_lifetime, 3500u);
	EXPECT_LE(found->preferred_lifetime, 1800u);
	EXPECT_GT(found->preferred_lifetime, 1700u);
	// NOPREFIXROUTE: no on-link route for 2001:db8:2::/64.
	EXPECT_FALSE(contains(rtnl().routes(), [](const Route &r) {
		return r.destination == prefix("2001:db8:2::/64");
	}));

	// A second add is refused, in words that name what and where.
	try {
		rtnl().add_address(veth0, addr, 64, opts);
		ADD_FAILURE() << "adding twice succeeded";
	} catch (const NetlinkRequestError &e) {
		EXPECT_EQ(e.error(), EEXIST);
		// Newer kernels add an extended-ACK text before the errno's.
		const std::string what = e.what();
		EXPECT_EQ(what.rfind("adding address 2001:db8:2::1/64 on veth0: ", 0), 0u) << what;
		EXPECT_NE(what.find("File exists"), std::string::npos) << what;
	}

	// A renewal: replace updates the lifetimes.
	opts.valid_lifetime = 7200;
	opts.preferred_lifetime = 7200;
	rtnl().replace_address(veth0, addr, 64, opts);
	found = find();
	ASSERT_TRUE(found);
	EXPECT_GT(found->valid_lifetime, 7000u);
	EXPECT_GT(found->preferred_lifetime, 7000u);

	// The other flag the daemons ask for.
	AddressOptions temp;
	temp.manage_temporary = true;
	temp.no_dad = true;
	rtnl().add_address(veth0, ip("2001:db8:3::1"), 64, temp);
	EXPECT_TRUE(contains(rtnl().addresses(veth0), [](const InterfaceAddress &a) {
		return a.address == ip("2001:db8:3::1") && (a.flags & IFA_F_MANAGETEMPADDR);
	}));
	// The on-link route comes without NOPREFIXROUTE.
	EXPECT_TRUE(contains(rtnl().routes(), [&](const Route &r) {
		return r.destination == prefix("2001:db8:3::/64") && r.ifindex == veth0;
	}));

	rtnl().delete_address(veth0, addr, 64);
	EXPECT_FALSE(find());
	EXPECT_THROW(rtnl().delete_address(veth0, addr, 64), NetlinkRequestError);

	// Lifetimes are checked before the kernel sees them.
	AddressOptions bad;
	bad.valid_lifetime = 10;
	bad.preferred_lifetime = 20;
	EXPECT_THROW(rtnl().add_address(veth0, addr, 64, bad), std::invalid_argument);
}

TEST_F(RtnetlinkLive, RoutesUnicastUnreachableBlackhole)
{
	auto [veth0, veth1] = make_veth_up();
	(void)veth1;
	Route unicast;
	unicast.destination = prefix("2001:db8:5::/48");
	unicast.gateway = ip("fe80::1");
	unicast.ifindex = veth0;
	unicast.metric = 100;
	unicast.protocol = RTPROT_DHCP;
	rtnl().add_route(unicast);

	Route unreachable;
	unreachable.destination = prefix("2001:db8:6::/48");
	unreachable.type = RouteType::unreachable;
	unreachable.protocol = RTPROT_DHCP;
	rtnl().add_route(unreachable);

	Route blackhole;
	blackhole.destination = prefix("2001:db8:7::/48");
	blackhole.type = RouteType::blackhole;
	blackhole.table = 1000; // beyond rtm_table's 8 bits
	rtnl().add_route(blackhole);

	auto main_routes = rtnl().routes();
	EXPECT_TRUE(contains(main_routes, [&](const Route &r) {
		return r.destination == unicast.destination && r.type == RouteType::unicast &&
		       r.gateway == unicast.gateway && r.ifindex == veth0 && r.metric == 100 &&
		       r.protocol == RTPROT_DHCP && r.table == RT_TABLE_MAIN;
	}));
	EXPECT_TRUE(contains(main_routes, [&](const Route &r) {
		return r.destination == unreachable.destination && r.type == RouteType::unreachable &&
		       r.metric == 1024; // the kernel's default
	}));
	EXPECT_FALSE(contains(main_routes, [&](const Route &r) {
		return r.destination == blackhole.destination;
	}));
	EXPECT_TRUE(contains(rtnl().routes(1000), [&](const Route &r) {
		return r.destination == blackhole.destination && r.type == RouteType::blackhole &&
		       r.table == 1000;
	}));
	EXPECT_TRUE(contains(rtnl().routes(std::nullopt), [&](const Route &r) {
		return r.destination == blackhole.destination;
	}));

	// replace: same destination and metric, another gateway.
	unicast.gateway = ip("fe80::2");
	rtnl().replace_route(unicast);
	EXPECT_TRUE(contains(rtnl().routes(), [&](const Route &r) {
		return r.destination == unicast.destination && r.gateway == ip("fe80::2");
	}));
	EXPECT_THROW(rtnl().add_route(unicast), NetlinkRequestError); // EEXIST

	rtnl().delete_route(unicast);
	rtnl().delete_route(unreachable);
	rtnl().delete_route(blackhole);
	main_routes = rtnl().routes();
	EXPECT_FALSE(contains(main_routes, [&](const Route &r) {
		return r.destination == unicast.destination ||
		       r.destination == unreachable.destination;
	}));
	EXPECT_TRUE(rtnl().routes(1000).empty());

	// Refused before the kernel: a unicast route going nowhere.
	Route nowhere;
	nowhere.destination = prefix("2001:db8:8::/48");
	EXPECT_THROW(rtnl().add_route(nowhere), std::invalid_argument);
}

TEST_F(RtnetlinkLive, KernelErrorCarriesExtendedAck)
{
	create_veth_pair(rtnl().socket(), "veth0", "veth1"); // left down
	const uint32_t veth0 = rtnl().link("veth0")->index;
	Route r;
	r.destination = prefix("2001:db8:9::/48");
	r.ifindex = veth0;
	try {
		rtnl().add_route(r);
		ADD_FAILURE() << "a route through a down link was accepted";
	} catch (const NetlinkRequestError &e) {
		EXPECT_EQ(e.error(), ENETDOWN);
		EXPECT_FALSE(e.kernel_message().empty()) << e.what();
		EXPECT_EQ(std::string(e.what()).rfind("adding route 2001:db8:9::/48 dev veth0: ", 0), 0u)
			<< e.what();
	}
}

TEST_F(RtnetlinkLive, AddressLabels)
{
	auto [veth0, veth1] = make_veth_up();
	(void)veth1;
	const AddressLabel any_link{prefix("2001:db8:7::/48"), 99, 0};
	const AddressLabel on_veth0{prefix("2001:db8:8::/48"), 100, veth0};
	rtnl().add_address_label(any_link);
	rtnl().add_address_label(on_veth0);
	auto labels = rtnl().address_labels();
	EXPECT_TRUE(contains(labels, [&](const AddressLabel &l) {
		return l.prefix == any_link.prefix && l.label == 99 && l.ifindex == 0;
	}));
	EXPECT_TRUE(contains(labels, [&](const AddressLabel &l) {
		return l.prefix == on_veth0.prefix && l.label == 100 && l.ifindex == veth0;
	}));
	// The RFC 6724 defaults are there too.
	EXPECT_TRUE(contains(labels, [](const AddressLabel &l) {
		return l.prefix == prefix("::1/128") && l.label == 0;
	}));

	// Adding again replaces the label.
	rtnl().add_address_label(AddressLabel{any_link.prefix, 42, 0});
	EXPECT_TRUE(contains(rtnl().address_labels(), [&](const AddressLabel &l) {
		return l.prefix == any_link.prefix && l.label == 42;
	}));

	rtnl().delete_address_label(any_link);
	rtnl().delete_address_label(on_veth0);
	labels = rtnl().address_labels();
	EXPECT_FALSE(contains(labels, [&](const AddressLabel &l) {
		return l.prefix == any_link.prefix || l.prefix == on_veth0.prefix;
	}));
	EXPECT_THROW(rtnl().delete_address_label(any_link), NetlinkRequestError);
	EXPECT_THROW(rtnl().add_address_label(AddressLabel{any_link.prefix, 0xffffffff, 0}),
		     std::invalid_argument);
}

TEST_F(RtnetlinkLive, NotificationsThroughTheEventLoop)
{
	EventLoop loop;
	std::vector<RtnetlinkEvent> events;
	bool overrun = false;
	// The condition the test is waiting for at the moment.
	std::function<bool()> done = [] { return false; };
	RtnetlinkMonitor monitor(
		loop,
		[&](const RtnetlinkEvent &e) {
			events.push_back(e);
			if (done())
				loop.stop();
		},
		[&] { overrun = true; });
	// Waits for done() with a deadline; false on timeout.
	auto wait_for = [&](std::function<bool()> condition) {
		done = condition;
		if (done())
			return true;
		bool timed_out = false;
		Timer deadline = loop.after(10s, [&] {
			timed_out = true;
			loop.stop();
		});
		loop.run();
		return !timed_out;
	};
	auto seen_address = [&](const Ipv6Address &a, auto pred) {
		return contains(events, [&](const RtnetlinkEvent &e) {
			auto *ae = std::get_if<AddressEvent>(&e);
			return ae && ae->address.address == a && pred(*ae);
		});
	};
	auto seen_link = [&](const std::string &name, auto pred) {
		return contains(events, [&](const RtnetlinkEvent &e) {
			auto *le = std::get_if<LinkEvent>(&e);
			return le && le->link.name == name && pred(*le);
		});
	};

	// Quick DAD: one probe, 100 ms apart, for links made from now on.
	write_sysctl("/proc/sys/net/ipv6/neigh/default/retrans_time_ms", "100");
	write_sysctl("/proc/sys/net/ipv6/conf/default/router_solicitation_delay", "0");

	auto [veth0, veth1] = make_veth_up();
	ASSERT_TRUE(wait_for([&] {
		return seen_link("veth0", [](const LinkEvent &e) { return e.link.is_up(); }) &&
		       seen_link("veth1", [](const LinkEvent &e) { return e.link.has_carrier(); });
	})) << "no link-up notifications";

	// An address with DAD: tentative first, then usable.
	const auto fresh = ip("2001:db8:1::2");
	rtnl().add_address(veth1, fresh, 64);
	ASSERT_TRUE(wait_for([&] {
		return seen_address(fresh, [](const AddressEvent &e) {
			return !e.removed && !e.address.tentative();
		});
	})) << "DAD never completed for " << fresh.str();
	EXPECT_TRUE(seen_address(fresh, [&](const AddressEvent &e) {
		return !e.removed && e.address.tentative() && e.address.ifindex == veth1;
	}));

	// A duplicate: veth0 holds the address (no DAD) and answers veth1's probe.
	const auto taken = ip("2001:db8:1::1");
	AddressOptions nodad;
	nodad.no_dad = true;
	rtnl().add_address(veth0, taken, 64, nodad);
	rtnl().add_address(veth1, taken, 64);
	ASSERT_TRUE(wait_for([&] {
		return seen_address(taken, [&](const AddressEvent &e) {
			return e.address.ifindex == veth1 && e.address.dad_failed();
		});
	})) << "DAD never failed for the duplicate " << taken.str();

	// Routes.
	Route r;
	r.destination = prefix("2001:db8:66::/48");
	r.type = RouteType::unreachable;
	rtnl().add_route(r);
	auto seen_route = [&](bool removed) {
		return contains(events, [&](const RtnetlinkEvent &e) {
			auto *re = std::get_if<RouteEvent>(&e);
			return re && re->removed == removed && re->route.destination == r.destination &&
			       re->route.type == RouteType::unreachable;
		});
	};
	ASSERT_TRUE(wait_for([&] { return seen_route(false); })) << "no route notification";
	rtnl().delete_route(r);
	ASSERT_TRUE(wait_for([&] { return seen_route(true); })) << "no route removal notification";

	// Address removal, link down, link removal.
	rtnl().delete_address(veth1, fresh, 64);
	ASSERT_TRUE(wait_for([&] {
		return seen_address(fresh, [](const AddressEvent &e) { return e.removed; });
	})) << "no address removal notification";
	set_link_up(rtnl().socket(), veth0, false);
	ASSERT_TRUE(wait_for([&] {
		return seen_link("veth0", [](const LinkEvent &e) { return !e.removed && !e.link.is_up(); });
	})) << "no link-down notification";
	delete_link(rtnl().socket(), veth0); // takes veth1 with it
	ASSERT_TRUE(wait_for([&] {
		return seen_link("veth0", [](const LinkEvent &e) { return e.removed; }) &&
		       seen_link("veth1", [](const LinkEvent &e) { return e.removed; });
	})) << "no link removal notifications";
	EXPECT_FALSE(overrun);
}

TEST_F(RtnetlinkLive, MonitorMayBeDestroyedFromItsCallback)
{
	EventLoop loop;
	std::optional<RtnetlinkMonitor> monitor;
	int calls = 0;
	monitor.emplace(loop, [&](const RtnetlinkEvent &) {
		++calls;
		monitor.reset(); // the rest of its batch must not be touched
		loop.stop();
	});
	// Several notifications at once: a veth pair and its addresses.
	create_veth_pair(rtnl().socket(), "veth0", "veth1");
	Timer deadline = loop.after(10s, [&] { loop.stop(); });
	loop.run();
	EXPECT_EQ(calls, 1);
	EXPECT_FALSE(monitor);
}
