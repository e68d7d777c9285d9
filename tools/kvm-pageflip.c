// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-pageflip: inspect and configure the kvm-pageflip module through
 * /dev/kvm-pageflip.
 *
 *   kvm-pageflip [-j] [-v] [-d DEVICE] COMMAND [ARGS]
 *
 * Commands and their options are rows of a table (commands[] below); each
 * answers --help.  This file holds the table, the help texts and main(),
 * which parses a command line against the table.  The commands live in
 * module.c (info, bindings, stats), uplink.c (attach, detach, rules, sync)
 * port.c (ports, port set) and launch.c (qemu); classifier.c holds the XDP
 * classifier and
 * common.c what they all use.  Every error is one line on stderr and a
 * non-zero exit status: 1 for a failure, 2 for a malformed command line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm-pageflip.h"

static const struct cmd_opt attach_opts[] = {
	{ "mode", 'm', "xdp|skb",
	  "xdp (default): the XDP classifier in native mode and the "
	  "rx_handler; skb: the rx_handler only (any driver; copies)" },
	{}
};

static const struct cmd_opt qemu_opts[] = {
	{ "uplink", 'u', "DEV",
	  "the attached uplink the device's frames come from and go to" },
	{ "user", 'U', "USER", "run QEMU as USER (a member of group kvm)" },
	{}
};

static const struct command commands[] = {
	{ "info", "", 0, 0, NULL, "API version, limits and supported flags",
	  "Print the uapi version of the running module, its page size, its "
	  "limits and the flags each command accepts.",
	  cmd_info },
	{ "bindings", "", 0, 0, NULL, "list VM bindings (id, slots, VMM pid)",
	  "List every live VM binding: its id, its number of slots and the "
	  "process id of the VMM that created it.",
	  cmd_bindings },
	{ "stats", "[BINDING]", 0, 1, NULL,
	  "counters of one binding, or module totals with pool accounting",
	  "Without BINDING, print the module totals and the pool accounting; "
	  "with a binding id (from 'bindings'), that binding's counters.",
	  cmd_stats },
	{ "attach", "DEV", 1, 1, attach_opts,
	  "attach the module to network device DEV (an uplink)",
	  "Attach the module to DEV (KPF_UPLINK_ATTACH): it installs its "
	  "rx_handler there.  In xdp mode the tool also loads its XDP "
	  "classifier on DEV in native mode, which hands unicast frames that "
	  "a rule may match to the module without an skb; if the driver has "
	  "no native XDP, nothing is attached and --mode skb is the way.",
	  cmd_attach },
	{ "detach", "DEV", 1, 1, NULL, "detach the module from DEV",
	  "Remove the tool's XDP classifier from DEV if it is there (never "
	  "another program), then detach the module (KPF_UPLINK_DETACH), "
	  "which deletes every rule of DEV.",
	  cmd_detach },
	{ "rule add", "DEV [mac MAC] [vlan VID|untagged] port ID", 3, 7, NULL,
	  "send DEV's frames for MAC and/or VLAN to port ID",
	  "Add a rule to uplink DEV (KPF_RULE_ADD): unicast frames to MAC (on "
	  "any VLAN, or on VID only), or every unicast frame on VID, go to "
	  "port ID; broadcast and multicast frames on a matching VLAN are "
	  "copied to it.  'untagged' (or 0) is a frame without a tag or with "
	  "a priority tag.  The XDP rule map of DEV is synced afterwards.",
	  cmd_rule_add },
	{ "rule del", "DEV [mac MAC] [vlan VID|untagged]", 3, 5, NULL,
	  "delete the rule with that key from DEV",
	  "Delete the rule of DEV with exactly this key (KPF_RULE_DEL), then "
	  "sync the XDP rule map of DEV.",
	  cmd_rule_del },
	{ "rules", "[DEV]", 0, 1, NULL,
	  "list the rules of DEV or of every uplink",
	  "List the rules of uplink DEV, or of every uplink: device, MAC, VLAN "
	  "and port, sorted by uplink and key.",
	  cmd_rules },
	{ "sync", "DEV", 1, 1, NULL,
	  "make DEV's XDP rule map match the module's rules",
	  "Rewrite the rule map of the XDP classifier on DEV from the module's "
	  "rules (KPF_LIST_RULES): add missing keys, delete extra ones.  'rule "
	  "add', 'rule del' and 'attach' do this themselves.",
	  cmd_sync },
	{ "ports", "", 0, 0, NULL, "list receive ports with their counters",
	  "List every port: its binding, ring, copy-break, state, ring error "
	  "and every counter of enum kpf_port_counter.",
	  cmd_ports },
	{ "port set", "ID copybreak BYTES", 3, 3, NULL,
	  "set the copy-break length of port ID",
	  "Set the copy-break of port ID (KPF_PORT_SET): frames shorter than "
	  "BYTES (0 .. 65536) are copied even when their page could be "
	  "flipped; 0 flips whatever can be flipped, 65536 always copies.",
	  cmd_port_set },
	{ "qemu", "-- QEMU [ARGS]", 1, 1 << 20, qemu_opts,
	  "run QEMU with -device kvm-pageflip, needing no privilege",
	  "Open the control node and an AF_PACKET socket bound to DEV, add "
	  "uplink=DEV (unless given), ctl-fd and tx-fd to the one '-device "
	  "kvm-pageflip,...' of the QEMU command line, become USER and exec "
	  "QEMU.  The control fd carries the launcher's CAP_NET_ADMIN to the "
	  "module's rule ioctls, so QEMU needs no capability.  DEV must be "
	  "attached; '--' ends the launcher's options.",
	  cmd_qemu },
};

