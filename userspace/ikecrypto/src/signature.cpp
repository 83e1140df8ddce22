#include <algorithm>
#include <array>
#include <cstring>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "openssl_util.h"

namespace umigame::ike {

using detail::Owned;
using detail::throw_crypto_error;

struct PrivateKey::Impl {
	Owned<EVP_PKEY> key;
};

struct Certificate::Impl {
	Owned<X509> x509;
};

struct TrustStore::Impl {
	Owned<X509_STORE> store;
	size_t anchors = 0;
};

namespace {

// Never prompt on a terminal for a passphrase: an encrypted key simply
// fails to load.
int no_passphrase(char *, int, int, void *)
{
	return 0;
}

Owned<BIO> memory_bio(std::string_view text)
{
	Owned<BIO> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
	if (!bio)
		throw_crypto_error("out of memory");
	return bio;
}

Owned<BIO> file_bio(const std::string &path)
{
	Owned<BIO> bio(BIO_new_file(path.c_str(), "r"));
	if (!bio)
		throw_crypto_error("cannot open " + path);
	return bio;
}

// RFC 7427 §7 hash numbers and the digests they name.
const char *digest_for_hash(uint16_t hash)
{
	switch (hash) {
	case kSignatureHashSha256:
		return "SHA256";
	case kSignatureHashSha384:
		return "SHA384";
	case kSignatureHashSha512:
		return "SHA512";
	}
	return nullptr;
}

enum class KeyType { Rsa, Ec };

// The AlgorithmIdentifiers of RFC 7427 Appendix A.1 (sha*WithRSAEncryption,
// NULL parameters) and A.3 (ecdsa-with-SHA*, no parameters), as DER.
struct SignatureAlgorithm {
	KeyType key_type;
	uint16_t hash;
	std::span<const uint8_t> der;
};

constexpr uint8_t kSha256WithRsa[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
				      0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
constexpr uint8_t kSha384WithRsa[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
				      0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00};
constexpr uint8_t kSha512WithRsa[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
				      0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00};
constexpr uint8_t kEcdsaWithSha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
constexpr uint8_t kEcdsaWithSha384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
constexpr uint8_t kEcdsaWithSha512[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04};

const SignatureAlgorithm kSignatureAlgorithms[] = {
	{KeyType::Rsa, kSignatureHashSha256, kSha256WithRsa},
	{KeyType::Rsa, kSignatureHashSha384, kSha384WithRsa},
	{KeyType::Rsa, kSignatureHashSha512, kSha512WithRsa},
	{KeyType::Ec, kSignatureHashSha256, kEcdsaWithSha256},
	{KeyType::Ec, kSignatureHashSha384, kEcdsaWithSha384},
	{KeyType::Ec, kSignatureHashSha512, kEcdsaWithSha512},
};

std::optional<KeyType> key_type_of(EVP_PKEY *key)
{
	if (EVP_PKEY_is_a(key, "RSA"))
		return KeyType::Rsa;
	if (EVP_PKEY_is_a(key, "EC"))
		return KeyType::Ec;
	return std::nullopt;
}

// IKEv2 AUTH method numbers (RFC 7296 §3.8, RFC 4754 §8, RFC 7427 §3).
constexpr uint8_t kAuthRsaSig = 1, kAuthEcdsa256 = 9, kAuthEcdsa384 = 10, kAuthEcdsa521 = 11,
		  kAuthDigitalSignature = 14;

bool fail(std::string *why, std::string reason)
{
	ERR_clear_error();
	if (why)
		*why = std::move(reason);
	return false;
}

// RSASSA-PSS parameters of an AlgorithmIdentifier (RFC 4055 §3.1, RFC 7427
// Appendix A.4).
struct PssParameters {
	const EVP_MD *md = nullptr;
	const EVP_MD *mgf1_md = nullptr;
	int salt_length = 20;
};

// Reads RSASSA-PSS-params; only SHA-2 hashes with MGF1 are accepted, and
// the MGF1 hash may differ from the message hash as RFC 4055 allows.
std::optional<PssParameters> parse_pss(const X509_ALGOR *alg)
{
	int param_type = 0;
	const void *param = nullptr;
	X509_ALGOR_get0(nullptr, &param_type, &param, alg);
	if (param_type != V_ASN1_SEQUENCE)
		return std::nullopt; // RFC 7427 A.4: parameters are required
	const ASN1_STRING *seq = static_cast<const ASN1_STRING *>(param);
	const unsigned char *p = ASN1_STRING_get0_data(seq);
	RSA_PSS_PARAMS *raw = d2i_RSA_PSS_PARAMS(nullptr, &p, ASN1_STRING_length(seq));
	if (!raw)
		return std::nullopt;
	std::unique_ptr<RSA_PSS_PARAMS, decltype(&RSA_PSS_PARAMS_free)> pss(raw, RSA_PSS_PARAMS_free);
	auto sha2 = [](const X509_ALGOR *a) -> const EVP_MD * {
		if (!a)
			return nullptr; // the default is SHA-1, which we refuse
		const ASN1_OBJECT *oid = nullptr;
		X509_ALGOR_get0(&oid, nullptr, nullptr, a);
		switch (OBJ_obj2nid(oid)) {
		case NID_sha256:
			return EVP_sha256();
		case NID_sha384:
			return EVP_sha384();
		case NID_sha512:
			return EVP_sha512();
		}
		return nullptr;
	};
	PssParameters out;
	out.md = sha2(pss->hashAlgorithm);
	if (!out.md || !pss->maskGenAlgorithm)
		return std::nullopt;
	// RFC 4055 §2.2: MGF1's parameter is the AlgorithmIdentifier of its hash.
	const ASN1_OBJECT *mgf = nullptr;
	int mgf_param_type = 0;
	const void *mgf_param = nullptr;
	X509_ALGOR_get0(&mgf, &mgf_param_type, &mgf_param, pss->maskGenAlgorithm);
	if (OBJ_obj2nid(mgf) != NID_mgf1 || mgf_param_type != V_ASN1_SEQUENCE)
		return std::nullopt;
	const ASN1_STRING *mgf_seq = static_cast<const ASN1_STRING *>(mgf_param);
	const unsigned char *q = ASN1_STRING_get0_data(mgf_seq);
	Owned<X509_ALGOR> mgf_hash(d2i_X509_ALGOR(nullptr, &q, ASN1_STRING_length(mgf_seq)));
	if (!mgf_hash)
		return std::nullopt;
	out.mgf1_md = sha2(mgf_hash.get());
	if (!out.mgf1_md)
		return std::nullopt;
	if (pss->saltLength) {
		long salt = ASN1_INTEGER_get(pss->saltLength);
		if (salt < 0 || salt > 1024)
			return std::nullopt;
		out.salt_length = static_cast<int>(salt);
	}
	// RFC 4055 §3.1: trailerField must be 1 (trailerFieldBC).
	if (pss->trailerField && ASN1_INTEGER_get(pss->trailerField) != 1)
		return std::nullopt;
	return out;
}

// RSASSA-PSS-params (RFC 4055 §3.1) for hash H: hashAlgorithm H,
// maskGenAlgorithm MGF1 with H, saltLength the length of H, default
// trailerField; wrapped in the id-RSASSA-PSS AlgorithmIdentifier.
Bytes pss_algorithm_identifier(const char *digest)
{
	const EVP_MD *md = EVP_get_digestbyname(digest);
	RSA_PSS_PARAMS *params = RSA_PSS_PARAMS_new();
	X509_ALGOR *mgf1_hash = X509_ALGOR_new();
	bool ok = md && params && mgf1_hash;
	ASN1_STRING *mgf1_param = nullptr;
	if (ok) {
		params->hashAlgorithm = X509_ALGOR_new();
		params->maskGenAlgorithm = X509_ALGOR_new();
		params->saltLength = ASN1_INTEGER_new();
		X509_ALGOR_set_md(mgf1_hash, md);
		mgf1_param = ASN1_item_pack(mgf1_hash, ASN1_ITEM_rptr(X509_ALGOR), nullptr);
		ok = params->hashAlgorithm && params->maskGenAlgorithm && params->saltLength && mgf1_param &&
		     ASN1_INTEGER_set(params->saltLength, EVP_MD_get_size(md)) == 1;
	}
	if (ok) {
		X509_ALGOR_set_md(params->hashAlgorithm, md);
		ok = X509_ALGOR_set0(params->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE, mgf1_param) == 1;
		if (ok)
			mgf1_param = nullptr; // owned by the AlgorithmIdentifier now
	}
	ASN1_STRING *packed = ok ? ASN1_item_pack(params, ASN1_ITEM_rptr(RSA_PSS_PARAMS), nullptr) : nullptr;
	ASN1_STRING_free(mgf1_param);
	X509_ALGOR_free(mgf1_hash);
	RSA_PSS_PARAMS_free(params);
	Owned<X509_ALGOR> alg(X509_ALGOR_new());
	if (!packed || !alg || X509_ALGOR_set0(alg.get(), OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, packed) != 1) {
		ASN1_STRING_free(packed);
		throw_crypto_error("cannot encode the RSASSA-PSS parameters");
	}
	unsigned char *der = nullptr;
	int len = i2d_X509_ALGOR(alg.get(), &der);
	if (len <= 0)
		throw_crypto_error("cannot encode the RSASSA-PSS AlgorithmIdentifier");
	Bytes out(der, der + len);
	OPENSSL_free(der);
	return out;
}

bool digest_verify(EVP_PKEY *key, const char *digest, const PssParameters *pss, std::span<const uint8_t> signature,
		   std::span<const uint8_t> octets, std::string *why)
{
	Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
	EVP_PKEY_CTX *pctx = nullptr;
	if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), &pctx, digest, nullptr, nullptr, key, nullptr) <= 0)
		return fail(why, "cannot start verifying with " + std::string(digest) + ": " +
					 detail::last_openssl_error());
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, pss->mgf1_md) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss->salt_length) <= 0))
		return fail(why, "cannot set the RSASSA-PSS parameters: " + detail::last_openssl_error());
	if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), octets.data(), octets.size()) != 1)
		return fail(why, "signature does not verify");
	ERR_clear_error();
	return true;
}

