// Crafting SCTP (RFC 9260, RFC 8260) and DCCP (RFC 4340) packets in Ethernet
// frames over IPv4 (with options) or IPv6 (packets.h's Frame: VLAN tags and
// extension headers) for the classifier's BPF_PROG_TEST_RUN tests and its
// bench. Checksums are left zero (the classifier only verifies CRC32c when
// asked to); wire_ready() fills them in for a frame a kernel will receive.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "packets.h"

namespace umigame::testing {

constexpr uint8_t kSctp = 132, kDccp = 33;

inline void put16(Bytes &b, uint16_t v)
{
	b.push_back(uint8_t(v >> 8));
	b.push_back(uint8_t(v));
}

inline void put32(Bytes &b, uint32_t v)
{
	put16(b, uint16_t(v >> 16));
	put16(b, uint16_t(v));
}

// RFC 9260 §3.2: type, flags, length (header + value, no padding), value,
// padded to 4 bytes. length_override writes another Length field.
inline Bytes chunk(uint8_t type, uint8_t flags, const Bytes &value, int length_override = -1)
{
	Bytes b = {type, flags};
	put16(b, uint16_t(length_override >= 0 ? length_override : int(4 + value.size())));
	b.insert(b.end(), value.begin(), value.end());
	while (b.size() % 4)
		b.push_back(0);
	return b;
}

// §3.3.1 DATA: TSN, stream, SSN, PPID, user data.
inline Bytes data_chunk(uint32_t ppid, uint16_t stream = 1, const Bytes &payload = {0xaa, 0xbb, 0xcc},
			uint8_t flags = 0x03)
{
	Bytes v;
	put32(v, 1000);
	put16(v, stream);
	put16(v, 0);
	put32(v, ppid);
	v.insert(v.end(), payload.begin(), payload.end());
	return chunk(0, flags, v);
}

// RFC 8260 §2.1 I-DATA: TSN, stream, reserved, MID, PPID (B set) or FSN.
inline Bytes idata_chunk(uint32_t ppid_or_fsn, uint8_t flags, const Bytes &payload = {1, 2, 3, 4})
{
	Bytes v;
	put32(v, 2000);
	put16(v, 3);
	put16(v, 0);
	put32(v, 7);
	put32(v, ppid_or_fsn);
	v.insert(v.end(), payload.begin(), payload.end());
	return chunk(64, flags, v);
}

// §3.3.2 INIT / §3.3.3 INIT ACK: initiate tag, a_rwnd, OS, MIS, initial TSN.
inline Bytes init_chunk(uint8_t type = 1, uint32_t tag = 0x11223344, uint16_t os = 10,
			uint16_t mis = 10, const Bytes &params = {})
{
	Bytes v;
	put32(v, tag);
	put32(v, 65536);
	put16(v, os);
	put16(v, mis);
	put32(v, 1);
	v.insert(v.end(), params.begin(), params.end());
	return chunk(type, 0, v);
}

// §3.3.4 SACK without gap blocks.
inline Bytes sack_chunk()
{
	Bytes v;
	put32(v, 999);
	put32(v, 65536);
	put16(v, 0);
	put16(v, 0);
	return chunk(3, 0, v);
}

// §3.3.5/§3.3.6: a Heartbeat Info parameter (type 1) of 8 bytes.
inline Bytes heartbeat_chunk(uint8_t type = 4)
{
	return chunk(type, 0, {0, 1, 0, 8, 0xde, 0xad, 0xbe, 0xef});
}

// The common header (§3.1) and chunks.
inline Bytes sctp(uint32_t vtag, const std::vector<Bytes> &chunks, uint16_t sport = 38412,
		  uint16_t dport = 38412)
{
	Bytes b;
	put16(b, sport);
	put16(b, dport);
	put32(b, vtag);
	put32(b, 0);
	for (const auto &c : chunks)
		b.insert(b.end(), c.begin(), c.end());
	return b;
}

// RFC 4340 §5.1 generic header, §5.3 acknowledgement subheader, §5.4/§5.5
// service code, §5.6 reset code. doff_override/cscov set those fields.
struct Dccp {
	uint16_t sport = 5001, dport = 5002;
	uint8_t type = 2;
	bool x = true;
	uint32_t service = 0;
	uint8_t cscov = 0;
	int doff_override = -1;
	Bytes payload = {1, 2, 3, 4};

