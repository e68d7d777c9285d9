// SPDX-License-Identifier: GPL-2.0
/*
 * Regions: a VM binding and the slot table behind the memory its VMM maps.
 *
 * The VMM mmap()s the region file and registers the range as a KVM memslot.
 * The mapping is VM_PFNMAP | VM_IO and filled one page at a time by the
 * fault handler from the slot table, so KVM reads the host page table on an
 * EPT/NPT fault and finds whatever page the slot holds at that moment.  To
 * move a page into a slot, a flip swaps the table entry and unmaps the
 * slot's range from the region's own address_space; KVM's MMU notifier zaps
 * the guest mapping and flushes TLBs before unmap_mapping_range() returns.
 * No KVM internals are involved, and no page of a region can be pinned
 * through the mapping.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm_pageflip.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include "binding.h"
#include "ctx.h"
#include "fs.h"
#include "ioctl.h"
#include "pool.h"
#include "port.h"
#include "region.h"
#include "vm.h"

static vm_fault_t kpf_region_fault(struct vm_fault *vmf)
{
	struct kpf_region *region = vmf->vma->vm_private_data;
	vm_fault_t ret;

	if (vmf->pgoff >= region->nr_slots)
		return VM_FAULT_SIGBUS;

	mutex_lock(&region->lock);
	ret = vmf_insert_pfn(vmf->vma, vmf->address,
			     page_to_pfn(region->slots[vmf->pgoff]->page));
	mutex_unlock(&region->lock);
	return ret;
}

static const struct vm_operations_struct kpf_region_vm_ops = {
	.fault = kpf_region_fault,
};

static int kpf_region_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kpf_region *region = file->private_data;

	if (current->mm != region->mm) {
		kpf_user_err("only the VM's process may map binding %u\n",
			     region->binding_id);
		return -EPERM;
	}
	if (!(vma->vm_flags & VM_SHARED)) {
		kpf_user_err("binding %u: mappings must be MAP_SHARED\n",
			     region->binding_id);
		return -EINVAL;
	}
	if (vma->vm_pgoff >= region->nr_slots ||
	    vma_pages(vma) > region->nr_slots - vma->vm_pgoff) {
		kpf_user_err("binding %u: mapping beyond its %u slots\n",
			     region->binding_id, region->nr_slots);
		return -EINVAL;
	}

	vm_flags_set(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP |
				  VM_DONTCOPY);
	vma->vm_ops = &kpf_region_vm_ops;
	vma->vm_private_data = region;
	return 0;
}

/* Undo kpf_region_create(); also the end of a region whose file is gone. */
static void kpf_region_destroy(struct kpf_region *region)
{
	u32 i;

	kpf_binding_remove(region->binding_id);
	kpf_port_delete_all(region);
	for (i = 0; i < region->nr_slots && region->slots[i]; i++)
		kpf_pool_release(region->slots[i], &region->stats);
	if (region->ctx)
		kpf_ctx_put(region->ctx);
	if (region->vm_file)
		fput(region->vm_file);
	bitmap_free(region->ctrl);
	bitmap_free(region->posted);
	mutex_destroy(&region->lock);
	kvfree(region);
}

static int kpf_region_release(struct inode *inode, struct file *file)
{
	kpf_region_destroy(file->private_data);
	return 0;
}

static int kpf_ioctl_region_flip(struct kpf_ucmd *ucmd)
{
	struct kpf_region_flip *cmd = ucmd->cmd;
	int ret;

	if (cmd->__reserved || cmd->__reserved2)
		return kpf_ucmd_reserved(ucmd);
	ret = kpf_region_flip(ucmd->obj, cmd);
	if (ret)
		return ret;
	/* The flip is done; a caller that cannot read the result loses nothing. */
	return kpf_ucmd_respond(ucmd);
}

static int kpf_ioctl_region_add_port(struct kpf_ucmd *ucmd)
{
	struct kpf_region_add_port *cmd = ucmd->cmd;
	struct kpf_region *region = ucmd->obj;
	int ret;

	if (cmd->__reserved)
		return kpf_ucmd_reserved(ucmd);
	ret = kpf_port_create(region, cmd);
	if (ret)
		return ret;
	ret = kpf_ucmd_respond(ucmd);
	if (ret)
		kpf_port_delete(region, cmd->out_port_id);
	return ret;
}

