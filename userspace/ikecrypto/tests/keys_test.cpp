#include <gtest/gtest.h>

#include <functional>
#include <openssl/evp.h>

#include "test_util.h"

namespace umigame::ike {
namespace {

using test::bytes_of;
using test::from_hex;

const CipherSuite kGcm256{20, 256, 0};
const CipherSuite kGcm128{20, 128, 0};
const CipherSuite kCbc256Sha384{12, 256, 13};

// RFC 7296 §2.14 computed independently (Python's hmac module) for PRF
// HMAC-SHA2-256, AES-GCM-256: Ni = 32 x 0x01, Nr = 32 x 0x02, g^ir = 64 x
// 0x03, SPIi = 0102030405060708, SPIr = 1112131415161718.
TEST(DeriveIkeKeys, KnownAnswer)
{
	Prf prf(5);
	IkeKeys k = derive_ike_keys(prf, kGcm256, Bytes(32, 1), Bytes(32, 2), Bytes(64, 3), 0x0102030405060708,
				    0x1112131415161718);
	EXPECT_EQ(bytes_of(k.sk_d), from_hex("f889f0e591060d678600cf2b8079b4730d727549bd17b8def2de3fa2e70fdafc"));
	EXPECT_TRUE(k.sk_ai.empty());
	EXPECT_TRUE(k.sk_ar.empty());
	EXPECT_EQ(bytes_of(k.sk_ei),
		  from_hex("0b59d2648c5527e5e181982996fa1b329203be5dac4813955f58e26fef912be4f98b6610"));
	EXPECT_EQ(bytes_of(k.sk_er),
		  from_hex("9213e41458743d9782e478a4b14fdf393ff54fd2e3e32d610aa9c6d25ef044ed0379a23b"));
	EXPECT_EQ(bytes_of(k.sk_pi), from_hex("c75fccfbb2e552bac38634348cac67b0a0ba9a900f161f11dc8551cc8c0cd20f"));
	EXPECT_EQ(bytes_of(k.sk_pr), from_hex("ea5a71a9898a3cc3ba928825740fcb88e047740d0c8add5ce6f090f3ad4c9f3d"));

	// RFC 7296 §2.17: KEYMAT = prf+(SK_d, Ni | Nr) without PFS, computed the
	// same way; ESP AES-GCM-128 takes 20 octets per direction.
	ChildKeys c = derive_child_keys(prf, k.sk_d, kGcm128, Bytes(32, 1), Bytes(32, 2), {});
	Bytes keymat = from_hex("cbc5c9b27f19cc8db66f71726716aba071b35098d4b44ddb4a99086769832708f70d790fccac9cb6");
	EXPECT_EQ(bytes_of(c.encr_i), Bytes(keymat.begin(), keymat.begin() + 20));
	EXPECT_EQ(bytes_of(c.encr_r), Bytes(keymat.begin() + 20, keymat.end()));
	EXPECT_TRUE(c.integ_i.empty());
	EXPECT_TRUE(c.integ_r.empty());
}

// RFC 7296 §2.14: SK_d, SK_pi, SK_pr are the PRF's preferred key length,
// the others what the suite's transforms need.
TEST(DeriveIkeKeys, SizesPerSuite)
{
	struct {
		uint16_t prf;
		CipherSuite suite;
		size_t prf_key, integ, encr;
	} cases[] = {
		{5, kGcm128, 32, 0, 20},
		{6, kGcm256, 48, 0, 36},
		{7, CipherSuite{12, 128, 12}, 64, 32, 16},
		{5, kCbc256Sha384, 32, 48, 32},
		{7, CipherSuite{12, 256, 14}, 64, 64, 32},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.prf);
		Prf prf(c.prf);
		IkeKeys k = derive_ike_keys(prf, c.suite, random_bytes(32), random_bytes(32), random_bytes(256), 1, 2);
		EXPECT_EQ(k.sk_d.size(), c.prf_key);
		EXPECT_EQ(k.sk_pi.size(), c.prf_key);
		EXPECT_EQ(k.sk_pr.size(), c.prf_key);
		EXPECT_EQ(k.sk_ai.size(), c.integ);
		EXPECT_EQ(k.sk_ar.size(), c.integ);
		EXPECT_EQ(k.sk_ei.size(), c.encr);
		EXPECT_EQ(k.sk_er.size(), c.encr);
		EXPECT_FALSE(k.sk_ei == k.sk_er);
		EXPECT_FALSE(k.sk_pi == k.sk_pr);
	}
}

struct Inputs {
	Bytes ni = Bytes(32, 1), nr = Bytes(32, 2), gir = Bytes(64, 3);
	uint64_t spi_i = 10, spi_r = 20;
};

// RFC 7296 §2.14: every input goes into the keys.
TEST(DeriveIkeKeys, EveryInputChangesTheKeys)
{
	Prf prf(5);
	auto derive = [&](const Inputs &in) {
		return derive_ike_keys(prf, kCbc256Sha384, in.ni, in.nr, in.gir, in.spi_i, in.spi_r);
	};
	IkeKeys base = derive(Inputs{});
	std::vector<std::pair<const char *, std::function<void(Inputs &)>>> changes = {
		{"ni", [](Inputs &in) { in.ni[0] ^= 1; }},
		{"nr", [](Inputs &in) { in.nr[31] ^= 1; }},
		{"gir", [](Inputs &in) { in.gir[10] ^= 1; }},
		{"spi_i", [](Inputs &in) { in.spi_i++; }},
		{"spi_r", [](Inputs &in) { in.spi_r++; }},
	};
	for (auto &[name, change] : changes) {
		SCOPED_TRACE(name);
		Inputs in;
		change(in);
		IkeKeys k = derive(in);
		EXPECT_FALSE(k.sk_d == base.sk_d);
		EXPECT_FALSE(k.sk_ai == base.sk_ai);
		EXPECT_FALSE(k.sk_ei == base.sk_ei);
		EXPECT_FALSE(k.sk_pr == base.sk_pr);
	}
	// A different PRF too.
	EXPECT_FALSE(derive_ike_keys(Prf(6), kCbc256Sha384, Inputs{}.ni, Inputs{}.nr, Inputs{}.gir, 10, 20).sk_ei ==
		     base.sk_ei);
}

// RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the
// old PRF, the rest as in §2.14 with the new PRF and SPIs.
TEST(DeriveIkeKeys, RekeyUsesTheOldSkD)
{
	Prf old_prf(5), new_prf(7);
	Bytes old_sk_d = random_bytes(32), ni = random_bytes(32), nr = random_bytes(32), gir = random_bytes(64);
	IkeKeys k = derive_rekeyed_ike_keys(old_prf, old_sk_d, new_prf, kGcm256, ni, nr, gir, 5, 6);

	Bytes input = gir;
	input.insert(input.end(), ni.begin(), ni.end());
	input.insert(input.end(), nr.begin(), nr.end());
	Secret skeyseed = old_prf.compute(old_sk_d, input);
	Bytes seed = ni;
	seed.insert(seed.end(), nr.begin(), nr.end());
	for (uint64_t spi : {5ull, 6ull})
		for (int shift = 56; shift >= 0; shift -= 8)
			seed.push_back(static_cast<uint8_t>(spi >> shift));
	Bytes keymat = bytes_of(new_prf.plus(skeyseed, seed, 64 + 36 + 36 + 64 + 64));
	EXPECT_EQ(bytes_of(k.sk_d), Bytes(keymat.begin(), keymat.begin() + 64));
	EXPECT_EQ(bytes_of(k.sk_ei), Bytes(keymat.begin() + 64, keymat.begin() + 100));
	EXPECT_EQ(bytes_of(k.sk_er), Bytes(keymat.begin() + 100, keymat.begin() + 136));
	EXPECT_EQ(bytes_of(k.sk_pr), Bytes(keymat.end() - 64, keymat.end()));
	EXPECT_FALSE(derive_rekeyed_ike_keys(old_prf, random_bytes(32), new_prf, kGcm256, ni, nr, gir, 5, 6).sk_d ==
		     k.sk_d);
}

// RFC 7296 §2.17: with PFS g^ir comes first; initiator-to-responder keys
// first, encryption before integrity.
TEST(DeriveChildKeys, OrderAndPfs)
{
	Prf prf(6);
	CipherSuite esp{12, 128, 12};
	Bytes sk_d = random_bytes(48), ni = random_bytes(32), nr = random_bytes(32), gir = random_bytes(256);
	ChildKeys k = derive_child_keys(prf, sk_d, esp, ni, nr, gir);
	Bytes seed = gir;
	seed.insert(seed.end(), ni.begin(), ni.end());
	seed.insert(seed.end(), nr.begin(), nr.end());
	Bytes keymat = bytes_of(prf.plus(sk_d, seed, 2 * (16 + 32)));
	auto at = [&](size_t from, size_t n) { return Bytes(keymat.begin() + from, keymat.begin() + from + n); };
	EXPECT_EQ(bytes_of(k.encr_i), at(0, 16));
	EXPECT_EQ(bytes_of(k.integ_i), at(16, 32));
	EXPECT_EQ(bytes_of(k.encr_r), at(48, 16));
	EXPECT_EQ(bytes_of(k.integ_r), at(64, 32));
	EXPECT_FALSE(derive_child_keys(prf, sk_d, esp, ni, nr, {}).encr_i == k.encr_i);
}

Bytes raw_hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> data)
{
	Bytes out(32);
	size_t len = 0;
	EXPECT_TRUE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(), data.data(),
			      data.size(), out.data(), out.size(), &len));
	return out;
}

