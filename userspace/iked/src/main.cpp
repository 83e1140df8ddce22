// umigame-iked: the IKEv2 daemon (docs/ike.md). This file wires the engine
// to the world: UDP sockets on 500 and 4500 (both families), XFRM and
// umigame.ko, the kernel's ACQUIRE and EXPIRE events, the control socket,
// signals and systemd.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "umigame/control_socket.h"
#include "umigame/daemon.h"
#include "umigame/event_loop.h"
#include "umigame/iked/config.h"
#include "umigame/iked/engine.h"
#include "umigame/iked/kernel_xfrm.h"
#include "umigame/log.h"
#include "umigame/xfrm.h"

#ifndef UDP_ENCAP
#define UDP_ENCAP 100
#endif
#ifndef UDP_ENCAP_ESPINUDP
#define UDP_ENCAP_ESPINUDP 2
#endif

using namespace umigame;
using namespace umigame::iked;

namespace {

constexpr const char *kDefaultConfig = "/etc/umigame/iked.toml";

std::string errno_text(const std::string &what)
{
	return what + ": " + std::strerror(errno);
}

// One UDP socket: a family and a port, with the local address of each
// datagram (IP_PKTINFO) so that replies leave from where requests came.
struct UdpSocket {
	UniqueFd fd;
	int family = 0;
	uint16_t port = 0;
	FdWatch watch;
};

UniqueFd open_udp(int family, uint16_t port, bool encap)
{
	UniqueFd fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (!fd)
		throw std::runtime_error(errno_text("socket"));
	int one = 1;
	if (family == AF_INET6) {
		::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) != 0)
			throw std::runtime_error(errno_text("IPV6_RECVPKTINFO"));
	} else if (::setsockopt(fd.get(), IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) != 0) {
		throw std::runtime_error(errno_text("IP_PKTINFO"));
	}
	::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sockaddr_storage ss{};
	socklen_t len;
	if (family == AF_INET6) {
		auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&ss);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	} else {
		auto *sin = reinterpret_cast<sockaddr_in *>(&ss);
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	}
	if (::bind(fd.get(), reinterpret_cast<sockaddr *>(&ss), len) != 0)
		throw std::runtime_error(errno_text("bind UDP port " + std::to_string(port)));
	if (encap) {
		// RFC 3948: the kernel takes ESP in UDP off this socket and
		// hands us only what carries the non-ESP marker.
		int type = UDP_ENCAP_ESPINUDP;
		if (::setsockopt(fd.get(), IPPROTO_UDP, UDP_ENCAP, &type, sizeof(type)) != 0)
			throw std::runtime_error(errno_text("UDP_ENCAP"));
	}
	// IKE carries its own retransmission; no reason to wait for a full
	// socket buffer.
	request_receive_buffer(fd.get(), 1 << 20);
	return fd;
}

class Network : public Environment {
public:
	Network(EventLoop &loop, uint16_t port, uint16_t nat_port) : loop_(loop), port_(port), nat_port_(nat_port)
	{
		for (int family : {AF_INET, AF_INET6}) {
			for (uint16_t p : {port, nat_port}) {
				auto s = std::make_unique<UdpSocket>();
				try {
					s->fd = open_udp(family, p, p == nat_port);
				} catch (const std::exception &e) {
					// A host without IPv6 still runs IPv4 and vice versa.
					log::warning(std::string(family == AF_INET6 ? "IPv6" : "IPv4") + ": " + e.what());
					continue;
				}
				s->family = family;
				s->port = p;
				sockets_.push_back(std::move(s));
			}
		}
		if (sockets_.empty())
			throw std::runtime_error("no IKE socket could be opened");
	}

	void start(Engine &engine)
	{
		engine_ = &engine;
		for (auto &s : sockets_) {
			UdpSocket *raw = s.get();
			s->watch = loop_.watch(s->fd.get(), IoInterest::read, [this, raw](IoReady) { drain(*raw); });
		}
	}

