// SPDX-License-Identifier: GPL-2.0
/*
 * Guest-visible correctness: real KVM guests read their region slots and
 * assert what they see while the host flips pages into them.  The host
 * only drives the flips and tells the guests what to expect; whether a
 * test passes is decided by the guests' own assertions (and the counters).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "kpf_test.h"

#define CANARY_A 0xa11c
#define CANARY_B 0xb0b0
/* What VM A's guest writes over its pages before they go back to the pool. */
#define SCRIBBLE 0x5c5c5c5c5c5c5c5cULL
/* Each test's bound, generous for nested TCG (they take seconds). */
#define GUEST_TEST_TIMEOUT_S 120
/* At most this many free pool pages are staged away to force their reuse. */
#define DRAIN_MAX 4096

FIXTURE(guest)
{
	int ctl;
	struct kpf_info info;
};

FIXTURE_SETUP(guest)
{
	if (!devices_ready(_metadata, true))
		return;
	self->ctl = control_open(_metadata, &self->info);
}

/* VMs and vCPU threads end with the test's process. */
FIXTURE_TEARDOWN(guest)
{
	close(self->ctl);
}

/* Nonzero bytes that depend on @seed and the position @i. */
static inline __guest uint8_t byte_at(uint64_t seed, uint64_t i)
{
	return (seed * 37 + i * 131) % 251 + 1;
}

/* What the host flipped into a slot: bytes [offset, offset + len). */
struct fill_spec {
	uint64_t offset;
	uint64_t len;
	uint64_t seed;
};

static struct fill_spec expect;

/* Byte @i of a page that holds byte_at(@seed, ...) from @offset on. */
static inline __guest uint64_t expected_byte(uint64_t i, uint64_t offset,
					     uint64_t len, uint64_t seed)
{
	if (i < offset || i - offset >= len)
		return 0;
	return byte_at(seed, i - offset);
}

/* Slot @slot holds byte_at(@seed, ...) in [@offset, @offset + @len), zeros elsewhere. */
static void __guest check_slot(uint64_t slot, uint64_t offset, uint64_t len,
			       uint64_t seed)
{
	const volatile uint8_t *p =
		(const volatile uint8_t *)(KPF_REGION_GPA + slot * PAGE_SIZE);
	uint64_t i;

	for (i = 0; i < PAGE_SIZE; i++) {
		uint64_t want = expected_byte(i, offset, len, seed);

		GUEST_ASSERT_FMT(p[i] == want,
				 "slot %lu byte %lu reads %#lx, expected %#lx",
				 slot, i, (uint64_t)p[i], want);
	}
}

#define FLIPPED_SLOT 2
#define FLIP_ROUNDS 2

/*
 * Reads every slot (all zero), then after each flip of the host reads the
 * flipped slot (its new bytes, zeros around them) and the others (zero).
 */
static void __guest guest_read_flips(uint64_t nr_slots)
{
	uint64_t slot, round;

	for (slot = 0; slot < nr_slots; slot++)
		check_slot(slot, 0, 0, 0);
	GUEST_SYNC(0, 0);
	for (round = 1; round <= FLIP_ROUNDS; round++) {
		for (slot = 0; slot < nr_slots; slot++) {
			if (slot == FLIPPED_SLOT)
				check_slot(slot, READ_ONCE(expect.offset),
					   READ_ONCE(expect.len),
					   READ_ONCE(expect.seed));
			else
				check_slot(slot, 0, 0, 0);
		}
		GUEST_SYNC(round, 0);
	}
}

/*
 * (1) A slot never flipped reads zeros; once the host has flipped a page
 * in, the guest, which had the old page mapped, reads the new bytes; a
 * second flip with other bytes elsewhere in the page replaces them all.
 */
