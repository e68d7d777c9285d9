/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the supported kernels lives here, selected by the
 * KPF_HAVE_* answers that compat/probe.sh wrote into autoconf.h.  The core
 * files use only the interfaces below and never test kernel versions.
 */
#ifndef KPF_COMPAT_H
#define KPF_COMPAT_H

#if !defined(KPF_HAVE_EXPORT_UNMAP_MAPPING_RANGE) || \
	!defined(KPF_HAVE_EXPORT_VMF_INSERT_PFN) ||  \
	!defined(KPF_HAVE_EXPORT_INIT_PSEUDO)
#error "kvm-pageflip needs unmap_mapping_range, vmf_insert_pfn and init_pseudo exported"
#endif

#ifndef __ASSEMBLY__
#include <linux/mm.h>

/* vm_flags became read-only with accessors in 6.3. */
#ifndef KPF_HAVE_VM_FLAGS_SET
static inline void vm_flags_set(struct vm_area_struct *vma, unsigned long flags)
{
	vma->vm_flags |= flags;
}
#endif

/* eventfd_signal() lost its count argument in 6.8. */
#include <linux/eventfd.h>
static inline void kpf_eventfd_signal(struct eventfd_ctx *ctx)
{
#ifdef KPF_HAVE_EVENTFD_SIGNAL_NO_COUNT
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/*
 * From 6.3 a DEVMAP only redirects to devices that advertise
 * NETDEV_XDP_ACT_NDO_XMIT; before, having ndo_xdp_xmit was enough.
 */
#ifndef KPF_HAVE_XDP_FEATURES
struct net_device;
static inline void xdp_features_set_redirect_target(struct net_device *dev,
						    bool support_sg)
{
}
#endif

#endif /* __ASSEMBLY__ */
#endif /* KPF_COMPAT_H */
