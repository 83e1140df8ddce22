// The IKEv2 message and payload formats (RFC 7296 §3, and the Encrypted
// Fragment payload of RFC 7383 §2.5) as value types with parse/serialize.
// No keys, sockets or SA state: the SK/SKF contents stay opaque here, and
// the daemon decrypts them and hands the plaintext to parse_payloads().
//
// Parsing checks only what §3 says about the encoding (lengths, counts,
// fixed sizes); whether a message makes sense for its exchange is the
// daemon's call. Reserved fields are ignored on receipt and sent as zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "umigame/ike/constants.h"
#include "umigame/ike/error.h"
#include "umigame/net.h"

namespace umigame::ike {

// Bounds on what one parse may build: a 64 KiB datagram of empty payloads
// or of 8-octet transforms must cost bounded memory. Real messages carry a
// few dozen payloads; strongSwan's default proposal has about 40 transforms.
inline constexpr size_t kMaxMessageSize = 64 * 1024;
inline constexpr size_t kMaxPayloads = 256;
inline constexpr size_t kMaxProposals = 64;
inline constexpr size_t kMaxTransformsPerProposal = 128;
inline constexpr size_t kMaxAttributesPerTransform = 16;
inline constexpr size_t kMaxCpAttributes = 128;

// RFC 7296 §3.1.
struct Header {
	uint64_t spi_i = 0, spi_r = 0; // host order; on the wire 8 bytes each, big-endian
	uint8_t next_payload = 0;
	uint8_t major = 2, minor = 0;
	ExchangeType exchange = ExchangeType::IkeSaInit;
	uint8_t flags = 0; // kFlagInitiator, kFlagVersion, kFlagResponse
	uint32_t message_id = 0;
	uint32_t length = 0; // whole message, as on the wire

	static constexpr uint8_t kFlagInitiator = 0x08, kFlagVersion = 0x10, kFlagResponse = 0x20;
	static constexpr size_t kSize = 28;

	bool is_response() const { return flags & kFlagResponse; }
	bool from_initiator() const { return flags & kFlagInitiator; }
	// Decodes the first 28 bytes, nothing more (no version or length
	// check: Message::parse() does those). ParseError if shorter.
	static Header parse(std::span<const uint8_t> data);
	// Appends 28 bytes, fields as they are.
	void serialize(std::vector<uint8_t> &out) const;
	bool operator==(const Header &) const = default;
};

// RFC 7296 §3.3.5: the AF bit picks TV (a 2-octet value in place of the
// length) or TLV. `type` is the 15 bits without AF.
struct Attribute {
	uint16_t type = 0;
	std::optional<uint16_t> tv_value; // set: TV format
	std::vector<uint8_t> tlv_value;   // used when tv_value is empty
	bool operator==(const Attribute &) const = default;
};

// RFC 7296 §3.3.2. key_length is attribute 14 (§3.3.5); any other
// attribute is kept in other_attributes and sent after it.
struct Transform {
	TransformType type = TransformType::ENCR;
	uint16_t id = 0;
	std::optional<uint16_t> key_length;
	std::vector<Attribute> other_attributes;
	bool operator==(const Transform &) const = default;
};

// RFC 7296 §3.3.1. The SPI size is the SPI's length; its rules (0 in an
// initial IKE SA, 8 for an IKE rekey, 4 for ESP/AH) depend on the exchange
// and are the daemon's to check.
struct Proposal {
	uint8_t number = 1;
	ProtocolId protocol = ProtocolId::IKE;
	std::vector<uint8_t> spi;
	std::vector<Transform> transforms;
	bool operator==(const Proposal &) const = default;
};

struct SaPayload { // §3.3
	std::vector<Proposal> proposals;
	bool operator==(const SaPayload &) const = default;
};

struct KePayload { // §3.4
	uint16_t group = 0;
	std::vector<uint8_t> data;
	bool operator==(const KePayload &) const = default;
};

struct IdPayload { // §3.5; ID_IPV4_ADDR must be 4 octets, ID_IPV6_ADDR 16
	IdType type = IdType::FQDN;
	std::vector<uint8_t> data;
	// Type, three reserved octets and the data: what AUTH signs (§2.15).
	std::vector<uint8_t> body() const;
	bool operator==(const IdPayload &) const = default;
};

struct CertPayload { // §3.6
	uint8_t encoding = 4;
	std::vector<uint8_t> data;
	bool operator==(const CertPayload &) const = default;
};

struct CertReqPayload { // §3.7
	uint8_t encoding = 4;
	std::vector<uint8_t> data;
	bool operator==(const CertReqPayload &) const = default;
};

struct AuthPayload { // §3.8
	AuthMethod method = AuthMethod::PSK;
	std::vector<uint8_t> data;
	bool operator==(const AuthPayload &) const = default;
};

struct NoncePayload { // §3.9: 16 to 256 octets, enforced on parse
	std::vector<uint8_t> data;
	bool operator==(const NoncePayload &) const = default;
};
inline constexpr size_t kMinNonceSize = 16, kMaxNonceSize = 256;

struct NotifyPayload { // §3.10
	ProtocolId protocol{0};
	std::vector<uint8_t> spi;
	uint16_t type = 0;
	std::vector<uint8_t> data;
	bool operator==(const NotifyPayload &) const = default;
};

// §3.11: the SPI size follows from the protocol, 0 for IKE (the SA is the
// one in the header, so no SPIs are kept), 4 for ESP and AH.
struct DeletePayload {
	ProtocolId protocol = ProtocolId::IKE;
	std::vector<std::vector<uint8_t>> spis;
	bool operator==(const DeletePayload &) const = default;
};

struct VendorIdPayload { // §3.12
	std::vector<uint8_t> data;
	bool operator==(const VendorIdPayload &) const = default;
};

// §3.13.1. start <= end is not checked on parse: what to do with an empty
// range is the daemon's decision.
struct TrafficSelector {
	TsType type = TsType::IPv4_ADDR_RANGE;
	uint8_t ip_protocol = 0;
	uint16_t start_port = 0, end_port = 65535;
	IpAddress start, end;
	bool operator==(const TrafficSelector &) const = default;
};

struct TsPayload { // §3.13
	std::vector<TrafficSelector> selectors;
	bool operator==(const TsPayload &) const = default;
};

struct CpAttribute { // §3.15.1; `type` without the reserved top bit
	uint16_t type = 0;
	std::vector<uint8_t> value;
	bool operator==(const CpAttribute &) const = default;
};

struct CpPayload { // §3.15
	uint8_t cfg_type = 1;
	std::vector<CpAttribute> attributes;
	bool operator==(const CpPayload &) const = default;
};

struct EapPayload { // §3.16
	std::vector<uint8_t> data;
	bool operator==(const EapPayload &) const = default;
};

// §3.14. first_inner is the SK header's Next Payload: the type of the
// first payload inside. data is IV | ciphertext | ICV, opaque here.
struct EncryptedPayload {
	uint8_t first_inner = 0;
	std::vector<uint8_t> data;
	// Where the generic payload header starts in the datagram, set by
	// parse (the ICV covers everything before the ICV, from the IKE header).
	size_t offset = 0;
	bool operator==(const EncryptedPayload &) const = default;
};

// RFC 7383 §2.5. first_inner is meaningful in fragment 1 only (zero in
// the others).
struct EncryptedFragmentPayload {
	uint16_t number = 1, total = 1;
	uint8_t first_inner = 0;
	std::vector<uint8_t> data;
	size_t offset = 0;
	bool operator==(const EncryptedFragmentPayload &) const = default;
};

// A payload type this library does not know; the critical bit stays in
// Payload::critical so the daemon can answer UNSUPPORTED_CRITICAL_PAYLOAD
// (RFC 7296 §2.5).
struct UnknownPayload {
	uint8_t type = 0;
	std::vector<uint8_t> data;
	bool operator==(const UnknownPayload &) const = default;
};

using PayloadBody = std::variant<SaPayload, KePayload, IdPayload, CertPayload, CertReqPayload, AuthPayload,
				 NoncePayload, NotifyPayload, DeletePayload, VendorIdPayload, TsPayload, CpPayload,
				 EapPayload, EncryptedPayload, EncryptedFragmentPayload, UnknownPayload>;

// `type` is what goes on the wire; it must fit the body (IDi or IDr for an
// IdPayload, TSi or TSr for a TsPayload, anything for an UnknownPayload),
// or serialize throws std::invalid_argument.
struct Payload {
	PayloadType type = PayloadType::None;
	bool critical = false;
	PayloadBody body;
	bool operator==(const Payload &) const = default;
};

struct Message {
	Header header;
	std::vector<Payload> payloads;

