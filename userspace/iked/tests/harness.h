// Two engines wired back to back on one EventLoop, with a recording kernel
// each. The test decides when (and whether) each datagram arrives, so every
// interleaving of an exchange can be replayed exactly: nothing here sleeps,
// timers run through loop.run_once() against a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "umigame/event_loop.h"
#include "umigame/ike/crypto.h"
#include "umigame/ike/message.h"
#include "umigame/iked/config.h"
#include "umigame/iked/engine.h"
#include "umigame/net.h"

namespace umigame::iked::test {

using ike::Bytes;
using namespace std::chrono_literals;

inline Bytes bytes_of(const ike::Secret &s)
{
	return Bytes(s.span().begin(), s.span().end());
}

inline IpAddress addr(const char *text)
{
	auto a = IpAddress::parse(text);
	if (!a)
		throw std::invalid_argument(text);
	return *a;
}

inline IpPrefix prefix(const char *text)
{
	auto p = IpPrefix::parse(text);
	if (!p)
		throw std::invalid_argument(text);
	return *p;
}

struct Datagram {
	Endpoint from, to;
	Bytes bytes;
};

// Everything an engine sent, in order, until the test delivers it.
class FakeEnvironment : public Environment {
public:
	explicit FakeEnvironment(IpAddress self) : self_(self) {}
	void send(const Endpoint &local, const Endpoint &remote, std::span<const uint8_t> message) override
	{
		outbox.push_back({local, remote, Bytes(message.begin(), message.end())});
		sent_total++;
	}
	std::optional<IpAddress> source_for(const IpAddress &) override { return self_; }
	void keepalive(const Endpoint &, const Endpoint &) override { keepalives++; }

	std::deque<Datagram> outbox;
	size_t sent_total = 0, keepalives = 0;

private:
	IpAddress self_;
};

// What an XFRM would hold: SAs by SPI (inbound by our SPI, outbound by
// the peer's), policies by reqid. Deleting what is not there throws, as
// the kernel's ESRCH would.
class FakeKernel : public Kernel {
public:
	struct Sa {
		uint32_t spi = 0, reqid = 0;
		std::string child;
		bool transport = false, encap = false;
		AlgorithmSet algorithms;
		Bytes encr, integ;
		std::vector<ike::TrafficSelector> local_ts, remote_ts;
		Endpoint local, remote;
	};
	struct Policy {
		std::vector<ike::TrafficSelector> local_ts, remote_ts;
		bool transport = false;
	};

	explicit FakeKernel(uint32_t spi_base) : next_spi_(spi_base) {}

	uint32_t allocate_spi(const Endpoint &, const Endpoint &, uint32_t) override
	{
		if (fail_allocate)
			throw std::runtime_error("fake kernel: allocation refused");
		uint32_t spi = next_spi_++;
		allocated.insert(spi);
		return spi;
	}
	void add_inbound(const ChildSaSpec &s) override
	{
		inbound[s.spi_in] = record(s, s.spi_in, s.encr_in, s.integ_in);
		inbound_added++;
	}
	void add_outbound(const ChildSaSpec &s) override
	{
		outbound[s.spi_out] = record(s, s.spi_out, s.encr_out, s.integ_out);
		outbound_added++;
	}
	void add_policies(const ChildSaSpec &s) override
	{
		policies[s.reqid] = {s.local_ts, s.remote_ts, s.transport};
	}
	void remove_policies(const ChildSaSpec &s) override
	{
		if (!policies.erase(s.reqid))
			throw std::runtime_error("fake kernel: no policy for reqid " + std::to_string(s.reqid));
	}
	void del_inbound(const ChildSaSpec &s) override
	{
		if (!inbound.erase(s.spi_in))
			throw std::runtime_error("fake kernel: no inbound SA " + std::to_string(s.spi_in));
	}
	void del_outbound(const ChildSaSpec &s) override
	{
		if (!outbound.erase(s.spi_out))
			throw std::runtime_error("fake kernel: no outbound SA " + std::to_string(s.spi_out));
	}
	void add_trap(const ConnectionConfig &, const ChildConfig &, uint32_t reqid) override { traps.insert(reqid); }
	void remove_trap(const ConnectionConfig &, const ChildConfig &, uint32_t reqid) override
	{
		traps.erase(reqid);
	}

