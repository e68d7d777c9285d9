// SPDX-License-Identifier: GPL-2.0
/*
 * Demultiplexing: which port a frame of an uplink belongs to.
 *
 * A rule's key is (match, VLAN, MAC): match says which of VLAN and MAC the
 * rule looks at.  A unicast frame goes to the most specific rule that
 * matches it: the exact (VLAN, MAC) rule, else the MAC-only rule (any VLAN),
 * else the VLAN-only rule (any MAC).  That is three hash lookups at most.
 * Broadcast and multicast frames go to every port with a rule whose VLAN
 * part matches, each port once; that walks the rule list.
 *
 * The frame's VLAN is its 802.1Q VID, or KPF_VLAN_UNTAGGED (0) for a frame
 * without a tag or with a priority tag.
 *
 * Readers are the receive path, under rcu_read_lock() in softirq context.
 * Writers hold rtnl_lock.  A rule holds no reference on its port: a port
 * removes its rules under rtnl and waits for an RCU grace period before it
 * goes away.
 */
#include <linux/etherdevice.h>
#include <linux/hash.h>
#include <linux/kvm_pageflip.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "demux.h"
#include "ioctl.h"
#include "port.h"

/**
 * struct kpf_demux_rule - a rule as the module keeps it
 * @hnode: in kpf_demux.hash
 * @lnode: in kpf_demux.rules
 * @match: KPF_RULE_F_MAC and/or KPF_RULE_F_VLAN
 * @vlan: VID or KPF_VLAN_UNTAGGED; 0 without KPF_RULE_F_VLAN
 * @mac: destination MAC; zero without KPF_RULE_F_MAC
 * @port: where matching frames go
 * @rcu: for freeing after readers are done
 */
struct kpf_demux_rule {
	struct hlist_node hnode;
	struct list_head lnode;
	u32 match;
	u16 vlan;
	u8 mac[ETH_ALEN];
	struct kpf_port *port;
	struct rcu_head rcu;
};

static u32 kpf_demux_hash(u32 match, u16 vlan, const u8 *mac)
{
	u32 h = match << 16 | vlan;

	h ^= get_unaligned((const u32 *)mac);
	h ^= (u32)get_unaligned((const u16 *)(mac + 4)) << 7;
	return hash_32(h, KPF_DEMUX_HASH_BITS);
}

/* Keys compare by match, then VLAN, then MAC: the order of KPF_LIST_RULES. */
static int kpf_demux_key_cmp(u32 match_a, u16 vlan_a, const u8 *mac_a,
			     u32 match_b, u16 vlan_b, const u8 *mac_b)
{
	if (match_a != match_b)
		return match_a < match_b ? -1 : 1;
	if (vlan_a != vlan_b)
		return vlan_a < vlan_b ? -1 : 1;
	return memcmp(mac_a, mac_b, ETH_ALEN);
}

static struct kpf_demux_rule *kpf_demux_find(const struct kpf_demux *demux,
					     u32 match, u16 vlan, const u8 *mac)
{
	const struct hlist_head *head;
	struct kpf_demux_rule *r;

	head = &demux->hash[kpf_demux_hash(match, vlan, mac)];
	hlist_for_each_entry_rcu(r, head, hnode, lockdep_rtnl_is_held()) {
		if (r->match == match && r->vlan == vlan &&
		    ether_addr_equal(r->mac, mac))
			return r;
	}
	return NULL;
}

/**
 * kpf_demux_init() - an empty rule table
 * @demux: the table
 */
void kpf_demux_init(struct kpf_demux *demux)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(demux->hash); i++)
		INIT_HLIST_HEAD(&demux->hash[i]);
	INIT_LIST_HEAD(&demux->rules);
	demux->nr_rules = 0;
}

/**
 * kpf_rule_check() - validate the key of a rule from userspace
 * @rule: the rule
 *
 * Return: 0, -EOPNOTSUPP for an unknown match bit or a non-zero reserved
 * field, or -EINVAL (see KPF_RULE_ADD).
 */
