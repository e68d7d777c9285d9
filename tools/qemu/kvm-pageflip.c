/*
 * kvm-pageflip PCI network device
 *
 * Gives the guest one kvm-pageflip region and one receive port of it as a
 * PCI Ethernet function; the binary interface is
 * include/uapi/linux/kvm_pageflip_pci.h, the description
 * Documentation/qemu.rst of the kvm-pageflip project.
 *
 * Receive never involves QEMU: the module writes frames into the region,
 * which KVM maps as a memslot of its own (BAR2), the guest's RX doorbell is
 * an ioeventfd the module waits on, and the module interrupts the guest
 * through an irqfd on MSI-X vector 0.  QEMU creates these objects, keeps the
 * MSI route of vector 0 in step with the guest's MSI-X table, creates and
 * deletes the port when the guest enables or resets the device, and sends
 * the guest's frames (the TX ring) on the uplink through an AF_PACKET
 * socket.
 *
 * Everything the module holds for this device hangs off the control and
 * region fds, so a QEMU that exits or is killed leaves nothing behind.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <linux/if_packet.h>
#include <linux/kvm_pageflip.h>
#include <linux/kvm_pageflip_pci.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "migration/vmstate.h"
#include "monitor/monitor.h"
#include "net/eth.h"
#include "net/net.h"
#include "qapi/error.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/event_notifier.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qom/object.h"
#include "sysemu/kvm.h"
#include "sysemu/kvm_int.h"

#define TYPE_KVM_PAGEFLIP "kvm-pageflip"
OBJECT_DECLARE_SIMPLE_TYPE(KvmPageflipState, KVM_PAGEFLIP)

#define KPF_NODE "/dev/" KPF_DEVICE_NAME
#define KPF_TX_FRAME_MAX (KPF_PCI_SLOT_SIZE + KPF_PCI_VLAN_HLEN)

struct KvmPageflipState {
    PCIDevice parent_obj;

    /* properties */
    char *uplink;
    MACAddr mac;
    uint16_t vlan;
    uint32_t slots;
    uint32_t rx_ring_size;
    uint32_t tx_ring_size;
    uint32_t copybreak;
    uint32_t max_mtu;
    char *ctl_fd_str;
    char *tx_fd_str;

    /* set up at realize */
    int ctl_fd;
    int region_fd;
    int tx_fd;
    int ifindex;
    uint32_t binding_id;
    void *region;
    uint32_t tx_ring_slot;
    uint32_t data_slot_first;
    MemoryRegion regs;
    MemoryRegion region_bar;
    EventNotifier rx_kick;
    EventNotifier rx_irq;
    EventNotifier tx_kick;
    int rx_virq;
    bool rx_irqfd;

    /* guest-visible state, under the BQL */
    uint32_t control;
    uint32_t status;
    uint32_t port_id;
    uint32_t tx_used;
    bool tx_waiting;
    bool bad_access_logged;
    uint8_t tx_frame[KPF_TX_FRAME_MAX];
};

static void *kpf_slot(KvmPageflipState *s, uint32_t slot)
{
    return (uint8_t *)s->region + (size_t)slot * KPF_PCI_SLOT_SIZE;
}

static struct kpf_pci_tx_hdr *kpf_tx_hdr(KvmPageflipState *s)
{
    return kpf_slot(s, s->tx_ring_slot);
}

static bool kpf_access_vlan(KvmPageflipState *s)
{
    return s->vlan != 0;
}

static uint32_t kpf_features(KvmPageflipState *s)
{
    return KPF_PCI_F_TX | (kpf_access_vlan(s) ? KPF_PCI_F_ACCESS_VLAN : 0);
}

/*
 * STATUS: RX_ERROR is not an event QEMU hears of; it is the module's error
 * field in the receive ring header, read when the guest asks.
 */
static uint32_t kpf_status(KvmPageflipState *s)
{
    struct kpf_ring_hdr *hdr = kpf_slot(s, 0);
    uint32_t status = s->status;

    if ((status & KPF_PCI_STATUS_READY) && qatomic_read(&hdr->error)) {
        status |= KPF_PCI_STATUS_RX_ERROR;
    }
    return status;
}

/* Port and rule */

