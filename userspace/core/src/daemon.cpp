// sd_notify and privilege dropping; see daemon.h.
#include "umigame/daemon.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <fstream>
#include <stdexcept>

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "umigame/log.h"

namespace umigame {

// ---- sd_notify -------------------------------------------------------------

namespace service {

namespace {

std::string one_line(std::string_view text)
{
	std::string out(text);
	std::replace(out.begin(), out.end(), '\n', ' ');
	return out;
}

bool send(const std::string &message)
{
	// unset_environment = 0: every later message needs NOTIFY_SOCKET too.
	const int r = ::sd_notify(0, message.c_str());
	if (r < 0) {
		static bool warned = false;
		if (!warned) {
			warned = true;
			log::warning(std::string("cannot notify systemd: ") + std::strerror(-r));
		}
		return false;
	}
	return r > 0;
}

std::string with_status(std::string message, std::string_view status)
{
	if (!status.empty())
		message += "\nSTATUS=" + one_line(status);
	return message;
}

} // namespace

bool notify_ready(std::string_view status)
{
	return send(with_status("READY=1", status));
}

bool notify_status(std::string_view status)
{
	return send("STATUS=" + one_line(status));
}

bool notify_reloading(std::string_view status)
{
	timespec ts{};
	::clock_gettime(CLOCK_MONOTONIC, &ts);
	const uint64_t usec = uint64_t(ts.tv_sec) * 1000000 + uint64_t(ts.tv_nsec) / 1000;
	return send(with_status("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec), status));
}

bool notify_stopping(std::string_view status)
{
	return send(with_status("STOPPING=1", status));
}

bool notify_watchdog()
{
	return send("WATCHDOG=1");
}

std::optional<std::chrono::microseconds> watchdog_interval()
{
	uint64_t usec = 0;
	// > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is us.
	if (::sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return std::nullopt;
	return std::chrono::microseconds(usec);
}

Timer keep_watchdog_fed(EventLoop &loop)
{
	auto interval = watchdog_interval();
	if (!interval)
		return Timer();
	notify_watchdog();
	return loop.every(*interval / 2, [] { notify_watchdog(); });
}

} // namespace service

// ---- Privileges ------------------------------------------------------------

namespace {

constexpr std::array<const char *, 41> kCapabilityNames = {
	"CAP_CHOWN",		"CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID",		"CAP_KILL",	      "CAP_SETGID",	     "CAP_SETUID",
	"CAP_SETPCAP",		"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",	"CAP_NET_RAW",	      "CAP_IPC_LOCK",	     "CAP_IPC_OWNER",
	"CAP_SYS_MODULE",	"CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",	     "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",	"CAP_SYS_ADMIN",      "CAP_SYS_BOOT",	     "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",	"CAP_SYS_TIME",	      "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
	"CAP_LEASE",		"CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",	"CAP_MAC_ADMIN",      "CAP_SYSLOG",	     "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",	"CAP_AUDIT_READ",     "CAP_PERFMON",	     "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};
static_assert(CAP_NET_ADMIN == 12 && CAP_CHECKPOINT_RESTORE == 40);

// The capability sets as capget()/capset() see them: 64 bits each.
struct CapabilitySets {
	uint64_t effective = 0, permitted = 0, inheritable = 0;
};

// glibc has no wrappers for these (libcap does; one dependency fewer).
CapabilitySets get_capabilities()
{
	__user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
	__user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
	if (::syscall(SYS_capget, &header, data) < 0)
		throw std::runtime_error(std::string("capget: ") + std::strerror(errno));
	auto join = [](uint32_t low, uint32_t high) { return uint64_t(high) << 32 | low; };
	return CapabilitySets{join(data[0].effective, data[1].effective),
			      join(data[0].permitted, data[1].permitted),
			      join(data[0].inheritable, data[1].inheritable)};
}

void set_capabilities(const CapabilitySets &sets)
{
	__user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
	__user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
	data[0].effective = uint32_t(sets.effective);
	data[1].effective = uint32_t(sets.effective >> 32);
	data[0].permitted = uint32_t(sets.permitted);
	data[1].permitted = uint32_t(sets.permitted >> 32);
	data[0].inheritable = uint32_t(sets.inheritable);
	data[1].inheritable = uint32_t(sets.inheritable >> 32);
	if (::syscall(SYS_capset, &header, data) < 0)
		throw std::runtime_error(std::string("capset: ") + std::strerror(errno));
}

// The kernel may know more capabilities than our headers.
int last_capability()
{
	std::ifstream in("/proc/sys/kernel/cap_last_cap");
	int last = -1;
	if (in >> last && last >= 0 && last < 64)
		return last;
	return CAP_LAST_CAP;
}

std::optional<uint32_t> numeric_id(const std::string &text)
{
	uint32_t value = 0;
	auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
	if (ec != std::errc() || end != text.data() + text.size() || text.empty())
		return std::nullopt;
	return value;
}

struct ResolvedUser {
	uid_t uid;
	gid_t primary_gid;
};

ResolvedUser resolve_user(const std::string &user)
{
	long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
	std::vector<char> buffer(size > 0 ? size_t(size) : 16384);
	passwd pw{}, *found = nullptr;
	int e;
	while ((e = ::getpwnam_r(user.c_str(), &pw, buffer.data(), buffer.size(), &found)) == ERANGE)
		buffer.resize(buffer.size() * 2);
	if (found)
		return {pw.pw_uid, pw.pw_gid};
	if (auto uid = numeric_id(user)) {
		// A bare uid (containers without a passwd entry): its own group
		// unless one is given, by the same convention as the passwd entry
		// would usually have.
		while ((e = ::getpwuid_r(*uid, &pw, buffer.data(), buffer.size(), &found)) == ERANGE)
			buffer.resize(buffer.size() * 2);
		return {*uid, found ? pw.pw_gid : gid_t(*uid)};
	}
	throw std::runtime_error("unknown user '" + user + "'" +
				 (e ? std::string(": ") + std::strerror(e) : std::string()));
}

gid_t resolve_group(const std::string &group)
{
	long size = ::sysconf(_SC_GETGR_R_SIZE_MAX);
	std::vector<char> buffer(size > 0 ? size_t(size) : 16384);
	struct group gr{}, *found = nullptr;
	int e;
	while ((e = ::getgrnam_r(group.c_str(), &gr, buffer.data(), buffer.size(), &found)) == ERANGE)
		buffer.resize(buffer.size() * 2);
	if (found)
		return gr.gr_gid;
	if (auto gid = numeric_id(group))
		return gid_t(*gid);
	throw std::runtime_error("unknown group '" + group + "'" +
				 (e ? std::string(": ") + std::strerror(e) : std::string()));
}

uint64_t bit(int capability)
{
	return uint64_t(1) << capability;
}

} // namespace

std::string capability_name(int capability)
{
	if (capability >= 0 && size_t(capability) < kCapabilityNames.size())
		return kCapabilityNames[size_t(capability)];
	return "capability " + std::to_string(capability);
}

void drop_privileges(const RunAs &run_as)
{
	const std::string who =
		run_as.user + (run_as.group.empty() ? std::string() : ":" + run_as.group);
	auto fail = [&](const std::string &what) -> std::runtime_error {
		return std::runtime_error("dropping privileges to " + who + ": " + what);
	};
	auto fail_errno = [&](const std::string &call) {
		return fail(call + ": " + std::strerror(errno));
	};

	// Everything that can be checked is checked before the first change.
	ResolvedUser user;
	gid_t gid;
	try {
		user = resolve_user(run_as.user);
		gid = run_as.group.empty() ? user.primary_gid : resolve_group(run_as.group);
	} catch (const std::runtime_error &e) {
		throw fail(e.what());
	}
	const int last = last_capability();
	uint64_t keep = 0;
	for (int cap : run_as.keep_capabilities) {
		if (cap < 0 || cap > last)
			throw fail("capability " + std::to_string(cap) + " does not exist on this kernel");
		keep |= bit(cap);
	}
	const CapabilitySets before = get_capabilities();
	for (int cap : run_as.keep_capabilities)
		if (!(before.permitted & bit(cap)))
			throw fail("cannot keep " + capability_name(cap) +
				   ": this process does not have it");
	for (int needed : {CAP_SETUID, CAP_SETGID, CAP_SETPCAP})
		if (!(before.effective & bit(needed)))
			throw fail("needs " + capability_name(needed) + " (start as root)");

	// The bounding set first: dropping from it needs CAP_SETPCAP, which
	// goes with the uid change.
	for (int cap = 0; cap <= last; ++cap) {
		if (keep & bit(cap))
			continue;
		const int in_bounding = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (in_bounding == 1 && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			throw fail_errno("dropping " + capability_name(cap) + " from the bounding set");
	}
	// Ambient capabilities would survive an execve(); none are wanted.
	if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		throw fail_errno("clearing the ambient capabilities");

	// KEEPCAPS: the permitted set survives setuid() away from root (the
	// effective set is cleared regardless; capset below restores it).
	if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		throw fail_errno("prctl(PR_SET_KEEPCAPS)");
	if (::setgroups(0, nullptr) < 0)
		throw fail_errno("setgroups");
	if (::setresgid(gid, gid, gid) < 0)
		throw fail_errno("setresgid(" + std::to_string(gid) + ")");
	// All three uids: a saved uid of 0 would let the process become root
	// again.
	if (::setresuid(user.uid, user.uid, user.uid) < 0)
		throw fail_errno("setresuid(" + std::to_string(user.uid) + ")");
	try {
		set_capabilities(CapabilitySets{keep, keep, 0});
	} catch (const std::runtime_error &e) {
		throw fail(e.what());
	}
	if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		throw fail_errno("prctl(PR_SET_KEEPCAPS, 0)");

	// Trust, but verify: the kernel is the authority on what we hold now.
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	if (::getresuid(&ruid, &euid, &suid) < 0 || ::getresgid(&rgid, &egid, &sgid) < 0)
		throw fail_errno("getresuid/getresgid");
	if (ruid != user.uid || euid != user.uid || suid != user.uid || rgid != gid ||
	    egid != gid || sgid != gid)
		throw fail("the uid/gid change did not take");
	const CapabilitySets after = get_capabilities();
	if (after.effective != keep || after.permitted != keep || after.inheritable != 0)
		throw fail("the capability sets are not what was asked");
	log::info("running as uid " + std::to_string(user.uid) + ", gid " + std::to_string(gid) +
		  [&] {
			  std::string caps;
			  for (int cap : run_as.keep_capabilities)
				  caps += (caps.empty() ? "" : ", ") + capability_name(cap);
			  return caps.empty() ? std::string(", without capabilities")
					      : ", keeping " + caps;
		  }());
}

} // namespace umigame
