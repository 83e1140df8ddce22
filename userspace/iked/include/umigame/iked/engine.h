// The IKEv2 protocol engine (RFC 7296): IKE SAs and their CHILD_SAs, the
// exchanges that make, rekey and delete them, retransmission and liveness.
//
// It owns no socket and touches no kernel state itself: datagrams leave
// through Environment::send and CHILD_SAs are installed through the Kernel
// interface. The daemon plugs in UDP sockets, XFRM and umigame.ko; unit
// tests plug two engines into each other and a recording kernel, which is
// how every exchange (collisions included) is tested without a network.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "umigame/event_loop.h"
#include "umigame/ike/crypto.h"
#include "umigame/ike/fragments.h"
#include "umigame/ike/message.h"
#include "umigame/iked/config.h"
#include "umigame/iked/latency.h"
#include "umigame/iked/proposal.h"
#include "umigame/net.h"

namespace umigame::iked {

struct Endpoint {
	IpAddress addr;
	uint16_t port = 0;
	std::string str() const;
	auto operator<=>(const Endpoint &) const = default;
};

// One CHILD_SA as the kernel needs it, both directions.
struct ChildSaSpec {
	std::string connection, child;
	uint32_t reqid = 0;
	bool transport = false;
	Endpoint local, remote;  // outer addresses, ports when encapsulated
	bool encap = false;      // RFC 3948 UDP encapsulation
	std::vector<ike::TrafficSelector> local_ts, remote_ts;
	AlgorithmSet algorithms;
	uint32_t spi_in = 0, spi_out = 0;
	ike::Secret encr_in, integ_in, encr_out, integ_out;
	uint32_t replay_window = 4096;
	std::chrono::seconds soft_life{0}, hard_life{0}; // 0: none (we rekey ourselves)
	uint64_t soft_bytes = 0, soft_packets = 0;        // 0: none
	bool xdp = true;
};

// What the engine asks of the kernel. Errors are thrown (std::runtime_error)
// and end the exchange that caused them with an error notification.
class Kernel {
public:
	virtual ~Kernel() = default;
	// An inbound SPI for a CHILD_SA to be (XFRM_MSG_ALLOCSPI).
	virtual uint32_t allocate_spi(const Endpoint &local, const Endpoint &remote, uint32_t reqid) = 0;
	// Inbound SA (and, where `umigame esp` runs, the module's copy).
	virtual void add_inbound(const ChildSaSpec &spec) = 0;
	virtual void add_outbound(const ChildSaSpec &spec) = 0;
	// Policies for the selectors (out, in, fwd as docs/ike.md says).
	virtual void add_policies(const ChildSaSpec &spec) = 0;
	virtual void remove_policies(const ChildSaSpec &spec) = 0;
	virtual void del_inbound(const ChildSaSpec &spec) = 0;
	virtual void del_outbound(const ChildSaSpec &spec) = 0;
	// Trap policies for start_action = trap (ACQUIRE brings the SA up).
	virtual void add_trap(const ConnectionConfig &, const ChildConfig &, uint32_t reqid) = 0;
	virtual void remove_trap(const ConnectionConfig &, const ChildConfig &, uint32_t reqid) = 0;
	// Traffic counters, for show and volume-based rekeying.
	struct Usage {
		uint64_t bytes = 0, packets = 0;
	};
	virtual std::optional<Usage> inbound_usage(const ChildSaSpec &) { return std::nullopt; }
};

class Environment {
public:
	virtual ~Environment() = default;
	// `message` is an IKE message; on port 4500 the sender adds the four
	// zero octets of the non-ESP marker (RFC 3948 §2.2).
	virtual void send(const Endpoint &local, const Endpoint &remote, std::span<const uint8_t> message) = 0;
	// The local address a datagram to `remote` leaves from (routing).
	virtual std::optional<IpAddress> source_for(const IpAddress &remote) = 0;
	// UDP-encapsulated ESP needs the socket's encap option on 4500; the
	// daemon sets it once for good, tests ignore it.
	virtual void keepalive(const Endpoint &local, const Endpoint &remote) = 0;
};

struct Counters {
	uint64_t received = 0, sent = 0, retransmits = 0;
	uint64_t malformed = 0;          // dropped: did not parse (§2.21)
	uint64_t bad_spi = 0;            // no IKE SA for the SPIs
	uint64_t bad_message_id = 0;     // outside the window (§2.3)
	uint64_t integrity_failed = 0;   // SK payload did not verify
	uint64_t unsupported_critical = 0;
	uint64_t invalid_major = 0;
	uint64_t cookies_sent = 0, cookie_rejected = 0;
	uint64_t no_proposal = 0, auth_failed = 0, ts_unacceptable = 0;
	uint64_t ike_established = 0, child_established = 0;
	uint64_t child_rekeys = 0, ike_rekeys = 0, collisions = 0;
	uint64_t dead_peers = 0;
	uint64_t fragments_received = 0, fragments_sent = 0;
	uint64_t internal_errors = 0; // an exchange of ours failed (kernel, crypto)
	nlohmann::json json() const;
};

class IkeSa;
struct ChildSa;
std::string name_of(const IkeSa &sa);

class Engine {
public:
	Engine(EventLoop &loop, Environment &env, Kernel &kernel);
	~Engine();
	Engine(const Engine &) = delete;
	Engine &operator=(const Engine &) = delete;

