// xfrm_probe: drives libumigame-ipsec's Xfrm and XfrmMonitor from the
// command line, in the current network namespace, for selftests/vm/xfrm_lib.sh.
// Everything goes through the library; iproute2 only checks the result.
//
//   xfrm_probe sa add|update src A dst A spi N [proto esp|ah] [mode tunnel|transport]
//              [reqid N] [aead NAME HEX ICVBITS] [enc NAME HEX] [auth NAME HEX TRUNCBITS]
//              [esn] [replay-window N] [encap SPORT DPORT] [soft-add S] [hard-add S]
//              [sel SRC/LEN DST/LEN [PROTO [SPORT [DPORT]]]]
//   xfrm_probe sa del|stats dst A spi N [proto esp|ah]   "deleted"/"absent" or
//              "packets N bytes N oseq N seq N"/"absent"
//   xfrm_probe spi src A dst A reqid N [MIN MAX]          the larval SA's SPI
//   xfrm_probe policy add|update sel SRC DST [PROTO [SPORT [DPORT]]] dir in|out|fwd
//              [priority N] [tmpl SRC|- DST|- esp|ah tunnel|transport REQID]...
//   xfrm_probe policy del sel SRC DST [PROTO [SPORT [DPORT]]] dir D   "deleted"/"absent"
//   xfrm_probe monitor SECONDS COUNT [acquire|expire]   "ready", then a line
//              per event (of that kind); exit 0 after COUNT, 1 when SECONDS pass first
//   xfrm_probe encap-socket PORT SECONDS   a UDP_ENCAP_ESPINUDP socket (what an
//              IKE daemon holds open so that the kernel decapsulates RFC 3948)
//   xfrm_probe flush
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h> // UDP_ENCAP, UDP_ENCAP_ESPINUDP
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "umigame/xfrm.h"

using namespace umigame;

