// SPDX-License-Identifier: GPL-2.0
/*
 * The port worker: delivering queued frames into the slots a guest posted.
 *
 * One run takes up to KPF_RX_BATCH frames off the port's queue and works in
 * three steps.
 *
 * 1. Without locks, each frame is prepared.  An XDP frame's page gets an
 *    extra reference and the frame is returned to its driver; if that left
 *    the module as the only owner of a whole order-0 page, and the frame is
 *    at least copybreak long, the page will be flipped: everything outside
 *    the frame is zeroed (the head held struct xdp_frame and driver data,
 *    the tail older bytes) and the pool adopts it.  Every other frame is
 *    copied.  An 802.1Q tag is removed and reported in the completion.
 *
 * 2. Under the region lock (and the VMM's mmap_lock for write when anything
 *    is flipped, see flip.c), newly posted slots are read from the avail
 *    ring and validated, the frames are given slots in ascending slot order
 *    (so that flipped slots form contiguous runs), the flipped pages are
 *    swapped in, and each contiguous run is invalidated with one call.
 *
 * 3. Without locks, copies go straight into the guest's own slot pages,
 *    the completions are published in frame order, the guest is interrupted
 *    once if it asked to be, and the pages that left slots go back to the
 *    pool, which scrubs them before anyone else sees them.
 */
#include <linux/etherdevice.h>
#include <linux/highmem.h>
#include <linux/if_vlan.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/skbuff.h>
#include <linux/sort.h>
#include <net/xdp.h>
#include "pool.h"
#include "port.h"
#include "region.h"

/* Longest frame a port accepts: a 64 KiB aggregate and its headers. */
#define KPF_RX_MAX_FRAME (65536 + ETH_HLEN)
#define KPF_RX_MAX_PIECES (KPF_RX_MAX_FRAME / PAGE_SIZE + 1)
#define KPF_RX_MAX_SLOTS (KPF_RX_BATCH * KPF_RX_MAX_PIECES)

static unsigned int rx_batch = KPF_RX_BATCH;
module_param(rx_batch, uint, 0644);
MODULE_PARM_DESC(rx_batch, "Frames a port worker delivers per run, 1..64");

/**
 * struct kpf_rx_piece - a part of a frame that lies in one page
 * @page: the page; the worker holds a reference
 * @kp: the pool's handle once the page is adopted for a flip
 * @off: where the part starts in the page
 * @len: its length
 */
struct kpf_rx_piece {
	struct page *page;
	struct kpf_page *kp;
	u32 off;
	u32 len;
};

/**
 * struct kpf_rx_frame - a frame of the batch being delivered
 * @skb: the queued sk_buff (skb path), or NULL
 * @nr_pieces: frames handed over as pages (XDP, injected): their parts
 * @piece: those parts, in order
 * @len: length of the frame, without its 802.1Q tag
 * @flip: its pages go into the slots (all adopted by the pool)
 * @used: first completion (vlan_tci, flags, gso_size)
 * @first: index of its first slot in the batch's slot list
 * @nr_slots: slots it takes, 0 when dropped
 */
struct kpf_rx_frame {
	struct sk_buff *skb;
	u32 nr_pieces;
	u32 len;
	bool flip;
	struct kpf_used_elem used;
	u32 first;
	u32 nr_slots;
	struct kpf_rx_piece piece[KPF_RX_MAX_PIECES];
};

/**
 * struct kpf_rx_batch - a worker run's scratch space, one per port
 * @frames: the frames taken off the queue
 * @slots: the slots they got, ascending
 * @flipped: bit i: @slots[i] receives a flipped page
 * @old: pages that left slots
 * @elems: the completions, in frame order
 */
struct kpf_rx_batch {
	struct kpf_rx_frame frames[KPF_RX_BATCH];
	u32 slots[KPF_RX_MAX_SLOTS];
	DECLARE_BITMAP(flipped, KPF_RX_MAX_SLOTS);
	struct kpf_page *old[KPF_RX_MAX_SLOTS];
	struct kpf_used_elem elems[KPF_RX_MAX_SLOTS];
};

/**
 * kpf_rx_batch_alloc() - scratch space for a port's worker
 *
 * Return: the space, or NULL.
 */
struct kpf_rx_batch *kpf_rx_batch_alloc(void)
{
	return kvmalloc(sizeof(struct kpf_rx_batch), GFP_KERNEL_ACCOUNT);
}

