// SPDX-License-Identifier: GPL-2.0
/*
 * The KVM side of a binding, kept as thin as KVM allows.
 *
 * The module uses no KVM symbol: it recognises a VM file by what KVM makes
 * of it (an anonymous-inode file named "kvm-vm" whose file_operations belong
 * to the loaded vendor module) and reads only the owning mm of struct kvm.
 * file_is_kvm() would be exact, but from 7.3 on it is exported to kvm-amd
 * and kvm-intel only.  Holding the VM *file* rather than a struct kvm
 * reference also pins the vendor module for as long as the binding lives,
 * which kvm_get_kvm() would not do.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm_host.h>
#include <linux/module.h>
#include <linux/string.h>
#include "vm.h"

static bool kpf_file_is_kvm_vm(const struct file *file)
{
	const struct module *owner = file->f_op ? file->f_op->owner : NULL;

	if (!owner || (strcmp(owner->name, "kvm_amd") &&
		       strcmp(owner->name, "kvm_intel")))
		return false;
	return !strcmp(file->f_path.dentry->d_name.name, "kvm-vm");
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
	if (!file)
		return ERR_PTR(-EBADF);
	if (!kpf_file_is_kvm_vm(file)) {
		fput(file);
		return ERR_PTR(-EINVAL);
	}
	kvm = file->private_data;
	if (kvm->mm != current->mm) {
		fput(file);
		return ERR_PTR(-EPERM);
	}
	*mm = kvm->mm;
	return file;
}
