/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KPF_REGION_H
#define KPF_REGION_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include "stats.h"

struct kpf_ctx;
struct kpf_page;
struct kpf_region_flip;

/* Limits reported by KPF_GET_INFO. */
#define KPF_MAX_SLOTS 65536
#define KPF_MAX_BATCH 512

/**
 * struct kpf_region - a VM binding and its array of page slots
 *
 * Set at creation, then constant:
 * @ctx: control context whose staged frames this region accepts (a ref)
 * @vm_file: the KVM VM file (a ref); pins the VM and its vendor module
 * @mm: address space of the VM's process; only it may mmap the region
 * @mapping: address_space of the region's own inode
 * @nr_slots: number of slots
 * @binding_id: module-wide id, see binding.c
 * @vmm_tgid: thread-group id of the process that created the binding
 *
 * @lock: protects @slots, @ctrl, @ports and @nr_ports, and the setting
 *        of bits in @posted.  Held across a flip's swaps and
 *        invalidations, and by the fault handler while it inserts a slot's
 *        page, so that a page table never gains a page that has already
 *        left its slot.
 * @ctrl: bitmap of control slots (rings of ports); never flipped
 * @posted: bitmap of slots a guest posted to a port and the port has not
 *          completed yet; only that port's worker flips them.  Bits are
 *          set under @lock and cleared by the port's worker (atomically).
 * @ports: the region's ports (struct kpf_port.region_node)
 * @nr_ports: length of @ports
 * @stats: this binding's counters
 * @slots: the page backing each slot, never NULL while the region lives
 */
struct kpf_region {
	struct kpf_ctx *ctx;
	struct file *vm_file;
	struct mm_struct *mm;
	struct address_space *mapping;
	u32 nr_slots;
	u32 binding_id;
	pid_t vmm_tgid;

	struct mutex lock; /* protects slots[], see above */
	unsigned long *ctrl;
	unsigned long *posted;
	struct list_head ports;
	unsigned int nr_ports;
	struct kpf_stats stats;
	struct kpf_page *slots[];
};

struct kpf_region *kpf_region_from_file(struct file *file);
struct file *kpf_region_create(struct kpf_ctx *ctx, int vm_fd, u32 nr_slots);
int kpf_region_flip(struct kpf_region *region, struct kpf_region_flip *cmd);
void kpf_flip_invalidate(struct kpf_region *region, u32 first, u32 n);

#endif /* KPF_REGION_H */
