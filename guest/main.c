// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-pageflip-net: the PCI driver and the net_device.
 *
 * probe checks everything the device reports before it uses any of it,
 * maps BAR2 (region.c) and registers the net_device; open enables the
 * device (CONTROL), which makes the host create the receive port and zero
 * both rings; stop disables it.  A ring error, on either side, resets the
 * device from process context: disable, enable, start both rings over.
 */
#include <linux/etherdevice.h>
#include <linux/if_vlan.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/rtnetlink.h>

#include "kpfn.h"

/* Resets closer together than this wait. */
#define KPFN_RESET_INTERVAL HZ

/**
 * kpfn_reset_schedule() - have the status work reset the device
 * @kd: the device
 *
 * For any context; the receive poll stops taking completions until the
 * reset is done.
 */
void kpfn_reset_schedule(struct kpfn_dev *kd)
{
	WRITE_ONCE(kd->reset_pending, 1);
	schedule_delayed_work(&kd->status_work, 0);
}

/* Enable the device and start both rings; under RTNL. */
static int kpfn_up(struct kpfn_dev *kd)
{
	u32 status;
	int ret;

	/* Whatever was wrong with the old rings goes with them. */
	WRITE_ONCE(kd->reset_pending, 0);
	kpfn_write(kd, KPF_PCI_REG_CONTROL, KPF_PCI_CONTROL_ENABLE);
	status = kpfn_read(kd, KPF_PCI_REG_STATUS);
	if (!(status & KPF_PCI_STATUS_READY)) {
		netdev_err(kd->ndev,
			   "the device did not become ready (status %#x)\n",
			   status);
		ret = -EIO;
		goto err_disable;
	}
	kpfn_tx_start(kd);
	ret = kpfn_rx_start(kd);
	if (ret)
		goto err_disable;
	WRITE_ONCE(kd->up, true);
	if (status & KPF_PCI_STATUS_LINK_UP)
		netif_carrier_on(kd->ndev);
	netif_start_queue(kd->ndev);
	return 0;

err_disable:
	kpfn_write(kd, KPF_PCI_REG_CONTROL, 0);
	return ret;
}

/* Stop both rings and disable the device; under RTNL. */
static void kpfn_down(struct kpfn_dev *kd)
{
	if (!kd->up)
		return;
	WRITE_ONCE(kd->up, false);
	netif_carrier_off(kd->ndev);
	kpfn_write(kd, KPF_PCI_REG_CONTROL, 0);
	/*
	 * A TX interrupt that saw the device up may still wake the queue;
	 * later ones do nothing.  Then no xmit runs or can start.
	 */
	synchronize_irq(pci_irq_vector(kd->pdev, KPF_PCI_VEC_TX));
	netif_tx_disable(kd->ndev);
	kpfn_rx_stop(kd);
}

static void kpfn_reset(struct kpfn_dev *kd)
{
	u32 tx_error = READ_ONCE(kd->tx.hdr->error);

	if (tx_error) {
		kpfn_event(kd, KPFN_EV_TX_RING_ERRORS, 1);
		netdev_err(kd->ndev,
			   "the host stopped the transmit ring (error %u)\n",
			   tx_error);
	}
	netdev_warn(kd->ndev, "resetting the device\n");
	kpfn_down(kd);
	kd->last_reset = jiffies;
	kpfn_event(kd, KPFN_EV_RESETS, 1);
	if (kpfn_up(kd))
		netdev_err(kd->ndev, "reset failed; try down and up\n");
}

/*
 * Link state and resets.  Runs for the config interrupt and whenever a ring
 * needs a reset; resets are spaced KPFN_RESET_INTERVAL apart so that a host
 * that keeps breaking the rings costs little.
 */