static void kpf_port_del(KvmPageflipState *s)
{
    struct kpf_region_del_port del = {
        .size = sizeof(del),
        .port_id = s->port_id,
    };

    if (s->port_id &&
        ioctl(s->region_fd, KPF_REGION_DEL_PORT, &del) < 0) {
        /* Only a bug can get here; the region's release would free it. */
        error_report("kvm-pageflip: deleting port %u: %s", s->port_id,
                     strerror(errno));
    }
    if (s->tx_waiting) {
        qemu_set_fd_handler(s->tx_fd, NULL, NULL, NULL);
        s->tx_waiting = false;
    }
    s->port_id = 0;
    s->status = 0;
    s->control = 0;
}

/*
 * ENABLE: a fresh receive port over the control slots, a zeroed TX ring and
 * the demux rule of the device's MAC (and VLAN).  A refusal of the module
 * leaves the device disabled, which the guest sees as READY staying 0.
 */
static void kpf_port_add(KvmPageflipState *s)
{
    struct kpf_region_add_port add = {
        .size = sizeof(add),
        .ring_slot = 0,
        .ring_size = s->rx_ring_size,
        .kick_fd = event_notifier_get_fd(&s->rx_kick),
        .irq_fd = event_notifier_get_fd(&s->rx_irq),
        .copybreak = s->copybreak,
    };
    struct kpf_rule_add rule = {
        .size = sizeof(rule),
        .rule.ifindex = s->ifindex,
        .rule.match = KPF_RULE_F_MAC,
    };

    memset(kpf_slot(s, s->tx_ring_slot), 0,
           (size_t)KPF_PCI_TX_PAGES(s->tx_ring_size) * KPF_PCI_SLOT_SIZE);
    s->tx_used = 0;
    event_notifier_test_and_clear(&s->tx_kick);

    if (ioctl(s->region_fd, KPF_REGION_ADD_PORT, &add) < 0) {
        error_report("kvm-pageflip: adding the port: %s", strerror(errno));
        return;
    }
    s->port_id = add.out_port_id;

    memcpy(rule.rule.mac, s->mac.a, sizeof(rule.rule.mac));
    rule.rule.port_id = s->port_id;
    if (kpf_access_vlan(s)) {
        rule.rule.match |= KPF_RULE_F_VLAN;
        rule.rule.vlan = s->vlan;
    }
    if (ioctl(s->ctl_fd, KPF_RULE_ADD, &rule) < 0) {
        g_autofree char *mac = qemu_mac_strdup_printf(s->mac.a);

        error_report("kvm-pageflip: adding the rule for %s on %s: %s", mac,
                     s->uplink, strerror(errno));
        kpf_port_del(s);
        return;
    }
    s->control = KPF_PCI_CONTROL_ENABLE;
    s->status = KPF_PCI_STATUS_READY | KPF_PCI_STATUS_LINK_UP;
}

/* Transmit */

static void kpf_tx_stop(KvmPageflipState *s, enum kpf_pci_tx_error error)
{
    qatomic_set(&kpf_tx_hdr(s)->error, error);
    s->status |= KPF_PCI_STATUS_TX_ERROR;
    qemu_log_mask(LOG_GUEST_ERROR,
                  "kvm-pageflip: TX ring error %d, transmission stopped\n",
                  error);
    msix_notify(PCI_DEVICE(s), KPF_PCI_VEC_CONFIG);
}

static enum kpf_pci_tx_error kpf_tx_check(KvmPageflipState *s,
                                          const struct kpf_pci_tx_desc *d)
{
    uint32_t max_len = s->max_mtu + KPF_PCI_ETH_HLEN;

    if (!kpf_access_vlan(s)) {
        max_len += KPF_PCI_VLAN_HLEN;
    }
    if (d->flags || d->__reserved) {
        return KPF_PCI_TX_ERR_FLAGS;
    }
    if (d->slot < s->data_slot_first || d->slot >= s->slots) {
        return KPF_PCI_TX_ERR_SLOT;
    }
    if ((uint32_t)d->offset + d->len > KPF_PCI_SLOT_SIZE) {
        return KPF_PCI_TX_ERR_BOUNDS;
    }
    if (d->len < KPF_PCI_TX_LEN_MIN || d->len > max_len) {
        return KPF_PCI_TX_ERR_LEN;
    }
    return KPF_PCI_TX_OK;
}

