// Test vectors written as hex, with spaces, newlines and tabs between
// fields: hex() drops them and refuses anything else; to_hex() prints bytes
// back for readable EXPECT_EQ failures. Shared by every protocol's tests.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "umigame/net.h"

namespace umigame::test {

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

inline std::string to_hex(std::span<const uint8_t> bytes)
{
	return hex_string(bytes);
}

} // namespace umigame::test