static int kpf_ioctl_region_del_port(struct kpf_ucmd *ucmd)
{
	struct kpf_region_del_port *cmd = ucmd->cmd;

	if (cmd->__reserved)
		return kpf_ucmd_reserved(ucmd);
	return kpf_port_delete(ucmd->obj, cmd->port_id);
}

#define KPF_REGION_CMD_BASE KPF_CMD_REGION_FLIP
static const struct kpf_ioctl_op kpf_region_ops[] = {
	KPF_IOCTL_OP(KPF_REGION_CMD_BASE, KPF_REGION_FLIP,
		     kpf_ioctl_region_flip, struct kpf_region_flip, __reserved2,
		     0),
	KPF_IOCTL_OP(KPF_REGION_CMD_BASE, KPF_REGION_ADD_PORT,
		     kpf_ioctl_region_add_port, struct kpf_region_add_port,
		     __reserved, 0),
	KPF_IOCTL_OP(KPF_REGION_CMD_BASE, KPF_REGION_DEL_PORT,
		     kpf_ioctl_region_del_port, struct kpf_region_del_port,
		     __reserved, 0),
};

static long kpf_region_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	return kpf_ioctl_dispatch(kpf_region_ops, ARRAY_SIZE(kpf_region_ops),
				  KPF_REGION_CMD_BASE, cmd, arg, file);
}

static const struct file_operations kpf_region_fops = {
	.owner = THIS_MODULE,
	.release = kpf_region_release,
	.mmap = kpf_region_mmap,
	.unlocked_ioctl = kpf_region_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/**
 * kpf_region_from_file() - the region behind a file, if it is a region file
 * @file: any file
 *
 * Return: the region, valid while the caller holds @file, or NULL.
 */
struct kpf_region *kpf_region_from_file(struct file *file)
{
	return file->f_op == &kpf_region_fops ? file->private_data : NULL;
}

/**
 * kpf_region_create() - bind a VM and create its region
 * @ctx: the control context whose staged frames the region will accept
 * @vm_fd: the VM fd
 * @nr_slots: number of slots, already checked against KPF_MAX_SLOTS
 *
 * Every slot gets a zeroed page.  The region's binding id is reserved but not
 * published: call kpf_binding_publish() once the fd can no longer fail.
 *
 * Return: the region file, or an ERR_PTR (see KPF_CREATE_REGION).
 */
struct file *kpf_region_create(struct kpf_ctx *ctx, int vm_fd, u32 nr_slots)
{
	struct kpf_region *region;
	struct file *vm_file, *file;
	struct mm_struct *mm;
	struct kpf_page *kp;
	int ret;
	u32 i;

	vm_file = kpf_vm_fget(vm_fd, &mm);
	if (IS_ERR(vm_file))
		return vm_file;

	region = kvzalloc(struct_size(region, slots, nr_slots),
			  GFP_KERNEL_ACCOUNT);
	if (!region) {
		fput(vm_file);
		return ERR_PTR(-ENOMEM);
	}
	mutex_init(&region->lock);
	INIT_LIST_HEAD(&region->ports);
	region->vm_file = vm_file;
	region->mm = mm;
	region->nr_slots = nr_slots;
	region->vmm_tgid = task_tgid_nr(current);
	kpf_ctx_get(ctx);
	region->ctx = ctx;
	region->ctrl = bitmap_zalloc(nr_slots, GFP_KERNEL_ACCOUNT);
	region->posted = bitmap_zalloc(nr_slots, GFP_KERNEL_ACCOUNT);
	if (!region->ctrl || !region->posted) {
		ret = -ENOMEM;
		goto err_destroy;
	}

	for (i = 0; i < nr_slots; i++) {
		kp = kpf_pool_take(KPF_PAGE_SLOT, 0, 0, &region->stats);
		if (IS_ERR(kp)) {
			ret = PTR_ERR(kp);
			goto err_destroy;
		}
		region->slots[i] = kp;
	}

	ret = kpf_binding_reserve(&region->binding_id);
	if (ret)
		goto err_destroy;

	file = kpf_fs_file_create("kvm-pageflip-region", &kpf_region_fops,
				  region);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_destroy;
	}
	region->mapping = file->f_mapping;
	return file;

err_destroy:
	kpf_region_destroy(region);
	return ERR_PTR(ret);
}
