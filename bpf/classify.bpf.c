// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP SCTP/DCCP classifier (issue 17): parses Ethernet (up to two VLAN tags),
 * IPv4 (options) and IPv6 (the extension-header chain, bpf/hdr_walk.h, the
 * walk the RA guard uses), then
 *  - SCTP (RFC 9260): the common header and every chunk up to
 *    UMIGAME_CLS_MAX_CHUNKS, each chunk's length checked against the packet
 *    and against what its type needs; DATA (PPID, stream), I-DATA (RFC 8260,
 *    PPID in the first fragment only), INIT/INIT ACK (tags, a_rwnd, streams);
 *  - DCCP (RFC 4340): the generic header with X=1 and X=0, the data offset
 *    and checksum coverage against the packet, the packet type, the service
 *    code of Request and Response.
 * A port's ordered rule table (include/umigame/classify.h) then decides:
 * pass, drop, count, redirect to an interface or a cpumap, or a per-source
 * rate limit on SCTP INIT and DCCP Request. Every SCTP/DCCP packet is
 * counted per port and reason, every rule that matched per rule, and flows
 * per verification tag (SCTP) or 5-tuple (DCCP) in an LRU.
 *
 * Packets that are neither SCTP nor DCCP pass before any map lookup. The
 * rest costs two: the port's table, an array row the verifier inlines, and
 * its per-CPU counters (docs/classify.md, "Performance", for why: a hash
 * lookup by ifindex and a second counter lookup were most of the cost).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "umigame/classify.h"
#include "hdr_walk.h"

/* Which way a branch usually goes: clang lays the usual way out as one
 * straight run of code. Under QEMU TCG a jump to another page of code is a
 * lookup; a packet's way over fewer pages costs less (docs/classify.md). */
#define unlikely(x) __builtin_expect(!!(x), 0)
#define likely(x)   __builtin_expect(!!(x), 1)

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader: whether umigame.ko's BTF (its kfuncs) is present. The
 * verifier drops the CRC32c code when it is not, so the program still loads
 * without the module (the 6.18 host). */
const volatile __u8 have_module = 0;

/* Set by the loader: this instance's row of cls_tables and cls_counters
 * (one instance per attached port, include/umigame/classify.h). */
const volatile __u32 port_slot = 0;

/* umigame.ko (kmod/umigame_csum.c): the CRC32c register after the frame's
 * bytes [off, off + len), from crc; -EINVAL outside the linear area. */
extern __s64 umigame_crc32c(struct xdp_md *ctx, __u32 off, __u32 len, __u32 crc) __ksym __weak;

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif
#ifndef IPPROTO_DCCP
#define IPPROTO_DCCP 33
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UMIGAME_CLS_MAX_PORTS);
	__type(key, __u32); /* port_slot */
	__type(value, struct umigame_cls_table);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cls_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UMIGAME_CLS_MAX_PORTS);
	__type(key, __u32); /* port_slot */
	__type(value, struct umigame_cls_cpu_row);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cls_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, UMIGAME_CLS_FLOWS);
	__type(key, struct umigame_cls_flow_key);
	__type(value, struct umigame_cls_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cls_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, UMIGAME_CLS_SOURCES);
	__type(key, struct umigame_cls_source_key);
	__type(value, struct umigame_cls_source);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cls_sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, UMIGAME_CLS_MAX_CPUS);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cls_cpumap SEC(".maps");

/* SCTP chunk types (RFC 9260 §3.2, RFC 8260 §2.1, RFC 4895, RFC 3758). */
#define SCTP_DATA              0
#define SCTP_INIT              1
#define SCTP_INIT_ACK          2
#define SCTP_SACK              3
#define SCTP_HEARTBEAT         4
#define SCTP_HEARTBEAT_ACK     5
#define SCTP_ABORT             6
#define SCTP_SHUTDOWN          7
#define SCTP_SHUTDOWN_ACK      8
#define SCTP_ERROR             9
#define SCTP_COOKIE_ECHO       10
#define SCTP_COOKIE_ACK        11
#define SCTP_ECNE              12
#define SCTP_CWR               13
#define SCTP_SHUTDOWN_COMPLETE 14
#define SCTP_AUTH              15
#define SCTP_IDATA             64
#define SCTP_FORWARD_TSN       192

#define SCTP_IDATA_FLAG_B 0x02 /* RFC 8260 §2.1: the first fragment */

/* DCCP packet types (RFC 4340 §5.1). */
#define DCCP_REQUEST  0
#define DCCP_RESPONSE 1
#define DCCP_DATA     2
#define DCCP_ACK      3
#define DCCP_DATAACK  4
#define DCCP_RESET    7
#define DCCP_SYNCACK  9

/*
 * What the parse found, filled by the parsers. It lives in the port's row
 * of cls_counters on this CPU (umigame_cls_cpu_row.scratch), not on the
 * stack, so that a plain packet's whole way (the walk and the rules) can be
 * one function: a BPF-to-BPF call costs more than the chunk walk it would
 * hold (return thunks; under QEMU TCG it was half the classifier; only
 * what few packets need is out of line), and inlined, the walk's results
 * left on the stack make the verifier check the rules after it once per
 * way through 16 chunks, past its limit. Map memory it does not track.
 * XDP does not nest on a CPU, so the row is ours until the verdict. It is
 * filled only for a packet the IP parse found whole (cls_pkt_start): the
 * small fields every packet sets are packed so that they take three stores
 * (under TCG each store is a software TLB lookup), and nothing but a field
 * that says so makes the rest valid.
 */
