// SCAFFOLD: replaced by the server implementation.
#include "umigame/dhcp6d/server.h"

#include <stdexcept>

namespace umigame::dhcp6d {

ServerConfig parse_server_config(ConfigTable &table)
{
	table.fail("the server role is not implemented yet");
}

Server::Server(EventLoop &, Rtnetlink &, const ServerConfig &, const std::string &)
{
	throw std::runtime_error("the server role is not implemented yet");
}

Server::~Server() = default;
void Server::reconfigure(const ServerConfig &) {}
nlohmann::json Server::status() const { return nullptr; }

} // namespace umigame::dhcp6d
