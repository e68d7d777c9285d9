/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KPF_POOL_H
#define KPF_POOL_H

#include <linux/list.h>
#include <linux/mm_types.h>
#include "stats.h"

/* Where a pool page is; every page the module holds is in exactly one. */
enum kpf_page_state {
	KPF_PAGE_FREE, /* in the pool, contents stale until scrubbed */
	KPF_PAGE_STAGED, /* holds a frame, owned by a control fd */
	KPF_PAGE_SLOT, /* backs a region slot */
	KPF_PAGE_QUARANTINE, /* left a slot while referenced elsewhere */
	KPF_NR_PAGE_STATES,
};

/**
 * struct kpf_page - a page owned by the module
 * @node: link on the pool's free or quarantine list (kpf_pool.lock)
 * @page: the page; the module holds exactly one reference
 * @state: where the page is (kpf_pool.lock)
 * @claimed: taken by a flip batch being validated (the staging ctx's lock)
 */
struct kpf_page {
	struct list_head node;
	struct page *page;
	enum kpf_page_state state;
	bool claimed;
};

struct kpf_page *kpf_pool_take(enum kpf_page_state to, unsigned int keep_off,
			       unsigned int keep_len,
			       struct kpf_stats *binding);
struct kpf_page *kpf_pool_adopt(struct page *page);
void kpf_pool_unadopt(struct kpf_page *kp);
void kpf_pool_move(struct kpf_page *kp, enum kpf_page_state to);
void kpf_pool_release(struct kpf_page *kp, struct kpf_stats *binding);
void kpf_pool_read(struct kpf_counters *counters);
unsigned long kpf_pool_max_pages(void);
void kpf_pool_uninit(void);

#endif /* KPF_POOL_H */