struct cls_pkt {
	__u8 saddr[16];   /* IPv4 in the first 4 bytes, the rest zero; */
	__u8 daddr[16];   /* both valid only after cls_addrs() */
	__u64 chunks[4];  /* SCTP: bitmap of the chunk types present (1-3: */
			  /* types 64-255, valid only when has_high_types) */
	__u32 ppids[UMIGAME_CLS_MAX_CHUNKS]; /* of DATA and first I-DATA chunks */
	__u32 service;    /* DCCP Request/Response service code, host order */
	union {           /* SCTP: one store (cls_sctp) */
		struct {
			/* Host order; in this order the common header's
			 * first word, in host order, is both. */
			__u16 dport, sport;
			__u32 vtag; /* SCTP verification tag */
		};
		__u64 ids;
	};
	union {           /* set as one word by cls_pkt_start */
		struct {
			__u8 family;
			__u8 proto;
			__u8 partial; /* a first fragment, or more than the parser reaches */
			__u8 n_ppids;
			__u8 opening; /* SCTP INIT or DCCP Request: the rate limit applies */
			__u8 has_service;
			__u8 have_addrs; /* saddr and daddr are this packet's */
			__u8 csum_verified; /* the SCTP CRC32c was checked and is right */
		};
		__u64 state;
	};
	union {           /* set as one word by cls_pkt_start */
		struct {
			__u16 l3_off;  /* the IP header */
			__u8 has_high_types; /* a chunk of type 64-255 was seen */
			__u8 dccp_type;
		};
		__u32 layer3;
	};
	union {           /* the SCTP/DCCP header, and where the IP payload ends */
		struct {
			__u32 l4_off, l4_end;
		};
		__u64 layer4;
	};
};
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "cls_pkt.ids: the ports word in host order");

/* Network-order packet fields, however aligned: the headers behind 14
 * bytes of Ethernet are 2 bytes off. One load each, not one per byte:
 * under QEMU TCG every load is a software TLB lookup (docs/classify.md). */
static __always_inline __u16 rd16(const __u8 *p)
{
	return bpf_ntohs(*(const __u16 *)p);
}

static __always_inline __u32 rd32(const __u8 *p)
{
	return bpf_ntohl(*(const __u32 *)p);
}

/* Per chunk type (RFC 9260 §3.3, RFC 8260 §2.1, RFC 4895 §4.1, RFC 3758
 * §3.2): the least length in bits 0-15 and how much longer it may be in
 * bits 16-31, so that one load and one compare check a chunk's length
 * (chunk_len_ok). §3.2: Length counts the chunk header, so any type is at
 * least 4 bytes long. CHUNK_LOOK marks the types the walk reads more of
 * (INIT, INIT ACK, I-DATA) and those past the first bitmap word, so that
 * the others cost one test. */
#define CHUNK_LEN(least, most) ((__u64)(least) | (__u64)((most) - (least)) << 16)
#define CHUNK_AT_LEAST(least)  CHUNK_LEN(least, 0xffff)
#define CHUNK_EXACTLY(len)     CHUNK_LEN(len, len)
#define CHUNK_LOOK             (1ULL << 32)

/* §6.10: INIT, INIT ACK and SHUTDOWN COMPLETE are never bundled. */
#define SCTP_SOLO_CHUNKS ((1ULL << SCTP_INIT) | (1ULL << SCTP_INIT_ACK) | (1ULL << SCTP_SHUTDOWN_COMPLETE))

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Winitializer-overrides" /* the types named override the default */
static const __u64 sctp_chunk_rule[256] = {
	[0 ... 63] = CHUNK_AT_LEAST(4),
	[64 ... 255] = CHUNK_AT_LEAST(4) | CHUNK_LOOK,
	[SCTP_DATA] = CHUNK_AT_LEAST(17),     /* §3.3.1: 16 is DATA without user data */
	[SCTP_INIT] = CHUNK_AT_LEAST(20) | CHUNK_LOOK, /* §3.3.2 */
	[SCTP_INIT_ACK] = CHUNK_AT_LEAST(20) | CHUNK_LOOK, /* §3.3.3 */
	[SCTP_SACK] = CHUNK_AT_LEAST(16),     /* §3.3.4 */
	[SCTP_HEARTBEAT] = CHUNK_AT_LEAST(8), /* §3.3.5: a Heartbeat Info parameter */
	[SCTP_HEARTBEAT_ACK] = CHUNK_AT_LEAST(8), /* §3.3.6 */
	[SCTP_SHUTDOWN] = CHUNK_EXACTLY(8),   /* §3.3.8 */
	[SCTP_SHUTDOWN_ACK] = CHUNK_EXACTLY(4), /* §3.3.9 */
	[SCTP_COOKIE_ECHO] = CHUNK_AT_LEAST(5), /* §3.3.11: a cookie of at least one byte */
	[SCTP_COOKIE_ACK] = CHUNK_EXACTLY(4), /* §3.3.12 */
	[SCTP_ECNE] = CHUNK_EXACTLY(8),       /* Appendix A */
	[SCTP_CWR] = CHUNK_EXACTLY(8),        /* Appendix A */
	[SCTP_SHUTDOWN_COMPLETE] = CHUNK_EXACTLY(4), /* §3.3.13 */
	[SCTP_AUTH] = CHUNK_AT_LEAST(8),      /* RFC 4895 §4.1 */
	[SCTP_IDATA] = CHUNK_AT_LEAST(21) | CHUNK_LOOK, /* RFC 8260 §2.1: 20 is I-DATA without data */
	[SCTP_FORWARD_TSN] = CHUNK_AT_LEAST(8) | CHUNK_LOOK, /* RFC 3758 §3.2 */
};
#pragma clang diagnostic pop

