// The delegating router's lease journal: replay, torn tails, damage,
// stable choices, exhaustion, compaction, and kill -9 in the middle of a
// stream of grants.
#include "umigame/dhcp6d/lease_store.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <zlib.h>

namespace umigame::dhcp6d {
namespace {

constexpr int64_t kNow = 1'800'000'000;

Ipv6Prefix pfx(const char *s) { return *Ipv6Prefix::parse(s); }

LeaseKey key(uint8_t client, uint32_t iaid = 1)
{
	return {{0x00, 0x03, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, client}, iaid};
}

Lease lease(const LeaseKey &k, const Ipv6Prefix &p, int64_t expires = kNow + 3600)
{
	return {k, p, 1800, 3600, expires};
}

class LeaseStoreTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		dir_ = std::filesystem::temp_directory_path() /
		       ("umigame-leases-" + std::to_string(getpid()) + "-" +
			::testing::UnitTest::GetInstance()->current_test_info()->name());
		std::filesystem::remove_all(dir_);
		std::filesystem::create_directories(dir_);
		path_ = (dir_ / "leases").string();
	}
	void TearDown() override { std::filesystem::remove_all(dir_); }

	void append_raw(const std::string &text)
	{
		std::ofstream(path_, std::ios::app | std::ios::binary) << text;
	}

	std::filesystem::path dir_;
	std::string path_;
	PrefixPool pool_{pfx("2001:db8:100::/40"), 56};
};

// The later fields (kind, next hop, interface) round-trip, and a line
// written before they existed still reads.
TEST(LeaseLine, OptionalFieldsAndOldLines)
{
	Lease l = lease(key(7, 42), pfx("2001:db8:ffff::5/128"));
	l.key.kind = LeaseKind::address;
	l.next_hop = Ipv6Address::parse("fe80::1");
	l.interface = "eth0";
	std::string line = format_line('B', l);
	EXPECT_NE(line.find(" na via=fe80::1 dev=eth0 "), std::string::npos) << line;
	auto [op, back] = parse_line(line);
	EXPECT_EQ(back.key, l.key);
	EXPECT_EQ(back.next_hop, l.next_hop);
	EXPECT_EQ(back.interface, "eth0");

	auto [old_op, old] = parse_line("B 00030001020000000007 1 2001:db8:100:4a00::/56 1800 3600 "
					"1800003600 6ea9be33");
	EXPECT_EQ(old.key.kind, LeaseKind::prefix);
	EXPECT_FALSE(old.next_hop);
	EXPECT_TRUE(old.interface.empty());

	for (const char *bad : {" via=nonsense", " dev=", " na na", " what=1"}) {
		std::string text = "B 0003000102 1 2001:db8::/56 1 2 3" + std::string(bad);
		char crc[16];
		std::snprintf(crc, sizeof(crc), " %08x", unsigned(crc32(0, reinterpret_cast<const Bytef *>(text.data()), uInt(text.size()))));
		EXPECT_THROW(parse_line(text + crc), std::invalid_argument) << bad;
	}
}

// RFC 8415 §20.4.1: the client's Reconfigure Key and, behind relays, the
// relay path round-trip; a damaged one is refused like any bad field.
TEST(LeaseLine, ReconfigureKeyAndRelayPath)
{
	Lease l = lease(key(7, 42), pfx("2001:db8:1200::/56"));
	l.reconfigure_key.emplace();
	for (size_t i = 0; i < 16; i++)
		(*l.reconfigure_key)[i] = uint8_t(0xa0 + i);
	l.relay_path = {0x0c, 0x00, 0xfe, 0x80};
	std::string line = format_line('B', l);
	EXPECT_NE(line.find(" rk=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf relay=0c00fe80 "), std::string::npos) << line;
	auto [op, back] = parse_line(line);
	EXPECT_EQ(back.reconfigure_key, l.reconfigure_key);
	EXPECT_EQ(back.relay_path, l.relay_path);
	for (const char *bad : {" rk=a0a1", " rk=zz", " rk=" /* empty */, " relay=0", " relay=xy",
				" rk=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf rk=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"}) {
		std::string text = "B 0003000102 1 2001:db8::/56 1 2 3" + std::string(bad);
		char crc[16];
		std::snprintf(crc, sizeof(crc), " %08x", unsigned(crc32(0, reinterpret_cast<const Bytef *>(text.data()), uInt(text.size()))));
		EXPECT_THROW(parse_line(text + crc), std::invalid_argument) << bad;
	}
}