	// Install a (new) configuration. Connections that did not change keep
	// their SAs; removed or changed ones are torn down (Delete sent).
	void configure(const DaemonConfig &config);

	// A datagram from `remote` to `local` (the non-ESP marker already
	// stripped on 4500). Never throws for what a peer sent.
	void receive(const Endpoint &local, const Endpoint &remote, std::span<const uint8_t> datagram);

	// Operator commands; they throw std::runtime_error with a message.
	void up(const std::string &connection);   // initiate every child
	void down(const std::string &connection); // delete the IKE SA(s)
	// Operator-triggered rekeys (also used by tests).
	void rekey_child(const std::string &connection, const std::string &child);
	void rekey_ike(const std::string &connection);

	// An ACQUIRE for a trap policy (reqid identifies connection + child).
	void acquire(uint32_t reqid, const IpAddress &src, const IpAddress &dst);
	// The kernel says an SA expired (soft: rekey now; hard: it is gone).
	void expire(uint32_t spi, const IpAddress &dst, bool hard);

	nlohmann::json show() const;
	nlohmann::json sas() const;
	const Counters &counters() const { return counters_; }
	size_t ike_sa_count() const { return sas_.size(); }
	size_t half_open_count() const;
	// Test access: the established IKE SAs of a connection, children.
	std::vector<const IkeSa *> ike_sas(const std::string &connection) const;
	void shutdown(); // Delete every IKE SA (on SIGTERM)
	// Tests only: the first octet of each nonce this engine makes next, so
	// that who holds the lowest nonce (§2.8.1, §2.8.2) is chosen by the test;
	// the other octets stay random. Empty: wholly random.
	std::deque<uint8_t> nonce_first_octets;

private:
	friend class IkeSa;
	void handle_init_request(const Endpoint &local, const Endpoint &remote, const ike::Message &msg,
				 std::span<const uint8_t> datagram);
	void send_notify_unprotected(const Endpoint &local, const Endpoint &remote, const ike::Header &request,
				     uint16_t type, std::span<const uint8_t> data);
	IkeSa *find(uint64_t local_spi);
	void remove(IkeSa *sa);
	void adopt(std::unique_ptr<IkeSa> sa);
	uint64_t new_spi();
	uint32_t new_reqid();
	IkeSa *initiate(const ConnectionConfig &conn, const std::vector<const ChildConfig *> &children);
	const ConnectionConfig *connection(const std::string &name) const;
	void arm_traps();
	void disarm_traps();
	// A trapped child's last SA took its policy along: put the trap back.
	bool policies_in_use(const ChildSaSpec &spec, const IkeSa *except_sa,
			     const ChildSa *except_child = nullptr) const;
	void rearm_trap(uint32_t reqid);
	uint32_t reqid_for(const std::string &connection, const std::string &child);

	EventLoop &loop_;
	Environment &env_;
	Kernel &kernel_;
	DaemonConfig config_;
	Counters counters_;
	// Kernel time of each CHILD_SA install (both SAs and the policies).
	LatencySamples child_install_;
	std::map<uint64_t, std::unique_ptr<IkeSa>> sas_; // by our SPI
	ike::CookieJar cookies_;
	Timer cookie_roll_;
	// Responder SAs by the initiator's SPI and address (§2.1: a
	// retransmitted IKE_SA_INIT is answered again), and those still half
	// open (§2.6): indexes, so an IKE_SA_INIT costs the same with 10000
	// IKE SAs up as with none.
	std::map<std::pair<uint64_t, IpAddress>, uint64_t> responder_by_initiator_;
	std::map<uint64_t, std::pair<uint64_t, IpAddress>> init_key_by_spi_;
	std::set<uint64_t> half_open_;
	// How often volume limits are compared with the inbound counters.
	static constexpr std::chrono::seconds kVolumeCheckInterval{2};
	Timer volume_check_;
	void check_volumes();
	std::map<std::pair<std::string, std::string>, uint32_t> reqids_;
	uint32_t next_reqid_ = 1;
	std::vector<std::pair<const ConnectionConfig *, const ChildConfig *>> traps_;
	std::vector<std::unique_ptr<IkeSa>> graveyard_; // destroyed after the current callback
	Timer reaper_;
};

// One CHILD_SA.
struct ChildSa {
	ChildSaSpec spec;
	const ChildConfig *config = nullptr;
	enum class State { installed, rekeying, rekeyed, deleting } state = State::installed;
	EventLoop::TimePoint established{};
	Timer rekey_timer, expire_timer, grace_timer;
	ike::Bytes nonces_min; // lowest nonce of the exchange that made it (§2.8.1)
	bool made_by_us = false;
	// While we rekey this SA, the peer rekeyed it too (§2.8.1): the
	// inbound SPI of the SA its exchange made.
	uint32_t collision_spi_in = 0;
	// Responder of a rekey: the outbound SA waits until the peer can
	// decrypt it (its Delete of the old SA, or outbound_timer).
	bool outbound_pending = false;
	Timer outbound_timer;
};

// One IKE SA and the exchanges on it. Created by the Engine.
class IkeSa {
public:
	enum class State { init_sent, init_answered, auth_sent, established, rekeyed, deleting };

