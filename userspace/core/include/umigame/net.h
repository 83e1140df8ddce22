// Address value types shared by every umigame program: parse from text,
// format back, compare. Parsing never throws; it returns std::nullopt.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
// The inverse: two hex digits (either case) per byte and nothing else;
// nullopt for anything else (an odd count, a stray character).
std::optional<std::vector<uint8_t>> hex_bytes(std::string_view text);

struct MacAddress {
	std::array<uint8_t, 6> bytes{};

	static std::optional<MacAddress> parse(std::string_view text);
	std::string str() const;
	bool is_multicast() const { return bytes[0] & 1; }
	bool is_zero() const { return bytes == std::array<uint8_t, 6>{}; }
	auto operator<=>(const MacAddress &) const = default;
};

// An IPv4 or IPv6 address, for protocols that carry both (IKEv2, XFRM).
// IPv4 sits in the first 4 bytes; the rest stay zero so that comparison and
// hashing need no family switch.
struct IpAddress {
	uint8_t family = 0; // AF_INET or AF_INET6; 0: unset
	std::array<uint8_t, 16> bytes{};

	static std::optional<IpAddress> parse(std::string_view text);
	static IpAddress v4(std::span<const uint8_t, 4> b);
	static IpAddress v6(std::span<const uint8_t, 16> b);
	std::string str() const;
	size_t size() const { return family == 2 /* AF_INET */ ? 4 : 16; }
	std::span<const uint8_t> span() const { return {bytes.data(), size()}; }
	bool is_v4() const { return family == 2; }
	bool is_unset() const { return family == 0; }
	auto operator<=>(const IpAddress &) const = default;
};

// An address and a prefix length in either family ("10.0.0.0/8",
// "2001:db8::/32"; a bare address is a host prefix). Host bits must be zero.
struct IpPrefix {
	IpAddress address;
	uint8_t length = 0;

	static std::optional<IpPrefix> parse(std::string_view text);
	std::string str() const;
	bool contains(const IpAddress &a) const;
	// The first and last address the prefix covers.
	IpAddress first() const { return address; }
	IpAddress last() const;
	auto operator<=>(const IpPrefix &) const = default;
};

} // namespace umigame
