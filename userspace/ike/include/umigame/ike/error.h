// The one error type of the IKEv2 parser. Whatever a peer sends, parsing
// either returns a value or throws ParseError; it never reads past the
// buffer and never trusts a length or count it has not checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace umigame::ike {

class ParseError : public std::runtime_error {
public:
	// payload_type 0 means the IKE header itself was wrong (0 is "no next
	// payload", so no real payload is ever reported as 0).
	ParseError(size_t offset, uint8_t payload_type, std::string reason);

	// Where the innermost structure at fault starts (a payload's generic
	// header, or a proposal, transform, attribute or selector inside it),
	// counted from the first byte of the datagram (or from base_offset
	// for parse_payloads()).
	size_t offset() const { return offset_; }
	// The payload the fault is in.
	uint8_t payload_type() const { return payload_type_; }
	// What was wrong, with the RFC section that says so.
	const std::string &reason() const { return reason_; }

private:
	size_t offset_;
	uint8_t payload_type_;
	std::string reason_;
};

} // namespace umigame::ike
