#include <algorithm>
#include <iterator>
#include <mutex>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/param_build.h>

#include "openssl_util.h"

namespace umigame::ike {

namespace {

using detail::Owned;
using detail::throw_crypto_error;

enum class Family { Modp, Ecp, X25519 };

struct Group {
	uint16_t id;
	Family family;
	const char *openssl_name;
	size_t public_size;
};

// IANA "Transform Type 4 - Key Exchange Method Transform IDs". MODP: RFC
// 3526 §3–§5; ECP: RFC 5903 §3, public value x||y (§7); Curve25519: RFC 8031
// §2, the 32-byte u-coordinate.
constexpr Group kGroups[] = {
	{14, Family::Modp, "modp_2048", 256},
	{15, Family::Modp, "modp_3072", 384},
	{16, Family::Modp, "modp_4096", 512},
	{19, Family::Ecp, "P-256", 64},
	{20, Family::Ecp, "P-384", 96},
	{21, Family::Ecp, "P-521", 132},
	{31, Family::X25519, "X25519", 32},
};

const Group *find_group(uint16_t id)
{
	for (const auto &g : kGroups)
		if (g.id == id)
			return &g;
	return nullptr;
}

// The uncompressed-point marker of SEC 1 §2.3.3, which RFC 5903 §7 leaves
// off the wire.
constexpr uint8_t kUncompressedPoint = 0x04;

// RFC 7748 §4.1: the X25519 base point, u = 9. A public value that holds no
// secret, so it can stand for the algorithm in the cache below.
constexpr uint8_t kX25519BasePoint[32] = {9};

// What each group's keys are generated from and copy their parameters from.
// Building it by name makes OpenSSL look up the algorithm and rebuild the
// group (for ECP, its precomputed tables) every time, which cost more than
// generating the key itself.
Owned<EVP_PKEY> make_domain(const Group &g)
{
	EVP_PKEY *raw = nullptr;
	if (g.family == Family::X25519) {
		raw = EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, kX25519BasePoint,
						     sizeof kX25519BasePoint);
	} else {
		Owned<EVP_PKEY_CTX> ctx(
			EVP_PKEY_CTX_new_from_name(nullptr, g.family == Family::Modp ? "DH" : "EC", nullptr));
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char *>(g.openssl_name), 0),
			OSSL_PARAM_construct_end(),
		};
		if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
		    EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEY_PARAMETERS, params) <= 0)
			raw = nullptr;
	}
	if (!raw)
		throw_crypto_error(std::string("cannot set up group ") + g.openssl_name);
	return Owned<EVP_PKEY>(raw);
}

// Built once per group and never changed, so threads share it read-only.
// A failed build is not remembered: the next use tries again. Never freed,
// for the reason of prf.cpp's digests: OpenSSL's exit-time cleanup may
// already have run.
struct DomainSlot {
	std::once_flag once;
	EVP_PKEY *key = nullptr;
};
DomainSlot g_domains[std::size(kGroups)];

EVP_PKEY *domain_of(const Group &g)
{
	DomainSlot &slot = g_domains[static_cast<size_t>(&g - kGroups)];
	std::call_once(slot.once, [&] { slot.key = make_domain(g).release(); });
	return slot.key;
}

Owned<EVP_PKEY> generate(const Group &g)
{
	Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, domain_of(g), nullptr));
	EVP_PKEY *raw = nullptr;
	if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 || EVP_PKEY_generate(ctx.get(), &raw) <= 0)
		throw_crypto_error(std::string("cannot generate a ") + g.openssl_name + " key");
	return Owned<EVP_PKEY>(raw);
}

Bytes public_value_of(const Group &g, EVP_PKEY *key)
{
	Bytes out(g.public_size);
	switch (g.family) {
	case Family::Modp: {
		BIGNUM *raw = nullptr;
		if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PUB_KEY, &raw))
			throw_crypto_error("cannot read the DH public value");
		Owned<BIGNUM> y(raw);
		// RFC 7296 §3.4: MODP values are padded with zeros on the left to
		// the modulus' length.
		if (BN_bn2binpad(y.get(), out.data(), static_cast<int>(out.size())) < 0)
			throw_crypto_error("DH public value longer than the modulus");
		break;
	}
	case Family::Ecp: {
		Bytes point(g.public_size + 1);
		size_t len = 0;
		if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(), point.size(),
						     &len) ||
		    len != point.size() || point[0] != kUncompressedPoint)
			throw_crypto_error("cannot read the ECDH public point");
		std::copy(point.begin() + 1, point.end(), out.begin());
		break;
	}
	case Family::X25519: {
		size_t len = out.size();
		if (!EVP_PKEY_get_raw_public_key(key, out.data(), &len) || len != out.size())
			throw_crypto_error("cannot read the X25519 public value");
		break;
	}
	}
	return out;
}

Owned<EVP_PKEY> key_from_params(const char *type, OSSL_PARAM *params)
{
	Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
	EVP_PKEY *raw = nullptr;
	if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
	    EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		return nullptr;
	return Owned<EVP_PKEY>(raw);
}

class OpensslKeyExchange final : public KeyExchange {
public:
	OpensslKeyExchange(const Group &g, Owned<EVP_PKEY> key)
		: KeyExchange(g.id, public_value_of(g, key.get())), spec_(g), key_(std::move(key))
	{
	}

