// The pure parts of umigame-iked: proposal text and selection (RFC 7296
// §2.7, §3.3), traffic selector arithmetic (§2.9, §3.13.1) and the
// configuration's errors.
#include <gtest/gtest.h>

#include "harness.h"
#include "umigame/config.h"
#include "umigame/iked/proposal.h"
#include "umigame/iked/selectors.h"

namespace umigame::iked::test {
namespace {

using namespace umigame::ike;

AlgorithmSet parsed(const char *text, bool ike)
{
	std::string error;
	auto set = parse_proposal(text, ike, &error);
	EXPECT_TRUE(set) << text << ": " << error;
	return set.value_or(AlgorithmSet{});
}

std::string parse_error(const char *text, bool ike)
{
	std::string error;
	auto set = parse_proposal(text, ike, &error);
	EXPECT_FALSE(set) << text << " parsed";
	return error;
}

TEST(Proposal, TextForms)
{
	auto a = parsed("aes256gcm16-prfsha384-ecp384", true);
	EXPECT_EQ(a.encr, encr::AES_GCM_16);
	EXPECT_EQ(a.encr_key_bits, 256);
	EXPECT_EQ(a.integ, 0);
	EXPECT_EQ(a.prf, prf::HMAC_SHA2_384);
	EXPECT_EQ(a.dh, dh::ECP_384);
	EXPECT_EQ(a.str(true), "aes256gcm16-prfsha384-ecp384");
	// A missing PRF follows the integrity algorithm (strongSwan's rule).
	auto b = parsed("aes128-sha512-modp2048", true);
	EXPECT_EQ(b.prf, prf::HMAC_SHA2_512);
	EXPECT_EQ(b.integ, integ::HMAC_SHA2_512_256);
	// ESP: ESN both ways unless said, ESN preferred on the wire (§3.3.2).
	auto c = parsed("aes128gcm16", false);
	EXPECT_EQ(c.esn_mask, AlgorithmSet::kEsnYes | AlgorithmSet::kEsnNo);
	EXPECT_EQ(parsed("aes128gcm16-esn", false).esn_mask, AlgorithmSet::kEsnYes);
	EXPECT_EQ(parsed("aes128gcm16-noesn", false).esn_mask, AlgorithmSet::kEsnNo);
	EXPECT_EQ(parsed("aes128gcm16-ecp256-esn", false).dh, dh::ECP_256);
	EXPECT_EQ(parsed("aes128gcm16-x25519", false).dh, dh::CURVE25519);
	auto w = to_wire(c, ProtocolId::ESP, 1, {1, 2, 3, 4});
	ASSERT_GE(w.transforms.size(), 2u);
	EXPECT_EQ(w.transforms[w.transforms.size() - 2].type, TransformType::ESN);
	EXPECT_EQ(w.transforms[w.transforms.size() - 2].id, esn::YES);
	EXPECT_EQ(w.transforms.back().id, esn::NO);
	// §3.3.5: AES carries its key length.
	EXPECT_EQ(w.transforms.front().key_length, 128);
}

TEST(Proposal, Errors)
{
	EXPECT_NE(parse_error("", true).find("no encryption"), std::string::npos);
	EXPECT_NE(parse_error("sha256-modp2048", true).find("no encryption"), std::string::npos);
	EXPECT_NE(parse_error("aes128-modp2048", true).find("integrity"), std::string::npos);
	// RFC 5282 §8: no integrity algorithm with an AEAD cipher.
	EXPECT_NE(parse_error("aes128gcm16-sha256-ecp256", true).find("AEAD"), std::string::npos);
	// §3.3.3: an IKE proposal needs a DH group.
	EXPECT_NE(parse_error("aes128gcm16-prfsha256", true).find("DH group"), std::string::npos);
	EXPECT_NE(parse_error("aes128gcm16-prfsha256", false).find("PRF"), std::string::npos);
	EXPECT_NE(parse_error("aes128gcm16-ecp256-ecp384", false).find("two DH"), std::string::npos);
	EXPECT_NE(parse_error("aes128-aes256-sha256", false).find("two encryption"), std::string::npos);
	EXPECT_NE(parse_error("3des-sha1", false).find("unknown algorithm '3des'"), std::string::npos);
	EXPECT_NE(parse_error("aes128gcm16-esn-ecp256-prfsha256", true).find("unknown algorithm 'esn'"),
		  std::string::npos);
}

SaPayload offer(std::initializer_list<const char *> texts, ProtocolId protocol, bool ike)
{
	SaPayload sa;
	uint8_t n = 1;
	for (const char *t : texts)
		sa.proposals.push_back(to_wire(parsed(t, ike), protocol, n++,
					       protocol == ProtocolId::ESP ? std::vector<uint8_t>{0, 0, 0, 1}
									   : std::vector<uint8_t>{}));
	return sa;
}

TEST(Proposal, SelectionFollowsTheInitiatorsOrder)
{
	// RFC 7296 §2.7: the first of the initiator's proposals we accept.
	auto sa = offer({"aes256-sha256-modp2048", "aes128gcm16-prfsha256-ecp256"}, ProtocolId::IKE, true);
	auto got = select_proposal(sa, ProtocolId::IKE,
				   {parsed("aes128gcm16-prfsha256-ecp256", true), parsed("aes256-sha256-modp2048", true)});
	ASSERT_TRUE(got);
	EXPECT_EQ(got->number, 1);
	EXPECT_EQ(got->set.encr, encr::AES_CBC);
	EXPECT_FALSE(select_proposal(sa, ProtocolId::IKE, {parsed("aes256gcm16-prfsha384-ecp384", true)}));
	// The wrong protocol is not looked at.
	EXPECT_FALSE(select_proposal(sa, ProtocolId::ESP, {parsed("aes128gcm16", false)}));
}

TEST(Proposal, EsnPreference)
{
	// RFC 7296 §3.3.2: ESN transforms in the offer's order; we take the
	// first we allow.
	auto both = offer({"aes128gcm16"}, ProtocolId::ESP, false);
	auto got = select_proposal(both, ProtocolId::ESP, {parsed("aes128gcm16", false)});
	ASSERT_TRUE(got);
	EXPECT_EQ(got->set.esn_mask, AlgorithmSet::kEsnYes);
	got = select_proposal(both, ProtocolId::ESP, {parsed("aes128gcm16-noesn", false)});
	ASSERT_TRUE(got);
	EXPECT_EQ(got->set.esn_mask, AlgorithmSet::kEsnNo);
	auto only_no = offer({"aes128gcm16-noesn"}, ProtocolId::ESP, false);
	EXPECT_FALSE(select_proposal(only_no, ProtocolId::ESP, {parsed("aes128gcm16-esn", false)}));
	// §3.3.1: an ESP proposal's SPI is 4 octets.
	auto bad_spi = both;
	bad_spi.proposals[0].spi = {1, 2};
	EXPECT_FALSE(select_proposal(bad_spi, ProtocolId::ESP, {parsed("aes128gcm16", false)}));
}

TEST(Proposal, PfsGroupMustMatch)
{
	// RFC 7296 §1.3.1: with PFS the group is part of the proposal.
	auto pfs = offer({"aes128gcm16-ecp256"}, ProtocolId::ESP, false);
	EXPECT_TRUE(select_proposal(pfs, ProtocolId::ESP, {parsed("aes128gcm16-ecp256", false)}));
	EXPECT_FALSE(select_proposal(pfs, ProtocolId::ESP, {parsed("aes128gcm16-modp2048", false)}));
	EXPECT_FALSE(select_proposal(pfs, ProtocolId::ESP, {parsed("aes128gcm16", false)}));
	auto none = offer({"aes128gcm16"}, ProtocolId::ESP, false);
	EXPECT_FALSE(select_proposal(none, ProtocolId::ESP, {parsed("aes128gcm16-ecp256", false)}));
}

TEST(Proposal, AcceptAnswer)
{
	// RFC 7296 §3.3.6: one proposal, one of ours by number, one transform
	// of each type, each one we offered.
	std::vector<AlgorithmSet> ours{parsed("aes128gcm16", false), parsed("aes256-sha256", false)};
	AlgorithmSet chosen = ours[1];
	chosen.esn_mask = AlgorithmSet::kEsnYes;
	SaPayload answer{{to_wire(chosen, ProtocolId::ESP, 2, {9, 9, 9, 9})}};
	auto got = accept_answer(answer, ProtocolId::ESP, ours);
	ASSERT_TRUE(got);
	EXPECT_EQ(got->set.encr_key_bits, 256);
	EXPECT_TRUE(got->set.esn());
	EXPECT_EQ(got->spi, (std::vector<uint8_t>{9, 9, 9, 9}));
	// Both ESN transforms in an answer: not a single choice.
	SaPayload two_esn{{to_wire(ours[1], ProtocolId::ESP, 2, {9, 9, 9, 9})}};
	EXPECT_FALSE(accept_answer(two_esn, ProtocolId::ESP, ours));
	// Wrong number: proposal 1 was GCM, not CBC.
	SaPayload renumbered{{to_wire(chosen, ProtocolId::ESP, 1, {9, 9, 9, 9})}};
	EXPECT_FALSE(accept_answer(renumbered, ProtocolId::ESP, ours));
	SaPayload out_of_range{{to_wire(chosen, ProtocolId::ESP, 3, {9, 9, 9, 9})}};
	EXPECT_FALSE(accept_answer(out_of_range, ProtocolId::ESP, ours));
	// Two proposals in an answer.
	SaPayload two{{answer.proposals[0], answer.proposals[0]}};
	EXPECT_FALSE(accept_answer(two, ProtocolId::ESP, ours));
	// An attribute we never offered (§3.3.6: unknown attributes refuse).
	SaPayload attr = answer;
	attr.proposals[0].transforms[0].other_attributes.push_back({99, uint16_t{1}, {}});
	EXPECT_FALSE(accept_answer(attr, ProtocolId::ESP, ours));
}

TrafficSelector ts(const char *start, const char *end, uint8_t proto = 0, uint16_t sp = 0, uint16_t ep = 65535)
{
	TrafficSelector t;
	t.start = addr(start);
	t.end = addr(end);
	t.type = t.start.is_v4() ? TsType::IPv4_ADDR_RANGE : TsType::IPv6_ADDR_RANGE;
	t.ip_protocol = proto;
	t.start_port = sp;
	t.end_port = ep;
	return t;
}

TEST(Selectors, Intersect)
{
	// RFC 7296 §2.9: ranges, protocols and ports intersect.
	auto i = intersect(ts("10.0.0.0", "10.0.255.255"), ts("10.0.1.0", "10.1.0.0", 6, 80, 80));
	ASSERT_TRUE(i);
	EXPECT_EQ(*i, ts("10.0.1.0", "10.0.255.255", 6, 80, 80));
	EXPECT_FALSE(intersect(ts("10.0.0.0", "10.0.0.255"), ts("10.0.1.0", "10.0.1.255")));
	EXPECT_FALSE(intersect(ts("10.0.0.0", "10.0.0.255", 6), ts("10.0.0.0", "10.0.0.255", 17)));
	EXPECT_FALSE(intersect(ts("10.0.0.0", "10.0.0.255", 0, 1, 100), ts("10.0.0.0", "10.0.0.255", 0, 200, 300)));
	EXPECT_FALSE(intersect(ts("10.0.0.0", "10.0.0.255"), ts("2001:db8::", "2001:db8::ffff")));
	// §3.13.1: OPAQUE ports (start > end) match nothing here.
	EXPECT_FALSE(intersect(ts("10.0.0.0", "10.0.0.255", 0, 65535, 0), ts("10.0.0.0", "10.0.0.255")));
}

TEST(Selectors, NarrowAndWithin)
{
	// RFC 7296 §2.9: the responder narrows; the initiator checks the
	// answer lies within its offer.
	std::vector<TrafficSelector> offered{ts("10.1.0.0", "10.1.255.255"), ts("10.9.0.0", "10.9.0.255")};
	std::vector<TrafficSelector> allowed{ts("10.1.2.0", "10.1.2.255"), ts("10.1.0.0", "10.1.255.255")};
	auto n = narrow(offered, allowed);
	ASSERT_EQ(n.size(), 2u);
	EXPECT_EQ(n[0], ts("10.1.2.0", "10.1.2.255"));
	EXPECT_EQ(n[1], ts("10.1.0.0", "10.1.255.255"));
	EXPECT_TRUE(narrow(offered, {ts("10.5.0.0", "10.5.0.255")}).empty());
	EXPECT_TRUE(within(n, offered));
	EXPECT_FALSE(within({ts("10.1.0.0", "10.2.0.0")}, offered));
	EXPECT_FALSE(within({}, offered));
	EXPECT_FALSE(within({ts("10.1.0.0", "10.1.0.255", 6)}, {ts("10.1.0.0", "10.1.0.255", 17)}));
	EXPECT_TRUE(within({ts("10.1.0.0", "10.1.0.255", 6, 22, 22)}, {ts("10.1.0.0", "10.1.0.255")}));
}

std::vector<std::string> prefixes(const char *start, const char *end, size_t max = 64)
{
	std::vector<std::string> out;
	auto got = range_to_prefixes(addr(start), addr(end), max);
	if (!got)
		return {"(too many)"};
	for (const auto &p : *got)
		out.push_back(p.str());
	return out;
}

TEST(Selectors, RangeToPrefixes)
{
	using V = std::vector<std::string>;
	EXPECT_EQ(prefixes("10.0.0.1", "10.0.0.6"), (V{"10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"}));
	EXPECT_EQ(prefixes("10.0.0.0", "10.0.0.255"), V{"10.0.0.0/24"});
	EXPECT_EQ(prefixes("10.0.0.7", "10.0.0.7"), V{"10.0.0.7/32"});
	EXPECT_EQ(prefixes("0.0.0.0", "255.255.255.255"), V{"0.0.0.0/0"});
	EXPECT_EQ(prefixes("10.0.0.255", "10.0.1.0"), (V{"10.0.0.255/32", "10.0.1.0/32"}));
	EXPECT_EQ(prefixes("255.255.255.254", "255.255.255.255"), V{"255.255.255.254/31"});
	EXPECT_EQ(prefixes("2001:db8::1", "2001:db8::2"), (V{"2001:db8::1/128", "2001:db8::2/128"}));
	EXPECT_EQ(prefixes("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), V{"::/0"});
	EXPECT_TRUE(prefixes("10.0.0.6", "10.0.0.1").empty());
	// 0.0.0.1 - 255.255.255.254 needs 62 prefixes.
	EXPECT_EQ(prefixes("0.0.0.1", "255.255.255.254", 61), V{"(too many)"});
	EXPECT_EQ(prefixes("0.0.0.1", "255.255.255.254").size(), 62u);
}

TEST(Selectors, PortMatch)
{
	EXPECT_EQ(port_match(0, 65535)->mask, 0);
	EXPECT_EQ(port_match(500, 500)->port, 500);
	EXPECT_FALSE(port_match(1, 1024));
}

std::string config_error(const std::string &text)
{
	try {
		parse_daemon_config(text, "iked.toml");
	} catch (const ConfigError &e) {
		return e.what();
	}
	ADD_FAILURE() << "accepted:\n" << text;
	return "";
}

const char *kConn = "[[connection]]\n"
		    "name = \"a\"\n"
		    "local_addr = \"192.0.2.1\"\n"
		    "remote_addr = \"192.0.2.2\"\n";

TEST(Config, TheHarnessConfigurationParses)
{
	auto c = parse_daemon_config(ConnOptions{}.toml(), "left.toml");
	ASSERT_EQ(c.connections.size(), 1u);
	const auto &conn = c.connections[0];
	EXPECT_EQ(conn.retransmit_timeout, std::chrono::milliseconds(100));
	EXPECT_EQ(conn.ike_proposals.size(), 1u);
	ASSERT_EQ(conn.children.size(), 1u);
	EXPECT_EQ(conn.children[0].local_ts, std::vector{prefix("10.1.0.0/16")});
	EXPECT_EQ(conn.children[0].rekey_time.count(), 0);
}

TEST(Config, ErrorsNameFileLineColumn)
{
	std::string base = kConn;
	EXPECT_EQ(config_error(base + "psk = \"0123456789abcdef\"\nike_proposals = [\"aes128-modp2048\"]\n"),
		  "iked.toml:6:18: AES-CBC needs an integrity algorithm ('aes128-modp2048')");
	EXPECT_NE(config_error(base + "psk = \"0123456789abcdef\"\n[[connection.child]]\nname = \"c\"\n"
				      "local_ts = [\"10.1.0.1/16\"]\nremote_ts = [\"10.2.0.0/16\"]\n")
			  .find("iked.toml:8:13: invalid prefix '10.1.0.1/16'"),
		  std::string::npos);
	EXPECT_NE(config_error(base).find("iked.toml:1:1: "), std::string::npos);
	EXPECT_NE(config_error(base).find("needs psk"), std::string::npos);
	EXPECT_NE(config_error(base + "psk = \"short\"\n").find("iked.toml:5:7: psk is shorter"), std::string::npos);
	std::string twice = base + "psk = \"0123456789abcdef\"\n" + base + "psk = \"0123456789abcdef\"\n";
	EXPECT_NE(config_error(twice).find("iked.toml:6:1: two connections named 'a'"), std::string::npos);
	std::string children = base + "psk = \"0123456789abcdef\"\n";
	for (int i = 0; i < 2; i++)
		children += "[[connection.child]]\nname = \"c\"\nlocal_ts = [\"10.1.0.0/16\"]\nremote_ts = [\"10.2.0.0/16\"]\n";
	EXPECT_NE(config_error(children).find("two children named 'c'"), std::string::npos);
	EXPECT_NE(config_error(base + "psk = \"0123456789abcdef\"\ntypo = 1\n").find("iked.toml:6:"), std::string::npos);
	EXPECT_NE(config_error(base + "psk = \"0123456789abcdef\"\nretransmit_timeout_ms = 5\n")
			  .find("retransmit_timeout_ms must be between 100 and 60000"),
		  std::string::npos);
}

} // namespace
} // namespace umigame::iked::test
