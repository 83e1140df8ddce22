// `umigame sa …` argument parsing: every rule, table-driven.
#include "sa_args.h"

#include <gtest/gtest.h>

#include <sstream>
#include <sys/socket.h>

using namespace umigame;
using namespace umigame::cli;

namespace {

const std::string kKey128 = "0x" + std::string(40, 'a');   // 16 + 4 salt
const std::string kKey256 = "0x" + std::string(72, 'b');   // 32 + 4 salt
const std::string kCbcKey = "0x" + std::string(32, 'c');   // 16
const std::string kHmacKey = "0x" + std::string(64, 'd');  // 32

std::vector<std::string> words(const std::string &line)
{
	std::istringstream in(line);
	std::vector<std::string> out;
	for (std::string w; in >> w;)
		out.push_back(w);
	return out;
}

std::string error_of(const std::vector<std::string> &args)
{
	try {
		parse_sa_args(args);
	} catch (const UsageError &e) {
		return e.what();
	}
	return "";
}

} // namespace

TEST(SaArgs, AddGcm)
{
	auto c = parse_sa_args(words("add src 2001:db8::1 dst 2001:db8::2 spi 0x1000 mode tunnel "
				     "aead rfc4106(gcm(aes)) " + kKey128 + " 128 replay-window 64 "
				     "flag esn replay-seq 0xffffff00 replay-seq-hi 2 "
				     "limit byte-hard 1000 limit packet-hard 10"));
	ASSERT_EQ(c.action, SaCommand::Action::Add);
	const EspSaParams &p = c.params;
	EXPECT_EQ(p.spi, 0x1000u);
	EXPECT_EQ(p.family, AF_INET6);
	EXPECT_EQ(p.src[15], 1);
	EXPECT_EQ(p.dst[15], 2);
	EXPECT_EQ(p.mode, UMIGAME_ESP_MODE_TUNNEL);
	EXPECT_EQ(p.suite, UMIGAME_ESP_SUITE_AES_GCM);
	EXPECT_EQ(p.enc_key.size(), 20u);
	EXPECT_EQ(p.enc_key.data()[0], 0xaa);
	EXPECT_TRUE(p.auth_key.empty());
	EXPECT_EQ(p.icv_len, 16);
	EXPECT_EQ(p.replay_window, 64u);
	EXPECT_EQ(p.flags, UMIGAME_ESP_F_ESN);
	EXPECT_EQ(p.replay_start, (uint64_t(2) << 32) | 0xffffff00u);
	EXPECT_EQ(p.life_bytes, 1000u);
	EXPECT_EQ(p.life_packets, 10u);
	EXPECT_FALSE(c.json);
}

TEST(SaArgs, AddCbcAndDefaults)
{
	auto c = parse_sa_args(words("add src 192.0.2.1 dst 192.0.2.2 spi 4096 enc cbc(aes) " +
				     kCbcKey + " auth hmac(sha256) " + kHmacKey + " --json"));
	const EspSaParams &p = c.params;
	EXPECT_EQ(p.spi, 4096u);
	EXPECT_EQ(p.family, AF_INET);
	EXPECT_EQ(p.src[0], 192);
	EXPECT_EQ(p.src[3], 1);
	EXPECT_EQ(p.mode, UMIGAME_ESP_MODE_TRANSPORT);
	EXPECT_EQ(p.suite, UMIGAME_ESP_SUITE_AES_CBC_SHA256);
	EXPECT_EQ(p.enc_key.size(), 16u);
	EXPECT_EQ(p.auth_key.size(), 32u);
	EXPECT_EQ(p.icv_len, 16);
	EXPECT_EQ(p.replay_window, 0u);
	EXPECT_EQ(p.flags, 0u);
	EXPECT_EQ(p.encap_port, 0);
	EXPECT_EQ(p.replay_start, 0u);
	EXPECT_TRUE(c.json);
}

