#include "umigame/dhcp6/wire.h"

#include <algorithm>
#include <stdexcept>

#include "umigame/dhcp6/constants.h"

namespace umigame::dhcp6 {

namespace {

std::string describe(size_t offset, uint16_t option_code, const std::string &reason)
{
	std::string where = option_code == 0 ? std::string("message")
					     : option_name(option_code) + " (" +
						       std::to_string(option_code) + ")";
	return "DHCPv6 " + where + " at offset " + std::to_string(offset) + ": " + reason;
}

} // namespace

ParseError::ParseError(size_t offset, uint16_t option_code, std::string reason)
	: std::runtime_error(describe(offset, option_code, reason)), offset_(offset),
	  option_code_(option_code), reason_(std::move(reason))
{
}

Reader::Reader(std::span<const uint8_t> data, size_t base, uint16_t option_code,
	       size_t option_offset, ParseBudget &budget)
	: data_(data), base_(base), option_code_(option_code), option_offset_(option_offset),
	  budget_(&budget)
{
}

void Reader::fail(const std::string &reason) const
{
	throw ParseError(option_offset_, option_code_, reason);
}

std::span<const uint8_t> Reader::bytes(size_t n)
{
	if (n > remaining())
		fail("truncated: field at offset " + std::to_string(offset()) + " needs " +
		     std::to_string(n) + " octets, " + std::to_string(remaining()) + " left");
	auto out = data_.subspan(pos_, n);
	pos_ += n;
	return out;
}

uint8_t Reader::u8()
{
	return bytes(1)[0];
}

uint16_t Reader::u16()
{
	auto b = bytes(2);
	return static_cast<uint16_t>(b[0] << 8 | b[1]);
}

uint32_t Reader::u32()
{
	auto b = bytes(4);
	return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
}

uint64_t Reader::u64()
{
	uint64_t hi = u32();
	return hi << 32 | u32();
}

Ipv6Address Reader::address()
{
	Ipv6Address a;
	auto b = bytes(16);
	std::copy(b.begin(), b.end(), a.bytes.begin());
	return a;
}

void OptionReader::expect_length(size_t exactly, const char *rfc_section) const
{
	if (remaining() != exactly)
		fail("option-len " + std::to_string(remaining()) + ", must be " +
		     std::to_string(exactly) + " (" + rfc_section + ")");
}

void OptionReader::expect_min_length(size_t at_least, const char *rfc_section) const
{
	if (remaining() < at_least)
		fail("option-len " + std::to_string(remaining()) + ", must be at least " +
		     std::to_string(at_least) + " (" + rfc_section + ")");
}

void OptionReader::expect_end() const
{
	if (!empty())
		fail(std::to_string(remaining()) + " unexpected octets at the end of the option");
}

void Writer::u16(uint16_t v)
{
	out_.push_back(static_cast<uint8_t>(v >> 8));
	out_.push_back(static_cast<uint8_t>(v));
}

void Writer::u32(uint32_t v)
{
	u16(static_cast<uint16_t>(v >> 16));
	u16(static_cast<uint16_t>(v));
}

void Writer::u64(uint64_t v)
{
	u32(static_cast<uint32_t>(v >> 32));
	u32(static_cast<uint32_t>(v));
}

size_t Writer::begin_option(uint16_t code)
{
	size_t mark = out_.size();
	u16(code);
	u16(0);
	return mark;
}

void Writer::end_option(size_t mark)
{
	size_t len = out_.size() - mark - 4;
	if (len > 0xffff)
		throw std::length_error("DHCPv6 option " + option_name(static_cast<uint16_t>(
							    out_[mark] << 8 | out_[mark + 1])) +
					": " + std::to_string(len) +
					" octets do not fit option-len (RFC 8415 §21.1)");
	out_[mark + 2] = static_cast<uint8_t>(len >> 8);
	out_[mark + 3] = static_cast<uint8_t>(len);
}

} // namespace umigame::dhcp6
