// Certificate authentication (auth = "pubkey"): two engines with CAs and
// certificates made here with OpenSSL, and a hand-played initiator
// (peer.h) for what a well-behaved engine never sends: an ID its
// certificate does not carry, a tampered signature, one hash only.
// RFC 7296 §2.15, §3.6, §3.7; RFC 7427; RFC 4945 §3.1.
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "harness.h"
#include "peer.h"
#include "umigame/config.h"
#include "umigame/iked/credentials.h"

namespace umigame::iked::test {
namespace {

namespace fs = std::filesystem;

// A key and its certificate, and where their PEM files are.
struct Issued {
	EVP_PKEY *key = nullptr;
	X509 *cert = nullptr;
	std::string cert_file, key_file;
};

// A throw-away PKI in a temporary directory that goes with the object.
class Pki {
public:
	Pki()
	{
		std::string tmpl = (fs::temp_directory_path() / "umigame-cert-XXXXXX").string();
		if (!mkdtemp(tmpl.data()))
			throw std::runtime_error("mkdtemp failed");
		dir_ = tmpl;
	}
	~Pki()
	{
		for (auto &i : issued_) {
			EVP_PKEY_free(i->key);
			X509_free(i->cert);
		}
		std::error_code ec;
		fs::remove_all(dir_, ec);
	}
	Pki(const Pki &) = delete;
	Pki &operator=(const Pki &) = delete;

	// key_type "RSA" (2048 bits) or an EC curve ("P-256"). sans are
	// OpenSSL's text form ("DNS:a.example, IP:192.0.2.1"). A CA when
	// issuer is null (self-signed) or when ca is set.
	const Issued &make(const std::string &name, const char *key_type, const char *cn, const Issued *issuer, bool ca,
			   const char *sans = nullptr)
	{
		auto out = std::make_unique<Issued>();
		out->key = std::string(key_type) == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
							  : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", key_type);
		if (!out->key)
			throw std::runtime_error("key generation failed");
		X509 *x = X509_new();
		out->cert = x;
		X509_set_version(x, 2);
		ASN1_INTEGER_set(X509_get_serialNumber(x), serial_++);
		X509_gmtime_adj(X509_getm_notBefore(x), -3600);
		X509_gmtime_adj(X509_getm_notAfter(x), 86400);
		X509_set_pubkey(x, out->key);
		X509_NAME *subject = X509_get_subject_name(x);
		// PrintableString, where our own "dn:" parser writes UTF8String:
		// RFC 4945 §3.1.5 matching must see past that.
		X509_NAME_add_entry_by_txt(subject, "C", MBSTRING_ASC, reinterpret_cast<const unsigned char *>("CH"), -1, -1, 0);
		X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char *>("umigame test"), -1,
					   -1, 0);
		X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char *>(cn), -1, -1, 0);
		X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert) : subject);
		X509 *issuer_cert = issuer ? issuer->cert : x;
		if (ca) {
			extension(x, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
			extension(x, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
		} else {
			extension(x, issuer_cert, NID_key_usage, "critical,digitalSignature");
		}
		extension(x, issuer_cert, NID_subject_key_identifier, "hash");
		if (sans)
			extension(x, issuer_cert, NID_subject_alt_name, sans);
		if (X509_sign(x, issuer ? issuer->key : out->key, EVP_sha256()) <= 0)
			throw std::runtime_error("X509_sign failed");
		out->cert_file = write(name + ".crt", pem_of(x));
		out->key_file = write(name + ".key", key_pem(out->key));
		issued_.push_back(std::move(out));
		return *issued_.back();
	}

	// A file holding several certificates (a chain, or a CA bundle).
	std::string bundle(const std::string &name, std::initializer_list<const Issued *> certs)
	{
		std::string text;
		for (const Issued *i : certs)
			text += pem_of(i->cert);
		return write(name, text);
	}
	std::string write(const std::string &name, const std::string &contents)
	{
		std::string path = (fs::path(dir_) / name).string();
		std::ofstream(path) << contents;
		return path;
	}
	const std::string &dir() const { return dir_; }

	static std::string pem_of(X509 *x)
	{
		BIO *bio = BIO_new(BIO_s_mem());
		PEM_write_bio_X509(bio, x);
		return drain(bio);
	}
	static std::string key_pem(EVP_PKEY *key)
	{
		BIO *bio = BIO_new(BIO_s_mem());
		PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
		return drain(bio);
	}
	static Bytes der_of(X509 *x)
	{
		unsigned char *der = nullptr;
		int len = i2d_X509(x, &der);
		Bytes out(der, der + len);
		OPENSSL_free(der);
		return out;
	}

private:
	static std::string drain(BIO *bio)
	{
		char *data = nullptr;
		long len = BIO_get_mem_data(bio, &data);
		std::string out(data, static_cast<size_t>(len));
		BIO_free(bio);
		return out;
	}
	static void extension(X509 *x, X509 *issuer, int nid, const char *value)
	{
		X509V3_CTX ctx;
		X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
		if (!ext)
			throw std::runtime_error(std::string("bad extension ") + value);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}

	std::string dir_;
	long serial_ = 1;
	std::vector<std::unique_ptr<Issued>> issued_;
};

