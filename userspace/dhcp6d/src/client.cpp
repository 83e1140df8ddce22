// SCAFFOLD: replaced by the client implementation.
#include "umigame/dhcp6d/client.h"

#include <stdexcept>

namespace umigame::dhcp6d {

ClientConfig parse_client_config(ConfigTable &table)
{
	table.fail("the client role is not implemented yet");
}

Client::Client(EventLoop &, Rtnetlink &, const ClientConfig &, const std::string &)
{
	throw std::runtime_error("the client role is not implemented yet");
}

Client::~Client() = default;
void Client::reconfigure(const ClientConfig &) {}
nlohmann::json Client::status() const { return nullptr; }
void Client::shutdown(std::function<void()> done) { done(); }

} // namespace umigame::dhcp6d
