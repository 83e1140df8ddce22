// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP RA guard (RFC 6105) with the evasion defences of RFC 7113 and RFC 6980,
 * plus DHCPv6-Shield (RFC 7610), for a router's or switch-like host's ports.
 *
 * Only Router Advertisements and DHCPv6 server messages are judged; all other
 * traffic passes after a look at the first headers, without a map lookup, so
 * the guard costs next to nothing on ordinary traffic. A port's policy is one
 * array entry found through the ingress ifindex (include/umigame/raguard.h has
 * the layouts and the copy-and-flip scheme that makes policy updates atomic).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <linux/icmpv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "umigame/raguard.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ifindex -> port reference; written by the CLI with atomic stores. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UMIGAME_RAGUARD_MAX_IFINDEX);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64); /* mmap()ed arrays space elements 8 bytes apart */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rag_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UMIGAME_RAG_POLICY_COPIES);
	__type(key, __u32);
	__type(value, struct umigame_raguard_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rag_policies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, (UMIGAME_RAGUARD_MAX_PORTS + 1) * UMIGAME_RAG_REASON_COUNT);
	__type(key, __u32);
	__type(value, struct umigame_raguard_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rag_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rag_events SEC(".maps");

/* Drop events lost because the ring buffer was full (single slot, per CPU). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rag_events_lost SEC(".maps");

#define ETH_P_8021Q_BE  bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88A8)
#define ETH_P_IPV6_BE   bpf_htons(ETH_P_IPV6)

#define ND_ROUTER_SOLICIT 133
#define ND_ROUTER_ADVERT  134
#define ND_REDIRECT       137

#define ND_OPT_SOURCE_LL  1
#define ND_OPT_PREFIX     3

#define RA_FLAG_MANAGED 0x80
#define RA_FLAG_OTHER   0x40

#define DHCP6_CLIENT_PORT 546
#define DHCP6_SERVER_PORT 547
#define DHCP6_ADVERTISE   2
#define DHCP6_REPLY       7
#define DHCP6_RECONFIGURE 10
#define DHCP6_RELAY_REPL  13

/* Offsets past this are not trusted by the verifier's range tracking; no
 * Ethernet frame we judge is longer. */
#define MAX_PARSE_OFFSET 4096

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct ipv6_ext_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset in 8-octet units << 3 | M */
	__be32 identification;
};

struct ra_hdr {
	__u8 type;
	__u8 code;
	__be16 checksum;
	__u8 cur_hop_limit;
	__u8 flags;
	__be16 router_lifetime;
	__be32 reachable_time;
	__be32 retrans_timer;
};

struct nd_opt_prefix {
	__u8 type;
	__u8 len;
	__u8 prefix_len;
	__u8 flags;
	__be32 valid;
	__be32 preferred;
	__be32 reserved;
	__u8 prefix[16];
};

/* What the header walk found. */
struct packet {
	void *data;
	void *data_end;
	struct ethhdr *eth;
	struct ipv6hdr *ip6;
	__u64 upper_off;  /* offset of the upper-layer header (64-bit: a 32-bit
			   * spill loses the verifier's bounds on 6.1) */
	__u32 ifindex;
	__u16 vlan;
	__u8 upper_proto; /* IPPROTO_* of the upper layer */
	__u8 fragment;    /* 1 = first fragment (incl. atomic), 2 = non-first */
};

enum walk_result {
	WALK_UPPER,          /* upper-layer header at upper_off */
	WALK_NOT_INTERESTING,/* no upper layer to judge (ESP, no next header) */
	WALK_NONFIRST_FRAG,
	WALK_INCOMPLETE,     /* first fragment ends inside the header chain */
	WALK_TOO_LONG,
	WALK_MALFORMED,
};

/* The one way this program reads the packet at a computed offset: the bound
 * on off keeps the verifier's range tracking, the end check keeps us honest. */
static __always_inline void *pkt_ptr(const struct packet *pkt, __u64 off, __u32 size)
{
	void *p;

	if (off > MAX_PARSE_OFFSET)
		return NULL;
	p = pkt->data + off;
	/* Opaque from here on: otherwise clang may recompute data + off for
	 * the caller's access, a pointer the verifier has not range-checked. */
	asm volatile("" : "+r"(p));
	if (p + size > pkt->data_end)
		return NULL;
	return p;
}