/*
 * Copy one checked frame out of the guest's slot, with the access VLAN's
 * tag after the MAC addresses, and send it.  Returns false when the socket
 * is full and the frame must be tried again.
 */
static bool kpf_tx_send(KvmPageflipState *s, const struct kpf_pci_tx_desc *d)
{
    const uint8_t *src = (const uint8_t *)kpf_slot(s, d->slot) + d->offset;
    size_t len = d->len;
    ssize_t ret;

    if (kpf_access_vlan(s)) {
        memcpy(s->tx_frame, src, 12);
        stw_be_p(s->tx_frame + 12, ETH_P_VLAN);
        stw_be_p(s->tx_frame + 14, s->vlan);
        memcpy(s->tx_frame + 16, src + 12, len - 12);
        len += KPF_PCI_VLAN_HLEN;
    } else {
        memcpy(s->tx_frame, src, len);
    }

    ret = send(s->tx_fd, s->tx_frame, len, MSG_DONTWAIT);
    if (ret < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return false;
    }
    if (ret < 0) {
        /* Like a wire: the frame is gone, the descriptor completes. */
        warn_report_once("kvm-pageflip: sending on %s: %s", s->uplink,
                         strerror(errno));
    }
    return true;
}

static void kpf_tx_writable(void *opaque);

/*
 * Take everything the guest has posted: avail_idx is read once, every
 * descriptor once, and each is checked before use.  Completions are
 * published in order, with virtio's event-index rule for vector 1.
 */
static void kpf_tx_process(KvmPageflipState *s)
{
    struct kpf_pci_tx_hdr *hdr = kpf_tx_hdr(s);
    struct kpf_pci_tx_desc *ring = kpf_slot(s, s->tx_ring_slot + 1);
    uint32_t avail, old_used = s->tx_used, event;
    enum kpf_pci_tx_error error;

    if (!(s->status & KPF_PCI_STATUS_READY) ||
        (s->status & KPF_PCI_STATUS_TX_ERROR)) {
        return;
    }
    avail = qatomic_load_acquire(&hdr->avail_idx);
    if (avail - s->tx_used > s->tx_ring_size) {
        kpf_tx_stop(s, KPF_PCI_TX_ERR_AVAIL_IDX);
        return;
    }

    while (s->tx_used != avail) {
        struct kpf_pci_tx_desc d;

        memcpy(&d, &ring[s->tx_used & (s->tx_ring_size - 1)], sizeof(d));
        d.slot = le32_to_cpu(d.slot);
        d.offset = le16_to_cpu(d.offset);
        d.len = le16_to_cpu(d.len);
        error = kpf_tx_check(s, &d);
        if (error != KPF_PCI_TX_OK) {
            kpf_tx_stop(s, error);
            break;
        }
        if (!kpf_tx_send(s, &d)) {
            s->tx_waiting = true;
            qemu_set_fd_handler(s->tx_fd, NULL, kpf_tx_writable, s);
            break;
        }
        s->tx_used++;
    }

    if (s->tx_used == old_used) {
        return;
    }
    qatomic_store_release(&hdr->used_idx, cpu_to_le32(s->tx_used));
    /* used_idx visible before used_event is read, pairs with the guest's */
    smp_mb();
    event = le32_to_cpu(qatomic_read(&hdr->used_event));
    if ((uint32_t)(s->tx_used - event - 1) <
        (uint32_t)(s->tx_used - old_used)) {
        msix_notify(PCI_DEVICE(s), KPF_PCI_VEC_TX);
    }
}

static void kpf_tx_writable(void *opaque)
{
    KvmPageflipState *s = opaque;

    qemu_set_fd_handler(s->tx_fd, NULL, NULL, NULL);
    s->tx_waiting = false;
    kpf_tx_process(s);
}

static void kpf_tx_kick(EventNotifier *n)
{
    KvmPageflipState *s = container_of(n, KvmPageflipState, tx_kick);

    event_notifier_test_and_clear(n);
    if (!s->tx_waiting) {
        kpf_tx_process(s);
    }
}

/* BAR0 */

