// SPDX-License-Identifier: GPL-2.0
/*
 * The receive path: the kvm-pageflip guest ring (Documentation/
 * guest-protocol.rst) driven from NAPI.
 *
 * Receive data slots are posted empty; a completion hands back a slot that
 * holds (part of) a frame, copied or flipped into it by the host.  With
 * struct pages for BAR2 (region.c) the page itself goes to the stack: the
 * first element becomes the skb's head (napi_build_skb()), the others its
 * fragments.  The slot is then held until the page's reference count is
 * back to the driver's own, and only then posted again.
 *
 * Everything the host wrote is read once, into the stack, and checked
 * before it is used: a completion naming a slot that is not posted, bytes
 * beyond the page, unknown flags, a frame that does not end within
 * KPFN_MAX_ELEMS elements or past used_idx, or a used_idx that runs ahead of
 * what was posted, stops the ring; the device is then reset (main.c).
 */
#include <linux/etherdevice.h>
#include <linux/if_vlan.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>

#include "kpfn.h"

#define KPFN_USED_F_GSO (KPF_USED_F_GSO_TCPV4 | KPF_USED_F_GSO_TCPV6)
#define KPFN_USED_F_KNOWN                                         \
	(KPF_USED_F_MORE | KPF_USED_F_VLAN | KPF_USED_F_FLIPPED | \
	 KPF_USED_F_CSUM_OK | KPFN_USED_F_GSO | KPF_USED_F_CSUM_PARTIAL)
/* What the elements after a frame's first may carry. */
#define KPFN_USED_F_LATER (KPF_USED_F_MORE | KPF_USED_F_FLIPPED)

/* Bytes of a page an skb head may use for the frame, before its shinfo. */
#define KPFN_HEAD_MAX SKB_WITH_OVERHEAD(PAGE_SIZE)
/* Head of an skb whose first element leaves no room for the shinfo. */
#define KPFN_PULL_MAX 256

/* One frame, as read from the used ring. */
struct kpfn_frame {
	struct kpf_used_elem e[KPFN_MAX_ELEMS];
	u32 n;
	u32 len;
};

static_assert(MAX_SKB_FRAGS >= KPFN_MAX_ELEMS);

static void kpfn_rx_add(struct kpfn_rx *rx, enum kpfn_rx_stat stat, u64 n)
{
	kpfn_stat_add(&rx->syncp, &rx->stats[stat], n);
}

static u8 *kpfn_rx_state(struct kpfn_rx *rx, u32 slot)
{
	return &rx->state[slot - rx->first];
}

static void kpfn_rx_put_free(struct kpfn_rx *rx, u32 slot)
{
	*kpfn_rx_state(rx, slot) = KPFN_SLOT_FREE;
	rx->free[rx->nr_free++] = slot;
}

static void kpfn_rx_put_held(struct kpfn_rx *rx, u32 slot)
{
	*kpfn_rx_state(rx, slot) = KPFN_SLOT_HELD;
	rx->held[(rx->held_head + rx->held_count) % rx->nr] = slot;
	rx->held_count++;
}

/*
 * Move up to @max held slots whose pages the stack has released to the free
 * stack; the others go to the back of the queue.
 */
static void kpfn_rx_reclaim(struct kpfn_dev *kd, u32 max)
{
	struct kpfn_rx *rx = &kd->rx;
	u32 n = min(max, rx->held_count), reused = 0, slot;

	while (n--) {
		slot = rx->held[rx->held_head];
		rx->held_head = (rx->held_head + 1) % rx->nr;
		rx->held_count--;
		if (kpfn_region_page_idle(kd, slot)) {
			kpfn_rx_put_free(rx, slot);
			reused++;
		} else {
			kpfn_rx_put_held(rx, slot);
		}
	}
	if (!reused)
		return;
	/* The stack's last accesses to the pages before the host's next. */
	smp_mb();
	kpfn_rx_add(rx, KPFN_RX_PAGES_REUSED, reused);
}

