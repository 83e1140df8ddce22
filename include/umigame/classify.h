/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The XDP SCTP/DCCP classifier (bpf/classify.bpf.c): map layouts, rules and
 * reasons shared with the `umigame classify` CLI and the tests.
 *
 * A port's rules are one row of cls_tables (an array of
 * UMIGAME_CLS_MAX_PORTS rows): an ordered table of at most
 * UMIGAME_CLS_MAX_RULES rules, the first whose match fields all hold
 * decides, except that `count` and a rate limit within its budget go on to
 * the next rule. Replacing a table is one map update, so a packet sees the
 * old table or the new one. Each attached port runs its own instance of the
 * program, told its row at load (the `port_slot` constant), so that finding
 * the rules costs no hash lookup; its counters are the same row of
 * cls_counters (per CPU), reached with one lookup per packet.
 */
#ifndef UMIGAME_CLASSIFY_H
#define UMIGAME_CLASSIFY_H

#include <linux/types.h>

#define UMIGAME_CLS_MAX_PORTS  64
#define UMIGAME_CLS_MAX_RULES  32
/* Chunks of one SCTP packet walked; a packet with more is "too_many_chunks". */
#define UMIGAME_CLS_MAX_CHUNKS 16
#define UMIGAME_CLS_MAX_CPUS   64
#define UMIGAME_CLS_FLOWS      65536
#define UMIGAME_CLS_SOURCES    65536

/* Counted per port and reason. Keep umigame_cls_reason_names in step. */
enum umigame_cls_reason {
	UMIGAME_CLS_SCTP = 0,          /* a well-formed SCTP packet, rules applied */
	UMIGAME_CLS_DCCP,              /* a well-formed DCCP packet, rules applied */
	UMIGAME_CLS_NONFIRST_FRAGMENT, /* IPv4/IPv6 non-first fragment of SCTP/DCCP
	                                * (or of anything, for IPv6: the upper layer
	                                * is unknown); passed, no rule applies */
	UMIGAME_CLS_TRUNCATED,         /* the frame ends before the IP length says,
	                                * or inside a header */
	UMIGAME_CLS_BAD_LENGTH,        /* a length field inconsistent with the packet:
	                                * IP header length, a chunk running past the
	                                * packet, DCCP data offset, checksum coverage */
	UMIGAME_CLS_MALFORMED_CHUNK,   /* an SCTP chunk shorter than its type needs
	                                * (length 0 included), bundled where it must
	                                * be alone, a zero tag; a reserved DCCP type
	                                * or X=0 where X=1 is required */
	UMIGAME_CLS_TOO_MANY_CHUNKS,   /* more than UMIGAME_CLS_MAX_CHUNKS chunks */
	UMIGAME_CLS_BAD_CHECKSUM,      /* SCTP CRC32c wrong (checksum = "verify",
	                                * needs umigame.ko) */
	UMIGAME_CLS_RATE_LIMITED,      /* INIT/Request over its source's budget */
	UMIGAME_CLS_BAD_IP,            /* IPv4/IPv6 header broken or chain too long */
	UMIGAME_CLS_CANNOT_REWRITE,    /* a rewrite rule matched a packet whose CRC32c
	                                * cannot be recomputed (a first fragment, a
	                                * frame longer than the parser reaches, no
	                                * umigame.ko): dropped, since a half-translated
	                                * association is worse than none */
	UMIGAME_CLS_REASON_COUNT,
};

/* umigame_cls_rule.match: which fields must hold. */
#define UMIGAME_CLS_M_FAMILY   (1U << 0)
#define UMIGAME_CLS_M_PROTO    (1U << 1)
#define UMIGAME_CLS_M_SRC      (1U << 2)
#define UMIGAME_CLS_M_DST      (1U << 3)
#define UMIGAME_CLS_M_SPORT    (1U << 4)
#define UMIGAME_CLS_M_DPORT    (1U << 5)
#define UMIGAME_CLS_M_CHUNK    (1U << 6) /* an SCTP chunk of this type anywhere */
#define UMIGAME_CLS_M_PPID     (1U << 7) /* a DATA or first I-DATA chunk with it */
#define UMIGAME_CLS_M_DCCP_TYPE (1U << 8)
#define UMIGAME_CLS_M_SERVICE  (1U << 9) /* DCCP Request/Response service code */