static __always_inline int reason_verdict(enum umigame_raguard_reason r)
{
	return r < UMIGAME_RAG_FIRST_DROP ? XDP_PASS : XDP_DROP;
}

static __always_inline void emit_event(const struct packet *pkt, __u32 reason)
{
	struct umigame_raguard_event *ev;
	__u32 zero = 0;

	ev = bpf_ringbuf_reserve(&rag_events, sizeof(*ev), 0);
	if (!ev) {
		__u64 *lost = bpf_map_lookup_elem(&rag_events_lost, &zero);

		if (lost)
			*lost += 1;
		return;
	}
	ev->timestamp_ns = bpf_ktime_get_ns();
	ev->ifindex = pkt->ifindex;
	ev->reason = reason;
	ev->vlan = pkt->vlan;
	__builtin_memset(ev->src_mac, 0, sizeof(ev->src_mac));
	__builtin_memset(ev->src_addr, 0, sizeof(ev->src_addr));
	if (pkt->eth)
		__builtin_memcpy(ev->src_mac, pkt->eth->h_source, 6);
	if (pkt->ip6)
		__builtin_memcpy(ev->src_addr, &pkt->ip6->saddr, 16);
	bpf_ringbuf_submit(ev, 0);
}

/* Count under the port's row and turn the reason into a verdict. */
static __always_inline int judge(const struct packet *pkt,
				 const struct umigame_raguard_policy *pol,
				 enum umigame_raguard_reason reason)
{
	struct umigame_raguard_counter *c;
	/* Packets on a port without a policy go to the spare last row. */
	__u32 slot = pol ? pol->port_slot : UMIGAME_RAGUARD_UNATTRIBUTED_SLOT;
	__u32 idx;

	if (slot <= UMIGAME_RAGUARD_UNATTRIBUTED_SLOT) {
		idx = slot * UMIGAME_RAG_REASON_COUNT + reason;
		c = bpf_map_lookup_elem(&rag_counters, &idx);
		if (c) {
			c->packets += 1;
			c->bytes += pkt->data_end - pkt->data;
		}
	}
	if (reason_verdict(reason) == XDP_DROP)
		emit_event(pkt, reason);
	return reason_verdict(reason);
}

/* clang 14 does not lower memcmp for BPF. */
static __always_inline int mac_equal(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] &&
	       a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

static __always_inline int is_link_local(const struct in6_addr *a)
{
	return (a->in6_u.u6_addr8[0] == 0xfe) &&
	       ((a->in6_u.u6_addr8[1] & 0xc0) == 0x80);
}

/*
 * Walk the IPv6 header chain to the upper layer (RFC 7113 §3 item 2: the
 * whole chain, not only the first header). Headers in the RFC 6564 uniform
 * format are walked by their length; a first fragment that ends inside the
 * chain is RFC 7112's oversized chain.
 */
static __always_inline enum walk_result walk_chain(struct packet *pkt, __u32 off)
{
	__u8 nexthdr = pkt->ip6->nexthdr;
	int i;

	/* Unrolled: Linux 6.1's CFG check refuses a loop whose back-edge clang
	 * lays out as a fall-through ("back-edge from insn …"). */
#pragma unroll
	for (i = 0; i < UMIGAME_RAGUARD_MAX_EXT_HDRS; i++) {
		struct ipv6_ext_hdr *eh;
		struct frag_hdr *fh;
		__u32 len;

		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_MH:
		case 139: /* HIP */
		case 140: /* Shim6 */
		case 253: /* RFC 3692 experiments, RFC 6564 format */
		case 254:
			eh = pkt_ptr(pkt, off, sizeof(*eh));
			if (!eh)
				return pkt->fragment ? WALK_INCOMPLETE : WALK_MALFORMED;
			len = ((__u32)eh->hdrlen + 1) * 8;
			nexthdr = eh->nexthdr;
			break;
		case IPPROTO_AH:
			eh = pkt_ptr(pkt, off, sizeof(*eh));
			if (!eh)
				return pkt->fragment ? WALK_INCOMPLETE : WALK_MALFORMED;
			len = ((__u32)eh->hdrlen + 2) * 4;
			nexthdr = eh->nexthdr;
			break;
		case IPPROTO_FRAGMENT:
			fh = pkt_ptr(pkt, off, sizeof(*fh));
			if (!fh)
				return WALK_MALFORMED;
			if (pkt->fragment)
				return WALK_MALFORMED; /* two fragment headers */
			if (bpf_ntohs(fh->frag_off) & ~7U) {
				pkt->fragment = 2;
				pkt->upper_proto = fh->nexthdr;
				return WALK_NONFIRST_FRAG;
			}
			pkt->fragment = 1;
			len = sizeof(*fh);
			nexthdr = fh->nexthdr;
			break;
		case IPPROTO_ESP:
		case 59: /* no next header */
			return WALK_NOT_INTERESTING;
		default:
			pkt->upper_proto = nexthdr;
			pkt->upper_off = off;
			return WALK_UPPER;
		}
		off += len;
		if (off > MAX_PARSE_OFFSET)
			return WALK_MALFORMED;
	}
	return WALK_TOO_LONG;
}

