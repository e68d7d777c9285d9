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

#endif /* __ASSEMBLY__ */
#endif /* KPF_COMPAT_H */