/* Post free slots while the ring has room; ring the doorbell if asked. */
static void kpfn_rx_refill(struct kpfn_dev *kd)
{
	struct kpfn_rx *rx = &kd->rx;
	u32 old = rx->posted, event, slot;

	while (rx->posted - rx->taken < rx->size && rx->nr_free) {
		slot = rx->free[--rx->nr_free];
		*kpfn_rx_state(rx, slot) = KPFN_SLOT_POSTED;
		WRITE_ONCE(rx->avail[rx->posted & (rx->size - 1)], slot);
		rx->posted++;
	}
	if (rx->posted == old)
		goto out;
	kpfn_rx_add(rx, KPFN_RX_POSTED, rx->posted - old);
	/* The entries before the index that covers them. */
	virt_wmb();
	WRITE_ONCE(rx->hdr->avail_idx, rx->posted);
	/* The index before the look at the event index. */
	virt_mb();
	event = READ_ONCE(rx->hdr->avail_event);
	if ((u32)(rx->posted - event - 1) < (u32)(rx->posted - old)) {
		kpfn_write(kd, KPF_PCI_REG_RX_DOORBELL, 1);
		kpfn_rx_add(rx, KPFN_RX_DOORBELLS, 1);
	}
out:
	/*
	 * With nothing posted no completion comes to poll again: when the
	 * stack holds every free page, look again shortly.
	 */
	if (rx->posted == rx->taken && rx->held_count)
		schedule_delayed_work(&kd->refill_work, 1);
}

static void kpfn_rx_bad(struct kpfn_dev *kd, const char *what, u32 value)
{
	kpfn_rx_add(&kd->rx, KPFN_RX_BAD_COMPLETIONS, 1);
	if (net_ratelimit())
		netdev_err(kd->ndev,
			   "bad completion from the host: %s %u; resetting\n",
			   what, value);
	kpfn_reset_schedule(kd);
}

/* Check one element; @first is the frame's first element, NULL for it. */
static const char *kpfn_rx_elem_check(struct kpfn_dev *kd,
				      const struct kpf_used_elem *e,
				      const struct kpf_used_elem *first)
{
	struct kpfn_rx *rx = &kd->rx;

	if (e->slot < rx->first || e->slot >= kd->nr_slots)
		return "slot out of range";
	if (*kpfn_rx_state(rx, e->slot) != KPFN_SLOT_POSTED)
		return "slot not posted";
	if (!e->len || e->offset + e->len > KPF_PCI_SLOT_SIZE)
		return "bytes beyond the slot in";
	if (e->__reserved)
		return "reserved field set in";
	if (!first)
		return e->flags & ~KPFN_USED_F_KNOWN ? "unknown flags in" :
						       NULL;
	if (e->flags & ~KPFN_USED_F_LATER)
		return "first-element flags later in";
	if ((e->flags ^ first->flags) & KPF_USED_F_FLIPPED)
		return "flipped and copied elements in";
	return NULL;
}

/*
 * Read the frame that starts at @taken, with @ready elements published.
 * Returns 0, or -EPROTO after reporting what was wrong.
 */
static int kpfn_rx_read_frame(struct kpfn_dev *kd, u32 ready,
			      struct kpfn_frame *f)
{
	struct kpfn_rx *rx = &kd->rx;
	const struct kpf_used_elem *src;
	struct kpf_used_elem *e;
	const char *why;
	u32 i;

	f->len = 0;
	for (i = 0; i < ready && i < KPFN_MAX_ELEMS; i++) {
		src = &rx->used[(rx->taken + i) & (rx->size - 1)];
		e = &f->e[i];
		e->slot = READ_ONCE(src->slot);
		e->offset = READ_ONCE(src->offset);
		e->len = READ_ONCE(src->len);
		e->vlan_tci = READ_ONCE(src->vlan_tci);
		e->flags = READ_ONCE(src->flags);
		e->gso_size = READ_ONCE(src->gso_size);
		e->__reserved = READ_ONCE(src->__reserved);
		why = kpfn_rx_elem_check(kd, e, i ? f->e : NULL);
		if (why) {
			kpfn_rx_bad(kd, why, e->slot);
			return -EPROTO;
		}
		/* Taken: a second completion of the slot is caught above. */
		*kpfn_rx_state(rx, e->slot) = KPFN_SLOT_TAKEN;
		f->len += e->len;
		if (!(e->flags & KPF_USED_F_MORE)) {
			f->n = i + 1;
			return 0;
		}
	}
	kpfn_rx_bad(kd,
		    i == ready ? "frame unfinished at used_idx" :
				 "frame longer than elements",
		    i);
	return -EPROTO;
}