namespace {

class Args {
public:
	Args(int argc, char **argv) : v_(argv + 1, argv + argc) {}
	bool more() const { return i_ < v_.size(); }
	std::string_view peek() const { return more() ? std::string_view(v_[i_]) : ""; }
	std::string next(const char *what)
	{
		if (!more())
			throw std::runtime_error(std::string("missing ") + what);
		return v_[i_++];
	}
	uint64_t number(const char *what)
	{
		const std::string s = next(what);
		char *end = nullptr;
		const unsigned long long n = std::strtoull(s.c_str(), &end, 0);
		if (s.empty() || *end)
			throw std::runtime_error(std::string("bad ") + what + ": " + s);
		return n;
	}
	IpAddress address(const char *what)
	{
		const std::string s = next(what);
		if (s == "-")
			return {};
		auto a = IpAddress::parse(s);
		if (!a)
			throw std::runtime_error(std::string("bad ") + what + ": " + s);
		return *a;
	}
	IpPrefix prefix(const char *what)
	{
		const std::string s = next(what);
		auto p = IpPrefix::parse(s);
		if (!p)
			throw std::runtime_error(std::string("bad ") + what + ": " + s);
		return *p;
	}
	bool is_number() const { return more() && !v_[i_].empty() && std::isdigit(uint8_t(v_[i_][0])); }

private:
	std::vector<std::string> v_;
	size_t i_ = 0;
};

SecretBytes hex_key(const std::string &text)
{
	std::string_view h = text;
	if (h.starts_with("0x"))
		h.remove_prefix(2);
	if (h.size() % 2)
		throw std::runtime_error("odd hex key");
	SecretBytes k(h.size() / 2);
	for (size_t i = 0; i < k.size(); ++i)
		k.data()[i] = uint8_t(std::stoul(std::string(h.substr(2 * i, 2)), nullptr, 16));
	return k;
}

uint8_t proto_of(const std::string &p)
{
	if (p == "esp")
		return IPPROTO_ESP;
	if (p == "ah")
		return IPPROTO_AH;
	throw std::runtime_error("protocol esp or ah, not " + p);
}

XfrmMode mode_of(const std::string &m)
{
	if (m == "tunnel")
		return XfrmMode::tunnel;
	if (m == "transport")
		return XfrmMode::transport;
	throw std::runtime_error("mode tunnel or transport, not " + m);
}

XfrmDir dir_of(const std::string &d)
{
	if (d == "in")
		return XfrmDir::in;
	if (d == "out")
		return XfrmDir::out;
	if (d == "fwd")
		return XfrmDir::fwd;
	throw std::runtime_error("dir in, out or fwd, not " + d);
}

// sel SRC DST [PROTO [SPORT [DPORT]]]
XfrmSelector selector(Args &a)
{
	XfrmSelector s;
	s.src = a.prefix("selector source");
	s.dst = a.prefix("selector destination");
	if (a.is_number())
		s.proto = uint8_t(a.number("selector protocol"));
	if (a.is_number())
		s.sport = uint16_t(a.number("selector source port"));
	if (a.is_number())
		s.dport = uint16_t(a.number("selector destination port"));
	return s;
}

XfrmSaId sa_id(Args &a)
{
	XfrmSaId id;
	while (a.more()) {
		const std::string k = a.next("keyword");
		if (k == "dst")
			id.dst = a.address("dst");
		else if (k == "spi")
			id.spi = uint32_t(a.number("spi"));
		else if (k == "proto")
			id.proto = proto_of(a.next("proto"));
		else
			throw std::runtime_error("unknown keyword " + k);
	}
	return id;
}

int sa_command(Args &a)
{
	const std::string op = a.next("sa add|update|del|stats");
	Xfrm x;
	if (op == "del") {
		std::puts(x.del_sa(sa_id(a)) ? "deleted" : "absent");
		return 0;
	}
	if (op == "stats") {
		const auto s = x.sa_stats(sa_id(a));
		if (!s) {
			std::puts("absent");
			return 3;
		}
		std::printf("packets %llu bytes %llu oseq %llu seq %llu replay %u integrity_failed %u\n",
			    (unsigned long long)s->packets, (unsigned long long)s->bytes,
			    (unsigned long long)s->oseq.value_or(0), (unsigned long long)s->seq.value_or(0),
			    s->replay, s->integrity_failed);
		return 0;
	}
	if (op != "add" && op != "update")
		throw std::runtime_error("sa add|update|del|stats, not " + op);
	XfrmSa sa;
	while (a.more()) {
		const std::string k = a.next("keyword");
		if (k == "src")
			sa.src = a.address("src");
		else if (k == "dst")
			sa.id.dst = a.address("dst");
		else if (k == "spi")
			sa.id.spi = uint32_t(a.number("spi"));
		else if (k == "proto")
			sa.id.proto = proto_of(a.next("proto"));
		else if (k == "mode")
			sa.mode = mode_of(a.next("mode"));
		else if (k == "reqid")
			sa.reqid = uint32_t(a.number("reqid"));
		else if (k == "aead") {
			sa.aead_name = a.next("AEAD name");
			sa.aead_key = hex_key(a.next("AEAD key"));
			sa.aead_icv_bits = uint32_t(a.number("ICV bits"));
		} else if (k == "enc") {
			sa.enc_name = a.next("cipher name");
			sa.enc_key = hex_key(a.next("cipher key"));
		} else if (k == "auth") {
			sa.auth_name = a.next("integrity name");
			sa.auth_key = hex_key(a.next("integrity key"));
			sa.auth_trunc_bits = uint32_t(a.number("truncation bits"));
		} else if (k == "esn")
			sa.esn = true;
		else if (k == "replay-window")
			sa.replay_window = uint32_t(a.number("replay window"));
		else if (k == "encap") {
			XfrmEncap e;
			e.sport = uint16_t(a.number("encap source port"));
			e.dport = uint16_t(a.number("encap destination port"));
			sa.encap = e;
		} else if (k == "soft-add")
			sa.lifetime.soft_add_seconds = a.number("soft-add");
		else if (k == "hard-add")
			sa.lifetime.hard_add_seconds = a.number("hard-add");
		else if (k == "sel")
			sa.selector = selector(a);
		else
			throw std::runtime_error("unknown keyword " + k);
	}
	if (op == "add")
		x.add_sa(sa);
	else
		x.update_sa(sa);
	return 0;
}

int policy_command(Args &a)
{
	const std::string op = a.next("policy add|update|del");
	XfrmPolicy p;
	while (a.more()) {
		const std::string k = a.next("keyword");
		if (k == "sel")
			p.selector = selector(a);
		else if (k == "dir")
			p.dir = dir_of(a.next("dir"));
		else if (k == "priority")
			p.priority = uint32_t(a.number("priority"));
		else if (k == "tmpl") {
			XfrmTemplate t;
			t.src = a.address("template source");
			t.dst = a.address("template destination");
			t.proto = proto_of(a.next("template protocol"));
			t.mode = mode_of(a.next("template mode"));
			t.reqid = uint32_t(a.number("template reqid"));
			p.templates.push_back(t);
		} else
			throw std::runtime_error("unknown keyword " + k);
	}
	Xfrm x;
	if (op == "del") {
		std::puts(x.del_policy(p.selector, p.dir) ? "deleted" : "absent");
		return 0;
	}
	if (op == "add")
		x.add_policy(p);
	else if (op == "update")
		x.update_policy(p);
	else
		throw std::runtime_error("policy add|update|del, not " + op);
	return 0;
}

const char *dir_name(XfrmDir d)
{
	return d == XfrmDir::in ? "in" : d == XfrmDir::out ? "out" : "fwd";
}

void print_event(const XfrmEvent &ev)
{
	if (const auto *q = std::get_if<XfrmAcquire>(&ev)) {
		std::printf("acquire dir %s index %u seq %u src %s dst %s tmpl proto %u mode %s reqid %u "
			    "sel %s -> %s proto %u\n",
			    dir_name(q->dir), q->policy_index, q->seq, q->src.str().c_str(),
			    q->dst.str().c_str(), q->tmpl.proto,
			    q->tmpl.mode == XfrmMode::tunnel ? "tunnel" : "transport", q->tmpl.reqid,
			    q->selector.src.str().c_str(), q->selector.dst.str().c_str(),
			    q->selector.proto);
	} else if (const auto *e = std::get_if<XfrmExpire>(&ev)) {
		std::printf("expire %s dst %s spi 0x%08x proto %u src %s reqid %u\n",
			    e->hard ? "hard" : "soft", e->id.dst.str().c_str(), e->id.spi, e->id.proto,
			    e->src.str().c_str(), e->reqid);
	}
	std::fflush(stdout);
}

int monitor_command(Args &a)
{
	const auto seconds = a.number("seconds");
	const auto want = a.number("event count");
	const std::string only = a.more() ? a.next("event kind") : "";
	XfrmMonitor m;
	std::puts("ready");
	std::fflush(stdout);
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
	uint64_t seen = 0;
	while (seen < want) {
		const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
			deadline - std::chrono::steady_clock::now());
		if (left.count() <= 0)
			return 1;
		pollfd p{m.fd(), POLLIN, 0};
		if (poll(&p, 1, int(left.count())) < 0 && errno != EINTR)
			throw std::runtime_error("poll failed");
		for (const auto &ev : m.read()) {
			if ((only == "acquire" && !std::holds_alternative<XfrmAcquire>(ev)) ||
			    (only == "expire" && !std::holds_alternative<XfrmExpire>(ev)))
				continue;
			print_event(ev);
			++seen;
		}
	}
	if (m.lost())
		std::printf("lost %llu\n", (unsigned long long)m.lost());
	return 0;
}

