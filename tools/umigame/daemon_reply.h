// What the CLI's daemon commands (dhcp6, ike) share: asking a daemon over
// its control socket and laying its JSON reply out for people — scalars as
// "key: value", lists of records as aligned tables.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace umigame::cli {

// One request; the reply without its "ok". A refusal throws with the
// daemon's error text.
nlohmann::json ask(const std::string &socket, const nlohmann::json &request);
nlohmann::json ask(const std::string &socket, const char *command);

void print_object(const nlohmann::json &object, const std::string &indent);
void print_table(const nlohmann::json &rows, const std::string &indent);

} // namespace umigame::cli
