// The delegating router's engine, message in, message out: RFC 8415 server
// behaviour for IA_PD and IA_NA, relays, reservations, reconfiguration and
// malformed input. Each test names the RFC section it checks.
#include "umigame/dhcp6d/server_engine.h"

#include <filesystem>
#include <set>
#include <unistd.h>

#include "umigame/dhcp6/auth.h"

#include <gtest/gtest.h>

namespace umigame::dhcp6d {
namespace {

using namespace umigame::dhcp6;

constexpr int64_t kNow = 1'800'000'000;

Ipv6Prefix pfx(const char *s) { return *Ipv6Prefix::parse(s); }
Ipv6Address addr(const char *s) { return *Ipv6Address::parse(s); }
Duid client_duid(uint8_t n) { return Duid::ll(MacAddress{{0x02, 0, 0, 0, 0, n}}); }
const Duid kServerDuid = *Duid::from_hex("00:01:00:01:2c:00:00:01:02:00:00:00:00:01");
const Duid kOtherServer = *Duid::from_hex("00:01:00:01:2c:00:00:01:02:00:00:00:00:99");

PoolConfig prefix_pool(const char *interface, const char *prefix, uint8_t length)
{
	PoolConfig p;
	p.interface = interface;
	p.prefix = pfx(prefix);
	p.delegated_length = length;
	return p;
}

ServerConfig base_config()
{
	ServerConfig c;
	c.interfaces = {"eth0"};
	c.pools.push_back(prefix_pool("eth0", "2001:db8:100::/40", 56));
	PoolConfig relayed = prefix_pool("", "2001:db8:300::/48", 60);
	relayed.relay_link = pfx("2001:db8:200::/64");
	c.pools.push_back(relayed);
	PoolConfig addresses = prefix_pool("eth0", "2001:db8:ffff::/64", 128);
	addresses.kind = LeaseKind::address;
	c.pools.push_back(addresses);
	c.preferred_lifetime = 1800;
	c.valid_lifetime = 3600;
	c.t1 = 900;
	c.t2 = 1440;
	c.dns_servers = {addr("2001:db8::53")};
	c.domain_search = {*DomainName::from_text("example.net")};
	return c;
}

ReceiveContext direct(const char *source = "fe80::1", bool multicast = true)
{
	return {"eth0", 2, addr(source), multicast};
}

class ServerEngineTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		dir_ = std::filesystem::temp_directory_path() /
		       ("umigame-server-" + std::to_string(getpid()) + "-" +
			::testing::UnitTest::GetInstance()->current_test_info()->name());
		std::filesystem::remove_all(dir_);
		std::filesystem::create_directories(dir_);
		open(base_config());
	}
	void TearDown() override { std::filesystem::remove_all(dir_); }

	void open(const ServerConfig &config)
	{
		engine_.reset();
		store_ = std::make_unique<LeaseStore>((dir_ / "leases").string());
		engine_ = std::make_unique<ServerEngine>(config, *store_, kServerDuid, keys_, rand_);
	}

	// Reconfigure Keys 1, 2, 3, ... (all 16 octets that number), so that
	// tests can tell whose key is whose; RAND 0 for exact retransmissions.
	uint8_t next_key_ = 0;
	ReconfigureKeySource keys_ = [this]() -> std::optional<ReconfigureKey> {
		ReconfigureKey k;
		k.fill(++next_key_);
		return k;
	};
	std::function<double()> rand_ = [] { return 0.0; };

	// Through the bytes path, like the daemon: serialize, parse, answer.
	std::optional<Message> exchange(const Message &m, const ReceiveContext &ctx = direct(),
					int64_t now = kNow)
	{
		auto out = engine_->handle_datagram(m.serialize(), ctx, now);
		store_->commit();
		if (!out)
			return std::nullopt;
		return Message::parse(out->payload);
	}

	// Solicit + Request for one IA_PD; the prefix granted.
	std::optional<Ipv6Prefix> obtain(uint8_t client, uint32_t iaid = 1,
					 const ReceiveContext &ctx = direct())
	{
		auto reply = exchange(Message::request(7, client_duid(client), kServerDuid).add(IaPd{.iaid = iaid}),
				      ctx);
		if (!reply)
			return std::nullopt;
		const IaPd *ia = reply->get<IaPd>();
		if (!ia || ia->prefixes().empty() || ia->prefixes()[0]->valid_lifetime == 0)
			return std::nullopt;
		return ia->prefixes()[0]->prefix;
	}

	uint64_t dropped(const std::string &reason) const
	{
		auto it = engine_->counters().dropped.find(reason);
		return it == engine_->counters().dropped.end() ? 0 : it->second;
	}

	std::filesystem::path dir_;
	std::unique_ptr<LeaseStore> store_;
	std::unique_ptr<ServerEngine> engine_;
};

// RFC 8415 §18.3.1: a Solicit is answered with an Advertise offering a
// prefix from the link's pool, with T1/T2, and nothing is bound yet.
TEST_F(ServerEngineTest, SolicitGetsAdvertiseWithoutBinding)
{
	auto adv = exchange(Message::solicit(0x123456, client_duid(1)).add(IaPd{.iaid = 5}));
	ASSERT_TRUE(adv);
	EXPECT_EQ(adv->type, MessageType::Advertise);
	EXPECT_EQ(adv->transaction_id, 0x123456u);
	ASSERT_TRUE(adv->server_id());
	EXPECT_EQ(*adv->server_id(), kServerDuid);
	ASSERT_TRUE(adv->client_id());
	EXPECT_EQ(*adv->client_id(), client_duid(1));
	const IaPd *ia = adv->get<IaPd>();
	ASSERT_TRUE(ia);
	EXPECT_EQ(ia->iaid, 5u);
	EXPECT_EQ(ia->t1, 900u);
	EXPECT_EQ(ia->t2, 1440u);
	ASSERT_EQ(ia->prefixes().size(), 1u);
	EXPECT_TRUE(pfx("2001:db8:100::/40").contains(ia->prefixes()[0]->prefix));
	EXPECT_EQ(ia->prefixes()[0]->prefix.length, 56);
	EXPECT_EQ(ia->prefixes()[0]->preferred_lifetime, 1800u);
	EXPECT_EQ(ia->prefixes()[0]->valid_lifetime, 3600u);
	EXPECT_FALSE(adv->has<RapidCommit>());
	EXPECT_TRUE(store_->leases().empty());
}

// RFC 8415 §18.3.2: the Request gets what the Advertise offered, bound,
// with the route's next hop (the client's link-local source, §18.3.2 +
// RFC 8415 §6.3) remembered.
TEST_F(ServerEngineTest, RequestBindsWhatWasAdvertised)
{
	auto adv = exchange(Message::solicit(1, client_duid(1)).add(IaPd{.iaid = 1}));
	ASSERT_TRUE(adv);
	Ipv6Prefix offered = adv->get<IaPd>()->prefixes()[0]->prefix;
	auto granted = obtain(1);
	ASSERT_TRUE(granted);
	EXPECT_EQ(*granted, offered);
	const Lease *lease = store_->find({client_duid(1).bytes(), 1, LeaseKind::prefix});
	ASSERT_TRUE(lease);
	EXPECT_EQ(lease->prefix, offered);
	EXPECT_EQ(lease->expires, kNow + 3600);
	ASSERT_TRUE(lease->next_hop);
	EXPECT_EQ(*lease->next_hop, addr("fe80::1"));
	EXPECT_EQ(lease->interface, "eth0");
}

// RFC 8415 §18.3.1, §21.14: Rapid Commit when both sides want it.
TEST_F(ServerEngineTest, RapidCommit)
{
	auto reply = exchange(Message::solicit(2, client_duid(1)).add(IaPd{.iaid = 1}).add(RapidCommit{}));
	ASSERT_TRUE(reply);
	EXPECT_EQ(reply->type, MessageType::Reply);
	EXPECT_TRUE(reply->has<RapidCommit>());
	EXPECT_EQ(store_->leases().size(), 1u);

	ServerConfig c = base_config();
	c.rapid_commit = false;
	engine_->reconfigure(c);
	auto adv = exchange(Message::solicit(3, client_duid(2)).add(IaPd{.iaid = 1}).add(RapidCommit{}));
	ASSERT_TRUE(adv);
	EXPECT_EQ(adv->type, MessageType::Advertise);
	EXPECT_FALSE(adv->has<RapidCommit>());
	EXPECT_EQ(store_->leases().size(), 1u);
}

