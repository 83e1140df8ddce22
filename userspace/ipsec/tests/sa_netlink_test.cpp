// The SA client's reply parsing, fed with messages built here as the kernel
// would send them (and as it should not).
#include "umigame/sa_netlink.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <sys/socket.h>

using namespace umigame;

namespace {

constexpr uint16_t kFamily = 0x1a;
constexpr uint32_t kSeq = 77, kPort = 1234;

// A receive buffer of one or more messages.
class Buf {
public:
	nlmsghdr *add(uint16_t type, uint16_t flags = 0, uint32_t seq = kSeq)
	{
		size_t at = bytes_.size();
		bytes_.resize(at + 4096);
		auto *nlh = mnl_nlmsg_put_header(bytes_.data() + at);
		nlh->nlmsg_type = type;
		nlh->nlmsg_flags = flags;
		nlh->nlmsg_seq = seq;
		nlh->nlmsg_pid = kPort;
		open_ = at;
		return nlh;
	}
	nlmsghdr *genl(uint8_t cmd, uint16_t flags = 0)
	{
		auto *nlh = add(kFamily, flags);
		auto *g = static_cast<genlmsghdr *>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
		g->cmd = cmd;
		g->version = UMIGAME_ESP_GENL_VERSION;
		return nlh;
	}
	// Call after filling the last message added.
	std::span<const uint8_t> done()
	{
		auto *nlh = reinterpret_cast<nlmsghdr *>(bytes_.data() + open_);
		bytes_.resize(open_ + MNL_ALIGN(nlh->nlmsg_len));
		return bytes_;
	}
	void close_message() { done(); }

private:
	std::vector<uint8_t> bytes_;
	size_t open_ = 0;
};

void put_sa(nlmsghdr *nlh, uint32_t id = 3)
{
	const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
	mnl_attr_put_u32(nlh, UMIGAME_ESP_A_SA_ID, id);
	mnl_attr_put_u32(nlh, UMIGAME_ESP_A_SPI, 0x1000);
	mnl_attr_put_u16(nlh, UMIGAME_ESP_A_FAMILY, AF_INET6);
	mnl_attr_put(nlh, UMIGAME_ESP_A_SRC, 16, src);
	mnl_attr_put(nlh, UMIGAME_ESP_A_DST, 16, dst);
	mnl_attr_put_u8(nlh, UMIGAME_ESP_A_MODE, UMIGAME_ESP_MODE_TUNNEL);
	mnl_attr_put_u16(nlh, UMIGAME_ESP_A_ENCAP_PORT, 4500);
	mnl_attr_put_u8(nlh, UMIGAME_ESP_A_SUITE, UMIGAME_ESP_SUITE_AES_GCM);
	mnl_attr_put_u16(nlh, UMIGAME_ESP_A_KEY_BITS, 256);
	mnl_attr_put_u8(nlh, UMIGAME_ESP_A_ICV_LEN, 12);
	mnl_attr_put_u8(nlh, UMIGAME_ESP_A_IV_LEN, 8);
	mnl_attr_put_u32(nlh, UMIGAME_ESP_A_REPLAY_WINDOW, 1024);
	mnl_attr_put_u32(nlh, UMIGAME_ESP_A_FLAGS, UMIGAME_ESP_F_ESN);
	mnl_attr_put_u64(nlh, UMIGAME_ESP_A_REPLAY_START, 0x1ffffff00ULL);
	mnl_attr_put_u64(nlh, UMIGAME_ESP_A_LIFE_PACKETS, 100);
	mnl_attr_put_u64(nlh, UMIGAME_ESP_A_USED_BYTES, 5000);
	mnl_attr_put_u64(nlh, UMIGAME_ESP_A_USED_PACKETS, 50);
	mnl_attr_put_u64(nlh, UMIGAME_ESP_A_AUTH_FAILURES, 2);
	mnl_attr_put_u64(nlh, UMIGAME_ESP_A_REPLAY_DROPS, 1);
	mnl_attr_put(nlh, UMIGAME_ESP_A_EXPIRED, 0, nullptr);
}

ReplyExpect expect(bool dump, std::span<const uint8_t> request = {})
{
	ReplyExpect ex;
	ex.seq = kSeq;
	ex.portid = kPort;
	ex.type = kFamily;
	ex.dump = dump;
	ex.op = "sa test";
	ex.request = request;
	ex.attr_names = esp_attr_names();
	return ex;
}

std::vector<EspSa> parse_all(std::span<const uint8_t> buf, bool dump, bool *done = nullptr)
{
	std::vector<EspSa> out;
	bool d = parse_reply(buf, expect(dump),
			     [&](const nlmsghdr *nlh) { out.push_back(parse_sa_message(nlh)); });
	if (done)
		*done = d;
	return out;
}

std::string error_of(const std::function<void()> &f)
{
	try {
		f();
	} catch (const std::exception &e) {
		return e.what();
	}
	return "";
}

} // namespace

