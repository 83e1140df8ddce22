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
 * Packets that are neither SCTP nor DCCP pass before any map lookup.
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader: whether umigame.ko's BTF (its kfuncs) is present. The
 * verifier drops the CRC32c code when it is not, so the program still loads
 * without the module (the 6.18 host). */
const volatile __u8 have_module = 0;

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
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UMIGAME_CLS_MAX_PORTS);
	__type(key, __u32); /* ifindex */
	__type(value, struct umigame_cls_table);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cls_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UMIGAME_CLS_MAX_PORTS * UMIGAME_CLS_REASON_COUNT);
	__type(key, __u32);
	__type(value, struct umigame_cls_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cls_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UMIGAME_CLS_MAX_PORTS * UMIGAME_CLS_MAX_RULES);
	__type(key, __u32);
	__type(value, struct umigame_cls_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cls_rule_counters SEC(".maps");

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

/* What the parse found; on the program's stack, filled by the parsers. */
struct cls_pkt {
	__u8 saddr[16];
	__u8 daddr[16];
	__u64 chunks[4];  /* SCTP: bitmap of the chunk types present */
	__u32 ppids[UMIGAME_CLS_MAX_CHUNKS];
	__u32 n_ppids;
	__u32 vtag;       /* SCTP verification tag, host order */
	__u32 service;    /* DCCP Request/Response service code, host order */
	__u32 has_service;
	__u32 opening;    /* SCTP INIT or DCCP Request: the rate limit applies */
	__u32 l4_off, l4_end; /* the SCTP/DCCP header, and where the IP payload ends */
	__u16 sport, dport; /* host order */
	__u8 family;
	__u8 proto;
	__u8 dccp_type;
	__u8 partial;     /* a first fragment, or more than the parser reaches */
	__u8 csum_verified; /* the SCTP CRC32c was checked and is right */
};

static __always_inline __u16 rd16(const __u8 *p)
{
	return ((__u16)p[0] << 8) | p[1];
}

static __always_inline __u32 rd32(const __u8 *p)
{
	return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | p[3];
}

/* The least length of a chunk of this type (RFC 9260 §3.3, RFC 8260 §2.1,
 * RFC 4895 §4.1, RFC 3758 §3.2); 4 for the rest. Exact lengths: see below. */
static __always_inline __u32 sctp_min_len(__u8 type)
{
	switch (type) {
	case SCTP_DATA:
		return 17; /* §3.3.1: Length 16 is a DATA chunk without user data */
	case SCTP_INIT:
	case SCTP_INIT_ACK:
		return 20; /* §3.3.2, §3.3.3 */
	case SCTP_SACK:
		return 16; /* §3.3.4 */
	case SCTP_HEARTBEAT:
	case SCTP_HEARTBEAT_ACK:
		return 8;  /* §3.3.5, §3.3.6: a Heartbeat Info parameter */
	case SCTP_SHUTDOWN:
	case SCTP_ECNE:
	case SCTP_CWR:
		return 8;  /* §3.3.8, App. A */
	case SCTP_COOKIE_ECHO:
		return 5;  /* §3.3.11: a cookie of at least one byte */
	case SCTP_AUTH:
		return 8;  /* RFC 4895 §4.1 */
	case SCTP_IDATA:
		return 21; /* RFC 8260 §2.1: 20 is an I-DATA chunk without data */
	case SCTP_FORWARD_TSN:
		return 8;  /* RFC 3758 §3.2 */
	default:
		return 4;
	}
}

/* Chunks whose length is fixed: SHUTDOWN (§3.3.8), SHUTDOWN ACK (§3.3.9),
 * COOKIE ACK (§3.3.12), SHUTDOWN COMPLETE (§3.3.13), ECNE/CWR (App. A). */
static __always_inline int sctp_fixed_len(__u8 type)
{
	return type == SCTP_SHUTDOWN || type == SCTP_SHUTDOWN_ACK || type == SCTP_COOKIE_ACK ||
	       type == SCTP_SHUTDOWN_COMPLETE || type == SCTP_ECNE || type == SCTP_CWR;
}

/*
 * SCTP (RFC 9260 §3): the common header at off, then every chunk up to end
 * (the end of the IP payload). partial: a first fragment, whose last chunk
 * may be cut by the end of the fragment. A global function: the verifier
 * checks the chunk walk once.
 */
__attribute__((noinline)) int umigame_cls_sctp(struct xdp_md *ctx, struct cls_pkt *p, __u32 off,
					       __u32 end, __u32 partial)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 n = 0, solo = 0;
	__u8 *h;
	int i;

	if (!p)
		return UMIGAME_CLS_TRUNCATED;
	h = pkt_ptr(data, data_end, off, 12);
	if (!h || off + 12 > end)
		return UMIGAME_CLS_TRUNCATED;
	p->sport = rd16(h);
	p->dport = rd16(h + 2);
	p->vtag = rd32(h + 4);
	off += 12;

	for (i = 0; i < UMIGAME_CLS_MAX_CHUNKS; i++) {
		__u32 len, padded, min;
		__u8 *ch, type;

		if (off >= end)
			break;
		/* §3.2: chunks are padded to 4 bytes, so 1-3 bytes left are
		 * not a chunk. */
		if (off + 4 > end)
			return partial ? UMIGAME_CLS_SCTP : UMIGAME_CLS_BAD_LENGTH;
		ch = pkt_ptr(data, data_end, off, 4);
		if (!ch)
			return UMIGAME_CLS_TRUNCATED;
		type = ch[0];
		len = rd16(ch + 2);
		/* §3.2: Length counts the chunk header; 0-3 is malformed. */
		if (len < 4)
			return UMIGAME_CLS_MALFORMED_CHUNK;
		padded = (len + 3) & ~3U;
		if (off + padded > end) {
			if (partial)
				break; /* cut by the fragment's end: judged on what is here */
			return UMIGAME_CLS_BAD_LENGTH;
		}
		min = sctp_min_len(type);
		if (len < min || (sctp_fixed_len(type) && len != min))
			return UMIGAME_CLS_MALFORMED_CHUNK;
		n++;
		p->chunks[(type >> 6) & 3] |= 1ULL << (type & 63);

		if (type == SCTP_DATA || (type == SCTP_IDATA && (ch[1] & SCTP_IDATA_FLAG_B))) {
			/* §3.3.1: PPID at 12; RFC 8260 §2.1: at 16, first fragment only. */
			__u32 at = type == SCTP_DATA ? 12 : 16;
			__u8 *d = pkt_ptr(data, data_end, off + at, 4);

			if (!d)
				return UMIGAME_CLS_TRUNCATED;
			if (p->n_ppids < UMIGAME_CLS_MAX_CHUNKS)
				p->ppids[p->n_ppids & (UMIGAME_CLS_MAX_CHUNKS - 1)] = rd32(d);
			p->n_ppids++;
		} else if (type == SCTP_INIT || type == SCTP_INIT_ACK) {
			__u8 *d = pkt_ptr(data, data_end, off, 20);

			if (!d)
				return UMIGAME_CLS_TRUNCATED;
			/* §3.3.2/§3.3.3: Initiate Tag, outbound and inbound
			 * stream counts must not be 0. */
			if (!rd32(d + 4) || !rd16(d + 12) || !rd16(d + 14))
				return UMIGAME_CLS_MALFORMED_CHUNK;
			/* §8.5.1: an INIT travels with Verification Tag 0. */
			if (type == SCTP_INIT) {
				if (p->vtag)
					return UMIGAME_CLS_MALFORMED_CHUNK;
				p->opening = 1;
			}
			solo = 1;
		} else if (type == SCTP_SHUTDOWN_COMPLETE) {
			solo = 1;
		}
		off += padded;
	}
	if (off < end && !partial)
		return UMIGAME_CLS_TOO_MANY_CHUNKS;
	/* §3.1: at least one chunk; §6.10: INIT, INIT ACK and SHUTDOWN
	 * COMPLETE are never bundled. */
	if (!n || (solo && n > 1))
		return UMIGAME_CLS_MALFORMED_CHUNK;
	return UMIGAME_CLS_SCTP;
}

