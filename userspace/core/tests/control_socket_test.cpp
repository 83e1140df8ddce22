// The control socket: the server runs on the test's EventLoop in the main
// thread; clients (the blocking CLI function, or raw sockets for what the
// CLI would never send) run in other threads. Every wait has a deadline.
#include "umigame/control_socket.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace umigame;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// A fresh directory per test, removed afterwards.
class ScratchDir {
public:
	ScratchDir()
	{
		std::string tmpl = (std::filesystem::temp_directory_path() / "umigame-ctl-XXXXXX").string();
		if (!::mkdtemp(tmpl.data()))
			throw std::runtime_error("mkdtemp failed");
		path_ = tmpl;
	}
	~ScratchDir() { std::filesystem::remove_all(path_); }
	std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
	std::string path_;
};

// Runs the loop until `future` is ready; false if the deadline came first.
template <typename T>
bool run_until_ready(EventLoop &loop, std::future<T> &future, EventLoop::Duration deadline = 10s)
{
	bool timed_out = false;
	auto ready = [&] { return future.wait_for(0s) == std::future_status::ready; };
	Timer poll = loop.every(2ms, [&] {
		if (ready())
			loop.stop();
	});
	Timer guard = loop.after(deadline, [&] {
		timed_out = true;
		loop.stop();
	});
	while (!timed_out && !ready())
		loop.run();
	return !timed_out;
}

// A raw client, for what the CLI function never sends.
class RawClient {
public:
	explicit RawClient(const std::string &path)
	{
		fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		sockaddr_un addr{};
		addr.sun_family = AF_UNIX;
		std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
		if (::connect(fd_.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0)
			throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
		timeval tv{5, 0}; // a test must not hang on a missing reply
		::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	void send(const std::string &bytes)
	{
		size_t done = 0;
		while (done < bytes.size()) {
			ssize_t n = ::send(fd_.get(), bytes.data() + done, bytes.size() - done,
					   MSG_NOSIGNAL);
			if (n <= 0)
				throw std::runtime_error(std::string("send: ") + std::strerror(errno));
			done += size_t(n);
		}
	}
	void shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }
	// One line, without its newline; "<EOF>" when the server closed.
	std::string read_line()
	{
		for (;;) {
			auto nl = buffered_.find('\n');
			if (nl != std::string::npos) {
				std::string line = buffered_.substr(0, nl);
				buffered_.erase(0, nl + 1);
				return line;
			}
			char buf[4096];
			ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
			if (n == 0)
				return "<EOF>";
			if (n < 0)
				return std::string("<error: ") + std::strerror(errno) + ">";
			buffered_.append(buf, size_t(n));
		}
	}

private:
	UniqueFd fd_;
	std::string buffered_;
};

ControlServerOptions options_for(const std::string &path)
{
	ControlServerOptions o;
	o.path = path;
	return o;
}

void add_show(ControlServer &server)
{
	server.add_command("show", [](const json &, const ControlPeer &peer) {
		return json{{"leases", json::array({"2001:db8:100::/56"})}, {"uid", peer.uid},
			    {"pid", peer.pid}};
	});
}

} // namespace

TEST(ControlSocket, RoundTrip)
{
	ScratchDir dir;
	EventLoop loop;
	ControlServer server(loop, options_for(dir.file("dhcp6.sock")));
	add_show(server);
	auto reply = std::async(std::launch::async, [&] {
		return control_request(server.path(), json{{"cmd", "show"}});
	});
	ASSERT_TRUE(run_until_ready(loop, reply));
	json r = reply.get();
	EXPECT_EQ(r["ok"], true);
	EXPECT_EQ(r["leases"][0], "2001:db8:100::/56");
	EXPECT_EQ(r["uid"], ::getuid());
	EXPECT_EQ(r["pid"], ::getpid()); // SO_PEERCRED: the client thread is us
}