// One side's pubkey connection; local_id/remote_id empty leave them out.
struct PubkeyOptions {
	std::string local = "192.0.2.1", remote = "192.0.2.2";
	std::string local_id, remote_id;
	std::string certificate, private_key;
	std::vector<std::string> ca;
	std::string local_ts = "10.1.0.0/16", remote_ts = "10.2.0.0/16";

	std::string toml() const
	{
		std::string t = "[[connection]]\n"
				"name = \"site\"\n"
				"local_addr = \"" + local + "\"\n"
				"remote_addr = \"" + remote + "\"\n";
		if (!local_id.empty())
			t += "local_id = \"" + local_id + "\"\n";
		if (!remote_id.empty())
			t += "remote_id = \"" + remote_id + "\"\n";
		t += "auth = \"pubkey\"\n"
		     "certificate = \"" + certificate + "\"\n"
		     "private_key = \"" + private_key + "\"\n"
		     "ca = [";
		for (size_t i = 0; i < ca.size(); i++)
			t += (i ? ", \"" : "\"") + ca[i] + "\"";
		t += "]\n"
		     "ike_proposals = [\"aes128gcm16-prfsha256-ecp256\"]\n"
		     "rekey_time = 0\n"
		     "dpd_delay = 0\n"
		     "retransmit_timeout_ms = 100\n"
		     "retransmit_tries = 3\n"
		     "[[connection.child]]\n"
		     "name = \"net\"\n"
		     "local_ts = [\"" + local_ts + "\"]\n"
		     "remote_ts = [\"" + remote_ts + "\"]\n"
		     "esp_proposals = [\"aes128gcm16-esn\"]\n"
		     "rekey_time = 0\n";
		return t;
	}
	PubkeyOptions mirrored() const
	{
		PubkeyOptions o = *this;
		std::swap(o.local, o.remote);
		std::swap(o.local_ts, o.remote_ts);
		return o;
	}
};

// What every test starts from: a root CA, an intermediate under it, and a
// second, unrelated root.
class CertAuth : public ::testing::Test {
protected:
	CertAuth()
		: root(pki.make("root", "P-256", "umigame root", nullptr, true)),
		  other_root(pki.make("other", "P-256", "someone else's root", nullptr, true))
	{
	}

	PubkeyOptions side(const Issued &who, const std::string &cert_file, std::vector<std::string> ca) const
	{
		PubkeyOptions o;
		o.certificate = cert_file;
		o.private_key = who.key_file;
		o.ca = std::move(ca);
		return o;
	}
	void establish(const PubkeyOptions &l, const PubkeyOptions &r)
	{
		p.left.configure(l.toml());
		p.right.configure(r.toml());
		p.left.engine->up("site");
		p.deliver_all();
	}

