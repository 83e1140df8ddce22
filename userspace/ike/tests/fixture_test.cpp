// A real IKE_SA_INIT request: strongSwan 5.9.8 (Debian 12's charon-systemd)
// initiating to 10.99.0.2 from a network namespace, captured with tcpdump
// on UDP/500. Proposals "aes128-sha256-modp2048,aes256gcm16-prfsha384-ecp256",
// fragmentation on. It must parse to what charon logged
// ("[ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG)
// N(REDIR_SUP) ]") and serialize back to the same octets.
#include <vector>

#include <gtest/gtest.h>

#include "hex.h"
#include "umigame/ike/message.h"

namespace umigame::ike {
namespace {

using namespace test;

const char *const kStrongswanSaInit =
	"59b15857b349786100000000000000002120220800000000000001f422000054"
	"0200002c010100040300000c0100000c800e0080030000080300000c03000008"
	"02000005000000080400000e00000024020100030300000c01000014800e0100"
	"0300000802000006000000080400001328000108000e0000177e7e96b9911452"
	"93bfdecfdc8c6292b2df2e24985e4de2bb3c0315c544d928ba7e7b43a5ad0e7b"
	"a9993fc7c82e10038ce18497889c44221622757ee1a4432ce4a9f402680c05da"
	"458099be6608e4a8dbdd8b58528dc9213d33fa5a3facad0808d3d8565187089e"
	"338c2f2f6b230a75f83449cb27d25a1a3c8549de01f37b25165b4679e55cdfc2"
	"c10d2f84481d6e01bea95ea41f2b5c2cf0daf83db0a00a8dd74edbf49f427746"
	"838457ddff7d3a8c02d042651aaf2f006f2fc81cb894080708aa463465a9ac1a"
	"6dba62ebab9497b061f0dc9b833dbe53d4d1e4b793acf5267166c366d2d61361"
	"7773d9da68390e9f665def06a1a8c7546b76492d40a2f87829000024422a1548"
	"d03666c41a56125bff7bbd79cc0071b1a854866ad374dc27fed5747d2900001c"
	"00004004a639fded70eae417ed67b23ecc71adf7b115e7712900001c00004005"
	"5116590390ac192e656d861488ec3cd4a518421c290000080000402e29000010"
	"0000402f00020003000400050000000800004016";

constexpr uint16_t kRedirectSupported = 16406; // RFC 5685 §3.2

TEST(StrongswanFixture, ParsesIkeSaInitRequest)
{
	std::vector<uint8_t> wire = hex(kStrongswanSaInit);
	ASSERT_EQ(wire.size(), 500u);
	Message m = Message::parse(wire);

	// RFC 7296 §3.1: a request from the original initiator, SPIr zero.
	EXPECT_EQ(m.header.spi_i, 0x59b15857b3497861u);
	EXPECT_EQ(m.header.spi_r, 0u);
	EXPECT_EQ(m.header.exchange, ExchangeType::IkeSaInit);
	EXPECT_TRUE(m.header.from_initiator());
	EXPECT_FALSE(m.header.is_response());
	EXPECT_EQ(m.header.message_id, 0u);
	EXPECT_EQ(m.header.length, 500u);

	ASSERT_EQ(m.payloads.size(), 8u);
	std::vector<PayloadType> types;
	for (const Payload &p : m.payloads)
		types.push_back(p.type);
	EXPECT_EQ(types, (std::vector<PayloadType>{PayloadType::SA, PayloadType::KE, PayloadType::Nonce,
						   PayloadType::Notify, PayloadType::Notify, PayloadType::Notify,
						   PayloadType::Notify, PayloadType::Notify}));

	// §3.3: two IKE proposals, no SPI in an initial exchange (§3.3.1).
	const SaPayload *sa = m.find<SaPayload>();
	ASSERT_NE(sa, nullptr);
	ASSERT_EQ(sa->proposals.size(), 2u);
	const Proposal &p1 = sa->proposals[0];
	EXPECT_EQ(p1.number, 1);
	EXPECT_EQ(p1.protocol, ProtocolId::IKE);
	EXPECT_TRUE(p1.spi.empty());
	EXPECT_EQ(p1.transforms, (std::vector<Transform>{
					 {TransformType::ENCR, encr::AES_CBC, 128, {}},
					 {TransformType::INTEG, integ::HMAC_SHA2_256_128, {}, {}},
					 {TransformType::PRF, prf::HMAC_SHA2_256, {}, {}},
					 {TransformType::DH, dh::MODP_2048, {}, {}},
				 }));
	const Proposal &p2 = sa->proposals[1];
	EXPECT_EQ(p2.number, 2);
	EXPECT_EQ(p2.transforms, (std::vector<Transform>{
					 {TransformType::ENCR, encr::AES_GCM_16, 256, {}},
					 {TransformType::PRF, prf::HMAC_SHA2_384, {}, {}},
					 {TransformType::DH, dh::ECP_256, {}, {}},
				 }));

	// §3.4: the KE matches the first proposal's group, 256 octets for MODP-2048.
	const KePayload *ke = m.find<KePayload>();
	ASSERT_NE(ke, nullptr);
	EXPECT_EQ(ke->group, dh::MODP_2048);
	EXPECT_EQ(ke->data.size(), 256u);
	// §3.9.
	ASSERT_NE(m.find<NoncePayload>(), nullptr);
	EXPECT_EQ(m.find<NoncePayload>()->data.size(), 32u);

	// §2.23: NAT detection hashes are SHA-1, 20 octets.
	ASSERT_NE(m.find_notify(notify::NAT_DETECTION_SOURCE_IP), nullptr);
	EXPECT_EQ(m.find_notify(notify::NAT_DETECTION_SOURCE_IP)->data.size(), 20u);
	ASSERT_NE(m.find_notify(notify::NAT_DETECTION_DESTINATION_IP), nullptr);
	EXPECT_EQ(m.find_notify(notify::NAT_DETECTION_DESTINATION_IP)->data.size(), 20u);
	// RFC 7383 §2.3: an empty IKEV2_FRAGMENTATION_SUPPORTED.
	ASSERT_NE(m.find_notify(notify::IKEV2_FRAGMENTATION_SUPPORTED), nullptr);
	EXPECT_TRUE(m.find_notify(notify::IKEV2_FRAGMENTATION_SUPPORTED)->data.empty());
	// RFC 7427 §4: SHA1, SHA2-256, SHA2-384, SHA2-512.
	ASSERT_NE(m.find_notify(notify::SIGNATURE_HASH_ALGORITHMS), nullptr);
	EXPECT_EQ(to_hex(m.find_notify(notify::SIGNATURE_HASH_ALGORITHMS)->data), "0002000300040005");
	ASSERT_NE(m.find_notify(kRedirectSupported), nullptr);
	for (const NotifyPayload *n : m.find_all<NotifyPayload>()) {
		EXPECT_EQ(n->protocol, ProtocolId{0});
		EXPECT_TRUE(n->spi.empty());
	}
}

// Everything strongSwan set, reserved fields included, comes back out.
TEST(StrongswanFixture, SerializesBackToTheSameOctets)
{
	std::vector<uint8_t> wire = hex(kStrongswanSaInit);
	EXPECT_EQ(to_hex(Message::parse(wire).serialize()), to_hex(wire));
}

} // namespace
} // namespace umigame::ike
