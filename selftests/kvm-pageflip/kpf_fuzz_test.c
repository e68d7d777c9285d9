// SPDX-License-Identifier: GPL-2.0
/*
 * A fuzzer for the control interface of kvm-pageflip: every ioctl of
 * include/uapi/linux/kvm_pageflip.h on control and region fds, mmap, munmap,
 * read, write, poll and close of those fds, uplinks on the test VM's NICs and
 * on TAP and VLAN devices the fuzzer creates and deletes, rules, ports with
 * eventfds, guest-side ring posts and frames sent into the uplinks, from
 * several threads at once, with every kind of object torn down while other
 * threads use it.
 *
 * Most calls are valid or differ from a valid call in one field (size,
 * flags, a reserved field, a tail byte, the pointer, the command number, the
 * fd's role, or one value of the struct), so that the deep paths are
 * reached; a few are garbage.  What is asserted:
 *  - every errno a module fd returns is one the uapi header documents for
 *    that ioctl (or a common one), and a call that differs from a valid one
 *    in a way the header gives an errno for fails with exactly that errno
 *    (no unexpected success);
 *  - the module totals balance (free + staged + in slots + quarantined ==
 *    allocated) at every KPF_GET_STATS and after every teardown;
 *  - no call hangs (a watchdog fails the test when no thread progresses);
 *  - once everything is closed, the module holds no staged or slot page,
 *    no binding, no port and no rule.
 * Kernel splats, leaks (kmemleak) and the module's unload are checked by
 * the runner.
 *
 * Each thread draws its calls from its own generator, seeded from the run's
 * seed and its number: with KPF_FUZZ_THREADS=1 a seed replays the same
 * choices, so the same calls up to the ids, fds and ifindexes the kernel
 * hands out and what the ports' workers do meanwhile; with more threads
 * each thread's choices are the same, their interleaving is not.  Environment (see Documentation/testing.rst):
 *   KPF_FUZZ_SEED      the seed (default: random, printed)
 *   KPF_FUZZ_CALLS     calls to make in all (default 1000000)
 *   KPF_FUZZ_THREADS   threads (default 4)
 *   KPF_FUZZ_SECONDS   give up (and fail) after this long (default 1500)
 *   KPF_FUZZ_MIX       full or light (default: light on a kernel with
 *                      kmemleak, the debug kernel; full otherwise)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>

#include "kpf_test.h"
#include "nic.h"
#include "proc.h"

#define FZ_DEFAULT_CALLS 1000000UL
#define FZ_DEFAULT_THREADS 4
#define FZ_MAX_THREADS 16
#define FZ_DEFAULT_SECONDS 1500
/* A thread that has not finished a call for this long is hung. */
#define FZ_HANG_SECONDS 90
#define FZ_MAX_FAILURES 16
#define FZ_ARENA_PAGES 32
#define FZ_HANDLES 48
#define FZ_PORTS 64
#define FZ_DEVS 24
#define FZ_RULES 32
#define FZ_MAPS 8
#define FZ_ATTACHED 8
/* An fd number that is never open (above RLIMIT_NOFILE). */
#define FZ_CLOSED_FD 999999
#define FZ_NO_IFINDEX 0x7ffffff0u
#define INJECT_HOOK "/sys/kernel/debug/kvm-pageflip/inject"

/* ---- generator (splitmix64) ---- */

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static uint32_t below(uint64_t *s, uint32_t n)
{
	return (uint32_t)((rnd(s) >> 32) * n >> 32);
}

/* True with probability 1/n. */
static bool one_in(uint64_t *s, uint32_t n)
{
	return below(s, n) == 0;
}

/* A "boundary" value: one of the interesting ones, or random. */
static uint32_t edge32(uint64_t *s)
{
	static const uint32_t v[] = {
		0,     1,	   2,	       3,	   7,	      8,
		63,    64,	   255,	       256,	   511,	      512,
		513,   4095,	   4096,       4097,	   65535,     65536,
		65537, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff
	};

	return one_in(s, 4) ? (uint32_t)rnd(s) : v[below(s, ARRAY_SIZE(v))];
}

/* ---- the errno contract of the uapi header ---- */

enum fz_ioctl {
	FZ_GET_INFO,
	FZ_CREATE_REGION,
	FZ_POOL_FILL,
	FZ_POOL_DROP,
	FZ_GET_STATS,
	FZ_LIST_BINDINGS,
	FZ_UPLINK_ATTACH,
	FZ_UPLINK_DETACH,
	FZ_RULE_ADD,
	FZ_RULE_DEL,
	FZ_LIST_RULES,
	FZ_LIST_PORTS,
	FZ_PORT_SET,
	FZ_REGION_FLIP,
	FZ_REGION_ADD_PORT,
	FZ_REGION_DEL_PORT,
	FZ_NR_IOCTLS,
};

/* Errors every ioctl may return (the header's "common" list). */
static const int fz_common_errnos[] = { ENOTTY,	    EFAULT,    EINVAL, E2BIG,
					EOPNOTSUPP, EOVERFLOW, ENOMEM };

/*
 * One ioctl: its number, struct, the size of the struct's first version,
 * the fd it is issued on, the errnos its comment in the header lists, and
 * how often a thread picks it.
 */
struct fz_ioctl_desc {
	const char *name;
	unsigned long cmd;
	uint32_t size;
	uint32_t min_size;
	bool on_region;
	int errnos[8];
	unsigned int weight;
};

#define FZ_IOCTL(_name, _struct, _min, _region, _weight, ...) \
	[FZ_##_name] = { .name = #_name,                      \
			 .cmd = KPF_##_name,                  \
			 .size = sizeof(struct _struct),      \
			 .min_size = (_min),                  \
			 .on_region = (_region),              \
			 .errnos = { __VA_ARGS__ },           \
			 .weight = (_weight) }
#define SZ(_struct) sizeof(struct _struct)

static const struct fz_ioctl_desc fz_ioctls[FZ_NR_IOCTLS] = {
	/* kpf_info's first version ends at region_flip_flags (uapi.rst). */
	FZ_IOCTL(GET_INFO, kpf_info,
		 offsetof(struct kpf_info, region_flip_flags) + 8, false, 4, 0),
	FZ_IOCTL(CREATE_REGION, kpf_create_region, SZ(kpf_create_region), false,
		 3, EBADF, EPERM, ENOSPC, EMFILE),
	FZ_IOCTL(POOL_FILL, kpf_pool_fill, SZ(kpf_pool_fill), false, 14,
		 ENOSPC),
	FZ_IOCTL(POOL_DROP, kpf_pool_drop, SZ(kpf_pool_drop), false, 5, ENOENT),
	FZ_IOCTL(GET_STATS, kpf_get_stats, SZ(kpf_get_stats), false, 8, ENOENT),
	FZ_IOCTL(LIST_BINDINGS, kpf_list_bindings, SZ(kpf_list_bindings), false,
		 4, 0),
	FZ_IOCTL(UPLINK_ATTACH, kpf_uplink_attach, SZ(kpf_uplink_attach), false,
		 2, EPERM, ENODEV, EEXIST, EBUSY, ENOBUFS),
	FZ_IOCTL(UPLINK_DETACH, kpf_uplink_detach, SZ(kpf_uplink_detach), false,
		 2, EPERM, ENOENT),
	FZ_IOCTL(RULE_ADD, kpf_rule_add, SZ(kpf_rule_add), false, 6, EPERM,
		 ENODEV, ENOENT, EEXIST, ENOSPC),
	FZ_IOCTL(RULE_DEL, kpf_rule_del, SZ(kpf_rule_del), false, 4, EPERM,
		 ENODEV, ENOENT),
	FZ_IOCTL(LIST_RULES, kpf_list_rules, SZ(kpf_list_rules), false, 4,
		 ENOENT),
	FZ_IOCTL(LIST_PORTS, kpf_list_ports, SZ(kpf_list_ports), false, 4, 0),
	FZ_IOCTL(PORT_SET, kpf_port_set, SZ(kpf_port_set), false, 4, EPERM,
		 ENOENT),
	FZ_IOCTL(REGION_FLIP, kpf_region_flip, SZ(kpf_region_flip), true, 14,
		 ENOENT, EBUSY),
	FZ_IOCTL(REGION_ADD_PORT, kpf_region_add_port, SZ(kpf_region_add_port),
		 true, 4, EBADF, EBUSY, ENOSPC),
	FZ_IOCTL(REGION_DEL_PORT, kpf_region_del_port, SZ(kpf_region_del_port),
		 true, 3, ENOENT),
};

static bool fz_errno_documented(unsigned int op, int err)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fz_common_errnos); i++)
		if (err == fz_common_errnos[i])
			return true;
	for (i = 0; i < ARRAY_SIZE(fz_ioctls[op].errnos); i++)
		if (fz_ioctls[op].errnos[i] && err == fz_ioctls[op].errnos[i])
			return true;
	return false;
}

/* ---- what the threads share ---- */

enum fz_kind {
	FK_CTL,
	FK_REGION,
	FK_VM,
	FK_VCPU,
	FK_KVM,
	FK_NULL,
	FK_EVENTFD,
	FK_SOCKET,
	FK_TAP,
	FK_NR_KINDS,
};

static const char *const fz_kind_names[FK_NR_KINDS] = {
	"control",   "region",	"vm",	  "vcpu", "/dev/kvm",
	"/dev/null", "eventfd", "socket", "tap",
};

/* How many fd-table entries each kind has, in this order. */
static const unsigned int fz_kind_count[FK_NR_KINDS] = { 4, 8, 3, 3, 1,
							 1, 4, 2, 4 };
#define FZ_FDS 30

/* An open fd the threads pick from; -1 while being replaced. */
struct fz_fd {
	int fd;
	enum fz_kind kind;
	uint32_t gen; /* changes whenever fd does */
	bool busy; /* a thread is replacing it */
	/* FK_REGION */
	uint32_t binding_id;
	uint32_t nr_slots;
	int ctl; /* the entry of the control fd that created it */
	/* FK_CTL: handles staged through it */
	uint32_t handles[FZ_HANDLES];
	unsigned int nr_handles;
	/* FK_VM and its FK_VCPU */
	struct kvm_vm *vm;
	/* FK_TAP */
	int ifindex;
	char name[IFNAMSIZ];
};

struct fz_port {
	uint32_t id;
	int region; /* fd-table entry */
	uint32_t region_gen;
	uint32_t ring_slot;
	uint32_t ring_size;
	int kick; /* eventfd entry or -1 */
};

enum fz_dev_kind { DEV_REAL, DEV_TAP, DEV_VLAN, DEV_OTHER };

struct fz_dev {
	int ifindex;
	enum fz_dev_kind kind;
	char name[IFNAMSIZ];
};

enum fz_op {
	OP_IOCTL,
	OP_MMAP,
	OP_MUNMAP,
	OP_TOUCH,
	OP_FILEOPS,
	OP_TAP_SEND,
	OP_INJECT,
	OP_TEARDOWN,
	OP_NR,
};

static const char *const fz_op_names[OP_NR] = {
	"ioctl",
	"mmap",
	"munmap",
	"touch",
	"read/write/poll/lseek",
	"frame into a tap",
	"inject",
	"teardown",
};

/*
 * The mix of calls.  "full" (the default) is the one that reaches deepest;
 * "light" (the default on a kernel with kmemleak, the debug kernel) makes
 * the calls that cost most there (valid ones that change state: flips,
 * regions, ports, uplinks, teardowns) rarer, so that 10^6 calls still fit
 * in CI's time (Documentation/testing.rst has the measured times).
 */
