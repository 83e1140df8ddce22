/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * RA guard (RFC 6105, RFC 7113) and DHCPv6-Shield (RFC 7610): the map layouts
 * and verdict reasons shared by bpf/raguard.bpf.c and the `umigame` CLI.
 *
 * Policy is keyed by the ingress ifindex. Each port's trusted-router and
 * allowed-prefix entries carry a generation bit: the CLI writes a new policy
 * under the inactive generation, then flips the generation in the port's
 * policy entry with one hash-map update (atomic for readers), then deletes the
 * old generation's entries. There is no moment where a port has no policy.
 */
#ifndef UMIGAME_RAGUARD_H
#define UMIGAME_RAGUARD_H

#include <linux/types.h>

#define UMIGAME_RAGUARD_MAX_PORTS    64
#define UMIGAME_RAGUARD_MAX_ROUTERS  1024
#define UMIGAME_RAGUARD_MAX_PREFIXES 1024
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

/* rag_policy: ifindex -> policy */
struct umigame_raguard_policy {
	__u32 generation;     /* 0 or 1: which router/prefix entries are live */
	__u32 flags;          /* UMIGAME_RAG_F_* */
	__u32 port_slot;      /* row in rag_counters, < UMIGAME_RAGUARD_MAX_PORTS */
	__u32 max_preference; /* enum umigame_raguard_pref */
};

/* rag_routers: trusted router by link-local source address. A non-zero mac
 * additionally pins the router's Ethernet source. */
struct umigame_raguard_router_key {
	__u32 ifindex;
	__u32 generation;
	__u8 addr[16];
};

struct umigame_raguard_router {
	__u8 mac[6];
	__u8 mac_set;
	__u8 pad;
};

/* rag_router_macs: trusted router by MAC alone (any link-local source). */
struct umigame_raguard_mac_key {
	__u32 ifindex;
	__u32 generation;
	__u8 mac[6];
	__u8 pad[2];
};

/* rag_dhcp_servers: trusted DHCPv6 server source addresses (RFC 7610 §4 lets
 * the operator name them; absent entries mean no server is trusted). */
#define umigame_raguard_dhcp_key umigame_raguard_router_key

/* rag_prefixes (LPM trie): allowed prefixes. prefixlen counts the 64 bits of
 * ifindex+generation before the address, so a lookup with the PIO's prefix
 * matches an allowed prefix of equal or shorter length on the same port. */
struct umigame_raguard_prefix_key {
	__u32 prefixlen;
	__u32 ifindex;
	__u32 generation;
	__u8 addr[16];
};

#define UMIGAME_RAG_PREFIX_KEY_BITS(plen) (64U + (plen))

/* rag_counters: per-CPU array, index port_slot * UMIGAME_RAG_REASON_COUNT +
 * reason. One row per port; the slot belongs to the port while its policy
 * entry exists. The extra last row counts packets on ports without policy. */
#define UMIGAME_RAGUARD_UNATTRIBUTED_SLOT UMIGAME_RAGUARD_MAX_PORTS
struct umigame_raguard_counter {
	__u64 packets;
	__u64 bytes;
};

/* rag_events ring buffer: one record per dropped packet. */
struct umigame_raguard_event {
	__u64 timestamp_ns;  /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 ifindex;
	__u32 reason;        /* enum umigame_raguard_reason */
	__u8 src_mac[6];
	__u16 vlan;          /* outer VLAN id, 0 if untagged */
	__u8 src_addr[16];   /* zero when the packet had no IPv6 header */
};

#endif /* UMIGAME_RAGUARD_H */
