#include "raguard.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <net/if.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/magic.h>

#include "raguard.skel.h"

namespace fs = std::filesystem;

namespace umigame {

const std::array<const char *, UMIGAME_RAG_REASON_COUNT> raguard_reason_names = {
	"ra_trusted",             "ra_not_acceptable",  "dhcp6_server_trusted",
	"nonfirst_fragment",      "ra_untrusted_source", "ra_block_all",
	"ra_prefix",              "ra_preference",      "ra_managed_flag",
	"ra_other_flag",          "ra_lladdr_mismatch", "nd_fragment",
	"incomplete_chain",       "chain_too_long",     "malformed",
	"dhcp6_server_untrusted", "no_policy",          "ra_invalid",
};
static_assert(UMIGAME_RAG_NO_POLICY == 16 && UMIGAME_RAG_RA_INVALID == 17,
	      "keep raguard_reason_names in the order of enum umigame_raguard_reason");

namespace {

constexpr const char *kBpffs = "/sys/fs/bpf";

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

void require_bpffs()
{
	struct statfs st;
	if (statfs(kBpffs, &st) != 0 || st.f_type != BPF_FS_MAGIC)
		throw std::runtime_error(
			std::string("no BPF filesystem at ") + kBpffs +
			" (mount -t bpf bpf /sys/fs/bpf; inside a network namespace use "
			"`nsenter --net=/run/netns/NAME`, because `ip netns exec` remounts /sys)");
}

// Run fn over every key of a hash or LPM map. Keys are collected first so fn
// may delete them.
template <typename Key, typename Fn> void for_each_key(int map_fd, Fn fn)
{
	std::vector<Key> keys;
	Key key{}, next{};
	const void *prev = nullptr;
	while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
		keys.push_back(next);
		key = next;
		prev = &key;
	}
	for (const Key &k : keys)
		fn(k);
}

void update(int fd, const void *key, const void *value, const char *what)
{
	if (bpf_map_update_elem(fd, key, value, BPF_ANY) != 0)
		fail_errno(std::string("cannot add ") + what, errno);
}

} // namespace

uint32_t interface_index(const std::string &dev)
{
	unsigned idx = if_nametoindex(dev.c_str());
	if (idx == 0)
		throw std::runtime_error("no interface named '" + dev + "'");
	return idx;
}

std::string RaGuard::default_pin_dir()
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
		return base + "/netns-" + std::to_string(self.st_ino) + "/raguard";
	return base + "/raguard";
}

RaGuard::RaGuard(std::string pin_dir) : pin_dir_(std::move(pin_dir)) {}

RaGuard::~RaGuard()
{
	for (int *fd : {&prog_fd_, &policy_fd_, &routers_fd_, &macs_fd_, &dhcp_fd_, &prefixes_fd_,
			&counters_fd_, &events_fd_, &lost_fd_})
		close_fd(*fd);
}

std::string RaGuard::link_path(uint32_t ifindex) const
{
	return pin_dir_ + "/link_" + std::to_string(ifindex); // bpffs refuses dots in names
}

bool RaGuard::open(bool create)
{
	require_bpffs();
	const std::string prog_path = pin_dir_ + "/prog";
	if (access(prog_path.c_str(), F_OK) != 0) {
		if (!create)
			return false;
		std::error_code ec;
		fs::create_directories(pin_dir_, ec);
		if (ec)
			throw std::runtime_error("cannot create " + pin_dir_ + ": " + ec.message());

		LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir_.c_str());
		struct raguard *skel = raguard__open_opts(&opts);
		if (!skel)
			fail_errno("cannot open the RA guard BPF object", errno);
		int err = raguard__load(skel);
		if (!err)
			err = bpf_program__pin(skel->progs.umigame_raguard, prog_path.c_str());
		raguard__destroy(skel);
		if (err)
			fail_errno("cannot load the RA guard program (see the verifier log above)",
				   -err);
	}
	prog_fd_ = get_pinned(prog_path);
	policy_fd_ = get_pinned(pin_dir_ + "/rag_policy");
	routers_fd_ = get_pinned(pin_dir_ + "/rag_routers");
	macs_fd_ = get_pinned(pin_dir_ + "/rag_router_macs");
	dhcp_fd_ = get_pinned(pin_dir_ + "/rag_dhcp_srvs");
	prefixes_fd_ = get_pinned(pin_dir_ + "/rag_prefixes");
	counters_fd_ = get_pinned(pin_dir_ + "/rag_counters");
	events_fd_ = get_pinned(pin_dir_ + "/rag_events");
	lost_fd_ = get_pinned(pin_dir_ + "/rag_events_lost");
	return true;
}