	// A whole datagram, IKE header first (the caller strips the non-ESP
	// marker on port 4500). Throws ParseError; see the file comment.
	static Message parse(std::span<const uint8_t> datagram);
	// The major version of whatever looks like an IKE header, so that a
	// daemon can answer INVALID_MAJOR_VERSION (RFC 7296 §2.5) to a
	// datagram parse() refuses. nullopt if shorter than the header.
	static std::optional<uint8_t> peek_major(std::span<const uint8_t> datagram);
	// Header and payloads, with header.next_payload and header.length
	// computed from the payloads (the fields in `header` are ignored).
	// Throws std::length_error if a payload outgrows its 16-bit length,
	// std::invalid_argument if a payload's type does not fit its body.
	std::vector<uint8_t> serialize() const;

	template <typename T>
	const T *find() const
	{
		for (const Payload &p : payloads)
			if (const T *body = std::get_if<T>(&p.body))
				return body;
		return nullptr;
	}
	template <typename T>
	std::vector<const T *> find_all() const
	{
		std::vector<const T *> out;
		for (const Payload &p : payloads)
			if (const T *body = std::get_if<T>(&p.body))
				out.push_back(body);
		return out;
	}
	// The first Notify of this type, or nullptr.
	const NotifyPayload *find_notify(uint16_t type) const;
	// Every Notify of this type (some, like NAT_DETECTION_SOURCE_IP, may
	// come more than once, §2.23).
	std::vector<const NotifyPayload *> find_notifies(uint16_t type) const;
	// The first payload of a wire type (to tell IDi from IDr, TSi from TSr).
	const Payload *find_type(PayloadType type) const;

	bool operator==(const Message &) const = default;
};

// The payload chain inside a decrypted SK payload: first_type is the SK
// payload's Next Payload field. base_offset is added to error offsets and
// to EncryptedPayload::offset. Same checks and budget as Message::parse().
std::vector<Payload> parse_payloads(uint8_t first_type, std::span<const uint8_t> data, size_t base_offset = 0);
// Serializes a chain; *first_type (if not null) receives the first
// payload's type (0 for an empty chain), for the SK header's Next Payload.
std::vector<uint8_t> serialize_payloads(const std::vector<Payload> &payloads, uint8_t *first_type);

} // namespace umigame::ike