/* A length below the least wraps around and fails the one compare too. */
static __always_inline int chunk_len_ok(__u64 len, __u64 rule)
{
	return len - (rule & 0xffff) <= ((rule >> 16) & 0xffff);
}

/* v, with all the verifier knew of it forgotten (noise: anything). The
 * walk's offsets, so that every way the IP parse reaches the walk looks
 * the same to it. */
static __always_inline __u64 verifier_forget(__u64 v, __u64 noise)
{
	__u64 again = noise;

	asm volatile("" : "+r"(again));
	return (v ^ noise) ^ again;
}

/*
 * The packet's addresses into p->saddr and p->daddr, read the first time a
 * rule, the rate limit or a flow key needs them rather than for every
 * packet: most rule tables never look at them.
 */
static __noinline void cls_addrs(struct xdp_md *ctx, struct cls_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *a;

	if (p->have_addrs)
		return;
	p->have_addrs = 1;
	if (p->family == 4) {
		__builtin_memset(p->saddr, 0, sizeof(p->saddr));
		__builtin_memset(p->daddr, 0, sizeof(p->daddr));
		a = pkt_ptr(data, data_end, p->l3_off + 12, 8);
		if (!a)
			return; /* cannot be: the parse read this header */
		__builtin_memcpy(p->saddr, a, 4);
		__builtin_memcpy(p->daddr, a + 4, 4);
	} else {
		a = pkt_ptr(data, data_end, p->l3_off + 8, 32);
		if (!a)
			return;
		__builtin_memcpy(p->saddr, a, 16);
		__builtin_memcpy(p->daddr, a + 16, 16);
	}
}

/*
 * The chunks the walk reads more of than their type and length: INIT and
 * INIT ACK, I-DATA, the types past 63 (their bitmap words). 0 or the
 * reason the packet is malformed. Out of line: inline, what it keeps live
 * pushed the walk's own values out of registers.
 */
static __noinline int look_at_chunk(void *data, void *data_end, struct cls_pkt *p, __u8 *ch,
				    __u8 type)
{
	if (type >= 64) {
		/* The rare types' words are zeroed by the first of them, not
		 * for every packet. */
		if (!p->has_high_types) {
			p->has_high_types = 1;
			p->chunks[1] = 0;
			p->chunks[2] = 0;
			p->chunks[3] = 0;
		}
		p->chunks[(type >> 6) & 3] |= 1ULL << (type & 63);
	}
	if (type == SCTP_IDATA && (ch[1] & SCTP_IDATA_FLAG_B)) {
		/* RFC 8260 §2.1: the PPID at 16, in the first fragment only. */
		__u8 *d = ch + 16;

		if ((void *)(d + 4) > data_end)
			return UMIGAME_CLS_TRUNCATED;
		p->ppids[p->n_ppids & (UMIGAME_CLS_MAX_CHUNKS - 1)] = rd32(d);
		p->n_ppids++;
	} else if (type == SCTP_INIT || type == SCTP_INIT_ACK) {
		if ((void *)(ch + 20) > data_end)
			return UMIGAME_CLS_TRUNCATED;
		/* §3.3.2/§3.3.3: Initiate Tag, outbound and inbound stream
		 * counts must not be 0. */
		if (!rd32(ch + 4) || !rd16(ch + 12) || !rd16(ch + 14))
			return UMIGAME_CLS_MALFORMED_CHUNK;
		/* §8.5.1: an INIT travels with Verification Tag 0. */
		if (type == SCTP_INIT) {
			if (p->vtag)
				return UMIGAME_CLS_MALFORMED_CHUNK;
			p->opening = 1;
		}
	}
	return 0;
}

/*
 * SCTP (RFC 9260 §3): the common header at off, then every chunk up to end
 * (the end of the IP payload). p->partial: a first fragment, whose last
 * chunk may be cut by the end of the fragment. Few values live through
 * the loop, so that they stay in registers.
 */