void RaGuard::delete_entries(uint32_t ifindex, int generation) const
{
	auto match = [&](const auto &k) {
		return k.ifindex == ifindex && (generation < 0 || k.generation == uint32_t(generation));
	};
	for_each_key<umigame_raguard_router_key>(routers_fd_, [&](const auto &k) {
		if (match(k))
			bpf_map_delete_elem(routers_fd_, &k);
	});
	for_each_key<umigame_raguard_mac_key>(macs_fd_, [&](const auto &k) {
		if (match(k))
			bpf_map_delete_elem(macs_fd_, &k);
	});
	for_each_key<umigame_raguard_dhcp_key>(dhcp_fd_, [&](const auto &k) {
		if (match(k))
			bpf_map_delete_elem(dhcp_fd_, &k);
	});
	for_each_key<umigame_raguard_prefix_key>(prefixes_fd_, [&](const auto &k) {
		if (match(k))
			bpf_map_delete_elem(prefixes_fd_, &k);
	});
}

uint32_t RaGuard::free_slot() const
{
	std::vector<bool> used(UMIGAME_RAGUARD_MAX_PORTS);
	for_each_key<uint32_t>(policy_fd_, [&](uint32_t ifindex) {
		umigame_raguard_policy p{};
		if (bpf_map_lookup_elem(policy_fd_, &ifindex, &p) == 0 &&
		    p.port_slot < UMIGAME_RAGUARD_MAX_PORTS)
			used[p.port_slot] = true;
	});
	for (uint32_t s = 0; s < UMIGAME_RAGUARD_MAX_PORTS; s++)
		if (!used[s])
			return s;
	throw std::runtime_error("the RA guard already protects " +
				 std::to_string(UMIGAME_RAGUARD_MAX_PORTS) + " ports");
}

void RaGuard::zero_counters(uint32_t slot) const
{
	std::vector<umigame_raguard_counter> zeros(libbpf_num_possible_cpus());
	for (uint32_t r = 0; r < UMIGAME_RAG_REASON_COUNT; r++) {
		uint32_t idx = slot * UMIGAME_RAG_REASON_COUNT + r;
		bpf_map_update_elem(counters_fd_, &idx, zeros.data(), BPF_ANY);
	}
}

// Write the new policy under the inactive generation, flip the port's policy
// entry to it (one hash update: readers see old or new, never a mix), then
// drop the old generation. RAs are judged by a complete policy throughout.
void RaGuard::set_policy(uint32_t ifindex, const RaGuardPolicy &policy)
{
	umigame_raguard_policy old{};
	bool had_policy = bpf_map_lookup_elem(policy_fd_, &ifindex, &old) == 0;
	umigame_raguard_policy next{};
	next.generation = had_policy ? old.generation ^ 1U : 0;
	next.port_slot = had_policy ? old.port_slot : free_slot();
	next.flags = policy.map_flags();
	next.max_preference = policy.max_preference;

	delete_entries(ifindex, int(next.generation)); // leftovers of a failed run
	try {
		for (const auto &r : policy.routers) {
			umigame_raguard_router_key k{ifindex, next.generation, {}};
			std::memcpy(k.addr, r.address.bytes.data(), 16);
			umigame_raguard_router v{};
			if (r.mac) {
				std::memcpy(v.mac, r.mac->bytes.data(), 6);
				v.mac_set = 1;
			}
			update(routers_fd_, &k, &v, "trusted router");
		}
		uint8_t one = 1;
		for (const auto &m : policy.router_macs) {
			umigame_raguard_mac_key k{ifindex, next.generation, {}, {}};
			std::memcpy(k.mac, m.bytes.data(), 6);
			update(macs_fd_, &k, &one, "trusted router MAC");
		}
		for (const auto &a : policy.dhcpv6_servers) {
			umigame_raguard_dhcp_key k{ifindex, next.generation, {}};
			std::memcpy(k.addr, a.bytes.data(), 16);
			update(dhcp_fd_, &k, &one, "trusted DHCPv6 server");
		}
		for (const auto &p : policy.prefixes) {
			umigame_raguard_prefix_key k{UMIGAME_RAG_PREFIX_KEY_BITS(p.length), ifindex,
						     next.generation, {}};
			std::memcpy(k.addr, p.address.bytes.data(), 16);
			update(prefixes_fd_, &k, &one, "allowed prefix");
		}
		if (!had_policy)
			zero_counters(next.port_slot);
		update(policy_fd_, &ifindex, &next, "port policy");
	} catch (...) {
		delete_entries(ifindex, int(next.generation)); // the old policy stays in force
		throw;
	}
	if (had_policy)
		delete_entries(ifindex, int(old.generation));
}

