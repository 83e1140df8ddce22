// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ESP (RFC 4303) decrypted in XDP, before the kernel allocates an skb.
 *
 * Outer IPv4 or IPv6, ESP directly or in UDP (RFC 3948). The SA is found by
 * (SPI, destination, encapsulation port); its replay window is checked
 * before any crypto (RFC 4303 §3.4.3), umigame.ko's kfunc decrypts and
 * verifies in place, the window advances only after the ICV verified, and
 * the ESP framing is stripped: tunnel mode hands the inner packet to the
 * stack, transport mode the outer header with the payload. With
 * `umigame esp forward`, a tunnel's inner packet whose route leads out of a
 * listed port leaves by that port straight from XDP (esp_forward below).
 *
 * Without the module (have_module false at load) the program still loads and
 * does the cheap checks (unknown SPI, replay), then passes ESP to the
 * kernel's own xfrm.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "umigame/esp.h"

char LICENSE[] SEC("license") = "GPL"; /* the kfunc is GPL-only */

/* Set by the loader before load: whether umigame.ko's BTF is present. */
const volatile __u8 have_module = 0;

extern int umigame_esp_decrypt(struct xdp_md *ctx, __u32 sa_id, __u32 esp_off,
			       __u32 seq_hi) __ksym __weak;
/* Counts a replay drop in the module's SA (of ctx's namespace, as the
 * decrypt's) and fires umigame:esp_replay. */
extern void umigame_esp_note_replay(struct xdp_md *ctx, __u32 sa_id, __u64 seq) __ksym __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UMIGAME_ESP_MAX_SAS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct umigame_esp_sa_key);
	__type(value, struct umigame_esp_sa_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esp_sas SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UMIGAME_ESP_MAX_SAS);
	__type(key, __u32);
	__type(value, struct umigame_esp_sa_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esp_sa_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UMIGAME_ESP_REASON_COUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esp_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct umigame_esp_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esp_config SEC(".maps");

/* Ports inner packets may be redirected to (esp_forward), by ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, UMIGAME_ESP_MAX_FWD_PORTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esp_fwd_ports SEC(".maps");

#define ESP_HDR_LEN      8   /* SPI + sequence number */
#define ESP_TRAILER_LEN  2   /* pad length + next header */
#define NAT_T_PORT       4500
#define MAX_FRAME        0x3fff /* longest frame handled (16 KiB - 1) */
#define MAX_OUTER        (sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + sizeof(struct udphdr))

struct esp_pkt {
	__u32 esp_off;    /* ESP header */
	__u32 l3_off;     /* outer IP header */
	__u32 l3_len;     /* outer IP header bytes (IPv4 options included) */
	__u32 udp_len;    /* 8 with RFC 3948 encapsulation, else 0 */
	__u32 ip_end;     /* where the outer IP packet ends (its length field) */
	__u16 family;
	__u16 encap_port;
};

static __always_inline int count(enum umigame_esp_reason reason)
{
	__u32 key = reason;
	__u64 *c = bpf_map_lookup_elem(&esp_stats, &key);

	if (c)
		*c += 1;
	return reason < UMIGAME_ESP_FIRST_DROP ? XDP_PASS : XDP_DROP;
}

static __always_inline struct umigame_esp_sa_counters *sa_counters(__u32 sa_id)
{
	return bpf_map_lookup_elem(&esp_sa_counters, &sa_id);
}

static __always_inline int replay_drop(struct xdp_md *ctx, __u32 sa_id,
				       struct umigame_esp_sa_counters *c, __u64 seq)
{
	if (c)
		c->replay_drops += 1;
	if (have_module)
		umigame_esp_note_replay(ctx, sa_id, seq);
	return count(UMIGAME_ESP_REPLAY);
}

/* 1: ESP found (p filled); 0: not ESP, pass untouched; <0: reason to count. */
static __always_inline int find_esp(struct xdp_md *ctx, struct esp_pkt *p,
				    struct umigame_esp_sa_key *key)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 proto;

	if ((void *)(eth + 1) > data_end)
		return 0;
	p->l3_off = sizeof(*eth);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return 0;
		proto = ip6->nexthdr;
		p->family = 10; /* AF_INET6 */
		p->l3_len = sizeof(*ip6);
		p->ip_end = p->l3_off + sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		__builtin_memcpy(key->daddr, &ip6->daddr, 16);
	} else if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return 0;
		if (ip->ihl < 5)
			return -UMIGAME_ESP_MALFORMED;
		/* Fragments go to the kernel to be reassembled; options (rare)
		 * to its xfrm as well, which keeps the stripping simple. */
		if ((ip->frag_off & bpf_htons(0x3fff)) || ip->ihl != 5)
			return ip->protocol == IPPROTO_ESP || ip->protocol == IPPROTO_UDP ?
				       -UMIGAME_ESP_NOT_LINEAR : 0;
		proto = ip->protocol;
		p->family = 2; /* AF_INET */
		p->l3_len = ip->ihl * 4;
		p->ip_end = p->l3_off + bpf_ntohs(ip->tot_len);
		__builtin_memset(key->daddr, 0, 16);
		__builtin_memcpy(key->daddr, &ip->daddr, 4);
	} else {
		return 0;
	}

	p->udp_len = 0;
	p->encap_port = 0;
	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = data + p->l3_off + (p->l3_len & 0x3f);
		__be32 *marker;

		if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(NAT_T_PORT))
			return 0;
		/* RFC 3948 §2.2: a zero non-ESP marker means IKE, a 1-byte
		 * payload is a NAT-keepalive: both are for the IKE daemon. */
		marker = (void *)(udp + 1);
		if ((void *)(marker + 1) > data_end || *marker == 0)
			return 0;
		p->udp_len = sizeof(*udp);
		p->encap_port = NAT_T_PORT;
	} else if (proto != IPPROTO_ESP) {
		/* IPv6 extension headers before ESP: left to the kernel. */
		return 0;
	}
	p->esp_off = p->l3_off + (p->l3_len & 0x3f) + p->udp_len;
	key->family = p->family;
	key->encap_port = p->encap_port;
	return 1;
}

