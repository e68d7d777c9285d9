/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm-pageflip-net: the guest driver of the kvm-pageflip PCI device.
 *
 * One net_device per PCI function.  The receive ring is the kvm-pageflip
 * guest protocol (Documentation/guest-protocol.rst), the transmit ring and
 * the registers are the device's (include/uapi/linux/kvm_pageflip_pci.h).
 * Documentation/guest-driver.rst describes the driver as a whole.
 */
#ifndef KPFN_H
#define KPFN_H

#include <linux/hrtimer.h>
#include <linux/memremap.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/u64_stats_sync.h>
#include <linux/workqueue.h>

#include <linux/kvm_pageflip.h>
#include <linux/kvm_pageflip_pci.h>

/* A frame of the receive ring spans at most this many elements. */
#define KPFN_MAX_ELEMS DIV_ROUND_UP(65550, KPF_PCI_SLOT_SIZE)

/*
 * What a receive data slot is doing.  Only the receive path (NAPI, or open,
 * stop and reset with NAPI disabled) reads or changes it.
 */
enum kpfn_slot_state {
	KPFN_SLOT_FREE, /* the driver's, on the free stack */
	KPFN_SLOT_POSTED, /* in the receive ring, the module's */
	KPFN_SLOT_TAKEN, /* completed, being checked by this poll */
	KPFN_SLOT_HELD, /* handed to the stack, on the held queue */
};

/* Receive statistics, written only by the receive path. */
enum kpfn_rx_stat {
	KPFN_RX_FRAMES,
	KPFN_RX_BYTES,
	KPFN_RX_FRAMES_FLIPPED,
	KPFN_RX_FRAMES_COPIED,
	KPFN_RX_BYTES_FLIPPED,
	KPFN_RX_BYTES_COPIED,
	KPFN_RX_GUEST_COPY_FLIPPED, /* bytes the driver copied, flipped frames */
	KPFN_RX_GUEST_COPY_COPIED, /* bytes the driver copied, copied frames */
	KPFN_RX_HDR_PULL_FLIPPED, /* header bytes pulled into an skb head */
	KPFN_RX_HDR_PULL_COPIED,
	KPFN_RX_ELEMS,
	KPFN_RX_MULTI_ELEM,
	KPFN_RX_VLAN_STRIPPED, /* access VLAN tag dropped */
	KPFN_RX_VLAN_TAGGED, /* tag passed to the stack */
	KPFN_RX_CSUM_OK,
	KPFN_RX_CSUM_PARTIAL,
	KPFN_RX_GSO,
	KPFN_RX_DROP_NOMEM,
	KPFN_RX_DROP_LENGTH,
	KPFN_RX_DROP_VLAN,
	KPFN_RX_DROP_BAD_OFFLOAD,
	KPFN_RX_BAD_COMPLETIONS,
	KPFN_RX_RING_ERRORS,
	KPFN_RX_POLLS,
	KPFN_RX_TIMER_ARMS,
	KPFN_RX_POSTED,
	KPFN_RX_DOORBELLS,
	KPFN_RX_PAGES_REUSED,
	KPFN_RX_NR_STATS
};

/* Transmit statistics, written only under the queue's xmit lock. */
enum kpfn_tx_stat {
	KPFN_TX_FRAMES,
	KPFN_TX_BYTES,
	KPFN_TX_GUEST_COPY,
	KPFN_TX_DOORBELLS,
	KPFN_TX_QUEUE_STOPS,
	KPFN_TX_DROP_LENGTH,
	KPFN_TX_NR_STATS
};

/* Counters of events in interrupt handlers and the status work. */
enum kpfn_event_stat {
	KPFN_EV_RX_IRQS,
	KPFN_EV_TX_IRQS,
	KPFN_EV_CONFIG_IRQS,
	KPFN_EV_TX_COMPLETED,
	KPFN_EV_TX_BAD_COMPLETIONS,
	KPFN_EV_TX_RING_ERRORS,
	KPFN_EV_LINK_CHANGES,
	KPFN_EV_RESETS,
	KPFN_EV_NR_STATS
};

