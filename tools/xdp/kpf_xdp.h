/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the XDP classifier (kpf_xdp.bpf.c) and the CLI that loads it share:
 * the names of its program and maps and the layout of a rule map key.
 */
#ifndef KPF_XDP_H
#define KPF_XDP_H

#include <linux/types.h>

#define KPF_XDP_PROG "kpf_classify"
#define KPF_XDP_RULES_MAP "kpf_rules"
#define KPF_XDP_TARGET_MAP "kpf_target"
/* The module accepts at most this many rules per uplink. */
#define KPF_XDP_MAX_RULES 4096

/**
 * struct kpf_xdp_key - key of the kpf_rules map, one per rule of the uplink
 * @match: KPF_RULE_F_MAC, KPF_RULE_F_VLAN or both, as in struct kpf_rule
 * @vlan: with KPF_RULE_F_VLAN: the VID, KPF_VLAN_UNTAGGED for none; else 0
 * @mac: with KPF_RULE_F_MAC: the destination MAC; else 0
 *
 * The value is the rule's port id; the program only tests that a key is
 * there, the module classifies the frame again.
 */
struct kpf_xdp_key {
	__u32 match;
	__u16 vlan;
	__u8 mac[6];
};

#endif /* KPF_XDP_H */
