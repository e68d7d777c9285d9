// SPDX-License-Identifier: GPL-2.0
/*
 * Fail-nth sweeps: every allocation on the module's paths fails in turn,
 * and the module must cope with each.
 *
 * A *sequence* is a series of calls: ioctls on the control and region fds,
 * open, mmap and the first touch of a slot, closes in some order, a test
 * hook.  A *sweep* runs a sequence for n = 1, 2, ... with
 * /proc/thread-self/fail-nth set to n where the sequence starts: the n-th
 * allocation this thread makes from then on (slab or page allocator)
 * fails, once.  The sweep ends with the first run that made fewer than n
 * allocations, so nothing was injected.  In every run:
 *
 * - a call that fails must fail because of the injected failure, in that
 *   very call (not after an earlier call absorbed it), with an errno the
 *   uapi header documents for it (ENOMEM for every ioctl, ENOBUFS too for
 *   KPF_UPLINK_ATTACH); the same call must then succeed;
 * - a failure no call reports (the kernel fell back, or retried a page
 *   fault) is *absorbed*: the rest of the sequence still runs, and what it
 *   checks must hold;
 * - afterwards no page is staged or in a slot, the module totals balance,
 *   and no binding, port, rule or uplink is left.
 *
 * The runner scans kmemleak after the tests on the debug kernel, so a leak
 * on an error path fails the run as well.
 *
 * Fault injection is set up for this and restored afterwards: failslab and
 * fail_page_alloc also fail GFP_KERNEL allocations and order-0 pages, print
 * nothing (verbose 0: their stack dumps would read as kernel splats to the
 * runner), and fail at random (probability 100) only tasks that asked for
 * it (task-filter); no task asks, so only fail-nth injects.  That needs
 * CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and
 * CONFIG_FAULT_INJECTION_DEBUG_FS: the debug kernel has them, Debian's
 * kernels do not, and there every test skips.
 *
 * The figures (per sequence: sweeps, failure points, injections, of which
 * absorbed) are printed as "# failnth:" lines, and their totals last.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <net/if.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kpf_test.h"
#include "kpf_rx.h"
#include "nic.h"
#include "proc.h"

#define FAIL_NTH "/proc/thread-self/fail-nth"
#define FI_DIR "/sys/kernel/debug/"
#define POOL_KEEP "/sys/module/" KPF_MODULE_NAME "/parameters/pool_keep"
#define INJECT_HOOK "/sys/kernel/debug/kvm-pageflip/inject"
/* A sweep that runs this often has stopped converging. */
#define SWEEP_MAX_RUNS 4000
/*
 * Time limits of the tests, in seconds.  The uplink's sweep registers and
 * unregisters a net device in each of its 350 or so runs: about 170 s on
 * the debug kernel under TCG, the others together about 60 s.
 */
#define SWEEP_TIMEOUT 240
#define UPLINK_SWEEP_TIMEOUT 400
#define ROOM 8

/*
 * The fault injection settings, in the order they are applied (and undone
 * in reverse): quiet first, then filtered to tasks that ask for failures,
 * and only then probability 100, so that no other task ever sees one.
 */
static const struct fi_knob {
	const char *file;
	const char *value;
} fi_knobs[] = {
	{ "failslab/verbose", "0" },
	{ "fail_page_alloc/verbose", "0" },
	{ "failslab/task-filter", "Y" },
	{ "fail_page_alloc/task-filter", "Y" },
	{ "failslab/interval", "1" },
	{ "fail_page_alloc/interval", "1" },
	{ "failslab/space", "0" },
	{ "fail_page_alloc/space", "0" },
	{ "failslab/times", "-1" },
	{ "fail_page_alloc/times", "-1" },
	{ "failslab/probability", "100" },
	{ "fail_page_alloc/probability", "100" },
	/* What fail-nth counts: every slab and page allocation. */
	{ "failslab/ignore-gfp-wait", "N" },
	{ "failslab/cache-filter", "N" },
	{ "fail_page_alloc/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/ignore-gfp-highmem", "N" },
	{ "fail_page_alloc/min-order", "0" },
};
#define NR_KNOBS ARRAY_SIZE(fi_knobs)

/*
 * Figures of one sequence, or of all of them.  A sweep's failure points
 * are the allocations it failed one by one; a sequence's are those of its
 * longest sweep.
 */
struct figures {
	unsigned int sweeps;
	unsigned int points;
	unsigned int injections;
	unsigned int absorbed;
	unsigned int runs;
};

/* The totals, shared by the test processes and printed by the main one. */
static struct figures *totals;
static pid_t main_pid;

/* One sweep in progress. */
struct sweep {
	const char *name;
	int nth_fd; /* FAIL_NTH of the sweeping thread */
	unsigned int nth; /* the allocation that fails in this run */
	bool armed;
	bool hit; /* the failure was injected in this run */
	bool reported; /* ... and a call reported it */
	struct figures fig;
};

