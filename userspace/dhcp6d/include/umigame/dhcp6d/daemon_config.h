// umigame-dhcp6d's configuration file: one TOML file with a [daemon] table
// (who to run as, where the control socket and the state live) and the two
// roles, each optional but at least one present:
//
//   [client]  the requesting router (RFC 8415 client, takes prefixes from
//             upstream and splits them over downstream interfaces)
//   [server]  the delegating router (RFC 8415 server, delegates prefixes
//             from pools to requesting routers)
//   [firewall] the requesting router's RFC 6092 firewall (optional: on
//             with its defaults when absent)
//
// Every error names file:line:column and the whole file is refused: a
// reload with a bad file keeps the running configuration.
#pragma once

#include <optional>
#include <string>

#include "umigame/daemon.h"
#include "umigame/dhcp6d/client.h"
#include "umigame/dhcp6d/firewall.h"
#include "umigame/dhcp6d/server.h"

namespace umigame::dhcp6d {

struct DaemonConfig {
	std::string file;
	std::optional<RunAs> run_as; // absent: keep the identity we started with
	std::string control_socket = "/run/umigame/dhcp6d.sock";
	std::string state_dir = "/var/lib/umigame/dhcp6d";
	std::optional<ClientConfig> client;
	std::optional<ServerConfig> server;
	// [firewall]: the requesting router's LAN protection (docs/firewall.md);
	// on by default whenever there is a [client].
	FirewallConfig firewall;
};

// Throws ConfigError.
DaemonConfig load_daemon_config(const std::string &file);
DaemonConfig parse_daemon_config(std::string_view text, const std::string &name);

} // namespace umigame::dhcp6d
