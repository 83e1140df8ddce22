// The RA guard's pinned BPF objects: load and pin the program once, attach
// it to ports with bpf_link, swap a port's policy atomically, read counters
// and drop events. Errors are std::runtime_error with a message for the
// operator.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "raguard_policy.h"
#include "umigame/raguard.h"

struct ring_buffer; // libbpf

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

// Drops sent no event (the port's event limit), per reason, keyed by
// ifindex; key 0 holds the drops on ports without a policy.
using RaGuardSuppressed = std::map<uint32_t, std::array<uint64_t, UMIGAME_RAG_REASON_COUNT>>;

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
	RaGuardSuppressed suppressed() const;

	const std::string &pin_dir() const { return pin_dir_; }
	int prog_fd() const { return prog_fd_; }
	int events_fd() const { return events_fd_; }

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
	int limit_fd_ = -1;
	int lock_fd_ = -1;  // the pin directory, flock()ed while we change maps
	uint64_t *ports_ = nullptr; // rag_ports, mmap()ed: atomic stores flip policies
	static constexpr size_t kPortsBytes = UMIGAME_RAGUARD_MAX_IFINDEX * sizeof(uint64_t);
};

// The drop events in the guard's ring buffer, read one poll at a time.
class RaGuardEventReader {
public:
	using Handler = std::function<bool(const umigame_raguard_event &)>;
	// fn gets each event; returning false stops the reading.
	RaGuardEventReader(const RaGuard &guard, Handler fn);
	~RaGuardEventReader();
	RaGuardEventReader(const RaGuardEventReader &) = delete;
	RaGuardEventReader &operator=(const RaGuardEventReader &) = delete;

	// Wait up to timeout_ms (negative: forever) for events and hand over
	// all that are there. False once fn has asked to stop.
	bool poll(int timeout_ms);
	// Hand over every event there is now, without waiting; how many.
	int consume();

private:
	Handler fn_;
	bool stop_ = false;
	::ring_buffer *rb_ = nullptr;
};

uint32_t interface_index(const std::string &dev); // throws if no such interface

// The kernel's tick rate (CONFIG_HZ), from the resolution of
// CLOCK_MONOTONIC_COARSE: the event limit counts jiffies.
uint32_t kernel_hz();

} // namespace umigame
