/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version guards. umigame.ko targets Debian 12's 6.1 kernel and must
 * keep building on newer ones: anything whose spelling differs between
 * versions gets a guard here, keyed on LINUX_VERSION_CODE, so that the
 * pieces themselves are written once against the newest API.
 */
#ifndef UMIGAME_COMPAT_H
#define UMIGAME_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "umigame.ko needs Linux 6.1 or newer"
#endif

#endif /* UMIGAME_COMPAT_H */
