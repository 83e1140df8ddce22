#include "umigame/iked/credentials.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "umigame/iked/config.h"

namespace umigame::iked {

using namespace umigame::ike;

namespace {

template <typename T, void (*Free)(T *)> struct Deleter {
	void operator()(T *p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME, X509_NAME_free>>;

// Every PEM certificate in the file, in order.
std::vector<Certificate> read_pem_certificates(const std::string &path)
{
	BioPtr bio(BIO_new_file(path.c_str(), "r"));
	if (!bio) {
		ERR_clear_error();
		throw CryptoError(path + ": cannot open");
	}
	std::vector<Certificate> out;
	for (;;) {
		X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
		if (!x)
			break;
		int len = i2d_X509(x.get(), nullptr);
		if (len <= 0)
			break;
		Bytes der(static_cast<size_t>(len));
		unsigned char *p = der.data();
		i2d_X509(x.get(), &p);
		out.push_back(Certificate::from_der(der));
	}
	// The loop ends on "no more PEM blocks", which OpenSSL records as an
	// error; a truncated block looks the same and gives fewer certificates.
	ERR_clear_error();
	return out;
}

bool same_name(std::span<const uint8_t> a, std::span<const uint8_t> b)
{
	const unsigned char *pa = a.data(), *pb = b.data();
	NamePtr na(d2i_X509_NAME(nullptr, &pa, static_cast<long>(a.size())));
	NamePtr nb(d2i_X509_NAME(nullptr, &pb, static_cast<long>(b.size())));
	bool same = na && nb && pa == a.data() + a.size() && pb == b.data() + b.size() &&
		    X509_NAME_cmp(na.get(), nb.get()) == 0;
	ERR_clear_error();
	return same;
}

} // namespace

std::vector<Certificate> load_certificate_chain(const std::string &path)
{
	// load_pem_file gives the precise error for an unreadable or empty file.
	Certificate first = Certificate::load_pem_file(path);
	std::vector<Certificate> chain = read_pem_certificates(path);
	if (chain.empty())
		chain.push_back(first);
	return chain;
}

std::vector<Certificate> load_ca_file(const std::string &path)
{
	std::vector<Certificate> out = read_pem_certificates(path);
	if (out.empty())
		throw CryptoError(path + ": no PEM certificate in the file");
	return out;
}

Bytes key_id_sha1(const Certificate &cert)
{
	Bytes der = cert.der();
	const unsigned char *p = der.data();
	X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
	if (!x)
		throw CryptoError("cannot decode a certificate for its key id");
	// RFC 7296 §3.7: the hash of the whole SubjectPublicKeyInfo element
	// (RFC 5280 §4.1.2.7), not of the key's BIT STRING alone as RFC 5280's
	// subjectKeyIdentifier method 1 would take.
	unsigned char *spki = nullptr;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x.get()), &spki);
	if (len <= 0)
		throw CryptoError("cannot encode a certificate's SubjectPublicKeyInfo");
	Bytes out(20);
	unsigned int out_len = 0;
	bool ok = EVP_Digest(spki, static_cast<size_t>(len), out.data(), &out_len, EVP_sha1(), nullptr) == 1;
	OPENSSL_free(spki);
	if (!ok || out_len != out.size())
		throw CryptoError("SHA-1 failed");
	return out;
}

std::vector<uint16_t> parse_signature_hashes(std::span<const uint8_t> data)
{
	// RFC 7427 §4: a list of 2-octet hash algorithm numbers; an odd
	// trailing octet is not a number and is ignored.
	std::vector<uint16_t> out;
	for (size_t i = 0; i + 1 < data.size(); i += 2)
		out.push_back(static_cast<uint16_t>((data[i] << 8) | data[i + 1]));
	return out;
}

uint16_t choose_signature_hash(const std::vector<uint16_t> &peer_hashes)
{
	// SHA2-256 first: every RFC 7427 implementation we know verifies it,
	// and it is the hash that matches a P-256 key's strength. The others
	// only when the peer leaves SHA2-256 out.
	for (uint16_t h : {kSignatureHashSha256, kSignatureHashSha384, kSignatureHashSha512})
		for (uint16_t p : peer_hashes)
			if (p == h)
				return h;
	// RFC 7427 §4 lets a sender use method 14 without the peer's notify;
	// SHA2-256 is then the likeliest to be understood.
	return kSignatureHashSha256;
}

bool identity_matches(const Identity &configured, const Identity &presented)
{
	if (configured.type != presented.type)
		return false;
	if (configured.type == IdType::DER_ASN1_DN)
		return configured.data == presented.data || same_name(configured.data, presented.data);
	return configured.data == presented.data;
}

CertReqPayload cert_request(const std::vector<Bytes> &key_ids)
{
	CertReqPayload req;
	req.encoding = static_cast<uint8_t>(CertEncoding::X509_SIGNATURE);
	for (const auto &id : key_ids)
		req.data.insert(req.data.end(), id.begin(), id.end());
	return req;
}

std::vector<CertPayload> cert_payloads(const PubkeyCredentials &creds)
{
	std::vector<CertPayload> out;
	for (const auto &c : creds.chain)
		out.push_back(CertPayload{static_cast<uint8_t>(CertEncoding::X509_SIGNATURE), c.der()});
	return out;
}

AuthPayload sign_auth_payload(const PubkeyCredentials &creds, const std::vector<uint16_t> &peer_hashes,
			      std::span<const uint8_t> octets)
{
	// RFC 7427 §3: method 14 carries its AlgorithmIdentifier, so one
	// method serves RSA and ECDSA keys of any size.
	return AuthPayload{AuthMethod::DIGITAL_SIGNATURE, sign_auth(creds.key, choose_signature_hash(peer_hashes), octets)};
}

std::optional<std::string> verify_peer(const PubkeyCredentials &creds, const std::vector<const CertPayload *> &certs,
				       const IdPayload &id, const std::optional<Identity> &remote_id,
				       const AuthPayload &auth, std::span<const uint8_t> octets)
{
	// §3.6: the first CERT carries the key that signed AUTH; the others
	// help build the path. Only encoding 4 (X.509 signature) is ours to
	// read; others are skipped rather than refused.
	std::vector<Certificate> chain;
	for (const CertPayload *c : certs) {
		if (c->encoding != static_cast<uint8_t>(CertEncoding::X509_SIGNATURE))
			continue;
		try {
			chain.push_back(Certificate::from_der(c->data));
		} catch (const CryptoError &) {
			if (chain.empty())
				return "the peer's end-entity certificate does not decode";
			// An undecodable intermediate only makes the path shorter.
		}
	}
	if (chain.empty())
		return "no X.509 certificate (CERT encoding 4) from the peer (RFC 7296 §3.6)";
	const Certificate &leaf = chain.front();
	std::vector<Certificate> intermediates(chain.begin() + 1, chain.end());
	std::string why;
	// RFC 5280 §6 path validation to one of our `ca` anchors.
	if (!creds.trust.verify(leaf, intermediates, &why))
		return "the peer's certificate (" + leaf.subject_dn() + ") does not chain to our ca: " + why;
	// RFC 4945 §3.1: the certificate must vouch for the identity the peer
	// claims, or any certificate from our CA could speak for anyone.
	if (!leaf.matches_id(static_cast<uint8_t>(id.type), id.data))
		return "the peer's certificate (" + leaf.subject_dn() + ") does not contain its ID '" +
		       Identity::from_payload(id.type, id.data).text + "' (RFC 4945 §3.1)";
	if (remote_id && !identity_matches(*remote_id, Identity::from_payload(id.type, id.data)))
		return "the peer identifies as '" + Identity::from_payload(id.type, id.data).text + "', expected '" +
		       remote_id->text + "'";
	// §2.15 / RFC 7427 §3: method 14; RFC 7296 §3.8 method 1 and RFC 4754
	// methods 9-11 for older peers. A PSK never proves a certificate.
	switch (auth.method) {
	case AuthMethod::DIGITAL_SIGNATURE:
	case AuthMethod::RSA_SIG:
	case AuthMethod::ECDSA_256:
	case AuthMethod::ECDSA_384:
	case AuthMethod::ECDSA_521:
		break;
	default:
		return "AUTH method " + std::to_string(static_cast<int>(auth.method)) +
		       " is not a signature (RFC 7296 §3.8, RFC 7427 §3)";
	}
	if (!verify_auth(leaf, static_cast<uint8_t>(auth.method), auth.data, octets, &why))
		return "the peer's AUTH does not verify under its certificate: " + why;
	return std::nullopt;
}

} // namespace umigame::iked
