// `umigame pim …` arguments: umigame.ko's PIM Register devices (docs/pim-register.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "umigame/net.h"

namespace umigame::cli {

struct PimCommand {
	enum class Action { Show, Set, RpAdd, RpDel } action = Action::Show;
	std::string dev;                    // empty for `show` of every device
	bool json = false;
	std::optional<Ipv6Address> source;  // set: `source ADDR` (:: = the route's choice)
	std::optional<uint32_t> rate;       // set: `rate N` (0 = no limit)
	std::optional<bool> border;         // set: `border on|off`
	std::optional<Ipv6Prefix> range;    // rp add|del: GROUP/LEN within ff00::/8
	std::optional<Ipv6Address> rp;      // rp add
};

// Throws UsageError with a message that names the bad word.
PimCommand parse_pim_args(const std::vector<std::string> &args);

} // namespace umigame::cli
