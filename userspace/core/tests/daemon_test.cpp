// sd_notify against a socket of our own standing in for systemd, and
// privilege dropping in forked children (it cannot be undone).
#include "umigame/daemon.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>

#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace umigame;
using namespace std::chrono_literals;

namespace {

// What systemd would listen on: a datagram socket named by NOTIFY_SOCKET.
class FakeSystemd {
public:
	FakeSystemd()
	{
		std::string tmpl = (std::filesystem::temp_directory_path() / "umigame-sd-XXXXXX").string();
		if (!::mkdtemp(tmpl.data()))
			throw std::runtime_error("mkdtemp failed");
		dir_ = tmpl;
		const std::string path = dir_ + "/notify";
		fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
		sockaddr_un addr{};
		addr.sun_family = AF_UNIX;
		std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
		if (::bind(fd_.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0)
			throw std::runtime_error("bind failed");
		::setenv("NOTIFY_SOCKET", path.c_str(), 1);
	}
	~FakeSystemd()
	{
		::unsetenv("NOTIFY_SOCKET");
		::unsetenv("WATCHDOG_USEC");
		::unsetenv("WATCHDOG_PID");
		std::filesystem::remove_all(dir_);
	}
	// The next message; "" when none is queued.
	std::string receive()
	{
		char buf[4096];
		ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
		return n > 0 ? std::string(buf, size_t(n)) : std::string();
	}
	int fd() const { return fd_.get(); }

private:
	std::string dir_;
	UniqueFd fd_;
};

// Runs `body` in a forked child and returns what it printed to `out`, plus
// its exit status. The child never returns into the test runner.
struct ChildResult {
	int status = -1;
	std::string output;
};

ChildResult in_child(const std::function<int(std::ostream &out)> &body)
{
	int pipe_fds[2];
	if (::pipe2(pipe_fds, O_CLOEXEC) < 0)
		throw std::runtime_error("pipe failed");
	const pid_t pid = ::fork();
	if (pid < 0)
		throw std::runtime_error("fork failed");
	if (pid == 0) {
		::close(pipe_fds[0]);
		std::ostringstream out;
		int code;
		try {
			code = body(out);
		} catch (const std::exception &e) {
			out << "exception: " << e.what();
			code = 100;
		}
		const std::string s = out.str();
		(void)!::write(pipe_fds[1], s.data(), s.size());
		::_exit(code); // no gtest teardown, no atexit handlers in the child
	}
	::close(pipe_fds[1]);
	ChildResult result;
	char buf[4096];
	ssize_t n;
	while ((n = ::read(pipe_fds[0], buf, sizeof(buf))) > 0)
		result.output.append(buf, size_t(n));
	::close(pipe_fds[0]);
	int wstatus = 0;
	::waitpid(pid, &wstatus, 0);
	result.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
	return result;
}

// "CapEff" -> the hex mask, from /proc/self/status.
std::map<std::string, std::string> status_fields()
{
	std::map<std::string, std::string> fields;
	std::ifstream in("/proc/self/status");
	std::string line;
	while (std::getline(in, line)) {
		auto colon = line.find(':');
		if (colon == std::string::npos)
			continue;
		auto value = line.substr(colon + 1);
		value.erase(0, value.find_first_not_of(" \t"));
		fields[line.substr(0, colon)] = value;
	}
	return fields;
}

uint64_t mask_of(const std::string &hex)
{
	return std::stoull(hex, nullptr, 16);
}

uint64_t bits(std::initializer_list<int> caps)
{
	uint64_t m = 0;
	for (int c : caps)
		m |= uint64_t(1) << c;
	return m;
}

// The child's report: every set and id, one "key=value" per line.
void report(std::ostream &out)
{
	auto f = status_fields();
	for (const char *k : {"Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
		out << k << "=" << f[k] << "\n";
}

std::map<std::string, std::string> parse_report(const std::string &text)
{
	std::map<std::string, std::string> out;
	std::istringstream in(text);
	std::string line;
	while (std::getline(in, line)) {
		auto eq = line.find('=');
		if (eq != std::string::npos)
			out[line.substr(0, eq)] = line.substr(eq + 1);
	}
	return out;
}

} // namespace

TEST(SdNotify, NoOpWithoutNotifySocket)
{
	::unsetenv("NOTIFY_SOCKET");
	EXPECT_FALSE(service::notify_ready("ready"));
	EXPECT_FALSE(service::notify_status("x"));
	EXPECT_FALSE(service::notify_watchdog());
	EXPECT_FALSE(service::watchdog_interval());
	EventLoop loop;
	EXPECT_FALSE(service::keep_watchdog_fed(loop).active());
}

TEST(SdNotify, Messages)
{
	FakeSystemd systemd;
	EXPECT_TRUE(service::notify_ready("serving 2 prefixes"));
	EXPECT_EQ(systemd.receive(), "READY=1\nSTATUS=serving 2 prefixes");
	EXPECT_TRUE(service::notify_status("lease 2001:db8::/56\nREADY=1"));
	EXPECT_EQ(systemd.receive(), "STATUS=lease 2001:db8::/56 READY=1"); // one line
	EXPECT_TRUE(service::notify_reloading());
	const std::string reloading = systemd.receive();
	EXPECT_EQ(reloading.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << reloading;
	EXPECT_TRUE(service::notify_stopping("bye"));
	EXPECT_EQ(systemd.receive(), "STOPPING=1\nSTATUS=bye");
	EXPECT_TRUE(service::notify_watchdog());
	EXPECT_EQ(systemd.receive(), "WATCHDOG=1");
}

TEST(SdNotify, WatchdogFedFromTheLoop)
{
	FakeSystemd systemd;
	::setenv("WATCHDOG_USEC", "40000", 1);
	::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
	ASSERT_TRUE(service::watchdog_interval());
	EXPECT_EQ(*service::watchdog_interval(), 40ms);

	EventLoop loop;
	int pings = 0;
	FdWatch listener = loop.watch(systemd.fd(), IoInterest::read, [&](IoReady) {
		for (std::string m = systemd.receive(); !m.empty(); m = systemd.receive())
			if (m == "WATCHDOG=1" && ++pings == 4)
				loop.stop();
	});
	Timer feeder = service::keep_watchdog_fed(loop);
	EXPECT_TRUE(feeder.active());
	bool timed_out = false;
	Timer guard = loop.after(10s, [&] {
		timed_out = true;
		loop.stop();
	});
	const auto start = EventLoop::now();
	loop.run();
	EXPECT_FALSE(timed_out);
	EXPECT_EQ(pings, 4);
	// One at once, then every 20 ms: three intervals at least.
	EXPECT_GE(EventLoop::now() - start, 60ms);

	// Another process's watchdog settings are not ours.
	::setenv("WATCHDOG_PID", "1", 1);
	EXPECT_FALSE(service::watchdog_interval());
}

class DropPrivileges : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (::geteuid() != 0)
			GTEST_SKIP() << "needs root";
	}
};

TEST_F(DropPrivileges, KeepsExactlyTheAskedCapabilities)
{
	auto child = in_child([](std::ostream &out) {
		drop_privileges(RunAs{"nobody", "nogroup", {CAP_NET_ADMIN, CAP_NET_RAW}});
		report(out);
		// What the kept capability allows, and what root no longer can.
		int raw = ::socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
		out << "raw_socket=" << (raw >= 0 ? "ok" : std::strerror(errno)) << "\n";
		out << "setuid0=" << (::setuid(0) == 0 ? "ok" : std::strerror(errno)) << "\n";
		out << "read_shadow=" << (::access("/etc/shadow", R_OK) == 0 ? "ok" : std::strerror(errno))
		    << "\n";
		return 0;
	});
	ASSERT_EQ(child.status, 0) << child.output;
	auto r = parse_report(child.output);
	const uint64_t want = bits({CAP_NET_ADMIN, CAP_NET_RAW});
	EXPECT_EQ(mask_of(r["CapEff"]), want) << child.output;
	EXPECT_EQ(mask_of(r["CapPrm"]), want) << child.output;
	EXPECT_EQ(mask_of(r["CapBnd"]), want) << child.output;
	EXPECT_EQ(mask_of(r["CapInh"]), 0u) << child.output;
	EXPECT_EQ(mask_of(r["CapAmb"]), 0u) << child.output;
	EXPECT_EQ(r["Uid"], "65534\t65534\t65534\t65534");
	EXPECT_EQ(r["Gid"], "65534\t65534\t65534\t65534");
	EXPECT_EQ(r["Groups"], "");
	EXPECT_EQ(r["raw_socket"], "ok");
	EXPECT_EQ(r["setuid0"], "Operation not permitted");
	EXPECT_NE(r["read_shadow"], "ok");
}

TEST_F(DropPrivileges, NoCapabilitiesAndThePrimaryGroup)
{
	auto child = in_child([](std::ostream &out) {
		drop_privileges(RunAs{"nobody", "", {}});
		report(out);
		int raw = ::socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
		out << "raw_socket=" << (raw >= 0 ? "ok" : std::strerror(errno)) << "\n";
		return 0;
	});
	ASSERT_EQ(child.status, 0) << child.output;
	auto r = parse_report(child.output);
	EXPECT_EQ(mask_of(r["CapEff"]), 0u);
	EXPECT_EQ(mask_of(r["CapPrm"]), 0u);
	EXPECT_EQ(mask_of(r["CapBnd"]), 0u);
	EXPECT_EQ(mask_of(r["CapAmb"]), 0u);
	EXPECT_EQ(r["Gid"], "65534\t65534\t65534\t65534"); // nobody's primary group
	EXPECT_EQ(r["raw_socket"], "Operation not permitted");
}

TEST_F(DropPrivileges, BindServiceForDhcpPorts)
{
	auto child = in_child([](std::ostream &out) {
		drop_privileges(RunAs{"65534", "65534", {CAP_NET_BIND_SERVICE}});
		report(out);
		int s = ::socket(AF_INET6, SOCK_DGRAM, 0);
		sockaddr_in6 addr{};
		addr.sin6_family = AF_INET6;
		addr.sin6_port = htons(547); // DHCPv6 server port
		out << "bind547=" << (::bind(s, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0
					      ? "ok"
					      : std::strerror(errno))
		    << "\n";
		return 0;
	});
	ASSERT_EQ(child.status, 0) << child.output;
	auto r = parse_report(child.output);
	EXPECT_EQ(mask_of(r["CapEff"]), bits({CAP_NET_BIND_SERVICE}));
	EXPECT_EQ(r["bind547"], "ok") << child.output;
}

TEST_F(DropPrivileges, RefusesBeforeChangingAnything)
{
	auto child = in_child([](std::ostream &out) {
		auto try_drop = [&](const RunAs &as) {
			try {
				drop_privileges(as);
				out << "dropped!\n";
			} catch (const std::runtime_error &e) {
				out << e.what() << "\n";
			}
		};
		try_drop(RunAs{"no-such-user-umigame", "", {}});
		try_drop(RunAs{"nobody", "no-such-group-umigame", {}});
		try_drop(RunAs{"nobody", "", {99}});
		// Give up CAP_NET_RAW by hand, then ask to keep it.
		__user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
		__user_cap_data_struct d[2]{};
		::syscall(SYS_capget, &h, d);
		d[0].permitted &= ~(1u << CAP_NET_RAW);
		d[0].effective &= ~(1u << CAP_NET_RAW);
		::syscall(SYS_capset, &h, d);
		try_drop(RunAs{"nobody", "", {CAP_NET_RAW}});
		out << "uid_after=" << ::getuid() << "\n";
		return 0;
	});
	ASSERT_EQ(child.status, 0) << child.output;
	EXPECT_NE(child.output.find("dropping privileges to no-such-user-umigame: unknown user "
				    "'no-such-user-umigame'"),
		  std::string::npos)
		<< child.output;
	EXPECT_NE(child.output.find("unknown group 'no-such-group-umigame'"), std::string::npos)
		<< child.output;
	EXPECT_NE(child.output.find("capability 99 does not exist"), std::string::npos)
		<< child.output;
	EXPECT_NE(child.output.find("cannot keep CAP_NET_RAW: this process does not have it"),
		  std::string::npos)
		<< child.output;
	EXPECT_EQ(child.output.find("dropped!"), std::string::npos) << child.output;
	EXPECT_NE(child.output.find("uid_after=0"), std::string::npos) << child.output;
}

TEST(CapabilityName, Names)
{
	EXPECT_EQ(capability_name(CAP_NET_ADMIN), "CAP_NET_ADMIN");
	EXPECT_EQ(capability_name(CAP_NET_BIND_SERVICE), "CAP_NET_BIND_SERVICE");
	EXPECT_EQ(capability_name(CAP_CHECKPOINT_RESTORE), "CAP_CHECKPOINT_RESTORE");
	EXPECT_EQ(capability_name(63), "capability 63");
}
