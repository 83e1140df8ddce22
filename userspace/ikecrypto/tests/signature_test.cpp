#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "test_util.h"

namespace umigame::ike {
namespace {

using test::bytes_of;

// Keys and certificates made here with OpenSSL's own API, so that the
// library under test only ever sees PEM, as from an operator's files.

std::string key_pem(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
	char *data = nullptr;
	long len = BIO_get_mem_data(bio, &data);
	std::string out(data, static_cast<size_t>(len));
	BIO_free(bio);
	return out;
}

std::string cert_pem(X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(bio, x);
	char *data = nullptr;
	long len = BIO_get_mem_data(bio, &data);
	std::string out(data, static_cast<size_t>(len));
	BIO_free(bio);
	return out;
}

struct Made {
	EVP_PKEY *key = nullptr;
	X509 *cert = nullptr;
	Made() = default;
	Made(const Made &) = delete;
	Made &operator=(const Made &) = delete;
	~Made()
	{
		EVP_PKEY_free(key);
		X509_free(cert);
	}
	PrivateKey private_key() const { return PrivateKey::from_pem(key_pem(key)); }
	Certificate certificate() const { return Certificate::from_pem(cert_pem(cert)); }
};

void add_extension(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
	ASSERT_NE(ext, nullptr) << value;
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
}

// issuer == nullptr: self-signed.
void make(Made &out, const char *key_type, const char *cn, const Made *issuer, bool ca, const char *san = nullptr)
{
	out.key = std::string(key_type) == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
						 : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", key_type);
	ASSERT_NE(out.key, nullptr);
	X509 *x = X509_new();
	out.cert = x;
	X509_set_version(x, 2);
	static long serial = 1;
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, out.key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char *>("umigame test"), -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char *>(cn), -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert) : name);
	add_extension(x, issuer ? issuer->cert : nullptr, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (ca)
		add_extension(x, issuer ? issuer->cert : nullptr, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (san)
		add_extension(x, issuer ? issuer->cert : nullptr, NID_subject_alt_name, san);
	ASSERT_GT(X509_sign(x, issuer ? issuer->key : out.key, EVP_sha256()), 0);
}

const Bytes kOctets = bytes_of("InitiatorSignedOctets stand-in: message | nonce | MACedID");

// RFC 7427 §3 round trip for each key type and hash.
TEST(SignatureAuth, SignAndVerifyRsaAndEcdsa)
{
	for (const char *type : {"RSA", "P-256", "P-384"}) {
		SCOPED_TRACE(type);
		Made m, other;
		make(m, type, "signer", nullptr, false);
		make(other, type, "other", nullptr, false);
		PrivateKey key = m.private_key();
		Certificate cert = m.certificate();
		EXPECT_TRUE(cert.matches_key(key));
		EXPECT_FALSE(other.certificate().matches_key(key));
		for (uint16_t hash : {kSignatureHashSha256, kSignatureHashSha384, kSignatureHashSha512}) {
			SCOPED_TRACE(hash);
			Bytes auth = sign_auth(key, hash, kOctets);
			std::string why;
			EXPECT_TRUE(verify_auth(cert, 14, auth, kOctets, &why)) << why;
			Bytes wrong_octets = kOctets;
			wrong_octets.back() ^= 1;
			EXPECT_FALSE(verify_auth(cert, 14, auth, wrong_octets, &why));
			EXPECT_FALSE(why.empty());
			Bytes tampered = auth;
			tampered.back() ^= 1;
			EXPECT_FALSE(verify_auth(cert, 14, tampered, kOctets, nullptr));
			EXPECT_FALSE(verify_auth(other.certificate(), 14, auth, kOctets, nullptr));
			// Another method number for the same data is not accepted.
			EXPECT_FALSE(verify_auth(cert, 2, auth, kOctets, nullptr));
		}
		EXPECT_THROW(sign_auth(key, 1, kOctets), CryptoError); // SHA-1 not offered (RFC 7427 §7)
	}
}

Bytes algorithm_identifier_der(int nid, int param_type)
{
	X509_ALGOR *alg = X509_ALGOR_new();
	X509_ALGOR_set0(alg, OBJ_nid2obj(nid), param_type, nullptr);
	unsigned char *der = nullptr;
	int len = i2d_X509_ALGOR(alg, &der);
	Bytes out(der, der + len);
	OPENSSL_free(der);
	X509_ALGOR_free(alg);
	return out;
}

// RFC 7427 §3 and Appendix A.1/A.3: 1-octet length | AlgorithmIdentifier
// (sha*WithRSAEncryption with NULL parameters, ecdsa-with-SHA* without).
TEST(SignatureAuth, AlgorithmIdentifierIsTheRfcOne)
{
	Made rsa, ec;
	make(rsa, "RSA", "rsa", nullptr, false);
	make(ec, "P-256", "ec", nullptr, false);
	struct {
		const Made *signer;
		uint16_t hash;
		int nid;
		int param;
	} cases[] = {
		{&rsa, 2, NID_sha256WithRSAEncryption, V_ASN1_NULL}, {&rsa, 3, NID_sha384WithRSAEncryption, V_ASN1_NULL},
		{&rsa, 4, NID_sha512WithRSAEncryption, V_ASN1_NULL}, {&ec, 2, NID_ecdsa_with_SHA256, V_ASN1_UNDEF},
		{&ec, 3, NID_ecdsa_with_SHA384, V_ASN1_UNDEF},       {&ec, 4, NID_ecdsa_with_SHA512, V_ASN1_UNDEF},
	};
	for (auto c : cases) {
		SCOPED_TRACE(c.nid);
		Bytes auth = sign_auth(c.signer->private_key(), c.hash, kOctets);
		Bytes expected = algorithm_identifier_der(c.nid, c.param);
		ASSERT_GT(auth.size(), 1 + expected.size());
		EXPECT_EQ(auth[0], expected.size());
		EXPECT_EQ(Bytes(auth.begin() + 1, auth.begin() + 1 + static_cast<long>(expected.size())), expected);
	}
}

// RFC 7427 §3: the AlgorithmIdentifier must fit the key, be one we know and
// the data must hold it.
TEST(SignatureAuth, MalformedOrMismatchedAuthDataIsRefused)
{
	Made rsa, ec;
	make(rsa, "RSA", "rsa", nullptr, false);
	make(ec, "P-256", "ec", nullptr, false);
	Bytes rsa_auth = sign_auth(rsa.private_key(), 2, kOctets);
	Bytes ec_auth = sign_auth(ec.private_key(), 2, kOctets);
	std::string why;
	EXPECT_FALSE(verify_auth(ec.certificate(), 14, rsa_auth, kOctets, &why));
	EXPECT_FALSE(verify_auth(rsa.certificate(), 14, ec_auth, kOctets, &why));
	EXPECT_FALSE(verify_auth(rsa.certificate(), 14, {}, kOctets, &why));
	EXPECT_FALSE(verify_auth(rsa.certificate(), 14, Bytes(rsa_auth.begin(), rsa_auth.begin() + 10), kOctets, &why));
	EXPECT_FALSE(verify_auth(rsa.certificate(), 14, Bytes{0xff, 0x30}, kOctets, &why));
	// sha1WithRSAEncryption is not one we accept under method 14.
	Bytes sha1_alg = algorithm_identifier_der(NID_sha1WithRSAEncryption, V_ASN1_NULL);
	Bytes sha1_auth = {static_cast<uint8_t>(sha1_alg.size())};
	sha1_auth.insert(sha1_auth.end(), sha1_alg.begin(), sha1_alg.end());
	sha1_auth.insert(sha1_auth.end(), rsa_auth.begin() + 1 + rsa_auth[0], rsa_auth.end());
	EXPECT_FALSE(verify_auth(rsa.certificate(), 14, sha1_auth, kOctets, &why));
	EXPECT_FALSE(why.empty());
}

Bytes raw_sign(EVP_PKEY *key, const char *digest, std::span<const uint8_t> data, int padding = 0, int salt = 0)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = nullptr;
	EXPECT_EQ(EVP_DigestSignInit_ex(ctx, &pctx, digest, nullptr, nullptr, key, nullptr), 1);
	if (padding == RSA_PKCS1_PSS_PADDING) {
		EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, digest, nullptr);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt);
	}
	size_t len = 0;
	EVP_DigestSign(ctx, nullptr, &len, data.data(), data.size());
	Bytes sig(len);
	EXPECT_EQ(EVP_DigestSign(ctx, sig.data(), &len, data.data(), data.size()), 1);
	sig.resize(len);
	EVP_MD_CTX_free(ctx);
	return sig;
}