TEST_F_TIMEOUT(guest, flip_replaces_mapped_page, GUEST_TEST_TIMEOUT_S)
{
	static const struct fill_spec rounds[FLIP_ROUNDS] = {
		{ .offset = 512, .len = 1000, .seed = 1 },
		{ .offset = 3000, .len = 1096, .seed = 2 },
	};
	const uint32_t nr_slots = 4;
	struct kpf_region region;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint8_t data[PAGE_SIZE];
	unsigned int r, i;

	vm = vm_create();
	ASSERT_EQ(0,
		  kpf_region_attach(self->ctl, vm, nr_slots, KPF_REGION_MEMSLOT,
				    KPF_REGION_GPA, &region));
	vcpu = vm_vcpu_add(vm, guest_read_flips, nr_slots);
	ASSERT_SYNC(vcpu, &uc, 0);
	for (r = 0; r < FLIP_ROUNDS; r++) {
		for (i = 0; i < rounds[r].len; i++)
			data[i] = byte_at(rounds[r].seed, i);
		ASSERT_EQ(0,
			  kpf_flip_one(self->ctl, &region, FLIPPED_SLOT, data,
				       rounds[r].len, rounds[r].offset));
		*GUEST_VAR(vm, expect) = rounds[r];
		ASSERT_SYNC(vcpu, &uc, r + 1);
	}
	ASSERT_UCALL(vcpu, &uc, UCALL_DONE);
	kpf_region_release(&region);
	vm_free(vm);
}

/* Flips generation @gen into the slots of @e in one batch, published first. */
static void flip_gen(struct __test_metadata *_metadata, int ctl,
		     struct kvm_vm *vm, const struct kpf_region *region,
		     uint64_t canary, uint64_t gen, struct kpf_flip_entry *e,
		     uint32_t n)
{
	uint32_t inval = 0;

	ASSERT_EQ(0, watch_stage(ctl, canary, gen, e, n));
	watch_publish(vm, gen);
	ASSERT_EQ(0, kpf_region_flip(region->fd, e, n, &inval));
	ASSERT_EQ(kpf_batch_runs(e, n), inval);
}

/* Entries for slots first, first + step, ... (@n of them). */
static void slots_of(struct kpf_flip_entry *e, uint32_t n, uint32_t first,
		     uint32_t step)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		e[i].slot = first + i * step;
}

/*
 * (2) One batch of 64 flips while a vCPU reads those slots: every qword is
 * the old or the new page's, and once the host says the flip returned,
 * all 64 slots show the new one.
 */
TEST_F_TIMEOUT(guest, batch_of_64_under_a_reader, GUEST_TEST_TIMEOUT_S)
{
	const uint32_t nr_slots = 64;
	struct kpf_flip_entry e[64];
	struct kpf_counters c;
	struct kpf_region region;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	if (self->info.max_batch < nr_slots)
		SKIP(return, "max_batch %u < 64", self->info.max_batch);
	vm = vm_create();
	ASSERT_EQ(0,
		  kpf_region_attach(self->ctl, vm, nr_slots, KPF_REGION_MEMSLOT,
				    KPF_REGION_GPA, &region));
	slots_of(e, nr_slots, 0, 1);
	flip_gen(_metadata, self->ctl, vm, &region, CANARY_A, 1, e, nr_slots);
	watch_setup(vm, CANARY_A, nr_slots, 1);
	vcpu = vm_vcpu_add(vm, guest_watch, 0);
	vcpu_thread_start(vcpu, VCPU_TIMEOUT_MS);

	ASSERT_PASSES(vm, &vcpu, 1, 2);
	flip_gen(_metadata, self->ctl, vm, &region, CANARY_A, 2, e, nr_slots);
	watch_finish(vm, 2);
	ASSERT_ALL_DONE(&vcpu, 1);

	ASSERT_EQ(0, kpf_get_stats(self->ctl, region.binding_id, &c));
	ASSERT_EQ(2 * nr_slots, c.flips);
	ASSERT_EQ(2, c.batches);
	ASSERT_EQ(2, c.invalidations);
	kpf_region_release(&region);
	vm_free(vm);
}

/* The fewest passes any of the first @n vCPUs' watchers has made. */
static uint64_t min_passes(struct kvm_vm *vm, unsigned int n)
{
	uint64_t min = UINT64_MAX;
	unsigned int i;

	for (i = 0; i < n; i++)
		if (watch_passes(vm, i) < min)
			min = watch_passes(vm, i);
	return min;
}

#define CONCURRENT_VCPUS 2
#define CONCURRENT_SLOTS 32
#define CONCURRENT_GENS 8

