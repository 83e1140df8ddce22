// The XFRM client without a kernel: requests are walked with libmnl and
// checked against what <linux/xfrm.h> says the kernel reads; events are
// built here as the kernel builds them (and as it never would).
#include "umigame/xfrm.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/udp.h>
#include <linux/xfrm.h>
#include <sys/socket.h>

using namespace umigame;

namespace {

IpAddress addr(const char *text)
{
	auto a = IpAddress::parse(text);
	if (!a)
		throw std::invalid_argument(text);
	return *a;
}

IpPrefix prefix(const char *text)
{
	auto p = IpPrefix::parse(text);
	if (!p)
		throw std::invalid_argument(text);
	return *p;
}

SecretBytes bytes(size_t n, uint8_t first)
{
	SecretBytes s(n);
	for (size_t i = 0; i < n; ++i)
		s.data()[i] = uint8_t(first + i);
	return s;
}

XfrmSa gcm_tunnel_v4()
{
	XfrmSa sa;
	sa.id.dst = addr("192.0.2.2");
	sa.id.spi = 0x01020304;
	sa.src = addr("192.0.2.1");
	sa.reqid = 7;
	sa.aead_name = "rfc4106(gcm(aes))";
	sa.aead_key = bytes(20, 1); // AES-128 key and 4-byte salt
	sa.esn = true;
	sa.replay_window = 4096;
	return sa;
}

XfrmSa cbc_transport_v6()
{
	XfrmSa sa;
	sa.id.dst = addr("2001:db8::2");
	sa.id.spi = 0x600;
	sa.src = addr("2001:db8::1");
	sa.mode = XfrmMode::transport;
	sa.enc_name = "cbc(aes)";
	sa.enc_key = bytes(16, 0x10);
	sa.auth_name = "hmac(sha256)";
	sa.auth_key = bytes(32, 0x40);
	sa.auth_trunc_bits = 128;
	sa.selector.src = prefix("2001:db8::1/128");
	sa.selector.dst = prefix("2001:db8::2/128");
	sa.selector.proto = IPPROTO_UDP;
	sa.selector.dport = 4999;
	return sa;
}

// A request as the kernel reads it: header, fixed struct, attributes by type.
template <class Fixed> struct Parsed {
	nlmsghdr hdr{};
	Fixed fixed{};
	std::map<uint16_t, std::vector<uint8_t>> attrs;
	std::map<uint16_t, int> count;

	explicit Parsed(const std::vector<uint8_t> &req)
	{
		EXPECT_GE(req.size(), NLMSG_HDRLEN + sizeof(Fixed));
		const auto *nlh = reinterpret_cast<const nlmsghdr *>(req.data());
		EXPECT_EQ(nlh->nlmsg_len, req.size());
		hdr = *nlh;
		std::memcpy(&fixed, mnl_nlmsg_get_payload(nlh), sizeof(Fixed));
		const int rc = mnl_attr_parse(
			nlh, sizeof(Fixed),
			[](const nlattr *a, void *data) {
				auto *self = static_cast<Parsed *>(data);
				const auto *p = static_cast<const uint8_t *>(mnl_attr_get_payload(a));
				self->attrs[mnl_attr_get_type(a)].assign(p, p + mnl_attr_get_payload_len(a));
				++self->count[mnl_attr_get_type(a)];
				return MNL_CB_OK;
			},
			this);
		EXPECT_EQ(rc, MNL_CB_OK);
		// Every byte accounted for: the attributes end where the message does.
		size_t walked = NLMSG_HDRLEN + MNL_ALIGN(sizeof(Fixed));
		for (const auto &[type, payload] : attrs)
			walked += count[type] * MNL_ALIGN(sizeof(nlattr) + payload.size());
		EXPECT_EQ(walked, req.size());
	}
	bool has(uint16_t type) const { return attrs.count(type) != 0; }
	template <class T> T get(uint16_t type) const
	{
		T out{};
		auto it = attrs.find(type);
		EXPECT_NE(it, attrs.end()) << "attribute " << type;
		if (it != attrs.end()) {
			EXPECT_GE(it->second.size(), sizeof(T)) << "attribute " << type;
			std::memcpy(&out, it->second.data(), std::min(sizeof(T), it->second.size()));
		}
		return out;
	}
};

std::vector<uint8_t> tail_bytes(const std::vector<uint8_t> &attr, size_t from)
{
	return {attr.begin() + long(from), attr.end()};
}

std::vector<uint8_t> key_bytes(const SecretBytes &k) { return {k.data(), k.data() + k.size()}; }

} // namespace

// ---- SA requests ---------------------------------------------------------

