// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-pageflip: zero-copy receive into KVM guests by page flipping.
 *
 * This file only orders set-up and tear-down; each object lives in its own
 * file (see Documentation/design.rst).
 */
#include <linux/kvm_pageflip.h>
#include <linux/module.h>
#include "chardev.h"
#include "debug.h"
#include "fs.h"
#include "pool.h"
#include "port.h"
#include "uplink.h"

static int __init kpf_init(void)
{
	int ret;

	ret = kpf_fs_init();
	if (ret)
		return ret;
	ret = kpf_port_init();
	if (ret)
		goto err_uninit_fs;
	ret = kpf_uplink_init();
	if (ret)
		goto err_uninit_port;
	ret = kpf_chardev_init();
	if (ret)
		goto err_uninit_uplink;
	kpf_debug_init();
	return 0;

err_uninit_uplink:
	kpf_uplink_uninit();
err_uninit_port:
	kpf_port_uninit();
err_uninit_fs:
	kpf_fs_uninit();
	return ret;
}

static void __exit kpf_exit(void)
{
	kpf_debug_uninit();
	kpf_chardev_uninit();
	kpf_uplink_uninit();
	kpf_port_uninit();
	kpf_fs_uninit();
	kpf_pool_uninit();
}

module_init(kpf_init);
module_exit(kpf_exit);

MODULE_DESCRIPTION("Zero-copy receive into KVM guests by page flipping");
MODULE_LICENSE("GPL");
MODULE_VERSION(__stringify(KPF_API_VERSION));
