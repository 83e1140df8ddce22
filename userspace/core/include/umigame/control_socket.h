// The daemons' control socket and the CLI's client for it: a Unix stream
// socket speaking newline-delimited JSON, one request object per line, one
// reply object per line, in order:
//
//   -> {"cmd": "show"}
//   <- {"ok": true, ...}
//   <- {"ok": false, "error": "unknown command 'shw' (commands: reload, show)"}
//
// The server runs on the EventLoop and never blocks: requests are bounded
// in size, clients in number and in idle time, and a client that does not
// read its replies is not read from either (its queued output bounds what it
// can make us hold). Access control is the socket file's mode and group.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>
#include <sys/types.h>

#include "umigame/event_loop.h"

namespace umigame {

// Who sent a request (SO_PEERCRED), for handlers that log or restrict.
struct ControlPeer {
	pid_t pid = 0;
	uid_t uid = 0;
	gid_t gid = 0;
};

// A handler's refusal: the reply becomes {"ok": false, "error": what()}.
class ControlError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

struct ControlServerOptions {
	std::string path; // e.g. /run/umigame/dhcp6.sock
	mode_t mode = 0660;
	std::optional<gid_t> group; // the socket's group: who may use the CLI
	size_t max_request_bytes = 64 * 1024;
	size_t max_clients = 16;
	// A client silent this long is disconnected, so idle connections cannot
	// hold every slot.
	std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
};

class ControlServer {
public:
	// Returns the reply's fields; the server adds "ok": true. A result that
	// is not an object goes under "result"; null gives {"ok": true}. Throw
	// ControlError to refuse; any other exception is reported as a failure
	// of the command (and logged).
	using Handler = std::function<nlohmann::json(const nlohmann::json &request,
						     const ControlPeer &peer)>;

	// Creates the socket atomically: bound and listening under a temporary
	// name, given its mode and group, then renamed over `path`. A stale
	// socket there (nobody listening) is replaced; a live one, or anything
	// that is not a socket, is an error. The parent directory is created
	// (one level, mode 0755) when missing.
	ControlServer(EventLoop &loop, ControlServerOptions options);
	// Disconnects every client and removes the socket file if it is still
	// ours (a newer instance may have replaced it).
	~ControlServer();
	ControlServer(const ControlServer &) = delete;
	ControlServer &operator=(const ControlServer &) = delete;

	void add_command(const std::string &name, Handler handler);

	const std::string &path() const { return options_.path; }
	size_t client_count() const { return clients_.size(); }

private:
	struct Client;

	void on_listener_readable();
	void on_client_event(uint64_t id, IoReady ready);
	void read_from(Client &client);
	void process_lines(Client &client, bool at_eof);
	void flush(Client &client);
	void update_interest(Client &client);
	void close_client(uint64_t id);
	void arm_idle_timer(Client &client);
	std::string reply_to(const std::string &line, const ControlPeer &peer);

	EventLoop &loop_;
	ControlServerOptions options_;
	UniqueFd listener_;
	dev_t socket_dev_ = 0;
	ino_t socket_ino_ = 0;
	FdWatch listener_watch_;
	std::map<std::string, Handler> commands_;
	std::map<uint64_t, std::unique_ptr<Client>> clients_;
	uint64_t next_client_id_ = 1;
	// Cleared by the destructor: a handler may destroy the server, and the
	// code that called it must then stop touching it.
	std::shared_ptr<bool> alive_;
};

// The CLI side could not get a reply: the message names the socket and,
// where it helps, the likely cause ("is umigame-dhcp6d running?").
class ControlClientError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

// Connect to `path`, send one request, and return the daemon's reply (ok or
// not: the caller shows "error"). The timeout covers the whole exchange.
nlohmann::json control_request(const std::string &path, const nlohmann::json &request,
			       std::chrono::milliseconds timeout = std::chrono::seconds(5));

} // namespace umigame