std::string RaGuard::attach(const std::string &dev, const RaGuardPolicy &policy, bool allow_generic)
{
	uint32_t ifindex = interface_index(dev);
	const std::string link = link_path(ifindex);
	if (access(link.c_str(), F_OK) == 0) {
		set_policy(ifindex, policy);
		return "policy on " + dev + " replaced in place";
	}

	// Policy first: from the first packet the program sees, the port has one.
	set_policy(ifindex, policy);
	std::string mode = "native";
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = XDP_FLAGS_DRV_MODE);
	int link_fd = bpf_link_create(prog_fd_, int(ifindex), BPF_XDP, &opts);
	if (link_fd < 0 && errno == EOPNOTSUPP && allow_generic) {
		opts.flags = XDP_FLAGS_SKB_MODE;
		link_fd = bpf_link_create(prog_fd_, int(ifindex), BPF_XDP, &opts);
		mode = "generic";
	}
	if (link_fd < 0) {
		int err = errno;
		forget_port(ifindex);
		unpin_all_if_unused();
		if (err == EBUSY || err == EEXIST)
			throw std::runtime_error(dev + " already has an XDP program attached "
						       "(see `bpftool net show dev " + dev + "`)");
		if (err == EOPNOTSUPP)
			throw std::runtime_error(dev + " has no native XDP support "
						       "(add --generic to use generic XDP)");
		fail_errno("cannot attach the RA guard to " + dev, err);
	}
	if (bpf_obj_pin(link_fd, link.c_str()) != 0) {
		int err = errno;
		close(link_fd);
		forget_port(ifindex);
		unpin_all_if_unused();
		fail_errno("cannot pin the XDP link at " + link, err);
	}
	close(link_fd);
	std::string what = "attached to " + dev + " (" + mode + " XDP)";
	if (mode == "generic")
		what += "; warning: " + dev + " has no native XDP, generic mode is slower";
	return what;
}

void RaGuard::forget_port(uint32_t ifindex)
{
	umigame_raguard_policy pol{};
	if (bpf_map_lookup_elem(policy_fd_, &ifindex, &pol) == 0) {
		bpf_map_delete_elem(policy_fd_, &ifindex);
		zero_counters(pol.port_slot);
	}
	delete_entries(ifindex, -1);
}

void RaGuard::detach(const std::string &dev)
{
	uint32_t ifindex = 0;
	if (unsigned idx = if_nametoindex(dev.c_str()))
		ifindex = idx;
	else if (!dev.empty() && dev.find_first_not_of("0123456789") == std::string::npos)
		ifindex = uint32_t(std::stoul(dev)); // a port whose interface is gone
	else
		throw std::runtime_error("no interface named '" + dev + "'");

	const std::string link = link_path(ifindex);
	umigame_raguard_policy pol{};
	bool known = bpf_map_lookup_elem(policy_fd_, &ifindex, &pol) == 0;
	if (access(link.c_str(), F_OK) != 0 && !known)
		throw std::runtime_error("the RA guard is not attached to " + dev);
	// Unpinning drops the last reference to the link: the program detaches.
	if (unlink(link.c_str()) != 0 && errno != ENOENT)
		fail_errno("cannot remove " + link, errno);
	forget_port(ifindex);
	unpin_all_if_unused();
}

void RaGuard::unpin_all_if_unused()
{
	uint32_t key;
	if (bpf_map_get_next_key(policy_fd_, nullptr, &key) == 0)
		return; // other ports still guarded
	std::error_code ec;
	for (const auto &entry : fs::directory_iterator(pin_dir_, ec))
		fs::remove(entry.path(), ec);
	fs::remove(pin_dir_, ec);
	fs::path parent = fs::path(pin_dir_).parent_path();
	if (parent.filename().string().rfind("netns-", 0) == 0)
		fs::remove(parent, ec); // only removes it when empty
}

std::array<umigame_raguard_counter, UMIGAME_RAG_REASON_COUNT> RaGuard::read_row(uint32_t slot) const
{
	std::array<umigame_raguard_counter, UMIGAME_RAG_REASON_COUNT> row{};
	std::vector<umigame_raguard_counter> percpu(libbpf_num_possible_cpus());
	for (uint32_t r = 0; r < UMIGAME_RAG_REASON_COUNT; r++) {
		uint32_t idx = slot * UMIGAME_RAG_REASON_COUNT + r;
		if (bpf_map_lookup_elem(counters_fd_, &idx, percpu.data()) != 0)
			continue;
		for (const auto &c : percpu) {
			row[r].packets += c.packets;
			row[r].bytes += c.bytes;
		}
	}
	return row;
}