// RFC 8415 §16: what a server MUST discard, each counted by reason.
TEST_F(ServerEngineTest, DiscardsWhatSection16Says)
{
	const Duid c = client_duid(1);
	Message no_client = Message::solicit(1, c);
	no_client.options.remove<ClientId>();
	Message two_clients = Message::solicit(1, c).add(ClientId{client_duid(2)});
	Message advertise = Message::advertise(Message::solicit(1, c), kServerDuid);
	Message info_with_ia = Message::information_request(1, c).add(IaPd{.iaid = 1});
	struct Case {
		const char *what;
		Message message;
		ReceiveContext context;
		const char *reason;
	} cases[] = {
		// §16.2
		{"Solicit with a Server Identifier", Message::solicit(1, c).add(ServerId{kServerDuid}), direct(),
		 "server identifier in Solicit"},
		{"Solicit without Client Identifier", no_client, direct(), "no client identifier"},
		{"two Client Identifiers", two_clients, direct(), "several client identifiers"},
		// §16 intro: Solicit/Confirm/Rebind to a unicast address
		{"unicast Solicit", Message::solicit(1, c).add(IaPd{.iaid = 1}), direct("fe80::1", false),
		 "unicast Solicit"},
		{"unicast Rebind", Message::rebind(1, c), direct("fe80::1", false), "unicast Rebind"},
		{"unicast Confirm",
		 Message::confirm(1, c).add(IaNa{.iaid = 1, .options = {IaAddress{addr("2001:db8:ffff::9"), 0, 0, {}}}}),
		 direct("fe80::1", false), "unicast Confirm"},
		// RFC 8415 §16: an Information-request too, as we never sent
		// Server Unicast (§21.12).
		{"unicast Information-request", Message::information_request(1, c), direct("2001:db8:1::1", false),
		 "unicast Information-request"},
		// §16.4
		{"Request for another server", Message::request(1, c, kOtherServer), direct(),
		 "another server's identifier"},
		// §16.6
		{"Renew for another server", Message::renew(1, c, kOtherServer), direct(),
		 "another server's identifier"},
		// §16.7
		{"Rebind with a Server Identifier", Message::rebind(1, c).add(ServerId{kServerDuid}), direct(),
		 "server identifier in Rebind"},
		// §16.10/§16.11
		{"Release for another server", Message::release(1, c, kOtherServer), direct(),
		 "another server's identifier"},
		// §16.12
		{"Information-request with an IA", info_with_ia, direct(), "IA in Information-request"},
		{"Information-request for another server",
		 Message::information_request(1, c).add(ServerId{kOtherServer}), direct(),
		 "another server's identifier"},
		// Server messages are not for a server.
		{"Advertise", advertise, direct(), "not a client message"},
	};
	for (const Case &k : cases) {
		uint64_t before = dropped(k.reason);
		EXPECT_FALSE(exchange(k.message, k.context)) << k.what;
		EXPECT_EQ(dropped(k.reason), before + 1) << k.what;
	}
	Message request_no_server = Message::request(1, c, kServerDuid);
	request_no_server.options.remove<ServerId>();
	EXPECT_FALSE(exchange(request_no_server));
	EXPECT_EQ(dropped("no server identifier"), 1u);
	EXPECT_TRUE(store_->leases().empty());
}

// RFC 8415 §18.3.2 (and §18.3.4, §18.3.7, §18.3.8): no Server Unicast
// option was sent, so a unicast Request gets UseMulticast and nothing else.
TEST_F(ServerEngineTest, UnicastRequestGetsUseMulticast)
{
	auto reply = exchange(Message::request(4, client_duid(1), kServerDuid).add(IaPd{.iaid = 1}),
			      direct("2001:db8:1::1", false));
	ASSERT_TRUE(reply);
	EXPECT_EQ(reply->type, MessageType::Reply);
	EXPECT_EQ(reply->status(), Status::UseMulticast);
	EXPECT_FALSE(reply->has<IaPd>());
	EXPECT_TRUE(store_->leases().empty());
}

// RFC 8415 §18.3.4: Renew extends the same prefix; an IA without a binding
// gets NoBinding.
TEST_F(ServerEngineTest, RenewExtendsAndNoBinding)
{
	auto granted = obtain(1);
	ASSERT_TRUE(granted);
	Message renew = Message::renew(5, client_duid(1), kServerDuid)
				.add(IaPd{.iaid = 1, .options = {IaPrefix{0, 0, *granted, {}}}});
	auto reply = exchange(renew, direct(), kNow + 1000);
	ASSERT_TRUE(reply);
	const IaPd *ia = reply->get<IaPd>();
	ASSERT_TRUE(ia);
	ASSERT_EQ(ia->prefixes().size(), 1u);
	EXPECT_EQ(ia->prefixes()[0]->prefix, *granted);
	EXPECT_EQ(ia->prefixes()[0]->valid_lifetime, 3600u);
	EXPECT_EQ(store_->find({client_duid(1).bytes(), 1})->expires, kNow + 1000 + 3600);

	auto unknown = exchange(Message::renew(6, client_duid(1), kServerDuid).add(IaPd{.iaid = 99}));
	ASSERT_TRUE(unknown);
	EXPECT_EQ(unknown->get<IaPd>()->status(), Status::NoBinding);
}

// RFC 8415 §18.3.5: a Rebind of a prefix that is not ours gets it back
// with lifetimes 0; one of ours that nobody holds is bound again.
TEST_F(ServerEngineTest, RebindOfForeignPrefixGetsZeroLifetimes)
{
	Ipv6Prefix foreign = pfx("2001:db8:9900::/56");
	auto reply = exchange(Message::rebind(7, client_duid(1))
				      .add(IaPd{.iaid = 1, .options = {IaPrefix{100, 200, foreign, {}}}}));
	ASSERT_TRUE(reply);
	const IaPd *ia = reply->get<IaPd>();
	ASSERT_TRUE(ia);
	ASSERT_EQ(ia->prefixes().size(), 1u);
	EXPECT_EQ(ia->prefixes()[0]->prefix, foreign);
	EXPECT_EQ(ia->prefixes()[0]->preferred_lifetime, 0u);
	EXPECT_EQ(ia->prefixes()[0]->valid_lifetime, 0u);
	EXPECT_TRUE(store_->leases().empty());

	Ipv6Prefix ours = pfx("2001:db8:100:4200::/56");
	auto again = exchange(Message::rebind(8, client_duid(2))
				      .add(IaPd{.iaid = 1, .options = {IaPrefix{100, 200, ours, {}}}}));
	ASSERT_TRUE(again);
	EXPECT_EQ(again->get<IaPd>()->prefixes()[0]->prefix, ours);
	EXPECT_EQ(again->get<IaPd>()->prefixes()[0]->valid_lifetime, 3600u);
	EXPECT_EQ(store_->holder(ours, kNow)->key.duid, client_duid(2).bytes());
}

// RFC 8415 §18.3.7: Release ends the binding and says Success; an IA
// without one gets NoBinding.
TEST_F(ServerEngineTest, Release)
{
	auto granted = obtain(1);
	ASSERT_TRUE(granted);
	auto reply = exchange(Message::release(9, client_duid(1), kServerDuid)
				      .add(IaPd{.iaid = 1, .options = {IaPrefix{0, 0, *granted, {}}}})
				      .add(IaPd{.iaid = 2}));
	ASSERT_TRUE(reply);
	EXPECT_EQ(reply->status(), Status::Success);
	ASSERT_EQ(reply->all<IaPd>().size(), 1u);
	EXPECT_EQ(reply->get<IaPd>()->iaid, 2u);
	EXPECT_EQ(reply->get<IaPd>()->status(), Status::NoBinding);
	EXPECT_EQ(store_->holder(*granted, kNow), nullptr);
}

