// SPDX-License-Identifier: GPL-2.0
/*
 * Uplinks: the host net devices frames for guests arrive on.
 *
 * Attaching installs an rx_handler on the device and puts it into
 * promiscuous mode, so that frames for the guests' MACs and VLANs reach the
 * host at all.  The rx_handler sees every frame the stack receives from the
 * device, with any 802.1Q tag already in skb->vlan_tci: unicast frames that
 * a rule claims are taken (RX_HANDLER_CONSUMED) and queued to their port;
 * broadcast and multicast frames are cloned to every accepting port and go
 * on to the host; everything else goes on untouched.  VLAN devices stacked
 * on the uplink see their VLANs' frames before the rx_handler does.
 *
 * The faster path is XDP: a classifier program on the uplink (tools/)
 * redirects unicast frames that match a rule, through a DEVMAP, to the
 * uplink's redirect target, a device "kpfxN" the module creates with the
 * uplink, whose ndo_xdp_xmit queues them to their port.  (A redirected
 * xdp_frame does not say which device received it; the target does.)
 * The program's map is a copy of the rule table that userspace keeps in
 * sync; the rule table here stays the one source of truth.  A redirected
 * frame that no rule claims any more (the copy lagged behind) is turned
 * into an skb and given to the host stack, so a stale copy never loses a
 * host frame.
 *
 * Lifetime: an uplink holds a reference on its device and on this module,
 * so the module cannot be unloaded while it is attached anywhere.  Its
 * redirect target lives exactly as long as it.  When the
 * device is unregistered, the netdevice notifier detaches it.  All control
 * operations hold rtnl_lock; the receive paths only read, under RCU.
 */
#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/if_vlan.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <net/net_namespace.h>
#include <net/xdp.h>
#include "demux.h"
#include "iommu.h"
#include "ioctl.h"
#include "port.h"
#include "uplink.h"

/**
 * struct kpf_uplink - an attached device
 * @dev: the device (a reference)
 * @demux: its rules
 * @copy_only: its IOMMU domain is flushed lazily: never flip its pages
 * @xdp_dev: its XDP redirect target
 * @node: in kpf_uplinks (rtnl)
 * @rcu: freeing after the receive paths let go
 */
struct kpf_uplink {
	struct net_device *dev;
	struct kpf_demux demux;
	bool copy_only;
	struct net_device *xdp_dev;
	struct list_head node;
	struct rcu_head rcu;
};

/* Private part of a redirect target: its uplink, NULL once detached. */
struct kpf_xdp_priv {
	struct kpf_uplink __rcu *up;
};

static LIST_HEAD(kpf_uplinks);

static struct kpf_uplink *kpf_uplink_find_rtnl(u32 ifindex)
{
	struct kpf_uplink *up;

	ASSERT_RTNL();
	list_for_each_entry(up, &kpf_uplinks, node) {
		if (up->dev->ifindex == ifindex)
			return up;
	}
	return NULL;
}

/* Copy a broadcast or multicast frame to every port whose rules accept it. */
static void kpf_uplink_fanout(struct kpf_uplink *up, struct sk_buff *skb,
			      u16 vlan)
{
	struct kpf_port *ports[KPF_DEMUX_MAX_FANOUT];
	struct sk_buff *clone;
	unsigned int i, n;

	n = kpf_demux_fanout(&up->demux, vlan, ports);
	for (i = 0; i < n; i++) {
		clone = skb_clone(skb, GFP_ATOMIC);
		if (!clone) {
			kpf_port_count(ports[i], KPF_PORT_DROP_NOMEM, 1);
			continue;
		}
		kpf_port_enqueue(ports[i], clone, skb->len + ETH_HLEN);
	}
}

static rx_handler_result_t kpf_uplink_rx(struct sk_buff **pskb)
{
	struct sk_buff *skb = *pskb;
	struct kpf_uplink *up;
	struct kpf_port *port;
	const struct ethhdr *eth;
	u16 vlan = KPF_VLAN_UNTAGGED;

	if (skb->pkt_type == PACKET_LOOPBACK)
		return RX_HANDLER_PASS;
	up = rcu_dereference(skb->dev->rx_handler_data);
	if (skb_vlan_tag_present(skb)) {
		/* Only 802.1Q outer tags are classified; 802.1ad is the host's. */
		if (skb->vlan_proto != htons(ETH_P_8021Q))
			return RX_HANDLER_PASS;
		vlan = skb_vlan_tag_get_id(skb);
	}
	eth = eth_hdr(skb);
	if (is_multicast_ether_addr(eth->h_dest)) {
		kpf_uplink_fanout(up, skb, vlan);
		return RX_HANDLER_PASS;
	}
	port = kpf_demux_unicast(&up->demux, vlan, eth->h_dest);
	if (!port)
		return RX_HANDLER_PASS;

	skb = skb_share_check(skb, GFP_ATOMIC);
	if (skb)
		kpf_port_enqueue(port, skb, skb->len + ETH_HLEN);
	else
		kpf_port_count(port, KPF_PORT_DROP_NOMEM, 1);
	return RX_HANDLER_CONSUMED;
}

