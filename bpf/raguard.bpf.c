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
 *
 * The RA path is written for speed and for the verifier alike: the parse
 * state stays in registers, each header and option costs one bounds check,
 * the first trusted router and allowed prefix are compared inline, and on a
 * port with one trusted router an RA is judged without a call (a BPF-to-BPF
 * call costs about 8 ns on the bench host): a rogue one is dropped after the
 * source check, a trusted one's flags and options are checked inline behind
 * opaque(), which lets the verifier check them once rather than again for
 * every way the header walk can end. DHCPv6 messages and the longer policy
 * lists are BPF global functions, verified once for the same reason.
 *
 * Every drop is counted; drop events go to a ring buffer, limited per port
 * (event_allowed(): a burst, then a rate, timed in jiffies so that a
 * suppressed drop reads no clock), and the drops sent no event are counted
 * per reason, so `umigame raguard events` can say "… and N more".
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
#include "raguard_maps.h"
#include "hdr_walk.h"

_Static_assert(UMIGAME_WALK_MAX_EXT_HDRS == UMIGAME_RAGUARD_MAX_EXT_HDRS,
	       "the guard documents the shared walk's bound");

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rag_events SEC(".maps");

/* Per port slot, the state of its drop-event limit (include/umigame/raguard.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UMIGAME_RAGUARD_MAX_PORTS + 1);
	__type(key, __u32);
	__type(value, struct umigame_raguard_event_limit);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rag_event_limit SEC(".maps");

/* The event limit of drops on a port without a policy (the unattributed
 * row), in the units of umigame_raguard_policy.event_interval/_window: the
 * loader sets them from the policy defaults. Left 0, events are unlimited. */
const volatile __u64 rag_default_event_interval = 0;
const volatile __u64 rag_default_event_window = 0;

/* Drop events lost because the ring buffer was full (single slot, per CPU). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rag_events_lost SEC(".maps");

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

/*
 * Hide from the verifier what it knows about v: the two xors with any value
 * it cannot predict (key) give v back, but the verifier only knows "some
 * 64-bit number" afterwards. Every use of the result is bounds-checked as
 * usual, so nothing is checked less; the verifier just stops telling apart
 * the dozens of ways the header walk can end (each with its own constant or
 * range of offsets) and checks the code after this once, as it would a
 * global function, without the cost of a call.
 */
static __always_inline __u64 opaque(__u64 v, __u64 key)
{
	asm volatile("%0 ^= %1; %0 ^= %1" : "+r"(v) : "r"(key));
	return v;
}

/* The packet pointers afresh from the context: a load the compiler may not
 * merge with the earlier one, so that no pointer carrying the header walk's
 * verified range stays live into the code that opaque() lets the verifier
 * check once. */
static __always_inline void *fresh_data(struct xdp_md *ctx)
{
	return (void *)(long)*(volatile __u32 *)&ctx->data;
}

static __always_inline void *fresh_data_end(struct xdp_md *ctx)
{
	return (void *)(long)*(volatile __u32 *)&ctx->data_end;
}

static __always_inline int reason_verdict(enum umigame_raguard_reason r)
{
	return r < UMIGAME_RAG_FIRST_DROP ? XDP_PASS : XDP_DROP;
}

