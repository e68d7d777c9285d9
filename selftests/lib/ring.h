/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A guest that receives through a kvm-pageflip port (guest_rx()), and
 * checks every frame it gets.
 *
 * The host fills the global rxg before the vCPU starts: where the port's
 * rings and the region are, which data slots the guest may post, its MAC,
 * the streams (frame.h) it may receive and the tag each carries.  The
 * guest posts its slots following the ring protocol of kvm_pageflip.h
 * (entry, write barrier, avail_idx, full barrier, avail_event, doorbell
 * when the event index says so), polls used_idx (read barrier before the
 * elements), sets used_event, and for every completion asserts:
 *
 *  - the slot is one it posted and has not had back yet; offset + len is
 *    within the page; no unknown flag; no GSO (test frames are not TCP);
 *  - the frame, reassembled over KPF_USED_F_MORE elements, passes
 *    frame_check (headers, pattern, checksum, zero padding);
 *  - its stream is one of rxg.streams, its outer tag (KPF_USED_F_VLAN and
 *    vlan_tci, or still in the frame) is rxg.vlan[stream], a unicast
 *    destination is rxg.mac (unless that is all zeros: a VLAN-only rule);
 *  - its sequence number is the next of its stream and below
 *    rxg.expect[stream] (RXG_F_LOSSY: above the last one only;
 *    RXG_F_UNORDERED as well: any).
 *
 * With RXG_F_INJECT it also takes the frames of the module's inject test
 * hook, which are no test frames: every byte of the N-th frame of a write
 * is N & 0xff.  A frame whose bytes are all one value is such a frame; its
 * length must be rxg.inject_len (which the host makes different for each
 * guest, so a frame injected for another guest fails), and its value must
 * be the next of 0, 1, .., rxg.inject_count - 1, 0, .. (the host writes
 * rxg.inject_count frames at a time; RXG_F_LOSSY: below inject_count).
 *
 * It then posts the slots again.  It returns (DONE) once rxg.final is set
 * and every stream has all of rxg.expect[] (RXG_F_LOSSY: rxg.expect_frames
 * frames in all); when the host sets rxg.stop first, it fails with what it
 * got so far, so a guest never waits forever.  Progress counters in rxg
 * let the host pace itself; the guest's assertions decide the result.
 */
#ifndef KPF_RING_H
#define KPF_RING_H

#include <stdint.h>
#include <linux/kvm_pageflip.h>

#include "frame.h"
#include "guest.h"

#define RXG_MAX_STREAMS 16
#define RXG_MAX_SLOTS 512 /* data slots a guest may post */
#define RXG_MAX_FRAME_ELEMS 32 /* used elements one frame may span */
/* rxg.vlan[]: the outer tag a stream carries (0: none). */
#define RXG_TAG(tci) ((1ULL << 16) | (uint16_t)(tci))

/* rxg.flags */
#define RXG_F_LOSSY (1U << 0) /* the module may drop frames */
#define RXG_F_HOLD (1U << 1) /* post, then take nothing back until go */
/*
 * Every byte of a flipped slot's page outside [offset, offset + len) must
 * read as zero: no driver data or xdp_frame in the head, no older bytes in
 * the tail (Documentation/guest-protocol.rst).
 */
#define RXG_F_SCRUBBED (1U << 2)
/*
 * With RXG_F_LOSSY: frames of a stream may also come out of order (an
 * emulated NIC under load reorders a few, before any rx_handler sees
 * them); every other check stays.
 */
#define RXG_F_UNORDERED (1U << 3)
/* Frames of the inject test hook may arrive too (see above). */
#define RXG_F_INJECT (1U << 4)

/* rxg.garbage: how the guest corrupts its ring once go is set. */
enum rxg_garbage {
	RXG_GARBAGE_NONE,
	RXG_GARBAGE_SLOT, /* post rxg.garbage_slot */
	RXG_GARBAGE_AVAIL_JUMP, /* move avail_idx ring_size + 1 ahead */
};

/* Stages of the guest's GUEST_SYNC() (for hosts that run it unthreaded). */
enum rxg_sync {
	RXG_SYNC_READY = 1, /* slots posted */
};

struct rxg {
	/* Set by the host before the vCPU starts. */
	uint64_t ring_gpa;
	uint64_t region_gpa;
	uint64_t port_id;
	uint64_t first_slot; /* data slots [first_slot, first_slot + nr_slots) */
	uint64_t nr_slots;
	uint64_t post; /* slots to keep posted, at most ring_size */
	uint64_t pio; /* doorbell port, 0: never ring */
	uint8_t mac[8];
	uint64_t streams; /* bit s: stream s may arrive */
	uint64_t vlan[RXG_MAX_STREAMS];
	uint64_t flags;
	uint64_t garbage;
	uint64_t garbage_slot;
	uint64_t expect_error; /* enum kpf_ring_error the garbage must cause */
	uint64_t inject_len; /* RXG_F_INJECT: length of injected frames */
	uint64_t inject_count; /* ... and frames per write of the hook */
	/* Set by the host while the guest runs. */
	uint64_t expect[RXG_MAX_STREAMS]; /* frames sent, or about to be */
	uint64_t expect_frames; /* RXG_F_LOSSY: frames delivered in all */
	uint64_t go;
	uint64_t final;
	uint64_t stop;
	/* Written by the guest, for the host to wait on. */
	uint64_t ready;
	uint64_t frames;
	uint64_t injected; /* of the frames, those of the inject hook */
	uint64_t elems;
	uint64_t kicks;
	uint64_t garbage_posted; /* the garbage is in the ring */
	uint64_t ring_error; /* kpf_ring_hdr.error once the guest saw it */
	uint64_t got[RXG_MAX_STREAMS];
	uint64_t flipped; /* elements with KPF_USED_F_FLIPPED */
	uint64_t scrub_checked; /* ... whose page RXG_F_SCRUBBED checked */
};

extern struct rxg rxg;

/* The guest: receives until done (see above); @arg is unused. */
void __guest guest_rx(uint64_t arg);

/* Whether @new moving from @old passes @event (virtio's vring_need_event). */
static inline __guest int rxg_need_event(uint32_t event, uint32_t new_idx,
					 uint32_t old_idx)
{
	return (uint32_t)(new_idx - event - 1) < (uint32_t)(new_idx - old_idx);
}

#endif /* KPF_RING_H */
