// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-pageflip XDP classifier, loaded on an uplink by `kvm-pageflip attach`.
 *
 * Hands a unicast frame to the module when a rule of the uplink may match
 * it: an exact MAC+VLAN rule, a MAC-only rule or a VLAN-only rule, tried in
 * that order.  It does so by redirecting the frame through kpf_target, a
 * DEVMAP whose entry 0 is the module's redirect target device.  Everything
 * else (broadcast, multicast, frames no rule matches, frames too short to
 * parse) goes on to the host stack untouched; the module's rx_handler sees
 * broadcast and multicast frames there.
 *
 * The rule map kpf_rules mirrors the module's rule table: the CLI rewrites
 * it from KPF_LIST_RULES and never otherwise.  A stale key is harmless: the
 * module classifies every redirected frame again and gives the host those
 * that no rule matches.
 *
 * VLAN: one 802.1Q tag (TPID 0x8100) is parsed; VID 0 (a priority tag)
 * counts as untagged, as in the module.  Frames with an 802.1ad outer tag
 * (TPID 0x88a8) go to the host.  With RX VLAN offload on, the
 * driver strips the tag before XDP runs and tagged frames look untagged.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <linux/kvm_pageflip.h>

#include "kpf_xdp.h"

#define VLAN_VID_MASK 0x0fff

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KPF_XDP_MAX_RULES);
	__type(key, struct kpf_xdp_key);
	__type(value, __u32);
} kpf_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} kpf_target SEC(".maps");

/* Whether a rule with @match, @vlan and @mac exists. */
static __always_inline bool rule_exists(__u32 match, __u16 vlan,
					const __u8 *mac)
{
	struct kpf_xdp_key key = { .match = match, .vlan = vlan };

	if (mac)
		__builtin_memcpy(key.mac, mac, ETH_ALEN);
	return bpf_map_lookup_elem(&kpf_rules, &key);
}

SEC("xdp")
int kpf_classify(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct vlan_hdr *vh;
	__u16 vlan = KPF_VLAN_UNTAGGED;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	/* Broadcast and multicast: for the host and the rx_handler. */
	if (eth->h_dest[0] & 1)
		return XDP_PASS;
	/* 802.1ad (QinQ service) tags are the host's, as in the module. */
	if (eth->h_proto == bpf_htons(ETH_P_8021AD))
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_8021Q)) {
		vh = (void *)(eth + 1);
		if ((void *)(vh + 1) > data_end)
			return XDP_PASS;
		vlan = bpf_ntohs(vh->tci) & VLAN_VID_MASK;
	}

	if (rule_exists(KPF_RULE_F_MAC | KPF_RULE_F_VLAN, vlan, eth->h_dest) ||
	    rule_exists(KPF_RULE_F_MAC, 0, eth->h_dest) ||
	    rule_exists(KPF_RULE_F_VLAN, vlan, NULL))
		return bpf_redirect_map(&kpf_target, 0, XDP_PASS);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
