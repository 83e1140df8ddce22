// Test vectors are written as hex with spaces between fields (the shared
// hex()/to_hex() of userspace/core/tests), and IKE framing around them.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "../../core/tests/hex_vectors.h"

namespace umigame::ike::test {

using umigame::test::hex;
using umigame::test::to_hex;

// An IKE header (RFC 7296 §3.1) for `payloads_hex`, with a Length that
// matches: SPIi 0102030405060708, SPIr 0, version 2.0, IKE_SA_INIT,
// Initiator flag, Message ID 0.
inline std::string datagram(uint8_t next_payload, std::string_view payloads_hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t length = 28 + hex(payloads_hex).size();
	std::string out = "0102030405060708 0000000000000000 ";
	out += digits[next_payload >> 4];
	out += digits[next_payload & 15];
	out += " 20 22 08 00000000 ";
	for (int shift = 28; shift >= 0; shift -= 4)
		out += digits[(length >> shift) & 15];
	out += ' ';
	out += payloads_hex;
	return out;
}

// A GoogleTest name from a case's description: its letters and digits.
template <typename Case>
std::string case_name(const testing::TestParamInfo<Case> &param)
{
	std::string name;
	for (char c : param.param.name)
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			name += c;
	return name;
}

} // namespace umigame::ike::test