struct fz_mix {
	const char *name;
	unsigned int op_weight[OP_NR]; /* out of 10000 */
	/* per 100 ioctls: valid, one value changed, header etc. changed */
	unsigned int valid, value, frame;
};

static const struct fz_mix fz_mixes[] = {
	{
		.name = "full",
		.op_weight = { [OP_IOCTL] = 9530,
			       [OP_MMAP] = 100,
			       [OP_MUNMAP] = 80,
			       [OP_TOUCH] = 150,
			       [OP_FILEOPS] = 60,
			       [OP_TAP_SEND] = 40,
			       [OP_INJECT] = 20,
			       [OP_TEARDOWN] = 20 },
		.valid = 45,
		.value = 30,
		.frame = 22,
	},
	{
		.name = "light",
		.op_weight = { [OP_IOCTL] = 9800,
			       [OP_MMAP] = 30,
			       [OP_MUNMAP] = 25,
			       [OP_TOUCH] = 40,
			       [OP_FILEOPS] = 80,
			       [OP_TAP_SEND] = 10,
			       [OP_INJECT] = 5,
			       [OP_TEARDOWN] = 10 },
		.valid = 12,
		.value = 28,
		.frame = 57,
	},
};

static const struct fz_mix *fz_mix = &fz_mixes[0];

/* Figures of one thread, summed at the end. */
struct fz_figures {
	uint64_t ioctl_calls[FZ_NR_IOCTLS];
	uint64_t ioctl_ok[FZ_NR_IOCTLS];
	uint64_t ioctl_ns[FZ_NR_IOCTLS]; /* time spent in them */
	uint64_t bad_cmd; /* unknown or mis-encoded command numbers */
	uint64_t wrong_fd; /* module ioctls on fds of another kind */
	uint64_t mmaps, munmaps, touches, posts, fileops, closes;
	uint64_t teardowns, taps_made, taps_deleted, frames_sent, injects;
	uint64_t op_count[OP_NR], op_ns[OP_NR]; /* every op, all in */
	uint64_t errnos[256];
};

static struct {
	pthread_mutex_t lock; /* protects everything below it */
	struct fz_fd fds[FZ_FDS];
	struct fz_port ports[FZ_PORTS];
	unsigned int nr_ports;
	struct fz_dev devs[FZ_DEVS];
	unsigned int nr_devs;
	unsigned int next_dev;
	uint32_t attached[FZ_ATTACHED]; /* uplinks attached lately */
	unsigned int next_attached;
	struct kpf_rule rules[FZ_RULES];
	unsigned int next_rule;
	char failures[FZ_MAX_FAILURES][320];
	unsigned int nr_failures;

	struct kpf_info info;
	dev_t region_dev; /* st_dev of region files */
	dev_t ctl_rdev; /* st_rdev of /dev/kvm-pageflip */
	uint64_t seed;
	unsigned long target;
	atomic_ulong calls;
	atomic_bool stop;
	bool have_inject;
	bool have_tun;
} fz = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct fz_thread {
	unsigned int id;
	pthread_t thread;
	uint64_t rng;
	uint8_t *arena; /* FZ_ARENA_PAGES, then a PROT_NONE guard page */
	uint8_t *arena_end;
	struct {
		uint8_t *addr;
		size_t len;
		int region;
		uint32_t gen;
		uint32_t pgoff;
	} maps[FZ_MAPS];
	unsigned int nr_maps;
	struct fz_figures fig;
	atomic_ulong progress; /* calls finished */
	atomic_bool done;
	const char *doing; /* what the thread is doing, for a hang report */
	sigjmp_buf touch_jmp;
	volatile sig_atomic_t touching;
};

static __thread struct fz_thread *fz_self;

static void __attribute__((format(printf, 2, 3)))
fz_fail(struct fz_thread *t, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&fz.lock);
	if (fz.nr_failures < FZ_MAX_FAILURES)
		snprintf(fz.failures[fz.nr_failures], sizeof(fz.failures[0]),
			 "thread %u, call %lu: %s", t ? t->id : 0,
			 t ? atomic_load(&t->progress) : 0, msg);
	fz.nr_failures++;
	pthread_mutex_unlock(&fz.lock);
}

