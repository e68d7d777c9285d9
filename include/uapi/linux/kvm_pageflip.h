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
	KPF_CMD_UPLINK_ATTACH,
	KPF_CMD_UPLINK_DETACH,
	KPF_CMD_RULE_ADD,
	KPF_CMD_RULE_DEL,
	KPF_CMD_LIST_RULES,
	KPF_CMD_LIST_PORTS,
	KPF_CMD_PORT_SET,
	/* On a region fd */
	KPF_CMD_REGION_FLIP = 0x40,
	KPF_CMD_REGION_ADD_PORT,
	KPF_CMD_REGION_DEL_PORT,
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
 * @rule_match: out: match bits KPF_RULE_ADD accepts (KPF_RULE_F_*)
 * @max_rules: out: rules one uplink may hold
 * @max_ports: out: ports one region may have
 * @max_ring_size: out: largest ring_size of KPF_REGION_ADD_PORT
 * @copybreak: out: the module's default copy-break, in bytes
 * @__reserved: 0
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
	__u32 rule_match;
	__u32 max_rules;
	__u32 max_ports;
	__u32 max_ring_size;
	__u32 copybreak;
	__u32 __reserved;
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
 * is not staged on the region's control fd.  EBUSY a slot is a control slot
 * of a port or is posted to a port (KPF_REGION_ADD_PORT).
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

/*
 * Receive path
 * ------------
 * An *uplink* is a host net device the module is attached to
 * (KPF_UPLINK_ATTACH).  Frames arrive on it through an rx_handler (every
 * driver) and, when an XDP program redirects them to the module's redirect
 * target device (kpf_uplink_attach.out_xdp_ifindex), through XDP.
 *
 * A *port* is one receive queue of a region (KPF_REGION_ADD_PORT): a ring
 * in control pages of the region, through which the guest posts empty slots
 * and the module completes them with frames.  The ring layout is below and in
 * Documentation/guest-protocol.rst.
 *
 * *Rules* map (VLAN, destination MAC) of an uplink to a port.  A unicast
 * frame goes to the port of the most specific matching rule: an exact
 * MAC+VLAN rule, else a MAC-only rule, else a VLAN-only rule.  Broadcast and
 * multicast frames go to every port that has a rule matching the frame's
 * VLAN (MAC-only rules match every VLAN) and to the host.  A frame no rule
 * matches goes to the host stack unchanged.
 *
 * Uplinks and rules belong to the module, not to the fd that made them; they
 * last until they are detached or deleted, the device goes away, or (for
 * rules) their port goes away.  Ports belong to their region.
 *
 * "Needs CAP_NET_ADMIN" below means CAP_NET_ADMIN in the initial user
 * namespace either of the caller or of whoever opened the control fd (the
 * credentials the fd was opened with, as a socket keeps its creator's).  A
 * privileged launcher may therefore open /dev/kvm-pageflip and pass the fd
 * to an unprivileged VMM, which can then add and delete its own rules.
 */

/* VLAN of a frame without a tag, or with a priority tag (VID 0). */
#define KPF_VLAN_UNTAGGED 0
#define KPF_VLAN_MAX 4094

/**
 * struct kpf_uplink_attach - ioctl(KPF_UPLINK_ATTACH), on the control fd
 * @size: sizeof(struct kpf_uplink_attach)
 * @flags: must be 0
 * @ifindex: the net device, in the caller's network namespace (which must be
 *           the initial one)
 * @out_xdp_ifindex: out: ifindex of the module's XDP redirect target; an XDP
 *                   program on the uplink hands frames to the module by
 *                   redirecting them there through a DEVMAP
 *
 * Needs CAP_NET_ADMIN.  Installs the module's rx_handler on the device.
 *
 * Errors: EPERM no CAP_NET_ADMIN.  ENODEV no such device.  EINVAL not an
 * Ethernet device, the module's own redirect target, or not in the initial
 * network namespace.  EEXIST already attached.  EBUSY the device already has
 * an rx_handler (a bridge, bond, macvlan or team port).  ENOBUFS as well as
 * ENOMEM when memory runs out (the network core's errno while it registers
 * the redirect target).
 */
struct kpf_uplink_attach {
	__u32 size;
	__u32 flags;
	__u32 ifindex;
	__u32 out_xdp_ifindex;
};

#define KPF_UPLINK_ATTACH _IO(KPF_TYPE, KPF_CMD_UPLINK_ATTACH)

