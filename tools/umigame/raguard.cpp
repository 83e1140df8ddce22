#include "raguard.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <cstring>
#include <net/if.h>
#include <stdexcept>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "bpf_pins.h"
#include "raguard.skel.h"


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

void update(int fd, const void *key, const void *value, const char *what)
{
	if (bpf_map_update_elem(fd, key, value, BPF_ANY) != 0)
		fail_errno(std::string("cannot write ") + what, errno);
}

// Wait until no XDP program run that began before this call is still
// running. The kernel promises an RCU grace period after an update of a
// map-in-map (maybe_wait_bpf_programs() in kernel/bpf/syscall.c): a
// throwaway one-slot ARRAY_OF_MAPS gets us exactly that.
void wait_for_running_programs()
{
	int inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "rag_sync_inner", 4, 4, 1, nullptr);
	if (inner < 0)
		fail_errno("cannot create a map to wait for running programs", errno);
	LIBBPF_OPTS(bpf_map_create_opts, opts, .inner_map_fd = uint32_t(inner));
	int outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "rag_sync", 4, 4, 1, &opts);
	int err = outer < 0 ? errno : 0;
	uint32_t zero = 0;
	if (outer >= 0 && bpf_map_update_elem(outer, &zero, &inner, BPF_ANY) != 0)
		err = errno;
	close(inner);
	if (outer >= 0)
		close(outer);
	if (err)
		fail_errno("cannot wait for running programs", err);
}

void fill_policy(umigame_raguard_policy &out, const RaGuardPolicy &policy)
{
	out.flags = policy.map_flags();
	out.max_preference = policy.max_preference;
	out.event_burst = policy.event_burst;
	out.event_rate = policy.event_rate;
	const RaGuardEventLimit limit =
		raguard_event_limit(policy.event_burst, policy.event_rate, kernel_hz());
	out.event_interval = limit.interval;
	out.event_window = limit.window;
	auto add_router = [&](const Ipv6Address *addr, const MacAddress *mac) {
		if (out.n_routers >= UMIGAME_RAGUARD_MAX_ROUTERS)
			throw std::runtime_error("more than " +
						 std::to_string(UMIGAME_RAGUARD_MAX_ROUTERS) +
						 " trusted routers on one port");
		umigame_raguard_router &r = out.routers[out.n_routers++];
		if (addr) {
			std::memcpy(r.addr, addr->bytes.data(), 16);
			r.match |= UMIGAME_RAG_MATCH_ADDR;
		}
		if (mac) {
			std::memcpy(r.mac, mac->bytes.data(), 6);
			r.match |= UMIGAME_RAG_MATCH_MAC;
		}
	};
	for (const auto &r : policy.routers)
		add_router(&r.address, r.mac ? &*r.mac : nullptr);
	for (const auto &m : policy.router_macs)
		add_router(nullptr, &m);
	for (const auto &p : policy.prefixes) {
		if (out.n_prefixes >= UMIGAME_RAGUARD_MAX_PREFIXES)
			throw std::runtime_error("more than " +
						 std::to_string(UMIGAME_RAGUARD_MAX_PREFIXES) +
						 " allowed prefixes on one port");
		umigame_raguard_prefix &e = out.prefixes[out.n_prefixes++];
		e.len = p.length;
		for (unsigned bit = 0; bit < p.length; bit++)
			e.mask[bit / 8] |= uint8_t(0x80U >> (bit % 8));
		for (unsigned i = 0; i < 16; i++)
			e.addr[i] = p.address.bytes[i] & e.mask[i];
	}
	for (const auto &a : policy.dhcpv6_servers) {
		if (out.n_dhcp_servers >= UMIGAME_RAGUARD_MAX_DHCP_SERVERS)
			throw std::runtime_error("more than " +
						 std::to_string(UMIGAME_RAGUARD_MAX_DHCP_SERVERS) +
						 " DHCPv6 servers on one port");
		std::memcpy(out.dhcp_servers[out.n_dhcp_servers++], a.bytes.data(), 16);
	}
}

} // namespace

