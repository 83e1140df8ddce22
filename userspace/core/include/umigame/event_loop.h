// The one event loop every umigame daemon runs on: single-threaded epoll with
// fd watches, timers on CLOCK_MONOTONIC and signals through a signalfd.
//
// Everything registered with the loop is owned by an RAII handle (FdWatch,
// Timer, SignalWatch): destroying or reset()ting the handle unregisters it.
// Callbacks may register and unregister anything, their own handle included;
// an unregistered callback is never called again, even when its event was
// already fetched in the same epoll batch. Handles may outlive the loop (they
// then do nothing), but callbacks must not outlive what they capture: keep
// the handle in the object the callback points into.
//
// An exception thrown by a callback leaves run() / run_once(); the loop stays
// consistent and may be run again.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace umigame {

// An owned file descriptor, closed when destroyed.
class UniqueFd {
public:
	UniqueFd() = default;
	explicit UniqueFd(int fd) : fd_(fd) {}
	UniqueFd(UniqueFd &&other) noexcept : fd_(other.release()) {}
	UniqueFd &operator=(UniqueFd &&other) noexcept
	{
		reset(other.release());
		return *this;
	}
	UniqueFd(const UniqueFd &) = delete;
	UniqueFd &operator=(const UniqueFd &) = delete;
	~UniqueFd() { reset(); }

	int get() const { return fd_; }
	explicit operator bool() const { return fd_ >= 0; }
	int release()
	{
		int fd = fd_;
		fd_ = -1;
		return fd;
	}
	void reset(int fd = -1);

private:
	int fd_ = -1;
};

// Asks for a receive buffer of `bytes` on a socket: beyond
// net.core.rmem_max (SO_RCVBUFFORCE) while the process has CAP_NET_ADMIN,
// else as much as rmem_max allows. Best effort: a daemon whose bursts
// would overflow the default is better off with what it gets than
// refusing to start.
void request_receive_buffer(int fd, int bytes);

// What an fd watch waits for. Errors and hangups are always reported.
enum class IoInterest : uint8_t { read = 1, write = 2, read_write = 3 };

// What epoll reported. A callback that sees hangup or error must deal with
// it (read the EOF, drop the watch): the loop is level-triggered and will
// report it again otherwise.
struct IoReady {
	bool readable = false;
	bool writable = false;
	bool hangup = false;
	bool error = false;
};

class EventLoop;

namespace detail {
struct LoopCore;
enum class HandleKind : uint8_t { fd, timer, signal };

// What the three handle types share: a weak reference to the loop, so a
// handle that outlives the loop is harmless, and a registration id that is
// never reused, so an old handle cannot cancel a newer registration.
class LoopHandle {
public:
	LoopHandle() = default;
	LoopHandle(LoopHandle &&other) noexcept;
	LoopHandle &operator=(LoopHandle &&other) noexcept;
	LoopHandle(const LoopHandle &) = delete;
	LoopHandle &operator=(const LoopHandle &) = delete;
	~LoopHandle() { reset(); }

	// Unregister now. Safe from any callback, including this one's own.
	void reset();
	// Still registered (for a one-shot timer: not fired yet).
	bool active() const;

protected:
	LoopHandle(std::weak_ptr<LoopCore> core, HandleKind kind, uint64_t id)
		: core_(std::move(core)), kind_(kind), id_(id)
	{
	}
	std::shared_ptr<LoopCore> core() const { return core_.lock(); }
	uint64_t id() const { return id_; }

private:
	std::weak_ptr<LoopCore> core_;
	HandleKind kind_ = HandleKind::fd;
	uint64_t id_ = 0;
};
} // namespace detail

// Keeps an fd watched. The fd itself stays the caller's: destroy the watch
// before closing the fd, or epoll may keep reporting a duplicate of it.
class FdWatch : public detail::LoopHandle {
public:
	FdWatch() = default;
	// Change what to wait for, e.g. add write while output is queued.
	void set_interest(IoInterest interest);

private:
	friend class EventLoop;
	using LoopHandle::LoopHandle;
};

class Timer : public detail::LoopHandle {
public:
	Timer() = default;

private:
	friend class EventLoop;
	using LoopHandle::LoopHandle;
};

class SignalWatch : public detail::LoopHandle {
public:
	SignalWatch() = default;

private:
	friend class EventLoop;
	using LoopHandle::LoopHandle;
};

class EventLoop {
public:
	// std::chrono::steady_clock is CLOCK_MONOTONIC on Linux: protocol timers
	// must not jump when an operator or NTP sets the wall clock.
	using Clock = std::chrono::steady_clock;
	using TimePoint = Clock::time_point;
	using Duration = Clock::duration;

	EventLoop();
	~EventLoop();
	EventLoop(const EventLoop &) = delete;
	EventLoop &operator=(const EventLoop &) = delete;

	// Call `callback` whenever `fd` is ready for `interest` (level-triggered).
	// One watch per fd: a second one is refused with std::logic_error.
	[[nodiscard]] FdWatch watch(int fd, IoInterest interest,
				    std::function<void(IoReady)> callback);

	// One-shot timers: fire once at or after the deadline (never before; late
	// by up to a millisecond plus scheduling, as epoll_wait counts in ms —
	// event_loop.cpp says why timers are an ordered set, not timerfds).
	// Timers due at the same time fire in the order they were set.
	[[nodiscard]] Timer after(Duration delay, std::function<void()> callback);
	[[nodiscard]] Timer at(TimePoint deadline, std::function<void()> callback);
	// Repeating timer, first after one interval. Periods missed because the
	// loop was busy are skipped, not fired in a burst. interval must be > 0.
	[[nodiscard]] Timer every(Duration interval, std::function<void()> callback);

	// Deliver `signo` through the loop: it is blocked in the calling thread
	// (so create signal watches before starting any thread — we have none)
	// and read from a signalfd. One watch per signal. Destroying the watch
	// discards a still-pending instance and restores the signal's blocked
	// state, so a late SIGTERM cannot kill the process during shutdown.
	// Daemons register SIGTERM/SIGINT -> stop() and SIGHUP -> reload.
	[[nodiscard]] SignalWatch on_signal(int signo, std::function<void()> callback);

	// Dispatch events until stop(). stop() may come from any callback; run()
	// returns after the callback that called it. A stop() before run() makes
	// run() return at once.
	void run();
	void stop();
	// One round: wait up to max_wait (nullopt: until the next timer or event)
	// for events, dispatch them, fire the timers that are due.
	void run_once(std::optional<Duration> max_wait = std::nullopt);

	static TimePoint now() { return Clock::now(); }

private:
	std::shared_ptr<detail::LoopCore> core_;
};

} // namespace umigame
