#include "bpf_pins.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/magic.h>

namespace fs = std::filesystem;

namespace umigame {

namespace {
constexpr const char *kBpffs = "/sys/fs/bpf";
}

std::string bpf_pin_root()
{
	if (const char *env = std::getenv("UMIGAME_PIN_DIR"); env && *env)
		return env;
	std::string base = std::string(kBpffs) + "/umigame";
	// The initial namespace has netns cookie 1 (SO_NETNS_COOKIE, Linux 5.14);
	// others are named by their nsfs inode, as `ls -l /proc/self/ns/net` shows.
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s >= 0) {
		if (getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0)
			cookie = 0;
		close(s);
	}
	struct stat self{};
	if (cookie != 1 && stat("/proc/self/ns/net", &self) == 0)
		return base + "/netns-" + std::to_string(self.st_ino);
	return base;
}

void require_bpffs()
{
	struct statfs st;
	if (statfs(kBpffs, &st) != 0 || st.f_type != BPF_FS_MAGIC)
		throw std::runtime_error(
			std::string("no BPF filesystem at ") + kBpffs +
			" (mount -t bpf bpf /sys/fs/bpf; inside a network namespace use "
			"`nsenter --net=/run/netns/NAME`, because `ip netns exec` remounts /sys)");
}

[[noreturn]] void fail_errno(const std::string &what, int err)
{
	throw std::runtime_error(what + ": " + std::strerror(err));
}

int get_pinned(const std::string &path)
{
	int fd = bpf_obj_get(path.c_str());
	if (fd < 0)
		fail_errno("cannot open pinned " + path, errno);
	return fd;
}

void close_fd(int &fd)
{
	if (fd >= 0)
		close(fd);
	fd = -1;
}

void create_pin_dir(const std::string &dir)
{
	std::error_code ec;
	fs::create_directories(dir, ec);
	if (ec)
		throw std::runtime_error("cannot create " + dir + ": " + ec.message());
}

std::string xdp_link_pin_path(const std::string &dir, uint32_t ifindex)
{
	return dir + "/link_" + std::to_string(ifindex);
}

bool read_pinned_rodata(const std::string &path, void *out, size_t size)
{
	int fd = bpf_obj_get(path.c_str());
	bool ok = false;
	if (fd < 0)
		return false;
	bpf_map_info info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.value_size > 0) {
		std::vector<uint8_t> ro(info.value_size);
		uint32_t zero = 0;
		if (bpf_map_lookup_elem(fd, &zero, ro.data()) == 0) {
			std::memcpy(out, ro.data(), std::min<size_t>(size, ro.size()));
			ok = true;
		}
	}
	close(fd);
	return ok;
}

bool pinned_rodata_flag(const std::string &path)
{
	uint8_t first = 0;
	return read_pinned_rodata(path, &first, 1) && first != 0;
}

void remove_pin_dir(const std::string &dir)
{
	std::error_code ec;
	for (const auto &entry : fs::directory_iterator(dir, ec))
		fs::remove(entry.path(), ec);
	fs::remove(dir, ec);
	fs::path parent = fs::path(dir).parent_path();
	if (parent.filename().string().rfind("netns-", 0) == 0)
		fs::remove(parent, ec); // only removes it when empty
}

std::string attach_xdp_link(int prog_fd, uint32_t ifindex, const std::string &dev,
			    bool allow_generic, const std::string &link_path, const std::string &what)
{
	std::string mode = "native";
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = XDP_FLAGS_DRV_MODE);
	int link_fd = bpf_link_create(prog_fd, int(ifindex), BPF_XDP, &opts);
	if (link_fd < 0 && errno == EOPNOTSUPP && allow_generic) {
		opts.flags = XDP_FLAGS_SKB_MODE;
		link_fd = bpf_link_create(prog_fd, int(ifindex), BPF_XDP, &opts);
		mode = "generic";
	}
	if (link_fd < 0) {
		int err = errno;
		if (err == EBUSY || err == EEXIST)
			throw std::runtime_error(dev + " already has an XDP program attached "
						       "(see `bpftool net show dev " + dev + "`)");
		if (err == EOPNOTSUPP)
			throw std::runtime_error(dev + " has no native XDP support "
						       "(add --generic to use generic XDP)");
		fail_errno("cannot attach " + what + " to " + dev, err);
	}
	if (bpf_obj_pin(link_fd, link_path.c_str()) != 0) {
		int err = errno;
		close(link_fd); // the last reference: the program detaches again
		fail_errno("cannot pin the XDP link at " + link_path, err);
	}
	close(link_fd);
	return mode;
}

} // namespace umigame