TEST(XfrmSaRequest, AeadEsnTunnel)
{
	const XfrmSa sa = gcm_tunnel_v4();
	Parsed<xfrm_usersa_info> r(build_sa_request(sa, false, 42));
	EXPECT_EQ(r.hdr.nlmsg_type, XFRM_MSG_NEWSA);
	EXPECT_EQ(r.hdr.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	EXPECT_EQ(r.hdr.nlmsg_seq, 42u);

	const auto &p = r.fixed;
	EXPECT_EQ(p.family, AF_INET);
	EXPECT_EQ(p.id.spi, htonl(0x01020304));
	EXPECT_EQ(p.id.proto, IPPROTO_ESP);
	EXPECT_EQ(p.id.daddr.a4, inet_addr("192.0.2.2"));
	EXPECT_EQ(p.saddr.a4, inet_addr("192.0.2.1"));
	EXPECT_EQ(p.id.daddr.a6[1], 0u); // the rest of an IPv4 address stays zero
	EXPECT_EQ(p.mode, XFRM_MODE_TUNNEL);
	EXPECT_EQ(p.reqid, 7u);
	EXPECT_EQ(p.replay_window, 0) << "the kernel refuses a legacy window beside ESN_VAL";
	EXPECT_EQ(p.flags, XFRM_STATE_ESN);
	// The empty selector takes the SA's family, matching everything.
	EXPECT_EQ(p.sel.family, AF_INET);
	EXPECT_EQ(p.sel.prefixlen_s, 0);
	EXPECT_EQ(p.sel.prefixlen_d, 0);
	EXPECT_EQ(p.lft.soft_byte_limit, XFRM_INF);
	EXPECT_EQ(p.lft.hard_packet_limit, XFRM_INF);
	EXPECT_EQ(p.lft.hard_add_expires_seconds, 0u);

	// The AEAD key length counts the salt: 20 bytes, 160 bits.
	ASSERT_TRUE(r.has(XFRMA_ALG_AEAD));
	const auto &aead = r.attrs[XFRMA_ALG_AEAD];
	ASSERT_EQ(aead.size(), sizeof(xfrm_algo_aead) + 20);
	const auto a = r.get<xfrm_algo_aead>(XFRMA_ALG_AEAD);
	EXPECT_STREQ(a.alg_name, "rfc4106(gcm(aes))");
	EXPECT_EQ(a.alg_key_len, 160u);
	EXPECT_EQ(a.alg_icv_len, 128u);
	EXPECT_EQ(tail_bytes(aead, sizeof(xfrm_algo_aead)), key_bytes(sa.aead_key));

	// ESN: a bitmap of 4096 bits, 128 words.
	ASSERT_TRUE(r.has(XFRMA_REPLAY_ESN_VAL));
	EXPECT_EQ(r.attrs[XFRMA_REPLAY_ESN_VAL].size(), sizeof(xfrm_replay_state_esn) + 128 * 4);
	const auto esn = r.get<xfrm_replay_state_esn>(XFRMA_REPLAY_ESN_VAL);
	EXPECT_EQ(esn.bmp_len, 128u);
	EXPECT_EQ(esn.replay_window, 4096u);

	for (uint16_t absent : {XFRMA_ALG_CRYPT, XFRMA_ALG_AUTH, XFRMA_ALG_AUTH_TRUNC, XFRMA_ENCAP,
				XFRMA_MARK, XFRMA_SA_EXTRA_FLAGS})
		EXPECT_FALSE(r.has(absent)) << "attribute " << absent;
}

TEST(XfrmSaRequest, EsnBitmapWordsFollowTheWindow)
{
	const struct {
		uint32_t window, words;
	} cases[] = {{1, 1}, {32, 1}, {33, 2}, {64, 2}, {1000, 32}, {4095, 128}, {4096, 128}};
	for (const auto &c : cases) {
		XfrmSa sa = gcm_tunnel_v4();
		sa.replay_window = c.window;
		Parsed<xfrm_usersa_info> r(build_sa_request(sa, false, 1));
		const auto esn = r.get<xfrm_replay_state_esn>(XFRMA_REPLAY_ESN_VAL);
		EXPECT_EQ(esn.bmp_len, c.words) << c.window;
		EXPECT_EQ(esn.replay_window, c.window);
		EXPECT_EQ(r.attrs[XFRMA_REPLAY_ESN_VAL].size(),
			  sizeof(xfrm_replay_state_esn) + 4 * c.words)
			<< c.window;
	}
}

TEST(XfrmSaRequest, CipherAndIntegrityTransportV6)
{
	const XfrmSa sa = cbc_transport_v6();
	Parsed<xfrm_usersa_info> r(build_sa_request(sa, true, 9));
	EXPECT_EQ(r.hdr.nlmsg_type, XFRM_MSG_UPDSA);
	const auto &p = r.fixed;
	EXPECT_EQ(p.family, AF_INET6);
	EXPECT_EQ(p.mode, XFRM_MODE_TRANSPORT);
	EXPECT_EQ(p.replay_window, 32) << "without ESN: the legacy field";
	EXPECT_EQ(p.flags, 0);
	EXPECT_EQ(std::memcmp(&p.id.daddr, addr("2001:db8::2").bytes.data(), 16), 0);
	EXPECT_EQ(std::memcmp(&p.saddr, addr("2001:db8::1").bytes.data(), 16), 0);
	EXPECT_FALSE(r.has(XFRMA_REPLAY_ESN_VAL));

	EXPECT_EQ(p.sel.family, AF_INET6);
	EXPECT_EQ(p.sel.prefixlen_s, 128);
	EXPECT_EQ(p.sel.prefixlen_d, 128);
	EXPECT_EQ(p.sel.proto, IPPROTO_UDP);
	EXPECT_EQ(p.sel.dport, htons(4999));
	EXPECT_EQ(p.sel.dport_mask, 0xffff) << "a port without a mask is matched exactly";
	EXPECT_EQ(p.sel.sport, 0);
	EXPECT_EQ(p.sel.sport_mask, 0);

	ASSERT_EQ(r.attrs[XFRMA_ALG_CRYPT].size(), sizeof(xfrm_algo) + 16);
	const auto enc = r.get<xfrm_algo>(XFRMA_ALG_CRYPT);
	EXPECT_STREQ(enc.alg_name, "cbc(aes)");
	EXPECT_EQ(enc.alg_key_len, 128u);
	EXPECT_EQ(tail_bytes(r.attrs[XFRMA_ALG_CRYPT], sizeof(xfrm_algo)), key_bytes(sa.enc_key));

	// RFC 4868: HMAC-SHA-256-128, so the truncating form.
	EXPECT_FALSE(r.has(XFRMA_ALG_AUTH));
	ASSERT_EQ(r.attrs[XFRMA_ALG_AUTH_TRUNC].size(), sizeof(xfrm_algo_auth) + 32);
	const auto auth = r.get<xfrm_algo_auth>(XFRMA_ALG_AUTH_TRUNC);
	EXPECT_STREQ(auth.alg_name, "hmac(sha256)");
	EXPECT_EQ(auth.alg_key_len, 256u);
	EXPECT_EQ(auth.alg_trunc_len, 128u);
	EXPECT_EQ(tail_bytes(r.attrs[XFRMA_ALG_AUTH_TRUNC], sizeof(xfrm_algo_auth)),
		  key_bytes(sa.auth_key));
}

TEST(XfrmSaRequest, UntruncatedAuthUsesAlgAuth)
{
	XfrmSa sa = cbc_transport_v6();
	sa.auth_trunc_bits = 0;
	Parsed<xfrm_usersa_info> r(build_sa_request(sa, false, 1));
	EXPECT_FALSE(r.has(XFRMA_ALG_AUTH_TRUNC));
	ASSERT_EQ(r.attrs[XFRMA_ALG_AUTH].size(), sizeof(xfrm_algo) + 32);
	EXPECT_EQ(r.get<xfrm_algo>(XFRMA_ALG_AUTH).alg_key_len, 256u);
}

TEST(XfrmSaRequest, EncapMarkLifetimeFlags)
{
	XfrmSa sa = gcm_tunnel_v4();
	sa.encap = XfrmEncap{4500, 4501};
	sa.mark = 0x10;
	sa.mark_mask = 0xff;
	sa.extra_flags = XFRM_SA_XFLAG_DONT_ENCAP_DSCP;
	sa.flags = XFRM_STATE_AF_UNSPEC;
	sa.lifetime.soft_add_seconds = 1;
	sa.lifetime.hard_add_seconds = 2;
	sa.lifetime.hard_bytes = 1 << 20;
	Parsed<xfrm_usersa_info> r(build_sa_request(sa, false, 1));

	// RFC 3948: ESP in UDP, ports in network order.
	ASSERT_EQ(r.attrs[XFRMA_ENCAP].size(), sizeof(xfrm_encap_tmpl));
	const auto e = r.get<xfrm_encap_tmpl>(XFRMA_ENCAP);
	EXPECT_EQ(e.encap_type, UDP_ENCAP_ESPINUDP);
	EXPECT_EQ(e.encap_sport, htons(4500));
	EXPECT_EQ(e.encap_dport, htons(4501));
	const xfrm_address_t zero{};
	EXPECT_EQ(std::memcmp(&e.encap_oa, &zero, sizeof(zero)), 0);

	const auto m = r.get<xfrm_mark>(XFRMA_MARK);
	EXPECT_EQ(m.v, 0x10u);
	EXPECT_EQ(m.m, 0xffu);
	EXPECT_EQ(r.get<uint32_t>(XFRMA_SA_EXTRA_FLAGS), uint32_t(XFRM_SA_XFLAG_DONT_ENCAP_DSCP));

	EXPECT_EQ(r.fixed.flags, XFRM_STATE_AF_UNSPEC | XFRM_STATE_ESN);
	EXPECT_EQ(r.fixed.sel.family, 0) << "AF_UNSPEC leaves the empty selector open";
	EXPECT_EQ(r.fixed.lft.soft_add_expires_seconds, 1u);
	EXPECT_EQ(r.fixed.lft.hard_add_expires_seconds, 2u);
	EXPECT_EQ(r.fixed.lft.hard_byte_limit, 1u << 20);
	EXPECT_EQ(r.fixed.lft.soft_byte_limit, XFRM_INF);
}

TEST(XfrmSaRequest, RefusesWhatTheKernelWould)
{
	const struct {
		const char *name;
		void (*change)(XfrmSa &);
		const char *message;
	} cases[] = {
		{"no source", [](XfrmSa &sa) { sa.src = {}; }, "source and a destination"},
		{"mixed families", [](XfrmSa &sa) { sa.src = addr("2001:db8::1"); }, "mixes"},
		{"no algorithm", [](XfrmSa &sa) { sa.aead_name.clear(), sa.aead_key = {}; }, "needs an AEAD"},
		{"AEAD and cipher", [](XfrmSa &sa) { sa.enc_name = "cbc(aes)"; }, "not both"},
		{"key without name", [](XfrmSa &sa) { sa.auth_key = bytes(4, 0); }, "not both"},
		{"AH with AEAD", [](XfrmSa &sa) { sa.id.proto = IPPROTO_AH; }, "AH"},
		{"other protocol", [](XfrmSa &sa) { sa.id.proto = IPPROTO_UDP; }, "only ESP and AH"},
		{"ESN window 0", [](XfrmSa &sa) { sa.replay_window = 0; }, "1 to 4096"},
		{"ESN window 4097", [](XfrmSa &sa) { sa.replay_window = 4097; }, "1 to 4096"},
		{"legacy window 256", [](XfrmSa &sa) { sa.esn = false, sa.replay_window = 256; }, "255"},
		{"name of 64 bytes", [](XfrmSa &sa) { sa.aead_name = std::string(64, 'a'); }, "63"},
		{"flags beyond 8 bits", [](XfrmSa &sa) { sa.flags = 0x100; }, "8 bits"},
		{"selector families", [](XfrmSa &sa) {
			 sa.selector.src = prefix("10.0.0.0/8");
			 sa.selector.dst = prefix("2001:db8::/32");
		 }, "mixes"},
	};
	for (const auto &c : cases) {
		XfrmSa sa = gcm_tunnel_v4();
		c.change(sa);
		try {
			build_sa_request(sa, false, 1);
			ADD_FAILURE() << c.name << ": accepted";
		} catch (const std::invalid_argument &e) {
			EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos)
				<< c.name << ": " << e.what();
		}
	}
	// And the neighbours of those limits pass.
	XfrmSa sa = gcm_tunnel_v4();
	sa.esn = false;
	sa.replay_window = 255;
	EXPECT_NO_THROW(build_sa_request(sa, false, 1));
	sa.aead_name = std::string(63, 'a');
	EXPECT_NO_THROW(build_sa_request(sa, false, 1));
}