static __always_inline int cls_sctp(struct xdp_md *ctx, struct cls_pkt *p, __u64 off, __u64 end)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 low_types = 0; /* chunk types 0-63; the others are rare */
	__u32 cut = 0;
	__u8 *h;
	__u64 i; /* 64 bits: no zero extension each round */

	if (!pkt_at(data, data_end, off, 12, &h) || off + 12 > end)
		return UMIGAME_CLS_TRUNCATED;
	p->ids = rd32(h) | (__u64)rd32(h + 4) << 32; /* sport, dport, vtag */
	off += 12;

	for (i = 0; i < UMIGAME_CLS_MAX_CHUNKS; i++) {
		__u64 len, padded, rule, o;
		__u8 *ch, type;
		int reason;

		/* §3.2: chunks are padded to 4 bytes, so 1-3 bytes left are
		 * not a chunk. Whether a cut chunk is malformed is decided
		 * after the loop: fewer live values in it, a shorter walk. */
		if (off + 4 > end) {
			cut = 1;
			break;
		}
		/* off + 4 <= end <= MAX_PARSE_OFFSET, so the mask changes
		 * nothing: it gives Linux 6.1's verifier, which learns no
		 * bound from comparing two registers, the bound on off
		 * without a branch. Laundered so that clang keeps it. */
		o = off;
		asm volatile("" : "+r"(o));
		ch = (__u8 *)data + (o & (2 * MAX_PARSE_OFFSET - 1));
		asm volatile("" : "+r"(ch));
		if (unlikely((void *)(ch + 4) > data_end))
			return UMIGAME_CLS_TRUNCATED;
		type = ch[0];
		len = rd16(ch + 2);
		rule = sctp_chunk_rule[type];
		if (unlikely(!chunk_len_ok(len, rule)))
			return UMIGAME_CLS_MALFORMED_CHUNK;
		padded = (len + 3) & ~3ULL;
		if (unlikely(off + padded > end)) {
			cut = 1;
			break;
		}
		off += padded;

		if (type == SCTP_DATA) {
			/* §3.3.1: the PPID at 12, behind the checked header:
			 * one more end check. */
			__u8 *d = ch + 12;

			low_types |= 1ULL << SCTP_DATA;
			if (unlikely((void *)(d + 4) > data_end))
				return UMIGAME_CLS_TRUNCATED;
			/* Counted in the row, not a register: the walk has
			 * too few of those. One per chunk at most, so the
			 * mask never wraps. */
			p->ppids[p->n_ppids & (UMIGAME_CLS_MAX_CHUNKS - 1)] = rd32(d);
			p->n_ppids++;
		} else if (likely(!(rule & CHUNK_LOOK))) {
			low_types |= 1ULL << (type & 63); /* below 64: the table says so */
		} else {
			reason = look_at_chunk(data, data_end, p, ch, type);
			if (reason)
				return reason;
			low_types |= type < 64 ? 1ULL << (type & 63) : 0;
		}
	}
	/* Bytes left over: a chunk cut by the packet's end, or more chunks
	 * than the walk reads; in a first fragment (partial) they are the
	 * next fragment's, and what is here is judged. */
	if (unlikely(!p->partial && off < end))
		return cut ? UMIGAME_CLS_BAD_LENGTH : UMIGAME_CLS_TOO_MANY_CHUNKS;
	/* §3.1: at least one chunk (i were read); §6.10. */
	if (unlikely(!i || ((low_types & SCTP_SOLO_CHUNKS) && i > 1)))
		return UMIGAME_CLS_MALFORMED_CHUNK;
	p->chunks[0] = low_types;
	return UMIGAME_CLS_SCTP;
}

/*
 * DCCP (RFC 4340 §5): the generic header at off (§5.1), the acknowledgement
 * subheader (§5.3) and the Request/Response service code (§5.4, §5.5).
 * Out of line, as the rest that few packets need: inline, it lay between
 * the SCTP walk and the rules and stretched every SCTP packet's way through
 * the JITed code over one more page (docs/classify.md, "Performance").
 */
static __noinline int cls_dccp(struct xdp_md *ctx, struct cls_pkt *p, __u32 off, __u32 end,
			       __u32 partial)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 hlen, doff, cscov, x, type;
	__u8 *h, *s;

	h = pkt_ptr(data, data_end, off, 12);
	if (!h || off + 12 > end)
		return UMIGAME_CLS_TRUNCATED;
	p->sport = rd16(h);
	p->dport = rd16(h + 2);
	p->chunks[0] = 0; /* so that no SCTP chunk rule matches (rule_matches) */
	type = (h[8] >> 1) & 15;
	x = h[8] & 1;
	p->dccp_type = type;
	/* §5.1: types 10-15 are reserved, receivers must ignore them. */
	if (type > DCCP_SYNCACK)
		return UMIGAME_CLS_MALFORMED_CHUNK;
	/* §5.1: only Data, Ack and DataAck may use short (24-bit) sequence
	 * numbers; the others with X=0 must be ignored. */
	if (!x && type != DCCP_DATA && type != DCCP_ACK && type != DCCP_DATAACK)
		return UMIGAME_CLS_MALFORMED_CHUNK;
	hlen = x ? 16 : 12;
	/* §5.3: every type but Request and Data has an acknowledgement
	 * subheader, 8 bytes with X=1, 4 with X=0. */
	if (type != DCCP_REQUEST && type != DCCP_DATA)
		hlen += x ? 8 : 4;
	/* §5.4, §5.5: Request and Response carry a service code; §5.6:
	 * Reset a reset code and three data bytes. */
	if (type == DCCP_REQUEST || type == DCCP_RESPONSE || type == DCCP_RESET)
		hlen += 4;
	/* §5.1: Data Offset, in 32-bit words, covers the generic header and
	 * every subheader and option; it must lie within the packet. */
	doff = (__u32)h[4] * 4;
	if (doff < hlen || off + doff > end)
		return partial && off + doff > end ? UMIGAME_CLS_TRUNCATED : UMIGAME_CLS_BAD_LENGTH;
	/* §9.2: CsCov > 0 covers the header and (CsCov - 1) * 4 bytes of
	 * application data; a coverage beyond the packet must be discarded. */
	cscov = h[5] & 15;
	if (cscov && off + doff + (cscov - 1) * 4 > end)
		return UMIGAME_CLS_BAD_LENGTH;
	if (type == DCCP_REQUEST || type == DCCP_RESPONSE) {
		s = pkt_ptr(data, data_end, off + hlen - 4, 4);
		if (!s)
			return UMIGAME_CLS_TRUNCATED;
		p->service = rd32(s);
		p->has_service = 1;
	}
	p->opening = type == DCCP_REQUEST;
	return UMIGAME_CLS_DCCP;
}

