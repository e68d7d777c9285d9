/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvm-pageflip: zero-copy receive into KVM guests by page flipping.
 *
 * Control interface of /dev/kvm-pageflip and of the region files it creates.
 *
 * Objects
 * -------
 * Opening /dev/kvm-pageflip gives a *control fd*.  It creates regions and
 * stages frames in pages of the module's host pool.
 *
 * A *region* binds one KVM VM (given by its VM fd) to an array of N page
 * slots.  The VMM mmap()s the region fd (MAP_SHARED, offset 0, at most
 * N pages) and registers that range as a KVM memslot; slot i is the page at
 * offset i * page_size.  Every slot is always backed: a slot that was never
 * flipped reads as zeros.  A region is also called a *binding*; it has a
 * module-wide binding id that the statistics ioctls accept.
 *
 * The *host pool* holds pages that belong to no VM.  KPF_POOL_FILL copies a
 * frame into a pool page and returns a handle to it, owned by the control fd
 * that staged it.  KPF_REGION_FLIP moves staged pages into slots; each slot's
 * previous page goes back to the pool and is scrubbed before it is handed out
 * again.  A page that something else still references after it left a VM is
 * quarantined instead of reused.
 *
 * Calling convention
 * ------------------
 * Every ioctl takes a pointer to a struct that begins with
 * ``__u32 size; __u32 flags;``.  ``size`` is sizeof() of the struct as the
 * caller knows it.  The kernel accepts any size that covers the first version
 * of the struct; a larger size is accepted when the bytes the kernel does not
 * know are zero.  Output fields are written back up to min(size, what the
 * kernel knows).
 *
 * Errors common to every ioctl
 * ----------------------------
 * ENOTTY      unknown command, or a command issued on the wrong kind of fd.
 * EFAULT      a user pointer could not be read or written.
 * EINVAL      ``size`` is smaller than the first version of the struct, or a
 *             field holds a value that is out of range (documented per field).
 * E2BIG       ``size`` is larger than the kernel's struct and the extra bytes
 *             are not all zero, or ``size`` is larger than the page size.
 * EOPNOTSUPP  an unknown bit in ``flags``, or a non-zero ``__reserved`` field.
 * EOVERFLOW   an arithmetic overflow in the arguments (offset + length).
 * ENOMEM      the kernel could not allocate memory; nothing was changed.
 *
 * Per-ioctl errnos are listed with each struct below.
 */
#ifndef _UAPI_LINUX_KVM_PAGEFLIP_H
#define _UAPI_LINUX_KVM_PAGEFLIP_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define KPF_API_VERSION 1
#define KPF_DEVICE_NAME "kvm-pageflip"

#define KPF_TYPE 0xB8

enum {
	KPF_CMD_BASE = 0x00,
	/* On the control fd */
	KPF_CMD_GET_INFO = KPF_CMD_BASE,
	KPF_CMD_CREATE_REGION,
	KPF_CMD_POOL_FILL,
	KPF_CMD_POOL_DROP,
	KPF_CMD_GET_STATS,
	KPF_CMD_LIST_BINDINGS,
	/* On a region fd */
	KPF_CMD_REGION_FLIP = 0x40,
};

/**
 * struct kpf_info - ioctl(KPF_GET_INFO), on the control fd
 * @size: sizeof(struct kpf_info)
 * @flags: must be 0
 * @api_version: out: KPF_API_VERSION of the running module
 * @page_size: out: size of a slot and of a pool page, in bytes
 * @max_slots: out: largest nr_slots that KPF_CREATE_REGION accepts
 * @max_batch: out: largest nr_entries that KPF_REGION_FLIP accepts
 * @max_pool_pages: out: pages the module may allocate in all (pool, staged,
 *                  slots and quarantine together)
 * @create_region_flags: out: flags KPF_CREATE_REGION accepts
 * @pool_fill_flags: out: flags KPF_POOL_FILL accepts
 * @region_flip_flags: out: flags KPF_REGION_FLIP accepts
 *
 * Reports what this module supports, so that userspace need not guess from
 * errors.  No errno beyond the common ones.
 */
struct kpf_info {
	__u32 size;
	__u32 flags;
	__u32 api_version;
	__u32 page_size;
	__u32 max_slots;
	__u32 max_batch;
	__aligned_u64 max_pool_pages;
	__aligned_u64 create_region_flags;
	__aligned_u64 pool_fill_flags;
	__aligned_u64 region_flip_flags;
};

#define KPF_GET_INFO _IO(KPF_TYPE, KPF_CMD_GET_INFO)

