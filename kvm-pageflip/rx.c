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

/**
 * struct kpf_rx_frame - a frame of the batch being delivered
 * @item: the queued sk_buff, or NULL for an XDP frame (already returned)
 * @page: XDP frame: its page, on which the worker holds a reference
 * @kp: the adopted page when the frame is flipped
 * @data: start of the frame, without its 802.1Q tag
 * @len: length of the frame
 * @used: first completion (slot, offset, len, vlan_tci, flags, gso_size)
 * @first: index of its first slot in the batch's slot list
 * @nr_slots: slots it takes, 0 when dropped
 */
struct kpf_rx_frame {
	struct sk_buff *item;
	struct page *page;
	struct kpf_page *kp;
	u8 *data;
	u32 len;
	struct kpf_used_elem used;
	u32 first;
	u32 nr_slots;
};

#define KPF_RX_MAX_SLOTS (KPF_RX_BATCH * (KPF_RX_MAX_FRAME / PAGE_SIZE + 1))

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
	struct kpf_page *old[KPF_RX_BATCH];
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
bool kpf_ring_refill(struct kpf_port *port)
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
void kpf_ring_publish(struct kpf_port *port, const struct kpf_used_elem *elems,
		      unsigned int n)
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

static void kpf_rx_drop(struct kpf_port *port, struct kpf_rx_frame *f,
			enum kpf_port_counter why)
{
	kpf_port_count(port, why, 1);
	f->nr_slots = 0;
	if (f->kp) {
		kpf_pool_release(f->kp, &port->region->stats);
		f->kp = NULL;
	} else if (f->page) {
		put_page(f->page);
	}
	f->page = NULL;
	if (f->item)
		kfree_skb(f->item);
	f->item = NULL;
}

/* Take the 802.1Q tag out of an XDP frame's bytes into the completion. */
static void kpf_rx_untag(struct kpf_rx_frame *f)
{
	struct vlan_ethhdr *veth = (struct vlan_ethhdr *)f->data;

	if (f->len < VLAN_ETH_HLEN || veth->h_vlan_proto != htons(ETH_P_8021Q))
		return;
	f->used.vlan_tci = ntohs(veth->h_vlan_TCI);
	f->used.flags |= KPF_USED_F_VLAN;
	memmove(f->data + VLAN_HLEN, f->data, 2 * ETH_ALEN);
	f->data += VLAN_HLEN;
	f->len -= VLAN_HLEN;
}

/*
 * Zero a taken-over page outside its frame and let the pool adopt it.  When
 * the pool cannot take it, the frame is copied instead.
 */
static void kpf_rx_take_page(struct kpf_port *port, struct kpf_rx_frame *f)
{
	u8 *va = page_address(f->page);
	u32 off = f->data - va;
	u32 zeroed = PAGE_SIZE - f->len;

	f->kp = kpf_pool_adopt(f->page);
	if (!f->kp)
		return;
	memset(va, 0, off);
	memset(va + off + f->len, 0, PAGE_SIZE - off - f->len);
	kpf_port_count(port, KPF_PORT_BYTES_ZEROED, zeroed);
	kpf_stat_add(&port->region->stats, KPF_STAT_PAGES_ZEROED, 1);
	kpf_stat_add(&port->region->stats, KPF_STAT_BYTES_ZEROED, zeroed);
	f->used.offset = off;
	f->used.flags |= KPF_USED_F_FLIPPED;
}

static void kpf_rx_prepare_xdp(struct kpf_port *port, struct kpf_rx_frame *f,
			       struct xdp_frame *frame, bool copy_only)
{
	struct page *page;

	if (xdp_frame_has_frags(frame)) {
		xdp_return_frame(frame);
		kpf_rx_drop(port, f, KPF_PORT_DROP_OVERSIZE);
		return;
	}
	f->data = frame->data;
	f->len = frame->len;
	page = virt_to_head_page(f->data);
	get_page(page);
	f->page = page;
	/* The driver lets go of the frame; its bytes stay as long as @page. */
	xdp_return_frame(frame);

	if (f->len < ETH_HLEN) {
		kpf_rx_drop(port, f, KPF_PORT_DROP_RUNT);
		return;
	}
	kpf_rx_untag(f);
	f->nr_slots = DIV_ROUND_UP(f->len, PAGE_SIZE);
	if (!copy_only && f->len >= READ_ONCE(port->copybreak) &&
	    !PageCompound(page) && page_ref_count(page) == 1)
		kpf_rx_take_page(port, f);
}

static void kpf_rx_prepare_skb(struct kpf_port *port, struct kpf_rx_frame *f,
			       struct sk_buff *skb)
{
	struct skb_shared_info *shinfo = skb_shinfo(skb);

