#include <gtest/gtest.h>

#include <openssl/evp.h>

#include "test_util.h"

namespace umigame::ike {
namespace {

using test::bytes_of;

struct SuiteCase {
	const char *name;
	CipherSuite suite;
	size_t encr_key, integ_key, icv;
	const char *hmac_digest; // nullptr for GCM
};

// Key and ICV sizes: RFC 5282 §7.1 (GCM key + 4-byte salt, 16-byte ICV),
// RFC 4868 §2.1.1 (HMAC-SHA2 key = output, ICV = half of it).
const SuiteCase kSuites[] = {
	{"gcm128", {20, 128, 0}, 20, 0, 16, nullptr},
	{"gcm256", {20, 256, 0}, 36, 0, 16, nullptr},
	{"cbc128_sha256", {12, 128, 12}, 16, 32, 16, "SHA256"},
	{"cbc256_sha256", {12, 256, 12}, 32, 32, 16, "SHA256"},
	{"cbc256_sha384", {12, 256, 13}, 32, 48, 24, "SHA384"},
	{"cbc256_sha512", {12, 256, 14}, 32, 64, 32, "SHA512"},
};

SkProtection make(const SuiteCase &c, Bytes *encr_key = nullptr, Bytes *integ_key = nullptr)
{
	Bytes e = random_bytes(c.encr_key), i = random_bytes(c.integ_key);
	if (encr_key)
		*encr_key = e;
	if (integ_key)
		*integ_key = i;
	return SkProtection(c.suite, e, i);
}

// What an IKE header (28 octets) and an SK generic payload header (4) look
// like to this class: opaque bytes.
Bytes some_aad()
{
	return random_bytes(32);
}

TEST(CipherSuite, SizesAndXfrmNames)
{
	for (const auto &c : kSuites) {
		SCOPED_TRACE(c.name);
		EXPECT_TRUE(c.suite.supported());
		EXPECT_EQ(c.suite.aead(), c.hmac_digest == nullptr);
		EXPECT_EQ(c.suite.encr_key_size(), c.encr_key);
		EXPECT_EQ(c.suite.integ_key_size(), c.integ_key);
		EXPECT_EQ(c.suite.icv_size(), c.icv);
		if (c.suite.aead()) {
			EXPECT_EQ(c.suite.xfrm_aead_name(), "rfc4106(gcm(aes))");
		} else {
			EXPECT_EQ(c.suite.xfrm_enc_name(), "cbc(aes)");
			EXPECT_EQ(c.suite.xfrm_auth_trunc_bits(), c.icv * 8);
		}
	}
	EXPECT_EQ((CipherSuite{12, 128, 12}).xfrm_auth_name(), "hmac(sha256)");
	EXPECT_EQ((CipherSuite{12, 128, 13}).xfrm_auth_name(), "hmac(sha384)");
	EXPECT_EQ((CipherSuite{12, 128, 14}).xfrm_auth_name(), "hmac(sha512)");
	// RFC 5282 §8: no integrity transform beside an AEAD; CBC needs one.
	EXPECT_FALSE(CipherSuite::supported(20, 128, 12));
	EXPECT_FALSE(CipherSuite::supported(12, 128, 0));
	EXPECT_FALSE(CipherSuite::supported(12, 100, 12));
	EXPECT_FALSE(CipherSuite::supported(3, 128, 12));
	EXPECT_FALSE(CipherSuite::supported(12, 128, 2));
}

TEST(SkProtection, KeysOfTheWrongSizeAreRefused)
{
	EXPECT_THROW(SkProtection(CipherSuite{20, 128, 0}, Bytes(16), {}), CryptoError); // no salt
	EXPECT_THROW(SkProtection(CipherSuite{12, 128, 12}, Bytes(16), Bytes(16)), CryptoError);
	EXPECT_THROW(SkProtection(CipherSuite{12, 128, 0}, Bytes(16), {}), CryptoError);
}

// RFC 7296 §3.14: IV | encrypted (payloads | padding | pad length) | ICV,
// and sealed_size() says exactly how long that is.
TEST(SkProtection, RoundTripAndSealedSizeForManyLengths)
{
	for (const auto &c : kSuites) {
		SCOPED_TRACE(c.name);
		SkProtection sk = make(c);
		for (size_t n = 0; n < 300; n += (n < 70 ? 1 : 37)) {
			SCOPED_TRACE(n);
			Bytes aad = some_aad();
			Bytes plaintext = random_bytes(n);
			Bytes body = sk.seal(aad, plaintext);
			EXPECT_EQ(body.size(), sk.sealed_size(n));
			if (!c.suite.aead()) {
				EXPECT_EQ((body.size() - 16 - c.icv) % 16, 0u); // whole AES blocks
			}
			auto opened = sk.open(aad, body);
			ASSERT_TRUE(opened.has_value());
			EXPECT_EQ(*opened, plaintext);
		}
	}
}

// RFC 7296 §3.14 / RFC 5282 §5: any change to the header, IV, ciphertext or
// ICV fails the integrity check.
TEST(SkProtection, TamperingWithAnyByteIsDetected)
{
	for (const auto &c : kSuites) {
		SCOPED_TRACE(c.name);
		SkProtection sk = make(c);
		Bytes aad = some_aad();
		Bytes body = sk.seal(aad, bytes_of("some IKE payloads, twenty-nine+"));
		for (size_t i = 0; i < aad.size(); i++) {
			Bytes bad = aad;
			bad[i] ^= 0x01;
			EXPECT_FALSE(sk.open(bad, body).has_value()) << "aad byte " << i;
		}
		for (size_t i = 0; i < body.size(); i++) {
			Bytes bad = body;
			bad[i] ^= 0x80;
			EXPECT_FALSE(sk.open(aad, bad).has_value()) << "body byte " << i;
		}
		EXPECT_FALSE(sk.open(aad, Bytes(body.begin(), body.end() - 1)).has_value());
		EXPECT_FALSE(sk.open(aad, {}).has_value());
		EXPECT_FALSE(sk.open(aad, Bytes(5)).has_value());
		// Another key of the same suite cannot open it.
		EXPECT_FALSE(make(c).open(aad, body).has_value());
	}
}

// RFC 5282 §3.1: the explicit IV never repeats under one key.
TEST(SkProtection, FreshIvEachSeal)
{
	for (const auto &c : kSuites) {
		SCOPED_TRACE(c.name);
		SkProtection sk = make(c);
		size_t iv = c.suite.aead() ? 8 : 16;
		Bytes a = sk.seal({}, bytes_of("same")), b = sk.seal({}, bytes_of("same"));
		EXPECT_NE(Bytes(a.begin(), a.begin() + static_cast<long>(iv)), Bytes(b.begin(), b.begin() + static_cast<long>(iv)));
		EXPECT_NE(a, b);
		// No AAD at all still round-trips (the class does not insist on
		// the caller's framing).
		EXPECT_EQ(sk.open({}, a), bytes_of("same"));
		EXPECT_FALSE(sk.open(Bytes(1, 0), a).has_value());
	}
}

// RFC 7383 §2.5.1: the largest plaintext that fits a fragment's body.
TEST(SkProtection, OverheadForMtuIsTheLargestFittingPlaintext)
{
	for (const auto &c : kSuites) {
		SCOPED_TRACE(c.name);
		SkProtection sk = make(c);
		EXPECT_EQ(sk.overhead_for_mtu(0), 0u);
		for (size_t max_body = sk.sealed_size(0); max_body < 600; max_body++) {
			size_t n = sk.overhead_for_mtu(max_body);
			EXPECT_LE(sk.sealed_size(n), max_body) << max_body;
			EXPECT_GT(sk.sealed_size(n + 1), max_body) << max_body;
		}
	}
}

// The wire format, checked with OpenSSL directly: GCM per RFC 5282 §4/§5.1
// (nonce = salt (last 4 key octets) | 8-octet IV, AAD as given, 16-octet tag
// last), CBC+HMAC per RFC 7296 §3.14 (ICV = truncated HMAC over aad | IV |
// ciphertext). Plaintext | padding | pad length inside.
TEST(SkProtection, BodyMatchesTheRfcFormat)
{
	for (const auto &c : kSuites) {
		SCOPED_TRACE(c.name);
		Bytes encr_key, integ_key;
		SkProtection sk = make(c, &encr_key, &integ_key);
		Bytes aad = some_aad();
		Bytes plaintext = bytes_of("payload bytes");
		Bytes body = sk.seal(aad, plaintext);
		size_t key_bytes = c.suite.encr_key_bits / 8;
		Bytes inner(body.size());
		int len = 0, fin = 0;
		EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
		if (c.suite.aead()) {
			const EVP_CIPHER *cipher = key_bytes == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
			Bytes nonce(encr_key.end() - 4, encr_key.end());
			nonce.insert(nonce.end(), body.begin(), body.begin() + 8);
			Bytes tag(body.end() - 16, body.end());
			ASSERT_EQ(EVP_DecryptInit_ex(ctx, cipher, nullptr, nullptr, nullptr), 1);
			ASSERT_EQ(EVP_DecryptInit_ex(ctx, nullptr, nullptr, encr_key.data(), nonce.data()), 1);
			ASSERT_EQ(EVP_DecryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())), 1);
			ASSERT_EQ(EVP_DecryptUpdate(ctx, inner.data(), &len, body.data() + 8, static_cast<int>(body.size() - 24)), 1);
			ASSERT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag.data()), 1);
			ASSERT_EQ(EVP_DecryptFinal_ex(ctx, inner.data() + len, &fin), 1);
		} else {
			Bytes mac_input = aad;
			mac_input.insert(mac_input.end(), body.begin(), body.end() - static_cast<long>(c.icv));
			Bytes mac(64);
			size_t mac_len = 0;
			ASSERT_TRUE(EVP_Q_mac(nullptr, "HMAC", nullptr, c.hmac_digest, nullptr, integ_key.data(),
					      integ_key.size(), mac_input.data(), mac_input.size(), mac.data(), mac.size(),
					      &mac_len));
			mac.resize(c.icv);
			EXPECT_EQ(Bytes(body.end() - static_cast<long>(c.icv), body.end()), mac);
			const EVP_CIPHER *cipher = key_bytes == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
			ASSERT_EQ(EVP_DecryptInit_ex(ctx, cipher, nullptr, encr_key.data(), body.data()), 1);
			EVP_CIPHER_CTX_set_padding(ctx, 0);
			ASSERT_EQ(EVP_DecryptUpdate(ctx, inner.data(), &len, body.data() + 16,
						    static_cast<int>(body.size() - 16 - c.icv)), 1);
			ASSERT_EQ(EVP_DecryptFinal_ex(ctx, inner.data() + len, &fin), 1);
		}
		EVP_CIPHER_CTX_free(ctx);
		inner.resize(static_cast<size_t>(len + fin));
		ASSERT_FALSE(inner.empty());
		size_t pad = inner.back();
		ASSERT_EQ(inner.size(), plaintext.size() + pad + 1);
		EXPECT_EQ(Bytes(inner.begin(), inner.begin() + static_cast<long>(plaintext.size())), plaintext);
	}
}