	Pki pki;
	const Issued &root;
	const Issued &other_root;
	Pair p;
};

// The DER AlgorithmIdentifier at the start of method 14 AUTH data (RFC
// 7427 §3: one length octet, then the DER).
int signature_nid(const Bytes &auth_data)
{
	if (auth_data.empty() || auth_data.size() < 1u + auth_data[0])
		return NID_undef;
	const unsigned char *p = auth_data.data() + 1;
	X509_ALGOR *alg = d2i_X509_ALGOR(nullptr, &p, auth_data[0]);
	if (!alg)
		return NID_undef;
	const ASN1_OBJECT *oid = nullptr;
	X509_ALGOR_get0(&oid, nullptr, nullptr, alg);
	int nid = OBJ_obj2nid(oid);
	X509_ALGOR_free(alg);
	return nid;
}

// §3.7, computed here independently of the daemon: SHA-1 over the DER
// SubjectPublicKeyInfo.
Bytes spki_sha1(X509 *x)
{
	unsigned char *der = nullptr;
	int len = i2d_PUBKEY(X509_get0_pubkey(x), &der);
	Bytes out(20);
	EVP_Digest(der, static_cast<size_t>(len), out.data(), nullptr, EVP_sha1(), nullptr);
	OPENSSL_free(der);
	return out;
}

TEST_F(CertAuth, RsaInitiatorEcdsaResponderWithFqdnIdentities)
{
	// RFC 7296 §2.15 with RFC 7427 §3 signatures: an RSA key on one side,
	// ECDSA P-256 on the other; FQDN IDs vouched for by dNSName
	// subjectAltNames (RFC 4945 §3.1.2).
	const auto &l = pki.make("left", "RSA", "left", &root, false, "DNS:left.example");
	const auto &r = pki.make("right", "P-256", "right", &root, false, "DNS:right.example");
	auto lo = side(l, l.cert_file, {root.cert_file});
	lo.local_id = "fqdn:left.example";
	lo.remote_id = "fqdn:right.example";
	auto ro = side(r, r.cert_file, {root.cert_file}).mirrored();
	ro.local_id = "fqdn:right.example";
	ro.remote_id = "fqdn:left.example";
	establish(lo, ro);
	EXPECT_TRUE(p.left.established());
	EXPECT_TRUE(p.right.established());
	EXPECT_EQ(p.left.child_count(), 1u);
	EXPECT_EQ(p.right.child_count(), 1u);
	p.expect_sas_paired();
	EXPECT_EQ(p.left.counters().auth_failed + p.right.counters().auth_failed, 0u);
}

TEST_F(CertAuth, EcdsaInitiatorRsaResponderWithDnIdentities)
{
	// RFC 7296 §3.5 ID_DER_ASN1_DN: without local_id each side is its
	// certificate's subject; the responder finds the connection by that DN
	// (remote_id written in our UTF8String form, the certificate's in
	// PrintableString: RFC 4945 §3.1.5 compares them as Names).
	const auto &l = pki.make("left", "P-256", "left", &root, false);
	const auto &r = pki.make("right", "RSA", "right", &root, false);
	auto lo = side(l, l.cert_file, {root.cert_file});
	lo.remote_id = "dn:C=CH, O=umigame test, CN=right";
	auto ro = side(r, r.cert_file, {root.cert_file}).mirrored();
	ro.remote_id = "dn:C=CH, O=umigame test, CN=left";
	establish(lo, ro);
	EXPECT_TRUE(p.left.established());
	EXPECT_TRUE(p.right.established());
	p.expect_sas_paired();
	ASSERT_EQ(p.left.config.connections.size(), 1u);
	const auto &id = p.left.config.connections[0].local_id;
	EXPECT_EQ(id.type, ike::IdType::DER_ASN1_DN);
	EXPECT_EQ(id.data, ike::Certificate::from_der(Pki::der_of(l.cert)).subject_dn_der());
}