	f->item = skb;
	skb_push(skb, skb->data - skb_mac_header(skb));
	f->len = skb->len;
	if (f->len < ETH_HLEN) {
		kpf_rx_drop(port, f, KPF_PORT_DROP_RUNT);
		return;
	}
	if (f->len > KPF_RX_MAX_FRAME) {
		kpf_rx_drop(port, f, KPF_PORT_DROP_OVERSIZE);
		return;
	}
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
	u32 i, runs = 0, lo = U32_MAX, hi = 0, slot;
	struct kpf_rx_frame *f;

	lockdep_assert_held(&region->lock);
	*nr_old = 0;
	for (i = 0; i < n; i++) {
		f = &b->frames[i];
		if (!f->nr_slots || !f->kp)
			continue;
		slot = b->slots[f->first];
		b->old[(*nr_old)++] = region->slots[slot];
		kpf_pool_move(f->kp, KPF_PAGE_SLOT);
		region->slots[slot] = f->kp;
		f->kp = NULL;
	}
	if (!*nr_old)
		return 0;

	/* Slots are sorted: walk the runs, unmapping the flipped span of each. */
	bitmap_zero(b->flipped, nr_slots);
	for (i = 0; i < n; i++) {
		f = &b->frames[i];
		if (f->nr_slots && f->used.flags & KPF_USED_F_FLIPPED)
			__set_bit(f->first, b->flipped);
	}
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

static u32 kpf_rx_copy(struct kpf_port *port, struct kpf_rx_frame *f,
		       const u32 *slots, struct kpf_used_elem *elems)
{
	struct kpf_region *region = port->region;
	u32 done = 0, chunk, i;
	u8 *dst;

	for (i = 0; i < f->nr_slots; i++) {
		chunk = min_t(u32, f->len - done, PAGE_SIZE);
		/* Posted slots change pages only in this worker. */
		dst = page_address(region->slots[slots[i]]->page);
		if (f->item)
			skb_copy_bits(f->item, done, dst, chunk);
		else
			memcpy(dst, f->data + done, chunk);
		elems[i] = f->used;
		elems[i].slot = slots[i];
		elems[i].offset = 0;
		elems[i].len = chunk;
		if (i + 1 < f->nr_slots)
			elems[i].flags |= KPF_USED_F_MORE;
		if (i) {
			elems[i].vlan_tci = 0;
			elems[i].gso_size = 0;
			elems[i].flags &= KPF_USED_F_MORE;
		}
		done += chunk;
	}
	kpf_port_count(port, KPF_PORT_BYTES_COPIED, done);
	return f->nr_slots;
}

static void kpf_rx_deliver(struct kpf_port *port, struct kpf_rx_batch *b,
			   unsigned int n)
{
	struct kpf_region *region = port->region;
	unsigned int i, nr_old = 0, nr_elems = 0, delivered = 0, flipped = 0;
	bool flips = false;
	u32 nr_slots = 0, runs = 0, j;
	struct kpf_rx_frame *f;

	for (i = 0; i < n; i++)
		flips |= b->frames[i].nr_slots && b->frames[i].kp;

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
		if (f->used.flags & KPF_USED_F_FLIPPED) {
			b->elems[nr_elems] = f->used;
			b->elems[nr_elems].slot = b->slots[f->first];
			b->elems[nr_elems].len = f->len;
			nr_elems++;
			flipped++;
		} else {
			nr_elems += kpf_rx_copy(port, f, &b->slots[f->first],
						&b->elems[nr_elems]);
			kpf_port_count(port, KPF_PORT_COPIED, 1);
			if (f->page)
				put_page(f->page);
		}
		f->page = NULL;
		if (f->item)
			consume_skb(f->item);
		f->item = NULL;
		delivered++;
	}

	/* The slots are the guest's again before it can see them completed. */
	for (j = 0; j < nr_elems; j++)
		clear_bit(b->elems[j].slot, region->posted);
	kpf_ring_publish(port, b->elems, nr_elems);

	for (i = 0; i < nr_old; i++)
		kpf_pool_release(b->old[i], &region->stats);

	kpf_port_count(port, KPF_PORT_DELIVERED, delivered);
	kpf_port_count(port, KPF_PORT_FLIPPED, flipped);
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
	struct kpf_rx_batch *b = port->batch;
	struct xdp_frame *frame;
	unsigned int n = 0;
	void *item;

	while (n < KPF_RX_BATCH && (item = ptr_ring_consume(&port->queue))) {
		struct kpf_rx_frame *f = &b->frames[n++];

		memset(f, 0, sizeof(*f));
		frame = kpf_rx_item_to_xdp(item);
		if (frame)
			kpf_rx_prepare_xdp(port, f, frame,
					   kpf_rx_item_copy_only(item));
		else
			kpf_rx_prepare_skb(port, f, item);
		if (f->nr_slots > port->ring_size)
			kpf_rx_drop(port, f, KPF_PORT_DROP_OVERSIZE);
	}

	/* Without frames, a doorbell only makes the posted slots known. */
	kpf_rx_deliver(port, b, n);

	if (!__ptr_ring_empty(&port->queue))
		kpf_port_schedule(port);
}