/* Hand a redirected frame that is not for a guest to the host stack. */
static void kpf_xdp_to_host(struct xdp_frame *frame, struct net_device *dev)
{
	struct sk_buff *skb;

	skb = xdp_build_skb_from_frame(frame, dev);
	if (!skb) {
		xdp_return_frame(frame);
		return;
	}
	netif_rx(skb);
}

/* The port of an XDP frame, or NULL when it belongs to the host. */
static struct kpf_port *kpf_xdp_classify(struct kpf_uplink *up,
					 struct xdp_frame *frame)
{
	const struct vlan_ethhdr *veth = frame->data;
	u16 vlan = KPF_VLAN_UNTAGGED;

	if (frame->len < ETH_HLEN || is_multicast_ether_addr(veth->h_dest))
		return NULL;
	/* As in the rx_handler, 802.1ad outer tags are the host's. */
	if (veth->h_vlan_proto == htons(ETH_P_8021AD))
		return NULL;
	if (veth->h_vlan_proto == htons(ETH_P_8021Q)) {
		if (frame->len < VLAN_ETH_HLEN)
			return NULL;
		vlan = ntohs(veth->h_vlan_TCI) & VLAN_VID_MASK;
	}
	return kpf_demux_unicast(&up->demux, vlan, veth->h_dest);
}

static void *kpf_xdp_item(struct kpf_uplink *up, struct xdp_frame *frame)
{
	return kpf_rx_item_xdp(frame, up->copy_only);
}

static int kpf_xdp_xmit(struct net_device *dev, int n,
			struct xdp_frame **frames, u32 flags)
{
	struct kpf_xdp_priv *priv = netdev_priv(dev);
	struct kpf_uplink *up;
	struct kpf_port *port;
	int i;

	rcu_read_lock();
	up = rcu_dereference(priv->up);
	for (i = 0; i < n; i++) {
		if (!up) {
			xdp_return_frame(frames[i]);
			continue;
		}
		port = kpf_xdp_classify(up, frames[i]);
		if (port)
			kpf_port_enqueue(port, kpf_xdp_item(up, frames[i]),
					 frames[i]->len);
		else
			kpf_xdp_to_host(frames[i], up->dev);
	}
	rcu_read_unlock();
	return n;
}

static netdev_tx_t kpf_xdp_dev_xmit(struct sk_buff *skb, struct net_device *dev)
{
	dev_core_stats_tx_dropped_inc(dev);
	kfree_skb(skb);
	return NETDEV_TX_OK;
}

static const struct net_device_ops kpf_xdp_dev_ops = {
	.ndo_start_xmit = kpf_xdp_dev_xmit,
	.ndo_xdp_xmit = kpf_xdp_xmit,
};

static void kpf_xdp_dev_setup(struct net_device *dev)
{
	ether_setup(dev);
	dev->netdev_ops = &kpf_xdp_dev_ops;
	dev->needs_free_netdev = true;
	dev->flags |= IFF_NOARP;
	dev->priv_flags |= IFF_NO_QUEUE;
	dev->min_mtu = ETH_MIN_MTU;
	dev->max_mtu = ETH_MAX_MTU;
	dev->mtu = ETH_MAX_MTU;
	eth_hw_addr_random(dev);
	xdp_features_set_redirect_target(dev, false);
}

/* Create and bring up the redirect target of @up; caller holds rtnl. */
static int kpf_xdp_dev_create(struct kpf_uplink *up)
{
	struct kpf_xdp_priv *priv;
	struct net_device *dev;
	int ret;

	ASSERT_RTNL();
	dev = alloc_netdev(sizeof(*priv), "kpfx%d", NET_NAME_ENUM,
			   kpf_xdp_dev_setup);
	if (!dev)
		return -ENOMEM;
	priv = netdev_priv(dev);
	RCU_INIT_POINTER(priv->up, up);
	ret = register_netdevice(dev);
	if (ret) {
		free_netdev(dev);
		/*
		 * The device is built here and valid; the core reports a name
		 * it could not allocate for its struct device as -EINVAL.
		 */
		return ret == -EINVAL ? -ENOMEM : ret;
	}
	ret = dev_open(dev, NULL);
	if (ret) {
		unregister_netdevice(dev);
		return ret;
	}
	up->xdp_dev = dev;
	return 0;
}

/**
 * kpf_uplink_attach() - execute KPF_UPLINK_ATTACH
 * @ifindex: the device, in the caller's network namespace
 * @xdp_ifindex: out: the redirect target's ifindex
 *
 * Return: 0 or a negative errno (see KPF_UPLINK_ATTACH).
 */
