#include "umigame/iked/selectors.h"

#include <sys/socket.h>

#include <algorithm>

namespace umigame::iked {

using ike::TrafficSelector;
using ike::TsType;

TrafficSelector selector_for(const IpPrefix &prefix, uint8_t ip_protocol)
{
	TrafficSelector ts;
	ts.type = prefix.address.is_v4() ? TsType::IPv4_ADDR_RANGE : TsType::IPv6_ADDR_RANGE;
	ts.ip_protocol = ip_protocol;
	ts.start_port = 0;
	ts.end_port = 65535;
	ts.start = prefix.first();
	ts.end = prefix.last();
	return ts;
}

std::optional<TrafficSelector> intersect(const TrafficSelector &a, const TrafficSelector &b)
{
	if (a.type != b.type || a.start.family != b.start.family)
		return std::nullopt;
	TrafficSelector out = a;
	if (a.ip_protocol && b.ip_protocol && a.ip_protocol != b.ip_protocol)
		return std::nullopt;
	out.ip_protocol = a.ip_protocol ? a.ip_protocol : b.ip_protocol;
	out.start_port = std::max(a.start_port, b.start_port);
	out.end_port = std::min(a.end_port, b.end_port);
	// §3.13.1: start > end (e.g. OPAQUE, 65535..0) matches no port here.
	if (out.start_port > out.end_port)
		return std::nullopt;
	out.start = std::max(a.start, b.start);
	out.end = std::min(a.end, b.end);
	if (out.start > out.end)
		return std::nullopt;
	return out;
}

std::vector<TrafficSelector> narrow(const std::vector<TrafficSelector> &offered,
				    const std::vector<TrafficSelector> &allowed)
{
	std::vector<TrafficSelector> out;
	for (const auto &o : offered)
		for (const auto &a : allowed)
			if (auto i = intersect(o, a))
				if (std::find_if(out.begin(), out.end(), [&](const TrafficSelector &x) {
					    return x.start == i->start && x.end == i->end &&
						   x.ip_protocol == i->ip_protocol &&
						   x.start_port == i->start_port && x.end_port == i->end_port;
				    }) == out.end())
					out.push_back(*i);
	return out;
}

bool within(const std::vector<TrafficSelector> &answer, const std::vector<TrafficSelector> &offered)
{
	if (answer.empty())
		return false;
	for (const auto &ts : answer) {
		bool inside = false;
		for (const auto &o : offered) {
			if (o.type != ts.type || (o.ip_protocol && o.ip_protocol != ts.ip_protocol))
				continue;
			inside |= ts.start >= o.start && ts.end <= o.end && ts.start_port >= o.start_port &&
				  ts.end_port <= o.end_port;
		}
		if (!inside)
			return false;
	}
	return true;
}

namespace {

bool bit(const IpAddress &a, unsigned i)
{
	return a.bytes[i / 8] & (0x80 >> (i % 8));
}

// Adds one to an address (within its family); false on overflow.
bool increment(IpAddress &a)
{
	for (int i = static_cast<int>(a.size()) - 1; i >= 0; i--)
		if (++a.bytes[static_cast<size_t>(i)] != 0)
			return true;
	return false;
}

} // namespace

std::optional<std::vector<IpPrefix>> range_to_prefixes(const IpAddress &start, const IpAddress &end, size_t max)
{
	std::vector<IpPrefix> out;
	if (start.family != end.family || start > end)
		return out;
	unsigned width = static_cast<unsigned>(start.size() * 8);
	IpAddress cur = start;
	for (;;) {
		// The largest aligned block at `cur` that does not pass `end`.
		unsigned len = width;
		while (len > 0) {
			unsigned host = width - len + 1; // try one bit shorter
			// cur must have its low `host` bits clear ...
			bool aligned = true;
			for (unsigned i = width - host; i < width && aligned; i++)
				aligned = !bit(cur, i);
			if (!aligned)
				break;
			IpPrefix candidate{cur, static_cast<uint8_t>(len - 1)};
			// ... and the block must end at or before `end`.
			if (candidate.last() > end)
				break;
			len--;
		}
		IpPrefix p{cur, static_cast<uint8_t>(len)};
		out.push_back(p);
		if (out.size() > max)
			return std::nullopt;
		IpAddress next = p.last();
		if (next >= end || !increment(next))
			break;
		cur = next;
	}
	return out;
}

std::optional<PortMatch> port_match(uint16_t start, uint16_t end)
{
	if (start == 0 && end == 65535)
		return PortMatch{0, 0};
	if (start == end)
		return PortMatch{start, 0xffff};
	return std::nullopt;
}

std::string to_string(const TrafficSelector &ts)
{
	std::string s;
	auto prefixes = range_to_prefixes(ts.start, ts.end, 4);
	if (prefixes && prefixes->size() == 1)
		s = prefixes->front().str();
	else
		s = ts.start.str() + ".." + ts.end.str();
	if (ts.ip_protocol)
		s += "[" + std::to_string(ts.ip_protocol);
	if (ts.start_port != 0 || ts.end_port != 65535)
		s += std::string(ts.ip_protocol ? "/" : "[any/") + std::to_string(ts.start_port) +
		     (ts.start_port == ts.end_port ? "" : "-" + std::to_string(ts.end_port));
	if (ts.ip_protocol || ts.start_port != 0 || ts.end_port != 65535)
		s += "]";
	return s;
}

} // namespace umigame::iked