uint32_t interface_index(const std::string &dev)
{
	unsigned idx = if_nametoindex(dev.c_str());
	if (idx == 0)
		throw std::runtime_error("no interface named '" + dev + "'");
	return idx;
}

uint32_t kernel_hz()
{
	timespec res{};
	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) != 0 || res.tv_sec != 0 || res.tv_nsec <= 0)
		throw std::runtime_error("cannot tell the kernel's tick rate from "
					 "CLOCK_MONOTONIC_COARSE's resolution");
	return uint32_t((1000000000L + res.tv_nsec / 2) / res.tv_nsec);
}

std::string RaGuard::default_pin_dir()
{
	return bpf_pin_root() + "/raguard";
}

RaGuard::RaGuard(std::string pin_dir) : pin_dir_(std::move(pin_dir)) {}

RaGuard::~RaGuard()
{
	if (ports_)
		munmap(ports_, kPortsBytes);
	for (int *fd : {&prog_fd_, &ports_fd_, &policies_fd_, &counters_fd_, &events_fd_, &lost_fd_,
			&limit_fd_, &lock_fd_})
		close_fd(*fd);
}

std::string RaGuard::link_path(uint32_t ifindex) const
{
	return xdp_link_pin_path(pin_dir_, ifindex);
}

bool RaGuard::open(bool create)
{
	require_bpffs();
	const std::string prog_path = pin_dir_ + "/prog";
	if (access(prog_path.c_str(), F_OK) != 0) {
		if (!create)
			return false;
		create_pin_dir(pin_dir_);

		LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir_.c_str());
		struct raguard *skel = raguard__open_opts(&opts);
		if (!skel)
			fail_errno("cannot open the RA guard BPF object", errno);
		// Ports without a policy get the default event limit.
		const RaGuardEventLimit limit = raguard_event_limit(
			UMIGAME_RAG_EVENT_BURST_DEFAULT, UMIGAME_RAG_EVENT_RATE_DEFAULT, kernel_hz());
		skel->rodata->rag_default_event_interval = limit.interval;
		skel->rodata->rag_default_event_window = limit.window;
		int err = raguard__load(skel);
		if (!err)
			err = bpf_program__pin(skel->progs.umigame_raguard, prog_path.c_str());
		raguard__destroy(skel);
		if (err)
			fail_errno("cannot load the RA guard program (see the verifier log above)",
				   -err);
	}
	prog_fd_ = get_pinned(prog_path);
	ports_fd_ = get_pinned(pin_dir_ + "/rag_ports");
	policies_fd_ = get_pinned(pin_dir_ + "/rag_policies");
	counters_fd_ = get_pinned(pin_dir_ + "/rag_counters");
	events_fd_ = get_pinned(pin_dir_ + "/rag_events");
	lost_fd_ = get_pinned(pin_dir_ + "/rag_events_lost");
	limit_fd_ = get_pinned(pin_dir_ + "/rag_event_limit");
	void *ports = mmap(nullptr, kPortsBytes, PROT_READ | PROT_WRITE, MAP_SHARED, ports_fd_, 0);
	if (ports == MAP_FAILED)
		fail_errno("cannot map " + pin_dir_ + "/rag_ports", errno);
	ports_ = static_cast<uint64_t *>(ports);
	return true;
}

uint32_t RaGuard::port_ref(uint32_t ifindex) const
{
	if (ifindex >= UMIGAME_RAGUARD_MAX_IFINDEX)
		return 0;
	return uint32_t(__atomic_load_n(&ports_[ifindex], __ATOMIC_ACQUIRE));
}

void RaGuard::set_port_ref(uint32_t ifindex, uint32_t ref)
{
	__atomic_store_n(&ports_[ifindex], ref, __ATOMIC_RELEASE);
}