// RFC 8415 §18.3.9, §21.13: an exhausted pool answers NoPrefixAvail inside
// the IA_PD of the Advertise (see AdvertiseOfNothingCarriesEachIa).
TEST_F(ServerEngineTest, ExhaustedPoolNoPrefixAvail)
{
	ServerConfig c = base_config();
	c.pools[0] = prefix_pool("eth0", "2001:db8:100::/54", 56); // 4 prefixes
	open(c);
	std::set<Ipv6Prefix> seen;
	for (uint8_t i = 1; i <= 4; i++) {
		auto p = obtain(i);
		ASSERT_TRUE(p) << int(i);
		seen.insert(*p);
	}
	EXPECT_EQ(seen.size(), 4u);
	auto adv = exchange(Message::solicit(10, client_duid(5)).add(IaPd{.iaid = 1}));
	ASSERT_TRUE(adv);
	EXPECT_EQ(adv->status(), Status::NoPrefixAvail);
	ASSERT_TRUE(adv->has<IaPd>());
	EXPECT_EQ(adv->get<IaPd>()->status(), Status::NoPrefixAvail);
	auto reply = exchange(Message::request(11, client_duid(5), kServerDuid).add(IaPd{.iaid = 1}));
	ASSERT_TRUE(reply);
	EXPECT_EQ(reply->get<IaPd>()->status(), Status::NoPrefixAvail);
	// A Release in the same second frees a prefix at once: "full" is
	// remembered only while nothing in the journal changes.
	Ipv6Prefix freed = *seen.begin();
	const Lease *holder = store_->holder(freed, kNow);
	ASSERT_TRUE(holder);
	Message release = Message::release(12, Duid::from_bytes(holder->key.duid), kServerDuid)
				  .add(IaPd{.iaid = 1, .options = {IaPrefix{0, 0, freed, {}}}});
	ASSERT_TRUE(exchange(release));
	EXPECT_EQ(obtain(5), freed);
}

// RFC 8415 §18.3.1 (stability) and the journal: a client that released,
// or asks again after a restart, gets the same prefix.
TEST_F(ServerEngineTest, StableRedelegationAcrossReleaseAndRestart)
{
	auto first = obtain(1);
	ASSERT_TRUE(first);
	ASSERT_TRUE(obtain(2));
	exchange(Message::release(12, client_duid(1), kServerDuid)
			 .add(IaPd{.iaid = 1, .options = {IaPrefix{0, 0, *first, {}}}}));
	EXPECT_EQ(obtain(1), first);
	open(base_config()); // a restart: the journal is replayed
	EXPECT_EQ(obtain(1), first);
	const Lease *lease = store_->find({client_duid(1).bytes(), 1});
	ASSERT_TRUE(lease && lease->next_hop);
	EXPECT_EQ(*lease->next_hop, addr("fe80::1"));
}

// RFC 8415 §6.3, §18.3.2 (the server's own policy picks the prefix):
// reservations — the DUID (+IAID) gets its prefix; nobody else ever does.
TEST_F(ServerEngineTest, ReservationsRespected)
{
	ServerConfig c = base_config();
	c.pools[0] = prefix_pool("eth0", "2001:db8:100::/54", 56);
	c.reservations.push_back({client_duid(9), 3, pfx("2001:db8:100:200::/56"), {}});
	open(c);
	std::set<Ipv6Prefix> others;
	for (uint8_t i = 1; i <= 4; i++)
		if (auto p = obtain(i))
			others.insert(*p);
	EXPECT_EQ(others.size(), 3u);
	EXPECT_FALSE(others.count(pfx("2001:db8:100:200::/56")));
	EXPECT_EQ(obtain(9, 3), pfx("2001:db8:100:200::/56"));
	EXPECT_NE(obtain(9, 4), pfx("2001:db8:100:200::/56")); // another IAID: not reserved
}

// RFC 8415 §18.3.4: a reservation configured for a prefix someone else
// holds takes effect at that holder's next Renew (lifetimes 0, another
// prefix); then the reserved client gets it.
TEST_F(ServerEngineTest, NewReservationTakesPrefixAtRenew)
{
	auto held = obtain(1);
	ASSERT_TRUE(held);
	ServerConfig c = base_config();
	c.reservations.push_back({client_duid(9), std::nullopt, *held, {}});
	engine_->reconfigure(c);
	EXPECT_NE(obtain(9), held); // still held by client 1 until it renews
	auto renewed = exchange(Message::renew(33, client_duid(1), kServerDuid)
					.add(IaPd{.iaid = 1, .options = {IaPrefix{0, 0, *held, {}}}}));
	ASSERT_TRUE(renewed);
	bool withdrawn = false, other = false;
	for (const IaPrefix *p : renewed->get<IaPd>()->prefixes()) {
		withdrawn |= p->prefix == *held && p->valid_lifetime == 0;
		other |= p->prefix != *held && p->valid_lifetime > 0;
	}
	EXPECT_TRUE(withdrawn);
	EXPECT_TRUE(other);
	Message again = Message::request(34, client_duid(9), kServerDuid).add(IaPd{.iaid = 1});
	auto reply = exchange(again);
	ASSERT_TRUE(reply);
	EXPECT_EQ(reply->get<IaPd>()->prefixes()[0]->prefix, *held);
}

// RFC 8415 §19.3, §13.1: a doubly relayed Solicit; the innermost relay's
// link-address picks the pool, every level comes back with its addresses
// and Interface-Id, and the route goes via the relay that sent it to us.
TEST_F(ServerEngineTest, NestedRelayForwardGetsRelayReply)
{
	Message request = Message::request(13, client_duid(1), kServerDuid).add(IaPd{.iaid = 1});
	Message inner = Message::relay_forward(request, addr("2001:db8:200::1"), addr("fe80::c1"));
	inner.add(InterfaceId{{'l', 'a', 'n', '0'}});
	Message outer = Message::relay_forward(inner, Ipv6Address{}, addr("fe80::a1"));
	ASSERT_EQ(outer.hop_count, 1);
	outer.add(InterfaceId{{'u', 'p'}});
	ReceiveContext from_relay = {"eth1", 3, addr("2001:db8:ee::2"), false};
	auto out = engine_->handle_datagram(outer.serialize(), from_relay, kNow);
	store_->commit();
	ASSERT_TRUE(out);
	EXPECT_EQ(out->port, kServerPort);
	EXPECT_EQ(out->destination, addr("2001:db8:ee::2"));
	Message reply = Message::parse(out->payload);
	ASSERT_EQ(reply.type, MessageType::RelayRepl);
	EXPECT_EQ(reply.hop_count, 1);
	EXPECT_EQ(reply.peer_address, addr("fe80::a1"));
	ASSERT_TRUE(reply.get<InterfaceId>());
	EXPECT_EQ(reply.get<InterfaceId>()->id, (std::vector<uint8_t>{'u', 'p'}));
	const Message *level2 = reply.relayed();
	ASSERT_TRUE(level2);
	EXPECT_EQ(level2->type, MessageType::RelayRepl);
	EXPECT_EQ(level2->link_address, addr("2001:db8:200::1"));
	EXPECT_EQ(level2->peer_address, addr("fe80::c1"));
	EXPECT_EQ(level2->get<InterfaceId>()->id, (std::vector<uint8_t>{'l', 'a', 'n', '0'}));
	const Message &answer = reply.innermost();
	EXPECT_EQ(answer.type, MessageType::Reply);
	Ipv6Prefix granted = answer.get<IaPd>()->prefixes()[0]->prefix;
	EXPECT_TRUE(pfx("2001:db8:300::/48").contains(granted));
	EXPECT_EQ(granted.length, 60);
	const Lease *lease = store_->find({client_duid(1).bytes(), 1});
	ASSERT_TRUE(lease);
	EXPECT_EQ(*lease->next_hop, addr("2001:db8:ee::2"));
	EXPECT_EQ(lease->interface, "eth1");
}

// RFC 8415 §13.1: a relay whose link-address matches no pool, and a direct
// message on an interface we do not serve.
TEST_F(ServerEngineTest, UnknownLinks)
{
	Message solicit = Message::solicit(14, client_duid(1)).add(IaPd{.iaid = 1});
	auto out = exchange(Message::relay_forward(solicit, addr("2001:db8:aaaa::1"), addr("fe80::c1")),
			    {"eth1", 3, addr("2001:db8:ee::2"), false});
	ASSERT_TRUE(out);
	EXPECT_EQ(out->innermost().status(), Status::NoPrefixAvail);
	EXPECT_FALSE(exchange(solicit, {"eth9", 9, addr("fe80::1"), true}));
	EXPECT_EQ(dropped("interface not served"), 1u);
}