/* Addresses and MACs are compared as whole words; the byte order does not
 * matter as long as both sides are loaded alike. */
static __always_inline __u64 load64(const void *p)
{
	return *(const __u64 *)p;
}

static __always_inline __u64 load_mac(const __u8 *m)
{
	return (__u64)*(const __u32 *)m | ((__u64)*(const __u16 *)(m + 4) << 32);
}

/* RFC 6105 §3: trust by source address and/or MAC. An entry matching the
 * address decides alone: the right address from the wrong MAC is a spoof.
 * The policy walks below are global functions: the verifier checks each
 * once, not again on every path that reaches it. */
__attribute__((noinline)) int umigame_rag_router_trusted(const struct umigame_raguard_policy *pol,
							 __u64 hi, __u64 lo, __u64 mac)
{
	__u32 n;
	int by_mac = 0;
	int i;

	if (!pol)
		return 0;
	n = pol->n_routers;
	for (i = 0; i < UMIGAME_RAGUARD_MAX_ROUTERS; i++) {
		const struct umigame_raguard_router *r = &pol->routers[i];

		if (i >= n)
			break;
		if (r->match & UMIGAME_RAG_MATCH_ADDR) {
			if (load64(r->addr) != hi || load64(r->addr + 8) != lo)
				continue;
			return !(r->match & UMIGAME_RAG_MATCH_MAC) || load_mac(r->mac) == mac;
		}
		if ((r->match & UMIGAME_RAG_MATCH_MAC) && load_mac(r->mac) == mac)
			by_mac = 1;
	}
	return by_mac;
}

static __always_inline int router_trusted(const struct packet *pkt,
					  const struct umigame_raguard_policy *pol)
{
	const __u8 *saddr = pkt->ip6->saddr.in6_u.u6_addr8;

	return umigame_rag_router_trusted(pol, load64(saddr), load64(saddr + 8),
					  load_mac(pkt->eth->h_source));
}

__attribute__((noinline)) int umigame_rag_prefix_allowed(const struct umigame_raguard_policy *pol,
							 __u64 hi, __u64 lo, __u32 len)
{
	__u32 n;
	int i;

	if (!pol)
		return 0;
	n = pol->n_prefixes;
	for (i = 0; i < UMIGAME_RAGUARD_MAX_PREFIXES; i++) {
		const struct umigame_raguard_prefix *p = &pol->prefixes[i];

		if (i >= n)
			break;
		if (len >= p->len && (hi & load64(p->mask)) == load64(p->addr) &&
		    (lo & load64(p->mask + 8)) == load64(p->addr + 8))
			return 1;
	}
	return 0;
}

/* RFC 4191 §2.2: Prf 01 high, 00 medium, 11 low, 10 reserved (= medium). */
static __always_inline __u32 ra_preference(__u8 flags)
{
	switch ((flags >> 3) & 3) {
	case 1:
		return UMIGAME_RAG_PREF_HIGH;
	case 3:
		return UMIGAME_RAG_PREF_LOW;
	default:
		return UMIGAME_RAG_PREF_MEDIUM;
	}
}

