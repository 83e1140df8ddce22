// SPDX-License-Identifier: GPL-2.0
/*
 * CRC32c over an XDP frame, for the SCTP classifier (bpf/classify.bpf.c):
 * RFC 9260 §6.8 / Appendix A checksums, which eBPF cannot compute at any
 * useful speed by itself. Stateless: no init/exit pair.
 *
 * The kernel's CRC32c from lib/crc32.c (__crc32c_le, built in with
 * CONFIG_CRC32), not libcrc32c's crc32c(): that one lives in a module of
 * its own on Debian's 6.1, which a plain insmod of umigame.ko would not
 * load first.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bpf.h>
#include <linux/crc32.h>
#include <linux/filter.h>
#include <net/xdp.h>

#include "compat.h"
#include "umigame.h"

/*
 * umigame_crc32c - the CRC32c register after bytes [off, off + len) of the
 * frame's linear area, starting from crc (~0 for a fresh sum; the result of
 * a previous call to go on). Returns it (not inverted: the caller finishes
 * with ~), or -EINVAL when the range is not inside the linear area or
 * longer than 64 KiB; nothing is read then.
 */
__bpf_kfunc s64 umigame_crc32c(struct xdp_md *ctx, u32 off, u32 len, u32 crc)
{
	struct xdp_buff *xdp = (struct xdp_buff *)ctx;
	u32 linear = xdp->data_end - xdp->data;

	if (unlikely(len > 65536 || off > linear || len > linear - off))
		return -EINVAL;
	return umigame_crc32c_update(crc, (const u8 *)xdp->data + off, len);
}