TEST(SaNetlink, DumpOfTwoSas)
{
	Buf b;
	put_sa(b.genl(UMIGAME_ESP_CMD_SA_GET, NLM_F_MULTI), 3);
	b.close_message();
	put_sa(b.genl(UMIGAME_ESP_CMD_SA_GET, NLM_F_MULTI), 9);
	b.close_message();
	auto *done = b.add(NLMSG_DONE, NLM_F_MULTI);
	*static_cast<int *>(mnl_nlmsg_put_extra_header(done, sizeof(int))) = 0;
	bool finished = false;
	auto sas = parse_all(b.done(), true, &finished);
	EXPECT_TRUE(finished);
	ASSERT_EQ(sas.size(), 2u);
	const EspSa &sa = sas[0];
	EXPECT_EQ(sa.id, 3u);
	EXPECT_EQ(sas[1].id, 9u);
	EXPECT_EQ(sa.spi, 0x1000u);
	EXPECT_EQ(sa.family, AF_INET6);
	EXPECT_EQ(address_str(sa.family, sa.src), "2001:db8::1");
	EXPECT_EQ(address_str(sa.family, sa.dst), "2001:db8::2");
	EXPECT_EQ(sa.mode, UMIGAME_ESP_MODE_TUNNEL);
	EXPECT_EQ(sa.encap_port, 4500);
	EXPECT_EQ(sa.suite, UMIGAME_ESP_SUITE_AES_GCM);
	EXPECT_EQ(sa.key_bits, 256);
	EXPECT_EQ(sa.icv_len, 12);
	EXPECT_EQ(sa.iv_len, 8);
	EXPECT_EQ(sa.replay_window, 1024u);
	EXPECT_EQ(sa.flags, UMIGAME_ESP_F_ESN);
	EXPECT_EQ(sa.replay_start, 0x1ffffff00ULL);
	EXPECT_EQ(sa.life_bytes, 0u);
	EXPECT_EQ(sa.life_packets, 100u);
	EXPECT_EQ(sa.used_bytes, 5000u);
	EXPECT_EQ(sa.used_packets, 50u);
	EXPECT_EQ(sa.auth_failures, 2u);
	EXPECT_EQ(sa.replay_drops, 1u);
	EXPECT_TRUE(sa.expired);
}

TEST(SaNetlink, PartOfADumpIsNotTheEnd)
{
	Buf b;
	put_sa(b.genl(UMIGAME_ESP_CMD_SA_GET, NLM_F_MULTI));
	bool finished = true;
	EXPECT_EQ(parse_all(b.done(), true, &finished).size(), 1u);
	EXPECT_FALSE(finished);
}

TEST(SaNetlink, NewerAttributesAreSkipped)
{
	Buf b;
	auto *nlh = b.genl(UMIGAME_ESP_CMD_SA_GET);
	put_sa(nlh);
	mnl_attr_put_u32(nlh, UMIGAME_ESP_A_MAX + 1, 5);
	mnl_attr_put(nlh, UMIGAME_ESP_A_MAX + 7, 3, "abc");
	EXPECT_EQ(parse_all(b.done(), false).size(), 1u);
}

