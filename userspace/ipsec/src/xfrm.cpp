// The kernel's XFRM over NETLINK_XFRM; see xfrm.h.
#include "umigame/xfrm.h"

#include "umigame/event_loop.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <system_error>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/ipsec.h>
#include <linux/udp.h>
#include <linux/xfrm.h>
#include <strings.h>
#include <sys/socket.h>

namespace umigame {

namespace {

// Our largest request: xfrm_usersa_info, two algorithms with keys, a 4096-bit
// replay bitmap (512 bytes), encapsulation, mark: well under this.
constexpr size_t kRequestSize = 4096;
// One multicast datagram holds one event; replies to GETSA are small. The
// kernel's netlink skbs stay under this.
constexpr size_t kRecvSize = 65536;
// What the kernel's replay bitmap holds at most, in packets (bits).
constexpr uint32_t kMaxEsnWindow = XFRMA_REPLAY_ESN_MAX;
// Templates per policy: the kernel's XFRM_MAX_DEPTH (not in the uapi).
constexpr size_t kMaxTemplates = 6;
// How much the monitor may queue before the kernel drops events: an EXPIRE
// lost means an SA that is never rekeyed.
constexpr int kMonitorRcvbuf = 1 << 20;

constexpr std::array<const char *, 30> kXfrmAttrNames = {
	"UNSPEC",	   "ALG_AUTH",	      "ALG_CRYPT",	"ALG_COMP",	  "ENCAP",
	"TMPL",		   "SA",	      "POLICY",		"SEC_CTX",	  "LTIME_VAL",
	"REPLAY_VAL",	   "REPLAY_THRESH",   "ETIMER_THRESH",	"SRCADDR",	  "COADDR",
	"LASTUSED",	   "POLICY_TYPE",     "MIGRATE",	"ALG_AEAD",	  "KMADDRESS",
	"ALG_AUTH_TRUNC",  "MARK",	      "TFCPAD",		"REPLAY_ESN_VAL", "SA_EXTRA_FLAGS",
	"PROTO",	   "ADDRESS_FILTER",  "PAD",		"OFFLOAD_DEV",	  "SET_MARK",
};
static_assert(XFRMA_ALG_AEAD == 18 && XFRMA_REPLAY_ESN_VAL == 23 && XFRMA_SET_MARK == 29,
	      "kXfrmAttrNames follows <linux/xfrm.h>");

[[noreturn]] void invalid(const std::string &what)
{
	throw std::invalid_argument(what);
}

[[noreturn]] void malformed(const std::string &what)
{
	throw std::runtime_error("malformed xfrm message: " + what);
}

bool known_family(unsigned family) { return family == AF_INET || family == AF_INET6; }

uint8_t max_prefix(unsigned family) { return family == AF_INET ? 32 : 128; }

void put_address(xfrm_address_t &to, const IpAddress &a)
{
	std::memset(&to, 0, sizeof(to));
	if (!a.is_unset())
		std::memcpy(&to, a.bytes.data(), a.size());
}

// An address the kernel sent, in the family it said; all-zero as unset when
// `zero_is_unset` (template endpoints of transport mode).
IpAddress get_address(const xfrm_address_t &from, unsigned family, bool zero_is_unset = false)
{
	std::array<uint8_t, 16> b{};
	std::memcpy(b.data(), &from, sizeof(b));
	if (zero_is_unset && b == std::array<uint8_t, 16>{})
		return {};
	if (family == AF_INET)
		return IpAddress::v4(std::span<const uint8_t, 4>(b.data(), 4));
	return IpAddress::v6(std::span<const uint8_t, 16>(b.data(), 16));
}

// A prefix the kernel sent; host bits cleared (IpPrefix keeps them zero).
IpPrefix get_prefix(const xfrm_address_t &from, unsigned family, uint8_t len)
{
	if (len > max_prefix(family))
		malformed("prefix length " + std::to_string(len));
	IpPrefix p{get_address(from, family), len};
	for (size_t bit = len; bit < 128; ++bit)
		p.address.bytes[bit / 8] &= uint8_t(~(0x80u >> (bit % 8)));
	return p;
}

uint16_t selector_family(const XfrmSelector &s)
{
	const uint8_t src = s.src.address.family, dst = s.dst.address.family;
	if (src && dst && src != dst)
		invalid("selector " + s.src.str() + " -> " + s.dst.str() + " mixes address families");
	return src ? src : dst;
}

// `fallback`: the family of an empty selector (0 leaves it to the kernel).
xfrm_selector to_selector(const XfrmSelector &s, uint16_t fallback)
{
	xfrm_selector out{};
	const uint16_t family = selector_family(s) ? selector_family(s) : fallback;
	for (const IpPrefix *p : {&s.src, &s.dst})
		if (!p->address.is_unset() && p->length > max_prefix(family))
			invalid("selector prefix " + p->str() + " is too long");
	out.family = family;
	put_address(out.saddr, s.src.address);
	put_address(out.daddr, s.dst.address);
	out.prefixlen_s = s.src.address.is_unset() ? 0 : s.src.length;
	out.prefixlen_d = s.dst.address.is_unset() ? 0 : s.dst.length;
	out.proto = s.proto;
	// A port with a zero mask would match every port.
	out.sport = htons(s.sport);
	out.sport_mask = htons(s.sport && !s.sport_mask ? 0xffff : s.sport_mask);
	out.dport = htons(s.dport);
	out.dport_mask = htons(s.dport && !s.dport_mask ? 0xffff : s.dport_mask);
	return out;
}

XfrmSelector from_selector(const xfrm_selector &s)
{
	if (!known_family(s.family))
		malformed("selector family " + std::to_string(s.family));
	XfrmSelector out;
	out.src = get_prefix(s.saddr, s.family, s.prefixlen_s);
	out.dst = get_prefix(s.daddr, s.family, s.prefixlen_d);
	out.proto = s.proto;
	out.sport = ntohs(s.sport);
	out.sport_mask = ntohs(s.sport_mask);
	out.dport = ntohs(s.dport);
	out.dport_mask = ntohs(s.dport_mask);
	return out;
}

xfrm_lifetime_cfg to_lifetime(const XfrmLifetime &l)
{
	xfrm_lifetime_cfg out{};
	out.soft_byte_limit = l.soft_bytes;
	out.hard_byte_limit = l.hard_bytes;
	out.soft_packet_limit = l.soft_packets;
	out.hard_packet_limit = l.hard_packets;
	out.soft_add_expires_seconds = l.soft_add_seconds;
	out.hard_add_expires_seconds = l.hard_add_seconds;
	return out;
}

nlmsghdr *start_request(std::vector<uint8_t> &buf, uint16_t type, uint32_t seq)
{
	buf.assign(kRequestSize, 0);
	auto *nlh = mnl_nlmsg_put_header(buf.data());
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	return nlh;
}

// Room for one attribute of `len` payload bytes, zeroed; written in place so
// that keys are never copied through a temporary.
void *put_attr(nlmsghdr *nlh, uint16_t type, size_t len)
{
	const size_t need = MNL_ALIGN(sizeof(nlattr)) + MNL_ALIGN(len);
	if (need > 0xffff || nlh->nlmsg_len + need > kRequestSize)
		invalid("xfrm request too large");
	auto *a = static_cast<nlattr *>(mnl_nlmsg_get_payload_tail(nlh));
	a->nla_type = type;
	a->nla_len = uint16_t(MNL_ALIGN(sizeof(nlattr)) + len);
	void *payload = mnl_attr_get_payload(a);
	std::memset(payload, 0, MNL_ALIGN(len));
	nlh->nlmsg_len += uint32_t(need);
	return payload;
}

void put_name(char (&to)[64], const std::string &name, const char *what)
{
	if (name.size() >= sizeof(to))
		invalid(std::string(what) + " name '" + name + "' is longer than 63 bytes");
	std::memcpy(to, name.data(), name.size());
}

uint32_t key_bits(const SecretBytes &key)
{
	if (key.size() > UINT32_MAX / 8)
		invalid("key too long");
	return uint32_t(key.size() * 8);
}

void put_algorithms(nlmsghdr *nlh, const XfrmSa &sa)
{
	const bool aead = !sa.aead_name.empty() || !sa.aead_key.empty();
	const bool cipher = !sa.enc_name.empty() || !sa.enc_key.empty();
	const bool auth = !sa.auth_name.empty() || !sa.auth_key.empty();
	if (sa.id.proto == IPPROTO_AH) {
		if (aead || cipher || !auth)
			invalid("an AH SA takes an integrity algorithm and nothing else");
	} else if (aead && (cipher || auth)) {
		invalid("an SA takes either an AEAD or a cipher and integrity algorithm, not both");
	} else if (!aead && !cipher) {
		invalid("an ESP SA needs an AEAD or a cipher (ESP without encryption: "
			"\"ecb(cipher_null)\")");
	}
	if ((aead && sa.aead_name.empty()) || (cipher && sa.enc_name.empty()) ||
	    (auth && sa.auth_name.empty()))
		invalid("a key without an algorithm name");

	if (aead) {
		auto *a = static_cast<xfrm_algo_aead *>(
			put_attr(nlh, XFRMA_ALG_AEAD, sizeof(xfrm_algo_aead) + sa.aead_key.size()));
		put_name(a->alg_name, sa.aead_name, "AEAD");
		a->alg_key_len = key_bits(sa.aead_key); // the salt included
		a->alg_icv_len = sa.aead_icv_bits;
		if (!sa.aead_key.empty())
			std::memcpy(a->alg_key, sa.aead_key.data(), sa.aead_key.size());
	}
	if (cipher) {
		auto *a = static_cast<xfrm_algo *>(
			put_attr(nlh, XFRMA_ALG_CRYPT, sizeof(xfrm_algo) + sa.enc_key.size()));
		put_name(a->alg_name, sa.enc_name, "cipher");
		a->alg_key_len = key_bits(sa.enc_key);
		if (!sa.enc_key.empty())
			std::memcpy(a->alg_key, sa.enc_key.data(), sa.enc_key.size());
	}
	if (auth && sa.auth_trunc_bits) {
		auto *a = static_cast<xfrm_algo_auth *>(put_attr(
			nlh, XFRMA_ALG_AUTH_TRUNC, sizeof(xfrm_algo_auth) + sa.auth_key.size()));
		put_name(a->alg_name, sa.auth_name, "integrity");
		a->alg_key_len = key_bits(sa.auth_key);
		a->alg_trunc_len = sa.auth_trunc_bits;
		if (!sa.auth_key.empty())
			std::memcpy(a->alg_key, sa.auth_key.data(), sa.auth_key.size());
	} else if (auth) {
		auto *a = static_cast<xfrm_algo *>(
			put_attr(nlh, XFRMA_ALG_AUTH, sizeof(xfrm_algo) + sa.auth_key.size()));
		put_name(a->alg_name, sa.auth_name, "integrity");
		a->alg_key_len = key_bits(sa.auth_key);
		if (!sa.auth_key.empty())
			std::memcpy(a->alg_key, sa.auth_key.data(), sa.auth_key.size());
	}
}

void put_mark(nlmsghdr *nlh, uint32_t mark, uint32_t mask)
{
	if (!mask)
		return;
	auto *m = static_cast<xfrm_mark *>(put_attr(nlh, XFRMA_MARK, sizeof(xfrm_mark)));
	m->v = mark;
	m->m = mask;
}

// Calls f(type, payload) for each attribute; one that overruns the span, or
// bytes left over that hold no attribute, are malformed.
template <class F> void for_each_attr(std::span<const uint8_t> attrs, F &&f)
{
	size_t off = 0;
	while (off < attrs.size()) {
		if (attrs.size() - off < sizeof(nlattr))
			malformed("truncated attribute header");
		nlattr a;
		std::memcpy(&a, attrs.data() + off, sizeof(a));
		if (a.nla_len < sizeof(nlattr) || a.nla_len > attrs.size() - off)
			malformed("attribute " + std::to_string(a.nla_type & NLA_TYPE_MASK) +
				  " overruns its message");
		f(uint16_t(a.nla_type & NLA_TYPE_MASK),
		  attrs.subspan(off + NLA_HDRLEN, a.nla_len - NLA_HDRLEN));
		off += std::min<size_t>(NLA_ALIGN(size_t(a.nla_len)), attrs.size() - off);
	}
}

// A message's fixed struct T and the attributes behind it.
template <class T> T fixed_part(std::span<const uint8_t> msg, const char *what,
				std::span<const uint8_t> *attrs)
{
	const auto payload = msg.subspan(NLMSG_HDRLEN);
	if (payload.size() < sizeof(T))
		malformed(std::string(what) + " payload of " + std::to_string(payload.size()) +
			  " bytes, " + std::to_string(sizeof(T)) + " needed");
	T out;
	std::memcpy(&out, payload.data(), sizeof(T));
	const size_t skip = std::min(payload.size(), NLMSG_ALIGN(sizeof(T)));
	*attrs = payload.subspan(skip);
	return out;
}

std::optional<XfrmTemplate> from_template(const xfrm_user_tmpl &t)
{
	if (t.mode != XFRM_MODE_TRANSPORT && t.mode != XFRM_MODE_TUNNEL)
		return std::nullopt; // BEET and friends: not ours
	if (!known_family(t.family))
		malformed("template family " + std::to_string(t.family));
	XfrmTemplate out;
	out.dst = get_address(t.id.daddr, t.family, true);
	out.src = get_address(t.saddr, t.family, true);
	out.proto = t.id.proto;
	out.mode = XfrmMode(t.mode);
	out.reqid = t.reqid;
	out.spi = ntohl(t.id.spi);
	out.optional = t.optional != 0;
	return out;
}

std::optional<XfrmAcquire> parse_acquire(std::span<const uint8_t> msg)
{
	std::span<const uint8_t> attrs;
	const auto ua = fixed_part<xfrm_user_acquire>(msg, "ACQUIRE", &attrs);
	std::vector<xfrm_user_tmpl> tmpls;
	for_each_attr(attrs, [&](uint16_t type, std::span<const uint8_t> p) {
		if (type != XFRMA_TMPL)
			return;
		if (p.empty() || p.size() % sizeof(xfrm_user_tmpl))
			malformed("XFRMA_TMPL of " + std::to_string(p.size()) + " bytes");
		tmpls.resize(p.size() / sizeof(xfrm_user_tmpl));
		std::memcpy(tmpls.data(), p.data(), p.size());
	});
	if (ua.policy.dir > XFRM_POLICY_FWD)
		malformed("policy direction " + std::to_string(ua.policy.dir));

	XfrmAcquire out;
	out.selector = from_selector(ua.sel);
	out.policy_index = ua.policy.index;
	out.dir = XfrmDir(ua.policy.dir);
	out.seq = ua.seq;
	// The kernel names the SA it wants by the template's protocol; with
	// several templates (nested SAs) the first of that protocol is it.
	const auto it = std::find_if(tmpls.begin(), tmpls.end(), [&](const xfrm_user_tmpl &t) {
		return t.id.proto == ua.id.proto;
	});
	unsigned family = ua.sel.family;
	if (it != tmpls.end()) {
		auto t = from_template(*it);
		if (!t)
			return std::nullopt;
		out.tmpl = *t;
		family = it->family;
	} else {
		out.tmpl.proto = ua.id.proto;
	}
	out.dst = get_address(ua.id.daddr, family);
	out.src = get_address(ua.saddr, family);
	return out;
}

XfrmExpire parse_expire(std::span<const uint8_t> msg)
{
	std::span<const uint8_t> attrs;
	const auto ue = fixed_part<xfrm_user_expire>(msg, "EXPIRE", &attrs);
	for_each_attr(attrs, [](uint16_t, std::span<const uint8_t>) {});
	const auto &st = ue.state;
	if (!known_family(st.family))
		malformed("SA family " + std::to_string(st.family));
	XfrmExpire out;
	out.id.dst = get_address(st.id.daddr, st.family);
	out.id.spi = ntohl(st.id.spi);
	out.id.proto = st.id.proto;
	out.src = get_address(st.saddr, st.family);
	out.reqid = st.reqid;
	out.hard = ue.hard != 0;
	return out;
}

// Walks the netlink messages of one buffer; f(type, whole message).
template <class F> void for_each_message(std::span<const uint8_t> buf, F &&f)
{
	size_t off = 0;
	while (off < buf.size()) {
		if (buf.size() - off < sizeof(nlmsghdr))
			malformed("truncated netlink header");
		nlmsghdr h;
		std::memcpy(&h, buf.data() + off, sizeof(h));
		if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > buf.size() - off)
			malformed("netlink message length " + std::to_string(h.nlmsg_len));
		f(h.nlmsg_type, buf.subspan(off, h.nlmsg_len));
		off += std::min<size_t>(NLMSG_ALIGN(size_t(h.nlmsg_len)), buf.size() - off);
	}
}

ReplyExpect expect_for(const nlmsghdr *nlh, uint32_t portid, uint16_t reply_type, const char *op)
{
	ReplyExpect ex;
	ex.seq = nlh->nlmsg_seq;
	ex.portid = portid;
	ex.type = reply_type;
	ex.op = op;
	ex.attr_names = kXfrmAttrNames;
	// Attributes start behind the message type's fixed struct.
	switch (nlh->nlmsg_type) {
	case XFRM_MSG_NEWSA:
	case XFRM_MSG_UPDSA:
		ex.fixed_len = sizeof(xfrm_usersa_info);
		break;
	case XFRM_MSG_NEWPOLICY:
	case XFRM_MSG_UPDPOLICY:
		ex.fixed_len = sizeof(xfrm_userpolicy_info);
		break;
	case XFRM_MSG_ALLOCSPI:
		ex.fixed_len = sizeof(xfrm_userspi_info);
		break;
	case XFRM_MSG_DELPOLICY:
		ex.fixed_len = sizeof(xfrm_userpolicy_id);
		break;
	default:
		ex.fixed_len = sizeof(xfrm_usersa_id);
		break;
	}
	return ex;
}

bool not_found(const NetlinkError &e) { return e.error() == ESRCH || e.error() == ENOENT; }

xfrm_usersa_id to_sa_id(const XfrmSaId &id)
{
	if (!known_family(id.dst.family))
		invalid("an SA id needs a destination address");
	xfrm_usersa_id out{};
	put_address(out.daddr, id.dst);
	out.spi = htonl(id.spi);
	out.family = id.dst.family;
	out.proto = id.proto;
	return out;
}

} // namespace

