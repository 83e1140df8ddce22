// IKEv2 cryptography (RFC 7296 §2.13–§2.18, §3.14; RFC 5282, RFC 7427,
// RFC 5903, RFC 8031) on top of OpenSSL 3 libcrypto. Nothing here frames a
// message or keeps protocol state: the daemon hands in bytes exactly as
// they are or will be on the wire and gets bytes back.
//
// Algorithm numbers are the IANA ones (they are named in
// umigame/ike/constants.h; this header does not repeat them so that both
// can be included together).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "umigame/net.h"

namespace umigame::ike {

using Bytes = std::vector<uint8_t>;

class CryptoError : public std::runtime_error {
public:
	using runtime_error::runtime_error;
};

// Key material, wiped (OPENSSL_cleanse) when destroyed or overwritten.
// Move-only so that no stray copy outlives its owner; clone() when a second
// owner is really needed.
class Secret {
public:
	Secret() = default;
	explicit Secret(std::span<const uint8_t> bytes);
	explicit Secret(size_t size); // zero-filled
	Secret(Secret &&other) noexcept;
	Secret &operator=(Secret &&other) noexcept;
	Secret(const Secret &) = delete;
	Secret &operator=(const Secret &) = delete;
	~Secret();

	const uint8_t *data() const { return bytes_.data(); }
	uint8_t *data() { return bytes_.data(); }
	size_t size() const { return bytes_.size(); }
	bool empty() const { return bytes_.empty(); }
	std::span<const uint8_t> span() const { return bytes_; }
	operator std::span<const uint8_t>() const { return bytes_; }
	Secret clone() const { return Secret(span()); }
	// Constant time in the contents (CRYPTO_memcmp).
	bool operator==(const Secret &other) const;

private:
	void wipe() noexcept;
	std::vector<uint8_t> bytes_;
};

// RFC 7296 §1.2/§2.14: one side of a key exchange. The private value lives
// only inside the object.
class KeyExchange {
public:
	static bool supported(uint16_t group);
	// Throws CryptoError for an unsupported group.
	static std::unique_ptr<KeyExchange> create(uint16_t group);
	// Size of the KE payload's data for the group, 0 when unsupported (for
	// the INVALID_KE_PAYLOAD check, RFC 7296 §1.2).
	static size_t public_size(uint16_t group);

	virtual ~KeyExchange();
	uint16_t group() const { return group_; }
	// The KE payload data (RFC 7296 §3.4): MODP padded to the modulus size,
	// ECP x||y (RFC 5903 §7), Curve25519 the u-coordinate (RFC 8031 §3).
	const Bytes &public_value() const { return public_value_; }
	// g^ir. Throws CryptoError when the peer's value has the wrong length or
	// is invalid (RFC 6989 §2.1 for MODP, RFC 5903 §9 / RFC 6989 §2.3 for
	// ECP, RFC 8031 §2 for an all-zero X25519 result).
	virtual Secret shared_secret(std::span<const uint8_t> peer) const = 0;

protected:
	KeyExchange(uint16_t group, Bytes public_value);

private:
	uint16_t group_;
	Bytes public_value_;
};

// A PRF (HMAC-SHA1 / HMAC-SHA2), RFC 7296 §2.13, RFC 4868 §2.1.
class Prf {
public:
	static bool supported(uint16_t id);
	explicit Prf(uint16_t id); // throws CryptoError
	uint16_t id() const { return id_; }
	size_t output_size() const { return output_size_; }
	// RFC 7296 §2.13 / RFC 4868 §2.1.2: HMAC PRFs take any key length and
	// prefer their output length.
	size_t preferred_key_size() const { return output_size_; }
	Secret compute(std::span<const uint8_t> key, std::span<const uint8_t> data) const;
	// prf+ (RFC 7296 §2.13): T1 | T2 | ... cut to `length`. Throws
	// CryptoError for more than 255 blocks.
	Secret plus(std::span<const uint8_t> key, std::span<const uint8_t> seed, size_t length) const;

private:
	uint16_t id_;
	size_t output_size_;
	const char *digest_;
};

// What a negotiated IKE or ESP suite needs to know of its transforms.
struct CipherSuite {
	uint16_t encr = 0;          // ENCR_AES_CBC (12) or ENCR_AES_GCM_16 (20)
	uint16_t encr_key_bits = 0; // 128, 192 or 256
	uint16_t integ = 0;         // AUTH_HMAC_SHA2_*; 0 (none) for AEAD