static __always_inline int is_link_local(const struct in6_addr *a)
{
	return (a->in6_u.u6_addr8[0] == 0xfe) &&
	       ((a->in6_u.u6_addr8[1] & 0xc0) == 0x80);
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

/* Where the header walk ended. Only ever used inline, so clang keeps it in
 * registers: parse state spilled to the stack and reloaded lengthens the RA
 * path measurably. */
struct walk {
	__u64 l3off;     /* the IPv6 header; 0 until one was found */
	__u64 upper_off; /* the upper-layer header */
	__u32 vlan;      /* outer VLAN id, 0 untagged */
	__u32 fragment;  /* 1: a first fragment (atomic ones included) */
};

/* One ring-buffer record per dropped packet; l3off is 0 when the frame had
 * no valid IPv6 header. */
static __always_inline void emit_event(struct xdp_md *ctx, __u32 reason, __u32 vlan, __u32 l3off)
{
	void *data = fresh_data(ctx);
	void *data_end = fresh_data_end(ctx);
	struct umigame_raguard_event *ev;
	struct ipv6hdr *ip6;
	__u32 zero = 0;

	ev = bpf_ringbuf_reserve(&rag_events, sizeof(*ev), 0);
	if (!ev) {
		__u64 *lost = bpf_map_lookup_elem(&rag_events_lost, &zero);

		if (lost)
			*lost += 1;
		return;
	}
	ev->timestamp_ns = bpf_ktime_get_ns();
	ev->ifindex = ctx->ingress_ifindex;
	ev->reason = reason;
	ev->vlan = vlan;
	__builtin_memset(ev->src_mac, 0, sizeof(ev->src_mac));
	__builtin_memset(ev->src_addr, 0, sizeof(ev->src_addr));
	if (data + sizeof(struct ethhdr) <= data_end)
		__builtin_memcpy(ev->src_mac, ((struct ethhdr *)data)->h_source, 6);
	ip6 = pkt_ptr(data, data_end, l3off, sizeof(*ip6));
	if (l3off && ip6)
		__builtin_memcpy(ev->src_addr, &ip6->saddr, 16);
	bpf_ringbuf_submit(ev, 0);
}

/*
 * Whether the port may send one more drop event: the generic cell rate
 * algorithm on rag_event_limit[slot], a token bucket of event_burst events
 * refilled at event_rate. Time is jiffies (one load, where a clock-source
 * read costs more than judging the RA). A suppressed drop writes nothing
 * shared: under a flood the line stays cached on every CPU. A sent event
 * moves tat with cmpxchg, so two CPUs never spend one token twice; the
 * loser of a race counts its drop as suppressed.
 */
static __always_inline int event_allowed(const struct umigame_raguard_policy *pol, __u32 slot)
{
	struct umigame_raguard_event_limit *lim = bpf_map_lookup_elem(&rag_event_limit, &slot);
	__u64 interval = pol ? pol->event_interval : rag_default_event_interval;
	__u64 window = pol ? pol->event_window : rag_default_event_window;
	__u64 now, tat, next;

	if (!lim)
		return 1;
	now = bpf_jiffies64() << UMIGAME_RAG_EVENT_SHIFT;
	tat = *(volatile __u64 *)&lim->tat;
	next = (tat > now ? tat : now) + interval;
	if (next - now > window)
		return 0;
	return __sync_val_compare_and_swap(&lim->tat, tat, next) == tat;
}

/* Count under the port's row and turn the reason into a verdict. */
static __always_inline int judge(struct xdp_md *ctx, const struct umigame_raguard_policy *pol,
				 enum umigame_raguard_reason reason, __u32 vlan, __u32 l3off)
{
	struct umigame_raguard_counter *c = NULL;
	/* Packets on a port without a policy go to the spare last row. */
	__u32 slot = pol ? pol->port_slot : UMIGAME_RAGUARD_UNATTRIBUTED_SLOT;
	__u32 idx;

	if (slot <= UMIGAME_RAGUARD_UNATTRIBUTED_SLOT) {
		idx = slot * UMIGAME_RAG_REASON_COUNT + reason;
		c = bpf_map_lookup_elem(&rag_counters, &idx);
		if (c) {
			c->packets += 1;
			c->bytes += fresh_data_end(ctx) - fresh_data(ctx);
		}
	}
	if (reason_verdict(reason) == XDP_PASS)
		return XDP_PASS;
	/* Every drop is counted above; each is then either sent as an event
	 * or counted as suppressed, so `raguard events` can say how many it
	 * did not show, and why. */
	if (!event_allowed(pol, slot)) {
		if (c)
			c->suppressed += 1;
		return XDP_DROP;
	}
	emit_event(ctx, reason, vlan, l3off);
	return XDP_DROP;
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

/* The first entry inline, and on a port with one trusted router (the usual
 * case) the whole decision: neither its RAs nor a flood of rogue ones pay
 * for the call. The loop above decides the same at i == 0. */
static __always_inline int router_trusted(const struct umigame_raguard_policy *pol, void *data,
					  __u64 hi, __u64 lo)
{
	const struct umigame_raguard_router *r = &pol->routers[0];
	const __u8 *src_mac = ((struct ethhdr *)data)->h_source;
	__u32 n = pol->n_routers;

	if (n && (r->match & UMIGAME_RAG_MATCH_ADDR) &&
	    load64(r->addr) == hi && load64(r->addr + 8) == lo)
		return !(r->match & UMIGAME_RAG_MATCH_MAC) || load_mac(r->mac) == load_mac(src_mac);
	if (n <= 1) /* an address entry that did not match, a MAC entry, or none */
		return n && r->match == UMIGAME_RAG_MATCH_MAC &&
		       load_mac(r->mac) == load_mac(src_mac);
	return umigame_rag_router_trusted(pol, hi, lo, load_mac(src_mac));
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

static __always_inline int prefix_allowed(const struct umigame_raguard_policy *pol,
					  __u64 hi, __u64 lo, __u32 len)
{
	const struct umigame_raguard_prefix *p = &pol->prefixes[0];

	if (pol->n_prefixes && len >= p->len && (hi & load64(p->mask)) == load64(p->addr) &&
	    (lo & load64(p->mask + 8)) == load64(p->addr + 8))
		return 1;
	return umigame_rag_prefix_allowed(pol, hi, lo, len);
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

/*
 * RFC 4861 §4.6 options. Each option's two header bytes are bounds-checked;
 * its whole length is not, since the walk only moves forward: an option that
 * runs off the packet leaves the next offset past the end, where the next
 * read, or the final "ends exactly at the packet's end" check, refuses it.
 */
static __always_inline enum umigame_raguard_reason
check_ra_options(void *data, void *data_end, const struct umigame_raguard_policy *pol,
		 __u64 off)
{
	int i;

	for (i = 0; i < UMIGAME_RAGUARD_MAX_ND_OPTS; i++) {
		__u8 *opt;
		__u32 len;

		opt = pkt_ptr(data, data_end, off, 2);
		if (!opt)
			return data + off == data_end && off <= MAX_PARSE_OFFSET ?
				UMIGAME_RAG_RA_TRUSTED : UMIGAME_RAG_MALFORMED;
		/* RFC 4861 §4.6: an option of length zero invalidates the packet. */
		len = (__u32)opt[1] * 8;
		if (len == 0)
			return UMIGAME_RAG_MALFORMED;

		if (opt[0] == ND_OPT_SOURCE_LL && len == 8) {
			__u8 *lladdr = pkt_ptr(data, data_end, off, 8);

			if (!lladdr)
				return UMIGAME_RAG_MALFORMED;
			if (load_mac(lladdr + 2) != load_mac(((struct ethhdr *)data)->h_source))
				return UMIGAME_RAG_RA_LLADDR_MISMATCH;
		} else if (opt[0] == ND_OPT_PREFIX) {
			struct nd_opt_prefix *pio = pkt_ptr(data, data_end, off, sizeof(*pio));

			if (len != sizeof(*pio) || !pio)
				return UMIGAME_RAG_MALFORMED;
			if (pio->prefix_len > 128)
				return UMIGAME_RAG_MALFORMED;
			if ((pol->flags & UMIGAME_RAG_F_CHECK_PREFIXES) &&
			    !prefix_allowed(pol, load64(pio->prefix), load64(pio->prefix + 8),
					    pio->prefix_len))
				return UMIGAME_RAG_RA_PREFIX;
		}
		off += len;
	}
	/* More options than we walk: refuse rather than pass unchecked ones. */
	if (off > MAX_PARSE_OFFSET || data + off != data_end)
		return UMIGAME_RAG_MALFORMED;
	return UMIGAME_RAG_RA_TRUSTED;
}

/* RFC 6105 §3 and RFC 7113 §3: who sent the RA. Inline, so that a flood of
 * rogue RAs is dropped without the call to the rest of the RA checks. */
static __always_inline enum umigame_raguard_reason
judge_ra_source(void *data, void *data_end, const struct umigame_raguard_policy *pol, __u64 l3off)
{
	struct ipv6hdr *ip6;

	if (pol->flags & UMIGAME_RAG_F_BLOCK_ALL)
		return UMIGAME_RAG_RA_BLOCK_ALL;

	ip6 = pkt_ptr(data, data_end, l3off, sizeof(*ip6));
	if (!ip6 || data + sizeof(struct ethhdr) > data_end)
		return UMIGAME_RAG_MALFORMED;
	/* RFC 7113 §3 items 1 and 3: an RA hosts must ignore (RFC 4861 §6.1.2)
	 * passes, unless the operator asked to drop those as well. */
	if (!is_link_local(&ip6->saddr) || ip6->hop_limit != 255)
		return (pol->flags & UMIGAME_RAG_F_DROP_INVALID) ?
			UMIGAME_RAG_RA_INVALID : UMIGAME_RAG_RA_NOT_ACCEPTABLE;

	if (!router_trusted(pol, data, load64(ip6->saddr.in6_u.u6_addr8),
			    load64(ip6->saddr.in6_u.u6_addr8 + 8)))
		return UMIGAME_RAG_RA_UNTRUSTED_SOURCE;
	return UMIGAME_RAG_RA_TRUSTED;
}

/* The rest of an RA from a trusted router: flags, preference, options.
 * Inline: on the bench host a BPF-to-BPF call costs about 8 ns, a third of
 * judging the RA (see opaque() for how the verifier still checks it once). */
static __always_inline enum umigame_raguard_reason
judge_ra(struct xdp_md *ctx, const struct umigame_raguard_policy *pol, struct walk *w)
{
	void *data = fresh_data(ctx);
	void *data_end = fresh_data_end(ctx);
	__u64 upper_off = opaque(w->upper_off, pol->flags);
	struct ra_hdr *ra;
	__u32 pref;

	/* The drop event reads the source address at l3off. */
	w->l3off = opaque(w->l3off, pol->flags);
	ra = pkt_ptr(data, data_end, upper_off, sizeof(*ra));
	/* The Ethernet header too, for the Source Link-Layer Address check. */
	if (!ra || data + sizeof(struct ethhdr) > data_end)
		return UMIGAME_RAG_MALFORMED;

	if ((ra->flags & RA_FLAG_MANAGED) && !(pol->flags & UMIGAME_RAG_F_ALLOW_MANAGED))
		return UMIGAME_RAG_RA_MANAGED_FLAG;
	if ((ra->flags & RA_FLAG_OTHER) && !(pol->flags & UMIGAME_RAG_F_ALLOW_OTHER))
		return UMIGAME_RAG_RA_OTHER_FLAG;

	/* RFC 4191 §2.2: with router lifetime 0 the preference is ignored. */
	pref = ra_preference(ra->flags);
	if (ra->router_lifetime && pref > pol->max_preference)
		return UMIGAME_RAG_RA_PREFERENCE;

	return check_ra_options(data, data_end, pol, upper_off + sizeof(*ra));
}

/* RFC 7610 §5: server-to-client/relay messages from untrusted sources. */
__attribute__((noinline)) int umigame_rag_judge_dhcp6(struct xdp_md *ctx,
						      const struct umigame_raguard_policy *pol,
						      __u32 l3off)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = pkt_ptr(data, data_end, l3off, sizeof(*ip6));
	__u64 hi, lo;
	__u32 n;
	int i;

	if (!pol)
		return UMIGAME_RAG_NO_POLICY;
	if (!ip6)
		return UMIGAME_RAG_MALFORMED;
	hi = load64(ip6->saddr.in6_u.u6_addr8);
	lo = load64(ip6->saddr.in6_u.u6_addr8 + 8);
	n = pol->n_dhcp_servers;
	for (i = 0; i < UMIGAME_RAGUARD_MAX_DHCP_SERVERS; i++) {
		if (i >= n)
			break;
		if (load64(pol->dhcp_servers[i]) == hi && load64(pol->dhcp_servers[i] + 8) == lo)
			return UMIGAME_RAG_DHCP6_SERVER_TRUSTED;
	}
	return UMIGAME_RAG_DHCP6_SERVER_UNTRUSTED;
}

/* Verdicts classify() hands back besides a counted reason. */
#define NOT_JUDGED   (-1) /* not an RA/DHCPv6 server message: pass, uncounted */
#define JUDGE_RA     (-2) /* an RA: judge against the port's policy */
#define JUDGE_DHCP6  (-3) /* a DHCPv6 server message: judge its source */

/* Whether a packet whose IPv6 header is followed by nh may be an RA, a
 * DHCPv6 server message or something hiding one: ICMPv6, UDP and every
 * header the walk steps over. */
static __always_inline int needs_walk(__u8 nh)
{
	if (nh < 64)
		return (((1ULL << IPPROTO_HOPOPTS) | (1ULL << IPPROTO_UDP) |
			 (1ULL << IPPROTO_ROUTING) | (1ULL << IPPROTO_FRAGMENT) |
			 (1ULL << IPPROTO_AH) | (1ULL << IPPROTO_ICMPV6) |
			 (1ULL << IPPROTO_DSTOPTS)) >> nh) & 1;
	return is_uniform_ext(nh);
}

/*
 * Walk the IPv6 header chain to the upper layer (RFC 7113 §3 item 2: the
 * whole chain, not only the first header) and find what the packet is. A
 * first fragment that ends inside the chain is RFC 7112's oversized chain.
 */
static __always_inline int classify(void *data, void *data_end, struct walk *w)
{
	struct ipv6hdr *ip6;
	struct udphdr *udp;
	__be16 proto;
	__u8 *byte;
	__u64 off;
	__u8 nh;

	if (data + sizeof(struct ethhdr) > data_end)
		return UMIGAME_RAG_MALFORMED;
	proto = ((struct ethhdr *)data)->h_proto;
	off = sizeof(struct ethhdr);

	/* 802.1Q and 802.1ad (QinQ): up to two tags. */
	if (proto != ETH_P_IPV6_BE) {
		if (walk_vlans(data, data_end, &off, &proto, &w->vlan))
			return UMIGAME_RAG_MALFORMED;
		if (proto != ETH_P_IPV6_BE)
			return NOT_JUDGED; /* IPv4, ARP, …: uncounted */
	}

	ip6 = pkt_ptr(data, data_end, off, sizeof(*ip6));
	if (!ip6 || ip6->version != 6)
		return UMIGAME_RAG_MALFORMED;
	w->l3off = off;
	nh = ip6->nexthdr;
	if (!needs_walk(nh))
		return NOT_JUDGED;
	off += sizeof(*ip6);

	switch (walk_ipv6_ext(data, data_end, &off, &nh, &w->fragment)) {
	case WALK_UPPER:
		break;
	case WALK_TRUNCATED:
		return w->fragment ? UMIGAME_RAG_INCOMPLETE_CHAIN : UMIGAME_RAG_MALFORMED;
	case WALK_NONFIRST:
		/* RFC 7113 §3: a non-first fragment cannot be judged and is
		 * harmless once its first fragment is dropped. */
		return UMIGAME_RAG_NONFIRST_FRAGMENT;
	case WALK_TOO_LONG:
		return UMIGAME_RAG_CHAIN_TOO_LONG;
	default: /* a truncated or second fragment header; past the bound */
		return UMIGAME_RAG_MALFORMED;
	}
	w->upper_off = off;

	if (nh == IPPROTO_ICMPV6) {
		byte = pkt_ptr(data, data_end, off, 1);
		/* RFC 7112 §5: the first fragment must hold the upper-layer
		 * header; an unfragmented packet this short is broken. */
		if (!byte)
			return w->fragment ? UMIGAME_RAG_INCOMPLETE_CHAIN : UMIGAME_RAG_MALFORMED;
		/* RFC 6980 §5: ND messages must not be fragmented. A fragment
		 * that only looks like something else but carries ND's
		 * signature (hop limit 255 from a link-local source) is dropped
		 * too: an overlapping later fragment can turn it into an RA on
		 * hosts that do not discard overlaps (RFC 5722). */
		if (w->fragment &&
		    ((*byte >= ND_ROUTER_SOLICIT && *byte <= ND_REDIRECT) ||
		     (ip6->hop_limit == 255 && is_link_local(&ip6->saddr))))
			return UMIGAME_RAG_ND_FRAGMENT;
		return *byte == ND_ROUTER_ADVERT ? JUDGE_RA : NOT_JUDGED;
	}

	if (nh != IPPROTO_UDP)
		return NOT_JUDGED; /* ESP, no next header, TCP, …: nothing to judge */
	udp = pkt_ptr(data, data_end, off, sizeof(*udp) + 1);
	if (!udp) {
		/* Too short for a UDP header and a DHCPv6 message type; if the
		 * header is whole and not DHCPv6, there is nothing to judge. */
		udp = pkt_ptr(data, data_end, off, sizeof(*udp));
		if (udp && udp->dest != bpf_htons(DHCP6_CLIENT_PORT) &&
		    udp->dest != bpf_htons(DHCP6_SERVER_PORT))
			return NOT_JUDGED;
		return w->fragment ? UMIGAME_RAG_INCOMPLETE_CHAIN : UMIGAME_RAG_MALFORMED;
	}
	if (udp->dest != bpf_htons(DHCP6_CLIENT_PORT) && udp->dest != bpf_htons(DHCP6_SERVER_PORT))
		return NOT_JUDGED;
	switch (*(__u8 *)(udp + 1)) {
	case DHCP6_ADVERTISE:
	case DHCP6_REPLY:
	case DHCP6_RECONFIGURE:
	case DHCP6_RELAY_REPL:
		return JUDGE_DHCP6;
	default:
		return NOT_JUDGED;
	}
}

SEC("xdp")
int umigame_raguard(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = data + sizeof(*eth);
	const struct umigame_raguard_policy *pol;
	enum umigame_raguard_reason reason;
	struct walk w = {};
	int what;

	/* Ordinary traffic leaves here, before any parse state is set up
	 * (classify() looks again, which costs the RA path less than the
	 * set-up would cost every packet): untagged IPv4/ARP/…, and untagged
	 * IPv6 whose first header cannot lead to an RA or a DHCPv6 message. */
	if ((void *)(eth + 1) <= data_end && eth->h_proto != ETH_P_IPV6_BE &&
	    eth->h_proto != ETH_P_8021Q_BE && eth->h_proto != ETH_P_8021AD_BE)
		return XDP_PASS;
	if ((void *)(ip6 + 1) <= data_end && eth->h_proto == ETH_P_IPV6_BE && ip6->version == 6 &&
	    !needs_walk(ip6->nexthdr))
		return XDP_PASS;

	what = classify(data, data_end, &w);
	if (what == NOT_JUDGED)
		return XDP_PASS;
	pol = port_policy(ctx->ingress_ifindex);
	if (what >= 0)
		reason = what;
	else if (!pol)
		reason = UMIGAME_RAG_NO_POLICY;
	else if (what == JUDGE_RA) {
		reason = judge_ra_source(data, data_end, pol, w.l3off);
		if (reason == UMIGAME_RAG_RA_TRUSTED)
			reason = judge_ra(ctx, pol, &w);
	} else
		reason = umigame_rag_judge_dhcp6(ctx, pol, w.l3off);
	return judge(ctx, pol, reason, w.vlan, w.l3off);
}