enum umigame_cls_action {
	UMIGAME_CLS_PASS = 0,
	UMIGAME_CLS_DROP,
	UMIGAME_CLS_COUNT,        /* count, then the next rule */
	UMIGAME_CLS_REDIRECT,     /* bpf_redirect to target (an ifindex) */
	UMIGAME_CLS_REDIRECT_CPU, /* cpumap: SCTP on the verification tag, DCCP
	                           * on its 5-tuple, over the table's n_cpus */
	UMIGAME_CLS_RATE_LIMIT,   /* SCTP INIT / DCCP Request: per source token
	                           * bucket (rate/s, burst); over it: drop, else
	                           * the next rule. Other packets: the next rule */
	UMIGAME_CLS_REWRITE,      /* SCTP: ports to to_sport/to_dport, the CRC32c
	                           * verified first (a wrong one: bad_checksum,
	                           * dropped) and recomputed by umigame.ko; pass */
	UMIGAME_CLS_ACTION_COUNT,
};

/* Addresses: IPv4 in the first 4 bytes, network order; masks alike. */
struct umigame_cls_rule {
	__u32 match;
	__u32 action;
	__u8 family;     /* 4 or 6 */
	__u8 proto;      /* 132 SCTP, 33 DCCP */
	__u8 chunk_type;
	__u8 dccp_type;
	__u16 sport_lo, sport_hi; /* host order, inclusive */
	__u16 dport_lo, dport_hi;
	__u32 ppid;      /* host order */
	__u32 service;   /* host order */
	__u32 target;    /* REDIRECT: ifindex */
	__u32 rate;      /* RATE_LIMIT: per second per source */
	__u32 burst;
	__u16 to_sport, to_dport; /* REWRITE: host order, 0 = left as it is */
	__u8 src[16], src_mask[16];
	__u8 dst[16], dst_mask[16];
};

/* umigame_cls_table.flags */
#define UMIGAME_CLS_F_PASS_MALFORMED (1U << 0) /* pass malformed packets (counted)
                                                * instead of dropping them */
#define UMIGAME_CLS_F_FLOWS          (1U << 1) /* per-flow statistics in cls_flows */
#define UMIGAME_CLS_F_VERIFY_CSUM    (1U << 2) /* verify SCTP CRC32c (umigame.ko's
                                                * umigame_crc32c kfunc); a wrong
                                                * one is bad_checksum, no rule */

struct umigame_cls_counter {
	__u64 packets;
	__u64 bytes;
};

/* A port's counters: every SCTP/DCCP packet under its reason, and every
 * rule that matched. The program only adds; a restart (new rules, a row
 * given to another port) is a new base in the table. */
struct umigame_cls_port_counters {
	struct umigame_cls_counter reasons[UMIGAME_CLS_REASON_COUNT];
	struct umigame_cls_counter rules[UMIGAME_CLS_MAX_RULES];
};

/* A port's row of cls_counters, one per CPU: its counters, and where the
 * program keeps its parse of the packet at hand (bpf/classify.bpf.c says
 * why there and not on its stack); userspace reads only the counters. */
#define UMIGAME_CLS_SCRATCH 256
struct umigame_cls_cpu_row {
	struct umigame_cls_port_counters counters;
	__u8 scratch[UMIGAME_CLS_SCRATCH];
};

struct umigame_cls_table {
	__u32 owner;     /* the port holding this row; 0: a free row */
	__u32 ifindex;   /* packets arriving on it are classified; 0 until the
	                  * owner has rules (until then they all pass) */
	__u32 n_rules;
	__u32 flags;
	__u32 n_cpus;    /* REDIRECT_CPU: cls_cpumap entries 0..n_cpus-1 */
	struct umigame_cls_rule rules[UMIGAME_CLS_MAX_RULES];
	/* The row's counters (summed over CPUs) when they last restarted:
	 * what `show` subtracts. Never read by the program. */
	struct umigame_cls_port_counters base;
};

/* cls_flows key: SCTP by verification tag and ports (addresses zero, so a
 * multihomed association's path switch stays one flow); DCCP by 5-tuple. */
struct umigame_cls_flow_key {
	__u8 proto;
	__u8 family;
	__u16 sport, dport; /* host order */
	__u16 pad;
	__u32 vtag;         /* SCTP: the packet's verification tag */
	__u8 saddr[16];
	__u8 daddr[16];
};

struct umigame_cls_flow {
	__u64 packets;
	__u64 bytes;
	/* CLOCK_MONOTONIC_COARSE (bpf_ktime_get_coarse_ns): to a tick */
	__u64 first_ns;
	__u64 last_ns;
};

/* cls_sources key: the rate limit's bucket per port, rule and source. */
struct umigame_cls_source_key {
	__u32 ifindex;
	__u32 rule;
	__u8 addr[16];
};

struct umigame_cls_source {
	__u64 tat; /* GCRA theoretical arrival time, ns */
};

#endif /* UMIGAME_CLASSIFY_H */
