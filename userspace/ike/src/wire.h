// Byte-level reading and writing for the IKEv2 wire format, private to the
// library: big-endian integers, bounds-checked reads that throw ParseError,
// and length fields patched in once what they cover is written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "umigame/ike/error.h"

namespace umigame::ike::wire {

// A cursor over the bytes of one payload or substructure. Every read checks
// the remaining length first; a short read throws a ParseError naming the
// payload and the start of the structure being read (the fault offset).
class Reader {
public:
	// base: the offset of data[0] in the datagram, for errors.
	Reader(std::span<const uint8_t> data, size_t base, uint8_t payload_type, size_t fault_offset)
		: data_(data), base_(base), payload_type_(payload_type), fault_offset_(fault_offset)
	{
	}

	size_t remaining() const { return data_.size() - pos_; }
	bool empty() const { return remaining() == 0; }
	// The datagram offset of the next byte.
	size_t offset() const { return base_ + pos_; }
	// Errors from now on name the structure starting at `offset`.
	void fault_at(size_t offset) { fault_offset_ = offset; }

	uint8_t u8() { return bytes(1)[0]; }
	uint16_t u16()
	{
		auto b = bytes(2);
		return static_cast<uint16_t>(b[0] << 8 | b[1]);
	}
	uint32_t u32()
	{
		auto b = bytes(4);
		return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
	}
	uint64_t u64()
	{
		uint64_t high = u32();
		return high << 32 | u32();
	}
	std::span<const uint8_t> bytes(size_t n)
	{
		if (n > remaining())
			fail("truncated: " + std::to_string(n) + " octets needed at offset " +
			     std::to_string(offset()) + ", " + std::to_string(remaining()) + " left");
		auto out = data_.subspan(pos_, n);
		pos_ += n;
		return out;
	}
	std::vector<uint8_t> vec(size_t n)
	{
		auto b = bytes(n);
		return {b.begin(), b.end()};
	}
	std::vector<uint8_t> rest() { return vec(remaining()); }
	void skip(size_t n) { (void)bytes(n); }
	// The next n bytes as a reader of their own, whose errors name the
	// structure at `fault_offset`.
	Reader sub(size_t n, size_t fault_offset)
	{
		size_t start = offset();
		return Reader(bytes(n), start, payload_type_, fault_offset);
	}

	// The structure's fixed part must be there before any field is read.
	void need(size_t n, const std::string &what) const
	{
		if (remaining() < n)
			fail(what + " truncated: " + std::to_string(remaining()) + " octets, needs " +
			     std::to_string(n));
	}

	[[noreturn]] void fail(const std::string &reason) const
	{
		throw ParseError(fault_offset_, payload_type_, reason);
	}

private:
	std::span<const uint8_t> data_;
	size_t pos_ = 0;
	size_t base_;
	uint8_t payload_type_;
	size_t fault_offset_;
};

inline void put8(std::vector<uint8_t> &out, uint8_t v)
{
	out.push_back(v);
}

inline void put16(std::vector<uint8_t> &out, uint16_t v)
{
	out.push_back(static_cast<uint8_t>(v >> 8));
	out.push_back(static_cast<uint8_t>(v));
}

inline void put32(std::vector<uint8_t> &out, uint32_t v)
{
	put16(out, static_cast<uint16_t>(v >> 16));
	put16(out, static_cast<uint16_t>(v));
}

inline void put64(std::vector<uint8_t> &out, uint64_t v)
{
	put32(out, static_cast<uint32_t>(v >> 32));
	put32(out, static_cast<uint32_t>(v));
}

inline void put_bytes(std::vector<uint8_t> &out, std::span<const uint8_t> b)
{
	out.insert(out.end(), b.begin(), b.end());
}

// Writes length - what into out[at], out[at+1]: the 16-bit length of a
// structure starting at `start`. Throws std::length_error when it does not
// fit, naming `what`.
void patch_length16(std::vector<uint8_t> &out, size_t at, size_t start, const char *what);

// A count or size field of `bits` width; std::length_error if n is larger.
uint8_t checked_u8(size_t n, const char *what);
uint16_t checked_u16(size_t n, const char *what);

} // namespace umigame::ike::wire
