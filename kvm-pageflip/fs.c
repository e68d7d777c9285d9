// SPDX-License-Identifier: GPL-2.0
/*
 * A private pseudo filesystem, so that every region file has an inode, and
 * so an address_space, of its own.  unmap_mapping_range() on that
 * address_space then reaches exactly the mappings of one region.  The shared
 * anonymous inode would not do: every anon-inode file in the system,
 * KVM's vCPU files included, shares its address_space.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include "fs.h"

#define KPF_FS_MAGIC 0x6b706672 /* "kpfr" */

static struct vfsmount *kpf_mnt;

static int kpf_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, KPF_FS_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type kpf_fs_type = {
	.name = "kvm-pageflip",
	.init_fs_context = kpf_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

/**
 * kpf_fs_file_create() - create a file with an inode of its own
 * @name: name shown in /proc/PID/fd and /proc/PID/maps
 * @fops: its operations; @fops->owner must be this module
 * @private_data: stored in file->private_data
 *
 * The file holds a reference on this module, dropped when it is released.
 *
 * Return: the file (O_RDWR), or an ERR_PTR.
 */
struct file *kpf_fs_file_create(const char *name,
				const struct file_operations *fops,
				void *private_data)
{
	struct inode *inode;
	struct file *file;

	inode = alloc_anon_inode(kpf_mnt->mnt_sb);
	if (IS_ERR(inode))
		return ERR_CAST(inode);

	/* __fput() drops the module reference through fops_put(). */
	__module_get(fops->owner);
	file = alloc_file_pseudo(inode, kpf_mnt, name, O_RDWR, fops);
	if (IS_ERR(file)) {
		module_put(fops->owner);
		iput(inode);
		return file;
	}
	file->private_data = private_data;
	return file;
}

/**
 * kpf_fs_init() - mount the private pseudo filesystem
 *
 * Return: 0 or a negative errno.
 */
int kpf_fs_init(void)
{
	kpf_mnt = kern_mount(&kpf_fs_type);
	return PTR_ERR_OR_ZERO(kpf_mnt);
}

/**
 * kpf_fs_uninit() - unmount it; every file created on it is gone by then
 */
void kpf_fs_uninit(void)
{
	kern_unmount(kpf_mnt);
}