static void kpfn_status_work(struct work_struct *work)
{
	struct kpfn_dev *kd = container_of(to_delayed_work(work),
					   struct kpfn_dev, status_work);
	unsigned long next = kd->last_reset + KPFN_RESET_INTERVAL;
	u32 status;

	rtnl_lock();
	if (!kd->up)
		goto out;
	status = kpfn_read(kd, KPF_PCI_REG_STATUS);
	if (status & (KPF_PCI_STATUS_RX_ERROR | KPF_PCI_STATUS_TX_ERROR))
		WRITE_ONCE(kd->reset_pending, 1);
	if (READ_ONCE(kd->reset_pending)) {
		if (kd->last_reset && time_before(jiffies, next))
			schedule_delayed_work(&kd->status_work, next - jiffies);
		else
			kpfn_reset(kd);
		goto out;
	}
	if (!!(status & KPF_PCI_STATUS_LINK_UP) != netif_carrier_ok(kd->ndev)) {
		kpfn_event(kd, KPFN_EV_LINK_CHANGES, 1);
		if (status & KPF_PCI_STATUS_LINK_UP)
			netif_carrier_on(kd->ndev);
		else
			netif_carrier_off(kd->ndev);
	}
out:
	rtnl_unlock();
}

static irqreturn_t kpfn_rx_irq(int irq, void *data)
{
	struct kpfn_dev *kd = data;

	kpfn_event(kd, KPFN_EV_RX_IRQS, 1);
	napi_schedule_irqoff(&kd->napi);
	return IRQ_HANDLED;
}

static irqreturn_t kpfn_config_irq(int irq, void *data)
{
	struct kpfn_dev *kd = data;

	kpfn_event(kd, KPFN_EV_CONFIG_IRQS, 1);
	schedule_delayed_work(&kd->status_work, 0);
	return IRQ_HANDLED;
}

static int kpfn_open(struct net_device *ndev)
{
	return kpfn_up(netdev_priv(ndev));
}

static int kpfn_stop(struct net_device *ndev)
{
	kpfn_down(netdev_priv(ndev));
	return 0;
}

static const struct net_device_ops kpfn_netdev_ops = {
	.ndo_open = kpfn_open,
	.ndo_stop = kpfn_stop,
	.ndo_start_xmit = kpfn_tx_xmit,
	.ndo_get_stats64 = kpfn_get_stats64,
	.ndo_validate_addr = eth_validate_addr,
};

/* A power of two within [min, max]. */
static bool kpfn_pow2_within(u32 v, u32 min, u32 max)
{
	return is_power_of_2(v) && v >= min && v <= max;
}

/* Does [a, a + na) lie below @end and apart from [b, b + nb)? */
static bool kpfn_ranges_ok(u64 a, u64 na, u64 b, u64 nb, u64 end)
{
	return a + na <= end && b + nb <= end && (a + na <= b || b + nb <= a);
}

/*
 * Read and check what the device says about itself; nothing it reports is
 * used before it passed here.
 */
static int kpfn_check_device(struct kpfn_dev *kd)
{
	struct pci_dev *pdev = kd->pdev;
	u64 bar_len = pci_resource_len(pdev, KPF_PCI_BAR_REGION);
	u32 rx_size = kpfn_read(kd, KPF_PCI_REG_RX_RING_SIZE);
	u32 tx_size = kpfn_read(kd, KPF_PCI_REG_TX_RING_SIZE);
	u32 mtu = kpfn_read(kd, KPF_PCI_REG_MAX_MTU);
	u32 magic = kpfn_read(kd, KPF_PCI_REG_MAGIC);
	u32 version = kpfn_read(kd, KPF_PCI_REG_VERSION);
	u32 vlan = kpfn_read(kd, KPF_PCI_REG_VLAN);
	const char *what;

	kd->features = kpfn_read(kd, KPF_PCI_REG_FEATURES);
	kd->nr_slots = kpfn_read(kd, KPF_PCI_REG_NR_SLOTS);
	kd->rx_ring_slot = kpfn_read(kd, KPF_PCI_REG_RX_RING_SLOT);
	kd->tx_ring_slot = kpfn_read(kd, KPF_PCI_REG_TX_RING_SLOT);
	kd->data_first = kpfn_read(kd, KPF_PCI_REG_DATA_SLOT_FIRST);

	if (magic != KPF_PCI_MAGIC || version != KPF_PCI_VERSION)
		what = "magic or version";
	else if (!kpfn_pow2_within(kd->nr_slots, KPF_PCI_SLOTS_MIN,
				   KPF_PCI_SLOTS_MAX) ||
		 (u64)kd->nr_slots * KPF_PCI_SLOT_SIZE > bar_len)
		what = "number of slots";
	else if (!kpfn_pow2_within(rx_size, KPF_PCI_RING_SIZE_MIN,
				   KPF_RING_SIZE_MAX) ||
		 !kpfn_pow2_within(tx_size, KPF_PCI_RING_SIZE_MIN,
				   KPF_PCI_RING_SIZE_MAX))
		what = "ring size";
	else if (!kpfn_ranges_ok(kd->rx_ring_slot, KPF_RING_PAGES(rx_size),
				 kd->tx_ring_slot, KPF_PCI_TX_PAGES(tx_size),
				 kd->data_first))
		what = "ring slots";
	else if (kd->data_first >= kd->nr_slots ||
		 kd->nr_slots - kd->data_first < tx_size + rx_size)
		what = "number of data slots";
	else if (mtu < KPF_PCI_MTU_MIN || mtu > KPF_PCI_MTU_MAX)
		what = "MTU";
	else if ((kd->features & KPF_PCI_F_ACCESS_VLAN) &&
		 (!vlan || vlan >= VLAN_VID_MASK))
		what = "VLAN";
	else
		what = NULL;
	if (what) {
		dev_err(&pdev->dev,
			"the device reports an invalid %s; not using it\n",
			what);
		return -ENODEV;
	}
	kd->vlan = vlan;
	kd->ndev->max_mtu = mtu;
	kd->ndev->min_mtu = ETH_MIN_MTU;
	kd->ndev->mtu = min_t(u32, mtu, ETH_DATA_LEN);
	return 0;
}