static inline bool kpf_need_event(u32 event, u32 new, u32 old)
{
	return (u32)(new - event - 1) < (u32)(new - old);
}

static void kpf_port_fail(struct kpf_port *port, enum kpf_ring_error err,
			  u32 value)
{
	static const char *const why[] = {
		[KPF_RING_ERR_AVAIL_IDX] = "avail_idx jumped",
		[KPF_RING_ERR_SLOT_RANGE] = "posted slot out of range",
		[KPF_RING_ERR_SLOT_CONTROL] = "posted slot is a control slot",
		[KPF_RING_ERR_SLOT_BUSY] = "posted slot already posted",
	};

	WRITE_ONCE(port->error, err);
	WRITE_ONCE(port->state, KPF_PORT_STATE_ERROR);
	WRITE_ONCE(port->hdr->error, err);
	kpf_port_count(port, KPF_PORT_RING_ERRORS, 1);
	pr_notice_ratelimited("port %u (VMM %d): %s (%u); port stopped\n",
			      port->id, port->vmm_tgid, why[err], value);
	if (port->irq) {
		kpf_eventfd_signal(port->irq);
		kpf_port_count(port, KPF_PORT_INTERRUPTS, 1);
	}
}

/**
 * kpf_ring_refill() - take the slots the guest posted since the last call
 * @port: the port; caller holds its region's lock and is its worker
 *
 * Every entry is checked: in range, not a control slot, not already posted
 * (to this or another port of the region).  A bad entry or index puts the
 * port into the error state.
 *
 * Return: false when the port is (now) in the error state.
 */
static bool kpf_ring_refill(struct kpf_port *port)
{
	struct kpf_region *region = port->region;
	u32 mask = port->ring_size - 1;
	u32 avail, n, i, slot;

	lockdep_assert_held(&region->lock);
	if (READ_ONCE(port->state) != KPF_PORT_STATE_RUNNING)
		return false;

	avail = READ_ONCE(port->hdr->avail_idx);
	n = avail - port->last_avail;
	if (n > port->ring_size - port->nr_posted) {
		kpf_port_fail(port, KPF_RING_ERR_AVAIL_IDX, avail);
		return false;
	}
	/* Read the entries only after the index that published them. */
	smp_rmb();
	for (i = 0; i < n; i++) {
		slot = READ_ONCE(port->avail[port->last_avail & mask]);
		if (slot >= region->nr_slots) {
			kpf_port_fail(port, KPF_RING_ERR_SLOT_RANGE, slot);
			return false;
		}
		if (test_bit(slot, region->ctrl)) {
			kpf_port_fail(port, KPF_RING_ERR_SLOT_CONTROL, slot);
			return false;
		}
		if (test_and_set_bit(slot, region->posted)) {
			kpf_port_fail(port, KPF_RING_ERR_SLOT_BUSY, slot);
			return false;
		}
		port->posted[(port->posted_head + port->nr_posted) & mask] =
			slot;
		port->nr_posted++;
		port->last_avail++;
	}
	/* Ring the doorbell for anything posted after this. */
	WRITE_ONCE(port->hdr->avail_event, port->last_avail);
	return true;
}

/**
 * kpf_ring_publish() - complete slots and interrupt the guest if it asked
 * @port: the port; caller is its worker
 * @elems: completions, in order
 * @n: how many
 */
static void kpf_ring_publish(struct kpf_port *port,
			     const struct kpf_used_elem *elems, unsigned int n)
{
	u32 mask = port->ring_size - 1;
	u32 old = port->used_idx;
	unsigned int i;

	if (!n)
		return;
	for (i = 0; i < n; i++)
		port->used[(old + i) & mask] = elems[i];
	/* The elements before the index that publishes them... */
	smp_wmb();
	port->used_idx = old + n;
	WRITE_ONCE(port->hdr->used_idx, port->used_idx);
	/* ...and the index before reading what the guest wants. */
	smp_mb();
	if (port->irq && kpf_need_event(READ_ONCE(port->hdr->used_event),
					port->used_idx, old)) {
		kpf_eventfd_signal(port->irq);
		kpf_port_count(port, KPF_PORT_INTERRUPTS, 1);
	}
}