/* An skb around the frame's pages, without copying the payload. */
static struct sk_buff *kpfn_rx_build(struct kpfn_dev *kd,
				     const struct kpfn_frame *f, u32 *pulled)
{
	const struct kpf_used_elem *e = f->e;
	struct sk_buff *skb;
	void *va;
	u32 i = 0, hlen;

	/* eth_type_trans() needs the Ethernet header in the head. */
	if (e->len >= ETH_HLEN && e->offset + e->len <= KPFN_HEAD_MAX) {
		skb = napi_build_skb(kpfn_slot_va(kd, e->slot), PAGE_SIZE);
		if (!skb)
			return NULL;
		/* The head's reference, dropped when the skb is freed. */
		get_page(kpfn_slot_page(kd, e->slot));
		skb_reserve(skb, e->offset);
		__skb_put(skb, e->len);
		i = 1;
	} else {
		skb = napi_alloc_skb(&kd->napi, KPFN_PULL_MAX);
		if (!skb)
			return NULL;
	}
	for (; i < f->n; i++) {
		get_page(kpfn_slot_page(kd, e[i].slot));
		skb_add_rx_frag(skb, skb_shinfo(skb)->nr_frags,
				kpfn_slot_page(kd, e[i].slot), e[i].offset,
				e[i].len, PAGE_SIZE);
	}
	if (skb_headlen(skb))
		return skb;

	/*
	 * No room for an skb head in the page, or a first element shorter
	 * than an Ethernet header: pull the headers.
	 */
	va = kpfn_slot_va(kd, e->slot) + e->offset;
	hlen = eth_get_headlen(kd->ndev, va, min_t(u32, e->len, KPFN_PULL_MAX));
	hlen = clamp_t(u32, hlen, ETH_HLEN, min_t(u32, f->len, KPFN_PULL_MAX));
	if (!__pskb_pull_tail(skb, hlen)) {
		kfree_skb(skb);
		return NULL;
	}
	*pulled = hlen;
	return skb;
}

/* An skb with a copy of the frame, for BAR2 without struct pages. */
static struct sk_buff *kpfn_rx_copy(struct kpfn_dev *kd,
				    const struct kpfn_frame *f)
{
	struct sk_buff *skb;
	u32 i;

	skb = napi_alloc_skb(&kd->napi, f->len);
	if (!skb)
		return NULL;
	for (i = 0; i < f->n; i++)
		skb_put_data(skb,
			     kpfn_slot_va(kd, f->e[i].slot) + f->e[i].offset,
			     f->e[i].len);
	return skb;
}

/*
 * CHECKSUM_PARTIAL for a TCP frame whose checksum field holds only the
 * pseudo-header sum; skb->data is at the network header.
 */
static bool kpfn_rx_csum_partial(struct sk_buff *skb)
{
	const struct ipv6hdr *ip6;
	const struct iphdr *ip4;
	u32 start;

	switch (skb->protocol) {
	case htons(ETH_P_IP):
		if (!pskb_may_pull(skb, sizeof(*ip4)))
			return false;
		ip4 = (const struct iphdr *)skb->data;
		if (ip4->protocol != IPPROTO_TCP || ip4->ihl < 5)
			return false;
		start = ip4->ihl * 4;
		break;
	case htons(ETH_P_IPV6):
		if (!pskb_may_pull(skb, sizeof(*ip6)))
			return false;
		ip6 = (const struct ipv6hdr *)skb->data;
		if (ip6->nexthdr != IPPROTO_TCP)
			return false;
		start = sizeof(*ip6);
		break;
	default:
		return false;
	}
	if (!pskb_may_pull(skb, start + sizeof(struct tcphdr)))
		return false;
	return skb_partial_csum_set(skb, start, offsetof(struct tcphdr, check));
}