TEST(ControlSocket, SocketFileModeAndCleanup)
{
	ScratchDir dir;
	const std::string path = dir.file("run/dhcp6.sock"); // parent made on demand
	{
		EventLoop loop;
		ControlServerOptions o = options_for(path);
		o.mode = 0660;
		if (::geteuid() == 0)
			o.group = 65534; // who may use the CLI; chown needs root
		const mode_t old_umask = ::umask(0077); // must not make it 0600
		ControlServer server(loop, o);
		::umask(old_umask);
		struct stat st;
		ASSERT_EQ(::stat(path.c_str(), &st), 0);
		EXPECT_TRUE(S_ISSOCK(st.st_mode));
		EXPECT_EQ(st.st_mode & 07777, 0660u);
		if (o.group) {
			EXPECT_EQ(st.st_gid, 65534u);
		}
		// No temporary name left behind.
		int entries = 0;
		for (auto &e : std::filesystem::directory_iterator(dir.file("run"))) {
			(void)e;
			++entries;
		}
		EXPECT_EQ(entries, 1);
	}
	EXPECT_FALSE(std::filesystem::exists(path)); // removed with the server
}

TEST(ControlSocket, StaleSocketReplacedLiveOneRefused)
{
	ScratchDir dir;
	const std::string path = dir.file("dhcp6.sock");
	{
		// A crashed daemon's socket: bound, nobody listening.
		UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
		sockaddr_un addr{};
		addr.sun_family = AF_UNIX;
		std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
		ASSERT_EQ(::bind(stale.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
	}
	EventLoop loop;
	ControlServer server(loop, options_for(path));
	add_show(server);
	try {
		ControlServer second(loop, options_for(path));
		ADD_FAILURE() << "a second server took over a live socket";
	} catch (const std::runtime_error &e) {
		EXPECT_NE(std::string(e.what()).find("another process is listening"),
			  std::string::npos)
			<< e.what();
	}
	// The first still serves.
	auto reply = std::async(std::launch::async,
				[&] { return control_request(path, json{{"cmd", "show"}}); });
	ASSERT_TRUE(run_until_ready(loop, reply));
	EXPECT_EQ(reply.get()["ok"], true);

	// Not a socket: never replaced.
	const std::string file = dir.file("not-a-socket");
	{
		std::FILE *f = std::fopen(file.c_str(), "w");
		ASSERT_TRUE(f);
		std::fclose(f);
	}
	EXPECT_THROW((ControlServer{loop, options_for(file)}), std::runtime_error);
	EXPECT_TRUE(std::filesystem::exists(file));
}

TEST(ControlSocket, ErrorsAreRepliesAndTheConnectionSurvives)
{
	ScratchDir dir;
	EventLoop loop;
	ControlServer server(loop, options_for(dir.file("s")));
	add_show(server);
	server.add_command("release", [](const json &req, const ControlPeer &) -> json {
		if (!req.contains("prefix"))
			throw ControlError("release: which prefix? (\"prefix\" missing)");
		return nullptr;
	});
	server.add_command("crash", [](const json &, const ControlPeer &) -> json {
		throw std::out_of_range("lease table index 7");
	});
	auto lines = std::async(std::launch::async, [&] {
		RawClient c(server.path());
		std::vector<std::string> out;
		// Pipelined in one write: replies come in order.
		c.send("{\"cmd\": \"show\"\n"         // malformed JSON
		       "[1, 2]\n"                      // not an object
		       "{\"cmd\": 7}\n"               // cmd not a string
		       "\n"                            // blank: ignored
		       "{\"cmd\": \"shw\"}\n"         // unknown
		       "{\"cmd\": \"release\"}\n"     // handler refuses
		       "{\"cmd\": \"crash\"}\n"       // handler fails
		       "{\"cmd\": \"release\", \"prefix\": \"x\"}\n"); // null result
		for (int i = 0; i < 7; ++i)
			out.push_back(c.read_line());
		// Still open and serving.
		c.send("{\"cmd\": \"show\"}\n");
		out.push_back(c.read_line());
		return out;
	});
	ASSERT_TRUE(run_until_ready(loop, lines));
	auto out = lines.get();
	ASSERT_EQ(out.size(), 8u);
	auto parsed = [&](size_t i) { return json::parse(out[i]); };
	EXPECT_EQ(parsed(0)["ok"], false);
	EXPECT_EQ(parsed(0)["error"].get<std::string>().rfind("malformed JSON: ", 0), 0u) << out[0];
	EXPECT_EQ(parsed(1)["error"], "a request is a JSON object with a \"cmd\" string");
	EXPECT_EQ(parsed(2)["error"], "a request is a JSON object with a \"cmd\" string");
	EXPECT_EQ(parsed(3)["error"], "unknown command 'shw' (commands: crash, release, show)");
	EXPECT_EQ(parsed(4)["error"], "release: which prefix? (\"prefix\" missing)");
	EXPECT_EQ(parsed(5)["error"], "command 'crash' failed: lease table index 7");
	EXPECT_EQ(parsed(6), (json{{"ok", true}}));
	EXPECT_EQ(parsed(7)["ok"], true);
}

TEST(ControlSocket, OversizedRequestRefusedThenClosed)
{
	ScratchDir dir;
	EventLoop loop;
	ControlServerOptions o = options_for(dir.file("s"));
	o.max_request_bytes = 1024;
	ControlServer server(loop, o);
	add_show(server);
	auto lines = std::async(std::launch::async, [&] {
		RawClient c(server.path());
		c.send("{\"cmd\": \"show\", \"pad\": \"" + std::string(4000, 'x') + "\"}\n");
		return std::vector<std::string>{c.read_line(), c.read_line()};
	});
	ASSERT_TRUE(run_until_ready(loop, lines));
	auto out = lines.get();
	EXPECT_EQ(json::parse(out[0])["error"], "request exceeds 1024 bytes");
	EXPECT_EQ(out[1], "<EOF>");
	// A request just under the limit is fine.
	auto fine = std::async(std::launch::async, [&] {
		return control_request(server.path(),
				       json{{"cmd", "show"}, {"pad", std::string(900, 'x')}});
	});
	ASSERT_TRUE(run_until_ready(loop, fine));
	EXPECT_EQ(fine.get()["ok"], true);
}

TEST(ControlSocket, DeeplyNestedJsonDoesNotCrash)
{
	ScratchDir dir;
	EventLoop loop;
	ControlServer server(loop, options_for(dir.file("s")));
	auto line = std::async(std::launch::async, [&] {
		RawClient c(server.path());
		c.send(std::string(30000, '[') + std::string(30000, ']') + "\n");
		return c.read_line();
	});
	ASSERT_TRUE(run_until_ready(loop, line));
	EXPECT_EQ(json::parse(line.get())["ok"], false);
}

TEST(ControlSocket, LastRequestWithoutNewlineBeforeHalfClose)
{
	ScratchDir dir;
	EventLoop loop;
	ControlServer server(loop, options_for(dir.file("s")));
	add_show(server);
	auto lines = std::async(std::launch::async, [&] {
		RawClient c(server.path());
		c.send("{\"cmd\": \"show\"}"); // like `printf ... | socat`
		c.shutdown_write();
		return std::vector<std::string>{c.read_line(), c.read_line()};
	});
	ASSERT_TRUE(run_until_ready(loop, lines));
	auto out = lines.get();
	EXPECT_EQ(json::parse(out[0])["ok"], true);
	EXPECT_EQ(out[1], "<EOF>");
}

TEST(ControlSocket, ClientLimitAnswersTooManyClients)
{
	ScratchDir dir;
	EventLoop loop;
	ControlServerOptions o = options_for(dir.file("s"));
	o.max_clients = 3;
	ControlServer server(loop, o);
	add_show(server);

	std::vector<std::unique_ptr<RawClient>> idle;
	for (int i = 0; i < 3; ++i)
		idle.push_back(std::make_unique<RawClient>(server.path()));
	{
		// Let the server accept them.
		Timer accepted = loop.every(1ms, [&] {
			if (server.client_count() == 3)
				loop.stop();
		});
		Timer guard = loop.after(5s, [&] { loop.stop(); });
		loop.run();
		ASSERT_EQ(server.client_count(), 3u);
	}

	auto refused = std::async(std::launch::async, [&] {
		return control_request(server.path(), json{{"cmd", "show"}});
	});
	ASSERT_TRUE(run_until_ready(loop, refused));
	json r = refused.get();
	EXPECT_EQ(r["ok"], false);
	EXPECT_EQ(r["error"], "too many clients (3); try again later");

	idle.pop_back(); // one leaves: a slot frees up
	auto served = std::async(std::launch::async, [&] {
		// The server notices the departure when the loop runs: retry.
		for (int i = 0; i < 100; ++i) {
			json reply = control_request(server.path(), json{{"cmd", "show"}});
			if (reply["ok"] == true)
				return reply;
			std::this_thread::sleep_for(10ms);
		}
		return json{{"ok", false}};
	});
	ASSERT_TRUE(run_until_ready(loop, served));
	EXPECT_EQ(served.get()["ok"], true);
}

TEST(ControlSocket, ManyConcurrentClients)
{
	ScratchDir dir;
	EventLoop loop;
	ControlServerOptions o = options_for(dir.file("s"));
	o.max_clients = 64;
	ControlServer server(loop, o);
	std::atomic<int> handled{0};
	server.add_command("echo", [&](const json &req, const ControlPeer &) {
		++handled;
		return json{{"n", req["n"]}};
	});
	auto all = std::async(std::launch::async, [&] {
		std::vector<std::future<int>> workers;
		for (int t = 0; t < 8; ++t)
			workers.push_back(std::async(std::launch::async, [&, t] {
				int good = 0;
				for (int i = 0; i < 25; ++i) {
					const int n = t * 1000 + i;
					json r = control_request(server.path(),
								 json{{"cmd", "echo"}, {"n", n}});
					good += r["ok"] == true && r["n"] == n;
				}
				return good;
			}));
		int good = 0;
		for (auto &w : workers)
			good += w.get();
		return good;
	});
	ASSERT_TRUE(run_until_ready(loop, all, 30s));
	EXPECT_EQ(all.get(), 200);
	EXPECT_EQ(handled.load(), 200);
}

TEST(ControlSocket, IdleClientsAreDisconnected)
{
	ScratchDir dir;
	EventLoop loop;
	ControlServerOptions o = options_for(dir.file("s"));
	o.idle_timeout = 50ms;
	ControlServer server(loop, o);
	auto line = std::async(std::launch::async, [&] {
		RawClient c(server.path());
		return c.read_line(); // sends nothing
	});
	const auto start = EventLoop::now();
	ASSERT_TRUE(run_until_ready(loop, line));
	EXPECT_EQ(line.get(), "<EOF>");
	EXPECT_GE(EventLoop::now() - start, 50ms);
	EXPECT_EQ(server.client_count(), 0u);
}

TEST(ControlSocket, ClientErrorsNameTheSocket)
{
	ScratchDir dir;
	try {
		control_request(dir.file("absent.sock"), json{{"cmd", "show"}}, 500ms);
		ADD_FAILURE() << "connected to nothing";
	} catch (const ControlClientError &e) {
		const std::string what = e.what();
		EXPECT_NE(what.find("absent.sock"), std::string::npos) << what;
		EXPECT_NE(what.find("is the daemon running?"), std::string::npos) << what;
	}

	// A listener that never answers (no loop runs it): a timeout, bounded.
	const std::string path = dir.file("mute.sock");
	UniqueFd mute(::socket(AF_UNIX, SOCK_STREAM, 0));
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
	ASSERT_EQ(::bind(mute.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
	ASSERT_EQ(::listen(mute.get(), 4), 0);
	const auto start = std::chrono::steady_clock::now();
	try {
		control_request(path, json{{"cmd", "show"}}, 200ms);
		ADD_FAILURE() << "got a reply from a mute socket";
	} catch (const ControlClientError &e) {
		EXPECT_NE(std::string(e.what()).find("no reply from control socket"),
			  std::string::npos)
			<< e.what();
	}
	const auto took = std::chrono::steady_clock::now() - start;
	EXPECT_GE(took, 200ms);
	EXPECT_LT(took, 5s);
}

TEST(ControlSocket, HandlerMayDestroyTheServer)
{
	ScratchDir dir;
	EventLoop loop;
	std::optional<ControlServer> server;
	server.emplace(loop, options_for(dir.file("s")));
	server->add_command("shutdown", [&](const json &, const ControlPeer &) {
		server.reset();
		loop.stop();
		return json{};
	});
	auto line = std::async(std::launch::async, [&] {
		RawClient c(dir.file("s"));
		c.send("{\"cmd\": \"shutdown\"}\n{\"cmd\": \"shutdown\"}\n");
		return c.read_line();
	});
	ASSERT_TRUE(run_until_ready(loop, line));
	EXPECT_EQ(line.get(), "<EOF>"); // gone without a reply, but without a crash
	EXPECT_FALSE(server);
}