static __always_inline void count(struct umigame_cls_counter *c, __u64 bytes)
{
	c->packets += 1;
	c->bytes += bytes;
}

static __always_inline int addr_match(const __u8 *a, const __u8 *want, const __u8 *mask)
{
	const __u64 *x = (const __u64 *)a, *w = (const __u64 *)want, *m = (const __u64 *)mask;

	return ((x[0] & m[0]) == w[0]) && ((x[1] & m[1]) == w[1]);
}

/* A rule's src and dst, out of line: reading the addresses is a call anyway. */
static __noinline int addrs_match(struct xdp_md *ctx, const struct umigame_cls_rule *r,
				  struct cls_pkt *p)
{
	cls_addrs(ctx, p);
	if ((r->match & UMIGAME_CLS_M_SRC) && !addr_match(p->saddr, r->src, r->src_mask))
		return 0;
	if ((r->match & UMIGAME_CLS_M_DST) && !addr_match(p->daddr, r->dst, r->dst_mask))
		return 0;
	return 1;
}

static __always_inline int rule_matches(struct xdp_md *ctx, const struct umigame_cls_rule *r,
					struct cls_pkt *p)
{
	__u32 m = r->match;
	int j;

	if (m & (UMIGAME_CLS_M_FAMILY | UMIGAME_CLS_M_PROTO | UMIGAME_CLS_M_SRC | UMIGAME_CLS_M_DST |
		 UMIGAME_CLS_M_SPORT | UMIGAME_CLS_M_DPORT)) {
		if ((m & UMIGAME_CLS_M_FAMILY) && r->family != p->family)
			return 0;
		if ((m & UMIGAME_CLS_M_PROTO) && r->proto != p->proto)
			return 0;
		if ((m & (UMIGAME_CLS_M_SRC | UMIGAME_CLS_M_DST)) && !addrs_match(ctx, r, p))
			return 0;
		if ((m & UMIGAME_CLS_M_SPORT) && (p->sport < r->sport_lo || p->sport > r->sport_hi))
			return 0;
		if ((m & UMIGAME_CLS_M_DPORT) && (p->dport < r->dport_lo || p->dport > r->dport_hi))
			return 0;
	}
	/* No proto test for the SCTP fields: a DCCP packet has no chunk
	 * types and no PPIDs (cls_dccp, cls_pkt_start). */
	if (m & UMIGAME_CLS_M_CHUNK) {
		__u8 type = r->chunk_type;

		if (type >= 64 && !p->has_high_types)
			return 0;
		if (!((p->chunks[(type >> 6) & 3] >> (type & 63)) & 1))
			return 0;
	}
	if (!(m & (UMIGAME_CLS_M_PPID | UMIGAME_CLS_M_DCCP_TYPE | UMIGAME_CLS_M_SERVICE)))
		return 1;
	if (m & UMIGAME_CLS_M_PPID) {
		int found = 0;

		for (j = 0; j < UMIGAME_CLS_MAX_CHUNKS; j++) {
			if (j >= p->n_ppids)
				break;
			if (p->ppids[j] == r->ppid) {
				found = 1;
				break;
			}
		}
		if (!found)
			return 0;
	}
	if (m & (UMIGAME_CLS_M_DCCP_TYPE | UMIGAME_CLS_M_SERVICE)) {
		if (p->proto != IPPROTO_DCCP)
			return 0;
		if ((m & UMIGAME_CLS_M_DCCP_TYPE) && p->dccp_type != r->dccp_type)
			return 0;
		if ((m & UMIGAME_CLS_M_SERVICE) && (!p->has_service || p->service != r->service))
			return 0;
	}
	return 1;
}

/* The source may open one more association/connection: GCRA on its bucket. */
static __noinline int source_allowed(struct xdp_md *ctx, __u32 rule, const struct umigame_cls_rule *r,
				     struct cls_pkt *p)
{
	struct umigame_cls_source_key k = {.ifindex = ctx->ingress_ifindex, .rule = rule};
	struct umigame_cls_source *s, fresh = {};
	__u64 now = bpf_ktime_get_ns();
	__u64 interval, window, tat, next;

	if (!r->rate)
		return 0;
	interval = 1000000000ULL / r->rate;
	window = interval * (r->burst ? r->burst : 1);
	cls_addrs(ctx, p);
	__builtin_memcpy(k.addr, p->saddr, 16);
	s = bpf_map_lookup_elem(&cls_sources, &k);
	if (!s) {
		fresh.tat = now + interval;
		bpf_map_update_elem(&cls_sources, &k, &fresh, BPF_NOEXIST);
		return 1;
	}
	tat = *(volatile __u64 *)&s->tat;
	next = (tat > now ? tat : now) + interval;
	if (next - now > window)
		return 0;
	return __sync_val_compare_and_swap(&s->tat, tat, next) == tat;
}

static __always_inline __u32 mix(__u32 h, __u32 v)
{
	h ^= v;
	h *= 0x9e3779b1;
	return h ^ (h >> 15);
}

