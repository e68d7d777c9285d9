/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A guest that watches region slots while the host flips pages into them.
 *
 * Every qword of a page the host flips in is watch_pattern(canary, slot,
 * generation, word): the VM's canary, the slot, a generation number the
 * host raises with every flip of that slot, and the word's index.  The
 * guest (guest_watch(), one per vCPU) reads every qword of every slot, pass
 * after pass, and asserts:
 *
 *  - the qword is zero (generation 0: a slot never flipped) or the pattern
 *    of its own VM, slot and word: never another VM's page, never a stale
 *    or scribbled byte;
 *  - a slot's generation never goes backwards, not even within a page, and
 *    is never newer than the host has published: no stale mapping survives
 *    a flip, on any vCPU;
 *  - once the host has set final_gen, the flips are over and every qword
 *    of every slot shows exactly that generation.
 *
 * The host only ever writes the control fields; it never inspects guest
 * memory to decide whether a test passed.
 */
#ifndef KPF_WATCH_H
#define KPF_WATCH_H

#include "kpf.h"

#define WATCH_MAX_SLOTS 64
#define WORDS_PER_PAGE (PAGE_SIZE / sizeof(uint64_t))

struct watch {
	uint64_t canary; /* 16 bits, never 0 */
	uint64_t nr_slots;
	uint64_t min_gen; /* oldest generation a slot may show */
	uint64_t published; /* newest generation the host may have flipped in */
	uint64_t final_gen; /* set once the host is done; 0 until then */
	uint64_t passes[VM_MAX_VCPUS];
};

extern struct watch watch;

static inline __guest uint64_t watch_pattern(uint64_t canary, uint64_t slot,
					     uint64_t gen, uint64_t word)
{
	return canary << 48 | slot << 32 | gen << 16 | word;
}

/* Guest code: watches the slots until final_gen is set; @vcpu indexes passes. */
void __guest guest_watch(uint64_t vcpu);

/* Host side: sets the guest's control fields before its vCPUs start. */
void watch_setup(struct kvm_vm *vm, uint64_t canary, uint32_t nr_slots,
		 uint64_t min_gen);
/* The host may now flip in generation @gen (call before the flip). */
void watch_publish(struct kvm_vm *vm, uint64_t gen);
/* The flips are over; every slot holds generation @gen. */
void watch_finish(struct kvm_vm *vm, uint64_t gen);

/*
 * Stages a page of generation @gen for the slot of each of the @n entries
 * and stores its handle there.  0 or a negative errno.
 */
int watch_stage(int ctl, uint64_t canary, uint64_t gen,
		struct kpf_flip_entry *entries, uint32_t n);

/*
 * Waits until each of the @n vCPUs has completed @passes passes.  False on
 * timeout, or as soon as one of the vCPU threads has stopped (the guest
 * reported something: join it to see what).
 */
bool watch_wait_passes(struct kvm_vm *vm, struct kvm_vcpu **vcpus,
		       unsigned int n, uint64_t passes,
		       unsigned int timeout_ms);

/* Passes vCPU @i has completed so far. */
uint64_t watch_passes(struct kvm_vm *vm, unsigned int i);

#endif /* KPF_WATCH_H */
