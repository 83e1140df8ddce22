// The epoll loop; see event_loop.h.
//
// Timers: a deadline-ordered set feeding epoll_wait's timeout, rather than a
// timerfd per timer. A daemon may hold one timer per lease or binding (a
// delegating router: thousands), and a set costs no file descriptor and no
// syscall to arm or cancel, O(log n) either way. epoll_wait counts in
// milliseconds; we round the wait up, so a timer never fires early and the
// loop never spins on a sub-millisecond remainder. The timers these daemons
// run (RFC 8415 retransmissions, lifetimes, IKE rekeys) are coarse enough.
#include "umigame/event_loop.h"

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <csignal>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace umigame {

void UniqueFd::reset(int fd)
{
	if (fd_ >= 0)
		::close(fd_);
	fd_ = fd;
}

void request_receive_buffer(int fd, int bytes)
{
	if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0)
		::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

namespace {
[[noreturn]] void throw_errno(const std::string &what)
{
	throw std::system_error(errno, std::generic_category(), what);
}

uint32_t epoll_events_for(IoInterest interest)
{
	uint32_t events = 0;
	if (static_cast<uint8_t>(interest) & static_cast<uint8_t>(IoInterest::read))
		events |= EPOLLIN;
	if (static_cast<uint8_t>(interest) & static_cast<uint8_t>(IoInterest::write))
		events |= EPOLLOUT;
	return events;
}
} // namespace

namespace detail {

// Callbacks are held by shared_ptr: the dispatcher keeps its own reference
// while calling, so unregistering from inside the callback does not destroy
// the std::function that is running.
struct LoopCore {
	struct FdEntry {
		int fd;
		std::function<void(IoReady)> callback;
	};
	struct TimerEntry {
		EventLoop::TimePoint deadline;
		EventLoop::Duration interval; // zero: one-shot
		std::function<void()> callback;
	};
	struct SignalEntry {
		uint64_t id;
		bool was_blocked;
		std::shared_ptr<std::function<void()>> callback;
	};

	UniqueFd epoll;
	bool stop_requested = false;
	// Shared by all registrations and never reused: an epoll event fetched
	// for a watch that a callback has since replaced (same fd number) finds
	// no entry under its old id and is dropped.
	uint64_t next_id = 1;

	std::unordered_map<uint64_t, std::shared_ptr<FdEntry>> fds;
	std::unordered_map<uint64_t, std::shared_ptr<TimerEntry>> timers;
	std::set<std::pair<EventLoop::TimePoint, uint64_t>> timer_queue;

	std::map<int, SignalEntry> signals;
	sigset_t signal_mask{};
	UniqueFd signal_fd;
	uint64_t signal_fd_id = 0;

	~LoopCore()
	{
		// Signals stay blocked only as long as the loop reads them.
		while (!signals.empty())
			remove_signal(signals.begin()->second.id);
	}

	void remove_fd(uint64_t id)
	{
		auto it = fds.find(id);
		if (it == fds.end())
			return;
		// Fails harmlessly (EBADF) when the owner closed the fd first.
		::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, it->second->fd, nullptr);
		fds.erase(it);
	}

	void remove_timer(uint64_t id)
	{
		auto it = timers.find(id);
		if (it == timers.end())
			return;
		timer_queue.erase({it->second->deadline, id});
		timers.erase(it);
	}

	void remove_signal(uint64_t id)
	{
		auto it = signals.begin();
		while (it != signals.end() && it->second.id != id)
			++it;
		if (it == signals.end())
			return;
		const int signo = it->first;
		const bool was_blocked = it->second.was_blocked;
		signals.erase(it);
		sigdelset(&signal_mask, signo);
		if (signal_fd)
			::signalfd(signal_fd.get(), &signal_mask, SFD_NONBLOCK | SFD_CLOEXEC);
		if (was_blocked)
			return;
		// Discard what arrived since the last dispatch, then unblock: an
		// instance left pending would otherwise get the default action
		// (for SIGTERM: death) the moment it is unblocked.
		sigset_t one;
		sigemptyset(&one);
		sigaddset(&one, signo);
		const timespec zero{};
		while (::sigtimedwait(&one, nullptr, &zero) == signo) {
		}
		::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
	}

	void dispatch_signals()
	{
		std::array<signalfd_siginfo, 8> infos;
		for (;;) {
			ssize_t n = ::read(signal_fd.get(), infos.data(), sizeof(infos));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return; // EAGAIN: drained
			const size_t count = size_t(n) / sizeof(signalfd_siginfo);
			for (size_t i = 0; i < count; ++i) {
				auto it = signals.find(int(infos[i].ssi_signo));
				if (it == signals.end())
					continue;
				auto callback = it->second.callback;
				(*callback)();
			}
		}
	}
};

LoopHandle::LoopHandle(LoopHandle &&other) noexcept
	: core_(std::move(other.core_)), kind_(other.kind_), id_(std::exchange(other.id_, 0))
{
}

LoopHandle &LoopHandle::operator=(LoopHandle &&other) noexcept
{
	if (this != &other) {
		reset();
		core_ = std::move(other.core_);
		kind_ = other.kind_;
		id_ = std::exchange(other.id_, 0);
	}
	return *this;
}

void LoopHandle::reset()
{
	auto c = core_.lock();
	core_.reset();
	if (!c || !id_)
		return;
	switch (kind_) {
	case HandleKind::fd: c->remove_fd(id_); break;
	case HandleKind::timer: c->remove_timer(id_); break;
	case HandleKind::signal: c->remove_signal(id_); break;
	}
	id_ = 0;
}

bool LoopHandle::active() const
{
	auto c = core_.lock();
	if (!c || !id_)
		return false;
	switch (kind_) {
	case HandleKind::fd: return c->fds.contains(id_);
	case HandleKind::timer: return c->timers.contains(id_);
	case HandleKind::signal:
		for (const auto &[signo, entry] : c->signals)
			if (entry.id == id_)
				return true;
		return false;
	}
	return false;
}

} // namespace detail