TEST(SaNetlink, MalformedSasAreRefused)
{
	struct Case {
		const char *name;
		std::function<void(nlmsghdr *)> fill;
		const char *error;
	} cases[] = {
		{"no SPI",
		 [](nlmsghdr *nlh) {
			 const uint8_t a[4] = {192, 0, 2, 1};
			 mnl_attr_put_u32(nlh, UMIGAME_ESP_A_SA_ID, 1);
			 mnl_attr_put_u16(nlh, UMIGAME_ESP_A_FAMILY, AF_INET);
			 mnl_attr_put(nlh, UMIGAME_ESP_A_SRC, 4, a);
			 mnl_attr_put(nlh, UMIGAME_ESP_A_DST, 4, a);
			 mnl_attr_put_u8(nlh, UMIGAME_ESP_A_SUITE, 1);
		 },
		 "malformed SA_GET reply: no SPI"},
		{"short SPI", [](nlmsghdr *nlh) { mnl_attr_put_u16(nlh, UMIGAME_ESP_A_SPI, 1); },
		 "malformed SA_GET reply: attribute SPI has 2 bytes"},
		{"long counter",
		 [](nlmsghdr *nlh) {
			 put_sa(nlh);
			 const uint8_t nine[9] = {};
			 mnl_attr_put(nlh, UMIGAME_ESP_A_USED_BYTES, 9, nine);
		 },
		 "malformed SA_GET reply: attribute USED_BYTES has 9 bytes"},
		{"flag with payload",
		 [](nlmsghdr *nlh) {
			 put_sa(nlh);
			 mnl_attr_put_u8(nlh, UMIGAME_ESP_A_EXPIRED, 1);
		 },
		 "malformed SA_GET reply: attribute EXPIRED has 1 bytes"},
		{"5-byte address",
		 [](nlmsghdr *nlh) {
			 put_sa(nlh);
			 mnl_attr_put(nlh, UMIGAME_ESP_A_SRC, 5, "abcde");
		 },
		 "malformed SA_GET reply: attribute SRC has 5 bytes"},
		{"IPv4 family, IPv6 addresses",
		 [](nlmsghdr *nlh) {
			 put_sa(nlh);
			 mnl_attr_put_u16(nlh, UMIGAME_ESP_A_FAMILY, AF_INET);
		 },
		 "malformed SA_GET reply: SRC does not match the family"},
		{"unknown family",
		 [](nlmsghdr *nlh) {
			 put_sa(nlh);
			 mnl_attr_put_u16(nlh, UMIGAME_ESP_A_FAMILY, 77);
		 },
		 "malformed SA_GET reply: address family 77"},
		{"a key",
		 [](nlmsghdr *nlh) {
			 put_sa(nlh);
			 mnl_attr_put(nlh, UMIGAME_ESP_A_ENC_KEY, 20, "01234567890123456789");
		 },
		 "malformed SA_GET reply: the reply carries key material (ENC_KEY): refusing it"},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.name);
		Buf b;
		c.fill(b.genl(UMIGAME_ESP_CMD_SA_GET));
		auto buf = b.done();
		EXPECT_EQ(error_of([&] { parse_all(buf, false); }), c.error);
	}
}