static __always_inline enum umigame_raguard_reason
check_ra_options(const struct packet *pkt, const struct umigame_raguard_policy *pol,
		 __u32 off)
{
	int i;

	for (i = 0; i < UMIGAME_RAGUARD_MAX_ND_OPTS; i++) {
		__u8 *opt;
		__u32 len;

		if (off > MAX_PARSE_OFFSET)
			return UMIGAME_RAG_MALFORMED;
		if (pkt->data + off == pkt->data_end)
			return UMIGAME_RAG_RA_TRUSTED;
		opt = pkt_ptr(pkt, off, 2);
		if (!opt)
			return UMIGAME_RAG_MALFORMED;
		/* RFC 4861 §4.6: an option of length zero invalidates the packet. */
		len = (__u32)opt[1] * 8;
		if (len == 0 || !pkt_ptr(pkt, off, len))
			return UMIGAME_RAG_MALFORMED;

		if (opt[0] == ND_OPT_SOURCE_LL && len == 8) {
			__u8 *lladdr = pkt_ptr(pkt, off + 2, 6);

			if (!lladdr)
				return UMIGAME_RAG_MALFORMED;
			if (!mac_equal(lladdr, pkt->eth->h_source))
				return UMIGAME_RAG_RA_LLADDR_MISMATCH;
		} else if (opt[0] == ND_OPT_PREFIX) {
			struct nd_opt_prefix *pio = pkt_ptr(pkt, off, sizeof(*pio));

			if (len != sizeof(*pio) || !pio)
				return UMIGAME_RAG_MALFORMED;
			if (pio->prefix_len > 128)
				return UMIGAME_RAG_MALFORMED;
			if ((pol->flags & UMIGAME_RAG_F_CHECK_PREFIXES) &&
			    !umigame_rag_prefix_allowed(pol, load64(pio->prefix),
							load64(pio->prefix + 8), pio->prefix_len))
				return UMIGAME_RAG_RA_PREFIX;
		}
		off += len;
	}
	/* More options than we walk: refuse rather than pass unchecked ones. */
	if (off > MAX_PARSE_OFFSET || pkt->data + off != pkt->data_end)
		return UMIGAME_RAG_MALFORMED;
	return UMIGAME_RAG_RA_TRUSTED;
}

static __always_inline enum umigame_raguard_reason
judge_ra(const struct packet *pkt, const struct umigame_raguard_policy *pol)
{
	struct ra_hdr *ra = pkt_ptr(pkt, pkt->upper_off, sizeof(*ra));
	__u32 pref;

	if (pol->flags & UMIGAME_RAG_F_BLOCK_ALL)
		return UMIGAME_RAG_RA_BLOCK_ALL;

	/* RFC 7113 §3 items 1 and 3: an RA hosts must ignore (RFC 4861 §6.1.2)
	 * passes, unless the operator asked to drop those as well. */
	if (!is_link_local(&pkt->ip6->saddr) || pkt->ip6->hop_limit != 255)
		return (pol->flags & UMIGAME_RAG_F_DROP_INVALID) ?
			UMIGAME_RAG_RA_INVALID : UMIGAME_RAG_RA_NOT_ACCEPTABLE;

	if (!router_trusted(pkt, pol))
		return UMIGAME_RAG_RA_UNTRUSTED_SOURCE;

	if (!ra)
		return UMIGAME_RAG_MALFORMED;

	if ((ra->flags & RA_FLAG_MANAGED) && !(pol->flags & UMIGAME_RAG_F_ALLOW_MANAGED))
		return UMIGAME_RAG_RA_MANAGED_FLAG;
	if ((ra->flags & RA_FLAG_OTHER) && !(pol->flags & UMIGAME_RAG_F_ALLOW_OTHER))
		return UMIGAME_RAG_RA_OTHER_FLAG;

	/* RFC 4191 §2.2: with router lifetime 0 the preference is ignored. */
	pref = ra_preference(ra->flags);
	if (ra->router_lifetime && pref > pol->max_preference)
		return UMIGAME_RAG_RA_PREFERENCE;

	return check_ra_options(pkt, pol, pkt->upper_off + sizeof(*ra));
}

/* RFC 7610 §5: server-to-client/relay messages from untrusted sources. */
__attribute__((noinline)) int umigame_rag_dhcp6_server_trusted(const struct umigame_raguard_policy *pol,
							       __u64 hi, __u64 lo)
{
	__u32 n;
	int i;

	if (!pol)
		return 0;
	n = pol->n_dhcp_servers;
	for (i = 0; i < UMIGAME_RAGUARD_MAX_DHCP_SERVERS; i++) {
		if (i >= n)
			break;
		if (load64(pol->dhcp_servers[i]) == hi && load64(pol->dhcp_servers[i] + 8) == lo)
			return 1;
	}
	return 0;
}

