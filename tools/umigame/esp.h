// The ESP fast path's pinned BPF objects (bpf/esp.bpf.c): load and pin the
// program once per network namespace, attach it to ports with bpf_link, keep
// its SA map in step with the module's SAs, read its counters. Errors are
// std::runtime_error with a message for the operator.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "umigame/esp.h"

namespace umigame {

extern const std::array<const char *, UMIGAME_ESP_REASON_COUNT> esp_reason_names;

// What the XDP program needs to know of one of the module's SAs: how to find
// it and how to frame it. Keys stay in the module.
struct EspSaBinding {
	uint32_t sa_id = 0;
	uint32_t spi = 0;           // host order
	uint16_t family = 0;        // AF_INET or AF_INET6
	uint16_t encap_port = 0;    // RFC 3948 UDP port, 0 = plain ESP
	std::array<uint8_t, 16> dst{};
	uint8_t mode = UMIGAME_ESP_MODE_TUNNEL;
	uint8_t iv_len = 0;
	uint8_t icv_len = 0;
	uint32_t replay_window = 0; // 0 = no replay check
	uint32_t flags = 0;         // UMIGAME_ESP_F_*
	uint64_t replay_start = 0;  // first number expected minus one (replay.h)
};

struct EspPort {
	std::string dev; // empty when the interface is gone
	uint32_t ifindex = 0;
};

struct EspStats {
	std::array<uint64_t, UMIGAME_ESP_REASON_COUNT> reasons{};
	struct Sa {
		uint32_t sa_id;
		umigame_esp_sa_counters counters;
		uint64_t replay_top; // highest sequence number accepted
	};
	std::vector<Sa> sas;
	bool have_module = false; // what the loaded program was built for
	std::vector<EspPort> ports;
	std::vector<EspPort> forward_ports; // empty: XDP forwarding is off
};

class Esp {
public:
	static std::string default_pin_dir(); // bpf_pin_root() + "/esp"
	static bool module_present();         // umigame.ko's BTF is there

	explicit Esp(std::string pin_dir);
	~Esp();
	Esp(const Esp &) = delete;
	Esp &operator=(const Esp &) = delete;

	// Open the pinned objects; with create, load and pin them first when
	// absent. Returns false if absent and !create.
	bool open(bool create);

	std::string attach(const std::string &dev, bool allow_generic);
	void detach(const std::string &dev);
	void set_drop_unknown_spi(bool drop);
	// Forward tunnels' inner packets in XDP when their route leads out of
	// one of these ports (each must take XDP frames); none: off.
	void set_forward_ports(const std::vector<std::string> &devs);

	// Make esp_sas hold exactly these SAs. An SA already there keeps its
	// replay window; a new one starts at its replay_start.
	void sync(const std::vector<EspSaBinding> &sas);

	EspStats stats() const;
	std::vector<EspPort> ports() const;

	int prog_fd() const { return prog_fd_; }
	const std::string &pin_dir() const { return pin_dir_; }

private:
	std::string link_path(uint32_t ifindex) const;
	void unpin_all_if_unused();
	umigame_esp_config config() const;
	void set_config(const umigame_esp_config &cfg, const char *what);
	std::vector<uint32_t> forward_ports() const;
	void for_each_sa(const std::function<void(const umigame_esp_sa_key &,
						  const umigame_esp_sa_value &)> &fn) const;

	std::string pin_dir_;
	int prog_fd_ = -1, sas_fd_ = -1, counters_fd_ = -1, stats_fd_ = -1, config_fd_ = -1,
	    fwd_ports_fd_ = -1;
};

// Make the program's SA map hold exactly umigame.ko's SAs (none when the
// module is absent): after `umigame sa add|del` and after the IKE daemon
// installs or removes an inbound SA.
void sync_from_module(Esp &esp);
// The same for the program pinned in this namespace; false when none is.
bool sync_pinned_from_module();

} // namespace umigame