TEST(XfrmSaRequest, AhTakesIntegrityOnly)
{
	XfrmSa sa;
	sa.id = {addr("192.0.2.2"), 0x500, IPPROTO_AH};
	sa.src = addr("192.0.2.1");
	sa.auth_name = "hmac(sha256)";
	sa.auth_key = bytes(32, 0);
	sa.auth_trunc_bits = 128;
	Parsed<xfrm_usersa_info> r(build_sa_request(sa, false, 1));
	EXPECT_EQ(r.fixed.id.proto, IPPROTO_AH);
	EXPECT_TRUE(r.has(XFRMA_ALG_AUTH_TRUNC));
	EXPECT_FALSE(r.has(XFRMA_ALG_CRYPT));
}

// ---- policy requests -----------------------------------------------------

TEST(XfrmPolicyRequest, TunnelOut)
{
	XfrmPolicy pol;
	pol.selector.src = prefix("10.1.0.0/16");
	pol.selector.dst = prefix("10.2.0.0/24");
	pol.dir = XfrmDir::out;
	pol.priority = 100;
	pol.index = 0x1234;
	XfrmTemplate t;
	t.src = addr("2001:db8::1");
	t.dst = addr("2001:db8::2");
	t.reqid = 7;
	t.spi = 0x100;
	pol.templates.push_back(t);
	pol.mark = 1;
	pol.mark_mask = 3;
	Parsed<xfrm_userpolicy_info> r(build_policy_request(pol, false, 5));
	EXPECT_EQ(r.hdr.nlmsg_type, XFRM_MSG_NEWPOLICY);
	EXPECT_EQ(r.hdr.nlmsg_seq, 5u);
	const auto &p = r.fixed;
	EXPECT_EQ(p.sel.family, AF_INET);
	EXPECT_EQ(p.sel.saddr.a4, inet_addr("10.1.0.0"));
	EXPECT_EQ(p.sel.daddr.a4, inet_addr("10.2.0.0"));
	EXPECT_EQ(p.sel.prefixlen_s, 16);
	EXPECT_EQ(p.sel.prefixlen_d, 24);
	EXPECT_EQ(p.dir, XFRM_POLICY_OUT);
	EXPECT_EQ(p.action, XFRM_POLICY_ALLOW);
	EXPECT_EQ(p.priority, 100u);
	EXPECT_EQ(p.index, 0x1234u);
	EXPECT_EQ(p.lft.hard_byte_limit, XFRM_INF);

	ASSERT_EQ(r.attrs[XFRMA_TMPL].size(), sizeof(xfrm_user_tmpl));
	const auto u = r.get<xfrm_user_tmpl>(XFRMA_TMPL);
	EXPECT_EQ(u.family, AF_INET6) << "an IPv6 tunnel carries IPv4";
	EXPECT_EQ(std::memcmp(&u.id.daddr, addr("2001:db8::2").bytes.data(), 16), 0);
	EXPECT_EQ(std::memcmp(&u.saddr, addr("2001:db8::1").bytes.data(), 16), 0);
	EXPECT_EQ(u.id.proto, IPPROTO_ESP);
	EXPECT_EQ(u.id.spi, htonl(0x100));
	EXPECT_EQ(u.mode, XFRM_MODE_TUNNEL);
	EXPECT_EQ(u.reqid, 7u);
	EXPECT_EQ(u.optional, 0);
	EXPECT_EQ(u.aalgos, ~0u);
	EXPECT_EQ(u.ealgos, ~0u);
	EXPECT_EQ(u.calgos, ~0u);
	const auto m = r.get<xfrm_mark>(XFRMA_MARK);
	EXPECT_EQ(m.v, 1u);
	EXPECT_EQ(m.m, 3u);
}

