#include <gtest/gtest.h>

#include "test_util.h"

namespace umigame::ike {
namespace {

using test::bytes_of;
using test::from_hex;

struct HmacVector {
	const char *name;
	uint16_t prf;
	Bytes key;
	Bytes data;
	const char *expected;
};

// RFC 4231 §4.2, §4.3 and §4.7 (test cases 1, 2 and 6) for the SHA-2 PRFs of
// RFC 4868 §2.1, RFC 2202 §3 for HMAC-SHA1.
const std::vector<HmacVector> kVectors = {
	{"sha256_case1", 5, Bytes(20, 0x0b), bytes_of("Hi There"),
	 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	{"sha384_case1", 6, Bytes(20, 0x0b), bytes_of("Hi There"),
	 "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"},
	{"sha512_case1", 7, Bytes(20, 0x0b), bytes_of("Hi There"),
	 "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
	{"sha256_case2", 5, bytes_of("Jefe"), bytes_of("what do ya want for nothing?"),
	 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
	{"sha384_case2", 6, bytes_of("Jefe"), bytes_of("what do ya want for nothing?"),
	 "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"},
	{"sha512_case2", 7, bytes_of("Jefe"), bytes_of("what do ya want for nothing?"),
	 "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
	{"sha256_case6", 5, Bytes(131, 0xaa), bytes_of("Test Using Larger Than Block-Size Key - Hash Key First"),
	 "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
	{"sha384_case6", 6, Bytes(131, 0xaa), bytes_of("Test Using Larger Than Block-Size Key - Hash Key First"),
	 "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952"},
	{"sha512_case6", 7, Bytes(131, 0xaa), bytes_of("Test Using Larger Than Block-Size Key - Hash Key First"),
	 "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
	{"sha1_rfc2202_case1", 2, Bytes(20, 0x0b), bytes_of("Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00"},
};

// RFC 4868 §2.1 / RFC 4231 §4: the PRF is plain HMAC.
TEST(Prf, Rfc4231KnownAnswers)
{
	for (const auto &v : kVectors) {
		SCOPED_TRACE(v.name);
		Prf prf(v.prf);
		EXPECT_EQ(bytes_of(prf.compute(v.key, v.data)), from_hex(v.expected));
	}
}

// RFC 7296 §2.13 / RFC 4868 §2.1.2: output and preferred key sizes.
TEST(Prf, SizesAndSupport)
{
	struct {
		uint16_t id;
		size_t size;
	} cases[] = {{2, 20}, {5, 32}, {6, 48}, {7, 64}};
	for (auto c : cases) {
		EXPECT_TRUE(Prf::supported(c.id));
		Prf prf(c.id);
		EXPECT_EQ(prf.id(), c.id);
		EXPECT_EQ(prf.output_size(), c.size);
		EXPECT_EQ(prf.preferred_key_size(), c.size);
	}
	for (uint16_t unknown : {0, 1, 3, 4, 8, 9}) {
		EXPECT_FALSE(Prf::supported(unknown));
		EXPECT_THROW(Prf{unknown}, CryptoError);
	}
}

// RFC 7296 §2.13: prf+ (K,S) = T1 | T2 | T3 | ..., T1 = prf(K, S | 0x01),
// Tn = prf(K, Tn-1 | S | n), written out again here from compute().
TEST(Prf, PlusIsTheConcatenationOfChainedBlocks)
{
	for (uint16_t id : {2, 5, 6, 7}) {
		SCOPED_TRACE(id);
		Prf prf(id);
		Bytes key = bytes_of("prf+ key");
		Bytes seed = bytes_of("Ni | Nr | SPIi | SPIr stand-in");
		Bytes expected, previous;
		for (uint8_t n = 1; n <= 4; n++) {
			Bytes input = previous;
			input.insert(input.end(), seed.begin(), seed.end());
			input.push_back(n);
			previous = bytes_of(prf.compute(key, input));
			expected.insert(expected.end(), previous.begin(), previous.end());
		}
		// Not a multiple of the block size: the last block is cut.
		size_t length = 3 * prf.output_size() + 7;
		expected.resize(length);
		EXPECT_EQ(bytes_of(prf.plus(key, seed, length)), expected);
		EXPECT_EQ(bytes_of(prf.plus(key, seed, 1)), Bytes(expected.begin(), expected.begin() + 1));
		EXPECT_TRUE(prf.plus(key, seed, 0).empty());
	}
}

// RFC 7296 §2.13: the block counter is one octet, so 255 blocks at most.
TEST(Prf, PlusRefusesMoreThan255Blocks)
{
	Prf prf(5);
	Bytes key(32, 1), seed(8, 2);
	EXPECT_EQ(prf.plus(key, seed, 255 * 32).size(), 255u * 32);
	EXPECT_THROW(prf.plus(key, seed, 255 * 32 + 1), CryptoError);
}

// An empty HMAC key is still a key (RFC 2104 §2 pads it with zeros).
TEST(Prf, EmptyKeyIsAZeroKey)
{
	Prf prf(5);
	EXPECT_EQ(bytes_of(prf.compute({}, bytes_of("x"))), bytes_of(prf.compute(Bytes(1, 0), bytes_of("x"))));
}

TEST(Secret, MoveLeavesTheSourceEmptyAndCloneCopies)
{
	Secret a(Bytes{1, 2, 3});
	Secret b = a.clone();
	EXPECT_TRUE(a == b);
	Secret c = std::move(a);
	EXPECT_TRUE(a.empty());
	EXPECT_EQ(c.size(), 3u);
	EXPECT_TRUE(c == b);
	EXPECT_FALSE(c == Secret(Bytes{1, 2, 4}));
}

TEST(Random, BytesDifferAndHaveTheSizeAskedFor)
{
	EXPECT_EQ(random_bytes(32).size(), 32u);
	EXPECT_NE(random_bytes(32), random_bytes(32));
	EXPECT_NE(random_u64(), random_u64());
}

} // namespace
} // namespace umigame::ike
