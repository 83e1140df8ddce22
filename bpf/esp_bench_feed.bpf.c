// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The frame source of `make bench`'s ESP and PIM benchmarks (tools/bench/
 * esp_xdp_bench.cpp, pim_bench.cpp). It runs under BPF_PROG_TEST_RUN in live-frames mode
 * with the receiving port as ingress: each run overwrites the test frame
 * with the next prebuilt one from `frames` (ESP frames cannot be reused as
 * they are: a resent frame is a replay), then hands it on as the bench
 * says:
 *   FEED_DROP  drop it: the cost of feeding alone, subtracted from the rest;
 *   FEED_PASS  XDP_PASS: the kernel's stack and xfrm receive it;
 *   FEED_OURS  tail call into umigame's ESP program (slot 0 of `next_prog`),
 *              whose verdict stands.
 * Passed frames become skbs of the ingress port, in batches, as a driver
 * hands them to the stack.
 *
 * umigame_esp_bench_sink stands in for the wire behind a veth LAN port: on
 * the port's peer, it counts and drops what the router forwarded, whether
 * redirected in XDP or sent by the stack.
 *
 * The bench also attaches it to a spare port, where it passes whatever
 * arrives: a program that stays in the kernel's XDP dispatcher spares every
 * test run with repeat > 1 two dispatcher updates, each waiting for an RCU
 * grace period (tens of ms under TCG).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "esp_bench_feed.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* sized by the bench before load */
	__type(key, __u32);
	__type(value, struct esp_bench_frame);
} frames SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} next_prog SEC(".maps");

/* Set before each run: the frames [first, first + span) are fed in turn,
 * from `next` on, wrapping around. */
__u32 first = 0;
__u32 span = 0; /* 0 counts as 1 */
__u32 mode = 0; /* FEED_DROP */
__u64 next = 0;
/* Set before load: the spare port it is attached to. */
const volatile __u32 spare_ifindex = 0;

SEC("xdp")
int umigame_esp_bench_feed(struct xdp_md *ctx)
{
	struct esp_bench_frame *f;
	__u32 i, len;

	if (ctx->ingress_ifindex == spare_ifindex)
		return XDP_PASS;
	/* One CPU runs a test run: no other writer. */
	i = first + (__u32)(next++ % (span ? span : 1));
	f = bpf_map_lookup_elem(&frames, &i);
	if (!f)
		return XDP_ABORTED;
	len = f->len;
	/* The test frame has the length of every frame of a run. */
	if (len < 14 || len > ESP_BENCH_FRAME_MAX)
		return XDP_ABORTED;
	if (bpf_xdp_store_bytes(ctx, 0, f->data, len))
		return XDP_ABORTED;
	if (mode == FEED_PASS)
		return XDP_PASS;
	if (mode == FEED_OURS)
		bpf_tail_call(ctx, &next_prog, 0);
	return mode == FEED_DROP ? XDP_DROP : XDP_ABORTED;
}

/* Frames that reached the sink: one CPU, but the stack's and the
 * redirect's deliveries may run in different contexts. */
__u64 sunk = 0;

SEC("xdp")
int umigame_esp_bench_sink(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&sunk, 1);
	return XDP_DROP;
}