TEST(SaArgs, Accepted)
{
	struct Case {
		std::string line;
		uint8_t icv_len;
		uint16_t encap_port;
	} cases[] = {
		{"add src ::1 dst ::2 spi 1 aead rfc4106(gcm(aes)) " + kKey256 + " 64", 8, 0},
		{"add src ::1 dst ::2 spi 0xffffffff aead rfc4106(gcm(aes)) " + kKey256 + " 96", 12, 0},
		{"add spi 7 dst 10.0.0.2 src 10.0.0.1 encap-port 4500 aead rfc4106(gcm(aes)) " +
			 kKey128 + " 128", 16, 4500},
		// `ip xfrm state` words: proto esp, auth-trunc at 128 bits, the short names.
		{"add src ::1 dst ::2 proto esp spi 9 enc aes " + kCbcKey + " auth-trunc sha256 " +
			 kHmacKey + " 128", 16, 0},
		{"add src ::1 dst ::2 spi 9 enc cbc(aes) 0X" + std::string(64, 'F') +
			 " auth hmac(sha256) " + kHmacKey + " flag esn esn replay-window 128", 16, 0},
		// Lengths are the module's to judge: a wrong-sized key gets through here.
		{"add src ::1 dst ::2 spi 5 aead rfc4106(gcm(aes)) 0x0011 128", 16, 0},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.line);
		SaCommand cmd;
		ASSERT_NO_THROW(cmd = parse_sa_args(words(c.line)));
		EXPECT_EQ(cmd.params.icv_len, c.icv_len);
		EXPECT_EQ(cmd.params.encap_port, c.encap_port);
	}
}

TEST(SaArgs, Refused)
{
	const std::string gcm = " aead rfc4106(gcm(aes)) " + kKey128 + " 128";
	const std::string base = "add src ::1 dst ::2 spi 0x100";
	struct Case {
		std::string line;
		std::string error;
	} cases[] = {
		{"", "sa needs a subcommand: add, del, flush, show"},
		{"frob", "unknown sa subcommand 'frob': add, del, flush, show"},
		{"add src ::1 dst ::2" + gcm, "sa add needs src ADDR, dst ADDR and spi SPI"},
		{base, "sa add needs aead 'rfc4106(gcm(aes))' KEY ICV-BITS, or enc 'cbc(aes)' KEY "
		       "auth 'hmac(sha256)' KEY"},
		{"add src ::1 dst 192.0.2.1 spi 1" + gcm, "src and dst must both be IPv4 or both IPv6"},
		{"add src fe80::1%eth0 dst ::2 spi 1" + gcm,
		 "src needs an IPv4 or IPv6 address, not 'fe80::1%eth0'"},
		{"add src ::1 dst ::2 spi 0" + gcm,
		 "spi needs a number from 1 to 4294967295 (decimal or 0x hex), not '0'"},
		{"add src ::1 dst ::2 spi 0x100000000" + gcm,
		 "spi needs a number from 1 to 4294967295 (decimal or 0x hex), not '0x100000000'"},
		{"add src ::1 dst ::2 spi -1" + gcm,
		 "spi needs a number from 1 to 4294967295 (decimal or 0x hex), not '-1'"},
		{base + gcm + " spi 2", "spi given twice"},
		{base + gcm + " mode beet", "mode must be transport or tunnel, not 'beet'"},
		{base + gcm + " encap-port 0", "encap-port needs a number from 1 to 65535, not '0'"},
		{base + " aead gcm(aes) " + kKey128 + " 128",
		 "unsupported AEAD 'gcm(aes)': only rfc4106(gcm(aes))"},
		{base + " aead rfc4106(gcm(aes)) " + kKey128 + " 100",
		 "ICV length must be given in bits, a multiple of 8 (64, 96 or 128 for AES-GCM), not '100'"},
		{base + " aead rfc4106(gcm(aes)) " + kKey128, "aead needs an ICV length in bits"},
		{base + " enc cbc(des3_ede) " + kCbcKey + " auth hmac(sha256) " + kHmacKey,
		 "unsupported cipher 'cbc(des3_ede)': only cbc(aes)"},
		{base + " enc cbc(aes) " + kCbcKey + " auth hmac(sha1) " + kHmacKey,
		 "unsupported authentication 'hmac(sha1)': only hmac(sha256)"},
		{base + " enc cbc(aes) " + kCbcKey + " auth-trunc hmac(sha256) " + kHmacKey + " 96",
		 "hmac(sha256) is truncated to 128 bits (RFC 4868), not '96'"},
		{base + " enc cbc(aes) " + kCbcKey,
		 "enc and auth go together (ESP without either is not supported)"},
		{base + gcm + " auth hmac(sha256) " + kHmacKey, "aead excludes enc and auth"},
		{base + gcm + " flag noecn", "unknown flag 'noecn': only esn is supported"},
		{base + gcm + " limit time-hard 60",
		 "unsupported limit 'time-hard': only byte-hard and packet-hard"},
		{base + gcm + " limit packet-hard 1 limit packet-hard 2", "limit packet-hard given twice"},
		{base + gcm + " replay-window 1e3",
		 "replay-window needs a number from 0 to 4294967295, not '1e3'"},
		{base + gcm + " proto ah", "only proto esp is supported"},
		{base + gcm + " reqid 1", "unknown word 'reqid' in sa add"},
		{"del", "usage: umigame sa del ID"},
		{"del 0", "SA id needs a number from 1 to 4294967295, not '0'"},
		{"del 1 2", "usage: umigame sa del ID"},
		{"flush now", "usage: umigame sa flush"},
		{"show 1 2", "usage: umigame sa show [ID] [--json]"},
		{"show --yaml", "usage: umigame sa show [ID] [--json]"},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.line);
		EXPECT_EQ(error_of(words(c.line)), c.error);
	}
}