	IkeSa(Engine &engine, const ConnectionConfig *conn, bool initiator, Endpoint local, Endpoint remote,
	      uint64_t local_spi);
	~IkeSa();

	uint64_t local_spi() const { return initiator_ ? spi_i_ : spi_r_; }
	uint64_t spi_i() const { return spi_i_; }
	uint64_t spi_r() const { return spi_r_; }
	State state() const { return state_; }
	bool initiator() const { return initiator_; }
	const ConnectionConfig *connection() const { return conn_; }
	const std::vector<std::unique_ptr<ChildSa>> &children() const { return children_; }
	const Endpoint &remote() const { return remote_; }
	const Endpoint &local() const { return local_; }
	nlohmann::json json() const;

private:
	friend class Engine;
	using Payloads = std::vector<ike::Payload>;
	using ResponseHandler = std::function<void(const ike::Message &header, const Payloads &payloads)>;

	// Initiator side of IKE_SA_INIT / IKE_AUTH.
	void start(const std::vector<const ChildConfig *> &children, std::optional<uint16_t> group = {},
		   ike::Bytes cookie = {});
	void on_init_response(const ike::Message &msg, std::span<const uint8_t> datagram);
	void send_auth();
	void on_auth_response(const Payloads &payloads);
	// Responder side.
	bool answer_init(const ike::Message &msg, std::span<const uint8_t> datagram);
	void on_auth_request(const ike::Message &msg, const Payloads &payloads);
	void on_create_child_request(const ike::Message &msg, const Payloads &payloads);
	void on_informational_request(const ike::Message &msg, const Payloads &payloads);

	// Datagrams for this SA (after the Engine found it).
	void receive(const ike::Message &msg, std::span<const uint8_t> datagram, const Endpoint &local,
		     const Endpoint &remote);
	std::optional<Payloads> decrypt(const ike::Message &msg, std::span<const uint8_t> datagram);

	// Window size 1 (§2.3): one request of ours outstanding, others queued.
	void request(ike::ExchangeType type, Payloads payloads, ResponseHandler on_response);
	void send_next_request();
	void retransmit();
	void respond(const ike::Message &request, Payloads payloads);
	std::vector<std::vector<uint8_t>> protect(const ike::Header &header, const Payloads &payloads);
	void transmit(const std::vector<std::vector<uint8_t>> &datagrams);
	void transmit_to(const std::vector<std::vector<uint8_t>> &datagrams, const Endpoint &local,
			 const Endpoint &remote);

	// CHILD_SAs.
	// group: the PFS group of the KE payload (0: the first proposal's);
	// an INVALID_KE_PAYLOAD answer retries once with the group asked for.
	void create_child(const ChildConfig &child, ChildSa *rekey_of, uint16_t group = 0);
	void rekey_ike();
	void on_create_child_response(const ChildConfig &child, ChildSa *rekey_of, ike::Bytes ni,
				      std::shared_ptr<ike::KeyExchange> ke, uint32_t spi_in,
				      std::vector<ike::TrafficSelector> tsi, std::vector<ike::TrafficSelector> tsr,
				      const Payloads &payloads, bool retried_group = false);
	void on_rekey_ike_response(std::unique_ptr<IkeSa> fresh, ike::Bytes ni, std::shared_ptr<ike::KeyExchange> ke,
				   const Payloads &payloads);
	ChildSa *install_child(const ChildConfig &config, const AlgorithmSet &alg, uint32_t spi_in,
			       uint32_t spi_out, const ike::Bytes &ni, const ike::Bytes &nr,
			       std::span<const uint8_t> shared, std::vector<ike::TrafficSelector> tsi,
			       std::vector<ike::TrafficSelector> tsr, bool made_by_us, bool defer_outbound = false);
	void install_pending_outbound(ChildSa *child);
	void schedule_child_timers(ChildSa &child);
	void delete_child_now(ChildSa *child, bool send_delete);
	void retire_child(ChildSa *old); // after a rekey: Delete, then remove after grace
	void resolve_child_collision(ChildSa *old);
	ChildSa *child_by_inbound(uint32_t spi);
	ChildSa *child_by_outbound(uint32_t spi);
	void remove_child(ChildSa *child);