std::span<const char *const> xfrm_attr_names() { return kXfrmAttrNames; }

std::vector<uint8_t> build_sa_request(const XfrmSa &sa, bool update, uint32_t seq)
{
	const IpAddress &dst = sa.id.dst, &src = sa.src;
	if (!known_family(dst.family) || !known_family(src.family))
		invalid("an SA needs a source and a destination address");
	if (src.family != dst.family)
		invalid("SA " + src.str() + " -> " + dst.str() + " mixes address families");
	if (sa.id.proto != IPPROTO_ESP && sa.id.proto != IPPROTO_AH)
		invalid("SA protocol " + std::to_string(sa.id.proto) + ": only ESP and AH");
	if (sa.flags > 0xff)
		invalid("SA flags beyond XFRM_STATE_* (8 bits)");
	const bool esn = sa.esn || (sa.flags & XFRM_STATE_ESN);
	if (esn && (sa.replay_window == 0 || sa.replay_window > kMaxEsnWindow))
		invalid("an ESN SA needs a replay window of 1 to " + std::to_string(kMaxEsnWindow) +
			" packets (the kernel's limit), not " + std::to_string(sa.replay_window));
	if (!esn && sa.replay_window > 0xff)
		invalid("without ESN the kernel's replay window holds at most 255 packets, not " +
			std::to_string(sa.replay_window));
	if (sa.encap && sa.id.proto != IPPROTO_ESP)
		invalid("UDP encapsulation is for ESP only");

	std::vector<uint8_t> buf;
	auto *nlh = start_request(buf, update ? XFRM_MSG_UPDSA : XFRM_MSG_NEWSA, seq);
	auto *p = static_cast<xfrm_usersa_info *>(
		mnl_nlmsg_put_extra_header(nlh, sizeof(xfrm_usersa_info)));
	// An empty selector takes the SA's family, unless the caller wants the
	// kernel to keep it open (XFRM_STATE_AF_UNSPEC, inter-family tunnels).
	p->sel = to_selector(sa.selector, (sa.flags & XFRM_STATE_AF_UNSPEC) ? 0 : src.family);
	put_address(p->id.daddr, dst);
	p->id.spi = htonl(sa.id.spi);
	p->id.proto = sa.id.proto;
	put_address(p->saddr, src);
	p->lft = to_lifetime(sa.lifetime);
	p->reqid = sa.reqid;
	p->family = src.family;
	p->mode = uint8_t(sa.mode);
	p->replay_window = esn ? 0 : uint8_t(sa.replay_window); // the kernel wants 0 beside ESN_VAL
	p->flags = uint8_t(sa.flags | (esn ? XFRM_STATE_ESN : 0));

	put_algorithms(nlh, sa);
	if (sa.encap) {
		auto *e = static_cast<xfrm_encap_tmpl *>(
			put_attr(nlh, XFRMA_ENCAP, sizeof(xfrm_encap_tmpl)));
		e->encap_type = UDP_ENCAP_ESPINUDP;
		e->encap_sport = htons(sa.encap->sport);
		e->encap_dport = htons(sa.encap->dport);
	}
	if (esn) {
		const uint32_t words = (sa.replay_window + 31) / 32;
		auto *r = static_cast<xfrm_replay_state_esn *>(
			put_attr(nlh, XFRMA_REPLAY_ESN_VAL,
				 sizeof(xfrm_replay_state_esn) + words * sizeof(uint32_t)));
		r->bmp_len = words;
		r->replay_window = sa.replay_window;
	}
	put_mark(nlh, sa.mark, sa.mark_mask);
	if (sa.extra_flags) {
		auto *x = static_cast<uint32_t *>(put_attr(nlh, XFRMA_SA_EXTRA_FLAGS, sizeof(uint32_t)));
		*x = sa.extra_flags;
	}
	buf.resize(nlh->nlmsg_len);
	return buf;
}

