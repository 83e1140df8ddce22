// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The benchmark baseline: an XDP program that does nothing but pass. Every
 * `make bench` ratio for an XDP program is measured against this one in the
 * same run. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int umigame_empty_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