static bool kpf_bad_access(KvmPageflipState *s, hwaddr addr, unsigned size)
{
    if (size == 4 && !(addr & 3)) {
        return false;
    }
    if (!s->bad_access_logged) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "kvm-pageflip: ignoring %u-byte access at 0x%" HWADDR_PRIx
                      " of BAR0 (32-bit accesses only)\n", size, addr);
        s->bad_access_logged = true;
    }
    return true;
}

static uint64_t kpf_regs_read(void *opaque, hwaddr addr, unsigned size)
{
    KvmPageflipState *s = opaque;

    if (kpf_bad_access(s, addr, size)) {
        return 0;
    }
    switch (addr) {
    case KPF_PCI_REG_MAGIC:
        return KPF_PCI_MAGIC;
    case KPF_PCI_REG_VERSION:
        return KPF_PCI_VERSION;
    case KPF_PCI_REG_FEATURES:
        return kpf_features(s);
    case KPF_PCI_REG_MAC_LO:
        return ldl_le_p(s->mac.a);
    case KPF_PCI_REG_MAC_HI:
        return lduw_le_p(s->mac.a + 4);
    case KPF_PCI_REG_VLAN:
        return s->vlan;
    case KPF_PCI_REG_NR_SLOTS:
        return s->slots;
    case KPF_PCI_REG_RX_RING_SLOT:
        return 0;
    case KPF_PCI_REG_RX_RING_SIZE:
        return s->rx_ring_size;
    case KPF_PCI_REG_TX_RING_SLOT:
        return s->tx_ring_slot;
    case KPF_PCI_REG_TX_RING_SIZE:
        return s->tx_ring_size;
    case KPF_PCI_REG_DATA_SLOT_FIRST:
        return s->data_slot_first;
    case KPF_PCI_REG_PORT_ID:
        return s->port_id;
    case KPF_PCI_REG_STATUS:
        return kpf_status(s);
    case KPF_PCI_REG_CONTROL:
        return s->control;
    case KPF_PCI_REG_MAX_MTU:
        return s->max_mtu;
    default:
        return 0;
    }
}

static void kpf_regs_write(void *opaque, hwaddr addr, uint64_t val,
                           unsigned size)
{
    KvmPageflipState *s = opaque;

    if (kpf_bad_access(s, addr, size)) {
        return;
    }
    switch (addr) {
    case KPF_PCI_REG_CONTROL:
        if ((val & KPF_PCI_CONTROL_ENABLE) && !s->control) {
            kpf_port_add(s);
        } else if (!(val & KPF_PCI_CONTROL_ENABLE) && s->control) {
            kpf_port_del(s);
        }
        break;
    case KPF_PCI_REG_RX_DOORBELL:
        /* Only while the ioeventfd is not in place (BAR being moved). */
        event_notifier_set(&s->rx_kick);
        break;
    case KPF_PCI_REG_TX_DOORBELL:
        event_notifier_set(&s->tx_kick);
        break;
    default:
        /* Read-only registers and STATUS_ACK: nothing to do. */
        break;
    }
}

static const MemoryRegionOps kpf_regs_ops = {
    .read = kpf_regs_read,
    .write = kpf_regs_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
};

/* MSI-X vector 0: an irqfd on a route that follows the guest's table */

static void kpf_rx_irq_masked(EventNotifier *n)
{
    KvmPageflipState *s = container_of(n, KvmPageflipState, rx_irq);

    /* Masked or MSI-X off: msix_notify() sets the pending bit or drops. */
    if (event_notifier_test_and_clear(n)) {
        msix_notify(PCI_DEVICE(s), KPF_PCI_VEC_RX);
    }
}

/*
 * The guest unmasked vector 0 (or enabled MSI-X): point the route at the
 * message it wrote and let KVM take the module's signals directly.  When
 * KVM refuses, the interrupts keep going through QEMU.
 */
static int kpf_vector_use(PCIDevice *pdev, unsigned int vector,
                          MSIMessage msg)
{
    KvmPageflipState *s = KVM_PAGEFLIP(pdev);

    if (vector != KPF_PCI_VEC_RX || s->rx_irqfd) {
        return 0;
    }
    if (kvm_irqchip_update_msi_route(kvm_state, s->rx_virq, msg, pdev) < 0) {
        warn_report_once("kvm-pageflip: cannot update the MSI route; "
                         "RX interrupts go through QEMU");
        return 0;
    }
    kvm_irqchip_commit_routes(kvm_state);
    event_notifier_set_handler(&s->rx_irq, NULL);
    if (kvm_irqchip_add_irqfd_notifier_gsi(kvm_state, &s->rx_irq, NULL,
                                           s->rx_virq) < 0) {
        warn_report_once("kvm-pageflip: KVM_IRQFD failed; "
                         "RX interrupts go through QEMU");
        event_notifier_set_handler(&s->rx_irq, kpf_rx_irq_masked);
        return 0;
    }
    s->rx_irqfd = true;
    return 0;
}

