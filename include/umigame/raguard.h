/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * RA guard (RFC 6105, RFC 7113) and DHCPv6-Shield (RFC 7610): the map layouts
 * and verdict reasons shared by bpf/raguard.bpf.c and the `umigame` CLI.
 *
 * A port's whole policy (trusted routers, allowed prefixes, DHCPv6 servers)
 * sits in one array entry, so judging an RA costs two inlined array lookups
 * and no hashing (a hash lookup alone costs more than the rest of the guard).
 * rag_ports maps ifindex -> port reference (slot and copy); each slot has two
 * policy copies. The CLI writes the copy not in use, flips the port's
 * reference with one atomic 64-bit store into the mmap'd rag_ports, and waits
 * for an RCU grace period before it ever rewrites the old copy. A packet is
 * judged by the old policy or the new one, never by a mix or by none.
 */
#ifndef UMIGAME_RAGUARD_H
#define UMIGAME_RAGUARD_H

#include <linux/types.h>

#define UMIGAME_RAGUARD_MAX_PORTS    64
/* rag_ports is indexed by ifindex: ports with a larger ifindex are refused. */
#define UMIGAME_RAGUARD_MAX_IFINDEX  65536
/* Per port. */
#define UMIGAME_RAGUARD_MAX_ROUTERS  16
#define UMIGAME_RAGUARD_MAX_PREFIXES 32
#define UMIGAME_RAGUARD_MAX_DHCP_SERVERS 8
/* Extension headers walked before the guard gives up and drops (RFC 7113 §3
 * asks for the whole chain; a chain longer than this is treated as hostile). */
#define UMIGAME_RAGUARD_MAX_EXT_HDRS 8
/* Options walked in one RA; more make the RA "malformed". */
#define UMIGAME_RAGUARD_MAX_ND_OPTS  16

/* One enum for every counted verdict. Keep umigame_raguard_reason_names in
 * tools/umigame/raguard_reasons.cpp in step (a static_assert checks the count). */
enum umigame_raguard_reason {
	UMIGAME_RAG_RA_TRUSTED = 0,       /* pass: RA from a trusted router */
	UMIGAME_RAG_RA_NOT_ACCEPTABLE,    /* pass: hop limit != 255 or non-link-local
	                                   * source; hosts ignore it (RFC 7113 §3) */
	UMIGAME_RAG_DHCP6_SERVER_TRUSTED, /* pass: DHCPv6 server msg, trusted source */
	UMIGAME_RAG_NONFIRST_FRAGMENT,    /* pass: non-first fragment (RFC 7113 §3) */
	UMIGAME_RAG_RA_UNTRUSTED_SOURCE,  /* drop: source address/MAC not trusted */
	UMIGAME_RAG_RA_BLOCK_ALL,         /* drop: port admits no routers */
	UMIGAME_RAG_RA_PREFIX,            /* drop: PIO prefix not allowed */
	UMIGAME_RAG_RA_PREFERENCE,        /* drop: router preference above maximum */
	UMIGAME_RAG_RA_MANAGED_FLAG,      /* drop: M flag set but not allowed */
	UMIGAME_RAG_RA_OTHER_FLAG,        /* drop: O flag set but not allowed */
	UMIGAME_RAG_RA_LLADDR_MISMATCH,   /* drop: SLLA option != Ethernet source */
	UMIGAME_RAG_ND_FRAGMENT,          /* drop: fragmented ND (RFC 6980 §5) */
	UMIGAME_RAG_INCOMPLETE_CHAIN,     /* drop: first fragment without the upper
	                                   * layer header (RFC 7112 §5, RFC 7113 §3) */
	UMIGAME_RAG_CHAIN_TOO_LONG,       /* drop: more extension headers than the bound */
	UMIGAME_RAG_MALFORMED,            /* drop: truncated/inconsistent headers */
	UMIGAME_RAG_DHCP6_SERVER_UNTRUSTED, /* drop: DHCPv6 server msg (RFC 7610 §5) */
	UMIGAME_RAG_NO_POLICY,            /* drop: guard attached, port has no policy */
	UMIGAME_RAG_RA_INVALID,           /* drop: hop limit != 255 or non-link-local
	                                   * source, when the policy says drop-invalid */
	UMIGAME_RAG_REASON_COUNT,
};

/* The reasons below this value pass the packet; the rest drop it. */
#define UMIGAME_RAG_FIRST_DROP UMIGAME_RAG_RA_UNTRUSTED_SOURCE

/* umigame_raguard_policy.flags */
#define UMIGAME_RAG_F_BLOCK_ALL      (1U << 0) /* drop every RA on this port */
#define UMIGAME_RAG_F_ALLOW_MANAGED  (1U << 1)
#define UMIGAME_RAG_F_ALLOW_OTHER    (1U << 2)
#define UMIGAME_RAG_F_CHECK_PREFIXES (1U << 3) /* PIOs must match rag_prefixes */
#define UMIGAME_RAG_F_DROP_INVALID   (1U << 4) /* drop RAs hosts would ignore
                                                * (hop limit, source) too */

/* Router preference as the 2-bit RFC 4191 field orders it: low < medium < high.
 * The wire encodes low=11, medium=00, high=01, reserved=10. */