/**
 * struct kpfn_rx - the receive ring and the pages behind it
 * @hdr: the ring header (control slot RX_RING_SLOT)
 * @avail: the avail ring
 * @used: the used ring
 * @size: entries of each ring
 * @posted: what the driver last wrote to avail_idx
 * @taken: used elements consumed
 * @first: first receive data slot; slots [@first, nr_slots) are the ring's
 * @nr: number of receive data slots
 * @state: enum kpfn_slot_state of each receive data slot, index slot - @first
 * @free: stack of free slots, @nr_free of them
 * @nr_free: slots on @free
 * @held: FIFO of slots whose pages the stack holds (a ring of @nr entries)
 * @held_head: index in @held of the next slot to check
 * @held_count: slots in @held
 * @stats: enum kpfn_rx_stat
 * @syncp: guards @stats for readers
 *
 * Everything here belongs to the receive path: the NAPI poll, or open, stop
 * and reset while NAPI is disabled.  Nothing else writes it.
 */
struct kpfn_rx {
	struct kpf_ring_hdr *hdr;
	u32 *avail;
	struct kpf_used_elem *used;
	u32 size;
	u32 posted;
	u32 taken;
	u32 first;
	u32 nr;
	u8 *state;
	u32 *free;
	u32 nr_free;
	u32 *held;
	u32 held_head;
	u32 held_count;
	u64 stats[KPFN_RX_NR_STATS];
	struct u64_stats_sync syncp;
};

/**
 * struct kpfn_tx - the transmit ring
 * @hdr: the ring header (slot TX_RING_SLOT)
 * @desc: the descriptor array (from slot TX_RING_SLOT + 1)
 * @size: descriptors in the ring; descriptor i always uses slot @first + i
 * @first: first of the @size data slots reserved for transmission
 * @max_len: longest frame the device accepts
 * @avail: descriptors posted; written by xmit only
 * @clean: descriptors completed; written by the TX interrupt only
 * @stats: enum kpfn_tx_stat, written under the xmit lock
 * @syncp: guards @stats for readers
 *
 * @avail and @clean each have one writer; the queue is stopped when the ring
 * is full and woken by the TX interrupt, with a full barrier on both sides
 * between the index update and the check of the other side.
 */
struct kpfn_tx {
	struct kpf_pci_tx_hdr *hdr;
	struct kpf_pci_tx_desc *desc;
	u32 size;
	u32 first;
	u32 max_len;
	u32 avail;
	u32 clean;
	u64 stats[KPFN_TX_NR_STATS];
	struct u64_stats_sync syncp;
};

/**
 * struct kpfn_dev - one device
 * @pdev: the PCI function
 * @ndev: its net_device
 * @regs: BAR0
 * @region: the whole of BAR2 in the kernel's address space
 * @base_pfn: page frame of slot 0 when @pgmap maps BAR2 with struct pages
 * @pgmap: ZONE_DEVICE map of BAR2 (@has_pages)
 * @has_pages: BAR2 has struct pages: frames go to the stack zero-copy
 * @features: KPF_PCI_F_*
 * @vlan: access VLAN with KPF_PCI_F_ACCESS_VLAN
 * @nr_slots: slots in BAR2
 * @rx_ring_slot: first receive control slot
 * @tx_ring_slot: first transmit ring slot
 * @data_first: first data slot
 * @rx: receive ring
 * @tx: transmit ring
 * @napi: receive NAPI context (vector KPF_PCI_VEC_RX)
 * @coal_timer: re-arms receive polling while coalescing
 * @refill_work: polls again when the ring ran dry because the stack holds
 *               every free page
 * @status_work: link state and ring resets, in process context
 * @reset_pending: a ring needs the device reset (set by NAPI and interrupts)
 * @last_reset: jiffies of the last reset, to space them out
 * @rx_usecs: ethtool rx-usecs: how long frames may wait while busy
 * @rx_frames: ethtool rx-frames: completions per interrupt while busy
 * @up: the device is enabled and both rings run (written under RTNL; the TX
 *      interrupt reads it)
 * @events: enum kpfn_event_stat, single-writer counters
 */
