// SPDX-License-Identifier: GPL-2.0
/*
 * BAR2, the kvm-pageflip region, in the guest's address space.
 *
 * The receive path hands data pages to the network stack as they are, so
 * BAR2 needs struct pages: memremap_pages() with MEMORY_DEVICE_GENERIC adds
 * the BAR to the kernel's linear map as ZONE_DEVICE memory, the same way
 * device-dax exposes persistent memory.  Each such page starts with a
 * reference count of 1 that no one else uses, and the driver takes one more
 * reference on every data page for as long as the map exists, so the count
 * never drops to zero whatever the stack does: a ZONE_DEVICE page must never
 * reach the page allocator.  A data page is idle, and may be posted again,
 * when its count is back to KPFN_PAGE_REFS_IDLE.
 *
 * Kernels built without ZONE_DEVICE get BAR2 through memremap() and the
 * receive path copies every frame (counted, see rx.c).
 */
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/mm.h>

#include "kpfn.h"

/* The map's own reference plus the driver's. */
#define KPFN_PAGE_REFS_IDLE 2

static int kpfn_region_map_pages(struct kpfn_dev *kd, resource_size_t start,
				 resource_size_t len)
{
	struct device *dev = &kd->pdev->dev;
	u32 slot;
	void *va;

	kd->pgmap.type = MEMORY_DEVICE_GENERIC;
	kd->pgmap.range.start = start;
	kd->pgmap.range.end = start + len - 1;
	kd->pgmap.nr_range = 1;
	va = memremap_pages(&kd->pgmap, dev_to_node(dev));
	if (IS_ERR(va))
		return PTR_ERR(va);

	kd->base_pfn = PHYS_PFN(start);
	for (slot = kd->data_first; slot < kd->nr_slots; slot++) {
		if (page_ref_count(kpfn_slot_page(kd, slot)) != 1) {
			dev_err(dev,
				"BAR2 page %u has %d references, expected 1\n",
				slot, page_ref_count(kpfn_slot_page(kd, slot)));
			goto err_put;
		}
		get_page(kpfn_slot_page(kd, slot));
	}
	kd->region = va;
	kd->has_pages = true;
	return 0;

err_put:
	while (slot-- > kd->data_first)
		put_page(kpfn_slot_page(kd, slot));
	memunmap_pages(&kd->pgmap);
	return -EIO;
}

/**
 * kpfn_region_map() - map BAR2, with struct pages where the kernel can
 * @kd: the device; nr_slots and data_first are known
 *
 * Return: 0, or a negative errno.
 */
int kpfn_region_map(struct kpfn_dev *kd)
{
	struct pci_dev *pdev = kd->pdev;
	resource_size_t start = pci_resource_start(pdev, KPF_PCI_BAR_REGION);
	resource_size_t len = (resource_size_t)kd->nr_slots * KPF_PCI_SLOT_SIZE;
	int ret;

	if (kpfn_has_zone_device()) {
		/* memremap_pages() works in whole 2 MiB subsections. */
		if (IS_ALIGNED(start | len, SZ_2M)) {
			ret = kpfn_region_map_pages(kd, start, len);
			if (!ret)
				return 0;
			dev_warn(&pdev->dev, "BAR2 pages: %d; copying frames\n",
				 ret);
		} else {
			dev_warn(&pdev->dev,
				 "BAR2 is not 2 MiB aligned; copying frames\n");
		}
	} else {
		dev_info(&pdev->dev,
			 "no ZONE_DEVICE in this kernel; copying frames\n");
	}

	kd->region = memremap(start, len, MEMREMAP_WB);
	return kd->region ? 0 : -ENOMEM;
}

/**
 * kpfn_region_page_idle() - is a data page back to the driver alone?
 * @kd: the device
 * @slot: a data slot
 *
 * Return: true when nothing but the map and the driver references the page
 * (always true without struct pages).
 */
bool kpfn_region_page_idle(struct kpfn_dev *kd, u32 slot)
{
	if (!kd->has_pages)
		return true;
	return page_ref_count(kpfn_slot_page(kd, slot)) == KPFN_PAGE_REFS_IDLE;
}

/**
 * kpfn_region_wait_idle() - wait until the stack has released every page
 * @kd: the device, with receive stopped
 *
 * Sockets may keep received frames for as long as their owners do not read
 * them; the map cannot go away before.  Says every ten seconds how many
 * pages are still out.
 */
void kpfn_region_wait_idle(struct kpfn_dev *kd)
{
	unsigned long next_note = jiffies + 10 * HZ;
	u32 slot, busy;

	if (!kd->has_pages)
		return;
	for (;;) {
		busy = 0;
		for (slot = kd->data_first; slot < kd->nr_slots; slot++)
			busy += !kpfn_region_page_idle(kd, slot);
		if (!busy)
			break;
		if (time_after(jiffies, next_note)) {
			dev_info(&kd->pdev->dev,
				 "waiting for the stack to release %u pages\n",
				 busy);
			next_note = jiffies + 10 * HZ;
		}
		msleep(20);
	}
	/* The stack's last writes to the pages before they are unmapped. */
	smp_mb();
}

/**
 * kpfn_region_unmap() - undo kpfn_region_map()
 * @kd: the device; every page must be idle (kpfn_region_wait_idle())
 */
void kpfn_region_unmap(struct kpfn_dev *kd)
{
	u32 slot;

	if (!kd->has_pages) {
		memunmap(kd->region);
		return;
	}
	for (slot = kd->data_first; slot < kd->nr_slots; slot++)
		put_page(kpfn_slot_page(kd, slot));
	memunmap_pages(&kd->pgmap);
	kd->has_pages = false;
}