// RFC 4754 §7: ECDSA AUTH methods 9/10/11 carry r||s, each the size of the
// curve's order, and fix curve and hash (§3).
TEST(SignatureAuth, Rfc4754EcdsaMethods)
{
	struct {
		uint8_t method;
		const char *curve;
		const char *digest;
		size_t half;
	} cases[] = {{9, "P-256", "SHA256", 32}, {10, "P-384", "SHA384", 48}, {11, "P-521", "SHA512", 66}};
	for (auto c : cases) {
		SCOPED_TRACE(int(c.method));
		Made m;
		make(m, c.curve, "ecdsa", nullptr, false);
		Bytes der = raw_sign(m.key, c.digest, kOctets);
		const unsigned char *p = der.data();
		ECDSA_SIG *sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
		ASSERT_NE(sig, nullptr);
		Bytes raw(2 * c.half);
		BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw.data(), static_cast<int>(c.half));
		BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw.data() + c.half, static_cast<int>(c.half));
		ECDSA_SIG_free(sig);
		std::string why;
		EXPECT_TRUE(verify_auth(m.certificate(), c.method, raw, kOctets, &why)) << why;
		Bytes wrong = kOctets;
		wrong[0] ^= 1;
		EXPECT_FALSE(verify_auth(m.certificate(), c.method, raw, wrong, nullptr));
		EXPECT_FALSE(verify_auth(m.certificate(), c.method, der, kOctets, nullptr)); // DER is not r||s
		EXPECT_FALSE(verify_auth(m.certificate(), c.method, Bytes(raw.begin(), raw.end() - 1), kOctets, nullptr));
		uint8_t other_method = c.method == 9 ? 10 : 9;
		EXPECT_FALSE(verify_auth(m.certificate(), other_method, raw, kOctets, nullptr)); // wrong curve
	}
}

