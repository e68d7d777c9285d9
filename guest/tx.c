// SPDX-License-Identifier: GPL-2.0
/*
 * The transmit path: the device's copy-based transmit ring
 * (include/uapi/linux/kvm_pageflip_pci.h).
 *
 * Descriptor i of the ring always uses data slot tx.first + i: xmit copies
 * the frame into that slot, writes the descriptor and rings TX_DOORBELL; the
 * device (QEMU) copies the frame out and sends it on the uplink.  The skb is
 * freed at once.  Completions only give descriptors back; they are taken in
 * the TX interrupt, which the driver asks for when the last descriptor
 * posted completes.
 */
#include <linux/etherdevice.h>
#include <linux/if_vlan.h>
#include <linux/netdevice.h>

#include "kpfn.h"

static void kpfn_tx_add(struct kpfn_tx *tx, enum kpfn_tx_stat stat, u64 n)
{
	kpfn_stat_add(&tx->syncp, &tx->stats[stat], n);
}

/* Free descriptors. */
static u32 kpfn_tx_room(struct kpfn_tx *tx)
{
	return tx->size - (READ_ONCE(tx->avail) - READ_ONCE(tx->clean));
}

/**
 * kpfn_tx_init() - the transmit ring's geometry
 * @kd: the device, geometry checked
 *
 * The first TX_RING_SIZE data slots are the transmit ring's.
 */
void kpfn_tx_init(struct kpfn_dev *kd)
{
	struct kpfn_tx *tx = &kd->tx;

	tx->size = kpfn_read(kd, KPF_PCI_REG_TX_RING_SIZE);
	tx->first = kd->data_first;
	tx->hdr = kpfn_slot_va(kd, kd->tx_ring_slot);
	tx->desc = kpfn_slot_va(kd, kd->tx_ring_slot + 1);
	tx->max_len = kd->ndev->max_mtu + ETH_HLEN;
	if (!(kd->features & KPF_PCI_F_ACCESS_VLAN))
		tx->max_len += VLAN_HLEN;
	u64_stats_init(&tx->syncp);
}

/**
 * kpfn_tx_start() - start over on the ring the device just zeroed
 * @kd: the device, enabled, its queue stopped and its TX interrupt quiet
 */
void kpfn_tx_start(struct kpfn_dev *kd)
{
	WRITE_ONCE(kd->tx.avail, 0);
	WRITE_ONCE(kd->tx.clean, 0);
}

/**
 * kpfn_tx_xmit() - ndo_start_xmit: copy a frame into the ring
 * @skb: the frame
 * @ndev: the device
 *
 * Return: NETDEV_TX_OK, or NETDEV_TX_BUSY if the ring is full.
 */
netdev_tx_t kpfn_tx_xmit(struct sk_buff *skb, struct net_device *ndev)
{
	struct kpfn_dev *kd = netdev_priv(ndev);
	struct kpfn_tx *tx = &kd->tx;
	struct kpf_pci_tx_desc *desc;
	u32 idx, slot, len = skb->len;

	if (unlikely(len < ETH_HLEN || len > tx->max_len ||
		     !(kd->features & KPF_PCI_F_TX)))
		goto drop;
	if (unlikely(!kpfn_tx_room(tx))) {
		netif_stop_queue(ndev);
		return NETDEV_TX_BUSY;
	}
	idx = tx->avail & (tx->size - 1);
	slot = tx->first + idx;
	if (skb_copy_bits(skb, 0, kpfn_slot_va(kd, slot), len))
		goto drop;
	desc = &tx->desc[idx];
	WRITE_ONCE(desc->slot, slot);
	WRITE_ONCE(desc->offset, 0);
	WRITE_ONCE(desc->len, len);
	WRITE_ONCE(desc->flags, 0);
	WRITE_ONCE(desc->__reserved, 0);
	WRITE_ONCE(tx->avail, tx->avail + 1);
	/* The frame and its descriptor before the index. */
	virt_wmb();
	WRITE_ONCE(tx->hdr->avail_idx, tx->avail);
	WRITE_ONCE(tx->hdr->used_event, tx->avail - 1);
	kpfn_tx_add(tx, KPFN_TX_FRAMES, 1);
	kpfn_tx_add(tx, KPFN_TX_BYTES, len);
	kpfn_tx_add(tx, KPFN_TX_GUEST_COPY, len);
	dev_consume_skb_any(skb);

	if (!kpfn_tx_room(tx)) {
		netif_stop_queue(ndev);
		kpfn_tx_add(tx, KPFN_TX_QUEUE_STOPS, 1);
		/* Stopped before the completions are looked at again. */
		smp_mb();
		if (kpfn_tx_room(tx))
			netif_start_queue(ndev);
	}
	if (!netdev_xmit_more() || netif_queue_stopped(ndev)) {
		/* The index and used_event before the doorbell. */
		virt_mb();
		kpfn_write(kd, KPF_PCI_REG_TX_DOORBELL, 1);
		kpfn_tx_add(tx, KPFN_TX_DOORBELLS, 1);
	}
	return NETDEV_TX_OK;

drop:
	kpfn_tx_add(tx, KPFN_TX_DROP_LENGTH, 1);
	dev_kfree_skb_any(skb);
	return NETDEV_TX_OK;
}

/**
 * kpfn_tx_irq() - the TX completion interrupt (vector KPF_PCI_VEC_TX)
 * @irq: the interrupt
 * @data: the device
 *
 * A used_idx that claims more completions than were posted is the host's
 * error: the device is reset.
 *
 * Return: IRQ_HANDLED.
 */
irqreturn_t kpfn_tx_irq(int irq, void *data)
{
	struct kpfn_dev *kd = data;
	struct kpfn_tx *tx = &kd->tx;
	u32 used, avail, clean = tx->clean;

	kpfn_event(kd, KPFN_EV_TX_IRQS, 1);
	if (!READ_ONCE(kd->up))
		return IRQ_HANDLED;
	used = READ_ONCE(tx->hdr->used_idx);
	/* Whatever the device completed was posted before this read. */
	smp_rmb();
	avail = READ_ONCE(tx->avail);
	if ((u32)(used - clean) > (u32)(avail - clean)) {
		kpfn_event(kd, KPFN_EV_TX_BAD_COMPLETIONS, 1);
		if (net_ratelimit())
			netdev_err(kd->ndev, "bad TX used_idx %u, posted %u\n",
				   used, avail);
		kpfn_reset_schedule(kd);
		return IRQ_HANDLED;
	}
	kpfn_event(kd, KPFN_EV_TX_COMPLETED, used - clean);
	WRITE_ONCE(tx->clean, used);
	/* The new clean index before the look at the queue's state. */
	smp_mb();
	if (netif_queue_stopped(kd->ndev) && kpfn_tx_room(tx))
		netif_wake_queue(kd->ndev);
	return IRQ_HANDLED;
}