	void send(const Endpoint &local, const Endpoint &remote, std::span<const uint8_t> message) override
	{
		UdpSocket *s = socket_for(remote.addr.family, local.port);
		if (!s) {
			log::warning("no socket for " + local.str());
			return;
		}
		uint8_t marker[4] = {0, 0, 0, 0};
		iovec iov[2];
		int n = 0;
		// RFC 3948 §2.2: on the NAT-T port IKE follows four zero octets.
		if (local.port == nat_port_)
			iov[n++] = {marker, sizeof(marker)};
		iov[n++] = {const_cast<uint8_t *>(message.data()), message.size()};
		transmit(*s, local, remote, iov, n);
	}

	std::optional<IpAddress> source_for(const IpAddress &remote) override
	{
		UniqueFd fd(::socket(remote.family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
		if (!fd)
			return std::nullopt;
		sockaddr_storage ss{};
		socklen_t len = to_sockaddr(Endpoint{remote, port_}, ss);
		if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&ss), len) != 0)
			return std::nullopt;
		sockaddr_storage me{};
		socklen_t mlen = sizeof(me);
		if (::getsockname(fd.get(), reinterpret_cast<sockaddr *>(&me), &mlen) != 0)
			return std::nullopt;
		return from_sockaddr(me).addr;
	}

	void keepalive(const Endpoint &local, const Endpoint &remote) override
	{
		// RFC 3948 §2.3: one octet 0xFF.
		UdpSocket *s = socket_for(remote.addr.family, nat_port_);
		if (!s)
			return;
		uint8_t ff = 0xff;
		iovec iov{&ff, 1};
		transmit(*s, local, remote, &iov, 1);
	}

private:
	UdpSocket *socket_for(int family, uint16_t port)
	{
		for (auto &s : sockets_)
			if (s->family == family && s->port == port)
				return s.get();
		return nullptr;
	}

	static socklen_t to_sockaddr(const Endpoint &e, sockaddr_storage &ss)
	{
		if (e.addr.family == AF_INET6) {
			auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&ss);
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(e.port);
			std::memcpy(&sin6->sin6_addr, e.addr.bytes.data(), 16);
			return sizeof(*sin6);
		}
		auto *sin = reinterpret_cast<sockaddr_in *>(&ss);
		sin->sin_family = AF_INET;
		sin->sin_port = htons(e.port);
		std::memcpy(&sin->sin_addr, e.addr.bytes.data(), 4);
		return sizeof(*sin);
	}

	static Endpoint from_sockaddr(const sockaddr_storage &ss)
	{
		Endpoint e;
		if (ss.ss_family == AF_INET6) {
			const auto *sin6 = reinterpret_cast<const sockaddr_in6 *>(&ss);
			e.addr = IpAddress::v6(std::span<const uint8_t, 16>(
				reinterpret_cast<const uint8_t *>(&sin6->sin6_addr), 16));
			e.port = ntohs(sin6->sin6_port);
		} else {
			const auto *sin = reinterpret_cast<const sockaddr_in *>(&ss);
			e.addr = IpAddress::v4(
				std::span<const uint8_t, 4>(reinterpret_cast<const uint8_t *>(&sin->sin_addr), 4));
			e.port = ntohs(sin->sin_port);
		}
		return e;
	}

	void transmit(UdpSocket &s, const Endpoint &local, const Endpoint &remote, iovec *iov, int n)
	{
		sockaddr_storage ss{};
		socklen_t len = to_sockaddr(remote, ss);
		alignas(cmsghdr) uint8_t control[64] = {};
		msghdr mh{};
		mh.msg_name = &ss;
		mh.msg_namelen = len;
		mh.msg_iov = iov;
		mh.msg_iovlen = static_cast<size_t>(n);
		// Leave from the address the peer knows us by.
		if (!local.addr.is_unset()) {
			mh.msg_control = control;
			cmsghdr *c;
			if (s.family == AF_INET6) {
				mh.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo));
				c = CMSG_FIRSTHDR(&mh);
				c->cmsg_level = IPPROTO_IPV6;
				c->cmsg_type = IPV6_PKTINFO;
				c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
				in6_pktinfo pi{};
				std::memcpy(&pi.ipi6_addr, local.addr.bytes.data(), 16);
				std::memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			} else {
				mh.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
				c = CMSG_FIRSTHDR(&mh);
				c->cmsg_level = IPPROTO_IP;
				c->cmsg_type = IP_PKTINFO;
				c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
				in_pktinfo pi{};
				std::memcpy(&pi.ipi_spec_dst, local.addr.bytes.data(), 4);
				std::memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			}
		}
		if (::sendmsg(s.fd.get(), &mh, 0) < 0)
			log::debug(errno_text("sendmsg to " + remote.str()));
	}

	void drain(UdpSocket &s)
	{
		// Bounded per wakeup, so that a flood on one socket cannot starve
		// the others or the timers.
		for (int i = 0; i < 64; i++) {
			uint8_t buf[65536];
			alignas(cmsghdr) uint8_t control[128];
			sockaddr_storage from{};
			iovec iov{buf, sizeof(buf)};
			msghdr mh{};
			mh.msg_name = &from;
			mh.msg_namelen = sizeof(from);
			mh.msg_iov = &iov;
			mh.msg_iovlen = 1;
			mh.msg_control = control;
			mh.msg_controllen = sizeof(control);
			ssize_t n = ::recvmsg(s.fd.get(), &mh, 0);
			if (n < 0)
				return;
			Endpoint remote = from_sockaddr(from);
			Endpoint local;
			local.port = s.port;
			for (cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
				if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
					in_pktinfo pi;
					std::memcpy(&pi, CMSG_DATA(c), sizeof(pi));
					local.addr = IpAddress::v4(std::span<const uint8_t, 4>(
						reinterpret_cast<const uint8_t *>(&pi.ipi_addr), 4));
				} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
					in6_pktinfo pi;
					std::memcpy(&pi, CMSG_DATA(c), sizeof(pi));
					local.addr = IpAddress::v6(std::span<const uint8_t, 16>(
						reinterpret_cast<const uint8_t *>(&pi.ipi6_addr), 16));
				}
			}
			std::span<const uint8_t> data(buf, static_cast<size_t>(n));
			if (s.port == nat_port_) {
				// A NAT keepalive (0xFF) or anything too short to be IKE.
				if (data.size() < 4 || data[0] || data[1] || data[2] || data[3])
					continue;
				data = data.subspan(4);
			}
			engine_->receive(local, remote, data);
		}
	}

	EventLoop &loop_;
	uint16_t port_, nat_port_;
	std::vector<std::unique_ptr<UdpSocket>> sockets_;
	Engine *engine_ = nullptr;
};