// Mutations of the maps by two CLIs at once would pick the same slot or copy.
void RaGuard::lock()
{
	if (lock_fd_ < 0) {
		lock_fd_ = ::open(pin_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (lock_fd_ < 0)
			fail_errno("cannot open " + pin_dir_, errno);
	}
	if (flock(lock_fd_, LOCK_EX) != 0)
		fail_errno("cannot lock " + pin_dir_, errno);
}

uint32_t RaGuard::free_slot() const
{
	std::vector<bool> used(UMIGAME_RAGUARD_MAX_PORTS);
	for (uint32_t i = 0; i < UMIGAME_RAGUARD_MAX_IFINDEX; i++)
		if (uint32_t ref = port_ref(i))
			used[UMIGAME_RAG_REF_SLOT(ref) % UMIGAME_RAGUARD_MAX_PORTS] = true;
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
	// A port new to the slot starts with its whole event burst.
	const umigame_raguard_event_limit fresh{};
	bpf_map_update_elem(limit_fd_, &slot, &fresh, BPF_ANY);
}

// Write the copy of the port's slot that no packet is judged by, then flip
// the port's reference to it with one atomic store: readers see the old
// policy or the new one, never a mix and never none. The grace period first
// makes sure no packet that saw the copy before an earlier flip still does.
void RaGuard::set_policy(uint32_t ifindex, const RaGuardPolicy &policy)
{
	if (ifindex >= UMIGAME_RAGUARD_MAX_IFINDEX)
		throw std::runtime_error("interface index " + std::to_string(ifindex) +
					 " is above the RA guard's limit of " +
					 std::to_string(UMIGAME_RAGUARD_MAX_IFINDEX - 1));
	lock();
	const uint32_t old = port_ref(ifindex);
	umigame_raguard_policy next{};
	next.ifindex = ifindex;
	next.port_slot = old ? UMIGAME_RAG_REF_SLOT(old) : free_slot();
	const uint32_t copy = old ? UMIGAME_RAG_REF_COPY(old) ^ 1U : 0;
	fill_policy(next, policy);

	wait_for_running_programs();
	uint32_t key = next.port_slot * 2 + copy;
	update(policies_fd_, &key, &next, "the port policy");
	if (!old)
		zero_counters(next.port_slot);
	set_port_ref(ifindex, UMIGAME_RAG_PORT_REF(next.port_slot, copy));
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
	std::string mode;
	try {
		mode = attach_xdp_link(prog_fd_, ifindex, dev, allow_generic, link, "the RA guard");
	} catch (...) {
		forget_port(ifindex);
		unpin_all_if_unused();
		throw;
	}
	std::string what = "attached to " + dev + " (" + mode + " XDP)";
	if (mode == "generic")
		what += "; warning: " + dev + " has no native XDP, generic mode is slower";
	return what;
}

void RaGuard::forget_port(uint32_t ifindex)
{
	const uint32_t ref = port_ref(ifindex);
	if (!ref)
		return;
	lock();
	set_port_ref(ifindex, 0);
	wait_for_running_programs(); // no late count lands in the zeroed row
	zero_counters(UMIGAME_RAG_REF_SLOT(ref));
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
	if (access(link.c_str(), F_OK) != 0 && !port_ref(ifindex))
		throw std::runtime_error("the RA guard is not attached to " + dev);
	// Unpinning drops the last reference to the link: the program detaches.
	if (unlink(link.c_str()) != 0 && errno != ENOENT)
		fail_errno("cannot remove " + link, errno);
	forget_port(ifindex);
	unpin_all_if_unused();
}

void RaGuard::unpin_all_if_unused()
{
	for (uint32_t i = 0; i < UMIGAME_RAGUARD_MAX_IFINDEX; i++)
		if (port_ref(i))
			return; // other ports still guarded
	remove_pin_dir(pin_dir_);
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
			row[r].suppressed += c.suppressed;
		}
	}
	return row;
}