int kpf_uplink_attach(u32 ifindex, u32 *xdp_ifindex)
{
	struct net *net = current->nsproxy->net_ns;
	struct kpf_uplink *up;
	struct net_device *dev;
	int ret;

	up = kzalloc(sizeof(*up), GFP_KERNEL_ACCOUNT);
	if (!up)
		return -ENOMEM;
	kpf_demux_init(&up->demux);

	rtnl_lock();
	dev = __dev_get_by_index(net, ifindex);
	if (!dev) {
		kpf_user_err("uplink: no device with ifindex %u\n", ifindex);
		ret = -ENODEV;
		goto err_unlock;
	}
	if (!net_eq(net, &init_net) || dev->type != ARPHRD_ETHER ||
	    dev->addr_len != ETH_ALEN || dev->netdev_ops == &kpf_xdp_dev_ops) {
		kpf_user_err("uplink: %s: not Ethernet in init_net\n",
			     dev->name);
		ret = -EINVAL;
		goto err_unlock;
	}
	if (kpf_uplink_find_rtnl(ifindex)) {
		kpf_user_err("uplink: %s is already attached\n", dev->name);
		ret = -EEXIST;
		goto err_unlock;
	}
	if (!try_module_get(THIS_MODULE)) {
		ret = -ENODEV;
		goto err_unlock;
	}
	ret = netdev_rx_handler_register(dev, kpf_uplink_rx, up);
	if (ret) {
		kpf_user_err("uplink: %s has an rx_handler already\n",
			     dev->name);
		goto err_put_module;
	}
	ret = dev_set_promiscuity(dev, 1);
	if (ret)
		goto err_unregister;
	ret = kpf_xdp_dev_create(up);
	if (ret)
		goto err_promisc;

	up->copy_only = !kpf_iommu_flip_safe(dev);
	if (up->copy_only)
		netdev_info(dev, "lazy IOMMU: frames will be copied\n");
	dev_hold(dev);
	up->dev = dev;
	list_add_tail(&up->node, &kpf_uplinks);
	*xdp_ifindex = up->xdp_dev->ifindex;
	rtnl_unlock();
	netdev_info(dev, "kvm-pageflip uplink attached\n");
	return 0;

err_promisc:
	dev_set_promiscuity(dev, -1);
err_unregister:
	netdev_rx_handler_unregister(dev);
err_put_module:
	module_put(THIS_MODULE);
err_unlock:
	rtnl_unlock();
	kfree(up);
	return ret;
}

/* Undo kpf_uplink_attach(); @unregistering: the device is going away. */
static void kpf_uplink_remove(struct kpf_uplink *up, bool unregistering)
{
	struct kpf_xdp_priv *xdp = netdev_priv(up->xdp_dev);

	ASSERT_RTNL();
	netdev_rx_handler_unregister(up->dev);
	RCU_INIT_POINTER(xdp->up, NULL);
	/* Frees it once the last redirect into it is done. */
	unregister_netdevice(up->xdp_dev);
	if (!unregistering)
		dev_set_promiscuity(up->dev, -1);
	kpf_demux_flush(&up->demux);
	list_del(&up->node);
	netdev_info(up->dev, "kvm-pageflip uplink detached\n");
	dev_put(up->dev);
	/* netdev_rx_handler_unregister() waited for the receive paths. */
	kfree_rcu(up, rcu);
	module_put(THIS_MODULE);
}

/**
 * kpf_uplink_detach() - execute KPF_UPLINK_DETACH
 * @ifindex: the device
 *
 * Return: 0 or -ENOENT.
 */
int kpf_uplink_detach(u32 ifindex)
{
	struct kpf_uplink *up;

	rtnl_lock();
	up = kpf_uplink_find_rtnl(ifindex);
	if (up)
		kpf_uplink_remove(up, false);
	rtnl_unlock();
	if (!up) {
		kpf_user_err("uplink: ifindex %u is not attached\n", ifindex);
		return -ENOENT;
	}
	return 0;
}

/*
 * The uplink a rule names; NULL, with the message, if it is not attached.
 * The rule ioctls then fail with ENODEV: their ENOENT names the port or the
 * rule, so that callers can tell the two apart.
 */
static struct kpf_uplink *kpf_rule_uplink_rtnl(const struct kpf_rule *rule)
{
	struct kpf_uplink *up = kpf_uplink_find_rtnl(rule->ifindex);

	if (!up)
		kpf_user_err("rule: ifindex %u is not an attached uplink\n",
			     rule->ifindex);
	return up;
}

/**
 * kpf_uplink_rule_add() - execute KPF_RULE_ADD
 * @rule: the rule, not yet checked
 *
 * Return: 0 or a negative errno (see KPF_RULE_ADD).
 */