	bool aead() const;
	// GCM: key + 4 salt bytes (RFC 5282 §7.1 for IKE, RFC 4106 §8.1 for
	// ESP); CBC: the key.
	size_t encr_key_size() const;
	// RFC 4868 §2.1.1: the HMAC's output length. 0 for AEAD.
	size_t integ_key_size() const;
	// GCM-16: 16; HMAC-SHA2-256-128: 16, -384-192: 24, -512-256: 32.
	size_t icv_size() const;
	static bool supported(uint16_t encr, uint16_t key_bits, uint16_t integ);
	bool supported() const { return supported(encr, encr_key_bits, integ); }

	// Linux XFRM algorithm names for the ESP SA.
	std::string xfrm_aead_name() const;    // "rfc4106(gcm(aes))"
	std::string xfrm_enc_name() const;     // "cbc(aes)"
	std::string xfrm_auth_name() const;    // "hmac(sha256)" / "hmac(sha384)" / "hmac(sha512)"
	uint32_t xfrm_auth_trunc_bits() const; // 128 / 192 / 256

	auto operator<=>(const CipherSuite &) const = default;
};

// The Encrypted payload's protection (RFC 7296 §3.14; RFC 5282 for
// AES-GCM). The caller frames the message; this class only turns plaintext
// payloads into the Encrypted payload's body (IV | ciphertext incl. padding
// and pad length | ICV) and back.
//
// aad: the IKE header and the SK (or SKF, with fragment number and total)
// generic payload header, exactly as on the wire (RFC 5282 §5.1, RFC 7383
// §2.5). For CBC+HMAC the ICV covers aad | IV | ciphertext (RFC 7296 §3.14).
//
// Not thread-safe: seal() advances the GCM IV counter.
class SkProtection {
public:
	// Keys sized per suite (encr_key_size(), integ_key_size()); throws
	// CryptoError otherwise or for an unsupported suite.
	SkProtection(const CipherSuite &suite, std::span<const uint8_t> encr_key, std::span<const uint8_t> integ_key);

	const CipherSuite &suite() const { return suite_; }
	// The body's size for this plaintext; the caller needs it for the
	// lengths inside aad before sealing.
	size_t sealed_size(size_t plaintext_size) const;
	// The largest plaintext whose sealed body fits in max_body (RFC 7383
	// §2.5.1 fragment sizing); 0 when not even an empty one fits.
	size_t overhead_for_mtu(size_t max_body) const;
	Bytes seal(std::span<const uint8_t> aad, std::span<const uint8_t> plaintext) const;
	// nullopt when the body is too short, the ICV is wrong or the padding
	// impossible. Never throws for what a peer sent.
	std::optional<Bytes> open(std::span<const uint8_t> aad, std::span<const uint8_t> body) const;

private:
	size_t iv_size() const;
	size_t block_size() const;
	Bytes integrity_check(std::span<const uint8_t> aad, std::span<const uint8_t> iv_and_ciphertext) const;