/* Apply the first element's VLAN, checksum and GSO information. */
static bool kpfn_rx_offloads(struct kpfn_dev *kd, struct sk_buff *skb,
			     const struct kpf_used_elem *first)
{
	struct kpfn_rx *rx = &kd->rx;
	u16 gso = first->flags & KPFN_USED_F_GSO;

	if (first->flags & KPF_USED_F_VLAN) {
		if (kd->features & KPF_PCI_F_ACCESS_VLAN) {
			kpfn_rx_add(rx, KPFN_RX_VLAN_STRIPPED, 1);
		} else {
			__vlan_hwaccel_put_tag(skb, htons(ETH_P_8021Q),
					       first->vlan_tci);
			kpfn_rx_add(rx, KPFN_RX_VLAN_TAGGED, 1);
		}
	}
	if (first->flags & KPF_USED_F_CSUM_PARTIAL) {
		if (!kpfn_rx_csum_partial(skb))
			return false;
		kpfn_rx_add(rx, KPFN_RX_CSUM_PARTIAL, 1);
	} else if ((first->flags & KPF_USED_F_CSUM_OK) &&
		   (kd->ndev->features & NETIF_F_RXCSUM)) {
		skb->ip_summed = CHECKSUM_UNNECESSARY;
		kpfn_rx_add(rx, KPFN_RX_CSUM_OK, 1);
	}
	if (!gso)
		return true;
	if (skb->protocol !=
	    htons(gso == KPF_USED_F_GSO_TCPV4 ? ETH_P_IP : ETH_P_IPV6))
		return false;
	skb_shinfo(skb)->gso_size = first->gso_size;
	/* The host is not trusted: the stack checks the headers again. */
	skb_shinfo(skb)->gso_type =
		SKB_GSO_DODGY |
		(gso == KPF_USED_F_GSO_TCPV4 ? SKB_GSO_TCPV4 : SKB_GSO_TCPV6);
	skb_shinfo(skb)->gso_segs = 0;
	kpfn_rx_add(rx, KPFN_RX_GSO, 1);
	return true;
}

/* Why a well-formed frame cannot go up, or KPFN_RX_NR_STATS if it can. */
static enum kpfn_rx_stat kpfn_rx_frame_drop(struct kpfn_dev *kd,
					    const struct kpfn_frame *f)
{
	const struct kpf_used_elem *first = f->e;
	u16 gso = first->flags & KPFN_USED_F_GSO;

	if (f->len < ETH_HLEN)
		return KPFN_RX_DROP_LENGTH;
	if (gso) {
		/* A TCP aggregate: one kind, a size, and a partial sum. */
		if (gso == KPFN_USED_F_GSO || !first->gso_size ||
		    !(first->flags & KPF_USED_F_CSUM_PARTIAL))
			return KPFN_RX_DROP_BAD_OFFLOAD;
	} else if (f->len > kd->ndev->max_mtu + VLAN_ETH_HLEN) {
		return KPFN_RX_DROP_LENGTH;
	}
	if ((kd->features & KPF_PCI_F_ACCESS_VLAN) &&
	    (!(first->flags & KPF_USED_F_VLAN) ||
	     (first->vlan_tci & VLAN_VID_MASK) != kd->vlan))
		return KPFN_RX_DROP_VLAN;
	return KPFN_RX_NR_STATS;
}

