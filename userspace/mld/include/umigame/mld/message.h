// MLD on the wire as value types with parse/serialize: MLDv1 (RFC 2710 §3)
// Query, Report and Done; the MLDv2 Query (RFC 3810 §5.1) and Report with
// its multicast address records (§5.2). The bytes are the ICMPv6 message:
// the IPv6 header and its hop-by-hop options are the socket's business.
//
// Checksums: the kernel verifies the ICMPv6 checksum of what a raw socket
// receives and fills it in on what it sends, so parse() ignores the field
// and serialize() writes zero there.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "umigame/net.h"

namespace umigame::mld {

// ICMPv6 types (RFC 2710 §3, RFC 3810 §5).
constexpr uint8_t kTypeQuery = 130;
constexpr uint8_t kTypeV1Report = 131;
constexpr uint8_t kTypeV1Done = 132;
constexpr uint8_t kTypeV2Report = 143;

// Where MLD messages go: all nodes (general queries), all MLDv2-capable
// routers (MLDv2 reports, §5.2.14), all routers (MLDv1 Done, RFC 2710 §3.7).
extern const Ipv6Address kAllNodes;	   // ff02::1
extern const Ipv6Address kAllMldv2Routers; // ff02::16
extern const Ipv6Address kAllRouters;	   // ff02::2

class ParseError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

// RFC 3810 §5.1.3: Maximum Response Code <-> Maximum Response Delay in ms.
// Below 32768 the code is the delay; above, 1|exp(3)|mant(12) stands for
// (mant | 0x1000) << (exp + 3). encode rounds down to what it can express
// and saturates at the largest (8387584 ms).
uint32_t decode_max_resp_code(uint16_t code);
uint16_t encode_max_resp_code(uint32_t milliseconds);
// RFC 3810 §5.1.9: QQIC <-> Querier's Query Interval in seconds. Below 128
// the code is the interval; above, 1|exp(3)|mant(4) stands for
// (mant | 0x10) << (exp + 3). encode rounds down and saturates at 31744 s.
uint32_t decode_qqic(uint8_t code);
uint8_t encode_qqic(uint32_t seconds);

// MLDv1 Query, Report or Done (RFC 2710 §3): 24 bytes. A Query is MLDv1
// when it is exactly 24 bytes long (RFC 3810 §8.1).
struct V1Message {
	uint8_t type = kTypeV1Report; // kTypeQuery, kTypeV1Report or kTypeV1Done
	uint16_t max_response_delay = 0; // ms; meaningful in a Query only (§3.4)
	Ipv6Address address; // the group; :: in a general query (§3.6)

	std::vector<uint8_t> serialize() const;
	auto operator<=>(const V1Message &) const = default;
};

// MLDv2 Query (RFC 3810 §5.1): 28 bytes and 16 per source.
struct V2Query {
	uint16_t max_resp_code = 10000; // §5.1.3, see decode_max_resp_code
	Ipv6Address address;		// :: for a general query (§5.1.5)
	bool suppress = false;		// S flag, §5.1.7
	uint8_t qrv = 2;		// §5.1.8, 3 bits; 0 when robustness > 7
	uint8_t qqic = 125;		// §5.1.9
	std::vector<Ipv6Address> sources; // §5.1.10

	uint32_t max_response_delay_ms() const { return decode_max_resp_code(max_resp_code); }
	uint32_t query_interval_s() const { return decode_qqic(qqic); }
	bool general() const { return address == Ipv6Address{}; }
	std::vector<uint8_t> serialize() const;
	auto operator<=>(const V2Query &) const = default;
};

// §5.2.12: the six record types.
enum class RecordType : uint8_t {
	mode_is_include = 1,
	mode_is_exclude = 2,
	change_to_include = 3,
	change_to_exclude = 4,
	allow_new_sources = 5,
	block_old_sources = 6,
};
const char *record_type_name(RecordType t); // "IS_IN", "TO_EX", "ALLOW", …

// A Multicast Address Record (§5.2.4-§5.2.11).
struct Record {
	RecordType type = RecordType::mode_is_include;
	Ipv6Address address;
	std::vector<Ipv6Address> sources;
	std::vector<uint8_t> aux_data; // a multiple of 4 bytes (§5.2.6, §5.2.11)
	auto operator<=>(const Record &) const = default;
};

// MLDv2 Report (§5.2).
struct V2Report {
	std::vector<Record> records;
	// Records of a type this parser does not know, skipped as §5.2.12
	// requires (they are not in `records`).
	size_t unknown_records = 0;

	std::vector<uint8_t> serialize() const;
	auto operator==(const V2Report &o) const { return records == o.records; }
};

using Message = std::variant<V1Message, V2Query, V2Report>;

// One ICMPv6 message. Throws ParseError naming what is wrong: too short for
// its type, a count (sources, records, aux data) that runs past the bytes,
// a Query of a length §8.1 says to ignore, a type that is not MLD.
// Bytes after the last source of a Query (§5.1.12 Additional Data) and after
// the last record of a Report are ignored.
Message parse(std::span<const uint8_t> icmp);

// The largest Report that fits `mtu` (IPv6 header, 8-byte hop-by-hop header
// and the Report's own 8 bytes taken off): records are packed in order and
// a record too big is split by sources (§5.2.15). A record of a type that
// must keep its whole list together (IS_EX, TO_EX) keeps as many sources as
// fit, as §5.2.15 allows.
std::vector<V2Report> split_report(const std::vector<Record> &records, size_t mtu = 1280);

} // namespace umigame::mld