/*
 * The guest masked vector 0 (or disabled MSI-X): QEMU takes the signals
 * again, so that they become pending bits instead of interrupts.
 */
static void kpf_vector_release(PCIDevice *pdev, unsigned int vector)
{
    KvmPageflipState *s = KVM_PAGEFLIP(pdev);

    if (vector != KPF_PCI_VEC_RX || !s->rx_irqfd) {
        return;
    }
    kvm_irqchip_remove_irqfd_notifier_gsi(kvm_state, &s->rx_irq, s->rx_virq);
    s->rx_irqfd = false;
    event_notifier_set_handler(&s->rx_irq, kpf_rx_irq_masked);
    /* A signal between the two steps is still in the eventfd. */
    kpf_rx_irq_masked(&s->rx_irq);
}

/* Realize and its checks */

static bool kpf_check_props(KvmPageflipState *s, Error **errp)
{
    uint32_t rx_pages;

    if (!s->uplink || !*s->uplink) {
        error_setg(errp, "kvm-pageflip: uplink=IFNAME is required");
        return false;
    }
    if (s->slots < KPF_PCI_SLOTS_MIN || s->slots > KPF_PCI_SLOTS_MAX ||
        !is_power_of_2(s->slots)) {
        error_setg(errp, "kvm-pageflip: slots must be a power of two, "
                   "%u..%u", KPF_PCI_SLOTS_MIN, KPF_PCI_SLOTS_MAX);
        return false;
    }
    if (s->rx_ring_size < KPF_PCI_RING_SIZE_MIN ||
        s->rx_ring_size > KPF_PCI_RING_SIZE_MAX ||
        !is_power_of_2(s->rx_ring_size) ||
        s->tx_ring_size < KPF_PCI_RING_SIZE_MIN ||
        s->tx_ring_size > KPF_PCI_RING_SIZE_MAX ||
        !is_power_of_2(s->tx_ring_size)) {
        error_setg(errp, "kvm-pageflip: rx-ring-size and tx-ring-size must "
                   "be powers of two, %u..%u", KPF_PCI_RING_SIZE_MIN,
                   KPF_PCI_RING_SIZE_MAX);
        return false;
    }
    if (s->vlan > KPF_VLAN_MAX) {
        error_setg(errp, "kvm-pageflip: vlan must be 0 (none) or 1..%u",
                   KPF_VLAN_MAX);
        return false;
    }
    if (s->max_mtu < KPF_PCI_MTU_MIN || s->max_mtu > KPF_PCI_MTU_MAX) {
        error_setg(errp, "kvm-pageflip: max-mtu must be %u..%u",
                   KPF_PCI_MTU_MIN, KPF_PCI_MTU_MAX);
        return false;
    }
    if (s->copybreak > KPF_COPYBREAK_MAX &&
        s->copybreak != KPF_COPYBREAK_DEFAULT) {
        error_setg(errp, "kvm-pageflip: copybreak must be 0..%u",
                   KPF_COPYBREAK_MAX);
        return false;
    }
    if ((s->mac.a[0] & 1) || !memcmp(s->mac.a, "\0\0\0\0\0\0", 6)) {
        error_setg(errp, "kvm-pageflip: mac must be a unicast address");
        return false;
    }
    rx_pages = KPF_RING_PAGES(s->rx_ring_size);
    s->tx_ring_slot = rx_pages;
    s->data_slot_first = rx_pages + KPF_PCI_TX_PAGES(s->tx_ring_size);
    /* Cannot fail with the limits above; kept for when they change. */
    if (s->data_slot_first >= s->slots) {
        error_setg(errp, "kvm-pageflip: the rings leave no data slot");
        return false;
    }
    if (!kvm_enabled() || !kvm_irqfds_enabled() ||
        !kvm_msi_via_irqfd_enabled() || !kvm_eventfds_enabled()) {
        error_setg(errp, "kvm-pageflip: needs KVM with irqfd, MSI routing "
                   "and ioeventfd (-accel kvm)");
        return false;
    }
    return true;
}