/**
 * struct kpf_uplink_detach - ioctl(KPF_UPLINK_DETACH), on the control fd
 * @size: sizeof(struct kpf_uplink_detach)
 * @flags: must be 0
 * @ifindex: an attached device
 * @__reserved: must be 0
 *
 * Needs CAP_NET_ADMIN.  Removes the rx_handler and every rule of the uplink.
 * Frames already queued to ports are still delivered.  Unregistering the
 * device detaches it in the same way.
 *
 * Errors: EPERM no CAP_NET_ADMIN.  ENOENT @ifindex is not attached.
 */
struct kpf_uplink_detach {
	__u32 size;
	__u32 flags;
	__u32 ifindex;
	__u32 __reserved;
};

#define KPF_UPLINK_DETACH _IO(KPF_TYPE, KPF_CMD_UPLINK_DETACH)

/* kpf_rule.flags: which parts of the key the rule matches on. */
#define KPF_RULE_F_MAC (1U << 0)
#define KPF_RULE_F_VLAN (1U << 1)

/**
 * struct kpf_rule - a demultiplexing rule
 * @ifindex: the uplink
 * @match: KPF_RULE_F_MAC, KPF_RULE_F_VLAN or both; at least one
 * @vlan: with KPF_RULE_F_VLAN: 1 .. KPF_VLAN_MAX, or KPF_VLAN_UNTAGGED for
 *        frames without a tag or with a priority tag
 * @mac: with KPF_RULE_F_MAC: a unicast destination MAC
 * @port_id: the port that receives the frames
 * @__reserved: must be 0
 *
 * Key parts the rule does not match on must be 0.
 */
struct kpf_rule {
	__u32 ifindex;
	__u32 match;
	__u16 vlan;
	__u8 mac[6];
	__u32 port_id;
	__u32 __reserved;
};

/**
 * struct kpf_rule_add - ioctl(KPF_RULE_ADD), on the control fd
 * @size: sizeof(struct kpf_rule_add)
 * @flags: must be 0
 * @rule: the rule
 *
 * Needs CAP_NET_ADMIN.  The rule takes effect for the next frame received.
 *
 * Errors: EPERM no CAP_NET_ADMIN.  ENODEV @rule.ifindex is not an attached
 * uplink.  ENOENT no port has @rule.port_id.  EINVAL no match bit, a VLAN
 * above KPF_VLAN_MAX, a multicast or all-zero MAC, or a non-zero unused key
 * part.  EOPNOTSUPP an unknown match bit.  EEXIST a rule with the same key
 * exists on the uplink.  ENOSPC the uplink has 4096 rules.
 */
struct kpf_rule_add {
	__u32 size;
	__u32 flags;
	struct kpf_rule rule;
};

#define KPF_RULE_ADD _IO(KPF_TYPE, KPF_CMD_RULE_ADD)

/**
 * struct kpf_rule_del - ioctl(KPF_RULE_DEL), on the control fd
 * @size: sizeof(struct kpf_rule_del)
 * @flags: must be 0
 * @rule: the key (@ifindex, @match, @vlan, @mac); @port_id is ignored
 *
 * Needs CAP_NET_ADMIN.  Once the call returns, no frame is classified by
 * the rule any more.
 *
 * Errors: EPERM, EINVAL, EOPNOTSUPP and ENODEV as for KPF_RULE_ADD.  ENOENT
 * the uplink has no rule with that key.
 */
struct kpf_rule_del {
	__u32 size;
	__u32 flags;
	struct kpf_rule rule;
};

#define KPF_RULE_DEL _IO(KPF_TYPE, KPF_CMD_RULE_DEL)

/**
 * struct kpf_list_rules - ioctl(KPF_LIST_RULES), on the control fd
 * @size: sizeof(struct kpf_list_rules)
 * @flags: must be 0
 * @ifindex: an uplink, or 0 for every uplink
 * @nr_entries: in: room in @entries; out: number of rules (see
 *              KPF_LIST_BINDINGS for the convention)
 * @entries: user pointer to an array of struct kpf_rule: uplinks in the
 *           order they were attached, each uplink's rules sorted by key
 *           (match, then VLAN, then MAC)
 *
 * Errors: ENOENT @ifindex is not 0 and not attached.
 */
struct kpf_list_rules {
	__u32 size;
	__u32 flags;
	__u32 ifindex;
	__u32 nr_entries;
	__aligned_u64 entries;
};