/* Hand one checked frame to the stack, or drop it; its slots move on. */
static void kpfn_rx_frame(struct kpfn_dev *kd, const struct kpfn_frame *f)
{
	bool flipped = f->e[0].flags & KPF_USED_F_FLIPPED;
	struct kpfn_rx *rx = &kd->rx;
	enum kpfn_rx_stat drop;
	struct sk_buff *skb = NULL;
	u32 i, pulled = 0;

	drop = kpfn_rx_frame_drop(kd, f);
	if (drop == KPFN_RX_NR_STATS) {
		if (kd->has_pages) {
			skb = kpfn_rx_build(kd, f, &pulled);
			kpfn_rx_add(rx,
				    flipped ? KPFN_RX_HDR_PULL_FLIPPED :
					      KPFN_RX_HDR_PULL_COPIED,
				    pulled);
		} else {
			skb = kpfn_rx_copy(kd, f);
			if (skb)
				kpfn_rx_add(rx,
					    flipped ?
						    KPFN_RX_GUEST_COPY_FLIPPED :
						    KPFN_RX_GUEST_COPY_COPIED,
					    f->len);
		}
		if (!skb)
			drop = KPFN_RX_DROP_NOMEM;
	}
	/* Pages that went into an skb come back once the stack is done. */
	for (i = 0; i < f->n; i++) {
		if (skb && kd->has_pages)
			kpfn_rx_put_held(rx, f->e[i].slot);
		else
			kpfn_rx_put_free(rx, f->e[i].slot);
	}
	kpfn_rx_add(rx, KPFN_RX_ELEMS, f->n);
	if (!skb) {
		kpfn_rx_add(rx, drop, 1);
		return;
	}

	skb->protocol = eth_type_trans(skb, kd->ndev);
	if (!kpfn_rx_offloads(kd, skb, f->e)) {
		kfree_skb(skb);
		kpfn_rx_add(rx, KPFN_RX_DROP_BAD_OFFLOAD, 1);
		return;
	}
	kpfn_rx_add(rx, KPFN_RX_FRAMES, 1);
	kpfn_rx_add(rx, KPFN_RX_BYTES, f->len);
	kpfn_rx_add(rx,
		    flipped ? KPFN_RX_FRAMES_FLIPPED : KPFN_RX_FRAMES_COPIED,
		    1);
	kpfn_rx_add(rx, flipped ? KPFN_RX_BYTES_FLIPPED : KPFN_RX_BYTES_COPIED,
		    f->len);
	if (f->n > 1)
		kpfn_rx_add(rx, KPFN_RX_MULTI_ELEM, 1);
	napi_gro_receive(&kd->napi, skb);
}

/* Take up to @budget frames; returns how many, or -EPROTO. */
static int kpfn_rx_process(struct kpfn_dev *kd, int budget, u32 *elems)
{
	struct kpfn_rx *rx = &kd->rx;
	struct kpfn_frame f;
	int done = 0;
	u32 used;

	used = READ_ONCE(rx->hdr->used_idx);
	if ((u32)(used - rx->taken) > (u32)(rx->posted - rx->taken)) {
		kpfn_rx_bad(kd, "used_idx beyond the posted slots:", used);
		return -EPROTO;
	}
	/* The index before the elements it covers. */
	virt_rmb();
	while (rx->taken != used && done < budget) {
		if (kpfn_rx_read_frame(kd, used - rx->taken, &f))
			return -EPROTO;
		rx->taken += f.n;
		*elems += f.n;
		kpfn_rx_frame(kd, &f);
		done++;
	}
	return done;
}

/*
 * Ask for the next interrupt.  Without coalescing, at the next completion.
 * With rx-usecs, while frames keep coming: not before rx-frames completions
 * (never, with rx-frames 0 or 1), and the timer polls after rx-usecs; the
 * first poll that finds nothing goes back to an interrupt per completion.
 */