TEST(XfrmPolicyRequest, TransportTemplatesBlockAndUpdate)
{
	XfrmPolicy pol;
	pol.selector.src = prefix("2001:db8::1/128");
	pol.selector.dst = prefix("2001:db8::2/128");
	pol.selector.proto = IPPROTO_TCP;
	pol.selector.sport = 179;
	pol.selector.sport_mask = 0xff00; // a mask given is kept
	pol.dir = XfrmDir::in;
	XfrmTemplate ah, esp;
	ah.proto = IPPROTO_AH;
	ah.mode = esp.mode = XfrmMode::transport;
	ah.optional = true;
	pol.templates = {ah, esp};
	Parsed<xfrm_userpolicy_info> r(build_policy_request(pol, true, 1));
	EXPECT_EQ(r.hdr.nlmsg_type, XFRM_MSG_UPDPOLICY);
	EXPECT_EQ(r.fixed.dir, XFRM_POLICY_IN);
	EXPECT_EQ(r.fixed.sel.sport, htons(179));
	EXPECT_EQ(r.fixed.sel.sport_mask, htons(0xff00));
	EXPECT_EQ(r.fixed.sel.proto, IPPROTO_TCP);
	ASSERT_EQ(r.attrs[XFRMA_TMPL].size(), 2 * sizeof(xfrm_user_tmpl));
	xfrm_user_tmpl t[2];
	std::memcpy(t, r.attrs[XFRMA_TMPL].data(), sizeof(t));
	EXPECT_EQ(t[0].id.proto, IPPROTO_AH);
	EXPECT_EQ(t[0].optional, 1);
	EXPECT_EQ(t[1].id.proto, IPPROTO_ESP);
	for (const auto &u : t) {
		EXPECT_EQ(u.mode, XFRM_MODE_TRANSPORT);
		EXPECT_EQ(u.family, 0) << "transport: the kernel takes the policy's family";
	}
	EXPECT_FALSE(r.has(XFRMA_MARK));

	pol.block = true;
	pol.templates.clear();
	Parsed<xfrm_userpolicy_info> b(build_policy_request(pol, false, 1));
	EXPECT_EQ(b.fixed.action, XFRM_POLICY_BLOCK);
	EXPECT_FALSE(b.has(XFRMA_TMPL));
}