std::vector<uint8_t> build_policy_request(const XfrmPolicy &pol, bool update, uint32_t seq)
{
	if (pol.templates.size() > kMaxTemplates)
		invalid("a policy holds at most " + std::to_string(kMaxTemplates) + " templates");
	if (uint8_t(pol.dir) > XFRM_POLICY_FWD)
		invalid("policy direction " + std::to_string(unsigned(pol.dir)));
	for (const auto &t : pol.templates) {
		if (t.mode == XfrmMode::tunnel && t.dst.is_unset())
			invalid("a tunnel-mode template needs its tunnel's destination");
		if (!t.src.is_unset() && !t.dst.is_unset() && t.src.family != t.dst.family)
			invalid("template " + t.src.str() + " -> " + t.dst.str() +
				" mixes address families");
	}
	// The kernel refuses a policy without a family; an empty selector
	// takes the first tunnel's.
	uint16_t family = selector_family(pol.selector);
	if (!family && !pol.templates.empty())
		family = pol.templates.front().dst.family;
	if (!known_family(family))
		invalid("a policy needs an address family: give its selector an address");

	std::vector<uint8_t> buf;
	auto *nlh = start_request(buf, update ? XFRM_MSG_UPDPOLICY : XFRM_MSG_NEWPOLICY, seq);
	auto *p = static_cast<xfrm_userpolicy_info *>(
		mnl_nlmsg_put_extra_header(nlh, sizeof(xfrm_userpolicy_info)));
	p->sel = to_selector(pol.selector, family);
	p->lft = to_lifetime({});
	p->priority = pol.priority;
	p->index = pol.index;
	p->dir = uint8_t(pol.dir);
	p->action = pol.block ? XFRM_POLICY_BLOCK : XFRM_POLICY_ALLOW;
	p->share = XFRM_SHARE_ANY;
	if (!pol.templates.empty()) {
		auto *t = static_cast<xfrm_user_tmpl *>(put_attr(
			nlh, XFRMA_TMPL, pol.templates.size() * sizeof(xfrm_user_tmpl)));
		for (const auto &in : pol.templates) {
			put_address(t->id.daddr, in.dst);
			t->id.spi = htonl(in.spi);
			t->id.proto = in.proto;
			// 0 (transport): the kernel takes the policy's family.
			t->family = in.dst.family;
			put_address(t->saddr, in.src);
			t->reqid = in.reqid;
			t->mode = uint8_t(in.mode);
			t->share = XFRM_SHARE_ANY;
			t->optional = in.optional;
			// Any algorithm: the SA, not the policy, says which.
			t->aalgos = t->ealgos = t->calgos = ~0u;
			++t;
		}
	}
	put_mark(nlh, pol.mark, pol.mark_mask);
	buf.resize(nlh->nlmsg_len);
	return buf;
}

