// SPDX-License-Identifier: GPL-2.0
/*
 * The module-wide commands of the kvm-pageflip CLI: info (KPF_GET_INFO),
 * bindings (KPF_LIST_BINDINGS) and stats (KPF_GET_STATS).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "kvm-pageflip.h"

int cmd_info(const struct cmd_args *a)
{
	struct kpf_info info = { .size = sizeof(info) };
	int err;

	(void)a;
	err = kpf_ioctl(KPF_GET_INFO, &info);
	if (err)
		die_errno("KPF_GET_INFO", err, NULL);
	const struct field f[] = {
		{ "api_version", info.api_version },
		{ "page_size", info.page_size },
		{ "max_slots", info.max_slots },
		{ "max_batch", info.max_batch },
		{ "max_pool_pages", info.max_pool_pages },
		{ "create_region_flags", info.create_region_flags },
		{ "pool_fill_flags", info.pool_fill_flags },
		{ "region_flip_flags", info.region_flip_flags },
	};
	if (json)
		printf("{\n");
	print_fields(f, ARRAY_SIZE(f), json ? "  " : "");
	if (json)
		printf("}\n");
	return 0;
}

int cmd_bindings(const struct cmd_args *a)
{
	struct kpf_list_bindings list = { .size = sizeof(list) };
	struct kpf_binding_info *b;
	uint32_t i;

	(void)a;
	b = list_all(KPF_LIST_BINDINGS, &list, &list.nr_entries,
		     (uint64_t *)&list.entries, sizeof(*b), "KPF_LIST_BINDINGS",
		     NULL);
	if (json)
		printf("[");
	else
		printf("%-10s %-10s %s\n", "binding", "slots", "vmm_pid");
	for (i = 0; i < list.nr_entries; i++) {
		if (json)
			printf("%s\n  {\"binding\": %u, \"slots\": %u, \"vmm_pid\": %d}",
			       i ? "," : "", b[i].binding_id, b[i].nr_slots,
			       b[i].vmm_pid);
		else
			printf("%-10u %-10u %d\n", b[i].binding_id,
			       b[i].nr_slots, b[i].vmm_pid);
	}
	if (json)
		printf("%s]\n", list.nr_entries ? "\n" : "");
	free(b);
	return 0;
}

int cmd_stats(const struct cmd_args *a)
{
	struct kpf_get_stats st = { .size = sizeof(st) };
	const struct kpf_counters *c = &st.counters;
	int err;

	if (a->argc == 1)
		st.binding_id =
			parse_u32(a->argv[0], "binding id", 1, UINT32_MAX);
	err = kpf_ioctl(KPF_GET_STATS, &st);
	if (err == ENOENT)
		die("no binding %u (ENOENT)", st.binding_id);
	if (err)
		die_errno("KPF_GET_STATS", err, NULL);

	const struct field f[] = {
		{ "flips", c->flips },
		{ "batches", c->batches },
		{ "invalidations", c->invalidations },
		{ "pages_zeroed", c->pages_zeroed },
		{ "bytes_zeroed", c->bytes_zeroed },
		{ "bytes_filled", c->bytes_filled },
		{ "quarantined", c->quarantined },
		{ "pages_free", c->pages_free },
		{ "pages_staged", c->pages_staged },
		{ "pages_in_slots", c->pages_in_slots },
		{ "pages_quarantined", c->pages_quarantined },
		{ "pages_allocated", c->pages_allocated },
	};
	if (json)
		printf("{\n  \"binding\": %u,\n", st.binding_id);
	else
		printf("%s\n",
		       st.binding_id ? "binding counters" : "module totals");
	print_fields(f, ARRAY_SIZE(f), "  ");
	if (json)
		printf("}\n");
	return 0;
}