/* An fd property: a number, or the name of an fd passed with getfd. */
static int kpf_fd_param(const char *str, Error **errp)
{
    return monitor_fd_param(monitor_cur(), str, errp);
}

static bool kpf_open_ctl(KvmPageflipState *s, Error **errp)
{
    struct kpf_info info = { .size = sizeof(info) };

    if (s->ctl_fd_str) {
        s->ctl_fd = kpf_fd_param(s->ctl_fd_str, errp);
    } else {
        s->ctl_fd = qemu_open(KPF_NODE, O_RDWR, errp);
    }
    if (s->ctl_fd < 0) {
        return false;
    }
    if (ioctl(s->ctl_fd, KPF_GET_INFO, &info) < 0) {
        error_setg_errno(errp, errno, "kvm-pageflip: ctl-fd is not a "
                         "kvm-pageflip control fd");
        return false;
    }
    if (info.api_version != KPF_API_VERSION ||
        info.page_size != KPF_PCI_SLOT_SIZE) {
        error_setg(errp, "kvm-pageflip: the module speaks API %u with "
                   "%u-byte pages, this device API %u with %u-byte pages",
                   info.api_version, info.page_size, KPF_API_VERSION,
                   KPF_PCI_SLOT_SIZE);
        return false;
    }
    if (s->slots > info.max_slots || s->rx_ring_size > info.max_ring_size) {
        error_setg(errp, "kvm-pageflip: the module allows at most %u slots "
                   "and rings of %u", info.max_slots, info.max_ring_size);
        return false;
    }
    return true;
}

/* The socket frames are sent through, bound to the uplink and nothing else. */
static bool kpf_open_tx(KvmPageflipState *s, Error **errp)
{
    struct sockaddr_ll sll = { 0 };
    socklen_t len = sizeof(sll);

    s->ifindex = if_nametoindex(s->uplink);
    if (!s->ifindex) {
        error_setg_errno(errp, errno, "kvm-pageflip: uplink %s", s->uplink);
        return false;
    }
    if (s->tx_fd_str) {
        s->tx_fd = kpf_fd_param(s->tx_fd_str, errp);
        if (s->tx_fd < 0) {
            return false;
        }
        if (getsockname(s->tx_fd, (struct sockaddr *)&sll, &len) < 0 ||
            sll.sll_family != AF_PACKET || sll.sll_ifindex != s->ifindex) {
            error_setg(errp, "kvm-pageflip: tx-fd is not an AF_PACKET socket "
                       "bound to %s", s->uplink);
            return false;
        }
        return true;
    }

    /* Protocol 0: the socket receives nothing. */
    s->tx_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (s->tx_fd < 0) {
        error_setg_errno(errp, errno, "kvm-pageflip: AF_PACKET socket "
                         "(needs CAP_NET_RAW, or tx-fd from a launcher)");
        return false;
    }
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = s->ifindex;
    if (bind(s->tx_fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        error_setg_errno(errp, errno, "kvm-pageflip: binding to %s",
                         s->uplink);
        return false;
    }
    return true;
}

static bool kpf_create_region(KvmPageflipState *s, Error **errp)
{
    struct kpf_create_region cr = {
        .size = sizeof(cr),
        .vm_fd = kvm_state->vmfd,
        .nr_slots = s->slots,
    };
    size_t size = (size_t)s->slots * KPF_PCI_SLOT_SIZE;
    void *p;

    if (ioctl(s->ctl_fd, KPF_CREATE_REGION, &cr) < 0) {
        error_setg_errno(errp, errno, "kvm-pageflip: creating a region of "
                         "%u slots", s->slots);
        return false;
    }
    s->region_fd = cr.out_region_fd;
    s->binding_id = cr.out_binding_id;
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->region_fd, 0);
    if (p == MAP_FAILED) {
        error_setg_errno(errp, errno, "kvm-pageflip: mapping the region");
        return false;
    }
    s->region = p;
    return true;
}