// RFC 7296 §3.8: method 1 is RSASSA-PKCS1-v1_5 with SHA-1.
TEST(SignatureAuth, ClassicRsaMethod)
{
	Made rsa, ec;
	make(rsa, "RSA", "rsa", nullptr, false);
	make(ec, "P-256", "ec", nullptr, false);
	Bytes sig = raw_sign(rsa.key, "SHA1", kOctets);
	std::string why;
	EXPECT_TRUE(verify_auth(rsa.certificate(), 1, sig, kOctets, &why)) << why;
	Bytes wrong = kOctets;
	wrong[3] ^= 1;
	EXPECT_FALSE(verify_auth(rsa.certificate(), 1, sig, wrong, nullptr));
	EXPECT_FALSE(verify_auth(ec.certificate(), 1, sig, kOctets, nullptr));
	// SHA-256 under method 1 is not what the method means.
	EXPECT_FALSE(verify_auth(rsa.certificate(), 1, raw_sign(rsa.key, "SHA256", kOctets), kOctets, nullptr));
}

// RSASSA-PSS AlgorithmIdentifier (RFC 4055 §3.1, RFC 7427 Appendix A.4),
// built here with OpenSSL's ASN.1 types.
Bytes pss_algorithm_identifier(const EVP_MD *md, int salt)
{
	RSA_PSS_PARAMS *pss = RSA_PSS_PARAMS_new();
	pss->hashAlgorithm = X509_ALGOR_new();
	X509_ALGOR_set_md(pss->hashAlgorithm, md);
	X509_ALGOR *mgf_hash = X509_ALGOR_new();
	X509_ALGOR_set_md(mgf_hash, md);
	ASN1_STRING *mgf_param = ASN1_item_pack(mgf_hash, ASN1_ITEM_rptr(X509_ALGOR), nullptr);
	X509_ALGOR_free(mgf_hash);
	pss->maskGenAlgorithm = X509_ALGOR_new();
	X509_ALGOR_set0(pss->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE, mgf_param);
	pss->saltLength = ASN1_INTEGER_new();
	ASN1_INTEGER_set(pss->saltLength, salt);
	ASN1_STRING *params = ASN1_item_pack(pss, ASN1_ITEM_rptr(RSA_PSS_PARAMS), nullptr);
	RSA_PSS_PARAMS_free(pss);
	X509_ALGOR *alg = X509_ALGOR_new();
	X509_ALGOR_set0(alg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, params);
	unsigned char *der = nullptr;
	int len = i2d_X509_ALGOR(alg, &der);
	Bytes out(der, der + len);
	OPENSSL_free(der);
	X509_ALGOR_free(alg);
	return out;
}