// RFC 7296 §3.14: a pad length larger than what precedes it is refused
// even when the ICV is right.
TEST(SkProtection, ImpossiblePadLengthIsRefused)
{
	// GCM: one octet of plaintext that claims five octets of padding.
	{
		Bytes key = random_bytes(20), aad = some_aad(), iv = random_bytes(8);
		SkProtection sk(CipherSuite{20, 128, 0}, key, {});
		Bytes nonce(key.end() - 4, key.end());
		nonce.insert(nonce.end(), iv.begin(), iv.end());
		uint8_t inner = 5;
		Bytes body = iv;
		body.resize(8 + 1 + 16);
		int len = 0;
		EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
		ASSERT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, nullptr, nullptr), 1);
		ASSERT_EQ(EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data()), 1);
		ASSERT_EQ(EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())), 1);
		ASSERT_EQ(EVP_EncryptUpdate(ctx, body.data() + 8, &len, &inner, 1), 1);
		ASSERT_EQ(EVP_EncryptFinal_ex(ctx, body.data() + 9, &len), 1);
		ASSERT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, body.data() + 9), 1);
		EVP_CIPHER_CTX_free(ctx);
		EXPECT_FALSE(sk.open(aad, body).has_value());
		// The same with a pad length of 0 opens to nothing: the check
		// above failed for the padding, not the construction.
		inner = 0;
		ctx = EVP_CIPHER_CTX_new();
		EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, key.data(), nonce.data());
		EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size()));
		EVP_EncryptUpdate(ctx, body.data() + 8, &len, &inner, 1);
		EVP_EncryptFinal_ex(ctx, body.data() + 9, &len);
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, body.data() + 9);
		EVP_CIPHER_CTX_free(ctx);
		auto opened = sk.open(aad, body);
		ASSERT_TRUE(opened.has_value());
		EXPECT_TRUE(opened->empty());
	}
	// CBC: a block whose last octet claims 255 octets of padding.
	{
		Bytes key = random_bytes(16), integ = random_bytes(32), aad = some_aad(), iv = random_bytes(16);
		SkProtection sk(CipherSuite{12, 128, 12}, key, integ);
		Bytes block(16, 0);
		block.back() = 0xff;
		Bytes body = iv;
		body.resize(32);
		int len = 0;
		EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
		ASSERT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), nullptr, key.data(), iv.data()), 1);
		EVP_CIPHER_CTX_set_padding(ctx, 0);
		ASSERT_EQ(EVP_EncryptUpdate(ctx, body.data() + 16, &len, block.data(), 16), 1);
		EVP_CIPHER_CTX_free(ctx);
		Bytes mac_input = aad;
		mac_input.insert(mac_input.end(), body.begin(), body.end());
		Bytes mac(32);
		size_t mac_len = 0;
		ASSERT_TRUE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, integ.data(), integ.size(),
				      mac_input.data(), mac_input.size(), mac.data(), mac.size(), &mac_len));
		body.insert(body.end(), mac.begin(), mac.begin() + 16);
		EXPECT_FALSE(sk.open(aad, body).has_value());
	}
}

} // namespace
} // namespace umigame::ike
