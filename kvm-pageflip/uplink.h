/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KPF_UPLINK_H
#define KPF_UPLINK_H

#include <linux/types.h>

struct kpf_port;
struct kpf_rule;

int kpf_uplink_attach(u32 ifindex, u32 *xdp_ifindex);
int kpf_uplink_detach(u32 ifindex);
int kpf_uplink_rule_add(const struct kpf_rule *rule);
int kpf_uplink_rule_del(const struct kpf_rule *rule);
int kpf_uplink_list_rules(u32 ifindex, struct kpf_rule __user *uentries,
			  u32 room, u32 *total);
void kpf_uplink_remove_port(const struct kpf_port *port);

int kpf_uplink_init(void);
void kpf_uplink_uninit(void);

#endif /* KPF_UPLINK_H */
