/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KPF_PORT_H
#define KPF_PORT_H

#include <linux/atomic.h>
#include <linux/kvm_pageflip.h>
#include <linux/list.h>
#include <linux/poll.h>
#include <linux/ptr_ring.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

struct eventfd_ctx;
struct kpf_rx_batch;
struct xdp_frame;
struct kpf_region;

/* Frames waiting for a port's worker; more are dropped (QUEUE_FULL). */
#define KPF_PORT_QUEUE_LEN 512
/* Frames one worker run delivers before it yields. */
#define KPF_RX_BATCH 64

/**
 * struct kpf_port - one receive queue of a region
 *
 * Set at creation, then constant:
 * @id: module-wide id
 * @region: the region; it outlives the port
 * @ring_slot: first control slot
 * @ring_pages: number of control slots
 * @ring_size: entries per ring, a power of two
 * @ring: kernel mapping of the control slots (vmap)
 * @hdr: ring header in @ring
 * @avail: avail ring in @ring (written by the guest)
 * @used: used ring in @ring (written by the module)
 * @irq: eventfd that interrupts the guest, or NULL
 * @kick_file: eventfd file of the doorbell, or NULL
 * @kick_wqh: its wait queue, while @kick_wait is on it
 * @kick_wait: our entry on @kick_wqh
 * @kick_pt: poll table used to find @kick_wqh
 * @vmm_tgid: thread group of the VMM, for messages
 *
 * @copybreak: copy frames shorter than this (READ_ONCE; KPF_PORT_SET)
 * @state: enum kpf_port_state (READ_ONCE; written by the worker)
 * @error: enum kpf_ring_error once @state is KPF_PORT_STATE_ERROR
 * @queue: frames classified to the port, from softirq to the worker
 * @work: the worker
 * @batch: the worker's scratch space
 *
 * Serialised by the work item (only the worker touches them after setup):
 * @last_avail: avail entries consumed so far
 * @used_idx: used elements published so far
 * @posted: validated posted slots not yet completed, a FIFO of ring_size
 *          (entries [@posted_head, @posted_head + @nr_posted))
 * @posted_head: see @posted
 * @nr_posted: see @posted
 *
 * @region_node: in the region's port list (region->lock)
 * @deleting: a deletion has claimed the port, or it is still being created
 *            (region->lock)
 * @counters: enum kpf_port_counter
 */
struct kpf_port {
	u32 id;
	struct kpf_region *region;
	u32 ring_slot;
	u32 ring_pages;
	u32 ring_size;
	void *ring;
	struct kpf_ring_hdr *hdr;
	u32 *avail;
	struct kpf_used_elem *used;
	struct eventfd_ctx *irq;
	struct file *kick_file;
	wait_queue_head_t *kick_wqh;
	wait_queue_entry_t kick_wait;
	poll_table kick_pt;
	pid_t vmm_tgid;

	u32 copybreak;
	u32 state;
	u32 error;
	struct ptr_ring queue;
	struct work_struct work;
	struct kpf_rx_batch *batch;

	u32 last_avail;
	u32 used_idx;
	u32 *posted;
	u32 posted_head;
	u32 nr_posted;

	struct list_head region_node;
	bool deleting;
	atomic64_t counters[KPF_PORT_NR_COUNTERS];
};

static inline void kpf_port_count(struct kpf_port *port,
				  enum kpf_port_counter c, u64 n)
{
	atomic64_add(n, &port->counters[c]);
}

u32 kpf_port_id(const struct kpf_port *port);
u32 kpf_port_default_copybreak(void);
int kpf_port_create(struct kpf_region *region, struct kpf_region_add_port *cmd);
int kpf_port_delete(struct kpf_region *region, u32 port_id);
void kpf_port_delete_all(struct kpf_region *region);
struct kpf_port *kpf_port_lookup_rtnl(u32 port_id);
int kpf_port_list(struct kpf_port_info __user *uinfo, u32 room, u32 *total);
int kpf_port_set(struct kpf_port_set *cmd);

/**
 * struct kpf_rx_inject - a test frame injected through debugfs (debug.c)
 * @len: its length
 * @nr_pages: pages it fills, from offset 0
 * @pages: the pages; the frame owns their only reference
 */
struct kpf_rx_inject {
	u32 len;
	u32 nr_pages;
	struct page *pages[];
};

/*
 * A queued frame is an sk_buff; or an xdp_frame with bit 0 of the pointer
 * set, and bit 1 too when its page must not be flipped; or an injected test
 * frame with only bit 1 set.  All three structs are at least 8-byte aligned
 * (an xdp_frame sits at the start of its buffer).
 */
#define KPF_RX_ITEM_XDP 1UL
#define KPF_RX_ITEM_COPY 2UL
#define KPF_RX_ITEM_INJECT KPF_RX_ITEM_COPY
#define KPF_RX_ITEM_BITS (KPF_RX_ITEM_XDP | KPF_RX_ITEM_COPY)

static inline void *kpf_rx_item_inject(struct kpf_rx_inject *inj)
{
	return (void *)((unsigned long)inj | KPF_RX_ITEM_INJECT);
}

static inline struct kpf_rx_inject *kpf_rx_item_to_inject(void *item)
{
	if (((unsigned long)item & KPF_RX_ITEM_BITS) != KPF_RX_ITEM_INJECT)
		return NULL;
	return (struct kpf_rx_inject *)((unsigned long)item &
					~KPF_RX_ITEM_BITS);
}

static inline void *kpf_rx_item_xdp(struct xdp_frame *frame, bool copy_only)
{
	return (void *)((unsigned long)frame | KPF_RX_ITEM_XDP |
			(copy_only ? KPF_RX_ITEM_COPY : 0));
}

static inline struct xdp_frame *kpf_rx_item_to_xdp(void *item)
{
	if (!((unsigned long)item & KPF_RX_ITEM_XDP))
		return NULL;
	return (struct xdp_frame *)((unsigned long)item & ~KPF_RX_ITEM_BITS);
}

static inline bool kpf_rx_item_copy_only(void *item)
{
	return (unsigned long)item & KPF_RX_ITEM_COPY;
}

void kpf_port_enqueue(struct kpf_port *port, void *item, unsigned int len);
int kpf_port_inject(u32 port_id, u32 len, u32 count);
void kpf_port_schedule(struct kpf_port *port);

int kpf_port_init(void);
void kpf_port_uninit(void);

/* rx.c: the worker's delivery of one batch */
struct kpf_rx_batch *kpf_rx_batch_alloc(void);
void kpf_rx_work(struct work_struct *work);

#endif /* KPF_PORT_H */
