// SPDX-License-Identifier: GPL-2.0
/*
 * The registry of live bindings, by module-wide id, so that statistics can
 * be read by id without holding the region's fd.
 *
 * An id is reserved when the region is created and published only once
 * nothing can fail any more; a reserved id resolves to nothing.  The
 * xarray's own spinlock keeps a region alive while its entry is read: the
 * region is erased from the registry before it is freed.
 */
#include <linux/minmax.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include "binding.h"
#include "region.h"

static DEFINE_XARRAY_ALLOC1(kpf_bindings);

/**
 * kpf_binding_reserve() - reserve a binding id
 * @id: out: the id, never 0
 *
 * Return: 0, -ENOMEM, or -EBUSY when every id is taken.
 */
int kpf_binding_reserve(u32 *id)
{
	return xa_alloc(&kpf_bindings, id, NULL, xa_limit_32b, GFP_KERNEL);
}

/**
 * kpf_binding_publish() - make a reserved id resolve to @region
 * @region: a fully set-up region whose @binding_id was reserved
 */
void kpf_binding_publish(struct kpf_region *region)
{
	WARN_ON(xa_store(&kpf_bindings, region->binding_id, region,
			 GFP_KERNEL));
}

/**
 * kpf_binding_remove() - release a reserved or published id
 * @id: the id
 */
void kpf_binding_remove(u32 id)
{
	xa_erase(&kpf_bindings, id);
}

/**
 * kpf_binding_read() - read the counters of one binding
 * @id: the binding id
 * @counters: out
 *
 * Return: 0, or -ENOENT if no live binding has @id.
 */
int kpf_binding_read(u32 id, struct kpf_counters *counters)
{
	struct kpf_region *region;
	int ret = -ENOENT;

	xa_lock(&kpf_bindings);
	region = xa_load(&kpf_bindings, id);
	if (region) {
		kpf_stats_read(&region->stats, counters);
		counters->pages_in_slots = region->nr_slots;
		counters->pages_allocated = region->nr_slots;
		ret = 0;
	}
	xa_unlock(&kpf_bindings);
	return ret;
}

static void kpf_binding_info_fill(struct kpf_binding_info *info,
				  const struct kpf_region *region)
{
	*info = (struct kpf_binding_info){
		.binding_id = region->binding_id,
		.nr_slots = region->nr_slots,
		.vmm_pid = region->vmm_tgid,
	};
}

/**
 * kpf_binding_list() - describe the live bindings to userspace
 * @uinfo: user array with room for @room entries
 * @room: its capacity
 * @total: out: number of live bindings seen
 *
 * Entries are written in ascending id order, in chunks copied outside the
 * registry's lock.  Bindings created or destroyed meanwhile may or may not
 * be listed.
 *
 * Return: 0 or -EFAULT.
 */
int kpf_binding_list(struct kpf_binding_info __user *uinfo, u32 room,
		     u32 *total)
{
	struct kpf_binding_info chunk[16];
	struct kpf_region *region;
	unsigned long index, start = 0;
	u32 seen = 0, written = 0, n;

	do {
		n = 0;
		xa_lock(&kpf_bindings);
		xa_for_each_start(&kpf_bindings, index, region, start) {
			if (seen >= room) {
				seen++;
				continue;
			}
			if (n == ARRAY_SIZE(chunk))
				break;
			kpf_binding_info_fill(&chunk[n++], region);
			seen++;
		}
		xa_unlock(&kpf_bindings);

		if (n &&
		    copy_to_user(uinfo + written, chunk, n * sizeof(chunk[0])))
			return -EFAULT;
		written += n;
		start = index;
	} while (region);

	*total = seen;
	return 0;
}
