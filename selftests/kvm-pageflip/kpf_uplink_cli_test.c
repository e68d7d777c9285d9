// SPDX-License-Identifier: GPL-2.0
/*
 * The receive-path commands of the kvm-pageflip CLI against the running
 * module: attach and detach in both modes, rules as the module lists them,
 * the XDP rule map kept in step with the module's rules (seen through
 * `sync`), ports and their copy-break, and one-line errors that name the
 * errno.
 *
 * Uses the test VM's NICs (selftests/vm/init exports their names): the
 * virtio-net one, whose driver has native XDP, and an e1000e one, whose
 * driver has none.  The CLI is $KPF_CLI or kvm-pageflip on $PATH.  Without
 * the CLI, a NIC, or a module with a receive path, the tests skip.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kpf_test.h"

#define OUT_MAX 16384
#define MAX_WORDS 16
#define REGION_SLOTS 8
#define RING_SIZE 2
#define MAC_A "52:54:00:aa:00:01"
#define MAC_B "52:54:00:aa:00:02"
#define NO_DEV "kpfnosuch0"

/* What one run of the CLI did. */
struct run {
	int status; /* exit status; 127 when it could not be executed */
	char out[OUT_MAX]; /* stdout */
	char err[OUT_MAX]; /* stderr */
	unsigned int err_lines;
};