std::vector<XfrmEvent> parse_xfrm_events(std::span<const uint8_t> buf)
{
	std::vector<XfrmEvent> out;
	for_each_message(buf, [&](uint16_t type, std::span<const uint8_t> msg) {
		if (type == XFRM_MSG_ACQUIRE) {
			if (auto a = parse_acquire(msg))
				out.emplace_back(std::move(*a));
		} else if (type == XFRM_MSG_EXPIRE) {
			out.emplace_back(parse_expire(msg));
		}
	});
	return out;
}

XfrmSaStats parse_sa_stats_message(std::span<const uint8_t> msg)
{
	if (msg.size() < sizeof(nlmsghdr))
		malformed("truncated netlink header");
	nlmsghdr h;
	std::memcpy(&h, msg.data(), sizeof(h));
	if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > msg.size())
		malformed("netlink message length " + std::to_string(h.nlmsg_len));
	msg = msg.first(h.nlmsg_len);
	std::span<const uint8_t> attrs;
	const auto p = fixed_part<xfrm_usersa_info>(msg, "NEWSA", &attrs);
	XfrmSaStats out;
	out.bytes = p.curlft.bytes;
	out.packets = p.curlft.packets;
	out.add_time = p.curlft.add_time;
	out.use_time = p.curlft.use_time;
	out.replay = p.stats.replay;
	out.replay_window = p.stats.replay_window;
	out.integrity_failed = p.stats.integrity_failed;
	bool have_esn = false;
	for_each_attr(attrs, [&](uint16_t type, std::span<const uint8_t> a) {
		if (type == XFRMA_REPLAY_ESN_VAL) {
			if (a.size() < sizeof(xfrm_replay_state_esn))
				malformed("XFRMA_REPLAY_ESN_VAL of " + std::to_string(a.size()) + " bytes");
			xfrm_replay_state_esn r;
			std::memcpy(&r, a.data(), sizeof(r));
			out.oseq = uint64_t(r.oseq_hi) << 32 | r.oseq;
			out.seq = uint64_t(r.seq_hi) << 32 | r.seq;
			have_esn = true;
		} else if (type == XFRMA_REPLAY_VAL && !have_esn) {
			if (a.size() < sizeof(xfrm_replay_state))
				malformed("XFRMA_REPLAY_VAL of " + std::to_string(a.size()) + " bytes");
			xfrm_replay_state r;
			std::memcpy(&r, a.data(), sizeof(r));
			out.oseq = r.oseq;
			out.seq = r.seq;
		}
	});
	return out;
}