#define KPF_LIST_RULES _IO(KPF_TYPE, KPF_CMD_LIST_RULES)

/* Per-port counters, in kpf_port_info.counters[]. */
enum kpf_port_counter {
	KPF_PORT_RX_FRAMES, /* frames queued to the port */
	KPF_PORT_RX_BYTES, /* their bytes */
	KPF_PORT_DELIVERED, /* frames completed to the guest */
	KPF_PORT_FLIPPED, /* ... of which by moving the frame's page */
	KPF_PORT_COPIED, /* ... of which by copying */
	KPF_PORT_BYTES_COPIED, /* bytes copied into guest slots */
	KPF_PORT_BYTES_ZEROED, /* bytes zeroed in pages taken from the NIC */
	KPF_PORT_INVALIDATIONS, /* unmap calls made for flipped slots */
	KPF_PORT_BATCHES, /* worker runs that delivered frames */
	KPF_PORT_INTERRUPTS, /* signals of the interrupt eventfd */
	KPF_PORT_KICKS, /* doorbells received from the guest */
	KPF_PORT_DROP_NO_BUFFER, /* dropped: the guest posted too few slots */
	KPF_PORT_DROP_QUEUE_FULL, /* dropped: the port's backlog was full */
	KPF_PORT_DROP_RING_ERROR, /* dropped: the port is in an error state */
	KPF_PORT_DROP_OVERSIZE, /* dropped: too long, see the doc */
	KPF_PORT_DROP_RUNT, /* dropped: shorter than an Ethernet header */
	KPF_PORT_DROP_NOMEM, /* dropped: no memory to clone or unshare it */
	KPF_PORT_RING_ERRORS, /* times the guest corrupted its ring */
	KPF_PORT_WORKER_NS, /* nanoseconds the port's worker ran */
	KPF_PORT_PAGES_FLIPPED, /* pages moved into slots (a frame: 1 or more) */
	KPF_PORT_NR_COUNTERS,
};

/* Room for counters in struct kpf_port_info; the unused ones read as 0. */
#define KPF_PORT_MAX_COUNTERS 32

/* kpf_port_info.state */
enum kpf_port_state {
	KPF_PORT_STATE_RUNNING = 0,
	KPF_PORT_STATE_ERROR = 1, /* see kpf_ring_hdr.error */
};

/**
 * struct kpf_port_info - one entry of KPF_LIST_PORTS
 * @port_id: module-wide port id, never 0
 * @binding_id: the region (binding) the port belongs to
 * @ring_size: entries in each ring
 * @ring_slot: first control slot of the port's rings
 * @copybreak: frames shorter than this are copied even when they could be
 *             flipped (the value in effect, never KPF_COPYBREAK_DEFAULT;
 *             65536: always copied)
 * @state: enum kpf_port_state
 * @error: enum kpf_ring_error when @state is KPF_PORT_STATE_ERROR
 * @__reserved: 0
 * @counters: indexed by enum kpf_port_counter; counters a later version
 *            adds take unused places, so the struct keeps its size
 *
 * KPF_PORT_DROP_OVERSIZE counts frames above 64 KiB plus an Ethernet
 * header, frames that need more slots than the ring has, multi-buffer XDP
 * frames, and aggregates (GRO) other than TCP.
 */
struct kpf_port_info {
	__u32 port_id;
	__u32 binding_id;
	__u32 ring_size;
	__u32 ring_slot;
	__u32 copybreak;
	__u32 state;
	__u32 error;
	__u32 __reserved;
	__aligned_u64 counters[KPF_PORT_MAX_COUNTERS];
};

/**
 * struct kpf_list_ports - ioctl(KPF_LIST_PORTS), on the control fd
 * @size: sizeof(struct kpf_list_ports)
 * @flags: must be 0
 * @nr_entries: in: room in @entries; out: number of ports (see
 *              KPF_LIST_BINDINGS for the convention)
 * @__reserved: must be 0
 * @entries: user pointer to an array of struct kpf_port_info, ascending
 *           port id
 */
struct kpf_list_ports {
	__u32 size;
	__u32 flags;
	__u32 nr_entries;
	__u32 __reserved;
	__aligned_u64 entries;
};

#define KPF_LIST_PORTS _IO(KPF_TYPE, KPF_CMD_LIST_PORTS)

