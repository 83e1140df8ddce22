// The kernel's own IPsec (XFRM) over NETLINK_XFRM, on libmnl: SAs and
// policies for an IKE daemon, and the ACQUIRE/EXPIRE events that drive it.
//
// Message building and event parsing are pure functions apart from the
// sockets, so that tests and the fuzzer work on bytes. Building checks what
// the kernel would refuse without saying why (std::invalid_argument); what it
// refuses with a reason comes back as NetlinkError with its extack text.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "umigame/net.h"
#include "umigame/sa_netlink.h" // SecretBytes, NetlinkError

struct mnl_socket;

namespace umigame {

enum class XfrmMode : uint8_t { transport = 0, tunnel = 1 }; // XFRM_MODE_*
enum class XfrmDir : uint8_t { in = 0, out = 1, fwd = 2 };   // XFRM_POLICY_*

// Traffic a policy or SA applies to. The family is src's; an unset dst means
// "any" in that family, and both unset (family 0) lets the kernel take the
// SA's family. A port with a zero mask is sent with mask 0xffff: a port
// the kernel would ignore is never what was meant. For ICMP, sport is the
// type and dport the code.
struct XfrmSelector {
	IpPrefix src, dst;
	uint8_t proto = 0;
	uint16_t sport = 0, sport_mask = 0, dport = 0, dport_mask = 0;
};

// Limits; UINT64_MAX (XFRM_INF) is none, 0 seconds is none.
struct XfrmLifetime {
	uint64_t soft_bytes = UINT64_MAX, hard_bytes = UINT64_MAX;
	uint64_t soft_packets = UINT64_MAX, hard_packets = UINT64_MAX;
	uint64_t soft_add_seconds = 0, hard_add_seconds = 0;
};

// ESP in UDP (UDP_ENCAP_ESPINUDP, RFC 3948); ports in host order.
struct XfrmEncap {
	uint16_t sport = 4500, dport = 4500;
};

struct XfrmSaId {
	IpAddress dst;
	uint32_t spi = 0; // host order
	uint8_t proto = IPPROTO_ESP;
};

struct XfrmSa {
	XfrmSaId id;
	IpAddress src;
	XfrmMode mode = XfrmMode::tunnel;
	uint32_t reqid = 0;
	// Either AEAD (aead_name e.g. "rfc4106(gcm(aes))", key = AES key ||
	// 4-byte salt, as the kernel's rfc4106 template wants it) or cipher +
	// integrity ("cbc(aes)" + "hmac(sha256)" with auth_trunc_bits 128,
	// RFC 4868). auth_trunc_bits 0 sends the untruncated form
	// (XFRMA_ALG_AUTH): the kernel then uses its table's truncation, 96
	// bits for hmac(sha256) — not RFC 4868's 128. AH: auth only.
	std::string aead_name;
	SecretBytes aead_key;
	uint32_t aead_icv_bits = 128;
	std::string enc_name;
	SecretBytes enc_key;
	std::string auth_name;
	SecretBytes auth_key;
	uint32_t auth_trunc_bits = 0;
	// With esn: XFRMA_REPLAY_ESN_VAL, its bitmap sized to the window (at
	// most 4096 packets: the kernel refuses more, XFRMA_REPLAY_ESN_MAX).
	// Without: the legacy 8-bit replay_window field, so at most 255.
	bool esn = false;
	uint32_t replay_window = 32;
	std::optional<XfrmEncap> encap;
	XfrmLifetime lifetime;
	XfrmSelector selector; // may stay empty (all-zero, family from src) for tunnel mode
	uint32_t flags = 0;    // XFRM_STATE_* extra flags, e.g. XFRM_STATE_AF_UNSPEC (8 bits)
	uint32_t mark = 0, mark_mask = 0; // XFRMA_MARK when mask != 0
	uint32_t extra_flags = 0;         // XFRMA_SA_EXTRA_FLAGS (XFRM_SA_XFLAG_*) when != 0
};

struct XfrmTemplate {
	IpAddress src, dst; // tunnel endpoints; unset for transport
	uint8_t proto = IPPROTO_ESP;
	XfrmMode mode = XfrmMode::tunnel;
	uint32_t reqid = 0;
	uint32_t spi = 0;
	bool optional = false; // "level use"
};

struct XfrmPolicy {
	XfrmSelector selector;
	XfrmDir dir = XfrmDir::out;
	uint32_t priority = 0;
	uint32_t index = 0;
	bool block = false;
	std::vector<XfrmTemplate> templates;
	uint32_t mark = 0, mark_mask = 0;
};

struct XfrmSaStats {
	uint64_t bytes = 0, packets = 0;
	uint32_t replay = 0, replay_window = 0, integrity_failed = 0;
	uint64_t add_time = 0, use_time = 0; // seconds since the epoch; use_time 0: unused
	std::optional<uint64_t> oseq, seq;   // 64 bits with ESN
};

// Events from XFRMNLGRP_ACQUIRE and XFRMNLGRP_EXPIRE.
struct XfrmAcquire {
	XfrmSelector selector;
	XfrmTemplate tmpl; // the policy's template the kernel wants an SA for
	uint32_t policy_index = 0;
	XfrmDir dir = XfrmDir::out;
	IpAddress src, dst; // from id/saddr
	uint32_t seq = 0;   // the larval SA's km.seq: pass it back to tie an SA to this ACQUIRE
};
struct XfrmExpire {
	XfrmSaId id;
	IpAddress src;
	uint32_t reqid = 0;
	bool hard = false;
};
using XfrmEvent = std::variant<XfrmAcquire, XfrmExpire>;

// Every message in one receive buffer: ACQUIRE and EXPIRE become events,
// other message types are skipped. Anything malformed (a short header or
// payload, an attribute overrunning its message, a template array of odd
// size) throws std::runtime_error; nothing is read past the buffer.
std::vector<XfrmEvent> parse_xfrm_events(std::span<const uint8_t> buf);

// The request bytes for add_sa/update_sa and add_policy/update_policy,
// NLM_F_REQUEST | NLM_F_ACK with the given seq. Throws std::invalid_argument
// for what the kernel would refuse (mixed families, no algorithm, a replay
// window it cannot hold, names over 63 bytes). The SA request holds its keys:
// wipe it when done.
std::vector<uint8_t> build_sa_request(const XfrmSa &sa, bool update, uint32_t seq);
std::vector<uint8_t> build_policy_request(const XfrmPolicy &p, bool update, uint32_t seq);

// One XFRM_MSG_NEWSA message (the reply to GETSA, header included): its
// counters. Malformed: std::runtime_error.
XfrmSaStats parse_sa_stats_message(std::span<const uint8_t> msg);

// Names of XFRMA_* (index = attribute type), for messages.
std::span<const char *const> xfrm_attr_names();

// A NETLINK_XFRM socket for requests in the current network namespace.
// Synchronous: each call waits for the kernel's answer. Errors are
// NetlinkError (errno and the kernel's extack text); socket failures
// std::system_error. Needs CAP_NET_ADMIN.
class Xfrm {
public:
	Xfrm();
	~Xfrm();
	Xfrm(const Xfrm &) = delete;
	Xfrm &operator=(const Xfrm &) = delete;