int kpf_uplink_rule_add(const struct kpf_rule *rule)
{
	struct kpf_uplink *up;
	struct kpf_port *port;
	int ret;

	ret = kpf_rule_check(rule);
	if (ret)
		return ret;
	rtnl_lock();
	up = kpf_rule_uplink_rtnl(rule);
	if (!up) {
		ret = -ENODEV;
		goto out_unlock;
	}
	port = kpf_port_lookup_rtnl(rule->port_id);
	if (!port) {
		kpf_user_err("rule: port %u does not exist\n", rule->port_id);
		ret = -ENOENT;
		goto out_unlock;
	}
	ret = kpf_demux_add_port(&up->demux, rule, port);
out_unlock:
	rtnl_unlock();
	return ret;
}

/**
 * kpf_uplink_rule_del() - execute KPF_RULE_DEL
 * @rule: the key, not yet checked
 *
 * Return: 0 or a negative errno (see KPF_RULE_DEL).
 */
int kpf_uplink_rule_del(const struct kpf_rule *rule)
{
	struct kpf_uplink *up;
	int ret;

	ret = kpf_rule_check(rule);
	if (ret)
		return ret;
	rtnl_lock();
	up = kpf_rule_uplink_rtnl(rule);
	ret = up ? kpf_demux_del(&up->demux, rule) : -ENODEV;
	rtnl_unlock();
	/* Let receivers that still classified by the rule finish. */
	if (!ret)
		synchronize_net();
	return ret;
}

/**
 * kpf_uplink_list_rules() - execute KPF_LIST_RULES
 * @ifindex: an uplink, or 0 for all
 * @uentries: user array
 * @room: its length
 * @total: out: number of rules
 *
 * The rules are gathered under rtnl_lock and copied out after it, so that a
 * slow user buffer never holds the lock.
 *
 * Return: 0, -ENOENT, -ENOMEM or -EFAULT.
 */
int kpf_uplink_list_rules(u32 ifindex, struct kpf_rule __user *uentries,
			  u32 room, u32 *total)
{
	struct kpf_rule *entries = NULL;
	struct kpf_uplink *up;
	bool found = !ifindex;
	u32 n = 0, cap = 0;
	int ret = 0;

	rtnl_lock();
	list_for_each_entry(up, &kpf_uplinks, node)
		cap += up->demux.nr_rules;
	cap = min(cap, room);
	if (cap) {
		entries = kvcalloc(cap, sizeof(*entries), GFP_KERNEL);
		if (!entries) {
			rtnl_unlock();
			return -ENOMEM;
		}
	}
	list_for_each_entry(up, &kpf_uplinks, node) {
		if (ifindex && up->dev->ifindex != ifindex)
			continue;
		found = true;
		n += kpf_demux_list(&up->demux, up->dev->ifindex, entries + n,
				    cap > n ? cap - n : 0);
	}
	rtnl_unlock();

	if (!found) {
		kpf_user_err("rules: ifindex %u is not attached\n", ifindex);
		ret = -ENOENT;
	} else if (copy_to_user(uentries, entries,
				min(n, cap) * sizeof(*entries))) {
		ret = -EFAULT;
	}
	kvfree(entries);
	*total = n;
	return ret;
}

/**
 * kpf_uplink_remove_port() - delete the rules of a port going away
 * @port: the port; caller holds rtnl_lock
 */
void kpf_uplink_remove_port(const struct kpf_port *port)
{
	struct kpf_uplink *up;

	ASSERT_RTNL();
	list_for_each_entry(up, &kpf_uplinks, node)
		kpf_demux_remove_port(&up->demux, port);
}

static int kpf_uplink_event(struct notifier_block *nb, unsigned long event,
			    void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);
	struct kpf_uplink *up;

	if (event != NETDEV_UNREGISTER || dev->netdev_ops == &kpf_xdp_dev_ops)
		return NOTIFY_DONE;
	up = kpf_uplink_find_rtnl(dev->ifindex);
	/* A device moving to another namespace is still registered. */
	if (up && up->dev == dev)
		kpf_uplink_remove(up, dev->reg_state != NETREG_REGISTERED);
	return NOTIFY_DONE;
}

static struct notifier_block kpf_uplink_notifier = {
	.notifier_call = kpf_uplink_event,
};

/**
 * kpf_uplink_init() - watch for uplinks going away
 *
 * Return: 0 or a negative errno.
 */
int kpf_uplink_init(void)
{
	return register_netdevice_notifier(&kpf_uplink_notifier);
}

/**
 * kpf_uplink_uninit() - undo kpf_uplink_init(); no uplink is attached
 */
void kpf_uplink_uninit(void)
{
	unregister_netdevice_notifier(&kpf_uplink_notifier);
}