/* RFC-agnostic flow hash for the cpumap: SCTP by verification tag (one
 * association, both paths of a multihomed one, one CPU), DCCP by 5-tuple. */
static __always_inline __u32 flow_hash(struct xdp_md *ctx, struct cls_pkt *p)
{
	const __u32 *s = (const __u32 *)p->saddr, *d = (const __u32 *)p->daddr;
	__u32 h;

	if (p->proto == IPPROTO_SCTP)
		return mix(0, p->vtag);
	cls_addrs(ctx, p);
	h = mix(0, ((__u32)p->sport << 16) | p->dport);
	h = mix(h, s[0] ^ s[1] ^ s[2] ^ s[3]);
	return mix(h, d[0] ^ d[1] ^ d[2] ^ d[3]);
}

/*
 * RFC 9260 §6.8 and Appendix A: the CRC32c of the whole SCTP packet (common
 * header at off, IP payload up to end) with the checksum field taken as
 * zero, inverted: what the field must hold (little-endian). The kfunc sums
 * the bytes before and after the field; the field's four zero bytes are 32
 * steps of the reflected polynomial here. 0, or -1 when the kfunc refused.
 */
static __always_inline int sctp_crc(struct xdp_md *ctx, __u32 off, __u32 end, __u32 *out)
{
	__u32 crc, i;
	__s64 c;

	if (end < off + 12)
		return -1;
	c = umigame_crc32c(ctx, off, 8, ~0U);
	if (c < 0)
		return -1;
	crc = (__u32)c;
	for (i = 0; i < 32; i++)
		crc = (crc >> 1) ^ (0x82F63B78U & -(crc & 1));
	c = umigame_crc32c(ctx, off + 12, end - off - 12, crc);
	if (c < 0)
		return -1;
	*out = ~(__u32)c;
	return 0;
}

static __always_inline int sctp_checksum_ok(struct xdp_md *ctx, __u32 off, __u32 end)
{
	__u8 f[4];
	__u32 want;

	if (sctp_crc(ctx, off, end, &want) || bpf_xdp_load_bytes(ctx, off + 8, f, 4))
		return 0;
	return (f[0] | (__u32)f[1] << 8 | (__u32)f[2] << 16 | (__u32)f[3] << 24) == want;
}

/*
 * The rewrite action: the SCTP ports translated, the checksum made right
 * for the new header. The old one is checked first, so that a packet
 * damaged on the way never leaves with a valid checksum.
 */
static __noinline int rewrite_ports(struct xdp_md *ctx, const struct umigame_cls_rule *r,
				    const struct cls_pkt *p, struct umigame_cls_port_counters *pc,
				    __u64 bytes)
{
	__u32 reason = UMIGAME_CLS_CANNOT_REWRITE, crc;
	__u32 off = p->l4_off, end = p->l4_end;
	__u8 le[4];
	__be16 port;

	if (!have_module || p->proto != IPPROTO_SCTP || p->partial)
		goto drop;
	if (!p->csum_verified && !sctp_checksum_ok(ctx, off, end)) {
		reason = UMIGAME_CLS_BAD_CHECKSUM;
		goto drop;
	}
	if (r->to_sport) {
		port = bpf_htons(r->to_sport);
		if (bpf_xdp_store_bytes(ctx, off, &port, sizeof(port)))
			goto drop;
	}
	if (r->to_dport) {
		port = bpf_htons(r->to_dport);
		if (bpf_xdp_store_bytes(ctx, off + 2, &port, sizeof(port)))
			goto drop;
	}
	if (sctp_crc(ctx, off, end, &crc))
		goto drop;
	le[0] = crc;
	le[1] = crc >> 8;
	le[2] = crc >> 16;
	le[3] = crc >> 24;
	if (bpf_xdp_store_bytes(ctx, off + 8, le, sizeof(le)))
		goto drop;
	return XDP_PASS;
drop:
	count(&pc->reasons[reason], bytes);
	return XDP_DROP;
}

/* Rule i matched and its action calls into the kernel anyway (redirects, the
 * rate limit, the rewrite): out of line. -1: on to the next rule. */
static __noinline int rule_act(struct xdp_md *ctx, const struct umigame_cls_table *t, __u32 i,
			       struct umigame_cls_cpu_row *row, __u64 bytes)
{
	const struct umigame_cls_rule *r;
	struct umigame_cls_port_counters *pc = &row->counters;
	struct cls_pkt *p = (struct cls_pkt *)row->scratch;

	i &= UMIGAME_CLS_MAX_RULES - 1;
	r = &t->rules[i];
	if (r->action == UMIGAME_CLS_RATE_LIMIT) {
		if (!p->opening)
			return -1;
		count(&pc->rules[i], bytes);
		if (source_allowed(ctx, i, r, p))
			return -1;
		count(&pc->reasons[UMIGAME_CLS_RATE_LIMITED], bytes);
		return XDP_DROP;
	}
	count(&pc->rules[i], bytes);
	switch (r->action) {
	case UMIGAME_CLS_REDIRECT:
		return bpf_redirect(r->target, 0);
	case UMIGAME_CLS_REDIRECT_CPU:
		if (!t->n_cpus)
			return XDP_PASS;
		return bpf_redirect_map(&cls_cpumap, flow_hash(ctx, p) % t->n_cpus, XDP_PASS);
	case UMIGAME_CLS_REWRITE:
		return rewrite_ports(ctx, r, p, pc, bytes);
	default:
		return XDP_PASS;
	}
}

