#include "umigame/event_loop.h"

#include <gtest/gtest.h>

#include <csignal>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

using namespace umigame;
using namespace std::chrono_literals;

namespace {

// Run the loop until stop() or the deadline; false when the deadline hit.
// The deadline is generous: a slow (sanitizer, loaded CI) machine must not
// fail a test that is only about ordering.
bool run_with_deadline(EventLoop &loop, EventLoop::Duration deadline = 5s)
{
	bool timed_out = false;
	Timer guard = loop.after(deadline, [&] {
		timed_out = true;
		loop.stop();
	});
	loop.run();
	return !timed_out;
}

struct SocketPair {
	UniqueFd a, b;
	SocketPair()
	{
		int fds[2];
		if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
			throw std::runtime_error("socketpair failed");
		a.reset(fds[0]);
		b.reset(fds[1]);
	}
};

} // namespace

TEST(EventLoop, TimersFireInDeadlineOrder)
{
	EventLoop loop;
	std::vector<int> fired;
	const auto start = EventLoop::now();
	std::vector<EventLoop::Duration> elapsed;
	auto record = [&](int n) {
		fired.push_back(n);
		elapsed.push_back(EventLoop::now() - start);
	};
	Timer t30 = loop.after(30ms, [&] { record(30); loop.stop(); });
	Timer t10 = loop.after(10ms, [&] { record(10); });
	Timer t20 = loop.after(20ms, [&] { record(20); });
	Timer t0 = loop.after(0ms, [&] { record(0); });
	ASSERT_TRUE(run_with_deadline(loop));
	EXPECT_EQ(fired, (std::vector<int>{0, 10, 20, 30}));
	ASSERT_EQ(elapsed.size(), 4u);
	// Never early; late only by scheduling noise.
	EXPECT_GE(elapsed[1], 10ms);
	EXPECT_GE(elapsed[2], 20ms);
	EXPECT_GE(elapsed[3], 30ms);
	EXPECT_LT(elapsed[3], 2s);
	EXPECT_FALSE(t10.active()); // one-shot: done once fired
}

