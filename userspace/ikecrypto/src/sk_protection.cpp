#include <algorithm>
#include <mutex>

#include <openssl/crypto.h>

#include "openssl_util.h"

namespace umigame::ike {

namespace {

using detail::Owned;

// IANA "Transform Type 1 - Encryption Algorithm Transform IDs" and "Transform
// Type 3 - Integrity Algorithm Transform IDs".
constexpr uint16_t kEncrAesCbc = 12, kEncrAesGcm16 = 20;
constexpr uint16_t kIntegHmacSha256_128 = 12, kIntegHmacSha384_192 = 13, kIntegHmacSha512_256 = 14;

struct Integrity {
	uint16_t id;
	const char *digest;
	const char *xfrm_name;
	size_t key_size; // RFC 4868 §2.1.1: the hash's output length
	size_t icv_size; // RFC 4868 §2.1.1: half of it
};

constexpr Integrity kIntegrities[] = {
	{kIntegHmacSha256_128, "SHA256", "hmac(sha256)", 32, 16},
	{kIntegHmacSha384_192, "SHA384", "hmac(sha384)", 48, 24},
	{kIntegHmacSha512_256, "SHA512", "hmac(sha512)", 64, 32},
};

const Integrity *find_integrity(uint16_t id)
{
	for (const auto &i : kIntegrities)
		if (i.id == id)
			return &i;
	return nullptr;
}

bool aes_key_bits_ok(uint16_t bits)
{
	return bits == 128 || bits == 192 || bits == 256;
}

// RFC 5282 §7.1 (IKE) and RFC 4106 §8.1 (ESP): the salt at the end of the
// GCM key material, and the nonce = salt | explicit IV (RFC 5282 §4).
constexpr size_t kGcmSaltSize = 4, kGcmIvSize = 8, kGcmIcvSize = 16;
// RFC 3602 §2.1 / RFC 7296 §3.14: the CBC IV is one cipher block.
constexpr size_t kAesBlockSize = 16;

// Fetched once each (a legacy EVP_aes_*() costs a lookup by name on every
// init) and never freed, as prf.cpp's digests.
struct CipherSlot {
	const char *name;
	std::once_flag once;
	EVP_CIPHER *cipher = nullptr;
};

CipherSlot g_ciphers[] = {
	{"AES-128-GCM", {}}, {"AES-192-GCM", {}}, {"AES-256-GCM", {}},
	{"AES-128-CBC", {}}, {"AES-192-CBC", {}}, {"AES-256-CBC", {}},
};

const EVP_CIPHER *cipher_for(const CipherSuite &s)
{
	size_t size_index = s.encr_key_bits == 128 ? 0 : s.encr_key_bits == 192 ? 1 : s.encr_key_bits == 256 ? 2 : 3;
	if (size_index == 3)
		return nullptr;
	CipherSlot &slot = g_ciphers[(s.encr == kEncrAesGcm16 ? 0 : 3) + size_index];
	// A failed fetch leaves the flag unset (the next message tries again)
	// and a null cipher, which the init after fails on as before.
	try {
		std::call_once(slot.once, [&slot] {
			slot.cipher = EVP_CIPHER_fetch(nullptr, slot.name, nullptr);
			if (!slot.cipher)
				throw CryptoError("no cipher");
		});
	} catch (const CryptoError &) {
		return nullptr;
	}
	return slot.cipher;
}

} // namespace

bool CipherSuite::aead() const
{
	return encr == kEncrAesGcm16;
}

bool CipherSuite::supported(uint16_t encr, uint16_t key_bits, uint16_t integ)
{
	if (!aes_key_bits_ok(key_bits))
		return false;
	if (encr == kEncrAesGcm16)
		return integ == 0; // RFC 5282 §8: no integrity transform with an AEAD
	if (encr == kEncrAesCbc)
		return find_integrity(integ) != nullptr;
	return false;
}

size_t CipherSuite::encr_key_size() const
{
	return encr_key_bits / 8 + (aead() ? kGcmSaltSize : 0);
}

size_t CipherSuite::integ_key_size() const
{
	const Integrity *i = find_integrity(integ);
	return i ? i->key_size : 0;
}

size_t CipherSuite::icv_size() const
{
	if (aead())
		return kGcmIcvSize;
	const Integrity *i = find_integrity(integ);
	return i ? i->icv_size : 0;
}

std::string CipherSuite::xfrm_aead_name() const
{
	return aead() ? "rfc4106(gcm(aes))" : "";
}

std::string CipherSuite::xfrm_enc_name() const
{
	return encr == kEncrAesCbc ? "cbc(aes)" : "";
}

std::string CipherSuite::xfrm_auth_name() const
{
	const Integrity *i = find_integrity(integ);
	return i ? i->xfrm_name : "";
}

uint32_t CipherSuite::xfrm_auth_trunc_bits() const
{
	return static_cast<uint32_t>(icv_size() * 8);
}

SkProtection::SkProtection(const CipherSuite &suite, std::span<const uint8_t> encr_key,
			   std::span<const uint8_t> integ_key)
	: suite_(suite), encr_key_(encr_key), integ_key_(integ_key), gcm_counter_(random_u64())
{
	if (!suite.supported())
		throw CryptoError("unsupported SK suite: encr " + std::to_string(suite.encr) + "/" +
				  std::to_string(suite.encr_key_bits) + " integ " + std::to_string(suite.integ));
	if (encr_key.size() != suite.encr_key_size() || integ_key.size() != suite.integ_key_size())
		throw CryptoError("SK keys of the wrong size for the suite");
}

size_t SkProtection::iv_size() const
{
	return suite_.aead() ? kGcmIvSize : kAesBlockSize;
}

size_t SkProtection::block_size() const
{
	// RFC 5282 §3: GCM is a stream mode, so no padding is needed.
	return suite_.aead() ? 1 : kAesBlockSize;
}

size_t SkProtection::sealed_size(size_t plaintext_size) const
{
	// RFC 7296 §3.14: the pad length octet is always there.
	size_t padded = (plaintext_size + 1 + block_size() - 1) / block_size() * block_size();
	return iv_size() + padded + suite_.icv_size();
}

size_t SkProtection::overhead_for_mtu(size_t max_body) const
{
	size_t fixed = iv_size() + suite_.icv_size();
	if (max_body < fixed + block_size())
		return 0;
	size_t padded = (max_body - fixed) / block_size() * block_size();
	return padded - 1;
}

Bytes SkProtection::integrity_check(std::span<const uint8_t> aad, std::span<const uint8_t> iv_and_ciphertext) const
{
	// RFC 7296 §3.14: the checksum covers the IKE header through the last
	// octet of the Encrypted data, cut to the ICV size (RFC 4868 §2.1.1).
	const Integrity *integ = find_integrity(suite_.integ);
	Bytes input;
	input.reserve(aad.size() + iv_and_ciphertext.size());
	input.insert(input.end(), aad.begin(), aad.end());
	input.insert(input.end(), iv_and_ciphertext.begin(), iv_and_ciphertext.end());
	Bytes mac(integ->key_size);
	detail::hmac(integ->digest, integ_key_.span(), input, mac);
	mac.resize(integ->icv_size);
	return mac;
}

Bytes SkProtection::seal(std::span<const uint8_t> aad, std::span<const uint8_t> plaintext) const
{
	size_t body_size = sealed_size(plaintext.size());
	size_t icv = suite_.icv_size();
	size_t ct_size = body_size - iv_size() - icv;
	Bytes body(body_size, 0);
	// Plaintext | padding (zeros, RFC 7296 §3.14 allows any value) | pad length.
	Bytes inner(ct_size, 0);
	std::copy(plaintext.begin(), plaintext.end(), inner.begin());
	inner.back() = static_cast<uint8_t>(ct_size - plaintext.size() - 1);

	Owned<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
	int len = 0;
	bool ok = ctx != nullptr;
	if (suite_.aead()) {
		// RFC 5282 §3.1: the IV must never repeat under one key; a counter
		// does that.
		uint64_t counter = gcm_counter_++;
		for (size_t i = 0; i < kGcmIvSize; i++)
			body[i] = static_cast<uint8_t>(counter >> (8 * (kGcmIvSize - 1 - i)));
		uint8_t nonce[kGcmSaltSize + kGcmIvSize];
		std::copy_n(encr_key_.data() + encr_key_.size() - kGcmSaltSize, kGcmSaltSize, nonce);
		std::copy_n(body.data(), kGcmIvSize, nonce + kGcmSaltSize);
		ok = ok && EVP_EncryptInit_ex(ctx.get(), cipher_for(suite_), nullptr, nullptr, nullptr) &&
		     EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, sizeof nonce, nullptr) &&
		     EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, encr_key_.data(), nonce) &&
		     // RFC 5282 §5.1: the AAD is the IKE header and the
		     // Encrypted payload's header.
		     (aad.empty() || EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size()))) &&
		     EVP_EncryptUpdate(ctx.get(), body.data() + kGcmIvSize, &len, inner.data(),
				       static_cast<int>(inner.size())) &&
		     EVP_EncryptFinal_ex(ctx.get(), body.data() + kGcmIvSize + len, &len) &&
		     EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(icv),
					 body.data() + body.size() - icv);
	} else {
		// RFC 3602 §2.1: a random IV per message.
		Bytes iv = random_bytes(kAesBlockSize);
		std::copy(iv.begin(), iv.end(), body.begin());
		ok = ok && EVP_EncryptInit_ex(ctx.get(), cipher_for(suite_), nullptr, encr_key_.data(), iv.data()) &&
		     EVP_CIPHER_CTX_set_padding(ctx.get(), 0) &&
		     EVP_EncryptUpdate(ctx.get(), body.data() + kAesBlockSize, &len, inner.data(),
				       static_cast<int>(inner.size())) &&
		     EVP_EncryptFinal_ex(ctx.get(), body.data() + kAesBlockSize + len, &len);
		if (ok) {
			Bytes mac = integrity_check(aad, std::span(body).first(body.size() - icv));
			std::copy(mac.begin(), mac.end(), body.end() - static_cast<std::ptrdiff_t>(icv));
		}
	}
	OPENSSL_cleanse(inner.data(), inner.size());
	if (!ok)
		detail::throw_crypto_error("SK payload encryption failed");
	return body;
}

