// SPDX-License-Identifier: GPL-2.0
/*
 * Event counters.  Every event is counted in the module totals and, when it
 * happened on behalf of a binding, in that binding's counters too.
 */
#include "stats.h"

static struct kpf_stats kpf_total_stats;

/**
 * kpf_stat_add() - count @n events of kind @stat
 * @binding: counters of the binding that caused them, or NULL
 * @stat: which counter
 * @n: how many
 */
void kpf_stat_add(struct kpf_stats *binding, enum kpf_stat stat, u64 n)
{
	if (!n)
		return;
	atomic64_add(n, &kpf_total_stats.v[stat]);
	if (binding)
		atomic64_add(n, &binding->v[stat]);
}

/**
 * kpf_stats_read() - copy cumulative counters into their uapi form
 * @stats: counters to read
 * @counters: destination; its pool fields are left alone
 */
void kpf_stats_read(const struct kpf_stats *stats,
		    struct kpf_counters *counters)
{
	const atomic64_t *v = stats->v;

	counters->flips = atomic64_read(&v[KPF_STAT_FLIPS]);
	counters->batches = atomic64_read(&v[KPF_STAT_BATCHES]);
	counters->invalidations = atomic64_read(&v[KPF_STAT_INVALIDATIONS]);
	counters->pages_zeroed = atomic64_read(&v[KPF_STAT_PAGES_ZEROED]);
	counters->bytes_zeroed = atomic64_read(&v[KPF_STAT_BYTES_ZEROED]);
	counters->bytes_filled = atomic64_read(&v[KPF_STAT_BYTES_FILLED]);
	counters->quarantined = atomic64_read(&v[KPF_STAT_QUARANTINED]);
}

/**
 * kpf_stats_read_total() - copy the module's cumulative counters
 * @counters: destination
 */
void kpf_stats_read_total(struct kpf_counters *counters)
{
	kpf_stats_read(&kpf_total_stats, counters);
}