static __always_inline int dhcp6_server_trusted(const struct packet *pkt,
						const struct umigame_raguard_policy *pol)
{
	const __u8 *saddr = pkt->ip6->saddr.in6_u.u6_addr8;

	return umigame_rag_dhcp6_server_trusted(pol, load64(saddr), load64(saddr + 8));
}

/* Verdicts classify() hands back besides a counted reason. */
#define NOT_JUDGED   (-1) /* not an RA/DHCPv6 server message: pass, uncounted */
#define JUDGE_RA     (-2) /* an RA: judge against the port's policy */
#define JUDGE_DHCP6  (-3) /* a DHCPv6 server message: judge its source */

/* Whether a packet whose IPv6 header is followed by nh may be an RA, a
 * DHCPv6 server message or something hiding one: ICMPv6, UDP and every
 * header walk_chain() steps over. */
static __always_inline int needs_walk(__u8 nh)
{
	if (nh < 64)
		return (((1ULL << IPPROTO_HOPOPTS) | (1ULL << IPPROTO_UDP) |
			 (1ULL << IPPROTO_ROUTING) | (1ULL << IPPROTO_FRAGMENT) |
			 (1ULL << IPPROTO_AH) | (1ULL << IPPROTO_ICMPV6) |
			 (1ULL << IPPROTO_DSTOPTS)) >> nh) & 1;
	return nh == IPPROTO_MH || nh == 139 || nh == 140 || nh == 253 || nh == 254;
}

/* Find what the packet is; the policy is looked up only when it matters. */
static __always_inline int classify(struct packet *pkt)
{
	struct udphdr *udp;
	__be16 proto;
	__u8 *byte;
	__u32 off;
	int i;

	pkt->eth = pkt_ptr(pkt, 0, sizeof(struct ethhdr));
	if (!pkt->eth)
		return UMIGAME_RAG_MALFORMED;
	proto = pkt->eth->h_proto;
	off = sizeof(struct ethhdr);

	/* 802.1Q and 802.1ad (QinQ): up to two tags. */
#pragma unroll
	for (i = 0; i < 2; i++) {
		struct vlan_hdr *vh;

		if (proto != ETH_P_8021Q_BE && proto != ETH_P_8021AD_BE)
			break;
		vh = pkt_ptr(pkt, off, sizeof(*vh));
		if (!vh)
			return UMIGAME_RAG_MALFORMED;
		if (i == 0)
			pkt->vlan = bpf_ntohs(vh->tci) & 0x0fff;
		proto = vh->encap_proto;
		off += sizeof(*vh);
	}
	if (proto != ETH_P_IPV6_BE)
		return NOT_JUDGED;

	pkt->ip6 = pkt_ptr(pkt, off, sizeof(struct ipv6hdr));
	if (!pkt->ip6)
		return UMIGAME_RAG_MALFORMED;
	if (pkt->ip6->version != 6) {
		pkt->ip6 = NULL;
		return UMIGAME_RAG_MALFORMED;
	}
	if (!needs_walk(pkt->ip6->nexthdr))
		return NOT_JUDGED;

	switch (walk_chain(pkt, off + sizeof(struct ipv6hdr))) {
	case WALK_UPPER:
		break;
	case WALK_NOT_INTERESTING:
		return NOT_JUDGED;
	case WALK_NONFIRST_FRAG:
		/* RFC 7113 §3: a non-first fragment cannot be judged and is
		 * harmless once its first fragment is dropped. */
		return UMIGAME_RAG_NONFIRST_FRAGMENT;
	case WALK_INCOMPLETE:
		return UMIGAME_RAG_INCOMPLETE_CHAIN;
	case WALK_TOO_LONG:
		return UMIGAME_RAG_CHAIN_TOO_LONG;
	default:
		return UMIGAME_RAG_MALFORMED;
	}

	if (pkt->upper_proto == IPPROTO_ICMPV6) {
		byte = pkt_ptr(pkt, pkt->upper_off, 1);
		/* RFC 7112 §5: the first fragment must hold the upper-layer
		 * header; an unfragmented packet this short is broken. */
		if (!byte)
			return pkt->fragment ? UMIGAME_RAG_INCOMPLETE_CHAIN :
					       UMIGAME_RAG_MALFORMED;
		/* RFC 6980 §5: ND messages must not be fragmented. A fragment
		 * that only looks like something else but carries ND's
		 * signature (hop limit 255 from a link-local source) is dropped
		 * too: an overlapping later fragment can turn it into an RA on
		 * hosts that do not discard overlaps (RFC 5722). */
		if (pkt->fragment &&
		    ((*byte >= ND_ROUTER_SOLICIT && *byte <= ND_REDIRECT) ||
		     (pkt->ip6->hop_limit == 255 && is_link_local(&pkt->ip6->saddr))))
			return UMIGAME_RAG_ND_FRAGMENT;
		if (*byte < ND_ROUTER_SOLICIT || *byte > ND_REDIRECT)
			return NOT_JUDGED;
		return *byte == ND_ROUTER_ADVERT ? JUDGE_RA : NOT_JUDGED;
	}

	if (pkt->upper_proto != IPPROTO_UDP)
		return NOT_JUDGED;
	udp = pkt_ptr(pkt, pkt->upper_off, sizeof(*udp));
	if (!udp)
		return pkt->fragment ? UMIGAME_RAG_INCOMPLETE_CHAIN : UMIGAME_RAG_MALFORMED;
	if (udp->dest != bpf_htons(DHCP6_CLIENT_PORT) &&
	    udp->dest != bpf_htons(DHCP6_SERVER_PORT))
		return NOT_JUDGED;
	byte = pkt_ptr(pkt, pkt->upper_off + sizeof(*udp), 1);
	if (!byte)
		return pkt->fragment ? UMIGAME_RAG_INCOMPLETE_CHAIN : UMIGAME_RAG_MALFORMED;
	switch (*byte) {
	case DHCP6_ADVERTISE:
	case DHCP6_REPLY:
	case DHCP6_RECONFIGURE:
	case DHCP6_RELAY_REPL:
		return JUDGE_DHCP6;
	default:
		return NOT_JUDGED;
	}
}