// RFC 7296 §2.15: InitiatorSignedOctets = RealMessage1 | NonceRData |
// MACedIDForI, MACedIDForI = prf(SK_pi, RestOfInitIDPayload); AUTH =
// prf( prf(Shared Secret, "Key Pad for IKEv2"), <InitiatorSignedOctets>).
// Written here a second time with raw HMAC calls.
TEST(PskAuth, KnownAnswerFromTheRfcFormula)
{
	Prf prf(5);
	Bytes message = bytes_of("IKE_SA_INIT request as sent"), nonce_r = Bytes(32, 0x42);
	Bytes sk_pi = Bytes(32, 0x17), id_body = {2, 0, 0, 0, 'a', '.', 'e', 'x'};
	Bytes psk = bytes_of("correct horse battery staple");

	Bytes expected_octets = message;
	expected_octets.insert(expected_octets.end(), nonce_r.begin(), nonce_r.end());
	Bytes maced_id = raw_hmac_sha256(sk_pi, id_body);
	expected_octets.insert(expected_octets.end(), maced_id.begin(), maced_id.end());
	Bytes octets = signed_octets(message, nonce_r, prf, sk_pi, id_body);
	EXPECT_EQ(octets, expected_octets);

	Bytes pad = bytes_of("Key Pad for IKEv2");
	ASSERT_EQ(pad.size(), 17u); // no terminating NUL
	Bytes expected_auth = raw_hmac_sha256(raw_hmac_sha256(psk, pad), octets);
	EXPECT_EQ(psk_auth(prf, psk, octets), expected_auth);
	EXPECT_TRUE(psk_auth_matches(prf, psk, octets, expected_auth));

	Bytes wrong = expected_auth;
	wrong[5] ^= 1;
	EXPECT_FALSE(psk_auth_matches(prf, psk, octets, wrong));
	EXPECT_FALSE(psk_auth_matches(prf, psk, octets, Bytes(expected_auth.begin(), expected_auth.end() - 1)));
	EXPECT_FALSE(psk_auth_matches(prf, psk, octets, {}));
	EXPECT_FALSE(psk_auth_matches(prf, bytes_of("wrong psk"), octets, expected_auth));
	Bytes other_octets = octets;
	other_octets[0] ^= 1;
	EXPECT_FALSE(psk_auth_matches(prf, psk, other_octets, expected_auth));
}

// RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP | Port), computed directly.
TEST(NatDetection, HashMatchesSha1OfTheFields)
{
	struct {
		const char *addr;
		uint16_t port;
	} cases[] = {{"192.0.2.1", 500}, {"2001:db8::1", 4500}};
	for (auto c : cases) {
		SCOPED_TRACE(c.addr);
		auto addr = IpAddress::parse(c.addr);
		ASSERT_TRUE(addr.has_value());
		Bytes input = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};
		input.insert(input.end(), addr->span().begin(), addr->span().end());
		input.push_back(static_cast<uint8_t>(c.port >> 8));
		input.push_back(static_cast<uint8_t>(c.port));
		Bytes expected(20);
		unsigned int len = 0;
		ASSERT_EQ(EVP_Digest(input.data(), input.size(), expected.data(), &len, EVP_sha1(), nullptr), 1);
		EXPECT_EQ(nat_detection_hash(0x0102030405060708, 0xa1a2a3a4a5a6a7a8, *addr, c.port), expected);
		EXPECT_NE(nat_detection_hash(0x0102030405060708, 0xa1a2a3a4a5a6a7a8, *addr, c.port + 1), expected);
	}
	// The IPv4 address is 4 octets, not 16.
	EXPECT_EQ(IpAddress::parse("192.0.2.1")->span().size(), 4u);
}