bool verify_digital_signature(EVP_PKEY *key, std::span<const uint8_t> auth_data, std::span<const uint8_t> octets,
			      std::string *why)
{
	// RFC 7427 §3: ASN.1 length (1 octet) | AlgorithmIdentifier | signature.
	if (auth_data.empty())
		return fail(why, "empty AUTH data (RFC 7427 §3)");
	size_t alg_len = auth_data[0];
	if (alg_len == 0 || auth_data.size() < 1 + alg_len + 1)
		return fail(why, "AUTH data shorter than its AlgorithmIdentifier (RFC 7427 §3)");
	std::span<const uint8_t> alg_der = auth_data.subspan(1, alg_len);
	std::span<const uint8_t> signature = auth_data.subspan(1 + alg_len);
	std::optional<KeyType> type = key_type_of(key);
	if (!type)
		return fail(why, "the certificate's key is neither RSA nor EC");

	for (const auto &alg : kSignatureAlgorithms) {
		if (!std::ranges::equal(alg.der, alg_der))
			continue;
		if (alg.key_type != *type)
			return fail(why, "AlgorithmIdentifier does not fit the certificate's key type");
		return digest_verify(key, digest_for_hash(alg.hash), nullptr, signature, octets, why);
	}

	// RFC 7427 Appendix A.4: RSASSA-PSS carries its parameters, so it is
	// parsed rather than compared.
	const unsigned char *p = alg_der.data();
	Owned<X509_ALGOR> alg(d2i_X509_ALGOR(nullptr, &p, static_cast<long>(alg_der.size())));
	if (!alg || p != alg_der.data() + alg_der.size())
		return fail(why, "AUTH data's AlgorithmIdentifier is not valid DER (RFC 7427 §3)");
	const ASN1_OBJECT *oid = nullptr;
	X509_ALGOR_get0(&oid, nullptr, nullptr, alg.get());
	if (OBJ_obj2nid(oid) != NID_rsassaPss)
		return fail(why, "unsupported signature algorithm in AUTH data (RFC 7427 §3)");
	if (*type != KeyType::Rsa)
		return fail(why, "RSASSA-PSS AUTH with a non-RSA certificate");
	std::optional<PssParameters> pss = parse_pss(alg.get());
	if (!pss)
		return fail(why, "unsupported RSASSA-PSS parameters (SHA-2 and MGF1 only)");
	return digest_verify(key, EVP_MD_get0_name(pss->md), &*pss, signature, octets, why);
}

