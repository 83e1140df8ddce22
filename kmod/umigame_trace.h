/* SPDX-License-Identifier: GPL-2.0 */
/*
 * umigame.ko tracepoints, for perf and bpftrace on the hot paths:
 *
 *	perf record -e 'umigame:*' -a
 *	perf stat -e umigame:esp_auth_fail -a sleep 10
 *
 * umigame_esp.c defines them (CREATE_TRACE_POINTS); umigame_isatap.c uses
 * the isatap_* ones, umigame_pimreg.c the pim_* ones. They cost a static branch when nobody listens, so the
 * kfuncs fire them on every packet.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM umigame

#if !defined(UMIGAME_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define UMIGAME_TRACE_H

#include <linux/tracepoint.h>
#include <net/net_namespace.h>

/*
 * One shape for every ESP event: the network namespace whose table holds
 * the SA (its inode number, as `ls -l /proc/PID/ns/net` and `lsns` show it:
 * SA ids are per namespace), which SA (the module's id), its SPI, the full
 * sequence number (high bits included with ESN) and a length (the plaintext
 * for esp_decrypt_ok, the ESP bytes otherwise; 0 when unknown).
 */
DECLARE_EVENT_CLASS(umigame_esp_packet,
	TP_PROTO(const struct net *net, u32 sa_id, u32 spi, u64 seq, u32 len),
	TP_ARGS(net, sa_id, spi, seq, len),

	TP_STRUCT__entry(
		__field(u32, netns)
		__field(u32, sa_id)
		__field(u32, spi)
		__field(u64, seq)
		__field(u32, len)
	),

	TP_fast_assign(
		__entry->netns = net->ns.inum;
		__entry->sa_id = sa_id;
		__entry->spi = spi;
		__entry->seq = seq;
		__entry->len = len;
	),

	TP_printk("netns=%u sa=%u spi=0x%08x seq=%llu len=%u",
		  __entry->netns, __entry->sa_id, __entry->spi,
		  (unsigned long long)__entry->seq, __entry->len)
);

/* Decrypted and verified; len is the plaintext returned to XDP. */
DEFINE_EVENT(umigame_esp_packet, esp_decrypt_ok,
	TP_PROTO(const struct net *net, u32 sa_id, u32 spi, u64 seq, u32 len),
	TP_ARGS(net, sa_id, spi, seq, len));

/* ICV mismatch: wrong key, forged or corrupted packet, or wrong seq_hi. */
DEFINE_EVENT(umigame_esp_packet, esp_auth_fail,
	TP_PROTO(const struct net *net, u32 sa_id, u32 spi, u64 seq, u32 len),
	TP_ARGS(net, sa_id, spi, seq, len));

/*
 * XDP asked for an SA id the module does not have (a stale map entry);
 * spi and seq are read from the packet when it is long enough.
 */
DEFINE_EVENT(umigame_esp_packet, esp_unknown_sa,
	TP_PROTO(const struct net *net, u32 sa_id, u32 spi, u64 seq, u32 len),
	TP_ARGS(net, sa_id, spi, seq, len));

/* The XDP replay window dropped a packet (umigame_esp_note_replay). */
DEFINE_EVENT(umigame_esp_packet, esp_replay,
	TP_PROTO(const struct net *net, u32 sa_id, u32 spi, u64 seq, u32 len),
	TP_ARGS(net, sa_id, spi, seq, len));

/*
 * ISATAP (umigame_isatap.c): router discovery, one shape for every event:
 * the link (namespace inode and ifindex), the PRL router's IPv4 address
 * and a value (isatap_rs: RSs sent to it so far; isatap_ra: the router
 * lifetime of its RA; isatap_router_unreachable: RSs sent so far).
 */
DECLARE_EVENT_CLASS(umigame_isatap_router,
	TP_PROTO(const struct net *net, int ifindex, __be32 router, u32 value),
	TP_ARGS(net, ifindex, router, value),

	TP_STRUCT__entry(
		__field(u32, netns)
		__field(int, ifindex)
		__array(u8, router, 4)
		__field(u32, value)
	),

	TP_fast_assign(
		__entry->netns = net->ns.inum;
		__entry->ifindex = ifindex;
		memcpy(__entry->router, &router, 4);
		__entry->value = value;
	),

	TP_printk("netns=%u ifindex=%d router=%pI4 value=%u",
		  __entry->netns, __entry->ifindex, __entry->router, __entry->value)
);

/* A unicast RS sent to a PRL router (RFC 5214 §8.3.4). */
DEFINE_EVENT(umigame_isatap_router, isatap_rs,
	TP_PROTO(const struct net *net, int ifindex, __be32 router, u32 value),
	TP_ARGS(net, ifindex, router, value));

/* An RA from a PRL router; value is its router lifetime (seconds). */
DEFINE_EVENT(umigame_isatap_router, isatap_ra,
	TP_PROTO(const struct net *net, int ifindex, __be32 router, u32 value),
	TP_ARGS(net, ifindex, router, value));

/* A round of RSs went unanswered: the router is marked unreachable. */
DEFINE_EVENT(umigame_isatap_router, isatap_router_unreachable,
	TP_PROTO(const struct net *net, int ifindex, __be32 router, u32 value),
	TP_ARGS(net, ifindex, router, value));

/* Why an ISATAP link dropped a packet (the debugfs counter of that name). */
#define UMIGAME_ISATAP_DROP_REASONS				\
	EM(UMIGAME_ISATAP_DROP_SPOOFED, "rx_spoofed")		\
	EM(UMIGAME_ISATAP_DROP_RX_BAD, "rx_bad")		\
	EM(UMIGAME_ISATAP_DROP_NOT_ISATAP, "tx_not_isatap")	\
	EM(UMIGAME_ISATAP_DROP_NO_ROUTE, "tx_no_route")		\
	EMe(UMIGAME_ISATAP_DROP_TX_BAD, "tx_bad")

