#include "umigame/dhcp6d/ra_message.h"

#include <algorithm>

#include "umigame/dhcp6/error.h"
#include "umigame/dhcp6/wire.h"

namespace umigame::dhcp6d {

namespace {

using dhcp6::Writer;

// An ND option: type, length in units of 8 octets (header included), body.
struct RawNdOption {
	uint8_t type;
	std::span<const uint8_t> body; // after type and length
};

// RFC 4861 §6.1.1/§6.1.2: every option has a non-zero length and ends
// inside the message; otherwise the whole message is discarded.
std::vector<RawNdOption> split_options(std::span<const uint8_t> bytes)
{
	std::vector<RawNdOption> out;
	size_t pos = 0;
	while (pos < bytes.size()) {
		if (bytes.size() - pos < 2)
			throw RaParseError("option header cut short at offset " + std::to_string(pos));
		uint8_t type = bytes[pos];
		size_t len = size_t(bytes[pos + 1]) * 8;
		if (len == 0)
			throw RaParseError("option of length 0 at offset " + std::to_string(pos) +
					   " (RFC 4861 §4.6)");
		if (len > bytes.size() - pos)
			throw RaParseError("option at offset " + std::to_string(pos) +
					   " runs past the message (RFC 4861 §4.6)");
		out.push_back({type, bytes.subspan(pos + 2, len - 2)});
		pos += len;
	}
	return out;
}

uint32_t be32(std::span<const uint8_t> b, size_t at)
{
	return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
}

std::optional<MacAddress> link_layer(const RawNdOption &o)
{
	// Ethernet: 6 octets of address in an option of length 1 (RFC 2464 §6).
	// Other link layers are not ours to interpret; skip them.
	if (o.body.size() != 6)
		return std::nullopt;
	MacAddress mac;
	std::copy(o.body.begin(), o.body.end(), mac.bytes.begin());
	return mac;
}

// Begin an option: type and a length patched by end_option().
size_t begin_option(std::vector<uint8_t> &out, uint8_t type)
{
	size_t mark = out.size();
	out.push_back(type);
	out.push_back(0);
	return mark;
}

void end_option(std::vector<uint8_t> &out, size_t mark)
{
	// Pad to a multiple of 8 octets (RFC 8106 §5.2: DNSSL padding is zero).
	while ((out.size() - mark) % 8)
		out.push_back(0);
	size_t units = (out.size() - mark) / 8;
	if (units > 255)
		throw std::invalid_argument("ND option longer than 2040 octets");
	out[mark + 1] = static_cast<uint8_t>(units);
}

void put_link_layer(std::vector<uint8_t> &out, const MacAddress &mac)
{
	size_t m = begin_option(out, ND_OPT_SOURCE_LL);
	out.insert(out.end(), mac.bytes.begin(), mac.bytes.end());
	end_option(out, m);
}

} // namespace

RouterSolicitation RouterSolicitation::parse(std::span<const uint8_t> icmp)
{
	// §4.1: type, code, checksum, 4 reserved octets, options.
	if (icmp.size() < 8)
		throw RaParseError("Router Solicitation of " + std::to_string(icmp.size()) +
				   " octets, shorter than 8 (RFC 4861 §6.1.1)");
	if (icmp[0] != kIcmpRouterSolicitation)
		throw RaParseError("not a Router Solicitation (type " + std::to_string(icmp[0]) + ")");
	if (icmp[1] != 0)
		throw RaParseError("Router Solicitation with code " + std::to_string(icmp[1]) +
				   " (RFC 4861 §6.1.1)");
	RouterSolicitation rs;
	for (const RawNdOption &o : split_options(icmp.subspan(8)))
		if (o.type == ND_OPT_SOURCE_LL && !rs.source_link_layer)
			rs.source_link_layer = link_layer(o);
	return rs;
}

std::vector<uint8_t> RouterSolicitation::serialize() const
{
	std::vector<uint8_t> out{kIcmpRouterSolicitation, 0, 0, 0, 0, 0, 0, 0};
	if (source_link_layer)
		put_link_layer(out, *source_link_layer);
	return out;
}

RouterAdvertisement RouterAdvertisement::parse(std::span<const uint8_t> icmp)
{
	// §4.2: type, code, checksum, cur hop limit, flags, router lifetime,
	// reachable time, retrans timer: 16 octets, then options.
	if (icmp.size() < 16)
		throw RaParseError("Router Advertisement of " + std::to_string(icmp.size()) +
				   " octets, shorter than 16 (RFC 4861 §6.1.2)");
	if (icmp[0] != kIcmpRouterAdvertisement)
		throw RaParseError("not a Router Advertisement (type " + std::to_string(icmp[0]) + ")");
	if (icmp[1] != 0)
		throw RaParseError("Router Advertisement with code " + std::to_string(icmp[1]) +
				   " (RFC 4861 §6.1.2)");
	RouterAdvertisement ra;
	ra.cur_hop_limit = icmp[4];
	ra.managed = icmp[5] & 0x80;
	ra.other = icmp[5] & 0x40;
	uint8_t prf = (icmp[5] >> 3) & 0x3;
	// RFC 4191 §2.2: the reserved value 10 is treated as medium.
	ra.preference = prf == 2 ? RouterPreference::medium : static_cast<RouterPreference>(prf);
	ra.router_lifetime = static_cast<uint16_t>(icmp[6] << 8 | icmp[7]);
	ra.reachable_time = be32(icmp, 8);
	ra.retrans_timer = be32(icmp, 12);
	for (const RawNdOption &o : split_options(icmp.subspan(16))) {
		switch (o.type) {
		case ND_OPT_SOURCE_LL:
			if (!ra.source_link_layer)
				ra.source_link_layer = link_layer(o);
			break;
		case ND_OPT_MTU:
			if (o.body.size() != 6)
				throw RaParseError("MTU option of length " + std::to_string((o.body.size() + 2) / 8) +
						   ", must be 1 (RFC 4861 §4.6.4)");
			ra.mtu = be32(o.body, 2);
			break;
		case ND_OPT_PREFIX_INFO: {
			if (o.body.size() != 30)
				throw RaParseError("Prefix Information option of length " +
						   std::to_string((o.body.size() + 2) / 8) +
						   ", must be 4 (RFC 4861 §4.6.2)");
			PrefixInformation p;
			if (o.body[0] > 128)
				throw RaParseError("Prefix Information with prefix length " +
						   std::to_string(o.body[0]) + " (RFC 4861 §4.6.2)");
			p.prefix.length = o.body[0];
			p.on_link = o.body[1] & 0x80;
			p.autonomous = o.body[1] & 0x40;
			p.valid_lifetime = be32(o.body, 2);
			p.preferred_lifetime = be32(o.body, 6);
			std::copy(o.body.begin() + 14, o.body.begin() + 30, p.prefix.address.bytes.begin());
			ra.prefixes.push_back(p);
			break;
		}
		case ND_OPT_RDNSS: {
			// RFC 8106 §5.1: length 3 + 2 per address, at least one.
			size_t octets = o.body.size() + 2;
			if (octets < 24 || (octets - 8) % 16)
				throw RaParseError("RDNSS option of length " + std::to_string(octets / 8) +
						   " (RFC 8106 §5.1: odd and at least 3)");
			Rdnss r;
			r.lifetime = be32(o.body, 2);
			for (size_t at = 6; at + 16 <= o.body.size(); at += 16) {
				Ipv6Address a;
				std::copy(o.body.begin() + at, o.body.begin() + at + 16, a.bytes.begin());
				r.servers.push_back(a);
			}
			ra.rdnss.push_back(std::move(r));
			break;
		}
		case ND_OPT_DNSSL: {
			// RFC 8106 §5.2: length at least 2; names in DNS wire format,
			// then zero padding to the end of the option.
			if (o.body.size() + 2 < 16)
				throw RaParseError("DNSSL option shorter than 16 octets (RFC 8106 §5.2)");
			Dnssl d;
			d.lifetime = be32(o.body, 2);
			auto names = o.body.subspan(6);
			dhcp6::ParseBudget budget;
			dhcp6::OptionReader r(names, 0, ND_OPT_DNSSL, 0, budget);
			try {
				while (!r.empty()) {
					size_t at = r.offset();
					if (names[at] == 0) {
						// Padding: the rest must be zero as well.
						for (size_t i = at; i < names.size(); i++)
							if (names[i] != 0)
								throw RaParseError("DNSSL data after the padding (RFC 8106 §5.2)");
						break;
					}
					d.domains.push_back(dhcp6::DomainName::parse(r));
				}
			} catch (const dhcp6::ParseError &e) {
				throw RaParseError("DNSSL: " + e.reason());
			}
			// §5.2: "one or more domain names".
			if (d.domains.empty())
				throw RaParseError("DNSSL option without a domain name (RFC 8106 §5.2)");
			ra.dnssl.push_back(std::move(d));
			break;
		}
		case ND_OPT_ROUTE_INFO: {
			// RFC 4191 §2.3: length 1, 2 or 3; a prefix longer than 64
			// needs 3, longer than 0 at least 2. Otherwise the option (not
			// the message) is ignored, and so is a reserved preference.
			size_t units = (o.body.size() + 2) / 8;
			uint8_t length = o.body[0];
			if (units > 3 || length > 128 || (length > 64 && units < 3) || (length > 0 && units < 2))
				break;
			uint8_t route_prf = (o.body[1] >> 3) & 0x3;
			if (route_prf == 2)
				break;
			RouteInformation r;
			r.prefix.length = length;
			r.preference = static_cast<RouterPreference>(route_prf);
			r.lifetime = be32(o.body, 2);
			std::copy(o.body.begin() + 6, o.body.end(), r.prefix.address.bytes.begin());
			r.prefix = r.prefix.masked();
			ra.routes.push_back(r);
			break;
		}
		case ND_OPT_CAPTIVE_PORTAL: {
			// RFC 8910 §2.3: the URI, padded with NULs to the option's end.
			std::string uri(o.body.begin(), o.body.end());
			uri.erase(uri.find_last_not_of('\0') + 1);
			if (!ra.captive_portal)
				ra.captive_portal = uri;
			break;
		}
		default:
			// §4.6: unknown options are ignored.
			break;
		}
	}
	return ra;
}

std::vector<uint8_t> RouterAdvertisement::serialize() const
{
	std::vector<uint8_t> out;
	Writer w(out);
	w.u8(kIcmpRouterAdvertisement);
	w.u8(0);
	w.u16(0); // checksum: the kernel's
	w.u8(cur_hop_limit);
	w.u8(static_cast<uint8_t>((managed ? 0x80 : 0) | (other ? 0x40 : 0) |
				  (static_cast<uint8_t>(preference) & 0x3) << 3));
	w.u16(router_lifetime);
	w.u32(reachable_time);
	w.u32(retrans_timer);
	if (source_link_layer)
		put_link_layer(out, *source_link_layer);
	if (mtu) {
		size_t m = begin_option(out, ND_OPT_MTU);
		w.u16(0);
		w.u32(*mtu);
		end_option(out, m);
	}
	for (const PrefixInformation &p : prefixes) {
		if (p.prefix.length > 128)
			throw std::invalid_argument("prefix length over 128");
		size_t m = begin_option(out, ND_OPT_PREFIX_INFO);
		w.u8(p.prefix.length);
		w.u8(static_cast<uint8_t>((p.on_link ? 0x80 : 0) | (p.autonomous ? 0x40 : 0)));
		w.u32(p.valid_lifetime);
		w.u32(p.preferred_lifetime);
		w.u32(0); // reserved
		w.address(p.prefix.address);
		end_option(out, m);
	}
	for (const Rdnss &r : rdnss) {
		if (r.servers.empty())
			continue; // §5.1: at least one address
		size_t m = begin_option(out, ND_OPT_RDNSS);
		w.u16(0);
		w.u32(r.lifetime);
		for (const Ipv6Address &a : r.servers)
			w.address(a);
		end_option(out, m);
	}
	for (const Dnssl &d : dnssl) {
		if (d.domains.empty())
			continue;
		size_t m = begin_option(out, ND_OPT_DNSSL);
		w.u16(0);
		w.u32(d.lifetime);
		for (const dhcp6::DomainName &n : d.domains)
			n.serialize(w);
		end_option(out, m);
	}
	for (const RouteInformation &r : routes) {
		if (r.prefix.length > 128)
			throw std::invalid_argument("route prefix length over 128");
		size_t m = begin_option(out, ND_OPT_ROUTE_INFO);
		w.u8(r.prefix.length);
		w.u8(static_cast<uint8_t>((static_cast<uint8_t>(r.preference) & 0x3) << 3));
		w.u32(r.lifetime);
		// §2.3: only the octets the prefix length needs (0, 8 or 16).
		size_t octets = r.prefix.length == 0 ? 0 : r.prefix.length <= 64 ? 8 : 16;
		Ipv6Prefix masked = r.prefix.masked();
		out.insert(out.end(), masked.address.bytes.begin(), masked.address.bytes.begin() + octets);
		end_option(out, m);
	}
	if (captive_portal) {
		size_t m = begin_option(out, ND_OPT_CAPTIVE_PORTAL);
		out.insert(out.end(), captive_portal->begin(), captive_portal->end());
		// §2.3: padded with NULs; a URI that happens to fill the option
		// exactly still needs no terminator.
		end_option(out, m);
	}
	return out;
}

} // namespace umigame::dhcp6d
