// Address value types shared by every umigame program: parse from text,
// format back, compare. Parsing never throws; it returns std::nullopt.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace umigame {

struct Ipv6Address {
	std::array<uint8_t, 16> bytes{};

	static std::optional<Ipv6Address> parse(std::string_view text);
	std::string str() const;
	bool is_link_local() const { return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80; }
	bool is_multicast() const { return bytes[0] == 0xff; }
	auto operator<=>(const Ipv6Address &) const = default;
};

struct Ipv6Prefix {
	Ipv6Address address;
	uint8_t length = 0;

	// "2001:db8::/48". Host bits must be zero: a typo'd prefix is an error,
	// not something to round down silently.
	static std::optional<Ipv6Prefix> parse(std::string_view text);
	std::string str() const;
	bool contains(const Ipv6Prefix &inner) const;
	// The same prefix with every bit past `length` cleared (what a peer
	// sent may carry stray host bits).
	Ipv6Prefix masked() const;
	auto operator<=>(const Ipv6Prefix &) const = default;
};

// Lower-case hex, two digits per byte, nothing between: how DUIDs appear in
// journals and test fixtures.
std::string hex_string(std::span<const uint8_t> bytes);

struct MacAddress {
	std::array<uint8_t, 6> bytes{};

	static std::optional<MacAddress> parse(std::string_view text);
	std::string str() const;
	bool is_multicast() const { return bytes[0] & 1; }
	bool is_zero() const { return bytes == std::array<uint8_t, 6>{}; }
	auto operator<=>(const MacAddress &) const = default;
};

} // namespace umigame