	std::map<uint32_t, Sa> inbound, outbound;
	std::map<uint32_t, Policy> policies;
	std::set<uint32_t> allocated, traps;
	size_t inbound_added = 0, outbound_added = 0;
	bool fail_allocate = false;

private:
	static Sa record(const ChildSaSpec &s, uint32_t spi, const ike::Secret &encr, const ike::Secret &integ)
	{
		return {spi,	       s.reqid,	     s.child,	  s.transport, s.encap, s.algorithms,
			bytes_of(encr), bytes_of(integ), s.local_ts, s.remote_ts, s.local,	s.remote};
	}
	uint32_t next_spi_;
};

struct Side {
	Side(EventLoop &loop, const char *side_name, const char *side_address, uint32_t spi_base)
		: name(side_name), address(addr(side_address)), env(address), kernel(spi_base),
		  engine(std::make_unique<Engine>(loop, env, kernel))
	{
	}
	std::string name;
	IpAddress address;
	FakeEnvironment env;
	FakeKernel kernel;
	std::unique_ptr<Engine> engine;
	DaemonConfig config;

	void configure(const std::string &toml)
	{
		config = parse_daemon_config(toml, name + ".toml");
		engine->configure(config);
	}
	const Counters &counters() const { return engine->counters(); }
	// The one IKE SA of a connection (fails the test otherwise).
	const IkeSa *sa(const std::string &conn = "site") const
	{
		auto sas = engine->ike_sas(conn);
		EXPECT_EQ(sas.size(), 1u) << name << " has " << sas.size() << " IKE SAs of " << conn;
		return sas.size() == 1 ? sas.front() : nullptr;
	}
	bool established(const std::string &conn = "site") const
	{
		auto sas = engine->ike_sas(conn);
		return sas.size() == 1 && sas.front()->state() == IkeSa::State::established;
	}
	size_t child_count(const std::string &conn = "site") const
	{
		size_t n = 0;
		for (const IkeSa *s : engine->ike_sas(conn))
			n += s->children().size();
		return n;
	}
};

// The knobs a test turns in the generated configuration.
struct ConnOptions {
	std::string local = "192.0.2.1", remote = "192.0.2.2";
	std::string local_id = "fqdn:left.example", remote_id = "fqdn:right.example";
	std::string psk = "a long and random shared secret";
	std::string ike_proposals = "\"aes128gcm16-prfsha256-ecp256\"";
	std::string esp_proposals = "\"aes128gcm16-esn\"";
	std::string local_ts = "\"10.1.0.0/16\"", remote_ts = "\"10.2.0.0/16\"";
	std::string mode = "tunnel";
	std::string extra_conn, extra_child, daemon;
	int dpd_delay = 0;
	int retransmit_tries = 3;
	int retransmit_timeout_ms = 100;
	bool with_child = true;