TEST(XfrmPolicyRequest, EmptySelectorTakesTheTunnelsFamily)
{
	XfrmPolicy pol;
	XfrmTemplate t;
	t.dst = addr("2001:db8::2");
	pol.templates.push_back(t);
	Parsed<xfrm_userpolicy_info> r(build_policy_request(pol, false, 1));
	EXPECT_EQ(r.fixed.sel.family, AF_INET6);
	EXPECT_EQ(r.fixed.sel.prefixlen_d, 0);
}

TEST(XfrmPolicyRequest, Refuses)
{
	XfrmPolicy none;
	EXPECT_THROW(build_policy_request(none, false, 1), std::invalid_argument) << "no family";
	XfrmPolicy deep;
	deep.selector.src = prefix("10.0.0.0/8");
	deep.templates.resize(7, XfrmTemplate{addr("10.0.0.1"), addr("10.0.0.2")});
	EXPECT_THROW(build_policy_request(deep, false, 1), std::invalid_argument) << "7 templates";
	deep.templates.resize(6);
	EXPECT_NO_THROW(build_policy_request(deep, false, 1));
	XfrmPolicy nodst;
	nodst.selector.src = prefix("10.0.0.0/8");
	nodst.templates.push_back({});
	EXPECT_THROW(build_policy_request(nodst, false, 1), std::invalid_argument)
		<< "tunnel template without a destination";
}