// ---- the request socket --------------------------------------------------

Xfrm::Xfrm()
{
	nl_ = mnl_socket_open2(NETLINK_XFRM, SOCK_CLOEXEC);
	if (!nl_)
		throw std::system_error(errno, std::generic_category(), "xfrm netlink socket");
	if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
		const int err = errno;
		mnl_socket_close(nl_);
		throw std::system_error(err, std::generic_category(), "xfrm netlink bind");
	}
	portid_ = mnl_socket_get_portid(nl_);
	// Extended ACKs carry the kernel's reason; capped ACKs do not echo the
	// request, and with it the keys, back.
	int one = 1;
	mnl_socket_setsockopt(nl_, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl_, NETLINK_CAP_ACK, &one, sizeof(one));
	seq_ = uint32_t(std::time(nullptr));
}

Xfrm::~Xfrm() { mnl_socket_close(nl_); }

void Xfrm::request(std::vector<uint8_t> &req, const char *op, uint16_t reply_type,
		   const std::function<void(const nlmsghdr *)> &on_data)
{
	const auto *nlh = reinterpret_cast<const nlmsghdr *>(req.data());
	netlink_transact(nl_, req, expect_for(nlh, portid_, reply_type, op), on_data);
}

void Xfrm::add_sa(const XfrmSa &sa)
{
	auto req = build_sa_request(sa, false, next_seq());
	request(req, "xfrm add SA", XFRM_MSG_NEWSA, [](const nlmsghdr *) {});
}

