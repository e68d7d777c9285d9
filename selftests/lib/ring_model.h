/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's side of a port's rings, played by the host: a reference
 * for the guest ring code (ring.h) that needs no module.  It lays out the
 * control slots as KPF_REGION_ADD_PORT does, takes the slots the guest
 * posts (checking them as the module must), copies frames into them and
 * completes them, splitting a frame over several slots and taking its
 * outer 802.1Q tag off into vlan_tci when asked.
 */
#ifndef KPF_RING_MODEL_H
#define KPF_RING_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm_pageflip.h>

#define RING_MODEL_MAX_POSTED KPF_RING_SIZE_MAX

struct ring_model {
	uint8_t *region; /* host view of slot 0 */
	uint32_t nr_slots;
	uint32_t ring_slot;
	uint32_t ring_size;
	volatile struct kpf_ring_hdr *hdr;
	volatile uint32_t *avail;
	volatile struct kpf_used_elem *used;
	uint32_t avail_seen; /* avail entries taken */
	uint32_t used_idx;
	uint32_t posted[RING_MODEL_MAX_POSTED]; /* FIFO of posted slots */
	uint32_t head, count;
	uint64_t irqs; /* times used_idx passed used_event */
	uint32_t error; /* enum kpf_ring_error once the guest erred */
};

/* Initialises the control slots at @ring_slot of the region at @region. */
void ring_model_init(struct ring_model *m, void *region, uint32_t nr_slots,
		     uint32_t ring_slot, uint32_t ring_size, uint32_t port_id);
/*
 * Delivers @len bytes of @frame: the first piece at @offset of its slot,
 * every piece at most @piece bytes; with @strip, an outer 802.1Q tag goes
 * to vlan_tci.  0, -ENOBUFS when too few slots are posted, -EPROTO when
 * the ring is in error.
 */
int ring_model_deliver(struct ring_model *m, const uint8_t *frame, uint32_t len,
		       uint32_t offset, uint32_t piece, bool strip);

#endif /* KPF_RING_MODEL_H */