// ---- events --------------------------------------------------------------

namespace {

// A receive buffer of messages built as the kernel would.
class Events {
public:
	// A message with a fixed struct; returns it for attributes.
	template <class T> nlmsghdr *add(uint16_t type, const T &fixed)
	{
		open_ = bytes_.size();
		bytes_.resize(open_ + 8192);
		auto *nlh = mnl_nlmsg_put_header(bytes_.data() + open_);
		nlh->nlmsg_type = type;
		std::memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(T)), &fixed, sizeof(T));
		return nlh;
	}
	nlmsghdr *last() { return reinterpret_cast<nlmsghdr *>(bytes_.data() + open_); }
	void close() { bytes_.resize(open_ + MNL_ALIGN(last()->nlmsg_len)); }
	std::vector<uint8_t> &bytes() { return bytes_; }

private:
	std::vector<uint8_t> bytes_;
	size_t open_ = 0;
};

void set4(xfrm_address_t &a, const char *text) { a.a4 = inet_addr(text); }
void set6(xfrm_address_t &a, const char *text) { std::memcpy(&a, addr(text).bytes.data(), 16); }

xfrm_user_tmpl tmpl6(uint8_t proto, uint32_t reqid)
{
	xfrm_user_tmpl t{};
	t.family = AF_INET6;
	set6(t.id.daddr, "2001:db8:ffff::2");
	set6(t.saddr, "2001:db8:ffff::1");
	t.id.proto = proto;
	t.reqid = reqid;
	t.mode = XFRM_MODE_TUNNEL;
	return t;
}

// What a trap policy 10.1.0.0/16 -> 10.2.0.0/16 out, tunnelled over IPv6
// with AH (reqid 1) then ESP (reqid 2), makes the kernel send for a ping.
void add_acquire(Events &ev, uint8_t proto = IPPROTO_ESP)
{
	xfrm_user_acquire ua{};
	set6(ua.id.daddr, "2001:db8:ffff::2");
	ua.id.proto = proto;
	set6(ua.saddr, "2001:db8:ffff::1");
	ua.sel.family = AF_INET;
	set4(ua.sel.saddr, "10.1.0.1");
	set4(ua.sel.daddr, "10.2.0.1");
	ua.sel.prefixlen_s = ua.sel.prefixlen_d = 32;
	ua.sel.proto = IPPROTO_ICMP;
	ua.sel.sport = htons(8);
	ua.sel.sport_mask = 0xffff;
	ua.policy.sel.family = AF_INET;
	ua.policy.dir = XFRM_POLICY_OUT;
	ua.policy.index = 0x19;
	ua.seq = 0xabc;
	auto *nlh = ev.add(XFRM_MSG_ACQUIRE, ua);
	const xfrm_user_tmpl t[2] = {tmpl6(IPPROTO_AH, 1), tmpl6(IPPROTO_ESP, 2)};
	mnl_attr_put(nlh, XFRMA_TMPL, sizeof(t), t);
	const xfrm_userpolicy_type pt{XFRM_POLICY_TYPE_MAIN, 0, 0};
	mnl_attr_put(nlh, XFRMA_POLICY_TYPE, sizeof(pt), &pt);
	ev.close();
}

void add_expire(Events &ev, bool hard)
{
	xfrm_user_expire ue{};
	ue.state.family = AF_INET;
	set4(ue.state.id.daddr, "192.0.2.2");
	set4(ue.state.saddr, "192.0.2.1");
	ue.state.id.spi = htonl(0xc0ffee);
	ue.state.id.proto = IPPROTO_ESP;
	ue.state.reqid = 9;
	ue.hard = hard;
	auto *nlh = ev.add(XFRM_MSG_EXPIRE, ue);
	const xfrm_mark m{1, 1};
	mnl_attr_put(nlh, XFRMA_MARK, sizeof(m), &m);
	ev.close();
}

std::string parse_error(std::span<const uint8_t> buf)
{
	try {
		parse_xfrm_events(buf);
	} catch (const std::runtime_error &e) {
		return e.what();
	}
	return "";
}

} // namespace