TEST_F(CertAuth, ChainThroughAnIntermediate)
{
	// RFC 7296 §3.6: the first CERT is the end entity, the others help
	// the peer build a path to an anchor it knows (only the root here).
	const auto &mid = pki.make("mid", "P-256", "umigame intermediate", &root, true);
	const auto &l = pki.make("left", "P-256", "left", &mid, false, "DNS:left.example");
	const auto &r = pki.make("right", "RSA", "right", &mid, false, "DNS:right.example");
	auto lo = side(l, pki.bundle("left-chain.crt", {&l, &mid}), {root.cert_file});
	lo.local_id = "fqdn:left.example";
	auto ro = side(r, pki.bundle("right-chain.crt", {&r, &mid}), {root.cert_file}).mirrored();
	ro.local_id = "fqdn:right.example";
	ro.remote_id = "fqdn:left.example";
	establish(lo, ro);
	EXPECT_TRUE(p.left.established());
	EXPECT_TRUE(p.right.established());
}

TEST_F(CertAuth, WithoutTheIntermediateThePathFails)
{
	// RFC 7296 §3.6 / RFC 5280 §6: a leaf alone does not reach the root
	// when the intermediate is neither sent nor an anchor: §2.21.2
	// AUTHENTICATION_FAILED from the responder.
	const auto &mid = pki.make("mid", "P-256", "umigame intermediate", &root, true);
	const auto &l = pki.make("left", "P-256", "left", &mid, false, "DNS:left.example");
	const auto &r = pki.make("right", "P-256", "right", &root, false, "DNS:right.example");
	auto lo = side(l, l.cert_file, {root.cert_file});
	lo.local_id = "fqdn:left.example";
	auto ro = side(r, r.cert_file, {root.cert_file}).mirrored();
	ro.local_id = "fqdn:right.example";
	establish(lo, ro);
	EXPECT_FALSE(p.left.established());
	EXPECT_FALSE(p.right.established());
	EXPECT_EQ(p.right.counters().auth_failed, 1u);
	EXPECT_EQ(p.left.counters().auth_failed, 1u); // it got AUTHENTICATION_FAILED
	p.expect_kernels_empty();
}

TEST_F(CertAuth, InitiatorFromAnUnknownCaIsRefused)
{
	// RFC 7296 §2.21.2: the responder answers AUTHENTICATION_FAILED and
	// keeps nothing; the initiator gives up on the SA.
	const auto &l = pki.make("left", "P-256", "left", &other_root, false, "DNS:left.example");
	const auto &r = pki.make("right", "P-256", "right", &root, false, "DNS:right.example");
	auto lo = side(l, l.cert_file, {root.cert_file});
	lo.local_id = "fqdn:left.example";
	auto ro = side(r, r.cert_file, {root.cert_file}).mirrored();
	ro.local_id = "fqdn:right.example";
	establish(lo, ro);
	EXPECT_EQ(p.right.counters().auth_failed, 1u);
	EXPECT_EQ(p.left.counters().auth_failed, 1u);
	EXPECT_EQ(p.left.engine->ike_sa_count(), 0u);
	EXPECT_EQ(p.right.engine->ike_sa_count(), 0u);
	p.expect_kernels_empty();
}

TEST_F(CertAuth, ResponderFromAnUnknownCaIsRefused)
{
	// RFC 7296 §2.21.2: the initiator refuses the responder's proof and
	// deletes the IKE SA, which takes the responder's side along.
	const auto &l = pki.make("left", "P-256", "left", &root, false, "DNS:left.example");
	const auto &r = pki.make("right", "RSA", "right", &other_root, false, "DNS:right.example");
	auto lo = side(l, l.cert_file, {root.cert_file});
	lo.local_id = "fqdn:left.example";
	auto ro = side(r, r.cert_file, {root.cert_file}).mirrored();
	ro.local_id = "fqdn:right.example";
	establish(lo, ro);
	EXPECT_EQ(p.left.counters().auth_failed, 1u);
	EXPECT_FALSE(p.left.established());
	EXPECT_TRUE(p.run_until([&] { return p.left.engine->ike_sa_count() == 0 && p.right.engine->ike_sa_count() == 0; },
				2s));
	p.expect_kernels_empty();
}

