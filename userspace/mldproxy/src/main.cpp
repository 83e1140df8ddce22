// umigame-mldproxy: the MLD proxy of RFC 4605 (docs/mldproxy.md). This file
// wires the engine (userspace/mld) to the world: one raw ICMPv6 socket that
// is also the kernel's multicast routing socket (MRT6_INIT), a MIF per
// interface, MFC entries kept in step with what the downstreams want,
// rtnetlink for addresses and the upstream link, the control socket,
// signals and systemd.
#include <netinet/in.h>
#include <sys/socket.h>

#include <linux/mroute6.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <memory>
#include <random>

#include "umigame/control_socket.h"
#include "umigame/daemon.h"
#include "umigame/icmp6_socket.h"
#include "umigame/log.h"
#include "umigame/mld/engine.h"
#include "umigame/mldproxy/config.h"
#include "umigame/mldproxy/mroute.h"
#include "umigame/rtnetlink.h"

using namespace umigame;
using namespace umigame::mldproxy;

namespace {

constexpr const char *kDefaultConfig = "/etc/umigame/mldproxy.toml";
constexpr uint16_t kUpstreamMif = 0;

// What the socket refused before the engine saw it, per interface.
struct InputCounters {
	uint64_t bad_hop_limit = 0, no_router_alert = 0, malformed = 0, truncated = 0, from_self = 0;
};

// Messages the kernel refused to send, per interface: a report that never
// left is state upstream routers do not have.
struct SendErrors {
	uint64_t count = 0;
	std::string last;
	std::chrono::steady_clock::time_point logged{};
};

class Proxy : public mld::Output {
public:
	explicit Proxy(Config config) : config_(std::move(config)) {}

	int run()
	{
		resolve_interfaces();
		open_socket();
		engine_ = std::make_unique<mld::Engine>(engine_config(config_, ifindexes_[0], downstream_ifindexes()),
							*this, [this](uint32_t n) {
								return std::uniform_int_distribution<uint32_t>(0, n)(rng_);
							});
		monitor_ = std::make_unique<RtnetlinkMonitor>(
			loop_, [this](const RtnetlinkEvent &e) { on_rtnetlink(e); }, [this] { read_addresses(); });
		read_addresses();
		ControlServerOptions options;
		options.path = config_.control_socket;
		if (config_.run_as)
			options.group = std::nullopt;
		control_ = std::make_unique<ControlServer>(loop_, options);
		add_commands();
		if (config_.run_as)
			drop_privileges(*config_.run_as);
		SignalWatch sigterm = loop_.on_signal(SIGTERM, [this] { loop_.stop(); });
		SignalWatch sigint = loop_.on_signal(SIGINT, [this] { loop_.stop(); });
		SignalWatch sighup = loop_.on_signal(SIGHUP, [this] { reload(); });
		Timer watchdog = service::keep_watchdog_fed(loop_);
		Timer aging = loop_.every(std::chrono::seconds(30), [this] { age_unwanted_entries(); });
		FdWatch watch = loop_.watch(fd_.get(), IoInterest::read, [this](IoReady) { on_readable(); });
		engine_->start(mld::Clock::now());
		reschedule();
		log::notice("proxying MLD from " + config_.upstream.name + " to " +
			    std::to_string(config_.downstream.size()) + " downstream interface(s)");
		service::notify_ready("ready");
		loop_.run();
		service::notify_stopping("stopping");
		return 0;
	}

	void send(uint32_t ifindex, const Ipv6Address &to, std::vector<uint8_t> icmp) override
	{
		// RFC 3810 §5: from the link-local address (hop limit 1 and the
		// Router Alert are the socket's options).
		auto ll = link_local_.find(ifindex);
		std::optional<Ipv6Address> source;
		if (ll != link_local_.end())
			source = ll->second;
		if (!send_icmp6(fd_.get(), ifindex, to, icmp, source)) {
			SendErrors &e = send_errors_[ifindex];
			e.count++;
			e.last = std::strerror(errno);
			// Once per 10 s per interface: a link that is down refuses
			// every message.
			auto now = std::chrono::steady_clock::now();
			if (e.count == 1 || now - e.logged >= std::chrono::seconds(10)) {
				e.logged = now;
				log::warning("cannot send MLD to " + to.str() + " on ifindex " +
					     std::to_string(ifindex) + " (" + (source ? source->str() : "no link-local yet") +
					     "): " + e.last + " (" + std::to_string(e.count) + " so far)");
			}
		}
	}