static bool kpf_init_notifiers(KvmPageflipState *s, Error **errp)
{
    KVMRouteChange c;

    if (event_notifier_init(&s->rx_kick, 0) < 0 ||
        event_notifier_init(&s->rx_irq, 0) < 0 ||
        event_notifier_init(&s->tx_kick, 0) < 0) {
        error_setg_errno(errp, errno, "kvm-pageflip: eventfd");
        return false;
    }
    c = kvm_irqchip_begin_route_changes(kvm_state);
    s->rx_virq = kvm_irqchip_add_msi_route(&c, KPF_PCI_VEC_RX, NULL);
    if (s->rx_virq < 0) {
        error_setg_errno(errp, -s->rx_virq, "kvm-pageflip: MSI route");
        return false;
    }
    kvm_irqchip_commit_route_changes(&c);
    event_notifier_set_handler(&s->rx_irq, kpf_rx_irq_masked);
    event_notifier_set_handler(&s->tx_kick, kpf_tx_kick);
    return true;
}

/*
 * Closing the region fd deletes the port, its rules and the slots; closing
 * the control fd what remains.  The order does not matter to the module.
 */
static void kpf_release(KvmPageflipState *s)
{
    if (s->rx_virq >= 0) {
        event_notifier_set_handler(&s->rx_irq, NULL);
        event_notifier_set_handler(&s->tx_kick, NULL);
        kvm_irqchip_release_virq(kvm_state, s->rx_virq);
        s->rx_virq = -1;
    }
    event_notifier_cleanup(&s->rx_kick);
    event_notifier_cleanup(&s->rx_irq);
    event_notifier_cleanup(&s->tx_kick);
    if (s->tx_fd >= 0) {
        qemu_set_fd_handler(s->tx_fd, NULL, NULL, NULL);
        close(s->tx_fd);
        s->tx_fd = -1;
    }
    if (s->region_fd >= 0) {
        close(s->region_fd);
        s->region_fd = -1;
    }
    if (s->ctl_fd >= 0) {
        close(s->ctl_fd);
        s->ctl_fd = -1;
    }
}

static void kpf_realize(PCIDevice *pdev, Error **errp)
{
    KvmPageflipState *s = KVM_PAGEFLIP(pdev);
    int i;

    s->ctl_fd = s->region_fd = s->tx_fd = -1;
    s->rx_virq = -1;
    qemu_macaddr_default_if_unset(&s->mac);
    if (!kpf_check_props(s, errp) || !kpf_open_ctl(s, errp) ||
        !kpf_open_tx(s, errp) || !kpf_create_region(s, errp) ||
        !kpf_init_notifiers(s, errp)) {
        goto err;
    }

    pci_config_set_interrupt_pin(pdev->config, 0);

    memory_region_init_io(&s->regs, OBJECT(s), &kpf_regs_ops, s,
                          "kvm-pageflip-regs", KPF_PCI_REGS_SIZE);
    memory_region_add_eventfd(&s->regs, KPF_PCI_REG_RX_DOORBELL, 4, false, 0,
                              &s->rx_kick);
    memory_region_add_eventfd(&s->regs, KPF_PCI_REG_TX_DOORBELL, 4, false, 0,
                              &s->tx_kick);
    pci_register_bar(pdev, KPF_PCI_BAR_REGS, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &s->regs);

    memory_region_init_ram_device_ptr(&s->region_bar, OBJECT(s),
                                      "kvm-pageflip-region",
                                      (uint64_t)s->slots * KPF_PCI_SLOT_SIZE,
                                      s->region);
    pci_register_bar(pdev, KPF_PCI_BAR_REGION,
                     PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64 |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, &s->region_bar);

    if (msix_init_exclusive_bar(pdev, KPF_PCI_NR_VECTORS, KPF_PCI_BAR_MSIX,
                                errp)) {
        goto err_eventfds;
    }
    for (i = 0; i < KPF_PCI_NR_VECTORS; i++) {
        msix_vector_use(pdev, i);
    }
    if (msix_set_vector_notifiers(pdev, kpf_vector_use, kpf_vector_release,
                                  NULL) < 0) {
        error_setg(errp, "kvm-pageflip: MSI-X vector notifiers");
        goto err_msix;
    }
    return;

err_msix:
    msix_uninit_exclusive_bar(pdev);
err_eventfds:
    memory_region_del_eventfd(&s->regs, KPF_PCI_REG_RX_DOORBELL, 4, false, 0,
                              &s->rx_kick);
    memory_region_del_eventfd(&s->regs, KPF_PCI_REG_TX_DOORBELL, 4, false, 0,
                              &s->tx_kick);
err:
    /* The module frees whatever it created when the fds close. */
    kpf_release(s);
}