/* The port's rules, in order. */
static __always_inline int cls_rules(struct xdp_md *ctx, const struct umigame_cls_table *t,
				     struct umigame_cls_cpu_row *row, __u64 bytes)
{
	struct umigame_cls_port_counters *pc = &row->counters;
	struct cls_pkt *p = (struct cls_pkt *)row->scratch;
	__u32 i, action;
	int verdict;

	for (i = 0; i < UMIGAME_CLS_MAX_RULES; i++) {
		const struct umigame_cls_rule *r = &t->rules[i];

		if (i >= t->n_rules)
			break;
		if (!rule_matches(ctx, r, p))
			continue;
		action = r->action;
		if (action == UMIGAME_CLS_COUNT || action == UMIGAME_CLS_DROP ||
		    action == UMIGAME_CLS_PASS) {
			count(&pc->rules[i], bytes);
			if (action == UMIGAME_CLS_COUNT)
				continue;
			return action == UMIGAME_CLS_DROP ? XDP_DROP : XDP_PASS;
		}
		verdict = rule_act(ctx, t, i, row, bytes);
		if (verdict >= 0)
			return verdict;
	}
	return XDP_PASS;
}

/* Per-flow statistics (UMIGAME_CLS_F_FLOWS). */
static __noinline void account_flow(struct xdp_md *ctx, struct cls_pkt *p, __u64 bytes)
{
	struct umigame_cls_flow_key k = {
		.proto = p->proto,
		.family = p->family,
		.sport = p->sport,
		.dport = p->dport,
	};
	struct umigame_cls_flow *f;
	/* A tick's resolution is enough to say when a flow was seen, and the
	 * coarse clock costs 10 ns less than the fine one (docs/classify.md). */
	__u64 now = bpf_ktime_get_coarse_ns();

	if (p->proto == IPPROTO_SCTP) {
		k.vtag = p->vtag;
	} else {
		cls_addrs(ctx, p);
		__builtin_memcpy(k.saddr, p->saddr, 16);
		__builtin_memcpy(k.daddr, p->daddr, 16);
	}
	f = bpf_map_lookup_elem(&cls_flows, &k);
	if (f) {
		__sync_fetch_and_add(&f->packets, 1);
		__sync_fetch_and_add(&f->bytes, bytes);
		f->last_ns = now;
	} else {
		struct umigame_cls_flow fresh = {1, bytes, now, now};

		bpf_map_update_elem(&cls_flows, &k, &fresh, BPF_NOEXIST);
	}
}

/* The IPv6 extension-header chain (bpf/hdr_walk.h), out of line: SCTP and
 * DCCP seldom travel behind extension headers, and the walk, unrolled
 * inline, lay between the IP parse and the SCTP walk, so that every
 * packet's way through the JITed program crossed its pages (under TCG,
 * a block lookup each; docs/classify.md, "Performance"). */
static __noinline int cls_ipv6_chain(struct xdp_md *ctx, __u64 *off, __u8 *nh, __u32 *fragment)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return walk_ipv6_ext(data, data_end, off, nh, fragment);
}

/* This port's table and its row of cls_counters on this CPU, or none: a
 * free row, or an instance attached where its row's port is not (bpftool
 * can do that). */
static __always_inline const struct umigame_cls_table *port_rows(struct xdp_md *ctx,
								 struct umigame_cls_cpu_row **row)
{
	__u32 slot = port_slot;
	const struct umigame_cls_table *t = bpf_map_lookup_elem(&cls_tables, &slot);

	if (!t || t->ifindex != ctx->ingress_ifindex)
		return NULL;
	*row = bpf_map_lookup_elem(&cls_counters, &slot);
	return *row ? t : NULL;
}

/* A packet the IP parse found whole: what every later reader may find
 * unset, in two stores (struct cls_pkt). The offsets follow, once the
 * parser's reach has cut the end. */
static __always_inline void cls_pkt_start(struct cls_pkt *p, __u8 family, __u8 proto, __u8 partial,
					  __u64 l3_off)
{
	struct cls_pkt start = {.family = family, .proto = proto, .partial = partial};

	p->state = start.state;
	p->layer3 = (__u16)l3_off; /* has_high_types, dccp_type: 0 */
}

