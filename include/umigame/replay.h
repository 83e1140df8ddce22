/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ESP anti-replay (RFC 4303 §3.4.3) with extended sequence numbers
 * (RFC 4303 Appendix A), as an RFC 6479 block ring: the window is a ring of
 * 64-bit blocks, and moving it forward clears whole blocks instead of
 * shifting a bitmap, so a window of 65536 packets costs no more per packet
 * than one of 64.
 *
 * One implementation for the kernel module, the XDP program and userspace:
 * plain C on <linux/types.h>, no libc, no division, every loop bounded by a
 * constant (the BPF verifier needs that). The caller serialises access to a
 * window (bpf_spin_lock, a spinlock, or one thread).
 *
 * Use, per packet (RFC 4303 §3.4.3: check before integrity, update after):
 *
 *	umigame_replay_init(w, size, flags, 0);       // once, per SA
 *	u = umigame_replay_infer(w, seq_lo, &seq);   // the 64-bit number
 *	if (u == UMIGAME_REPLAY_OK) u = umigame_replay_check(w, seq);
 *	if (u != UMIGAME_REPLAY_OK) drop, counting u;
 *	... verify the ICV with the high 32 bits of seq (ESN) ...
 *	if (umigame_replay_advance(w, seq) != UMIGAME_REPLAY_OK) drop;
 *
 * advance() checks again: another CPU may have accepted the same number
 * between check() and advance().
 */
#ifndef UMIGAME_REPLAY_H
#define UMIGAME_REPLAY_H

#include <linux/types.h>

/* Always inlined: BPF may not call a function while it holds the window's
 * bpf_spin_lock, and the kernel's `inline` is only a hint. */
#define UMIGAME_REPLAY_FN static inline __attribute__((__always_inline__))

/* Windows are powers of two from 64 to UMIGAME_REPLAY_MAX_WINDOW packets. */
#define UMIGAME_REPLAY_MIN_WINDOW 64U
#define UMIGAME_REPLAY_MAX_WINDOW 65536U
/* RFC 6479 §2: a ring of 2^k blocks, one more block than the window needs
 * at least; twice the window keeps the block count a power of two, so the
 * ring index is a mask, not a modulo. */
#define UMIGAME_REPLAY_MAX_BLOCKS (2U * UMIGAME_REPLAY_MAX_WINDOW / 64U)

#define UMIGAME_REPLAY_F_ESN (1U << 0)

enum umigame_replay_verdict {
	UMIGAME_REPLAY_OK = 0,
	UMIGAME_REPLAY_DUPLICATE,  /* seen before, inside the window */
	UMIGAME_REPLAY_TOO_OLD,    /* left of the window */
	UMIGAME_REPLAY_EXHAUSTED,  /* ESN: would pass 2^64 - 1; the SA must have
	                            * been rekeyed (§3.3.3). Without ESN the 32-bit
	                            * number cannot pass 2^32 - 1 on the wire. */
	UMIGAME_REPLAY_ZERO,       /* sequence number 0 is never sent (§3.3.3) */
	UMIGAME_REPLAY_VERDICTS,
};

struct umigame_replay_window {
	__u64 top;     /* highest number accepted; 0 before the first packet */
	__u32 size;    /* window in packets (power of two) */
	__u32 flags;   /* UMIGAME_REPLAY_F_* */
	__u32 blocks;  /* ring length in blocks: 2 * size / 64 */
	__u32 pad;
	__u64 bitmap[UMIGAME_REPLAY_MAX_BLOCKS];
};

/* Zero if size is a window this implementation supports. */
UMIGAME_REPLAY_FN int umigame_replay_valid_size(__u32 size)
{
	return size >= UMIGAME_REPLAY_MIN_WINDOW && size <= UMIGAME_REPLAY_MAX_WINDOW &&
	       (size & (size - 1)) == 0 ? 0 : -1;
}

/*
 * start is the number the window begins at: 0 for a new SA. A receiver whose
 * peer starts elsewhere (an SA moved between boxes, a test beginning near
 * 2^32) says so here, as `ip xfrm state … replay-seq-hi/replay-seq` does;
 * Appendix A cannot infer the subspace of a first packet by itself.
 * Returns -1 for an unsupported size (the window is then unusable).
 */