/* Give up the frame's pages and its skb. */
static void kpf_rx_release(struct kpf_port *port, struct kpf_rx_frame *f)
{
	struct kpf_rx_piece *p;
	u32 i;

	for (i = 0; i < f->nr_pieces; i++) {
		p = &f->piece[i];
		if (p->kp)
			kpf_pool_release(p->kp, &port->region->stats);
		else if (p->page)
			put_page(p->page);
		p->kp = NULL;
		p->page = NULL;
	}
	f->nr_pieces = 0;
	if (f->skb)
		consume_skb(f->skb);
	f->skb = NULL;
}

static void kpf_rx_drop(struct kpf_port *port, struct kpf_rx_frame *f,
			enum kpf_port_counter why)
{
	kpf_port_count(port, why, 1);
	f->nr_slots = 0;
	if (f->skb)
		kfree_skb(f->skb);
	f->skb = NULL;
	kpf_rx_release(port, f);
}

/* Take the 802.1Q tag out of the frame's first piece into the completion. */
static void kpf_rx_untag(struct kpf_rx_frame *f)
{
	struct kpf_rx_piece *p = &f->piece[0];
	u8 *data = page_address(p->page) + p->off;
	struct vlan_ethhdr *veth = (struct vlan_ethhdr *)data;

	if (p->len < VLAN_ETH_HLEN || veth->h_vlan_proto != htons(ETH_P_8021Q))
		return;
	f->used.vlan_tci = ntohs(veth->h_vlan_TCI);
	f->used.flags |= KPF_USED_F_VLAN;
	memmove(data + VLAN_HLEN, data, 2 * ETH_ALEN);
	p->off += VLAN_HLEN;
	p->len -= VLAN_HLEN;
	f->len -= VLAN_HLEN;
}

/* Can every page of the frame go into a VM as it is? */
static bool kpf_rx_can_flip(struct kpf_port *port, struct kpf_rx_frame *f)
{
	u32 copybreak = READ_ONCE(port->copybreak);
	struct kpf_rx_piece *p;
	u32 i;

	/* The largest copy-break means: always copy. */
	if (copybreak >= KPF_COPYBREAK_MAX || f->len < copybreak ||
	    f->nr_pieces > port->ring_size)
		return false;
	for (i = 0; i < f->nr_pieces; i++) {
		p = &f->piece[i];
		if (PageCompound(p->page) || page_ref_count(p->page) != 1 ||
		    p->off + p->len > PAGE_SIZE)
			return false;
	}
	return true;
}

/*
 * Let the pool adopt every page of the frame and zero each outside its
 * piece.  When the pool cannot take them all, the frame is copied instead.
 */
static void kpf_rx_take_pages(struct kpf_port *port, struct kpf_rx_frame *f)
{
	u32 i, zeroed = 0;
	struct kpf_rx_piece *p;
	u8 *va;

	for (i = 0; i < f->nr_pieces; i++) {
		f->piece[i].kp = kpf_pool_adopt(f->piece[i].page);
		if (!f->piece[i].kp)
			goto undo;
	}
	for (i = 0; i < f->nr_pieces; i++) {
		p = &f->piece[i];
		va = page_address(p->page);
		memset(va, 0, p->off);
		memset(va + p->off + p->len, 0, PAGE_SIZE - p->off - p->len);
		zeroed += PAGE_SIZE - p->len;
	}
	kpf_port_count(port, KPF_PORT_BYTES_ZEROED, zeroed);
	kpf_stat_add(&port->region->stats, KPF_STAT_PAGES_ZEROED, f->nr_pieces);
	kpf_stat_add(&port->region->stats, KPF_STAT_BYTES_ZEROED, zeroed);
	f->flip = true;
	f->nr_slots = f->nr_pieces;
	f->used.flags |= KPF_USED_F_FLIPPED;
	return;
undo:
	while (i--) {
		kpf_pool_unadopt(f->piece[i].kp);
		f->piece[i].kp = NULL;
	}
}

/* Drop, and count, a frame shorter than a header or longer than a port takes. */
static bool kpf_rx_len_ok(struct kpf_port *port, struct kpf_rx_frame *f)
{
	if (f->len < ETH_HLEN) {
		kpf_rx_drop(port, f, KPF_PORT_DROP_RUNT);
		return false;
	}
	if (f->len > KPF_RX_MAX_FRAME) {
		kpf_rx_drop(port, f, KPF_PORT_DROP_OVERSIZE);
		return false;
	}
	return true;
}

