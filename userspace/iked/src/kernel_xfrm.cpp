#include "umigame/iked/kernel_xfrm.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "umigame/iked/selectors.h"
#include "umigame/log.h"
#include "umigame/sa_netlink.h"
#include "esp.h"

namespace umigame::iked {

namespace {

// umigame.ko's BTF appears when the module is loaded (docs/kmod.md).
constexpr const char *kModuleBtf = "/sys/kernel/btf/umigame";

SecretBytes secret(const ike::Secret &s)
{
	SecretBytes out(s.size());
	std::copy(s.data(), s.data() + s.size(), out.data());
	return out;
}

IpPrefix host(const IpAddress &a)
{
	return {a, static_cast<uint8_t>(a.size() * 8)};
}

// Each selector becomes the prefixes that cover it (XFRM selectors are
// prefixes and a single port or all ports).
struct KernelSelector {
	IpPrefix prefix;
	uint8_t proto;
	PortMatch port;
};

std::vector<KernelSelector> kernel_selectors(const std::vector<ike::TrafficSelector> &list)
{
	std::vector<KernelSelector> out;
	for (const auto &ts : list) {
		auto prefixes = range_to_prefixes(ts.start, ts.end);
		auto port = port_match(ts.start_port, ts.end_port);
		if (!prefixes || !port) {
			log::warning("traffic selector " + to_string(ts) +
				     " cannot be expressed as XFRM selectors; skipped");
			continue;
		}
		for (const auto &p : *prefixes)
			out.push_back({p, ts.ip_protocol, *port});
	}
	return out;
}

} // namespace

XfrmKernel::XfrmKernel()
{
	if (access(kModuleBtf, F_OK) == 0) {
		try {
			module_ = std::make_unique<SaNetlink>();
			log::info("umigame.ko is loaded: inbound SAs also go to its ESP SA table (XDP fast path)");
		} catch (const std::exception &e) {
			log::warning(std::string("umigame.ko is loaded but its SA family is not usable: ") + e.what());
		}
	}
}

XfrmKernel::~XfrmKernel() = default;

bool XfrmKernel::xdp_path(const ChildSaSpec &spec) const
{
	return module_ && spec.xdp;
}

uint32_t XfrmKernel::allocate_spi(const Endpoint &local, const Endpoint &remote, uint32_t reqid)
{
	// A larval inbound SA (remote -> local) that add_inbound completes.
	return xfrm_.alloc_spi(remote.addr, local.addr, IPPROTO_ESP, reqid);
}

XfrmSa XfrmKernel::sa_for(const ChildSaSpec &spec, bool inbound) const
{
	XfrmSa sa;
	sa.id.dst = inbound ? spec.local.addr : spec.remote.addr;
	sa.id.spi = inbound ? spec.spi_in : spec.spi_out;
	sa.id.proto = IPPROTO_ESP;
	sa.src = inbound ? spec.remote.addr : spec.local.addr;
	sa.mode = spec.transport ? XfrmMode::transport : XfrmMode::tunnel;
	sa.reqid = spec.reqid;
	ike::CipherSuite suite = spec.algorithms.suite();
	const ike::Secret &encr = inbound ? spec.encr_in : spec.encr_out;
	const ike::Secret &integ = inbound ? spec.integ_in : spec.integ_out;
	if (suite.aead()) {
		sa.aead_name = suite.xfrm_aead_name();
		sa.aead_key = secret(encr);
		sa.aead_icv_bits = static_cast<uint32_t>(suite.icv_size() * 8);
	} else {
		sa.enc_name = suite.xfrm_enc_name();
		sa.enc_key = secret(encr);
		sa.auth_name = suite.xfrm_auth_name();
		sa.auth_key = secret(integ);
		sa.auth_trunc_bits = suite.xfrm_auth_trunc_bits();
	}
	sa.esn = spec.algorithms.esn();
	// With ESN the kernel keeps its 64-bit counters in the replay state, so
	// even an outbound SA carries one (its window is unused there).
	sa.replay_window = inbound || sa.esn ? std::max<uint32_t>(spec.replay_window, 1) : 0;
	// Without ESN the kernel's window is the legacy 8-bit field.
	if (!sa.esn)
		sa.replay_window = std::min<uint32_t>(sa.replay_window, 255);
	if (spec.encap) {
		XfrmEncap e;
		e.sport = inbound ? spec.remote.port : spec.local.port;
		e.dport = inbound ? spec.local.port : spec.remote.port;
		sa.encap = e;
	}
	// Soft expiry tells the daemon to rekey (XFRMNLGRP_EXPIRE); hard is
	// the kernel's own safety net should the daemon not manage it.
	if (spec.soft_life.count())
		sa.lifetime.soft_add_seconds = static_cast<uint64_t>(spec.soft_life.count());
	if (spec.hard_life.count())
		sa.lifetime.hard_add_seconds = static_cast<uint64_t>(spec.hard_life.count());
	if (spec.soft_bytes)
		sa.lifetime.soft_bytes = spec.soft_bytes;
	if (spec.soft_packets)
		sa.lifetime.soft_packets = spec.soft_packets;
	if (spec.transport && !spec.local_ts.empty() && !spec.remote_ts.empty()) {
		// Transport mode: the SA's own selector is the endpoints.
		sa.selector.src = host(sa.src);
		sa.selector.dst = host(sa.id.dst);
	} else {
		sa.selector.src = IpPrefix{IpAddress{sa.src.family, {}}, 0};
		sa.selector.dst = IpPrefix{IpAddress{sa.src.family, {}}, 0};
	}
	return sa;
}

void XfrmKernel::add_inbound(const ChildSaSpec &spec)
{
	xfrm_.update_sa(sa_for(spec, true));
	if (xdp_path(spec))
		module_add(spec);
}

void XfrmKernel::add_outbound(const ChildSaSpec &spec)
{
	XfrmSa sa = sa_for(spec, false);
	try {
		xfrm_.add_sa(sa);
	} catch (const NetlinkError &e) {
		if (e.error() != EEXIST)
			throw;
		xfrm_.update_sa(sa); // a NAT mapping moved: new encap port
	}
}

void XfrmKernel::del_inbound(const ChildSaSpec &spec)
{
	if (module_)
		module_del(spec);
	xfrm_.del_sa({spec.local.addr, spec.spi_in, IPPROTO_ESP});
}

void XfrmKernel::del_outbound(const ChildSaSpec &spec)
{
	xfrm_.del_sa({spec.remote.addr, spec.spi_out, IPPROTO_ESP});
}

std::vector<XfrmPolicy> XfrmKernel::policies_for(const ChildSaSpec &spec) const
{
	std::vector<XfrmPolicy> out;
	auto locals = kernel_selectors(spec.local_ts);
	auto remotes = kernel_selectors(spec.remote_ts);
	XfrmMode mode = spec.transport ? XfrmMode::transport : XfrmMode::tunnel;
	for (const auto &l : locals) {
		for (const auto &r : remotes) {
			if (l.prefix.address.family != r.prefix.address.family)
				continue;
			uint8_t proto = l.proto ? l.proto : r.proto;
			for (XfrmDir dir : {XfrmDir::out, XfrmDir::in, XfrmDir::fwd}) {
				if (dir == XfrmDir::fwd && spec.transport)
					continue;
				bool out_dir = dir == XfrmDir::out;
				XfrmPolicy p;
				p.dir = dir;
				p.selector.src = out_dir ? l.prefix : r.prefix;
				p.selector.dst = out_dir ? r.prefix : l.prefix;
				p.selector.proto = proto;
				const PortMatch &sp = out_dir ? l.port : r.port;
				const PortMatch &dp = out_dir ? r.port : l.port;
				p.selector.sport = sp.port;
				p.selector.sport_mask = sp.mask;
				p.selector.dport = dp.port;
				p.selector.dport_mask = dp.mask;
				// More specific selectors first, as the kernel orders by
				// priority (lower wins).
				p.priority = 200000 - (l.prefix.length + r.prefix.length) * 100u;
				XfrmTemplate t;
				t.proto = IPPROTO_ESP;
				t.mode = mode;
				t.reqid = spec.reqid;
				if (!spec.transport) {
					t.src = out_dir ? spec.local.addr : spec.remote.addr;
					t.dst = out_dir ? spec.remote.addr : spec.local.addr;
				}
				t.optional = !out_dir && xdp_path(spec);
				p.templates.push_back(t);
				out.push_back(p);
			}
		}
	}
	return out;
}

void XfrmKernel::add_policies(const ChildSaSpec &spec)
{
	for (const auto &p : policies_for(spec)) {
		try {
			xfrm_.add_policy(p);
		} catch (const NetlinkError &e) {
			if (e.error() != EEXIST)
				throw;
			xfrm_.update_policy(p); // a rekey or a trap policy turned real
		}
	}
}

void XfrmKernel::remove_policies(const ChildSaSpec &spec)
{
	for (const auto &p : policies_for(spec))
		xfrm_.del_policy(p.selector, p.dir);
}

void XfrmKernel::add_trap(const ConnectionConfig &conn, const ChildConfig &child, uint32_t reqid)
{
	// A trap is an outbound policy whose template has no SA yet: the first
	// packet makes the kernel send ACQUIRE (and drops or queues it).
	ChildSaSpec spec;
	spec.reqid = reqid;
	spec.transport = child.transport;
	spec.local.addr = conn.local_addr;
	spec.remote.addr = conn.remote_addr;
	for (const auto &p : child.local_ts)
		spec.local_ts.push_back(selector_for(p, child.ip_protocol));
	for (const auto &p : child.remote_ts)
		spec.remote_ts.push_back(selector_for(p, child.ip_protocol));
	for (auto p : policies_for(spec)) {
		if (p.dir != XfrmDir::out)
			continue;
		if (p.templates.front().src.is_unset())
			p.templates.front().src = IpAddress{p.templates.front().dst.family, {}};
		try {
			xfrm_.add_policy(p);
		} catch (const NetlinkError &e) {
			if (e.error() != EEXIST)
				throw;
			xfrm_.update_policy(p);
		}
	}
}

void XfrmKernel::remove_trap(const ConnectionConfig &conn, const ChildConfig &child, uint32_t reqid)
{
	ChildSaSpec spec;
	spec.reqid = reqid;
	spec.transport = child.transport;
	spec.local.addr = conn.local_addr;
	spec.remote.addr = conn.remote_addr;
	for (const auto &p : child.local_ts)
		spec.local_ts.push_back(selector_for(p, child.ip_protocol));
	for (const auto &p : child.remote_ts)
		spec.remote_ts.push_back(selector_for(p, child.ip_protocol));
	for (const auto &p : policies_for(spec))
		if (p.dir == XfrmDir::out)
			xfrm_.del_policy(p.selector, p.dir);
}

std::optional<Kernel::Usage> XfrmKernel::inbound_usage(const ChildSaSpec &spec)
{
	try {
		auto s = xfrm_.sa_stats({spec.local.addr, spec.spi_in, IPPROTO_ESP});
		if (!s)
			return std::nullopt;
		Usage u{s->bytes, s->packets};
		if (module_) {
			auto it = module_ids_.find(spec.spi_in);
			if (it != module_ids_.end()) {
				EspSa m = module_->get(it->second);
				u.bytes += m.used_bytes;
				u.packets += m.used_packets;
			}
		}
		return u;
	} catch (const std::exception &) {
		return std::nullopt;
	}
}

void XfrmKernel::module_add(const ChildSaSpec &spec)
{
	ike::CipherSuite suite = spec.algorithms.suite();
	EspSaParams p;
	p.spi = spec.spi_in;
	p.family = spec.local.addr.family;
	std::copy(spec.remote.addr.bytes.begin(), spec.remote.addr.bytes.end(), p.src.begin());
	std::copy(spec.local.addr.bytes.begin(), spec.local.addr.bytes.end(), p.dst.begin());
	p.mode = spec.transport ? UMIGAME_ESP_MODE_TRANSPORT : UMIGAME_ESP_MODE_TUNNEL;
	p.encap_port = spec.encap ? spec.local.port : 0;
	if (suite.aead()) {
		p.suite = UMIGAME_ESP_SUITE_AES_GCM;
		p.enc_key = secret(spec.encr_in);
		p.icv_len = static_cast<uint8_t>(suite.icv_size());
	} else if (suite.integ == ike::integ::HMAC_SHA2_256_128) {
		p.suite = UMIGAME_ESP_SUITE_AES_CBC_SHA256;
		p.enc_key = secret(spec.encr_in);
		p.auth_key = secret(spec.integ_in);
		p.icv_len = 16;
	} else {
		return; // a suite the module lacks: xfrm alone decrypts it
	}
	// The module's window is its own (up to 65536, RFC 6479); ESN only
	// with a window.
	p.replay_window = 65536;
	p.flags = spec.algorithms.esn() ? UMIGAME_ESP_F_ESN : 0;
	try {
		module_ids_[spec.spi_in] = module_->add(p);
	} catch (const std::exception &e) {
		log::warning("umigame.ko refused SA " + std::to_string(spec.spi_in) + ": " + e.what() +
			     " (xfrm still decrypts it)");
		return;
	}
	sync_fast_path();
}

void XfrmKernel::module_del(const ChildSaSpec &spec)
{
	auto it = module_ids_.find(spec.spi_in);
	if (it == module_ids_.end())
		return;
	try {
		module_->del(it->second);
	} catch (const std::exception &e) {
		log::warning(std::string("umigame.ko: deleting an SA: ") + e.what());
	}
	module_ids_.erase(it);
	sync_fast_path();
}

void XfrmKernel::sync_fast_path()
{
	// The XDP program finds SAs through its own map (docs/esp.md): keep
	// it in step with the module wherever `umigame esp` is attached.
	try {
		sync_pinned_from_module();
	} catch (const std::exception &e) {
		log::warning(std::string("the ESP fast path's SA map was not updated: ") + e.what() +
			     " (the daemon needs CAP_BPF for it; docs/ike.md)");
	}
}

} // namespace umigame::iked
