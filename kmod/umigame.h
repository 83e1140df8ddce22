/* SPDX-License-Identifier: GPL-2.0 */
/*
 * umigame.ko: declarations shared by the module's pieces.
 *
 * Every piece (kfuncs, ESN replay, ISATAP, ...) lives in its own
 * umigame_<piece>.c and exports a symmetric pair
 *
 *	int umigame_<piece>_init(void);
 *	void umigame_<piece>_exit(void);
 *
 * declared here; umigame_main.c calls the inits in order and the exits in
 * reverse order. Every non-static symbol starts with "umigame_".
 */
#ifndef UMIGAME_H
#define UMIGAME_H

#define UMIGAME_VERSION "0.1.0"

#include <linux/types.h>

struct xdp_md;

/* umigame_esp.c: ESP SAs (generic netlink "umigame_esp") and their kfuncs. */
int umigame_esp_init(void);
void umigame_esp_exit(void);
int umigame_esp_decrypt(struct xdp_md *ctx, u32 sa_id, u32 esp_off, u32 seq_hi);
void umigame_esp_note_replay(struct xdp_md *ctx, u32 sa_id, u64 seq);

/*
 * umigame_kfunc.c: the one BTF kfunc set of the module (6.1 takes one set
 * per program type and module), listing every piece's kfuncs.
 */
int umigame_kfunc_init(void);
void umigame_kfunc_exit(void);

#endif /* UMIGAME_H */
