// The control socket; see control_socket.h.
#include "umigame/control_socket.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "umigame/log.h"

namespace umigame {

namespace {

// Bounds what the CLI accepts: "show" on a busy delegating router is large,
// but not this large.
constexpr size_t kMaxReplyBytes = 16 << 20;
// How many connections one wakeup accepts; the loop comes back for more.
constexpr int kAcceptBatch = 32;

[[noreturn]] void throw_errno(const std::string &what)
{
	throw std::system_error(errno, std::generic_category(), what);
}

sockaddr_un unix_address(const std::string &path)
{
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (path.empty() || path.size() >= sizeof(addr.sun_path))
		throw std::invalid_argument("control socket path '" + path + "' must have 1 to " +
					    std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
	std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
	return addr;
}

// Replies may carry names from the kernel or from config files: never let
// an invalid UTF-8 byte turn a reply into an exception.
std::string serialize(const nlohmann::json &value)
{
	return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string error_reply(const std::string &message)
{
	return serialize(nlohmann::json{{"ok", false}, {"error", message}});
}

// nlohmann's messages start with "[json.exception.parse_error.101] ": noise
// for an operator.
std::string without_exception_tag(const std::string &what)
{
	if (!what.empty() && what.front() == '[') {
		auto end = what.find("] ");
		if (end != std::string::npos)
			return what.substr(end + 2);
	}
	return what;
}

std::string directory_of(const std::string &path)
{
	auto slash = path.rfind('/');
	if (slash == std::string::npos)
		return ".";
	if (slash == 0)
		return "/";
	return path.substr(0, slash);
}

// Is somebody accepting connections on `path`?
bool someone_listens(const std::string &path)
{
	UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!probe)
		throw_errno("creating a socket");
	const sockaddr_un addr = unix_address(path);
	if (::connect(probe.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) == 0)
		return true;
	// EAGAIN: a full backlog, which still means somebody is there.
	return errno == EAGAIN;
}

} // namespace

struct ControlServer::Client {
	uint64_t id = 0;
	UniqueFd fd;
	FdWatch watch;
	Timer idle;
	ControlPeer peer;
	std::string input;
	std::string output;
	bool close_after_flush = false; // refused, or the peer finished sending
};

ControlServer::ControlServer(EventLoop &loop, ControlServerOptions options)
	: loop_(loop), options_(std::move(options)), alive_(std::make_shared<bool>(true))
{
	const std::string &path = options_.path;
	(void)unix_address(path); // refuses a path too long for sun_path, before any change
	if (options_.max_clients == 0 || options_.max_request_bytes == 0)
		throw std::invalid_argument("control socket " + path +
					    ": max_clients and max_request_bytes must be above 0");

	const std::string dir = directory_of(path);
	if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST)
		throw_errno("creating the directory " + dir + " for the control socket");