/*
 * A VM with a region of @nr_slots, all at generation 0, watched by
 * CONCURRENT_VCPUS vCPUs in threads (watch.h) that have each read every
 * slot once.
 */
static struct kvm_vm *watched_vm_start(struct __test_metadata *_metadata,
				       int ctl, uint32_t nr_slots,
				       struct kpf_region *region,
				       struct kvm_vcpu **vcpus)
{
	struct kvm_vm *vm = vm_create();
	unsigned int i;

	ASSERT_EQ(0, kpf_region_attach(ctl, vm, nr_slots, KPF_REGION_MEMSLOT,
				       KPF_REGION_GPA, region));
	watch_setup(vm, CANARY_A, nr_slots, 0);
	for (i = 0; i < CONCURRENT_VCPUS; i++)
		vcpus[i] = vm_vcpu_add(vm, guest_watch, i);
	for (i = 0; i < CONCURRENT_VCPUS; i++)
		vcpu_thread_start(vcpus[i], VCPU_TIMEOUT_MS);
	ASSERT_PASSES(vm, vcpus, CONCURRENT_VCPUS, 1);
	return vm;
}

/* Tells the watchers @gens is the last generation; each must agree. */
static void watched_vm_finish(struct __test_metadata *_metadata,
			      struct kvm_vm *vm, struct kvm_vcpu **vcpus,
			      uint64_t gens, struct kpf_region *region)
{
	watch_finish(vm, gens);
	ASSERT_ALL_DONE(vcpus, CONCURRENT_VCPUS);
	kpf_region_release(region);
	vm_free(vm);
}

/*
 * (3) Two vCPUs read all slots while the host flips eight generations in,
 * each as a batch of the even slots and a batch of the odd ones: neither
 * vCPU ever sees a generation go back or a page it should not.
 */
TEST_F_TIMEOUT(guest, vcpus_read_during_flips, GUEST_TEST_TIMEOUT_S)
{
	struct kvm_vcpu *vcpus[CONCURRENT_VCPUS];
	struct kpf_flip_entry e[CONCURRENT_SLOTS / 2];
	struct kpf_region region;
	struct kvm_vm *vm;
	uint64_t gen;

	vm = watched_vm_start(_metadata, self->ctl, CONCURRENT_SLOTS, &region,
			      vcpus);
	for (gen = 1; gen <= CONCURRENT_GENS; gen++) {
		uint64_t passes = min_passes(vm, CONCURRENT_VCPUS);

		slots_of(e, CONCURRENT_SLOTS / 2, 0, 2);
		flip_gen(_metadata, self->ctl, vm, &region, CANARY_A, gen, e,
			 CONCURRENT_SLOTS / 2);
		slots_of(e, CONCURRENT_SLOTS / 2, 1, 2);
		flip_gen(_metadata, self->ctl, vm, &region, CANARY_A, gen, e,
			 CONCURRENT_SLOTS / 2);
		/* Both must read this generation before the next one. */
		ASSERT_PASSES(vm, vcpus, CONCURRENT_VCPUS, passes + 2);
	}
	watched_vm_finish(_metadata, vm, vcpus, CONCURRENT_GENS, &region);
}

#define B2B_SLOTS 16
#define B2B_GENS 300

/*
 * (3b) The same without pacing: 300 batches back to back while two vCPUs
 * fault the slots in again and again.  A flip racing a vCPU's fault must
 * not fail that vCPU's KVM_RUN (EFAULT) either.
 */
TEST_F_TIMEOUT(guest, vcpus_read_during_back_to_back_flips,
	       GUEST_TEST_TIMEOUT_S)
{
	struct kvm_vcpu *vcpus[CONCURRENT_VCPUS];
	struct kpf_flip_entry e[B2B_SLOTS];
	struct kpf_region region;
	struct kvm_vm *vm;
	uint64_t gen;

	vm = watched_vm_start(_metadata, self->ctl, B2B_SLOTS, &region, vcpus);
	slots_of(e, B2B_SLOTS, 0, 1);
	for (gen = 1; gen <= B2B_GENS; gen++)
		flip_gen(_metadata, self->ctl, vm, &region, CANARY_A, gen, e,
			 B2B_SLOTS);
	watched_vm_finish(_metadata, vm, vcpus, B2B_GENS, &region);
}