std::optional<Bytes> SkProtection::open(std::span<const uint8_t> aad, std::span<const uint8_t> body) const
{
	size_t icv = suite_.icv_size();
	size_t iv_len = iv_size();
	// At least the pad length octet, and whole blocks for CBC.
	if (body.size() < iv_len + icv + block_size())
		return std::nullopt;
	size_t ct_size = body.size() - iv_len - icv;
	if (ct_size % block_size() != 0)
		return std::nullopt;
	std::span<const uint8_t> iv = body.first(iv_len);
	std::span<const uint8_t> ciphertext = body.subspan(iv_len, ct_size);
	std::span<const uint8_t> received_icv = body.last(icv);

	Owned<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
	if (!ctx)
		return std::nullopt;
	Bytes inner(ct_size);
	int len = 0;
	bool ok = true;
	if (suite_.aead()) {
		uint8_t nonce[kGcmSaltSize + kGcmIvSize];
		std::copy_n(encr_key_.data() + encr_key_.size() - kGcmSaltSize, kGcmSaltSize, nonce);
		std::copy(iv.begin(), iv.end(), nonce + kGcmSaltSize);
		Bytes tag(received_icv.begin(), received_icv.end());
		ok = EVP_DecryptInit_ex(ctx.get(), cipher_for(suite_), nullptr, nullptr, nullptr) &&
		     EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, sizeof nonce, nullptr) &&
		     EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, encr_key_.data(), nonce) &&
		     (aad.empty() || EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size()))) &&
		     EVP_DecryptUpdate(ctx.get(), inner.data(), &len, ciphertext.data(),
				       static_cast<int>(ciphertext.size())) &&
		     EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(icv), tag.data()) &&
		     // RFC 5282 §5: the tag is checked here; nothing decrypted
		     // leaves before it passed.
		     EVP_DecryptFinal_ex(ctx.get(), inner.data() + len, &len) > 0;
	} else {
		// RFC 7296 §3.14: check the ICV before decrypting anything.
		Bytes expected;
		try {
			expected = integrity_check(aad, body.first(body.size() - icv));
		} catch (const CryptoError &) {
			return std::nullopt;
		}
		if (CRYPTO_memcmp(expected.data(), received_icv.data(), icv) != 0)
			return std::nullopt;
		ok = EVP_DecryptInit_ex(ctx.get(), cipher_for(suite_), nullptr, encr_key_.data(), iv.data()) &&
		     EVP_CIPHER_CTX_set_padding(ctx.get(), 0) &&
		     EVP_DecryptUpdate(ctx.get(), inner.data(), &len, ciphertext.data(),
				       static_cast<int>(ciphertext.size())) &&
		     EVP_DecryptFinal_ex(ctx.get(), inner.data() + len, &len);
	}
	ERR_clear_error();
	size_t pad_length = inner.empty() ? 0 : inner.back();
	// RFC 7296 §3.14: the pad length cannot claim more than is there.
	if (!ok || pad_length + 1 > inner.size()) {
		OPENSSL_cleanse(inner.data(), inner.size());
		return std::nullopt;
	}
	inner.resize(inner.size() - pad_length - 1);
	return inner;
}

} // namespace umigame::ike