static void kpf_exit(PCIDevice *pdev)
{
    KvmPageflipState *s = KVM_PAGEFLIP(pdev);

    kpf_port_del(s);
    msix_unset_vector_notifiers(pdev);
    msix_uninit_exclusive_bar(pdev);
    memory_region_del_eventfd(&s->regs, KPF_PCI_REG_RX_DOORBELL, 4, false, 0,
                              &s->rx_kick);
    memory_region_del_eventfd(&s->regs, KPF_PCI_REG_TX_DOORBELL, 4, false, 0,
                              &s->tx_kick);
    kpf_release(s);
}

static void kpf_instance_finalize(Object *obj)
{
    KvmPageflipState *s = KVM_PAGEFLIP(obj);

    /* After the BAR's memory region, which points into the mapping, is gone */
    if (s->region) {
        munmap(s->region, (size_t)s->slots * KPF_PCI_SLOT_SIZE);
        s->region = NULL;
    }
}

/* System reset, guest reboot: as if the guest had written CONTROL 0. */
static void kpf_reset(DeviceState *dev)
{
    KvmPageflipState *s = KVM_PAGEFLIP(dev);

    kpf_port_del(s);
}

static Property kpf_properties[] = {
    DEFINE_PROP_STRING("uplink", KvmPageflipState, uplink),
    DEFINE_PROP_MACADDR("mac", KvmPageflipState, mac),
    DEFINE_PROP_UINT16("vlan", KvmPageflipState, vlan, 0),
    DEFINE_PROP_UINT32("slots", KvmPageflipState, slots,
                       KPF_PCI_SLOTS_DEFAULT),
    DEFINE_PROP_UINT32("rx-ring-size", KvmPageflipState, rx_ring_size,
                       KPF_PCI_RING_SIZE_DEFAULT),
    DEFINE_PROP_UINT32("tx-ring-size", KvmPageflipState, tx_ring_size,
                       KPF_PCI_RING_SIZE_DEFAULT),
    DEFINE_PROP_UINT32("copybreak", KvmPageflipState, copybreak,
                       KPF_COPYBREAK_DEFAULT),
    DEFINE_PROP_UINT32("max-mtu", KvmPageflipState, max_mtu,
                       KPF_PCI_MTU_DEFAULT),
    DEFINE_PROP_STRING("ctl-fd", KvmPageflipState, ctl_fd_str),
    DEFINE_PROP_STRING("tx-fd", KvmPageflipState, tx_fd_str),
    DEFINE_PROP_END_OF_LIST(),
};

/* The region's pages belong to the module: nothing QEMU could migrate. */
static const VMStateDescription kpf_vmstate = {
    .name = TYPE_KVM_PAGEFLIP,
    .unmigratable = 1,
};

static void kpf_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = kpf_realize;
    k->exit = kpf_exit;
    k->vendor_id = KPF_PCI_VENDOR_ID;
    k->device_id = KPF_PCI_DEVICE_ID;
    k->revision = KPF_PCI_REVISION;
    k->class_id = KPF_PCI_CLASS >> 8;
    k->subsystem_vendor_id = KPF_PCI_VENDOR_ID;
    k->subsystem_id = KPF_PCI_DEVICE_ID;
    dc->desc = "kvm-pageflip zero-copy receive network device";
    dc->reset = kpf_reset;
    dc->vmsd = &kpf_vmstate;
    device_class_set_props(dc, kpf_properties);
    set_bit(DEVICE_CATEGORY_NETWORK, dc->categories);
}

static const TypeInfo kpf_info = {
    .name = TYPE_KVM_PAGEFLIP,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(KvmPageflipState),
    .instance_finalize = kpf_instance_finalize,
    .class_init = kpf_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { },
    },
};

static void kpf_register_types(void)
{
    type_register_static(&kpf_info);
}

type_init(kpf_register_types)
