// SPDX-License-Identifier: GPL-2.0
/*
 * The host pool: pages that belong to no VM.
 *
 * Pages come from the page allocator on demand, up to max_pages in all, and
 * move between four states (enum kpf_page_state).  A page that leaves a slot
 * or a stage goes on the free list as it is: it is scrubbed when it is taken
 * again, and only the bytes its next user will not overwrite are zeroed.  So
 * no page reaches a VM or a staged frame with bytes of its previous life, and
 * nothing is zeroed twice.
 *
 * A page that still has references besides the module's own when it leaves
 * a slot (someone mapped or pinned it behind our back) is quarantined: it is
 * neither reused nor freed until those references are gone.
 */
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include "ioctl.h"
#include "pool.h"

static unsigned long max_pages = 262144;
module_param(max_pages, ulong, 0444);
MODULE_PARM_DESC(max_pages, "Pages the module may hold in all (default 1 GiB)");

static unsigned int pool_keep = 1024;
module_param(pool_keep, uint, 0644);
MODULE_PARM_DESC(pool_keep, "Free pages kept for reuse (default 1024)");

/*
 * @lock protects everything in struct kpf_pool and the @node and @state of
 * every struct kpf_page.  It is a leaf lock: nothing else is taken under it.
 */
static struct kpf_pool {
	spinlock_t lock; /* see above */
	struct list_head free;
	struct list_head quarantine;
	unsigned long nr[KPF_NR_PAGE_STATES];
	unsigned long nr_allocated;
} pool = {
	.lock = __SPIN_LOCK_UNLOCKED(pool.lock),
	.free = LIST_HEAD_INIT(pool.free),
	.quarantine = LIST_HEAD_INIT(pool.quarantine),
};

static bool kpf_page_is_shared(const struct kpf_page *kp)
{
	return page_ref_count(kp->page) != 1;
}

static void kpf_pool_set_state_locked(struct kpf_page *kp,
				      enum kpf_page_state to)
{
	lockdep_assert_held(&pool.lock);
	pool.nr[kp->state]--;
	pool.nr[to]++;
	kp->state = to;
}

/* Give quarantined pages whose other references are gone back to the pool. */
static void kpf_pool_reap_locked(void)
{
	struct kpf_page *kp, *next;

	lockdep_assert_held(&pool.lock);
	list_for_each_entry_safe(kp, next, &pool.quarantine, node) {
		if (kpf_page_is_shared(kp))
			continue;
		kpf_pool_set_state_locked(kp, KPF_PAGE_FREE);
		list_move(&kp->node, &pool.free);
	}
}

static struct kpf_page *kpf_page_alloc(void)
{
	struct kpf_page *kp;

	kp = kzalloc(sizeof(*kp), GFP_KERNEL);
	if (!kp)
		return NULL;
	kp->page = alloc_page(GFP_KERNEL);
	if (!kp->page) {
		kfree(kp);
		return NULL;
	}
	INIT_LIST_HEAD(&kp->node);
	return kp;
}

static void kpf_page_free(struct kpf_page *kp)
{
	put_page(kp->page);
	kfree(kp);
}

/* Zero all of the page but [keep_off, keep_off + keep_len). */
static void kpf_page_scrub(struct kpf_page *kp, unsigned int keep_off,
			   unsigned int keep_len, struct kpf_stats *binding)
{
	unsigned int keep_end = keep_off + keep_len;
	u8 *va = page_address(kp->page);

	memset(va, 0, keep_off);
	memset(va + keep_end, 0, PAGE_SIZE - keep_end);
	kpf_stat_add(binding, KPF_STAT_PAGES_ZEROED, 1);
	kpf_stat_add(binding, KPF_STAT_BYTES_ZEROED, PAGE_SIZE - keep_len);
}

/**
 * kpf_pool_take() - take a page out of the pool
 * @to: the state the page goes to (KPF_PAGE_STAGED or KPF_PAGE_SLOT)
 * @keep_off: start of the range the caller will fill itself
 * @keep_len: length of that range; 0 to get a page of zeros
 * @binding: counters to charge the scrub to, or NULL
 *
 * The returned page reads as zero everywhere outside the kept range; the kept
 * range holds stale bytes that the caller must overwrite or release the page.
 *
 * Return: the page, or ERR_PTR(-ENOSPC) at max_pages, or ERR_PTR(-ENOMEM).
 */
struct kpf_page *kpf_pool_take(enum kpf_page_state to, unsigned int keep_off,
			       unsigned int keep_len, struct kpf_stats *binding)
{
	struct kpf_page *kp;

	spin_lock(&pool.lock);
	kpf_pool_reap_locked();
	kp = list_first_entry_or_null(&pool.free, struct kpf_page, node);
	if (kp) {
		list_del_init(&kp->node);
		kpf_pool_set_state_locked(kp, to);
	} else if (pool.nr_allocated < max_pages) {
		/* Reserve the accounting now; the allocation may sleep. */
		pool.nr_allocated++;
		pool.nr[to]++;
	} else {
		spin_unlock(&pool.lock);
		kpf_user_err("the module already holds max_pages=%lu pages\n",
			     max_pages);
		return ERR_PTR(-ENOSPC);
	}
	spin_unlock(&pool.lock);

	if (!kp) {
		kp = kpf_page_alloc();
		if (!kp) {
			spin_lock(&pool.lock);
			pool.nr_allocated--;
			pool.nr[to]--;
			spin_unlock(&pool.lock);
			return ERR_PTR(-ENOMEM);
		}
		kp->state = to;
	}
	kpf_page_scrub(kp, keep_off, keep_len, binding);
	return kp;
}