static void kpfn_rx_arm(struct kpfn_dev *kd, int done)
{
	u32 usecs = READ_ONCE(kd->rx_usecs), frames = READ_ONCE(kd->rx_frames);
	struct kpfn_rx *rx = &kd->rx;

	if (usecs && done) {
		WRITE_ONCE(rx->hdr->used_event,
			   frames > 1 ? rx->taken + frames - 1 : rx->taken - 1);
		hrtimer_start(&kd->coal_timer,
			      ns_to_ktime(usecs * NSEC_PER_USEC),
			      HRTIMER_MODE_REL);
		kpfn_rx_add(rx, KPFN_RX_TIMER_ARMS, 1);
		return;
	}
	WRITE_ONCE(rx->hdr->used_event, rx->taken);
	/* used_event before the second look at used_idx. */
	virt_mb();
	if (READ_ONCE(rx->hdr->used_idx) != rx->taken)
		napi_schedule(&kd->napi);
}

/**
 * kpfn_rx_poll() - the receive NAPI poll
 * @napi: the device's NAPI context
 * @budget: frames it may deliver
 *
 * Return: frames delivered.
 */
int kpfn_rx_poll(struct napi_struct *napi, int budget)
{
	struct kpfn_dev *kd = container_of(napi, struct kpfn_dev, napi);
	struct kpfn_rx *rx = &kd->rx;
	u32 elems = 0, error;
	int done = 0;

	/* netpoll: no frames, and NAPI stays scheduled. */
	if (!budget)
		return 0;
	kpfn_rx_add(rx, KPFN_RX_POLLS, 1);
	if (READ_ONCE(kd->reset_pending))
		goto out;
	error = READ_ONCE(rx->hdr->error);
	if (error) {
		kpfn_rx_add(rx, KPFN_RX_RING_ERRORS, 1);
		if (net_ratelimit())
			netdev_err(kd->ndev, "host stopped the RX ring (%u)\n",
				   error);
		kpfn_reset_schedule(kd);
		goto out;
	}
	done = kpfn_rx_process(kd, budget, &elems);
	if (done < 0) {
		done = 0;
		goto out;
	}
	/* Reclaim in proportion to what was taken, at least a little. */
	kpfn_rx_reclaim(kd, 2 * elems + 16);
	kpfn_rx_refill(kd);
	if (done < budget && napi_complete_done(napi, done))
		kpfn_rx_arm(kd, done);
	return done;
out:
	napi_complete_done(napi, done);
	return done;
}

/**
 * kpfn_rx_coal_timer() - rx-usecs passed: poll
 * @timer: the device's coalescing timer
 *
 * Return: HRTIMER_NORESTART; the next poll re-arms it if still busy.
 */
enum hrtimer_restart kpfn_rx_coal_timer(struct hrtimer *timer)
{
	struct kpfn_dev *kd = container_of(timer, struct kpfn_dev, coal_timer);

	napi_schedule(&kd->napi);
	return HRTIMER_NORESTART;
}

/**
 * kpfn_rx_refill_work() - poll again after the ring ran dry
 * @work: the device's refill_work
 */
void kpfn_rx_refill_work(struct work_struct *work)
{
	struct kpfn_dev *kd = container_of(to_delayed_work(work),
					   struct kpfn_dev, refill_work);

	/* With bottom halves off, so that the poll runs when they are on. */
	local_bh_disable();
	napi_schedule(&kd->napi);
	local_bh_enable();
}

/**
 * kpfn_rx_start() - use the receive ring the device just set up
 * @kd: the device, enabled, with NAPI disabled
 *
 * Checks the ring header against the registers, posts every free slot the
 * ring takes and enables NAPI.
 *
 * Return: 0, or -EIO for a ring the driver does not understand.
 */
