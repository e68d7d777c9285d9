/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KPF_BINDING_H
#define KPF_BINDING_H

#include <linux/types.h>

struct kpf_binding_info;
struct kpf_counters;
struct kpf_region;

int kpf_binding_reserve(u32 *id);
void kpf_binding_publish(struct kpf_region *region);
void kpf_binding_remove(u32 id);
int kpf_binding_read(u32 id, struct kpf_counters *counters);
int kpf_binding_list(struct kpf_binding_info __user *uinfo, u32 room,
		     u32 *total);

#endif /* KPF_BINDING_H */
