// Crafting Ethernet/IPv6 frames for BPF_PROG_TEST_RUN tests and benchmarks:
// a frame is described by value (tags, addresses, extension headers, upper
// layer) and serialized with the lengths filled in. Checksums are left zero:
// XDP programs see frames before anyone verifies them.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "umigame/net.h"

namespace umigame::testing {

using Bytes = std::vector<uint8_t>;

constexpr uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kAh = 51, kDestOpts = 60,
		  kIcmpv6 = 58, kUdp = 17, kTcp = 6;

struct ExtHeader {
	uint8_t type;
	size_t length = 8;        // whole header in bytes (multiple of 8)
	uint16_t frag_offset = 0; // fragment header: offset in 8-octet units
	bool more_fragments = false;
};

struct Frame {
	std::string src_mac = "02:00:00:00:00:01";
	std::string dst_mac = "33:33:00:00:00:01";
	std::vector<uint16_t> vlan_tpids; // outer first: 0x88a8, 0x8100
	uint16_t vlan_id = 100;
	std::string src = "fe80::1";
	std::string dst = "ff02::1";
	uint8_t hop_limit = 255;
	std::vector<ExtHeader> ext;
	uint8_t upper_proto = kIcmpv6;
	Bytes upper;

	Bytes serialize() const
	{
		Bytes b;
		auto put = [&](const Bytes &x) { b.insert(b.end(), x.begin(), x.end()); };
		auto put16 = [&](uint16_t v) {
			b.push_back(uint8_t(v >> 8));
			b.push_back(uint8_t(v));
		};
		auto mac = [&](const std::string &s) {
			auto m = MacAddress::parse(s).value();
			put(Bytes(m.bytes.begin(), m.bytes.end()));
		};
		mac(dst_mac);
		mac(src_mac);
		for (uint16_t tpid : vlan_tpids) {
			put16(tpid);
			put16(vlan_id);
		}
		put16(0x86dd);

		size_t ext_len = 0;
		for (const auto &e : ext)
			ext_len += e.length;
		const uint8_t first = ext.empty() ? upper_proto : ext[0].type;
		b.insert(b.end(), {0x60, 0, 0, 0});
		put16(uint16_t(ext_len + upper.size()));
		b.push_back(first);
		b.push_back(hop_limit);
		auto a = Ipv6Address::parse(src).value();
		put(Bytes(a.bytes.begin(), a.bytes.end()));
		a = Ipv6Address::parse(dst).value();
		put(Bytes(a.bytes.begin(), a.bytes.end()));

		for (size_t i = 0; i < ext.size(); i++) {
			const auto &e = ext[i];
			const uint8_t next = i + 1 < ext.size() ? ext[i + 1].type : upper_proto;
			if (e.type == kFragment) {
				b.push_back(next);
				b.push_back(0);
				put16(uint16_t(e.frag_offset << 3 | (e.more_fragments ? 1 : 0)));
				b.insert(b.end(), {0x12, 0x34, 0x56, 0x78});
				continue;
			}
			b.push_back(next);
			// AH counts 4-octet units minus 2 (RFC 4302 §2.2); the rest
			// 8-octet units after the first 8 (RFC 6564).
			b.push_back(uint8_t(e.type == kAh ? e.length / 4 - 2 : e.length / 8 - 1));
			// PadN option filling the rest, so hosts would accept it too.
			b.push_back(1);
			b.push_back(uint8_t(e.length - 4));
			b.insert(b.end(), e.length - 4, 0);
		}
		put(upper);
		return b;
	}
};

// ICMPv6 Router Advertisement (RFC 4861 §4.2) with its options appended.
inline Bytes router_advert(uint8_t flags = 0, uint16_t lifetime = 1800, const Bytes &options = {})
{
	Bytes b = {134, 0, 0, 0, 64, flags, uint8_t(lifetime >> 8), uint8_t(lifetime), 0, 0, 0, 0,
		   0, 0, 0, 0};
	b.insert(b.end(), options.begin(), options.end());
	return b;
}

// RFC 4191 §2.2 preference bits in the RA flags byte.
constexpr uint8_t kPrefHigh = 0x08, kPrefLow = 0x18, kFlagManaged = 0x80, kFlagOther = 0x40;

inline Bytes opt_source_lladdr(const std::string &mac)
{
	auto m = MacAddress::parse(mac).value();
	Bytes b = {1, 1};
	b.insert(b.end(), m.bytes.begin(), m.bytes.end());
	return b;
}

inline Bytes opt_prefix(const std::string &prefix)
{
	auto p = Ipv6Prefix::parse(prefix).value();
	Bytes b = {3, 4, p.length, 0xc0, 0, 0, 0x0e, 0x10, 0, 0, 0x07, 0x08, 0, 0, 0, 0};
	b.insert(b.end(), p.address.bytes.begin(), p.address.bytes.end());
	return b;
}

inline Bytes opt_mtu(uint32_t mtu)
{
	return {5, 1, 0, 0, uint8_t(mtu >> 24), uint8_t(mtu >> 16), uint8_t(mtu >> 8), uint8_t(mtu)};
}

inline Bytes concat(std::initializer_list<Bytes> parts)
{
	Bytes b;
	for (const auto &p : parts)
		b.insert(b.end(), p.begin(), p.end());
	return b;
}

// UDP header (length filled, checksum zero) + payload.
inline Bytes udp(uint16_t sport, uint16_t dport, const Bytes &payload)
{
	uint16_t len = uint16_t(8 + payload.size());
	Bytes b = {uint8_t(sport >> 8), uint8_t(sport), uint8_t(dport >> 8), uint8_t(dport),
		   uint8_t(len >> 8),   uint8_t(len),   0, 0};
	b.insert(b.end(), payload.begin(), payload.end());
	return b;
}

// A DHCPv6 message: type + transaction id (RFC 8415 §8), no options.
inline Bytes dhcp6(uint8_t type) { return {type, 0xab, 0xcd, 0xef}; }

inline Bytes tcp_syn()
{
	Bytes b(20, 0);
	b[0] = 0xc0, b[1] = 0x01, b[2] = 0x00, b[3] = 0x50; // 49153 -> 80
	b[12] = 5 << 4;
	b[13] = 0x02;
	return b;
}

} // namespace umigame::testing
