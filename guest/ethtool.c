// SPDX-License-Identifier: GPL-2.0
/*
 * ethtool: statistics (-S), interrupt coalescing (-c/-C), rings (-g) and the
 * net_device's 64-bit counters.
 */
#include <linux/ethtool.h>
#include <linux/netdevice.h>

#include "kpfn.h"

static const char *const kpfn_rx_stat_names[KPFN_RX_NR_STATS] = {
	[KPFN_RX_FRAMES] = "rx_frames",
	[KPFN_RX_BYTES] = "rx_bytes",
	[KPFN_RX_FRAMES_FLIPPED] = "rx_frames_flipped",
	[KPFN_RX_FRAMES_COPIED] = "rx_frames_copied",
	[KPFN_RX_BYTES_FLIPPED] = "rx_bytes_flipped",
	[KPFN_RX_BYTES_COPIED] = "rx_bytes_copied",
	[KPFN_RX_GUEST_COPY_FLIPPED] = "rx_guest_copy_bytes_flipped",
	[KPFN_RX_GUEST_COPY_COPIED] = "rx_guest_copy_bytes_copied",
	[KPFN_RX_HDR_PULL_FLIPPED] = "rx_header_pull_bytes_flipped",
	[KPFN_RX_HDR_PULL_COPIED] = "rx_header_pull_bytes_copied",
	[KPFN_RX_ELEMS] = "rx_elements",
	[KPFN_RX_MULTI_ELEM] = "rx_multi_element_frames",
	[KPFN_RX_VLAN_STRIPPED] = "rx_access_vlan_untagged",
	[KPFN_RX_VLAN_TAGGED] = "rx_vlan_tagged",
	[KPFN_RX_CSUM_OK] = "rx_csum_unnecessary",
	[KPFN_RX_CSUM_PARTIAL] = "rx_csum_partial",
	[KPFN_RX_GSO] = "rx_gso_frames",
	[KPFN_RX_DROP_NOMEM] = "rx_drop_nomem",
	[KPFN_RX_DROP_LENGTH] = "rx_drop_length",
	[KPFN_RX_DROP_VLAN] = "rx_drop_vlan",
	[KPFN_RX_DROP_BAD_OFFLOAD] = "rx_drop_bad_offload",
	[KPFN_RX_BAD_COMPLETIONS] = "rx_bad_completions",
	[KPFN_RX_RING_ERRORS] = "rx_ring_errors",
	[KPFN_RX_POLLS] = "rx_polls",
	[KPFN_RX_TIMER_ARMS] = "rx_coalesce_timer_arms",
	[KPFN_RX_POSTED] = "rx_slots_posted",
	[KPFN_RX_DOORBELLS] = "rx_doorbells",
	[KPFN_RX_PAGES_REUSED] = "rx_pages_reused",
};

static const char *const kpfn_tx_stat_names[KPFN_TX_NR_STATS] = {
	[KPFN_TX_FRAMES] = "tx_frames",
	[KPFN_TX_BYTES] = "tx_bytes",
	[KPFN_TX_GUEST_COPY] = "tx_guest_copy_bytes",
	[KPFN_TX_DOORBELLS] = "tx_doorbells",
	[KPFN_TX_QUEUE_STOPS] = "tx_queue_stops",
	[KPFN_TX_DROP_LENGTH] = "tx_drop",
};

static const char *const kpfn_event_names[KPFN_EV_NR_STATS] = {
	[KPFN_EV_RX_IRQS] = "rx_interrupts",
	[KPFN_EV_TX_IRQS] = "tx_interrupts",
	[KPFN_EV_CONFIG_IRQS] = "config_interrupts",
	[KPFN_EV_TX_COMPLETED] = "tx_completed",
	[KPFN_EV_TX_BAD_COMPLETIONS] = "tx_bad_completions",
	[KPFN_EV_TX_RING_ERRORS] = "tx_ring_errors",
	[KPFN_EV_LINK_CHANGES] = "link_changes",
	[KPFN_EV_RESETS] = "resets",
};

