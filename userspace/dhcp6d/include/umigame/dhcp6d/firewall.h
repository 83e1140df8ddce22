// The CE router's "simple security" (RFC 6092, asked for by RFC 7084 S-1,
// S-2, G-3, L-14 and ULA-4) and its neighbour-cache defence (RFC 6583), as one nftables
// table the requesting router owns: `table ip6 umigame_ce`. Nothing else in
// the ruleset is read or touched; the table is replaced whole, atomically,
// in one libnftables transaction (JSON), whenever the configuration or what
// the router holds (LAN interfaces, delegated prefixes, the ULA) changes.
// docs/firewall.md maps every rule to the requirement it implements.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "umigame/config.h"
#include "umigame/net.h"

struct nft_ctx;

namespace umigame::dhcp6d {

// An inbound service opened on purpose (RFC 6092 §3.4, passive listeners
// the operator configures): a LAN address or prefix, a transport, a port.
struct FirewallPinhole {
	Ipv6Prefix destination{};
	std::string protocol = "tcp"; // "tcp" or "udp"
	uint16_t port = 0;
	bool operator==(const FirewallPinhole &) const = default;
};

struct FirewallConfig {
	bool enabled = true; // false: RFC 6092 REC-49's "transparent mode"
	// RFC 6092 §3.2.4: IPsec ESP and AH to and from LAN hosts are not
	// prohibited by default, nor IKE (UDP 500; 4500 for NAT traversal).
	bool ipsec_passthrough = true;
	bool ike_passthrough = true;
	// Echo requests from the Internet to LAN hosts (RFC 4890 §4.3.1 lets a
	// site allow them; RFC 6092 leaves it to the operator). Off: a LAN host
	// is not probed from outside.
	bool inbound_echo = false;
	// RFC 6583 §7.3: new inbound traffic allowed above (pass-through,
	// echo, pinholes) reaches only addresses seen sending from the LAN,
	// at most this many per second (0: no limit).
	uint32_t inbound_new_rate = 200;
	// RFC 6092 REC-14: a LAN-started UDP flow between ports outside
	// 0-1023 lives at least two minutes idle (default five; the kernel's
	// own is 30 s before a reply). REC-35: a TCP connection that is not
	// (yet or any more) established, at least four minutes (the kernel's
	// is 30 s to 2 min). Seconds.
	uint32_t udp_idle_timeout = 300;
	uint32_t tcp_transitory_timeout = 240;
	std::vector<FirewallPinhole> allow{};
	bool operator==(const FirewallConfig &) const = default;
};

// The [firewall] table (absent: the defaults). Throws ConfigError naming
// file:line:column.
FirewallConfig parse_firewall_config(ConfigTable &table);

// What the router holds now.
struct FirewallView {
	std::string wan;
	std::vector<std::string> lans;
	// The LAN's prefixes: every delegated prefix (whole) and the ULA /48.
	std::vector<Ipv6Prefix> lan_prefixes;
	// RFC 7084 G-3: until a prefix is delegated nothing is forwarded between
	// the LANs and the WAN.
	bool delegated = false;
	bool operator==(const FirewallView &) const = default;
};

inline constexpr const char *kFirewallTable = "umigame_ce";

// The libnftables JSON batch that replaces our table with this one (pure:
// the unit tests read it).
nlohmann::json build_firewall_batch(const FirewallConfig &config, const FirewallView &view);
// The flow timeout policies (RFC 6092 REC-14, REC-35) that follow the batch,
// in nft's own syntax.
std::string flow_timeout_commands(const FirewallConfig &config);

class Firewall {
public:
	// Throws std::runtime_error when libnftables cannot be set up.
	explicit Firewall(FirewallConfig config);
	~Firewall();
	Firewall(const Firewall &) = delete;
	Firewall &operator=(const Firewall &) = delete;

	// Install or replace the table for `view` (nothing happens when neither
	// it nor the configuration changed). Throws std::runtime_error with
	// nft's own message; the previous table then stays in force.
	void apply(const FirewallView &view);
	// Takes effect at the next apply().
	void set_config(FirewallConfig config);
	// Delete our table (a clean stop, or enabled = false).
	void remove();

	// Each drop/reject rule's counter, by its comment; what apply() last
	// installed.
	nlohmann::json status() const;

private:
	void run(const nlohmann::json &batch, const std::string &what) const;
	void run_text(const std::string &commands, const std::string &what) const;

	FirewallConfig config_;
	std::optional<FirewallView> installed_;
	nft_ctx *ctx_ = nullptr;
};

} // namespace umigame::dhcp6d
