/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KPF_STATS_H
#define KPF_STATS_H

#include <linux/atomic.h>
#include <linux/kvm_pageflip.h>

/* Cumulative event counters, kept per binding and for the whole module. */
enum kpf_stat {
	KPF_STAT_FLIPS,
	KPF_STAT_BATCHES,
	KPF_STAT_INVALIDATIONS,
	KPF_STAT_PAGES_ZEROED,
	KPF_STAT_BYTES_ZEROED,
	KPF_STAT_BYTES_FILLED,
	KPF_STAT_QUARANTINED,
	KPF_NR_STATS,
};

struct kpf_stats {
	atomic64_t v[KPF_NR_STATS];
};

void kpf_stat_add(struct kpf_stats *binding, enum kpf_stat stat, u64 n);
void kpf_stats_read(const struct kpf_stats *stats,
		    struct kpf_counters *counters);
void kpf_stats_read_total(struct kpf_counters *counters);

#endif /* KPF_STATS_H */