// RFC 8415 §18.3.4: after a reconfiguration moved the pool, the next Renew
// gets the old prefix with lifetimes 0 and a new one from the new pool.
TEST_F(ServerEngineTest, ReconfiguredPoolMovesLeaseAtRenew)
{
	auto old_prefix = obtain(1);
	ASSERT_TRUE(old_prefix);
	ServerConfig c = base_config();
	c.pools[0] = prefix_pool("eth0", "2001:db8:500::/40", 56);
	engine_->reconfigure(c);
	// Reconfiguring drops no lease.
	ASSERT_TRUE(store_->holder(*old_prefix, kNow));
	auto reply = exchange(Message::renew(15, client_duid(1), kServerDuid)
				      .add(IaPd{.iaid = 1, .options = {IaPrefix{0, 0, *old_prefix, {}}}}));
	ASSERT_TRUE(reply);
	const IaPd *ia = reply->get<IaPd>();
	ASSERT_TRUE(ia);
	bool old_zeroed = false, new_granted = false;
	for (const IaPrefix *p : ia->prefixes()) {
		if (p->prefix == *old_prefix)
			old_zeroed = p->valid_lifetime == 0 && p->preferred_lifetime == 0;
		else if (pfx("2001:db8:500::/40").contains(p->prefix))
			new_granted = p->valid_lifetime == 3600;
	}
	EXPECT_TRUE(old_zeroed);
	EXPECT_TRUE(new_granted);
	EXPECT_EQ(store_->holder(*old_prefix, kNow), nullptr);
}

// RFC 8415 §18.3.3: Confirm checks addresses against the link.
TEST_F(ServerEngineTest, Confirm)
{
	auto confirm_of = [](const char *address) {
		return Message::confirm(16, client_duid(1))
			.add(IaNa{.iaid = 1, .options = {IaAddress{*Ipv6Address::parse(address), 0, 0, {}}}});
	};
	auto on = exchange(confirm_of("2001:db8:ffff::1234"));
	ASSERT_TRUE(on);
	EXPECT_EQ(on->status(), Status::Success);
	auto off = exchange(confirm_of("2001:db8:7777::1"));
	ASSERT_TRUE(off);
	EXPECT_EQ(off->status(), Status::NotOnLink);
	// No addresses: the server MUST NOT reply.
	EXPECT_FALSE(exchange(Message::confirm(17, client_duid(1)).add(IaPd{.iaid = 1})));
}

// RFC 8415 §18.3.6, RFC 3646, RFC 7078: configuration the client asked for.
TEST_F(ServerEngineTest, InformationRequestGetsRequestedOptions)
{
	ServerConfig c = base_config();
	AddressSelection policy;
	policy.privacy_preference = true;
	policy.options.add(AddressSelectionPolicy{14, 45, pfx("2001:db8::/32")});
	c.address_selection = policy;
	engine_->reconfigure(c);
	Message info = Message::information_request(18, client_duid(1))
			       .add(OptionRequest{{OPTION_DNS_SERVERS, OPTION_DOMAIN_LIST, OPTION_ADDRSEL}});
	auto reply = exchange(info);
	ASSERT_TRUE(reply);
	ASSERT_TRUE(reply->get<DnsServers>());
	EXPECT_EQ(reply->get<DnsServers>()->servers, std::vector<Ipv6Address>{addr("2001:db8::53")});
	ASSERT_TRUE(reply->get<DomainList>());
	EXPECT_EQ(reply->get<DomainList>()->names[0].str(), "example.net");
	ASSERT_TRUE(reply->get<AddressSelection>());
	EXPECT_EQ(*reply->get<AddressSelection>(), policy);
	// Not asked for, not sent.
	auto bare = exchange(Message::information_request(19, client_duid(1)));
	ASSERT_TRUE(bare);
	EXPECT_FALSE(bare->has<DnsServers>());
}

// RFC 8910 §2.2: the captive portal URI to a client that asks (ORO 103):
// the upstream one our requesting router learned, unless configured; a
// configured "" sends none.
TEST_F(ServerEngineTest, CaptivePortalFromConfigOrUpstream)
{
	auto ask = [&](uint32_t xid) {
		return exchange(Message::information_request(xid, client_duid(1))
					.add(OptionRequest{{OPTION_CAPTIVE_PORTAL}}));
	};
	auto uri = [](const std::optional<Message> &m) {
		return m && m->get<CaptivePortal>() ? m->get<CaptivePortal>()->uri : std::string("(none)");
	};
	EXPECT_EQ(uri(ask(30)), "(none)");
	engine_->set_upstream_captive_portal("https://isp.example/api");
	EXPECT_EQ(uri(ask(31)), "https://isp.example/api");
	ServerConfig c = base_config();
	c.captive_portal = "https://mine.example/api";
	engine_->reconfigure(c);
	EXPECT_EQ(uri(ask(32)), "https://mine.example/api");
	c.captive_portal = "";
	engine_->reconfigure(c);
	EXPECT_EQ(uri(ask(33)), "(none)");
	// Not asked for, not sent.
	c.captive_portal.reset();
	engine_->reconfigure(c);
	EXPECT_EQ(uri(exchange(Message::information_request(34, client_duid(1)))), "(none)");
}

// RFC 8415 §21.4, §18.3.2, §18.3.8: IA_NA and IA_PD with the same IAID are
// two leases; a declined address goes to nobody, the client gets another.
TEST_F(ServerEngineTest, IaNaAlongsideIaPdAndDecline)
{
	auto reply = exchange(Message::request(20, client_duid(1), kServerDuid)
				      .add(IaNa{.iaid = 1})
				      .add(IaPd{.iaid = 1}));
	ASSERT_TRUE(reply);
	ASSERT_TRUE(reply->get<IaNa>());
	ASSERT_EQ(reply->get<IaNa>()->addresses().size(), 1u);
	Ipv6Address address = reply->get<IaNa>()->addresses()[0]->address;
	EXPECT_TRUE(pfx("2001:db8:ffff::/64").contains({address, 128}));
	EXPECT_NE(address, addr("2001:db8:ffff::")); // Subnet-Router anycast
	ASSERT_EQ(reply->get<IaPd>()->prefixes().size(), 1u);
	EXPECT_EQ(store_->leases().size(), 2u);

	auto declined = exchange(Message::decline(21, client_duid(1), kServerDuid)
					 .add(IaNa{.iaid = 1, .options = {IaAddress{address, 0, 0, {}}}}));
	ASSERT_TRUE(declined);
	EXPECT_EQ(declined->status(), Status::Success);
	const Lease *parked = store_->holder({address, 128}, kNow);
	ASSERT_TRUE(parked);
	EXPECT_EQ(parked->key.duid, ServerEngine::declined_owner());
	auto again = exchange(Message::request(22, client_duid(1), kServerDuid).add(IaNa{.iaid = 1}));
	ASSERT_TRUE(again);
	ASSERT_EQ(again->get<IaNa>()->addresses().size(), 1u);
	EXPECT_NE(again->get<IaNa>()->addresses()[0]->address, address);
}

// RFC 8415 §18.3.2: an IA_NA listing an address of another link gets
// NotOnLink; an IA_PD hint from outside the pools is simply not followed.
TEST_F(ServerEngineTest, RequestWithOffLinkAddressGetsNotOnLink)
{
	auto reply = exchange(Message::request(24, client_duid(1), kServerDuid)
				      .add(IaNa{.iaid = 1, .options = {IaAddress{addr("2001:db8:7777::1"), 0, 0, {}}}})
				      .add(IaPd{.iaid = 1, .options = {IaPrefix{0, 0, pfx("2001:db8:9900::/56"), {}}}}));
	ASSERT_TRUE(reply);
	EXPECT_EQ(reply->get<IaNa>()->status(), Status::NotOnLink);
	EXPECT_TRUE(reply->get<IaNa>()->addresses().empty());
	ASSERT_EQ(reply->get<IaPd>()->prefixes().size(), 1u);
	EXPECT_TRUE(pfx("2001:db8:100::/40").contains(reply->get<IaPd>()->prefixes()[0]->prefix));
	EXPECT_EQ(store_->leases().size(), 1u);
}

