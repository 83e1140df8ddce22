/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What bpf/esp_bench_feed.bpf.c shares with the bench that drives it
 * (tools/bench/esp_xdp_bench.cpp): the frame table, filled through mmap,
 * and the modes. */
#ifndef UMIGAME_ESP_BENCH_FEED_H
#define UMIGAME_ESP_BENCH_FEED_H

#include <linux/types.h>

/* Room for a 1400-byte UDP payload in IPv6-in-IPv6 ESP (1538 bytes). */
#define ESP_BENCH_FRAME_MAX 1592

struct esp_bench_frame {
	__u32 len;
	__u32 pad;
	__u8 data[ESP_BENCH_FRAME_MAX];
};

enum esp_bench_feed_mode {
	FEED_DROP = 0,
	FEED_PASS = 1,
	FEED_OURS = 2,
};

#endif
