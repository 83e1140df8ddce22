// One IKE SA from the initiator's side, played by hand: the key exchange,
// key derivation, AUTH and SK protection (RFC 7296 §1.2, §2.14, §2.15,
// §3.14) on libumigame-ike and libumigame-ikecrypto, with none of the
// engine's state machine. The engine's unit tests (tests/peer.h), its
// fuzzer (tools/fuzz/ike_engine_fuzz.cpp) and the load generator
// (tools/loadgen/ike_load.cpp) each need messages a real initiator would
// send, and sometimes ones it never would; they build both on this, so a
// fix to the framing reaches all three.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "umigame/ike/crypto.h"
#include "umigame/ike/message.h"
#include "umigame/iked/proposal.h"

namespace umigame::iked {

class HandInitiator {
public:
	using Bytes = std::vector<uint8_t>;

	explicit HandInitiator(const AlgorithmSet &ike_alg, uint64_t spi = ike::random_u64(),
			       Bytes nonce = ike::random_bytes(32))
		: alg(ike_alg), spi_i(spi), ni(std::move(nonce)), ke(ike::KeyExchange::create(ike_alg.dh))
	{
	}
	// RFC 7296 §2.12 lets an initiator reuse its DH value across SAs: a
	// load generator that does so pays half the ECDH of the responder it
	// loads.
	HandInitiator(const AlgorithmSet &ike_alg, std::shared_ptr<const ike::KeyExchange> shared_ke)
		: alg(ike_alg), spi_i(ike::random_u64()), ni(ike::random_bytes(32)), ke(std::move(shared_ke))
	{
	}

	AlgorithmSet alg;
	uint64_t spi_i = 0, spi_r = 0;
	Bytes ni, nr;
	std::shared_ptr<const ike::KeyExchange> ke;
	std::unique_ptr<ike::Prf> prf;
	ike::IkeKeys keys;
	std::unique_ptr<ike::SkProtection> sk_out, sk_in;

	// IKE_SA_INIT (§1.2): SA, KE, Ni, behind the responder's COOKIE when
	// it asked for one (§2.6: the cookie comes first). A Message, so
	// callers can add notifies before serializing; AUTH later signs the
	// bytes exactly as sent.
	ike::Message init_message(const Bytes &cookie = {}) const
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
		return m;
	}

	// The responder's IKE_SA_INIT answer: derives the IKE SA's keys
	// (§2.14). False for anything that is not such an answer (a COOKIE or
	// INVALID_KE_PAYLOAD request, garbage), never throws for it.
	bool accept_init_response(std::span<const uint8_t> datagram)
	{
		ike::Message m;
		try {
			m = ike::Message::parse(datagram);
		} catch (const ike::ParseError &) {
			return false;
		}
		const auto *ker = m.find<ike::KePayload>();
		const auto *n = m.find<ike::NoncePayload>();
		if (!ker || !n || m.header.spi_r == 0)
			return false;
		ike::Secret shared;
		try {
			shared = ke->shared_secret(ker->data);
		} catch (const ike::CryptoError &) {
			return false;
		}
		spi_r = m.header.spi_r;
		nr = n->data;
		prf = std::make_unique<ike::Prf>(alg.prf);
		keys = ike::derive_ike_keys(*prf, alg.suite(), ni, nr, shared, spi_i, spi_r);
		sk_out = std::make_unique<ike::SkProtection>(alg.suite(), keys.sk_ei, keys.sk_ai);
		sk_in = std::make_unique<ike::SkProtection>(alg.suite(), keys.sk_er, keys.sk_ar);
		return true;
	}

	ike::Header header(ike::ExchangeType exchange, uint32_t message_id, bool response = false) const
	{
		ike::Header h;
		h.spi_i = spi_i;
		h.spi_r = spi_r;
		h.exchange = exchange;
		h.flags = ike::Header::kFlagInitiator | (response ? ike::Header::kFlagResponse : 0);
		h.message_id = message_id;
		return h;
	}