/* Gauges after the counters. */
static const char *const kpfn_gauge_names[] = {
	"rx_pages_held_by_stack",
};

#define KPFN_NR_STATS                                             \
	(KPFN_RX_NR_STATS + KPFN_TX_NR_STATS + KPFN_EV_NR_STATS + \
	 ARRAY_SIZE(kpfn_gauge_names))

/* A consistent copy of @n counters guarded by @syncp. */
static void kpfn_snapshot(const struct u64_stats_sync *syncp, const u64 *stats,
			  u64 *out, size_t n)
{
	unsigned int start;

	do {
		start = u64_stats_fetch_begin(syncp);
		memcpy(out, stats, n * sizeof(*stats));
	} while (u64_stats_fetch_retry(syncp, start));
}

static void kpfn_rx_snapshot(struct kpfn_rx *rx, u64 *out)
{
	kpfn_snapshot(&rx->syncp, rx->stats, out, KPFN_RX_NR_STATS);
}

static void kpfn_tx_snapshot(struct kpfn_tx *tx, u64 *out)
{
	kpfn_snapshot(&tx->syncp, tx->stats, out, KPFN_TX_NR_STATS);
}

/**
 * kpfn_get_stats64() - ndo_get_stats64
 * @ndev: the device
 * @stats: filled in
 */
void kpfn_get_stats64(struct net_device *ndev, struct rtnl_link_stats64 *stats)
{
	struct kpfn_dev *kd = netdev_priv(ndev);
	u64 rx[KPFN_RX_NR_STATS], tx[KPFN_TX_NR_STATS];

	kpfn_rx_snapshot(&kd->rx, rx);
	kpfn_tx_snapshot(&kd->tx, tx);
	stats->rx_packets = rx[KPFN_RX_FRAMES];
	stats->rx_bytes = rx[KPFN_RX_BYTES];
	stats->rx_dropped = rx[KPFN_RX_DROP_NOMEM] + rx[KPFN_RX_DROP_VLAN];
	stats->rx_length_errors = rx[KPFN_RX_DROP_LENGTH];
	stats->rx_frame_errors = rx[KPFN_RX_DROP_BAD_OFFLOAD];
	stats->rx_errors =
		rx[KPFN_RX_DROP_LENGTH] + rx[KPFN_RX_DROP_BAD_OFFLOAD] +
		rx[KPFN_RX_BAD_COMPLETIONS] + rx[KPFN_RX_RING_ERRORS];
	stats->tx_packets = tx[KPFN_TX_FRAMES];
	stats->tx_bytes = tx[KPFN_TX_BYTES];
	stats->tx_dropped = tx[KPFN_TX_DROP_LENGTH];
	stats->tx_errors = READ_ONCE(kd->events[KPFN_EV_TX_BAD_COMPLETIONS]) +
			   READ_ONCE(kd->events[KPFN_EV_TX_RING_ERRORS]);
}

static int kpfn_get_sset_count(struct net_device *ndev, int sset)
{
	return sset == ETH_SS_STATS ? KPFN_NR_STATS : -EOPNOTSUPP;
}

static void kpfn_put_names(u8 **data, const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		ethtool_puts(data, names[i]);
}

static void kpfn_get_strings(struct net_device *ndev, u32 sset, u8 *data)
{
	if (sset != ETH_SS_STATS)
		return;
	kpfn_put_names(&data, kpfn_rx_stat_names, KPFN_RX_NR_STATS);
	kpfn_put_names(&data, kpfn_tx_stat_names, KPFN_TX_NR_STATS);
	kpfn_put_names(&data, kpfn_event_names, KPFN_EV_NR_STATS);
	kpfn_put_names(&data, kpfn_gauge_names, ARRAY_SIZE(kpfn_gauge_names));
}

