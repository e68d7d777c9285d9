// SPDX-License-Identifier: GPL-2.0
/*
 * The receiving guest of ring.h.  Everything here is guest code.
 */
#include "ring.h"
#include "kvm_util.h"

/* Newer than the first receive-path header. */
#ifdef KPF_USED_F_CSUM_PARTIAL
#define RXG_USED_F_CSUM_PARTIAL KPF_USED_F_CSUM_PARTIAL
#else
#define RXG_USED_F_CSUM_PARTIAL 0
#endif

#define RXG_USED_FLAGS                                                      \
	(KPF_USED_F_MORE | KPF_USED_F_VLAN | KPF_USED_F_FLIPPED |           \
	 KPF_USED_F_CSUM_OK | KPF_USED_F_GSO_TCPV4 | KPF_USED_F_GSO_TCPV6 | \
	 RXG_USED_F_CSUM_PARTIAL)
#define RXG_GSO_FLAGS (KPF_USED_F_GSO_TCPV4 | KPF_USED_F_GSO_TCPV6)

struct rxg rxg;

/*
 * x86 keeps stores in order with stores and loads with loads: the write
 * and read barriers only stop the compiler.  A store followed by a load
 * needs a full barrier.
 */
static inline __guest void rxg_barrier(void)
{
	__asm__ __volatile__("" : : : "memory");
}

static inline __guest void rxg_mb(void)
{
	__asm__ __volatile__("lock; addl $0,-4(%%rsp)" : : : "memory", "cc");
}

/* What the guest keeps on its stack while it receives. */
struct rxg_ring {
	volatile struct kpf_ring_hdr *hdr;
	volatile uint32_t *avail;
	volatile struct kpf_used_elem *used;
	uint32_t mask;
	uint32_t avail_idx; /* posted so far */
	uint32_t used_idx; /* completions taken so far */
	/* The frame being reassembled. */
	uint32_t nr_elems;
	uint32_t slots[RXG_MAX_FRAME_ELEMS];
	struct kpf_used_elem first;
	struct frame_check check;
	/* RXG_F_INJECT: the frame's first byte, and whether all are equal. */
	uint8_t inject_val;
	uint8_t inject_uniform;
	uint32_t inject_next; /* the value the next injected frame must have */
	uint32_t next_seq[RXG_MAX_STREAMS];
	uint8_t posted[RXG_MAX_SLOTS];
};

