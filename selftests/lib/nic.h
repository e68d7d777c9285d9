/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The test VM's NICs, seen from a test: which one is which (init exports
 * their names, see selftests/vm/init), and the few settings the receive
 * tests change, through ioctls (the VM has no ethtool or iproute2 beyond
 * busybox).
 */
#ifndef KPF_NIC_H
#define KPF_NIC_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Environment variables init sets to the NICs' interface names. */
#define NIC_ENV_XDP "KPF_NIC_XDP" /* virtio-net: the XDP uplink */
#define NIC_ENV_SKB "KPF_NIC_SKB" /* e1000e: the skb uplink */
#define NIC_ENV_TX "KPF_NIC_TX" /* e1000e: frames are sent out of it */

/*
 * The interface named by environment variable @env: its ifindex (> 0), or
 * 0 with @why saying what is missing.
 */
int nic_from_env(const char *env, char *name, size_t size, char *why,
		 size_t why_size);

/* 0 or a negative errno for each of these. */
int nic_set_flags(const char *name, unsigned int set, unsigned int clear);
int nic_get_mtu(const char *name, int *mtu);
int nic_set_mtu(const char *name, int mtu);
int nic_get_mac(const char *name, uint8_t mac[6]);
/*
 * Turns off the NIC's VLAN tag stripping (rx-vlan-offload), so that frames
 * reach the stack as they were on the wire.  A NIC without it succeeds.
 */
int nic_vlan_strip_off(const char *name);
/*
 * Makes @name an uplink the tests can use: up, promiscuous (guest MACs
 * are not the NIC's, and a VLAN filter would drop unknown VLANs), no VLAN
 * stripping.
 */
int nic_uplink_prepare(const char *name);

/*
 * Makes @name a NIC to send test frames out of: up, with a carrier within
 * @ms; its MAC is written to @mac.
 */
int nic_sender_prepare(const char *name, uint8_t mac[6], unsigned int ms);

/* Frames @name has received (its rx_packets), in @n.  0 or a negative errno. */
int nic_rx_packets(const char *name, uint64_t *n);

/*
 * Waits up to @ms for @name to have a carrier (an e1000e takes a second
 * or two after it is brought up or its MTU changes).  0 or -ETIMEDOUT.
 */
int nic_wait_carrier(const char *name, unsigned int ms);

/*
 * The XDP program on interface @ifindex, from RTM_GETLINK: its id in
 * @prog_id (0: none) and how it is attached in @attached (XDP_ATTACHED_*
 * of linux/if_link.h: NONE, DRV for native mode, SKB, HW, MULTI).
 */
int nic_xdp_query(int ifindex, uint32_t *prog_id, uint8_t *attached);

/*
 * The IOMMU group of the device that does @name's DMA: the nearest of its
 * sysfs device and that device's parents with an iommu_group (a virtio-net
 * interface's device is the virtio device, whose parent is the PCI
 * function).  The group number, or -ENOENT when none has one.
 */
int nic_iommu_group(const char *name);

/* An 802.1Q device @lower.@vid (8021q); its name is written to @name. */
int nic_vlan_add(const char *lower, uint16_t vid, char *name, size_t size);
int nic_vlan_del(const char *name);

/*
 * A virtual device of rtnetlink kind @kind ("veth", "macvlan") named
 * @name, on top of @link (an ifindex, 0: none), in the caller's network
 * namespace.  A veth's peer gets a name of the kernel's choosing and goes
 * with it.  0 or a negative errno (-EOPNOTSUPP: no such kind).
 */
int nic_link_add(const char *name, const char *kind, int link);
/* Deletes the device @name (and a veth's peer).  0 or a negative errno. */
int nic_link_del(const char *name);

/* A NIC whose driver a test unbound, and how to give it back. */
struct nic_driver {
	char name[IF_NAMESIZE]; /* the interface's name before the unbind */
	char device[256]; /* its device in sysfs (PCI function, virtio) */
	char driver[256]; /* the driver's directory in sysfs */
};

/*
 * Unbinds the driver of interface @name from its device (the PCI
 * function of an e1000e, the virtio device of a virtio-net), which
 * unregisters the interface; @d records what nic_driver_bind() needs.
 * 0 or a negative errno.
 */
int nic_driver_unbind(const char *name, struct nic_driver *d);
/*
 * Binds the driver again and waits up to @ms for its interface, which
 * gets its old name back if the kernel chose another.  The interface's
 * new ifindex, or a negative errno.
 */
int nic_driver_bind(const struct nic_driver *d, unsigned int ms);

#endif /* KPF_NIC_H */
