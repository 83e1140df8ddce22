// umigame-iked's configuration: one TOML file (docs/ike.md is the
// reference). A [daemon] table and any number of [[connection]]s, each with
// one or more [[connection.child]]ren:
//
//   [[connection]]
//   name = "site-b"
//   local_addr = "192.0.2.1"
//   remote_addr = "192.0.2.2"
//   local_id = "fqdn:a.example"
//   remote_id = "fqdn:b.example"
//   auth = "psk"
//   psk = "a long random secret"
//   ike_proposals = ["aes256gcm16-prfsha384-ecp384"]
//   [[connection.child]]
//   name = "lan"
//   local_ts = ["10.1.0.0/16"]
//   remote_ts = ["10.2.0.0/16"]
//   esp_proposals = ["aes128gcm16-esn"]
//   start_action = "start"
//
// Every error names file:line:column and the whole file is refused: a
// reload with a bad file keeps the running configuration and its SAs.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "umigame/daemon.h"
#include "umigame/ike/constants.h"
#include "umigame/iked/credentials.h"
#include "umigame/iked/proposal.h"
#include "umigame/net.h"

namespace umigame::iked {

// An IKE identity (RFC 7296 §3.5) as written: "fqdn:vpn.example",
// "email:a@example", "ip:192.0.2.1", "dn:CN=vpn, O=Example" or, without a
// prefix, an address, something with '@' (email) or a name (fqdn).
struct Identity {
	ike::IdType type = ike::IdType::FQDN;
	std::vector<uint8_t> data; // as in the ID payload (DN: DER)
	std::string text;          // as the operator wrote it, for logs

	static std::optional<Identity> parse(const std::string &text, std::string *error);
	// The identity an ID payload carries, for logs and matching.
	static Identity from_payload(ike::IdType type, std::span<const uint8_t> data);
	bool operator==(const Identity &o) const { return type == o.type && data == o.data; }
};

enum class StartAction { none, start, trap };

struct ChildConfig {
	std::string name;
	bool transport = false; // tunnel mode unless "transport"
	std::vector<IpPrefix> local_ts, remote_ts;
	uint8_t ip_protocol = 0; // 0: any
	std::vector<AlgorithmSet> esp_proposals;
	// Rekey after rekey_time minus a random part of up to rand_time (so
	// both ends do not rekey at once), hard expiry at life_time.
	std::chrono::seconds rekey_time{3600}, life_time{3960}, rand_time{360};
	uint64_t rekey_bytes = 0, rekey_packets = 0; // 0: no volume limit
	uint32_t replay_window = 4096;               // xfrm's own window
	StartAction start_action = StartAction::none;
	// Inbound SAs also go to umigame.ko where `umigame esp` runs on the
	// interface the peer's packets arrive on (docs/ike.md).
	bool xdp = true;
};

struct ConnectionConfig {
	std::string name;
	IpAddress local_addr;  // unset: any of ours
	IpAddress remote_addr; // unset: responder only, any peer
	uint16_t remote_port = 500;
	Identity local_id;
	std::optional<Identity> remote_id; // absent: whatever the peer proves
	enum class Auth { psk, pubkey } auth = Auth::psk;
	std::string psk;
	std::string certificate, private_key; // PEM files, for pubkey
	std::vector<std::string> ca;           // trust anchors, PEM files
	// Those files as loaded with the configuration (credentials.h).
	std::shared_ptr<const PubkeyCredentials> credentials;
	std::vector<AlgorithmSet> ike_proposals;
	std::chrono::seconds ike_rekey_time{14400}, ike_rand_time{1440};
	std::chrono::seconds dpd_delay{30};   // 0: no liveness checks
	std::chrono::milliseconds retransmit_timeout{2000};
	uint32_t retransmit_tries = 5;        // then the peer is dead (§2.4)
	bool fragmentation = true;            // RFC 7383
	uint16_t fragment_size = 1280;        // largest IKE datagram we send
	std::chrono::seconds nat_keepalive{20}; // RFC 3948 §4
	bool force_encap = false;             // UDP-encapsulate even without NAT
	std::vector<ChildConfig> children;
};

struct DaemonConfig {
	std::string file;
	std::optional<RunAs> run_as;
	std::string control_socket = "/run/umigame/iked.sock";
	uint16_t port = 500, nat_port = 4500;
	// §2.6: ask for cookies once this many IKE SAs are half open.
	uint32_t cookie_threshold = 16;
	std::chrono::seconds half_open_timeout{30};
	std::vector<ConnectionConfig> connections;
};

// Throw ConfigError at the offending value.
DaemonConfig load_daemon_config(const std::string &file);
DaemonConfig parse_daemon_config(std::string_view text, const std::string &name);

// What we offer when a connection names no proposals.
std::vector<AlgorithmSet> default_ike_proposals();
std::vector<AlgorithmSet> default_esp_proposals();

} // namespace umigame::iked