static __always_inline const struct umigame_raguard_policy *port_policy(__u32 ifindex)
{
	__u64 *ref = bpf_map_lookup_elem(&rag_ports, &ifindex);
	__u32 copy;

	if (!ref)
		return NULL;
	copy = *(volatile __u64 *)ref; /* one load: the CLI flips it under us */
	if (!copy)
		return NULL;
	copy -= 1;
	return bpf_map_lookup_elem(&rag_policies, &copy);
}

static __always_inline int judge_packet(struct xdp_md *ctx)
{
	struct packet pkt = {
		.data = (void *)(long)ctx->data,
		.data_end = (void *)(long)ctx->data_end,
	};
	const struct umigame_raguard_policy *pol;
	int what = classify(&pkt);
	enum umigame_raguard_reason reason;

	if (what == NOT_JUDGED)
		return XDP_PASS;
	pkt.ifindex = ctx->ingress_ifindex;
	pol = port_policy(pkt.ifindex);
	if (what >= 0)
		reason = what;
	else if (!pol)
		reason = UMIGAME_RAG_NO_POLICY;
	else if (what == JUDGE_RA)
		reason = judge_ra(&pkt, pol);
	else
		reason = dhcp6_server_trusted(&pkt, pol) ? UMIGAME_RAG_DHCP6_SERVER_TRUSTED :
							   UMIGAME_RAG_DHCP6_SERVER_UNTRUSTED;
	return judge(&pkt, pol, reason);
}

SEC("xdp")
int umigame_raguard(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = data + sizeof(*eth);

	/* Ordinary traffic leaves here, before any state is set up: untagged
	 * IPv4/ARP/…, and untagged IPv6 whose first header cannot lead to an RA
	 * or a DHCPv6 message. */
	if ((void *)(eth + 1) <= data_end && eth->h_proto != ETH_P_IPV6_BE &&
	    eth->h_proto != ETH_P_8021Q_BE && eth->h_proto != ETH_P_8021AD_BE)
		return XDP_PASS;
	if ((void *)(ip6 + 1) <= data_end && eth->h_proto == ETH_P_IPV6_BE && ip6->version == 6 &&
	    !needs_walk(ip6->nexthdr))
		return XDP_PASS;
	return judge_packet(ctx);
}