	void membership_changed(const Ipv6Address &group) override
	{
		auto now = mld::Clock::now();
		// (S,G) that a downstream named are installed before the first
		// packet, so it is forwarded as it arrives.
		for (const auto &s : engine_->named_sources(group, now))
			if (!mfc_.count({group, s}))
				install(s, group, kUpstreamMif);
		for (auto it = mfc_.lower_bound({group, Ipv6Address{}}); it != mfc_.end() && it->first.first == group;) {
			const Ipv6Address source = it->first.second;
			auto out = outputs(source, group, it->second.parent, now);
			if (out.empty() && it->second.parent == kUpstreamMif) {
				// Nobody wants it any more: the entry goes (the next
				// packet asks again, and gets a dropping entry).
				mroute_->delete_mfc(source, group, it->second.parent);
				it = mfc_.erase(it);
				continue;
			}
			if (out != it->second.out) {
				mroute_->set_mfc(source, group, it->second.parent, out);
				it->second.out = out;
			}
			++it;
		}
	}

private:
	struct Entry {
		uint16_t parent = 0;
		std::set<uint16_t> out;
		uint64_t packets_seen = 0;
	};

	std::vector<uint32_t> downstream_ifindexes() const { return {ifindexes_.begin() + 1, ifindexes_.end()}; }

	void resolve_interfaces()
	{
		Rtnetlink rt;
		auto index = [&](const std::string &name) {
			auto link = rt.link(name);
			if (!link)
				throw std::runtime_error("interface " + name + " not found");
			return link->index;
		};
		ifindexes_.push_back(index(config_.upstream.name));
		for (const auto &d : config_.downstream)
			ifindexes_.push_back(index(d.name));
		auto up = rt.link(ifindexes_[0]);
		upstream_up_ = up && up->is_up() && up->has_carrier();
	}

	void open_socket()
	{
		Icmp6SocketOptions o;
		o.hop_limit = 1; // RFC 3810 §5
		o.router_alert = 0;
		o.receive_hop_options = true;
		o.pass_types = {mld::kTypeQuery, mld::kTypeV1Report, mld::kTypeV1Done, mld::kTypeV2Report};
		// Every host on every downstream answers a General Query within
		// the same Maximum Response Delay, and a host joining many groups
		// sends a report per join: room for some ten thousand reports.
		o.receive_buffer = 8 << 20;
		fd_ = open_icmp6_socket(o);
		// Reports go to ff02::16 (§5.2.14), MLDv1 Done to ff02::2: listen
		// to both on every downstream.
		for (size_t i = 1; i < ifindexes_.size(); i++)
			for (const auto *group : {&mld::kAllMldv2Routers, &mld::kAllRouters}) {
				ipv6_mreq m{};
				std::memcpy(&m.ipv6mr_multiaddr, group->bytes.data(), 16);
				m.ipv6mr_interface = ifindexes_[i];
				if (::setsockopt(fd_.get(), IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &m, sizeof(m)) != 0)
					throw std::runtime_error("joining " + group->str() + " on " +
								 config_.downstream[i - 1].name + ": " + std::strerror(errno));
			}
		mroute_ = std::make_unique<Mroute>(fd_.get());
		for (size_t i = 0; i < ifindexes_.size(); i++)
			mroute_->add_mif(uint16_t(i), ifindexes_[i]);
	}

	int position(uint32_t ifindex) const
	{
		for (size_t i = 0; i < ifindexes_.size(); i++)
			if (ifindexes_[i] == ifindex)
				return int(i);
		return -1;
	}

	void read_addresses()
	{
		Rtnetlink rt;
		for (uint32_t ifindex : ifindexes_)
			for (const auto &a : rt.addresses(ifindex))
				learn_address(a, false);
	}

	void learn_address(const InterfaceAddress &a, bool removed)
	{
		if (position(a.ifindex) < 0 || !a.address.is_link_local())
			return;
		if (removed || a.tentative() || a.dad_failed()) {
			if (link_local_.count(a.ifindex) && link_local_[a.ifindex] == a.address)
				link_local_.erase(a.ifindex);
			return;
		}
		if (link_local_.count(a.ifindex))
			return;
		link_local_[a.ifindex] = a.address;
		engine_->set_address(a.ifindex, a.address);
		log::info("link-local " + a.address.str() + " on ifindex " + std::to_string(a.ifindex));
		// A link coming up is announced before its link-local address is
		// usable: the reports sent at once then had no source (RFC 3810
		// §5.2.13) and the kernel refused them, retransmissions included
		// when they came as quickly. Report the whole state again now.
		if (a.ifindex == ifindexes_[0] && upstream_up_)
			engine_->upstream_up(mld::Clock::now());
		reschedule();
	}

