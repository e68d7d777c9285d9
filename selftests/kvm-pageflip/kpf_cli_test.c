// SPDX-License-Identifier: GPL-2.0
/*
 * The kvm-pageflip CLI against the running module: what it prints, as text
 * and as JSON, matches what the ioctls report, and each error is one line
 * on stderr with a non-zero exit status.
 *
 * The CLI is found as $KPF_CLI, or as kvm-pageflip on $PATH (the test VM
 * installs it in /usr/bin); without it the tests skip.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kpf_test.h"

#define CLI_OUT_MAX 8192

struct cli_result {
	int status; /* exit status, or -1 if it did not exit */
	char out[CLI_OUT_MAX]; /* stdout */
	char err[CLI_OUT_MAX]; /* stderr */
};

static const char *cli_path(void)
{
	const char *env = getenv("KPF_CLI");

	return env ? env : "kvm-pageflip";
}

static bool cli_present(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", cli_path());
	return system(cmd) == 0;
}

/* Reads all of @fd into @buf (NUL-terminated, truncated to fit). */
static void slurp(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
}

/* Runs the CLI with @args (a shell word list) and collects what it said. */
static int cli_run(const char *args, struct cli_result *r)
{
	char cmd[512], errfile[] = "/tmp/kpf-cli-err.XXXXXX";
	FILE *p;
	int efd, status;

	efd = mkstemp(errfile);
	if (efd < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s %s 2>%s", cli_path(), args, errfile);
	p = popen(cmd, "r");
	if (!p) {
		close(efd);
		unlink(errfile);
		return -1;
	}
	slurp(fileno(p), r->out, sizeof(r->out));
	status = pclose(p);
	slurp(efd, r->err, sizeof(r->err));
	close(efd);
	unlink(errfile);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return 0;
}

/* The number after "\"@key\": " in JSON text @json, or -1. */
static long long json_number(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(json, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static unsigned int count_lines(const char *s)
{
	unsigned int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

FIXTURE(cli)
{
	int ctl;
	struct kvm_vm *vm;
	struct kpf_region region;
};

FIXTURE_SETUP(cli)
{
	self->ctl = -1;
	self->vm = NULL;
	if (!devices_ready(_metadata, true))
		return;
	if (!cli_present())
		SKIP(return, "the kvm-pageflip CLI (%s) is not installed",
			   cli_path());
	self->ctl = kpf_open();
	ASSERT_LE(0, self->ctl);
	self->vm = vm_create();
	ASSERT_EQ(0,
		  kpf_region_attach(self->ctl, self->vm, 4, KPF_REGION_MEMSLOT,
				    KPF_REGION_GPA, &self->region));
}

FIXTURE_TEARDOWN(cli)
{
	if (self->vm) {
		kpf_region_release(&self->region);
		vm_free(self->vm);
	}
	if (self->ctl >= 0)
		close(self->ctl);
}

/* `info -j` reports what KPF_GET_INFO reports. */
TEST_F(cli, info_json)
{
	struct kpf_info info;
	struct cli_result r;

	ASSERT_EQ(0, kpf_get_info(self->ctl, &info));
	ASSERT_EQ(0, cli_run("-j info", &r));
	ASSERT_EQ_LOG(0, r.status, "stderr: %s", r.err);
	ASSERT_EQ(info.api_version, json_number(r.out, "api_version"));
	ASSERT_EQ(info.max_slots, json_number(r.out, "max_slots"));
	ASSERT_EQ(info.max_batch, json_number(r.out, "max_batch"));
}

/* `stats -j ID` shows the flips, batches and invalidations of the binding. */
TEST_F(cli, stats_of_binding_json)
{
	static const char frame[] = "cli";
	struct kpf_counters c;
	struct cli_result r;
	char args[64];

	ASSERT_EQ(0, kpf_flip_one(self->ctl, &self->region, 1, frame,
				  sizeof(frame), 0));
	ASSERT_EQ(0, kpf_flip_one(self->ctl, &self->region, 2, frame,
				  sizeof(frame), 0));
	ASSERT_EQ(0, kpf_get_stats(self->ctl, self->region.binding_id, &c));
	snprintf(args, sizeof(args), "-j stats %u", self->region.binding_id);
	ASSERT_EQ(0, cli_run(args, &r));
	ASSERT_EQ_LOG(0, r.status, "stderr: %s", r.err);
	ASSERT_EQ(self->region.binding_id, json_number(r.out, "binding"));
	ASSERT_EQ(2, json_number(r.out, "flips"));
	ASSERT_EQ(c.batches, json_number(r.out, "batches"));
	ASSERT_EQ(c.invalidations, json_number(r.out, "invalidations"));
	ASSERT_EQ(4, json_number(r.out, "pages_in_slots"));
}

/* Module totals in JSON balance: free + staged + slots + quarantined. */
TEST_F(cli, stats_totals_balance)
{
	struct cli_result r;

	ASSERT_EQ(0, cli_run("--json stats", &r));
	ASSERT_EQ_LOG(0, r.status, "stderr: %s", r.err);
	ASSERT_LE(4, json_number(r.out, "pages_in_slots"));
	ASSERT_EQ(json_number(r.out, "pages_allocated"),
		  json_number(r.out, "pages_free") +
			  json_number(r.out, "pages_staged") +
			  json_number(r.out, "pages_in_slots") +
			  json_number(r.out, "pages_quarantined"));
}

/* `bindings` lists this binding with its slots and its VMM's pid. */
TEST_F(cli, bindings_lists_ours)
{
	struct cli_result r;
	char want[96];

	ASSERT_EQ(0, cli_run("-j bindings", &r));
	ASSERT_EQ_LOG(0, r.status, "stderr: %s", r.err);
	snprintf(want, sizeof(want),
		 "{\"binding\": %u, \"slots\": 4, \"vmm_pid\": %d}",
		 self->region.binding_id, getpid());
	ASSERT_NE_LOG(NULL, strstr(r.out, want), "want %s in %s", want, r.out);

	ASSERT_EQ(0, cli_run("bindings", &r));
	ASSERT_EQ_LOG(0, r.status, "stderr: %s", r.err);
	ASSERT_NE(NULL, strstr(r.out, "binding"));
}

/* An unknown binding: exit 1, one line naming it, nothing on stdout. */
TEST_F(cli, unknown_binding_one_line)
{
	struct cli_result r;

	ASSERT_EQ(0, cli_run("stats 4000000000", &r));
	ASSERT_EQ(1, r.status);
	ASSERT_EQ_LOG(1, count_lines(r.err), "stderr: %s", r.err);
	ASSERT_NE(NULL, strstr(r.err, "no binding 4000000000"));
	ASSERT_STREQ("", r.out);
}

/* Malformed input: each is one line on stderr and a non-zero status. */
TEST_F(cli, bad_input_one_line)
{
	static const char *const bad[] = { "frobnicate", "stats x", "stats 0",
					   "stats 1 2",
					   "-d /nonexistent info" };
	struct cli_result r;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ASSERT_EQ(0, cli_run(bad[i], &r));
		ASSERT_NE_LOG(0, r.status, "%s", bad[i]);
		ASSERT_EQ_LOG(1, count_lines(r.err), "%s: stderr: %s", bad[i],
			      r.err);
	}
}

TEST_HARNESS_MAIN