TEST_F(CertAuth, RemoteIdOtherThanTheCertificateSaysIsRefused)
{
	// remote_id names whom we want; a valid certificate of another host
	// from the same CA is not it (RFC 4945 §3.1, RFC 7296 §2.15).
	const auto &l = pki.make("left", "P-256", "left", &root, false, "DNS:left.example");
	const auto &r = pki.make("right", "P-256", "right", &root, false, "DNS:right.example");
	auto lo = side(l, l.cert_file, {root.cert_file});
	lo.local_id = "fqdn:left.example";
	auto ro = side(r, r.cert_file, {root.cert_file}).mirrored();
	ro.local_id = "fqdn:right.example";
	ro.remote_id = "fqdn:mallory.example";
	establish(lo, ro);
	EXPECT_FALSE(p.left.established());
	EXPECT_EQ(p.right.counters().auth_failed, 1u);
}

TEST_F(CertAuth, ResponderSendsCertreqAndSignatureHashes)
{
	// RFC 7296 §3.7: CERTREQ in the IKE_SA_INIT answer, encoding 4, the
	// SHA-1 of every anchor's SubjectPublicKeyInfo; RFC 7427 §4: the
	// SIGNATURE_HASH_ALGORITHMS notify both ways.
	const auto &l = pki.make("left", "P-256", "left", &root, false, "DNS:left.example");
	const auto &r = pki.make("right", "P-256", "right", &root, false, "DNS:right.example");
	auto lo = side(l, l.cert_file, {root.cert_file});
	lo.local_id = "fqdn:left.example";
	auto ro = side(r, r.cert_file, {pki.bundle("anchors.crt", {&root, &other_root})}).mirrored();
	ro.local_id = "fqdn:right.example";
	p.left.configure(lo.toml());
	p.right.configure(ro.toml());
	p.left.engine->up("site");
	ASSERT_EQ(p.left.env.outbox.size(), 1u);
	auto request = ike::Message::parse(p.left.env.outbox.front().bytes);
	EXPECT_NE(request.find_notify(ike::notify::SIGNATURE_HASH_ALGORITHMS), nullptr);
	ASSERT_TRUE(p.deliver_one(p.left));
	ASSERT_EQ(p.right.env.outbox.size(), 1u);
	auto answer = ike::Message::parse(p.right.env.outbox.front().bytes);
	const auto *hashes = answer.find_notify(ike::notify::SIGNATURE_HASH_ALGORITHMS);
	ASSERT_NE(hashes, nullptr);
	EXPECT_EQ(hashes->data, ike::supported_signature_hashes());
	const auto *req = answer.find<ike::CertReqPayload>();
	ASSERT_NE(req, nullptr);
	EXPECT_EQ(req->encoding, 4);
	Bytes expected = spki_sha1(root.cert);
	Bytes other = spki_sha1(other_root.cert);
	expected.insert(expected.end(), other.begin(), other.end());
	EXPECT_EQ(req->data, expected);
	p.deliver_all();
	EXPECT_TRUE(p.right.established());
}

// The hand-played initiator's side of a pubkey IKE_AUTH towards `right`.
class HandPlayed : public CertAuth {
protected:
	HandPlayed() : m({addr("192.0.2.1"), 500}, {addr("192.0.2.2"), 500}) {}