/*
 * After a successful decrypt the payload sits in place:
 *   [eth][outer IP][UDP?][ESP hdr][IV][inner ... pad, pad_len, next hdr][ICV]
 * Strip it down to [eth][inner] (tunnel) or [eth][outer IP][inner] (transport).
 */
static __always_inline int strip(struct xdp_md *ctx, const struct esp_pkt *p,
				 const struct umigame_esp_sa_value *sa, __u32 plain_len,
				 __u32 *inner_len)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 plain_off = p->esp_off + ESP_HDR_LEN + (sa->iv_len & 0x1f);
	/* The frame was trimmed to the IP packet before the kfunc. (A length
	 * computed from packet pointers is one 6.1's verifier will not let us
	 * do arithmetic with.) */
	__u32 pkt_len = p->ip_end;
	__u8 *trailer, pad_len, next_hdr;
	__u32 tail_off, payload_len, keep;

	if (plain_len < ESP_TRAILER_LEN || plain_len > MAX_FRAME)
		return -UMIGAME_ESP_MALFORMED;
	tail_off = plain_off + plain_len - ESP_TRAILER_LEN;
	/* XDP frames fit a page or so; the tighter bound also keeps 6.1's
	 * verifier able to range-check a pointer at this offset. */
	if (tail_off > MAX_FRAME)
		return -UMIGAME_ESP_MALFORMED;
	trailer = data + tail_off;
	if ((void *)(trailer + ESP_TRAILER_LEN) > data_end)
		return -UMIGAME_ESP_MALFORMED;
	pad_len = trailer[0];
	next_hdr = trailer[1];
	if (pad_len + ESP_TRAILER_LEN > plain_len)
		return -UMIGAME_ESP_BAD_TRAILER;
	payload_len = (plain_len - ESP_TRAILER_LEN - pad_len) & MAX_FRAME;
	/* RFC 4303 §2.6: next header 59 is a dummy packet, to be dropped. */
	if (next_hdr == 59)
		return -UMIGAME_ESP_BAD_TRAILER;

	/* Cut padding, trailer and ICV off the end. */
	keep = plain_off + payload_len;
	if (keep > pkt_len || pkt_len - keep > MAX_FRAME ||
	    bpf_xdp_adjust_tail(ctx, -(int)(pkt_len - keep)))
		return -UMIGAME_ESP_MALFORMED;

	if (sa->mode == UMIGAME_ESP_MODE_TUNNEL) {
		struct ethhdr eth;
		__u16 proto;

		if (next_hdr == IPPROTO_IPIP)
			proto = ETH_P_IP;
		else if (next_hdr == IPPROTO_IPV6)
			proto = ETH_P_IPV6;
		else
			return -UMIGAME_ESP_BAD_TRAILER;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		if (data + sizeof(eth) > data_end)
			return -UMIGAME_ESP_MALFORMED;
		__builtin_memcpy(&eth, data, sizeof(eth));
		eth.h_proto = bpf_htons(proto);
		if (plain_off < sizeof(eth) || plain_off > MAX_FRAME ||
		    bpf_xdp_adjust_head(ctx, (int)(plain_off - sizeof(eth))))
			return -UMIGAME_ESP_MALFORMED;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		if (data + sizeof(eth) > data_end)
			return -UMIGAME_ESP_MALFORMED;
		__builtin_memcpy(data, &eth, sizeof(eth));
		*inner_len = payload_len;
		return 0;
	}

	/* Transport mode: move Ethernet + outer IP header up to the payload,
	 * then fix the outer header's protocol and length. */
	{
		__u8 hdr[sizeof(struct ethhdr) + sizeof(struct ipv6hdr)];
		__u32 hdr_len = p->l3_off + (p->l3_len & 0x3f);
		__u32 shift = plain_off - hdr_len;

		if (hdr_len > sizeof(hdr))
			return -UMIGAME_ESP_MALFORMED;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		if (p->family == 10) {
			if (data + sizeof(struct ethhdr) + sizeof(struct ipv6hdr) > data_end)
				return -UMIGAME_ESP_MALFORMED;
			__builtin_memcpy(hdr, data, sizeof(struct ethhdr) + sizeof(struct ipv6hdr));
		} else {
			if (data + sizeof(struct ethhdr) + sizeof(struct iphdr) > data_end)
				return -UMIGAME_ESP_MALFORMED;
			__builtin_memcpy(hdr, data, sizeof(struct ethhdr) + sizeof(struct iphdr));
		}
		if (shift > MAX_FRAME || bpf_xdp_adjust_head(ctx, (int)shift))
			return -UMIGAME_ESP_MALFORMED;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		if (p->family == 10) {
			struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

			if ((void *)(ip6 + 1) > data_end)
				return -UMIGAME_ESP_MALFORMED;
			__builtin_memcpy(data, hdr, sizeof(struct ethhdr) + sizeof(struct ipv6hdr));
			ip6->nexthdr = next_hdr;
			ip6->payload_len = bpf_htons(payload_len);
		} else {
			struct iphdr *ip = data + sizeof(struct ethhdr);
			__u32 csum = 0;
			__u16 *w;
			int i;

			if ((void *)(ip + 1) > data_end)
				return -UMIGAME_ESP_MALFORMED;
			__builtin_memcpy(data, hdr, sizeof(struct ethhdr) + sizeof(struct iphdr));
			ip->protocol = next_hdr;
			ip->tot_len = bpf_htons(sizeof(struct iphdr) + payload_len);
			ip->check = 0;
			w = (__u16 *)ip;
			for (i = 0; i < (int)(sizeof(struct iphdr) / 2); i++)
				csum += w[i];
			csum = (csum & 0xffff) + (csum >> 16);
			csum = (csum & 0xffff) + (csum >> 16);
			ip->check = ~csum;
		}
		*inner_len = payload_len;
		return 0;
	}
}