#define TWO_VM_SLOTS 16
#define TWO_VM_GENS 6

/*
 * (4) Two VMs, each bound to a region of its own, each reading its slots
 * while the host flips into both in turn (so that pages one VM gives up
 * are the next pages of the other): each guest only ever sees its own
 * canary.
 */
TEST_F_TIMEOUT(guest, two_vms_never_cross, GUEST_TEST_TIMEOUT_S)
{
	static const uint64_t canaries[2] = { CANARY_A, CANARY_B };
	struct kpf_flip_entry e[TWO_VM_SLOTS];
	struct kpf_region regions[2];
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vms[2];
	unsigned int v;
	uint64_t gen;

	for (v = 0; v < 2; v++) {
		vms[v] = vm_create();
		ASSERT_EQ(0, kpf_region_attach(self->ctl, vms[v], TWO_VM_SLOTS,
					       KPF_REGION_MEMSLOT,
					       KPF_REGION_GPA, &regions[v]));
		watch_setup(vms[v], canaries[v], TWO_VM_SLOTS, 0);
		vcpus[v] = vm_vcpu_add(vms[v], guest_watch, 0);
	}
	for (v = 0; v < 2; v++)
		vcpu_thread_start(vcpus[v], VCPU_TIMEOUT_MS);
	for (v = 0; v < 2; v++)
		ASSERT_PASSES(vms[v], &vcpus[v], 1, 1);

	for (gen = 1; gen <= TWO_VM_GENS; gen++) {
		for (v = 0; v < 2; v++) {
			uint64_t passes = watch_passes(vms[v], 0);

			slots_of(e, TWO_VM_SLOTS, 0, 1);
			flip_gen(_metadata, self->ctl, vms[v], &regions[v],
				 canaries[v], gen, e, TWO_VM_SLOTS);
			ASSERT_PASSES(vms[v], &vcpus[v], 1, passes + 2);
		}
	}
	for (v = 0; v < 2; v++) {
		watch_finish(vms[v], TWO_VM_GENS);
		ASSERT_ALL_DONE(&vcpus[v], 1);
		kpf_region_release(&regions[v]);
		vm_free(vms[v]);
	}
}

#define REUSE_SLOTS 32
#define REUSE_FLIPPED 16
#define REUSE_FILL_LEN 48

/* Where the host's small fill for @slot starts. */
static inline __guest uint64_t reuse_offset(uint64_t slot)
{
	return (slot * 200) % (PAGE_SIZE - REUSE_FILL_LEN);
}

/* VM A: scribbles over every slot, twice; the host flips them out between. */
static void __guest guest_scribble(uint64_t nr_slots)
{
	volatile uint64_t *region = (volatile uint64_t *)KPF_REGION_GPA;
	uint64_t round, i;

	for (round = 1; round <= 2; round++) {
		for (i = 0; i < nr_slots * WORDS_PER_PAGE; i++)
			region[i] = SCRIBBLE;
		GUEST_SYNC(round, 0);
	}
}

/* VM B: no trace of A anywhere; its fills, and zeros around them. */
static void __guest guest_check_reuse(uint64_t nr_slots)
{
	const volatile uint64_t *region =
		(const volatile uint64_t *)KPF_REGION_GPA;
	uint64_t slot, i;

	for (i = 0; i < nr_slots * WORDS_PER_PAGE; i++)
		GUEST_ASSERT_FMT(region[i] != SCRIBBLE,
				 "VM A's data in slot %lu at byte %lu",
				 i / WORDS_PER_PAGE, i % WORDS_PER_PAGE * 8);
	for (slot = 0; slot < nr_slots; slot++) {
		if (slot < REUSE_FLIPPED)
			check_slot(slot, reuse_offset(slot), REUSE_FILL_LEN,
				   slot);
		else
			check_slot(slot, 0, 0, 0);
	}
}

/*
 * Stages away every free pool page (up to DRAIN_MAX), so that the pages VM
 * A gives back next are the only free ones.  Returns how many were staged.
 */
