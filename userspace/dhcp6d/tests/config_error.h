// What parse_daemon_config says when it refuses a text ("" when it takes
// it): the tables' refusal tests compare it with file:line:column.
#pragma once

#include <string>

#include "umigame/dhcp6d/daemon_config.h"

namespace umigame::dhcp6d {

inline std::string config_error_of(const std::string &text, const std::string &name = "c.toml")
{
	try {
		parse_daemon_config(text, name);
	} catch (const ConfigError &e) {
		return e.what();
	}
	return "";
}

} // namespace umigame::dhcp6d
