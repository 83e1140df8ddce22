// Traffic selectors (RFC 7296 §2.9, §3.13.1): what a CHILD_SA carries,
// as address ranges, and how a responder narrows what it is offered to
// what its policy allows.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "umigame/ike/message.h"
#include "umigame/net.h"

namespace umigame::iked {

// A configured selector list: prefixes, one protocol, any port.
ike::TrafficSelector selector_for(const IpPrefix &prefix, uint8_t ip_protocol);

// The part of `a` that is also in `b`, if any (same family; protocol 0
// matches any; port ranges and address ranges intersect).
std::optional<ike::TrafficSelector> intersect(const ike::TrafficSelector &a, const ike::TrafficSelector &b);

// §2.9 narrowing: every non-empty intersection of an offered selector
// with an allowed one, in the order offered. Empty: TS_UNACCEPTABLE.
std::vector<ike::TrafficSelector> narrow(const std::vector<ike::TrafficSelector> &offered,
					 const std::vector<ike::TrafficSelector> &allowed);

// The initiator's check of the responder's answer: each returned selector
// must lie within what was offered (§2.9: the responder may only narrow).
bool within(const std::vector<ike::TrafficSelector> &answer,
	    const std::vector<ike::TrafficSelector> &offered);

// The fewest prefixes that cover a selector's address range exactly (XFRM
// policies match prefixes, a selector is a range). Bounded: a range that
// needs more than `max` prefixes gives nullopt.
std::optional<std::vector<IpPrefix>> range_to_prefixes(const IpAddress &start, const IpAddress &end,
						       size_t max = 64);

// An XFRM selector matches one port or all (a mask): narrow a selector's
// port range to what the kernel can enforce, or nullopt when it cannot.
struct PortMatch {
	uint16_t port = 0, mask = 0;
};
std::optional<PortMatch> port_match(uint16_t start, uint16_t end);

std::string to_string(const ike::TrafficSelector &ts);

} // namespace umigame::iked