FIXTURE(failnth)
{
	int ctl; /* for set-up and checks, never swept */
	int nth_fd;
	struct kvm_vm *vm;
	bool configured;
	char saved[NR_KNOBS][32];
	char pool_keep[32];
	int ifindex; /* the uplink NIC, 0 when the VM has none */
	char ifname[IFNAMSIZ];
	char why_no_nic[128];
	unsigned int ifflags; /* its flags before the sweeps */
};

/* Buffers the sequences use, static so that mlockall() covers them. */
static uint8_t frame[PAGE_SIZE];
static uint8_t page_buf[PAGE_SIZE];
static struct kpf_port_info ports[ROOM];
static struct kpf_rule rules[ROOM];
static struct kpf_binding_info bindings[ROOM];

/* Why fail-nth sweeps cannot run here, or NULL when they can. */
static const char *fi_missing(void)
{
	if (access(FAIL_NTH, R_OK | W_OK))
		return "no " FAIL_NTH
		       ": the kernel lacks CONFIG_FAULT_INJECTION";
	if (access(FI_DIR "failslab", F_OK))
		return "no " FI_DIR
		       "failslab: the kernel lacks CONFIG_FAILSLAB or CONFIG_FAULT_INJECTION_DEBUG_FS";
	if (access(FI_DIR "fail_page_alloc", F_OK))
		return "no " FI_DIR
		       "fail_page_alloc: the kernel lacks CONFIG_FAIL_PAGE_ALLOC or CONFIG_FAULT_INJECTION_DEBUG_FS";
	return NULL;
}

static unsigned int nic_flags(const char *name)
{
	char path[64], buf[32];

	snprintf(path, sizeof(path), "/sys/class/net/%s/flags", name);
	if (file_read(path, buf, sizeof(buf)))
		return 0;
	return strtoul(buf, NULL, 0);
}

/* Stack the sequences may use, faulted in before mlockall(). */
static void __attribute__((noinline)) stack_prefault(void)
{
	volatile uint8_t stack[256 * 1024];
	size_t i;

	for (i = 0; i < sizeof(stack); i += PAGE_SIZE)
		stack[i] = 0;
}

FIXTURE_SETUP(failnth)
{
	struct kpf_info info;
	char path[128];
	const char *why;
	unsigned int i;

	self->ctl = -1;
	self->nth_fd = -1;
	if (!devices_ready(_metadata, true))
		return;
	why = fi_missing();
	if (why)
		SKIP(return, "%s", why);
	self->ctl = control_open(_metadata, &info);

	for (i = 0; i < NR_KNOBS; i++) {
		snprintf(path, sizeof(path), FI_DIR "%s", fi_knobs[i].file);
		ASSERT_EQ_LOG(0,
			      file_read(path, self->saved[i],
					sizeof(self->saved[i])),
			      "%s", path);
	}
	self->configured = true;
	for (i = 0; i < NR_KNOBS; i++) {
		snprintf(path, sizeof(path), FI_DIR "%s", fi_knobs[i].file);
		ASSERT_EQ_LOG(0, file_write(path, fi_knobs[i].value), "%s = %s",
			      path, fi_knobs[i].value);
	}
	ASSERT_EQ(0, file_read(POOL_KEEP, self->pool_keep,
			       sizeof(self->pool_keep)));

	self->ifindex = nic_from_env(NIC_ENV_SKB, self->ifname,
				     sizeof(self->ifname), self->why_no_nic,
				     sizeof(self->why_no_nic));
	if (self->ifindex)
		self->ifflags = nic_flags(self->ifname);

	self->vm = vm_create();
	self->nth_fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->nth_fd);
	/* No page fault of the test's own memory may take an injection. */
	stack_prefault();
	ASSERT_EQ(0, mlockall(MCL_CURRENT));
}

FIXTURE_TEARDOWN(failnth)
{
	char path[128];
	unsigned int i;

	if (self->nth_fd >= 0) {
		pwrite(self->nth_fd, "0", 1, 0);
		close(self->nth_fd);
	}
	if (self->configured) {
		for (i = NR_KNOBS; i-- > 0;) {
			snprintf(path, sizeof(path), FI_DIR "%s",
				 fi_knobs[i].file);
			file_write(path, self->saved[i]);
		}
		file_write(POOL_KEEP, self->pool_keep);
	}
	if (self->ctl >= 0)
		close(self->ctl);
}

static void sweep_arm(struct __test_metadata *_metadata, struct sweep *sw)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", sw->nth);

	ASSERT_EQ(len, pwrite(sw->nth_fd, buf, len, 0));
	sw->armed = true;
}

/* Whether the failure has been injected by now; it stays armed. */
static bool sweep_poll(struct __test_metadata *_metadata, struct sweep *sw)
{
	char buf[16] = "";

	if (!sw->armed)
		return sw->hit;
	ASSERT_LT(0, pread(sw->nth_fd, buf, sizeof(buf) - 1, 0));
	/* Reading 0 back: the countdown reached its allocation. */
	sw->hit = atoi(buf) == 0;
	return sw->hit;
}