	void configure_right(const Issued &r)
	{
		auto ro = side(r, r.cert_file, {root.cert_file}).mirrored();
		ro.local_id = "fqdn:right.example";
		p.right.configure(ro.toml());
	}
	// IKE_SA_INIT with our SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4).
	void init(Bytes hashes)
	{
		auto msg = ike::Message::parse(m.init_request());
		msg.payloads.push_back({ike::PayloadType::Notify, false,
					ike::NotifyPayload{{}, {}, ike::notify::SIGNATURE_HASH_ALGORITHMS, std::move(hashes)}});
		init_request = msg.serialize();
		p.right.engine->receive(m.peer, m.self, init_request);
		ASSERT_EQ(p.right.env.outbox.size(), 1u);
		init_response = p.right.env.outbox.front().bytes;
		p.right.env.outbox.clear();
		ASSERT_TRUE(m.accept_init_response(init_response));
	}
	// IKE_AUTH as `who`, claiming `id`; tamper flips an AUTH bit.
	std::vector<ike::Payload> auth(const Issued &who, const std::string &id_text, bool tamper = false)
	{
		std::string error;
		auto id = Identity::parse(id_text, &error);
		EXPECT_TRUE(id) << error;
		ike::IdPayload idi{id->type, id->data};
		Bytes octets = ike::signed_octets(init_request, m.nr, *m.prf, m.keys.sk_pi, idi.body());
		auto key = ike::PrivateKey::from_pem(Pki::key_pem(who.key));
		Bytes sig = ike::sign_auth(key, ike::kSignatureHashSha256, octets);
		if (tamper)
			sig.back() ^= 0x01;
		std::vector<ike::Payload> pl;
		pl.push_back({ike::PayloadType::IDi, false, idi});
		pl.push_back({ike::PayloadType::CERT, false, ike::CertPayload{4, Pki::der_of(who.cert)}});
		pl.push_back({ike::PayloadType::AUTH, false,
			      ike::AuthPayload{ike::AuthMethod::DIGITAL_SIGNATURE, std::move(sig)}});
		p.right.engine->receive(m.peer, m.self, m.protect(ike::ExchangeType::IkeAuth, 1, pl));
		EXPECT_EQ(p.right.env.outbox.size(), 1u);
		if (p.right.env.outbox.empty())
			return {};
		auto answer = m.open(p.right.env.outbox.front().bytes);
		p.right.env.outbox.clear();
		EXPECT_TRUE(answer);
		return answer ? *answer : std::vector<ike::Payload>{};
	}

	ManualInitiator m;
	Bytes init_request, init_response;
};

TEST_F(HandPlayed, IdentityNotInTheCertificateIsRefused)
{
	// RFC 4945 §3.1.2 / RFC 7296 §2.21.2: a correctly signed AUTH from a
	// certificate our CA issued, but for a name that certificate does not
	// carry, is AUTHENTICATION_FAILED.
	const auto &r = pki.make("right", "P-256", "right", &root, false, "DNS:right.example");
	const auto &l = pki.make("left", "P-256", "left", &root, false, "DNS:left.example");
	configure_right(r);
	init(ike::supported_signature_hashes());
	auto answer = auth(l, "fqdn:boss.example");
	EXPECT_NE(notify_in(answer, ike::notify::AUTHENTICATION_FAILED), nullptr);
	EXPECT_EQ(p.right.counters().auth_failed, 1u);
	EXPECT_EQ(p.right.engine->ike_sa_count(), 0u);
}

TEST_F(HandPlayed, TamperedSignatureIsRefused)
{
	// RFC 7296 §2.15 / RFC 7427 §3: one flipped bit in the signature and
	// the AUTH payload proves nothing (§2.21.2 AUTHENTICATION_FAILED).
	const auto &r = pki.make("right", "P-256", "right", &root, false, "DNS:right.example");
	const auto &l = pki.make("left", "RSA", "left", &root, false, "DNS:left.example");
	configure_right(r);
	init(ike::supported_signature_hashes());
	auto answer = auth(l, "fqdn:left.example", true);
	EXPECT_NE(notify_in(answer, ike::notify::AUTHENTICATION_FAILED), nullptr);
	EXPECT_EQ(p.right.counters().auth_failed, 1u);
	EXPECT_EQ(p.right.engine->ike_sa_count(), 0u);
}

