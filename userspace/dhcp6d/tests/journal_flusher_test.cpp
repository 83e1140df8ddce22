// The pipelined group commit: order kept, hand-overs made during a flush
// coalesced into the next one, nothing reported durable before it was
// written, failures retried, and the thread never takes a signal.
#include "umigame/dhcp6d/journal_flusher.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <pthread.h>

#include <gtest/gtest.h>

using namespace umigame;
using namespace umigame::dhcp6d;
using namespace std::chrono_literals;

namespace {

// Runs the loop until pred() holds, at most 5 s.
template <class Pred> bool run_until(EventLoop &loop, Pred pred)
{
	const auto deadline = EventLoop::now() + 5s;
	while (!pred() && EventLoop::now() < deadline)
		loop.run_once(10ms);
	return pred();
}

struct Disk {
	std::mutex mutex;
	std::vector<std::string> writes;
	std::string content;
	std::atomic<bool> hold{false};
	std::atomic<int> fail_next{0};
	std::atomic<bool> signals_blocked{true};

	void write(const std::string &bytes)
	{
		sigset_t mask;
		pthread_sigmask(SIG_BLOCK, nullptr, &mask);
		if (!sigismember(&mask, SIGTERM) || !sigismember(&mask, SIGHUP))
			signals_blocked = false;
		while (hold)
			std::this_thread::sleep_for(1ms);
		if (fail_next > 0) {
			fail_next--;
			throw std::runtime_error("disk full");
		}
		std::lock_guard lock(mutex);
		writes.push_back(bytes);
		content += bytes;
	}
};

} // namespace

TEST(JournalFlusher, ReportsInOrderOnlyWhatIsWritten)
{
	EventLoop loop;
	Disk disk;
	std::vector<uint64_t> reported;
	JournalFlusher flusher(
		loop, [&](const std::string &b) { disk.write(b); }, [&](uint64_t t) { reported.push_back(t); });
	disk.hold = true;
	EXPECT_EQ(flusher.submit("a\n"), 1u);
	EXPECT_EQ(flusher.submit("b\n"), 2u);
	loop.run_once(50ms);
	EXPECT_TRUE(reported.empty()) << "reported before the write finished";
	EXPECT_EQ(flusher.durable(), 0u);
	EXPECT_EQ(flusher.submit("c\n"), 3u);
	disk.hold = false;
	ASSERT_TRUE(run_until(loop, [&] { return flusher.durable() == 3; }));
	EXPECT_EQ(disk.content, "a\nb\nc\n");
	// Three hand-overs, at most two flushes: what came during one flush
	// went to disk together in the next.
	EXPECT_LE(disk.writes.size(), 2u);
	for (size_t i = 1; i < reported.size(); i++)
		EXPECT_LT(reported[i - 1], reported[i]);
	EXPECT_TRUE(disk.signals_blocked) << "the flusher thread could take SIGTERM/SIGHUP";
}

TEST(JournalFlusher, FailedWriteIsRetriedInOrder)
{
	EventLoop loop;
	Disk disk;
	JournalFlusher flusher(loop, [&](const std::string &b) { disk.write(b); }, [](uint64_t) {});
	disk.fail_next = 1;
	flusher.submit("first\n");
	ASSERT_TRUE(run_until(loop, [&] { return flusher.failures() == 1; }));
	EXPECT_EQ(flusher.durable(), 0u);
	flusher.submit("second\n");
	ASSERT_TRUE(run_until(loop, [&] { return flusher.durable() == 2; }));
	EXPECT_EQ(disk.content, "first\nsecond\n");
}

TEST(JournalFlusher, DrainWaitsAndReports)
{
	EventLoop loop;
	Disk disk;
	uint64_t last = 0;
	JournalFlusher flusher(loop, [&](const std::string &b) { disk.write(b); }, [&](uint64_t t) { last = t; });
	for (int i = 0; i < 100; i++)
		flusher.submit("line " + std::to_string(i) + "\n");
	EXPECT_TRUE(flusher.drain(5s));
	EXPECT_EQ(last, 100u); // reported by drain itself, no loop turn needed
	disk.hold = true;
	flusher.submit("stuck\n");
	EXPECT_FALSE(flusher.drain(50ms));
	disk.hold = false;
}