static void sweep_disarm(struct __test_metadata *_metadata, struct sweep *sw)
{
	sweep_poll(_metadata, sw);
	ASSERT_EQ(1, pwrite(sw->nth_fd, "0", 1, 0));
	sw->armed = false;
}

static bool errno_listed(int err, const int *errnos)
{
	for (; *errnos; errnos++)
		if (*errnos == err)
			return true;
	return false;
}

/*
 * The result @ret of call @call of a sequence: true when it failed, as it
 * may only through the failure injected into it, and with one of @errnos;
 * the caller then calls it again.  Injection is off from then on.
 */
static bool step_failed(struct __test_metadata *_metadata, struct sweep *sw,
			const char *call, int ret, const int *errnos)
{
	bool before = sw->hit;

	sweep_poll(_metadata, sw);
	if (!ret)
		return false;
	sweep_disarm(_metadata, sw);
	ASSERT_TRUE_LOG(
		sw->hit && !before, "%s, n=%u: %s failed (%s) %s", sw->name,
		sw->nth, call, strerror(-ret),
		before ? "after an earlier call absorbed the injected failure" :
			 "without an injected failure");
	ASSERT_TRUE_LOG(
		errno_listed(-ret, errnos),
		"%s, n=%u: %s failed with %s, which is not documented for it",
		sw->name, sw->nth, call, strerror(-ret));
	sw->reported = true;
	return true;
}

/*
 * One call of a sequence: @expr gives 0 or a negative errno.  If it fails,
 * it must be through the injected failure, with an errno of @...; the same
 * call must then succeed.
 */
#define STEP(sw, expr, ...)                                                 \
	do {                                                                \
		int __ret = (expr);                                         \
		if (step_failed(_metadata, (sw), #expr, __ret,              \
				(const int[]){ __VA_ARGS__, 0 }))           \
			ASSERT_EQ_LOG(0, (expr),                            \
				      "%s, n=%u: %s failed again once the " \
				      "injected failure was over",          \
				      (sw)->name, (sw)->nth, #expr);        \
	} while (0)

typedef FIXTURE_DATA(failnth) fixture_t;
/*
 * A sequence: the calls of one run, with sweep_arm() where the swept part
 * starts; @arg says which variant.
 */
typedef void (*sequence_fn)(struct __test_metadata *_metadata, fixture_t *self,
			    struct sweep *sw, const void *arg);

/*
 * The module's XDP redirect targets (kpfxN): each attached uplink has one,
 * so none is left once every uplink is detached.
 */
static unsigned int redirect_targets(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	unsigned int n = 0;

	if (!ifs)
		return -1U;
	for (i = ifs; i->if_index; i++)
		n += !strncmp(i->if_name, "kpfx", 4);
	if_freenameindex(ifs);
	return n;
}

/* Nothing of any run may be left: pages, bindings, ports, rules, uplinks. */
static void assert_nothing_left(struct __test_metadata *_metadata,
				fixture_t *self, struct sweep *sw)
{
	uint32_t n;

	ASSERT_MODULE_IDLE(self->ctl);
	n = ROOM;
	ASSERT_EQ(0, kpf_list_bindings(self->ctl, bindings, &n));
	ASSERT_EQ_LOG(0, n, "%s, n=%u: %u bindings left", sw->name, sw->nth, n);
	n = ROOM;
	ASSERT_EQ(0, kpf_list_ports(self->ctl, ports, &n));
	ASSERT_EQ_LOG(0, n, "%s, n=%u: %u ports left", sw->name, sw->nth, n);
	n = ROOM;
	ASSERT_EQ(0, kpf_list_rules(self->ctl, 0, rules, &n));
	ASSERT_EQ_LOG(0, n, "%s, n=%u: %u rules left", sw->name, sw->nth, n);
	ASSERT_EQ_LOG(0, redirect_targets(),
		      "%s, n=%u: an uplink is still attached", sw->name,
		      sw->nth);
	if (self->ifindex) {
		ASSERT_EQ_LOG(self->ifflags, nic_flags(self->ifname),
			      "%s, n=%u: %s's flags changed", sw->name, sw->nth,
			      self->ifname);
	}
}

/* Sweeps @seq with @arg for n = 1, 2, ... until nothing is injected. */
static void sweep(struct __test_metadata *_metadata, fixture_t *self,
		  struct sweep *sw, sequence_fn seq, const void *arg)
{
	unsigned int points = 0;

	sw->nth_fd = self->nth_fd;
	for (sw->nth = 1;; sw->nth++) {
		ASSERT_TRUE_LOG(sw->nth < SWEEP_MAX_RUNS,
				"%s: still injecting after %u runs", sw->name,
				SWEEP_MAX_RUNS);
		sw->hit = sw->reported = sw->armed = false;
		seq(_metadata, self, sw, arg);
		sweep_disarm(_metadata, sw);
		assert_nothing_left(_metadata, self, sw);
		sw->fig.runs++;
		if (!sw->hit)
			break;
		points++;
		sw->fig.injections++;
		sw->fig.absorbed += !sw->reported;
	}
	sw->fig.sweeps++;
	if (points > sw->fig.points)
		sw->fig.points = points;
}

/* Prints the figures of @sw and adds them to the totals. */
static void sweep_report(struct sweep *sw)
{
	printf("# failnth: %s: %u sweeps, %u failure points, %u injections (%u absorbed)\n",
	       sw->name, sw->fig.sweeps, sw->fig.points, sw->fig.injections,
	       sw->fig.absorbed);
	fflush(stdout);
	__atomic_add_fetch(&totals->sweeps, sw->fig.sweeps, __ATOMIC_RELAXED);
	__atomic_add_fetch(&totals->points, sw->fig.points, __ATOMIC_RELAXED);
	__atomic_add_fetch(&totals->injections, sw->fig.injections,
			   __ATOMIC_RELAXED);
	__atomic_add_fetch(&totals->absorbed, sw->fig.absorbed,
			   __ATOMIC_RELAXED);
	__atomic_add_fetch(&totals->runs, sw->fig.runs, __ATOMIC_RELAXED);
}

static void __attribute__((constructor)) totals_init(void)
{
	main_pid = getpid();
	totals = mmap(NULL, sizeof(*totals), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (totals == MAP_FAILED)
		abort();
}

static void __attribute__((destructor)) totals_print(void)
{
	if (getpid() != main_pid || !totals->sweeps)
		return;
	printf("# failnth: total: %u sweeps, %u failure points, %u injections (%u absorbed), %u runs\n",
	       totals->sweeps, totals->points, totals->injections,
	       totals->absorbed, totals->runs);
	fflush(stdout);
}

/*
 * The pool for a sweep: cold, every page comes from the page allocator and
 * goes back to it (pool_keep 0, free list drained), so those allocations
 * are swept too; warm, @pages free pages wait in the pool.
 */
static void pool_prepare(struct __test_metadata *_metadata, fixture_t *self,
			 bool cold, unsigned int pages)
{
	static uint32_t handles[1024];
	struct kpf_counters c;
	unsigned int i, n;

	ASSERT_EQ(0, file_write(POOL_KEEP, cold ? "0" : self->pool_keep));
	ASSERT_EQ(0, kpf_get_stats(self->ctl, 0, &c));
	n = cold ? c.pages_free : pages;
	ASSERT_GE(1024, n);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, kpf_pool_fill(self->ctl, "x", 1, 0, &handles[i]));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, kpf_pool_drop(self->ctl, handles[i]));
	ASSERT_EQ(0, kpf_get_stats(self->ctl, 0, &c));
	ASSERT_TRUE_LOG(cold ? !c.pages_free : c.pages_free >= pages,
			"the pool has %llu free pages", c.pages_free);
}