void Xfrm::update_sa(const XfrmSa &sa)
{
	auto req = build_sa_request(sa, true, next_seq());
	request(req, "xfrm update SA", XFRM_MSG_NEWSA, [](const nlmsghdr *) {});
}

bool Xfrm::del_sa(const XfrmSaId &id)
{
	std::vector<uint8_t> req;
	auto *nlh = start_request(req, XFRM_MSG_DELSA, next_seq());
	const auto sid = to_sa_id(id);
	std::memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(sid)), &sid, sizeof(sid));
	req.resize(nlh->nlmsg_len);
	try {
		request(req, "xfrm delete SA", XFRM_MSG_NEWSA, [](const nlmsghdr *) {});
	} catch (const NetlinkError &e) {
		if (not_found(e))
			return false;
		throw;
	}
	return true;
}

uint32_t Xfrm::alloc_spi(const IpAddress &src, const IpAddress &dst, uint8_t proto, uint32_t reqid,
			 uint32_t min, uint32_t max)
{
	if (!known_family(src.family) || src.family != dst.family)
		invalid("alloc_spi needs a source and destination of one family");
	if (min > max)
		invalid("alloc_spi: empty SPI range");
	std::vector<uint8_t> req;
	auto *nlh = start_request(req, XFRM_MSG_ALLOCSPI, next_seq());
	auto *p = static_cast<xfrm_userspi_info *>(
		mnl_nlmsg_put_extra_header(nlh, sizeof(xfrm_userspi_info)));
	put_address(p->info.id.daddr, dst);
	p->info.id.proto = proto;
	put_address(p->info.saddr, src);
	p->info.family = src.family;
	p->info.reqid = reqid;
	p->info.mode = XFRM_MODE_TUNNEL;
	p->info.sel.family = src.family;
	p->min = min;
	p->max = max;
	req.resize(nlh->nlmsg_len);
	std::optional<uint32_t> spi;
	request(req, "xfrm allocate SPI", XFRM_MSG_NEWSA, [&](const nlmsghdr *m) {
		std::span<const uint8_t> attrs;
		const auto info = fixed_part<xfrm_usersa_info>(
			{reinterpret_cast<const uint8_t *>(m), m->nlmsg_len}, "ALLOCSPI reply", &attrs);
		spi = ntohl(info.id.spi);
	});
	if (!spi)
		throw std::runtime_error("xfrm allocate SPI: the kernel sent no SA");
	return *spi;
}

