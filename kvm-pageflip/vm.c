// SPDX-License-Identifier: GPL-2.0
/*
 * The KVM side of a binding, kept as thin as KVM allows.
 *
 * The module uses no KVM symbol.  file_is_kvm() would recognise a VM file
 * exactly, but from 7.3 on it is exported to kvm-amd and kvm-intel only.
 * A VM file is recognised instead by what KVM makes of it: a file on the
 * anonymous-inode filesystem whose dentry KVM named "kvm-vm".  Only kernel
 * code chooses those names, and only KVM uses this one.  Kernels that set
 * an owner on KVM's file_operations (6.6 and later) must also name the
 * vendor module as that owner.  The only field of struct kvm read is mm.
 *
 * The binding holds the VM *file*: that keeps struct kvm alive, and with it
 * the vendor module, which every VM pins, without calling into KVM.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm_host.h>
#include <linux/magic.h>
#include <linux/module.h>
#include <linux/string.h>
#include "ioctl.h"
#include "vm.h"

static bool kpf_file_is_kvm_vm(const struct file *file)
{
	const struct module *owner = file->f_op->owner;

	if (file_inode(file)->i_sb->s_magic != ANON_INODE_FS_MAGIC)
		return false;
	if (strcmp(file->f_path.dentry->d_name.name, "kvm-vm"))
		return false;
	return !owner || !strcmp(owner->name, "kvm_amd") ||
	       !strcmp(owner->name, "kvm_intel");
}

/**
 * kpf_vm_fget() - take a reference on a KVM VM file of the calling process
 * @fd: the VM fd
 * @mm: out: the address space the VM belongs to
 *
 * Return: the file, or ERR_PTR(-EBADF) if @fd is not open, -EINVAL if it is
 * not a KVM VM, -EPERM if the VM belongs to another process.
 */
struct file *kpf_vm_fget(int fd, struct mm_struct **mm)
{
	struct file *file;
	struct kvm *kvm;

	file = fget(fd);
	if (!file) {
		kpf_user_err("vm_fd %d is not an open fd\n", fd);
		return ERR_PTR(-EBADF);
	}
	if (!kpf_file_is_kvm_vm(file)) {
		kpf_user_err("vm_fd %d is not a KVM VM\n", fd);
		fput(file);
		return ERR_PTR(-EINVAL);
	}
	kvm = file->private_data;
	if (kvm->mm != current->mm) {
		kpf_user_err("vm_fd %d is a VM of another process\n", fd);
		fput(file);
		return ERR_PTR(-EPERM);
	}
	*mm = kvm->mm;
	return file;
}