class Daemon {
public:
	explicit Daemon(DaemonConfig config) : config_(std::move(config)) {}

	int run()
	{
		kernel_ = std::make_unique<XfrmKernel>();
		network_ = std::make_unique<Network>(loop_, config_.port, config_.nat_port);
		engine_ = std::make_unique<Engine>(loop_, *network_, *kernel_);
		network_->start(*engine_);
		monitor_watch_ = loop_.watch(monitor_.fd(), IoInterest::read, [this](IoReady) { kernel_events(); });
		ControlServerOptions options;
		options.path = config_.control_socket;
		options.mode = 0660;
		control_ = std::make_unique<ControlServer>(loop_, options);
		add_commands();
		if (config_.run_as)
			drop_privileges(*config_.run_as);
		engine_->configure(config_);

		SignalWatch sigterm = loop_.on_signal(SIGTERM, [this] { stop(); });
		SignalWatch sigint = loop_.on_signal(SIGINT, [this] { stop(); });
		SignalWatch sighup = loop_.on_signal(SIGHUP, [this] { reload(); });
		Timer watchdog = service::keep_watchdog_fed(loop_);
		log::notice("started: " + std::to_string(config_.connections.size()) + " connection(s), control socket " +
			    config_.control_socket);
		service::notify_ready("ready");
		// A timer of the engine that fails (the kernel refused a rekeyed
		// SA, say) is logged; the daemon and its other SAs go on.
		for (;;) {
			try {
				loop_.run();
				break;
			} catch (const std::exception &e) {
				log::error(std::string("internal error: ") + e.what());
			}
		}
		engine_.reset();
		log::notice("stopped");
		return 0;
	}

private:
	void add_commands()
	{
		control_->add_command("show", [this](const nlohmann::json &, const ControlPeer &) {
			auto j = engine_->show();
			j["config"] = config_.file;
			j["xdp_module"] = kernel_->module_in_use();
			return j;
		});
		control_->add_command("sas", [this](const nlohmann::json &, const ControlPeer &) {
			return nlohmann::json{{"ike_sas", engine_->sas()}};
		});
		auto named = [](const nlohmann::json &req, const char *key) {
			if (!req.contains(key) || !req[key].is_string())
				throw ControlError(std::string("missing '") + key + "'");
			return req[key].get<std::string>();
		};
		control_->add_command("up", [this, named](const nlohmann::json &req, const ControlPeer &) {
			run_op([&] { engine_->up(named(req, "name")); });
			return nlohmann::json::object();
		});
		control_->add_command("down", [this, named](const nlohmann::json &req, const ControlPeer &) {
			run_op([&] { engine_->down(named(req, "name")); });
			return nlohmann::json::object();
		});
		control_->add_command("rekey", [this, named](const nlohmann::json &req, const ControlPeer &) {
			run_op([&] {
				if (req.contains("child"))
					engine_->rekey_child(named(req, "name"), named(req, "child"));
				else
					engine_->rekey_ike(named(req, "name"));
			});
			return nlohmann::json::object();
		});
		control_->add_command("reload", [this](const nlohmann::json &, const ControlPeer &) {
			if (!reload())
				throw ControlError(last_reload_error_);
			return nlohmann::json{{"config", config_.file}};
		});
	}

