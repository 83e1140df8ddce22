// Domain names in DHCPv6 options: RFC 1035 §3.1 wire format, never
// compressed (RFC 8415 §10). Kept as labels rather than dotted text so that
// a label containing '.' or any other octet round-trips exactly.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace umigame::dhcp6 {

class OptionReader;
class Writer;

struct DomainName {
	// RFC 1035 §2.3.4: labels are 1..63 octets, a whole name (length
	// octets and the final root label included) at most 255.
	static constexpr size_t kMaxLabelSize = 63;
	static constexpr size_t kMaxWireSize = 255;

	// Without the empty root label; no labels = the root name ".".
	std::vector<std::string> labels{};

	// "example.com" or "example.com." ("." is the root). No escapes; nullopt
	// for an empty label or a label or name over the limits.
	static std::optional<DomainName> from_text(std::string_view text);
	// Dotted, without the trailing dot ("." for the root); '.', '\' and
	// non-printable octets inside a label are escaped as \DDD.
	std::string str() const;
	size_t wire_size() const;

	// One name at the reader's position. Rejects compression pointers and
	// the other reserved label types (top bits 01, 10, 11), labels running
	// past the option, over-long names and a missing root label.
	static DomainName parse(OptionReader &r);
	// Throws std::invalid_argument if a label or the name is out of limits.
	void serialize(Writer &w) const;

	auto operator<=>(const DomainName &) const = default;
};

} // namespace umigame::dhcp6