/**
 * struct kpf_port_set - ioctl(KPF_PORT_SET), on the control fd
 * @size: sizeof(struct kpf_port_set)
 * @flags: must be 0
 * @port_id: the port
 * @copybreak: new copy-break length in bytes, 0 .. 65536 (0: flip whatever
 *             can be flipped; 65536: always copy), or KPF_COPYBREAK_DEFAULT
 *             for the module parameter's value at the time of the call
 *
 * Needs CAP_NET_ADMIN.
 *
 * Errors: EPERM no CAP_NET_ADMIN.  ENOENT no such port.  EINVAL
 * @copybreak above 65536 and not KPF_COPYBREAK_DEFAULT.
 */
struct kpf_port_set {
	__u32 size;
	__u32 flags;
	__u32 port_id;
	__u32 copybreak;
};

#define KPF_PORT_SET _IO(KPF_TYPE, KPF_CMD_PORT_SET)

/* Use the module's default copy-break (module parameter copybreak). */
#define KPF_COPYBREAK_DEFAULT 0xffffffffU
#define KPF_COPYBREAK_MAX 65536
#define KPF_RING_SIZE_MAX 4096

/**
 * struct kpf_region_add_port - ioctl(KPF_REGION_ADD_PORT), on a region fd
 * @size: sizeof(struct kpf_region_add_port)
 * @flags: must be 0
 * @ring_slot: first of the port's control slots
 * @ring_size: entries in each ring: a power of two, 2 .. KPF_RING_SIZE_MAX
 * @kick_fd: an eventfd the module waits on for guest doorbells (the VMM
 *           wires it to KVM_IOEVENTFD), or -1 when the guest never rings
 * @irq_fd: an eventfd the module signals to interrupt the guest (the VMM
 *          wires it to KVM_IRQFD), or -1
 * @copybreak: see struct kpf_port_set, or KPF_COPYBREAK_DEFAULT
 * @out_port_id: out: the new port's id, never 0
 * @out_ring_pages: out: control slots the port uses, from @ring_slot on
 *                  (KPF_RING_PAGES(@ring_size))
 * @__reserved: must be 0
 *
 * Turns slots [@ring_slot, @ring_slot + out_ring_pages) into control slots:
 * they are zeroed, the ring header is initialised, and from then on they are
 * never flipped (KPF_REGION_FLIP refuses them with EBUSY) until the port is
 * deleted.  The port lives until KPF_REGION_DEL_PORT or until the region is
 * released; its rules go with it.
 *
 * Errors: EINVAL @ring_size is not a power of two in range, the control
 * slots do not fit in the region, @copybreak is out of range, or an fd is
 * not an eventfd.  EBADF an fd is not open.  EBUSY a control slot is already
 * a control slot of another port or is posted.  ENOSPC the region has
 * KPF_MAX_PORTS ports.
 */
struct kpf_region_add_port {
	__u32 size;
	__u32 flags;
	__u32 ring_slot;
	__u32 ring_size;
	__s32 kick_fd;
	__s32 irq_fd;
	__u32 copybreak;
	__u32 out_port_id;
	__u32 out_ring_pages;
	__u32 __reserved;
};

#define KPF_REGION_ADD_PORT _IO(KPF_TYPE, KPF_CMD_REGION_ADD_PORT)
#define KPF_MAX_PORTS 64

/**
 * struct kpf_region_del_port - ioctl(KPF_REGION_DEL_PORT), on a region fd
 * @size: sizeof(struct kpf_region_del_port)
 * @flags: must be 0
 * @port_id: a port of this region
 * @__reserved: must be 0
 *
 * Deletes the port and its rules.  Frames queued to it are dropped; slots
 * the guest had posted are simply no longer posted (their pages stay where
 * they are); the control slots become ordinary slots again.  A VMM resets a
 * port (for a guest reset or a ring in the error state) by deleting it and
 * adding it again.
 *
 * Errors: ENOENT no such port on this region.
 */
struct kpf_region_del_port {
	__u32 size;
	__u32 flags;
	__u32 port_id;
	__u32 __reserved;
};

#define KPF_REGION_DEL_PORT _IO(KPF_TYPE, KPF_CMD_REGION_DEL_PORT)

/*
 * Guest ring protocol (Documentation/guest-protocol.rst)
 * ------------------------------------------------------
 * A port's control slots hold, page by page:
 *   page 0                  struct kpf_ring_hdr
 *   pages 1 ..              the avail ring: ring_size __u32 slot numbers
 *   after the avail ring    the used ring: ring_size struct kpf_used_elem,
 *                           starting on a page boundary
 * Indices are free-running __u32 counters; entry i is at index
 * (i & (ring_size - 1)).  The guest owns avail_idx, used_event and the avail
 * ring; the module owns used_idx, avail_event, error and the used ring, and
 * never reads back what it wrote there.
 */
