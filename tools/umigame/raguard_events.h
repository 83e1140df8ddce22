// `umigame raguard events`: what the reader says about drops it was sent no
// event for. The guard sends a port's drop events up to a limit (a burst,
// then a rate, per port) and counts the rest per reason; the reader turns
// the counts that moved while it watched into "… and N more" lines.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "raguard.h"

namespace umigame {

struct RaGuardSuppressedDelta {
	uint32_t ifindex = 0; // 0: ports without a policy
	uint64_t total = 0;
	std::array<uint64_t, UMIGAME_RAG_REASON_COUNT> by_reason{};
};

// The drops suppressed between two readings, per port, in ifindex order;
// ports without any are left out. A count that went down (the port was
// detached and guarded again) counts from zero.
std::vector<RaGuardSuppressedDelta> suppressed_since(const RaGuardSuppressed &before,
						     const RaGuardSuppressed &now);

// "… and 1200 more on lo (event limit): ra_untrusted_source 1000, nd_fragment 200"
// dev is the port's name ("" for ports without a policy).
std::string format_suppressed(const std::string &dev, const RaGuardSuppressedDelta &d);

// "… and 3 more, events lost: the ring buffer was full"
std::string format_lost(uint64_t n);

} // namespace umigame