// RFC 8415 §21.5, §18.3.2: no temporary addresses here; an IA_TA is
// answered with NoAddrsAvail next to what the other IAs got.
TEST_F(ServerEngineTest, IaTaGetsNoAddrsAvail)
{
	Message request = Message::request(35, client_duid(1), kServerDuid).add(IaPd{.iaid = 1});
	request.options.add(RawOption{OPTION_IA_TA, {0, 0, 0, 9}});
	request.options.add(RawOption{OPTION_IA_TA, {0, 0}}); // not even an IAID: ignored
	auto reply = exchange(request);
	ASSERT_TRUE(reply);
	ASSERT_EQ(reply->get<IaPd>()->prefixes().size(), 1u);
	auto tas = reply->options.find_all(OPTION_IA_TA);
	ASSERT_EQ(tas.size(), 1u);
	const RawOption *ta = tas[0]->as<RawOption>();
	ASSERT_TRUE(ta);
	ASSERT_GE(ta->data.size(), 10u);
	EXPECT_EQ(std::vector<uint8_t>(ta->data.begin(), ta->data.begin() + 4), (std::vector<uint8_t>{0, 0, 0, 9}));
	// The Status Code TLV: code 13, then NoAddrsAvail (2).
	EXPECT_EQ(ta->data[5], OPTION_STATUS_CODE);
	EXPECT_EQ(ta->data[9], uint8_t(Status::NoAddrsAvail));

	Message only_ta = Message::solicit(36, client_duid(2));
	only_ta.options.add(RawOption{OPTION_IA_TA, {0, 0, 0, 1}});
	auto adv = exchange(only_ta);
	ASSERT_TRUE(adv);
	EXPECT_EQ(adv->status(), Status::NoAddrsAvail);
}

// RFC 8415 §18.3.2: several IA_PDs in one Request get distinct prefixes; a
// hint naming a free prefix of the pool is honoured (§18.2.1).
TEST_F(ServerEngineTest, SeveralIasAndHints)
{
	Ipv6Prefix wanted = pfx("2001:db8:1ff:ab00::/56");
	auto reply = exchange(Message::request(23, client_duid(1), kServerDuid)
				      .add(IaPd{.iaid = 1})
				      .add(IaPd{.iaid = 2, .options = {IaPrefix{0, 0, wanted, {}}}})
				      .add(IaPd{.iaid = 1})); // the same IA twice: answered once
	ASSERT_TRUE(reply);
	auto ias = reply->all<IaPd>();
	ASSERT_EQ(ias.size(), 2u);
	EXPECT_NE(ias[0]->prefixes()[0]->prefix, ias[1]->prefixes()[0]->prefix);
	EXPECT_EQ(ias[1]->prefixes()[0]->prefix, wanted);
}

// RFC 8415 §18.3.4: a lease nobody renewed ends with its valid lifetime;
// the prefix may then go to someone else, and its old holder, back too
// late, gets NoBinding at Renew and a new prefix at Request.
TEST_F(ServerEngineTest, ExpiredLeaseIsFreeForOthers)
{
	ServerConfig c = base_config();
	c.pools[0] = prefix_pool("eth0", "2001:db8:100::/56", 56); // one prefix
	open(c);
	auto first = obtain(1);
	ASSERT_TRUE(first);
	EXPECT_FALSE(obtain(2)); // exhausted while the lease lives
	const int64_t later = kNow + 3600 + 1;
	auto taken = exchange(Message::request(30, client_duid(2), kServerDuid).add(IaPd{.iaid = 1}), direct(),
			      later);
	ASSERT_TRUE(taken);
	ASSERT_EQ(taken->get<IaPd>()->prefixes().size(), 1u);
	EXPECT_EQ(taken->get<IaPd>()->prefixes()[0]->prefix, *first);
	auto late = exchange(Message::renew(31, client_duid(1), kServerDuid)
				     .add(IaPd{.iaid = 1, .options = {IaPrefix{0, 0, *first, {}}}}),
			     direct(), later + 1);
	ASSERT_TRUE(late);
	EXPECT_EQ(late->get<IaPd>()->status(), Status::NoBinding);
	EXPECT_EQ(store_->holder(*first, later + 1)->key.duid, client_duid(2).bytes());
}

// RFC 8415 §13.1, §18.3.2: a requesting router that shows up on another
// link (or behind a relay) gets a prefix of that link; its old one is given
// up, so the route moves.
TEST_F(ServerEngineTest, LeaseMovesWithTheClient)
{
	auto on_eth0 = obtain(1);
	ASSERT_TRUE(on_eth0);
	Message request = Message::request(32, client_duid(1), kServerDuid).add(IaPd{.iaid = 1});
	auto relayed = exchange(Message::relay_forward(request, addr("2001:db8:200::1"), addr("fe80::c1")),
				{"eth1", 3, addr("2001:db8:ee::2"), false});
	ASSERT_TRUE(relayed);
	Ipv6Prefix moved = relayed->innermost().get<IaPd>()->prefixes()[0]->prefix;
	EXPECT_TRUE(pfx("2001:db8:300::/48").contains(moved));
	EXPECT_EQ(store_->holder(*on_eth0, kNow), nullptr);
	const Lease *lease = store_->find({client_duid(1).bytes(), 1});
	EXPECT_EQ(lease->prefix, moved);
	EXPECT_EQ(*lease->next_hop, addr("2001:db8:ee::2"));
}

// RFC 8415 §8, §9, §21.21 (lengths) and §16 (discard): malformed input is
// dropped and counted, never trusted; the engine still serves the next
// client.
TEST_F(ServerEngineTest, MalformedDatagramsDroppedAndCounted)
{
	const std::vector<std::vector<uint8_t>> bad = {
		{},                                   // empty
		{0x01, 0x00},                         // shorter than the header (§8)
		{0x01, 0, 0, 1, 0x00, 0x01, 0x00, 0x20, 0x00}, // Client Id option longer than the message
		{0x0c, 0x00, 0x20},                   // Relay-Forw shorter than its header (§9)
		{0x03, 0, 0, 1, 0x00, 0x19, 0x00, 0x04, 0, 0, 0}, // IA_PD of 4 octets (§21.21 needs 12)
	};
	for (const auto &bytes : bad)
		EXPECT_FALSE(engine_->handle_datagram(bytes, direct(), kNow));
	EXPECT_EQ(dropped("malformed"), bad.size());
	const auto &why = engine_->counters().malformed;
	EXPECT_EQ(why.at("message header"), 3u); // empty, short, short relay
	EXPECT_EQ(why.at("CLIENTID"), 1u);
	EXPECT_EQ(why.at("IA_PD"), 1u);
	// A Relay-Forward carrying a Relay-Reply is no relay chain (§19).
	Message reply = Message::reply(Message::solicit(1, client_duid(1)), kServerDuid);
	Message wrapped = Message::relay_forward(Message::relay_reply(
							  Message::relay_forward(reply, {}, addr("fe80::1")), reply),
						  addr("2001:db8:200::1"), addr("fe80::2"));
	EXPECT_FALSE(exchange(wrapped, {"eth1", 3, addr("fe80::9"), false}));
	EXPECT_TRUE(obtain(1));
}