TEST(XfrmEvents, Acquire)
{
	Events ev;
	add_acquire(ev);
	auto events = parse_xfrm_events(ev.bytes());
	ASSERT_EQ(events.size(), 1u);
	const auto *a = std::get_if<XfrmAcquire>(&events[0]);
	ASSERT_NE(a, nullptr);
	EXPECT_EQ(a->selector.src.str(), "10.1.0.1/32");
	EXPECT_EQ(a->selector.dst.str(), "10.2.0.1/32");
	EXPECT_EQ(a->selector.proto, IPPROTO_ICMP);
	EXPECT_EQ(a->selector.sport, 8);
	EXPECT_EQ(a->dir, XfrmDir::out);
	EXPECT_EQ(a->policy_index, 0x19u);
	EXPECT_EQ(a->seq, 0xabcu);
	EXPECT_EQ(a->src.str(), "2001:db8:ffff::1");
	EXPECT_EQ(a->dst.str(), "2001:db8:ffff::2");
	// The template the kernel asks for is the ESP one, not the AH first.
	EXPECT_EQ(a->tmpl.proto, IPPROTO_ESP);
	EXPECT_EQ(a->tmpl.reqid, 2u);
	EXPECT_EQ(a->tmpl.mode, XfrmMode::tunnel);
	EXPECT_EQ(a->tmpl.dst.str(), "2001:db8:ffff::2");
	EXPECT_EQ(a->tmpl.src.str(), "2001:db8:ffff::1");
}

TEST(XfrmEvents, ExpireSoftHardAndOthersSkipped)
{
	Events ev;
	add_expire(ev, false);
	// A message of another type in the same buffer (a NEWSA notification).
	xfrm_usersa_info other{};
	ev.add(XFRM_MSG_NEWSA, other);
	ev.close();
	add_expire(ev, true);
	add_acquire(ev, IPPROTO_AH);
	auto events = parse_xfrm_events(ev.bytes());
	ASSERT_EQ(events.size(), 3u);
	for (int i = 0; i < 2; ++i) {
		const auto *e = std::get_if<XfrmExpire>(&events[i]);
		ASSERT_NE(e, nullptr) << i;
		EXPECT_EQ(e->hard, i == 1);
		EXPECT_EQ(e->id.dst.str(), "192.0.2.2");
		EXPECT_EQ(e->id.spi, 0xc0ffeeu);
		EXPECT_EQ(e->id.proto, IPPROTO_ESP);
		EXPECT_EQ(e->src.str(), "192.0.2.1");
		EXPECT_EQ(e->reqid, 9u);
	}
	const auto *a = std::get_if<XfrmAcquire>(&events[2]);
	ASSERT_NE(a, nullptr);
	EXPECT_EQ(a->tmpl.proto, IPPROTO_AH);
	EXPECT_EQ(a->tmpl.reqid, 1u);
	EXPECT_TRUE(parse_xfrm_events({}).empty());
}

TEST(XfrmEvents, MalformedThrows)
{
	const struct {
		const char *name;
		void (*damage)(std::vector<uint8_t> &);
		const char *message;
	} cases[] = {
		{"short netlink header", [](std::vector<uint8_t> &b) { b.resize(10); }, "truncated netlink header"},
		{"trailing bytes", [](std::vector<uint8_t> &b) { b.resize(b.size() + 8); }, "truncated netlink header"},
		{"length past the buffer", [](std::vector<uint8_t> &b) { b.resize(b.size() - 4); }, "length"},
		{"length below a header", [](std::vector<uint8_t> &b) {
			 reinterpret_cast<nlmsghdr *>(b.data())->nlmsg_len = 8;
		 }, "length"},
		{"length near 2^32", [](std::vector<uint8_t> &b) {
			 reinterpret_cast<nlmsghdr *>(b.data())->nlmsg_len = 0xfffffff0;
		 }, "length"},
		{"short payload", [](std::vector<uint8_t> &b) {
			 reinterpret_cast<nlmsghdr *>(b.data())->nlmsg_len = NLMSG_HDRLEN + 100;
			 b.resize(NLMSG_HDRLEN + 100);
		 }, "payload"},
		{"attribute overruns", [](std::vector<uint8_t> &b) {
			 auto *a = reinterpret_cast<nlattr *>(b.data() + NLMSG_HDRLEN +
							      NLMSG_ALIGN(sizeof(xfrm_user_acquire)));
			 a->nla_len = 0x7ff0;
		 }, "overruns"},
		{"attribute below its header", [](std::vector<uint8_t> &b) {
			 auto *a = reinterpret_cast<nlattr *>(b.data() + NLMSG_HDRLEN +
							      NLMSG_ALIGN(sizeof(xfrm_user_acquire)));
			 a->nla_len = 2;
		 }, "overruns"},
		{"template array of odd size", [](std::vector<uint8_t> &b) {
			 auto *a = reinterpret_cast<nlattr *>(b.data() + NLMSG_HDRLEN +
							      NLMSG_ALIGN(sizeof(xfrm_user_acquire)));
			 a->nla_len = uint16_t(a->nla_len - 4);
		 }, "XFRMA_TMPL"},
		{"unknown family", [](std::vector<uint8_t> &b) {
			 auto *ua = reinterpret_cast<xfrm_user_acquire *>(b.data() + NLMSG_HDRLEN);
			 ua->sel.family = 99;
		 }, "family"},
		{"prefix too long", [](std::vector<uint8_t> &b) {
			 auto *ua = reinterpret_cast<xfrm_user_acquire *>(b.data() + NLMSG_HDRLEN);
			 ua->sel.prefixlen_s = 33;
		 }, "prefix length"},
	};
	for (const auto &c : cases) {
		Events ev;
		add_acquire(ev);
		auto buf = ev.bytes();
		c.damage(buf);
		const std::string what = parse_error(buf);
		EXPECT_NE(what.find(c.message), std::string::npos) << c.name << ": '" << what << "'";
	}
	Events ev;
	add_expire(ev, true);
	auto buf = ev.bytes();
	reinterpret_cast<xfrm_user_expire *>(buf.data() + NLMSG_HDRLEN)->state.family = 0;
	EXPECT_NE(parse_error(buf).find("family"), std::string::npos);
}