// What a route sync must look at: every prefix a change touched, the old
// one too when a key moves to another prefix.
TEST_F(LeaseStoreTest, ChangedPrefixesIncludeWhereALeaseMovedFrom)
{
	LeaseStore store(path_);
	store.bind(lease(key(1), pfx("2001:db8:100::/56")), kNow);
	EXPECT_EQ(store.take_changed(), std::vector<Ipv6Prefix>{pfx("2001:db8:100::/56")});
	store.bind(lease(key(1), pfx("2001:db8:100:100::/56")), kNow);
	auto changed = store.take_changed();
	std::sort(changed.begin(), changed.end());
	EXPECT_EQ(changed, (std::vector<Ipv6Prefix>{pfx("2001:db8:100::/56"), pfx("2001:db8:100:100::/56")}));
	EXPECT_TRUE(store.take_changed().empty());
}

TEST(LeaseLine, RoundTripAndChecksum)
{
	Lease l = lease(key(7, 42), pfx("2001:db8:1200::/56"));
	std::string line = format_line('B', l);
	auto [op, back] = parse_line(line);
	EXPECT_EQ(op, 'B');
	EXPECT_EQ(back.key, l.key);
	EXPECT_EQ(back.prefix, l.prefix);
	EXPECT_EQ(back.expires, l.expires);
	EXPECT_EQ(back.valid, 3600u);

	struct Bad {
		const char *why;
		std::string line;
	} bad[] = {
		{"flipped digit", [&] { std::string s = line; s[5] ^= 1; return s; }()},
		{"no checksum", line.substr(0, line.rfind(' '))},
		{"empty", ""},
		{"unknown op", [&] { std::string s = line; s[0] = 'X'; return s; }()},
	};
	for (const auto &b : bad)
		EXPECT_THROW(parse_line(b.line), std::invalid_argument) << b.why;
}

TEST(PrefixPoolTest, NumbersPrefixesInsideTheBase)
{
	PrefixPool pool(pfx("2001:db8:100::/40"), 56);
	EXPECT_EQ(pool.size(), 65536u);
	EXPECT_EQ(pool.at(0), pfx("2001:db8:100::/56"));
	EXPECT_EQ(pool.at(1), pfx("2001:db8:100:100::/56"));
	EXPECT_EQ(pool.at(65535), pfx("2001:db8:1ff:ff00::/56"));
	EXPECT_EQ(pool.index_of(pfx("2001:db8:100:200::/56")), 2u);
	EXPECT_FALSE(pool.index_of(pfx("2001:db8:200::/56")));
	EXPECT_FALSE(pool.index_of(pfx("2001:db8:100::/48")));
	EXPECT_THROW(PrefixPool(pfx("2001:db8::/48"), 40), std::invalid_argument);
}

TEST_F(LeaseStoreTest, CommittedLeasesSurviveAReopen)
{
	{
		LeaseStore s(path_);
		s.bind(lease(key(1), pfx("2001:db8:100::/56")), kNow);
		s.bind(lease(key(2), pfx("2001:db8:100:100::/56")), kNow);
		EXPECT_EQ(s.staged(), 2u);
		s.commit();
		s.bind(lease(key(3), pfx("2001:db8:100:200::/56")), kNow); // never committed
	}
	LeaseStore s(path_);
	ASSERT_TRUE(s.find(key(1)));
	EXPECT_EQ(s.find(key(2))->prefix, pfx("2001:db8:100:100::/56"));
	EXPECT_FALSE(s.find(key(3))) << "an uncommitted grant must not come back";
}

TEST_F(LeaseStoreTest, TornLastLineIsCutOffAndAppendsGoOn)
{
	{
		LeaseStore s(path_);
		s.bind(lease(key(1), pfx("2001:db8:100::/56")), kNow);
		s.commit();
	}
	std::string whole = format_line('B', lease(key(2), pfx("2001:db8:100:100::/56")));
	append_raw(whole.substr(0, whole.size() / 2)); // kill -9 in the middle of write()
	{
		LeaseStore s(path_);
		EXPECT_TRUE(s.find(key(1)));
		EXPECT_FALSE(s.find(key(2)));
		s.bind(lease(key(3), pfx("2001:db8:100:300::/56")), kNow);
		s.commit();
	}
	LeaseStore s(path_);
	EXPECT_TRUE(s.find(key(3))) << "the torn bytes must not glue onto the next line";
	EXPECT_EQ(s.journal_lines(), 2u);
}

TEST_F(LeaseStoreTest, DamageBeforeTheLastLineRefusesToStart)
{
	append_raw(format_line('B', lease(key(1), pfx("2001:db8:100::/56"))) + "\n");
	append_raw("B 0003 garbage\n");
	append_raw(format_line('B', lease(key(2), pfx("2001:db8:100:100::/56"))) + "\n");
	try {
		LeaseStore s(path_);
		FAIL() << "a damaged journal was accepted";
	} catch (const LeaseStoreError &e) {
		EXPECT_NE(std::string(e.what()).find(path_ + ":2:"), std::string::npos) << e.what();
	}
	// Nothing was cut: the operator still has every line to look at.
	std::ifstream in(path_);
	EXPECT_EQ(std::count(std::istreambuf_iterator<char>(in), {}, '\n'), 3);
}

