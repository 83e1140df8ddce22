#include "umigame/dhcp6/duid.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace umigame::dhcp6 {

namespace {

void put16(std::vector<uint8_t> &out, uint16_t v)
{
	out.push_back(static_cast<uint8_t>(v >> 8));
	out.push_back(static_cast<uint8_t>(v));
}

void put32(std::vector<uint8_t> &out, uint32_t v)
{
	put16(out, static_cast<uint16_t>(v >> 16));
	put16(out, static_cast<uint16_t>(v));
}

uint16_t get16(const std::vector<uint8_t> &b, size_t at)
{
	return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}

uint32_t get32(const std::vector<uint8_t> &b, size_t at)
{
	return uint32_t{get16(b, at)} << 16 | get16(b, at + 2);
}

} // namespace

Duid Duid::from_bytes(std::span<const uint8_t> bytes)
{
	if (bytes.size() < kMinSize || bytes.size() > kMaxSize)
		throw std::invalid_argument("DUID of " + std::to_string(bytes.size()) +
					    " octets: RFC 8415 §11.1 allows 3 to 130");
	Duid d;
	d.bytes_.assign(bytes.begin(), bytes.end());
	return d;
}

std::optional<Duid> Duid::from_hex(std::string_view text)
{
	// Two digits per byte, each pair optionally followed by ':' or '-'.
	std::string digits;
	size_t i = 0;
	while (i < text.size()) {
		if (i + 1 >= text.size())
			return std::nullopt;
		digits.append(text.substr(i, 2));
		i += 2;
		if (i < text.size() && (text[i] == ':' || text[i] == '-')) {
			if (i + 1 == text.size())
				return std::nullopt; // trailing separator
			i++;
		}
	}
	std::optional<std::vector<uint8_t>> out = hex_bytes(digits);
	if (!out || out->size() < kMinSize || out->size() > kMaxSize)
		return std::nullopt;
	Duid d;
	d.bytes_ = std::move(*out);
	return d;
}

Duid Duid::llt(uint16_t hardware_type, uint32_t time, std::span<const uint8_t> link_layer_address)
{
	std::vector<uint8_t> b;
	put16(b, static_cast<uint16_t>(DuidType::Llt));
	put16(b, hardware_type);
	put32(b, time);
	b.insert(b.end(), link_layer_address.begin(), link_layer_address.end());
	return from_bytes(b);
}

Duid Duid::llt(const MacAddress &mac, uint32_t time)
{
	return llt(kHardwareTypeEthernet, time, mac.bytes);
}

Duid Duid::en(uint32_t enterprise_number, std::span<const uint8_t> identifier)
{
	std::vector<uint8_t> b;
	put16(b, static_cast<uint16_t>(DuidType::En));
	put32(b, enterprise_number);
	b.insert(b.end(), identifier.begin(), identifier.end());
	return from_bytes(b);
}

Duid Duid::ll(uint16_t hardware_type, std::span<const uint8_t> link_layer_address)
{
	std::vector<uint8_t> b;
	put16(b, static_cast<uint16_t>(DuidType::Ll));
	put16(b, hardware_type);
	b.insert(b.end(), link_layer_address.begin(), link_layer_address.end());
	return from_bytes(b);
}

Duid Duid::ll(const MacAddress &mac)
{
	return ll(kHardwareTypeEthernet, mac.bytes);
}

Duid Duid::uuid(const std::array<uint8_t, 16> &uuid)
{
	std::vector<uint8_t> b;
	put16(b, static_cast<uint16_t>(DuidType::Uuid));
	b.insert(b.end(), uuid.begin(), uuid.end());
	return from_bytes(b);
}

uint16_t Duid::type() const
{
	return bytes_.size() >= 2 ? get16(bytes_, 0) : 0;
}

std::optional<DuidLlt> Duid::as_llt() const
{
	// §11.2: type, hardware type, time, then the link-layer address.
	if (type() != static_cast<uint16_t>(DuidType::Llt) || bytes_.size() < 8)
		return std::nullopt;
	return DuidLlt{get16(bytes_, 2), get32(bytes_, 4), {bytes_.begin() + 8, bytes_.end()}};
}

std::optional<DuidEn> Duid::as_en() const
{
	// §11.3: type, enterprise number, identifier.
	if (type() != static_cast<uint16_t>(DuidType::En) || bytes_.size() < 6)
		return std::nullopt;
	return DuidEn{get32(bytes_, 2), {bytes_.begin() + 6, bytes_.end()}};
}

std::optional<DuidLl> Duid::as_ll() const
{
	// §11.4: type, hardware type, link-layer address.
	if (type() != static_cast<uint16_t>(DuidType::Ll) || bytes_.size() < 4)
		return std::nullopt;
	return DuidLl{get16(bytes_, 2), {bytes_.begin() + 4, bytes_.end()}};
}

std::optional<std::array<uint8_t, 16>> Duid::as_uuid() const
{
	// §11.5 / RFC 6355 §4: exactly a 16-octet UUID after the type.
	if (type() != static_cast<uint16_t>(DuidType::Uuid) || bytes_.size() != 18)
		return std::nullopt;
	std::array<uint8_t, 16> u;
	std::copy(bytes_.begin() + 2, bytes_.end(), u.begin());
	return u;
}

std::optional<MacAddress> Duid::mac() const
{
	std::optional<std::pair<uint16_t, std::vector<uint8_t>>> hw;
	if (auto l = as_llt())
		hw.emplace(l->hardware_type, std::move(l->link_layer_address));
	else if (auto ll = as_ll())
		hw.emplace(ll->hardware_type, std::move(ll->link_layer_address));
	if (!hw || hw->first != kHardwareTypeEthernet || hw->second.size() != 6)
		return std::nullopt;
	MacAddress m;
	std::copy(hw->second.begin(), hw->second.end(), m.bytes.begin());
	return m;
}

std::string Duid::str() const
{
	std::string out;
	char buf[4];
	for (size_t i = 0; i < bytes_.size(); i++) {
		std::snprintf(buf, sizeof(buf), i ? ":%02x" : "%02x", bytes_[i]);
		out += buf;
	}
	return out;
}

} // namespace umigame::dhcp6
