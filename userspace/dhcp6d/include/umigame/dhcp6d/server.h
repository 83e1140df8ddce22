// The delegating router (RFC 8415 server role for IA_PD, and IA_NA).
// CONTRACT with src/main.cpp — the server helper owns and fills this file.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "umigame/config.h"
#include "umigame/event_loop.h"
#include "umigame/rtnetlink.h"

namespace umigame::dhcp6d {

struct ServerConfig {
};

// Reads the [server] table; throws ConfigError naming file:line.
ServerConfig parse_server_config(ConfigTable &table);

class Server {
public:
	// Opens the sockets and the lease journal in state_dir; throws
	// std::runtime_error naming what failed.
	Server(EventLoop &loop, Rtnetlink &rtnl, const ServerConfig &config, const std::string &state_dir);
	~Server();
	Server(const Server &) = delete;
	Server &operator=(const Server &) = delete;

	// SIGHUP / `umigame dhcp6 reload`: apply a changed configuration
	// (pools, options, interfaces) without dropping a lease.
	void reconfigure(const ServerConfig &config);

	// For `umigame dhcp6 show [--json]`.
	nlohmann::json status() const;
};

} // namespace umigame::dhcp6d
