// A hand-played IKEv2 initiator for what the engine must survive from a
// peer that is not another engine: a third host's half-open SA, forged
// cookies, a newer major version, payloads it does not know. It does the
// key exchange and SK protection with libumigame-ikecrypto, so its
// messages are as authentic as the engine's own.
#pragma once

#include <optional>
#include <vector>

#include "harness.h"
#include "umigame/iked/proposal.h"

namespace umigame::iked::test {

class ManualInitiator {
public:
	ManualInitiator(Endpoint from, Endpoint to, const char *proposal = "aes128gcm16-prfsha256-ecp256")
		: self(from), peer(to)
	{
		std::string error;
		alg = *parse_proposal(proposal, true, &error);
		spi_i = ike::random_u64();
		ni = ike::random_bytes(32);
		ke = ike::KeyExchange::create(alg.dh);
	}

	Endpoint self, peer;
	AlgorithmSet alg;
	uint64_t spi_i = 0, spi_r = 0;
	Bytes ni, nr;
	std::unique_ptr<ike::KeyExchange> ke;
	std::unique_ptr<ike::Prf> prf;
	ike::IkeKeys keys;
	std::unique_ptr<ike::SkProtection> sk_out, sk_in;

	Bytes init_request(const Bytes &cookie = {}, uint8_t major = 2) const
	{
		ike::Message m;
		m.header.spi_i = spi_i;
		m.header.exchange = ike::ExchangeType::IkeSaInit;
		m.header.flags = ike::Header::kFlagInitiator;
		if (!cookie.empty())
			m.payloads.push_back(
				{ike::PayloadType::Notify, false, ike::NotifyPayload{{}, {}, ike::notify::COOKIE, cookie}});
		m.payloads.push_back({ike::PayloadType::SA, false,
				      ike::SaPayload{{to_wire(alg, ike::ProtocolId::IKE, 1, {})}}});
		m.payloads.push_back({ike::PayloadType::KE, false, ike::KePayload{alg.dh, ke->public_value()}});
		m.payloads.push_back({ike::PayloadType::Nonce, false, ike::NoncePayload{ni}});
		Bytes out = m.serialize();
		if (major != 2)
			out[17] = static_cast<uint8_t>(major << 4); // §3.1: MjVer in the high nibble
		return out;
	}

	// Takes the responder's IKE_SA_INIT answer and derives the keys.
	bool accept_init_response(const Bytes &datagram)
	{
		auto m = ike::Message::parse(datagram);
		const auto *ker = m.find<ike::KePayload>();
		const auto *n = m.find<ike::NoncePayload>();
		if (!ker || !n || m.header.spi_r == 0)
			return false;
		spi_r = m.header.spi_r;
		nr = n->data;
		auto shared = ke->shared_secret(ker->data);
		prf = std::make_unique<ike::Prf>(alg.prf);
		keys = ike::derive_ike_keys(*prf, alg.suite(), ni, nr, shared, spi_i, spi_r);
		sk_out = std::make_unique<ike::SkProtection>(alg.suite(), keys.sk_ei, keys.sk_ai);
		sk_in = std::make_unique<ike::SkProtection>(alg.suite(), keys.sk_er, keys.sk_ar);
		return true;
	}

	// A request of ours inside an SK payload (RFC 7296 §3.14).
	Bytes protect(ike::ExchangeType exchange, uint32_t message_id, const std::vector<ike::Payload> &payloads) const
	{
		uint8_t first = 0;
		Bytes plain = ike::serialize_payloads(payloads, &first);
		size_t body = sk_out->sealed_size(plain.size());
		ike::Header h;
		h.spi_i = spi_i;
		h.spi_r = spi_r;
		h.exchange = exchange;
		h.flags = ike::Header::kFlagInitiator;
		h.message_id = message_id;
		h.next_payload = static_cast<uint8_t>(ike::PayloadType::SK);
		h.length = static_cast<uint32_t>(ike::Header::kSize + 4 + body);
		Bytes out;
		h.serialize(out);
		out.push_back(first);
		out.push_back(0);
		out.push_back(static_cast<uint8_t>((4 + body) >> 8));
		out.push_back(static_cast<uint8_t>(4 + body));
		Bytes sealed = sk_out->seal(out, plain);
		out.insert(out.end(), sealed.begin(), sealed.end());
		return out;
	}

	// The payloads inside a response's SK payload.
	std::optional<std::vector<ike::Payload>> open(const Bytes &datagram) const
	{
		auto m = ike::Message::parse(datagram);
		if (m.payloads.empty())
			return std::nullopt;
		const auto *sk = std::get_if<ike::EncryptedPayload>(&m.payloads.back().body);
		if (!sk)
			return std::nullopt;
		auto plain = sk_in->open(std::span<const uint8_t>(datagram).first(sk->offset + 4), sk->data);
		if (!plain)
			return std::nullopt;
		return ike::parse_payloads(sk->first_inner, *plain);
	}
};

// The notify types in an unprotected message.
inline std::vector<uint16_t> notifies_in(const Bytes &datagram)
{
	std::vector<uint16_t> out;
	auto m = ike::Message::parse(datagram);
	for (const auto *n : m.find_all<ike::NotifyPayload>())
		out.push_back(n->type);
	return out;
}

inline const ike::NotifyPayload *notify_in(const std::vector<ike::Payload> &payloads, uint16_t type)
{
	for (const auto &p : payloads)
		if (const auto *n = std::get_if<ike::NotifyPayload>(&p.body); n && n->type == type)
			return n;
	return nullptr;
}

} // namespace umigame::iked::test