	// An SK payload around a plaintext payload chain (§3.14): the header's
	// lengths must be final before sealing, since they are part of the AAD.
	Bytes seal(ike::Header h, uint8_t first, std::span<const uint8_t> plain) const
	{
		size_t body = sk_out->sealed_size(plain.size());
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

	// One SKF fragment (RFC 7383 §2.5): only fragment 1 names the first
	// inner payload.
	Bytes seal_fragment(ike::Header h, uint8_t first, uint16_t number, uint16_t total,
			    std::span<const uint8_t> plain) const
	{
		size_t body = sk_out->sealed_size(plain.size());
		h.next_payload = static_cast<uint8_t>(ike::PayloadType::SKF);
		h.length = static_cast<uint32_t>(ike::Header::kSize + 8 + body);
		Bytes out;
		h.serialize(out);
		out.push_back(number == 1 ? first : 0);
		out.push_back(0);
		out.push_back(static_cast<uint8_t>((8 + body) >> 8));
		out.push_back(static_cast<uint8_t>(8 + body));
		out.push_back(static_cast<uint8_t>(number >> 8));
		out.push_back(static_cast<uint8_t>(number));
		out.push_back(static_cast<uint8_t>(total >> 8));
		out.push_back(static_cast<uint8_t>(total));
		Bytes sealed = sk_out->seal(out, plain);
		out.insert(out.end(), sealed.begin(), sealed.end());
		return out;
	}

	Bytes protect(ike::ExchangeType exchange, uint32_t message_id, const std::vector<ike::Payload> &payloads,
		      bool response = false) const
	{
		uint8_t first = 0;
		Bytes plain = ike::serialize_payloads(payloads, &first);
		return seal(header(exchange, message_id, response), first, plain);
	}

	// The payloads inside a message's SK payload; nullopt when it has none,
	// does not parse or does not verify.
	std::optional<std::vector<ike::Payload>> open(std::span<const uint8_t> datagram) const
	{
		try {
			auto m = ike::Message::parse(datagram);
			if (m.payloads.empty())
				return std::nullopt;
			const auto *sk = std::get_if<ike::EncryptedPayload>(&m.payloads.back().body);
			if (!sk)
				return std::nullopt;
			auto plain = sk_in->open(datagram.first(sk->offset + 4), sk->data);
			if (!plain)
				return std::nullopt;
			return ike::parse_payloads(sk->first_inner, *plain);
		} catch (const ike::ParseError &) {
			return std::nullopt;
		}
	}

	// §2.15: our PSK AUTH over the IKE_SA_INIT request exactly as sent.
	ike::AuthPayload psk_auth(std::span<const uint8_t> init_request, std::span<const uint8_t> psk,
				  const ike::IdPayload &idi) const
	{
		auto octets = ike::signed_octets(init_request, nr, *prf, keys.sk_pi, idi.body());
		return {ike::AuthMethod::PSK, ike::psk_auth(*prf, psk, octets)};
	}

	// §2.15: the responder's PSK AUTH, over its IKE_SA_INIT answer as
	// received, our nonce and its IDr.
	bool responder_psk_ok(std::span<const uint8_t> init_response, std::span<const uint8_t> psk,
			      const ike::IdPayload &idr, const ike::AuthPayload &auth) const
	{
		if (auth.method != ike::AuthMethod::PSK)
			return false;
		auto octets = ike::signed_octets(init_response, ni, *prf, keys.sk_pr, idr.body());
		return ike::psk_auth_matches(*prf, psk, octets, auth.data);
	}
};

// The first payload of this wire type in a decrypted chain.
inline const ike::Payload *find_payload(const std::vector<ike::Payload> &payloads, ike::PayloadType type)
{
	for (const auto &p : payloads)
		if (p.type == type)
			return &p;
	return nullptr;
}

inline const ike::NotifyPayload *notify_in(const std::vector<ike::Payload> &payloads, uint16_t type)
{
	for (const auto &p : payloads)
		if (const auto *n = std::get_if<ike::NotifyPayload>(&p.body); n && n->type == type)
			return n;
	return nullptr;
}

} // namespace umigame::iked
