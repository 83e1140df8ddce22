#include "umigame/dhcp6/domain_name.h"

#include <cstdio>
#include <stdexcept>

#include "umigame/dhcp6/wire.h"

namespace umigame::dhcp6 {

std::optional<DomainName> DomainName::from_text(std::string_view text)
{
	DomainName name;
	if (text == ".")
		return name;
	if (!text.empty() && text.back() == '.')
		text.remove_suffix(1);
	if (text.empty())
		return std::nullopt;
	while (true) {
		size_t dot = text.find('.');
		std::string_view label = text.substr(0, dot);
		if (label.empty() || label.size() > kMaxLabelSize)
			return std::nullopt;
		name.labels.emplace_back(label);
		if (dot == std::string_view::npos)
			break;
		text.remove_prefix(dot + 1);
	}
	if (name.wire_size() > kMaxWireSize)
		return std::nullopt;
	return name;
}

std::string DomainName::str() const
{
	if (labels.empty())
		return ".";
	std::string out;
	for (const std::string &label : labels) {
		if (!out.empty())
			out += '.';
		for (unsigned char c : label) {
			if (c == '.' || c == '\\' || c < 0x21 || c > 0x7e) {
				char buf[5];
				std::snprintf(buf, sizeof(buf), "\\%03u", c);
				out += buf;
			} else {
				out += static_cast<char>(c);
			}
		}
	}
	return out;
}

size_t DomainName::wire_size() const
{
	size_t n = 1; // the root label
	for (const std::string &label : labels)
		n += 1 + label.size();
	return n;
}

DomainName DomainName::parse(OptionReader &r)
{
	// RFC 1035 §3.1: length-prefixed labels ending in the zero-length root
	// label. RFC 8415 §10: MUST NOT be compressed, so a pointer (top bits
	// 11) is an error here, as are the reserved top bits 01 and 10.
	size_t start = r.offset();
	DomainName name;
	size_t wire = 0;
	while (true) {
		if (r.empty())
			r.fail("domain name at offset " + std::to_string(start) +
			       " runs to the end of the option without a root label (RFC 1035 §3.1)");
		size_t at = r.offset();
		uint8_t len = r.u8();
		wire += 1;
		if ((len & 0xc0) == 0xc0)
			r.fail("compression pointer at offset " + std::to_string(at) +
			       ": names in DHCPv6 are never compressed (RFC 8415 §10)");
		if (len > kMaxLabelSize)
			r.fail("label length " + std::to_string(len) + " at offset " +
			       std::to_string(at) + " exceeds 63 (RFC 1035 §2.3.4)");
		if (len == 0)
			break;
		if (len > r.remaining())
			r.fail("label at offset " + std::to_string(at) + " runs past the option");
		wire += len;
		if (wire + 1 > kMaxWireSize)
			r.fail("domain name at offset " + std::to_string(start) +
			       " is longer than 255 octets (RFC 1035 §2.3.4)");
		auto bytes = r.bytes(len);
		name.labels.emplace_back(bytes.begin(), bytes.end());
	}
	return name;
}

void DomainName::serialize(Writer &w) const
{
	for (const std::string &label : labels) {
		if (label.empty() || label.size() > kMaxLabelSize)
			throw std::invalid_argument("domain name label of " +
						    std::to_string(label.size()) +
						    " octets: RFC 1035 §2.3.4 allows 1 to 63");
	}
	if (wire_size() > kMaxWireSize)
		throw std::invalid_argument("domain name " + str() + " is longer than 255 octets");
	for (const std::string &label : labels) {
		w.u8(static_cast<uint8_t>(label.size()));
		w.bytes({reinterpret_cast<const uint8_t *>(label.data()), label.size()});
	}
	w.u8(0);
}

} // namespace umigame::dhcp6
