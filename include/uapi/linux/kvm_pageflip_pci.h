/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvm-pageflip: the PCI network device a VMM gives its guest.
 *
 * A VMM (the QEMU device model in tools/qemu/, ``-device kvm-pageflip``)
 * exposes one kvm-pageflip region and one port of it to its guest as a PCI
 * Ethernet function.  The guest driver (guest/, ``kvm-pageflip-net``) and the
 * device model both build against this header; Documentation/qemu.rst
 * describes the device, Documentation/guest-protocol.rst the receive ring.
 *
 * PCI function
 * ------------
 * Vendor KPF_PCI_VENDOR_ID, device KPF_PCI_DEVICE_ID (the vendor id is not
 * registered with the PCI-SIG: the device is for the project's own VMs),
 * revision KPF_PCI_REVISION, class KPF_PCI_CLASS (Ethernet), subsystem ids
 * equal to vendor and device.  No INTx: MSI-X only.
 *
 * BAR0 (KPF_PCI_BAR_REGS)    KPF_PCI_REGS_SIZE bytes of registers
 *                            (KPF_PCI_REG_*), 32-bit little-endian accesses
 *                            only.  Registers not listed read 0, writes to
 *                            read-only registers are ignored, and accesses
 *                            of another width are ignored (reads give 0).
 * BAR2 (KPF_PCI_BAR_REGION)  64-bit prefetchable memory: the region,
 *                            NR_SLOTS pages of KPF_PCI_SLOT_SIZE bytes, slot i
 *                            at offset i * KPF_PCI_SLOT_SIZE.
 * BAR4 (KPF_PCI_BAR_MSIX)    MSI-X table and PBA, KPF_PCI_NR_VECTORS vectors
 *                            (KPF_PCI_VEC_*).
 *
 * Region layout, in slots
 * -----------------------
 *   [RX_RING_SLOT, TX_RING_SLOT)     the receive port's control slots,
 *                                    KPF_RING_PAGES(RX_RING_SIZE) of them,
 *                                    written by the module
 *                                    (struct kpf_ring_hdr and its rings)
 *   [TX_RING_SLOT, DATA_SLOT_FIRST)  the transmit ring,
 *                                    KPF_PCI_TX_PAGES(TX_RING_SIZE) slots:
 *                                    struct kpf_pci_tx_hdr, then from the next
 *                                    slot on the struct kpf_pci_tx_desc array
 *   [DATA_SLOT_FIRST, NR_SLOTS)      data slots, the guest's: posted to the
 *                                    receive ring, holding a frame the guest
 *                                    still uses or sends, or free
 *
 * The guest reads the geometry from the registers, never computes it.
 *
 * Enabling
 * --------
 * Writing KPF_PCI_CONTROL_ENABLE to CONTROL makes the device, within that
 * register write, create the receive port (the control slots are zeroed and
 * the ring header written), zero the transmit ring and add the demultiplexing
 * rule of its MAC (and VLAN); STATUS then reads READY | LINK_UP and PORT_ID
 * the module's port id.  Writing 0, a function-level reset, a system reset
 * or a guest reboot deletes the port and its rule; the control slots become
 * ordinary slots again and STATUS reads 0.  After a ring error (STATUS
 * RX_ERROR or TX_ERROR) the guest resets the device by writing 0 then
 * KPF_PCI_CONTROL_ENABLE.
 *
 * Transmit ring
 * -------------
 * The guest writes descriptors at index (avail_idx & (TX_RING_SIZE - 1)),
 * issues a write barrier, advances avail_idx, issues a full barrier and
 * writes TX_DOORBELL.  The device reads avail_idx once per doorbell and
 * checks every new descriptor before it uses it: @slot a data slot,
 * @offset + @len <= KPF_PCI_SLOT_SIZE, @len within KPF_PCI_TX_LEN_MIN ..
 * MAX_MTU + KPF_PCI_ETH_HLEN (+ KPF_PCI_VLAN_HLEN without
 * KPF_PCI_F_ACCESS_VLAN, for the guest's own tag), @flags and @__reserved 0,
 * and at most TX_RING_SIZE descriptors outstanding.  The first bad one stops
 * transmission: the device writes the reason to the header's @error, sets
 * STATUS TX_ERROR and signals KPF_PCI_VEC_CONFIG; reception carries on.  For
 * good descriptors the device copies the frame (inserting the VLAN tag with
 * KPF_PCI_F_ACCESS_VLAN), sends it on the uplink, then advances used_idx and
 * signals KPF_PCI_VEC_TX when used_idx passes used_event (virtio's event
 * index rule: used_idx - used_event - 1 < used_idx - old_used_idx).  A
 * completed descriptor's slot is the guest's again.
 */
#ifndef _UAPI_LINUX_KVM_PAGEFLIP_PCI_H
#define _UAPI_LINUX_KVM_PAGEFLIP_PCI_H

#include <linux/types.h>

#define KPF_PCI_VENDOR_ID 0x6b70
#define KPF_PCI_DEVICE_ID 0x0001
#define KPF_PCI_REVISION 1
#define KPF_PCI_CLASS 0x020000 /* network controller, Ethernet */

#define KPF_PCI_BAR_REGS 0
#define KPF_PCI_BAR_REGION 2
#define KPF_PCI_BAR_MSIX 4

#define KPF_PCI_REGS_SIZE 4096
#define KPF_PCI_SLOT_SIZE 4096

/* MSI-X vectors */
#define KPF_PCI_VEC_RX 0 /* receive: signalled by the module (KVM_IRQFD) */
#define KPF_PCI_VEC_TX 1 /* transmit completions */
#define KPF_PCI_VEC_CONFIG 2 /* STATUS changed */
#define KPF_PCI_NR_VECTORS 3

/* BAR0 registers: byte offsets of 32-bit little-endian registers. */
#define KPF_PCI_REG_MAGIC 0x000 /* RO KPF_PCI_MAGIC */
#define KPF_PCI_REG_VERSION 0x004 /* RO KPF_PCI_VERSION */
#define KPF_PCI_REG_FEATURES 0x008 /* RO KPF_PCI_F_* */
#define KPF_PCI_REG_MAC_LO 0x00c /* RO MAC bytes 0..3, byte 0 in bits 7:0 */
#define KPF_PCI_REG_MAC_HI 0x010 /* RO MAC bytes 4..5 in bits 15:0 */
#define KPF_PCI_REG_VLAN 0x014 /* RO VID with KPF_PCI_F_ACCESS_VLAN, else 0 */
#define KPF_PCI_REG_NR_SLOTS 0x018 /* RO slots in BAR2 */
#define KPF_PCI_REG_RX_RING_SLOT 0x01c /* RO first receive control slot */
#define KPF_PCI_REG_RX_RING_SIZE 0x020 /* RO entries of the receive rings */
#define KPF_PCI_REG_TX_RING_SLOT 0x024 /* RO first transmit ring slot */
#define KPF_PCI_REG_TX_RING_SIZE 0x028 /* RO entries of the transmit ring */
#define KPF_PCI_REG_DATA_SLOT_FIRST 0x02c /* RO first data slot */
#define KPF_PCI_REG_PORT_ID 0x030 /* RO port id while READY, else 0 */
#define KPF_PCI_REG_STATUS 0x034 /* RO KPF_PCI_STATUS_* */
#define KPF_PCI_REG_CONTROL 0x038 /* RW KPF_PCI_CONTROL_* */
#define KPF_PCI_REG_RX_DOORBELL 0x03c /* WO any value: receive ring kick */
#define KPF_PCI_REG_TX_DOORBELL 0x040 /* WO any value: transmit ring kick */
#define KPF_PCI_REG_MAX_MTU 0x044 /* RO largest MTU in one slot */
#define KPF_PCI_REG_STATUS_ACK 0x048 /* WO reserved: write 0 */

#define KPF_PCI_MAGIC 0x6b706664U /* "kpfd" */
#define KPF_PCI_VERSION 1

/* FEATURES */
/* Access port of VLAN: TX frames get the tag, RX frames arrive untagged. */
#define KPF_PCI_F_ACCESS_VLAN (1U << 0)
#define KPF_PCI_F_TX (1U << 1) /* the transmit ring works */

/* STATUS */
#define KPF_PCI_STATUS_READY (1U << 0) /* the port exists, rings set up */
#define KPF_PCI_STATUS_LINK_UP (1U << 1)
#define KPF_PCI_STATUS_RX_ERROR (1U << 2) /* kpf_ring_hdr.error != 0 */
#define KPF_PCI_STATUS_TX_ERROR (1U << 3) /* kpf_pci_tx_hdr.error != 0 */

/* CONTROL */
#define KPF_PCI_CONTROL_ENABLE (1U << 0)

/* Limits of the geometry the device offers (its properties). */
#define KPF_PCI_SLOTS_MIN 512
#define KPF_PCI_SLOTS_MAX 65536
#define KPF_PCI_SLOTS_DEFAULT 4096
#define KPF_PCI_RING_SIZE_MIN 2
#define KPF_PCI_RING_SIZE_MAX 4096 /* both rings; KPF_RING_SIZE_MAX for RX */
#define KPF_PCI_RING_SIZE_DEFAULT 256
#define KPF_PCI_ETH_HLEN 14
#define KPF_PCI_VLAN_HLEN 4
#define KPF_PCI_MTU_MIN 68
/* MAX_MTU never exceeds this: a tagged frame of that MTU fills one slot. */
#define KPF_PCI_MTU_MAX \
	(KPF_PCI_SLOT_SIZE - KPF_PCI_ETH_HLEN - KPF_PCI_VLAN_HLEN)
#define KPF_PCI_MTU_DEFAULT 1500
#define KPF_PCI_TX_LEN_MIN KPF_PCI_ETH_HLEN

/* Slots of a transmit ring of n descriptors: a header page, then the array. */
#define KPF_PCI_TX_DESC_PAGES(n) ((16U * (n) + 4095U) / 4096U)
#define KPF_PCI_TX_PAGES(n) (1U + KPF_PCI_TX_DESC_PAGES(n))

/* Why the device stopped transmitting (kpf_pci_tx_hdr.error). */
enum kpf_pci_tx_error {
	KPF_PCI_TX_OK = 0,
	KPF_PCI_TX_ERR_AVAIL_IDX = 1, /* more than TX_RING_SIZE outstanding */
	KPF_PCI_TX_ERR_SLOT = 2, /* @slot is not a data slot */
	KPF_PCI_TX_ERR_BOUNDS = 3, /* @offset + @len beyond the slot */
	KPF_PCI_TX_ERR_LEN = 4, /* @len below the minimum or above MAX_MTU */
	KPF_PCI_TX_ERR_FLAGS = 5, /* non-zero @flags or @__reserved */
};

/**
 * struct kpf_pci_tx_hdr - page TX_RING_SLOT of the region
 * @avail_idx: guest: descriptors posted since ENABLE (free-running)
 * @used_event: guest: signal KPF_PCI_VEC_TX once used_idx passes this index
 * @__pad0: 0
 * @used_idx: device: descriptors completed since ENABLE (free-running)
 * @error: device: enum kpf_pci_tx_error; once set, transmission stops until
 *         the device is disabled and enabled again
 * @__pad1: 0
 *
 * The guest's and the device's fields sit on separate 64-byte cache lines,
 * as in struct kpf_ring_hdr.  ENABLE zeroes the whole ring.
 */
struct kpf_pci_tx_hdr {
	__u32 avail_idx;
	__u32 used_event;
	__u32 __pad0[14];
	__u32 used_idx;
	__u32 error;
	__u32 __pad1[14];
};

/**
 * struct kpf_pci_tx_desc - one frame to send, from slot TX_RING_SLOT + 1 on
 * @slot: data slot holding the frame, DATA_SLOT_FIRST .. NR_SLOTS - 1
 * @offset: where the frame starts in that slot's page
 * @len: bytes, KPF_PCI_TX_LEN_MIN .. MAX_MTU + KPF_PCI_ETH_HLEN (plus
 *       KPF_PCI_VLAN_HLEN without KPF_PCI_F_ACCESS_VLAN), and
 *       @offset + @len <= KPF_PCI_SLOT_SIZE
 * @flags: 0 (reserved for offloads)
 * @__reserved: 0
 *
 * The device reads a descriptor once, after it has seen avail_idx cover it;
 * the slot must not change until used_idx covers the descriptor.
 */
struct kpf_pci_tx_desc {
	__u32 slot;
	__u16 offset;
	__u16 len;
	__u32 flags;
	__u32 __reserved;
};

#endif /* _UAPI_LINUX_KVM_PAGEFLIP_PCI_H */
