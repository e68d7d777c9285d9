// SPDX-License-Identifier: GPL-2.0
/*
 * Flipping a batch of staged pages into a region's slots.
 *
 * The batch is validated whole before anything changes.  It is sorted by
 * slot so that contiguous slots form runs; each run is swapped in the slot
 * table and then invalidated with one unmap_mapping_range() call, under the
 * region lock that the fault handler also takes.  When the call returns,
 * KVM has zapped the guest mappings of the whole run and flushed the TLBs
 * of every vCPU, so the pages that left the slots can go back to the pool.
 *
 * The VMM's mmap_lock is held for write around the swap.  KVM resolves a
 * guest fault on a VM_PFNMAP memslot by looking up the PTE, calling
 * fixup_user_fault() when there is none, and looking it up again, all under
 * mmap_lock for read; a PTE removed between the fault and the second lookup
 * makes KVM_RUN fail with EFAULT instead of retrying.  Excluding that window
 * costs one lock round trip per batch.
 */
#include <linux/kvm_pageflip.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include "ctx.h"
#include "ioctl.h"
#include "pool.h"
#include "region.h"

static int kpf_flip_entry_cmp(const void *a, const void *b)
{
	const struct kpf_flip_entry *x = a, *y = b;

	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Sort @entries by slot; -EINVAL if a slot is out of range or repeated. */
static int kpf_flip_sort(struct kpf_flip_entry *entries, u32 n, u32 nr_slots)
{
	u32 i;

	sort(entries, n, sizeof(*entries), kpf_flip_entry_cmp, NULL);
	for (i = 0; i < n; i++) {
		if (entries[i].slot >= nr_slots) {
			kpf_user_err("flip: slot %u is beyond the %u slots\n",
				     entries[i].slot, nr_slots);
			return -EINVAL;
		}
		if (i && entries[i].slot == entries[i - 1].slot) {
			kpf_user_err("flip: slot %u appears twice\n",
				     entries[i].slot);
			return -EINVAL;
		}
	}
	return 0;
}

/* -EBUSY if a slot of the batch holds a port's ring or is posted to one. */
static int kpf_flip_check_busy(struct kpf_region *region,
			       const struct kpf_flip_entry *entries, u32 n)
{
	u32 i;

	lockdep_assert_held(&region->lock);
	for (i = 0; i < n; i++) {
		if (test_bit(entries[i].slot, region->ctrl) ||
		    test_bit(entries[i].slot, region->posted)) {
			kpf_user_err("flip: slot %u belongs to a port\n",
				     entries[i].slot);
			return -EBUSY;
		}
	}
	return 0;
}

/**
 * kpf_flip_invalidate() - make the guest and the VMM drop their mappings
 * @region: the region
 * @first: first slot
 * @n: number of slots
 *
 * Caller holds the region's lock.  When this returns, KVM's MMU notifier has
 * zapped the guest mappings of the range and flushed every vCPU's TLB.
 */
void kpf_flip_invalidate(struct kpf_region *region, u32 first, u32 n)
{
	lockdep_assert_held(&region->lock);
	unmap_mapping_range(region->mapping, (loff_t)first << PAGE_SHIFT,
			    (loff_t)n << PAGE_SHIFT, 1);
}

/*
 * Put pages[i] into slot entries[i].slot, for sorted @entries, and leave the
 * slot's previous page in pages[i].  Return the number of invalidations.
 */
static u32 kpf_flip_swap(struct kpf_region *region,
			 const struct kpf_flip_entry *entries,
			 struct kpf_page **pages, u32 n)
{
	u32 i, run_start = 0, runs = 0;
	struct kpf_page *old;

	lockdep_assert_held(&region->lock);
	for (i = 0; i < n; i++) {
		old = region->slots[entries[i].slot];
		kpf_pool_move(pages[i], KPF_PAGE_SLOT);
		region->slots[entries[i].slot] = pages[i];
		pages[i] = old;

		if (i + 1 < n && entries[i + 1].slot == entries[i].slot + 1)
			continue;
		kpf_flip_invalidate(region, entries[run_start].slot,
				    i + 1 - run_start);
		runs++;
		run_start = i + 1;
	}
	return runs;
}

/**
 * kpf_region_flip() - execute KPF_REGION_FLIP
 * @region: the region
 * @cmd: the command; @cmd->out_invalidations is set on success
 *
 * Return: 0, or -EINVAL, -ENOENT, -EFAULT, -ENOMEM; the region and the
 * staged frames are unchanged on error.
 */
int kpf_region_flip(struct kpf_region *region, struct kpf_region_flip *cmd)
{
	struct kpf_flip_entry *entries;
	struct kpf_page **pages;
	u32 i, n = cmd->nr_entries;
	u32 runs = 0;
	int ret;

	if (!n || n > KPF_MAX_BATCH) {
		kpf_user_err("flip: nr_entries %u is not in 1..%u\n", n,
			     KPF_MAX_BATCH);
		return -EINVAL;
	}

	entries = memdup_user(u64_to_user_ptr(cmd->entries),
			      n * sizeof(*entries));
	if (IS_ERR(entries))
		return PTR_ERR(entries);
	pages = kmalloc_array(n, sizeof(*pages), GFP_KERNEL);
	if (!pages) {
		ret = -ENOMEM;
		goto out_free_entries;
	}

	ret = kpf_flip_sort(entries, n, region->nr_slots);
	if (ret)
		goto out_free_pages;

	mmap_write_lock(region->mm);
	mutex_lock(&region->lock);
	ret = kpf_flip_check_busy(region, entries, n);
	if (!ret)
		ret = kpf_ctx_claim(region->ctx, entries, n, pages);
	if (!ret)
		runs = kpf_flip_swap(region, entries, pages, n);
	mutex_unlock(&region->lock);
	mmap_write_unlock(region->mm);
	if (ret)
		goto out_free_pages;

	for (i = 0; i < n; i++)
		kpf_pool_release(pages[i], &region->stats);

	kpf_stat_add(&region->stats, KPF_STAT_FLIPS, n);
	kpf_stat_add(&region->stats, KPF_STAT_BATCHES, 1);
	kpf_stat_add(&region->stats, KPF_STAT_INVALIDATIONS, runs);
	cmd->out_invalidations = runs;

out_free_pages:
	kfree(pages);
out_free_entries:
	kfree(entries);
	return ret;
}