static uint32_t drain_pool(struct __test_metadata *_metadata, int ctl,
			   uint32_t *handles)
{
	struct kpf_counters c;
	uint8_t byte = 1;
	uint32_t i, n;

	ASSERT_EQ(0, kpf_get_stats(ctl, 0, &c));
	n = c.pages_free < DRAIN_MAX ? c.pages_free : DRAIN_MAX;
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, kpf_pool_fill(ctl, &byte, 1, 0, &handles[i]));
	return n;
}

/*
 * (5) Pages come back from the pool scrubbed: VM A's guest scribbles over
 * all its pages, which then return to the pool (flipped out, and with A's
 * region).  A new region for VM B and small fills for it take those pages
 * again; B's guest finds no byte of A's, only its fills and zeros.
 */
TEST_F_TIMEOUT(guest, reused_pages_are_scrubbed, GUEST_TEST_TIMEOUT_S)
{
	uint32_t *drained = calloc(DRAIN_MAX, sizeof(*drained));
	struct kpf_flip_entry e[REUSE_SLOTS];
	struct kpf_counters before, after;
	struct kpf_region region;
	struct kvm_vcpu *vcpu;
	uint8_t data[REUSE_FILL_LEN];
	struct kvm_vm *vm;
	uint32_t nr_drained, i, j;
	struct ucall uc;

	ASSERT_NE(NULL, drained);
	/* VM A dirties its slots, has them flipped out, dirties the new ones. */
	vm = vm_create();
	ASSERT_EQ(0, kpf_region_attach(self->ctl, vm, REUSE_SLOTS,
				       KPF_REGION_MEMSLOT, KPF_REGION_GPA,
				       &region));
	vcpu = vm_vcpu_add(vm, guest_scribble, REUSE_SLOTS);
	ASSERT_SYNC(vcpu, &uc, 1);
	nr_drained = drain_pool(_metadata, self->ctl, drained);
	slots_of(e, REUSE_SLOTS, 0, 1);
	ASSERT_EQ(0, watch_stage(self->ctl, CANARY_A, 1, e, REUSE_SLOTS));
	ASSERT_EQ(0, kpf_region_flip(region.fd, e, REUSE_SLOTS, NULL));
	ASSERT_SYNC(vcpu, &uc, 2);
	ASSERT_UCALL(vcpu, &uc, UCALL_DONE);
	kpf_region_release(&region);
	vm_free(vm);

	/* VM B gets a region and small fills: A's pages, scrubbed. */
	ASSERT_EQ(0, kpf_get_stats(self->ctl, 0, &before));
	vm = vm_create();
	ASSERT_EQ(0, kpf_region_attach(self->ctl, vm, REUSE_SLOTS,
				       KPF_REGION_MEMSLOT, KPF_REGION_GPA,
				       &region));
	for (i = 0; i < REUSE_FLIPPED; i++) {
		for (j = 0; j < REUSE_FILL_LEN; j++)
			data[j] = byte_at(i, j);
		e[i].slot = i;
		ASSERT_EQ(0, kpf_pool_fill(self->ctl, data, REUSE_FILL_LEN,
					   reuse_offset(i), &e[i].handle));
	}
	ASSERT_EQ(0, kpf_region_flip(region.fd, e, REUSE_FLIPPED, NULL));
	ASSERT_EQ(0, kpf_get_stats(self->ctl, 0, &after));
	vcpu = vm_vcpu_add(vm, guest_check_reuse, REUSE_SLOTS);
	ASSERT_UCALL(vcpu, &uc, UCALL_DONE);

	TH_LOG("%u pool pages staged away; %llu pages zeroed for VM B",
	       nr_drained, after.pages_zeroed - before.pages_zeroed);
	ASSERT_LT(before.pages_zeroed, after.pages_zeroed);
	ASSERT_LT(before.bytes_zeroed, after.bytes_zeroed);
	for (i = 0; i < nr_drained; i++)
		ASSERT_EQ(0, kpf_pool_drop(self->ctl, drained[i]));
	kpf_region_release(&region);
	vm_free(vm);
	free(drained);
}

TEST_HARNESS_MAIN
