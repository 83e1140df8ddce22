#include "umigame/iked/proposal.h"

#include <map>
#include <sstream>

namespace umigame::iked {

using namespace umigame::ike;

namespace {

struct EncrName {
	uint16_t id, bits;
};
const std::map<std::string, EncrName> kEncr = {
	{"aes128gcm16", {encr::AES_GCM_16, 128}}, {"aes256gcm16", {encr::AES_GCM_16, 256}},
	{"aes128gcm", {encr::AES_GCM_16, 128}},   {"aes256gcm", {encr::AES_GCM_16, 256}},
	{"aes128", {encr::AES_CBC, 128}},         {"aes256", {encr::AES_CBC, 256}},
};
const std::map<std::string, uint16_t> kInteg = {
	{"sha256", integ::HMAC_SHA2_256_128},
	{"sha384", integ::HMAC_SHA2_384_192},
	{"sha512", integ::HMAC_SHA2_512_256},
};
const std::map<std::string, uint16_t> kPrf = {
	{"prfsha256", prf::HMAC_SHA2_256},
	{"prfsha384", prf::HMAC_SHA2_384},
	{"prfsha512", prf::HMAC_SHA2_512},
};
const std::map<std::string, uint16_t> kDh = {
	{"modp2048", dh::MODP_2048}, {"modp3072", dh::MODP_3072}, {"modp4096", dh::MODP_4096},
	{"ecp256", dh::ECP_256},     {"ecp384", dh::ECP_384},     {"ecp521", dh::ECP_521},
	{"curve25519", dh::CURVE25519}, {"x25519", dh::CURVE25519},
};

template <typename Map> std::string name_of(const Map &map, uint16_t id)
{
	for (const auto &[name, value] : map)
		if (value == id)
			return name;
	return "#" + std::to_string(id);
}

// The PRF that goes with an integrity algorithm when a proposal names none.
uint16_t prf_for(uint16_t integ_id)
{
	switch (integ_id) {
	case integ::HMAC_SHA2_384_192: return prf::HMAC_SHA2_384;
	case integ::HMAC_SHA2_512_256: return prf::HMAC_SHA2_512;
	default: return prf::HMAC_SHA2_256;
	}
}

bool fail(std::string *error, const std::string &message)
{
	if (error)
		*error = message;
	return false;
}

} // namespace

std::string AlgorithmSet::str(bool for_ike) const
{
	std::ostringstream out;
	if (encr == encr::AES_GCM_16)
		out << "aes" << encr_key_bits << "gcm16";
	else
		out << "aes" << encr_key_bits;
	if (integ)
		out << "-" << name_of(kInteg, integ);
	if (for_ike)
		out << "-" << name_of(kPrf, prf);
	if (dh)
		out << "-" << name_of(kDh, dh);
	if (!for_ike) {
		if (esn_mask == kEsnYes)
			out << "-esn";
		else if (esn_mask == kEsnNo)
			out << "-noesn";
	}
	return out.str();
}

std::optional<AlgorithmSet> parse_proposal(const std::string &text, bool for_ike, std::string *error)
{
	AlgorithmSet set;
	bool want_esn = false, want_noesn = false;
	std::istringstream in(text);
	std::string token;
	bool any = false;
	while (std::getline(in, token, '-')) {
		any = true;
		if (auto e = kEncr.find(token); e != kEncr.end()) {
			if (set.encr)
				return fail(error, "two encryption algorithms in '" + text + "'"), std::nullopt;
			set.encr = e->second.id;
			set.encr_key_bits = e->second.bits;
		} else if (auto i = kInteg.find(token); i != kInteg.end()) {
			if (set.integ)
				return fail(error, "two integrity algorithms in '" + text + "'"), std::nullopt;
			set.integ = i->second;
		} else if (auto p = kPrf.find(token); p != kPrf.end()) {
			if (!for_ike)
				return fail(error, "a PRF has no place in an ESP proposal ('" + text + "')"),
				       std::nullopt;
			set.prf = p->second;
		} else if (auto d = kDh.find(token); d != kDh.end()) {
			if (set.dh)
				return fail(error, "two DH groups in '" + text + "'"), std::nullopt;
			set.dh = d->second;
		} else if (token == "esn" && !for_ike) {
			want_esn = true;
		} else if (token == "noesn" && !for_ike) {
			want_noesn = true;
		} else {
			return fail(error, "unknown algorithm '" + token + "' in '" + text +
						   "' (known: aes128gcm16 aes256gcm16 aes128 aes256 sha256 sha384 sha512 "
						   "prfsha256 prfsha384 prfsha512 modp2048 modp3072 modp4096 ecp256 "
						   "ecp384 ecp521 curve25519" +
						   (for_ike ? std::string(")") : std::string(" esn noesn)"))),
			       std::nullopt;
		}
	}
	if (!any || !set.encr)
		return fail(error, "no encryption algorithm in '" + text + "'"), std::nullopt;
	bool aead = set.encr == encr::AES_GCM_16;
	if (aead && set.integ)
		return fail(error, "AES-GCM is an AEAD cipher: no integrity algorithm goes with it ('" +
					   text + "', RFC 5282 §8)"),
		       std::nullopt;
	if (!aead && !set.integ)
		return fail(error, "AES-CBC needs an integrity algorithm ('" + text + "')"), std::nullopt;
	if (for_ike) {
		if (!set.prf)
			set.prf = prf_for(set.integ);
		if (!set.dh)
			return fail(error, "an IKE proposal needs a DH group ('" + text + "', RFC 7296 §3.3.3)"),
			       std::nullopt;
	} else {
		set.esn_mask = (want_esn ? AlgorithmSet::kEsnYes : 0) | (want_noesn ? AlgorithmSet::kEsnNo : 0);
		if (!set.esn_mask)
			set.esn_mask = AlgorithmSet::kEsnYes | AlgorithmSet::kEsnNo;
	}
	if (set.dh && !KeyExchange::supported(set.dh))
		return fail(error, "DH group " + std::to_string(set.dh) + " is not available"), std::nullopt;
	return set;
}

Proposal to_wire(const AlgorithmSet &set, ProtocolId protocol, uint8_t number, std::vector<uint8_t> spi)
{
	Proposal p;
	p.number = number;
	p.protocol = protocol;
	p.spi = std::move(spi);
	// RFC 7296 §3.3.5: AES takes its key length as an attribute.
	p.transforms.push_back({TransformType::ENCR, set.encr, set.encr_key_bits, {}});
	if (protocol == ProtocolId::IKE)
		p.transforms.push_back({TransformType::PRF, set.prf, std::nullopt, {}});
	if (set.integ)
		p.transforms.push_back({TransformType::INTEG, set.integ, std::nullopt, {}});
	if (set.dh)
		p.transforms.push_back({TransformType::DH, set.dh, std::nullopt, {}});
	if (protocol != ProtocolId::IKE) {
		// §3.3.3: ESN is mandatory in ESP proposals; ours first.
		if (set.esn_mask & AlgorithmSet::kEsnYes)
			p.transforms.push_back({TransformType::ESN, esn::YES, std::nullopt, {}});
		if (set.esn_mask & AlgorithmSet::kEsnNo)
			p.transforms.push_back({TransformType::ESN, esn::NO, std::nullopt, {}});
	}
	return p;
}

namespace {

// Every transform of an offered proposal, grouped by type (§3.3.6: the
// proposal is the AND of types, the OR of transforms within a type).
struct Offer {
	std::vector<const Transform *> by_type[6];
	bool unknown_type = false;
};

Offer group(const Proposal &p)
{
	Offer o;
	for (const auto &t : p.transforms) {
		auto type = static_cast<uint8_t>(t.type);
		if (type >= 1 && type <= 5)
			o.by_type[type].push_back(&t);
		else
			o.unknown_type = true;
	}
	return o;
}

bool offers(const std::vector<const Transform *> &list, uint16_t id, std::optional<uint16_t> key_bits)
{
	for (const auto *t : list)
		// §3.3.6: a transform with an attribute we do not understand is not
		// acceptable.
		if (t->id == id && t->key_length == key_bits && t->other_attributes.empty())
			return true;
	return false;
}

// Does `p` (of `protocol`) contain everything `set` needs, and nothing in a
// type the set does not use? Fills the negotiated ESN choice.
std::optional<AlgorithmSet> match(const Proposal &p, ProtocolId protocol, const AlgorithmSet &set)
{
	Offer o = group(p);
	if (o.unknown_type)
		return std::nullopt;
	auto type = [&](TransformType t) -> const std::vector<const Transform *> & {
		return o.by_type[static_cast<uint8_t>(t)];
	};
	if (!offers(type(TransformType::ENCR), set.encr, set.encr_key_bits))
		return std::nullopt;
	if (set.integ) {
		if (!offers(type(TransformType::INTEG), set.integ, std::nullopt))
			return std::nullopt;
	} else if (!type(TransformType::INTEG).empty() &&
		   !offers(type(TransformType::INTEG), integ::NONE, std::nullopt)) {
		return std::nullopt;
	}
	AlgorithmSet got = set;
	if (protocol == ProtocolId::IKE) {
		if (!offers(type(TransformType::PRF), set.prf, std::nullopt) ||
		    !offers(type(TransformType::DH), set.dh, std::nullopt))
			return std::nullopt;
		if (!type(TransformType::ESN).empty())
			return std::nullopt;
	} else {
		if (!type(TransformType::PRF).empty())
			return std::nullopt;
		// PFS: the group must match; an offer without DH (or with NONE)
		// matches a set without PFS.
		const auto &dhs = type(TransformType::DH);
		if (set.dh) {
			if (!offers(dhs, set.dh, std::nullopt))
				return std::nullopt;
		} else if (!dhs.empty() && !offers(dhs, dh::NONE, std::nullopt)) {
			return std::nullopt;
		}
		// ESN in the offer's order of preference, among what we allow.
		got.esn_mask = 0;
		for (const auto *t : type(TransformType::ESN)) {
			if (t->id == esn::YES && (set.esn_mask & AlgorithmSet::kEsnYes)) {
				got.esn_mask = AlgorithmSet::kEsnYes;
				break;
			}
			if (t->id == esn::NO && (set.esn_mask & AlgorithmSet::kEsnNo)) {
				got.esn_mask = AlgorithmSet::kEsnNo;
				break;
			}
		}
		if (!got.esn_mask)
			return std::nullopt;
	}
	return got;
}

} // namespace

std::optional<Selected> select_proposal(const SaPayload &offered, ProtocolId protocol,
					const std::vector<AlgorithmSet> &acceptable)
{
	for (const auto &p : offered.proposals) {
		if (p.protocol != protocol)
			continue;
		// §3.3.1: an IKE SA proposal's SPI is empty in IKE_SA_INIT and 8
		// octets in a rekey; ESP's is 4 octets.
		if (protocol == ProtocolId::ESP && p.spi.size() != 4)
			continue;
		if (protocol == ProtocolId::IKE && !p.spi.empty() && p.spi.size() != 8)
			continue;
		for (const auto &set : acceptable)
			if (auto got = match(p, protocol, set))
				return Selected{*got, p.number, p.spi};
	}
	return std::nullopt;
}

std::optional<Selected> accept_answer(const SaPayload &answer, ProtocolId protocol,
				      const std::vector<AlgorithmSet> &offered)
{
	// §3.3.6: "the responder MUST choose a single suite" — one proposal
	// with one transform of each type.
	if (answer.proposals.size() != 1)
		return std::nullopt;
	const auto &p = answer.proposals.front();
	if (p.protocol != protocol || p.number < 1 || p.number > offered.size())
		return std::nullopt;
	Offer o = group(p);
	for (int t = 1; t <= 5; t++)
		if (o.by_type[t].size() > 1)
			return std::nullopt;
	auto got = match(p, protocol, offered[p.number - 1]);
	if (!got)
		return std::nullopt;
	return Selected{*got, p.number, p.spi};
}

} // namespace umigame::iked
