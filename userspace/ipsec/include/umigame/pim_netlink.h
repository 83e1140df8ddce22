// Client of umigame.ko's PIM Register devices: the generic-netlink family
// "umigame_pim" (include/umigame/pim.h), over GenlSocket (sa_netlink.h).
// The reply parsing (parse_pim_message) is apart from the socket, so that
// tests and the fuzzer feed it bytes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <linux/netlink.h>

#include "umigame/pim.h"
#include "umigame/sa_netlink.h"

namespace umigame {

using Ipv6Bytes = std::array<uint8_t, 16>;

struct PimRange {
	Ipv6Bytes group{};
	uint8_t prefix_len = 0;
	Ipv6Bytes rp{};
};

// What GET reports of one device.
struct PimDevice {
	uint32_t ifindex = 0;
	std::string name;
	Ipv6Bytes source{}; // all zero: the route's choice
	uint32_t rate = 0;  // Registers/s, 0 = no limit
	uint32_t flags = 0; // UMIGAME_PIM_F_*
	std::vector<PimRange> ranges;
	uint64_t registers = 0, null_registers = 0, bytes = 0;
	uint64_t drop_no_rp = 0, drop_rate = 0, drop_too_big = 0, drop_no_route = 0, drop_bad = 0;
};

// One GET reply message (its header already checked by parse_reply).
// Throws std::runtime_error when an attribute has the wrong size, a range
// is incomplete, or there are more ranges than a device can hold;
// attributes this version does not know are skipped.
PimDevice parse_pim_message(const nlmsghdr *nlh);

// Names of UMIGAME_PIM_A_* (index = attribute type), for messages.
std::span<const char *const> pim_attr_names();

class PimNetlink {
public:
	PimNetlink();

	// Only what is given changes.
	void set(uint32_t ifindex, const std::optional<Ipv6Bytes> &source, std::optional<uint32_t> rate,
		 std::optional<uint32_t> flags);
	void rp_add(uint32_t ifindex, const Ipv6Bytes &group, uint8_t prefix_len, const Ipv6Bytes &rp);
	void rp_del(uint32_t ifindex, const Ipv6Bytes &group, uint8_t prefix_len);
	PimDevice get(uint32_t ifindex);
	std::vector<PimDevice> dump();

private:
	GenlSocket genl_;
};

} // namespace umigame
