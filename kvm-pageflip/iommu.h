/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KPF_IOMMU_H
#define KPF_IOMMU_H

#include <linux/types.h>

struct net_device;
struct xarray;

bool kpf_iommu_flip_safe(struct net_device *dev);
int kpf_iommu_scan(struct net_device *dev, u64 first_iova, u64 nr_pages,
		   struct xarray *pfns, unsigned long *mapped);

#endif /* KPF_IOMMU_H */