// A key's digits must never show up in a message: they end up in logs.
TEST(SaArgs, KeyErrorsDoNotRepeatTheKey)
{
	const std::string base = "add src ::1 dst ::2 spi 1 aead rfc4106(gcm(aes)) ";
	struct Case {
		std::string key;
		std::string error;
	} cases[] = {
		{"secretsecretsecretsecret", "the aead key must be hex: 0x and an even number of hex digits"},
		{"0x5ec2e7a", "the aead key must be hex: 0x and an even number of hex digits"},
		{"0x5ec2e7zz", "the aead key must be hex: 0x and an even number of hex digits"},
		{"0x", "the aead key must be hex: 0x and an even number of hex digits"},
		{"0x" + std::string(130, '5'), "the aead key is longer than 64 bytes"},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.key);
		std::string msg = error_of(words(base + c.key + " 128"));
		EXPECT_EQ(msg, c.error);
		EXPECT_EQ(msg.find("5ec2e7"), std::string::npos);
		EXPECT_EQ(msg.find("secret"), std::string::npos);
	}
	EXPECT_EQ(error_of(words("add src ::1 dst ::2 spi 1 enc cbc(aes) 0x12 auth hmac(sha256) xyz")),
		  "the auth key must be hex: 0x and an even number of hex digits");
}

TEST(SaArgs, DelFlushShow)
{
	struct Case {
		std::string line;
		SaCommand::Action action;
		std::optional<uint32_t> id;
		bool json;
	} cases[] = {
		{"del 7", SaCommand::Action::Del, 7, false},
		{"delete 4095", SaCommand::Action::Del, 4095, false},
		{"flush", SaCommand::Action::Flush, std::nullopt, false},
		{"show", SaCommand::Action::Show, std::nullopt, false},
		{"show --json", SaCommand::Action::Show, std::nullopt, true},
		{"show 3 --json", SaCommand::Action::Show, 3, true},
		{"list 3", SaCommand::Action::Show, 3, false},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.line);
		auto cmd = parse_sa_args(words(c.line));
		EXPECT_EQ(cmd.action, c.action);
		EXPECT_EQ(cmd.id, c.id);
		EXPECT_EQ(cmd.json, c.json);
	}
}

TEST(SaArgs, SecretBytesWipes)
{
	SecretBytes k(4);
	k.data()[0] = 0x42;
	SecretBytes moved = std::move(k);
	EXPECT_EQ(moved.size(), 4u);
	EXPECT_EQ(moved.data()[0], 0x42);
	moved.wipe();
	EXPECT_TRUE(moved.empty());
}
