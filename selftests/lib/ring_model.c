// SPDX-License-Identifier: GPL-2.0
/*
 * The host playing the module's side of a port's rings (ring_model.h).
 */
#include <errno.h>
#include <string.h>

#include "frame.h"
#include "kvm_util.h"
#include "ring.h"
#include "ring_model.h"

static inline void model_barrier(void)
{
	__asm__ __volatile__("" : : : "memory");
}

static inline void model_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void ring_model_init(struct ring_model *m, void *region, uint32_t nr_slots,
		     uint32_t ring_slot, uint32_t ring_size, uint32_t port_id)
{
	uint8_t *ring = (uint8_t *)region + (size_t)ring_slot * PAGE_SIZE;

	memset(m, 0, sizeof(*m));
	memset(ring, 0, KPF_RING_PAGES(ring_size) * PAGE_SIZE);
	m->region = region;
	m->nr_slots = nr_slots;
	m->ring_slot = ring_slot;
	m->ring_size = ring_size;
	m->hdr = (volatile struct kpf_ring_hdr *)ring;
	m->hdr->magic = KPF_RING_MAGIC;
	m->hdr->version = KPF_RING_VERSION;
	m->hdr->ring_size = ring_size;
	m->hdr->avail_offset = PAGE_SIZE;
	m->hdr->used_offset = PAGE_SIZE * (1 + KPF_RING_AVAIL_PAGES(ring_size));
	m->hdr->port_id = port_id;
	m->avail = (volatile uint32_t *)(ring + m->hdr->avail_offset);
	m->used = (volatile struct kpf_used_elem *)(ring + m->hdr->used_offset);
}

/* Bytes of piece @i of a frame whose first piece starts at @offset. */
static uint32_t piece_room(uint32_t i, uint32_t offset, uint32_t piece)
{
	uint32_t room = i ? PAGE_SIZE : PAGE_SIZE - offset;

	return room < piece ? room : piece;
}

static void ring_model_fail(struct ring_model *m, uint32_t err)
{
	m->error = err;
	m->hdr->error = err;
}

/* Takes the slots the guest posted since the last call, checking each. */
static void ring_model_refill(struct ring_model *m)
{
	uint32_t avail = m->hdr->avail_idx, i;

	model_barrier();
	if (avail - m->avail_seen > m->ring_size - m->count) {
		ring_model_fail(m, KPF_RING_ERR_AVAIL_IDX);
		return;
	}
	for (; m->avail_seen != avail; m->avail_seen++) {
		uint32_t slot = m->avail[m->avail_seen & (m->ring_size - 1)];

		if (slot >= m->nr_slots) {
			ring_model_fail(m, KPF_RING_ERR_SLOT_RANGE);
			return;
		}
		if (slot - m->ring_slot < KPF_RING_PAGES(m->ring_size)) {
			ring_model_fail(m, KPF_RING_ERR_SLOT_CONTROL);
			return;
		}
		for (i = 0; i < m->count; i++) {
			if (m->posted[(m->head + i) % RING_MODEL_MAX_POSTED] ==
			    slot) {
				ring_model_fail(m, KPF_RING_ERR_SLOT_BUSY);
				return;
			}
		}
		m->posted[(m->head + m->count++) % RING_MODEL_MAX_POSTED] =
			slot;
	}
	/* Ring the doorbell for anything beyond what was taken. */
	m->hdr->avail_event = m->avail_seen;
}

int ring_model_deliver(struct ring_model *m, const uint8_t *frame, uint32_t len,
		       uint32_t offset, uint32_t piece, bool strip)
{
	uint8_t buf[FRAME_MAX_LEN];
	uint32_t pieces, done = 0, old = m->used_idx, i;
	uint16_t tci = 0;
	bool tagged = strip && len >= FRAME_ETH_HLEN + FRAME_TAG_LEN &&
		      frame[12] == 0x81 && frame[13] == 0;

	if (!m->error)
		ring_model_refill(m);
	if (m->error)
		return -EPROTO;
	if (tagged) {
		tci = (uint16_t)(frame[14] << 8 | frame[15]);
		memcpy(buf, frame, 12);
		memcpy(buf + 12, frame + 16, len - 16);
		len -= FRAME_TAG_LEN;
		frame = buf;
	}
	for (pieces = 0, i = 0; i < len; pieces++)
		i += piece_room(pieces, offset, piece);
	if (pieces > m->count)
		return -ENOBUFS;
	for (i = 0; i < pieces; i++) {
		uint32_t slot = m->posted[m->head];
		uint32_t off = i ? 0 : offset;
		uint32_t n = piece_room(i, offset, piece);
		volatile struct kpf_used_elem *e =
			&m->used[m->used_idx & (m->ring_size - 1)];

		if (n > len - done)
			n = len - done;
		m->head = (m->head + 1) % RING_MODEL_MAX_POSTED;
		m->count--;
		memcpy(m->region + (size_t)slot * PAGE_SIZE + off, frame + done,
		       n);
		done += n;
		e->slot = slot;
		e->offset = off;
		e->len = n;
		e->vlan_tci = i ? 0 : tci;
		e->flags = (done < len ? KPF_USED_F_MORE : 0) |
			   (tagged && !i ? KPF_USED_F_VLAN : 0);
		e->gso_size = 0;
		m->used_idx++;
	}
	model_barrier(); /* the elements before the index */
	m->hdr->used_idx = m->used_idx;
	model_mb();
	if (rxg_need_event(m->hdr->used_event, m->used_idx, old))
		m->irqs++;
	return 0;
}
