// SPDX-License-Identifier: GPL-2.0
/*
 * Uplinks, rules and ports: ioctl wrappers, ports wired into VMs, and
 * receiving VMs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kpf_rx.h"

static int kpf_rx_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

int kpf_uplink_attach(int ctl, uint32_t ifindex, uint32_t *xdp_ifindex)
{
	struct kpf_uplink_attach arg = {
		.size = sizeof(arg),
		.ifindex = ifindex,
	};
	int ret = kpf_rx_ioctl(ctl, KPF_UPLINK_ATTACH, &arg);

	if (!ret && xdp_ifindex)
		*xdp_ifindex = arg.out_xdp_ifindex;
	return ret;
}

int kpf_uplink_detach(int ctl, uint32_t ifindex)
{
	struct kpf_uplink_detach arg = {
		.size = sizeof(arg),
		.ifindex = ifindex,
	};

	return kpf_rx_ioctl(ctl, KPF_UPLINK_DETACH, &arg);
}

struct kpf_rule kpf_rule_make(uint32_t ifindex, uint32_t match, uint16_t vlan,
			      const uint8_t *mac, uint32_t port_id)
{
	struct kpf_rule r = {
		.ifindex = ifindex,
		.match = match,
		.port_id = port_id,
	};

	if (match & KPF_RULE_F_VLAN)
		r.vlan = vlan;
	if ((match & KPF_RULE_F_MAC) && mac)
		memcpy(r.mac, mac, sizeof(r.mac));
	return r;
}

int kpf_rule_add(int ctl, const struct kpf_rule *rule)
{
	struct kpf_rule_add arg = { .size = sizeof(arg), .rule = *rule };

	return kpf_rx_ioctl(ctl, KPF_RULE_ADD, &arg);
}

int kpf_rule_del(int ctl, const struct kpf_rule *rule)
{
	struct kpf_rule_del arg = { .size = sizeof(arg), .rule = *rule };

	return kpf_rx_ioctl(ctl, KPF_RULE_DEL, &arg);
}

int kpf_list_rules(int ctl, uint32_t ifindex, struct kpf_rule *entries,
		   uint32_t *nr_entries)
{
	struct kpf_list_rules arg = {
		.size = sizeof(arg),
		.ifindex = ifindex,
		.nr_entries = *nr_entries,
		.entries = (uintptr_t)entries,
	};
	int ret = kpf_rx_ioctl(ctl, KPF_LIST_RULES, &arg);

	if (!ret)
		*nr_entries = arg.nr_entries;
	return ret;
}

int kpf_list_ports(int ctl, struct kpf_port_info *entries, uint32_t *nr_entries)
{
	struct kpf_list_ports arg = {
		.size = sizeof(arg),
		.nr_entries = *nr_entries,
		.entries = (uintptr_t)entries,
	};
	int ret = kpf_rx_ioctl(ctl, KPF_LIST_PORTS, &arg);

	if (!ret)
		*nr_entries = arg.nr_entries;
	return ret;
}

int kpf_port_info(int ctl, uint32_t port_id, struct kpf_port_info *info)
{
	struct kpf_port_info ports[KPF_MAX_PORTS];
	uint32_t i, n = KPF_MAX_PORTS;
	int ret = kpf_list_ports(ctl, ports, &n);

	if (ret)
		return ret;
	for (i = 0; i < n && i < KPF_MAX_PORTS; i++) {
		if (ports[i].port_id == port_id) {
			*info = ports[i];
			return 0;
		}
	}
	return -ENOENT;
}

int kpf_port_set(int ctl, uint32_t port_id, uint32_t copybreak)
{
	struct kpf_port_set arg = {
		.size = sizeof(arg),
		.port_id = port_id,
		.copybreak = copybreak,
	};

	return kpf_rx_ioctl(ctl, KPF_PORT_SET, &arg);
}

int kpf_region_del_port(int region_fd, uint32_t port_id)
{
	struct kpf_region_del_port arg = {
		.size = sizeof(arg),
		.port_id = port_id,
	};

	return kpf_rx_ioctl(region_fd, KPF_REGION_DEL_PORT, &arg);
}

/* (Un)wires @fd to 32-bit OUTs to @pio, with no exit to userspace. */
static int kpf_port_ioeventfd(struct kvm_vm *vm, uint16_t pio, int fd,
			      bool assign)
{
	struct kvm_ioeventfd ioe = {
		.addr = pio,
		.len = 4,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_PIO |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return kpf_rx_ioctl(vm->fd, KVM_IOEVENTFD, &ioe);
}

int kpf_port_add(struct kvm_vm *vm, const struct kpf_region *r,
		 uint32_t ring_slot, uint32_t ring_size, uint16_t pio,
		 uint32_t copybreak, struct kpf_port *p)
{
	struct kpf_region_add_port arg = {
		.size = sizeof(arg),
		.ring_slot = ring_slot,
		.ring_size = ring_size,
		.copybreak = copybreak,
	};
	int ret;

	memset(p, 0, sizeof(*p));
	p->pio = pio;
	p->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->kick_fd < 0 || p->irq_fd < 0) {
		ret = -errno;
		goto err_close;
	}
	ret = kpf_port_ioeventfd(vm, pio, p->kick_fd, true);
	if (ret)
		goto err_close;
	arg.kick_fd = p->kick_fd;
	arg.irq_fd = p->irq_fd;
	ret = kpf_rx_ioctl(r->fd, KPF_REGION_ADD_PORT, &arg);
	if (ret)
		goto err_deassign;
	p->id = arg.out_port_id;
	p->ring_slot = ring_slot;
	p->ring_pages = arg.out_ring_pages;
	p->ring_size = ring_size;
	p->ring_gpa = r->gpa + (uint64_t)ring_slot * PAGE_SIZE;
	return 0;

err_deassign:
	kpf_port_ioeventfd(vm, pio, p->kick_fd, false);
err_close:
	if (p->kick_fd >= 0)
		close(p->kick_fd);
	if (p->irq_fd >= 0)
		close(p->irq_fd);
	p->kick_fd = p->irq_fd = -1;
	return ret;
}