#define KPF_RING_MAGIC 0x6b706672U /* "kpfr" */
#define KPF_RING_VERSION 1

#define KPF_RING_AVAIL_PAGES(n) ((4U * (n) + 4095U) / 4096U)
#define KPF_RING_USED_PAGES(n) ((16U * (n) + 4095U) / 4096U)
#define KPF_RING_PAGES(n) \
	(1U + KPF_RING_AVAIL_PAGES(n) + KPF_RING_USED_PAGES(n))

/* Why a port went into the error state (kpf_ring_hdr.error). */
enum kpf_ring_error {
	KPF_RING_OK = 0,
	KPF_RING_ERR_AVAIL_IDX = 1, /* avail_idx went back or too far ahead */
	KPF_RING_ERR_SLOT_RANGE = 2, /* a posted slot is beyond the region */
	KPF_RING_ERR_SLOT_CONTROL = 3, /* a posted slot is a control slot */
	KPF_RING_ERR_SLOT_BUSY = 4, /* a posted slot was already posted */
};

/**
 * struct kpf_ring_hdr - page 0 of a port's control slots
 * @magic: KPF_RING_MAGIC (module, at setup)
 * @version: KPF_RING_VERSION (module, at setup)
 * @ring_size: entries per ring (module, at setup)
 * @avail_offset: byte offset of the avail ring from the header (module)
 * @used_offset: byte offset of the used ring from the header (module)
 * @port_id: the port (module, at setup)
 * @__pad0: 0
 * @avail_idx: guest: number of slots posted since setup
 * @used_event: guest: interrupt me once used_idx passes this index
 * @__pad1: 0
 * @used_idx: module: number of used elements published since setup
 * @avail_event: module: ring the doorbell once avail_idx passes this index
 * @error: module: enum kpf_ring_error; once set, the port stops until reset
 * @__pad2: 0
 *
 * The three groups sit on separate cache lines.
 */
struct kpf_ring_hdr {
	__u32 magic;
	__u32 version;
	__u32 ring_size;
	__u32 avail_offset;
	__u32 used_offset;
	__u32 port_id;
	__u32 __pad0[10];
	/* written by the guest */
	__u32 avail_idx;
	__u32 used_event;
	__u32 __pad1[14];
	/* written by the module */
	__u32 used_idx;
	__u32 avail_event;
	__u32 error;
	__u32 __pad2[13];
};

/* kpf_used_elem.flags */
#define KPF_USED_F_MORE (1U << 0) /* the frame continues in the next element */
#define KPF_USED_F_VLAN (1U << 1) /* @vlan_tci holds the frame's 802.1Q tag */
#define KPF_USED_F_FLIPPED (1U << 2) /* the slot got a new page (else a copy) */
#define KPF_USED_F_CSUM_OK (1U << 3) /* the uplink verified the L4 checksum */
#define KPF_USED_F_GSO_TCPV4 (1U << 4) /* TCP/IPv4 of gso_size segments */
#define KPF_USED_F_GSO_TCPV6 (1U << 5) /* TCP/IPv6 of gso_size segments */
/* The L4 checksum field holds only the pseudo-header sum. */
#define KPF_USED_F_CSUM_PARTIAL (1U << 6)

/**
 * struct kpf_used_elem - one completion in the used ring
 * @slot: the posted slot that now holds (part of) a frame
 * @offset: where the frame's bytes start in the slot's page
 * @len: how many bytes, 1 .. page size
 * @vlan_tci: with KPF_USED_F_VLAN: the tag, removed from the frame
 * @flags: KPF_USED_F_*
 * @gso_size: with KPF_USED_F_GSO_*: the segment size, in the first element
 * @__reserved: 0
 *
 * A frame longer than a page spans several elements; every one but the last
 * has KPF_USED_F_MORE, and @vlan_tci and the GSO fields are set in the first.
 */
struct kpf_used_elem {
	__u32 slot;
	__u16 offset;
	__u16 len;
	__u16 vlan_tci;
	__u16 flags;
	__u16 gso_size;
	__u16 __reserved;
};

#endif /* _UAPI_LINUX_KVM_PAGEFLIP_H */