SEC("xdp")
int umigame_classify(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const struct umigame_cls_table *t;
	struct umigame_cls_cpu_row *row;
	struct cls_pkt *p;
	__u64 off = sizeof(struct ethhdr), end, bytes = data_end - data;
	__u32 fragment = 0, partial = 0;
	__be16 proto;
	__u8 nh, l4_proto;
	int reason;

	if (unlikely(data + sizeof(struct ethhdr) > data_end))
		return XDP_PASS;
	proto = *(const __be16 *)(data + 12); /* h_proto, in one load */
	if (unlikely(walk_vlans(data, data_end, &off, &proto, NULL)))
		return XDP_PASS;

	if (proto == ETH_P_IP_BE) {
		struct iphdr *ip4;
		__u32 ihl, tot, frag;

		if (!pkt_at(data, data_end, off, sizeof(*ip4), (__u8 **)&ip4) ||
		    (ip4->protocol != IPPROTO_SCTP && ip4->protocol != IPPROTO_DCCP))
			return XDP_PASS;
		t = port_rows(ctx, &row);
		if (unlikely(!t))
			return XDP_PASS;
		p = (struct cls_pkt *)row->scratch;
		l4_proto = ip4->protocol;
		ihl = ip4->ihl * 4;
		tot = bpf_ntohs(ip4->tot_len);
		frag = bpf_ntohs(ip4->frag_off);
		end = off + tot;
		if (unlikely(ip4->version != 4 || ihl < sizeof(*ip4) || tot < ihl))
			reason = UMIGAME_CLS_BAD_IP;
		else if (unlikely(frag & 0x1fff))
			reason = UMIGAME_CLS_NONFIRST_FRAGMENT; /* RFC 791: offset != 0 */
		else if (unlikely(end > bytes))
			reason = UMIGAME_CLS_TRUNCATED;
		else {
			partial = !!(frag & 0x2000); /* MF: a first fragment */
			cls_pkt_start(p, 4, l4_proto, partial, off);
			reason = -1;
			off += ihl;
		}
	} else if (proto == ETH_P_IPV6_BE) {
		struct ipv6hdr *ip6 = pkt_ptr(data, data_end, off, sizeof(*ip6));
		__u64 l3_off = off;
		enum walk_status st;

		if (!ip6)
			return XDP_PASS;
		nh = ip6->nexthdr;
		/* Only SCTP, DCCP and what the walk steps over may lead to them. */
		if (nh != IPPROTO_SCTP && nh != IPPROTO_DCCP && !is_ext_hdr(nh))
			return XDP_PASS;
		if (ip6->version != 6)
			return XDP_PASS;
		end = off + sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		off += sizeof(*ip6);
		if (nh == IPPROTO_SCTP || nh == IPPROTO_DCCP) {
			st = WALK_UPPER;
		} else {
			__u64 chain_end = off; /* off itself stays a register */

			st = cls_ipv6_chain(ctx, &chain_end, &nh, &fragment);
			off = chain_end;
		}
		if (st == WALK_UPPER && nh != IPPROTO_SCTP && nh != IPPROTO_DCCP)
			return XDP_PASS;
		if (st == WALK_NONFIRST) {
			struct frag_hdr *fh = pkt_ptr(data, data_end, off, sizeof(*fh));

			if (!fh || (fh->nexthdr != IPPROTO_SCTP && fh->nexthdr != IPPROTO_DCCP))
				return XDP_PASS;
			nh = fh->nexthdr;
		}
		t = port_rows(ctx, &row);
		if (unlikely(!t))
			return XDP_PASS;
		p = (struct cls_pkt *)row->scratch;
		l4_proto = nh;
		if (st == WALK_NONFIRST)
			reason = UMIGAME_CLS_NONFIRST_FRAGMENT;
		else if (st != WALK_UPPER)
			/* A chain the walk cannot finish may hide SCTP/DCCP. */
			reason = st == WALK_TRUNCATED ? UMIGAME_CLS_TRUNCATED : UMIGAME_CLS_BAD_IP;
		else if (end > bytes)
			reason = UMIGAME_CLS_TRUNCATED;
		else if (off > end)
			reason = UMIGAME_CLS_BAD_LENGTH;
		else {
			partial = fragment;
			cls_pkt_start(p, 6, l4_proto, partial, l3_off);
			reason = -1;
		}
	} else {
		return XDP_PASS;
	}

	if (likely(reason < 0)) {
		/* Past what the verifier lets us address: judge what lies
		 * before it, as for a first fragment. */
		if (unlikely(end > MAX_PARSE_OFFSET)) {
			end = MAX_PARSE_OFFSET;
			partial = 1;
			p->partial = 1;
		}
		p->layer4 = off | end << 32; /* l4_off, l4_end */
		if (likely(l4_proto == IPPROTO_SCTP)) {
			__u64 o = verifier_forget(off, bytes), e = verifier_forget(end, bytes);

			/* As they were, for the verifier again. */
			if (unlikely(o > MAX_PARSE_OFFSET || e > MAX_PARSE_OFFSET))
				return XDP_DROP;
			reason = cls_sctp(ctx, p, o, e);
			/* A first fragment or a cut frame holds only part of
			 * what the checksum covers: not verified. */
			if (unlikely((t->flags & UMIGAME_CLS_F_VERIFY_CSUM) && have_module &&
				     reason == UMIGAME_CLS_SCTP && !p->partial)) {
				/* From the row: off and end kept across the
				 * walk would cost it registers. */
				if (sctp_checksum_ok(ctx, p->l4_off, p->l4_end))
					p->csum_verified = 1;
				else
					reason = UMIGAME_CLS_BAD_CHECKSUM;
			}
		} else
			reason = cls_dccp(ctx, p, off, end, partial);
	}
	count(&row->counters.reasons[reason], bytes);
	if (unlikely(reason != UMIGAME_CLS_SCTP && reason != UMIGAME_CLS_DCCP)) {
		if (reason == UMIGAME_CLS_NONFIRST_FRAGMENT)
			return XDP_PASS;
		return (t->flags & UMIGAME_CLS_F_PASS_MALFORMED) ? XDP_PASS : XDP_DROP;
	}
	if (unlikely(t->flags & UMIGAME_CLS_F_FLOWS))
		account_flow(ctx, p, bytes);
	return cls_rules(ctx, t, row, bytes);
}

