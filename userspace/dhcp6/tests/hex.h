// Test vectors are written as hex with spaces between fields and a comment
// per field; hex() drops the spaces.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace umigame::dhcp6::test {

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

} // namespace umigame::dhcp6::test