	struct stat st;
	if (::lstat(path.c_str(), &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			throw std::runtime_error("control socket " + path +
						 ": the path exists and is not a socket; refusing "
						 "to replace it");
		if (someone_listens(path))
			throw std::runtime_error("control socket " + path +
						 ": another process is listening there (is the "
						 "daemon already running?)");
		// Stale: the rename below replaces it.
	}

	const std::string temporary = path + ".tmp." + std::to_string(::getpid());
	const sockaddr_un addr = unix_address(temporary);
	UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (!fd)
		throw_errno("creating the control socket");
	// bind() creates the file with the socket inode's mode minus the umask:
	// setting it first means the file is never more open than asked, even
	// under its temporary name. chmod() after makes it exact.
	::fchmod(fd.get(), options_.mode);
	::unlink(temporary.c_str()); // a leftover of a crashed run with our pid
	if (::bind(fd.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) < 0)
		throw_errno("binding the control socket to " + temporary);
	try {
		if (::chmod(temporary.c_str(), options_.mode) < 0)
			throw_errno("setting the mode of " + temporary);
		if (options_.group && ::chown(temporary.c_str(), uid_t(-1), *options_.group) < 0)
			throw_errno("giving " + temporary + " group " +
				    std::to_string(*options_.group));
		if (::listen(fd.get(), int(std::min<size_t>(options_.max_clients, 128))) < 0)
			throw_errno("listening on " + temporary);
		if (::stat(temporary.c_str(), &st) < 0)
			throw_errno("stat " + temporary);
		if (::rename(temporary.c_str(), path.c_str()) < 0)
			throw_errno("renaming " + temporary + " to " + path);
	} catch (...) {
		::unlink(temporary.c_str());
		throw;
	}
	socket_dev_ = st.st_dev;
	socket_ino_ = st.st_ino;
	listener_ = std::move(fd);
	listener_watch_ = loop_.watch(listener_.get(), IoInterest::read,
				      [this](IoReady) { on_listener_readable(); });
}

ControlServer::~ControlServer()
{
	*alive_ = false;
	clients_.clear();
	listener_watch_.reset();
	listener_.reset();
	// Only our own file: a restarted daemon may already have put its socket
	// in our place.
	struct stat st;
	if (::stat(options_.path.c_str(), &st) == 0 && st.st_dev == socket_dev_ &&
	    st.st_ino == socket_ino_)
		::unlink(options_.path.c_str());
}

void ControlServer::add_command(const std::string &name, Handler handler)
{
	commands_[name] = std::move(handler);
}

void ControlServer::on_listener_readable()
{
	for (int i = 0; i < kAcceptBatch; ++i) {
		UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
		if (!fd) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log::warning("control socket " + options_.path +
					     ": accept: " + std::strerror(errno));
			return;
		}
		if (clients_.size() >= options_.max_clients) {
			// Say why rather than leave the CLI to time out. A fresh
			// socket's buffer takes this line without blocking.
			const std::string reply =
				error_reply("too many clients (" + std::to_string(options_.max_clients) +
					    "); try again later") +
				"\n";
			(void)::send(fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
			continue;
		}
		auto client = std::make_unique<Client>();
		client->id = next_client_id_++;
		ucred cred{};
		socklen_t len = sizeof(cred);
		if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
			client->peer = ControlPeer{cred.pid, cred.uid, cred.gid};
		client->fd = std::move(fd);
		const uint64_t id = client->id;
		client->watch = loop_.watch(client->fd.get(), IoInterest::read,
					    [this, id](IoReady ready) { on_client_event(id, ready); });
		arm_idle_timer(*client);
		clients_.emplace(id, std::move(client));
	}
}

void ControlServer::arm_idle_timer(Client &client)
{
	const uint64_t id = client.id;
	client.idle = loop_.after(options_.idle_timeout, [this, id] {
		log::debug("control socket " + options_.path + ": closing an idle client");
		close_client(id);
	});
}

void ControlServer::close_client(uint64_t id)
{
	clients_.erase(id); // the watch goes before the fd (member order)
}

void ControlServer::on_client_event(uint64_t id, IoReady ready)
{
	auto it = clients_.find(id);
	if (it == clients_.end())
		return;
	Client &client = *it->second;
	if (!client.output.empty() || client.close_after_flush) {
		// Waiting to write; a hangup or error ends in flush() too (EPIPE),
		// so a level-triggered hangup cannot spin.
		if (ready.writable || ready.hangup || ready.error)
			flush(client);
		return;
	}
	read_from(client);
}

void ControlServer::read_from(Client &client)
{
	const uint64_t id = client.id;
	const std::shared_ptr<bool> alive = alive_;
	bool at_eof = false;
	// Read no further than the limit allows, plus one buffer to see that a
	// line has gone past it.
	char buffer[4096];
	while (client.input.size() <= options_.max_request_bytes) {
		const ssize_t n = ::recv(client.fd.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
		if (n > 0) {
			client.input.append(buffer, size_t(n));
			continue;
		}
		if (n == 0) {
			at_eof = true;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		close_client(id); // ECONNRESET and friends
		return;
	}
	arm_idle_timer(client);
	process_lines(client, at_eof);
	if (!*alive || !clients_.contains(id))
		return;
	if (at_eof)
		client.close_after_flush = true;
	flush(client);
}

void ControlServer::process_lines(Client &client, bool at_eof)
{
	const uint64_t id = client.id;
	const std::shared_ptr<bool> alive = alive_;
	size_t start = 0;
	for (;;) {
		const size_t newline = client.input.find('\n', start);
		if (newline == std::string::npos)
			break;
		if (newline - start > options_.max_request_bytes)
			break; // refused below, with the rest
		const std::string line = client.input.substr(start, newline - start);
		start = newline + 1;
		if (line.find_first_not_of(" \t\r") == std::string::npos)
			continue;
		std::string reply = reply_to(line, client.peer);
		if (!*alive || !clients_.contains(id))
			return;
		client.output += reply;
		client.output += '\n';
	}
	client.input.erase(0, start);
	if (client.input.size() > options_.max_request_bytes) {
		// The framing is lost: refuse, and close once the refusal is out.
		client.output += error_reply("request exceeds " +
					     std::to_string(options_.max_request_bytes) + " bytes") +
				 "\n";
		client.input.clear();
		client.close_after_flush = true;
		return;
	}
	if (at_eof && client.input.find_first_not_of(" \t\r") != std::string::npos) {
		// A last request without its newline (`printf ... | socat`).
		std::string line = std::move(client.input);
		client.input.clear();
		std::string reply = reply_to(line, client.peer);
		if (!*alive || !clients_.contains(id))
			return;
		client.output += reply;
		client.output += '\n';
	}
}

std::string ControlServer::reply_to(const std::string &line, const ControlPeer &peer)
{
	nlohmann::json request;
	try {
		request = nlohmann::json::parse(line);
	} catch (const nlohmann::json::parse_error &e) {
		return error_reply("malformed JSON: " + without_exception_tag(e.what()));
	}
	if (!request.is_object() || !request.contains("cmd") || !request["cmd"].is_string())
		return error_reply("a request is a JSON object with a \"cmd\" string");
	const std::string cmd = request["cmd"].get<std::string>();
	auto it = commands_.find(cmd);
	if (it == commands_.end()) {
		std::string known;
		for (const auto &[name, handler] : commands_)
			known += (known.empty() ? "" : ", ") + name;
		return error_reply("unknown command '" + cmd + "' (commands: " +
				   (known.empty() ? "none" : known) + ")");
	}
	// A copy: the handler may replace itself with add_command().
	const Handler handler = it->second;
	nlohmann::json result;
	try {
		result = handler(request, peer);
	} catch (const ControlError &e) {
		return error_reply(e.what());
	} catch (const std::exception &e) {
		log::error("control command '" + cmd + "' failed: " + e.what());
		return error_reply("command '" + cmd + "' failed: " + e.what());
	}
	nlohmann::json reply = nlohmann::json::object();
	if (result.is_object())
		reply = std::move(result);
	else if (!result.is_null())
		reply["result"] = std::move(result);
	reply["ok"] = true;
	return serialize(reply);
}

void ControlServer::flush(Client &client)
{
	while (!client.output.empty()) {
		const ssize_t n = ::send(client.fd.get(), client.output.data(), client.output.size(),
					 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			client.output.erase(0, size_t(n));
			arm_idle_timer(client);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		close_client(client.id); // EPIPE: the client left
		return;
	}
	if (client.output.empty() && client.close_after_flush) {
		close_client(client.id);
		return;
	}
	update_interest(client);
}

void ControlServer::update_interest(Client &client)
{
	// While replies are queued we wait to write them and do not read: a
	// client that never reads cannot make us queue without bound.
	client.watch.set_interest(client.output.empty() ? IoInterest::read : IoInterest::write);
}

// ---- Client ----------------------------------------------------------------

nlohmann::json control_request(const std::string &path, const nlohmann::json &request,
			       std::chrono::milliseconds timeout)
{
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	auto remaining_ms = [&] {
		// Rounded up: never give up before the deadline.
		auto left = std::chrono::ceil<std::chrono::milliseconds>(
			deadline - std::chrono::steady_clock::now());
		return int(std::max<int64_t>(0, left.count()));
	};
	const std::string where = "control socket " + path;
	const sockaddr_un addr = unix_address(path);

	UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!fd)
		throw ControlClientError(std::string("creating a socket: ") + std::strerror(errno));
	// A blocking connect bounded by SO_SNDTIMEO: a non-blocking one on a
	// Unix socket with a full backlog fails with EAGAIN instead of waiting.
	timeval tv{};
	tv.tv_sec = timeout.count() / 1000;
	tv.tv_usec = (timeout.count() % 1000) * 1000;
	::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (::connect(fd.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) < 0) {
		const int e = errno;
		std::string hint;
		if (e == ENOENT || e == ECONNREFUSED)
			hint = " (is the daemon running?)";
		else if (e == EACCES)
			hint = " (is this user in the socket's group?)";
		else if (e == EAGAIN || e == EINPROGRESS)
			hint = " (the daemon is not accepting connections)";
		throw ControlClientError("cannot connect to " + where + ": " + std::strerror(e) + hint);
	}
	if (::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK) < 0)
		throw ControlClientError(std::string("fcntl: ") + std::strerror(errno));

	auto wait_for = [&](short events, const char *what) {
		for (;;) {
			pollfd p{fd.get(), events, 0};
			const int n = ::poll(&p, 1, remaining_ms());
			if (n > 0)
				return;
			if (n == 0)
				throw ControlClientError("no reply from " + where + " within " +
							 std::to_string(timeout.count()) + " ms (" +
							 what + ")");
			if (errno != EINTR)
				throw ControlClientError(std::string("poll: ") + std::strerror(errno));
		}
	};

	const std::string out = serialize(request) + "\n";
	size_t sent = 0;
	while (sent < out.size()) {
		const ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
		if (n > 0) {
			sent += size_t(n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			wait_for(POLLOUT, "sending the request");
			continue;
		}
		// The daemon may have refused us with a reply and closed (too
		// many clients): that reply is worth more than EPIPE.
		break;
	}

	std::string in;
	for (;;) {
		const auto newline = in.find('\n');
		if (newline != std::string::npos) {
			in.resize(newline);
			break;
		}
		if (in.size() > kMaxReplyBytes)
			throw ControlClientError("reply from " + where + " exceeds " +
						 std::to_string(kMaxReplyBytes) + " bytes");
		char buffer[8192];
		const ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
		if (n > 0) {
			in.append(buffer, size_t(n));
			continue;
		}
		if (n == 0)
			throw ControlClientError(where + " closed the connection " +
						 (in.empty() ? "without a reply" : "in mid-reply"));
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			wait_for(POLLIN, "waiting for the reply");
			continue;
		}
		throw ControlClientError("reading from " + where + ": " + std::strerror(errno));
	}
	try {
		auto reply = nlohmann::json::parse(in);
		if (!reply.is_object())
			throw ControlClientError("malformed reply from " + where + ": not an object");
		return reply;
	} catch (const nlohmann::json::parse_error &e) {
		throw ControlClientError("malformed reply from " + where + ": " +
					 without_exception_tag(e.what()));
	}
}

} // namespace umigame
