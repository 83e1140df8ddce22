// umigame-mldproxy's configuration (docs/mldproxy.md): one upstream
// interface, any number of downstream ones (RFC 4605 §1.1), per-interface
// MLD parameters (RFC 3810 §9), the daemon's user and control socket.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "umigame/daemon.h"
#include "umigame/mld/engine.h"

namespace umigame::mldproxy {

struct InterfaceSettings {
	std::string name;
	bool fast_leave = false;
	unsigned robustness = 2;
	mld::Millis query_interval{125000};
	mld::Millis query_response_interval{10000};
	mld::Millis last_listener_query_interval{1000};
	size_t max_groups = 20000;
	size_t max_sources = 1024;
};

struct Config {
	std::string file;
	std::optional<RunAs> run_as;
	std::string control_socket = "/run/umigame/mldproxy.sock";
	InterfaceSettings upstream;
	std::vector<InterfaceSettings> downstream;
	mld::Millis unsolicited_report_interval{1000};
};

// Throws ConfigError naming file:line:column.
Config parse_config(std::string_view text, const std::string &name);
Config load_config(const std::string &file);

// The same settings with interface indexes, for the engine.
mld::EngineConfig engine_config(const Config &c, uint32_t upstream_ifindex,
				const std::vector<uint32_t> &downstream_ifindexes);

} // namespace umigame::mldproxy
