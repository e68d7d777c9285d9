/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The receive path of kvm-pageflip from the VMM's side: wrappers around
 * the uplink, rule and port ioctls (0 or a negative errno, like kpf.h),
 * ports wired into a test VM, and whole receiving VMs.
 */
#ifndef KPF_RX_H
#define KPF_RX_H

#include "kpf.h"
#include "ring.h"

int kpf_uplink_attach(int ctl, uint32_t ifindex, uint32_t *xdp_ifindex);
int kpf_uplink_detach(int ctl, uint32_t ifindex);
int kpf_rule_add(int ctl, const struct kpf_rule *rule);
int kpf_rule_del(int ctl, const struct kpf_rule *rule);
/* @nr_entries: in, room in @entries; out, the number of rules. */
int kpf_list_rules(int ctl, uint32_t ifindex, struct kpf_rule *entries,
		   uint32_t *nr_entries);
int kpf_list_ports(int ctl, struct kpf_port_info *entries,
		   uint32_t *nr_entries);
/* The entry of KPF_LIST_PORTS for @port_id; -ENOENT if there is none. */
int kpf_port_info(int ctl, uint32_t port_id, struct kpf_port_info *info);
int kpf_port_set(int ctl, uint32_t port_id, uint32_t copybreak);
/* Frames the module classified to a port but could not deliver. */
uint64_t kpf_port_drops(const struct kpf_port_info *pi);
int kpf_region_del_port(int region_fd, uint32_t port_id);

/* A rule for @port_id: @match of KPF_RULE_F_*, @mac may be NULL. */
struct kpf_rule kpf_rule_make(uint32_t ifindex, uint32_t match, uint16_t vlan,
			      const uint8_t *mac, uint32_t port_id);

/*
 * A port of a region wired into a test VM.  The guest rings its doorbell
 * with a 32-bit OUT to @pio, which KVM turns into a signal of @kick_fd
 * without leaving the kernel (KVM_IOEVENTFD).  The tiny guests have no
 * interrupt controller, so @irq_fd is wired to nothing: the test counts
 * its signals instead (kpf_port_irqs()).
 */
struct kpf_port {
	uint32_t id;
	uint32_t ring_slot; /* the control slots: [ring_slot, +ring_pages) */
	uint32_t ring_pages;
	uint32_t ring_size;
	uint64_t ring_gpa; /* guest-physical address of struct kpf_ring_hdr */
	uint16_t pio;
	int kick_fd;
	int irq_fd;
	uint64_t irqs; /* signals of irq_fd counted so far */
};

/*
 * Adds a port with @ring_size entries whose rings start at slot
 * @ring_slot of @r (attached to @vm at r->gpa) and wires its doorbell to
 * @pio.  0 or a negative errno, with nothing left behind.
 */
int kpf_port_add(struct kvm_vm *vm, const struct kpf_region *r,
		 uint32_t ring_slot, uint32_t ring_size, uint16_t pio,
		 uint32_t copybreak, struct kpf_port *p);
/* Reads the irq eventfd and returns the signals counted since the start. */
uint64_t kpf_port_irqs(struct kpf_port *p);
/* Unwires the doorbell and closes the eventfds (the port stays). */
void kpf_port_release(struct kvm_vm *vm, struct kpf_port *p);

/*
 * Reads the counters of port @port_id until they have not changed for
 * @quiet_ms (at most @max_ms in all); @pi holds the last read.  0 or a
 * negative errno.
 */
int kpf_port_settle(int ctl, uint32_t port_id, struct kpf_port_info *pi,
		    unsigned int quiet_ms, unsigned int max_ms);

/*
 * A receiving VM: a region of RX_VM_SLOTS slots at KPF_REGION_GPA, a port
 * whose rings start at slot 0 with its doorbell at RX_VM_PIO, and one vCPU
 * running guest_rx() (ring.h), which posts the other slots and checks
 * every frame it gets.  The test sets the guest's rxg (streams, tags,
 * flags) through @rxg before rx_vm_start().
 */
#define RX_VM_SLOTS 64
#define RX_VM_PIO 0x6c0

struct rx_vm {
	struct kvm_vm *vm;
	struct kpf_region region;
	struct kpf_port port;
	struct kvm_vcpu *vcpu;
	struct rxg *rxg; /* the guest's rxg, seen from the host */
};

/*
 * Creates @g with a port of @ring_size entries and @copybreak, its guest to
 * post @post slots and to take unicast frames to @mac only (NULL: to any
 * MAC).  0 or a negative errno, with nothing left behind.
 */
int rx_vm_create(int ctl, struct rx_vm *g, const uint8_t *mac,
		 uint32_t ring_size, uint32_t post, uint32_t copybreak);
/* Lets @n frames of stream @s arrive at @g, with outer tag @tag (RXG_TAG). */
void rx_vm_expect(struct rx_vm *g, uint32_t s, uint64_t tag, uint64_t n);
/*
 * Starts the guest's vCPU thread (for at most @run_ms) and waits up to
 * @wait_ms for it to post its slots; false if it did not.
 */
bool rx_vm_start(struct rx_vm *g, unsigned int run_ms, unsigned int wait_ms);
/* Waits up to @ms until @g has taken @frames frames in all. */
bool rx_vm_wait(struct rx_vm *g, uint64_t frames, unsigned int ms);
/*
 * Tells the @n guests of @g that everything was sent, gives them @ms to
 * report DONE, then stops the rest.  Returns how many did not; the first
 * of them is @g[*@bad], and what it reported is in @uc.
 */
unsigned int rx_vms_finish(struct rx_vm *g, unsigned int n, unsigned int ms,
			   unsigned int *bad, struct ucall *uc);
/* Releases what is left of @g (its port goes with its region). */
void rx_vm_free(struct rx_vm *g);

#endif /* KPF_RX_H */