/* Frames handed over as pages: size limits, tag, flip or copy. */
static void kpf_rx_prepare_pages(struct kpf_port *port, struct kpf_rx_frame *f,
				 bool copy_only)
{
	if (!kpf_rx_len_ok(port, f))
		return;
	kpf_rx_untag(f);
	f->nr_slots = DIV_ROUND_UP(f->len, PAGE_SIZE);
	if (!copy_only && kpf_rx_can_flip(port, f))
		kpf_rx_take_pages(port, f);
}

static void kpf_rx_prepare_xdp(struct kpf_port *port, struct kpf_rx_frame *f,
			       struct xdp_frame *frame, bool copy_only)
{
	struct page *page = virt_to_head_page(frame->data);
	bool frags = xdp_frame_has_frags(frame);

	/* The driver lets go of the frame; its bytes stay as long as @page. */
	get_page(page);
	f->nr_pieces = 1;
	f->piece[0].kp = NULL;
	f->piece[0].page = page;
	f->piece[0].off = frame->data - page_address(page);
	f->piece[0].len = frame->len;
	f->len = frame->len;
	xdp_return_frame(frame);

	if (frags) {
		kpf_rx_drop(port, f, KPF_PORT_DROP_OVERSIZE);
		return;
	}
	kpf_rx_prepare_pages(port, f, copy_only);
}

/* A test frame from debug.c: whole pages, of which the module is the owner. */
static void kpf_rx_prepare_inject(struct kpf_port *port, struct kpf_rx_frame *f,
				  struct kpf_rx_inject *inj)
{
	u32 i, left = inj->len;

	f->nr_pieces = inj->nr_pages;
	f->len = inj->len;
	for (i = 0; i < inj->nr_pages; i++) {
		f->piece[i].kp = NULL;
		f->piece[i].page = inj->pages[i];
		f->piece[i].off = 0;
		f->piece[i].len = min_t(u32, left, PAGE_SIZE);
		left -= f->piece[i].len;
	}
	kfree(inj);
	kpf_rx_prepare_pages(port, f, false);
}

static void kpf_rx_prepare_skb(struct kpf_port *port, struct kpf_rx_frame *f,
			       struct sk_buff *skb)
{
	struct skb_shared_info *shinfo = skb_shinfo(skb);

	f->skb = skb;
	skb_push(skb, skb->data - skb_mac_header(skb));
	f->len = skb->len;
	if (!kpf_rx_len_ok(port, f))
		return;
	if (skb_vlan_tag_present(skb)) {
		f->used.vlan_tci = skb_vlan_tag_get(skb);
		f->used.flags |= KPF_USED_F_VLAN;
	}
	if (skb->ip_summed == CHECKSUM_UNNECESSARY)
		f->used.flags |= KPF_USED_F_CSUM_OK;
	else if (skb->ip_summed == CHECKSUM_PARTIAL)
		f->used.flags |= KPF_USED_F_CSUM_PARTIAL;
	if (skb_is_gso(skb)) {
		/* Only TCP aggregates can be described to the guest. */
		if (shinfo->gso_type & SKB_GSO_TCPV4) {
			f->used.flags |= KPF_USED_F_GSO_TCPV4;
		} else if (shinfo->gso_type & SKB_GSO_TCPV6) {
			f->used.flags |= KPF_USED_F_GSO_TCPV6;
		} else {
			kpf_rx_drop(port, f, KPF_PORT_DROP_OVERSIZE);
			return;
		}
		f->used.gso_size = shinfo->gso_size;
	}
	f->nr_slots = DIV_ROUND_UP(f->len, PAGE_SIZE);
}

