/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels kvm-pageflip-net supports lives here,
 * selected by the KPFN_HAVE_* answers of compat/probe.sh (autoconf.h).  The
 * driver's files use only the interfaces below and never test versions.
 */
#ifndef KPFN_COMPAT_H
#define KPFN_COMPAT_H

#ifndef __ASSEMBLY__
#include <linux/err.h>
#include <linux/ethtool.h>
#include <linux/hrtimer.h>
#include <linux/memremap.h>
#include <linux/string.h>

/*
 * memremap_pages() exists only in kernels built with ZONE_DEVICE (Debian's
 * are; the project's debug kernel is not).  Without it BAR2 has no struct
 * pages and the receive path copies.
 */
#ifdef KPFN_HAVE_MEMREMAP_PAGES
static inline bool kpfn_has_zone_device(void)
{
	return true;
}
#else
static inline bool kpfn_has_zone_device(void)
{
	return false;
}

static inline void *memremap_pages(struct dev_pagemap *pgmap, int nid)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static inline void memunmap_pages(struct dev_pagemap *pgmap)
{
}
#endif

/* hrtimer_setup() replaced hrtimer_init() and the function assignment in 6.13. */
#ifndef KPFN_HAVE_HRTIMER_SETUP
static inline void
hrtimer_setup(struct hrtimer *timer,
	      enum hrtimer_restart (*function)(struct hrtimer *),
	      clockid_t clock_id, enum hrtimer_mode mode)
{
	hrtimer_init(timer, clock_id, mode);
	timer->function = function;
}
#endif

/* ethtool_puts() came in 6.8. */
#ifndef KPFN_HAVE_ETHTOOL_PUTS
static inline void ethtool_puts(u8 **data, const char *str)
{
	strscpy_pad((char *)*data, str, ETH_GSTRING_LEN);
	*data += ETH_GSTRING_LEN;
}
#endif

#endif /* __ASSEMBLY__ */
#endif /* KPFN_COMPAT_H */
