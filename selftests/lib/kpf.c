// SPDX-License-Identifier: GPL-2.0
/*
 * Wrappers around the kvm-pageflip ioctls, and regions wired into VMs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kpf.h"

#define KPF_IDLE_POLL_MS 10

static int kpf_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

int kpf_available(void)
{
	int fd = kpf_open();

	if (fd < 0)
		return -fd;
	close(fd);
	return 0;
}

int kpf_open(void)
{
	int fd = open(KPF_DEV, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int kpf_get_info(int ctl, struct kpf_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return kpf_ioctl(ctl, KPF_GET_INFO, info);
}

int kpf_create_region(int ctl, int vm_fd, uint32_t nr_slots, int *region_fd,
		      uint32_t *binding_id)
{
	struct kpf_create_region arg = {
		.size = sizeof(arg),
		.vm_fd = vm_fd,
		.nr_slots = nr_slots,
	};
	int ret = kpf_ioctl(ctl, KPF_CREATE_REGION, &arg);

	if (!ret) {
		*region_fd = arg.out_region_fd;
		*binding_id = arg.out_binding_id;
	}
	return ret;
}

int kpf_pool_fill(int ctl, const void *data, uint32_t len, uint32_t offset,
		  uint32_t *handle)
{
	struct kpf_pool_fill arg = {
		.size = sizeof(arg),
		.data = (uintptr_t)data,
		.len = len,
		.offset = offset,
	};
	int ret = kpf_ioctl(ctl, KPF_POOL_FILL, &arg);

	if (!ret)
		*handle = arg.out_handle;
	return ret;
}

int kpf_pool_drop(int ctl, uint32_t handle)
{
	struct kpf_pool_drop arg = {
		.size = sizeof(arg),
		.handle = handle,
	};

	return kpf_ioctl(ctl, KPF_POOL_DROP, &arg);
}

int kpf_region_flip(int region_fd, const struct kpf_flip_entry *entries,
		    uint32_t nr_entries, uint32_t *invalidations)
{
	struct kpf_region_flip arg = {
		.size = sizeof(arg),
		.nr_entries = nr_entries,
		.entries = (uintptr_t)entries,
	};
	int ret = kpf_ioctl(region_fd, KPF_REGION_FLIP, &arg);

	if (!ret && invalidations)
		*invalidations = arg.out_invalidations;
	return ret;
}

int kpf_get_stats(int ctl, uint32_t binding_id, struct kpf_counters *c)
{
	struct kpf_get_stats arg = {
		.size = sizeof(arg),
		.binding_id = binding_id,
	};
	int ret = kpf_ioctl(ctl, KPF_GET_STATS, &arg);

	if (!ret)
		*c = arg.counters;
	return ret;
}

int kpf_list_bindings(int ctl, struct kpf_binding_info *entries,
		      uint32_t *nr_entries)
{
	struct kpf_list_bindings arg = {
		.size = sizeof(arg),
		.nr_entries = *nr_entries,
		.entries = (uintptr_t)entries,
	};
	int ret = kpf_ioctl(ctl, KPF_LIST_BINDINGS, &arg);

	if (!ret)
		*nr_entries = arg.nr_entries;
	return ret;
}

int kpf_region_attach(int ctl, struct kvm_vm *vm, uint32_t nr_slots,
		      uint32_t memslot, uint64_t gpa, struct kpf_region *r)
{
	size_t len = (size_t)nr_slots * PAGE_SIZE;
	int ret;

	memset(r, 0, sizeof(*r));
	r->nr_slots = nr_slots;
	r->gpa = gpa;
	ret = kpf_create_region(ctl, vm->fd, nr_slots, &r->fd, &r->binding_id);
	if (ret) {
		r->fd = -1;
		return ret;
	}
	r->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->map == MAP_FAILED) {
		ret = -errno;
		r->map = NULL;
		kpf_region_release(r);
		return ret;
	}
	vm_add_memslot(vm, memslot, gpa, r->map, len);
	return 0;
}

void kpf_region_release(struct kpf_region *r)
{
	if (r->map)
		munmap(r->map, (size_t)r->nr_slots * PAGE_SIZE);
	r->map = NULL;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

int kpf_flip_one(int ctl, const struct kpf_region *r, uint32_t slot,
		 const void *data, uint32_t len, uint32_t offset)
{
	struct kpf_flip_entry e = { .slot = slot };
	int ret;

	ret = kpf_pool_fill(ctl, data, len, offset, &e.handle);
	if (ret)
		return ret;
	ret = kpf_region_flip(r->fd, &e, 1, NULL);
	if (ret)
		kpf_pool_drop(ctl, e.handle);
	return ret;
}

uint32_t kpf_batch_runs(const struct kpf_flip_entry *entries, uint32_t n)
{
	uint32_t i, j, runs = 0;

	/* A slot starts a run unless the batch also holds the slot below. */
	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++)
			if (entries[j].slot + 1 == entries[i].slot)
				break;
		runs += j == n;
	}
	return runs;
}

bool kpf_counters_balanced(const struct kpf_counters *c)
{
	uint64_t sum = c->pages_free + c->pages_staged + c->pages_in_slots +
		       c->pages_quarantined;

	return sum == c->pages_allocated;
}

bool kpf_wait_idle(int ctl, struct kpf_counters *c, unsigned int timeout_ms)
{
	struct timespec pause = { .tv_nsec = KPF_IDLE_POLL_MS * 1000000L };
	uint64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		if (kpf_get_stats(ctl, 0, c))
			return false;
		if (!c->pages_staged && !c->pages_in_slots)
			return true;
		if (now_ms() >= deadline)
			return false;
		nanosleep(&pause, NULL);
	}
}