std::optional<XfrmSaStats> Xfrm::sa_stats(const XfrmSaId &id)
{
	std::vector<uint8_t> req;
	auto *nlh = start_request(req, XFRM_MSG_GETSA, next_seq());
	const auto sid = to_sa_id(id);
	std::memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(sid)), &sid, sizeof(sid));
	req.resize(nlh->nlmsg_len);
	std::optional<XfrmSaStats> out;
	try {
		request(req, "xfrm get SA", XFRM_MSG_NEWSA, [&](const nlmsghdr *m) {
			out = parse_sa_stats_message({reinterpret_cast<const uint8_t *>(m), m->nlmsg_len});
		});
	} catch (const NetlinkError &e) {
		if (not_found(e))
			return std::nullopt;
		throw;
	}
	return out;
}

void Xfrm::add_policy(const XfrmPolicy &p)
{
	auto req = build_policy_request(p, false, next_seq());
	request(req, "xfrm add policy", XFRM_MSG_NEWPOLICY, [](const nlmsghdr *) {});
}

void Xfrm::update_policy(const XfrmPolicy &p)
{
	auto req = build_policy_request(p, true, next_seq());
	request(req, "xfrm update policy", XFRM_MSG_NEWPOLICY, [](const nlmsghdr *) {});
}