// RFC 8415 §18.3.9 (and RFC 3633 §11.2 with its verified erratum 2470): an
// Advertise that offers nothing still carries every IA the client asked
// for, without leases and with NoPrefixAvail / NoAddrsAvail inside it; the
// top-level Status Code stays for RFC 3315 clients (§17.2.2 there), the
// options the client asked for come along, no Preference draws it to an
// empty offer.
TEST_F(ServerEngineTest, AdvertiseOfNothingCarriesEachIa)
{
	ServerConfig c = base_config();
	c.interfaces.push_back("eth1"); // served, but no pool there
	c.preference = 255;
	open(c);
	const ReceiveContext on_eth1 = {"eth1", 3, addr("fe80::1"), true};
	struct Case {
		const char *what;
		Message solicit;
		Status top;
		std::vector<std::pair<LeaseKind, uint32_t>> ias; // what must come back, each empty
	} cases[] = {
		{"IA_PD", Message::solicit(1, client_duid(1)).add(IaPd{.iaid = 7}), Status::NoPrefixAvail,
		 {{LeaseKind::prefix, 7}}},
		{"IA_NA", Message::solicit(2, client_duid(1)).add(IaNa{.iaid = 3}), Status::NoAddrsAvail,
		 {{LeaseKind::address, 3}}},
		{"IA_PD with a hint and IA_NA",
		 Message::solicit(3, client_duid(1))
			 .add(IaNa{.iaid = 3})
			 .add(IaPd{.iaid = 7, .options = {IaPrefix{0, 0, pfx("2001:db8:100:1100::/56"), {}}}})
			 .add(IaPd{.iaid = 8}),
		 Status::NoPrefixAvail,
		 {{LeaseKind::address, 3}, {LeaseKind::prefix, 7}, {LeaseKind::prefix, 8}}},
	};
	for (Case &k : cases) {
		k.solicit.add(OptionRequest{{OPTION_DNS_SERVERS}});
		auto adv = exchange(k.solicit, on_eth1);
		ASSERT_TRUE(adv) << k.what;
		EXPECT_EQ(adv->type, MessageType::Advertise) << k.what;
		EXPECT_EQ(adv->status(), k.top) << k.what;
		EXPECT_EQ(*adv->client_id(), client_duid(1)) << k.what;
		EXPECT_EQ(*adv->server_id(), kServerDuid) << k.what;
		EXPECT_FALSE(adv->has<Preference>()) << k.what;
		EXPECT_TRUE(adv->has<DnsServers>()) << k.what; // erratum 2470: other options SHOULD come too
		EXPECT_EQ(adv->all<IaPd>().size() + adv->all<IaNa>().size(), k.ias.size()) << k.what;
		for (auto [kind, iaid] : k.ias) {
			if (kind == LeaseKind::prefix) {
				auto pds = adv->all<IaPd>();
				auto ia = std::find_if(pds.begin(), pds.end(), [&](const IaPd *p) { return p->iaid == iaid; });
				ASSERT_NE(ia, pds.end()) << k.what << " IA_PD " << iaid;
				EXPECT_TRUE((*ia)->prefixes().empty()) << k.what;
				EXPECT_EQ((*ia)->status(), Status::NoPrefixAvail) << k.what;
				EXPECT_EQ((*ia)->t1, 0u) << k.what;
			} else {
				auto nas = adv->all<IaNa>();
				auto ia = std::find_if(nas.begin(), nas.end(), [&](const IaNa *p) { return p->iaid == iaid; });
				ASSERT_NE(ia, nas.end()) << k.what << " IA_NA " << iaid;
				EXPECT_TRUE((*ia)->addresses().empty()) << k.what;
				EXPECT_EQ((*ia)->status(), Status::NoAddrsAvail) << k.what;
			}
		}
	}
	// An offer of something keeps its Preference and has no top-level status.
	auto adv = exchange(Message::solicit(4, client_duid(1)).add(IaPd{.iaid = 1}));
	ASSERT_TRUE(adv);
	EXPECT_TRUE(adv->has<Preference>());
	EXPECT_FALSE(adv->has<StatusCode>());
	EXPECT_TRUE(store_->leases().empty());
}

// RFC 8415 §16: the unicast rule is about the client's own datagram; an
// Information-request that a relay forwards to our unicast address is the
// client's multicast one and is answered (§18.3.6).
TEST_F(ServerEngineTest, RelayedInformationRequestIsAnswered)
{
	Message info = Message::information_request(9, client_duid(1)).add(OptionRequest{{OPTION_DNS_SERVERS}});
	auto out = exchange(Message::relay_forward(info, addr("2001:db8:200::1"), addr("fe80::c1")),
			    {"eth1", 3, addr("2001:db8:ee::2"), false});
	ASSERT_TRUE(out);
	EXPECT_EQ(out->innermost().type, MessageType::Reply);
	EXPECT_TRUE(out->innermost().has<DnsServers>());
	EXPECT_FALSE(exchange(info, direct("2001:db8:1::1", false)));
	EXPECT_EQ(dropped("unicast Information-request"), 1u);
}

// RFC 8415 §18.3.3: without an address pool, the link's prefixes come from
// the interface's own global addresses (set_link_prefixes, fed from
// rtnetlink by the daemon) or, behind a relay, from the pools' relay_link.
// Unknown prefixes: no reply at all.
TEST_F(ServerEngineTest, ConfirmWithoutAddressPool)
{
	ServerConfig c = base_config();
	c.pools.pop_back(); // no address pool anywhere
	c.interfaces.push_back("eth1");
	open(c);
	auto confirm_of = [](const char *address) {
		return Message::confirm(16, client_duid(1))
			.add(IaNa{.iaid = 1, .options = {IaAddress{*Ipv6Address::parse(address), 0, 0, {}}}});
	};
	// Nothing known about eth0 yet.
	EXPECT_FALSE(exchange(confirm_of("2001:db8:1::1234")));
	EXPECT_EQ(dropped("Confirm on a link of unknown prefixes"), 1u);

	engine_->set_link_prefixes({{"eth0", {pfx("2001:db8:1::/64"), pfx("2001:db8:2::/64")}}});
	struct Case {
		const char *what;
		const char *address;
		ReceiveContext context;
		std::optional<Status> answer; // nullopt: no reply
	} cases[] = {
		{"an address of eth0's first prefix", "2001:db8:1::1234", direct(), Status::Success},
		{"an address of eth0's second prefix", "2001:db8:2::9", direct(), Status::Success},
		{"an address of another link", "2001:db8:7777::1", direct(), Status::NotOnLink},
		{"on eth1, whose prefixes are unknown", "2001:db8:1::1234", {"eth1", 3, addr("fe80::1"), true},
		 std::nullopt},
	};
	for (const Case &k : cases) {
		auto reply = exchange(confirm_of(k.address), k.context);
		ASSERT_EQ(reply.has_value(), k.answer.has_value()) << k.what;
		if (reply) {
			EXPECT_EQ(reply->status(), *k.answer) << k.what;
		}
	}
	// Renumbered: the interface's addresses moved, and so does the answer.
	engine_->set_link_prefixes({{"eth0", {pfx("2001:db8:3::/64")}}});
	EXPECT_EQ(exchange(confirm_of("2001:db8:1::1234"))->status(), Status::NotOnLink);
	EXPECT_EQ(exchange(confirm_of("2001:db8:3::1"))->status(), Status::Success);

	// Behind a relay: the relay_link of the pool serving its link-address.
	const ReceiveContext from_relay = {"eth1", 3, addr("2001:db8:ee::2"), false};
	auto relayed = [&](const char *address, const char *link) {
		return exchange(Message::relay_forward(confirm_of(address), addr(link), addr("fe80::c1")), from_relay);
	};
	auto on = relayed("2001:db8:200::55", "2001:db8:200::1");
	ASSERT_TRUE(on);
	EXPECT_EQ(on->innermost().status(), Status::Success);
	auto off = relayed("2001:db8:1::55", "2001:db8:200::1");
	ASSERT_TRUE(off);
	EXPECT_EQ(off->innermost().status(), Status::NotOnLink);
	EXPECT_FALSE(relayed("2001:db8:aaaa::5", "2001:db8:aaaa::1")); // a link we know nothing of
}

// The relay allow-list ([server] relay_allow): a Relay-Forward is taken
// only from a listed relay address or prefix (its link-address picks the
// pool, RFC 8415 §13.1, so an unlisted sender could claim any link); the
// rest is dropped and counted. Default: any relay; an empty list: none.
// Messages straight from clients are not affected.
TEST_F(ServerEngineTest, RelayAllowList)
{
	Message solicit = Message::solicit(20, client_duid(1)).add(IaPd{.iaid = 1});
	Message relayed = Message::relay_forward(solicit, addr("2001:db8:200::1"), addr("fe80::c1"));
	auto from = [](const char *source) { return ReceiveContext{"eth1", 3, addr(source), false}; };
	struct Case {
		const char *what;
		std::optional<std::vector<Ipv6Prefix>> allow;
		const char *source;
		bool answered;
	} cases[] = {
		{"no list: anyone", std::nullopt, "2001:db8:ef::2", true},
		{"inside an allowed prefix", std::vector{pfx("2001:db8:ee::/64"), pfx("fe80::1/128")}, "2001:db8:ee::2",
		 true},
		{"an allowed address", std::vector{pfx("2001:db8:ee::/64"), pfx("fe80::1/128")}, "fe80::1", true},
		{"outside every entry", std::vector{pfx("2001:db8:ee::/64"), pfx("fe80::1/128")}, "2001:db8:ef::2",
		 false},
		{"another link-local", std::vector{pfx("2001:db8:ee::/64"), pfx("fe80::1/128")}, "fe80::2", false},
		{"an empty list", std::vector<Ipv6Prefix>{}, "2001:db8:ee::2", false},
	};
	for (const Case &k : cases) {
		ServerConfig c = base_config();
		c.relay_allow = k.allow;
		engine_->reconfigure(c);
		const uint64_t before = dropped("relay not allowed");
		auto out = exchange(relayed, from(k.source));
		EXPECT_EQ(out.has_value(), k.answered) << k.what;
		EXPECT_EQ(dropped("relay not allowed"), before + (k.answered ? 0 : 1)) << k.what;
		// The client on our own link is served whatever the list says.
		EXPECT_TRUE(exchange(solicit)) << k.what;
	}
}

