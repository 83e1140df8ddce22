// DHCP Unique Identifier, RFC 8415 §11. A DUID identifies a client or server
// and RFC 8415 §11 says to compare DUIDs only as opaque bytes, so Duid *is*
// its bytes; the typed views (as_llt() ...) are for logs and configuration,
// and an unknown or oddly sized DUID is kept and compared all the same.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "umigame/net.h"

namespace umigame::dhcp6 {

enum class DuidType : uint16_t {
	Llt = 1,  // link-layer address plus time, §11.2
	En = 2,   // enterprise number plus identifier, §11.3
	Ll = 3,   // link-layer address, §11.4
	Uuid = 4, // RFC 6355, §11.5
};

// ARP hardware type 1: what every DUID built from a MacAddress carries.
inline constexpr uint16_t kHardwareTypeEthernet = 1;

struct DuidLlt {
	uint16_t hardware_type = 0;
	uint32_t time = 0; // seconds since 2000-01-01 00:00 UTC, mod 2^32
	std::vector<uint8_t> link_layer_address{};
};

struct DuidEn {
	uint32_t enterprise_number = 0;
	std::vector<uint8_t> identifier{};
};

struct DuidLl {
	uint16_t hardware_type = 0;
	std::vector<uint8_t> link_layer_address{};
};

class Duid {
public:
	// §11.1: a 2-octet type code and 1 to 128 octets of identifier.
	static constexpr size_t kMinSize = 3;
	static constexpr size_t kMaxSize = 130;

	// An empty Duid is "none yet"; serializing one is an error.
	Duid() = default;

	// Any bytes of valid size; throws std::invalid_argument otherwise.
	static Duid from_bytes(std::span<const uint8_t> bytes);
	// From hex, with or without ':' or '-' between octets
	// ("00:03:00:01:02:00:5e:10:00:01"); nullopt if malformed or
	// of invalid size. For configuration files.
	static std::optional<Duid> from_hex(std::string_view text);

	static Duid llt(uint16_t hardware_type, uint32_t time, std::span<const uint8_t> link_layer_address);
	static Duid llt(const MacAddress &mac, uint32_t time);
	static Duid en(uint32_t enterprise_number, std::span<const uint8_t> identifier);
	static Duid ll(uint16_t hardware_type, std::span<const uint8_t> link_layer_address);
	static Duid ll(const MacAddress &mac);
	static Duid uuid(const std::array<uint8_t, 16> &uuid);

	const std::vector<uint8_t> &bytes() const { return bytes_; }
	size_t size() const { return bytes_.size(); }
	bool empty() const { return bytes_.empty(); }
	// The type code; 0 for an empty Duid.
	uint16_t type() const;

	// A view when the DUID has that type and the layout fits; nullopt
	// otherwise.
	std::optional<DuidLlt> as_llt() const;
	std::optional<DuidEn> as_en() const;
	std::optional<DuidLl> as_ll() const;
	std::optional<std::array<uint8_t, 16>> as_uuid() const;
	// The MAC address of a DUID-LLT or DUID-LL with Ethernet hardware type.
	std::optional<MacAddress> mac() const;

	// Colon-separated hex, as from_hex() reads it.
	std::string str() const;

	auto operator<=>(const Duid &) const = default;

private:
	std::vector<uint8_t> bytes_;
};

} // namespace umigame::dhcp6
