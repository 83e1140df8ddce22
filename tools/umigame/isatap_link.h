// umigame.ko's ISATAP link (include/umigame/isatap.h) over rtnetlink: the
// RTM_NEWLINK that sets a link's Potential Router List (iproute2 sends no
// IFLA_INFO_DATA for a kind it does not know), and the PRL read from a link
// core's parser returned.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "umigame/rtnetlink.h"

namespace umigame::cli {

struct IsatapPrlEntry {
	uint32_t address = 0;  // IPv4, network order
	uint32_t lifetime = 0; // seconds the entry stays listed, 0: for ever
};

struct IsatapRouter {
	std::string address;          // dotted quad
	uint32_t lifetime = 0;        // seconds left, 0: no end
	std::string state;            // solicit, reachable, unreachable, expired, "?"
	uint32_t router_lifetime = 0; // of its last RA
	uint32_t rs_sent = 0, ra_received = 0;
};

struct IsatapLink {
	std::string local; // the link's IPv4 locator (RFC 5214 §6.2)
	std::vector<IsatapRouter> prl;
};

// "A.B.C.D [lifetime SECS] ..." into entries; UsageError on anything else,
// on a duplicate router or past UMIGAME_ISATAP_PRL_MAX.
std::vector<IsatapPrlEntry> parse_prl_args(const std::vector<std::string> &args);

// RTM_NEWLINK for an existing link: kind and the PRL, which replaces the
// link's (empty: no router).
NetlinkMessage isatap_prl_request(uint32_t ifindex, const std::vector<IsatapPrlEntry> &prl);

// The ISATAP part of a link core's parser read (its IFLA_ADDRESS and
// IFLA_INFO_DATA); nullopt: not a link of our kind. Throws
// NetlinkParseError at an attribute whose length lies.
std::optional<IsatapLink> isatap_of(const Link &link);

} // namespace umigame::cli