	void on_rtnetlink(const RtnetlinkEvent &e)
	{
		if (auto *a = std::get_if<AddressEvent>(&e)) {
			learn_address(a->address, a->removed);
		} else if (auto *l = std::get_if<LinkEvent>(&e); l && l->link.index == ifindexes_[0]) {
			bool up = !l->removed && l->link.is_up() && l->link.has_carrier();
			if (up == upstream_up_)
				return;
			upstream_up_ = up;
			log::notice("upstream " + config_.upstream.name + (up ? " is up: reporting again" : " is down"));
			if (up)
				engine_->upstream_up(mld::Clock::now());
			else
				engine_->upstream_down();
			reschedule();
		}
	}

	void on_readable()
	{
		uint8_t buf[65536];
		for (int i = 0; i < 256; i++) {
			auto d = receive_icmp6(fd_.get(), buf);
			if (!d)
				break;
			if (auto up = parse_upcall(d->icmp)) {
				on_upcall(*up);
				continue;
			}
			int pos = position(d->ifindex);
			if (pos < 0)
				continue;
			InputCounters &c = input_[d->ifindex];
			if (d->truncated) {
				c.truncated++;
				continue;
			}
			// RFC 3810 §5.1.14, §5.2.13 (and RFC 2710 §3): hop limit 1 and a
			// Router Alert, or the message is not MLD on this link.
			if (d->hop_limit != 1) {
				c.bad_hop_limit++;
				continue;
			}
			if (!d->router_alert) {
				c.no_router_alert++;
				continue;
			}
			// Our own host stack's reports (it joins ff02::2 and ff05::2 once
			// forwarding is on) and our own queries come back on this socket:
			// neither is a listener or another querier on the link.
			auto own = link_local_.find(d->ifindex);
			if (own != link_local_.end() && own->second == d->source) {
				c.from_self++;
				continue;
			}
			try {
				engine_->receive(d->ifindex, d->source, mld::parse(d->icmp), mld::Clock::now());
			} catch (const mld::ParseError &e) {
				c.malformed++;
				log::debug("from " + d->source.str() + ": " + e.what());
			}
		}
		reschedule();
	}

	void on_upcall(const Upcall &u)
	{
		upcalls_++;
		if (u.type != MRT6MSG_NOCACHE || u.mif >= ifindexes_.size())
			return;
		install(u.source, u.group, u.mif);
	}

	std::set<uint16_t> outputs(const Ipv6Address &source, const Ipv6Address &group, uint16_t parent,
				   mld::TimePoint now) const
	{
		std::set<uint16_t> out;
		for (size_t i = 1; i < ifindexes_.size(); i++)
			if (i != parent && engine_->wanted(ifindexes_[i], source, group, now))
				out.insert(uint16_t(i));
		// RFC 4605 §4.2: what a downstream source sends goes upstream too.
		if (parent != kUpstreamMif)
			out.insert(kUpstreamMif);
		return out;
	}

	void install(const Ipv6Address &source, const Ipv6Address &group, uint16_t parent)
	{
		auto out = outputs(source, group, parent, mld::Clock::now());
		try {
			mroute_->set_mfc(source, group, parent, out);
			mfc_[{group, source}] = Entry{parent, out, 0};
		} catch (const std::exception &e) {
			log::warning(e.what());
		}
	}

	// An entry that forwards nowhere only keeps the kernel from asking
	// again; once its source has been silent for a period it goes.
	void age_unwanted_entries()
	{
		for (auto it = mfc_.begin(); it != mfc_.end();) {
			if (!it->second.out.empty()) {
				++it;
				continue;
			}
			auto c = mroute_->counters(it->first.second, it->first.first);
			uint64_t packets = c ? c->packets : 0;
			if (packets == it->second.packets_seen) {
				mroute_->delete_mfc(it->first.second, it->first.first, it->second.parent);
				it = mfc_.erase(it);
			} else {
				it->second.packets_seen = packets;
				++it;
			}
		}
	}

	void reschedule()
	{
		auto now = mld::Clock::now();
		if (engine_->next_deadline() <= now)
			engine_->tick(now);
		auto next = engine_->next_deadline();
		if (timer_.active() && next == armed_for_)
			return;
		armed_for_ = next;
		if (next == mld::TimePoint::max()) {
			timer_.reset();
			return;
		}
		timer_ = loop_.at(next, [this] {
			engine_->tick(mld::Clock::now());
			reschedule();
		});
	}

	std::string interface_name(uint16_t mif) const
	{
		return mif == 0 ? config_.upstream.name : config_.downstream.at(mif - 1).name;
	}

