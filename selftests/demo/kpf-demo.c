// SPDX-License-Identifier: GPL-2.0
/*
 * kpf-demo: kvm-pageflip's main job, end to end.
 *
 * A VM with one vCPU is bound to a region of a few slots.  For each
 * message, the guest tells the host it is ready, the host stages a page
 * holding the message and flips it into the next slot, and the guest reads
 * the text at that guest-physical address and sends it back.  Slots are
 * reused once all have been filled, so later pages replace pages the guest
 * has already mapped.  Last, one batch fills every slot at once, with a
 * single invalidation for the whole run of slots.  The demo prints what the
 * guest read and the counters the module kept, and exits non-zero if the
 * guest read anything but the message flipped in.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kpf.h"

#define DEMO_SLOTS 4
#define DEMO_MESSAGES 6
#define MSG_MAX 64
#define RUN_TIMEOUT_MS 30000

/* Reads the NUL-terminated text at the start of @slot and reports it. */
static void __guest guest_report_slot(uint64_t slot)
{
	const volatile char *page =
		(const volatile char *)(KPF_REGION_GPA + slot * PAGE_SIZE);
	char text[MSG_MAX];
	uint64_t len;

	for (len = 0; len < MSG_MAX - 1 && page[len]; len++)
		text[len] = page[len];
	guest_print(text, len, slot);
}

/*
 * For each message: wait for the host's flip, read the slot, report it.
 * Then wait for the batch and report every slot.
 */
static void __guest guest_read_messages(uint64_t nr_messages)
{
	uint64_t i;

	for (i = 0; i < nr_messages; i++) {
		GUEST_SYNC(1, i);
		guest_report_slot(i % DEMO_SLOTS);
	}
	GUEST_SYNC(2, 0);
	for (i = 0; i < DEMO_SLOTS; i++)
		guest_report_slot(i);
}

/* Runs the vCPU to its next report, which must be @cmd. */
static bool demo_run(struct kvm_vcpu *vcpu, struct ucall *uc, uint64_t cmd)
{
	char desc[512];

	if (vcpu_run(vcpu, uc, RUN_TIMEOUT_MS) == cmd)
		return true;
	ucall_describe(vcpu->vm, uc, desc, sizeof(desc));
	fprintf(stderr, "kpf-demo: unexpected from the guest: %s\n", desc);
	return false;
}

/* Receives the guest's report of @slot; true if it read @msg there. */
static bool demo_expect(struct kvm_vcpu *vcpu, uint32_t slot, const char *msg)
{
	char text[MSG_MAX];
	struct ucall uc;

	if (!demo_run(vcpu, &uc, UCALL_PRINT) ||
	    !ucall_text(vcpu->vm, &uc, text, sizeof(text)))
		return false;
	printf("guest read slot %lu: %s\n", uc.args[1], text);
	if (uc.args[1] != slot || strcmp(text, msg)) {
		fprintf(stderr,
			"kpf-demo: MISMATCH: flipped \"%s\" into slot %u\n",
			msg, slot);
		return false;
	}
	return true;
}

/* Flips message @i into its slot and checks what the guest reads there. */
static bool demo_message(int ctl, struct kpf_region *region,
			 struct kvm_vcpu *vcpu, unsigned int i)
{
	uint32_t slot = i % DEMO_SLOTS;
	char msg[MSG_MAX];
	struct ucall uc;
	int ret;

	if (!demo_run(vcpu, &uc, UCALL_SYNC) || uc.args[1] != i)
		return false;
	snprintf(msg, sizeof(msg), "hello from the host, page %u", i + 1);
	ret = kpf_flip_one(ctl, region, slot, msg, strlen(msg), 0);
	if (ret) {
		fprintf(stderr, "kpf-demo: flip into slot %u: %s\n", slot,
			strerror(-ret));
		return false;
	}
	return demo_expect(vcpu, slot, msg);
}

/* Fills every slot in one batch and checks what the guest reads. */
static bool demo_batch(int ctl, struct kpf_region *region,
		       struct kvm_vcpu *vcpu)
{
	struct kpf_flip_entry e[DEMO_SLOTS];
	char msg[DEMO_SLOTS][MSG_MAX];
	uint32_t slot, inval;
	struct ucall uc;
	int ret;

