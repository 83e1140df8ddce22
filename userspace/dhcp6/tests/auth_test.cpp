// The Reconfigure Key Authentication Protocol, RFC 8415 §20.4: HMAC-MD5
// itself, signing a Reconfigure, and a client's check of what it received.
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hex.h"
#include "umigame/dhcp6/auth.h"
#include "vectors.h"

namespace umigame::dhcp6 {
namespace {

using namespace test;

std::vector<uint8_t> bytes(const std::string &s)
{
	return {s.begin(), s.end()};
}

TEST(HmacMd5, Rfc2104AndRfc2202TestVectors)
{
	const std::vector<uint8_t> key1(16, 0x0b);
	auto d1 = hmac_md5(key1, bytes("Hi There"));
	EXPECT_EQ(to_hex({d1.begin(), d1.end()}), "9294727a3638bb1c13f48ef8158bfc9d");
	auto d2 = hmac_md5(bytes("Jefe"), bytes("what do ya want for nothing?"));
	EXPECT_EQ(to_hex({d2.begin(), d2.end()}), "750c783e6ab0b503eaa86e310a5db738");
}

TEST(ReconfigureKey, KeyOptionInAReplyRfc8415s20_4_1)
{
	Authentication a = reconfigure_key_option(reconfigure_key(), 7);
	EXPECT_EQ(to_hex(encode_option(a)), "000b001c" "030100" "0000000000000007"
					    "01" "000102030405060708090a0b0c0d0e0f");
	auto info = reconfigure_key_info(a);
	ASSERT_TRUE(info.has_value());
	EXPECT_EQ(info->type, ReconfigureKeyType::Key);
	EXPECT_EQ(info->value, reconfigure_key());
}

TEST(ReconfigureKey, InfoRejectsOtherProtocolsAndSizes)
{
	Authentication good = reconfigure_key_option(reconfigure_key(), 1);
	const std::pair<const char *, std::function<void(Authentication &)>> breakers[] = {
		{"protocol 2 (delayed)", [](Authentication &a) { a.protocol = 2; }},
		{"algorithm 2", [](Authentication &a) { a.algorithm = 2; }},
		{"RDM 1", [](Authentication &a) { a.rdm = 1; }},
		{"type 3", [](Authentication &a) { a.information[0] = 3; }},
		{"16 octets", [](Authentication &a) { a.information.pop_back(); }},
		{"18 octets", [](Authentication &a) { a.information.push_back(0); }},
	};
	for (const auto &[name, brk] : breakers) {
		SCOPED_TRACE(name);
		Authentication a = good;
		brk(a);
		EXPECT_FALSE(reconfigure_key_info(a).has_value());
	}
}

TEST(ReconfigureKey, SignedReconfigureVerifiesRfc8415s20_4_2)
{
	Message m = Message::reconfigure(server_duid(), client_duid(), MessageType::Renew);
	sign_reconfigure(m, reconfigure_key(), 1);
	const auto wire = m.serialize();
	EXPECT_EQ(wire, reconfigure_wire()); // digest matches an independent HMAC
	EXPECT_EQ(verify_reconfigure(wire, reconfigure_key()), AuthCheck::Valid);

	// Signing again replaces the option rather than adding a second one.
	sign_reconfigure(m, reconfigure_key(), 2);
	EXPECT_EQ(m.all<Authentication>().size(), 1u);
	EXPECT_EQ(verify_reconfigure(m.serialize(), reconfigure_key()), AuthCheck::Valid);
}

TEST(ReconfigureKey, EveryFlippedBitIsRejectedRfc8415s20_4_3)
{
	const auto wire = reconfigure_wire();
	for (size_t bit = 0; bit < wire.size() * 8; bit++) {
		auto bad = wire;
		bad[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
		AuthCheck result = AuthCheck::Valid;
		try {
			result = verify_reconfigure(bad, reconfigure_key());
		} catch (const ParseError &) {
			continue; // no longer a message at all: rejected too
		}
		EXPECT_NE(result, AuthCheck::Valid) << "bit " << bit;
	}
}

TEST(ReconfigureKey, WrongKeyIsABadDigest)
{
	ReconfigureKey other = reconfigure_key();
	other[15] ^= 1;
	EXPECT_EQ(verify_reconfigure(reconfigure_wire(), other), AuthCheck::BadDigest);
}

TEST(ReconfigureKey, MissingDuplicateOrForeignAuthentication)
{
	Message m = Message::reconfigure(server_duid(), client_duid(), MessageType::Renew);
	EXPECT_EQ(verify_reconfigure(m.serialize(), reconfigure_key()), AuthCheck::Missing);

	// The key itself (type 1) belongs in a Reply, never proves a Reconfigure.
	Message with_key = m;
	with_key.add(reconfigure_key_option(reconfigure_key(), 1));
	EXPECT_EQ(verify_reconfigure(with_key.serialize(), reconfigure_key()),
		  AuthCheck::NotReconfigureKey);

	Message twice = m;
	sign_reconfigure(twice, reconfigure_key(), 1);
	twice.options.add(*twice.get<Authentication>());
	EXPECT_EQ(verify_reconfigure(twice.serialize(), reconfigure_key()), AuthCheck::Duplicate);

	EXPECT_THROW(verify_reconfigure(hex("0a 0000"), reconfigure_key()), ParseError);
}

} // namespace
} // namespace umigame::dhcp6
