/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Thin wrappers around the ioctls of /dev/kvm-pageflip and its region
 * files.  Each returns 0 or a negative errno, so that tests can compare
 * against the errno the uapi header promises.  Conformance tests that need
 * odd struct sizes call ioctl() themselves.
 */
#ifndef KPF_LIB_H
#define KPF_LIB_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm_pageflip.h>

#include "kvm_util.h"

#define KPF_DEV "/dev/" KPF_DEVICE_NAME
#define KPF_MODULE_NAME "kvm_pageflip"
/* Where the tests put a region in guest-physical memory, and its memslot. */
#define KPF_REGION_GPA (4ULL << 30)
#define KPF_REGION_MEMSLOT 1

/* A region bound to a VM, mapped and registered as a memslot. */
struct kpf_region {
	int fd; /* -1 once closed */
	uint32_t binding_id;
	uint32_t nr_slots;
	void *map; /* NULL once unmapped */
	uint64_t gpa;
};

/* 0 when the device can be opened, else an errno saying why not. */
int kpf_available(void);
/* A new control fd, or a negative errno. */
int kpf_open(void);

int kpf_get_info(int ctl, struct kpf_info *info);
int kpf_create_region(int ctl, int vm_fd, uint32_t nr_slots, int *region_fd,
		      uint32_t *binding_id);
int kpf_pool_fill(int ctl, const void *data, uint32_t len, uint32_t offset,
		  uint32_t *handle);
int kpf_pool_drop(int ctl, uint32_t handle);
int kpf_region_flip(int region_fd, const struct kpf_flip_entry *entries,
		    uint32_t nr_entries, uint32_t *invalidations);
int kpf_get_stats(int ctl, uint32_t binding_id, struct kpf_counters *c);
int kpf_list_bindings(int ctl, struct kpf_binding_info *entries,
		      uint32_t *nr_entries);

/*
 * Creates a region of @nr_slots for @vm, maps it and registers it as
 * memslot @memslot at @gpa.  0 or a negative errno (nothing left behind).
 */
int kpf_region_attach(int ctl, struct kvm_vm *vm, uint32_t nr_slots,
		      uint32_t memslot, uint64_t gpa, struct kpf_region *r);
/* Unmaps and closes what is left of @r (the memslot stays registered). */
void kpf_region_release(struct kpf_region *r);

/*
 * Stages @len bytes at @offset and flips them into @slot, one page, one
 * batch.  0 or a negative errno.
 */
int kpf_flip_one(int ctl, const struct kpf_region *r, uint32_t slot,
		 const void *data, uint32_t len, uint32_t offset);

/* Unmap calls a batch makes: its contiguous runs of slots. */
uint32_t kpf_batch_runs(const struct kpf_flip_entry *entries, uint32_t n);

/* The module totals' accounting invariant. */
bool kpf_counters_balanced(const struct kpf_counters *c);

/*
 * Reads the module totals until no page is staged or in a slot (what is
 * left once every region and staged frame is gone), for at most
 * @timeout_ms: teardown may finish in a deferred release.  True if they
 * settled; @c holds the last read either way.
 */
bool kpf_wait_idle(int ctl, struct kpf_counters *c, unsigned int timeout_ms);

#endif /* KPF_LIB_H */