	void add_sa(const XfrmSa &sa);    // XFRM_MSG_NEWSA
	void update_sa(const XfrmSa &sa); // XFRM_MSG_UPDSA (completes a larval SA from alloc_spi)
	// XFRM_MSG_DELSA; false when there is no such SA (the kernel says
	// ESRCH; ENOENT is taken the same way).
	bool del_sa(const XfrmSaId &id);
	// XFRM_MSG_ALLOCSPI: a larval inbound SA (src -> dst) with a free SPI in
	// [min, max], returned in host order. The kernel drops it after
	// net.core.xfrm_acq_expires seconds (30) unless update_sa completes it.
	uint32_t alloc_spi(const IpAddress &src, const IpAddress &dst, uint8_t proto, uint32_t reqid,
			   uint32_t min = 0x100, uint32_t max = 0xffffffff);
	std::optional<XfrmSaStats> sa_stats(const XfrmSaId &id); // XFRM_MSG_GETSA; nullopt: no such SA
	void add_policy(const XfrmPolicy &p);    // XFRM_MSG_NEWPOLICY
	void update_policy(const XfrmPolicy &p); // XFRM_MSG_UPDPOLICY
	// XFRM_MSG_DELPOLICY by selector (mark 0); false when there is none.
	bool del_policy(const XfrmSelector &sel, XfrmDir dir);
	void flush_sas();      // every SA of every protocol: for tests
	void flush_policies(); // every main-type policy: for tests

private:
	void request(std::vector<uint8_t> &req, const char *op, uint16_t reply_type,
		     const std::function<void(const nlmsghdr *)> &on_data);
	uint32_t next_seq() { return ++seq_; }

	mnl_socket *nl_ = nullptr;
	uint32_t portid_ = 0;
	uint32_t seq_ = 0;
};

// A second NETLINK_XFRM socket, joined to XFRMNLGRP_ACQUIRE and
// XFRMNLGRP_EXPIRE, non-blocking.
class XfrmMonitor {
public:
	XfrmMonitor();
	~XfrmMonitor();
	XfrmMonitor(const XfrmMonitor &) = delete;
	XfrmMonitor &operator=(const XfrmMonitor &) = delete;

	int fd() const; // for the daemon's EventLoop
	// Everything queued now; empty when nothing is. A receive queue that
	// overflowed (ENOBUFS) lost events: counted in lost(), and reading goes
	// on.
	std::vector<XfrmEvent> read();
	uint64_t lost() const { return lost_; }

private:
	mnl_socket *nl_ = nullptr;
	uint64_t lost_ = 0;
};

} // namespace umigame
