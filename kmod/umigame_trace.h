/* SPDX-License-Identifier: GPL-2.0 */
/*
 * umigame.ko tracepoints, for perf and bpftrace on the hot paths:
 *
 *	perf record -e 'umigame:*' -a
 *	perf stat -e umigame:esp_auth_fail -a sleep 10
 *
 * umigame_esp.c defines them (CREATE_TRACE_POINTS). They cost a static
 * branch when nobody listens, so the kfuncs fire them on every packet.
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

#endif /* UMIGAME_TRACE_H */

/* Out of include/trace/events: define_trace.h finds us through -I$(src). */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE umigame_trace
#include <trace/define_trace.h>