	if (!demo_run(vcpu, &uc, UCALL_SYNC))
		return false;
	for (slot = 0; slot < DEMO_SLOTS; slot++) {
		snprintf(msg[slot], MSG_MAX, "batch page %u of %u", slot + 1,
			 DEMO_SLOTS);
		e[slot].slot = slot;
		ret = kpf_pool_fill(ctl, msg[slot], strlen(msg[slot]), 0,
				    &e[slot].handle);
		if (ret)
			goto err;
	}
	ret = kpf_region_flip(region->fd, e, DEMO_SLOTS, &inval);
	if (ret)
		goto err;
	printf("\none batch of %u flips into slots 0-%u: %u invalidation%s\n",
	       DEMO_SLOTS, DEMO_SLOTS - 1, inval, inval == 1 ? "" : "s");
	for (slot = 0; slot < DEMO_SLOTS; slot++)
		if (!demo_expect(vcpu, slot, msg[slot]))
			return false;
	return true;
err:
	fprintf(stderr, "kpf-demo: batch: %s\n", strerror(-ret));
	return false;
}

static void print_counters(int ctl, uint32_t binding_id)
{
	struct kpf_counters b, m;
	int ret;

	ret = kpf_get_stats(ctl, binding_id, &b);
	if (!ret)
		ret = kpf_get_stats(ctl, 0, &m);
	if (ret) {
		fprintf(stderr, "kpf-demo: KPF_GET_STATS: %s\n",
			strerror(-ret));
		return;
	}
	printf("\nbinding %u: %llu flips in %llu batches, %llu invalidations\n",
	       binding_id, b.flips, b.batches, b.invalidations);
	printf("module:    %llu flips in %llu batches, %llu invalidations, "
	       "%llu bytes filled, %llu pages zeroed (%llu bytes)\n",
	       m.flips, m.batches, m.invalidations, m.bytes_filled,
	       m.pages_zeroed, m.bytes_zeroed);
	printf("pool:      %llu free + %llu staged + %llu in slots + "
	       "%llu quarantined = %llu allocated%s\n",
	       m.pages_free, m.pages_staged, m.pages_in_slots,
	       m.pages_quarantined, m.pages_allocated,
	       kpf_counters_balanced(&m) ? "" : "  (DOES NOT ADD UP)");
}

/* Prints why a device cannot be used; false if it cannot. */
static bool demo_device_ok(const char *dev, int err)
{
	if (!err)
		return true;
	fprintf(stderr, "kpf-demo: %s: %s\n", dev, strerror(err));
	return false;
}

int main(void)
{
	struct kpf_region region;
	struct kpf_info info;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	unsigned int i;
	bool ok = true;
	int ctl, ret;

	if (!demo_device_ok("/dev/kvm", kvm_available()) ||
	    !demo_device_ok(KPF_DEV, kpf_available()))
		return 1;
	ctl = kpf_open();
	if (ctl < 0 || kpf_get_info(ctl, &info))
		return 1;
	printf("kvm-pageflip demo: pages flipped into a running guest\n");
	printf("module: API %u, %u-byte pages, up to %u slots per region, "
	       "%u flips per batch\n",
	       info.api_version, info.page_size, info.max_slots,
	       info.max_batch);

	vm = vm_create();
	ret = kpf_region_attach(ctl, vm, DEMO_SLOTS, KPF_REGION_MEMSLOT,
				KPF_REGION_GPA, &region);
	if (ret) {
		fprintf(stderr, "kpf-demo: region: %s\n", strerror(-ret));
		return 1;
	}
	printf("VM: 1 vCPU, region of %u slots at guest-physical %#llx "
	       "(binding %u)\n\n",
	       DEMO_SLOTS, KPF_REGION_GPA, region.binding_id);

	vcpu = vm_vcpu_add(vm, guest_read_messages, DEMO_MESSAGES);
	for (i = 0; ok && i < DEMO_MESSAGES; i++)
		ok = demo_message(ctl, &region, vcpu, i);
	ok = ok && demo_batch(ctl, &region, vcpu);
	ok = ok && demo_run(vcpu, &uc, UCALL_DONE);

	print_counters(ctl, region.binding_id);
	kpf_region_release(&region);
	vm_free(vm);
	close(ctl);
	if (ok)
		printf("demo passed: the guest read every page flipped in\n");
	else
		printf("demo FAILED\n");
	return ok ? 0 : 1;
}
