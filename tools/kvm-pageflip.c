// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-pageflip: inspect the kvm-pageflip module through /dev/kvm-pageflip.
 *
 *   kvm-pageflip [-j] [-d DEVICE] info
 *   kvm-pageflip [-j] [-d DEVICE] bindings
 *   kvm-pageflip [-j] [-d DEVICE] stats [BINDING]
 *
 * Commands are rows of a table; every error is one line on stderr and a
 * non-zero exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm_pageflip.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *prog = "kvm-pageflip";
static bool json;

static void __attribute__((format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int open_device(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("cannot open %s: %s%s", path, strerror(errno),
		    errno == ENOENT ? " (is the kvm-pageflip module loaded?)" :
				      "");
	return fd;
}

static void do_ioctl(int fd, unsigned long cmd, void *arg, const char *what)
{
	if (ioctl(fd, cmd, arg))
		die("%s failed: %s", what, strerror(errno));
}

/* One name/value row, printed as text or as a JSON object member. */
struct field {
	const char *name;
	uint64_t value;
};

static void print_fields(const struct field *f, size_t n, const char *indent)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (json)
			printf("%s\"%s\": %" PRIu64 "%s\n", indent, f[i].name,
			       f[i].value, i + 1 < n ? "," : "");
		else
			printf("%s%-20s %" PRIu64 "\n", indent, f[i].name,
			       f[i].value);
	}
}

static int cmd_info(int fd, int argc, char **argv)
{
	struct kpf_info info = { .size = sizeof(info) };

	(void)argc;
	(void)argv;
	do_ioctl(fd, KPF_GET_INFO, &info, "KPF_GET_INFO");
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

static int cmd_bindings(int fd, int argc, char **argv)
{
	struct kpf_list_bindings list = { .size = sizeof(list) };
	struct kpf_binding_info *b = NULL;
	uint32_t i, room = 0;

	(void)argc;
	(void)argv;
	/* Grow until every binding fits; bindings may come and go meanwhile. */
	for (;;) {
		list.nr_entries = room;
		list.entries = (uintptr_t)b;
		do_ioctl(fd, KPF_LIST_BINDINGS, &list, "KPF_LIST_BINDINGS");
		if (list.nr_entries <= room)
			break;
		room = list.nr_entries + 8;
		b = realloc(b, room * sizeof(*b));
		if (!b)
			die("out of memory");
	}

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

static uint32_t parse_binding(const char *s)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || !*s || v == 0 || v > UINT32_MAX)
		die("invalid binding id '%s': expected a number from 'bindings'",
		    s);
	return v;
}

static int cmd_stats(int fd, int argc, char **argv)
{
	struct kpf_get_stats st = { .size = sizeof(st) };
	const struct kpf_counters *c = &st.counters;

	if (argc > 1)
		die("stats takes at most one binding id");
	if (argc == 1)
		st.binding_id = parse_binding(argv[0]);
	if (ioctl(fd, KPF_GET_STATS, &st)) {
		if (errno == ENOENT)
			die("no binding %u", st.binding_id);
		die("KPF_GET_STATS failed: %s", strerror(errno));
	}

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

struct command {
	const char *name;
	const char *args;
	const char *help;
	int (*run)(int fd, int argc, char **argv);
};

static const struct command commands[] = {
	{ "info", "", "API version, limits and supported flags", cmd_info },
	{ "bindings", "", "list VM bindings (id, slots, VMM pid)",
	  cmd_bindings },
	{ "stats", "[BINDING]",
	  "counters of one binding, or module totals with pool accounting",
	  cmd_stats },
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"Usage: %s [OPTIONS] COMMAND [ARGS]\n\n"
		"Inspect the kvm-pageflip module.\n\n"
		"Options:\n"
		"  -j, --json            print JSON\n"
		"  -d, --device PATH     control node (default /dev/%s)\n"
		"  -h, --help            this text\n"
		"  -V, --version         print the uapi version built in\n\n"
		"Commands:\n",
		prog, KPF_DEVICE_NAME);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-8s %-10s %s\n", commands[i].name,
			commands[i].args, commands[i].help);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	const char *device = "/dev/" KPF_DEVICE_NAME;
	size_t i;
	int c, fd, ret;

	while ((c = getopt_long(argc, argv, "+jd:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'd':
			device = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s uapi %d\n", prog, KPF_API_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[optind], commands[i].name))
			break;
	if (i == ARRAY_SIZE(commands))
		die("unknown command '%s'; try '%s --help'", argv[optind],
		    prog);

	fd = open_device(device);
	ret = commands[i].run(fd, argc - optind - 1, argv + optind + 1);
	close(fd);
	return ret;
}