	Secret shared_secret(std::span<const uint8_t> peer) const override
	{
		if (peer.size() != spec_.public_size)
			throw CryptoError("KE data of " + std::to_string(peer.size()) + " bytes for group " +
					  std::to_string(spec_.id) + ", expected " + std::to_string(spec_.public_size) +
					  " (RFC 7296 §3.4)");
		Owned<EVP_PKEY> peer_key = peer_key_of(peer);
		Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
		if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0)
			throw_crypto_error("cannot start the key derivation");
		// RFC 7296 §2.14: g^ir is as long as the modulus, leading zeros
		// included.
		if (spec_.family == Family::Modp && EVP_PKEY_CTX_set_dh_pad(ctx.get(), 1) <= 0)
			throw_crypto_error("cannot ask for a padded DH secret");
		// validate_peer: OpenSSL's own public-key check on top of ours.
		// For ECP, OpenSSL's full check also multiplies the point by the
		// group order, as long as the key exchange itself; on these
		// cofactor-1 curves every point on the curve but infinity has that
		// order, so peer_key_of()'s partial check (SP 800-56A §5.6.2.3.4,
		// enough for ephemeral keys) refuses exactly the same values.
		if (EVP_PKEY_derive_set_peer_ex(ctx.get(), peer_key.get(), spec_.family != Family::Ecp) <= 0)
			throw_crypto_error("the peer's KE data is not a valid public value of group " +
					   std::to_string(spec_.id));
		size_t len = 0;
		if (EVP_PKEY_derive(ctx.get(), nullptr, &len) <= 0)
			throw_crypto_error("key derivation failed");
		Secret secret(len);
		if (EVP_PKEY_derive(ctx.get(), secret.data(), &len) <= 0)
			throw_crypto_error("key derivation failed (for X25519: an all-zero result, RFC 8031 §2)");
		if (len != secret.size())
			secret = Secret(secret.span().first(len));
		if (spec_.family == Family::Modp && secret.size() < spec_.public_size) {
			Secret padded(spec_.public_size);
			std::copy(secret.span().begin(), secret.span().end(),
				  padded.data() + (padded.size() - secret.size()));
			secret = std::move(padded);
		}
		// RFC 8031 §2: an all-zero X25519 result means a low-order peer
		// point and MUST be refused (OpenSSL refuses it too; this does not
		// depend on that).
		if (spec_.family == Family::X25519) {
			uint8_t any = 0;
			for (uint8_t b : secret.span())
				any |= b;
			if (any == 0)
				throw CryptoError("X25519 shared secret is all zero (RFC 8031 §2)");
		}
		return secret;
	}

private:
	Owned<EVP_PKEY> peer_key_of(std::span<const uint8_t> peer) const
	{
		switch (spec_.family) {
		case Family::Modp: {
			Owned<BIGNUM> y(BN_bin2bn(peer.data(), static_cast<int>(peer.size()), nullptr));
			BIGNUM *raw_p = nullptr;
			if (!y || !EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_FFC_P, &raw_p))
				throw_crypto_error("cannot read the DH group");
			Owned<BIGNUM> p_minus_1(raw_p);
			BN_sub_word(p_minus_1.get(), 1);
			// RFC 6989 §2.1: 1 < y < p-1, else the secret is guessable.
			if (BN_cmp(y.get(), BN_value_one()) <= 0 || BN_cmp(y.get(), p_minus_1.get()) >= 0)
				throw CryptoError("MODP KE value outside 1 < y < p-1 (RFC 6989 §2.1)");
			OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
			OSSL_PARAM *params = nullptr;
			if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, spec_.openssl_name, 0) &&
			    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y.get()))
				params = OSSL_PARAM_BLD_to_param(bld);
			OSSL_PARAM_BLD_free(bld);
			Owned<EVP_PKEY> key = params ? key_from_params("DH", params) : nullptr;
			OSSL_PARAM_free(params);
			if (!key)
				throw_crypto_error("invalid MODP KE value");
			return key;
		}
		case Family::Ecp: {
			// The group comes from the cached domain parameters: decoding
			// with a group name would rebuild the group per message.
			Bytes point(peer.size() + 1);
			point[0] = kUncompressedPoint;
			std::copy(peer.begin(), peer.end(), point.begin() + 1);
			Owned<EVP_PKEY> key(EVP_PKEY_new());
			// RFC 5903 §9: the point must be on the curve; OpenSSL checks
			// that while decoding it, and the partial check says so again
			// (and that it is not the point at infinity).
			bool ok = key && EVP_PKEY_copy_parameters(key.get(), domain_of(spec_)) > 0 &&
				  EVP_PKEY_set1_encoded_public_key(key.get(), point.data(), point.size()) > 0;
			if (ok) {
				Owned<EVP_PKEY_CTX> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
				ok = check && EVP_PKEY_public_check_quick(check.get()) > 0;
			}
			if (!ok)
				throw_crypto_error("ECP KE value is not a point on " + std::string(spec_.openssl_name) +
						   " (RFC 5903 §9)");
			return key;
		}
		case Family::X25519: {
			Owned<EVP_PKEY> key(
				EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, peer.data(), peer.size()));
			if (!key)
				throw_crypto_error("invalid X25519 KE value");
			return key;
		}
		}
		throw CryptoError("unreachable key exchange family");
	}

	const Group &spec_;
	Owned<EVP_PKEY> key_;
};

} // namespace

KeyExchange::KeyExchange(uint16_t group, Bytes public_value) : group_(group), public_value_(std::move(public_value))
{
}

KeyExchange::~KeyExchange() = default;

bool KeyExchange::supported(uint16_t group)
{
	return find_group(group) != nullptr;
}

size_t KeyExchange::public_size(uint16_t group)
{
	const Group *g = find_group(group);
	return g ? g->public_size : 0;
}

std::unique_ptr<KeyExchange> KeyExchange::create(uint16_t group)
{
	const Group *g = find_group(group);
	if (!g)
		throw CryptoError("unsupported key exchange group " + std::to_string(group));
	return std::make_unique<OpensslKeyExchange>(*g, generate(*g));
}

} // namespace umigame::ike
