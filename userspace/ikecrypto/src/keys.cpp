#include <algorithm>
#include <string_view>

#include <openssl/crypto.h>

#include "openssl_util.h"

namespace umigame::ike {

namespace {

void append(Bytes &out, std::span<const uint8_t> bytes)
{
	out.insert(out.end(), bytes.begin(), bytes.end());
}

void append_u64(Bytes &out, uint64_t v)
{
	for (int shift = 56; shift >= 0; shift -= 8)
		out.push_back(static_cast<uint8_t>(v >> shift));
}

// Wipes the concatenation of key material once used.
struct WipedBytes {
	Bytes bytes;
	~WipedBytes() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

// Cuts `sizes` consecutive keys from KEYMAT, in order.
class KeymatReader {
public:
	explicit KeymatReader(const Secret &keymat) : keymat_(keymat) {}
	Secret take(size_t n)
	{
		Secret s(keymat_.span().subspan(at_, n));
		at_ += n;
		return s;
	}

private:
	const Secret &keymat_;
	size_t at_ = 0;
};

IkeKeys expand_ike_keys(const Secret &skeyseed, const Prf &prf, const CipherSuite &suite, std::span<const uint8_t> ni,
			std::span<const uint8_t> nr, uint64_t spi_i, uint64_t spi_r)
{
	// RFC 7296 §2.14: {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
	// = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr); SK_d, SK_pi and SK_pr are
	// the PRF's preferred key size, the others what the suite needs.
	Bytes seed;
	append(seed, ni);
	append(seed, nr);
	append_u64(seed, spi_i);
	append_u64(seed, spi_r);
	size_t prf_key = prf.preferred_key_size();
	size_t integ = suite.integ_key_size(), encr = suite.encr_key_size();
	Secret keymat = prf.plus(skeyseed.span(), seed, 3 * prf_key + 2 * integ + 2 * encr);
	KeymatReader r(keymat);
	IkeKeys keys;
	keys.sk_d = r.take(prf_key);
	keys.sk_ai = r.take(integ);
	keys.sk_ar = r.take(integ);
	keys.sk_ei = r.take(encr);
	keys.sk_er = r.take(encr);
	keys.sk_pi = r.take(prf_key);
	keys.sk_pr = r.take(prf_key);
	return keys;
}

} // namespace

IkeKeys derive_ike_keys(const Prf &prf, const CipherSuite &suite, std::span<const uint8_t> ni,
			std::span<const uint8_t> nr, std::span<const uint8_t> shared_secret, uint64_t spi_i,
			uint64_t spi_r)
{
	// RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir). All our PRFs are HMACs,
	// which take the whole of Ni | Nr as key.
	Bytes nonces;
	append(nonces, ni);
	append(nonces, nr);
	Secret skeyseed = prf.compute(nonces, shared_secret);
	return expand_ike_keys(skeyseed, prf, suite, ni, nr, spi_i, spi_r);
}

IkeKeys derive_rekeyed_ike_keys(const Prf &old_prf, std::span<const uint8_t> old_sk_d, const Prf &prf,
				const CipherSuite &suite, std::span<const uint8_t> ni, std::span<const uint8_t> nr,
				std::span<const uint8_t> shared_secret, uint64_t spi_i, uint64_t spi_r)
{
	// RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with
	// the old SA's PRF; the rest as §2.14 with the new SA's PRF and SPIs.
	WipedBytes input;
	append(input.bytes, shared_secret);
	append(input.bytes, ni);
	append(input.bytes, nr);
	Secret skeyseed = old_prf.compute(old_sk_d, input.bytes);
	return expand_ike_keys(skeyseed, prf, suite, ni, nr, spi_i, spi_r);
}

ChildKeys derive_child_keys(const Prf &prf, std::span<const uint8_t> sk_d, const CipherSuite &esp_suite,
			    std::span<const uint8_t> ni, std::span<const uint8_t> nr,
			    std::span<const uint8_t> shared_secret_or_empty)
{
	// RFC 7296 §2.17: KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr); the
	// initiator-to-responder SA's keys first, encryption before integrity.
	WipedBytes seed;
	append(seed.bytes, shared_secret_or_empty);
	append(seed.bytes, ni);
	append(seed.bytes, nr);
	size_t encr = esp_suite.encr_key_size(), integ = esp_suite.integ_key_size();
	Secret keymat = prf.plus(sk_d, seed.bytes, 2 * (encr + integ));
	KeymatReader r(keymat);
	ChildKeys keys;
	keys.encr_i = r.take(encr);
	keys.integ_i = r.take(integ);
	keys.encr_r = r.take(encr);
	keys.integ_r = r.take(integ);
	return keys;
}

Bytes signed_octets(std::span<const uint8_t> first_message, std::span<const uint8_t> peer_nonce, const Prf &prf,
		    std::span<const uint8_t> sk_p, std::span<const uint8_t> id_body)
{
	// RFC 7296 §2.15: RealMessage | NonceR(or I)Data | MACedIDFor(I or R),
	// MACedID = prf(SK_p, RestOfIDPayload).
	Bytes out;
	append(out, first_message);
	append(out, peer_nonce);
	append(out, prf.compute(sk_p, id_body).span());
	return out;
}

Bytes psk_auth(const Prf &prf, std::span<const uint8_t> psk, std::span<const uint8_t> octets)
{
	// RFC 7296 §2.15: AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"),
	// <InitiatorSignedOctets>); the pad string is 17 ASCII bytes, no NUL.
	constexpr std::string_view kKeyPad = "Key Pad for IKEv2";
	auto pad = std::span(reinterpret_cast<const uint8_t *>(kKeyPad.data()), kKeyPad.size());
	Secret key = prf.compute(psk, pad);
	Secret auth = prf.compute(key.span(), octets);
	return Bytes(auth.span().begin(), auth.span().end());
}

bool psk_auth_matches(const Prf &prf, std::span<const uint8_t> psk, std::span<const uint8_t> octets,
		      std::span<const uint8_t> received)
{
	Bytes expected = psk_auth(prf, psk, octets);
	return received.size() == expected.size() &&
	       CRYPTO_memcmp(expected.data(), received.data(), expected.size()) == 0;
}

Bytes nat_detection_hash(uint64_t spi_i, uint64_t spi_r, const IpAddress &addr, uint16_t port)
{
	// RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP | Port).
	Bytes input;
	append_u64(input, spi_i);
	append_u64(input, spi_r);
	append(input, addr.span());
	input.push_back(static_cast<uint8_t>(port >> 8));
	input.push_back(static_cast<uint8_t>(port));
	Bytes digest(20);
	unsigned int len = 0;
	if (!EVP_Digest(input.data(), input.size(), digest.data(), &len, detail::digest("SHA1"), nullptr) || len != digest.size())
		detail::throw_crypto_error("SHA-1 failed");
	return digest;
}

namespace {

// RFC 7296 §2.6 leaves the cookie's form to the responder; a 4-byte
// version and a SHA-256 make 36 bytes, within the 1–64 it allows.
constexpr size_t kCookieVersionSize = 4, kCookieSecretSize = 32, kCookieHashSize = 32;

} // namespace

CookieJar::CookieJar()
{
	current_.version = static_cast<uint32_t>(random_u64());
	current_.secret = Secret(random_bytes(kCookieSecretSize));
	// No previous secret yet: a fresh random one that no cookie was made
	// with, under a version that differs from the current one.
	previous_.version = current_.version - 1;
	previous_.secret = Secret(random_bytes(kCookieSecretSize));
}

void CookieJar::roll()
{
	previous_ = std::move(current_);
	current_.version = previous_.version + 1;
	current_.secret = Secret(random_bytes(kCookieSecretSize));
}

Bytes CookieJar::hash(const Generation &g, std::span<const uint8_t> ni, const IpAddress &ip_i, uint64_t spi_i) const
{
	// RFC 7296 §2.6: Hash(Ni | IPi | SPIi | <secret>).
	WipedBytes input;
	append(input.bytes, ni);
	append(input.bytes, ip_i.span());
	append_u64(input.bytes, spi_i);
	append(input.bytes, g.secret.span());
	Bytes digest(kCookieHashSize);
	unsigned int len = 0;
	if (!EVP_Digest(input.bytes.data(), input.bytes.size(), digest.data(), &len, detail::digest("SHA256"), nullptr) ||
	    len != digest.size())
		detail::throw_crypto_error("SHA-256 failed");
	return digest;
}

Bytes CookieJar::make(std::span<const uint8_t> ni, const IpAddress &ip_i, uint64_t spi_i) const
{
	Bytes cookie;
	for (int shift = 24; shift >= 0; shift -= 8)
		cookie.push_back(static_cast<uint8_t>(current_.version >> shift));
	append(cookie, hash(current_, ni, ip_i, spi_i));
	return cookie;
}

bool CookieJar::valid(std::span<const uint8_t> cookie, std::span<const uint8_t> ni, const IpAddress &ip_i,
		      uint64_t spi_i) const
{
	if (cookie.size() != kCookieVersionSize + kCookieHashSize)
		return false;
	uint32_t version = 0;
	for (size_t i = 0; i < kCookieVersionSize; i++)
		version = version << 8 | cookie[i];
	// RFC 7296 §2.6: the version tells which secret made it, so cookies
	// handed out just before a roll still work.
	const Generation *g = version == current_.version ? &current_ : version == previous_.version ? &previous_ : nullptr;
	if (!g)
		return false;
	Bytes expected = hash(*g, ni, ip_i, spi_i);
	return CRYPTO_memcmp(expected.data(), cookie.data() + kCookieVersionSize, kCookieHashSize) == 0;
}

} // namespace umigame::ike