	template <typename F> void run_op(F f)
	{
		try {
			f();
		} catch (const ControlError &) {
			throw;
		} catch (const std::exception &e) {
			throw ControlError(e.what());
		}
	}

	void kernel_events()
	{
		std::vector<XfrmEvent> events;
		try {
			events = monitor_.read();
		} catch (const std::exception &e) {
			log::warning(std::string("XFRM events: ") + e.what());
			return;
		}
		for (const auto &ev : events) {
			if (const auto *a = std::get_if<XfrmAcquire>(&ev))
				engine_->acquire(a->tmpl.reqid, a->selector.src.address, a->selector.dst.address);
			else if (const auto *x = std::get_if<XfrmExpire>(&ev))
				engine_->expire(x->id.spi, x->id.dst, x->hard);
		}
	}

	bool reload()
	{
		service::notify_reloading("reloading " + config_.file);
		bool ok = false;
		try {
			DaemonConfig next = load_daemon_config(config_.file);
			if (next.control_socket != config_.control_socket || next.port != config_.port ||
			    next.nat_port != config_.nat_port)
				log::warning("reload: [daemon] socket and port changes take effect at the next start");
			next.control_socket = config_.control_socket;
			next.port = config_.port;
			next.nat_port = config_.nat_port;
			next.run_as = config_.run_as;
			engine_->configure(next);
			config_ = std::move(next);
			log::notice("reloaded " + config_.file);
			ok = true;
		} catch (const std::exception &e) {
			last_reload_error_ = std::string("reload refused, configuration kept: ") + e.what();
			log::error(last_reload_error_);
		}
		service::notify_ready("ready");
		return ok;
	}

	void stop()
	{
		if (stopping_)
			return;
		stopping_ = true;
		service::notify_stopping("deleting IKE SAs");
		engine_->shutdown();
		// Each Delete is answered or given up within seconds; stop once
		// no SA is left, or after a bound.
		stop_poll_ = loop_.every(std::chrono::milliseconds(50), [this] {
			if (engine_->ike_sa_count() == 0)
				loop_.stop();
		});
		stop_deadline_ = loop_.after(std::chrono::seconds(6), [this] { loop_.stop(); });
	}

	DaemonConfig config_;
	EventLoop loop_;
	std::unique_ptr<XfrmKernel> kernel_;
	std::unique_ptr<Network> network_;
	std::unique_ptr<Engine> engine_;
	XfrmMonitor monitor_;
	FdWatch monitor_watch_;
	std::unique_ptr<ControlServer> control_;
	Timer stop_poll_, stop_deadline_;
	std::string last_reload_error_;
	bool stopping_ = false;
};

} // namespace

int main(int argc, char **argv)
{
	std::signal(SIGPIPE, SIG_IGN);
	return daemon_main(argc, argv, "umigame-iked", kDefaultConfig, load_daemon_config,
			   [](DaemonConfig config) { return Daemon(std::move(config)).run(); });
}