static void __guest rxg_outl(uint16_t port, uint32_t val)
{
	__asm__ __volatile__("outl %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

/* Checks the header the module initialised; finds the rings. */
static void __guest rxg_ring_init(struct rxg_ring *r)
{
	volatile struct kpf_ring_hdr *hdr =
		(volatile struct kpf_ring_hdr *)rxg.ring_gpa;
	uint32_t size = hdr->ring_size;
	uint8_t *p = (uint8_t *)r;
	uint64_t i;

	for (i = 0; i < sizeof(*r); i++)
		p[i] = 0;
	GUEST_ASSERT_FMT(hdr->magic == KPF_RING_MAGIC &&
				 hdr->version == KPF_RING_VERSION,
			 "ring header: magic %#lx version %lu",
			 (uint64_t)hdr->magic, (uint64_t)hdr->version);
	GUEST_ASSERT_FMT(size >= 2 && size <= KPF_RING_SIZE_MAX &&
				 !(size & (size - 1)) && rxg.post <= size,
			 "ring_size %lu (posting %lu)", (uint64_t)size,
			 rxg.post);
	GUEST_ASSERT_FMT(
		hdr->avail_offset == PAGE_SIZE &&
			hdr->used_offset ==
				PAGE_SIZE * (1 + KPF_RING_AVAIL_PAGES(size)),
		"avail_offset %#lx used_offset %#lx for %lu entries",
		(uint64_t)hdr->avail_offset, (uint64_t)hdr->used_offset,
		(uint64_t)size);
	GUEST_ASSERT_FMT(hdr->port_id == rxg.port_id, "port_id %lu, not %lu",
			 (uint64_t)hdr->port_id, rxg.port_id);
	GUEST_ASSERT(rxg.nr_slots <= RXG_MAX_SLOTS && rxg.post <= rxg.nr_slots);
	r->hdr = hdr;
	r->avail = (volatile uint32_t *)(rxg.ring_gpa + hdr->avail_offset);
	r->used = (volatile struct kpf_used_elem *)(rxg.ring_gpa +
						    hdr->used_offset);
	r->mask = size - 1;
	r->avail_idx = hdr->avail_idx;
	r->used_idx = hdr->used_idx;
	GUEST_ASSERT_FMT(!r->avail_idx && !r->used_idx && !hdr->error,
			 "fresh ring: avail_idx %lu used_idx %lu error %lu",
			 (uint64_t)r->avail_idx, (uint64_t)r->used_idx,
			 (uint64_t)hdr->error);
	/* Interrupt at the first completion. */
	hdr->used_event = 0;
}

/* Puts @slot in the avail ring; visible once rxg_publish() runs. */
static void __guest rxg_post(struct rxg_ring *r, uint32_t slot)
{
	uint64_t i = slot - rxg.first_slot;

	if (i < rxg.nr_slots)
		r->posted[i] = 1;
	r->avail[r->avail_idx & r->mask] = slot;
	r->avail_idx++;
}

/*
 * Publishes the slots posted since avail_idx was @old, and rings the
 * doorbell if avail_idx passed avail_event (or @force).
 */
static void __guest rxg_publish(struct rxg_ring *r, uint32_t old, int force)
{
	uint32_t event;

	rxg_barrier(); /* entries before the index */
	r->hdr->avail_idx = r->avail_idx;
	rxg_mb(); /* the index before reading avail_event */
	event = r->hdr->avail_event;
	if ((force || rxg_need_event(event, r->avail_idx, old)) && rxg.pio) {
		rxg_outl(rxg.pio, r->avail_idx);
		WRITE_ONCE(rxg.kicks, rxg.kicks + 1);
	}
}

/* Whether the host gave the guest a MAC (else any destination is fine). */
static int __guest rxg_has_mac(void)
{
	int i;

	for (i = 0; i < 6; i++)
		if (rxg.mac[i])
			return 1;
	return 0;
}

/* RXG_F_INJECT: notes whether the @len bytes at @p keep the frame uniform. */
static void __guest rxg_inject_feed(struct rxg_ring *r, const uint8_t *p,
				    uint32_t len)
{
	uint32_t i;

	if (!(rxg.flags & RXG_F_INJECT))
		return;
	if (!r->check.pos) {
		r->inject_val = p[0];
		r->inject_uniform = 1;
	}
	for (i = 0; i < len && r->inject_uniform; i++)
		r->inject_uniform = p[i] == r->inject_val;
}

/*
 * Checks and accounts a frame of the inject hook; false if the frame that
 * just ended is none.
 */
static int __guest rxg_inject_end(struct rxg_ring *r)
{
	uint32_t len = r->check.pos, val = r->inject_val;

	if (!(rxg.flags & RXG_F_INJECT) || !r->inject_uniform)
		return 0;
	GUEST_ASSERT_FMT(len == rxg.inject_len,
			 "injected frame %lu: %lu bytes of %#lx, expected %lu",
			 rxg.injected, (uint64_t)len, (uint64_t)val,
			 rxg.inject_len);
	if (rxg.flags & RXG_F_LOSSY)
		GUEST_ASSERT_FMT(val < rxg.inject_count,
				 "injected frame %lu: byte %#lx of %lu",
				 rxg.injected, (uint64_t)val, rxg.inject_count);
	else
		GUEST_ASSERT_FMT(val == r->inject_next,
				 "injected frame %lu: byte %#lx, expected %#lx",
				 rxg.injected, (uint64_t)val,
				 (uint64_t)r->inject_next);
	r->inject_next = (val + 1) % rxg.inject_count;
	WRITE_ONCE(rxg.injected, rxg.injected + 1);
	WRITE_ONCE(rxg.frames, rxg.frames + 1);
	return 1;
}

/* Checks the frame that just ended and accounts it. */
static void __guest rxg_frame_end(struct rxg_ring *r)
{
	struct frame_check *c = &r->check;
	uint32_t err = frame_check_end(c), s = c->hdr.stream, seq = c->hdr.seq;
	uint64_t tag = 0;

	if (rxg_inject_end(r))
		return;

	GUEST_ASSERT_FMT(
		err != FRAME_E_TYPE,
		"not a test frame: %lu bytes, type/TPID %#lx, %lu tags, to ..%02lx",
		(uint64_t)c->pos, (uint64_t)(c->head[12] << 8 | c->head[13]),
		(uint64_t)c->nr_tags, (uint64_t)c->head[5]);
	GUEST_ASSERT_FMT(
		!err, "frame of %lu bytes: error %lu at byte %lu (stream %lu)",
		(uint64_t)c->pos, (uint64_t)err, (uint64_t)c->err_pos,
		(uint64_t)s);
	GUEST_ASSERT_FMT(s < RXG_MAX_STREAMS && (rxg.streams >> s & 1),
			 "stream %lu is not for this guest (seq %lu)",
			 (uint64_t)s, (uint64_t)seq);
	if (r->first.flags & KPF_USED_F_VLAN)
		tag = RXG_TAG(r->first.vlan_tci);
	else if (c->nr_tags && c->tags[0].tpid == FRAME_TPID_8021Q)
		tag = RXG_TAG(c->tags[0].tci);
	GUEST_ASSERT_FMT(tag == rxg.vlan[s],
			 "stream %lu seq %lu: tag %#lx, expected %#lx",
			 (uint64_t)s, (uint64_t)seq, tag, rxg.vlan[s]);
	GUEST_ASSERT_FMT((c->head[0] & 1) || !rxg_has_mac() ||
				 frame_check_dst_is(c, rxg.mac),
			 "stream %lu seq %lu: unicast to another MAC (..%02lx)",
			 (uint64_t)s, (uint64_t)seq, (uint64_t)c->head[5]);
	if (rxg.flags & RXG_F_UNORDERED) {
		/* Only the highest sequence number so far counts. */
		if (seq < r->next_seq[s])
			seq = r->next_seq[s] - 1;
	} else if (rxg.flags & RXG_F_LOSSY) {
		GUEST_ASSERT_FMT(seq >= r->next_seq[s],
				 "stream %lu: seq %lu after %lu", (uint64_t)s,
				 (uint64_t)seq, (uint64_t)r->next_seq[s]);
	} else {
		GUEST_ASSERT_FMT(
			seq == r->next_seq[s] && seq < READ_ONCE(rxg.expect[s]),
			"stream %lu: seq %lu, expected %lu of %lu", (uint64_t)s,
			(uint64_t)seq, (uint64_t)r->next_seq[s],
			READ_ONCE(rxg.expect[s]));
	}
	r->next_seq[s] = seq + 1;
	WRITE_ONCE(rxg.got[s], rxg.got[s] + 1);
	WRITE_ONCE(rxg.frames, rxg.frames + 1);
}

/*
 * Counts a flipped element and, with RXG_F_SCRUBBED, asserts that its page
 * is zero outside the frame's [@off, @off + @len).
 */
static void __guest rxg_flipped(uint32_t slot, uint32_t off, uint32_t len)
{
	const volatile uint8_t *page =
		(const volatile uint8_t *)(rxg.region_gpa + slot * PAGE_SIZE);
	uint32_t i;

	WRITE_ONCE(rxg.flipped, rxg.flipped + 1);
	if (!(rxg.flags & RXG_F_SCRUBBED))
		return;
	for (i = 0; i < PAGE_SIZE; i++) {
		if (i == off)
			i += len;
		if (i < PAGE_SIZE)
			GUEST_ASSERT_FMT(
				!page[i],
				"flipped slot %lu, frame at [%#lx): byte %lu is %#lx",
				(uint64_t)slot,
				(uint64_t)off << 16 | (off + len), (uint64_t)i,
				(uint64_t)page[i]);
	}
	WRITE_ONCE(rxg.scrub_checked, rxg.scrub_checked + 1);
}

/* Takes one used element: checks it, feeds its bytes, ends the frame. */
static void __guest rxg_take(struct rxg_ring *r)
{
	volatile struct kpf_used_elem *e = &r->used[r->used_idx & r->mask];
	uint32_t slot = e->slot, off = e->offset, len = e->len;
	uint32_t flags = e->flags, i;
	uint64_t idx = (uint64_t)slot - rxg.first_slot;

	GUEST_ASSERT_FMT(idx < rxg.nr_slots && r->posted[idx],
			 "used[%lu]: slot %lu was not posted",
			 (uint64_t)r->used_idx, (uint64_t)slot);
	GUEST_ASSERT_FMT(len && off + len <= PAGE_SIZE,
			 "used[%lu]: offset %lu len %lu", (uint64_t)r->used_idx,
			 (uint64_t)off, (uint64_t)len);
	GUEST_ASSERT_FMT(!(flags & ~RXG_USED_FLAGS) && !(flags & RXG_GSO_FLAGS),
			 "used[%lu]: flags %#lx", (uint64_t)r->used_idx,
			 (uint64_t)flags);
	GUEST_ASSERT_FMT(r->nr_elems < RXG_MAX_FRAME_ELEMS,
			 "a frame spans more than %lu elements",
			 (uint64_t)RXG_MAX_FRAME_ELEMS);
	r->posted[idx] = 0;
	if (flags & KPF_USED_F_FLIPPED)
		rxg_flipped(slot, off, len);
	if (!r->nr_elems) {
		r->first.flags = flags;
		r->first.vlan_tci = e->vlan_tci;
		frame_check_start(&r->check);
	}
	r->slots[r->nr_elems++] = slot;
	rxg_inject_feed(
		r, (const uint8_t *)(rxg.region_gpa + slot * PAGE_SIZE + off),
		len);
	frame_check_feed(
		&r->check,
		(const uint8_t *)(rxg.region_gpa + slot * PAGE_SIZE + off),
		len);
	r->used_idx++;
	WRITE_ONCE(rxg.elems, rxg.elems + 1);
	if (flags & KPF_USED_F_MORE)
		return;
	rxg_frame_end(r);
	/* The frame's slots go back to the module. */
	for (i = 0; i < r->nr_elems; i++)
		rxg_post(r, r->slots[i]);
	r->nr_elems = 0;
}

/* Takes whatever the module completed; false if there was nothing. */
static int __guest rxg_poll(struct rxg_ring *r)
{
	uint32_t used = r->hdr->used_idx, old = r->avail_idx;

	if (used == r->used_idx)
		return 0;
	rxg_barrier(); /* the index before the elements */
	GUEST_ASSERT_FMT(
		used - r->used_idx <= r->avail_idx - r->used_idx,
		"used_idx %lu passed what was posted (avail_idx %lu, taken %lu)",
		(uint64_t)used, (uint64_t)r->avail_idx, (uint64_t)r->used_idx);
	while (r->used_idx != used)
		rxg_take(r);
	rxg_publish(r, old, 0);
	/* Interrupt me at the next completion. */
	r->hdr->used_event = r->used_idx;
	rxg_mb();
	return 1;
}

static int __guest rxg_done(void)
{
	uint64_t s;

	if (!READ_ONCE(rxg.final))
		return 0;
	if (rxg.flags & RXG_F_LOSSY)
		return rxg.frames >= READ_ONCE(rxg.expect_frames);
	for (s = 0; s < RXG_MAX_STREAMS; s++)
		if ((rxg.streams >> s & 1) &&
		    rxg.got[s] != READ_ONCE(rxg.expect[s]))
			return 0;
	return 1;
}

/* The host gave up waiting: say how far the guest got. */
static void __guest rxg_check_stop(struct rxg_ring *r)
{
	GUEST_ASSERT_FMT(
		!READ_ONCE(rxg.stop),
		"stopped by the host after %lu frames: used_idx %lu, avail_idx %lu, ring error %lu",
		rxg.frames, (uint64_t)r->hdr->used_idx, (uint64_t)r->avail_idx,
		(uint64_t)r->hdr->error);
}

/* Corrupts the ring as rxg.garbage says; the module must stop the port. */
static void __guest rxg_make_garbage(struct rxg_ring *r)
{
	uint32_t old = r->avail_idx, err;

	if (rxg.garbage == RXG_GARBAGE_SLOT) {
		r->avail[r->avail_idx & r->mask] = rxg.garbage_slot;
		r->avail_idx++;
	} else {
		r->avail_idx += r->mask + 2;
	}
	rxg_publish(r, old, 1);
	WRITE_ONCE(rxg.garbage_posted, 1);
	while (!(err = r->hdr->error)) {
		rxg_check_stop(r);
		cpu_relax();
	}
	WRITE_ONCE(rxg.ring_error, err);
	GUEST_ASSERT_FMT(err == rxg.expect_error,
			 "ring error %lu, expected %lu", (uint64_t)err,
			 rxg.expect_error);
}

void __guest guest_rx(uint64_t arg)
{
	struct rxg_ring r;
	uint64_t i;
	uint32_t err;

	(void)arg;
	rxg_ring_init(&r);
	for (i = 0; i < rxg.post; i++)
		rxg_post(&r, rxg.first_slot + i);
	rxg_publish(&r, 0, 0);
	WRITE_ONCE(rxg.ready, 1);
	GUEST_SYNC(RXG_SYNC_READY, rxg.post);

	if (rxg.flags & RXG_F_HOLD || rxg.garbage)
		while (!READ_ONCE(rxg.go)) {
			rxg_check_stop(&r);
			cpu_relax();
		}
	if (rxg.garbage) {
		rxg_make_garbage(&r);
		return;
	}
	while (!rxg_done() || r.nr_elems) {
		if (rxg_poll(&r))
			continue;
		err = r.hdr->error;
		GUEST_ASSERT_FMT(
			!err, "the port went into error %lu after %lu frames",
			(uint64_t)err, rxg.frames);
		rxg_check_stop(&r);
		cpu_relax();
	}
	GUEST_ASSERT_FMT(!(rxg.flags & RXG_F_LOSSY) ||
				 rxg.frames == READ_ONCE(rxg.expect_frames),
			 "%lu frames, the module delivered %lu", rxg.frames,
			 READ_ONCE(rxg.expect_frames));
}
