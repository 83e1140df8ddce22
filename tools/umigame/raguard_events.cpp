#include "raguard_events.h"

namespace umigame {

std::vector<RaGuardSuppressedDelta> suppressed_since(const RaGuardSuppressed &before,
						     const RaGuardSuppressed &now)
{
	std::vector<RaGuardSuppressedDelta> out;
	for (const auto &[ifindex, counts] : now) {
		auto was = before.find(ifindex);
		RaGuardSuppressedDelta d;
		d.ifindex = ifindex;
		for (size_t r = 0; r < counts.size(); r++) {
			uint64_t base = was == before.end() ? 0 : was->second[r];
			d.by_reason[r] = counts[r] >= base ? counts[r] - base : counts[r];
			d.total += d.by_reason[r];
		}
		if (d.total)
			out.push_back(d);
	}
	return out;
}

std::string format_suppressed(const std::string &dev, const RaGuardSuppressedDelta &d)
{
	std::string line = "\u2026 and " + std::to_string(d.total) + " more " +
			   (dev.empty() ? std::string("on ports without a policy") : "on " + dev) +
			   " (event limit):";
	const char *sep = " ";
	for (size_t r = 0; r < d.by_reason.size(); r++) {
		if (!d.by_reason[r])
			continue;
		line += sep + std::string(raguard_reason_names[r]) + " " +
			std::to_string(d.by_reason[r]);
		sep = ", ";
	}
	return line;
}

std::string format_lost(uint64_t n)
{
	return "\u2026 and " + std::to_string(n) + " more, events lost: the ring buffer was full";
}

} // namespace umigame
