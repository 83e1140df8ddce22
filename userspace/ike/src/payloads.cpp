// Payload bodies and the payload chain, RFC 7296 §3.2-§3.16 and RFC 7383
// §2.5. Each body parser gets a Reader over exactly the payload's body and
// must consume all of it or fail.
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>

#include "umigame/ike/message.h"
#include "wire.h"

namespace umigame::ike {

using wire::Reader;

namespace {

constexpr size_t kGenericHeaderSize = 4;
constexpr uint8_t kCriticalBit = 0x80;
// RFC 7296 §3.3.1, §3.3.2: the Last Substruc values.
constexpr uint8_t kMoreProposals = 2, kMoreTransforms = 3;
constexpr uint16_t kAttributeFormatTv = 0x8000;

std::string num(size_t n)
{
	return std::to_string(n);
}

// --- parse ------------------------------------------------------------------

Attribute parse_attribute(Reader &r)
{
	size_t start = r.offset();
	r.fault_at(start);
	r.need(4, "attribute header (RFC 7296 §3.3.5)");
	uint16_t raw_type = r.u16();
	Attribute a;
	a.type = raw_type & ~kAttributeFormatTv;
	if (raw_type & kAttributeFormatTv) {
		a.tv_value = r.u16();
	} else {
		uint16_t length = r.u16();
		if (length > r.remaining())
			r.fail("attribute length " + num(length) + " overruns the transform: " +
			       num(r.remaining()) + " octets left (RFC 7296 §3.3.5)");
		a.tlv_value = r.vec(length);
	}
	return a;
}

Transform parse_transform(Reader &proposal, bool &last)
{
	size_t start = proposal.offset();
	proposal.fault_at(start);
	proposal.need(8, "transform header (RFC 7296 §3.3.2)");
	uint8_t last_substruc = proposal.u8();
	proposal.skip(1);
	uint16_t length = proposal.u16();
	if (last_substruc != 0 && last_substruc != kMoreTransforms)
		proposal.fail("transform Last Substruc " + num(last_substruc) + ", must be 0 or 3 (RFC 7296 §3.3.2)");
	if (length < 8)
		proposal.fail("transform length " + num(length) + ", must be at least 8 (RFC 7296 §3.3.2)");
	if (size_t{length} - 4 > proposal.remaining())
		proposal.fail("transform length " + num(length) + " overruns the proposal: " +
			      num(proposal.remaining() + 4) + " octets left (RFC 7296 §3.3.2)");
	Reader r = proposal.sub(length - 4, start);
	Transform t;
	t.type = static_cast<TransformType>(r.u8());
	r.skip(1);
	t.id = r.u16();
	size_t count = 0;
	while (!r.empty()) {
		r.fault_at(r.offset());
		if (++count > kMaxAttributesPerTransform)
			r.fail("more than " + num(kMaxAttributesPerTransform) + " attributes in a transform");
		Attribute a = parse_attribute(r);
		if (a.type == kAttrKeyLength) {
			// RFC 7296 §3.3.5: Key Length is a TV attribute, and a
			// transform has one key length.
			if (!a.tv_value)
				r.fail("Key Length attribute in TLV format, must be TV (RFC 7296 §3.3.5)");
			if (t.key_length)
				r.fail("Key Length attribute twice in one transform (RFC 7296 §3.3.5)");
			t.key_length = a.tv_value;
		} else {
			t.other_attributes.push_back(std::move(a));
		}
	}
	last = last_substruc == 0;
	return t;
}

Proposal parse_proposal(Reader &sa, bool &last)
{
	size_t start = sa.offset();
	sa.fault_at(start);
	sa.need(8, "proposal header (RFC 7296 §3.3.1)");
	uint8_t last_substruc = sa.u8();
	sa.skip(1);
	uint16_t length = sa.u16();
	if (last_substruc != 0 && last_substruc != kMoreProposals)
		sa.fail("proposal Last Substruc " + num(last_substruc) + ", must be 0 or 2 (RFC 7296 §3.3.1)");
	if (length < 8)
		sa.fail("proposal length " + num(length) + ", must be at least 8 (RFC 7296 §3.3.1)");
	if (size_t{length} - 4 > sa.remaining())
		sa.fail("proposal length " + num(length) + " overruns the SA payload: " +
			num(sa.remaining() + 4) + " octets left (RFC 7296 §3.3.1)");
	Reader r = sa.sub(length - 4, start);
	Proposal p;
	p.number = r.u8();
	p.protocol = static_cast<ProtocolId>(r.u8());
	uint8_t spi_size = r.u8();
	uint8_t transform_count = r.u8();
	if (spi_size > r.remaining())
		r.fail("SPI size " + num(spi_size) + " overruns the proposal (RFC 7296 §3.3.1)");
	p.spi = r.vec(spi_size);
	bool last_transform = r.empty();
	while (!r.empty()) {
		r.fault_at(r.offset());
		// RFC 7296 §3.3.1: # of Transforms counts what follows; never
		// build more than it announced.
		if (p.transforms.size() >= transform_count || p.transforms.size() >= kMaxTransformsPerProposal)
			r.fail("more transforms than the " + num(transform_count) +
			       " the proposal announces (RFC 7296 §3.3.1)");
		if (last_transform)
			r.fail("transform after the one marked last (RFC 7296 §3.3.2)");
		p.transforms.push_back(parse_transform(r, last_transform));
	}
	// Still naming the last transform.
	if (!last_transform)
		r.fail("last transform not marked last (RFC 7296 §3.3.2)");
	r.fault_at(start);
	if (p.transforms.size() != transform_count)
		r.fail("# of Transforms " + num(transform_count) + " but " + num(p.transforms.size()) +
		       " present (RFC 7296 §3.3.1)");
	last = last_substruc == 0;
	return p;
}

SaPayload parse_sa(Reader &r)
{
	SaPayload sa;
	bool last = r.empty();
	if (last)
		r.fail("SA payload without proposals (RFC 7296 §3.3: one or more)");
	while (!r.empty()) {
		r.fault_at(r.offset());
		if (sa.proposals.size() >= kMaxProposals)
			r.fail("more than " + num(kMaxProposals) + " proposals");
		if (last)
			r.fail("proposal after the one marked last (RFC 7296 §3.3.1)");
		sa.proposals.push_back(parse_proposal(r, last));
	}
	if (!last)
		r.fail("last proposal not marked last (RFC 7296 §3.3.1)");
	return sa;
}

TrafficSelector parse_selector(Reader &payload)
{
	size_t start = payload.offset();
	payload.fault_at(start);
	payload.need(4, "traffic selector header (RFC 7296 §3.13.1)");
	TrafficSelector ts;
	uint8_t type = payload.u8();
	ts.type = static_cast<TsType>(type);
	ts.ip_protocol = payload.u8();
	uint16_t length = payload.u16();
	size_t address_size;
	switch (ts.type) {
	case TsType::IPv4_ADDR_RANGE: address_size = 4; break;
	case TsType::IPv6_ADDR_RANGE: address_size = 16; break;
	default: payload.fail("TS Type " + num(type) + " unknown (RFC 7296 §3.13.1: 7 or 8)");
	}
	size_t expected = 8 + 2 * address_size;
	if (length != expected)
		payload.fail("Selector Length " + num(length) + ", must be " + num(expected) + " for TS Type " +
			     num(type) + " (RFC 7296 §3.13.1)");
	if (size_t{length} - 4 > payload.remaining())
		payload.fail("Selector Length " + num(length) + " overruns the payload (RFC 7296 §3.13.1)");
	Reader r = payload.sub(length - 4, start);
	ts.start_port = r.u16();
	ts.end_port = r.u16();
	if (address_size == 4) {
		ts.start = IpAddress::v4(r.bytes(4).first<4>());
		ts.end = IpAddress::v4(r.bytes(4).first<4>());
	} else {
		ts.start = IpAddress::v6(r.bytes(16).first<16>());
		ts.end = IpAddress::v6(r.bytes(16).first<16>());
	}
	return ts;
}

TsPayload parse_ts(Reader &r, size_t payload_offset)
{
	r.need(4, "TS payload (RFC 7296 §3.13)");
	uint8_t count = r.u8();
	r.skip(3);
	TsPayload ts;
	while (!r.empty()) {
		r.fault_at(r.offset());
		if (ts.selectors.size() >= count)
			r.fail("more traffic selectors than the " + num(count) +
			       " the payload announces (RFC 7296 §3.13)");
		ts.selectors.push_back(parse_selector(r));
	}
	r.fault_at(payload_offset);
	if (ts.selectors.size() != count)
		r.fail("Number of TSs " + num(count) + " but " + num(ts.selectors.size()) +
		       " present (RFC 7296 §3.13)");
	return ts;
}

CpPayload parse_cp(Reader &r)
{
	r.need(4, "CP payload (RFC 7296 §3.15)");
	CpPayload cp;
	cp.cfg_type = r.u8();
	r.skip(3);
	while (!r.empty()) {
		r.fault_at(r.offset());
		if (cp.attributes.size() >= kMaxCpAttributes)
			r.fail("more than " + num(kMaxCpAttributes) + " configuration attributes");
		r.need(4, "configuration attribute header (RFC 7296 §3.15.1)");
		CpAttribute a;
		// The top bit is reserved (§3.15.1): ignored on receipt.
		a.type = r.u16() & 0x7fff;
		uint16_t length = r.u16();
		if (length > r.remaining())
			r.fail("configuration attribute length " + num(length) + " overruns the payload: " +
			       num(r.remaining()) + " octets left (RFC 7296 §3.15.1)");
		a.value = r.vec(length);
		cp.attributes.push_back(std::move(a));
	}
	return cp;
}

DeletePayload parse_delete(Reader &r)
{
	r.need(4, "Delete payload (RFC 7296 §3.11)");
	DeletePayload d;
	uint8_t protocol = r.u8();
	d.protocol = static_cast<ProtocolId>(protocol);
	uint8_t spi_size = r.u8();
	uint16_t count = r.u16();
	size_t expected_size;
	switch (d.protocol) {
	case ProtocolId::IKE: expected_size = 0; break;
	case ProtocolId::AH:
	case ProtocolId::ESP: expected_size = 4; break;
	default: r.fail("Protocol ID " + num(protocol) + ", must be 1, 2 or 3 (RFC 7296 §3.11)");
	}
	if (spi_size != expected_size)
		r.fail("SPI Size " + num(spi_size) + ", must be " + num(expected_size) + " for Protocol ID " +
		       num(protocol) + " (RFC 7296 §3.11)");
	if (r.remaining() != size_t{count} * spi_size)
		r.fail("Num of SPIs " + num(count) + " of " + num(spi_size) + " octets, but " +
		       num(r.remaining()) + " octets follow (RFC 7296 §3.11)");
	// An IKE SA's SPIs are the header's: a count with no SPIs carries
	// nothing to keep.
	for (size_t i = 0; spi_size && i < count; i++)
		d.spis.push_back(r.vec(spi_size));
	return d;
}

PayloadBody parse_body(uint8_t type, uint8_t next, Reader &r, size_t offset)
{
	switch (static_cast<PayloadType>(type)) {
	case PayloadType::SA: return parse_sa(r);
	case PayloadType::KE: {
		r.need(4, "KE payload (RFC 7296 §3.4)");
		KePayload ke;
		ke.group = r.u16();
		r.skip(2);
		ke.data = r.rest();
		return ke;
	}
	case PayloadType::IDi:
	case PayloadType::IDr: {
		r.need(4, "ID payload (RFC 7296 §3.5)");
		IdPayload id;
		id.type = static_cast<IdType>(r.u8());
		r.skip(3);
		id.data = r.rest();
		// RFC 7296 §3.5: an address ID is exactly one address.
		if (id.type == IdType::IPv4 && id.data.size() != 4)
			r.fail("ID_IPV4_ADDR of " + num(id.data.size()) + " octets, must be 4 (RFC 7296 §3.5)");
		if (id.type == IdType::IPv6 && id.data.size() != 16)
			r.fail("ID_IPV6_ADDR of " + num(id.data.size()) + " octets, must be 16 (RFC 7296 §3.5)");
		return id;
	}
	case PayloadType::CERT: {
		r.need(1, "CERT payload (RFC 7296 §3.6)");
		CertPayload c;
		c.encoding = r.u8();
		c.data = r.rest();
		return c;
	}
	case PayloadType::CERTREQ: {
		r.need(1, "CERTREQ payload (RFC 7296 §3.7)");
		CertReqPayload c;
		c.encoding = r.u8();
		c.data = r.rest();
		return c;
	}
	case PayloadType::AUTH: {
		r.need(4, "AUTH payload (RFC 7296 §3.8)");
		AuthPayload a;
		a.method = static_cast<AuthMethod>(r.u8());
		r.skip(3);
		a.data = r.rest();
		return a;
	}
	case PayloadType::Nonce:
		if (r.remaining() < kMinNonceSize || r.remaining() > kMaxNonceSize)
			r.fail("nonce of " + num(r.remaining()) + " octets, must be 16 to 256 (RFC 7296 §3.9)");
		return NoncePayload{r.rest()};
	case PayloadType::Notify: {
		r.need(4, "Notify payload (RFC 7296 §3.10)");
		NotifyPayload n;
		n.protocol = static_cast<ProtocolId>(r.u8());
		uint8_t spi_size = r.u8();
		n.type = r.u16();
		if (spi_size > r.remaining())
			r.fail("SPI Size " + num(spi_size) + " overruns the payload: " + num(r.remaining()) +
			       " octets left (RFC 7296 §3.10)");
		n.spi = r.vec(spi_size);
		n.data = r.rest();
		return n;
	}
	case PayloadType::Delete: return parse_delete(r);
	case PayloadType::VendorID: return VendorIdPayload{r.rest()};
	case PayloadType::TSi:
	case PayloadType::TSr: return parse_ts(r, offset);
	case PayloadType::CP: return parse_cp(r);
	case PayloadType::EAP: return EapPayload{r.rest()};
	case PayloadType::SK: {
		EncryptedPayload sk;
		sk.first_inner = next;
		sk.data = r.rest();
		sk.offset = offset;
		return sk;
	}
	case PayloadType::SKF: {
		r.need(4, "Encrypted Fragment payload (RFC 7383 §2.5)");
		EncryptedFragmentPayload skf;
		skf.number = r.u16();
		skf.total = r.u16();
		skf.first_inner = next;
		// RFC 7383 §2.5: numbered from 1, Total Fragments greater than
		// zero, and no fragment past the total.
		if (skf.total == 0)
			r.fail("Total Fragments 0 (RFC 7383 §2.5)");
		if (skf.number == 0 || skf.number > skf.total)
			r.fail("Fragment Number " + num(skf.number) + " outside 1.." + num(skf.total) +
			       " (RFC 7383 §2.5)");
		skf.data = r.rest();
		skf.offset = offset;
		return skf;
	}
	case PayloadType::None: break;
	}
	return UnknownPayload{type, r.rest()};
}

// --- serialize --------------------------------------------------------------

[[noreturn]] void mismatch(PayloadType type, const char *body)
{
	throw std::invalid_argument("IKEv2 payload type " + to_string(type) + " cannot carry a " + body);
}

void serialize_transform(std::vector<uint8_t> &out, const Transform &t, bool last)
{
	size_t start = out.size();
	wire::put8(out, last ? 0 : kMoreTransforms);
	wire::put8(out, 0);
	wire::put16(out, 0);
	wire::put8(out, static_cast<uint8_t>(t.type));
	wire::put8(out, 0);
	wire::put16(out, t.id);
	if (t.key_length) {
		wire::put16(out, kAttributeFormatTv | kAttrKeyLength);
		wire::put16(out, *t.key_length);
	}
	for (const Attribute &a : t.other_attributes) {
		if (a.type & kAttributeFormatTv)
			throw std::invalid_argument("IKEv2 attribute type " + num(a.type) +
						    " does not fit 15 bits (RFC 7296 §3.3.5)");
		if (a.tv_value) {
			wire::put16(out, kAttributeFormatTv | a.type);
			wire::put16(out, *a.tv_value);
		} else {
			wire::put16(out, a.type);
			wire::put16(out, wire::checked_u16(a.tlv_value.size(), "attribute length"));
			wire::put_bytes(out, a.tlv_value);
		}
	}
	wire::patch_length16(out, start + 2, start, "transform");
}

void serialize_sa(std::vector<uint8_t> &out, const SaPayload &sa)
{
	for (size_t i = 0; i < sa.proposals.size(); i++) {
		const Proposal &p = sa.proposals[i];
		size_t start = out.size();
		wire::put8(out, i + 1 == sa.proposals.size() ? 0 : kMoreProposals);
		wire::put8(out, 0);
		wire::put16(out, 0);
		wire::put8(out, p.number);
		wire::put8(out, static_cast<uint8_t>(p.protocol));
		wire::put8(out, wire::checked_u8(p.spi.size(), "SPI size"));
		wire::put8(out, wire::checked_u8(p.transforms.size(), "number of transforms"));
		wire::put_bytes(out, p.spi);
		for (size_t j = 0; j < p.transforms.size(); j++)
			serialize_transform(out, p.transforms[j], j + 1 == p.transforms.size());
		wire::patch_length16(out, start + 2, start, "proposal");
	}
}

void put_reserved(std::vector<uint8_t> &out, size_t n)
{
	out.insert(out.end(), n, 0);
}

void serialize_body(std::vector<uint8_t> &out, const Payload &p)
{
	PayloadType type = p.type;
	std::visit(
		[&](const auto &body) {
			using T = std::decay_t<decltype(body)>;
			if constexpr (std::is_same_v<T, SaPayload>) {
				if (type != PayloadType::SA)
					mismatch(type, "SA body");
				serialize_sa(out, body);
			} else if constexpr (std::is_same_v<T, KePayload>) {
				if (type != PayloadType::KE)
					mismatch(type, "KE body");
				wire::put16(out, body.group);
				put_reserved(out, 2);
				wire::put_bytes(out, body.data);
			} else if constexpr (std::is_same_v<T, IdPayload>) {
				if (type != PayloadType::IDi && type != PayloadType::IDr)
					mismatch(type, "ID body");
				wire::put_bytes(out, body.body());
			} else if constexpr (std::is_same_v<T, CertPayload> || std::is_same_v<T, CertReqPayload>) {
				constexpr bool is_cert = std::is_same_v<T, CertPayload>;
				if (type != (is_cert ? PayloadType::CERT : PayloadType::CERTREQ))
					mismatch(type, is_cert ? "CERT body" : "CERTREQ body");
				wire::put8(out, body.encoding);
				wire::put_bytes(out, body.data);
			} else if constexpr (std::is_same_v<T, AuthPayload>) {
				if (type != PayloadType::AUTH)
					mismatch(type, "AUTH body");
				wire::put8(out, static_cast<uint8_t>(body.method));
				put_reserved(out, 3);
				wire::put_bytes(out, body.data);
			} else if constexpr (std::is_same_v<T, NoncePayload>) {
				if (type != PayloadType::Nonce)
					mismatch(type, "Nonce body");
				wire::put_bytes(out, body.data);
			} else if constexpr (std::is_same_v<T, NotifyPayload>) {
				if (type != PayloadType::Notify)
					mismatch(type, "Notify body");
				wire::put8(out, static_cast<uint8_t>(body.protocol));
				wire::put8(out, wire::checked_u8(body.spi.size(), "Notify SPI size"));
				wire::put16(out, body.type);
				wire::put_bytes(out, body.spi);
				wire::put_bytes(out, body.data);
			} else if constexpr (std::is_same_v<T, DeletePayload>) {
				if (type != PayloadType::Delete)
					mismatch(type, "Delete body");
				// RFC 7296 §3.11: the SPI size follows from the protocol.
				size_t spi_size = body.protocol == ProtocolId::IKE ? 0 : 4;
				if (body.protocol != ProtocolId::IKE && body.protocol != ProtocolId::ESP &&
				    body.protocol != ProtocolId::AH)
					throw std::invalid_argument("IKEv2 Delete for Protocol ID " +
								    num(static_cast<uint8_t>(body.protocol)) +
								    " (RFC 7296 §3.11: 1, 2 or 3)");
				for (const auto &spi : body.spis)
					if (spi.size() != spi_size)
						throw std::invalid_argument(
							"IKEv2 Delete SPI of " + num(spi.size()) + " octets, must be " +
							num(spi_size) + " for its protocol (RFC 7296 §3.11)");
				wire::put8(out, static_cast<uint8_t>(body.protocol));
				wire::put8(out, static_cast<uint8_t>(spi_size));
				wire::put16(out, wire::checked_u16(body.spis.size(), "Num of SPIs"));
				for (const auto &spi : body.spis)
					wire::put_bytes(out, spi);
			} else if constexpr (std::is_same_v<T, VendorIdPayload>) {
				if (type != PayloadType::VendorID)
					mismatch(type, "Vendor ID body");
				wire::put_bytes(out, body.data);
			} else if constexpr (std::is_same_v<T, TsPayload>) {
				if (type != PayloadType::TSi && type != PayloadType::TSr)
					mismatch(type, "TS body");
				wire::put8(out, wire::checked_u8(body.selectors.size(), "Number of TSs"));
				put_reserved(out, 3);
				for (const TrafficSelector &ts : body.selectors) {
					// The address size follows the TS Type, whatever
					// family the addresses claim (§3.13.1).
					size_t address_size;
					if (ts.type == TsType::IPv4_ADDR_RANGE)
						address_size = 4;
					else if (ts.type == TsType::IPv6_ADDR_RANGE)
						address_size = 16;
					else
						throw std::invalid_argument(
							"IKEv2 TS Type " + num(static_cast<uint8_t>(ts.type)) +
							" (RFC 7296 §3.13.1: 7 or 8)");
					wire::put8(out, static_cast<uint8_t>(ts.type));
					wire::put8(out, ts.ip_protocol);
					wire::put16(out, static_cast<uint16_t>(8 + 2 * address_size));
					wire::put16(out, ts.start_port);
					wire::put16(out, ts.end_port);
					wire::put_bytes(out, std::span(ts.start.bytes).first(address_size));
					wire::put_bytes(out, std::span(ts.end.bytes).first(address_size));
				}
			} else if constexpr (std::is_same_v<T, CpPayload>) {
				if (type != PayloadType::CP)
					mismatch(type, "CP body");
				wire::put8(out, body.cfg_type);
				put_reserved(out, 3);
				for (const CpAttribute &a : body.attributes) {
					if (a.type & 0x8000)
						throw std::invalid_argument("IKEv2 configuration attribute type " +
									    num(a.type) +
									    " does not fit 15 bits (RFC 7296 §3.15.1)");
					wire::put16(out, a.type);
					wire::put16(out, wire::checked_u16(a.value.size(),
									   "configuration attribute length"));
					wire::put_bytes(out, a.value);
				}
			} else if constexpr (std::is_same_v<T, EapPayload>) {
				if (type != PayloadType::EAP)
					mismatch(type, "EAP body");
				wire::put_bytes(out, body.data);
			} else if constexpr (std::is_same_v<T, EncryptedPayload>) {
				if (type != PayloadType::SK)
					mismatch(type, "SK body");
				wire::put_bytes(out, body.data);
			} else if constexpr (std::is_same_v<T, EncryptedFragmentPayload>) {
				if (type != PayloadType::SKF)
					mismatch(type, "SKF body");
				wire::put16(out, body.number);
				wire::put16(out, body.total);
				wire::put_bytes(out, body.data);
			} else {
				static_assert(std::is_same_v<T, UnknownPayload>);
				wire::put_bytes(out, body.data);
			}
		},
		p.body);
}

// RFC 7296 §3.14, RFC 7383 §2.5: the SK/SKF header's Next Payload names the
// first payload inside, so they end the outer chain.
bool is_encrypted(uint8_t type)
{
	return type == static_cast<uint8_t>(PayloadType::SK) || type == static_cast<uint8_t>(PayloadType::SKF);
}

uint8_t first_inner_of(const Payload &p)
{
	if (const auto *sk = std::get_if<EncryptedPayload>(&p.body))
		return sk->first_inner;
	if (const auto *skf = std::get_if<EncryptedFragmentPayload>(&p.body))
		return skf->first_inner;
	return 0;
}

} // namespace

std::vector<uint8_t> IdPayload::body() const
{
	std::vector<uint8_t> out;
	out.reserve(4 + data.size());
	out.push_back(static_cast<uint8_t>(type));
	out.insert(out.end(), 3, 0);
	out.insert(out.end(), data.begin(), data.end());
	return out;
}

std::vector<Payload> parse_payloads(uint8_t first_type, std::span<const uint8_t> data, size_t base_offset)
{
	std::vector<Payload> payloads;
	uint8_t type = first_type;
	size_t pos = 0;
	while (type != 0) {
		size_t offset = base_offset + pos;
		size_t left = data.size() - pos;
		// The budget: a chain of empty payloads is 4 octets each.
		if (payloads.size() >= kMaxPayloads)
			throw ParseError(offset, type, "more than " + num(kMaxPayloads) + " payloads");
		if (left < kGenericHeaderSize)
			throw ParseError(offset, type,
					 "generic payload header truncated: " + num(left) + " octets left (RFC 7296 §3.2)");
		uint8_t next = data[pos];
		bool critical = data[pos + 1] & kCriticalBit;
		size_t length = size_t{data[pos + 2]} << 8 | data[pos + 3];
		if (length < kGenericHeaderSize)
			throw ParseError(offset, type,
					 "Payload Length " + num(length) + ", must be at least 4 (RFC 7296 §3.2)");
		if (length > left)
			throw ParseError(offset, type,
					 "Payload Length " + num(length) + " overruns the message: " + num(left) +
						 " octets left (RFC 7296 §3.2)");
		Reader r(data.subspan(pos + kGenericHeaderSize, length - kGenericHeaderSize),
			 offset + kGenericHeaderSize, type, offset);
		Payload p{static_cast<PayloadType>(type), critical, parse_body(type, next, r, offset)};
		if (!r.empty())
			throw ParseError(offset, type, num(r.remaining()) + " octets left over in the payload");
		payloads.push_back(std::move(p));
		pos += length;
		if (is_encrypted(type)) {
			if (pos != data.size())
				throw ParseError(offset, type,
						 num(data.size() - pos) + " octets after it, but " +
							 (type == static_cast<uint8_t>(PayloadType::SK)
								  ? "SK must be the last payload (RFC 7296 §3.14)"
								  : "SKF must be the last payload (RFC 7383 §2.5)"));
			return payloads;
		}
		type = next;
	}
	if (pos != data.size())
		throw ParseError(base_offset + pos, 0,
				 num(data.size() - pos) + " octets after the last payload (RFC 7296 §3.2)");
	return payloads;
}

std::vector<uint8_t> serialize_payloads(const std::vector<Payload> &payloads, uint8_t *first_type)
{
	std::vector<uint8_t> out;
	for (size_t i = 0; i < payloads.size(); i++) {
		const Payload &p = payloads[i];
		bool last = i + 1 == payloads.size();
		uint8_t type = static_cast<uint8_t>(p.type);
		if (is_encrypted(type) && !last)
			throw std::invalid_argument("IKEv2 " + to_string(p.type) +
						    " must be the last payload (RFC 7296 §3.14, RFC 7383 §2.5)");
		if (type == 0)
			throw std::invalid_argument("IKEv2 payload of type 0 (RFC 7296 §3.2: means no next payload)");
		uint8_t next = is_encrypted(type) ? first_inner_of(p)
				: last		   ? 0
						   : static_cast<uint8_t>(payloads[i + 1].type);
		size_t start = out.size();
		wire::put8(out, next);
		wire::put8(out, p.critical ? kCriticalBit : 0);
		wire::put16(out, 0);
		serialize_body(out, p);
		wire::patch_length16(out, start + 2, start, "payload");
	}
	if (first_type)
		*first_type = payloads.empty() ? 0 : static_cast<uint8_t>(payloads.front().type);
	return out;
}

} // namespace umigame::ike
