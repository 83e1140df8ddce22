// The delegating router's leases, persisted before any Reply leaves.
//
// Why a journal and not SQLite: every grant is one appended line, and a
// batch of grants (all the requests one turn of the event loop read) costs
// one write() and one fdatasync() — group commit — before their Replies are
// sent. Appends are sequential, recovery is a replay, a torn last line
// (power cut, kill -9 mid-write) is recognised by its CRC and cut off, and
// compaction is a rewrite to a temporary file renamed over the journal. No
// dependency, no schema, and the file stays readable with `cat`.
//
// Line format (one per change, CRC-32 of the text before the last space):
//   B <duid hex> <iaid> <prefix/len> <preferred> <valid> <expires> [extra...] <crc>
//   R <duid hex> <iaid> <prefix/len> 0 0 <ended> [extra...] <crc>
// Times are CLOCK_REALTIME seconds (leases must survive reboots). The
// optional extras came later, so lines without them still read:
//   na            an IA_NA address lease (a /128) instead of an IA_PD prefix
//   via=<addr>    the next hop of the route towards the delegated prefix
//   dev=<ifname>  the interface that route leaves by
//   rk=<hex>      the client's Reconfigure Key (RFC 8415 §20.4.1), 16 bytes
//   relay=<hex>   the Relay-Forward wrappers the client's messages came in,
//                 around an empty message: how a Reconfigure reaches it
// A restarted server re-installs its routes from them, and can still send
// a Reconfigure to a client it gave a key before the restart.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "umigame/net.h"

namespace umigame::dhcp6d {

// What an IA asked for: RFC 8415 §21.21 IA_PD (a prefix) or §21.4 IA_NA
// (an address, kept as a /128).
enum class LeaseKind : uint8_t { prefix, address };

// A lease belongs to one IA of one client (RFC 8415 §6.3: DUID + IAID; an
// IA_NA and an IA_PD may share an IAID, so the kind is part of the key).
struct LeaseKey {
	std::vector<uint8_t> duid;
	uint32_t iaid = 0;
	LeaseKind kind = LeaseKind::prefix;
	auto operator<=>(const LeaseKey &) const = default;
};

struct Lease {
	LeaseKey key;
	Ipv6Prefix prefix;
	uint32_t preferred = 0; // lifetimes last granted, seconds
	uint32_t valid = 0;
	int64_t expires = 0;    // when the valid lifetime ends (or ended)
	// Where the client's messages came from (the requesting router's or
	// its relay's address) and the interface they arrived on: the route
	// towards a delegated prefix, and where a Reconfigure goes. Unset for
	// leases written before these existed.
	std::optional<Ipv6Address> next_hop{};
	std::string interface{};
	// RFC 8415 §20.4.1: the Reconfigure Key the client was given (every
	// lease of one client carries the same), when it sent Reconfigure
	// Accept (§21.20) and the server sends Reconfigure.
	std::optional<std::array<uint8_t, 16>> reconfigure_key{};
	// A relayed client's Relay-Forward wrappers as received, serialized
	// around an empty message (RFC 8415 §19.3: a Reconfigure goes back
	// through them); empty for a client on our own link. Kept only with a
	// Reconfigure Key.
	std::vector<uint8_t> relay_path{};
	bool live(int64_t now) const { return expires > now; }
};

// The prefixes of length delegated_length inside base, numbered from 0.
class PrefixPool {
public:
	PrefixPool(Ipv6Prefix base, uint8_t delegated_length); // throws std::invalid_argument
	uint64_t size() const { return size_; }
	Ipv6Prefix at(uint64_t index) const;
	std::optional<uint64_t> index_of(const Ipv6Prefix &p) const;
	const Ipv6Prefix &base() const { return base_; }
	uint8_t delegated_length() const { return delegated_; }

private:
	Ipv6Prefix base_;
	uint8_t delegated_;
	uint64_t size_;
};

// The journal's content did not make sense: names file:line.
struct LeaseStoreError : std::runtime_error {
	using std::runtime_error::runtime_error;
};

class LeaseStore {
public:
	// Opens (creating it, mode 0600) and replays the journal. A torn last
	// line is cut off; any other bad line is a LeaseStoreError.
	explicit LeaseStore(std::string path);
	~LeaseStore();
	LeaseStore(const LeaseStore &) = delete;
	LeaseStore &operator=(const LeaseStore &) = delete;

	// The key's lease, live or ended but still remembered.
	const Lease *find(const LeaseKey &key) const;
	// The live lease on exactly this prefix, if any.
	const Lease *holder(const Ipv6Prefix &prefix, int64_t now) const;

	// A prefix for key from pool, most stable first: the key's live
	// lease; its remembered one if nobody holds it; then a search from a
	// position hashed from the key, preferring prefixes no other client
	// remembers. `excluded` (reservations of other clients) is skipped.
	// nullopt when nothing is free (RFC 8415 §21.13 NoPrefixAvail).
	std::optional<Ipv6Prefix> choose(const LeaseKey &key, const PrefixPool &pool, int64_t now,
					 const std::function<bool(const Ipv6Prefix &)> &excluded = {}) const;

	// Changes take effect in memory at once and reach the disk at
	// commit(): send no Reply that depends on them before that.
	// Throws std::logic_error if another key holds the prefix live at now.
	void bind(const Lease &lease, int64_t now);
	void release(const LeaseKey &key, int64_t now);
	void commit(); // one write + fdatasync for everything staged
	// The same in two halves, for a flusher thread (journal_flusher.h):
	// take_staged() on the owner's thread hands over the staged lines (they
	// are in memory already); append_durably() writes and flushes them and
	// may run on another thread, as long as the owner neither commits nor
	// compacts meanwhile.
	std::string take_staged();
	void append_durably(const std::string &lines);
	size_t staged() const { return staged_lines_; }
	// The prefixes (or addresses) whose binding changed since the last
	// call: bound, renewed or released. What a route sync must look at.
	std::vector<Ipv6Prefix> take_changed();

	// Rewrite the journal with what is remembered (ended leases only for
	// keep_ended_seconds), atomically: temp file, fdatasync, rename, fsync
	// of the directory.
	void compact(int64_t now, int64_t keep_ended_seconds);

	std::vector<Lease> leases() const;
	// Without copying, for walks on every batch (routes, expiry).
	const std::map<LeaseKey, Lease> &all() const { return by_key_; }
	size_t size() const { return by_key_.size(); }
	const std::string &path() const { return path_; }
	uint64_t journal_lines() const { return lines_; }

private:
	void replay();
	void apply(char op, const Lease &lease);
	void stage(char op, const Lease &lease);
	void open_for_append();

	std::string path_;
	int fd_ = -1;
	std::map<LeaseKey, Lease> by_key_;
	std::map<Ipv6Prefix, LeaseKey> live_by_prefix_; // prefix -> key of its newest binding
	std::string staged_;
	size_t staged_lines_ = 0;
	std::vector<Ipv6Prefix> changed_;
	uint64_t lines_ = 0;
};

// "B 000100…" line codec, exposed for tests and the fuzzer.
std::string format_line(char op, const Lease &lease);
// Throws std::invalid_argument with what is wrong.
std::pair<char, Lease> parse_line(const std::string &line);

} // namespace umigame::dhcp6d