// Every cut of a valid buffer either parses (at a message boundary) or
// throws; under ASan a read past the cut would fail the test.
TEST(XfrmEvents, EveryTruncation)
{
	Events ev;
	add_acquire(ev);
	add_expire(ev, false);
	const auto &full = ev.bytes();
	const size_t first = NLMSG_ALIGN(reinterpret_cast<const nlmsghdr *>(full.data())->nlmsg_len);
	for (size_t n = 0; n <= full.size(); ++n) {
		std::vector<uint8_t> cut(full.begin(), full.begin() + long(n));
		cut.shrink_to_fit();
		std::vector<XfrmEvent> out;
		const bool parsed = [&] {
			try {
				out = parse_xfrm_events(cut);
				return true;
			} catch (const std::runtime_error &) {
				return false;
			}
		}();
		EXPECT_EQ(parsed, n == 0 || n == first || n == full.size()) << n;
		if (parsed) {
			EXPECT_EQ(out.size(), n == 0 ? 0u : n == first ? 1u : 2u) << n;
		}
	}
}

// ---- GETSA replies -------------------------------------------------------

TEST(XfrmSaStats, EsnAndLegacyCounters)
{
	xfrm_usersa_info p{};
	p.curlft.bytes = 1500;
	p.curlft.packets = 15;
	p.curlft.add_time = 1700000000;
	p.curlft.use_time = 1700000005;
	p.stats.replay = 2;
	p.stats.replay_window = 3;
	p.stats.integrity_failed = 4;

	Events esn;
	auto *nlh = esn.add(XFRM_MSG_NEWSA, p);
	const xfrm_replay_state legacy{7, 8, 0};
	mnl_attr_put(nlh, XFRMA_REPLAY_VAL, sizeof(legacy), &legacy);
	std::vector<uint8_t> r(sizeof(xfrm_replay_state_esn) + 4 * 4);
	xfrm_replay_state_esn e{};
	e.bmp_len = 4;
	e.oseq = 0x10;
	e.oseq_hi = 1;
	e.seq = 0x20;
	e.seq_hi = 2;
	e.replay_window = 128;
	std::memcpy(r.data(), &e, sizeof(e));
	mnl_attr_put(nlh, XFRMA_REPLAY_ESN_VAL, r.size(), r.data());
	esn.close();
	const auto s = parse_sa_stats_message(esn.bytes());
	EXPECT_EQ(s.bytes, 1500u);
	EXPECT_EQ(s.packets, 15u);
	EXPECT_EQ(s.add_time, 1700000000u);
	EXPECT_EQ(s.use_time, 1700000005u);
	EXPECT_EQ(s.replay, 2u);
	EXPECT_EQ(s.replay_window, 3u);
	EXPECT_EQ(s.integrity_failed, 4u);
	EXPECT_EQ(s.oseq, 0x100000010u);
	EXPECT_EQ(s.seq, 0x200000020u);

	Events plain;
	nlh = plain.add(XFRM_MSG_NEWSA, p);
	mnl_attr_put(nlh, XFRMA_REPLAY_VAL, sizeof(legacy), &legacy);
	plain.close();
	const auto l = parse_sa_stats_message(plain.bytes());
	EXPECT_EQ(l.oseq, 7u);
	EXPECT_EQ(l.seq, 8u);

	Events none;
	none.add(XFRM_MSG_NEWSA, p);
	none.close();
	EXPECT_FALSE(parse_sa_stats_message(none.bytes()).oseq.has_value());

	Events bad;
	nlh = bad.add(XFRM_MSG_NEWSA, p);
	mnl_attr_put(nlh, XFRMA_REPLAY_VAL, 8, &legacy);
	bad.close();
	EXPECT_THROW(parse_sa_stats_message(bad.bytes()), std::runtime_error);
}

TEST(XfrmNames, AttributeNames)
{
	const auto names = xfrm_attr_names();
	ASSERT_GT(names.size(), size_t(XFRMA_REPLAY_ESN_VAL));
	EXPECT_STREQ(names[XFRMA_ALG_AEAD], "ALG_AEAD");
	EXPECT_STREQ(names[XFRMA_REPLAY_ESN_VAL], "REPLAY_ESN_VAL");
	EXPECT_STREQ(names[XFRMA_ENCAP], "ENCAP");
}