bool Xfrm::del_policy(const XfrmSelector &sel, XfrmDir dir)
{
	std::vector<uint8_t> req;
	auto *nlh = start_request(req, XFRM_MSG_DELPOLICY, next_seq());
	auto *p = static_cast<xfrm_userpolicy_id *>(
		mnl_nlmsg_put_extra_header(nlh, sizeof(xfrm_userpolicy_id)));
	p->sel = to_selector(sel, 0);
	p->dir = uint8_t(dir);
	req.resize(nlh->nlmsg_len);
	try {
		request(req, "xfrm delete policy", XFRM_MSG_NEWPOLICY, [](const nlmsghdr *) {});
	} catch (const NetlinkError &e) {
		if (not_found(e))
			return false;
		throw;
	}
	return true;
}

void Xfrm::flush_sas()
{
	std::vector<uint8_t> req;
	auto *nlh = start_request(req, XFRM_MSG_FLUSHSA, next_seq());
	auto *p = static_cast<xfrm_usersa_flush *>(
		mnl_nlmsg_put_extra_header(nlh, sizeof(xfrm_usersa_flush)));
	p->proto = IPSEC_PROTO_ANY;
	req.resize(nlh->nlmsg_len);
	request(req, "xfrm flush SAs", XFRM_MSG_NEWSA, [](const nlmsghdr *) {});
}

void Xfrm::flush_policies()
{
	std::vector<uint8_t> req;
	auto *nlh = start_request(req, XFRM_MSG_FLUSHPOLICY, next_seq());
	req.resize(nlh->nlmsg_len);
	request(req, "xfrm flush policies", XFRM_MSG_NEWPOLICY, [](const nlmsghdr *) {});
}

// ---- the event socket ----------------------------------------------------

XfrmMonitor::XfrmMonitor()
{
	nl_ = mnl_socket_open2(NETLINK_XFRM, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!nl_)
		throw std::system_error(errno, std::generic_category(), "xfrm netlink socket");
	try {
		if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0)
			throw std::system_error(errno, std::generic_category(), "xfrm netlink bind");
		for (int group : {XFRMNLGRP_ACQUIRE, XFRMNLGRP_EXPIRE})
			if (mnl_socket_setsockopt(nl_, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)
				throw std::system_error(errno, std::generic_category(),
							"joining xfrm multicast group " +
								std::to_string(group));
		// Best effort: the default is enough unless events come in bursts.
		request_receive_buffer(mnl_socket_get_fd(nl_), kMonitorRcvbuf);
	} catch (...) {
		mnl_socket_close(nl_);
		throw;
	}
}

XfrmMonitor::~XfrmMonitor() { mnl_socket_close(nl_); }

int XfrmMonitor::fd() const { return mnl_socket_get_fd(nl_); }

std::vector<XfrmEvent> XfrmMonitor::read()
{
	std::vector<XfrmEvent> out;
	std::vector<uint8_t> buf(kRecvSize);
	for (;;) {
		sockaddr_nl from{};
		socklen_t from_len = sizeof(from);
		const ssize_t n = recvfrom(fd(), buf.data(), buf.size(), 0,
					   reinterpret_cast<sockaddr *>(&from), &from_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				++lost_;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return out;
			throw std::system_error(errno, std::generic_category(), "xfrm monitor receive");
		}
		// Only the kernel speaks for XFRM.
		if (from_len != sizeof(from) || from.nl_pid != 0)
			continue;
		auto events = parse_xfrm_events({buf.data(), size_t(n)});
		for (auto &e : events)
			out.push_back(std::move(e));
	}
}

} // namespace umigame