// What a Reply gives a client in the way of Reconfigure: the Reconfigure
// Accept option and the key in an Authentication option (protocol 3,
// algorithm 1, RDM 0, type 1), or nothing.
std::optional<ReconfigureKey> key_in(const Message &reply)
{
	const Authentication *auth = reply.get<Authentication>();
	if (!auth || !reply.has<ReconfigureAccept>())
		return std::nullopt;
	auto info = reconfigure_key_info(*auth);
	if (!info || info->type != ReconfigureKeyType::Key)
		return std::nullopt;
	return info->value;
}

// RFC 8415 §20.4.1, §21.20: a client that sends Reconfigure Accept gets a
// key of its own with its leases, the same one in every Reply (a client that
// lost it after a restart learns it again), kept in the journal with each
// lease. Without Reconfigure Accept, or with `reconfigure = false`, no key.
TEST_F(ServerEngineTest, ReconfigureKeyPerClient)
{
	auto request = [](uint8_t client, uint32_t iaid, bool accept) {
		Message m = Message::request(30, client_duid(client), kServerDuid).add(IaPd{.iaid = iaid});
		if (accept)
			m.add(ReconfigureAccept{});
		return m;
	};
	auto first = exchange(request(1, 1, true));
	ASSERT_TRUE(first);
	auto key1 = key_in(*first);
	ASSERT_TRUE(key1);
	EXPECT_EQ(first->get<Authentication>()->protocol, kAuthProtocolReconfigureKey);
	EXPECT_EQ(first->get<Authentication>()->algorithm, kAuthAlgorithmHmacMd5);
	EXPECT_EQ(first->get<Authentication>()->rdm, kAuthRdmMonotonicCounter);
	const Lease *lease = store_->find({client_duid(1).bytes(), 1});
	ASSERT_TRUE(lease && lease->reconfigure_key);
	EXPECT_EQ(*lease->reconfigure_key, *key1);

	// A second IA of the same client: the same key, a later counter.
	auto second = exchange(request(1, 2, true));
	ASSERT_TRUE(second);
	EXPECT_EQ(key_in(*second), key1);
	EXPECT_GT(second->get<Authentication>()->replay_detection, first->get<Authentication>()->replay_detection);
	// Another client: another key.
	auto other = exchange(request(2, 1, true));
	ASSERT_TRUE(other && key_in(*other));
	EXPECT_NE(*key_in(*other), *key1);
	// A Renew: the key again.
	Message renew = Message::renew(31, client_duid(1), kServerDuid)
				.add(IaPd{.iaid = 1, .options = {IaPrefix{0, 0, lease->prefix, {}}}})
				.add(ReconfigureAccept{});
	auto renewed = exchange(renew, direct(), kNow + 10);
	ASSERT_TRUE(renewed);
	EXPECT_EQ(key_in(*renewed), key1);
	// No Reconfigure Accept: no key, and the lease forgets its key.
	auto without = exchange(request(3, 1, false));
	ASSERT_TRUE(without);
	EXPECT_FALSE(without->has<Authentication>());
	EXPECT_FALSE(without->has<ReconfigureAccept>());
	EXPECT_FALSE(store_->find({client_duid(3).bytes(), 1})->reconfigure_key);
	// The journal keeps the key: a restarted server knows it.
	open(base_config());
	ASSERT_TRUE(store_->find({client_duid(1).bytes(), 2})->reconfigure_key);
	EXPECT_EQ(*store_->find({client_duid(1).bytes(), 2})->reconfigure_key, *key1);
	// `reconfigure = false`: Reconfigure Accept is not taken up.
	ServerConfig c = base_config();
	c.reconfigure = false;
	open(c);
	auto off = exchange(request(4, 1, true));
	ASSERT_TRUE(off);
	EXPECT_FALSE(off->has<Authentication>());
	EXPECT_FALSE(off->has<ReconfigureAccept>());
}

// RFC 8415 §20.4.1: the default key source is OpenSSL's CSPRNG: 128 bits,
// a different key for each client.
TEST_F(ServerEngineTest, ReconfigureKeysFromCsprng)
{
	keys_ = {};
	open(base_config());
	std::set<ReconfigureKey> keys;
	for (uint8_t client = 1; client <= 8; client++) {
		auto reply = exchange(Message::request(32, client_duid(client), kServerDuid)
					      .add(IaPd{.iaid = 1})
					      .add(ReconfigureAccept{}));
		ASSERT_TRUE(reply && key_in(*reply));
		keys.insert(*key_in(*reply));
	}
	EXPECT_EQ(keys.size(), 8u);
	EXPECT_FALSE(keys.count(ReconfigureKey{}));
}

// RFC 8415 §18.3.11, §20.4.2, §21.19: a reload that renumbers the pool
// queues a Reconfigure for the client that accepts them: transaction-id 0,
// our Server Identifier, its Client Identifier, Reconfigure Message Renew,
// HMAC-MD5 under its key with a replay counter above the one its key came
// with, to the address it sent from on its port 546. Its Renew ends the
// retransmissions and moves it to the new pool (§18.3.4).
TEST_F(ServerEngineTest, RenumberingReloadSendsReconfigure)
{
	auto reply = exchange(Message::request(40, client_duid(1), kServerDuid)
				      .add(IaPd{.iaid = 1})
				      .add(ReconfigureAccept{}));
	ASSERT_TRUE(reply && key_in(*reply));
	const ReconfigureKey key = *key_in(*reply);
	const uint64_t key_counter = reply->get<Authentication>()->replay_detection;
	const Ipv6Prefix old = reply->get<IaPd>()->prefixes()[0]->prefix;

	// Nothing to do while the pool stays.
	EXPECT_EQ(engine_->schedule_reconfigures(Seconds(kNow + 5)), 0u);
	EXPECT_FALSE(engine_->next_reconfigure());

	ServerConfig c = base_config();
	c.pools[0] = prefix_pool("eth0", "2001:db8:500::/40", 56); // renumbered
	engine_->reconfigure(c);
	ASSERT_EQ(engine_->schedule_reconfigures(Seconds(kNow + 5)), 1u);
	EXPECT_EQ(engine_->schedule_reconfigures(Seconds(kNow + 5)), 0u); // queued once
	auto sent = engine_->due_reconfigures(Seconds(kNow + 5));
	ASSERT_EQ(sent.size(), 1u);
	const Outgoing &out = sent[0];
	EXPECT_EQ(out.destination, addr("fe80::1"));
	EXPECT_EQ(out.port, kClientPort);
	EXPECT_EQ(out.interface, "eth0");
	EXPECT_EQ(out.type, MessageType::Reconfigure);
	Message rc = Message::parse(out.payload);
	EXPECT_EQ(rc.type, MessageType::Reconfigure);
	EXPECT_EQ(rc.transaction_id, 0u);
	EXPECT_EQ(*rc.server_id(), kServerDuid);
	EXPECT_EQ(*rc.client_id(), client_duid(1));
	ASSERT_TRUE(rc.get<ReconfigureMessage>());
	EXPECT_EQ(rc.get<ReconfigureMessage>()->type, MessageType::Renew);
	EXPECT_EQ(verify_reconfigure(out.payload, key), AuthCheck::Valid);
	ReconfigureKey wrong = key;
	wrong[0] ^= 1;
	EXPECT_EQ(verify_reconfigure(out.payload, wrong), AuthCheck::BadDigest);
	const uint64_t counter1 = rc.get<Authentication>()->replay_detection;
	EXPECT_GT(counter1, key_counter);
	EXPECT_EQ(engine_->counters().sent.at("Reconfigure"), 1u);

	// §15: again after REC_TIMEOUT (2 s, RAND 0 here), with a new counter.
	EXPECT_TRUE(engine_->due_reconfigures(Seconds(kNow + 6.9)).empty());
	auto again = engine_->due_reconfigures(Seconds(kNow + 7));
	ASSERT_EQ(again.size(), 1u);
	EXPECT_GT(Message::parse(again[0].payload).get<Authentication>()->replay_detection, counter1);
	EXPECT_EQ(verify_reconfigure(again[0].payload, key), AuthCheck::Valid);

	// The client Renews: no more Reconfigures; the old prefix comes back
	// with lifetimes 0, a new one from the renumbered pool with it.
	Message renew = Message::renew(41, client_duid(1), kServerDuid)
				.add(IaPd{.iaid = 1, .options = {IaPrefix{0, 0, old, {}}}})
				.add(ReconfigureAccept{});
	auto renewed = exchange(renew, direct(), kNow + 8);
	ASSERT_TRUE(renewed);
	EXPECT_FALSE(engine_->next_reconfigure());
	EXPECT_EQ(engine_->counters().reconfigure.at("answered"), 1u);
	bool withdrawn = false, fresh = false;
	for (const IaPrefix *p : renewed->get<IaPd>()->prefixes()) {
		withdrawn |= p->prefix == old && p->valid_lifetime == 0;
		fresh |= pfx("2001:db8:500::/40").contains(p->prefix) && p->valid_lifetime > 0;
	}
	EXPECT_TRUE(withdrawn);
	EXPECT_TRUE(fresh);
	EXPECT_TRUE(engine_->due_reconfigures(Seconds(kNow + 20)).empty());
}