// RFC 4754 §7: r||s, each as long as the curve's order, to the DER that
// OpenSSL verifies.
std::optional<Bytes> ecdsa_raw_to_der(std::span<const uint8_t> raw, size_t half)
{
	if (raw.size() != 2 * half)
		return std::nullopt;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw.data(), static_cast<int>(half), nullptr);
	BIGNUM *s = BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr);
	if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return std::nullopt;
	}
	unsigned char *der = nullptr;
	int len = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	if (len <= 0)
		return std::nullopt;
	Bytes out(der, der + len);
	OPENSSL_free(der);
	return out;
}

} // namespace

PrivateKey::PrivateKey(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

PrivateKey PrivateKey::load_pem_file(const std::string &path)
{
	Owned<BIO> bio = file_bio(path);
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
	if (!key)
		throw_crypto_error("no usable private key in " + path);
	auto impl = std::make_shared<Impl>();
	impl->key.reset(key);
	return PrivateKey(std::move(impl));
}

PrivateKey PrivateKey::from_pem(std::string_view pem)
{
	Owned<BIO> bio = memory_bio(pem);
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
	if (!key)
		throw_crypto_error("no usable private key in the PEM text");
	auto impl = std::make_shared<Impl>();
	impl->key.reset(key);
	return PrivateKey(std::move(impl));
}

bool PrivateKey::is_rsa() const
{
	return key_type_of(impl_->key.get()) == KeyType::Rsa;
}

bool PrivateKey::is_ec() const
{
	return key_type_of(impl_->key.get()) == KeyType::Ec;
}

Certificate::Certificate(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Certificate Certificate::from_der(std::span<const uint8_t> der)
{
	const unsigned char *p = der.data();
	X509 *x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
	if (!x)
		throw_crypto_error("not a DER X.509 certificate");
	auto impl = std::make_shared<Impl>();
	impl->x509.reset(x);
	if (p != der.data() + der.size())
		throw CryptoError("bytes after the DER X.509 certificate");
	return Certificate(std::move(impl));
}

Certificate Certificate::from_pem(std::string_view pem)
{
	Owned<BIO> bio = memory_bio(pem);
	X509 *x = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr);
	if (!x)
		throw_crypto_error("no certificate in the PEM text");
	auto impl = std::make_shared<Impl>();
	impl->x509.reset(x);
	return Certificate(std::move(impl));
}

Certificate Certificate::load_pem_file(const std::string &path)
{
	Owned<BIO> bio = file_bio(path);
	X509 *x = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr);
	if (!x)
		throw_crypto_error("no certificate in " + path);
	auto impl = std::make_shared<Impl>();
	impl->x509.reset(x);
	return Certificate(std::move(impl));
}

