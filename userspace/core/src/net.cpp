#include "umigame/net.h"

#include <arpa/inet.h>
#include <algorithm>
#include <charconv>
#include <cstdio>

namespace umigame {

std::optional<Ipv6Address> Ipv6Address::parse(std::string_view text)
{
	// inet_pton needs a NUL-terminated string; bound the copy first.
	if (text.empty() || text.size() >= INET6_ADDRSTRLEN)
		return std::nullopt;
	std::string s(text);
	Ipv6Address a;
	if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1)
		return std::nullopt;
	return a;
}

std::string hex_string(std::span<const uint8_t> bytes)
{
	static const char digits[] = "0123456789abcdef";
	std::string s;
	s.reserve(bytes.size() * 2);
	for (uint8_t b : bytes) {
		s += digits[b >> 4];
		s += digits[b & 15];
	}
	return s;
}

std::optional<std::vector<uint8_t>> hex_bytes(std::string_view text)
{
	if (text.size() % 2)
		return std::nullopt;
	auto digit = [](char c) {
		if (c >= '0' && c <= '9')
			return c - '0';
		if (c >= 'a' && c <= 'f')
			return c - 'a' + 10;
		if (c >= 'A' && c <= 'F')
			return c - 'A' + 10;
		return -1;
	};
	std::vector<uint8_t> out;
	out.reserve(text.size() / 2);
	for (size_t i = 0; i < text.size(); i += 2) {
		const int high = digit(text[i]), low = digit(text[i + 1]);
		if (high < 0 || low < 0)
			return std::nullopt;
		out.push_back(uint8_t(high << 4 | low));
	}
	return out;
}

std::string Ipv6Address::str() const
{
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
	return buf;
}

std::optional<Ipv6Prefix> Ipv6Prefix::parse(std::string_view text)
{
	auto slash = text.find('/');
	if (slash == std::string_view::npos)
		return std::nullopt;
	auto addr = Ipv6Address::parse(text.substr(0, slash));
	auto len_text = text.substr(slash + 1);
	unsigned len = 0;
	auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
	if (!addr || ec != std::errc() || end != len_text.data() + len_text.size() ||
	    len_text.empty() || len > 128)
		return std::nullopt;
	for (unsigned bit = len; bit < 128; bit++)
		if (addr->bytes[bit / 8] & (0x80 >> (bit % 8)))
			return std::nullopt;
	return Ipv6Prefix{*addr, static_cast<uint8_t>(len)};
}

std::string Ipv6Prefix::str() const
{
	return address.str() + "/" + std::to_string(length);
}

bool Ipv6Prefix::contains(const Ipv6Prefix &inner) const
{
	if (inner.length < length)
		return false;
	for (unsigned bit = 0; bit < length; bit++) {
		uint8_t mask = 0x80 >> (bit % 8);
		if ((address.bytes[bit / 8] & mask) != (inner.address.bytes[bit / 8] & mask))
			return false;
	}
	return true;
}

Ipv6Prefix Ipv6Prefix::masked() const
{
	Ipv6Prefix out = *this;
	for (unsigned bit = std::min<unsigned>(length, 128); bit < 128; bit++)
		out.address.bytes[bit / 8] &= uint8_t(~(0x80 >> (bit % 8)));
	return out;
}

std::optional<MacAddress> MacAddress::parse(std::string_view text)
{
	// Exactly six two-digit hex groups separated by ':' (or '-').
	if (text.size() != 17)
		return std::nullopt;
	MacAddress m;
	for (size_t i = 0; i < 6; i++) {
		const char *p = text.data() + i * 3;
		if (i < 5 && p[2] != ':' && p[2] != '-')
			return std::nullopt;
		auto [end, ec] = std::from_chars(p, p + 2, m.bytes[i], 16);
		if (ec != std::errc() || end != p + 2)
			return std::nullopt;
	}
	return m;
}

std::string MacAddress::str() const
{
	char buf[18];
	std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1],
		      bytes[2], bytes[3], bytes[4], bytes[5]);
	return buf;
}


std::optional<IpAddress> IpAddress::parse(std::string_view text)
{
	if (text.empty() || text.size() >= INET6_ADDRSTRLEN)
		return std::nullopt;
	std::string s(text);
	IpAddress a;
	if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
		a.family = AF_INET;
		return a;
	}
	if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
		a.family = AF_INET6;
		return a;
	}
	return std::nullopt;
}

IpAddress IpAddress::v4(std::span<const uint8_t, 4> b)
{
	IpAddress a;
	a.family = AF_INET;
	std::copy(b.begin(), b.end(), a.bytes.begin());
	return a;
}

IpAddress IpAddress::v6(std::span<const uint8_t, 16> b)
{
	IpAddress a;
	a.family = AF_INET6;
	std::copy(b.begin(), b.end(), a.bytes.begin());
	return a;
}

std::string IpAddress::str() const
{
	if (family != AF_INET && family != AF_INET6)
		return "(unset)";
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(family, bytes.data(), buf, sizeof(buf));
	return buf;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text)
{
	auto slash = text.find('/');
	auto addr = IpAddress::parse(text.substr(0, slash));
	if (!addr)
		return std::nullopt;
	unsigned max = addr->family == AF_INET ? 32 : 128;
	unsigned len = max;
	if (slash != std::string_view::npos) {
		auto len_text = text.substr(slash + 1);
		auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
		if (ec != std::errc() || end != len_text.data() + len_text.size() || len_text.empty() ||
		    len > max)
			return std::nullopt;
	}
	for (unsigned bit = len; bit < max; bit++)
		if (addr->bytes[bit / 8] & (0x80 >> (bit % 8)))
			return std::nullopt;
	return IpPrefix{*addr, static_cast<uint8_t>(len)};
}

std::string IpPrefix::str() const
{
	return address.str() + "/" + std::to_string(length);
}

bool IpPrefix::contains(const IpAddress &a) const
{
	if (a.family != address.family)
		return false;
	for (unsigned bit = 0; bit < length; bit++) {
		uint8_t mask = 0x80 >> (bit % 8);
		if ((a.bytes[bit / 8] & mask) != (address.bytes[bit / 8] & mask))
			return false;
	}
	return true;
}

IpAddress IpPrefix::last() const
{
	IpAddress a = address;
	unsigned max = address.family == AF_INET ? 32 : 128;
	for (unsigned bit = length; bit < max; bit++)
		a.bytes[bit / 8] |= 0x80 >> (bit % 8);
	return a;
}

} // namespace umigame
