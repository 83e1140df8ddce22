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

#include <linux/btf.h>
#include <linux/btf_ids.h>

/* 6.12 moved the unaligned accessors out of asm/. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/*
 * 6.9 tags kfunc sets (BTF_SET8_KFUNCS) and register_btf_kfunc_id_set()
 * refuses an untagged one; before that a plain BTF_SET8 is the kfunc set.
 */
#ifndef BTF_KFUNCS_START
#define BTF_KFUNCS_START(name) BTF_SET8_START(name)
#define BTF_KFUNCS_END(name) BTF_SET8_END(name)
#endif

/*
 * 6.5 spells out what a kfunc needs: an out-of-line body that nothing in
 * C calls, so that pahole puts it into the module's BTF.
 */
#ifndef __bpf_kfunc
#define __bpf_kfunc __used noinline
#endif

/*
 * 6.14 made crc32c() in <linux/crc32.h> the library's CRC32c and dropped
 * __crc32c_le(); before that crc32c() was libcrc32c's, a module of its own.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 14, 0)
#define umigame_crc32c_update(crc, p, len) crc32c(crc, p, len)
#else
#define umigame_crc32c_update(crc, p, len) __crc32c_le(crc, p, len)
#endif

/*
 * 6.12 turned the NETIF_F_NETNS_LOCAL feature into dev->netns_local: a
 * device that must stay in the namespace it was made in.
 */
#include <linux/netdevice.h>
#ifdef NETIF_F_NETNS_LOCAL
#define umigame_netdev_pin_netns(dev) ((dev)->features |= NETIF_F_NETNS_LOCAL)
#else
#define umigame_netdev_pin_netns(dev) ((dev)->netns_local = true)
#endif

/*
 * 6.11 turned the NETIF_F_LLTX feature into dev->lltx: a device whose xmit
 * takes no queue lock of the core's.
 */
#ifdef NETIF_F_LLTX
#define umigame_netdev_lltx(dev) ((dev)->features |= NETIF_F_LLTX)
#else
#define umigame_netdev_lltx(dev) ((dev)->lltx = true)
#endif

#endif /* UMIGAME_COMPAT_H */