int kpf_rule_check(const struct kpf_rule *rule)
{
	static const u8 zero[ETH_ALEN];

	if (rule->match & ~(KPF_RULE_F_MAC | KPF_RULE_F_VLAN) ||
	    rule->__reserved) {
		kpf_user_err("rule: unknown match %#x or reserved set\n",
			     rule->match);
		return -EOPNOTSUPP;
	}
	if (!rule->match) {
		kpf_user_err("rule: matches neither MAC nor VLAN\n");
		return -EINVAL;
	}
	if (rule->match & KPF_RULE_F_VLAN ? rule->vlan > KPF_VLAN_MAX :
					    rule->vlan) {
		kpf_user_err("rule: VLAN %u is out of range or unused\n",
			     rule->vlan);
		return -EINVAL;
	}
	if (rule->match & KPF_RULE_F_MAC ? !is_valid_ether_addr(rule->mac) :
					   memcmp(rule->mac, zero, ETH_ALEN)) {
		kpf_user_err("rule: bad or unused MAC %pM\n", rule->mac);
		return -EINVAL;
	}
	return 0;
}

/**
 * kpf_demux_add_port() - add a rule for @port
 * @demux: the uplink's table
 * @rule: the checked rule; rule->port_id is not used here
 * @port: the port, alive for as long as rtnl is held
 *
 * Caller holds rtnl_lock.
 *
 * Return: 0, -EEXIST, -ENOSPC or -ENOMEM.
 */
int kpf_demux_add_port(struct kpf_demux *demux, const struct kpf_rule *rule,
		       struct kpf_port *port)
{
	struct kpf_demux_rule *r, *pos;
	struct hlist_head *head;

	ASSERT_RTNL();
	if (kpf_demux_find(demux, rule->match, rule->vlan, rule->mac)) {
		kpf_user_err("rule: the key already has a rule\n");
		return -EEXIST;
	}
	if (demux->nr_rules >= KPF_DEMUX_MAX_RULES) {
		kpf_user_err("rule: the uplink already has %u rules\n",
			     KPF_DEMUX_MAX_RULES);
		return -ENOSPC;
	}
	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return -ENOMEM;
	r->match = rule->match;
	r->vlan = rule->vlan;
	ether_addr_copy(r->mac, rule->mac);
	r->port = port;

	list_for_each_entry(pos, &demux->rules, lnode) {
		if (kpf_demux_key_cmp(r->match, r->vlan, r->mac, pos->match,
				      pos->vlan, pos->mac) < 0)
			break;
	}
	list_add_tail_rcu(&r->lnode, &pos->lnode);
	head = &demux->hash[kpf_demux_hash(r->match, r->vlan, r->mac)];
	hlist_add_head_rcu(&r->hnode, head);
	demux->nr_rules++;
	return 0;
}

static void kpf_demux_unlink(struct kpf_demux *demux, struct kpf_demux_rule *r)
{
	hlist_del_rcu(&r->hnode);
	list_del_rcu(&r->lnode);
	demux->nr_rules--;
	kfree_rcu(r, rcu);
}

/**
 * kpf_demux_del() - delete the rule with @rule's key
 * @demux: the uplink's table
 * @rule: the checked key
 *
 * Caller holds rtnl_lock.  Receivers still inside an RCU read-side section
 * may classify one last frame by the rule.
 *
 * Return: 0 or -ENOENT.
 */
int kpf_demux_del(struct kpf_demux *demux, const struct kpf_rule *rule)
{
	struct kpf_demux_rule *r;

	ASSERT_RTNL();
	r = kpf_demux_find(demux, rule->match, rule->vlan, rule->mac);
	if (!r) {
		kpf_user_err("rule: no rule has that key\n");
		return -ENOENT;
	}
	kpf_demux_unlink(demux, r);
	return 0;
}

/**
 * kpf_demux_flush() - delete every rule
 * @demux: the table; caller holds rtnl_lock
 */