std::vector<RaGuardPortState> RaGuard::ports() const
{
	std::vector<RaGuardPortState> out;
	for (uint32_t copy = 0; copy < UMIGAME_RAG_POLICY_COPIES; copy++) {
		RaGuardPortState s;
		if (bpf_map_lookup_elem(policies_fd_, &copy, &s.policy) != 0)
			continue;
		const uint32_t ifindex = s.policy.ifindex;
		if (port_ref(ifindex) != copy + 1)
			continue; // a copy not in force
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
		const umigame_raguard_policy &p = s.policy;
		for (uint32_t i = 0; i < std::min<uint32_t>(p.n_routers, UMIGAME_RAGUARD_MAX_ROUTERS); i++) {
			const umigame_raguard_router &r = p.routers[i];
			std::optional<MacAddress> mac;
			if (r.match & UMIGAME_RAG_MATCH_MAC) {
				mac.emplace();
				std::memcpy(mac->bytes.data(), r.mac, 6);
			}
			if (r.match & UMIGAME_RAG_MATCH_ADDR) {
				Ipv6Address a;
				std::memcpy(a.bytes.data(), r.addr, 16);
				s.routers.emplace_back(a, mac);
			} else if (mac) {
				s.router_macs.push_back(*mac);
			}
		}
		for (uint32_t i = 0; i < std::min<uint32_t>(p.n_prefixes, UMIGAME_RAGUARD_MAX_PREFIXES); i++) {
			Ipv6Prefix pfx;
			std::memcpy(pfx.address.bytes.data(), p.prefixes[i].addr, 16);
			pfx.length = uint8_t(p.prefixes[i].len);
			s.prefixes.push_back(pfx);
		}
		for (uint32_t i = 0; i < std::min<uint32_t>(p.n_dhcp_servers, UMIGAME_RAGUARD_MAX_DHCP_SERVERS); i++) {
			Ipv6Address a;
			std::memcpy(a.bytes.data(), p.dhcp_servers[i], 16);
			s.dhcpv6_servers.push_back(a);
		}
		s.counters = read_row(p.port_slot);
		out.push_back(std::move(s));
	}
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

RaGuardSuppressed RaGuard::suppressed() const
{
	RaGuardSuppressed out;
	auto add = [&](uint32_t ifindex, uint32_t slot) {
		auto row = read_row(slot);
		auto &tally = out[ifindex];
		for (size_t r = 0; r < row.size(); r++)
			tally[r] = row[r].suppressed;
	};
	for (uint32_t i = 0; i < UMIGAME_RAGUARD_MAX_IFINDEX; i++)
		if (uint32_t ref = port_ref(i))
			add(i, UMIGAME_RAG_REF_SLOT(ref));
	add(0, UMIGAME_RAGUARD_UNATTRIBUTED_SLOT);
	return out;
}

RaGuardEventReader::RaGuardEventReader(const RaGuard &guard, Handler fn) : fn_(std::move(fn))
{
	auto cb = [](void *c, void *data, size_t size) -> int {
		auto *self = static_cast<RaGuardEventReader *>(c);
		if (size < sizeof(umigame_raguard_event))
			return 0;
		umigame_raguard_event ev;
		std::memcpy(&ev, data, sizeof(ev));
		if (!self->fn_(ev)) {
			self->stop_ = true;
			return -ECANCELED; // libbpf stops consuming only on < 0
		}
		return 0;
	};
	rb_ = ring_buffer__new(guard.events_fd(), cb, this, nullptr);
	if (!rb_)
		fail_errno("cannot open the drop-event ring buffer", errno);
}

RaGuardEventReader::~RaGuardEventReader()
{
	ring_buffer__free(rb_);
}

bool RaGuardEventReader::poll(int timeout_ms)
{
	if (stop_)
		return false;
	int n = ring_buffer__poll(rb_, timeout_ms);
	if (stop_)
		return false;
	if (n < 0 && n != -EINTR)
		fail_errno("reading drop events", -n);
	return true;
}

int RaGuardEventReader::consume()
{
	int n = ring_buffer__consume(rb_);
	if (n < 0 && !stop_)
		fail_errno("reading drop events", -n);
	return n;
}

} // namespace umigame