Bytes Certificate::der() const
{
	int len = i2d_X509(impl_->x509.get(), nullptr);
	if (len <= 0)
		throw_crypto_error("cannot encode the certificate");
	Bytes out(static_cast<size_t>(len));
	unsigned char *p = out.data();
	i2d_X509(impl_->x509.get(), &p);
	return out;
}

std::string Certificate::subject_dn() const
{
	Owned<BIO> bio(BIO_new(BIO_s_mem()));
	if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(impl_->x509.get()), 0, XN_FLAG_RFC2253) < 0)
		throw_crypto_error("cannot print the subject");
	char *text = nullptr;
	long len = BIO_get_mem_data(bio.get(), &text);
	return std::string(text, static_cast<size_t>(len));
}

Bytes Certificate::subject_dn_der() const
{
	const X509_NAME *name = X509_get_subject_name(impl_->x509.get());
	int len = i2d_X509_NAME(name, nullptr);
	if (len <= 0)
		throw_crypto_error("cannot encode the subject");
	Bytes out(static_cast<size_t>(len));
	unsigned char *p = out.data();
	i2d_X509_NAME(name, &p);
	return out;
}

bool Certificate::matches_id(uint8_t id_type, std::span<const uint8_t> id_data) const
{
	// ID types of RFC 7296 §3.5.
	constexpr uint8_t kIdIpv4 = 1, kIdFqdn = 2, kIdRfc822 = 3, kIdIpv6 = 5, kIdDerAsn1Dn = 9;
	X509 *x = impl_->x509.get();
	std::string text(id_data.begin(), id_data.end());
	bool match = false;
	switch (id_type) {
	case kIdIpv4:
	case kIdIpv6:
		// RFC 4945 §3.1.1: against an iPAddress subjectAltName.
		match = id_data.size() == (id_type == kIdIpv4 ? 4u : 16u) &&
			X509_check_ip(x, id_data.data(), id_data.size(), 0) == 1;
		break;
	case kIdFqdn:
		// RFC 4945 §3.1.2: against a dNSName subjectAltName, exactly (no
		// wildcards, not the subject's CN).
		match = !text.empty() && text.find('\0') == std::string::npos &&
			X509_check_host(x, text.data(), text.size(),
					X509_CHECK_FLAG_NO_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr) == 1;
		break;
	case kIdRfc822:
		// RFC 4945 §3.1.3: against an rfc822Name subjectAltName.
		match = !text.empty() && text.find('\0') == std::string::npos &&
			X509_check_email(x, text.data(), text.size(), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT) == 1;
		break;
	case kIdDerAsn1Dn: {
		// RFC 4945 §3.1.5: the subject, compared as a Name rather than
		// byte for byte.
		const unsigned char *p = id_data.data();
		Owned<X509_NAME> name(d2i_X509_NAME(nullptr, &p, static_cast<long>(id_data.size())));
		match = name && p == id_data.data() + id_data.size() &&
			X509_NAME_cmp(name.get(), X509_get_subject_name(x)) == 0;
		break;
	}
	}
	ERR_clear_error();
	return match;
}

