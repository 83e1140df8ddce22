// Router Solicitation and Router Advertisement (RFC 4861 §4.1, §4.2) as
// value types, with the options a requesting router announces downstream:
// Source Link-Layer Address and MTU (RFC 4861 §4.6), Prefix Information
// (§4.6.2), Recursive DNS Server and DNS Search List (RFC 8106 §5.1, §5.2),
// Route Information (RFC 4191 §2.3) and the captive-portal URI (RFC 8910
// §2.3). Router preference is RFC 4191 §2.2.
//
// The bytes are the ICMPv6 message (type, code, checksum ...) as a raw
// ICMPv6 socket reads and writes them: the kernel fills in and checks the
// checksum, so serialize() leaves it 0 and parse() does not look at it.
//
// parse() checks every length before reading and throws RaParseError for
// anything RFC 4861 §6.1 tells a router or host to silently discard; a
// peer's lengths and counts are never trusted.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "umigame/dhcp6/domain_name.h"
#include "umigame/net.h"

namespace umigame::dhcp6d {

class RaParseError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

inline constexpr uint8_t kIcmpRouterSolicitation = 133;
inline constexpr uint8_t kIcmpRouterAdvertisement = 134;

// RFC 4861 §4.6 option types, RFC 8106 §5.
enum NdOptionType : uint8_t {
	ND_OPT_SOURCE_LL = 1,
	ND_OPT_TARGET_LL = 2,
	ND_OPT_PREFIX_INFO = 3,
	ND_OPT_MTU = 5,
	ND_OPT_ROUTE_INFO = 24,
	ND_OPT_RDNSS = 25,
	ND_OPT_DNSSL = 31,
	ND_OPT_CAPTIVE_PORTAL = 37,
};

// RFC 4191 §2.2: the two-bit Prf field. 10 (reserved) is sent as medium
// and read as medium (§2.2: "MUST NOT be sent", treated as 00).
enum class RouterPreference : uint8_t { medium = 0, high = 1, low = 3 };

struct PrefixInformation {
	Ipv6Prefix prefix{};
	bool on_link = true;    // L
	bool autonomous = true; // A
	uint32_t valid_lifetime = 0;
	uint32_t preferred_lifetime = 0;
	bool operator==(const PrefixInformation &) const = default;
};

// RFC 4191 §2.3: "this prefix is reachable through me".
struct RouteInformation {
	Ipv6Prefix prefix{};
	RouterPreference preference = RouterPreference::medium;
	uint32_t lifetime = 0; // seconds; 0xffffffff = infinity
	bool operator==(const RouteInformation &) const = default;
};

struct Rdnss {
	uint32_t lifetime = 0;
	std::vector<Ipv6Address> servers{};
	bool operator==(const Rdnss &) const = default;
};

struct Dnssl {
	uint32_t lifetime = 0;
	std::vector<dhcp6::DomainName> domains{};
	bool operator==(const Dnssl &) const = default;
};

struct RouterSolicitation {
	std::optional<MacAddress> source_link_layer{};

	// RFC 4861 §6.1.1: code 0, ICMP length 8 or more, every option length
	// non-zero and inside the message. The hop limit (255) and the rule
	// that an unspecified source carries no SLLA need the IP header; the
	// receiver checks those.
	static RouterSolicitation parse(std::span<const uint8_t> icmp);
	std::vector<uint8_t> serialize() const;
	bool operator==(const RouterSolicitation &) const = default;
};

struct RouterAdvertisement {
	uint8_t cur_hop_limit = 64;
	bool managed = false; // M
	bool other = false;   // O
	RouterPreference preference = RouterPreference::medium;
	uint16_t router_lifetime = 0; // seconds; 0 = not a default router
	uint32_t reachable_time = 0;  // ms; 0 = unspecified
	uint32_t retrans_timer = 0;   // ms; 0 = unspecified
	std::optional<MacAddress> source_link_layer{};
	std::optional<uint32_t> mtu{};
	std::vector<PrefixInformation> prefixes{};
	std::vector<Rdnss> rdnss{};
	std::vector<Dnssl> dnssl{};
	std::vector<RouteInformation> routes{};
	// RFC 8910 §2.3: the captive portal API URI (sent NUL-padded).
	std::optional<std::string> captive_portal{};

	// RFC 4861 §6.1.2 length rules, plus each known option's own length
	// rule (§4.6.2: PIO length 4; RFC 8106 §5.1: RDNSS length odd and >= 3;
	// RFC 4191 §2.3: RIO length 1..3 and enough for the prefix length).
	// Unknown options are skipped (§4.6).
	static RouterAdvertisement parse(std::span<const uint8_t> icmp);
	// Throws std::invalid_argument for a prefix longer than 128 or a
	// domain name out of limits.
	std::vector<uint8_t> serialize() const;
	bool operator==(const RouterAdvertisement &) const = default;
};

} // namespace umigame::dhcp6d
