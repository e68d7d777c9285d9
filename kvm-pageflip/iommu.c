// SPDX-License-Identifier: GPL-2.0
/*
 * The NIC side of a flip: what the uplink's IOMMU domain still translates.
 *
 * A page a driver gives up has been DMA-unmapped by it: a page_pool page when
 * it leaves the pool (the module's extra reference makes sure it does), a
 * virtio-net buffer when the device has used it.  With strict IOTLB
 * invalidation (iommu.strict=1) the IOMMU has forgotten the IOVA by the time
 * the unmap returns, so the device can no longer write into the page once it
 * is in a VM.  In lazy mode (IOMMU_DOMAIN_DMA_FQ, Debian's default) the IOTLB
 * flush is deferred for a while after the page tables are cleared, and the
 * device could still reach the page through a stale IOTLB entry.  The module
 * does not flip pages from such a device: it copies their frames instead.
 * Without any IOMMU translation the device can reach all of memory anyway,
 * and isolation rests on its driver, as for every other host page.
 *
 * The module itself DMA-maps no page for any device.
 */
#include <linux/iommu.h>
#include <linux/netdevice.h>
#include <linux/sched.h>
#include <linux/xarray.h>
#include "iommu.h"

/*
 * The IOMMU domain the device of @dev does its DMA through: that of the
 * first ancestor in an IOMMU group (for virtio-net, the PCI function
 * above the virtio device), or NULL.
 */
static struct iommu_domain *kpf_iommu_domain(struct net_device *dev)
{
	struct device *d;

	for (d = dev->dev.parent; d; d = d->parent) {
		if (device_iommu_mapped(d))
			return iommu_get_domain_for_dev(d);
	}
	return NULL;
}

/**
 * kpf_iommu_flip_safe() - may pages received on @dev be flipped into VMs?
 * @dev: an uplink; caller holds rtnl_lock
 *
 * Asked once, at attach.  Since 6.2 a group's domain can be switched from
 * DMA to DMA-FQ through sysfs while its driver is bound; that switch is
 * seen at the next attach only (Documentation/design.rst).
 *
 * Return: false when the device's DMA goes through a lazily flushed IOMMU
 * domain.
 */
bool kpf_iommu_flip_safe(struct net_device *dev)
{
	struct iommu_domain *domain = kpf_iommu_domain(dev);

	return !domain || domain->type != IOMMU_DOMAIN_DMA_FQ;
}

/**
 * kpf_iommu_scan() - collect the pages an uplink's IOMMU domain translates
 * @dev: the device
 * @first_iova: first IOVA to look up
 * @nr_pages: pages to look up from there
 * @pfns: out: every page frame some looked-up IOVA translates to
 * @mapped: out: number of IOVAs that translate
 *
 * A debugging aid (debug.c): the DMA API hands out a PCI device's IOVAs top
 * down below 4 GiB first, so a few thousand pages below 4 GiB cover what a
 * NIC maps.  Sleeps.
 *
 * Return: 0, -ENODEV without an IOMMU domain, or -ENOMEM.
 */
int kpf_iommu_scan(struct net_device *dev, u64 first_iova, u64 nr_pages,
		   struct xarray *pfns, unsigned long *mapped)
{
	struct iommu_domain *domain;
	phys_addr_t phys;
	u64 i;
	int ret;

	*mapped = 0;
	domain = kpf_iommu_domain(dev);
	if (!domain)
		return -ENODEV;
	for (i = 0; i < nr_pages; i++) {
		phys = iommu_iova_to_phys(domain, first_iova + i * PAGE_SIZE);
		if (phys) {
			ret = xa_err(xa_store(pfns, PHYS_PFN(phys),
					      xa_mk_value(1), GFP_KERNEL));
			if (ret)
				return ret;
			(*mapped)++;
		}
		if (!(i & 1023))
			cond_resched();
	}
	return 0;
}