int encap_socket_command(Args &a)
{
	const auto port = a.number("port");
	const auto seconds = a.number("seconds");
	const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sockaddr_in sin{};
	sin.sin_family = AF_INET;
	sin.sin_port = htons(uint16_t(port));
	const int type = UDP_ENCAP_ESPINUDP;
	if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) < 0 ||
	    setsockopt(fd, IPPROTO_UDP, UDP_ENCAP, &type, sizeof(type)) < 0)
		throw std::runtime_error("UDP_ENCAP socket on port " + std::to_string(port) + ": " +
					 std::strerror(errno));
	std::puts("ready");
	std::fflush(stdout);
	pollfd p{fd, POLLIN, 0};
	// What reaches the socket itself is IKE (or nothing here): ESP in UDP
	// never does, the kernel takes it first.
	poll(&p, 1, int(seconds * 1000));
	close(fd);
	return 0;
}

int run(Args &a)
{
	const std::string cmd = a.next("command");
	if (cmd == "sa")
		return sa_command(a);
	if (cmd == "policy")
		return policy_command(a);
	if (cmd == "spi") {
		IpAddress src, dst;
		uint32_t reqid = 0;
		for (int i = 0; i < 3; ++i) {
			const std::string k = a.next("keyword");
			if (k == "src")
				src = a.address("src");
			else if (k == "dst")
				dst = a.address("dst");
			else if (k == "reqid")
				reqid = uint32_t(a.number("reqid"));
			else
				throw std::runtime_error("unknown keyword " + k);
		}
		uint32_t min = 0x100, max = 0xffffffff;
		if (a.more()) {
			min = uint32_t(a.number("min"));
			max = uint32_t(a.number("max"));
		}
		Xfrm x;
		std::printf("0x%08x\n", x.alloc_spi(src, dst, IPPROTO_ESP, reqid, min, max));
		return 0;
	}
	if (cmd == "monitor")
		return monitor_command(a);
	if (cmd == "encap-socket")
		return encap_socket_command(a);
	if (cmd == "flush") {
		Xfrm x;
		x.flush_policies();
		x.flush_sas();
		return 0;
	}
	throw std::runtime_error("unknown command " + cmd);
}

} // namespace

int main(int argc, char **argv)
{
	Args a(argc, argv);
	try {
		return run(a);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "xfrm_probe: %s\n", e.what());
		return 2;
	}
}
