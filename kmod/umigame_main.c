// SPDX-License-Identifier: GPL-2.0
/*
 * umigame.ko: entry point. The module adds the pieces Linux lacks for a
 * KAME-style IPv6/IPsec router; each piece has its own file and an
 * init/exit pair, called from here in order (and undone in reverse order
 * when a later init fails or when the module is unloaded).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/printk.h>

#include "compat.h"
#include "umigame.h"

struct dentry *umigame_debugfs;

static int __init umigame_mod_init(void)
{
	int ret;

	/* debugfs errors are not checked: the module works without it. */
	umigame_debugfs = debugfs_create_dir(KBUILD_MODNAME, NULL);
	/*
	 * Pieces are chained here, WireGuard style: each failure undoes, in
	 * reverse order, what already succeeded.
	 */
	ret = umigame_esp_init();
	if (ret < 0)
		goto err_esp;
	ret = umigame_isatap_init();
	if (ret < 0)
		goto err_isatap;
	ret = umigame_pimreg_init();
	if (ret < 0)
		goto err_pimreg;
	/* Last: the kfuncs list every piece's functions. */
	ret = umigame_kfunc_init();
	if (ret < 0)
		goto err_kfunc;

	pr_info("version " UMIGAME_VERSION " loaded\n");
	return 0;

err_kfunc:
	umigame_pimreg_exit();
err_pimreg:
	umigame_isatap_exit();
err_isatap:
	umigame_esp_exit();
err_esp:
	debugfs_remove(umigame_debugfs);
	return ret;
}

static void __exit umigame_mod_exit(void)
{
	/* Undo umigame_mod_init() in reverse order. */
	umigame_kfunc_exit();
	umigame_pimreg_exit();
	umigame_isatap_exit();
	umigame_esp_exit();
	debugfs_remove(umigame_debugfs);
	pr_info("version " UMIGAME_VERSION " unloaded\n");
}

module_init(umigame_mod_init);
module_exit(umigame_mod_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("umigame: KAME's missing IPv6/IPsec pieces for Linux routers");
MODULE_AUTHOR("umigame developers");
MODULE_VERSION(UMIGAME_VERSION);