/**
 * struct kpf_create_region - ioctl(KPF_CREATE_REGION), on the control fd
 * @size: sizeof(struct kpf_create_region)
 * @flags: must be 0
 * @vm_fd: a KVM VM fd (from KVM_CREATE_VM) of the calling process
 * @nr_slots: number of page slots, 1 .. kpf_info.max_slots
 * @out_region_fd: out: the new region fd (O_RDWR | O_CLOEXEC)
 * @out_binding_id: out: module-wide id of this binding, never 0
 *
 * Binds the VM and creates a region of @nr_slots zero-filled pages.  The
 * region holds a reference on the VM's file, so the VM stays valid for as
 * long as the region exists, whatever order userspace closes things in.
 *
 * mmap() of the region fd: MAP_SHARED only, by the process that owns the VM,
 * within [0, nr_slots * page_size).  EINVAL otherwise (EPERM for another
 * process).  The mapping is VM_PFNMAP | VM_IO: it cannot be pinned with
 * get_user_pages() and is not copied into children on fork().
 *
 * Errors: EBADF @vm_fd is not an open fd.  EINVAL @vm_fd is not a KVM VM fd
 * (for example /dev/kvm itself or a vCPU fd), or @nr_slots is 0 or above
 * max_slots.  EPERM the VM belongs to another process.  ENOSPC the slots'
 * pages would exceed max_pool_pages.  EMFILE no free fd.
 */
struct kpf_create_region {
	__u32 size;
	__u32 flags;
	__s32 vm_fd;
	__u32 nr_slots;
	__s32 out_region_fd;
	__u32 out_binding_id;
};

#define KPF_CREATE_REGION _IO(KPF_TYPE, KPF_CMD_CREATE_REGION)

/**
 * struct kpf_pool_fill - ioctl(KPF_POOL_FILL), on the control fd
 * @size: sizeof(struct kpf_pool_fill)
 * @flags: must be 0
 * @data: user pointer to @len bytes of frame data
 * @len: bytes to copy, 1 .. page_size
 * @offset: where in the page the data starts; @offset + @len <= page_size
 * @out_handle: out: handle of the staged page, never 0
 * @__reserved: must be 0
 *
 * Takes a page of the host pool, copies the frame into it and stages it
 * under this control fd.  Every byte outside [@offset, @offset + @len) reads
 * as zero.  The handle is valid for KPF_REGION_FLIP on regions created by
 * the same control fd, or for KPF_POOL_DROP; it is consumed by either.
 * Pages still staged when the control fd and all its regions are closed go
 * back to the pool.
 *
 * Errors: EINVAL @len is 0 or @offset + @len > page_size.  EOVERFLOW
 * @offset + @len overflows.  ENOSPC the pool is at max_pool_pages.
 */
struct kpf_pool_fill {
	__u32 size;
	__u32 flags;
	__aligned_u64 data;
	__u32 len;
	__u32 offset;
	__u32 out_handle;
	__u32 __reserved;
};

#define KPF_POOL_FILL _IO(KPF_TYPE, KPF_CMD_POOL_FILL)

/**
 * struct kpf_pool_drop - ioctl(KPF_POOL_DROP), on the control fd
 * @size: sizeof(struct kpf_pool_drop)
 * @flags: must be 0
 * @handle: a handle from KPF_POOL_FILL on this control fd
 * @__reserved: must be 0
 *
 * Returns a staged page to the pool unused.
 *
 * Errors: ENOENT @handle is not staged on this control fd.
 */
struct kpf_pool_drop {
	__u32 size;
	__u32 flags;
	__u32 handle;
	__u32 __reserved;
};

#define KPF_POOL_DROP _IO(KPF_TYPE, KPF_CMD_POOL_DROP)

/**
 * struct kpf_counters - statistics of one binding, or of the whole module
 * @flips: pages moved into slots
 * @batches: successful KPF_REGION_FLIP calls
 * @invalidations: unmap calls made, one per contiguous run of slots
 * @pages_zeroed: pages scrubbed (wholly or in part) before reuse
 * @bytes_zeroed: bytes written with zeros by those scrubs
 * @bytes_filled: frame bytes copied in by KPF_POOL_FILL
 * @quarantined: pages that were still referenced elsewhere when they left a
 *               slot and were therefore kept out of the pool (cumulative)
 * @pages_free: now: pool pages ready for reuse
 * @pages_staged: now: pool pages holding a staged frame
 * @pages_in_slots: now: pages backing region slots
 * @pages_quarantined: now: pages waiting in quarantine
 * @pages_allocated: now: pages the module holds.  For the module totals,
 *                   @pages_free + @pages_staged + @pages_in_slots +
 *                   @pages_quarantined == @pages_allocated at every read.
 *
 * The cumulative counters of a binding count what that binding did; its
 * "now" fields describe only its slots (@pages_in_slots == @pages_allocated
 * == nr_slots, the others 0).
 */
