// IKEv2 numbers (RFC 7296 §3 and the IANA "Internet Key Exchange Version 2
// (IKEv2) Parameters" registry), spelled as the registry spells them so that
// a grep for the RFC's name finds the constant. Values this library does not
// name still parse: enums are cast from whatever the peer sent.
#pragma once

#include <cstdint>
#include <string>

namespace umigame::ike {

// RFC 7296 §3.1.
enum class ExchangeType : uint8_t { IkeSaInit = 34, IkeAuth = 35, CreateChildSa = 36, Informational = 37 };

// RFC 7296 §3.2; SKF is RFC 7383 §2.5.
enum class PayloadType : uint8_t {
	None = 0,
	SA = 33,
	KE = 34,
	IDi = 35,
	IDr = 36,
	CERT = 37,
	CERTREQ = 38,
	AUTH = 39,
	Nonce = 40,
	Notify = 41,
	Delete = 42,
	VendorID = 43,
	TSi = 44,
	TSr = 45,
	SK = 46,
	CP = 47,
	EAP = 48,
	SKF = 53,
};

// RFC 7296 §3.3.1.
enum class ProtocolId : uint8_t { IKE = 1, AH = 2, ESP = 3 };

// RFC 7296 §3.3.2.
enum class TransformType : uint8_t { ENCR = 1, PRF = 2, INTEG = 3, DH = 4, ESN = 5 };

// Transform IDs per type, RFC 7296 §3.3.2 and the IANA registry.
namespace encr {
inline constexpr uint16_t AES_CBC = 12, AES_GCM_8 = 18, AES_GCM_12 = 19, AES_GCM_16 = 20;
}
namespace prf {
inline constexpr uint16_t HMAC_SHA1 = 2, HMAC_SHA2_256 = 5, HMAC_SHA2_384 = 6, HMAC_SHA2_512 = 7;
}
namespace integ {
inline constexpr uint16_t NONE = 0, HMAC_SHA1_96 = 2, HMAC_SHA2_256_128 = 12, HMAC_SHA2_384_192 = 13,
			  HMAC_SHA2_512_256 = 14;
}
namespace dh {
inline constexpr uint16_t NONE = 0, MODP_2048 = 14, MODP_3072 = 15, MODP_4096 = 16, ECP_256 = 19,
			  ECP_384 = 20, ECP_521 = 21, CURVE25519 = 31;
}
namespace esn {
inline constexpr uint16_t NO = 0, YES = 1;
}

// RFC 7296 §3.3.5: the only attribute IKEv2 defines, always in TV format.
inline constexpr uint16_t kAttrKeyLength = 14;

// RFC 7296 §3.5.
enum class IdType : uint8_t { IPv4 = 1, FQDN = 2, RFC822 = 3, IPv6 = 5, DER_ASN1_DN = 9, DER_ASN1_GN = 10, KEY_ID = 11 };

// RFC 7296 §3.8; 14 is RFC 7427 §3.
enum class AuthMethod : uint8_t {
	RSA_SIG = 1,
	PSK = 2,
	DSS = 3,
	ECDSA_256 = 9,
	ECDSA_384 = 10,
	ECDSA_521 = 11,
	DIGITAL_SIGNATURE = 14,
};

// RFC 7296 §3.6.
enum class CertEncoding : uint8_t { X509_SIGNATURE = 4 };

// RFC 7296 §3.13.1.
enum class TsType : uint8_t { IPv4_ADDR_RANGE = 7, IPv6_ADDR_RANGE = 8 };

// Notify Message Types, RFC 7296 §3.10.1 and the IANA registry (MOBIKE is
// RFC 4555, fragmentation RFC 7383, signature hashes RFC 7427).
namespace notify {
inline constexpr uint16_t UNSUPPORTED_CRITICAL_PAYLOAD = 1, INVALID_IKE_SPI = 4, INVALID_MAJOR_VERSION = 5,
			  INVALID_SYNTAX = 7, INVALID_MESSAGE_ID = 9, INVALID_SPI = 11, NO_PROPOSAL_CHOSEN = 14,
			  INVALID_KE_PAYLOAD = 17, AUTHENTICATION_FAILED = 24, SINGLE_PAIR_REQUIRED = 34,
			  NO_ADDITIONAL_SAS = 35, INTERNAL_ADDRESS_FAILURE = 36, FAILED_CP_REQUIRED = 37,
			  TS_UNACCEPTABLE = 38, INVALID_SELECTORS = 39, TEMPORARY_FAILURE = 43,
			  CHILD_SA_NOT_FOUND = 44, INITIAL_CONTACT = 16384, SET_WINDOW_SIZE = 16385,
			  ADDITIONAL_TS_POSSIBLE = 16386, IPCOMP_SUPPORTED = 16387,
			  NAT_DETECTION_SOURCE_IP = 16388, NAT_DETECTION_DESTINATION_IP = 16389, COOKIE = 16390,
			  USE_TRANSPORT_MODE = 16391, HTTP_CERT_LOOKUP_SUPPORTED = 16392, REKEY_SA = 16393,
			  ESP_TFC_PADDING_NOT_SUPPORTED = 16394, NON_FIRST_FRAGMENTS_ALSO = 16395,
			  MOBIKE_SUPPORTED = 16396, EAP_ONLY_AUTHENTICATION = 16417,
			  IKEV2_FRAGMENTATION_SUPPORTED = 16430, SIGNATURE_HASH_ALGORITHMS = 16431;
// RFC 7296 §3.10.1: types below 16384 are errors, the rest status.
constexpr bool is_error(uint16_t t)
{
	return t < 16384;
}
} // namespace notify

// Names for logs: the registry's names ("IKE_SA_INIT", "SA", "COOKIE",
// "ENCR_AES_CBC"); a number this library does not know comes back as one.
std::string to_string(ExchangeType type);
std::string to_string(PayloadType type);
std::string notify_name(uint16_t type);
std::string transform_name(TransformType type, uint16_t id);

} // namespace umigame::ike
