// What the CLI's daemon commands (dhcp6, ike) share: asking a daemon over
// its control socket and laying its JSON reply out for people — scalars as
// "key: value", lists of records as aligned tables.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace umigame::cli {

// One request; the reply without its "ok". A refusal throws with the
// daemon's error text.
nlohmann::json ask(const std::string &socket, const nlohmann::json &request);
nlohmann::json ask(const std::string &socket, const char *command);

// `umigame DAEMON SUB [--json] [--socket PATH] [NAME...]`: the socket is
// --socket, else $env_var, else default_socket. Other words are NAMEs when
// allow_names, refused otherwise; no SUB at all is a UsageError(usage).
struct DaemonArgs {
	std::string sub;
	std::string socket;
	bool json = false;
	std::vector<std::string> names;
};
DaemonArgs daemon_args(const std::string &daemon, std::vector<std::string> args, const char *env_var,
		       const char *default_socket, const std::string &usage, bool allow_names = false);

void print_object(const nlohmann::json &object, const std::string &indent);
void print_table(const nlohmann::json &rows, const std::string &indent);

} // namespace umigame::cli