/* IPv6 addresses the stack must judge: multicast, link-local, and (as a
 * source) unspecified or loopback. */
static __always_inline int ip6_not_routable(const struct in6_addr *a, int is_src)
{
	if (a->s6_addr[0] == 0xff || (a->s6_addr[0] == 0xfe && (a->s6_addr[1] & 0xc0) == 0x80))
		return 1;
	return is_src && !a->s6_addr32[0] && !a->s6_addr32[1] && !a->s6_addr32[2] &&
	       !(a->s6_addr32[3] & bpf_htonl(0xfffffffe));
}

/* IPv4 addresses the stack must judge: 0/8, 127/8, multicast, broadcast. */
static __always_inline int ip4_not_routable(__be32 a)
{
	__u8 first = bpf_ntohl(a) >> 24;

	return first == 0 || first == 127 || first >= 224;
}

/*
 * The decrypted inner packet of a tunnel, at the start of the frame behind
 * its Ethernet header: forward it out of its LAN port from XDP when the
 * FIB says it is forwarded, to a resolved neighbour, within the MTU, out of
 * a port listed in esp_fwd_ports. Everything else the stack does better
 * (ICMP Time Exceeded and Packet Too Big, neighbour discovery, local
 * delivery, martians, unlisted ports) gets XDP_PASS and goes up as before.
 * This skips netfilter's forward hooks and xfrm's forward policy, so it is
 * the operator's choice (docs/esp.md).
 *
 * Global, so the verifier checks it once on its own.
 */
