// What the requesting router keeps between runs and how it lays out the
// delegated prefixes downstream; both pure functions of their inputs, so
// the unit tests check them without a system underneath.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "umigame/dhcp6d/client_machine.h"

namespace umigame::dhcp6d {

// ---- prefix splitting ----

// The piece number `subnet_id` of `length` inside `delegated`, or nullopt
// when it does not fit (length shorter than the delegated prefix, or the
// number needs more bits than length - delegated.length).
std::optional<Ipv6Prefix> carve_subnet(const Ipv6Prefix &delegated, uint8_t length, uint64_t subnet_id);

// One piece of a delegated prefix on a downstream interface.
struct Assignment {
	std::string interface;
	Ipv6Prefix delegated; // what it was carved from
	Ipv6Prefix subnet;
	Ipv6Address router_address; // subnet::1, ours on that interface
	Lifetimes lifetimes;        // the delegated prefix's
	bool operator==(const Assignment &) const = default;
};

// Every downstream interface gets its piece of every prefix of its IA_PD.
// Automatic subnet ids are the lowest ones no explicit subnet_id of the
// same IA takes, in configuration order, so they do not move when the
// server changes the prefix. Pieces that do not fit are skipped and
// reported in `problems`.
std::vector<Assignment> assign_subnets(const std::vector<Downstream> &downstream, const Binding &binding,
				       std::vector<std::string> *problems = nullptr);

// The ULA /64 of each downstream interface (RFC 7084 L-2), with the same
// subnet number as its piece of the delegated prefix.
std::vector<Assignment> assign_ula_subnets(const std::vector<Downstream> &downstream, const Ipv6Prefix &ula,
					   const Lifetimes &lifetimes);

// ---- persistence ----

struct SavedState {
	dhcp6::Duid duid;
	std::optional<Binding> binding;
};

// The state file: JSON, lifetimes as wall-clock ends so that they survive
// a reboot (the monotonic clock does not). `mono_now`/`wall_now` are the
// same instant on both clocks.
// What the server told us besides leases (DNS servers, search list, RFC
// 7078 policy) under the keys the state file and `show` share.
void put_server_options(const Binding &binding, nlohmann::json &out);

std::string encode_state(const dhcp6::Duid &duid, const Binding &binding, Seconds mono_now,
			 std::chrono::system_clock::time_point wall_now);
// Throws std::runtime_error for a damaged file.
SavedState decode_state(const std::string &text, Seconds mono_now, std::chrono::system_clock::time_point wall_now);

// Write `text` to dir/name atomically: a temporary file, fsync, rename
// over the old one, fsync of the directory. Throws std::runtime_error.
void write_file_atomically(const std::string &dir, const std::string &name, const std::string &text);

} // namespace umigame::dhcp6d