TEST_F(HandPlayed, UntamperedSignatureIsAcceptedAndAnsweredWithThePeersHash)
{
	// The control for the two above, and RFC 7427 §4: offered only
	// SHA2-512, the responder signs with ecdsa-with-SHA512, over its own
	// octets (§2.15: the IKE_SA_INIT answer, Ni, prf(SK_pr, IDr')).
	const auto &r = pki.make("right", "P-256", "right", &root, false, "DNS:right.example");
	const auto &l = pki.make("left", "P-256", "left", &root, false, "DNS:left.example");
	configure_right(r);
	init({0x00, 0x04});
	auto answer = auth(l, "fqdn:left.example");
	EXPECT_EQ(notify_in(answer, ike::notify::AUTHENTICATION_FAILED), nullptr);
	EXPECT_EQ(p.right.counters().auth_failed, 0u);
	const ike::IdPayload *idr = nullptr;
	const ike::AuthPayload *auth_payload = nullptr;
	std::vector<const ike::CertPayload *> certs;
	for (const auto &pl : answer) {
		if (pl.type == ike::PayloadType::IDr)
			idr = std::get_if<ike::IdPayload>(&pl.body);
		if (const auto *a = std::get_if<ike::AuthPayload>(&pl.body))
			auth_payload = a;
		if (const auto *c = std::get_if<ike::CertPayload>(&pl.body))
			certs.push_back(c);
	}
	ASSERT_TRUE(idr && auth_payload);
	ASSERT_EQ(certs.size(), 1u); // §3.6: encoding 4, the DER
	EXPECT_EQ(certs[0]->encoding, 4);
	EXPECT_EQ(certs[0]->data, Pki::der_of(r.cert));
	EXPECT_EQ(auth_payload->method, ike::AuthMethod::DIGITAL_SIGNATURE);
	EXPECT_EQ(signature_nid(auth_payload->data), NID_ecdsa_with_SHA512);
	Bytes octets = ike::signed_octets(init_response, m.ni, *m.prf, m.keys.sk_pr, idr->body());
	std::string why;
	EXPECT_TRUE(ike::verify_auth(ike::Certificate::from_der(certs[0]->data), 14, auth_payload->data, octets, &why))
		<< why;
}

TEST_F(HandPlayed, NoCommonHashFallsBackToSha256)
{
	// RFC 7427 §4: a peer that names no SHA-2 hash we know still gets a
	// method 14 signature, with SHA2-256.
	const auto &r = pki.make("right", "RSA", "right", &root, false, "DNS:right.example");
	const auto &l = pki.make("left", "P-256", "left", &root, false, "DNS:left.example");
	configure_right(r);
	init({0x00, 0x01}); // SHA-1 only
	auto answer = auth(l, "fqdn:left.example");
	const ike::AuthPayload *a = nullptr;
	for (const auto &pl : answer)
		if (const auto *x = std::get_if<ike::AuthPayload>(&pl.body))
			a = x;
	ASSERT_NE(a, nullptr);
	EXPECT_EQ(signature_nid(a->data), NID_sha256WithRSAEncryption);
}

// Configuration (docs/ike-certificates.md): files are read with the
// configuration, and mistakes are refused at their line.
class CertConfig : public CertAuth {
protected:
	std::string error_of(const PubkeyOptions &o)
	{
		try {
			parse_daemon_config(o.toml(), "test.toml");
		} catch (const ConfigError &e) {
			return e.what();
		}
		return "";
	}
};

