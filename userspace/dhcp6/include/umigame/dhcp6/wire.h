// Byte-level reading and writing for the DHCPv6 wire format: big-endian
// integers, bounds-checked reads that throw ParseError, and option TLVs
// whose length is patched in once the payload is written. Option types use
// these in their parse() and serialize(); daemons normally need only
// Message::parse() and Message::serialize().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "umigame/dhcp6/error.h"
#include "umigame/net.h"

namespace umigame::dhcp6 {

class OptionList;
struct Message;

// Bounds on what one parse may build, so that a 64 KiB datagram of empty
// options or of relay messages nested in relay messages costs bounded
// memory and stack. A real message has a few dozen options and at most
// kHopCountLimit + 1 relay wrappers (RFC 8415 §7.6, §19.1.2).
inline constexpr size_t kMaxOptionsPerMessage = 1024;
inline constexpr unsigned kMaxNestingDepth = 32;

// Where an option list sits; some options are only valid in one place.
enum class Scope : uint8_t {
	Any,              // decode_option(): a lone option, no context
	Message,          // a client/server message, RFC 8415 §8
	Relay,            // a Relay-Forw/Relay-Repl message, §9
	IaNa,             // IA_NA-options, §21.4
	IaAddress,        // IAaddr-options, §21.6
	IaPd,             // IA_PD-options, §21.21
	IaPrefix,         // IAprefix-options, §21.22
	AddressSelection, // OPTION_ADDRSEL's policy table options, RFC 7078 §3
};

// Shared by every reader of one parse: the budgets above.
struct ParseBudget {
	size_t options = 0;
	unsigned depth = 0;
};

// A cursor over bytes that belong to one message or one option payload.
// Every read checks the remaining length first; a short read throws a
// ParseError naming the enclosing option (or message) and its offset.
class Reader {
public:
	// base: the offset of data[0] in the outermost buffer, for errors.
	// option_code/option_offset: what a truncation error should name.
	Reader(std::span<const uint8_t> data, size_t base, uint16_t option_code,
	       size_t option_offset, ParseBudget &budget);

	size_t remaining() const { return data_.size() - pos_; }
	bool empty() const { return remaining() == 0; }
	// Absolute offset of the next byte.
	size_t offset() const { return base_ + pos_; }

	uint8_t u8();
	uint16_t u16();
	uint32_t u32();
	uint64_t u64();
	Ipv6Address address();
	std::span<const uint8_t> bytes(size_t n);
	std::span<const uint8_t> rest() { return bytes(remaining()); }

	// Throws ParseError(option_offset, option_code, reason).
	[[noreturn]] void fail(const std::string &reason) const;

	uint16_t option_code() const { return option_code_; }
	size_t option_offset() const { return option_offset_; }
	ParseBudget &budget() const { return *budget_; }

	// The rest of the bytes as options in `scope`; counts one nesting level.
	OptionList options(Scope scope);
	// The rest of the bytes as a whole DHCPv6 message (Relay Message option).
	Message message();

private:
	std::span<const uint8_t> data_;
	size_t pos_ = 0;
	size_t base_;
	uint16_t option_code_;
	size_t option_offset_;
	ParseBudget *budget_;
};

// Reads one option payload; parse() of every option type takes one.
class OptionReader : public Reader {
public:
	using Reader::Reader;

	// Length rules, checked before any field is read, with the RFC section
	// in the error: `exactly` for fixed-size options, `at_least` for a
	// fixed part followed by options or data.
	void expect_length(size_t exactly, const char *rfc_section) const;
	void expect_min_length(size_t at_least, const char *rfc_section) const;
	// After parse(): anything left over is an error (a fixed-size option
	// with a longer option-len).
	void expect_end() const;
};

// Appends big-endian fields to a byte vector.
class Writer {
public:
	explicit Writer(std::vector<uint8_t> &out) : out_(out) {}

	void u8(uint8_t v) { out_.push_back(v); }
	void u16(uint16_t v);
	void u32(uint32_t v);
	void u64(uint64_t v);
	void address(const Ipv6Address &a) { bytes(a.bytes); }
	void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
	size_t size() const { return out_.size(); }
	std::vector<uint8_t> &buffer() { return out_; }

	// begin_option() writes code and a placeholder length and returns a
	// mark; end_option(mark) patches the length. Throws std::length_error
	// if the payload outgrew option-len's 16 bits.
	size_t begin_option(uint16_t code);
	void end_option(size_t mark);

private:
	std::vector<uint8_t> &out_;
};

} // namespace umigame::dhcp6