// RFC 8415 §18.3.4: a client keeps its prefix across renewals, and gets
// it back after a release while nobody else took it.
TEST_F(LeaseStoreTest, ChoicesAreStableAndNeverShared)
{
	LeaseStore s(path_);
	std::set<Ipv6Prefix> given;
	for (uint8_t c = 1; c <= 50; c++) {
		auto p = s.choose(key(c), pool_, kNow);
		ASSERT_TRUE(p);
		EXPECT_TRUE(given.insert(*p).second) << p->str() << " handed out twice";
		s.bind(lease(key(c), *p), kNow);
	}
	s.commit();
	auto first = s.find(key(7))->prefix;
	EXPECT_EQ(s.choose(key(7), pool_, kNow), first);
	s.release(key(7), kNow);
	s.commit();
	EXPECT_EQ(s.choose(key(7), pool_, kNow + 60), first) << "remembered prefix not offered back";
	EXPECT_NE(s.choose(key(99), pool_, kNow + 60), first)
		<< "a new client took a prefix another one remembers while others were free";
	EXPECT_THROW(s.bind(lease(key(99), s.find(key(8))->prefix), kNow), std::logic_error);
}

TEST_F(LeaseStoreTest, ExhaustedPoolSaysSoAndExpiredLeasesFreeUp)
{
	PrefixPool tiny(pfx("2001:db8:200::/54"), 56); // 4 prefixes
	LeaseStore s(path_);
	for (uint8_t c = 1; c <= 4; c++) {
		auto p = s.choose(key(c), tiny, kNow);
		ASSERT_TRUE(p);
		s.bind(lease(key(c), *p, kNow + 100), kNow);
	}
	EXPECT_FALSE(s.choose(key(5), tiny, kNow)) << "RFC 8415 §21.13 NoPrefixAvail expected";
	EXPECT_TRUE(s.choose(key(5), tiny, kNow + 101)) << "expired leases must free their prefix";
	auto excluded = [&](const Ipv6Prefix &) { return true; };
	EXPECT_FALSE(s.choose(key(6), tiny, kNow + 101, excluded));
}

TEST_F(LeaseStoreTest, CompactionKeepsWhatMattersAndShrinks)
{
	{
		LeaseStore s(path_);
		for (int round = 0; round < 20; round++) // renewals pile up lines
			for (uint8_t c = 1; c <= 10; c++)
				s.bind(lease(key(c), pool_.at(c), kNow + 3600 + round), kNow);
		s.bind(lease(key(11), pool_.at(11), kNow - 10 * 86400), kNow - 11 * 86400);
		s.commit();
		EXPECT_EQ(s.journal_lines(), 201u);
		s.compact(kNow, 86400);
		EXPECT_EQ(s.journal_lines(), 10u);
		EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
	}
	LeaseStore s(path_);
	EXPECT_EQ(s.leases().size(), 10u);
	EXPECT_EQ(s.find(key(3))->expires, kNow + 3600 + 19);
	EXPECT_FALSE(s.find(key(11))) << "a lease ended ten days ago should be forgotten";
}

// kill -9 while grants stream to disk: every grant the child reported as
// committed (its Reply could have left) is there after a restart, and no
// prefix is delegated twice.
TEST_F(LeaseStoreTest, KillNineLosesNothingCommitted)
{
	int pipefd[2];
	ASSERT_EQ(pipe(pipefd), 0);
	pid_t child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		close(pipefd[0]);
		LeaseStore s(path_);
		for (uint32_t i = 0;; i++) {
			LeaseKey k = key(uint8_t(i % 251), i);
			auto p = s.choose(k, pool_, kNow);
			if (!p)
				_exit(0);
			s.bind(lease(k, *p), kNow);
			if (i % 8 == 7) { // group commit, then "send" the replies
				s.commit();
				uint32_t upto = i;
				if (write(pipefd[1], &upto, sizeof(upto)) != sizeof(upto))
					_exit(1);
			}
		}
	}
	close(pipefd[1]);
	uint32_t reported = 0, got = 0;
	int batches = 0;
	while (batches < 200 && read(pipefd[0], &got, sizeof(got)) == sizeof(got)) {
		reported = got;
		batches++;
	}
	kill(child, SIGKILL);
	waitpid(child, nullptr, 0);
	close(pipefd[0]);
	ASSERT_GE(batches, 200) << "the child stopped early";

	LeaseStore s(path_);
	for (uint32_t i = 0; i <= reported; i++)
		ASSERT_TRUE(s.find(key(uint8_t(i % 251), i))) << "grant " << i << " lost";
	std::set<Ipv6Prefix> prefixes;
	for (const Lease &l : s.leases())
		EXPECT_TRUE(prefixes.insert(l.prefix).second) << l.prefix.str() << " delegated twice";
}

} // namespace
} // namespace umigame::dhcp6d