	// Liveness, rekey, teardown.
	void schedule_ike_timers();
	void dpd();
	void send_delete_ike();
	void die(const std::string &why); // drop everything, no message
	void established(const std::string &how);
	void transfer_children_to(IkeSa &fresh); // IKE SA rekey (§2.18)
	void derive_keys(std::span<const uint8_t> shared);
	void set_keys(ike::IkeKeys keys);
	ike::Bytes auth_octets(bool ours, const ike::IdPayload &id) const;
	ike::Payload nat_detection(uint16_t type, const Endpoint &addr) const;
	void check_nat(const Payloads &payloads, const Endpoint &local, const Endpoint &remote);
	const ChildConfig *child_config(const std::string &name) const;
	std::vector<ike::TrafficSelector> local_selectors(const ChildConfig &c) const;
	std::vector<ike::TrafficSelector> remote_selectors(const ChildConfig &c) const;
	const ConnectionConfig *match_connection(const ike::IdPayload &idi, const ike::IdPayload *idr) const;
	// Certificate authentication (credentials.h).
	std::vector<ike::Bytes> cert_request_key_ids() const;
	void refuse_responder(const std::string &why); // initiator, §2.21.2
	std::optional<std::string> verify_pubkey_peer(const ConnectionConfig &c, const Payloads &payloads,
						      const ike::IdPayload &id, const ike::AuthPayload &auth) const;

	Engine &engine_;
	const ConnectionConfig *conn_;
	bool initiator_;
	Endpoint local_, remote_;
	Endpoint reply_local_, reply_remote_; // where the last request came from (§2.11)
	uint64_t spi_i_ = 0, spi_r_ = 0;
	State state_;
	EventLoop::TimePoint created_, established_at_{};

	AlgorithmSet alg_;
	std::unique_ptr<ike::Prf> prf_;
	std::unique_ptr<ike::SkProtection> sk_out_, sk_in_;
	ike::IkeKeys keys_;
	ike::Bytes ni_, nr_;
	std::shared_ptr<ike::KeyExchange> ke_;
	ike::Bytes init_request_, init_response_; // the IKE_SA_INIT messages, for AUTH (§2.15)
	ike::Bytes cookie_;
	bool peer_fragmentation_ = false;
	// RFC 7427 §4: the hashes the peer's SIGNATURE_HASH_ALGORITHMS named.
	std::vector<uint16_t> peer_signature_hashes_;
	bool nat_local_ = false, nat_remote_ = false;
	bool peer_transport_ok_ = false;
	std::vector<const ChildConfig *> pending_children_; // to create after IKE_AUTH
	ike::FragmentReassembler fragments_;

	// Requests we send (§2.3 window of 1).
	uint32_t next_request_id_ = 0;
	struct Outstanding {
		uint32_t id = 0;
		ike::ExchangeType type{};
		Payloads payloads;
		ResponseHandler on_response;
		std::vector<std::vector<uint8_t>> datagrams;
		uint32_t tries = 0;
	};
	std::optional<Outstanding> outstanding_;
	std::deque<Outstanding> queued_;
	Timer retransmit_timer_;
	// Requests the peer sends: the next id we expect and the answer to the
	// last one, resent when the request is (§2.1).
	uint32_t peer_next_id_ = 0;
	std::vector<std::vector<uint8_t>> last_response_;
	bool last_response_valid_ = false;

	std::vector<std::unique_ptr<ChildSa>> children_;
	Timer dpd_timer_, rekey_timer_, half_open_timer_, keepalive_timer_, delete_timer_;
	EventLoop::TimePoint last_heard_{};
	// IKE SA rekey in progress by us: nonce for collision detection.
	ike::Bytes rekey_nonces_min_;
	// SPIs the peer deleted that we did not know while our CREATE_CHILD_SA
	// was out: its answer may bring one of them (§1.4.1).
	std::vector<uint32_t> deleted_unknown_;
	bool rekeying_ = false;
	IkeSa *rekeyed_by_peer_ = nullptr;
};

} // namespace umigame::iked