void kpf_demux_flush(struct kpf_demux *demux)
{
	struct kpf_demux_rule *r, *next;

	ASSERT_RTNL();
	list_for_each_entry_safe(r, next, &demux->rules, lnode)
		kpf_demux_unlink(demux, r);
}

/**
 * kpf_demux_remove_port() - delete every rule that leads to @port
 * @demux: the table; caller holds rtnl_lock
 * @port: the port going away
 *
 * Return: the number of rules deleted.
 */
unsigned int kpf_demux_remove_port(struct kpf_demux *demux,
				   const struct kpf_port *port)
{
	struct kpf_demux_rule *r, *next;
	unsigned int n = 0;

	ASSERT_RTNL();
	list_for_each_entry_safe(r, next, &demux->rules, lnode) {
		if (r->port == port) {
			kpf_demux_unlink(demux, r);
			n++;
		}
	}
	return n;
}

/**
 * kpf_demux_list() - describe the rules for KPF_LIST_RULES
 * @demux: the table; caller holds rtnl_lock
 * @ifindex: the uplink's ifindex, written into each entry
 * @entries: kernel array, already advanced past earlier uplinks' rules
 * @room: entries @entries can still take
 *
 * Return: the number of rules of this table (written or not).
 */
u32 kpf_demux_list(const struct kpf_demux *demux, u32 ifindex,
		   struct kpf_rule *entries, u32 room)
{
	struct kpf_demux_rule *r;
	struct kpf_rule *out;
	u32 i = 0;

	ASSERT_RTNL();
	list_for_each_entry(r, &demux->rules, lnode) {
		if (i < room) {
			out = &entries[i];
			memset(out, 0, sizeof(*out));
			out->ifindex = ifindex;
			out->match = r->match;
			out->vlan = r->vlan;
			ether_addr_copy(out->mac, r->mac);
			out->port_id = kpf_port_id(r->port);
		}
		i++;
	}
	return i;
}

/**
 * kpf_demux_unicast() - the port of a unicast frame
 * @demux: the uplink's table
 * @vlan: the frame's VID, or KPF_VLAN_UNTAGGED
 * @dst: its destination MAC
 *
 * Caller is in an RCU read-side section; the port stays valid until it ends.
 *
 * Return: the port, or NULL when the frame is the host's.
 */
struct kpf_port *kpf_demux_unicast(const struct kpf_demux *demux, u16 vlan,
				   const u8 *dst)
{
	static const u8 any[ETH_ALEN];
	struct kpf_demux_rule *r;

	r = kpf_demux_find(demux, KPF_RULE_F_MAC | KPF_RULE_F_VLAN, vlan, dst);
	if (!r)
		r = kpf_demux_find(demux, KPF_RULE_F_MAC, 0, dst);
	if (!r)
		r = kpf_demux_find(demux, KPF_RULE_F_VLAN, vlan, any);
	return r ? r->port : NULL;
}

/**
 * kpf_demux_fanout() - the ports of a broadcast or multicast frame
 * @demux: the uplink's table
 * @vlan: the frame's VID, or KPF_VLAN_UNTAGGED
 * @ports: out: up to KPF_DEMUX_MAX_FANOUT distinct ports
 *
 * Caller is in an RCU read-side section.
 *
 * Return: the number of ports written.
 */
unsigned int kpf_demux_fanout(const struct kpf_demux *demux, u16 vlan,
			      struct kpf_port **ports)
{
	struct kpf_demux_rule *r;
	unsigned int n = 0, i;

	list_for_each_entry_rcu(r, &demux->rules, lnode) {
		if (r->match & KPF_RULE_F_VLAN && r->vlan != vlan)
			continue;
		for (i = 0; i < n && ports[i] != r->port; i++)
			;
		if (i < n)
			continue;
		ports[n++] = r->port;
		if (n == KPF_DEMUX_MAX_FANOUT)
			break;
	}
	return n;
}
