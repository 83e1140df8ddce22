// Certificate authentication for umigame-iked (auth = "pubkey"): our
// certificate chain and key, the trust anchors we check the peer against,
// and the rules of RFC 7296 §2.15, §3.6, §3.7, RFC 7427 and RFC 4945 that
// decide whether a peer's CERT, ID and AUTH payloads prove who it claims to
// be. Loaded once with the configuration, so that a missing or mismatched
// file refuses the configuration instead of failing the first IKE_AUTH.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "umigame/ike/constants.h"
#include "umigame/ike/crypto.h"
#include "umigame/ike/message.h"

namespace umigame::iked {

struct Identity;

struct PubkeyCredentials {
	// End entity first, then whatever intermediates the file holds: all of
	// them go out as CERT payloads (§3.6) so a peer that knows only the
	// root can build the path.
	std::vector<ike::Certificate> chain;
	ike::PrivateKey key;
	ike::TrustStore trust;
	// §3.7: SHA-1 of each trust anchor's SubjectPublicKeyInfo, what a
	// CERTREQ of encoding 4 lists.
	std::vector<ike::Bytes> ca_key_ids;

	const ike::Certificate &certificate() const { return chain.front(); }
};

// Each loader throws ike::CryptoError with a message naming the file.
// The certificate file's first certificate is ours, the rest intermediates.
std::vector<ike::Certificate> load_certificate_chain(const std::string &path);
// Every certificate in a CA file, for the trust store and CERTREQ.
std::vector<ike::Certificate> load_ca_file(const std::string &path);
// §3.7: SHA-1 over the DER SubjectPublicKeyInfo.
ike::Bytes key_id_sha1(const ike::Certificate &cert);

// RFC 7427 §4: the hash numbers of a SIGNATURE_HASH_ALGORITHMS notify.
std::vector<uint16_t> parse_signature_hashes(std::span<const uint8_t> data);
// The hash we sign with: one of SHA2-256/384/512 the peer announced, or
// SHA2-256 when it announced none of them.
uint16_t choose_signature_hash(const std::vector<uint16_t> &peer_hashes);

// Whether a configured identity names the peer's: DNs compared as X.501
// Names (RFC 4945 §3.1.5: string types and case may differ between
// encoders), the other types byte for byte.
bool identity_matches(const Identity &configured, const Identity &presented);

// CERTREQ payload data: the key ids concatenated (§3.7).
ike::CertReqPayload cert_request(const std::vector<ike::Bytes> &key_ids);

// Our CERT payloads and method 14 AUTH (RFC 7427 §3) over `octets`.
std::vector<ike::CertPayload> cert_payloads(const PubkeyCredentials &creds);
ike::AuthPayload sign_auth_payload(const PubkeyCredentials &creds, const std::vector<uint16_t> &peer_hashes,
				   std::span<const uint8_t> octets);

// The peer's proof (RFC 7296 §2.15, §3.6; RFC 4945 §3.1): its first CERT
// chains to our anchors through the others, it vouches for the ID payload,
// the ID is the configured remote_id if there is one, and AUTH verifies
// under its key with method 14, 1 or 9/10/11. nullopt when all of that
// holds, otherwise why not (for the log).
std::optional<std::string> verify_peer(const PubkeyCredentials &creds, const std::vector<const ike::CertPayload *> &certs,
				       const ike::IdPayload &id, const std::optional<Identity> &remote_id,
				       const ike::AuthPayload &auth, std::span<const uint8_t> octets);

} // namespace umigame::iked
