// The site's Unique Local prefix (RFC 4193), which RFC 7084 ULA-1/ULA-2
// want a CE router to generate once and keep across restarts.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "umigame/net.h"

namespace umigame::dhcp6d {

// RFC 4193 §3.2.2: SHA-1 over the time (64-bit NTP format) and an EUI-64,
// the low 40 bits of the digest are the Global ID; fd00::/8 + Global ID is
// the /48. Pure, for the tests.
Ipv6Prefix make_ula_prefix(uint64_t ntp_time, const std::array<uint8_t, 8> &eui64);

// RFC 4291 App. A: the modified EUI-64 of a MAC address.
std::array<uint8_t, 8> modified_eui64(const MacAddress &mac);

// The prefix saved in `state_dir`, or a new one generated from the clock
// and `mac` (random bytes stand in for a missing MAC) and saved atomically
// before it is returned. Throws std::runtime_error when the saved file is
// unreadable garbage (a new prefix would renumber the site silently).
Ipv6Prefix load_or_create_ula(const std::string &state_dir, std::optional<MacAddress> mac);

} // namespace umigame::dhcp6d