	CipherSuite suite_;
	Secret encr_key_;
	Secret integ_key_;
	mutable uint64_t gcm_counter_;
};

// RFC 7296 §2.14: the keys of an IKE SA.
struct IkeKeys {
	Secret sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr;
};
// A new IKE SA (§2.14): SKEYSEED = prf(Ni | Nr, g^ir), then
// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED,
// Ni | Nr | SPIi | SPIr).
IkeKeys derive_ike_keys(const Prf &prf, const CipherSuite &suite, std::span<const uint8_t> ni,
			std::span<const uint8_t> nr, std::span<const uint8_t> shared_secret, uint64_t spi_i,
			uint64_t spi_r);
// An IKE SA rekey (§2.18): SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)
// with the old SA's PRF; the new SA's PRF derives the rest from the new SPIs.
IkeKeys derive_rekeyed_ike_keys(const Prf &old_prf, std::span<const uint8_t> old_sk_d, const Prf &prf,
				const CipherSuite &suite, std::span<const uint8_t> ni, std::span<const uint8_t> nr,
				std::span<const uint8_t> shared_secret, uint64_t spi_i, uint64_t spi_r);

// CHILD_SA keys (§2.17): KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr),
// initiator-to-responder first (encryption then integrity), then
// responder-to-initiator. Empty integ keys for AEAD.
struct ChildKeys {
	Secret encr_i, integ_i, encr_r, integ_r;
};
ChildKeys derive_child_keys(const Prf &prf, std::span<const uint8_t> sk_d, const CipherSuite &esp_suite,
			    std::span<const uint8_t> ni, std::span<const uint8_t> nr,
			    std::span<const uint8_t> shared_secret_or_empty);

// AUTH (§2.15). The signed octets: the first message as sent | the peer's
// nonce | prf(SK_p, ID payload body after the generic header).
Bytes signed_octets(std::span<const uint8_t> first_message, std::span<const uint8_t> peer_nonce, const Prf &prf,
		    std::span<const uint8_t> sk_p, std::span<const uint8_t> id_body);
// PSK (§2.15): AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <signed octets>).
Bytes psk_auth(const Prf &prf, std::span<const uint8_t> psk, std::span<const uint8_t> octets);
// Constant time in the received AUTH data (CRYPTO_memcmp).
bool psk_auth_matches(const Prf &prf, std::span<const uint8_t> psk, std::span<const uint8_t> octets,
		      std::span<const uint8_t> received);

// Hash algorithm numbers of RFC 7427 §7 (IANA "IKEv2 Hash Algorithms").
inline constexpr uint16_t kSignatureHashSha256 = 2, kSignatureHashSha384 = 3, kSignatureHashSha512 = 4;

// How an RSA key signs under method 14 (RFC 7427 Appendix A.1 / A.4); EC
// keys always sign ECDSA.
enum class RsaSignature { Pkcs1v15, Pss };

// A private key (RSA or EC) for AUTH signatures. Copies share the key.
class PrivateKey {
public:
	// Throws CryptoError naming the file.
	static PrivateKey load_pem_file(const std::string &path);
	static PrivateKey from_pem(std::string_view pem); // throws CryptoError
	bool is_rsa() const;
	bool is_ec() const;

private:
	struct Impl;
	explicit PrivateKey(std::shared_ptr<Impl> impl);
	std::shared_ptr<Impl> impl_;
	friend Bytes sign_auth(const PrivateKey &, uint16_t, std::span<const uint8_t>, RsaSignature);
	friend class Certificate;
};

// An X.509 certificate. Copies share the certificate.
class Certificate {
public:
	static Certificate from_der(std::span<const uint8_t> der); // throws CryptoError
	static Certificate from_pem(std::string_view pem);         // the first certificate; throws CryptoError
	static Certificate load_pem_file(const std::string &path); // throws CryptoError naming the file
	Bytes der() const;
	// RFC 4514 text, for logs and configuration matching.
	std::string subject_dn() const;
	// The DER of the subject Name, as ID_DER_ASN1_DN carries it (RFC 7296 §3.5).
	Bytes subject_dn_der() const;
	// Whether the certificate vouches for this identity (RFC 4945 §3.1):
	// ID_IPV4_ADDR / ID_IPV6_ADDR, ID_FQDN and ID_RFC822_ADDR against the
	// subjectAltName, ID_DER_ASN1_DN against the subject.
	bool matches_id(uint8_t id_type, std::span<const uint8_t> id_data) const;
	// Whether the certificate's public key belongs to this private key.
	bool matches_key(const PrivateKey &key) const;

private:
	struct Impl;
	explicit Certificate(std::shared_ptr<Impl> impl);
	std::shared_ptr<Impl> impl_;
	friend class TrustStore;
	friend bool verify_auth(const Certificate &, uint8_t, std::span<const uint8_t>, std::span<const uint8_t>,
				std::string *);
};

// Trust anchors for certificate chains (RFC 7296 §3.6, RFC 5280 §6).
class TrustStore {
public:
	TrustStore();
	// Every certificate in the file becomes a trust anchor; throws
	// CryptoError naming the file.
	void add_pem_file(const std::string &path);
	void add(const Certificate &anchor);
	size_t size() const;
	// Builds and checks a path from leaf through the intermediates to an
	// anchor; on failure *why (when given) says what was wrong.
	bool verify(const Certificate &leaf, const std::vector<Certificate> &intermediates, std::string *why) const;

private:
	struct Impl;
	std::shared_ptr<Impl> impl_;
};

// AUTH data for method 14, Digital Signature (RFC 7427 §3): 1-byte
// AlgorithmIdentifier length | AlgorithmIdentifier DER | signature. RSA keys
// sign RSASSA-PKCS1-v1_5 or RSASSA-PSS (MGF1 with the same hash, salt as
// long as the hash, RFC 7427 Appendix A.4), EC keys ECDSA, with the given
// RFC 7427 hash. Throws CryptoError for an unknown hash or a key that
// cannot sign.
Bytes sign_auth(const PrivateKey &key, uint16_t hash, std::span<const uint8_t> octets,
		RsaSignature rsa = RsaSignature::Pkcs1v15);
// Checks AUTH data of method 14 (RFC 7427: sha256/384/512 with RSA
// PKCS#1 v1.5, RSASSA-PSS or ECDSA), 9/10/11 (RFC 4754: ECDSA with
// P-256/SHA-256, P-384/SHA-384, P-521/SHA-512, r||s) or 1 (RFC 7296 §3.8:
// RSA PKCS#1 v1.5 with SHA-1). Never throws for what a peer sent; *why
// (when given) says why not.
bool verify_auth(const Certificate &signer, uint8_t auth_method, std::span<const uint8_t> auth_data,
		 std::span<const uint8_t> octets, std::string *why);
// SIGNATURE_HASH_ALGORITHMS notify data (RFC 7427 §4): the 16-bit hash
// numbers we accept, in network order.
Bytes supported_signature_hashes();

// NAT detection (RFC 7296 §2.23): SHA-1(SPIi | SPIr | IP | port), the
// address 4 or 16 bytes, SPIs and port in network order.
Bytes nat_detection_hash(uint64_t spi_i, uint64_t spi_r, const IpAddress &addr, uint16_t port);

// RAND_bytes; throws CryptoError when the generator fails.
Bytes random_bytes(size_t n);
uint64_t random_u64();

// Stateless cookies (RFC 7296 §2.6): COOKIE = <VersionIDofSecret> |
// Hash(Ni | IPi | SPIi | <secret>) with SHA-256. roll() replaces the secret;
// a cookie made with the previous one stays valid until the next roll.
class CookieJar {
public:
	CookieJar();
	Bytes make(std::span<const uint8_t> ni, const IpAddress &ip_i, uint64_t spi_i) const;
	bool valid(std::span<const uint8_t> cookie, std::span<const uint8_t> ni, const IpAddress &ip_i,
		   uint64_t spi_i) const;
	void roll();

private:
	struct Generation {
		uint32_t version = 0;
		Secret secret;
	};
	Bytes hash(const Generation &g, std::span<const uint8_t> ni, const IpAddress &ip_i, uint64_t spi_i) const;
	Generation current_, previous_;
};

} // namespace umigame::ike
