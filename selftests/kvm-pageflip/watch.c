// SPDX-License-Identifier: GPL-2.0
/*
 * The slot watcher: guest code and the host's side of its protocol.
 */
#define _GNU_SOURCE
#include <time.h>

#include "watch.h"

/* A bound for guest_watch(); the host's timeout ends it much sooner. */
#define WATCH_MAX_PASSES (1ULL << 32)
#define WAIT_POLL_NS 1000000L

struct watch watch;

/* Checks one qword read from @slot; returns its generation. */
static uint64_t __guest watch_check(uint64_t v, uint64_t canary, uint64_t slot,
				    uint64_t word)
{
	uint64_t gen = (v >> 16) & 0xffff;

	if (!v)
		return 0;
	GUEST_ASSERT_FMT(
		v >> 48 == canary,
		"slot %lu word %lu holds %#lx: not this VM's canary %#lx", slot,
		word, v, canary);
	GUEST_ASSERT_FMT(v == watch_pattern(canary, slot, gen, word),
			 "slot %lu word %lu holds %#lx, generation %lu", slot,
			 word, v, gen);
	return gen;
}

void __guest guest_watch(uint64_t vcpu)
{
	const volatile uint64_t *region =
		(const volatile uint64_t *)KPF_REGION_GPA;
	uint64_t canary = READ_ONCE(watch.canary);
	uint64_t nr_slots = READ_ONCE(watch.nr_slots);
	uint64_t seen[WATCH_MAX_SLOTS];
	uint64_t pass, slot, word, final;

	GUEST_ASSERT(nr_slots <= WATCH_MAX_SLOTS);
	for (slot = 0; slot < nr_slots; slot++)
		seen[slot] = READ_ONCE(watch.min_gen);

	for (pass = 0; pass < WATCH_MAX_PASSES; pass++) {
		final = READ_ONCE(watch.final_gen);
		for (slot = 0; slot < nr_slots; slot++) {
			for (word = 0; word < WORDS_PER_PAGE; word++) {
				uint64_t v =
					region[slot * WORDS_PER_PAGE + word];
				uint64_t newest = READ_ONCE(watch.published);
				uint64_t gen =
					watch_check(v, canary, slot, word);

				GUEST_ASSERT_FMT(
					gen >= seen[slot] && gen <= newest,
					"slot %lu went from generation %lu to %lu (newest %lu)",
					slot, seen[slot], gen, newest);
				GUEST_ASSERT_FMT(
					!final || gen == final,
					"slot %lu word %lu: generation %lu, not the final %lu",
					slot, word, gen, final);
				seen[slot] = gen;
			}
		}
		WRITE_ONCE(watch.passes[vcpu], pass + 1);
		if (final)
			return;
	}
	GUEST_ASSERT_FMT(0, "the host did not finish within %lu passes", pass);
}

void watch_setup(struct kvm_vm *vm, uint64_t canary, uint32_t nr_slots,
		 uint64_t min_gen)
{
	struct watch *w = GUEST_VAR(vm, watch);

	KVM_CHECK(nr_slots <= WATCH_MAX_SLOTS && canary && canary <= 0xffff,
		  "bad watch setup");
	w->canary = canary;
	w->nr_slots = nr_slots;
	w->min_gen = min_gen;
	w->published = min_gen;
}

void watch_publish(struct kvm_vm *vm, uint64_t gen)
{
	__atomic_store_n(&GUEST_VAR(vm, watch)->published, gen,
			 __ATOMIC_SEQ_CST);
}

void watch_finish(struct kvm_vm *vm, uint64_t gen)
{
	__atomic_store_n(&GUEST_VAR(vm, watch)->final_gen, gen,
			 __ATOMIC_SEQ_CST);
}

int watch_stage(int ctl, uint64_t canary, uint64_t gen,
		struct kpf_flip_entry *entries, uint32_t n)
{
	uint64_t page[WORDS_PER_PAGE];
	uint32_t i, w;
	int ret;

	for (i = 0; i < n; i++) {
		for (w = 0; w < WORDS_PER_PAGE; w++)
			page[w] =
				watch_pattern(canary, entries[i].slot, gen, w);
		ret = kpf_pool_fill(ctl, page, PAGE_SIZE, 0,
				    &entries[i].handle);
		if (ret)
			return ret;
	}
	return 0;
}

uint64_t watch_passes(struct kvm_vm *vm, unsigned int i)
{
	return __atomic_load_n(&GUEST_VAR(vm, watch)->passes[i],
			       __ATOMIC_ACQUIRE);
}

bool watch_wait_passes(struct kvm_vm *vm, struct kvm_vcpu **vcpus,
		       unsigned int n, uint64_t passes, unsigned int timeout_ms)
{
	struct timespec pause = { .tv_nsec = WAIT_POLL_NS };
	uint64_t deadline = now_ms() + timeout_ms;
	unsigned int i, done;

	for (;;) {
		for (i = 0, done = 0; i < n; i++) {
			if (vcpu_thread_finished(vcpus[i]))
				return false;
			done += watch_passes(vm, vcpus[i]->id) >= passes;
		}
		if (done == n)
			return true;
		if (now_ms() >= deadline)
			return false;
		nanosleep(&pause, NULL);
	}
}
