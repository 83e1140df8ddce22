// Test vectors are written as hex with spaces between fields; hex() drops
// the spaces.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace umigame::ike::test {

inline std::vector<uint8_t> hex(std::string_view text)
{
	std::vector<uint8_t> out;
	int high = -1;
	for (char c : text) {
		int v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else if (c == ' ' || c == '\n' || c == '\t')
			continue;
		else
			throw std::invalid_argument(std::string("bad hex digit ") + c);
		if (high < 0) {
			high = v;
		} else {
			out.push_back(static_cast<uint8_t>(high << 4 | v));
			high = -1;
		}
	}
	if (high >= 0)
		throw std::invalid_argument("odd number of hex digits");
	return out;
}

inline std::string to_hex(const std::vector<uint8_t> &bytes)
{
	static const char digits[] = "0123456789abcdef";
	std::string out;
	for (uint8_t b : bytes) {
		out += digits[b >> 4];
		out += digits[b & 15];
	}
	return out;
}

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
