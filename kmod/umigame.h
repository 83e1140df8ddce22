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

#endif /* UMIGAME_H */