	Bytes serialize() const
	{
		Bytes h;
		put16(h, sport);
		put16(h, dport);
		h.push_back(0); // data offset, below
		h.push_back(cscov & 15);
		put16(h, 0);
		h.push_back(uint8_t((type & 15) << 1 | (x ? 1 : 0)));
		if (x) {
			h.push_back(0);
			put32(h, 0x12345678); // 48-bit sequence number
			put16(h, 0x9abc);
		} else {
			h.push_back(0x12); // 24-bit sequence number
			put16(h, 0x3456);
		}
		if (type != 0 && type != 2) { // §5.3: all but Request and Data
			if (x) {
				put16(h, 0);
				put32(h, 0x01020304);
				put16(h, 0x0506);
			} else {
				h.push_back(0);
				h.push_back(0x01);
				put16(h, 0x0203);
			}
		}
		if (type == 0 || type == 1)
			put32(h, service);
		if (type == 7)
			put32(h, 0x02000000); // Reset Code 2 (aborted), data
		h[4] = uint8_t(doff_override >= 0 ? doff_override : int(h.size() / 4));
		h.insert(h.end(), payload.begin(), payload.end());
		return h;
	}
};

// An Ethernet frame with IPv4 (options of ihl_words - 5 NOPs) or IPv6.
struct Packet {
	int family = 4;
	std::vector<uint16_t> vlan_tpids; // outer first
	std::vector<ExtHeader> ext;       // IPv6 only
	std::string src4 = "192.0.2.1", dst4 = "198.51.100.2";
	std::string src6 = "2001:db8::1", dst6 = "2001:db8::2";
	uint8_t ihl_words = 5;
	uint16_t frag = 0; // IPv4 flags+offset field
	uint8_t proto = kSctp;
	Bytes l4;

	Bytes serialize() const
	{
		if (family == 6) {
			Frame f;
			f.src_mac = "02:00:00:00:00:01";
			f.dst_mac = "02:00:00:00:00:02";
			f.vlan_tpids = vlan_tpids;
			f.src = src6;
			f.dst = dst6;
			f.hop_limit = 64;
			f.ext = ext;
			f.upper_proto = proto;
			f.upper = l4;
			return f.serialize();
		}
		Bytes b = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
		for (uint16_t t : vlan_tpids) {
			put16(b, t);
			put16(b, 100);
		}
		put16(b, 0x0800);
		b.push_back(uint8_t(0x40 | ihl_words));
		b.push_back(0);
		put16(b, uint16_t(ihl_words * 4 + l4.size()));
		put16(b, 0x1234);
		put16(b, frag);
		b.push_back(64);
		b.push_back(proto);
		put16(b, 0);
		auto a4 = [&](const std::string &s) {
			unsigned x[4];
			sscanf(s.c_str(), "%u.%u.%u.%u", &x[0], &x[1], &x[2], &x[3]);
			for (unsigned v : x)
				b.push_back(uint8_t(v));
		};
		a4(src4);
		a4(dst4);
		for (int i = 5; i < ihl_words; i++)
			b.insert(b.end(), {1, 1, 1, 1}); // NOP options
		b.insert(b.end(), l4.begin(), l4.end());
		return b;
	}
};

// The usual frames: IPv4 without options, IPv6 with extension headers and
// VLAN tags as asked (the test run's and the bench's).
inline Bytes v4(Bytes l4, uint8_t proto = kSctp)
{
	Packet p;
	p.proto = proto;
	p.l4 = std::move(l4);
	return p.serialize();
}

inline Bytes v6(Bytes l4, uint8_t proto = kSctp, std::vector<ExtHeader> ext = {},
		std::vector<uint16_t> vlans = {})
{
	Packet p;
	p.family = 6;
	p.proto = proto;
	p.ext = std::move(ext);
	p.vlan_tpids = std::move(vlans);
	p.l4 = std::move(l4);
	return p.serialize();
}

// RFC 9260 Appendix A: CRC32c (Castagnoli, reflected), bit by bit: test
// frames only, speed is no concern here.
inline uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = ~0U;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78U & -(crc & 1));
	}
	return ~crc;
}

// An untagged IPv4 frame of v4() as a kernel will take it: the MAC
// addresses given, the IPv4 header checksum and the SCTP CRC32c (stored
// little-endian, §6.8) filled in.
inline Bytes wire_ready(Bytes f, const uint8_t dst_mac[6], const uint8_t src_mac[6])
{
	std::copy(dst_mac, dst_mac + 6, f.begin());
	std::copy(src_mac, src_mac + 6, f.begin() + 6);
	const size_t ip = 14, ihl = size_t(f[ip] & 0x0f) * 4;
	uint32_t sum = 0;
	f[ip + 10] = f[ip + 11] = 0;
	for (size_t i = 0; i < ihl; i += 2)
		sum += uint32_t(f[ip + i]) << 8 | f[ip + i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[ip + 10] = uint8_t(~sum >> 8);
	f[ip + 11] = uint8_t(~sum);
	if (f[ip + 9] == kSctp) {
		uint8_t *l4 = f.data() + ip + ihl;
		std::fill(l4 + 8, l4 + 12, 0);
		const uint32_t c = crc32c(l4, f.size() - ip - ihl);
		for (int i = 0; i < 4; i++)
			l4[8 + i] = uint8_t(c >> (8 * i));
	}
	return f;
}

} // namespace umigame::testing