__noinline int esp_forward(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct bpf_fib_lookup fib = {};
	__u32 egress;
	int is_v6;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	is_v6 = eth->h_proto == bpf_htons(ETH_P_IPV6);
	if (is_v6) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end || ip6->hop_limit <= 1 ||
		    ip6_not_routable(&ip6->saddr, 1) || ip6_not_routable(&ip6->daddr, 0))
			return XDP_PASS;
		fib.family = 10; /* AF_INET6 */
		fib.flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0fffffff);
		fib.l4_protocol = ip6->nexthdr;
		fib.tot_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		__builtin_memcpy(fib.ipv6_src, &ip6->saddr, sizeof(fib.ipv6_src));
		__builtin_memcpy(fib.ipv6_dst, &ip6->daddr, sizeof(fib.ipv6_dst));
	} else if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end || ip->ttl <= 1 || ip4_not_routable(ip->saddr) ||
		    ip4_not_routable(ip->daddr))
			return XDP_PASS;
		fib.family = 2; /* AF_INET */
		fib.tos = ip->tos;
		fib.l4_protocol = ip->protocol;
		fib.tot_len = bpf_ntohs(ip->tot_len);
		fib.ipv4_src = ip->saddr;
		fib.ipv4_dst = ip->daddr;
	} else {
		return XDP_PASS;
	}
	fib.ifindex = ctx->ingress_ifindex;
	/* Not SUCCESS: local, blackhole, unreachable, forwarding off on the
	 * port, too big for the route's MTU (tot_len), no neighbour yet. */
	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return XDP_PASS;
	egress = fib.ifindex;
	if (!bpf_map_lookup_elem(&esp_fwd_ports, &egress))
		return XDP_PASS;

	/* The helper did not touch the packet: the checks above still hold,
	 * but the verifier wants the pointers anew. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (is_v6) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		ip6->hop_limit--;
	} else {
		struct iphdr *ip = (void *)(eth + 1);
		__u32 sum;

		if ((void *)(ip + 1) > data_end)
			return XDP_PASS;
		/* RFC 1624 eqn. 3: the TTL is the high byte of its 16-bit word,
		 * so the sum goes up by 0x0100 as the TTL goes down by one. */
		sum = ip->check + bpf_htons(0x0100);
		ip->check = (__u16)(sum + (sum >> 16));
		ip->ttl--;
	}
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	/* Should the port have left the map since the lookup, the stack
	 * forwards the packet (and takes one more off its hop limit). */
	return bpf_redirect_map(&esp_fwd_ports, egress, XDP_PASS);
}