// RFC 8415 §18.3.11, §7.6: REC_TIMEOUT 2 s doubling, REC_MAX_RC 8
// transmissions, then the server gives up on that client.
TEST_F(ServerEngineTest, ReconfigureRetransmitsThenGivesUp)
{
	ASSERT_TRUE(exchange(Message::request(42, client_duid(1), kServerDuid).add(IaPd{.iaid = 1}).add(ReconfigureAccept{})));
	ServerConfig c = base_config();
	c.pools[0] = prefix_pool("eth0", "2001:db8:500::/40", 56);
	engine_->reconfigure(c);
	ASSERT_EQ(engine_->schedule_reconfigures(Seconds(kNow)), 1u);
	std::vector<double> at;
	for (double t = 0; t <= 600; t += 0.5)
		for (const Outgoing &o : engine_->due_reconfigures(Seconds(kNow + t))) {
			(void)o;
			at.push_back(t);
		}
	EXPECT_EQ(at, (std::vector<double>{0, 2, 6, 14, 30, 62, 126, 254}));
	EXPECT_EQ(engine_->counters().reconfigure.at("unanswered"), 1u);
	EXPECT_FALSE(engine_->next_reconfigure());
}

// RFC 8415 §18.3.11: only clients that accept Reconfigure, and only those
// whose lease no longer fits: a pool taken away, a reservation made for
// someone else (§18.3.4). A lease that ends meanwhile needs nothing more.
TEST_F(ServerEngineTest, ReconfigureOnlyWhereTheLeaseNoLongerFits)
{
	ServerConfig c = base_config();
	c.interfaces.push_back("eth1");
	c.pools.push_back(prefix_pool("eth1", "2001:db8:600::/40", 56));
	open(c);
	const ReceiveContext on_eth1 = {"eth1", 3, addr("fe80::2"), true};
	auto bind = [&](uint8_t client, const ReceiveContext &ctx, bool accept) {
		Message m = Message::request(43, client_duid(client), kServerDuid).add(IaPd{.iaid = 1});
		if (accept)
			m.add(ReconfigureAccept{});
		auto reply = exchange(m, ctx);
		return reply ? reply->get<IaPd>()->prefixes()[0]->prefix : Ipv6Prefix{};
	};
	bind(1, direct(), true);              // eth0, accepts: its pool stays
	bind(2, on_eth1, true);               // eth1, accepts: its pool goes
	bind(3, on_eth1, false);              // eth1, does not accept
	const Ipv6Prefix taken = bind(4, direct(), true); // eth0: reserved for client 9 below
	c.pools.pop_back();
	c.reservations.push_back({client_duid(9), std::nullopt, taken, {}});
	engine_->reconfigure(c);
	EXPECT_EQ(engine_->schedule_reconfigures(Seconds(kNow + 1)), 2u);
	std::set<std::string> to;
	for (const Outgoing &o : engine_->due_reconfigures(Seconds(kNow + 1)))
		to.insert(Message::parse(o.payload).client_id()->str() + " via " + o.interface);
	EXPECT_EQ(to, (std::set<std::string>{client_duid(2).str() + " via eth1", client_duid(4).str() + " via eth0"}));
	// Past the leases' valid lifetime: nothing is sent, the attempt ends.
	EXPECT_TRUE(engine_->due_reconfigures(Seconds(kNow + 3700)).empty());
	EXPECT_EQ(engine_->counters().reconfigure.at("lease ended"), 2u);
}

// RFC 8415 §18.3.11, §19.3: a client behind relays is reached through them:
// a Relay-Reply to the relay nearest to us (port 547) with every level's
// hop-count, link- and peer-address and Interface-Id as its Relay-Forward
// had them, the signed Reconfigure innermost. The path survives a restart.
TEST_F(ServerEngineTest, RelayedClientIsReconfiguredThroughItsRelays)
{
	Message request = Message::request(44, client_duid(1), kServerDuid).add(IaPd{.iaid = 1}).add(ReconfigureAccept{});
	Message inner = Message::relay_forward(request, addr("2001:db8:200::1"), addr("fe80::c1"));
	inner.add(InterfaceId{{'l', 'a', 'n', '0'}});
	Message outer = Message::relay_forward(inner, Ipv6Address{}, addr("fe80::a1"));
	outer.add(InterfaceId{{'u', 'p'}});
	auto reply = exchange(outer, {"eth1", 3, addr("2001:db8:ee::2"), false});
	ASSERT_TRUE(reply);
	auto key = key_in(reply->innermost());
	ASSERT_TRUE(key);

	open(base_config()); // a restart: the path comes from the journal
	ServerConfig c = base_config();
	c.pools[1].prefix = pfx("2001:db8:700::/48"); // the relayed link's pool renumbered
	engine_->reconfigure(c);
	ASSERT_EQ(engine_->schedule_reconfigures(Seconds(kNow + 1)), 1u);
	auto sent = engine_->due_reconfigures(Seconds(kNow + 1));
	ASSERT_EQ(sent.size(), 1u);
	EXPECT_EQ(sent[0].destination, addr("2001:db8:ee::2"));
	EXPECT_EQ(sent[0].port, kServerPort);
	EXPECT_EQ(sent[0].interface, "eth1");
	Message relay_reply = Message::parse(sent[0].payload);
	ASSERT_EQ(relay_reply.type, MessageType::RelayRepl);
	EXPECT_EQ(relay_reply.hop_count, 1);
	EXPECT_EQ(relay_reply.peer_address, addr("fe80::a1"));
	EXPECT_EQ(relay_reply.get<InterfaceId>()->id, (std::vector<uint8_t>{'u', 'p'}));
	const Message *level2 = relay_reply.relayed();
	ASSERT_TRUE(level2 && level2->type == MessageType::RelayRepl);
	EXPECT_EQ(level2->link_address, addr("2001:db8:200::1"));
	EXPECT_EQ(level2->peer_address, addr("fe80::c1"));
	EXPECT_EQ(level2->get<InterfaceId>()->id, (std::vector<uint8_t>{'l', 'a', 'n', '0'}));
	const Message *rc = level2->relayed();
	ASSERT_TRUE(rc && rc->type == MessageType::Reconfigure);
	EXPECT_EQ(verify_reconfigure(rc->serialize(), *key), AuthCheck::Valid);
	EXPECT_EQ(*rc->client_id(), client_duid(1));
}

} // namespace
} // namespace umigame::dhcp6d
