// SPDX-License-Identifier: GPL-2.0
/*
 * The module's kfuncs for XDP programs, registered with the module's BTF.
 *
 * 6.1 keeps one kfunc set per program type and module (a second
 * registration for the same type WARNs and fails), so every piece's XDP
 * kfuncs are listed here, in this one set; the bodies stay in their pieces.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bpf.h>
#include <linux/module.h>
#include <linux/printk.h>

#include "compat.h"
#include "umigame.h"

BTF_KFUNCS_START(umigame_xdp_kfunc_ids)
BTF_ID_FLAGS(func, umigame_esp_decrypt)
BTF_ID_FLAGS(func, umigame_esp_note_replay)
BTF_ID_FLAGS(func, umigame_crc32c)
BTF_KFUNCS_END(umigame_xdp_kfunc_ids)

static const struct btf_kfunc_id_set umigame_xdp_kfunc_set = {
	.owner = THIS_MODULE,
	.set = &umigame_xdp_kfunc_ids,
};

int umigame_kfunc_init(void)
{
	int ret;

#ifdef CONFIG_DEBUG_INFO_BTF_MODULES
	/*
	 * Without module BTF, 6.1 "registers" the set by doing nothing and
	 * returning 0; say so, or an XDP program fails to load with only
	 * "kfunc not found" to go on.
	 */
	if (!THIS_MODULE->btf_data_size)
		pr_warn("built without BTF: the kfuncs (ESP, CRC32c) are not available to XDP (see docs/kmod.md)\n");
#endif
	ret = register_btf_kfunc_id_set(BPF_PROG_TYPE_XDP, &umigame_xdp_kfunc_set);
	if (ret)
		pr_err("cannot register the XDP kfuncs: %d\n", ret);
	return ret;
}

void umigame_kfunc_exit(void)
{
	/*
	 * Nothing to undo, and no API to do it: the set hangs off the module's
	 * BTF, which goes with the module; and a program that uses a kfunc
	 * holds a reference on the module, so none can still call one here.
	 */
}
