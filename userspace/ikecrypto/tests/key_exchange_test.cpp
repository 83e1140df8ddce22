#include <gtest/gtest.h>

#include <openssl/bn.h>

#include "test_util.h"

namespace umigame::ike {
namespace {

using test::bytes_of;

struct GroupCase {
	uint16_t group;
	size_t public_size;
};

// RFC 7296 §3.4 / RFC 3526 (MODP: the modulus' length), RFC 5903 §7 (ECP:
// x||y), RFC 8031 §3 (Curve25519: 32 octets).
const GroupCase kGroups[] = {
	{14, 256}, {15, 384}, {16, 512}, {19, 64}, {20, 96}, {21, 132}, {31, 32},
};

// Shared secret lengths: MODP the modulus (RFC 7296 §2.14), ECP the x
// coordinate (RFC 5903 §7), X25519 32 octets (RFC 8031 §2).
size_t secret_size(uint16_t group)
{
	switch (group) {
	case 19:
		return 32;
	case 20:
		return 48;
	case 21:
		return 66;
	case 31:
		return 32;
	}
	return KeyExchange::public_size(group);
}

TEST(KeyExchange, BothSidesAgreeOnEveryGroup)
{
	for (auto c : kGroups) {
		SCOPED_TRACE(c.group);
		ASSERT_TRUE(KeyExchange::supported(c.group));
		EXPECT_EQ(KeyExchange::public_size(c.group), c.public_size);
		auto initiator = KeyExchange::create(c.group);
		auto responder = KeyExchange::create(c.group);
		EXPECT_EQ(initiator->group(), c.group);
		EXPECT_EQ(initiator->public_value().size(), c.public_size);
		EXPECT_EQ(responder->public_value().size(), c.public_size);
		EXPECT_NE(initiator->public_value(), responder->public_value());
		Secret a = initiator->shared_secret(responder->public_value());
		Secret b = responder->shared_secret(initiator->public_value());
		EXPECT_EQ(a.size(), secret_size(c.group));
		EXPECT_TRUE(a == b);
	}
}

TEST(KeyExchange, UnsupportedGroupsAreRefused)
{
	for (uint16_t group : {0, 1, 2, 5, 17, 18, 22, 30, 32}) {
		EXPECT_FALSE(KeyExchange::supported(group));
		EXPECT_EQ(KeyExchange::public_size(group), 0u);
		EXPECT_THROW(KeyExchange::create(group), CryptoError);
	}
}

// RFC 7296 §3.4: the KE data's length is fixed by the group.
TEST(KeyExchange, WrongLengthIsRefused)
{
	for (auto c : kGroups) {
		SCOPED_TRACE(c.group);
		auto ke = KeyExchange::create(c.group);
		Bytes peer = KeyExchange::create(c.group)->public_value();
		Bytes longer = peer;
		longer.push_back(0);
		Bytes shorter(peer.begin(), peer.end() - 1);
		EXPECT_THROW(ke->shared_secret(longer), CryptoError);
		EXPECT_THROW(ke->shared_secret(shorter), CryptoError);
		EXPECT_THROW(ke->shared_secret({}), CryptoError);
	}
}

Bytes padded(const BIGNUM *n, size_t size)
{
	Bytes out(size);
	EXPECT_GE(BN_bn2binpad(n, out.data(), static_cast<int>(size)), 0);
	return out;
}

// RFC 6989 §2.1: a MODP value must satisfy 1 < y < p-1.
TEST(KeyExchange, ModpValuesOutsideTheRangeAreRefused)
{
	struct {
		uint16_t group;
		BIGNUM *(*prime)(BIGNUM *);
	} groups[] = {{14, BN_get_rfc3526_prime_2048}, {15, BN_get_rfc3526_prime_3072}, {16, BN_get_rfc3526_prime_4096}};
	for (auto g : groups) {
		SCOPED_TRACE(g.group);
		size_t size = KeyExchange::public_size(g.group);
		auto ke = KeyExchange::create(g.group);
		BIGNUM *p = g.prime(nullptr);
		BIGNUM *p_minus_1 = BN_dup(p);
		BN_sub_word(p_minus_1, 1);
		Bytes one(size, 0);
		one.back() = 1;
		EXPECT_THROW(ke->shared_secret(Bytes(size, 0)), CryptoError);
		EXPECT_THROW(ke->shared_secret(one), CryptoError);
		EXPECT_THROW(ke->shared_secret(padded(p_minus_1, size)), CryptoError);
		EXPECT_THROW(ke->shared_secret(padded(p, size)), CryptoError);
		EXPECT_THROW(ke->shared_secret(Bytes(size, 0xff)), CryptoError);
		// Sanity: 2 is inside the range and a generator's power.
		Bytes two(size, 0);
		two.back() = 2;
		EXPECT_NO_THROW(ke->shared_secret(two));
		BN_free(p);
		BN_free(p_minus_1);
	}
}

// RFC 5903 §9 / RFC 6989 §2.3: a point not on the curve is refused.
TEST(KeyExchange, EcpPointNotOnTheCurveIsRefused)
{
	for (uint16_t group : {19, 20, 21}) {
		SCOPED_TRACE(group);
		auto ke = KeyExchange::create(group);
		Bytes peer = KeyExchange::create(group)->public_value();
		EXPECT_NO_THROW(ke->shared_secret(peer));
		Bytes off_curve = peer;
		off_curve.back() ^= 0x01; // y changed, x kept
		EXPECT_THROW(ke->shared_secret(off_curve), CryptoError);
		EXPECT_THROW(ke->shared_secret(Bytes(peer.size(), 0)), CryptoError);
	}
}

// RFC 8031 §2: a shared secret of all zeros (from a low-order point) MUST be
// refused.
TEST(KeyExchange, X25519AllZeroResultIsRefused)
{
	auto ke = KeyExchange::create(31);
	Bytes zero(32, 0);
	EXPECT_THROW(ke->shared_secret(zero), CryptoError);
	Bytes one(32, 0);
	one[0] = 1; // u = 1, order 1 (little-endian, RFC 7748 §5)
	EXPECT_THROW(ke->shared_secret(one), CryptoError);
}

} // namespace
} // namespace umigame::ike
