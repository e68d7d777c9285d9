/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files of the kvm-pageflip CLI share: the command table's row,
 * error reporting (one line on stderr, then exit), the control fd, listing
 * ioctls and name/value output as text or JSON.
 */
#ifndef KVM_PAGEFLIP_CLI_H
#define KVM_PAGEFLIP_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm_pageflip.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit statuses. */
#define EXIT_ERROR 1
#define EXIT_USAGE 2

extern const char *prog;
extern bool json; /* -j */
extern bool verbose; /* -v */
extern const char *device; /* -d: the control node */

/* An option of one command; its value ends up in cmd_args.opt[index]. */
struct cmd_opt {
	const char *name;
	char short_name;
	const char *arg; /* name of its argument, NULL for a flag */
	const char *help;
};

#define CMD_MAX_OPTS 4

/* What main() parsed for a command: its options and its positional words. */
struct cmd_args {
	const char *opt[CMD_MAX_OPTS]; /* NULL when not given; "" for a flag */
	int argc;
	char **argv;
};

/* A row of the command table. */
struct command {
	const char *name; /* one or two words: "rule add" */
	const char *args; /* synopsis of the positional words */
	int min_args, max_args;
	const struct cmd_opt *opts; /* NULL or terminated by an empty entry */
	const char *summary; /* one line for the command list */
	const char *doc; /* paragraph for `COMMAND --help` */
	int (*run)(const struct cmd_args *a);
};

/* An errno a command's ioctl documents, and what it means there. */
struct errno_text {
	int err;
	const char *text;
};

void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...);
void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...);
/*
 * Dies with "WHAT: MEANING (ENAME)": MEANING from @texts (terminated by an
 * entry with err 0), else the meaning the uapi header gives every ioctl.
 */
void __attribute__((noreturn))
die_errno(const char *what, int err, const struct errno_text *texts);
const char *errno_name(int err);

/* The control fd, opened on first use (commands parse their words first). */
int ctl(void);
/* ioctl() on the control fd: 0 or an errno. */
int kpf_ioctl(unsigned long cmd, void *arg);

/*
 * Runs a listing ioctl (@arg's *@nr and *@entries are its nr_entries and
 * entries fields) with room growing until every entry fits; returns the
 * malloc()ed entries (NULL when there are none) and leaves their count in
 * *@nr.  Dies with @texts on an error.
 */
void *list_all(unsigned long cmd, void *arg, uint32_t *nr, uint64_t *entries,
	       size_t entry_size, const char *what,
	       const struct errno_text *texts);

/* One name/value row, printed as text or as a JSON object member. */
struct field {
	const char *name;
	uint64_t value;
};

void print_fields(const struct field *f, size_t n, const char *indent);
/* @s as a JSON string, quoted and escaped. */
void print_json_string(const char *s);

/* Number parsing for positional words: dies with a usage error. */
uint32_t parse_u32(const char *s, const char *what, uint32_t min, uint32_t max);

/* Commands, by the file that implements them. */
int cmd_info(const struct cmd_args *a);
int cmd_bindings(const struct cmd_args *a);
int cmd_stats(const struct cmd_args *a);
int cmd_attach(const struct cmd_args *a);
int cmd_detach(const struct cmd_args *a);
int cmd_rule_add(const struct cmd_args *a);
int cmd_rule_del(const struct cmd_args *a);
int cmd_rules(const struct cmd_args *a);
int cmd_sync(const struct cmd_args *a);
int cmd_ports(const struct cmd_args *a);
int cmd_port_set(const struct cmd_args *a);
int cmd_qemu(const struct cmd_args *a);

#endif /* KVM_PAGEFLIP_CLI_H */
