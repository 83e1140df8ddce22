#include "umigame/dhcp6d/journal_flusher.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "umigame/log.h"

namespace umigame::dhcp6d {

JournalFlusher::JournalFlusher(EventLoop &loop, std::function<void(const std::string &)> write_durably,
			       std::function<void(uint64_t)> on_durable)
	: loop_(loop), write_durably_(std::move(write_durably)), on_durable_(std::move(on_durable))
{
	event_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	if (!event_)
		throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
	watch_ = loop_.watch(event_.get(), IoInterest::read, [this](IoReady) {
		uint64_t count;
		while (::read(event_.get(), &count, sizeof(count)) == sizeof(count)) {
		}
		report();
	});
	// Signals belong to the loop's signalfd: the thread must never take
	// one (the daemon may create this before it blocks them).
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	thread_ = std::thread([this] { run(); });
	pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

JournalFlusher::~JournalFlusher()
{
	{
		std::unique_lock lock(mutex_);
		stopping_ = true;
	}
	wake_.notify_one();
	thread_.join();
}

uint64_t JournalFlusher::submit(std::string bytes)
{
	const uint64_t ticket = ++submitted_;
	{
		std::unique_lock lock(mutex_);
		queue_ += bytes;
		queued_ticket_ = ticket;
	}
	wake_.notify_one();
	return ticket;
}

uint64_t JournalFlusher::failures() const
{
	std::unique_lock lock(mutex_);
	return failures_;
}

bool JournalFlusher::drain(std::chrono::milliseconds limit)
{
	bool done;
	{
		std::unique_lock lock(mutex_);
		done = idle_.wait_for(lock, limit, [this] { return durable_ticket_ == submitted_; });
	}
	report();
	return done;
}

void JournalFlusher::report()
{
	uint64_t durable;
	{
		std::unique_lock lock(mutex_);
		durable = durable_ticket_;
	}
	if (durable == reported_)
		return;
	reported_ = durable;
	on_durable_(durable);
}

void JournalFlusher::run()
{
	std::unique_lock lock(mutex_);
	for (;;) {
		wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
		if (queue_.empty())
			return; // stopping, and nothing left to write
		std::string bytes = std::move(queue_);
		queue_.clear();
		const uint64_t ticket = queued_ticket_;
		lock.unlock();
		bool ok = true;
		try {
			write_durably_(bytes);
		} catch (const std::exception &e) {
			ok = false;
			log::error(std::string("lease journal: ") + e.what() +
				   "; the replies that depend on it are held, retrying in 1 s");
		}
		lock.lock();
		if (!ok) {
			failures_++;
			if (stopping_) {
				log::error("lease journal: giving up at shutdown; " + std::to_string(bytes.size()) +
					   " bytes not written (no reply promised them)");
				return;
			}
			// Keep the order: what failed goes before what came since.
			queue_.insert(0, bytes);
			wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
			continue;
		}
		durable_ticket_ = ticket;
		idle_.notify_all();
		const uint64_t one = 1;
		if (::write(event_.get(), &one, sizeof(one)) < 0 && errno != EAGAIN)
			log::warning(std::string("flusher eventfd: ") + std::strerror(errno));
	}
}

} // namespace umigame::dhcp6d