static void kpfn_setup_netdev(struct kpfn_dev *kd)
{
	struct net_device *ndev = kd->ndev;
	u32 lo = kpfn_read(kd, KPF_PCI_REG_MAC_LO);
	u32 hi = kpfn_read(kd, KPF_PCI_REG_MAC_HI);
	u8 addr[ETH_ALEN] = { lo, lo >> 8, lo >> 16, lo >> 24, hi, hi >> 8 };

	if (is_valid_ether_addr(addr)) {
		eth_hw_addr_set(ndev, addr);
	} else {
		eth_hw_addr_random(ndev);
		dev_warn(&kd->pdev->dev, "invalid MAC address %pM, using %pM\n",
			 addr, ndev->dev_addr);
	}
	ndev->netdev_ops = &kpfn_netdev_ops;
	ndev->ethtool_ops = &kpfn_ethtool_ops;
	ndev->hw_features = NETIF_F_RXCSUM | NETIF_F_SG | NETIF_F_FRAGLIST;
	ndev->features = ndev->hw_features;
	if (!(kd->features & KPF_PCI_F_ACCESS_VLAN))
		ndev->features |= NETIF_F_HW_VLAN_CTAG_RX;
}

static int kpfn_request_irqs(struct kpfn_dev *kd)
{
	struct pci_dev *pdev = kd->pdev;
	int ret;

	ret = pci_alloc_irq_vectors(pdev, KPF_PCI_NR_VECTORS,
				    KPF_PCI_NR_VECTORS, PCI_IRQ_MSIX);
	if (ret < 0)
		return ret;
	ret = pci_request_irq(pdev, KPF_PCI_VEC_RX, kpfn_rx_irq, NULL, kd,
			      "%s-rx", pci_name(pdev));
	if (ret)
		goto err_free_vectors;
	ret = pci_request_irq(pdev, KPF_PCI_VEC_TX, kpfn_tx_irq, NULL, kd,
			      "%s-tx", pci_name(pdev));
	if (ret)
		goto err_free_rx;
	ret = pci_request_irq(pdev, KPF_PCI_VEC_CONFIG, kpfn_config_irq, NULL,
			      kd, "%s-config", pci_name(pdev));
	if (ret)
		goto err_free_tx;
	return 0;

err_free_tx:
	pci_free_irq(pdev, KPF_PCI_VEC_TX, kd);
err_free_rx:
	pci_free_irq(pdev, KPF_PCI_VEC_RX, kd);
err_free_vectors:
	pci_free_irq_vectors(pdev);
	return ret;
}

static void kpfn_free_irqs(struct kpfn_dev *kd)
{
	pci_free_irq(kd->pdev, KPF_PCI_VEC_CONFIG, kd);
	pci_free_irq(kd->pdev, KPF_PCI_VEC_TX, kd);
	pci_free_irq(kd->pdev, KPF_PCI_VEC_RX, kd);
	pci_free_irq_vectors(kd->pdev);
}

