// libFuzzer target: the delegating router's request path, bytes -> engine ->
// reply, with a real lease journal (on tmpfs) carried from one input to the
// next, so that bindings made by one input meet the Renew, Release or
// Rebind of another. The first input byte picks the receiving context
// (interface, multicast or unicast, source) and a clock step; the rest is
// the UDP payload.
//
// Beyond "no crash, no sanitizer report": whatever the engine answers must
// parse again, echo the transaction-id, and every prefix it hands out with
// a non-zero lifetime must be held, in the journal, by that client.
//
// Relays are taken only from 2001:db8:ee::/64 (the fe80::1 source is
// refused), eth0's own prefixes are known for Confirm, and every so often
// the pools are renumbered: the Reconfigures the engine then sends (to
// clients that sent Reconfigure Accept) must parse and carry a valid
// HMAC-MD5 under the key their lease holds (RFC 8415 §20.4.2).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <unistd.h>

#include "umigame/dhcp6/auth.h"
#include "umigame/dhcp6d/server_engine.h"

namespace {

using namespace umigame;
using namespace umigame::dhcp6;
using namespace umigame::dhcp6d;

void require(bool ok)
{
	if (!ok)
		std::abort();
}

ServerConfig make_config(bool renumbered = false)
{
	ServerConfig c;
	c.interfaces = {"eth0"};
	PoolConfig direct;
	direct.interface = "eth0";
	direct.prefix = *Ipv6Prefix::parse(renumbered ? "2001:db8:500::/44" : "2001:db8:100::/44");
	direct.delegated_length = 56;
	c.pools.push_back(direct);
	PoolConfig relayed;
	relayed.relay_link = Ipv6Prefix::parse("2001:db8::/32"); // most relay link-addresses fit
	relayed.prefix = *Ipv6Prefix::parse("2001:db8:300::/52");
	relayed.delegated_length = 60;
	c.pools.push_back(relayed);
	PoolConfig addresses;
	addresses.kind = LeaseKind::address;
	addresses.interface = "eth0";
	addresses.prefix = *Ipv6Prefix::parse("2001:db8:ffff::/120");
	addresses.delegated_length = 128;
	c.pools.push_back(addresses);
	c.reservations.push_back({Duid::ll(MacAddress{{0x02, 0, 0x5e, 0x10, 0, 1}}), std::nullopt,
				  *Ipv6Prefix::parse("2001:db8:100:ff00::/56"), {}});
	c.dns_servers = {*Ipv6Address::parse("2001:db8::53")};
	c.domain_search = {*DomainName::from_text("example.net")};
	c.relay_allow = std::vector<Ipv6Prefix>{*Ipv6Prefix::parse("2001:db8:ee::/64")};
	if (renumbered)
		c.reservations.clear(); // its prefix is outside the renumbered pool
	return c;
}

struct World {
	std::string dir;
	std::unique_ptr<LeaseStore> store;
	std::unique_ptr<ServerEngine> engine;
	int64_t now = 1'800'000'000;
	uint64_t runs = 0;
	bool renumbered = false;

	World()
	{
		dir = (std::filesystem::exists("/dev/shm") ? std::string("/dev/shm") : std::string("/tmp")) +
		      "/umigame-server-fuzz-" + std::to_string(getpid());
		std::filesystem::remove_all(dir);
		std::filesystem::create_directories(dir);
		store = std::make_unique<LeaseStore>(dir + "/leases");
		engine = std::make_unique<ServerEngine>(make_config(), *store,
							*Duid::from_hex("00:01:00:01:2c:00:00:01:02:00:00:00:00:01"));
		engine->set_link_prefixes({{"eth0", {*Ipv6Prefix::parse("2001:db8:1::/64")}}});
	}
	~World() { std::filesystem::remove_all(dir); }
};

World &world()
{
	static World w;
	return w;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	World &w = world();
	const uint8_t selector = data[0];
	std::span<const uint8_t> payload(data + 1, size - 1);

	ReceiveContext context;
	context.interface = (selector & 1) ? "eth1" : "eth0"; // eth1: not served directly
	context.ifindex = (selector & 1) ? 3 : 2;
	context.multicast = (selector & 2) == 0;
	context.source = *Ipv6Address::parse((selector & 4) ? "2001:db8:ee::2" : "fe80::1");
	// Time moves on, sometimes past lifetimes (valid 3600 s by default).
	w.now += (selector >> 3) * 97;

	auto out = w.engine->handle_datagram(payload, context, w.now);
	w.store->commit();
	if (++w.runs % 4096 == 0)
		w.store->compact(w.now, 600);
	if (w.runs % 1024 == 0) {
		// A reload that moves eth0's pool: Reconfigure whoever accepts it.
		w.renumbered = !w.renumbered;
		w.engine->reconfigure(make_config(w.renumbered));
		w.engine->schedule_reconfigures(Seconds(double(w.now)));
		for (const Outgoing &rc : w.engine->due_reconfigures(Seconds(double(w.now)))) {
			Message m = Message::parse(rc.payload);
			const Message &inner = m.innermost();
			require(inner.type == MessageType::Reconfigure && inner.transaction_id == 0);
			require(inner.client_id() != nullptr);
			const LeaseKey first{inner.client_id()->bytes(), 0, LeaseKind::prefix};
			auto lease = w.store->all().lower_bound(first);
			while (lease != w.store->all().end() && lease->first.duid == first.duid &&
			       !lease->second.reconfigure_key)
				++lease;
			require(lease != w.store->all().end() && lease->first.duid == first.duid);
			require(verify_reconfigure(inner.serialize(), *lease->second.reconfigure_key) ==
				AuthCheck::Valid);
		}
	}
	if (!out)
		return 0;

	Message reply = Message::parse(out->payload); // throws (and fails) if we sent garbage
	Message request = Message::parse(payload);
	const Message &answer = reply.innermost();
	require(answer.type == MessageType::Advertise || answer.type == MessageType::Reply);
	require(answer.transaction_id == request.innermost().transaction_id);
	require(answer.server_id() && *answer.server_id() == w.engine->duid());
	if (answer.type == MessageType::Reply && answer.client_id()) {
		LeaseKey key{answer.client_id()->bytes(), 0, LeaseKind::prefix};
		for (const IaPd *ia : answer.all<IaPd>())
			for (const IaPrefix *p : ia->prefixes()) {
				if (p->valid_lifetime == 0)
					continue;
				key.iaid = ia->iaid;
				const Lease *holder = w.store->holder(p->prefix, w.now);
				require(holder && holder->key == key);
			}
	}
	return 0;
}
