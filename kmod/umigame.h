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

struct dentry;
struct xdp_md;

/*
 * umigame_main.c: the module's debugfs directory (/sys/kernel/debug/umigame),
 * made before the pieces' inits and removed after their exits; each piece
 * removes its own files in its exit.
 */
extern struct dentry *umigame_debugfs;

/* umigame_esp.c: ESP SAs (generic netlink "umigame_esp") and their kfuncs. */
int umigame_esp_init(void);
void umigame_esp_exit(void);
int umigame_esp_decrypt(struct xdp_md *ctx, u32 sa_id, u32 esp_off, u32 seq_hi);
void umigame_esp_note_replay(struct xdp_md *ctx, u32 sa_id, u64 seq);

/* umigame_csum.c: CRC32c over an XDP frame (stateless, no init/exit). */
s64 umigame_crc32c(struct xdp_md *ctx, u32 off, u32 len, u32 crc);

/*
 * umigame_isatap.c: the ISATAP link type "umigame-isatap" (RFC 5214),
 * links per network namespace.
 */
int umigame_isatap_init(void);
void umigame_isatap_exit(void);

/*
 * umigame_pimreg.c: the PIM Register link type "umigame-pimreg" (RFC 7761
 * §4.4.1) and its generic netlink family "umigame_pim".
 */
int umigame_pimreg_init(void);
void umigame_pimreg_exit(void);

/*
 * umigame_kfunc.c: the one BTF kfunc set of the module (6.1 takes one set
 * per program type and module), listing every piece's kfuncs.
 */
int umigame_kfunc_init(void);
void umigame_kfunc_exit(void);

#endif /* UMIGAME_H */