/*
 * DCCP (RFC 4340 §5): the generic header at off (§5.1), the acknowledgement
 * subheader (§5.3) and the Request/Response service code (§5.4, §5.5).
 */
__attribute__((noinline)) int umigame_cls_dccp(struct xdp_md *ctx, struct cls_pkt *p, __u32 off,
					       __u32 end, __u32 partial)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 hlen, doff, cscov, x, type;
	__u8 *h, *s;

	if (!p)
		return UMIGAME_CLS_TRUNCATED;
	h = pkt_ptr(data, data_end, off, 12);
	if (!h || off + 12 > end)
		return UMIGAME_CLS_TRUNCATED;
	p->sport = rd16(h);
	p->dport = rd16(h + 2);
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

static __always_inline void count(void *map, __u32 idx, __u64 bytes)
{
	struct umigame_cls_counter *c = bpf_map_lookup_elem(map, &idx);

	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

static __always_inline int addr_match(const __u8 *a, const __u8 *want, const __u8 *mask)
{
	const __u64 *x = (const __u64 *)a, *w = (const __u64 *)want, *m = (const __u64 *)mask;

	return ((x[0] & m[0]) == w[0]) && ((x[1] & m[1]) == w[1]);
}

static __always_inline int rule_matches(const struct umigame_cls_rule *r, const struct cls_pkt *p)
{
	__u32 m = r->match;
	int j;

	if ((m & UMIGAME_CLS_M_FAMILY) && r->family != p->family)
		return 0;
	if ((m & UMIGAME_CLS_M_PROTO) && r->proto != p->proto)
		return 0;
	if ((m & UMIGAME_CLS_M_SRC) && !addr_match(p->saddr, r->src, r->src_mask))
		return 0;
	if ((m & UMIGAME_CLS_M_DST) && !addr_match(p->daddr, r->dst, r->dst_mask))
		return 0;
	if ((m & UMIGAME_CLS_M_SPORT) && (p->sport < r->sport_lo || p->sport > r->sport_hi))
		return 0;
	if ((m & UMIGAME_CLS_M_DPORT) && (p->dport < r->dport_lo || p->dport > r->dport_hi))
		return 0;
	if (m & UMIGAME_CLS_M_CHUNK) {
		if (p->proto != IPPROTO_SCTP ||
		    !((p->chunks[(r->chunk_type >> 6) & 3] >> (r->chunk_type & 63)) & 1))
			return 0;
	}
	if (m & UMIGAME_CLS_M_PPID) {
		int found = 0;

		if (p->proto != IPPROTO_SCTP)
			return 0;
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
	if ((m & UMIGAME_CLS_M_DCCP_TYPE) && (p->proto != IPPROTO_DCCP || p->dccp_type != r->dccp_type))
		return 0;
	if ((m & UMIGAME_CLS_M_SERVICE) &&
	    (p->proto != IPPROTO_DCCP || !p->has_service || p->service != r->service))
		return 0;
	return 1;
}

/* The source may open one more association/connection: GCRA on its bucket. */
static __always_inline int source_allowed(__u32 ifindex, __u32 rule, const struct umigame_cls_rule *r,
					  const struct cls_pkt *p)
{
	struct umigame_cls_source_key k = {.ifindex = ifindex, .rule = rule};
	struct umigame_cls_source *s, fresh = {};
	__u64 now = bpf_ktime_get_ns();
	__u64 interval, window, tat, next;

	if (!r->rate)
		return 0;
	interval = 1000000000ULL / r->rate;
	window = interval * (r->burst ? r->burst : 1);
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
static __always_inline __u32 flow_hash(const struct cls_pkt *p)
{
	const __u32 *s = (const __u32 *)p->saddr, *d = (const __u32 *)p->daddr;
	__u32 h;

	if (p->proto == IPPROTO_SCTP)
		return mix(0, p->vtag);
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
static __always_inline int rewrite_ports(struct xdp_md *ctx, const struct umigame_cls_rule *r,
					 const struct cls_pkt *p, __u32 slot, __u64 bytes)
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
	count(&cls_counters, slot * UMIGAME_CLS_REASON_COUNT + reason, bytes);
	return XDP_DROP;
}

/* The port's rules, in order. A global function: verified once. */
__attribute__((noinline)) int umigame_cls_rules(struct xdp_md *ctx, const struct umigame_cls_table *t,
						const struct cls_pkt *p)
{
	__u64 bytes = ctx->data_end - ctx->data;
	__u32 slot, i;

	if (!t || !p)
		return XDP_PASS;
	slot = t->slot;
	if (slot >= UMIGAME_CLS_MAX_PORTS)
		return XDP_PASS;
	for (i = 0; i < UMIGAME_CLS_MAX_RULES; i++) {
		const struct umigame_cls_rule *r = &t->rules[i];

		if (i >= t->n_rules)
			break;
		if (!rule_matches(r, p))
			continue;
		if (r->action == UMIGAME_CLS_RATE_LIMIT) {
			if (!p->opening)
				continue;
			count(&cls_rule_counters, slot * UMIGAME_CLS_MAX_RULES + i, bytes);
			if (source_allowed(ctx->ingress_ifindex, i, r, p))
				continue;
			count(&cls_counters, slot * UMIGAME_CLS_REASON_COUNT + UMIGAME_CLS_RATE_LIMITED,
			      bytes);
			return XDP_DROP;
		}
		count(&cls_rule_counters, slot * UMIGAME_CLS_MAX_RULES + i, bytes);
		switch (r->action) {
		case UMIGAME_CLS_COUNT:
			continue;
		case UMIGAME_CLS_DROP:
			return XDP_DROP;
		case UMIGAME_CLS_REDIRECT:
			return bpf_redirect(r->target, 0);
		case UMIGAME_CLS_REDIRECT_CPU:
			if (!t->n_cpus)
				return XDP_PASS;
			return bpf_redirect_map(&cls_cpumap, flow_hash(p) % t->n_cpus, XDP_PASS);
		case UMIGAME_CLS_REWRITE:
			return rewrite_ports(ctx, r, p, slot, bytes);
		default:
			return XDP_PASS;
		}
	}
	return XDP_PASS;
}

/* Per-flow statistics (UMIGAME_CLS_F_FLOWS). */
static __always_inline void account_flow(const struct cls_pkt *p, __u64 bytes)
{
	struct umigame_cls_flow_key k = {
		.proto = p->proto,
		.family = p->family,
		.sport = p->sport,
		.dport = p->dport,
	};
	struct umigame_cls_flow *f;
	__u64 now = bpf_ktime_get_ns();

	if (p->proto == IPPROTO_SCTP) {
		k.vtag = p->vtag;
	} else {
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

SEC("xdp")
int umigame_classify(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const struct umigame_cls_table *t;
	struct cls_pkt p = {};
	__u32 ifindex = ctx->ingress_ifindex;
	__u64 off = sizeof(struct ethhdr), end, bytes = data_end - data;
	__u32 vlan = 0, fragment = 0, partial = 0;
	__be16 proto;
	__u8 nh;
	int reason;

	if (data + sizeof(struct ethhdr) > data_end)
		return XDP_PASS;
	proto = ((struct ethhdr *)data)->h_proto;
	if (walk_vlans(data, data_end, &off, &proto, &vlan))
		return XDP_PASS;

	if (proto == ETH_P_IP_BE) {
		struct iphdr *ip4 = pkt_ptr(data, data_end, off, sizeof(*ip4));
		__u32 ihl, tot, frag;

		if (!ip4 || (ip4->protocol != IPPROTO_SCTP && ip4->protocol != IPPROTO_DCCP))
			return XDP_PASS;
		t = bpf_map_lookup_elem(&cls_tables, &ifindex);
		if (!t)
			return XDP_PASS;
		p.family = 4;
		p.proto = ip4->protocol;
		__builtin_memcpy(p.saddr, &ip4->saddr, 4);
		__builtin_memcpy(p.daddr, &ip4->daddr, 4);
		ihl = ip4->ihl * 4;
		tot = bpf_ntohs(ip4->tot_len);
		frag = bpf_ntohs(ip4->frag_off);
		end = off + tot;
		if (ip4->version != 4 || ihl < sizeof(*ip4) || tot < ihl)
			reason = UMIGAME_CLS_BAD_IP;
		else if (frag & 0x1fff)
			reason = UMIGAME_CLS_NONFIRST_FRAGMENT; /* RFC 791: offset != 0 */
		else if (end > bytes)
			reason = UMIGAME_CLS_TRUNCATED;
		else {
			partial = !!(frag & 0x2000); /* MF: a first fragment */
			reason = -1;
			off += ihl;
		}
	} else if (proto == ETH_P_IPV6_BE) {
		struct ipv6hdr *ip6 = pkt_ptr(data, data_end, off, sizeof(*ip6));
		enum walk_status st;

		if (!ip6)
			return XDP_PASS;
		nh = ip6->nexthdr;
		/* Only SCTP, DCCP and what the walk steps over may lead to them. */
		if (nh != IPPROTO_SCTP && nh != IPPROTO_DCCP && !is_ext_hdr(nh))
			return XDP_PASS;
		end = off + sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		__builtin_memcpy(p.saddr, &ip6->saddr, 16);
		__builtin_memcpy(p.daddr, &ip6->daddr, 16);
		if (ip6->version != 6)
			return XDP_PASS;
		off += sizeof(*ip6);
		st = walk_ipv6_ext(data, data_end, &off, &nh, &fragment);
		if (st == WALK_UPPER && nh != IPPROTO_SCTP && nh != IPPROTO_DCCP)
			return XDP_PASS;
		if (st == WALK_NONFIRST) {
			struct frag_hdr *fh = pkt_ptr(data, data_end, off, sizeof(*fh));

			if (!fh || (fh->nexthdr != IPPROTO_SCTP && fh->nexthdr != IPPROTO_DCCP))
				return XDP_PASS;
			nh = fh->nexthdr;
		}
		t = bpf_map_lookup_elem(&cls_tables, &ifindex);
		if (!t)
			return XDP_PASS;
		p.family = 6;
		p.proto = nh;
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
			reason = -1;
		}
	} else {
		return XDP_PASS;
	}

	if (reason < 0) {
		/* Past what the verifier lets us address: judge what lies
		 * before it, as for a first fragment. */
		if (end > MAX_PARSE_OFFSET) {
			end = MAX_PARSE_OFFSET;
			partial = 1;
		}
		p.l4_off = (__u32)off;
		p.l4_end = (__u32)end;
		p.partial = partial;
		if (p.proto == IPPROTO_SCTP) {
			reason = umigame_cls_sctp(ctx, &p, off, end, partial);
			/* A first fragment or a cut frame holds only part of
			 * what the checksum covers: not verified. */
			if (have_module && reason == UMIGAME_CLS_SCTP && !partial &&
			    (t->flags & UMIGAME_CLS_F_VERIFY_CSUM)) {
				if (sctp_checksum_ok(ctx, (__u32)off, (__u32)end))
					p.csum_verified = 1;
				else
					reason = UMIGAME_CLS_BAD_CHECKSUM;
			}
		} else
			reason = umigame_cls_dccp(ctx, &p, off, end, partial);
	}
	if (t->slot < UMIGAME_CLS_MAX_PORTS)
		count(&cls_counters, t->slot * UMIGAME_CLS_REASON_COUNT + reason, bytes);
	if (reason == UMIGAME_CLS_NONFIRST_FRAGMENT)
		return XDP_PASS;
	if (reason != UMIGAME_CLS_SCTP && reason != UMIGAME_CLS_DCCP)
		return (t->flags & UMIGAME_CLS_F_PASS_MALFORMED) ? XDP_PASS : XDP_DROP;
	if (t->flags & UMIGAME_CLS_F_FLOWS)
		account_flow(&p, bytes);
	return umigame_cls_rules(ctx, t, &p);
}