uint64_t kpf_port_drops(const struct kpf_port_info *pi)
{
	uint64_t n = 0;
	int i;

	for (i = KPF_PORT_DROP_NO_BUFFER; i <= KPF_PORT_DROP_NOMEM; i++)
		n += pi->counters[i];
	return n;
}

uint64_t kpf_port_irqs(struct kpf_port *p)
{
	uint64_t n;

	if (p->irq_fd >= 0 && read(p->irq_fd, &n, sizeof(n)) == sizeof(n))
		p->irqs += n;
	return p->irqs;
}

void kpf_port_release(struct kvm_vm *vm, struct kpf_port *p)
{
	if (p->kick_fd >= 0) {
		if (vm->fd >= 0)
			kpf_port_ioeventfd(vm, p->pio, p->kick_fd, false);
		close(p->kick_fd);
	}
	if (p->irq_fd >= 0)
		close(p->irq_fd);
	p->kick_fd = p->irq_fd = -1;
}

#define RX_VM_POLL_MS 2

static void rx_vm_sleep(unsigned int ms)
{
	struct timespec ts = { .tv_nsec = ms * 1000000L };

	nanosleep(&ts, NULL);
}

int kpf_port_settle(int ctl, uint32_t port_id, struct kpf_port_info *pi,
		    unsigned int quiet_ms, unsigned int max_ms)
{
	uint64_t deadline = now_ms() + max_ms, still = now_ms();
	struct kpf_port_info last;
	int ret = kpf_port_info(ctl, port_id, &last);

	while (!ret && now_ms() < deadline && now_ms() - still < quiet_ms) {
		rx_vm_sleep(20);
		ret = kpf_port_info(ctl, port_id, pi);
		if (!ret &&
		    memcmp(pi->counters, last.counters, sizeof(last.counters)))
			still = now_ms();
		if (!ret)
			last = *pi;
	}
	*pi = last;
	return ret;
}