// RFC 7427 Appendix A.4: RSASSA-PSS with SHA-2 and MGF1 is verified with
// the parameters it carries.
TEST(SignatureAuth, RsassaPssIsVerified)
{
	Made rsa;
	make(rsa, "RSA", "rsa-pss", nullptr, false);
	struct {
		const EVP_MD *md;
		const char *digest;
		int salt;
	} cases[] = {{EVP_sha256(), "SHA256", 32}, {EVP_sha384(), "SHA384", 48}, {EVP_sha512(), "SHA512", 64}};
	for (auto c : cases) {
		SCOPED_TRACE(c.digest);
		Bytes alg = pss_algorithm_identifier(c.md, c.salt);
		Bytes auth = {static_cast<uint8_t>(alg.size())};
		auth.insert(auth.end(), alg.begin(), alg.end());
		Bytes sig = raw_sign(rsa.key, c.digest, kOctets, RSA_PKCS1_PSS_PADDING, c.salt);
		auth.insert(auth.end(), sig.begin(), sig.end());
		std::string why;
		EXPECT_TRUE(verify_auth(rsa.certificate(), 14, auth, kOctets, &why)) << why;
		Bytes wrong = kOctets;
		wrong[1] ^= 1;
		EXPECT_FALSE(verify_auth(rsa.certificate(), 14, auth, wrong, nullptr));
		// The salt length the identifier names must be the one used.
		Bytes other_alg = pss_algorithm_identifier(c.md, c.salt + 1);
		Bytes mislabelled = {static_cast<uint8_t>(other_alg.size())};
		mislabelled.insert(mislabelled.end(), other_alg.begin(), other_alg.end());
		mislabelled.insert(mislabelled.end(), sig.begin(), sig.end());
		EXPECT_FALSE(verify_auth(rsa.certificate(), 14, mislabelled, kOctets, nullptr));
	}
}

// RFC 7427 Appendix A.4: our RSASSA-PSS signatures carry SHA-2, MGF1 with
// the same hash and a salt as long as the hash; checked with OpenSSL
// directly as well as by verify_auth().
TEST(SignatureAuth, RsassaPssIsSigned)
{
	Made rsa, ec;
	make(rsa, "RSA", "rsa-pss", nullptr, false);
	make(ec, "P-256", "ec", nullptr, false);
	struct {
		uint16_t hash;
		const EVP_MD *md;
		int salt;
	} cases[] = {{2, EVP_sha256(), 32}, {3, EVP_sha384(), 48}, {4, EVP_sha512(), 64}};
	for (auto c : cases) {
		SCOPED_TRACE(c.hash);
		Bytes auth = sign_auth(rsa.private_key(), c.hash, kOctets, RsaSignature::Pss);
		Bytes alg = pss_algorithm_identifier(c.md, c.salt);
		ASSERT_EQ(auth[0], alg.size());
		EXPECT_EQ(Bytes(auth.begin() + 1, auth.begin() + 1 + static_cast<long>(alg.size())), alg);
		Bytes sig(auth.begin() + 1 + static_cast<long>(alg.size()), auth.end());
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pctx = nullptr;
		ASSERT_EQ(EVP_DigestVerifyInit_ex(ctx, &pctx, EVP_MD_get0_name(c.md), nullptr, nullptr, rsa.key, nullptr), 1);
		EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, c.md);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, c.salt);
		EXPECT_EQ(EVP_DigestVerify(ctx, sig.data(), sig.size(), kOctets.data(), kOctets.size()), 1);
		EVP_MD_CTX_free(ctx);
		std::string why;
		EXPECT_TRUE(verify_auth(rsa.certificate(), 14, auth, kOctets, &why)) << why;
		Bytes wrong = kOctets;
		wrong[2] ^= 1;
		EXPECT_FALSE(verify_auth(rsa.certificate(), 14, auth, wrong, nullptr));
	}
	// EC keys ignore the RSA choice and sign ECDSA.
	Bytes ec_auth = sign_auth(ec.private_key(), 2, kOctets, RsaSignature::Pss);
	EXPECT_EQ(Bytes(ec_auth.begin() + 1, ec_auth.begin() + 1 + ec_auth[0]),
		  algorithm_identifier_der(NID_ecdsa_with_SHA256, V_ASN1_UNDEF));
	EXPECT_TRUE(verify_auth(ec.certificate(), 14, ec_auth, kOctets, nullptr));
}

