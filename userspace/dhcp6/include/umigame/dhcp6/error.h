// The one error type of the DHCPv6 parser. Whatever a peer sends, parsing
// either returns a value or throws ParseError; it never reads past the
// buffer and never trusts a length or count it has not checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace umigame::dhcp6 {

class ParseError : public std::runtime_error {
public:
	// option_code 0 means the message header itself was wrong (code 0 is
	// reserved, so no real option is ever reported as 0).
	ParseError(size_t offset, uint16_t option_code, std::string reason);

	// Where the offending option (its code field) or message starts,
	// counted from the first byte handed to Message::parse().
	size_t offset() const { return offset_; }
	uint16_t option_code() const { return option_code_; }
	// What was wrong, with the RFC section that says so.
	const std::string &reason() const { return reason_; }

private:
	size_t offset_;
	uint16_t option_code_;
	std::string reason_;
};

} // namespace umigame::dhcp6