static void kpfn_get_ethtool_stats(struct net_device *ndev,
				   struct ethtool_stats *es, u64 *data)
{
	struct kpfn_dev *kd = netdev_priv(ndev);
	int i;

	kpfn_rx_snapshot(&kd->rx, data);
	data += KPFN_RX_NR_STATS;
	kpfn_tx_snapshot(&kd->tx, data);
	data += KPFN_TX_NR_STATS;
	for (i = 0; i < KPFN_EV_NR_STATS; i++)
		*data++ = READ_ONCE(kd->events[i]);
	*data = kpfn_rx_pages_held(kd);
}

static void kpfn_get_drvinfo(struct net_device *ndev,
			     struct ethtool_drvinfo *info)
{
	struct kpfn_dev *kd = netdev_priv(ndev);

	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
	strscpy(info->bus_info, pci_name(kd->pdev), sizeof(info->bus_info));
}

static void kpfn_get_ringparam(struct net_device *ndev,
			       struct ethtool_ringparam *ring,
			       struct kernel_ethtool_ringparam *kring,
			       struct netlink_ext_ack *extack)
{
	struct kpfn_dev *kd = netdev_priv(ndev);

	ring->rx_max_pending = kd->rx.size;
	ring->rx_pending = kd->rx.size;
	ring->tx_max_pending = kd->tx.size;
	ring->tx_pending = kd->tx.size;
}

static int kpfn_get_coalesce(struct net_device *ndev,
			     struct ethtool_coalesce *ec,
			     struct kernel_ethtool_coalesce *kec,
			     struct netlink_ext_ack *extack)
{
	struct kpfn_dev *kd = netdev_priv(ndev);

	ec->rx_coalesce_usecs = READ_ONCE(kd->rx_usecs);
	ec->rx_max_coalesced_frames = READ_ONCE(kd->rx_frames);
	return 0;
}

/*
 * rx-usecs 0 takes an interrupt per completion batch.  With rx-usecs, a busy
 * ring is polled every rx-usecs microseconds, and rx-frames (0 or 1: none)
 * completions raise an interrupt before the timer; see kpfn_rx_arm().
 */
static int kpfn_set_coalesce(struct net_device *ndev,
			     struct ethtool_coalesce *ec,
			     struct kernel_ethtool_coalesce *kec,
			     struct netlink_ext_ack *extack)
{
	struct kpfn_dev *kd = netdev_priv(ndev);

	if (ec->rx_coalesce_usecs > KPFN_RX_USECS_MAX) {
		NL_SET_ERR_MSG_MOD(extack, "rx-usecs is at most 100000");
		return -EINVAL;
	}
	if (ec->rx_max_coalesced_frames > kd->rx.size) {
		NL_SET_ERR_MSG_MOD(extack,
				   "rx-frames is at most the ring size");
		return -EINVAL;
	}
	if (ec->rx_max_coalesced_frames > 1 && !ec->rx_coalesce_usecs) {
		NL_SET_ERR_MSG_MOD(extack, "rx-frames above 1 needs rx-usecs");
		return -EINVAL;
	}
	WRITE_ONCE(kd->rx_usecs, ec->rx_coalesce_usecs);
	WRITE_ONCE(kd->rx_frames, ec->rx_max_coalesced_frames);
	return 0;
}

const struct ethtool_ops kpfn_ethtool_ops = {
	.supported_coalesce_params = ETHTOOL_COALESCE_RX_USECS |
				     ETHTOOL_COALESCE_RX_MAX_FRAMES,
	.get_drvinfo = kpfn_get_drvinfo,
	.get_link = ethtool_op_get_link,
	.get_ringparam = kpfn_get_ringparam,
	.get_coalesce = kpfn_get_coalesce,
	.set_coalesce = kpfn_set_coalesce,
	.get_sset_count = kpfn_get_sset_count,
	.get_strings = kpfn_get_strings,
	.get_ethtool_stats = kpfn_get_ethtool_stats,
};