TEST(SaNetlink, MalformedMessagesAreRefused)
{
	struct Case {
		const char *name;
		std::function<std::vector<uint8_t>()> make;
		bool dump;
		const char *error;
	} cases[] = {
		{"other sequence",
		 [] {
			 Buf b;
			 put_sa(b.add(kFamily, 0, kSeq + 1));
			 auto s = b.done();
			 return std::vector<uint8_t>(s.begin(), s.end());
		 },
		 false, "sa test: netlink reply out of sequence (78, expected 77)"},
		{"other type",
		 [] {
			 Buf b;
			 b.add(kFamily + 1);
			 auto s = b.done();
			 return std::vector<uint8_t>(s.begin(), s.end());
		 },
		 false, "sa test: unexpected netlink message type 27"},
		{"no genl header",
		 [] {
			 Buf b;
			 b.add(kFamily);
			 auto s = b.done();
			 return std::vector<uint8_t>(s.begin(), s.end());
		 },
		 false, "malformed SA_GET reply: no genl header"},
		{"other command",
		 [] {
			 Buf b;
			 put_sa(b.genl(UMIGAME_ESP_CMD_SA_DEL));
			 auto s = b.done();
			 return std::vector<uint8_t>(s.begin(), s.end());
		 },
		 false, "malformed SA_GET reply: command 2"},
		{"truncated",
		 [] {
			 Buf b;
			 put_sa(b.genl(UMIGAME_ESP_CMD_SA_GET));
			 auto s = b.done();
			 return std::vector<uint8_t>(s.begin(), s.end() - 8);
		 },
		 false, "sa test: truncated netlink message"},
		{"length near 2^32", // libmnl's own walk left the buffer on this one
		 [] {
			 Buf b;
			 put_sa(b.genl(UMIGAME_ESP_CMD_SA_GET));
			 auto s = b.done();
			 std::vector<uint8_t> v(s.begin(), s.end());
			 const uint32_t huge = 0xfffffffd;
			 std::memcpy(v.data(), &huge, sizeof(huge));
			 return v;
		 },
		 false, "sa test: truncated netlink message"},
		{"end of dump for a request",
		 [] {
			 Buf b;
			 b.add(NLMSG_DONE);
			 auto s = b.done();
			 return std::vector<uint8_t>(s.begin(), s.end());
		 },
		 false, "sa test: unexpected end of dump"},
		{"message after the end",
		 [] {
			 Buf b;
			 auto *e = b.add(NLMSG_ERROR);
			 std::memset(mnl_nlmsg_put_extra_header(e, sizeof(nlmsgerr)), 0, sizeof(nlmsgerr));
			 b.close_message();
			 put_sa(b.genl(UMIGAME_ESP_CMD_SA_GET));
			 auto s = b.done();
			 return std::vector<uint8_t>(s.begin(), s.end());
		 },
		 false, "sa test: more netlink messages after the end"},
		{"short error",
		 [] {
			 Buf b;
			 auto *e = b.add(NLMSG_ERROR);
			 mnl_nlmsg_put_extra_header(e, 4);
			 auto s = b.done();
			 return std::vector<uint8_t>(s.begin(), s.end());
		 },
		 false, "sa test: truncated netlink error message"},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.name);
		auto buf = c.make();
		EXPECT_EQ(error_of([&] { parse_all(buf, c.dump); }), c.error);
	}
}