/* Wrappers that give 0 or a negative errno, as STEP() wants. */
static int ctl_open(int *fd)
{
	*fd = kpf_open();
	return *fd < 0 ? *fd : 0;
}

/* Maps @nr_slots of region @rfd, at @at if it is not NULL. */
static int region_map(int rfd, uint32_t nr_slots, void *at, uint8_t **map)
{
	void *p = mmap(at, (size_t)nr_slots * PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | (at ? MAP_FIXED_NOREPLACE : 0), rfd, 0);

	if (p == MAP_FAILED)
		return -errno;
	*map = p;
	return 0;
}

static int port_add(int rfd, uint32_t ring_slot, uint32_t ring_size,
		    int kick_fd, int irq_fd, uint32_t *port_id)
{
	struct kpf_region_add_port arg = {
		.size = sizeof(arg),
		.ring_slot = ring_slot,
		.ring_size = ring_size,
		.kick_fd = kick_fd,
		.irq_fd = irq_fd,
		.copybreak = KPF_COPYBREAK_DEFAULT,
	};

	if (ioctl(rfd, KPF_REGION_ADD_PORT, &arg))
		return -errno;
	*port_id = arg.out_port_id;
	return 0;
}

/* Writes @len bytes at @src into the pipe @fd; all of them or an errno. */
static int pipe_put(int fd, const void *src, size_t len)
{
	ssize_t n = write(fd, src, len);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int inject(uint32_t port_id, uint32_t len, uint32_t count)
{
	char buf[48];

	snprintf(buf, sizeof(buf), "%u %u %u", port_id, len, count);
	return file_write(INJECT_HOOK, buf);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* open, and the ioctls of a control fd that create nothing. */
static void seq_open(struct __test_metadata *_metadata,
		     fixture_t *self __attribute__((unused)), struct sweep *sw,
		     const void *arg __attribute__((unused)))
{
	struct kpf_counters c;
	struct kpf_info info;
	uint32_t n = ROOM;
	int ctl;

	sweep_arm(_metadata, sw);
	STEP(sw, ctl_open(&ctl), ENOMEM);
	STEP(sw, kpf_get_info(ctl, &info), ENOMEM);
	STEP(sw, kpf_get_stats(ctl, 0, &c), ENOMEM);
	STEP(sw, kpf_list_bindings(ctl, bindings, &n), ENOMEM);
	ASSERT_TRUE(kpf_counters_balanced(&c));
	close(ctl);
}

TEST_F_TIMEOUT(failnth, open_control_fd, SWEEP_TIMEOUT)
{
	struct sweep sw = {
		.name = "open + get_info, get_stats, list_bindings"
	};

	sweep(_metadata, self, &sw, seq_open, NULL);
	sweep_report(&sw);
}

/* KPF_CREATE_REGION of *@arg slots, then closing it and its control fd. */
static void seq_create_region(struct __test_metadata *_metadata,
			      fixture_t *self, struct sweep *sw,
			      const void *arg)
{
	uint32_t nr_slots = *(const uint32_t *)arg, id;
	struct kpf_counters c;
	int ctl, rfd;

	ASSERT_EQ(0, ctl_open(&ctl));
	sweep_arm(_metadata, sw);
	STEP(sw, kpf_create_region(ctl, self->vm->fd, nr_slots, &rfd, &id),
	     ENOMEM);
	STEP(sw, kpf_get_stats(ctl, id, &c), ENOMEM);
	ASSERT_EQ(nr_slots, c.pages_in_slots);
	close(rfd);
	close(ctl);
}

TEST_F_TIMEOUT(failnth, create_region, SWEEP_TIMEOUT)
{
	struct sweep sw = { .name = "create_region" };
	/* Slots whose pages come from the page allocator. */
	static const uint32_t few = 4;
	/* A slot table beyond a page (kvzalloc), its pages from the pool. */
	static const uint32_t many = 1024;

	pool_prepare(_metadata, self, true, 0);
	sweep(_metadata, self, &sw, seq_create_region, &few);
	pool_prepare(_metadata, self, false, many);
	sweep(_metadata, self, &sw, seq_create_region, &many);
	sweep_report(&sw);
}

/*
 * Two mappings far from everything else (and from each other), so that the
 * first touch of each needs page tables of its own: the fault handler's
 * vmf_insert_pfn() then allocates, and that allocation is swept too.
 */
#define FAR_MAP_USER ((void *)0x7a0000000000UL)
#define FAR_MAP_KERNEL ((void *)0x7b0000000000UL)

/*
 * mmap() of a region and the first touch of its slots: by the test in user
 * mode (a fault that runs out of memory is retried by the kernel) and by
 * the kernel copying from it (write() into a pipe: EFAULT, or ENOMEM for
 * the pipe's own page).
 */
static void seq_mmap_fault(struct __test_metadata *_metadata, fixture_t *self,
			   struct sweep *sw,
			   const void *arg __attribute__((unused)))
{
	uint8_t *user = NULL, *kernel = NULL;
	int ctl, rfd, pipefd[2];
	uint32_t id;

	ASSERT_EQ(0, ctl_open(&ctl));
	ASSERT_EQ(0, kpf_create_region(ctl, self->vm->fd, 4, &rfd, &id));
	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	sweep_arm(_metadata, sw);
	STEP(sw, region_map(rfd, 4, FAR_MAP_USER, &user), ENOMEM);
	STEP(sw, region_map(rfd, 4, FAR_MAP_KERNEL, &kernel), ENOMEM);
	ASSERT_EQ(0, *(volatile uint64_t *)user);
	ASSERT_EQ(0, *(volatile uint64_t *)(user + 3 * PAGE_SIZE + 8));
	STEP(sw, pipe_put(pipefd[1], kernel + PAGE_SIZE + 100, 64), EFAULT,
	     ENOMEM);
	memset(page_buf, 0xff, 64);
	ASSERT_EQ(64, read(pipefd[0], page_buf, 64));
	ASSERT_TRUE(all_zero(page_buf, 64));
	munmap(user, 4 * PAGE_SIZE);
	munmap(kernel, 4 * PAGE_SIZE);
	close(pipefd[0]);
	close(pipefd[1]);
	close(rfd);
	close(ctl);
}

TEST_F_TIMEOUT(failnth, mmap_first_fault, SWEEP_TIMEOUT)
{
	struct sweep sw = { .name = "mmap + first fault" };

	pool_prepare(_metadata, self, true, 0);
	sweep(_metadata, self, &sw, seq_mmap_fault, NULL);
	sweep_report(&sw);
}

/* Stage two frames, flip them, stage and drop a third. */
static void seq_fill_flip(struct __test_metadata *_metadata, fixture_t *self,
			  struct sweep *sw,
			  const void *arg __attribute__((unused)))
{
	struct kpf_flip_entry e[2] = { { .slot = 2 }, { .slot = 3 } };
	uint32_t id, h, inval;
	uint8_t *map = NULL;
	int ctl, rfd;

	ASSERT_EQ(0, ctl_open(&ctl));
	ASSERT_EQ(0, kpf_create_region(ctl, self->vm->fd, 8, &rfd, &id));
	ASSERT_EQ(0, region_map(rfd, 8, NULL, &map));
	sweep_arm(_metadata, sw);
	STEP(sw, kpf_pool_fill(ctl, frame, 100, 8, &e[0].handle), ENOMEM);
	STEP(sw, kpf_pool_fill(ctl, frame, PAGE_SIZE, 0, &e[1].handle), ENOMEM);
	STEP(sw, kpf_region_flip(rfd, e, 2, &inval), ENOMEM);
	ASSERT_EQ(1, inval);
	STEP(sw, kpf_pool_fill(ctl, frame, 1, 0, &h), ENOMEM);
	STEP(sw, kpf_pool_drop(ctl, h), ENOMEM);
	/* The flipped pages hold the frames and nothing else. */
	ASSERT_TRUE(all_zero(map + 2 * PAGE_SIZE, 8));
	ASSERT_EQ(0, memcmp(map + 2 * PAGE_SIZE + 8, frame, 100));
	ASSERT_TRUE(all_zero(map + 2 * PAGE_SIZE + 108, PAGE_SIZE - 108));
	ASSERT_EQ(0, memcmp(map + 3 * PAGE_SIZE, frame, PAGE_SIZE));
	munmap(map, 8 * PAGE_SIZE);
	close(rfd);
	close(ctl);
}

TEST_F_TIMEOUT(failnth, pool_fill_flip_drop, SWEEP_TIMEOUT)
{
	struct sweep sw = { .name = "pool_fill, region_flip, pool_drop" };
	size_t i;

	for (i = 0; i < sizeof(frame); i++)
		frame[i] = i * 7 + 1;
	pool_prepare(_metadata, self, true, 0);
	sweep(_metadata, self, &sw, seq_fill_flip, NULL);
	pool_prepare(_metadata, self, false, 16);
	sweep(_metadata, self, &sw, seq_fill_flip, NULL);
	sweep_report(&sw);
}

/* A port: its ring size and whether it has its two eventfds. */
struct port_args {
	uint32_t ring_size;
	bool eventfds;
};

/* Add a port, list it, set it, delete it, add it again; close the region. */
static void seq_port(struct __test_metadata *_metadata, fixture_t *self,
		     struct sweep *sw, const void *arg)
{
	const struct port_args *pa = arg;
	uint32_t pages = KPF_RING_PAGES(pa->ring_size);
	int ctl, rfd, kick = -1, irq = -1;
	uint32_t id, port_id = 0, n;

	ASSERT_EQ(0, ctl_open(&ctl));
	ASSERT_EQ(0,
		  kpf_create_region(ctl, self->vm->fd, pages + 4, &rfd, &id));
	if (pa->eventfds) {
		kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		irq = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_LE(0, kick);
		ASSERT_LE(0, irq);
	}
	sweep_arm(_metadata, sw);
	STEP(sw, port_add(rfd, 1, pa->ring_size, kick, irq, &port_id), ENOMEM);
	n = ROOM;
	STEP(sw, kpf_list_ports(ctl, ports, &n), ENOMEM);
	ASSERT_EQ(1, n);
	ASSERT_EQ(port_id, ports[0].port_id);
	ASSERT_EQ(id, ports[0].binding_id);
	STEP(sw, kpf_port_set(ctl, port_id, 128), ENOMEM);
	STEP(sw, kpf_region_del_port(rfd, port_id), ENOMEM);
	STEP(sw, port_add(rfd, 1, pa->ring_size, kick, irq, &port_id), ENOMEM);
	close(rfd);
	close(ctl);
	if (kick >= 0)
		close(kick);
	if (irq >= 0)
		close(irq);
}

TEST_F_TIMEOUT(failnth, region_ports, SWEEP_TIMEOUT)
{
	struct sweep sw = {
		.name = "region_add_port, list_ports, port_set, region_del_port"
	};
	static const struct port_args small = { 8, false };
	static const struct port_args large = { KPF_RING_SIZE_MAX, true };

	pool_prepare(_metadata, self, false, 64);
	sweep(_metadata, self, &sw, seq_port, &small);
	sweep(_metadata, self, &sw, seq_port, &large);
	sweep_report(&sw);
}

/* Attach the uplink, list its (no) rules, detach it. */
static void seq_uplink(struct __test_metadata *_metadata, fixture_t *self,
		       struct sweep *sw,
		       const void *arg __attribute__((unused)))
{
	uint32_t xdp_ifindex, n;
	char name[IF_NAMESIZE];
	int ctl;

	ASSERT_EQ(0, ctl_open(&ctl));
	sweep_arm(_metadata, sw);
	/* The network core says ENOBUFS where it runs out of memory. */
	STEP(sw, kpf_uplink_attach(ctl, self->ifindex, &xdp_ifindex), ENOMEM,
	     ENOBUFS);
	n = ROOM;
	STEP(sw, kpf_list_rules(ctl, self->ifindex, rules, &n), ENOMEM);
	ASSERT_EQ(0, n);
	STEP(sw, kpf_uplink_detach(ctl, self->ifindex), ENOMEM);
	close(ctl);
	sweep_disarm(_metadata, sw);
	/* The redirect target went with the uplink. */
	ASSERT_TRUE(if_indextoname(xdp_ifindex, name) == NULL);
}

TEST_F_TIMEOUT(failnth, uplink_attach_detach, UPLINK_SWEEP_TIMEOUT)
{
	struct sweep sw = { .name = "uplink_attach, uplink_detach" };

	if (!self->ifindex)
		SKIP(return, "%s", self->why_no_nic);
	sweep(_metadata, self, &sw, seq_uplink, NULL);
	sweep_report(&sw);
}

static const uint8_t mac_a[6] = { 0x02, 0x6b, 0x70, 0x66, 0x00, 0x0a };
static const uint8_t mac_b[6] = { 0x02, 0x6b, 0x70, 0x66, 0x00, 0x0b };

/* Rules of the three kinds on an attached uplink, listed and deleted. */
static void seq_rules(struct __test_metadata *_metadata, fixture_t *self,
		      struct sweep *sw, const void *arg __attribute__((unused)))
{
	struct kpf_rule r[3];
	uint32_t id, port_id = 0, xdp, n;
	int ctl, rfd;

	ASSERT_EQ(0, ctl_open(&ctl));
	ASSERT_EQ(0, kpf_create_region(ctl, self->vm->fd, 8, &rfd, &id));
	ASSERT_EQ(0, port_add(rfd, 0, 8, -1, -1, &port_id));
	ASSERT_EQ(0, kpf_uplink_attach(ctl, self->ifindex, &xdp));
	r[0] = kpf_rule_make(self->ifindex, KPF_RULE_F_MAC | KPF_RULE_F_VLAN,
			     10, mac_a, port_id);
	r[1] = kpf_rule_make(self->ifindex, KPF_RULE_F_MAC, 0, mac_b, port_id);
	r[2] = kpf_rule_make(self->ifindex, KPF_RULE_F_VLAN, 20, NULL, port_id);
	sweep_arm(_metadata, sw);
	STEP(sw, kpf_rule_add(ctl, &r[0]), ENOMEM);
	STEP(sw, kpf_rule_add(ctl, &r[1]), ENOMEM);
	STEP(sw, kpf_rule_add(ctl, &r[2]), ENOMEM);
	n = ROOM;
	STEP(sw, kpf_list_rules(ctl, self->ifindex, rules, &n), ENOMEM);
	ASSERT_EQ(3, n);
	STEP(sw, kpf_rule_del(ctl, &r[1]), ENOMEM);
	n = ROOM;
	STEP(sw, kpf_list_rules(ctl, 0, rules, &n), ENOMEM);
	ASSERT_EQ(2, n);
	/* The port takes its rules with it. */
	STEP(sw, kpf_region_del_port(rfd, port_id), ENOMEM);
	n = ROOM;
	STEP(sw, kpf_list_rules(ctl, 0, rules, &n), ENOMEM);
	ASSERT_EQ(0, n);
	sweep_disarm(_metadata, sw);
	ASSERT_EQ(0, kpf_uplink_detach(ctl, self->ifindex));
	close(rfd);
	close(ctl);
}

TEST_F_TIMEOUT(failnth, rules, SWEEP_TIMEOUT)
{
	struct sweep sw = { .name = "rule_add, list_rules, rule_del" };

	if (!self->ifindex)
		SKIP(return, "%s", self->why_no_nic);
	pool_prepare(_metadata, self, false, 16);
	sweep(_metadata, self, &sw, seq_rules, NULL);
	sweep_report(&sw);
}

/* A teardown order: one letter per step (see seq_teardown()). */
struct teardown_args {
	const char *order;
	bool uplink; /* with an uplink and a rule for the port */
};

/*
 * Teardown orders of a fully set-up VMM: a mapped region with a flipped
 * slot, a frame still staged, a port with eventfds and, for some orders
 * and when the VM has the NIC, an uplink with a rule for the port.  Each
 * letter is one step: r closes the region fd, c the control fd, m unmaps,
 * p deletes the port, u detaches the uplink.
 */
static void seq_teardown(struct __test_metadata *_metadata, fixture_t *self,
			 struct sweep *sw, const void *arg)
{
	uint32_t id, port_id = 0, staged, xdp;
	int ctl, rfd, kick, irq;
	const struct teardown_args *ta = arg;
	const char *order;
	struct kpf_rule r;
	bool uplink = false;
	uint8_t *map = NULL;

	ASSERT_EQ(0, ctl_open(&ctl));
	ASSERT_EQ(0, kpf_create_region(ctl, self->vm->fd, 8, &rfd, &id));
	ASSERT_EQ(0, region_map(rfd, 8, NULL, &map));
	kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	irq = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, kick);
	ASSERT_LE(0, irq);
	ASSERT_EQ(0, port_add(rfd, 0, 8, kick, irq, &port_id));
	ASSERT_EQ(0, kpf_flip_one(ctl, &(struct kpf_region){ .fd = rfd }, 5,
				  frame, 64, 0));
	ASSERT_EQ(0, kpf_pool_fill(ctl, frame, 64, 0, &staged));
	ASSERT_EQ(0, *(volatile uint64_t *)(map + 6 * PAGE_SIZE));
	if (ta->uplink && self->ifindex) {
		ASSERT_EQ(0, kpf_uplink_attach(ctl, self->ifindex, &xdp));
		r = kpf_rule_make(self->ifindex, KPF_RULE_F_MAC, 0, mac_a,
				  port_id);
		ASSERT_EQ(0, kpf_rule_add(ctl, &r));
		uplink = true;
	}
	sweep_arm(_metadata, sw);
	for (order = ta->order; *order; order++) {
		switch (*order) {
		case 'r':
			close(rfd);
			break;
		case 'c':
			close(ctl);
			break;
		case 'm':
			munmap(map, 8 * PAGE_SIZE);
			break;
		case 'p':
			STEP(sw, kpf_region_del_port(rfd, port_id), ENOMEM);
			break;
		case 'u':
			if (uplink)
				STEP(sw, kpf_uplink_detach(ctl, self->ifindex),
				     ENOMEM);
			uplink = false;
			break;
		}
	}
	sweep_disarm(_metadata, sw);
	if (uplink)
		ASSERT_EQ(0, kpf_uplink_detach(self->ctl, self->ifindex));
	close(kick);
	close(irq);
}

TEST_F_TIMEOUT(failnth, teardown_orders, SWEEP_TIMEOUT)
{
	struct sweep sw = { .name = "teardown in every order" };
	/* The uplink costs a net device per run: only where it matters. */
	static const struct teardown_args orders[] = {
		/* region fd, unmap, control fd */
		{ "rmc", false },
		/* unmap first, region fd last */
		{ "mcr", false },
		/* the mapping keeps the region alive to the end */
		{ "rcm", false },
		/* control fd first, the region's end takes port and rule */
		{ "cmr", true },
		/* uplink and port explicitly first */
		{ "upmrc", true },
		/* the port and its rule first, then the uplink */
		{ "purcm", true },
	};
	size_t i;

	pool_prepare(_metadata, self, true, 0);
	for (i = 0; i < ARRAY_SIZE(orders); i++)
		sweep(_metadata, self, &sw, seq_teardown, &orders[i]);
	sweep_report(&sw);
	if (!self->ifindex)
		printf("# failnth: teardown without an uplink: %s\n",
		       self->why_no_nic);
	fflush(stdout);
}

/* The inject test hook: frames in fresh pages queued to a port. */
static void seq_inject(struct __test_metadata *_metadata, fixture_t *self,
		       struct sweep *sw,
		       const void *arg __attribute__((unused)))
{
	struct kpf_port_info pi;
	uint32_t id, port_id = 0;
	int ctl, rfd;

	ASSERT_EQ(0, ctl_open(&ctl));
	ASSERT_EQ(0, kpf_create_region(ctl, self->vm->fd, 8, &rfd, &id));
	ASSERT_EQ(0, port_add(rfd, 0, 8, -1, -1, &port_id));
	sweep_arm(_metadata, sw);
	/* Frames queued before a failure stay queued. */
	STEP(sw, inject(port_id, 3000, 2), ENOMEM);
	sweep_disarm(_metadata, sw);
	ASSERT_EQ(0, kpf_port_settle(self->ctl, port_id, &pi, 100, 5000));
	ASSERT_LE(2, pi.counters[KPF_PORT_RX_FRAMES]);
	/* Nobody posted a slot: each frame was dropped, none is lost. */
	ASSERT_EQ(pi.counters[KPF_PORT_RX_FRAMES],
		  pi.counters[KPF_PORT_DROP_NO_BUFFER] +
			  pi.counters[KPF_PORT_DELIVERED]);
	close(rfd);
	close(ctl);
}

TEST_F_TIMEOUT(failnth, inject_hook, SWEEP_TIMEOUT)
{
	struct sweep sw = { .name = "inject test hook" };

	if (access(INJECT_HOOK, W_OK))
		SKIP(return,
			   INJECT_HOOK
			   ": %s (module loaded without test_hooks=1?)",
			   strerror(errno));
	pool_prepare(_metadata, self, true, 0);
	sweep(_metadata, self, &sw, seq_inject, NULL);
	sweep_report(&sw);
}

TEST_HARNESS_MAIN