	ConnOptions mirrored() const
	{
		ConnOptions o = *this;
		std::swap(o.local, o.remote);
		std::swap(o.local_id, o.remote_id);
		std::swap(o.local_ts, o.remote_ts);
		return o;
	}
	std::string toml() const
	{
		std::string t;
		if (!daemon.empty())
			t += "[daemon]\n" + daemon + "\n";
		t += "[[connection]]\n"
		     "name = \"site\"\n"
		     "local_addr = \"" + local + "\"\n"
		     "remote_addr = \"" + remote + "\"\n"
		     "local_id = \"" + local_id + "\"\n"
		     "remote_id = \"" + remote_id + "\"\n"
		     "auth = \"psk\"\n"
		     "psk = \"" + psk + "\"\n"
		     "ike_proposals = [" + ike_proposals + "]\n"
		     "rekey_time = 0\n"
		     "dpd_delay = " + std::to_string(dpd_delay) + "\n"
		     "retransmit_timeout_ms = " + std::to_string(retransmit_timeout_ms) + "\n"
		     "retransmit_tries = " + std::to_string(retransmit_tries) + "\n" +
		     extra_conn + "\n";
		if (with_child)
			t += "[[connection.child]]\n"
			     "name = \"net\"\n"
			     "mode = \"" + mode + "\"\n"
			     "local_ts = [" + local_ts + "]\n"
			     "remote_ts = [" + remote_ts + "]\n"
			     "esp_proposals = [" + esp_proposals + "]\n"
			     "rekey_time = 0\n" +
			     extra_child + "\n";
		return t;
	}
};

// Left (192.0.2.1) and right (192.0.2.2) on one loop. Datagrams wait in the
// sender's outbox until the test delivers, drops, duplicates, reorders or
// corrupts them; a datagram for an address that is neither side goes to
// `elsewhere` (a third peer the test plays by hand).
class Pair {
public:
	Pair(const char *left_addr = "192.0.2.1", const char *right_addr = "192.0.2.2")
		: left(loop, "left", left_addr, 0xa0000001), right(loop, "right", right_addr, 0xb0000001)
	{
	}

	EventLoop loop;
	Side left, right;
	std::vector<Datagram> elsewhere;
	// Datagrams from a side that is "unplugged" vanish as they are sent.
	bool left_unplugged = false, right_unplugged = false;

	Side &other(Side &s) { return &s == &left ? right : left; }
	std::deque<Datagram> &outbox(Side &s) { return s.env.outbox; }

	// Delivers the oldest datagram `from` sent. False when there is none.
	bool deliver_one(Side &from)
	{
		auto &box = from.env.outbox;
		if (box.empty())
			return false;
		Datagram d = std::move(box.front());
		box.pop_front();
		route(from, d);
		return true;
	}
	// Delivers the i-th oldest datagram `from` sent, out of order.
	bool deliver_nth(Side &from, size_t i)
	{
		auto &box = from.env.outbox;
		if (i >= box.size())
			return false;
		Datagram d = std::move(box[i]);
		box.erase(box.begin() + static_cast<std::ptrdiff_t>(i));
		route(from, d);
		return true;
	}
	// Drops the oldest datagram `from` sent.
	bool drop_one(Side &from)
	{
		if (from.env.outbox.empty())
			return false;
		from.env.outbox.pop_front();
		return true;
	}
	void duplicate_one(Side &from)
	{
		ASSERT_FALSE(from.env.outbox.empty());
		from.env.outbox.push_front(from.env.outbox.front());
	}
	// Swaps the two oldest datagrams of `from`.
	void reorder(Side &from)
	{
		ASSERT_GE(from.env.outbox.size(), 2u);
		std::swap(from.env.outbox[0], from.env.outbox[1]);
	}
	void corrupt_one(Side &from, size_t offset)
	{
		ASSERT_FALSE(from.env.outbox.empty());
		auto &b = from.env.outbox.front().bytes;
		ASSERT_LT(offset, b.size());
		b[offset] ^= 0x01;
	}
	// Delivers in both directions until nothing is in flight, letting due
	// timers (the engines' zero-delay reaper) run in between.
	void deliver_all(size_t limit = 1000)
	{
		for (size_t i = 0; i < limit; i++) {
			bool any = false;
			while (deliver_one(left))
				any = true;
			while (deliver_one(right))
				any = true;
			loop.run_once(std::chrono::milliseconds(0));
			if (!any && left.env.outbox.empty() && right.env.outbox.empty())
				return;
		}
		ADD_FAILURE() << "deliver_all: still busy after " << limit << " rounds";
	}
	// Runs timers and delivers (unplugged sides lose their datagrams)
	// until `done` holds or `timeout` passes. False on timeout.
	bool run_until(const std::function<bool()> &done, EventLoop::Duration timeout)
	{
		auto deadline = EventLoop::now() + timeout;
		for (;;) {
			pump();
			if (done())
				return true;
			if (EventLoop::now() >= deadline)
				return false;
			loop.run_once(std::chrono::milliseconds(10));
		}
	}
	// Runs the loop for a fixed span (for "nothing happens" after a
	// positive condition proved the setup).
	void run_for(EventLoop::Duration span)
	{
		run_until([] { return false; }, span);
	}

