// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A lower bound for `make bench`, never attached to a port: the least work
 * any SCTP classifier must do to apply a rule on a chunk anywhere in a
 * packet (issue 17), and judging nothing.
 *
 * umigame_cls_floor finds the SCTP common header behind Ethernet and IPv4
 * and walks every chunk to the end of the packet (each chunk's length must
 * be read before the next can be found; a DATA chunk's PPID is read too),
 * then does what any classifier with per-port rules and counters does: the
 * port's rule table looked up (an array row, as the classifier's) and one
 * per-CPU counter bumped. No checks
 * beyond staying inside the packet, no reasons, no flows, no CRC: a
 * yardstick, not a filter.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "umigame/classify.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAX_OFFSET 4096

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UMIGAME_CLS_MAX_PORTS);
	__type(key, __u32); /* the port's row */
	__type(value, struct umigame_cls_table);
} floor_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct umigame_cls_counter);
} floor_counter SEC(".maps");

SEC("xdp")
int umigame_cls_floor(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u32 zero = 0, ppid = 0, i;
	__u64 chunks = 0, off;
	struct umigame_cls_counter *c;
	__u8 *p;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != 132)
		return XDP_PASS;
	off = sizeof(*eth) + ip->ihl * 4 + 12;
	for (i = 0; i < UMIGAME_CLS_MAX_CHUNKS; i++) {
		if (off > MAX_OFFSET)
			break;
		p = data + off;
		if ((void *)(p + 4) > data_end)
			break;
		chunks |= 1ULL << (p[0] & 63);
		if (p[0] == 0 && (void *)(p + 16) <= data_end)
			ppid |= (__u32)p[12] << 24 | (__u32)p[13] << 16 | (__u32)p[14] << 8 | p[15];
		off += (((__u32)p[2] << 8 | p[3]) + 3) & ~3U;
		if ((p[2] | p[3]) == 0)
			break;
	}
	if (!bpf_map_lookup_elem(&floor_tables, &zero))
		return XDP_PASS;
	c = bpf_map_lookup_elem(&floor_counter, &zero);
	if (c && (chunks & 1) && ppid) {
		c->packets++;
		c->bytes += data_end - data;
	}
	return XDP_PASS;
}
