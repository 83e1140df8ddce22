// Helpers shared by the ikecrypto tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "umigame/ike/crypto.h"

namespace umigame::ike::test {

inline Bytes from_hex(std::string_view hex)
{
	Bytes out;
	for (size_t i = 0; i + 1 < hex.size(); i += 2)
		out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
	return out;
}

inline Bytes bytes_of(std::string_view text)
{
	return Bytes(text.begin(), text.end());
}

inline Bytes bytes_of(const Secret &s)
{
	return Bytes(s.span().begin(), s.span().end());
}

} // namespace umigame::ike::test