/* Reads what the child wrote to memfd @fd into @buf (NUL-terminated). */
static void read_back(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/*
 * Runs the CLI with the words of printf(@fmt, ...) as its arguments (split
 * at spaces, no quoting), stdout and stderr kept in @r.
 */
static void __attribute__((format(printf, 2, 3)))
cli(struct run *r, const char *fmt, ...)
{
	const char *path = getenv("KPF_CLI") ?: "kvm-pageflip";
	char line[512], *argv[MAX_WORDS + 2], *save, *p;
	int out, err, status, n = 0;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	argv[n++] = (char *)path;
	for (p = strtok_r(line, " ", &save); p && n <= MAX_WORDS;
	     p = strtok_r(NULL, " ", &save))
		argv[n++] = p;
	argv[n] = NULL;

	out = memfd_create("cli-out", 0);
	err = memfd_create("cli-err", 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		execvp(path, argv);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	read_back(out, r->out, sizeof(r->out));
	read_back(err, r->err, sizeof(r->err));
	r->err_lines = 0;
	for (p = r->err; *p; p++)
		r->err_lines += *p == '\n';
}

/* The run succeeded and said nothing on stderr. */
#define ASSERT_RAN(r)                                                  \
	do {                                                           \
		ASSERT_EQ_LOG(0, (r)->status, "stderr: %s", (r)->err); \
		ASSERT_STREQ("", (r)->err);                            \
	} while (0)

/* The run failed with @status and one line on stderr holding @text. */
#define ASSERT_ERROR_LINE(r, st, text)                                     \
	do {                                                               \
		ASSERT_EQ_LOG(st, (r)->status, "stderr: %s", (r)->err);    \
		ASSERT_EQ_LOG(1U, (r)->err_lines, "stderr: %s", (r)->err); \
		ASSERT_NE_LOG(NULL, strstr((r)->err, text),                \
			      "want '%s' in: %s", text, (r)->err);         \
	} while (0)

#define ASSERT_HAS(haystack, needle)                                      \
	ASSERT_NE_LOG(NULL, strstr(haystack, needle), "want '%s' in: %s", \
		      needle, haystack)

/* Rules of @ifindex as the module lists them: their number, or -errno. */
static int module_rules(int ctl, unsigned int ifindex)
{
	struct kpf_list_rules list = { .size = sizeof(list),
				       .ifindex = ifindex };

	return ioctl(ctl, KPF_LIST_RULES, &list) ? -errno :
						   (int)list.nr_entries;
}

FIXTURE(uplink_cli)
{
	int ctl;
	struct kvm_vm *vm;
	struct kpf_region region;
	uint32_t port;
	char xdp[IF_NAMESIZE], skb[IF_NAMESIZE];
	unsigned int xdp_ifindex, skb_ifindex;
};

/* The interface named by @env, or "" (and 0) when there is none. */
static unsigned int nic(const char *env, char name[IF_NAMESIZE])
{
	const char *val = getenv(env);

	snprintf(name, IF_NAMESIZE, "%s", val ? val : "");
	return *name ? if_nametoindex(name) : 0;
}

FIXTURE_SETUP(uplink_cli)
{
	struct kpf_region_add_port add = {
		.size = sizeof(add),
		.ring_size = RING_SIZE,
		.kick_fd = -1,
		.irq_fd = -1,
		.copybreak = KPF_COPYBREAK_DEFAULT,
	};
	struct run r;

	self->ctl = -1;
	self->vm = NULL;
	if (!devices_ready(_metadata, true))
		return;
	cli(&r, "--version");
	if (r.status == 127)
		SKIP(return, "the kvm-pageflip CLI is not installed");
	self->xdp_ifindex = nic("KPF_NIC_XDP", self->xdp);
	self->skb_ifindex = nic("KPF_NIC_SKB", self->skb);
	if (!self->xdp_ifindex || !self->skb_ifindex)
		SKIP(return,
			   "the test VM's NICs are missing (KPF_NIC_XDP '%s', KPF_NIC_SKB '%s')",
			   self->xdp, self->skb);
	self->ctl = kpf_open();
	ASSERT_LE(0, self->ctl);
	if (module_rules(self->ctl, 0) == -ENOTTY)
		SKIP(return, "the module has no receive path (KPF_LIST_RULES)");
	self->vm = vm_create();
	ASSERT_EQ(0, kpf_region_attach(self->ctl, self->vm, REGION_SLOTS,
				       KPF_REGION_MEMSLOT, KPF_REGION_GPA,
				       &self->region));
	ASSERT_EQ(0, ioctl(self->region.fd, KPF_REGION_ADD_PORT, &add));
	self->port = add.out_port_id;
}

FIXTURE_TEARDOWN(uplink_cli)
{
	struct run r;

	if (self->vm) {
		/* Whatever a failed test left attached. */
		cli(&r, "detach %s", self->xdp);
		cli(&r, "detach %s", self->skb);
		kpf_region_release(&self->region);
		vm_free(self->vm);
	}
	if (self->ctl >= 0)
		close(self->ctl);
}

/* skb mode: rules added, listed as text and JSON, deleted, detached. */
TEST_F(uplink_cli, skb_rules_round_trip)
{
	char want[160];
	struct run r;

	cli(&r, "attach %s --mode skb", self->skb);
	ASSERT_RAN(&r);
	ASSERT_HAS(r.out, "attached (rx_handler only)");
	cli(&r, "rule add %s mac %s port %u", self->skb, MAC_A, self->port);
	ASSERT_RAN(&r);
	cli(&r, "rule add %s vlan 7 port %u", self->skb, self->port);
	ASSERT_RAN(&r);
	cli(&r, "rule add %s mac %s vlan untagged port %u", self->skb, MAC_B,
	    self->port);
	ASSERT_RAN(&r);
	ASSERT_EQ(3, module_rules(self->ctl, self->skb_ifindex));

	cli(&r, "-j rules %s", self->skb);
	ASSERT_RAN(&r);
	snprintf(
		want, sizeof(want),
		"\"ifindex\": %u, \"mac\": \"%s\", \"vlan\": null, \"port\": %u}",
		self->skb_ifindex, MAC_A, self->port);
	ASSERT_HAS(r.out, want);
	snprintf(want, sizeof(want),
		 "\"ifindex\": %u, \"mac\": null, \"vlan\": 7, \"port\": %u}",
		 self->skb_ifindex, self->port);
	ASSERT_HAS(r.out, want);
	snprintf(want, sizeof(want),
		 "\"ifindex\": %u, \"mac\": \"%s\", \"vlan\": 0, \"port\": %u}",
		 self->skb_ifindex, MAC_B, self->port);
	ASSERT_HAS(r.out, want);
	cli(&r, "rules");
	ASSERT_RAN(&r);
	ASSERT_HAS(r.out, "untagged");

	cli(&r, "rule add %s vlan 7 port %u", self->skb, self->port);
	ASSERT_ERROR_LINE(&r, 1, "(EEXIST)");
	cli(&r, "rule del %s vlan 7", self->skb);
	ASSERT_RAN(&r);
	ASSERT_EQ(2, module_rules(self->ctl, self->skb_ifindex));
	cli(&r, "rule del %s vlan 7", self->skb);
	ASSERT_ERROR_LINE(&r, 1, "no such rule (ENOENT)");

	cli(&r, "detach %s", self->skb);
	ASSERT_RAN(&r);
	ASSERT_EQ(-ENOENT, module_rules(self->ctl, self->skb_ifindex));
}

/* xdp mode on a driver without native XDP: refused, nothing attached. */
TEST_F(uplink_cli, xdp_refused_without_native_support)
{
	struct run r;

	cli(&r, "attach %s", self->skb);
	ASSERT_ERROR_LINE(&r, 1, "--mode skb");
	ASSERT_HAS(r.err, "nothing was attached");
	ASSERT_EQ(-ENOENT, module_rules(self->ctl, self->skb_ifindex));
	cli(&r, "sync %s", self->skb);
	ASSERT_ERROR_LINE(&r, 1, "has no kvm-pageflip XDP classifier");
}

/*
 * xdp mode: the classifier is attached, its rule map follows the module's
 * rules through the CLI, and `sync` repairs changes made behind its back.
 */
TEST_F(uplink_cli, xdp_map_follows_rules)
{
	struct kpf_rule_add add = { .size = sizeof(add) };
	struct kpf_rule_del del = { .size = sizeof(del) };
	struct run r;
	char want[160];

	cli(&r, "-j attach %s", self->xdp);
	ASSERT_RAN(&r);
	snprintf(want, sizeof(want), "\"ifindex\": %u, \"mode\": \"xdp\"",
		 self->xdp_ifindex);
	ASSERT_HAS(r.out, want);
	ASSERT_EQ(NULL, strstr(r.out, "\"prog_id\": 0}"));
	ASSERT_EQ(NULL, strstr(r.out, "\"xdp_target_ifindex\": 0,"));

	cli(&r, "rule add %s mac %s port %u", self->xdp, MAC_A, self->port);
	ASSERT_RAN(&r);
	cli(&r, "rule add %s mac %s vlan 5 port %u", self->xdp, MAC_B,
	    self->port);
	ASSERT_RAN(&r);
	cli(&r, "-j sync %s", self->xdp);
	ASSERT_RAN(&r);
	ASSERT_HAS(
		r.out,
		"\"rules\": 2, \"added\": 0, \"updated\": 0, \"removed\": 0}");

	/* Behind the CLI's back: the map lags until the next sync. */
	add.rule = (struct kpf_rule){ .ifindex = self->xdp_ifindex,
				      .match = KPF_RULE_F_VLAN,
				      .vlan = 9,
				      .port_id = self->port };
	ASSERT_EQ(0, ioctl(self->ctl, KPF_RULE_ADD, &add));
	del.rule = add.rule;
	del.rule.match = KPF_RULE_F_MAC;
	del.rule.vlan = 0;
	memcpy(del.rule.mac, "\x52\x54\x00\xaa\x00\x01", 6);
	ASSERT_EQ(0, ioctl(self->ctl, KPF_RULE_DEL, &del));
	cli(&r, "-j sync %s", self->xdp);
	ASSERT_RAN(&r);
	ASSERT_HAS(
		r.out,
		"\"rules\": 2, \"added\": 1, \"updated\": 0, \"removed\": 1}");

	cli(&r, "rule del %s vlan 9", self->xdp);
	ASSERT_RAN(&r);
	cli(&r, "-j sync %s", self->xdp);
	ASSERT_RAN(&r);
	ASSERT_HAS(
		r.out,
		"\"rules\": 1, \"added\": 0, \"updated\": 0, \"removed\": 0}");

	cli(&r, "attach %s", self->xdp);
	ASSERT_ERROR_LINE(&r, 1, "already has kvm-pageflip's XDP classifier");
	cli(&r, "detach %s", self->xdp);
	ASSERT_RAN(&r);
	ASSERT_EQ(-ENOENT, module_rules(self->ctl, self->xdp_ifindex));
	cli(&r, "sync %s", self->xdp);
	ASSERT_ERROR_LINE(&r, 1, "has no kvm-pageflip XDP classifier");
}

/* `ports` shows the port with every counter; `port set` changes it. */
TEST_F(uplink_cli, ports_and_copybreak)
{
	static const char *const counters[] = {
		"rx_frames",	   "rx_bytes",	      "delivered",
		"flipped",	   "copied",	      "bytes_copied",
		"bytes_zeroed",	   "invalidations",   "batches",
		"interrupts",	   "kicks",	      "drop_no_buffer",
		"drop_queue_full", "drop_ring_error", "drop_oversize",
		"drop_runt",	   "drop_nomem",      "ring_errors",
		"worker_ns",	   "pages_flipped",
	};
	char want[160], quoted[40];
	unsigned int i;
	struct run r;

	ASSERT_EQ(KPF_PORT_NR_COUNTERS, ARRAY_SIZE(counters));
	cli(&r, "port set %u copybreak 128", self->port);
	ASSERT_RAN(&r);
	cli(&r, "-j ports");
	ASSERT_RAN(&r);
	snprintf(
		want, sizeof(want),
		"{\"port\": %u, \"binding\": %u, \"ring_size\": %u, \"ring_slot\": 0, \"copybreak\": 128, \"state\": \"running\", \"error\": \"none\"",
		self->port, self->region.binding_id, RING_SIZE);
	ASSERT_HAS(r.out, want);
	for (i = 0; i < ARRAY_SIZE(counters); i++) {
		snprintf(quoted, sizeof(quoted), "\"%s\": ", counters[i]);
		ASSERT_HAS(r.out, quoted);
	}
	cli(&r, "ports");
	ASSERT_RAN(&r);
	snprintf(want, sizeof(want), "port %u: binding %u", self->port,
		 self->region.binding_id);
	ASSERT_HAS(r.out, want);
	ASSERT_HAS(r.out, "drop_no_buffer");

	cli(&r, "port set %u copybreak 65537", self->port);
	ASSERT_ERROR_LINE(&r, 2, "copybreak");
	cli(&r, "port set 4000000000 copybreak 64");
	ASSERT_ERROR_LINE(&r, 1, "no such port (ENOENT)");
}

/* Missing devices, uplinks and ports: one line each, naming the cause. */
TEST_F(uplink_cli, errors_one_line)
{
	struct run r;

	cli(&r, "attach " NO_DEV);
	ASSERT_ERROR_LINE(&r, 1, NO_DEV ": no such network device");
	cli(&r, "attach " NO_DEV " --mode skb");
	ASSERT_ERROR_LINE(&r, 1, NO_DEV ": no such network device");
	cli(&r, "rules " NO_DEV);
	ASSERT_ERROR_LINE(&r, 1, NO_DEV ": no such network device");
	cli(&r, "rules %s", self->skb);
	ASSERT_ERROR_LINE(&r, 1, "not attached (ENOENT)");
	cli(&r, "detach %s", self->skb);
	ASSERT_ERROR_LINE(&r, 1, "not attached (ENOENT)");
	cli(&r, "rule add %s mac %s port %u", self->skb, MAC_A, self->port);
	ASSERT_ERROR_LINE(&r, 1, "is not attached (ENODEV)");

	cli(&r, "attach %s --mode skb", self->skb);
	ASSERT_RAN(&r);
	cli(&r, "attach %s --mode skb", self->skb);
	ASSERT_ERROR_LINE(&r, 1, "already attached (EEXIST)");
	cli(&r, "rule add %s mac %s port 4000000000", self->skb, MAC_A);
	ASSERT_ERROR_LINE(&r, 1, "no port 4000000000 (ENOENT)");
	cli(&r, "rule add %s mac 01:00:5e:00:00:01 port %u", self->skb,
	    self->port);
	ASSERT_ERROR_LINE(&r, 2, "multicast");
	cli(&r, "rule add %s vlan 4095 port %u", self->skb, self->port);
	ASSERT_ERROR_LINE(&r, 2, "VLAN id");
	cli(&r, "rule add %s port %u", self->skb, self->port);
	ASSERT_ERROR_LINE(&r, 2, "mac, vlan or both");
	cli(&r, "detach %s", self->skb);
	ASSERT_RAN(&r);
}

/* Every command answers --help on stdout, module or not. */
TEST(help)
{
	static const char *const commands[] = {
		"info",	  "bindings", "stats",	  "attach",
		"detach", "rule add", "rule del", "rules",
		"sync",	  "ports",    "port set", "rule",
	};
	unsigned int i;
	struct run r;

	cli(&r, "--help");
	if (r.status == 127)
		SKIP(return, "the kvm-pageflip CLI is not installed");
	ASSERT_RAN(&r);
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		cli(&r, "%s --help", commands[i]);
		ASSERT_RAN(&r);
		ASSERT_HAS(r.out, "Usage: ");
		ASSERT_HAS(r.out, commands[i]);
	}
}

TEST_HARNESS_MAIN