/* The words of a command's name: 1 or 2, the second in *@second. */
static size_t name_words(const struct command *c, const char **second,
			 size_t *first_len)
{
	const char *sp = strchr(c->name, ' ');

	*first_len = sp ? (size_t)(sp - c->name) : strlen(c->name);
	*second = sp ? sp + 1 : NULL;
	return sp ? 2 : 1;
}

static bool first_word_is(const struct command *c, const char *word)
{
	const char *second;
	size_t len;

	name_words(c, &second, &len);
	return strlen(word) == len && !strncmp(c->name, word, len);
}

/* "attach DEV [--mode xdp|skb]" */
static void format_synopsis(const struct command *c, char *buf, size_t size)
{
	const struct cmd_opt *o;
	size_t len;

	snprintf(buf, size, "%s%s%s", c->name, *c->args ? " " : "", c->args);
	for (o = c->opts; o && o->name; o++) {
		len = strlen(buf);
		snprintf(buf + len, size - len, " [--%s%s%s]", o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
	}
}

static void print_synopsis(FILE *out, const struct command *c)
{
	char buf[160];

	format_synopsis(c, buf, sizeof(buf));
	fprintf(out, "Usage: %s [OPTIONS] %s\n", prog, buf);
}

static void usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"Usage: %s [OPTIONS] COMMAND [ARGS]\n\n"
		"Inspect and configure the kvm-pageflip module.\n\n"
		"Options:\n"
		"  -j, --json            print JSON\n"
		"  -v, --verbose         show libbpf's messages\n"
		"  -d, --device PATH     control node (default /dev/%s)\n"
		"  -h, --help            this text\n"
		"  -V, --version         print the uapi version built in\n\n"
		"Commands ('%s COMMAND --help' for more):\n",
		prog, KPF_DEVICE_NAME, prog);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-9s %s\n", commands[i].name,
			commands[i].summary);
}

/*
 * Prints @text filled to 78 columns; the cursor is at column @col, and
 * continuation lines are indented to @indent.
 */
