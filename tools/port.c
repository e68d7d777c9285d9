// SPDX-License-Identifier: GPL-2.0
/*
 * The port commands of the CLI: ports (KPF_LIST_PORTS) and port set
 * (KPF_PORT_SET).  Counters are printed under the names of enum
 * kpf_port_counter, lower case and without the KPF_PORT_ prefix.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm-pageflip.h"

static const char *const counter_names[] = {
	[KPF_PORT_RX_FRAMES] = "rx_frames",
	[KPF_PORT_RX_BYTES] = "rx_bytes",
	[KPF_PORT_DELIVERED] = "delivered",
	[KPF_PORT_FLIPPED] = "flipped",
	[KPF_PORT_COPIED] = "copied",
	[KPF_PORT_BYTES_COPIED] = "bytes_copied",
	[KPF_PORT_BYTES_ZEROED] = "bytes_zeroed",
	[KPF_PORT_INVALIDATIONS] = "invalidations",
	[KPF_PORT_BATCHES] = "batches",
	[KPF_PORT_INTERRUPTS] = "interrupts",
	[KPF_PORT_KICKS] = "kicks",
	[KPF_PORT_DROP_NO_BUFFER] = "drop_no_buffer",
	[KPF_PORT_DROP_QUEUE_FULL] = "drop_queue_full",
	[KPF_PORT_DROP_RING_ERROR] = "drop_ring_error",
	[KPF_PORT_DROP_OVERSIZE] = "drop_oversize",
	[KPF_PORT_DROP_RUNT] = "drop_runt",
	[KPF_PORT_DROP_NOMEM] = "drop_nomem",
	[KPF_PORT_RING_ERRORS] = "ring_errors",
	[KPF_PORT_WORKER_NS] = "worker_ns",
	[KPF_PORT_PAGES_FLIPPED] = "pages_flipped",
};

_Static_assert(ARRAY_SIZE(counter_names) == KPF_PORT_NR_COUNTERS,
	       "a counter of enum kpf_port_counter has no name");

static const char *const ring_error_names[] = {
	[KPF_RING_OK] = "none",
	[KPF_RING_ERR_AVAIL_IDX] = "avail_idx",
	[KPF_RING_ERR_SLOT_RANGE] = "slot_range",
	[KPF_RING_ERR_SLOT_CONTROL] = "slot_control",
	[KPF_RING_ERR_SLOT_BUSY] = "slot_busy",
};

static const char *const state_names[] = {
	[KPF_PORT_STATE_RUNNING] = "running",
	[KPF_PORT_STATE_ERROR] = "error",
};

static const struct errno_text port_set_errnos[] = {
	{ ENOENT, "no such port" },
	{ EINVAL, "copybreak above 65536" },
	{}
};

/* @names[@v], or "unknown-V" for a value this tool does not know. */
static const char *enum_name(const char *const *names, size_t n, uint32_t v,
			     char *buf, size_t size)
{
	if (v < n && names[v])
		return names[v];
	snprintf(buf, size, "unknown-%u", v);
	return buf;
}

static void print_port(const struct kpf_port_info *p, bool first)
{
	struct field f[KPF_PORT_NR_COUNTERS];
	char sbuf[24], ebuf[24], cbuf[16] = "default";
	const char *state, *error;
	size_t i;

	state = enum_name(state_names, ARRAY_SIZE(state_names), p->state, sbuf,
			  sizeof(sbuf));
	error = enum_name(ring_error_names, ARRAY_SIZE(ring_error_names),
			  p->error, ebuf, sizeof(ebuf));
	if (p->copybreak != KPF_COPYBREAK_DEFAULT)
		snprintf(cbuf, sizeof(cbuf), "%u", p->copybreak);
	for (i = 0; i < KPF_PORT_NR_COUNTERS; i++)
		f[i] = (struct field){ counter_names[i], p->counters[i] };

	if (json) {
		printf("%s\n  {\"port\": %u, \"binding\": %u, \"ring_size\": %u, \"ring_slot\": %u, ",
		       first ? "" : ",", p->port_id, p->binding_id,
		       p->ring_size, p->ring_slot);
		if (p->copybreak == KPF_COPYBREAK_DEFAULT)
			printf("\"copybreak\": null, ");
		else
			printf("\"copybreak\": %u, ", p->copybreak);
		printf("\"state\": \"%s\", \"error\": \"%s\",\n   \"counters\": {\n",
		       state, error);
		print_fields(f, ARRAY_SIZE(f), "    ");
		printf("   }}");
		return;
	}
	printf("%sport %u: binding %u, ring_size %u, ring_slot %u, copybreak %s, state %s",
	       first ? "" : "\n", p->port_id, p->binding_id, p->ring_size,
	       p->ring_slot, cbuf, state);
	if (p->state == KPF_PORT_STATE_ERROR || p->error != KPF_RING_OK)
		printf(" (ring error %s)", error);
	printf("\n");
	print_fields(f, ARRAY_SIZE(f), "  ");
}

int cmd_ports(const struct cmd_args *a)
{
	struct kpf_list_ports list = { .size = sizeof(list) };
	struct kpf_port_info *p;
	uint32_t i;

	(void)a;
	p = list_all(KPF_LIST_PORTS, &list, &list.nr_entries,
		     (uint64_t *)&list.entries, sizeof(*p), "KPF_LIST_PORTS",
		     NULL);
	if (json)
		printf("[");
	for (i = 0; i < list.nr_entries; i++)
		print_port(&p[i], i == 0);
	if (json)
		printf("%s]\n", list.nr_entries ? "\n" : "");
	free(p);
	return 0;
}

int cmd_port_set(const struct cmd_args *a)
{
	struct kpf_port_set set = { .size = sizeof(set) };
	char what[48];
	int err;

	set.port_id = parse_u32(a->argv[0], "port id", 1, UINT32_MAX);
	if (strcmp(a->argv[1], "copybreak"))
		usage_error(
			"port set: unknown setting '%s': expected copybreak",
			a->argv[1]);
	set.copybreak =
		parse_u32(a->argv[2], "copybreak", 0, KPF_COPYBREAK_MAX);
	snprintf(what, sizeof(what), "port set %u", set.port_id);
	err = kpf_ioctl(KPF_PORT_SET, &set);
	if (err)
		die_errno(what, err, port_set_errnos);
	return 0;
}
