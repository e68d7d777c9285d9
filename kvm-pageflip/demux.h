/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KPF_DEMUX_H
#define KPF_DEMUX_H

#include <linux/if_ether.h>
#include <linux/list.h>
#include <linux/rculist.h>
#include <linux/types.h>

struct kpf_port;
struct kpf_rule;

#define KPF_DEMUX_HASH_BITS 8
#define KPF_DEMUX_MAX_RULES 4096
/* Ports one broadcast or multicast frame can be copied to. */
#define KPF_DEMUX_MAX_FANOUT 64

/**
 * struct kpf_demux - the rules of one uplink
 * @hash: rules by key, for unicast lookups (RCU readers, rtnl writers)
 * @rules: every rule, sorted by key (RCU readers, rtnl writers)
 * @nr_rules: length of @rules (rtnl)
 */
struct kpf_demux {
	struct hlist_head hash[1 << KPF_DEMUX_HASH_BITS];
	struct list_head rules;
	unsigned int nr_rules;
};

void kpf_demux_init(struct kpf_demux *demux);
int kpf_demux_add_port(struct kpf_demux *demux, const struct kpf_rule *rule,
		       struct kpf_port *port);
int kpf_demux_del(struct kpf_demux *demux, const struct kpf_rule *rule);
void kpf_demux_flush(struct kpf_demux *demux);
unsigned int kpf_demux_remove_port(struct kpf_demux *demux,
				   const struct kpf_port *port);
u32 kpf_demux_list(const struct kpf_demux *demux, u32 ifindex,
		   struct kpf_rule *entries, u32 room);
int kpf_rule_check(const struct kpf_rule *rule);

struct kpf_port *kpf_demux_unicast(const struct kpf_demux *demux, u16 vlan,
				   const u8 *dst);
unsigned int kpf_demux_fanout(const struct kpf_demux *demux, u16 vlan,
			      struct kpf_port **ports);

#endif /* KPF_DEMUX_H */