static void print_wrapped(const char *text, int col, int indent)
{
	const char *word = text;
	int len;

	while (*word) {
		len = strcspn(word, " ");
		if (col > indent && col + 1 + len > 78) {
			printf("\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			putchar(' ');
			col++;
		}
		printf("%.*s", len, word);
		col += len;
		word += len;
		word += strspn(word, " ");
	}
	putchar('\n');
}

static void command_help(const struct command *c)
{
	const struct cmd_opt *o;
	char name[40];

	print_synopsis(stdout, c);
	printf("\n");
	print_wrapped(c->doc, 0, 0);
	printf("\nOptions:\n");
	for (o = c->opts; o && o->name; o++) {
		snprintf(name, sizeof(name), "--%s%s%s", o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
		printf("  -%c, %-16s ", o->short_name, name);
		print_wrapped(o->help, 23, 23);
	}
	printf("  -h, %-16s this text\n", "--help");
}

/* `rule --help` and `rule` alone: the commands that start with @word. */
static void group_help(const char *word, bool asked)
{
	FILE *out = asked ? stdout : stderr;
	size_t i;

	if (!asked) {
		fprintf(stderr, "%s: '%s' needs a subcommand:", prog, word);
		for (i = 0; i < ARRAY_SIZE(commands); i++)
			if (first_word_is(&commands[i], word))
				fprintf(stderr, " '%s'", commands[i].name);
		fprintf(stderr, "; try '%s %s SUBCOMMAND --help'\n", prog,
			word);
		exit(EXIT_USAGE);
	}
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!first_word_is(&commands[i], word))
			continue;
		print_synopsis(out, &commands[i]);
		fprintf(out, "  %s\n", commands[i].summary);
	}
	exit(0);
}

/* The command named by @argv (@argc words); *@words says how many it took. */
static const struct command *find_command(int argc, char **argv, int *words)
{
	bool group = false;
	const char *second;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct command *c = &commands[i];

		if (!first_word_is(c, argv[0]))
			continue;
		*words = name_words(c, &second, &len);
		if (!second)
			return c;
		group = true;
		if (argc > 1 && !strcmp(argv[1], second))
			return c;
	}
	if (group) {
		if (argc > 1 &&
		    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
			group_help(argv[0], true);
		if (argc > 1 && argv[1][0] != '-')
			usage_error(
				"unknown command '%s %s'; try '%s %s --help'",
				argv[0], argv[1], prog, argv[0]);
		group_help(argv[0], false);
	}
	usage_error("unknown command '%s'; try '%s --help'", argv[0], prog);
}

/*
 * Parses @c's options and positional words from @argv (the words after
 * the command's name; options and words may be mixed) into @a.
 */
static void parse_command(const struct command *c, int argc, char **argv,
			  struct cmd_args *a)
{
	struct option longopts[CMD_MAX_OPTS + 2] = {};
	char shortopts[2 * CMD_MAX_OPTS + 4] = "h";
	const struct cmd_opt *o;
	char synopsis[160];
	int n = 0, ch, i;

	for (o = c->opts; o && o->name; o++, n++) {
		longopts[n] = (struct option){ o->name,
					       o->arg ? required_argument :
							no_argument,
					       NULL, o->short_name };
		snprintf(shortopts + strlen(shortopts), 3, "%c%s",
			 o->short_name, o->arg ? ":" : "");
	}
	longopts[n] = (struct option){ "help", no_argument, NULL, 'h' };

	memset(a, 0, sizeof(*a));
	opterr = 0;
	optind = 0; /* glibc: start afresh with argv[0] skipped */
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) !=
	       -1) {
		if (ch == 'h') {
			command_help(c);
			exit(0);
		}
		for (i = 0, o = c->opts; o && o->name; o++, i++)
			if (ch == o->short_name)
				break;
		if (!o || !o->name)
			usage_error(
				"%s: unknown option or missing value '%s'; try '%s %s --help'",
				c->name, argv[optind - 1], prog, c->name);
		a->opt[i] = o->arg ? optarg : "";
	}
	a->argc = argc - optind;
	a->argv = argv + optind;
	if (a->argc < c->min_args || a->argc > c->max_args) {
		format_synopsis(c, synopsis, sizeof(synopsis));
		usage_error("usage: %s [OPTIONS] %s; try '%s %s --help'", prog,
			    synopsis, prog, c->name);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	const struct command *c;
	struct cmd_args a;
	int ch, words;

	while ((ch = getopt_long(argc, argv, "+jvd:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = true;
			break;
		case 'v':
			verbose = true;
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
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	c = find_command(argc, argv, &words);
	/* getopt_long() skips argv[0]: make it the command's last word. */
	parse_command(c, argc - words + 1, argv + words - 1, &a);
	return c->run(&a);
}
