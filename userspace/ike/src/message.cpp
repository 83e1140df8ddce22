// The IKE header and whole messages, RFC 7296 §3.1.
#include "umigame/ike/message.h"

#include "wire.h"

namespace umigame::ike {

Header Header::parse(std::span<const uint8_t> data)
{
	wire::Reader r(data, 0, 0, 0);
	r.need(kSize, "IKE header (RFC 7296 §3.1)");
	Header h;
	h.spi_i = r.u64();
	h.spi_r = r.u64();
	h.next_payload = r.u8();
	uint8_t version = r.u8();
	h.major = version >> 4;
	h.minor = version & 0x0f;
	h.exchange = static_cast<ExchangeType>(r.u8());
	h.flags = r.u8();
	h.message_id = r.u32();
	h.length = r.u32();
	return h;
}

void Header::serialize(std::vector<uint8_t> &out) const
{
	wire::put64(out, spi_i);
	wire::put64(out, spi_r);
	wire::put8(out, next_payload);
	wire::put8(out, static_cast<uint8_t>(major << 4 | (minor & 0x0f)));
	wire::put8(out, static_cast<uint8_t>(exchange));
	wire::put8(out, flags);
	wire::put32(out, message_id);
	wire::put32(out, length);
}

std::optional<uint8_t> Message::peek_major(std::span<const uint8_t> datagram)
{
	if (datagram.size() < Header::kSize)
		return std::nullopt;
	return datagram[17] >> 4;
}

Message Message::parse(std::span<const uint8_t> datagram)
{
	Message m;
	m.header = Header::parse(datagram);
	const Header &h = m.header;
	// RFC 7296 §3.1: a major version we do not speak means the rest of the
	// layout is unknown; the caller answers INVALID_MAJOR_VERSION (§2.5).
	if (h.major != 2)
		throw ParseError(0, 0, "major version " + std::to_string(h.major) + ", must be 2 (RFC 7296 §3.1)");
	if (datagram.size() > kMaxMessageSize)
		throw ParseError(0, 0, "datagram of " + std::to_string(datagram.size()) + " octets, over " +
					       std::to_string(kMaxMessageSize));
	// RFC 7296 §3.1: Length is that of the whole message.
	if (h.length != datagram.size())
		throw ParseError(0, 0, "Length " + std::to_string(h.length) + " but the datagram has " +
					       std::to_string(datagram.size()) + " octets (RFC 7296 §3.1)");
	m.payloads = parse_payloads(h.next_payload, datagram.subspan(Header::kSize), Header::kSize);
	return m;
}

std::vector<uint8_t> Message::serialize() const
{
	uint8_t first = 0;
	std::vector<uint8_t> body = serialize_payloads(payloads, &first);
	Header h = header;
	h.next_payload = first;
	if (body.size() > kMaxMessageSize - Header::kSize)
		throw std::length_error("IKEv2 message of " + std::to_string(body.size() + Header::kSize) +
					" octets, over " + std::to_string(kMaxMessageSize));
	h.length = static_cast<uint32_t>(Header::kSize + body.size());
	std::vector<uint8_t> out;
	out.reserve(h.length);
	h.serialize(out);
	out.insert(out.end(), body.begin(), body.end());
	return out;
}

const NotifyPayload *Message::find_notify(uint16_t type) const
{
	for (const NotifyPayload *n : find_all<NotifyPayload>())
		if (n->type == type)
			return n;
	return nullptr;
}

std::vector<const NotifyPayload *> Message::find_notifies(uint16_t type) const
{
	std::vector<const NotifyPayload *> out;
	for (const NotifyPayload *n : find_all<NotifyPayload>())
		if (n->type == type)
			out.push_back(n);
	return out;
}

const Payload *Message::find_type(PayloadType type) const
{
	for (const Payload &p : payloads)
		if (p.type == type)
			return &p;
	return nullptr;
}

} // namespace umigame::ike