#ifndef UMIGAME_ISATAP_DROP_ENUM
#define UMIGAME_ISATAP_DROP_ENUM
#undef EM
#undef EMe
#define EM(a, b) a,
#define EMe(a, b) a
enum umigame_isatap_drop { UMIGAME_ISATAP_DROP_REASONS };
#endif

#undef EM
#undef EMe
#define EM(a, b) TRACE_DEFINE_ENUM(a);
#define EMe(a, b) TRACE_DEFINE_ENUM(a);
UMIGAME_ISATAP_DROP_REASONS
#undef EM
#undef EMe
#define EM(a, b) { a, b },
#define EMe(a, b) { a, b }

/*
 * A packet an ISATAP link dropped: the IPv4 addresses of the protocol-41
 * packet (received), or the IPv4 destination the next hop gave (sent; 0
 * when it gave none), and the reason.
 */
TRACE_EVENT(isatap_drop,
	TP_PROTO(const struct net *net, int ifindex, __be32 saddr, __be32 daddr,
		 enum umigame_isatap_drop reason),
	TP_ARGS(net, ifindex, saddr, daddr, reason),

	TP_STRUCT__entry(
		__field(u32, netns)
		__field(int, ifindex)
		__array(u8, saddr, 4)
		__array(u8, daddr, 4)
		__field(int, reason)
	),

	TP_fast_assign(
		__entry->netns = net->ns.inum;
		__entry->ifindex = ifindex;
		memcpy(__entry->saddr, &saddr, 4);
		memcpy(__entry->daddr, &daddr, 4);
		__entry->reason = reason;
	),

	TP_printk("netns=%u ifindex=%d saddr=%pI4 daddr=%pI4 reason=%s",
		  __entry->netns, __entry->ifindex, __entry->saddr, __entry->daddr,
		  __print_symbolic(__entry->reason, UMIGAME_ISATAP_DROP_REASONS))
);
#undef EM
#undef EMe

/*
 * PIM Register encapsulation (umigame_pimreg.c): a Register (or, with
 * null set, a Null-Register) sent for the multicast packet source -> group
 * to the RP; len is the Register's length, outer headers included.
 */
TRACE_EVENT(pim_register,
	TP_PROTO(const struct net *net, int ifindex, const struct in6_addr *source,
		 const struct in6_addr *group, const struct in6_addr *rp, u32 len, bool null),
	TP_ARGS(net, ifindex, source, group, rp, len, null),

	TP_STRUCT__entry(
		__field(u32, netns)
		__field(int, ifindex)
		__array(u8, source, 16)
		__array(u8, group, 16)
		__array(u8, rp, 16)
		__field(u32, len)
		__field(bool, null)
	),

	TP_fast_assign(
		__entry->netns = net->ns.inum;
		__entry->ifindex = ifindex;
		memcpy(__entry->source, source, 16);
		memcpy(__entry->group, group, 16);
		memcpy(__entry->rp, rp, 16);
		__entry->len = len;
		__entry->null = null;
	),

	TP_printk("netns=%u ifindex=%d source=%pI6c group=%pI6c rp=%pI6c len=%u null=%d",
		  __entry->netns, __entry->ifindex, __entry->source, __entry->group, __entry->rp,
		  __entry->len, __entry->null)
);

/* Why a PIM Register device dropped a packet (the GET counter of that name). */
#define UMIGAME_PIM_DROP_REASONS				\
	EM(UMIGAME_PIM_DROP_NO_RP, "drop_no_rp")		\
	EM(UMIGAME_PIM_DROP_RATE, "drop_rate")			\
	EM(UMIGAME_PIM_DROP_TOO_BIG, "drop_too_big")		\
	EM(UMIGAME_PIM_DROP_NO_ROUTE, "drop_no_route")		\
	EMe(UMIGAME_PIM_DROP_BAD, "drop_bad")

#ifndef UMIGAME_PIM_DROP_ENUM
#define UMIGAME_PIM_DROP_ENUM
#undef EM
#undef EMe
#define EM(a, b) a,
#define EMe(a, b) a
enum umigame_pim_drop { UMIGAME_PIM_DROP_REASONS, UMIGAME_PIM_DROP_COUNT };
#endif

#undef EM
#undef EMe
#define EM(a, b) TRACE_DEFINE_ENUM(a);
#define EMe(a, b) TRACE_DEFINE_ENUM(a);
UMIGAME_PIM_DROP_REASONS
#undef EM
#undef EMe
#define EM(a, b) { a, b },
#define EMe(a, b) { a, b }

/* A packet the device dropped: its group (:: when it had none) and why. */
TRACE_EVENT(pim_drop,
	TP_PROTO(const struct net *net, int ifindex, const struct in6_addr *group,
		 enum umigame_pim_drop reason),
	TP_ARGS(net, ifindex, group, reason),

	TP_STRUCT__entry(
		__field(u32, netns)
		__field(int, ifindex)
		__array(u8, group, 16)
		__field(int, reason)
	),

	TP_fast_assign(
		__entry->netns = net->ns.inum;
		__entry->ifindex = ifindex;
		memcpy(__entry->group, group, 16);
		__entry->reason = reason;
	),

	TP_printk("netns=%u ifindex=%d group=%pI6c reason=%s", __entry->netns, __entry->ifindex,
		  __entry->group, __print_symbolic(__entry->reason, UMIGAME_PIM_DROP_REASONS))
);
#undef EM
#undef EMe

#endif /* UMIGAME_TRACE_H */

/* Out of include/trace/events: define_trace.h finds us through -I$(src). */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE umigame_trace
#include <trace/define_trace.h>