static int kpfn_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct net_device *ndev;
	struct kpfn_dev *kd;
	int ret;

	ndev = alloc_etherdev(sizeof(*kd));
	if (!ndev)
		return -ENOMEM;
	SET_NETDEV_DEV(ndev, &pdev->dev);
	kd = netdev_priv(ndev);
	kd->pdev = pdev;
	kd->ndev = ndev;
	pci_set_drvdata(pdev, kd);
	kd->rx_frames = 1;
	INIT_DELAYED_WORK(&kd->status_work, kpfn_status_work);
	INIT_DELAYED_WORK(&kd->refill_work, kpfn_rx_refill_work);
	hrtimer_setup(&kd->coal_timer, kpfn_rx_coal_timer, CLOCK_MONOTONIC,
		      HRTIMER_MODE_REL);

	ret = pci_enable_device_mem(pdev);
	if (ret)
		goto err_free_netdev;
	/* MSI-X messages are the function's memory writes. */
	pci_set_master(pdev);
	ret = pci_request_regions(pdev, KBUILD_MODNAME);
	if (ret)
		goto err_disable;
	kd->regs = pci_iomap(pdev, KPF_PCI_BAR_REGS, KPF_PCI_REGS_SIZE);
	if (!kd->regs) {
		ret = -ENOMEM;
		goto err_release;
	}
	/* A device left enabled (a driver unloaded without stop) starts over. */
	kpfn_write(kd, KPF_PCI_REG_CONTROL, 0);
	ret = kpfn_check_device(kd);
	if (ret)
		goto err_unmap_regs;
	ret = kpfn_region_map(kd);
	if (ret)
		goto err_unmap_regs;
	kpfn_tx_init(kd);
	ret = kpfn_rx_init(kd);
	if (ret)
		goto err_unmap_region;
	kpfn_setup_netdev(kd);
	netif_napi_add(ndev, &kd->napi, kpfn_rx_poll);
	ret = kpfn_request_irqs(kd);
	if (ret)
		goto err_del_napi;
	netif_carrier_off(ndev);
	ret = register_netdev(ndev);
	if (ret)
		goto err_free_irqs;
	netdev_info(ndev, "%pM, %u slots, rings %u/%u, MTU up to %u%s%s\n",
		    ndev->dev_addr, kd->nr_slots, kd->rx.size, kd->tx.size,
		    ndev->max_mtu,
		    kd->has_pages ? ", zero-copy receive" : ", copying receive",
		    kd->features & KPF_PCI_F_ACCESS_VLAN ? ", VLAN" : "");
	return 0;

err_free_irqs:
	kpfn_free_irqs(kd);
	cancel_delayed_work_sync(&kd->status_work);
err_del_napi:
	netif_napi_del(&kd->napi);
	kpfn_rx_uninit(kd);
err_unmap_region:
	kpfn_region_unmap(kd);
err_unmap_regs:
	pci_iounmap(pdev, kd->regs);
err_release:
	pci_release_regions(pdev);
err_disable:
	pci_disable_device(pdev);
err_free_netdev:
	free_netdev(ndev);
	return ret;
}

static void kpfn_remove(struct pci_dev *pdev)
{
	struct kpfn_dev *kd = pci_get_drvdata(pdev);

	unregister_netdev(kd->ndev);
	kpfn_free_irqs(kd);
	cancel_delayed_work_sync(&kd->status_work);
	netif_napi_del(&kd->napi);
	kpfn_rx_uninit(kd);
	kpfn_region_unmap(kd);
	pci_iounmap(pdev, kd->regs);
	pci_release_regions(pdev);
	pci_disable_device(pdev);
	free_netdev(kd->ndev);
}

static const struct pci_device_id kpfn_pci_ids[] = {
	{ PCI_DEVICE_SUB(KPF_PCI_VENDOR_ID, KPF_PCI_DEVICE_ID,
			 KPF_PCI_VENDOR_ID, KPF_PCI_DEVICE_ID) },
	{}
};
MODULE_DEVICE_TABLE(pci, kpfn_pci_ids);

static struct pci_driver kpfn_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = kpfn_pci_ids,
	.probe = kpfn_probe,
	.remove = kpfn_remove,
};
module_pci_driver(kpfn_pci_driver);

MODULE_DESCRIPTION("Guest driver of the kvm-pageflip PCI network device");
MODULE_LICENSE("GPL");
