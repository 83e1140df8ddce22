// xfrm_install_bench: the same-run baseline for umigame-iked's CHILD_SA
// install latency (`umigame ike show --json`, "child_install"). It makes
// the kernel calls the daemon makes for one tunnel-mode AES-GCM-128
// CHILD_SA — UPDSA of the inbound SA that ALLOCSPI left larval, NEWSA of
// the outbound one, NEWPOLICY out, in and fwd — through the thin
// libumigame-ipsec wrapper, timed the way the daemon times them (steady
// clock around exactly those calls), then removes them untimed. What the
// daemon adds on top is its own bookkeeping; what both pay is the kernel.
//
// usage: xfrm_install_bench [N]    (default 500; prints one JSON object)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <netinet/in.h>

#include "umigame/xfrm.h"

using namespace umigame;

namespace {

IpAddress v4(uint32_t a)
{
	uint8_t b[4] = {uint8_t(a >> 24), uint8_t(a >> 16), uint8_t(a >> 8), uint8_t(a)};
	return IpAddress::v4(b);
}

XfrmSa gcm_sa(IpAddress src, IpAddress dst, uint32_t spi, uint32_t reqid, bool inbound)
{
	XfrmSa sa;
	sa.id = {dst, spi, IPPROTO_ESP};
	sa.src = src;
	sa.mode = XfrmMode::tunnel;
	sa.reqid = reqid;
	sa.aead_name = "rfc4106(gcm(aes))";
	sa.aead_key = SecretBytes(20); // AES-128 key and salt (RFC 4106 §8.1)
	for (size_t i = 0; i < sa.aead_key.size(); i++)
		sa.aead_key.data()[i] = static_cast<uint8_t>(spi + i);
	sa.esn = true;
	sa.replay_window = inbound ? 4096 : 1;
	sa.selector.src = IpPrefix{IpAddress{src.family, {}}, 0};
	sa.selector.dst = IpPrefix{IpAddress{src.family, {}}, 0};
	return sa;
}

} // namespace

int main(int argc, char **argv)
{
	int n = argc > 1 ? std::atoi(argv[1]) : 500;
	if (n <= 0)
		n = 500;
	const IpAddress local = v4(0xc0000201), remote = v4(0xc0000202); // 192.0.2.1, .2
	std::vector<double> us;
	try {
		Xfrm x;
		for (int i = 0; i < n; i++) {
			uint32_t reqid = 100000 + static_cast<uint32_t>(i);
			uint32_t spi_in = x.alloc_spi(remote, local, IPPROTO_ESP, reqid);
			uint32_t spi_out = 0x10000 + static_cast<uint32_t>(i);
			XfrmSa in = gcm_sa(remote, local, spi_in, reqid, true);
			XfrmSa out = gcm_sa(local, remote, spi_out, reqid, false);
			IpPrefix ours{v4(0x0a000000u | static_cast<uint32_t>(i)), 32};
			IpPrefix theirs{v4(0x0a800000u | static_cast<uint32_t>(i)), 32};
			std::vector<XfrmPolicy> policies;
			for (XfrmDir dir : {XfrmDir::out, XfrmDir::in, XfrmDir::fwd}) {
				bool o = dir == XfrmDir::out;
				XfrmPolicy p;
				p.dir = dir;
				p.selector.src = o ? ours : theirs;
				p.selector.dst = o ? theirs : ours;
				p.priority = 200000 - 64 * 100;
				XfrmTemplate t;
				t.mode = XfrmMode::tunnel;
				t.reqid = reqid;
				t.src = o ? local : remote;
				t.dst = o ? remote : local;
				p.templates.push_back(t);
				policies.push_back(p);
			}
			auto t0 = std::chrono::steady_clock::now();
			x.update_sa(in);
			x.add_sa(out);
			for (const auto &p : policies)
				x.add_policy(p);
			auto t1 = std::chrono::steady_clock::now();
			us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
			for (const auto &p : policies)
				x.del_policy(p.selector, p.dir);
			x.del_sa(in.id);
			x.del_sa(out.id);
		}
	} catch (const std::exception &e) {
		std::fprintf(stderr, "xfrm_install_bench: %s\n", e.what());
		return 1;
	}
	std::sort(us.begin(), us.end());
	auto pct = [&](double q) { return us[static_cast<size_t>(q * static_cast<double>(us.size() - 1))]; };
	std::printf("{\"samples\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n", us.size(), pct(0.5),
		    pct(0.99), us.back());
	return 0;
}
