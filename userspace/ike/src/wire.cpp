#include "wire.h"

#include <stdexcept>

#include "umigame/ike/constants.h"

namespace umigame::ike {

namespace {

std::string describe(size_t offset, uint8_t payload_type, const std::string &reason)
{
	std::string where = payload_type == 0 ? std::string("header")
					      : to_string(static_cast<PayloadType>(payload_type)) + " payload";
	return "IKEv2 " + where + " at offset " + std::to_string(offset) + ": " + reason;
}

} // namespace

ParseError::ParseError(size_t offset, uint8_t payload_type, std::string reason)
	: std::runtime_error(describe(offset, payload_type, reason)), offset_(offset),
	  payload_type_(payload_type), reason_(std::move(reason))
{
}

namespace wire {

void patch_length16(std::vector<uint8_t> &out, size_t at, size_t start, const char *what)
{
	size_t length = out.size() - start;
	if (length > 0xffff)
		throw std::length_error(std::string("IKEv2 ") + what + " of " + std::to_string(length) +
					" octets does not fit its 16-bit length field");
	out[at] = static_cast<uint8_t>(length >> 8);
	out[at + 1] = static_cast<uint8_t>(length);
}

uint8_t checked_u8(size_t n, const char *what)
{
	if (n > 0xff)
		throw std::length_error(std::string("IKEv2 ") + what + " " + std::to_string(n) +
					" does not fit its 8-bit field");
	return static_cast<uint8_t>(n);
}

uint16_t checked_u16(size_t n, const char *what)
{
	if (n > 0xffff)
		throw std::length_error(std::string("IKEv2 ") + what + " " + std::to_string(n) +
					" does not fit its 16-bit field");
	return static_cast<uint16_t>(n);
}

} // namespace wire
} // namespace umigame::ike