struct kpfn_dev {
	struct pci_dev *pdev;
	struct net_device *ndev;
	void __iomem *regs;
	void *region;
	unsigned long base_pfn;
	struct dev_pagemap pgmap;
	bool has_pages;
	u32 features;
	u16 vlan;
	u32 nr_slots;
	u32 rx_ring_slot;
	u32 tx_ring_slot;
	u32 data_first;
	struct kpfn_rx rx;
	struct kpfn_tx tx;
	struct napi_struct napi;
	struct hrtimer coal_timer;
	struct delayed_work refill_work;
	struct delayed_work status_work;
	unsigned long reset_pending;
	unsigned long last_reset;
	u32 rx_usecs;
	u32 rx_frames;
	bool up;
	u64 events[KPFN_EV_NR_STATS];
};

/* Largest interrupt moderation the driver accepts. */
#define KPFN_RX_USECS_MAX 100000

static inline u32 kpfn_read(struct kpfn_dev *kd, u32 reg)
{
	return ioread32(kd->regs + reg);
}

static inline void kpfn_write(struct kpfn_dev *kd, u32 reg, u32 val)
{
	iowrite32(val, kd->regs + reg);
}

static inline void *kpfn_slot_va(struct kpfn_dev *kd, u32 slot)
{
	return kd->region + (size_t)slot * KPF_PCI_SLOT_SIZE;
}

static inline struct page *kpfn_slot_page(struct kpfn_dev *kd, u32 slot)
{
	return pfn_to_page(kd->base_pfn + slot);
}

/* Add to a counter of a u64_stats_sync-guarded array; one writer. */
static inline void kpfn_stat_add(struct u64_stats_sync *syncp, u64 *stat, u64 n)
{
	u64_stats_update_begin(syncp);
	*stat += n;
	u64_stats_update_end(syncp);
}

/* A single-writer event counter. */
static inline void kpfn_event(struct kpfn_dev *kd, enum kpfn_event_stat ev,
			      u64 n)
{
	WRITE_ONCE(kd->events[ev], kd->events[ev] + n);
}

void kpfn_reset_schedule(struct kpfn_dev *kd);

/* region.c */
int kpfn_region_map(struct kpfn_dev *kd);
void kpfn_region_unmap(struct kpfn_dev *kd);
bool kpfn_region_page_idle(struct kpfn_dev *kd, u32 slot);
void kpfn_region_wait_idle(struct kpfn_dev *kd);

/* rx.c */
int kpfn_rx_init(struct kpfn_dev *kd);
void kpfn_rx_uninit(struct kpfn_dev *kd);
int kpfn_rx_start(struct kpfn_dev *kd);
void kpfn_rx_stop(struct kpfn_dev *kd);
int kpfn_rx_poll(struct napi_struct *napi, int budget);
enum hrtimer_restart kpfn_rx_coal_timer(struct hrtimer *timer);
void kpfn_rx_refill_work(struct work_struct *work);
u32 kpfn_rx_pages_held(struct kpfn_dev *kd);

/* tx.c */
void kpfn_tx_init(struct kpfn_dev *kd);
void kpfn_tx_start(struct kpfn_dev *kd);
netdev_tx_t kpfn_tx_xmit(struct sk_buff *skb, struct net_device *ndev);
irqreturn_t kpfn_tx_irq(int irq, void *data);

/* ethtool.c */
extern const struct ethtool_ops kpfn_ethtool_ops;
void kpfn_get_stats64(struct net_device *ndev, struct rtnl_link_stats64 *stats);

#endif /* KPFN_H */
