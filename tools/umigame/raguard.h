// The RA guard's pinned BPF objects: load and pin the program once, attach
// it to ports with bpf_link, swap a port's policy atomically, read counters
// and drop events. Errors are std::runtime_error with a message for the
// operator.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "raguard_policy.h"
#include "umigame/raguard.h"

namespace umigame {

extern const std::array<const char *, UMIGAME_RAG_REASON_COUNT> raguard_reason_names;

struct RaGuardPortState {
	std::string dev;  // empty when the interface no longer exists
	uint32_t ifindex = 0;
	std::string mode; // "native", "generic", "offload" or "detached"
	umigame_raguard_policy policy{};
	std::vector<std::pair<Ipv6Address, std::optional<MacAddress>>> routers;
	std::vector<MacAddress> router_macs;
	std::vector<Ipv6Prefix> prefixes;
	std::vector<Ipv6Address> dhcpv6_servers;
	std::array<umigame_raguard_counter, UMIGAME_RAG_REASON_COUNT> counters{};
};

class RaGuard {
public:
	// Where this network namespace's guard pins its objects:
	// bpf_pin_root() + "/raguard".
	static std::string default_pin_dir();

	explicit RaGuard(std::string pin_dir);
	~RaGuard();
	RaGuard(const RaGuard &) = delete;
	RaGuard &operator=(const RaGuard &) = delete;

	// Open the pinned program and maps. With create, load and pin them
	// first when they are not there. Returns false if absent and !create.
	bool open(bool create);

	// Apply the policy, then attach (native XDP; generic when the driver
	// has none and allow_generic). On an attached port only the policy is
	// swapped. Returns a description of what was done.
	std::string attach(const std::string &dev, const RaGuardPolicy &policy, bool allow_generic);
	void detach(const std::string &dev);
	// Swap the policy of ifindex without attaching (attach() uses it; tests
	// use it to judge BPF_PROG_TEST_RUN packets "arriving" on lo).
	void set_policy(uint32_t ifindex, const RaGuardPolicy &policy);
	void clear_policy(uint32_t ifindex) { forget_port(ifindex); }
	std::vector<RaGuardPortState> ports() const;
	std::array<umigame_raguard_counter, UMIGAME_RAG_REASON_COUNT> unattributed() const;
	uint64_t events_lost() const;

	// Call fn for each drop event until it returns false or timeout_ms
	// passes without events (negative: wait forever).
	void watch_events(const std::function<bool(const umigame_raguard_event &)> &fn,
			  int timeout_ms) const;

	const std::string &pin_dir() const { return pin_dir_; }
	int prog_fd() const { return prog_fd_; }

private:
	void forget_port(uint32_t ifindex);
	uint32_t port_ref(uint32_t ifindex) const;
	void set_port_ref(uint32_t ifindex, uint32_t ref);
	void lock();
	uint32_t free_slot() const;
	void zero_counters(uint32_t slot) const;
	std::array<umigame_raguard_counter, UMIGAME_RAG_REASON_COUNT> read_row(uint32_t slot) const;
	void unpin_all_if_unused();
	std::string link_path(uint32_t ifindex) const;

	std::string pin_dir_;
	int prog_fd_ = -1;
	int ports_fd_ = -1, policies_fd_ = -1, counters_fd_ = -1, events_fd_ = -1, lost_fd_ = -1;
	int lock_fd_ = -1;  // the pin directory, flock()ed while we change maps
	uint64_t *ports_ = nullptr; // rag_ports, mmap()ed: atomic stores flip policies
	static constexpr size_t kPortsBytes = UMIGAME_RAGUARD_MAX_IFINDEX * sizeof(uint64_t);
};

uint32_t interface_index(const std::string &dev); // throws if no such interface

} // namespace umigame