int kpfn_rx_start(struct kpfn_dev *kd)
{
	struct kpfn_rx *rx = &kd->rx;
	struct kpf_ring_hdr *hdr = kpfn_slot_va(kd, kd->rx_ring_slot);
	u32 avail_off = KPF_PCI_SLOT_SIZE;
	u32 used_off = KPF_PCI_SLOT_SIZE * (1 + KPF_RING_AVAIL_PAGES(rx->size));

	if (READ_ONCE(hdr->magic) != KPF_RING_MAGIC ||
	    READ_ONCE(hdr->version) != KPF_RING_VERSION ||
	    READ_ONCE(hdr->ring_size) != rx->size ||
	    READ_ONCE(hdr->avail_offset) != avail_off ||
	    READ_ONCE(hdr->used_offset) != used_off ||
	    READ_ONCE(hdr->port_id) != kpfn_read(kd, KPF_PCI_REG_PORT_ID) ||
	    READ_ONCE(hdr->used_idx) || READ_ONCE(hdr->error)) {
		netdev_err(kd->ndev,
			   "bad RX ring header: magic %#x size %u port %u\n",
			   READ_ONCE(hdr->magic), READ_ONCE(hdr->ring_size),
			   READ_ONCE(hdr->port_id));
		return -EIO;
	}
	rx->hdr = hdr;
	rx->avail = (void *)hdr + avail_off;
	rx->used = (void *)hdr + used_off;
	rx->posted = 0;
	rx->taken = 0;
	kpfn_rx_reclaim(kd, rx->held_count);
	kpfn_rx_refill(kd);
	napi_enable(&kd->napi);
	/* Frames may have come before the interrupt was asked for. */
	local_bh_disable();
	napi_schedule(&kd->napi);
	local_bh_enable();
	return 0;
}

/**
 * kpfn_rx_stop() - stop receiving; the device is disabled
 * @kd: the device
 *
 * Slots that were posted or being checked are the driver's again (the port
 * that had them is gone); slots the stack holds stay held.
 */
void kpfn_rx_stop(struct kpfn_dev *kd)
{
	struct kpfn_rx *rx = &kd->rx;
	u32 i;

	napi_disable(&kd->napi);
	hrtimer_cancel(&kd->coal_timer);
	cancel_delayed_work_sync(&kd->refill_work);
	for (i = 0; i < rx->nr; i++) {
		if (rx->state[i] == KPFN_SLOT_POSTED ||
		    rx->state[i] == KPFN_SLOT_TAKEN)
			kpfn_rx_put_free(rx, rx->first + i);
	}
}

/**
 * kpfn_rx_pages_held() - how many receive pages the stack holds
 * @kd: the device
 *
 * Return: the number of held slots, as last seen by the receive path.
 */
u32 kpfn_rx_pages_held(struct kpfn_dev *kd)
{
	return READ_ONCE(kd->rx.held_count);
}

/**
 * kpfn_rx_init() - the receive slots' bookkeeping
 * @kd: the device; the geometry is checked and the transmit slots chosen
 *
 * Receive data slots are the data slots after the transmit ring's.
 *
 * Return: 0 or -ENOMEM.
 */
int kpfn_rx_init(struct kpfn_dev *kd)
{
	struct kpfn_rx *rx = &kd->rx;
	u32 i;

	rx->size = kpfn_read(kd, KPF_PCI_REG_RX_RING_SIZE);
	rx->first = kd->tx.first + kd->tx.size;
	rx->nr = kd->nr_slots - rx->first;
	rx->state = kcalloc(rx->nr, sizeof(*rx->state), GFP_KERNEL);
	if (!rx->state)
		goto err;
	rx->free = kcalloc(rx->nr, sizeof(*rx->free), GFP_KERNEL);
	if (!rx->free)
		goto err_free_state;
	rx->held = kcalloc(rx->nr, sizeof(*rx->held), GFP_KERNEL);
	if (!rx->held)
		goto err_free_free;
	/* Lowest slots on top: the host flips contiguous runs best. */
	for (i = rx->nr; i-- > 0;)
		kpfn_rx_put_free(rx, rx->first + i);
	u64_stats_init(&rx->syncp);
	return 0;

err_free_free:
	kfree(rx->free);
err_free_state:
	kfree(rx->state);
err:
	return -ENOMEM;
}

/**
 * kpfn_rx_uninit() - wait for the stack's pages and free the bookkeeping
 * @kd: the device, stopped
 */
void kpfn_rx_uninit(struct kpfn_dev *kd)
{
	struct kpfn_rx *rx = &kd->rx;

	kpfn_region_wait_idle(kd);
	kfree(rx->held);
	kfree(rx->free);
	kfree(rx->state);
}