bool Certificate::matches_key(const PrivateKey &key) const
{
	return EVP_PKEY_eq(X509_get0_pubkey(impl_->x509.get()), key.impl_->key.get()) == 1;
}

TrustStore::TrustStore() : impl_(std::make_shared<Impl>())
{
	impl_->store.reset(X509_STORE_new());
	if (!impl_->store)
		throw_crypto_error("out of memory");
}

void TrustStore::add(const Certificate &anchor)
{
	if (X509_STORE_add_cert(impl_->store.get(), anchor.impl_->x509.get()) != 1)
		throw_crypto_error("cannot add a trust anchor");
	impl_->anchors++;
}

void TrustStore::add_pem_file(const std::string &path)
{
	Owned<BIO> bio = file_bio(path);
	size_t added = 0;
	while (X509 *raw = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)) {
		Owned<X509> x(raw);
		if (X509_STORE_add_cert(impl_->store.get(), x.get()) != 1)
			throw_crypto_error("cannot add a trust anchor from " + path);
		added++;
	}
	ERR_clear_error(); // the end of the file reads as an error
	if (added == 0)
		throw CryptoError("no certificate in " + path);
	impl_->anchors += added;
}

size_t TrustStore::size() const
{
	return impl_->anchors;
}

bool TrustStore::verify(const Certificate &leaf, const std::vector<Certificate> &intermediates, std::string *why) const
{
	Owned<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	bool ok = false;
	std::string reason;
	if (ctx && untrusted) {
		for (const auto &c : intermediates)
			sk_X509_push(untrusted, c.impl_->x509.get());
		if (X509_STORE_CTX_init(ctx.get(), impl_->store.get(), leaf.impl_->x509.get(), untrusted) == 1) {
			// RFC 5280 §6: path building and validation, OpenSSL's.
			ok = X509_verify_cert(ctx.get()) == 1;
			if (!ok)
				reason = std::string(X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))) +
					 " at depth " + std::to_string(X509_STORE_CTX_get_error_depth(ctx.get()));
		} else {
			reason = "cannot start path validation: " + detail::last_openssl_error();
		}
	} else {
		reason = "out of memory";
	}
	sk_X509_free(untrusted);
	ERR_clear_error();
	if (!ok && why)
		*why = reason;
	return ok;
}

