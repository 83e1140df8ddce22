// The last N durations of something the daemon does often (installing a
// CHILD_SA in the kernel), for p50/p99 in `umigame ike show --json`. A
// fixed ring: a daemon that runs for months keeps the recent behaviour,
// not an ever-growing history, and adding a sample never allocates.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace umigame::iked {

class LatencySamples {
public:
	static constexpr size_t kKept = 4096;

	void add(std::chrono::nanoseconds d)
	{
		ring_[total_ % kKept] = static_cast<uint64_t>(std::max<int64_t>(d.count(), 0));
		total_++;
	}

	// Microseconds; percentiles of the kept samples (nearest rank).
	nlohmann::json json() const
	{
		size_t n = std::min<uint64_t>(total_, kKept);
		std::vector<uint64_t> v(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(n));
		std::sort(v.begin(), v.end());
		auto pct = [&](double q) {
			return n ? static_cast<double>(v[static_cast<size_t>(q * static_cast<double>(n - 1))]) / 1000.0
				 : 0.0;
		};
		return {{"samples", n},
			{"total", total_},
			{"p50_us", pct(0.5)},
			{"p99_us", pct(0.99)},
			{"max_us", n ? static_cast<double>(v.back()) / 1000.0 : 0.0}};
	}

private:
	std::array<uint64_t, kKept> ring_{};
	uint64_t total_ = 0;
};

} // namespace umigame::iked
