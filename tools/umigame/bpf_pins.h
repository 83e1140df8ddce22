// Where the CLI's BPF objects live on the BPF filesystem, and the small
// helpers every component's loader shares.
#pragma once

#include <cstdint>
#include <string>

namespace umigame {

// The root every component pins under: $UMIGAME_PIN_DIR, else
// /sys/fs/bpf/umigame in the initial network namespace and
// /sys/fs/bpf/umigame/netns-<inode> in others (ifindexes and SAs are per
// namespace, so each namespace has its own objects). Components add their
// own directory: <root>/raguard, <root>/esp.
std::string bpf_pin_root();

// Throws with a hint when /sys/fs/bpf is not a BPF filesystem.
void require_bpffs();

// The pinned object's fd; throws naming the path.
int get_pinned(const std::string &path);

[[noreturn]] void fail_errno(const std::string &what, int err);

void close_fd(int &fd);

// Create dir (and its parents) on the BPF filesystem; throws naming it.
void create_pin_dir(const std::string &dir);

// A pinned .rodata map's value (a program's `const volatile` settings,
// fixed at load) into out, at most size bytes; false when unreadable.
bool read_pinned_rodata(const std::string &path, void *out, size_t size);

// The first byte of a pinned .rodata map (a program's `const volatile`
// flag set before load, e.g. have_module); false when it cannot be read.
bool pinned_rodata_flag(const std::string &path);

// Where a component pins the XDP link of port ifindex (bpffs refuses dots
// in names, hence link_<ifindex>).
std::string xdp_link_pin_path(const std::string &dir, uint32_t ifindex);

// Remove dir and, when it sits in an emptied netns-<inode> directory, that too.
void remove_pin_dir(const std::string &dir);

// Attach prog_fd to dev with a bpf_link pinned at link_path, so it outlives
// the CLI: native XDP, or generic (skb) mode when the driver has none and
// allow_generic. Returns "native" or "generic"; throws a message for the
// operator (`what` names the program in it).
std::string attach_xdp_link(int prog_fd, uint32_t ifindex, const std::string &dev,
			    bool allow_generic, const std::string &link_path, const std::string &what);

} // namespace umigame