// What the module says goes to the user, with the attribute it points at.
TEST(SaNetlink, ErrorsCarryTheExtack)
{
	// The request: a genl header, then SPI (at offset 20) and ENC_KEY (28).
	std::vector<uint8_t> req(256);
	auto *r = mnl_nlmsg_put_header(req.data());
	mnl_nlmsg_put_extra_header(r, sizeof(genlmsghdr));
	mnl_attr_put_u32(r, UMIGAME_ESP_A_SPI, 1);
	const uint32_t key_off = r->nlmsg_len;
	mnl_attr_put(r, UMIGAME_ESP_A_ENC_KEY, 3, "abc");
	std::span<const uint8_t> request(req.data(), r->nlmsg_len);

	struct Case {
		const char *name;
		int error;
		const char *msg;
		std::optional<uint32_t> offset, miss;
		bool capped;
		const char *what;
	} cases[] = {
		{"message and offset", EINVAL, "AES-GCM key must be 20, 28 or 36 bytes", key_off,
		 std::nullopt, true,
		 "sa test: AES-GCM key must be 20, 28 or 36 bytes [attribute ENC_KEY]"},
		{"uncapped", EEXIST, "an SA with this SPI exists", std::nullopt, std::nullopt, false,
		 "sa test: an SA with this SPI exists"},
		{"no message", ENOENT, nullptr, std::nullopt, std::nullopt, true,
		 "sa test: No such file or directory"},
		{"missing attribute", EINVAL, nullptr, std::nullopt, UMIGAME_ESP_A_DST, true,
		 "sa test: missing attribute DST"},
		{"permission", EPERM, nullptr, std::nullopt, std::nullopt, true,
		 "sa test: permission denied: managing ESP SAs needs CAP_NET_ADMIN"},
		{"offset outside the request", EINVAL, "bad", 4000, std::nullopt, true, "sa test: bad"},
		{"offset in the header", EINVAL, "bad", 4, std::nullopt, true, "sa test: bad"},
		{"control characters", EINVAL, "bad\x1b[2Jthing", std::nullopt, std::nullopt, true,
		 "sa test: bad?[2Jthing"},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.name);
		Buf b;
		auto *nlh = b.add(NLMSG_ERROR, (c.capped ? NLM_F_CAPPED : 0) | NLM_F_ACK_TLVS);
		auto *e = static_cast<nlmsgerr *>(mnl_nlmsg_put_extra_header(nlh, sizeof(nlmsgerr)));
		e->error = -c.error;
		std::memcpy(&e->msg, req.data(), sizeof(nlmsghdr));
		if (!c.capped) {
			// The whole request comes back behind the header.
			size_t extra = r->nlmsg_len - sizeof(nlmsghdr);
			std::memcpy(mnl_nlmsg_put_extra_header(nlh, extra),
				    req.data() + sizeof(nlmsghdr), extra);
		}
		if (c.msg)
			mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, c.msg);
		if (c.offset)
			mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, *c.offset);
		if (c.miss)
			mnl_attr_put_u32(nlh, NLMSGERR_ATTR_MISS_TYPE, *c.miss);
		auto buf = b.done();
		try {
			parse_reply(buf, expect(false, request), [](const nlmsghdr *) {});
			ADD_FAILURE() << "no error";
		} catch (const NetlinkError &err) {
			EXPECT_EQ(std::string(err.what()), c.what);
			EXPECT_EQ(err.error(), c.error);
		}
	}
}

TEST(SaNetlink, AckEndsARequestAndAnErrorEndsADump)
{
	Buf ack;
	auto *e = ack.add(NLMSG_ERROR, NLM_F_CAPPED);
	std::memset(mnl_nlmsg_put_extra_header(e, sizeof(nlmsgerr)), 0, sizeof(nlmsgerr));
	bool done = false;
	EXPECT_TRUE(parse_all(ack.done(), false, &done).empty());
	EXPECT_TRUE(done);

	Buf end;
	auto *d = end.add(NLMSG_DONE, NLM_F_MULTI | NLM_F_ACK_TLVS);
	*static_cast<int *>(mnl_nlmsg_put_extra_header(d, sizeof(int))) = -ENOBUFS;
	mnl_attr_put_strz(d, NLMSGERR_ATTR_MSG, "dump failed");
	auto buf = end.done();
	EXPECT_EQ(error_of([&] { parse_all(buf, true); }), "sa test: dump failed");
}

TEST(SaNetlink, AddAndFamilyReplies)
{
	Buf add;
	mnl_attr_put_u32(add.genl(UMIGAME_ESP_CMD_SA_ADD), UMIGAME_ESP_A_SA_ID, 42);
	uint32_t id = 0;
	parse_reply(add.done(), expect(false), [&](const nlmsghdr *m) { id = parse_add_message(m); });
	EXPECT_EQ(id, 42u);

	Buf zero;
	mnl_attr_put_u32(zero.genl(UMIGAME_ESP_CMD_SA_ADD), UMIGAME_ESP_A_SA_ID, 0);
	auto z = zero.done();
	EXPECT_EQ(error_of([&] {
			  parse_reply(z, expect(false),
				      [](const nlmsghdr *m) { parse_add_message(m); });
		  }),
		  "malformed SA_ADD reply: no SA id");

	Buf fam;
	auto *nlh = fam.add(GENL_ID_CTRL);
	auto *g = static_cast<genlmsghdr *>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
	g->cmd = CTRL_CMD_NEWFAMILY;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, UMIGAME_ESP_GENL_NAME);
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, 0x21);
	mnl_attr_put_u32(nlh, CTRL_ATTR_VERSION, 1);
	GenlFamily f = parse_family_message(nlh);
	EXPECT_EQ(f.id, 0x21);
	EXPECT_EQ(f.version, 1u);
}