int rx_vm_create(int ctl, struct rx_vm *g, const uint8_t *mac,
		 uint32_t ring_size, uint32_t post, uint32_t copybreak)
{
	struct rxg *r;
	int ret;

	memset(g, 0, sizeof(*g));
	g->vm = vm_create();
	ret = kpf_region_attach(ctl, g->vm, RX_VM_SLOTS, KPF_REGION_MEMSLOT,
				KPF_REGION_GPA, &g->region);
	if (ret)
		goto err_free_vm;
	ret = kpf_port_add(g->vm, &g->region, 0, ring_size, RX_VM_PIO,
			   copybreak, &g->port);
	if (ret)
		goto err_release_region;
	g->rxg = r = GUEST_VAR(g->vm, rxg);
	r->ring_gpa = g->port.ring_gpa;
	r->region_gpa = g->region.gpa;
	r->port_id = g->port.id;
	r->first_slot = g->port.ring_pages;
	r->nr_slots = RX_VM_SLOTS - g->port.ring_pages;
	r->post = post;
	r->pio = RX_VM_PIO;
	if (mac)
		memcpy(r->mac, mac, 6);
	return 0;

err_release_region:
	kpf_region_release(&g->region);
err_free_vm:
	vm_free(g->vm);
	g->vm = NULL;
	return ret;
}

void rx_vm_expect(struct rx_vm *g, uint32_t s, uint64_t tag, uint64_t n)
{
	g->rxg->streams |= 1ULL << s;
	g->rxg->vlan[s] = tag;
	WRITE_ONCE(g->rxg->expect[s], n);
}

bool rx_vm_start(struct rx_vm *g, unsigned int run_ms, unsigned int wait_ms)
{
	uint64_t deadline = now_ms() + wait_ms;

	g->vcpu = vm_vcpu_add(g->vm, guest_rx, 0);
	vcpu_thread_start(g->vcpu, run_ms);
	while (!READ_ONCE(g->rxg->ready) && !vcpu_thread_finished(g->vcpu) &&
	       now_ms() < deadline)
		rx_vm_sleep(RX_VM_POLL_MS);
	return READ_ONCE(g->rxg->ready);
}

bool rx_vm_wait(struct rx_vm *g, uint64_t frames, unsigned int ms)
{
	uint64_t deadline = now_ms() + ms;

	while (READ_ONCE(g->rxg->frames) < frames) {
		if (vcpu_thread_finished(g->vcpu) || now_ms() >= deadline)
			return false;
		rx_vm_sleep(RX_VM_POLL_MS);
	}
	return true;
}

unsigned int rx_vms_finish(struct rx_vm *g, unsigned int n, unsigned int ms,
			   unsigned int *bad, struct ucall *uc)
{
	uint64_t deadline = now_ms() + ms;
	unsigned int i, left, failed = 0;
	struct ucall mine;

	for (i = 0; i < n; i++)
		WRITE_ONCE(g[i].rxg->final, 1);
	do {
		for (i = 0, left = 0; i < n; i++)
			left += !vcpu_thread_finished(g[i].vcpu);
		if (left)
			rx_vm_sleep(RX_VM_POLL_MS);
	} while (left && now_ms() < deadline);
	/* A guest still waiting fails with what it got. */
	for (i = 0; i < n; i++)
		WRITE_ONCE(g[i].rxg->stop, 1);
	for (i = 0; i < n; i++) {
		if (vcpu_thread_join(g[i].vcpu, failed ? &mine : uc) ==
		    UCALL_DONE)
			continue;
		if (!failed++)
			*bad = i;
	}
	return failed;
}

void rx_vm_free(struct rx_vm *g)
{
	if (!g->vm)
		return;
	kpf_port_release(g->vm, &g->port);
	kpf_region_release(&g->region);
	vm_free(g->vm);
	g->vm = NULL;
}