// RFC 7296 §2.6: a cookie is valid for the same Ni, IPi and SPIi, and
// across one roll of the secret.
TEST(CookieJar, ValidInvalidAndRolled)
{
	CookieJar jar;
	Bytes ni = random_bytes(32);
	IpAddress ip = *IpAddress::parse("2001:db8::7");
	Bytes cookie = jar.make(ni, ip, 77);
	EXPECT_GE(cookie.size(), 1u);
	EXPECT_LE(cookie.size(), 64u); // §3.10.1: 1 to 64 octets
	EXPECT_TRUE(jar.valid(cookie, ni, ip, 77));

	Bytes other_ni = ni;
	other_ni[0] ^= 1;
	EXPECT_FALSE(jar.valid(cookie, other_ni, ip, 77));
	EXPECT_FALSE(jar.valid(cookie, ni, *IpAddress::parse("2001:db8::8"), 77));
	EXPECT_FALSE(jar.valid(cookie, ni, ip, 78));
	for (size_t i = 0; i < cookie.size(); i++) {
		Bytes bad = cookie;
		bad[i] ^= 0x10;
		EXPECT_FALSE(jar.valid(bad, ni, ip, 77)) << i;
	}
	EXPECT_FALSE(jar.valid(Bytes(cookie.begin(), cookie.end() - 1), ni, ip, 77));
	EXPECT_FALSE(jar.valid({}, ni, ip, 77));
	EXPECT_FALSE(CookieJar().valid(cookie, ni, ip, 77)); // another responder's secret

	jar.roll();
	EXPECT_TRUE(jar.valid(cookie, ni, ip, 77)); // the previous secret
	Bytes fresh = jar.make(ni, ip, 77);
	EXPECT_NE(fresh, cookie);
	EXPECT_TRUE(jar.valid(fresh, ni, ip, 77));
	jar.roll();
	EXPECT_FALSE(jar.valid(cookie, ni, ip, 77)); // two rolls ago
	EXPECT_TRUE(jar.valid(fresh, ni, ip, 77));
}

} // namespace
} // namespace umigame::ike