void FdWatch::set_interest(IoInterest interest)
{
	auto c = core();
	if (!c)
		throw std::logic_error("set_interest on an fd watch that is not active");
	auto it = c->fds.find(id());
	if (it == c->fds.end())
		throw std::logic_error("set_interest on an fd watch that is not active");
	epoll_event ev{};
	ev.events = epoll_events_for(interest);
	ev.data.u64 = id();
	if (::epoll_ctl(c->epoll.get(), EPOLL_CTL_MOD, it->second->fd, &ev) < 0)
		throw_errno("epoll_ctl(MOD) for fd " + std::to_string(it->second->fd));
}

EventLoop::EventLoop() : core_(std::make_shared<detail::LoopCore>())
{
	core_->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
	if (!core_->epoll)
		throw_errno("epoll_create1");
	sigemptyset(&core_->signal_mask);
}

EventLoop::~EventLoop() = default;

FdWatch EventLoop::watch(int fd, IoInterest interest, std::function<void(IoReady)> callback)
{
	for (const auto &[other_id, entry] : core_->fds)
		if (entry->fd == fd)
			throw std::logic_error("fd " + std::to_string(fd) + " is already watched");
	const uint64_t id = core_->next_id++;
	epoll_event ev{};
	ev.events = epoll_events_for(interest);
	ev.data.u64 = id;
	if (::epoll_ctl(core_->epoll.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
		throw_errno("watching fd " + std::to_string(fd));
	core_->fds.emplace(id, std::make_shared<detail::LoopCore::FdEntry>(
				       detail::LoopCore::FdEntry{fd, std::move(callback)}));
	return FdWatch(core_, detail::HandleKind::fd, id);
}

Timer EventLoop::after(Duration delay, std::function<void()> callback)
{
	return at(now() + delay, std::move(callback));
}

Timer EventLoop::at(TimePoint deadline, std::function<void()> callback)
{
	const uint64_t id = core_->next_id++;
	core_->timers.emplace(id, std::make_shared<detail::LoopCore::TimerEntry>(
					  detail::LoopCore::TimerEntry{deadline, Duration::zero(),
								       std::move(callback)}));
	core_->timer_queue.emplace(deadline, id);
	return Timer(core_, detail::HandleKind::timer, id);
}

Timer EventLoop::every(Duration interval, std::function<void()> callback)
{
	if (interval <= Duration::zero())
		throw std::invalid_argument("a repeating timer needs an interval above zero");
	const uint64_t id = core_->next_id++;
	const TimePoint deadline = now() + interval;
	core_->timers.emplace(id, std::make_shared<detail::LoopCore::TimerEntry>(
					  detail::LoopCore::TimerEntry{deadline, interval,
								       std::move(callback)}));
	core_->timer_queue.emplace(deadline, id);
	return Timer(core_, detail::HandleKind::timer, id);
}

SignalWatch EventLoop::on_signal(int signo, std::function<void()> callback)
{
	if (signo <= 0 || signo >= NSIG)
		throw std::invalid_argument("no such signal: " + std::to_string(signo));
	if (core_->signals.contains(signo))
		throw std::logic_error(std::string("signal ") + ::strsignal(signo) +
				       " already has a handler");
	sigset_t one, previous;
	sigemptyset(&one);
	sigaddset(&one, signo);
	// Blocked first: a signal arriving before the signalfd exists must wait
	// for it, not run the default action.
	if (int e = ::pthread_sigmask(SIG_BLOCK, &one, &previous); e != 0)
		throw std::system_error(e, std::generic_category(), "blocking a signal");
	const bool was_blocked = sigismember(&previous, signo) == 1;
	sigset_t mask = core_->signal_mask;
	sigaddset(&mask, signo);
	if (!core_->signal_fd) {
		UniqueFd fd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
		if (!fd) {
			int saved = errno;
			if (!was_blocked)
				::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
			errno = saved;
			throw_errno("signalfd");
		}
		const uint64_t fd_id = core_->next_id++;
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.u64 = fd_id;
		if (::epoll_ctl(core_->epoll.get(), EPOLL_CTL_ADD, fd.get(), &ev) < 0)
			throw_errno("watching the signalfd");
		core_->signal_fd = std::move(fd);
		core_->signal_fd_id = fd_id;
		// The signalfd is an internal fd watch: its callback is the
		// dispatcher, and it lives as long as the loop.
		detail::LoopCore *c = core_.get();
		core_->fds.emplace(fd_id, std::make_shared<detail::LoopCore::FdEntry>(
						  detail::LoopCore::FdEntry{
							  core_->signal_fd.get(),
							  [c](IoReady) { c->dispatch_signals(); }}));
	} else if (::signalfd(core_->signal_fd.get(), &mask, SFD_NONBLOCK | SFD_CLOEXEC) < 0) {
		throw_errno("signalfd");
	}
	core_->signal_mask = mask;
	const uint64_t id = core_->next_id++;
	core_->signals.emplace(
		signo, detail::LoopCore::SignalEntry{
			       id, was_blocked,
			       std::make_shared<std::function<void()>>(std::move(callback))});
	return SignalWatch(core_, detail::HandleKind::signal, id);
}

void EventLoop::run()
{
	while (!core_->stop_requested)
		run_once();
	core_->stop_requested = false;
}

void EventLoop::stop()
{
	core_->stop_requested = true;
}

void EventLoop::run_once(std::optional<Duration> max_wait)
{
	// Keep the core alive even if a callback somehow drops the loop.
	std::shared_ptr<detail::LoopCore> c = core_;

	std::optional<Duration> wait = max_wait;
	if (!c->timer_queue.empty()) {
		Duration until = c->timer_queue.begin()->first - now();
		if (until < Duration::zero())
			until = Duration::zero();
		if (!wait || until < *wait)
			wait = until;
	}
	int timeout_ms = -1;
	if (wait) {
		// Round up: waking before the deadline would only spin.
		auto ms = std::chrono::ceil<std::chrono::milliseconds>(*wait).count();
		timeout_ms = ms > INT_MAX ? INT_MAX : int(ms < 0 ? 0 : ms);
	}

	std::array<epoll_event, 64> events;
	int n = ::epoll_wait(c->epoll.get(), events.data(), int(events.size()), timeout_ms);
	if (n < 0) {
		if (errno != EINTR)
			throw_errno("epoll_wait");
		n = 0;
	}
	for (int i = 0; i < n && !c->stop_requested; ++i) {
		auto it = c->fds.find(events[i].data.u64);
		if (it == c->fds.end())
			continue; // unregistered by an earlier callback of this batch
		auto entry = it->second;
		const uint32_t e = events[i].events;
		entry->callback(IoReady{(e & EPOLLIN) != 0, (e & EPOLLOUT) != 0,
					(e & (EPOLLHUP | EPOLLRDHUP)) != 0, (e & EPOLLERR) != 0});
	}

	// Timers due now; ones that callbacks set meanwhile wait for the next
	// round, so a zero-delay timer re-arming itself cannot starve the fds.
	const TimePoint current = now();
	std::vector<uint64_t> due;
	for (const auto &[deadline, id] : c->timer_queue) {
		if (deadline > current)
			break;
		due.push_back(id);
	}
	for (uint64_t id : due) {
		if (c->stop_requested)
			break;
		auto it = c->timers.find(id);
		if (it == c->timers.end())
			continue; // cancelled by an earlier callback
		auto entry = it->second;
		c->timer_queue.erase({entry->deadline, id});
		if (entry->interval > Duration::zero()) {
			// Re-armed before the call: the callback may cancel it, and an
			// exception from the callback does not lose the timer.
			TimePoint next = entry->deadline + entry->interval;
			if (next <= current) {
				auto missed = (current - entry->deadline) / entry->interval;
				next = entry->deadline + (missed + 1) * entry->interval;
			}
			entry->deadline = next;
			c->timer_queue.emplace(next, id);
		} else {
			c->timers.erase(it);
		}
		entry->callback();
	}
}

} // namespace umigame