std::vector<RaGuardPortState> RaGuard::ports() const
{
	std::vector<RaGuardPortState> out;
	for_each_key<uint32_t>(policy_fd_, [&](uint32_t ifindex) {
		RaGuardPortState s;
		if (bpf_map_lookup_elem(policy_fd_, &ifindex, &s.policy) != 0)
			return;
		s.ifindex = ifindex;
		char name[IF_NAMESIZE] = {};
		if (if_indextoname(ifindex, name))
			s.dev = name;
		LIBBPF_OPTS(bpf_xdp_query_opts, q);
		s.mode = "detached";
		if (bpf_xdp_query(int(ifindex), 0, &q) == 0) {
			switch (q.attach_mode) {
			case XDP_ATTACHED_DRV: s.mode = "native"; break;
			case XDP_ATTACHED_SKB: s.mode = "generic"; break;
			case XDP_ATTACHED_HW: s.mode = "offload"; break;
			case XDP_ATTACHED_MULTI: s.mode = "multi"; break;
			default: break;
			}
		}
		const uint32_t gen = s.policy.generation;
		for_each_key<umigame_raguard_router_key>(routers_fd_, [&](const auto &k) {
			umigame_raguard_router v{};
			if (k.ifindex != ifindex || k.generation != gen ||
			    bpf_map_lookup_elem(routers_fd_, &k, &v) != 0)
				return;
			Ipv6Address a;
			std::memcpy(a.bytes.data(), k.addr, 16);
			std::optional<MacAddress> mac;
			if (v.mac_set) {
				mac.emplace();
				std::memcpy(mac->bytes.data(), v.mac, 6);
			}
			s.routers.emplace_back(a, mac);
		});
		for_each_key<umigame_raguard_mac_key>(macs_fd_, [&](const auto &k) {
			if (k.ifindex != ifindex || k.generation != gen)
				return;
			MacAddress m;
			std::memcpy(m.bytes.data(), k.mac, 6);
			s.router_macs.push_back(m);
		});
		for_each_key<umigame_raguard_dhcp_key>(dhcp_fd_, [&](const auto &k) {
			if (k.ifindex != ifindex || k.generation != gen)
				return;
			Ipv6Address a;
			std::memcpy(a.bytes.data(), k.addr, 16);
			s.dhcpv6_servers.push_back(a);
		});
		for_each_key<umigame_raguard_prefix_key>(prefixes_fd_, [&](const auto &k) {
			if (k.ifindex != ifindex || k.generation != gen)
				return;
			Ipv6Prefix p;
			std::memcpy(p.address.bytes.data(), k.addr, 16);
			p.length = uint8_t(k.prefixlen - UMIGAME_RAG_PREFIX_KEY_BITS(0));
			s.prefixes.push_back(p);
		});
		std::sort(s.routers.begin(), s.routers.end());
		std::sort(s.router_macs.begin(), s.router_macs.end());
		std::sort(s.prefixes.begin(), s.prefixes.end());
		std::sort(s.dhcpv6_servers.begin(), s.dhcpv6_servers.end());
		s.counters = read_row(s.policy.port_slot);
		out.push_back(std::move(s));
	});
	std::sort(out.begin(), out.end(),
		  [](const auto &a, const auto &b) { return a.ifindex < b.ifindex; });
	return out;
}

std::array<umigame_raguard_counter, UMIGAME_RAG_REASON_COUNT> RaGuard::unattributed() const
{
	return read_row(UMIGAME_RAGUARD_UNATTRIBUTED_SLOT);
}

uint64_t RaGuard::events_lost() const
{
	uint32_t zero = 0;
	std::vector<uint64_t> percpu(libbpf_num_possible_cpus());
	uint64_t total = 0;
	if (bpf_map_lookup_elem(lost_fd_, &zero, percpu.data()) == 0)
		for (uint64_t v : percpu)
			total += v;
	return total;
}

void RaGuard::watch_events(const std::function<bool(const umigame_raguard_event &)> &fn,
			   int timeout_ms) const
{
	struct Ctx {
		const std::function<bool(const umigame_raguard_event &)> *fn;
		bool stop = false;
	} ctx{&fn};
	auto cb = [](void *c, void *data, size_t size) -> int {
		auto *x = static_cast<Ctx *>(c);
		if (size < sizeof(umigame_raguard_event))
			return 0;
		umigame_raguard_event ev;
		std::memcpy(&ev, data, sizeof(ev));
		if (!(*x->fn)(ev)) {
			x->stop = true;
			return -ECANCELED; // libbpf stops consuming only on < 0
		}
		return 0;
	};
	struct ring_buffer *rb = ring_buffer__new(events_fd_, cb, &ctx, nullptr);
	if (!rb)
		fail_errno("cannot open the drop-event ring buffer", errno);
	while (!ctx.stop) {
		int n = ring_buffer__poll(rb, timeout_ms);
		if (n == -EINTR || ctx.stop)
			break;
		if (n < 0) {
			ring_buffer__free(rb);
			fail_errno("reading drop events", -n);
		}
		if (n == 0 && timeout_ms >= 0)
			break;
	}
	ring_buffer__free(rb);
}

} // namespace umigame