// RFC 7427 §4: SIGNATURE_HASH_ALGORITHMS lists 16-bit hash numbers.
TEST(SignatureAuth, SupportedHashesNotifyData)
{
	EXPECT_EQ(supported_signature_hashes(), (Bytes{0, 2, 0, 3, 0, 4}));
}

Bytes dn_der(X509 *x)
{
	unsigned char *der = nullptr;
	int len = i2d_X509_NAME(X509_get_subject_name(x), &der);
	Bytes out(der, der + len);
	OPENSSL_free(der);
	return out;
}

// RFC 4945 §3.1: IDs against the subjectAltName (IP, FQDN, RFC 822) or the
// subject (DER_ASN1_DN). ID type numbers: RFC 7296 §3.5.
TEST(Certificate, MatchesId)
{
	Made m, other;
	make(m, "P-256", "gw.example.com", nullptr, false,
	     "DNS:gw.example.com,IP:192.0.2.1,IP:2001:db8::1,email:admin@example.com");
	make(other, "P-256", "other.example.com", nullptr, false);
	Certificate cert = m.certificate();
	struct {
		const char *name;
		uint8_t type;
		Bytes data;
		bool match;
	} cases[] = {
		{"fqdn", 2, bytes_of("gw.example.com"), true},
		{"fqdn case", 2, bytes_of("GW.Example.COM"), true},
		{"fqdn other", 2, bytes_of("www.example.com"), false},
		{"fqdn parent", 2, bytes_of("example.com"), false},
		{"fqdn with nul", 2, Bytes{'g', 'w', 0, 'x'}, false},
		{"ipv4", 1, Bytes{192, 0, 2, 1}, true},
		{"ipv4 other", 1, Bytes{192, 0, 2, 2}, false},
		{"ipv4 short", 1, Bytes{192, 0, 2}, false},
		{"ipv6", 5, Bytes{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, true},
		{"ipv6 other", 5, Bytes{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, false},
		{"email", 3, bytes_of("admin@example.com"), true},
		{"email other", 3, bytes_of("root@example.com"), false},
		{"dn", 9, dn_der(m.cert), true},
		{"dn other", 9, dn_der(other.cert), false},
		{"dn garbage", 9, Bytes{0x30, 0x03, 0x01}, false},
		{"key id", 11, bytes_of("gw"), false},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.name);
		EXPECT_EQ(cert.matches_id(c.type, c.data), c.match);
	}
	// The CN is not an FQDN identity without a dNSName (RFC 4945 §3.1.2).
	EXPECT_FALSE(other.certificate().matches_id(2, bytes_of("other.example.com")));
}

TEST(Certificate, EncodingsAndNames)
{
	Made m;
	make(m, "RSA", "gw.example.com", nullptr, false);
	Certificate cert = m.certificate();
	EXPECT_EQ(cert.subject_dn(), "CN=gw.example.com,O=umigame test");
	EXPECT_EQ(cert.subject_dn_der(), dn_der(m.cert));
	Bytes der = cert.der();
	Certificate again = Certificate::from_der(der);
	EXPECT_EQ(again.der(), der);
	Bytes trailing = der;
	trailing.push_back(0);
	EXPECT_THROW(Certificate::from_der(trailing), CryptoError);
	EXPECT_THROW(Certificate::from_der(Bytes(der.begin(), der.end() - 1)), CryptoError);
	EXPECT_THROW(Certificate::from_pem("not pem"), CryptoError);
	EXPECT_THROW(PrivateKey::from_pem("not pem"), CryptoError);
}

std::string temp_file(const std::string &name, const std::string &contents)
{
	std::string path = testing::TempDir() + "ikecrypto_" + name;
	std::ofstream(path) << contents;
	return path;
}

TEST(Certificate, LoadsPemFilesAndNamesTheFileOnError)
{
	Made m;
	make(m, "P-256", "file", nullptr, false);
	std::string key_path = temp_file("key.pem", key_pem(m.key));
	std::string cert_path = temp_file("cert.pem", cert_pem(m.cert));
	PrivateKey key = PrivateKey::load_pem_file(key_path);
	EXPECT_TRUE(key.is_ec());
	EXPECT_FALSE(key.is_rsa());
	Certificate cert = Certificate::load_pem_file(cert_path);
	EXPECT_TRUE(cert.matches_key(key));
	std::string missing = testing::TempDir() + "ikecrypto_no_such_file.pem";
	try {
		PrivateKey::load_pem_file(missing);
		ADD_FAILURE() << "no exception";
	} catch (const CryptoError &e) {
		EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
	}
	try {
		Certificate::load_pem_file(key_path);
		ADD_FAILURE() << "no exception";
	} catch (const CryptoError &e) {
		EXPECT_NE(std::string(e.what()).find(key_path), std::string::npos) << e.what();
	}
	std::remove(key_path.c_str());
	std::remove(cert_path.c_str());
}

// RFC 7296 §3.6 / RFC 5280 §6: a chain to a trust anchor.
TEST(TrustStore, VerifiesChainsAndRefusesOtherIssuers)
{
	Made root, intermediate, leaf, direct_leaf, other_root, stranger;
	make(root, "P-256", "Root CA", nullptr, true);
	make(intermediate, "P-256", "Intermediate CA", &root, true);
	make(leaf, "RSA", "gw.example.com", &intermediate, false);
	make(direct_leaf, "P-256", "peer.example.com", &root, false);
	make(other_root, "P-256", "Other CA", nullptr, true);
	make(stranger, "P-256", "stranger.example.com", &other_root, false);

	TrustStore store;
	std::string path = temp_file("anchors.pem", cert_pem(root.cert));
	store.add_pem_file(path);
	std::remove(path.c_str());
	EXPECT_EQ(store.size(), 1u);

	std::string why;
	EXPECT_TRUE(store.verify(direct_leaf.certificate(), {}, &why)) << why;
	EXPECT_TRUE(store.verify(leaf.certificate(), {intermediate.certificate()}, &why)) << why;
	EXPECT_FALSE(store.verify(leaf.certificate(), {}, &why)); // intermediate missing
	EXPECT_FALSE(why.empty());
	why.clear();
	EXPECT_FALSE(store.verify(stranger.certificate(), {}, &why));
	EXPECT_FALSE(why.empty());
	EXPECT_FALSE(store.verify(stranger.certificate(), {other_root.certificate()}, nullptr)); // not an anchor
	EXPECT_FALSE(store.verify(other_root.certificate(), {}, nullptr));

	store.add(other_root.certificate());
	EXPECT_TRUE(store.verify(stranger.certificate(), {}, &why)) << why;

	TrustStore empty;
	EXPECT_FALSE(empty.verify(direct_leaf.certificate(), {}, nullptr));
	EXPECT_THROW(empty.add_pem_file(testing::TempDir() + "ikecrypto_no_such_file.pem"), CryptoError);
	std::string not_pem = temp_file("empty.pem", "nothing here\n");
	EXPECT_THROW(empty.add_pem_file(not_pem), CryptoError);
	std::remove(not_pem.c_str());
}

} // namespace
} // namespace umigame::ike