struct kpf_counters {
	__aligned_u64 flips;
	__aligned_u64 batches;
	__aligned_u64 invalidations;
	__aligned_u64 pages_zeroed;
	__aligned_u64 bytes_zeroed;
	__aligned_u64 bytes_filled;
	__aligned_u64 quarantined;
	__aligned_u64 pages_free;
	__aligned_u64 pages_staged;
	__aligned_u64 pages_in_slots;
	__aligned_u64 pages_quarantined;
	__aligned_u64 pages_allocated;
};

/**
 * struct kpf_get_stats - ioctl(KPF_GET_STATS), on the control fd
 * @size: sizeof(struct kpf_get_stats)
 * @flags: must be 0
 * @binding_id: a binding id, or 0 for the module totals
 * @__reserved: must be 0
 * @counters: out
 *
 * Errors: ENOENT no binding has @binding_id.
 */
struct kpf_get_stats {
	__u32 size;
	__u32 flags;
	__u32 binding_id;
	__u32 __reserved;
	struct kpf_counters counters;
};

#define KPF_GET_STATS _IO(KPF_TYPE, KPF_CMD_GET_STATS)

/**
 * struct kpf_binding_info - one entry of KPF_LIST_BINDINGS
 * @binding_id: id to pass to KPF_GET_STATS
 * @nr_slots: slots of the region
 * @vmm_pid: thread-group id of the process that created the binding
 * @__reserved: 0
 */
struct kpf_binding_info {
	__u32 binding_id;
	__u32 nr_slots;
	__s32 vmm_pid;
	__u32 __reserved;
};

/**
 * struct kpf_list_bindings - ioctl(KPF_LIST_BINDINGS), on the control fd
 * @size: sizeof(struct kpf_list_bindings)
 * @flags: must be 0
 * @nr_entries: in: room in @entries; out: number of live bindings.  When the
 *              out value is larger than the in value, only the first in-value
 *              entries were written; call again with more room.
 * @__reserved: must be 0
 * @entries: user pointer to an array of struct kpf_binding_info (may be 0
 *           when @nr_entries is 0), in ascending binding id order
 */
struct kpf_list_bindings {
	__u32 size;
	__u32 flags;
	__u32 nr_entries;
	__u32 __reserved;
	__aligned_u64 entries;
};

#define KPF_LIST_BINDINGS _IO(KPF_TYPE, KPF_CMD_LIST_BINDINGS)

/**
 * struct kpf_flip_entry - one slot of a KPF_REGION_FLIP batch
 * @slot: slot index, below the region's nr_slots
 * @handle: staged page (KPF_POOL_FILL on the control fd that created the
 *          region) that becomes the slot's page
 */
struct kpf_flip_entry {
	__u32 slot;
	__u32 handle;
};

/**
 * struct kpf_region_flip - ioctl(KPF_REGION_FLIP), on a region fd
 * @size: sizeof(struct kpf_region_flip)
 * @flags: must be 0
 * @nr_entries: entries in the batch, 1 .. kpf_info.max_batch
 * @__reserved: must be 0
 * @entries: user pointer to @nr_entries struct kpf_flip_entry
 * @out_invalidations: out: unmap calls this batch made (one per contiguous
 *                     run of slots)
 * @__reserved2: must be 0
 *
 * All or nothing: every entry is validated before any slot changes.  When
 * the ioctl returns, every vCPU of the VM reads the new pages at those
 * guest-physical addresses, and the previous pages are no longer reachable
 * from the VM or the VMM; they are back in the pool (or in quarantine).
 *
 * Errors: EINVAL @nr_entries is 0 or above max_batch, a slot is out of
 * range, or a slot or a handle appears twice in the batch.  ENOENT a handle
 * is not staged on the region's control fd.
 */
struct kpf_region_flip {
	__u32 size;
	__u32 flags;
	__u32 nr_entries;
	__u32 __reserved;
	__aligned_u64 entries;
	__u32 out_invalidations;
	__u32 __reserved2;
};

#define KPF_REGION_FLIP _IO(KPF_TYPE, KPF_CMD_REGION_FLIP)

#endif /* _UAPI_LINUX_KVM_PAGEFLIP_H */