TEST_F(CertConfig, KeyOfAnotherCertificateIsRefused)
{
	const auto &a = pki.make("a", "P-256", "a", &root, false, "DNS:a.example");
	const auto &b = pki.make("b", "P-256", "b", &root, false, "DNS:b.example");
	auto o = side(a, a.cert_file, {root.cert_file});
	o.private_key = b.key_file;
	std::string e = error_of(o);
	EXPECT_NE(e.find("test.toml:7:"), std::string::npos) << e; // private_key's line
	EXPECT_NE(e.find("is not the key of certificate"), std::string::npos) << e;
}

TEST_F(CertConfig, MissingFilesAreNamed)
{
	const auto &a = pki.make("a", "P-256", "a", &root, false, "DNS:a.example");
	auto o = side(a, pki.dir() + "/nope.crt", {root.cert_file});
	std::string e = error_of(o);
	EXPECT_NE(e.find("test.toml:6:"), std::string::npos) << e;
	EXPECT_NE(e.find("nope.crt"), std::string::npos) << e;
	o = side(a, a.cert_file, {pki.dir() + "/no-ca.crt"});
	e = error_of(o);
	EXPECT_NE(e.find("test.toml:8:"), std::string::npos) << e;
	EXPECT_NE(e.find("no-ca.crt"), std::string::npos) << e;
}

TEST_F(CertConfig, LocalIdMustBeInTheCertificate)
{
	// RFC 4945 §3.1: the peer would refuse an ID our certificate does not
	// carry, so the configuration is refused at local_id.
	const auto &a = pki.make("a", "P-256", "a", &root, false, "DNS:a.example, IP:192.0.2.1");
	auto o = side(a, a.cert_file, {root.cert_file});
	o.local_id = "fqdn:b.example";
	std::string e = error_of(o);
	EXPECT_NE(e.find("test.toml:5:"), std::string::npos) << e;
	EXPECT_NE(e.find("is not in certificate"), std::string::npos) << e;
	// RFC 4945 §3.1.5: a DN is the subject, components in its order.
	for (const char *ok : {"fqdn:a.example", "ip:192.0.2.1", "dn:C=CH, O=umigame test, CN=a"}) {
		o.local_id = ok;
		EXPECT_EQ(error_of(o), "") << ok;
	}
	o.local_id = "dn:CN=a, O=umigame test, C=CH";
	EXPECT_NE(error_of(o), "");
}

TEST_F(CertConfig, RelativePathsAreBesideTheConfigurationFile)
{
	const auto &a = pki.make("a", "P-256", "a", &root, false, "DNS:a.example");
	auto o = side(a, "a.crt", {"root.crt"});
	o.private_key = "a.key";
	std::string file = pki.write("iked.toml", o.toml());
	auto config = load_daemon_config(file);
	ASSERT_EQ(config.connections.size(), 1u);
	EXPECT_EQ(config.connections[0].certificate, pki.dir() + "/a.crt");
	ASSERT_TRUE(config.connections[0].credentials);
	EXPECT_EQ(config.connections[0].credentials->ca_key_ids.size(), 1u);
}

TEST(Credentials, SignatureHashChoice)
{
	// RFC 7427 §4: SHA2-256 when offered, else SHA2-384, SHA2-512, and
	// SHA2-256 when the peer named none of them.
	EXPECT_EQ(choose_signature_hash({4, 3, 2}), ike::kSignatureHashSha256);
	EXPECT_EQ(choose_signature_hash({4, 3}), ike::kSignatureHashSha384);
	EXPECT_EQ(choose_signature_hash({4}), ike::kSignatureHashSha512);
	EXPECT_EQ(choose_signature_hash({1, 5}), ike::kSignatureHashSha256);
	EXPECT_EQ(choose_signature_hash({}), ike::kSignatureHashSha256);
	EXPECT_EQ(parse_signature_hashes(std::vector<uint8_t>{0, 2, 0, 4, 9}), (std::vector<uint16_t>{2, 4}));
}

} // namespace
} // namespace umigame::iked::test
