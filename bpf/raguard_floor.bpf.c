// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Lower bounds for `make bench`, never attached to a port: the least work any
 * RA guard must do before it can judge an RA, and judging nothing.
 *
 * umigame_floor_walk finds the ICMPv6 header behind the extension-header
 * chain and walks the RA's options to the end of the packet: each header's
 * and option's length must be read before the next can be found, so no guard
 * that looks at the whole chain and every option (RFC 7113 §3) does less.
 * umigame_floor_walk_policy adds what any guard with per-port policies and
 * counters adds: the port's policy looked up in the guard's own maps (the
 * bench hands their fds in) and one counter bumped.
 *
 * The walk knows only the three commonest extension headers and does no
 * checks beyond staying inside the packet; it is a yardstick, not a filter.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "umigame/raguard.h"
/* Unpinned: the bench hands in the guard's own maps before loading. */
#define RAGUARD_MAP_PINNING LIBBPF_PIN_NONE
#include "raguard_maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAX_OFFSET 4096

/* Offset of the RA's end (0: not an RA, or out of bounds). */
static __always_inline __u64 walk_ra(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = data + sizeof(*eth);
	__u8 *p;
	__u64 off = sizeof(*eth) + sizeof(*ip6);
	__u8 nh;
	int i;

	if ((void *)(ip6 + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IPV6))
		return 0;
	nh = ip6->nexthdr;
#pragma unroll
	for (i = 0; i < UMIGAME_RAGUARD_MAX_EXT_HDRS; i++) {
		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS)
			break;
		if (off > MAX_OFFSET)
			return 0;
		p = data + off;
		if ((void *)(p + 2) > data_end)
			return 0;
		nh = p[0];
		off += ((__u64)p[1] + 1) * 8;
	}
	if (nh != IPPROTO_ICMPV6 || off > MAX_OFFSET)
		return 0;
	p = data + off;
	if ((void *)(p + 16) > data_end || p[0] != 134)
		return 0;
	off += 16;
#pragma unroll
	for (i = 0; i < UMIGAME_RAGUARD_MAX_ND_OPTS; i++) {
		if (off > MAX_OFFSET)
			return 0;
		p = data + off;
		if ((void *)p == data_end)
			break;
		if ((void *)(p + 2) > data_end || !p[1])
			return 0;
		off += (__u64)p[1] * 8;
	}
	return data + off == data_end ? off : 0;
}

SEC("xdp")
int umigame_floor_walk(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;

	return walk_ra(data, (void *)(long)ctx->data_end) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int umigame_floor_walk_policy(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const struct umigame_raguard_policy *pol;
	struct umigame_raguard_counter *c;
	__u32 idx;

	if (!walk_ra(data, data_end))
		return XDP_DROP;
	pol = port_policy(ctx->ingress_ifindex);
	if (!pol || pol->port_slot > UMIGAME_RAGUARD_MAX_PORTS)
		return XDP_DROP;
	idx = pol->port_slot * UMIGAME_RAG_REASON_COUNT + UMIGAME_RAG_RA_TRUSTED;
	c = bpf_map_lookup_elem(&rag_counters, &idx);
	if (c) {
		c->packets += 1;
		c->bytes += data_end - data;
	}
	return XDP_PASS;
}
