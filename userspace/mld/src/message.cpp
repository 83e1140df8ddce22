#include "umigame/mld/message.h"

#include <algorithm>
#include <cstring>

namespace umigame::mld {

const Ipv6Address kAllNodes = *Ipv6Address::parse("ff02::1");
const Ipv6Address kAllMldv2Routers = *Ipv6Address::parse("ff02::16");
const Ipv6Address kAllRouters = *Ipv6Address::parse("ff02::2");

namespace {

constexpr size_t kV1Size = 24;
constexpr size_t kV2QueryHeader = 28;
constexpr size_t kReportHeader = 8;
constexpr size_t kRecordHeader = 20;

uint16_t get16(std::span<const uint8_t> b, size_t at)
{
	return uint16_t(b[at] << 8 | b[at + 1]);
}

void put16(std::vector<uint8_t> &out, uint16_t v)
{
	out.push_back(uint8_t(v >> 8));
	out.push_back(uint8_t(v));
}

Ipv6Address get_address(std::span<const uint8_t> b, size_t at)
{
	Ipv6Address a;
	std::memcpy(a.bytes.data(), b.data() + at, 16);
	return a;
}

void put_address(std::vector<uint8_t> &out, const Ipv6Address &a)
{
	out.insert(out.end(), a.bytes.begin(), a.bytes.end());
}

std::string n(size_t v)
{
	return std::to_string(v);
}

V2Query parse_v2_query(std::span<const uint8_t> b)
{
	V2Query q;
	q.max_resp_code = get16(b, 4);
	q.address = get_address(b, 8);
	q.suppress = b[24] & 0x08;
	q.qrv = b[24] & 0x07;
	q.qqic = b[25];
	size_t count = get16(b, 26);
	// §5.1.10: never believe the count beyond the bytes there are.
	if (count > (b.size() - kV2QueryHeader) / 16)
		throw ParseError("MLDv2 Query: " + n(count) + " sources claimed, room for " +
				 n((b.size() - kV2QueryHeader) / 16));
	q.sources.reserve(count);
	for (size_t i = 0; i < count; i++)
		q.sources.push_back(get_address(b, kV2QueryHeader + 16 * i));
	return q;
}

bool known_record_type(uint8_t t)
{
	return t >= 1 && t <= 6;
}

V2Report parse_v2_report(std::span<const uint8_t> b)
{
	if (b.size() < kReportHeader)
		throw ParseError("MLDv2 Report: " + n(b.size()) + " bytes, the header alone is 8");
	V2Report r;
	size_t count = get16(b, 6);
	size_t at = kReportHeader;
	for (size_t i = 0; i < count; i++) {
		// §5.2.4-§5.2.6: each count checked against what remains.
		if (b.size() - at < kRecordHeader)
			throw ParseError("MLDv2 Report: record " + n(i + 1) + " of " + n(count) + " starts " +
					 n(b.size() - at) + " bytes before the end, its header alone is 20");
		uint8_t type = b[at];
		size_t aux = size_t(b[at + 1]) * 4;
		size_t sources = get16(b, at + 2);
		size_t need = kRecordHeader + sources * 16 + aux;
		if (need > b.size() - at)
			throw ParseError("MLDv2 Report: record " + n(i + 1) + " claims " + n(sources) +
					 " sources and " + n(aux) + " aux bytes (" + n(need) + " bytes), " +
					 n(b.size() - at) + " remain");
		if (!known_record_type(type)) {
			r.unknown_records++; // §5.2.12: silently ignored
			at += need;
			continue;
		}
		Record rec;
		rec.type = RecordType(type);
		rec.address = get_address(b, at + 4);
		rec.sources.reserve(sources);
		for (size_t s = 0; s < sources; s++)
			rec.sources.push_back(get_address(b, at + kRecordHeader + 16 * s));
		auto aux_at = b.begin() + ptrdiff_t(at + kRecordHeader + sources * 16);
		rec.aux_data.assign(aux_at, aux_at + ptrdiff_t(aux));
		r.records.push_back(std::move(rec));
		at += need;
	}
	return r;
}

} // namespace

namespace {

// §5.1.3 and §5.1.9 share one form: below `linear` (the top bit clear) the
// code is the value; above, 1|exp(3)|mant(mant_bits) stands for
// (mant | 1 << mant_bits) << (exp + 3).
uint32_t decode_float(uint32_t code, unsigned mant_bits, uint32_t linear)
{
	if (code < linear)
		return code;
	uint32_t exp = (code >> mant_bits) & 0x7;
	uint32_t mant = code & ((1u << mant_bits) - 1);
	return (mant | 1u << mant_bits) << (exp + 3);
}

uint32_t encode_float(uint32_t value, unsigned mant_bits, uint32_t linear)
{
	if (value < linear)
		return value;
	for (uint32_t exp = 0; exp < 8; exp++) {
		uint32_t mant = value >> (exp + 3);
		if (mant < 2u << mant_bits)
			return linear | exp << mant_bits | (mant & ((1u << mant_bits) - 1));
	}
	return linear * 2 - 1; // saturated: every bit set
}

} // namespace

uint32_t decode_max_resp_code(uint16_t code)
{
	return decode_float(code, 12, 0x8000);
}

uint16_t encode_max_resp_code(uint32_t ms)
{
	return uint16_t(encode_float(ms, 12, 0x8000));
}

uint32_t decode_qqic(uint8_t code)
{
	return decode_float(code, 4, 0x80);
}

uint8_t encode_qqic(uint32_t s)
{
	return uint8_t(encode_float(s, 4, 0x80));
}

const char *record_type_name(RecordType t)
{
	switch (t) {
	case RecordType::mode_is_include:
		return "IS_IN";
	case RecordType::mode_is_exclude:
		return "IS_EX";
	case RecordType::change_to_include:
		return "TO_IN";
	case RecordType::change_to_exclude:
		return "TO_EX";
	case RecordType::allow_new_sources:
		return "ALLOW";
	case RecordType::block_old_sources:
		return "BLOCK";
	}
	return "?";
}

std::vector<uint8_t> V1Message::serialize() const
{
	std::vector<uint8_t> out{type, 0, 0, 0};
	put16(out, max_response_delay);
	put16(out, 0);
	put_address(out, address);
	return out;
}

std::vector<uint8_t> V2Query::serialize() const
{
	std::vector<uint8_t> out{kTypeQuery, 0, 0, 0};
	put16(out, max_resp_code);
	put16(out, 0);
	put_address(out, address);
	out.push_back(uint8_t((suppress ? 0x08 : 0) | (qrv & 0x07)));
	out.push_back(qqic);
	put16(out, uint16_t(sources.size()));
	for (const auto &s : sources)
		put_address(out, s);
	return out;
}

std::vector<uint8_t> V2Report::serialize() const
{
	std::vector<uint8_t> out{kTypeV2Report, 0, 0, 0, 0, 0};
	put16(out, uint16_t(records.size()));
	for (const auto &r : records) {
		out.push_back(uint8_t(r.type));
		out.push_back(uint8_t(r.aux_data.size() / 4));
		put16(out, uint16_t(r.sources.size()));
		put_address(out, r.address);
		for (const auto &s : r.sources)
			put_address(out, s);
		out.insert(out.end(), r.aux_data.begin(), r.aux_data.begin() + ptrdiff_t(r.aux_data.size() / 4 * 4));
	}
	return out;
}

Message parse(std::span<const uint8_t> b)
{
	if (b.size() < 4)
		throw ParseError("MLD: " + n(b.size()) + " bytes, not even an ICMPv6 header");
	switch (b[0]) {
	case kTypeQuery:
		// RFC 3810 §8.1: 24 bytes is MLDv1, 28 or more MLDv2, anything else
		// is ignored.
		if (b.size() == kV1Size)
			return V1Message{b[0], get16(b, 4), get_address(b, 8)};
		if (b.size() >= kV2QueryHeader)
			return parse_v2_query(b);
		throw ParseError("MLD Query of " + n(b.size()) + " bytes (RFC 3810 §8.1: neither 24 nor 28 or more)");
	case kTypeV1Report:
	case kTypeV1Done:
		if (b.size() < kV1Size)
			throw ParseError(std::string(b[0] == kTypeV1Report ? "MLDv1 Report" : "MLDv1 Done") + " of " +
					 n(b.size()) + " bytes, 24 needed");
		return V1Message{b[0], get16(b, 4), get_address(b, 8)};
	case kTypeV2Report:
		return parse_v2_report(b);
	default:
		throw ParseError("ICMPv6 type " + n(b[0]) + " is not MLD");
	}
}

std::vector<V2Report> split_report(const std::vector<Record> &records, size_t mtu)
{
	// IPv6 header, hop-by-hop header with the Router Alert, Report header.
	size_t room = mtu - 40 - 8 - kReportHeader;
	std::vector<V2Report> out;
	V2Report current;
	size_t used = 0;
	auto flush = [&] {
		if (!current.records.empty())
			out.push_back(std::move(current));
		current = {};
		used = 0;
	};
	for (const auto &r : records) {
		size_t fixed = kRecordHeader + r.aux_data.size();
		size_t per_record_max = (room - fixed) / 16;
		if (r.sources.size() <= per_record_max) {
			size_t size = fixed + 16 * r.sources.size();
			if (used + size > room)
				flush();
			current.records.push_back(r);
			used += size;
			continue;
		}
		bool keep_first_only =
			r.type == RecordType::mode_is_exclude || r.type == RecordType::change_to_exclude;
		for (size_t at = 0; at < r.sources.size(); at += per_record_max) {
			flush();
			Record part = r;
			size_t end = std::min(r.sources.size(), at + per_record_max);
			part.sources.assign(r.sources.begin() + ptrdiff_t(at), r.sources.begin() + ptrdiff_t(end));
			current.records.push_back(std::move(part));
			used = room;
			if (keep_first_only)
				break;
		}
	}
	flush();
	return out;
}

} // namespace umigame::mld
