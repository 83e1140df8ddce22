// The requesting router (RFC 8415 client role for IA_PD, and IA_NA).
// CONTRACT with src/main.cpp — the client helper owns and fills this file.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "umigame/config.h"
#include "umigame/event_loop.h"
#include "umigame/rtnetlink.h"

namespace umigame::dhcp6d {

struct ClientConfig {
};

// Reads the [client] table; throws ConfigError naming file:line.
ClientConfig parse_client_config(ConfigTable &table);

class Client {
public:
	// Opens sockets, reads the saved DUID and leases from state_dir and
	// starts (Solicit, or Confirm/Renew of saved leases).
	Client(EventLoop &loop, Rtnetlink &rtnl, const ClientConfig &config, const std::string &state_dir);
	~Client();
	Client(const Client &) = delete;
	Client &operator=(const Client &) = delete;

	void reconfigure(const ClientConfig &config);

	// Stop: Release the leases (RFC 8415 §18.2.7), withdraw the prefixes
	// downstream, then call done() once (also when the Release gives up).
	void shutdown(std::function<void()> done);

	nlohmann::json status() const;
};

} // namespace umigame::dhcp6d