	nlohmann::json show()
	{
		auto now = mld::Clock::now();
		nlohmann::json j = engine_->show(now);
		nlohmann::json entries = nlohmann::json::array();
		for (const auto &[key, e] : mfc_) {
			if (entries.size() >= 1000)
				break;
			nlohmann::json out = nlohmann::json::array();
			for (uint16_t m : e.out)
				out.push_back(interface_name(m));
			nlohmann::json entry = {{"group", key.first.str()},
						{"source", key.second.str()},
						{"input", interface_name(e.parent)},
						{"outputs", out}};
			if (auto c = mroute_->counters(key.second, key.first))
				entry.update({{"packets", c->packets}, {"bytes", c->bytes}, {"wrong_if", c->wrong_if}});
			entries.push_back(entry);
		}
		j["mfc"] = entries;
		j["mfc_count"] = mfc_.size();
		j["upcalls"] = upcalls_;
		nlohmann::json input = nlohmann::json::object();
		for (size_t i = 0; i < ifindexes_.size(); i++) {
			const InputCounters &c = input_[ifindexes_[i]];
			input[i == 0 ? config_.upstream.name : config_.downstream[i - 1].name] = {
				{"bad_hop_limit", c.bad_hop_limit},
				{"no_router_alert", c.no_router_alert},
				{"malformed", c.malformed},
				{"truncated", c.truncated},
				{"from_self", c.from_self}};
		}
		j["refused"] = input;
		nlohmann::json errors = nlohmann::json::object();
		for (size_t i = 0; i < ifindexes_.size(); i++) {
			auto e = send_errors_.find(ifindexes_[i]);
			if (e != send_errors_.end())
				errors[i == 0 ? config_.upstream.name : config_.downstream[i - 1].name] = {
					{"count", e->second.count}, {"last", e->second.last}};
		}
		j["send_errors"] = errors;
		j["upstream"]["up"] = upstream_up_;
		return j;
	}

	void add_commands()
	{
		control_->add_command("show", [this](const nlohmann::json &, const ControlPeer &) { return show(); });
		control_->add_command("reload", [this](const nlohmann::json &, const ControlPeer &) {
			if (!reload())
				throw ControlError(last_reload_error_);
			return nlohmann::json{{"config", config_.file}};
		});
	}

	bool reload()
	{
		service::notify_reloading("reloading " + config_.file);
		bool ok = false;
		try {
			Config fresh = load_config(config_.file);
			bool same = fresh.upstream.name == config_.upstream.name &&
				    fresh.downstream.size() == config_.downstream.size();
			for (size_t i = 0; same && i < fresh.downstream.size(); i++)
				same = fresh.downstream[i].name == config_.downstream[i].name;
			if (!same)
				throw std::runtime_error("interfaces changed: that takes a restart");
			if (!engine_->reconfigure(engine_config(fresh, ifindexes_[0], downstream_ifindexes())))
				throw std::runtime_error("interfaces changed: that takes a restart");
			fresh.run_as = config_.run_as;
			fresh.control_socket = config_.control_socket;
			config_ = std::move(fresh);
			log::notice("reloaded " + config_.file);
			ok = true;
		} catch (const std::exception &e) {
			last_reload_error_ = std::string("reload refused, configuration kept: ") + e.what();
			log::error(last_reload_error_);
		}
		service::notify_ready("ready");
		reschedule();
		return ok;
	}

	Config config_;
	EventLoop loop_;
	std::vector<uint32_t> ifindexes_; // [0] upstream, then downstream; the position is the MIF
	std::map<uint32_t, Ipv6Address> link_local_;
	std::map<uint32_t, SendErrors> send_errors_;
	bool upstream_up_ = true;
	UniqueFd fd_;
	std::unique_ptr<Mroute> mroute_;
	std::unique_ptr<mld::Engine> engine_;
	std::unique_ptr<RtnetlinkMonitor> monitor_;
	std::unique_ptr<ControlServer> control_;
	std::map<std::pair<Ipv6Address, Ipv6Address>, Entry> mfc_; // (group, source)
	std::map<uint32_t, InputCounters> input_;
	uint64_t upcalls_ = 0;
	Timer timer_;
	mld::TimePoint armed_for_{};
	std::mt19937 rng_{std::random_device{}()};
	std::string last_reload_error_;
};

} // namespace

int main(int argc, char **argv)
{
	return daemon_main(argc, argv, "umigame-mldproxy", kDefaultConfig, load_config, [](Config config) {
		Proxy proxy(std::move(config));
		return proxy.run();
	});
}