/**
 * kpf_pool_adopt() - make a page that arrived from a NIC a module page
 * @page: an order-0 page of which the caller holds the only reference;
 *        that reference becomes the module's
 *
 * The page is accounted as staged: the caller is about to put it into a
 * slot (kpf_pool_move()) or to give it up (kpf_pool_release()).  The caller
 * scrubs it.
 *
 * Return: the module's handle on the page, or NULL at max_pages or without
 * memory; the caller then keeps its reference.
 */
struct kpf_page *kpf_pool_adopt(struct page *page)
{
	struct kpf_page *kp;

	kp = kzalloc(sizeof(*kp), GFP_KERNEL);
	if (!kp)
		return NULL;
	spin_lock(&pool.lock);
	if (pool.nr_allocated >= max_pages) {
		spin_unlock(&pool.lock);
		kfree(kp);
		return NULL;
	}
	pool.nr_allocated++;
	pool.nr[KPF_PAGE_STAGED]++;
	spin_unlock(&pool.lock);

	INIT_LIST_HEAD(&kp->node);
	kp->page = page;
	kp->state = KPF_PAGE_STAGED;
	return kp;
}

/**
 * kpf_pool_unadopt() - undo kpf_pool_adopt(); the caller keeps the page
 * @kp: the handle kpf_pool_adopt() returned, not yet moved anywhere
 */
void kpf_pool_unadopt(struct kpf_page *kp)
{
	spin_lock(&pool.lock);
	pool.nr_allocated--;
	pool.nr[KPF_PAGE_STAGED]--;
	spin_unlock(&pool.lock);
	kfree(kp);
}

/**
 * kpf_pool_move() - account a page's move between two in-use states
 * @kp: the page (staged or in a slot)
 * @to: its new state
 */
void kpf_pool_move(struct kpf_page *kp, enum kpf_page_state to)
{
	spin_lock(&pool.lock);
	kpf_pool_set_state_locked(kp, to);
	spin_unlock(&pool.lock);
}

/**
 * kpf_pool_release() - return a page that no VM or frame uses any more
 * @kp: the page; it must no longer be mapped by the module
 * @binding: counters of the binding it came from, or NULL
 *
 * The page goes to the free list, or to the page allocator when the pool
 * already keeps pool_keep free pages, or into quarantine while somebody else
 * still holds a reference to it.
 */
void kpf_pool_release(struct kpf_page *kp, struct kpf_stats *binding)
{
	bool shared = kpf_page_is_shared(kp);
	bool drop = false;

	spin_lock(&pool.lock);
	if (shared) {
		kpf_pool_set_state_locked(kp, KPF_PAGE_QUARANTINE);
		list_add_tail(&kp->node, &pool.quarantine);
	} else if (pool.nr[KPF_PAGE_FREE] < READ_ONCE(pool_keep)) {
		kpf_pool_set_state_locked(kp, KPF_PAGE_FREE);
		list_add(&kp->node, &pool.free);
	} else {
		pool.nr[kp->state]--;
		pool.nr_allocated--;
		drop = true;
	}
	spin_unlock(&pool.lock);

	if (shared) {
		kpf_stat_add(binding, KPF_STAT_QUARANTINED, 1);
		pr_warn_ratelimited("page %#lx held elsewhere; quarantined\n",
				    page_to_pfn(kp->page));
	}
	if (drop)
		kpf_page_free(kp);
}

/**
 * kpf_pool_read() - snapshot the pool accounting into @counters
 * @counters: its pages_* fields are written, consistently with each other
 */
void kpf_pool_read(struct kpf_counters *counters)
{
	spin_lock(&pool.lock);
	kpf_pool_reap_locked();
	counters->pages_free = pool.nr[KPF_PAGE_FREE];
	counters->pages_staged = pool.nr[KPF_PAGE_STAGED];
	counters->pages_in_slots = pool.nr[KPF_PAGE_SLOT];
	counters->pages_quarantined = pool.nr[KPF_PAGE_QUARANTINE];
	counters->pages_allocated = pool.nr_allocated;
	spin_unlock(&pool.lock);
}

/**
 * kpf_pool_max_pages() - the limit on pages the module may hold
 */
unsigned long kpf_pool_max_pages(void)
{
	return max_pages;
}

/**
 * kpf_pool_uninit() - free the pool at module unload
 *
 * Called once every file of the module is gone, so only free and quarantined
 * pages remain.  A quarantined page's last holder frees it when it lets go.
 */
void kpf_pool_uninit(void)
{
	struct kpf_page *kp, *next;

	WARN_ON(pool.nr[KPF_PAGE_STAGED] || pool.nr[KPF_PAGE_SLOT]);
	list_splice_init(&pool.quarantine, &pool.free);
	list_for_each_entry_safe(kp, next, &pool.free, node) {
		list_del(&kp->node);
		kpf_page_free(kp);
	}
	if (pool.nr[KPF_PAGE_QUARANTINE])
		pr_info("released %lu quarantined pages to their remaining holders\n",
			pool.nr[KPF_PAGE_QUARANTINE]);
	memset(pool.nr, 0, sizeof(pool.nr));
	pool.nr_allocated = 0;
}
