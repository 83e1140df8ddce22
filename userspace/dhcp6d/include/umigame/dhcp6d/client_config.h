// The requesting router's configuration: the [client] table of
// umigame-dhcp6d's file (docs/dhcp6.md, "Requesting router").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "umigame/config.h"
#include "umigame/dhcp6/domain_name.h"
#include "umigame/dhcp6d/ra_message.h"
#include "umigame/net.h"

namespace umigame::dhcp6d {

// One IA_PD to ask for (RFC 8415 §21.21).
struct PrefixRequest {
	uint32_t iaid = 0;
	// The prefix length to hint in an IA Prefix option (§18.2.1); 0 = none.
	uint8_t length_hint = 0;
	bool operator==(const PrefixRequest &) const = default;
};

// A LAN interface that gets a piece of a delegated prefix.
struct Downstream {
	std::string interface{};
	uint32_t iaid = 0;     // which IA_PD to carve from
	uint8_t length = 64;   // the length of the piece
	// The piece's number inside the delegated prefix; nullopt = automatic
	// (the first number no other downstream of that IA has asked for).
	std::optional<uint64_t> subnet_id{};
	bool operator==(const Downstream &) const = default;
};

// RFC 4861 §6.2.1 router configuration variables, RFC 4191 and RFC 8106.
struct RaConfig {
	bool enabled = true;
	uint32_t min_interval = 200;   // MinRtrAdvInterval, s
	uint32_t max_interval = 600;   // MaxRtrAdvInterval, s
	uint16_t router_lifetime = 1800; // AdvDefaultLifetime, s (3 x max)
	RouterPreference preference = RouterPreference::medium;
	std::optional<uint32_t> mtu{}; // AdvLinkMTU; absent = do not announce
	std::vector<Ipv6Address> dns_servers{}; // added to the DHCPv6 ones
	std::vector<dhcp6::DomainName> search_domains{};
	// RFC 8910: the captive portal API URI to announce; absent = pass on
	// the upstream's, "" = announce none.
	std::optional<std::string> captive_portal{};
	// RFC 7084 L-6, L-7: the Prefix Information's L and A flags, 1 unless
	// configured otherwise.
	bool on_link = true;
	bool autonomous = true;
	// RFC 7084 L-9: the O flag says "ask DHCPv6 for other configuration";
	// absent: set when this daemon's [server] answers on a downstream
	// interface (RFC 3736 stateless service), clear otherwise. M stays 0:
	// the LAN's addresses come from SLAAC.
	std::optional<bool> other_config{};
	bool operator==(const RaConfig &) const = default;
};

// RFC 7084 ULA-1..3: a Unique Local prefix (RFC 4193) for the LAN, so
// hosts keep stable addresses for local traffic whatever the ISP does.
struct UlaConfig {
	bool enabled = true;
	// Configured (ULA-3); absent = generated once (RFC 4193 §3.2.2) and
	// kept in the state directory (ULA-2).
	std::optional<Ipv6Prefix> prefix{};
	// RFC 4861 §6.2.1 defaults for a prefix of our own.
	uint32_t valid_lifetime = 2592000;    // 30 days
	uint32_t preferred_lifetime = 604800; // 7 days
	bool operator==(const UlaConfig &) const = default;
};

struct ClientConfig {
	std::string interface; // upstream
	std::vector<PrefixRequest> prefixes;
	std::optional<uint32_t> address_iaid; // IA_NA (§21.4) when set
	bool rapid_commit = false;            // §21.14
	bool reconfigure_accept = true;       // §21.20
	bool address_selection = true;        // apply RFC 7078 policy
	bool duid_llt = false;                // DUID-LLT instead of DUID-LL (§11)
	// Take the WAN default router from RAs (RFC 7084 W-3): a forwarding
	// interface ignores RAs unless accept_ra is 2, which we set at start.
	bool accept_ra = true;
	// RFC 7084 WAA-6: when the ISP's RAs set M, ask for an address too
	// (IA_NA, IAID 0) though [client.address] is absent.
	bool address_when_managed = true;
	// RFC 8415 §18.2.7: give the leases back when the daemon stops. RFC 9096
	// (WPD-9) would rather a CE router did not, so that a restart
	// keeps the LAN's prefix: false keeps them (saved, rebound at start).
	bool release_on_stop = true;
	std::vector<Downstream> downstream;
	RaConfig ra;
	UlaConfig ula;
	bool operator==(const ClientConfig &) const = default;
};

// RFC 8910/8908: an https URI or the "unrestricted" URN, printable ASCII.
bool valid_captive_portal_uri(const std::string &uri);

// Reads the [client] table; throws ConfigError naming file:line.
ClientConfig parse_client_config(ConfigTable &table);

} // namespace umigame::dhcp6d
