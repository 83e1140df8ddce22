// DHCPv6 numbers: message types, option codes, status codes and the few
// protocol constants a client or server needs next to the wire format.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "umigame/net.h"

namespace umigame::dhcp6 {

// RFC 8415 §7.3. Any other value is kept as is: a message of an unknown type
// still parses with the client/server layout of §8.
enum class MessageType : uint8_t {
	Solicit = 1,
	Advertise = 2,
	Request = 3,
	Confirm = 4,
	Renew = 5,
	Rebind = 6,
	Reply = 7,
	Release = 8,
	Decline = 9,
	Reconfigure = 10,
	InformationRequest = 11,
	RelayForw = 12,
	RelayRepl = 13,
};

// Option codes, spelled as in the RFCs and the IANA registry so that a grep
// for the RFC's name finds the code. Unscoped: ORO entries are plain uint16_t.
enum OptionCode : uint16_t {
	OPTION_CLIENTID = 1,       // RFC 8415 §21.2
	OPTION_SERVERID = 2,       // §21.3
	OPTION_IA_NA = 3,          // §21.4
	OPTION_IA_TA = 4,          // §21.5 (kept raw)
	OPTION_IAADDR = 5,         // §21.6
	OPTION_ORO = 6,            // §21.7
	OPTION_PREFERENCE = 7,     // §21.8
	OPTION_ELAPSED_TIME = 8,   // §21.9
	OPTION_RELAY_MSG = 9,      // §21.10
	OPTION_AUTH = 11,          // §21.11
	OPTION_UNICAST = 12,       // §21.12
	OPTION_STATUS_CODE = 13,   // §21.13
	OPTION_RAPID_COMMIT = 14,  // §21.14
	OPTION_USER_CLASS = 15,    // §21.15 (kept raw)
	OPTION_VENDOR_CLASS = 16,  // §21.16 (kept raw)
	OPTION_VENDOR_OPTS = 17,   // §21.17 (kept raw)
	OPTION_INTERFACE_ID = 18,  // §21.18
	OPTION_RECONF_MSG = 19,    // §21.19
	OPTION_RECONF_ACCEPT = 20, // §21.20
	OPTION_DNS_SERVERS = 23,   // RFC 3646 §3
	OPTION_DOMAIN_LIST = 24,   // RFC 3646 §4
	OPTION_IA_PD = 25,         // RFC 8415 §21.21
	OPTION_IAPREFIX = 26,      // §21.22
	OPTION_INFORMATION_REFRESH_TIME = 32, // §21.23
	OPTION_PD_EXCLUDE = 67,    // RFC 6603 §4.2
	OPTION_SOL_MAX_RT = 82,    // §21.24
	OPTION_INF_MAX_RT = 83,    // §21.25
	OPTION_ADDRSEL = 84,       // RFC 7078 §3
	OPTION_ADDRSEL_TABLE = 85, // RFC 7078 §3
	OPTION_CAPTIVE_PORTAL = 103, // RFC 8910 §2.2
};

// Status codes, RFC 8415 §21.13.
enum class Status : uint16_t {
	Success = 0,
	UnspecFail = 1,
	NoAddrsAvail = 2,
	NoBinding = 3,
	NotOnLink = 4,
	UseMulticast = 5,
	NoPrefixAvail = 6,
};

// RFC 8415 §7.2: UDP ports.
inline constexpr uint16_t kClientPort = 546;
inline constexpr uint16_t kServerPort = 547;

// RFC 8415 §7.1: ff02::1:2 and ff05::1:3.
inline constexpr Ipv6Address kAllDhcpRelayAgentsAndServers{
	{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0x02}};
inline constexpr Ipv6Address kAllDhcpServers{
	{0xff, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0x03}};

// RFC 8415 §7.6: a relay agent drops a Relay-Forw whose hop-count has
// reached this.
inline constexpr uint8_t kHopCountLimit = 8;

// RFC 8415 §7.7: a lifetime or T1/T2 of all ones means "forever".
inline constexpr uint32_t kInfinity = 0xffffffff;

// RFC 8415 §21.24/§21.25: clients ignore SOL_MAX_RT/INF_MAX_RT values
// outside this range.
inline constexpr uint32_t kMaxRtMinimum = 60;
inline constexpr uint32_t kMaxRtMaximum = 86400;

// Names for logs: "Solicit", "IA_PD", "NoPrefixAvail". Unknown values come
// back as a number ("type 42", "option 999", "status 77").
std::string message_type_name(MessageType type);
std::string option_name(uint16_t code);
std::string status_name(Status status);

} // namespace umigame::dhcp6
