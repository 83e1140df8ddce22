#include "umigame/ike/constants.h"

namespace umigame::ike {

std::string to_string(ExchangeType type)
{
	switch (type) {
	case ExchangeType::IkeSaInit: return "IKE_SA_INIT";
	case ExchangeType::IkeAuth: return "IKE_AUTH";
	case ExchangeType::CreateChildSa: return "CREATE_CHILD_SA";
	case ExchangeType::Informational: return "INFORMATIONAL";
	}
	return "EXCHANGE_" + std::to_string(static_cast<unsigned>(type));
}

std::string to_string(PayloadType type)
{
	switch (type) {
	case PayloadType::None: return "NONE";
	case PayloadType::SA: return "SA";
	case PayloadType::KE: return "KE";
	case PayloadType::IDi: return "IDi";
	case PayloadType::IDr: return "IDr";
	case PayloadType::CERT: return "CERT";
	case PayloadType::CERTREQ: return "CERTREQ";
	case PayloadType::AUTH: return "AUTH";
	case PayloadType::Nonce: return "Nonce";
	case PayloadType::Notify: return "Notify";
	case PayloadType::Delete: return "Delete";
	case PayloadType::VendorID: return "VendorID";
	case PayloadType::TSi: return "TSi";
	case PayloadType::TSr: return "TSr";
	case PayloadType::SK: return "SK";
	case PayloadType::CP: return "CP";
	case PayloadType::EAP: return "EAP";
	case PayloadType::SKF: return "SKF";
	}
	return "PAYLOAD_" + std::to_string(static_cast<unsigned>(type));
}

std::string notify_name(uint16_t type)
{
	using namespace notify;
	switch (type) {
	case UNSUPPORTED_CRITICAL_PAYLOAD: return "UNSUPPORTED_CRITICAL_PAYLOAD";
	case INVALID_IKE_SPI: return "INVALID_IKE_SPI";
	case INVALID_MAJOR_VERSION: return "INVALID_MAJOR_VERSION";
	case INVALID_SYNTAX: return "INVALID_SYNTAX";
	case INVALID_MESSAGE_ID: return "INVALID_MESSAGE_ID";
	case INVALID_SPI: return "INVALID_SPI";
	case NO_PROPOSAL_CHOSEN: return "NO_PROPOSAL_CHOSEN";
	case INVALID_KE_PAYLOAD: return "INVALID_KE_PAYLOAD";
	case AUTHENTICATION_FAILED: return "AUTHENTICATION_FAILED";
	case SINGLE_PAIR_REQUIRED: return "SINGLE_PAIR_REQUIRED";
	case NO_ADDITIONAL_SAS: return "NO_ADDITIONAL_SAS";
	case INTERNAL_ADDRESS_FAILURE: return "INTERNAL_ADDRESS_FAILURE";
	case FAILED_CP_REQUIRED: return "FAILED_CP_REQUIRED";
	case TS_UNACCEPTABLE: return "TS_UNACCEPTABLE";
	case INVALID_SELECTORS: return "INVALID_SELECTORS";
	case TEMPORARY_FAILURE: return "TEMPORARY_FAILURE";
	case CHILD_SA_NOT_FOUND: return "CHILD_SA_NOT_FOUND";
	case INITIAL_CONTACT: return "INITIAL_CONTACT";
	case SET_WINDOW_SIZE: return "SET_WINDOW_SIZE";
	case ADDITIONAL_TS_POSSIBLE: return "ADDITIONAL_TS_POSSIBLE";
	case IPCOMP_SUPPORTED: return "IPCOMP_SUPPORTED";
	case NAT_DETECTION_SOURCE_IP: return "NAT_DETECTION_SOURCE_IP";
	case NAT_DETECTION_DESTINATION_IP: return "NAT_DETECTION_DESTINATION_IP";
	case COOKIE: return "COOKIE";
	case USE_TRANSPORT_MODE: return "USE_TRANSPORT_MODE";
	case HTTP_CERT_LOOKUP_SUPPORTED: return "HTTP_CERT_LOOKUP_SUPPORTED";
	case REKEY_SA: return "REKEY_SA";
	case ESP_TFC_PADDING_NOT_SUPPORTED: return "ESP_TFC_PADDING_NOT_SUPPORTED";
	case NON_FIRST_FRAGMENTS_ALSO: return "NON_FIRST_FRAGMENTS_ALSO";
	case MOBIKE_SUPPORTED: return "MOBIKE_SUPPORTED";
	case EAP_ONLY_AUTHENTICATION: return "EAP_ONLY_AUTHENTICATION";
	case IKEV2_FRAGMENTATION_SUPPORTED: return "IKEV2_FRAGMENTATION_SUPPORTED";
	case SIGNATURE_HASH_ALGORITHMS: return "SIGNATURE_HASH_ALGORITHMS";
	}
	return (is_error(type) ? "ERROR_" : "STATUS_") + std::to_string(type);
}

std::string transform_name(TransformType type, uint16_t id)
{
	switch (type) {
	case TransformType::ENCR:
		switch (id) {
		case encr::AES_CBC: return "ENCR_AES_CBC";
		case encr::AES_GCM_8: return "ENCR_AES_GCM_8";
		case encr::AES_GCM_12: return "ENCR_AES_GCM_12";
		case encr::AES_GCM_16: return "ENCR_AES_GCM_16";
		}
		return "ENCR_" + std::to_string(id);
	case TransformType::PRF:
		switch (id) {
		case prf::HMAC_SHA1: return "PRF_HMAC_SHA1";
		case prf::HMAC_SHA2_256: return "PRF_HMAC_SHA2_256";
		case prf::HMAC_SHA2_384: return "PRF_HMAC_SHA2_384";
		case prf::HMAC_SHA2_512: return "PRF_HMAC_SHA2_512";
		}
		return "PRF_" + std::to_string(id);
	case TransformType::INTEG:
		switch (id) {
		case integ::NONE: return "NONE";
		case integ::HMAC_SHA1_96: return "AUTH_HMAC_SHA1_96";
		case integ::HMAC_SHA2_256_128: return "AUTH_HMAC_SHA2_256_128";
		case integ::HMAC_SHA2_384_192: return "AUTH_HMAC_SHA2_384_192";
		case integ::HMAC_SHA2_512_256: return "AUTH_HMAC_SHA2_512_256";
		}
		return "AUTH_" + std::to_string(id);
	case TransformType::DH:
		switch (id) {
		case dh::NONE: return "NONE";
		case dh::MODP_2048: return "MODP_2048";
		case dh::MODP_3072: return "MODP_3072";
		case dh::MODP_4096: return "MODP_4096";
		case dh::ECP_256: return "ECP_256";
		case dh::ECP_384: return "ECP_384";
		case dh::ECP_521: return "ECP_521";
		case dh::CURVE25519: return "CURVE25519";
		}
		return "DH_" + std::to_string(id);
	case TransformType::ESN:
		switch (id) {
		case esn::NO: return "NO_ESN";
		case esn::YES: return "ESN";
		}
		return "ESN_" + std::to_string(id);
	}
	return "TRANSFORM_" + std::to_string(static_cast<unsigned>(type)) + "_" + std::to_string(id);
}

} // namespace umigame::ike