UMIGAME_REPLAY_FN int umigame_replay_init(struct umigame_replay_window *w, __u32 size, __u32 flags,
				      __u64 start)
{
	__u32 i;

	w->top = (flags & UMIGAME_REPLAY_F_ESN) ? start : (__u32)start;
	w->size = 0;
	w->flags = flags;
	w->blocks = 0;
	w->pad = 0;
	for (i = 0; i < UMIGAME_REPLAY_MAX_BLOCKS; i++)
		w->bitmap[i] = 0;
	if (umigame_replay_valid_size(size))
		return -1;
	w->size = size;
	w->blocks = 2 * size / 64;
	return 0;
}

/*
 * The full sequence number of a packet carrying seq_lo (RFC 4303 Appendix
 * A2.2). With T = top and W = size: when the window lies within one 2^32
 * subspace (Tl >= W - 1), a low number at or above the window's bottom is in
 * T's subspace and one below it in the next; when the window straddles a
 * subspace boundary, a low number at or above the bottom (mod 2^32) is in
 * the previous subspace and one below it in T's.
 */
UMIGAME_REPLAY_FN int umigame_replay_infer(const struct umigame_replay_window *w, __u32 seq_lo,
				       __u64 *seq)
{
	__u32 tl = (__u32)w->top, th = (__u32)(w->top >> 32);
	__u32 bottom = tl - w->size + 1; /* mod 2^32 */

	if (!(w->flags & UMIGAME_REPLAY_F_ESN)) {
		if (seq_lo == 0)
			return UMIGAME_REPLAY_ZERO;
		*seq = seq_lo;
		return UMIGAME_REPLAY_OK;
	}
	if (tl >= w->size - 1) {
		if (seq_lo >= bottom) {
			*seq = ((__u64)th << 32) | seq_lo;
		} else {
			if (th == 0xffffffffU)
				return UMIGAME_REPLAY_EXHAUSTED;
			*seq = ((__u64)(th + 1) << 32) | seq_lo;
		}
	} else {
		if (seq_lo >= bottom) {
			/* Before the first subspace: nothing was ever sent there. */
			if (th == 0)
				return UMIGAME_REPLAY_TOO_OLD;
			*seq = ((__u64)(th - 1) << 32) | seq_lo;
		} else {
			*seq = ((__u64)th << 32) | seq_lo;
		}
	}
	return *seq == 0 ? UMIGAME_REPLAY_ZERO : UMIGAME_REPLAY_OK;
}

/* Ring slot of block number `block` (sequence number / 64). */
UMIGAME_REPLAY_FN __u32 umigame_replay_slot(const struct umigame_replay_window *w, __u64 block)
{
	/* The constant mask keeps the index provably inside the array. */
	return (__u32)block & (w->blocks - 1) & (UMIGAME_REPLAY_MAX_BLOCKS - 1);
}

/* May seq still be accepted? Changes nothing. */
UMIGAME_REPLAY_FN int umigame_replay_check(const struct umigame_replay_window *w, __u64 seq)
{
	if (seq == 0)
		return UMIGAME_REPLAY_ZERO;
	if (seq > w->top)
		return UMIGAME_REPLAY_OK;
	if (w->top - seq >= w->size)
		return UMIGAME_REPLAY_TOO_OLD;
	if (w->bitmap[umigame_replay_slot(w, seq >> 6)] & (1ULL << (seq & 63)))
		return UMIGAME_REPLAY_DUPLICATE;
	return UMIGAME_REPLAY_OK;
}

/*
 * Accept seq (its ICV verified): slide the window when seq is ahead,
 * clearing the blocks it enters (RFC 6479 §2.2), then mark seq. Returns
 * what check() would have said; the window changes only on OK.
 */
UMIGAME_REPLAY_FN int umigame_replay_advance(struct umigame_replay_window *w, __u64 seq)
{
	int verdict = umigame_replay_check(w, seq);
	__u64 from, to;
	__u32 i;

	if (verdict != UMIGAME_REPLAY_OK)
		return verdict;
	if (seq > w->top) {
		from = (w->top >> 6) + 1;
		to = seq >> 6;
		if (to >= from) {
			/* A jump of a whole ring or more clears every block once. */
			if (to - from >= w->blocks)
				from = to - w->blocks + 1;
			for (i = 0; i < UMIGAME_REPLAY_MAX_BLOCKS; i++) {
				if (from + i > to)
					break;
				w->bitmap[umigame_replay_slot(w, from + i)] = 0;
			}
		}
		w->top = seq;
	}
	w->bitmap[umigame_replay_slot(w, seq >> 6)] |= 1ULL << (seq & 63);
	return UMIGAME_REPLAY_OK;
}

#endif /* UMIGAME_REPLAY_H */