static int kpf_u32_cmp(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Give each frame its slots, in ascending slot order, from the posted FIFO.
 * Frames that find too few are dropped.  Return the number of slots taken.
 */
static u32 kpf_rx_assign(struct kpf_port *port, struct kpf_rx_batch *b,
			 unsigned int n)
{
	u32 mask = port->ring_size - 1, need = 0, i, j;
	struct kpf_rx_frame *f;

	for (i = 0; i < n; i++) {
		f = &b->frames[i];
		if (!f->nr_slots)
			continue;
		if (f->nr_slots > port->nr_posted - need) {
			kpf_rx_drop(port, f, KPF_PORT_DROP_NO_BUFFER);
			continue;
		}
		f->first = need;
		need += f->nr_slots;
	}
	for (j = 0; j < need; j++)
		b->slots[j] = port->posted[(port->posted_head + j) & mask];
	port->posted_head += need;
	port->nr_posted -= need;
	sort(b->slots, need, sizeof(b->slots[0]), kpf_u32_cmp, NULL);
	return need;
}

/*
 * Swap the flipped pages into their slots and invalidate each contiguous run
 * of the batch's slots that holds a flip, once.  Return the invalidations.
 */
static u32 kpf_rx_swap(struct kpf_port *port, struct kpf_rx_batch *b,
		       unsigned int n, u32 nr_slots, unsigned int *nr_old)
{
	struct kpf_region *region = port->region;
	u32 i, j, runs = 0, lo = U32_MAX, hi = 0, slot;
	struct kpf_rx_frame *f;

	lockdep_assert_held(&region->lock);
	*nr_old = 0;
	bitmap_zero(b->flipped, nr_slots);
	for (i = 0; i < n; i++) {
		f = &b->frames[i];
		if (!f->nr_slots || !f->flip)
			continue;
		for (j = 0; j < f->nr_pieces; j++) {
			slot = b->slots[f->first + j];
			b->old[(*nr_old)++] = region->slots[slot];
			kpf_pool_move(f->piece[j].kp, KPF_PAGE_SLOT);
			region->slots[slot] = f->piece[j].kp;
			f->piece[j].kp = NULL;
			f->piece[j].page = NULL;
			__set_bit(f->first + j, b->flipped);
		}
	}
	if (!*nr_old)
		return 0;

	/* Slots are sorted: walk the runs, unmapping the flipped span of each. */
	for (i = 0; i < nr_slots; i++) {
		if (test_bit(i, b->flipped)) {
			lo = min(lo, b->slots[i]);
			hi = max(hi, b->slots[i]);
		}
		if (i + 1 < nr_slots && b->slots[i + 1] == b->slots[i] + 1)
			continue;
		if (lo != U32_MAX) {
			kpf_flip_invalidate(region, lo, hi - lo + 1);
			runs++;
		}
		lo = U32_MAX;
		hi = 0;
	}
	return runs;
}

/* Fill in the completions of a frame, one per slot, in order. */
static void kpf_rx_elems(struct kpf_rx_frame *f, const u32 *slots,
			 struct kpf_used_elem *elems)
{
	u32 i, left = f->len;

	for (i = 0; i < f->nr_slots; i++) {
		elems[i] = f->used;
		elems[i].slot = slots[i];
		if (f->flip) {
			elems[i].offset = f->piece[i].off;
			elems[i].len = f->piece[i].len;
		} else {
			elems[i].offset = 0;
			elems[i].len = min_t(u32, left, PAGE_SIZE);
		}
		left -= elems[i].len;
		if (i + 1 < f->nr_slots)
			elems[i].flags |= KPF_USED_F_MORE;
		if (i) {
			elems[i].vlan_tci = 0;
			elems[i].gso_size = 0;
			elems[i].flags &= KPF_USED_F_MORE | KPF_USED_F_FLIPPED;
		}
	}
}

/* Copy a frame into the guest's own pages of its slots, from offset 0. */
static void kpf_rx_copy(struct kpf_port *port, struct kpf_rx_frame *f,
			const u32 *slots)
{
	struct kpf_region *region = port->region;
	u32 done = 0, chunk, i, piece = 0, poff = 0, n, take;
	struct kpf_rx_piece *p;
	u8 *dst;

	for (i = 0; i < f->nr_slots; i++) {
		chunk = min_t(u32, f->len - done, PAGE_SIZE);
		/* Posted slots change pages only in this worker. */
		dst = page_address(region->slots[slots[i]]->page);
		if (f->skb) {
			skb_copy_bits(f->skb, done, dst, chunk);
		} else {
			for (n = 0; n < chunk; n += take) {
				p = &f->piece[piece];
				take = min(chunk - n, p->len - poff);
				memcpy(dst + n,
				       page_address(p->page) + p->off + poff,
				       take);
				poff += take;
				if (poff == p->len) {
					piece++;
					poff = 0;
				}
			}
		}
		done += chunk;
	}
	kpf_port_count(port, KPF_PORT_BYTES_COPIED, done);
}

static void kpf_rx_deliver(struct kpf_port *port, struct kpf_rx_batch *b,
			   unsigned int n)
{
	struct kpf_region *region = port->region;
	unsigned int i, nr_old = 0, nr_elems = 0, delivered = 0;
	u32 nr_slots = 0, runs = 0, flipped = 0, flipped_frames = 0, j;
	bool flips = false;
	struct kpf_rx_frame *f;

	for (i = 0; i < n; i++)
		flips |= b->frames[i].nr_slots && b->frames[i].flip;

	if (flips)
		mmap_write_lock(region->mm);
	mutex_lock(&region->lock);
	if (kpf_ring_refill(port)) {
		nr_slots = kpf_rx_assign(port, b, n);
		runs = kpf_rx_swap(port, b, n, nr_slots, &nr_old);
	}
	mutex_unlock(&region->lock);
	if (flips)
		mmap_write_unlock(region->mm);

	for (i = 0; i < n; i++) {
		f = &b->frames[i];
		if (!f->nr_slots)
			continue;
		if (READ_ONCE(port->state) != KPF_PORT_STATE_RUNNING) {
			kpf_rx_drop(port, f, KPF_PORT_DROP_RING_ERROR);
			continue;
		}
		if (f->flip) {
			flipped += f->nr_slots;
			flipped_frames++;
		} else {
			kpf_rx_copy(port, f, &b->slots[f->first]);
			kpf_port_count(port, KPF_PORT_COPIED, 1);
		}
		kpf_rx_elems(f, &b->slots[f->first], &b->elems[nr_elems]);
		nr_elems += f->nr_slots;
		kpf_rx_release(port, f);
		delivered++;
	}

	/* The slots are the guest's again before it can see them completed. */
	for (j = 0; j < nr_elems; j++)
		clear_bit(b->elems[j].slot, region->posted);
	kpf_ring_publish(port, b->elems, nr_elems);

	for (i = 0; i < nr_old; i++)
		kpf_pool_release(b->old[i], &region->stats);

	kpf_port_count(port, KPF_PORT_DELIVERED, delivered);
	kpf_port_count(port, KPF_PORT_FLIPPED, flipped_frames);
	kpf_port_count(port, KPF_PORT_PAGES_FLIPPED, flipped);
	kpf_port_count(port, KPF_PORT_INVALIDATIONS, runs);
	kpf_stat_add(&region->stats, KPF_STAT_FLIPS, flipped);
	kpf_stat_add(&region->stats, KPF_STAT_INVALIDATIONS, runs);
	if (delivered)
		kpf_port_count(port, KPF_PORT_BATCHES, 1);
}

/**
 * kpf_rx_work() - the port worker
 * @work: struct kpf_port.work
 */
void kpf_rx_work(struct work_struct *work)
{
	struct kpf_port *port = container_of(work, struct kpf_port, work);
	unsigned int batch =
		clamp_t(unsigned int, READ_ONCE(rx_batch), 1, KPF_RX_BATCH);
	struct kpf_rx_batch *b = port->batch;
	u64 start = ktime_get_ns();
	struct kpf_rx_inject *inj;
	struct kpf_rx_frame *f;
	struct xdp_frame *frame;
	unsigned int n = 0;
	void *item;

	while (n < batch && (item = ptr_ring_consume(&port->queue))) {
		f = &b->frames[n++];
		/* The pieces are set as they are filled in. */
		memset(f, 0, offsetof(struct kpf_rx_frame, piece));
		frame = kpf_rx_item_to_xdp(item);
		inj = kpf_rx_item_to_inject(item);
		if (frame)
			kpf_rx_prepare_xdp(port, f, frame,
					   kpf_rx_item_copy_only(item));
		else if (inj)
			kpf_rx_prepare_inject(port, f, inj);
		else
			kpf_rx_prepare_skb(port, f, item);
		if (f->nr_slots > port->ring_size)
			kpf_rx_drop(port, f, KPF_PORT_DROP_OVERSIZE);
	}

	/* Without frames, a doorbell only makes the posted slots known. */
	kpf_rx_deliver(port, b, n);
	kpf_port_count(port, KPF_PORT_WORKER_NS, ktime_get_ns() - start);

	if (!__ptr_ring_empty(&port->queue))
		kpf_port_schedule(port);
}