Bytes sign_auth(const PrivateKey &key, uint16_t hash, std::span<const uint8_t> octets, RsaSignature rsa)
{
	const char *digest = digest_for_hash(hash);
	if (!digest)
		throw CryptoError("unsupported RFC 7427 hash " + std::to_string(hash));
	EVP_PKEY *pkey = key.impl_->key.get();
	std::optional<KeyType> type = key_type_of(pkey);
	if (!type)
		throw CryptoError("AUTH signatures need an RSA or EC key");
	bool pss = *type == KeyType::Rsa && rsa == RsaSignature::Pss;
	Bytes alg_der;
	if (pss) {
		alg_der = pss_algorithm_identifier(digest);
	} else {
		for (const auto &a : kSignatureAlgorithms)
			if (a.key_type == *type && a.hash == hash)
				alg_der.assign(a.der.begin(), a.der.end());
	}

	Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
	EVP_PKEY_CTX *pctx = nullptr;
	size_t sig_len = 0;
	if (!ctx || EVP_DigestSignInit_ex(ctx.get(), &pctx, digest, nullptr, nullptr, pkey, nullptr) <= 0)
		throw_crypto_error("cannot sign the AUTH octets");
	// RFC 7427 Appendix A.4: MGF1 with the message hash, salt as long as
	// the hash — what pss_algorithm_identifier() announced.
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, digest, nullptr) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0))
		throw_crypto_error("cannot set up RSASSA-PSS");
	if (EVP_DigestSign(ctx.get(), nullptr, &sig_len, octets.data(), octets.size()) <= 0)
		throw_crypto_error("cannot sign the AUTH octets");
	// RFC 7427 §3: ASN.1 length | AlgorithmIdentifier | signature.
	Bytes out(1 + alg_der.size() + sig_len);
	out[0] = static_cast<uint8_t>(alg_der.size());
	std::ranges::copy(alg_der, out.begin() + 1);
	uint8_t *sig = out.data() + 1 + alg_der.size();
	if (EVP_DigestSign(ctx.get(), sig, &sig_len, octets.data(), octets.size()) <= 0)
		throw_crypto_error("cannot sign the AUTH octets");
	// ECDSA's DER signature may come out shorter than the maximum.
	out.resize(1 + alg_der.size() + sig_len);
	return out;
}

bool verify_auth(const Certificate &signer, uint8_t auth_method, std::span<const uint8_t> auth_data,
		 std::span<const uint8_t> octets, std::string *why)
{
	EVP_PKEY *key = X509_get0_pubkey(signer.impl_->x509.get());
	if (!key)
		return fail(why, "cannot read the certificate's public key");
	switch (auth_method) {
	case kAuthDigitalSignature:
		return verify_digital_signature(key, auth_data, octets, why);
	case kAuthEcdsa256:
	case kAuthEcdsa384:
	case kAuthEcdsa521: {
		// RFC 4754 §3: the method fixes curve and hash.
		struct Fixed {
			const char *curve;
			const char *digest;
			size_t half;
		};
		const Fixed fixed = auth_method == kAuthEcdsa256   ? Fixed{"prime256v1", "SHA256", 32}
				    : auth_method == kAuthEcdsa384 ? Fixed{"secp384r1", "SHA384", 48}
								   : Fixed{"secp521r1", "SHA512", 66};
		char curve[64] = {};
		size_t curve_len = 0;
		if (key_type_of(key) != KeyType::Ec ||
		    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve, &curve_len) ||
		    std::strcmp(curve, fixed.curve) != 0)
			return fail(why, "AUTH method " + std::to_string(auth_method) + " needs a " + fixed.curve +
						 " certificate (RFC 4754 §3)");
		std::optional<Bytes> der = ecdsa_raw_to_der(auth_data, fixed.half);
		if (!der)
			return fail(why, "ECDSA AUTH data is not r||s of the curve's size (RFC 4754 §7)");
		return digest_verify(key, fixed.digest, nullptr, *der, octets, why);
	}
	case kAuthRsaSig:
		// RFC 7296 §3.8: RSASSA-PKCS1-v1_5 with SHA-1.
		if (key_type_of(key) != KeyType::Rsa)
			return fail(why, "AUTH method 1 needs an RSA certificate (RFC 7296 §3.8)");
		return digest_verify(key, "SHA1", nullptr, auth_data, octets, why);
	}
	return fail(why, "unsupported AUTH method " + std::to_string(auth_method));
}

Bytes supported_signature_hashes()
{
	// RFC 7427 §4: a list of 16-bit hash algorithm numbers.
	Bytes out;
	for (uint16_t h : {kSignatureHashSha256, kSignatureHashSha384, kSignatureHashSha512}) {
		out.push_back(static_cast<uint8_t>(h >> 8));
		out.push_back(static_cast<uint8_t>(h));
	}
	return out;
}

} // namespace umigame::ike