enum umigame_raguard_pref {
	UMIGAME_RAG_PREF_LOW = 0,
	UMIGAME_RAG_PREF_MEDIUM = 1,
	UMIGAME_RAG_PREF_HIGH = 2,
};

/* rag_ports value: 0 when the port has no policy, else the policy copy in
 * rag_policies plus one. */
#define UMIGAME_RAG_PORT_REF(slot, copy) ((slot) * 2U + (copy) + 1U)
#define UMIGAME_RAG_REF_SLOT(ref)        (((ref) - 1U) / 2U)
#define UMIGAME_RAG_REF_COPY(ref)        (((ref) - 1U) % 2U)
#define UMIGAME_RAG_POLICY_COPIES        (UMIGAME_RAGUARD_MAX_PORTS * 2)

/* umigame_raguard_router.match */
#define UMIGAME_RAG_MATCH_ADDR (1U << 0) /* the RA's source address must be addr */
#define UMIGAME_RAG_MATCH_MAC  (1U << 1) /* its Ethernet source must be mac */

/* A trusted router: by link-local source address, by MAC, or both (an RA
 * from the address but another MAC is a spoof and not trusted). */
struct umigame_raguard_router {
	__u8 addr[16];
	__u8 mac[6];
	__u8 match;   /* UMIGAME_RAG_MATCH_* */
	__u8 pad;
};

/* An allowed prefix: a PIO prefix of at least len bits whose first len bits
 * equal addr is allowed. mask has the first len bits set (network order). */
struct umigame_raguard_prefix {
	__u8 addr[16];
	__u8 mask[16];
	__u32 len;
	__u32 pad;
};

/* rag_policies: slot * 2 + copy -> policy */
struct umigame_raguard_policy {
	__u32 ifindex;        /* the port this copy belongs to */
	__u32 flags;          /* UMIGAME_RAG_F_* */
	__u32 port_slot;      /* row in rag_counters, < UMIGAME_RAGUARD_MAX_PORTS */
	__u32 max_preference; /* enum umigame_raguard_pref */
	__u32 n_routers;
	__u32 n_prefixes;
	__u32 n_dhcp_servers;
	__u32 pad;
	struct umigame_raguard_router routers[UMIGAME_RAGUARD_MAX_ROUTERS];
	struct umigame_raguard_prefix prefixes[UMIGAME_RAGUARD_MAX_PREFIXES];
	/* RFC 7610 §4: trusted DHCPv6 server sources; none listed, none trusted. */
	__u8 dhcp_servers[UMIGAME_RAGUARD_MAX_DHCP_SERVERS][16];
	/* Drop events, rate-limited per port (read only when dropping, so at
	 * the end, away from the fields every RA reads). As configured: */
	__u32 event_burst;    /* events sent back to back; 0: none at all */
	__u32 event_rate;     /* events per second after the burst */
	/* What the program compares, in UMIGAME_RAG_EVENT_UNIT (the CLI
	 * converts): the time one event uses up, and burst x that. */
	__u64 event_interval;
	__u64 event_window;
};

/* The event limit counts time in jiffies, shifted: bpf_jiffies64() is a
 * load, where bpf_ktime_get_ns() reads the clock source (it costs more than
 * the whole RA check on these machines), so a suppressed drop reads no clock.
 * One unit is 2^-20 jiffy; the CLI learns HZ from the resolution of
 * CLOCK_MONOTONIC_COARSE (one tick). */
#define UMIGAME_RAG_EVENT_SHIFT 20
/* Defaults and bounds of event-burst / event-rate in the policy file. */
#define UMIGAME_RAG_EVENT_BURST_DEFAULT 50
#define UMIGAME_RAG_EVENT_RATE_DEFAULT  10
#define UMIGAME_RAG_EVENT_BURST_MAX     100000
#define UMIGAME_RAG_EVENT_RATE_MAX      1000000

/* rag_event_limit: per port slot (same rows as rag_counters), the generic
 * cell rate algorithm's state: the theoretical arrival time of the next
 * event. A drop may send an event when max(tat, now) + event_interval - now
 * <= event_window; it then moves tat there (cmpxchg: one event per token
 * across CPUs). A suppressed drop only reads it. One cache line per port, so
 * one port's events never bounce another port's line. */
struct umigame_raguard_event_limit {
	__u64 tat;
	__u64 pad[7];
};

/* rag_counters: per-CPU array, index port_slot * UMIGAME_RAG_REASON_COUNT +
 * reason. One row per port; the slot belongs to the port while its policy
 * entry exists. The extra last row counts packets on ports without policy. */
#define UMIGAME_RAGUARD_UNATTRIBUTED_SLOT UMIGAME_RAGUARD_MAX_PORTS
struct umigame_raguard_counter {
	__u64 packets;
	__u64 bytes;
	__u64 suppressed; /* drops sent no event: the port's event limit */
};

/* rag_events ring buffer: one record per dropped packet, as long as the
 * port's event limit allows (the rest count as suppressed). */
struct umigame_raguard_event {
	__u64 timestamp_ns;  /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 ifindex;
	__u32 reason;        /* enum umigame_raguard_reason */
	__u8 src_mac[6];
	__u16 vlan;          /* outer VLAN id, 0 if untagged */
	__u8 src_addr[16];   /* zero when the packet had no IPv6 header */
};

#endif /* UMIGAME_RAGUARD_H */