TEST(EventLoop, SameDeadlineFiresInCreationOrder)
{
	EventLoop loop;
	std::vector<int> fired;
	const auto deadline = EventLoop::now() + 5ms;
	std::vector<Timer> timers;
	for (int i = 0; i < 5; ++i)
		timers.push_back(loop.at(deadline, [&fired, i] { fired.push_back(i); }));
	Timer done = loop.at(deadline, [&] { loop.stop(); });
	ASSERT_TRUE(run_with_deadline(loop));
	EXPECT_EQ(fired, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(EventLoop, RepeatingTimerCancelsItselfFromItsCallback)
{
	EventLoop loop;
	int count = 0;
	Timer tick;
	tick = loop.every(2ms, [&] {
		if (++count == 3)
			tick.reset(); // drops the running callback's own registration
	});
	Timer stopper = loop.after(50ms, [&] { loop.stop(); });
	ASSERT_TRUE(run_with_deadline(loop));
	EXPECT_EQ(count, 3);
	EXPECT_FALSE(tick.active());
}

TEST(EventLoop, CallbackCancelsAnotherDueTimer)
{
	EventLoop loop;
	bool second_fired = false;
	Timer second;
	const auto deadline = EventLoop::now() + 5ms;
	// Both are due in the same round; the first cancels the second.
	Timer first = loop.at(deadline, [&] { second.reset(); });
	second = loop.at(deadline, [&] { second_fired = true; });
	Timer stopper = loop.after(30ms, [&] { loop.stop(); });
	ASSERT_TRUE(run_with_deadline(loop));
	EXPECT_FALSE(second_fired);
}

TEST(EventLoop, CallbackReplacesItsOwnTimer)
{
	EventLoop loop;
	int count = 0;
	Timer retransmit;
	std::function<void()> arm = [&] {
		retransmit = loop.after(1ms, [&] {
			if (++count < 4)
				arm(); // assigning destroys the handle of the running timer
			else
				loop.stop();
		});
	};
	arm();
	ASSERT_TRUE(run_with_deadline(loop));
	EXPECT_EQ(count, 4);
}

TEST(EventLoop, DroppedHandleNeverFires)
{
	EventLoop loop;
	bool fired = false;
	{
		Timer t = loop.after(1ms, [&] { fired = true; });
	}
	Timer stopper = loop.after(20ms, [&] { loop.stop(); });
	ASSERT_TRUE(run_with_deadline(loop));
	EXPECT_FALSE(fired);
}

TEST(EventLoop, HandleOutlivesLoop)
{
	Timer t;
	FdWatch w;
	SocketPair sp;
	{
		EventLoop loop;
		t = loop.after(1h, [] {});
		w = loop.watch(sp.a.get(), IoInterest::read, [](IoReady) {});
		EXPECT_TRUE(t.active());
	}
	EXPECT_FALSE(t.active());
	t.reset(); // harmless
	w.reset();
}

TEST(EventLoop, RepeatingTimerNeedsAnInterval)
{
	EventLoop loop;
	EXPECT_THROW((void)loop.every(0ms, [] {}), std::invalid_argument);
}

TEST(EventLoop, FdReadiness)
{
	EventLoop loop;
	SocketPair sp;
	std::string received;
	FdWatch reader = loop.watch(sp.b.get(), IoInterest::read, [&](IoReady ready) {
		ASSERT_TRUE(ready.readable);
		char buf[64];
		ssize_t n = ::read(sp.b.get(), buf, sizeof(buf));
		ASSERT_GT(n, 0);
		received.append(buf, size_t(n));
		if (received == "hello")
			loop.stop();
	});
	Timer writer = loop.after(5ms, [&] { ASSERT_EQ(::write(sp.a.get(), "hello", 5), 5); });
	ASSERT_TRUE(run_with_deadline(loop));
	EXPECT_EQ(received, "hello");
}

TEST(EventLoop, WritableInterestAndHangup)
{
	EventLoop loop;
	SocketPair sp;
	bool writable = false, hangup = false;
	FdWatch w;
	w = loop.watch(sp.a.get(), IoInterest::write, [&](IoReady ready) {
		if (ready.writable && !writable) {
			writable = true;
			// Now wait only for the peer going away.
			w.set_interest(IoInterest::read);
			sp.b.reset();
			return;
		}
		if (ready.hangup || ready.readable) {
			hangup = true;
			w.reset();
			loop.stop();
		}
	});
	ASSERT_TRUE(run_with_deadline(loop));
	EXPECT_TRUE(writable);
	EXPECT_TRUE(hangup);
}

TEST(EventLoop, WatchRemovedByEarlierCallbackInSameBatch)
{
	EventLoop loop;
	SocketPair one, two;
	ASSERT_EQ(::write(one.a.get(), "x", 1), 1);
	ASSERT_EQ(::write(two.a.get(), "x", 1), 1);
	int calls = 0;
	FdWatch w1, w2;
	// Both are ready in the same epoll batch; whichever runs first drops
	// the other, which must then not be called.
	w1 = loop.watch(one.b.get(), IoInterest::read, [&](IoReady) {
		++calls;
		w1.reset();
		w2.reset();
	});
	w2 = loop.watch(two.b.get(), IoInterest::read, [&](IoReady) {
		++calls;
		w1.reset();
		w2.reset();
	});
	loop.run_once(100ms);
	EXPECT_EQ(calls, 1);
}

TEST(EventLoop, SecondWatchOnSameFdRefused)
{
	EventLoop loop;
	SocketPair sp;
	FdWatch w = loop.watch(sp.a.get(), IoInterest::read, [](IoReady) {});
	EXPECT_THROW((void)loop.watch(sp.a.get(), IoInterest::write, [](IoReady) {}),
		     std::logic_error);
	w.reset();
	FdWatch again = loop.watch(sp.a.get(), IoInterest::read, [](IoReady) {});
	EXPECT_TRUE(again.active());
}

TEST(EventLoop, SignalDelivery)
{
	EventLoop loop;
	int usr1 = 0, hup = 0;
	SignalWatch s1 = loop.on_signal(SIGUSR1, [&] { ++usr1; });
	SignalWatch s2 = loop.on_signal(SIGHUP, [&] {
		++hup;
		loop.stop();
	});
	Timer sender = loop.after(1ms, [] {
		::raise(SIGUSR1);
		::raise(SIGHUP);
	});
	ASSERT_TRUE(run_with_deadline(loop));
	EXPECT_EQ(usr1, 1);
	EXPECT_EQ(hup, 1);
	EXPECT_THROW((void)loop.on_signal(SIGUSR1, [] {}), std::logic_error);
}

TEST(EventLoop, DroppedSignalWatchDiscardsPendingAndUnblocks)
{
	{
		EventLoop loop;
		SignalWatch s = loop.on_signal(SIGUSR2, [] {});
		// Pending, never dispatched: dropping the watch must discard it
		// rather than let the default action (terminate) run on unblock.
		::raise(SIGUSR2);
	}
	sigset_t blocked;
	ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, nullptr, &blocked), 0);
	EXPECT_FALSE(sigismember(&blocked, SIGUSR2));
}

TEST(EventLoop, StopBeforeRunReturnsAtOnce)
{
	EventLoop loop;
	loop.stop();
	loop.run(); // must not block
	bool fired = false;
	Timer t = loop.after(1ms, [&] {
		fired = true;
		loop.stop();
	});
	ASSERT_TRUE(run_with_deadline(loop)); // and the loop runs again afterwards
	EXPECT_TRUE(fired);
}

TEST(EventLoop, ExceptionFromCallbackLeavesRunAndLoopStaysUsable)
{
	EventLoop loop;
	int ticks = 0;
	Timer tick = loop.every(1ms, [&] {
		if (++ticks == 2)
			throw std::runtime_error("boom");
		if (ticks == 4)
			loop.stop();
	});
	EXPECT_THROW(loop.run(), std::runtime_error);
	EXPECT_TRUE(tick.active()); // a repeating timer survives its exception
	ASSERT_TRUE(run_with_deadline(loop));
	EXPECT_EQ(ticks, 4);
}