	// Both sides configured from `opt` (right mirrored) and left up.
	void establish(const ConnOptions &opt, const ConnOptions *right_opt = nullptr)
	{
		ConnOptions r = right_opt ? *right_opt : opt.mirrored();
		left.configure(opt.toml());
		right.configure(r.toml());
		left.engine->up("site");
		deliver_all();
	}

	// No SA, no policy left on either side's kernel.
	void expect_kernels_empty()
	{
		loop.run_once(std::chrono::milliseconds(0)); // the engines' reaper
		for (Side *s : {&left, &right}) {
			EXPECT_TRUE(s->kernel.inbound.empty()) << s->name << " kernel keeps inbound SAs";
			EXPECT_TRUE(s->kernel.outbound.empty()) << s->name << " kernel keeps outbound SAs";
			EXPECT_TRUE(s->kernel.policies.empty()) << s->name << " kernel keeps policies";
		}
	}

	// Each side's inbound SAs are the other side's outbound ones, with the
	// same keys and algorithms (RFC 7296 §2.17), and the kernels hold
	// exactly the SAs the engines know.
	void expect_sas_paired()
	{
		expect_one_way(left, right);
		expect_one_way(right, left);
		for (Side *s : {&left, &right}) {
			size_t children = 0;
			for (const IkeSa *sa : all_sas(*s))
				for (const auto &c : sa->children()) {
					children++;
					EXPECT_TRUE(s->kernel.inbound.contains(c->spec.spi_in))
						<< s->name << ": child " << std::hex << c->spec.spi_in << " not in kernel";
				}
			EXPECT_EQ(s->kernel.inbound.size(), children) << s->name << ": kernel SAs leaked or missing";
		}
	}

	std::vector<const IkeSa *> all_sas(Side &s) { return s.engine->ike_sas("site"); }

private:
	void expect_one_way(Side &a, Side &b)
	{
		for (const auto &[spi, in] : a.kernel.inbound) {
			auto it = b.kernel.outbound.find(spi);
			if (it == b.kernel.outbound.end()) {
				ADD_FAILURE() << a.name << " inbound SA " << std::hex << spi << " has no outbound peer on "
					      << b.name;
				continue;
			}
			const auto &out = it->second;
			EXPECT_EQ(in.encr, out.encr) << "encryption key of SA " << std::hex << spi;
			EXPECT_EQ(in.integ, out.integ) << "integrity key of SA " << std::hex << spi;
			EXPECT_EQ(in.algorithms, out.algorithms) << "algorithms of SA " << std::hex << spi;
			EXPECT_FALSE(in.encr.empty());
		}
	}

	void pump()
	{
		for (int round = 0; round < 1000; round++) {
			bool any = false;
			for (Side *s : {&left, &right}) {
				bool unplugged = s == &left ? left_unplugged : right_unplugged;
				while (!s->env.outbox.empty()) {
					any = true;
					if (unplugged)
						s->env.outbox.pop_front();
					else
						deliver_one(*s);
				}
			}
			loop.run_once(std::chrono::milliseconds(0));
			if (!any)
				return;
		}
	}

	void route(Side &from, const Datagram &d)
	{
		Side &to = other(from);
		if (d.to.addr == to.address)
			to.engine->receive(d.to, d.from, d.bytes);
		else
			elsewhere.push_back(d);
	}
};

// Silences the engines' logs unless IKED_TEST_VERBOSE is set.
void quiet_logs();

} // namespace umigame::iked::test