static const char *errname(int err)
{
	const char *n = err ? strerrorname_np(err) : "success";

	return n ? n : "?";
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- the fd table ---- */

static unsigned int fz_kind_first(enum fz_kind kind)
{
	unsigned int i, first = 0;

	for (i = 0; i < kind; i++)
		first += fz_kind_count[i];
	return first;
}

/* A random entry of @kind, or any entry. */
static int fz_pick(struct fz_thread *t, enum fz_kind kind)
{
	return fz_kind_first(kind) + below(&t->rng, fz_kind_count[kind]);
}

/* A copy of entry @i, as it is now. */
static struct fz_fd fz_snap(int i)
{
	struct fz_fd e;

	pthread_mutex_lock(&fz.lock);
	e = fz.fds[i];
	pthread_mutex_unlock(&fz.lock);
	return e;
}

static uint32_t fz_gen(int i)
{
	uint32_t gen;

	pthread_mutex_lock(&fz.lock);
	gen = fz.fds[i].gen;
	pthread_mutex_unlock(&fz.lock);
	return gen;
}

/* Forget the ports of region entry @i; caller holds fz.lock. */
static void fz_ports_forget_region(int i)
{
	unsigned int p = 0;

	while (p < fz.nr_ports) {
		if (fz.ports[p].region == i)
			fz.ports[p] = fz.ports[--fz.nr_ports];
		else
			p++;
	}
}

/*
 * Take entry @i to replace its fd: the entry reads -1 meanwhile, and @old
 * gets what it was.  The caller closes the old fd outside the lock, while
 * other threads may still be using it, and fz_put()s a new one (or -1).
 * False when another thread is replacing it already.
 */
static bool fz_take(int i, struct fz_fd *old)
{
	bool ok;

	pthread_mutex_lock(&fz.lock);
	ok = !fz.fds[i].busy;
	if (ok) {
		*old = fz.fds[i];
		fz.fds[i].busy = true;
		fz.fds[i].fd = -1;
		fz.fds[i].gen++;
		fz.fds[i].nr_handles = 0;
		if (fz.fds[i].kind == FK_REGION)
			fz_ports_forget_region(i);
	}
	pthread_mutex_unlock(&fz.lock);
	return ok;
}

/* Put @fd into entry @i, which the caller took. */
static void fz_put(int i, int fd)
{
	pthread_mutex_lock(&fz.lock);
	fz.fds[i].fd = fd;
	fz.fds[i].gen++;
	fz.fds[i].busy = false;
	pthread_mutex_unlock(&fz.lock);
}

static void fz_handle_add(int ctl, uint32_t gen, uint32_t handle, bool *kept)
{
	struct fz_fd *e = &fz.fds[ctl];

	*kept = false;
	pthread_mutex_lock(&fz.lock);
	if (e->gen == gen && e->nr_handles < FZ_HANDLES) {
		e->handles[e->nr_handles++] = handle;
		*kept = true;
	}
	pthread_mutex_unlock(&fz.lock);
}

/* A handle staged through @ctl (removed from the list), or a random one. */
static uint32_t fz_handle_take(struct fz_thread *t, int ctl)
{
	struct fz_fd *e = &fz.fds[ctl];
	uint32_t h = 1 + below(&t->rng, 64);
	unsigned int k;

	pthread_mutex_lock(&fz.lock);
	if (e->nr_handles && !one_in(&t->rng, 16)) {
		k = below(&t->rng, e->nr_handles);
		h = e->handles[k];
		e->handles[k] = e->handles[--e->nr_handles];
	}
	pthread_mutex_unlock(&fz.lock);
	return h;
}

static void fz_handle_return(int ctl, uint32_t gen, uint32_t h)
{
	bool kept;

	fz_handle_add(ctl, gen, h, &kept);
}

static struct fz_port fz_port_pick(struct fz_thread *t)
{
	struct fz_port p = { .id = 1 + below(&t->rng, 1000), .region = -1 };

	pthread_mutex_lock(&fz.lock);
	if (fz.nr_ports && !one_in(&t->rng, 10))
		p = fz.ports[below(&t->rng, fz.nr_ports)];
	pthread_mutex_unlock(&fz.lock);
	return p;
}

static void fz_port_forget(uint32_t id)
{
	unsigned int p;

	pthread_mutex_lock(&fz.lock);
	for (p = 0; p < fz.nr_ports; p++) {
		if (fz.ports[p].id == id) {
			fz.ports[p] = fz.ports[--fz.nr_ports];
			break;
		}
	}
	pthread_mutex_unlock(&fz.lock);
}

/* An ifindex worth trying: a device the run knows, lo, or none. */
static uint32_t fz_ifindex(struct fz_thread *t)
{
	uint32_t ifindex = 1;

	pthread_mutex_lock(&fz.lock);
	if (fz.nr_devs && !one_in(&t->rng, 8))
		ifindex = fz.devs[below(&t->rng, fz.nr_devs)].ifindex;
	else if (one_in(&t->rng, 2))
		ifindex = one_in(&t->rng, 2) ? FZ_NO_IFINDEX : 0;
	pthread_mutex_unlock(&fz.lock);
	return ifindex;
}

/* Remember a device; once the list is full, in place of an old one. */
static void fz_dev_add(int ifindex, enum fz_dev_kind kind, const char *name)
{
	struct fz_dev *d;

	pthread_mutex_lock(&fz.lock);
	if (fz.nr_devs < FZ_DEVS)
		d = &fz.devs[fz.nr_devs++];
	else /* the real NICs come first and stay */
		d = &fz.devs[2 + fz.next_dev++ % (FZ_DEVS - 2)];
	*d = (struct fz_dev){ .ifindex = ifindex, .kind = kind };
	if (name)
		snprintf(d->name, IFNAMSIZ, "%s", name);
	pthread_mutex_unlock(&fz.lock);
}

/* ---- one ioctl ---- */

union fz_arg {
	struct {
		uint32_t size;
		uint32_t flags;
	} hdr;
	struct kpf_info info;
	struct kpf_create_region create_region;
	struct kpf_pool_fill pool_fill;
	struct kpf_pool_drop pool_drop;
	struct kpf_get_stats get_stats;
	struct kpf_list_bindings list_bindings;
	struct kpf_uplink_attach uplink_attach;
	struct kpf_uplink_detach uplink_detach;
	struct kpf_rule_add rule_add;
	struct kpf_rule_del rule_del;
	struct kpf_list_rules list_rules;
	struct kpf_list_ports list_ports;
	struct kpf_port_set port_set;
	struct kpf_region_flip region_flip;
	struct kpf_region_add_port region_add_port;
	struct kpf_region_del_port region_del_port;
	uint8_t bytes[128];
};

enum fz_tail { TAIL_NONE, TAIL_ZERO, TAIL_DIRTY, TAIL_FAULT };
enum fz_ptr { PTR_OK, PTR_NULL, PTR_GUARD, PTR_KERNEL };

struct fz_call {
	unsigned int op;
	unsigned long cmd;
	int slot; /* fd-table entry, or -1 for FZ_CLOSED_FD */
	struct fz_fd e; /* the entry when the call was built */
	int slot2; /* an entry the struct names (vm_fd, an eventfd), or -1 */
	uint32_t gen2;
	union fz_arg arg;
	uint32_t size;
	enum fz_tail tail;
	enum fz_ptr ptr;
	int expect; /* 0: any documented errno, or success; else this errno */
	const char *why; /* how the call differs from a valid one */
	uint64_t ns; /* how long the ioctl took */
	struct kpf_flip_entry *flip; /* a flip's entries as built */
	uint32_t flip_n;
	long ret; /* 0 or -errno */
	bool exact; /* the fds were what the call meant throughout */
};

/* User buffers the kernel reads or writes: at the end of the arena. */
static void *fz_buf(struct fz_thread *t, size_t len)
{
	size_t max = (FZ_ARENA_PAGES / 2) * PAGE_SIZE;

	if (len > max)
		len = max;
	/* The struct takes the last half; buffers end before it. */
	return t->arena_end - max - len;
}

/*
 * A buffer of @room entries of @entsz bytes that ends at the guard page,
 * so that the kernel writing more than @room entries faults instead of
 * overwriting the fuzzer's memory.
 */
static uint64_t fz_out_buf(struct fz_thread *t, uint32_t room, size_t entsz)
{
	size_t len = (size_t)room * entsz;
	size_t max = (FZ_ARENA_PAGES / 2) * PAGE_SIZE;

	/* Past its room, the kernel writes the struct's half, then faults. */
	if (len > max)
		len = max;
	return (uintptr_t)(t->arena + max - len);
}

static void fz_issue(struct fz_thread *t, struct fz_call *c)
{
	const struct fz_ioctl_desc *d = &fz_ioctls[c->op];
	uint32_t placed = d->size;
	uint8_t *p;
	void *argp;
	int fd = c->slot < 0 ? FZ_CLOSED_FD : c->e.fd;

	c->arg.hdr.size = c->size;
	if ((c->tail == TAIL_ZERO || c->tail == TAIL_DIRTY) &&
	    c->size > placed && c->size <= PAGE_SIZE)
		placed = c->size;
	p = t->arena_end - placed;
	memset(p, 0, placed);
	memcpy(p, &c->arg, d->size);
	if (c->tail == TAIL_DIRTY && placed > d->size)
		p[d->size + below(&t->rng, placed - d->size)] =
			1 + below(&t->rng, 255);

	switch (c->ptr) {
	case PTR_OK:
		argp = p;
		break;
	case PTR_NULL:
		argp = NULL;
		break;
	case PTR_GUARD:
		argp = t->arena_end;
		break;
	default:
		argp = (void *)0xffff888000001000UL;
		break;
	}
	t->doing = d->name;
	c->ns = now_ns();
	c->ret = ioctl(fd, c->cmd, argp) ? -errno : 0;
	c->ns = now_ns() - c->ns;
	t->doing = "between calls";
	memcpy(&c->arg, p, d->size);
	c->exact = c->slot < 0 ||
		   (fz_gen(c->slot) == c->e.gen && c->e.fd >= 0 &&
		    (c->slot2 < 0 || fz_gen(c->slot2) == c->gen2));
}

/* Judge a call against the header, and count it. */
static void fz_check(struct fz_thread *t, struct fz_call *c)
{
	const struct fz_ioctl_desc *d = &fz_ioctls[c->op];
	int err = (int)-c->ret;
	bool ours = c->slot < 0 || c->e.kind == FK_CTL ||
		    c->e.kind == FK_REGION;

	t->fig.errnos[err & 0xff]++;
	atomic_fetch_add(&fz.calls, 1);
	atomic_fetch_add(&t->progress, 1);
	if (c->cmd == d->cmd &&
	    (c->slot < 0 || c->e.kind == (d->on_region ? FK_REGION : FK_CTL))) {
		t->fig.ioctl_calls[c->op]++;
		t->fig.ioctl_ns[c->op] += c->ns;
		if (!err)
			t->fig.ioctl_ok[c->op]++;
	} else if (c->cmd != d->cmd) {
		t->fig.bad_cmd++;
	} else {
		t->fig.wrong_fd++;
	}
	if (!ours || !c->exact)
		return;
	if (c->expect && err != c->expect) {
		fz_fail(t, "%s on a %s fd (%s): %s, expected %s", d->name,
			c->slot < 0 ? "closed" : fz_kind_names[c->e.kind],
			c->why, errname(err), errname(c->expect));
		return;
	}
	if (err && !fz_errno_documented(c->op, err) &&
	    !(err == EBADF && c->slot < 0))
		fz_fail(t, "%s (%s): %s is not documented for it", d->name,
			c->why, errname(err));
}

/* ---- valid calls ---- */

/* Mostly an uplink that was attached lately. */
static uint32_t fz_uplink(struct fz_thread *t)
{
	uint32_t ifindex;

	pthread_mutex_lock(&fz.lock);
	ifindex = fz.attached[below(&t->rng, FZ_ATTACHED)];
	pthread_mutex_unlock(&fz.lock);
	return ifindex && !one_in(&t->rng, 8) ? ifindex : fz_ifindex(t);
}

static void fz_rule_random(struct fz_thread *t, struct kpf_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->ifindex = fz_uplink(t);
	r->match = 1 + below(&t->rng, 3);
	if (r->match & KPF_RULE_F_VLAN)
		r->vlan = one_in(&t->rng, 3) ? 0 : 1 + below(&t->rng, 8);
	if (r->match & KPF_RULE_F_MAC) {
		r->mac[0] = 0x02;
		r->mac[5] = 1 + below(&t->rng, 8);
	}
	r->port_id = fz_port_pick(t).id;
}

/* A struct that could succeed, for ioctl @op on the fd in @c. */
static void fz_build_valid(struct fz_thread *t, struct fz_call *c)
{
	union fz_arg *a = &c->arg;
	struct fz_port port;
	struct fz_fd other;
	uint32_t i, n, base, len;
	uint8_t *data;

	switch (c->op) {
	case FZ_GET_INFO:
		break;
	case FZ_CREATE_REGION:
		c->slot2 = fz_pick(t, FK_VM);
		other = fz_snap(c->slot2);
		c->gen2 = other.gen;
		a->create_region.vm_fd = other.fd;
		a->create_region.nr_slots = one_in(&t->rng, 8) ?
						    1 + below(&t->rng, 1024) :
						    1 + below(&t->rng, 64);
		break;
	case FZ_POOL_FILL:
		len = 1 + below(&t->rng, PAGE_SIZE);
		data = fz_buf(t, len);
		memset(data, (int)t->rng, len);
		a->pool_fill.data = (uintptr_t)data;
		a->pool_fill.len = len;
		a->pool_fill.offset = below(&t->rng, PAGE_SIZE - len + 1);
		break;
	case FZ_POOL_DROP:
		a->pool_drop.handle =
			fz_handle_take(t, c->slot < 0 ? 0 : c->slot);
		break;
	case FZ_GET_STATS:
		if (one_in(&t->rng, 2))
			break;
		other = fz_snap(fz_pick(t, FK_REGION));
		a->get_stats.binding_id = other.fd >= 0 ? other.binding_id :
							  below(&t->rng, 100);
		break;
	case FZ_LIST_BINDINGS:
	case FZ_LIST_PORTS:
	case FZ_LIST_RULES:
		n = one_in(&t->rng, 4) ? 0 : below(&t->rng, 80);
		if (c->op == FZ_LIST_BINDINGS) {
			a->list_bindings.nr_entries = n;
			a->list_bindings.entries = fz_out_buf(
				t, n, sizeof(struct kpf_binding_info));
		} else if (c->op == FZ_LIST_PORTS) {
			a->list_ports.nr_entries = n;
			a->list_ports.entries =
				fz_out_buf(t, n, sizeof(struct kpf_port_info));
		} else {
			a->list_rules.ifindex =
				one_in(&t->rng, 2) ? 0 : fz_uplink(t);
			a->list_rules.nr_entries = n;
			a->list_rules.entries =
				fz_out_buf(t, n, sizeof(struct kpf_rule));
		}
		if (!n && one_in(&t->rng, 2)) {
			a->list_ports.entries = 0; /* same offset in all */
			a->list_rules.entries = 0;
		}
		break;
	case FZ_UPLINK_ATTACH:
		a->uplink_attach.ifindex = fz_ifindex(t);
		break;
	case FZ_UPLINK_DETACH:
		a->uplink_detach.ifindex = fz_uplink(t);
		break;
	case FZ_RULE_ADD:
		fz_rule_random(t, &a->rule_add.rule);
		break;
	case FZ_RULE_DEL:
		pthread_mutex_lock(&fz.lock);
		a->rule_del.rule = fz.rules[below(&t->rng, FZ_RULES)];
		pthread_mutex_unlock(&fz.lock);
		if (!a->rule_del.rule.match || one_in(&t->rng, 4))
			fz_rule_random(t, &a->rule_del.rule);
		break;
	case FZ_PORT_SET:
		a->port_set.port_id = fz_port_pick(t).id;
		a->port_set.copybreak =
			one_in(&t->rng, 3) ?
				KPF_COPYBREAK_DEFAULT :
				below(&t->rng, KPF_COPYBREAK_MAX + 1);
		break;
	case FZ_REGION_FLIP:
		n = one_in(&t->rng, 16) ? 1 + below(&t->rng, 64) :
					  1 + below(&t->rng, 4);
		if (c->e.nr_slots && n > c->e.nr_slots)
			n = c->e.nr_slots;
		{
			struct kpf_flip_entry *ent =
				fz_buf(t, n * sizeof(*ent));
			uint32_t nr = c->e.nr_slots ? c->e.nr_slots : 16;

			base = below(&t->rng, nr);
			for (i = 0; i < n; i++) {
				ent[i].slot =
					(base + i * (1 + one_in(&t->rng, 3))) %
					nr;
				ent[i].handle = fz_handle_take(t, c->e.ctl);
			}
			/* No slot twice (the mutations make that case). */
			for (i = 1; i < n; i++)
				if (ent[i].slot <= ent[i - 1].slot)
					n = i;
			a->region_flip.entries = (uintptr_t)ent;
			a->region_flip.nr_entries = n;
			c->flip = ent;
			c->flip_n = n;
		}
		break;
	case FZ_REGION_ADD_PORT:
		a->region_add_port.ring_size =
			2U << below(&t->rng, one_in(&t->rng, 8) ? 12 : 6);
		n = c->e.nr_slots ? c->e.nr_slots : 16;
		a->region_add_port.ring_slot = below(&t->rng, n);
		a->region_add_port.kick_fd = -1;
		a->region_add_port.irq_fd = -1;
		if (!one_in(&t->rng, 3)) {
			c->slot2 = fz_pick(t, FK_EVENTFD);
			other = fz_snap(c->slot2);
			c->gen2 = other.gen;
			a->region_add_port.kick_fd = other.fd;
			if (one_in(&t->rng, 2))
				a->region_add_port.irq_fd = other.fd;
		}
		a->region_add_port.copybreak =
			one_in(&t->rng, 2) ?
				KPF_COPYBREAK_DEFAULT :
				below(&t->rng, KPF_COPYBREAK_MAX + 1);
		break;
	case FZ_REGION_DEL_PORT:
		port = fz_port_pick(t);
		a->region_del_port.port_id = port.id;
		break;
	}
}

/* ---- calls that differ from a valid one in one place ---- */

/* Above KPF_COPYBREAK_MAX, and not KPF_COPYBREAK_DEFAULT. */
static uint32_t fz_bad_copybreak(struct fz_thread *t)
{
	return KPF_COPYBREAK_MAX + 1 +
	       below(&t->rng, KPF_COPYBREAK_DEFAULT - KPF_COPYBREAK_MAX - 1);
}

/* Whether the rings of an add-port call fit in its region. */
static bool fz_ring_fits(const struct fz_call *c)
{
	const struct kpf_region_add_port *a = &c->arg.region_add_port;

	return a->ring_slot < c->e.nr_slots &&
	       KPF_RING_PAGES(a->ring_size) <= c->e.nr_slots - a->ring_slot;
}

/* Change the call's header, pointer, command or fd; sets c->expect. */
static void fz_mutate_frame(struct fz_thread *t, struct fz_call *c)
{
	const struct fz_ioctl_desc *d = &fz_ioctls[c->op];
	unsigned int nr;

	switch (below(&t->rng, 10)) {
	case 0:
		c->size = below(&t->rng, d->min_size);
		c->expect = EINVAL;
		c->why = "size below the first version";
		break;
	case 1:
		c->size = PAGE_SIZE + 1 +
			  below(&t->rng, one_in(&t->rng, 2) ? 16 : 0x7fffffff);
		c->expect = E2BIG;
		c->why = "size above a page";
		break;
	case 2:
		c->size = d->size + 1 + below(&t->rng, PAGE_SIZE - d->size);
		c->tail = TAIL_DIRTY;
		c->expect = E2BIG;
		c->why = "non-zero tail";
		break;
	case 3:
		c->size = d->size + 1 + below(&t->rng, PAGE_SIZE - d->size);
		c->tail = TAIL_FAULT;
		c->expect = EFAULT;
		c->why = "tail beyond the mapping";
		break;
	case 4:
		c->arg.hdr.flags = one_in(&t->rng, 2) ?
					   1U << below(&t->rng, 32) :
					   (uint32_t)rnd(&t->rng) | 1;
		c->expect = EOPNOTSUPP;
		c->why = "unknown flag";
		break;
	case 5:
		c->ptr = 1 + below(&t->rng, 3);
		c->expect = EFAULT;
		c->why = "bad pointer";
		break;
	case 6:
		/* The other fd kind's table, a hole, or a size in the number. */
		nr = below(&t->rng, 3);
		if (nr == 0)
			c->cmd = _IO(KPF_TYPE,
				     d->on_region ?
					     below(&t->rng, FZ_REGION_FLIP) :
					     KPF_CMD_REGION_FLIP +
						     below(&t->rng, 3));
		else if (nr == 1)
			c->cmd = _IO(KPF_TYPE,
				     one_in(&t->rng, 2) ?
					     0x0d + below(&t->rng, 0x33) :
					     0x43 + below(&t->rng, 0xbd));
		else
			c->cmd = _IOC(1 + below(&t->rng, 3), KPF_TYPE,
				      _IOC_NR(d->cmd), d->size);
		c->expect = ENOTTY;
		c->why = "wrong command number";
		break;
	case 7:
		c->cmd = _IO(0xb9 + below(&t->rng, 2), _IOC_NR(d->cmd));
		c->expect = ENOTTY;
		c->why = "wrong ioctl type";
		break;
	case 8:
		c->slot = -1;
		c->expect = EBADF;
		c->why = "fd not open";
		break;
	default:
		/* Any other fd: the module's own give ENOTTY. */
		c->slot = below(&t->rng, FZ_FDS);
		c->e = fz_snap(c->slot);
		c->expect = (c->e.kind == FK_REGION) != d->on_region ? ENOTTY :
								       0;
		c->why = "an fd of another kind";
		if (c->e.fd < 0)
			c->slot = -1, c->expect = EBADF;
		break;
	}
}

/*
 * Change one value of the struct to something the header gives an errno
 * for (c->expect), or to something odd without one (c->expect 0).
 */
static void fz_mutate_value(struct fz_thread *t, struct fz_call *c)
{
	union fz_arg *a = &c->arg;
	int other;

	c->why = "odd value";
	switch (c->op) {
	case FZ_CREATE_REGION:
		switch (below(&t->rng, 4)) {
		case 0:
			a->create_region.nr_slots =
				one_in(&t->rng, 2) ?
					0 :
					fz.info.max_slots + 1 +
						below(&t->rng, 1000000);
			c->expect = EINVAL;
			c->why = "nr_slots out of range";
			break;
		case 1:
			a->create_region.vm_fd =
				one_in(&t->rng, 2) ? -1 : FZ_CLOSED_FD;
			c->slot2 = -1;
			c->expect = EBADF;
			c->why = "vm_fd not open";
			break;
		default:
			/* Any open fd but a VM's. */
			do {
				other = below(&t->rng, FZ_FDS);
			} while (fz.fds[other].kind == FK_VM);
			c->slot2 = other;
			c->gen2 = fz_gen(other);
			a->create_region.vm_fd = fz_snap(other).fd;
			c->expect = a->create_region.vm_fd < 0 ? EBADF : EINVAL;
			c->why = "vm_fd not a VM";
			break;
		}
		break;
	case FZ_POOL_FILL:
		switch (below(&t->rng, 5)) {
		case 0:
			a->pool_fill.len = 0;
			c->expect = EINVAL;
			c->why = "len 0";
			break;
		case 1:
			a->pool_fill.offset = 0xffffffff - below(&t->rng, 16);
			a->pool_fill.len = 16 + below(&t->rng, 100);
			c->expect = EOVERFLOW;
			c->why = "offset + len overflows";
			break;
		case 2:
			a->pool_fill.offset = PAGE_SIZE - below(&t->rng, 8);
			a->pool_fill.len = 9 + below(&t->rng, PAGE_SIZE);
			c->expect = EINVAL;
			c->why = "beyond the page";
			break;
		case 3:
			a->pool_fill.data = one_in(&t->rng, 2) ?
						    0 :
						    (uintptr_t)t->arena_end;
			c->expect = EFAULT;
			c->why = "data unreadable";
			break;
		default:
			a->pool_fill.__reserved = 1 + below(&t->rng, 0xfff);
			c->expect = EOPNOTSUPP;
			c->why = "reserved set";
			break;
		}
		break;
	case FZ_POOL_DROP:
	case FZ_GET_STATS:
	case FZ_LIST_BINDINGS:
	case FZ_LIST_PORTS:
	case FZ_UPLINK_DETACH:
	case FZ_REGION_DEL_PORT:
		if (one_in(&t->rng, 2)) {
			/* In each of these, __reserved is the fourth u32. */
			a->pool_drop.__reserved = 1 + below(&t->rng, 0xffff);
			c->expect = EOPNOTSUPP;
			c->why = "reserved set";
			break;
		}
		if (c->op == FZ_POOL_DROP) {
			a->pool_drop.handle = 0;
			c->expect = ENOENT;
			c->why = "handle 0";
		} else if (c->op == FZ_GET_STATS) {
			a->get_stats.binding_id = 0xffffffff;
			c->expect = ENOENT;
			c->why = "no such binding";
		} else if (c->op == FZ_UPLINK_DETACH) {
			a->uplink_detach.ifindex = FZ_NO_IFINDEX;
			c->expect = ENOENT;
			c->why = "no such uplink";
		} else if (c->op == FZ_REGION_DEL_PORT) {
			a->region_del_port.port_id =
				one_in(&t->rng, 2) ? 0 : 0xffffffff;
			c->expect = ENOENT;
			c->why = "no such port";
		} else if (c->op == FZ_LIST_BINDINGS) {
			a->list_bindings.nr_entries = edge32(&t->rng);
			a->list_bindings.entries =
				one_in(&t->rng, 2) ? 0 :
						     (uintptr_t)t->arena_end;
		} else {
			a->list_ports.nr_entries = edge32(&t->rng);
			a->list_ports.entries = one_in(&t->rng, 2) ?
							0 :
							(uintptr_t)t->arena_end;
		}
		break;
	case FZ_UPLINK_ATTACH:
		a->uplink_attach.ifindex = one_in(&t->rng, 2) ? FZ_NO_IFINDEX :
								0;
		c->expect = ENODEV;
		c->why = "no such device";
		if (one_in(&t->rng, 2)) {
			a->uplink_attach.ifindex = 1;
			c->expect = EINVAL;
			c->why = "lo is not Ethernet";
		}
		break;
	case FZ_RULE_ADD:
	case FZ_RULE_DEL:
		switch (below(&t->rng, 6)) {
		case 0:
			a->rule_add.rule.match = 0;
			a->rule_add.rule.vlan = 0;
			memset(a->rule_add.rule.mac, 0, 6);
			c->expect = EINVAL;
			c->why = "no match bit";
			break;
		case 1:
			a->rule_add.rule.match |= 4U << below(&t->rng, 29);
			c->expect = EOPNOTSUPP;
			c->why = "unknown match bit";
			break;
		case 2:
			a->rule_add.rule.match = KPF_RULE_F_VLAN;
			memset(a->rule_add.rule.mac, 0, 6);
			a->rule_add.rule.vlan =
				KPF_VLAN_MAX + 1 +
				below(&t->rng, 0xffff - KPF_VLAN_MAX);
			c->expect = EINVAL;
			c->why = "VLAN above the maximum";
			break;
		case 3:
			a->rule_add.rule.match = KPF_RULE_F_MAC;
			a->rule_add.rule.vlan = 0;
			a->rule_add.rule.mac[0] = one_in(&t->rng, 2) ? 0x01 :
								       0xff;
			c->expect = EINVAL;
			c->why = "multicast MAC";
			break;
		case 4:
			a->rule_add.rule.__reserved = 1 + below(&t->rng, 99);
			c->expect = EOPNOTSUPP;
			c->why = "reserved set";
			break;
		default:
			a->rule_add.rule.ifindex = FZ_NO_IFINDEX;
			c->expect = ENODEV;
			c->why = "no such uplink";
			break;
		}
		break;
	case FZ_LIST_RULES:
		a->list_rules.ifindex = FZ_NO_IFINDEX;
		c->expect = ENOENT;
		c->why = "no such uplink";
		break;
	case FZ_PORT_SET:
		if (one_in(&t->rng, 2)) {
			a->port_set.copybreak = fz_bad_copybreak(t);
			c->expect = EINVAL;
			c->why = "copybreak too large";
		} else {
			a->port_set.port_id = 0;
			c->expect = ENOENT;
			c->why = "port 0";
		}
		break;
	case FZ_REGION_FLIP: {
		struct kpf_flip_entry *ent =
			(void *)(uintptr_t)a->region_flip.entries;

		switch (below(&t->rng, 6)) {
		case 0:
			a->region_flip.nr_entries =
				one_in(&t->rng, 2) ?
					0 :
					fz.info.max_batch + 1 +
						below(&t->rng, 1u << 20);
			c->expect = EINVAL;
			c->why = "nr_entries out of range";
			break;
		case 1:
			ent[0].slot = c->e.nr_slots + below(&t->rng, 1000);
			c->expect = EINVAL;
			c->why = "slot out of range";
			break;
		case 2:
			if (a->region_flip.nr_entries < 2)
				break;
			ent[1].slot = ent[0].slot;
			c->expect = EINVAL;
			c->why = "slot twice";
			break;
		case 3:
			a->region_flip.entries =
				one_in(&t->rng, 2) ? 0 :
						     (uintptr_t)t->arena_end;
			c->expect = EFAULT;
			c->why = "entries unreadable";
			break;
		case 4:
			a->region_flip.__reserved2 = 1 + below(&t->rng, 9);
			c->expect = EOPNOTSUPP;
			c->why = "reserved set";
			break;
		default:
			ent[0].handle = 0;
			c->expect = ENOENT;
			c->why = "handle 0";
			/* A busy slot (a port's ring) comes first, though. */
			c->expect = 0;
			break;
		}
		break;
	}
	case FZ_REGION_ADD_PORT:
		switch (below(&t->rng, 6)) {
		case 0:
			a->region_add_port.ring_size =
				one_in(&t->rng, 2) ?
					edge32(&t->rng) | 1 :
					(uint32_t)KPF_RING_SIZE_MAX
						<< (1 + below(&t->rng, 8));
			c->expect = EINVAL;
			c->why = "ring_size";
			break;
		case 1:
			a->region_add_port.ring_slot =
				c->e.nr_slots + below(&t->rng, 0xffffff);
			c->expect = EINVAL;
			c->why = "ring beyond the region";
			break;
		case 2:
			a->region_add_port.copybreak = fz_bad_copybreak(t);
			c->expect = EINVAL;
			c->why = "copybreak too large";
			break;
		case 3:
			a->region_add_port.irq_fd =
				one_in(&t->rng, 2) ? -2 - below(&t->rng, 100) :
						     FZ_CLOSED_FD;
			c->slot2 = -1;
			c->expect = fz_ring_fits(c) ? EBADF : EINVAL;
			c->why = "irq_fd not open";
			break;
		case 4:
			do {
				other = below(&t->rng, FZ_FDS);
			} while (fz.fds[other].kind == FK_EVENTFD);
			c->slot2 = other;
			c->gen2 = fz_gen(other);
			a->region_add_port.irq_fd = fz_snap(other).fd;
			c->expect = a->region_add_port.irq_fd == -1 ? 0 :
								      EINVAL;
			c->why = "irq_fd not an eventfd";
			break;
		default:
			a->region_add_port.__reserved = 1;
			c->expect = EOPNOTSUPP;
			c->why = "reserved set";
			break;
		}
		break;
	default:
		break;
	}
	/* A bad value in a struct the kernel cannot read is EFAULT first. */
}

/* The fields of a valid struct, all random. */
static void fz_garbage(struct fz_thread *t, struct fz_call *c)
{
	union fz_arg *a = &c->arg;
	uint32_t i;

	for (i = 2; i < sizeof(c->arg) / 4; i++)
		((uint32_t *)c->arg.bytes)[i] =
			one_in(&t->rng, 2) ? edge32(&t->rng) : 0;
	c->expect = 0;
	c->why = "garbage";
	c->flip = NULL;
	/*
	 * Pointers the kernel writes through must not reach the fuzzer's own
	 * memory: past their room, they run into the guard page.
	 */
	switch (c->op) {
	case FZ_LIST_BINDINGS:
	case FZ_LIST_PORTS:
		a->list_ports.entries =
			one_in(&t->rng, 2) ?
				(uintptr_t)t->arena_end :
				fz_out_buf(t, a->list_ports.nr_entries, 1);
		break;
	case FZ_LIST_RULES:
		a->list_rules.entries =
			one_in(&t->rng, 2) ?
				(uintptr_t)t->arena_end :
				fz_out_buf(t, a->list_rules.nr_entries, 1);
		break;
	case FZ_POOL_FILL:
	case FZ_REGION_FLIP:
		/* Read only: any address will do. */
		break;
	default:
		break;
	}
}

/* ---- what a successful call leaves behind ---- */

/* A new region takes the place of an old one, which is closed. */
static void fz_region_install(struct fz_thread *t, struct fz_call *c)
{
	int i = fz_pick(t, FK_REGION), fd = c->arg.create_region.out_region_fd;
	struct fz_fd old;

	if (fz_take(i, &old)) {
		pthread_mutex_lock(&fz.lock);
		fz.fds[i].binding_id = c->arg.create_region.out_binding_id;
		fz.fds[i].nr_slots = c->arg.create_region.nr_slots;
		fz.fds[i].ctl = c->slot;
		pthread_mutex_unlock(&fz.lock);
		fz_put(i, fd);
		fd = old.fd;
	}
	if (fd >= 0) {
		t->fig.closes++;
		t->fig.teardowns++;
		close(fd);
	}
}

static void fz_after(struct fz_thread *t, struct fz_call *c)
{
	union fz_arg *a = &c->arg;
	struct kpf_flip_entry *ent;
	struct kpf_counters *k;
	struct fz_port p;
	bool kept;
	uint32_t i;

	if (c->ret) {
		/* A failed flip or drop consumed nothing: handles stay staged. */
		ent = c->flip;
		for (i = 0; ent && i < c->flip_n; i++)
			fz_handle_return(c->e.ctl, fz_gen(c->e.ctl),
					 ent[i].handle);
		if (c->op == FZ_POOL_DROP && c->slot >= 0)
			fz_handle_return(c->slot, c->e.gen,
					 a->pool_drop.handle);
		return;
	}
	if (c->cmd != fz_ioctls[c->op].cmd)
		return;
	switch (c->op) {
	case FZ_CREATE_REGION:
		if (c->exact)
			fz_region_install(t, c);
		else
			close(a->create_region.out_region_fd);
		break;
	case FZ_POOL_FILL:
		if (c->slot >= 0)
			fz_handle_add(c->slot, c->e.gen,
				      a->pool_fill.out_handle, &kept);
		else
			kept = false;
		if (!kept && c->slot >= 0) {
			/* Don't let staged pages pile up. */
			struct fz_call drop = {
				.op = FZ_POOL_DROP,
				.cmd = KPF_POOL_DROP,
				.slot = c->slot,
				.e = c->e,
				.slot2 = -1,
				.size = sizeof(struct kpf_pool_drop),
				.why = "drop",
			};

			drop.arg.pool_drop.handle = a->pool_fill.out_handle;
			fz_issue(t, &drop);
			fz_check(t, &drop);
		}
		break;
	case FZ_GET_STATS:
		k = &a->get_stats.counters;
		if (!a->get_stats.binding_id && c->exact &&
		    c->size >= sizeof(a->get_stats) &&
		    !kpf_counters_balanced(k))
			fz_fail(t,
				"totals do not balance: %llu free + %llu staged + %llu in slots + %llu quarantined != %llu allocated",
				k->pages_free, k->pages_staged,
				k->pages_in_slots, k->pages_quarantined,
				k->pages_allocated);
		break;
	case FZ_UPLINK_ATTACH:
		if (!c->exact)
			break;
		fz_dev_add(a->uplink_attach.out_xdp_ifindex, DEV_OTHER, NULL);
		pthread_mutex_lock(&fz.lock);
		fz.attached[fz.next_attached++ % FZ_ATTACHED] =
			a->uplink_attach.ifindex;
		pthread_mutex_unlock(&fz.lock);
		break;
	case FZ_RULE_ADD:
		pthread_mutex_lock(&fz.lock);
		fz.rules[fz.next_rule++ % FZ_RULES] = a->rule_add.rule;
		pthread_mutex_unlock(&fz.lock);
		break;
	case FZ_REGION_ADD_PORT:
		if (!c->exact)
			break;
		p = (struct fz_port){
			.id = a->region_add_port.out_port_id,
			.region = c->slot,
			.region_gen = c->e.gen,
			.ring_slot = a->region_add_port.ring_slot,
			.ring_size = a->region_add_port.ring_size,
			.kick = a->region_add_port.kick_fd >= 0 ? c->slot2 : -1,
		};
		pthread_mutex_lock(&fz.lock);
		if (fz.nr_ports < FZ_PORTS && fz.fds[c->slot].gen == c->e.gen)
			fz.ports[fz.nr_ports++] = p;
		pthread_mutex_unlock(&fz.lock);
		break;
	case FZ_REGION_DEL_PORT:
		fz_port_forget(a->region_del_port.port_id);
		break;
	default:
		break;
	}
}

/* One ioctl: valid (a third), one thing changed, or garbage. */
static void fz_op_ioctl(struct fz_thread *t)
{
	unsigned int total = 0, w, op;
	struct fz_call c = { .slot2 = -1 };
	uint32_t mode;

	for (op = 0; op < FZ_NR_IOCTLS; op++)
		total += fz_ioctls[op].weight;
	w = below(&t->rng, total);
	for (op = 0; w >= fz_ioctls[op].weight; op++)
		w -= fz_ioctls[op].weight;

	c.op = op;
	c.cmd = fz_ioctls[op].cmd;
	c.size = fz_ioctls[op].size;
	c.why = "valid";
	c.slot = fz_pick(t, fz_ioctls[op].on_region ? FK_REGION : FK_CTL);
	c.e = fz_snap(c.slot);
	if (c.e.fd < 0)
		c.slot = -1, c.expect = EBADF, c.why = "fd being replaced";
	fz_build_valid(t, &c);
	if (one_in(&t->rng, 8))
		c.tail = TAIL_ZERO, c.size += 1 + below(&t->rng, 64);
	if (op == FZ_GET_INFO && one_in(&t->rng, 4))
		c.size = fz_ioctls[op].min_size +
			 below(&t->rng, c.size - fz_ioctls[op].min_size);

	mode = below(&t->rng, 100);
	if (c.slot < 0 || mode < fz_mix->valid)
		;
	else if (mode < fz_mix->valid + fz_mix->value)
		fz_mutate_value(t, &c);
	else if (mode < fz_mix->valid + fz_mix->value + fz_mix->frame)
		fz_mutate_frame(t, &c);
	else
		fz_garbage(t, &c);
	fz_issue(t, &c);
	fz_check(t, &c);
	fz_after(t, &c);
}

/* ---- mappings ---- */

static void fz_sigbus(int sig)
{
	if (fz_self && fz_self->touching)
		siglongjmp(fz_self->touch_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void fz_op_mmap(struct fz_thread *t)
{
	int i = fz_pick(t, FK_REGION), flags = MAP_SHARED, expect = 0;
	struct fz_port port = fz_port_pick(t);
	uint32_t pgoff, npages;
	struct fz_fd e;
	void *addr;

	/* Half of the time a port's rings, for the guest side of touches. */
	if (port.region >= 0 && one_in(&t->rng, 2))
		i = port.region;
	e = fz_snap(i);
	if (e.fd < 0 || !e.nr_slots)
		return;
	pgoff = below(&t->rng, e.nr_slots);
	npages = 1 + below(&t->rng, e.nr_slots - pgoff);
	if (npages > 16)
		npages = 16;
	if (i == port.region && e.gen == port.region_gen) {
		pgoff = port.ring_slot;
		npages = KPF_RING_PAGES(port.ring_size);
		npages += below(&t->rng, e.nr_slots - pgoff - npages + 1);
	}
	switch (below(&t->rng, 12)) {
	case 0:
		flags = MAP_PRIVATE;
		expect = EINVAL;
		break;
	case 1:
		pgoff = e.nr_slots + below(&t->rng, 100);
		expect = EINVAL;
		break;
	case 2:
		npages = e.nr_slots - pgoff + 1 + below(&t->rng, 4);
		expect = EINVAL;
		break;
	default:
		break;
	}
	t->doing = "mmap";
	addr = mmap(NULL, (size_t)npages * PAGE_SIZE, PROT_READ | PROT_WRITE,
		    flags, e.fd, (off_t)pgoff * PAGE_SIZE);
	t->doing = "between calls";
	t->fig.mmaps++;
	atomic_fetch_add(&fz.calls, 1);
	atomic_fetch_add(&t->progress, 1);
	if (fz_gen(i) != e.gen) {
		/* The fd may have been anything meanwhile. */
		if (addr != MAP_FAILED)
			munmap(addr, (size_t)npages * PAGE_SIZE);
		return;
	}
	t->fig.errnos[addr == MAP_FAILED ? errno & 0xff : 0]++;
	if (expect && addr != MAP_FAILED)
		fz_fail(t,
			"mmap of a region (%u slots) at page %u, %u pages, %s: succeeded",
			e.nr_slots, pgoff, npages,
			flags == MAP_PRIVATE ? "private" : "shared");
	else if (expect && errno != expect)
		fz_fail(t, "mmap of a region, invalid: %s, expected %s",
			errname(errno), errname(expect));
	else if (!expect && addr == MAP_FAILED)
		fz_fail(t,
			"mmap of a region (%u slots) at page %u, %u pages: %s",
			e.nr_slots, pgoff, npages, errname(errno));
	if (addr == MAP_FAILED)
		return;
	if (t->nr_maps == FZ_MAPS) {
		munmap(t->maps[0].addr, t->maps[0].len);
		t->fig.munmaps++;
		t->maps[0] = t->maps[--t->nr_maps];
	}
	t->maps[t->nr_maps].addr = addr;
	t->maps[t->nr_maps].len = (size_t)npages * PAGE_SIZE;
	t->maps[t->nr_maps].region = i;
	t->maps[t->nr_maps].gen = e.gen;
	t->maps[t->nr_maps].pgoff = pgoff;
	t->nr_maps++;
}

static void fz_op_munmap(struct fz_thread *t)
{
	unsigned int k;

	if (!t->nr_maps)
		return;
	k = below(&t->rng, t->nr_maps);
	if (munmap(t->maps[k].addr, t->maps[k].len))
		fz_fail(t, "munmap of a region mapping: %s", errname(errno));
	t->fig.munmaps++;
	atomic_fetch_add(&fz.calls, 1);
	atomic_fetch_add(&t->progress, 1);
	t->maps[k] = t->maps[--t->nr_maps];
}

/*
 * Read and write a mapped slot as a guest would.  Writes into a port's
 * ring pages post slots (avail ring and avail_idx) or scribble on them; a
 * kick of the port's doorbell makes the worker read what was written.
 */
static void fz_op_touch(struct fz_thread *t)
{
	volatile uint32_t *w;
	struct fz_port port;
	unsigned int k, n, i;
	uint32_t page, avail_idx;
	uint64_t one = 1;
	struct fz_fd kick;
	int sig;

	if (!t->nr_maps)
		return;
	k = below(&t->rng, t->nr_maps);
	page = below(&t->rng, t->maps[k].len / PAGE_SIZE);
	/* Prefer a port whose rings this mapping holds. */
	port = fz_port_pick(t);
	pthread_mutex_lock(&fz.lock);
	for (i = 0; i < fz.nr_ports; i++) {
		if (fz.ports[i].region == t->maps[k].region &&
		    fz.ports[i].ring_slot == t->maps[k].pgoff &&
		    fz.ports[i].region_gen == t->maps[k].gen) {
			port = fz.ports[i];
			break;
		}
	}
	pthread_mutex_unlock(&fz.lock);
	t->touching = 1;
	sig = sigsetjmp(t->touch_jmp, 1);
	if (sig) {
		t->touching = 0;
		fz_fail(t, "signal %d touching a region mapping", sig);
		t->maps[k] = t->maps[--t->nr_maps];
		return;
	}
	t->doing = "touching a mapping";
	if (port.region == t->maps[k].region &&
	    port.region_gen == t->maps[k].gen &&
	    port.ring_slot >= t->maps[k].pgoff &&
	    port.ring_slot + KPF_RING_PAGES(port.ring_size) <=
		    t->maps[k].pgoff + t->maps[k].len / PAGE_SIZE) {
		/* Post slots to the port, as its guest would. */
		struct kpf_ring_hdr *hdr =
			(void *)(t->maps[k].addr +
				 (size_t)(port.ring_slot - t->maps[k].pgoff) *
					 PAGE_SIZE);
		uint32_t *avail = (uint32_t *)((uint8_t *)hdr + PAGE_SIZE);

		avail_idx = hdr->avail_idx;
		n = 1 + below(&t->rng, 8);
		for (i = 0; i < n; i++)
			avail[(avail_idx + i) & (port.ring_size - 1)] =
				below(&t->rng, 64);
		hdr->used_event = hdr->used_idx;
		__atomic_store_n(&hdr->avail_idx,
				 one_in(&t->rng, 16) ? (uint32_t)rnd(&t->rng) :
						       avail_idx + n,
				 __ATOMIC_RELEASE);
		t->fig.posts++;
		if (port.kick >= 0) {
			kick = fz_snap(port.kick);
			if (kick.fd >= 0 && write(kick.fd, &one, 8) != 8)
				(void)0;
		}
	} else {
		w = (volatile uint32_t *)(t->maps[k].addr + page * PAGE_SIZE);
		n = w[below(&t->rng, PAGE_SIZE / 4)];
		if (one_in(&t->rng, 2))
			w[below(&t->rng, PAGE_SIZE / 4)] = n + 1;
	}
	t->doing = "between calls";
	t->touching = 0;
	t->fig.touches++;
}

/* read, write, poll and lseek on the module's fds: nothing to do there. */
static void fz_op_fileops(struct fz_thread *t)
{
	int i = fz_pick(t, one_in(&t->rng, 2) ? FK_CTL : FK_REGION);
	struct fz_fd e = fz_snap(i);
	struct pollfd pfd;
	char buf[64];
	ssize_t n;

	if (e.fd < 0)
		return;
	t->doing = "fileops";
	switch (below(&t->rng, 4)) {
	case 0:
		n = read(e.fd, buf, sizeof(buf));
		if (n >= 0 && fz_gen(i) == e.gen)
			fz_fail(t, "read of a %s fd returned %zd",
				fz_kind_names[e.kind], n);
		break;
	case 1:
		n = write(e.fd, buf, sizeof(buf));
		if (n >= 0 && fz_gen(i) == e.gen)
			fz_fail(t, "write to a %s fd returned %zd",
				fz_kind_names[e.kind], n);
		break;
	case 2:
		pfd = (struct pollfd){ .fd = e.fd, .events = POLLIN | POLLOUT };
		poll(&pfd, 1, 0);
		break;
	default:
		lseek(e.fd, (off_t)rnd(&t->rng) >> 2, SEEK_SET);
		break;
	}
	t->doing = "between calls";
	t->fig.fileops++;
	atomic_fetch_add(&fz.calls, 1);
	atomic_fetch_add(&t->progress, 1);
}

/* ---- devices and frames ---- */

/* A TAP device, up; its fd, or -1 without /dev/net/tun. */
static int fz_tap_create(int *ifindex, char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, IFNAMSIZ, "kpfz%%d");
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		close(fd);
		return -1;
	}
	snprintf(name, IFNAMSIZ, "%s", ifr.ifr_name);
	*ifindex = if_nametoindex(name);
	nic_set_flags(name, IFF_UP, 0);
	return fd;
}

/* Delete a TAP device (by closing it) and make a new one. */
static void fz_op_tap_replace(struct fz_thread *t)
{
	int i = fz_pick(t, FK_TAP), fd, ifindex = 0;
	struct fz_fd old;
	char name[IFNAMSIZ], vlan[IFNAMSIZ];

	if (!fz_take(i, &old))
		return;
	if (old.fd >= 0) {
		t->doing = "deleting a tap";
		close(old.fd);
		t->fig.taps_deleted++;
		t->fig.teardowns++;
	}
	fd = fz_tap_create(&ifindex, name);
	if (fd < 0) {
		fz_put(i, -1);
		return;
	}
	pthread_mutex_lock(&fz.lock);
	fz.fds[i].ifindex = ifindex;
	snprintf(fz.fds[i].name, IFNAMSIZ, "%s", name);
	pthread_mutex_unlock(&fz.lock);
	fz_put(i, fd);
	fz_dev_add(ifindex, DEV_TAP, name);
	t->fig.taps_made++;
	/* Now and then an 802.1Q device on it, which goes with it. */
	if (one_in(&t->rng, 3) &&
	    !nic_vlan_add(name, 1 + below(&t->rng, 8), vlan, sizeof(vlan)))
		fz_dev_add(if_nametoindex(vlan), DEV_VLAN, vlan);
	t->doing = "between calls";
}

/* A frame into a TAP device: the uplink receives it. */
static void fz_op_tap_send(struct fz_thread *t)
{
	uint8_t frame[1600] = { 0 };
	struct fz_fd e = fz_snap(fz_pick(t, FK_TAP));
	size_t len = 14 + below(&t->rng, 1500), at = 12;

	if (e.fd < 0)
		return;
	frame[0] = one_in(&t->rng, 4) ? 0xff : 0x02;
	memset(frame + 1, frame[0] == 0xff ? 0xff : 0, 5);
	if (frame[0] == 0x02)
		frame[5] = 1 + below(&t->rng, 8);
	frame[6] = 0x02;
	frame[11] = 0x99;
	if (one_in(&t->rng, 3)) {
		frame[at++] = 0x81;
		frame[at++] = 0x00;
		frame[at++] = 0;
		frame[at++] = below(&t->rng, 9);
	}
	frame[at] = 0x08;
	if (write(e.fd, frame, len) > 0)
		t->fig.frames_sent++;
}

/* Frames queued to a port through the test hook. */
static void fz_op_inject(struct fz_thread *t)
{
	struct fz_port p = fz_port_pick(t);
	char cmd[64];

	if (!fz.have_inject)
		return;
	snprintf(cmd, sizeof(cmd), "%u %u %u", p.id,
		 1 + below(&t->rng, one_in(&t->rng, 4) ? 20000 : 1500),
		 1 + below(&t->rng, 4));
	t->doing = "inject";
	if (!file_write(INJECT_HOOK, cmd))
		t->fig.injects++;
	t->doing = "between calls";
}

/* ---- teardown ---- */

static int fz_open_kind(enum fz_kind kind, int *sv_other)
{
	int sv[2];

	switch (kind) {
	case FK_CTL:
		return kpf_open();
	case FK_KVM:
		return open("/dev/kvm", O_RDWR | O_CLOEXEC);
	case FK_NULL:
		return open("/dev/null", O_RDWR | O_CLOEXEC);
	case FK_EVENTFD:
		return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	case FK_SOCKET:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			return -1;
		*sv_other = sv[1];
		return sv[0];
	default:
		return -1;
	}
}

static void __guest fz_guest(uint64_t arg)
{
	(void)arg;
}

/* Close a VM (its regions keep it alive) and make a new one. */
static void fz_vm_replace(struct fz_thread *t, int i)
{
	int vcpu = fz_kind_first(FK_VCPU) + (i - (int)fz_kind_first(FK_VM));
	struct fz_fd old, old_vcpu;
	struct kvm_vm *vm;

	if (!fz_take(i, &old))
		return;
	/* Only this thread can take the vCPU now. */
	fz_take(vcpu, &old_vcpu);
	t->doing = "closing a VM";
	vm_free(old.vm);
	t->fig.closes += 2;
	vm = vm_create();
	vm_vcpu_add(vm, fz_guest, 0);
	pthread_mutex_lock(&fz.lock);
	fz.fds[i].vm = vm;
	pthread_mutex_unlock(&fz.lock);
	fz_put(i, vm->fd);
	fz_put(vcpu, vm->vcpus[0]->fd);
	t->doing = "between calls";
}

/* Read the module totals; they must balance after any teardown. */
static void fz_check_totals(struct fz_thread *t, const char *after)
{
	struct kpf_counters c;
	int ctl = kpf_open(), ret;

	if (ctl < 0) {
		fz_fail(t, "open " KPF_DEV ": %s", errname(-ctl));
		return;
	}
	ret = kpf_get_stats(ctl, 0, &c);
	if (ret)
		fz_fail(t, "KPF_GET_STATS after %s: %s", after, errname(-ret));
	else if (!kpf_counters_balanced(&c))
		fz_fail(t,
			"after %s: %llu free + %llu staged + %llu in slots + %llu quarantined != %llu allocated",
			after, c.pages_free, c.pages_staged, c.pages_in_slots,
			c.pages_quarantined, c.pages_allocated);
	close(ctl);
	atomic_fetch_add(&fz.calls, 1);
}

/*
 * Close something while the other threads may be using it: a control fd,
 * a region fd (plainly, or by dup2() of /dev/null over it), a VM, an
 * eventfd, a socket, a TAP device, or an uplink of a real NIC.
 */
static void fz_op_teardown(struct fz_thread *t)
{
	static const enum fz_kind kinds[] = { FK_CTL,	  FK_REGION, FK_REGION,
					      FK_EVENTFD, FK_SOCKET, FK_VM,
					      FK_TAP,	  FK_KVM,    FK_NULL };
	enum fz_kind kind = kinds[below(&t->rng, ARRAY_SIZE(kinds))];
	int i = fz_pick(t, kind), nfd, other = -1, null;
	const char *what = fz_kind_names[kind];
	struct fz_fd old;

	if (kind == FK_VM) {
		/* A VM costs a lot to make: rarely. */
		if (!one_in(&t->rng, 8))
			return;
		fz_vm_replace(t, i);
	} else if (kind == FK_TAP) {
		if (!fz.have_tun)
			return;
		fz_op_tap_replace(t);
	} else if (kind == FK_REGION) {
		if (!fz_take(i, &old))
			return;
		if (old.fd < 0) {
			fz_put(i, -1);
			return;
		}
		t->doing = "closing a region";
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		/* dup2() closes the region file as close() does. */
		if (null >= 0 && one_in(&t->rng, 3))
			dup2(null, old.fd);
		if (null >= 0)
			close(null);
		close(old.fd);
		t->fig.closes++;
		fz_put(i, -1);
	} else {
		if (!fz_take(i, &old))
			return;
		t->doing = "closing an fd";
		if (old.fd >= 0)
			close(old.fd);
		t->fig.closes++;
		nfd = fz_open_kind(kind, &other);
		if (other >= 0)
			close(other);
		fz_put(i, nfd);
	}
	t->doing = "between calls";
	t->fig.teardowns++;
	atomic_fetch_add(&t->progress, 1);
	fz_check_totals(t, what);
}

/* ---- the threads ---- */

static void *fz_thread_main(void *arg)
{
	struct fz_thread *t = arg;
	unsigned int w, op;
	uint64_t start;

	fz_self = t;
	while (!atomic_load(&fz.stop) && atomic_load(&fz.calls) < fz.target) {
		w = below(&t->rng, 10000);
		for (op = 0; w >= fz_mix->op_weight[op]; op++)
			w -= fz_mix->op_weight[op];
		start = now_ns();
		switch (op) {
		case OP_IOCTL:
			fz_op_ioctl(t);
			break;
		case OP_MMAP:
			fz_op_mmap(t);
			break;
		case OP_MUNMAP:
			fz_op_munmap(t);
			break;
		case OP_TOUCH:
			fz_op_touch(t);
			break;
		case OP_FILEOPS:
			fz_op_fileops(t);
			break;
		case OP_TAP_SEND:
			fz_op_tap_send(t);
			break;
		case OP_INJECT:
			fz_op_inject(t);
			break;
		default:
			fz_op_teardown(t);
			break;
		}
		t->fig.op_count[op]++;
		t->fig.op_ns[op] += now_ns() - start;
	}
	while (t->nr_maps) {
		t->nr_maps--;
		munmap(t->maps[t->nr_maps].addr, t->maps[t->nr_maps].len);
		t->fig.munmaps++;
	}
	atomic_store(&t->done, true);
	return NULL;
}

static unsigned long env_ulong(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

/* Fill the fd table: every kind, with VMs from selftests/lib. */
static void fz_setup(struct __test_metadata *_metadata)
{
	unsigned int kind, j, i = 0;
	int other = -1, fd;
	struct stat st;

	for (kind = 0; kind < FK_NR_KINDS; kind++) {
		for (j = 0; j < fz_kind_count[kind]; j++, i++) {
			fz.fds[i] = (struct fz_fd){ .fd = -1, .kind = kind };
			if (kind == FK_VM) {
				fz.fds[i].vm = vm_create();
				vm_vcpu_add(fz.fds[i].vm, fz_guest, 0);
				fz.fds[i].fd = fz.fds[i].vm->fd;
			} else if (kind == FK_VCPU) {
				fz.fds[i].fd = fz.fds[i - fz_kind_count[FK_VM]]
						       .vm->vcpus[0]
						       ->fd;
			} else if (kind == FK_TAP) {
				fd = fz_tap_create(&fz.fds[i].ifindex,
						   fz.fds[i].name);
				fz.fds[i].fd = fd;
				if (fd >= 0) {
					fz.have_tun = true;
					fz_dev_add(fz.fds[i].ifindex, DEV_TAP,
						   fz.fds[i].name);
				}
			} else if (kind != FK_REGION) {
				fz.fds[i].fd = fz_open_kind(kind, &other);
				if (other >= 0)
					close(other);
				other = -1;
				ASSERT_LE(0, fz.fds[i].fd)
				TH_LOG("opening a %s fd: %s",
				       fz_kind_names[kind], strerror(errno));
			}
		}
	}
	ASSERT_EQ(FZ_FDS, i);

	/* The first region tells what a region file looks like. */
	fd = fz_kind_first(FK_REGION);
	ASSERT_EQ(0, kpf_create_region(fz.fds[0].fd,
				       fz.fds[fz_kind_first(FK_VM)].fd, 4,
				       &fz.fds[fd].fd, &fz.fds[fd].binding_id));
	fz.fds[fd].nr_slots = 4;
	fz.fds[fd].ctl = 0;
	ASSERT_EQ(0, fstat(fz.fds[fd].fd, &st));
	fz.region_dev = st.st_dev;
	ASSERT_EQ(0, fstat(fz.fds[0].fd, &st));
	fz.ctl_rdev = st.st_rdev;
}

/* The test VM's real NICs, when init named them, as uplinks to try. */
static void fz_add_real_nics(void)
{
	static const char *const envs[] = { NIC_ENV_XDP, NIC_ENV_SKB };
	char name[IFNAMSIZ], why[128];
	unsigned int k;
	int ifindex;

	for (k = 0; k < ARRAY_SIZE(envs); k++) {
		ifindex = nic_from_env(envs[k], name, sizeof(name), why,
				       sizeof(why));
		if (ifindex > 0)
			fz_dev_add(ifindex, DEV_REAL, name);
	}
}

/* Detach every device of the system that is an uplink, through @ctl. */
static void fz_detach_all(int ctl)
{
	struct if_nameindex *ifs, *ifp;

	ifs = if_nameindex();
	for (ifp = ifs; ifp && ifp->if_index; ifp++) {
		struct kpf_uplink_detach d = {
			.size = sizeof(d),
			.ifindex = ifp->if_index,
		};

		ioctl(ctl, KPF_UPLINK_DETACH, &d);
	}
	if (ifs)
		if_freenameindex(ifs);
}

/*
 * Close everything the fuzzer opened but @keep, close any control or
 * region fd a call returned that the table lost track of, and detach every
 * uplink through @keep.
 */
static void fz_teardown_all(int keep)
{
	struct stat st;
	unsigned int i;
	int fd;

	for (i = 0; i < FZ_FDS; i++) {
		if (fz.fds[i].kind == FK_VM) {
			vm_free(fz.fds[i].vm);
			fz.fds[i].fd = -1;
		} else if (fz.fds[i].kind != FK_VCPU && fz.fds[i].fd >= 0) {
			close(fz.fds[i].fd);
		}
		fz.fds[i].fd = -1;
	}
	for (fd = 3; fd < 4096; fd++) {
		if (fd == keep || fstat(fd, &st))
			continue;
		if (st.st_dev == fz.region_dev ||
		    (S_ISCHR(st.st_mode) && st.st_rdev == fz.ctl_rdev))
			close(fd);
	}
	fz_detach_all(keep);
}

static void fz_report(struct __test_metadata *_metadata,
		      struct fz_thread *threads, unsigned int nr, double secs)
{
	struct fz_figures sum = { 0 };
	unsigned int i, k;
	uint64_t total = 0;

	for (i = 0; i < nr; i++) {
		const struct fz_figures *f = &threads[i].fig;

		for (k = 0; k < FZ_NR_IOCTLS; k++) {
			sum.ioctl_calls[k] += f->ioctl_calls[k];
			sum.ioctl_ok[k] += f->ioctl_ok[k];
			sum.ioctl_ns[k] += f->ioctl_ns[k];
		}
		for (k = 0; k < 256; k++)
			sum.errnos[k] += f->errnos[k];
		for (k = 0; k < OP_NR; k++) {
			sum.op_count[k] += f->op_count[k];
			sum.op_ns[k] += f->op_ns[k];
		}
		sum.bad_cmd += f->bad_cmd;
		sum.wrong_fd += f->wrong_fd;
		sum.mmaps += f->mmaps;
		sum.munmaps += f->munmaps;
		sum.touches += f->touches;
		sum.fileops += f->fileops;
		sum.closes += f->closes;
		sum.teardowns += f->teardowns;
		sum.taps_made += f->taps_made;
		sum.taps_deleted += f->taps_deleted;
		sum.frames_sent += f->frames_sent;
		sum.injects += f->injects;
		sum.posts += f->posts;
	}
	printf("# fuzz: seed %#llx, %u threads, %lu calls in %.1f s (%.0f/s)\n",
	       (unsigned long long)fz.seed, nr, atomic_load(&fz.calls), secs,
	       atomic_load(&fz.calls) / (secs > 0 ? secs : 1));
	printf("# fuzz: replay with KPF_FUZZ_SEED=%#llx KPF_FUZZ_THREADS=%u KPF_FUZZ_CALLS=%lu KPF_FUZZ_MIX=%s\n",
	       (unsigned long long)fz.seed, nr, fz.target, fz_mix->name);
	for (k = 0; k < FZ_NR_IOCTLS; k++) {
		printf("# fuzz: %-18s %9llu calls, %8llu succeeded, %7.1f us each\n",
		       fz_ioctls[k].name,
		       (unsigned long long)sum.ioctl_calls[k],
		       (unsigned long long)sum.ioctl_ok[k],
		       sum.ioctl_calls[k] ?
			       sum.ioctl_ns[k] / 1e3 / sum.ioctl_calls[k] :
			       0);
		total += sum.ioctl_calls[k];
	}
	printf("# fuzz: %llu right-fd ioctls, %llu with a wrong command number, %llu on an fd of another kind\n",
	       (unsigned long long)total, (unsigned long long)sum.bad_cmd,
	       (unsigned long long)sum.wrong_fd);
	printf("# fuzz: %llu mmap, %llu munmap, %llu touches (%llu ring posts), %llu read/write/poll/lseek\n",
	       (unsigned long long)sum.mmaps, (unsigned long long)sum.munmaps,
	       (unsigned long long)sum.touches, (unsigned long long)sum.posts,
	       (unsigned long long)sum.fileops);
	printf("# fuzz: %llu teardowns (%llu closes), %llu TAP devices made, %llu deleted, %llu frames sent, %llu injections\n",
	       (unsigned long long)sum.teardowns,
	       (unsigned long long)sum.closes,
	       (unsigned long long)sum.taps_made,
	       (unsigned long long)sum.taps_deleted,
	       (unsigned long long)sum.frames_sent,
	       (unsigned long long)sum.injects);
	for (k = 0; k < OP_NR; k++)
		printf("# fuzz: op %-22s %9llu times, %9.1f us each, %5.1f s in all\n",
		       fz_op_names[k], (unsigned long long)sum.op_count[k],
		       sum.op_count[k] ? sum.op_ns[k] / 1e3 / sum.op_count[k] :
					 0,
		       sum.op_ns[k] / 1e9);
	printf("# fuzz: errnos:");
	for (k = 0; k < 256; k++)
		if (sum.errnos[k])
			printf(" %s=%llu", errname(k),
			       (unsigned long long)sum.errnos[k]);
	printf("\n");
	fflush(stdout);
	(void)_metadata;
}

FIXTURE(fuzz)
{
	int ctl;
	struct kpf_info info;
};

FIXTURE_SETUP(fuzz)
{
	if (!devices_ready(_metadata, true))
		return;
	self->ctl = control_open(_metadata, &self->info);
}

/* A run that failed half-way leaves no uplink behind: the module unloads. */
FIXTURE_TEARDOWN(fuzz)
{
	if (self->ctl < 0)
		return;
	fz_detach_all(self->ctl);
	close(self->ctl);
}

TEST_F_TIMEOUT(fuzz, control_interface, 3600)
{
	unsigned int nr = env_ulong("KPF_FUZZ_THREADS", FZ_DEFAULT_THREADS);
	unsigned long limit = env_ulong("KPF_FUZZ_SECONDS", FZ_DEFAULT_SECONDS);
	struct fz_thread *threads;
	struct timespec t0, t1;
	unsigned long last = 0, stalled = 0, last_report = 0;
	struct sigaction sa = { .sa_handler = fz_sigbus };
	const char *mix;
	unsigned int i;
	double secs;

	if (nr < 1 || nr > FZ_MAX_THREADS)
		nr = FZ_DEFAULT_THREADS;
	fz.info = self->info;
	fz.target = env_ulong("KPF_FUZZ_CALLS", FZ_DEFAULT_CALLS);
	fz.seed = env_ulong("KPF_FUZZ_SEED", 0);
	if (!fz.seed)
		ASSERT_EQ(sizeof(fz.seed),
			  getrandom(&fz.seed, sizeof(fz.seed), 0));
	mix = getenv("KPF_FUZZ_MIX");
	if (!mix || !*mix)
		mix = access("/sys/kernel/debug/kmemleak", F_OK) ? "full" :
								   "light";
	for (i = 0; i < ARRAY_SIZE(fz_mixes); i++)
		if (!strcmp(mix, fz_mixes[i].name))
			fz_mix = &fz_mixes[i];
	ASSERT_EQ_LOG(0, strcmp(mix, fz_mix->name),
		      "KPF_FUZZ_MIX=%s: no such mix (full, light)", mix);
	printf("# fuzz: seed %#llx, %u threads, %lu calls, %s mix\n",
	       (unsigned long long)fz.seed, nr, fz.target, fz_mix->name);
	fflush(stdout);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);

	/* Without TAP devices, only the real NICs are uplinks (said below). */
	(void)!system("modprobe -q tun 2>/dev/null");
	fz.have_inject = !access(INJECT_HOOK, W_OK);
	fz_add_real_nics();
	fz_setup(_metadata);
	if (!fz.have_tun)
		printf("# fuzz: no /dev/net/tun: no TAP devices\n");

	threads = calloc(nr, sizeof(*threads));
	ASSERT_NE(NULL, threads);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nr; i++) {
		threads[i].id = i;
		threads[i].rng = fz.seed ^ (0x9e3779b97f4a7c15ULL * (i + 1));
		threads[i].arena = mmap(NULL, (FZ_ARENA_PAGES + 1) * PAGE_SIZE,
					PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, threads[i].arena);
		threads[i].arena_end =
			threads[i].arena + FZ_ARENA_PAGES * PAGE_SIZE;
		ASSERT_EQ(0,
			  mprotect(threads[i].arena_end, PAGE_SIZE, PROT_NONE));
		threads[i].doing = "starting";
		ASSERT_EQ(0, pthread_create(&threads[i].thread, NULL,
					    fz_thread_main, &threads[i]));
	}

	/* The watchdog: every thread must keep finishing calls. */
	for (;;) {
		unsigned long now = 0;
		bool running = false;

		sleep(1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		for (i = 0; i < nr; i++) {
			now += atomic_load(&threads[i].progress);
			running |= !atomic_load(&threads[i].done);
		}
		if (atomic_load(&fz.calls) >= fz.target)
			break;
		if ((unsigned long)secs / 30 != last_report) {
			last_report = (unsigned long)secs / 30;
			printf("# fuzz: %lu calls after %.0f s\n",
			       atomic_load(&fz.calls), secs);
			fflush(stdout);
		}
		stalled = now == last ? stalled + 1 : 0;
		last = now;
		if (stalled >= FZ_HANG_SECONDS || secs > limit) {
			for (i = 0; i < nr; i++)
				TH_LOG("thread %u: %lu calls, now in %s", i,
				       atomic_load(&threads[i].progress),
				       threads[i].doing);
			fz_report(_metadata, threads, nr, secs);
			if (stalled >= FZ_HANG_SECONDS)
				ASSERT_TRUE_LOG(false,
						"no call finished for %lu s",
						stalled);
			ASSERT_TRUE_LOG(false, "only %lu calls in %lu s",
					atomic_load(&fz.calls), limit);
		}
		if (!running)
			break;
	}
	atomic_store(&fz.stop, true);
	for (i = 0; i < nr; i++)
		pthread_join(threads[i].thread, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	fz_report(_metadata, threads, nr, secs);

	/* Everything closed: nothing of the run may be left. */
	fz_teardown_all(self->ctl);
	for (i = 0; i < fz.nr_failures && i < FZ_MAX_FAILURES; i++)
		TH_LOG("%s", fz.failures[i]);
	ASSERT_EQ(0, fz.nr_failures);
	ASSERT_LE(fz.target, atomic_load(&fz.calls));
	ASSERT_MODULE_IDLE(self->ctl);
	{
		uint32_t n = 0;
		struct kpf_list_ports lp = { .size = sizeof(lp) };
		struct kpf_list_rules lr = { .size = sizeof(lr) };

		ASSERT_EQ(0, kpf_list_bindings(self->ctl, NULL, &n));
		ASSERT_EQ(0, n);
		ASSERT_EQ(0, ioctl(self->ctl, KPF_LIST_PORTS, &lp));
		ASSERT_EQ(0, lp.nr_entries);
		ASSERT_EQ(0, ioctl(self->ctl, KPF_LIST_RULES, &lr));
		ASSERT_EQ(0, lr.nr_entries);
	}
}

/*
 * Regressions: races the fuzzer found, each made likely enough here to fail
 * on the kernel it was found on.
 */

#define RACE_PORTS 64
#define RACE_RING_PAGES KPF_RING_PAGES(KPF_RING_SIZE_MAX)

struct race {
	atomic_int region; /* the region ports are added to now */
	atomic_uint last_id; /* the id the last port got */
	atomic_bool stop;
	atomic_ulong deleted; /* by guessing the id */
};

/* Deletes the port that is due next: ids are the lowest free ones. */
static void *race_delete_guessed(void *arg)
{
	struct race *r = arg;
	struct kpf_region_del_port del = { .size = sizeof(del) };

	while (!atomic_load(&r->stop)) {
		del.port_id = atomic_load(&r->last_id) + 1;
		if (!ioctl(atomic_load(&r->region), KPF_REGION_DEL_PORT, &del))
			atomic_fetch_add(&r->deleted, 1);
	}
	return NULL;
}

/*
 * KPF_REGION_DEL_PORT of a port that KPF_REGION_ADD_PORT is still setting
 * up (its id guessed: ids are the lowest free ones) freed it under the
 * creator's feet: the port was on the region's list, and so deletable,
 * before its rings were mapped and its doorbell wired, and the creator
 * then published the freed port under its id again.  kmemleak saw the
 * registry's node left behind at unload; KPF_LIST_PORTS would have read
 * the freed port.
 */
TEST_F_TIMEOUT(fuzz, add_port_races_del_port, 600)
{
	struct kpf_region_add_port add = {
		.size = sizeof(add),
		.ring_size = KPF_RING_SIZE_MAX,
		.copybreak = KPF_COPYBREAK_DEFAULT,
	};
	struct kpf_list_ports lp = { .size = sizeof(lp) };
	struct kvm_vm *vm = vm_create();
	unsigned int k, n = 0, rounds = 0;
	struct timespec t0, t1;
	struct race r = { 0 };
	int kick, bad_add = 0, fd;
	pthread_t thread;
	uint32_t binding;

	kick = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, kick);
	add.kick_fd = kick;
	add.irq_fd = kick;
	atomic_store(&r.region, -1);
	ASSERT_EQ(0, pthread_create(&thread, NULL, race_delete_guessed, &r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		ASSERT_EQ(0, kpf_create_region(self->ctl, vm->fd,
					       RACE_PORTS * RACE_RING_PAGES,
					       &fd, &binding));
		atomic_store(&r.last_id, 0);
		atomic_store(&r.region, fd);
		for (k = 0; k < RACE_PORTS; k++) {
			add.ring_slot = k * RACE_RING_PAGES;
			if (ioctl(fd, KPF_REGION_ADD_PORT, &add)) {
				if (!bad_add)
					bad_add = errno;
				continue;
			}
			atomic_store(&r.last_id, add.out_port_id);
			n++;
		}
		atomic_store(&r.region, -1);
		close(fd);
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (t1.tv_sec - t0.tv_sec < 15 && rounds < 200);
	atomic_store(&r.stop, true);
	pthread_join(thread, NULL);
	printf("# %u ports added in %u regions, %lu deleted by a guessed id\n",
	       n, rounds, atomic_load(&r.deleted));
	ASSERT_EQ_LOG(0, bad_add, "KPF_REGION_ADD_PORT: %s", strerror(bad_add));

	/* Every port went with its region; a freed one left behind shows. */
	ASSERT_EQ(0, ioctl(self->ctl, KPF_LIST_PORTS, &lp));
	ASSERT_EQ_LOG(0U, lp.nr_entries, "ports left: %u", lp.nr_entries);
	close(kick);
	vm_free(vm);
	ASSERT_MODULE_IDLE(self->ctl);
}

TEST_HARNESS_MAIN
