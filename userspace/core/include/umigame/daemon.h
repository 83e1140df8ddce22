// Running as a service: telling systemd where the daemon is (sd_notify), and
// giving up root for an unprivileged user that keeps only the capabilities
// the daemon needs.
#pragma once

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "umigame/event_loop.h"
#include "umigame/log.h"

namespace umigame {

namespace service {

// sd_notify(3) messages for Type=notify / Type=notify-reload units. Each is a
// no-op returning false when systemd did not start us (no NOTIFY_SOCKET);
// true when sent. A failure to send is logged, never thrown: losing a status
// line must not take the daemon down. A status is one line: newlines in it
// become spaces, so text from a peer cannot add assignments of its own.
bool notify_ready(std::string_view status = {});
bool notify_status(std::string_view status);
// RELOADING=1 (with MONOTONIC_USEC, which notify-reload units require); send
// notify_ready() when the reload is done.
bool notify_reloading(std::string_view status = {});
bool notify_stopping(std::string_view status = {});
bool notify_watchdog();

// WatchdogSec= of the unit, when systemd set one for this process.
std::optional<std::chrono::microseconds> watchdog_interval();
// Sends WATCHDOG=1 from the loop at half the interval, as systemd advises:
// the watchdog then sees a stuck loop, not merely a live process. Without a
// watchdog the returned timer is inactive.
[[nodiscard]] Timer keep_watchdog_fed(EventLoop &loop);

} // namespace service

// Whom to become in drop_privileges().
struct RunAs {
	std::string user;  // a name, or a numeric uid
	std::string group; // a name or numeric gid; empty: the user's primary group
	// CAP_* numbers to keep (<linux/capability.h>): typically CAP_NET_ADMIN
	// for rtnetlink, CAP_NET_RAW for raw ICMPv6/MLD sockets,
	// CAP_NET_BIND_SERVICE for ports below 1024 (DHCPv6's 546/547).
	std::vector<int> keep_capabilities;
};

// Become run_as.user:run_as.group with no supplementary groups, keeping
// exactly run_as.keep_capabilities as permitted and effective capabilities:
// inheritable and ambient sets cleared, every other capability dropped from
// the bounding set, so not even a setuid-root executable can bring one back.
// Call it once resources that need root are open (sockets bound, files
// read). Needs CAP_SETUID, CAP_SETGID and CAP_SETPCAP (start as root).
// Throws std::runtime_error naming what failed; everything is checked before
// the first change, but a failure midway leaves the process half-changed:
// exit then.
void drop_privileges(const RunAs &run_as);

// "CAP_NET_ADMIN" for 12; "capability 99" for what we have no name for.
std::string capability_name(int capability);

// What every umigame daemon's main() does: `-c FILE` (default
// default_config), `--check` (load the file, say ok or name file:line, exit),
// `-v` (debug logs), `-h`. load(file) returns the configuration or throws;
// run(config) runs the daemon and returns its exit status. Exit 1 for a
// configuration or start-up error, 2 for bad usage.
template <typename Load, typename Run>
int daemon_main(int argc, char **argv, const char *program, const char *default_config, Load load, Run run)
{
	log::set_program(program);
	auto usage = [&](FILE *out) {
		std::fprintf(out,
			     "usage: %s [-c FILE] [--check] [-v]\n"
			     "  -c, --config FILE  configuration (default %s)\n"
			     "  --check            validate the configuration and exit\n"
			     "  -v, --verbose      log debug messages\n",
			     program, default_config);
	};
	std::string file = default_config;
	bool check_only = false;
	for (int i = 1; i < argc; i++) {
		std::string arg = argv[i];
		if ((arg == "-c" || arg == "--config") && i + 1 < argc) {
			file = argv[++i];
		} else if (arg == "--check") {
			check_only = true;
		} else if (arg == "-v" || arg == "--verbose") {
			log::set_max_level(log::Level::debug);
		} else if (arg == "-h" || arg == "--help") {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	std::optional<decltype(load(file))> config;
	try {
		config.emplace(load(file));
	} catch (const std::exception &e) {
		std::fprintf(stderr, "%s: %s\n", program, e.what());
		return 1;
	}
	if (check_only) {
		std::printf("%s: ok\n", file.c_str());
		return 0;
	}
	try {
		return run(std::move(*config));
	} catch (const std::exception &e) {
		log::error(e.what());
		return 1;
	}
}

} // namespace umigame