SEC("xdp")
int umigame_esp(struct xdp_md *ctx)
{
	struct umigame_esp_sa_key key = {};
	struct umigame_esp_sa_value *sa;
	struct umigame_esp_sa_counters *c;
	struct esp_pkt p = {};
	__u32 zero = 0, seq_lo, inner_len = 0;
	struct umigame_esp_config *cfg;
	__u64 seq = 0;
	void *data, *data_end;
	__be32 *esp;
	int ret, verdict;

	ret = find_esp(ctx, &p, &key);
	if (ret == 0)
		return XDP_PASS;
	if (ret < 0)
		return count(-ret);

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (p.esp_off > MAX_OUTER)
		return count(UMIGAME_ESP_MALFORMED);
	esp = data + p.esp_off;
	if ((void *)(esp + 2) > data_end)
		return count(UMIGAME_ESP_MALFORMED);
	key.spi = esp[0];
	seq_lo = bpf_ntohl(esp[1]);

	sa = bpf_map_lookup_elem(&esp_sas, &key);
	if (!sa) {
		/* SAs come from the module: without it, every SA is xfrm's. */
		if (!have_module)
			return count(UMIGAME_ESP_TO_XFRM);
		cfg = bpf_map_lookup_elem(&esp_config, &zero);
		if (cfg && cfg->drop_unknown_spi)
			return count(UMIGAME_ESP_UNKNOWN_SPI);
		return count(UMIGAME_ESP_UNKNOWN_SPI_PASS);
	}
	c = sa_counters(sa->sa_id);

	/* RFC 4303 §3.4.3: the cheap check first, before any crypto. An SA
	 * without a window (size 0, no ESN: the module refuses ESN without
	 * one) takes the number as it is. */
	seq = seq_lo;
	verdict = UMIGAME_REPLAY_OK;
	if (sa->window.size) {
		bpf_spin_lock(&sa->lock);
		verdict = umigame_replay_infer(&sa->window, seq_lo, &seq);
		if (verdict == UMIGAME_REPLAY_OK)
			verdict = umigame_replay_check(&sa->window, seq);
		bpf_spin_unlock(&sa->lock);
	}
	if (verdict != UMIGAME_REPLAY_OK)
		return replay_drop(ctx, sa->sa_id, c, seq);

	if (!have_module)
		return count(UMIGAME_ESP_TO_XFRM);

	/* The kfunc takes ESP to run to the end of the frame: cut off what
	 * follows the IP packet (Ethernet padding, a trailer some NICs add),
	 * and refuse a frame shorter than its IP header says. */
	{
		__u32 frame_len = bpf_xdp_get_buff_len(ctx);

		if (p.ip_end > frame_len || p.ip_end < p.esp_off)
			return count(UMIGAME_ESP_MALFORMED);
		if (frame_len - p.ip_end > MAX_FRAME)
			return count(UMIGAME_ESP_MALFORMED);
		if (frame_len > p.ip_end && bpf_xdp_adjust_tail(ctx, -(int)(frame_len - p.ip_end)))
			return count(UMIGAME_ESP_MALFORMED);
	}

	ret = umigame_esp_decrypt(ctx, sa->sa_id, p.esp_off, (__u32)(seq >> 32));
	if (ret < 0) {
		/* A failed in-place decrypt leaves garbage: never pass it. */
		if (ret == -74 /* EBADMSG */) {
			if (c)
				c->auth_failures += 1;
			return count(UMIGAME_ESP_AUTH_FAILED);
		}
		if (ret == -127 /* EKEYEXPIRED */)
			return count(UMIGAME_ESP_EXPIRED);
		if (ret == -22 /* EINVAL */)
			return count(UMIGAME_ESP_MALFORMED);
		return count(UMIGAME_ESP_CRYPTO_ERROR);
	}

	/* The ICV verified: now the number counts as received. Another CPU
	 * may have accepted the same one meanwhile; advance() says so. */
	if (sa->window.size) {
		bpf_spin_lock(&sa->lock);
		verdict = umigame_replay_advance(&sa->window, seq);
		bpf_spin_unlock(&sa->lock);
	}
	if (verdict != UMIGAME_REPLAY_OK)
		return replay_drop(ctx, sa->sa_id, c, seq);

	ret = strip(ctx, &p, sa, (__u32)ret, &inner_len);
	if (ret < 0) {
		/* Decrypted already: whatever went wrong, it cannot pass. */
		if (c)
			c->errors += 1;
		count(-ret);
		return XDP_DROP;
	}
	if (c) {
		c->packets += 1;
		c->bytes += inner_len;
	}
	if (sa->mode == UMIGAME_ESP_MODE_TUNNEL) {
		cfg = bpf_map_lookup_elem(&esp_config, &zero);
		if (cfg && cfg->xdp_forward && esp_forward(ctx) == XDP_REDIRECT) {
			count(UMIGAME_ESP_FORWARDED);
			return XDP_REDIRECT;
		}
	}
	return count(UMIGAME_ESP_DECRYPTED);
}
