// SPDX-License-Identifier: GPL-2.0
/*
 * Integrity: teardown in every order (and by SIGKILL, and under a running
 * vCPU) leaves nothing behind; many flip rounds balance the counters
 * exactly; the module cannot be unloaded while anything of it is alive;
 * a page somebody still holds is quarantined, not reused.
 *
 * After each teardown the module totals must show no page staged or in a
 * slot, and free + staged + in slots + quarantined == allocated.  These
 * tests assume nothing else uses the module meanwhile (the runner runs one
 * test at a time).  None of them unloads the module: the runner does.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kpf_test.h"
#include "proc.h"

#define CANARY 0x1eaf
#define TD_SLOTS 8
#define TD_STAGES 8
#define HOLD_HOOK "/sys/kernel/debug/kvm-pageflip/hold"

FIXTURE(integrity)
{
	int ctl;
	struct kpf_info info;
};

FIXTURE_SETUP(integrity)
{
	if (!devices_ready(_metadata, true))
		return;
	self->ctl = control_open(_metadata, &self->info);
}

/* VMs and vCPU threads end with the test's process. */
FIXTURE_TEARDOWN(integrity)
{
	if (self->ctl >= 0)
		close(self->ctl);
}

/* Module totals, read through a control fd of their own, must be idle. */
#define ASSERT_IDLE_AFTER_TEARDOWN()      \
	do {                              \
		int __fd = kpf_open();    \
		ASSERT_LE(0, __fd);       \
		ASSERT_MODULE_IDLE(__fd); \
		close(__fd);              \
	} while (0)

/* Generation each slot must show at the guest's next check; 0 is zeros. */
static uint64_t expect_gen[TD_SLOTS];
static uint64_t expect_last;

/* Word @word of @slot in generation @gen (0: a zero page). */
static inline __guest uint64_t expected_word(uint64_t slot, uint64_t gen,
					     uint64_t word)
{
	return gen ? watch_pattern(CANARY, slot, gen, word) : 0;
}

/*
 * Checks every slot against expect_gen at each stage, and reports the
 * stage; returns once the host has set expect_last.
 */
static void __guest guest_check_gens(uint64_t nr_slots)
{
	const volatile uint64_t *region =
		(const volatile uint64_t *)KPF_REGION_GPA;
	uint64_t stage, slot, word;

	for (stage = 1; stage <= TD_STAGES; stage++) {
		for (slot = 0; slot < nr_slots; slot++) {
			uint64_t gen = READ_ONCE(expect_gen[slot]);

			for (word = 0; word < WORDS_PER_PAGE; word++) {
				uint64_t v =
					region[slot * WORDS_PER_PAGE + word];
				uint64_t want = expected_word(slot, gen, word);

				GUEST_ASSERT_FMT(
					v == want,
					"slot %lu word %lu reads %#lx, not %#lx",
					slot, word, v, want);
			}
		}
		if (READ_ONCE(expect_last))
			return;
		GUEST_SYNC(stage, 0);
	}
}

/* A VM bound to a region whose slots [0, 4) hold generation 1. */
struct bound {
	struct kvm_vm *vm;
	struct kpf_region region;
	struct kvm_vcpu *vcpu;
	uint32_t staged[2]; /* generation 2 for slots 5 and 6, left staged */
};

static void bound_setup(struct __test_metadata *_metadata, int ctl,
			struct bound *b)
{
	struct kpf_flip_entry e[4] = {
		{ .slot = 0 }, { .slot = 1 }, { .slot = 2 }, { .slot = 3 }
	};
	struct kpf_flip_entry extra[2] = { { .slot = 5 }, { .slot = 6 } };
	unsigned int i;
	struct ucall uc;

	b->vm = vm_create();
	ASSERT_EQ(0, kpf_region_attach(ctl, b->vm, TD_SLOTS, KPF_REGION_MEMSLOT,
				       KPF_REGION_GPA, &b->region));
	ASSERT_EQ(0, watch_stage(ctl, CANARY, 1, e, 4));
	ASSERT_EQ(0, kpf_region_flip(b->region.fd, e, 4, NULL));
	ASSERT_EQ(0, watch_stage(ctl, CANARY, 2, extra, 2));
	for (i = 0; i < 2; i++)
		b->staged[i] = extra[i].handle;
	for (i = 0; i < 4; i++)
		(*GUEST_VAR(b->vm, expect_gen))[i] = 1;
	b->vcpu = vm_vcpu_add(b->vm, guest_check_gens, TD_SLOTS);
	ASSERT_SYNC(b->vcpu, &uc, 1);
}

/* Flips the staged generation 2 into slot 5; the guest must see it. */
static void bound_flip_staged(struct __test_metadata *_metadata,
			      struct bound *b, uint64_t stage)
{
	struct kpf_flip_entry e = { .slot = 5, .handle = b->staged[0] };
	struct ucall uc;

	ASSERT_EQ(0, kpf_region_flip(b->region.fd, &e, 1, NULL));
	(*GUEST_VAR(b->vm, expect_gen))[5] = 2;
	ASSERT_SYNC(b->vcpu, &uc, stage);
}

/* The VM fd goes first; the region keeps the VM alive and working. */
TEST_F(integrity, teardown_vm_fd_first)
{
	struct bound b;

	bound_setup(_metadata, self->ctl, &b);
	vm_close_fds(b.vm);
	ASSERT_EQ(0, kpf_flip_one(self->ctl, &b.region, 7, "x", 1, 0));
	close(b.region.fd);
	b.region.fd = -1;
	kpf_region_release(&b.region);
	close(self->ctl);
	self->ctl = -1;
	vm_free(b.vm);
	ASSERT_IDLE_AFTER_TEARDOWN();
}

/* What a VMM does on exit: unmap the memslot's memory, then close. */
TEST_F(integrity, teardown_munmap_then_close)
{
	struct bound b;

	bound_setup(_metadata, self->ctl, &b);
	munmap(b.region.map, TD_SLOTS * PAGE_SIZE);
	b.region.map = NULL;
	kpf_region_release(&b.region);
	vm_free(b.vm);
	close(self->ctl);
	self->ctl = -1;
	ASSERT_IDLE_AFTER_TEARDOWN();
}

/* The region outlives its fd while it is mapped, and the guest still reads. */
TEST_F(integrity, teardown_region_fd_closed_while_mapped)
{
	uint64_t deadline = now_ms() + IDLE_TIMEOUT_MS;
	struct kpf_counters c;
	struct bound b;
	struct ucall uc;
	int ret;

	bound_setup(_metadata, self->ctl, &b);
	close(b.region.fd);
	b.region.fd = -1;
	ASSERT_EQ(0, kpf_get_stats(self->ctl, b.region.binding_id, &c));
	ASSERT_SYNC(b.vcpu, &uc, 2);
	kpf_region_release(&b.region);
	for (;;) {
		ret = kpf_get_stats(self->ctl, b.region.binding_id, &c);
		if (ret || now_ms() >= deadline)
			break;
		usleep(10000);
	}
	ASSERT_EQ_LOG(-ENOENT, ret, "the binding outlived its last mapping");
	vm_free(b.vm);
	close(self->ctl);
	self->ctl = -1;
	ASSERT_IDLE_AFTER_TEARDOWN();
}

/*
 * The control fd goes first: its staged frames stay with its regions,
 * which can still flip them in; they go back when the last region goes.
 */
TEST_F(integrity, teardown_control_fd_first)
{
	struct kpf_counters before, after;
	int stats = kpf_open();
	struct bound b;

	ASSERT_LE(0, stats);
	bound_setup(_metadata, self->ctl, &b);
	ASSERT_EQ(0, kpf_get_stats(stats, 0, &before));
	close(self->ctl);
	self->ctl = -1;
	ASSERT_EQ(0, kpf_get_stats(stats, 0, &after));
	ASSERT_EQ(before.pages_staged, after.pages_staged);
	bound_flip_staged(_metadata, &b, 2);
	kpf_region_release(&b.region);
	vm_free(b.vm);
	ASSERT_MODULE_IDLE(stats);
	close(stats);
}

#define KILL_ROUNDS 3
#define KILL_SLOTS 16
#define CHILD_SETUP_MS 60000
#define CHILD_RUN_MS 120000
#define CHILD_MAX_GEN 60000

/*
 * The child's guest stopped watching: say why.  The flips go on, since
 * what is tested here is the teardown; kpf_guest_test judges the guest.
 */
static void child_vcpu_stopped(struct kvm_vcpu *vcpu)
{
	struct ucall uc;
	char desc[512];

	vcpu_thread_join(vcpu, &uc);
	ucall_describe(vcpu->vm, &uc, desc, sizeof(desc));
	fprintf(stderr, "# the child's vCPU stopped: %s\n", desc);
}

/*
 * The child: a VM whose vCPU watches its slots while the child flips
 * generation after generation into them, until it is killed.  It writes
 * one byte to @ready once the first flip is done.  Any error ends it with
 * an exit code, which the parent reports.
 */
static void __attribute__((noreturn)) child_flip_until_killed(int ready)
{
	uint64_t deadline = now_ms() + CHILD_RUN_MS;
	struct kpf_flip_entry e[KILL_SLOTS];
	struct kpf_region region;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int ctl = kpf_open();
	uint64_t gen;

	if (ctl < 0)
		_exit(10);
	vm = vm_create();
	if (kpf_region_attach(ctl, vm, KILL_SLOTS, KPF_REGION_MEMSLOT,
			      KPF_REGION_GPA, &region))
		_exit(11);
	watch_setup(vm, CANARY, KILL_SLOTS, 0);
	vcpu = vm_vcpu_add(vm, guest_watch, 0);
	vcpu_thread_start(vcpu, CHILD_RUN_MS);
	for (gen = 1; gen <= CHILD_MAX_GEN && now_ms() < deadline; gen++) {
		uint32_t i;

		for (i = 0; i < KILL_SLOTS; i++)
			e[i].slot = i;
		if (watch_stage(ctl, CANARY, gen, e, KILL_SLOTS))
			_exit(12);
		watch_publish(vm, gen);
		if (kpf_region_flip(region.fd, e, KILL_SLOTS, NULL))
			_exit(13);
		if (gen == 1 && write(ready, "", 1) != 1)
			_exit(14);
		if (vcpu->threaded && vcpu_thread_finished(vcpu))
			child_vcpu_stopped(vcpu);
	}
	_exit(16);
}

/* SIGKILL while flipping, with a vCPU in the guest: nothing leaks. */
TEST_F_TIMEOUT(integrity, teardown_killed_mid_flip, 240)
{
	static const unsigned int delay_ms[KILL_ROUNDS] = { 0, 100, 400 };
	unsigned int round;

	for (round = 0; round < KILL_ROUNDS; round++) {
		struct pollfd pfd = { .events = POLLIN };
		int pipefd[2], status;
		pid_t pid;

		ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			close(pipefd[0]);
			child_flip_until_killed(pipefd[1]);
		}
		close(pipefd[1]);
		pfd.fd = pipefd[0];
		ASSERT_EQ_LOG(1, poll(&pfd, 1, CHILD_SETUP_MS),
			      "the child never flipped");
		usleep(delay_ms[round] * 1000);
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(0, wait_child(pid, &status, CHILD_SETUP_MS));
		ASSERT_TRUE_LOG(
			WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			"the child ended by itself: status %#x", status);
		close(pipefd[0]);
		ASSERT_IDLE_AFTER_TEARDOWN();
	}
}

/* Everything closed while another thread is in KVM_RUN in the guest. */
TEST_F_TIMEOUT(integrity, teardown_under_running_vcpu, 120)
{
	struct kpf_flip_entry e[TD_SLOTS];
	struct kpf_region region;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	char desc[256];
	uint32_t i, h;

	vm = vm_create();
	ASSERT_EQ(0,
		  kpf_region_attach(self->ctl, vm, TD_SLOTS, KPF_REGION_MEMSLOT,
				    KPF_REGION_GPA, &region));
	for (i = 0; i < TD_SLOTS; i++)
		e[i].slot = i;
	ASSERT_EQ(0, watch_stage(self->ctl, CANARY, 1, e, TD_SLOTS));
	ASSERT_EQ(0, kpf_region_flip(region.fd, e, TD_SLOTS, NULL));
	ASSERT_EQ(0, kpf_pool_fill(self->ctl, "x", 1, 0, &h));
	watch_setup(vm, CANARY, TD_SLOTS, 1);
	vcpu = vm_vcpu_add(vm, guest_watch, 0);
	vcpu_thread_start(vcpu, VCPU_TIMEOUT_MS);
	ASSERT_PASSES(vm, &vcpu, 1, 1);

	vm_close_fds(vm);
	kpf_region_release(&region);
	close(self->ctl);
	self->ctl = -1;
	/* Its memory gone, the guest cannot go on: KVM_RUN fails. */
	vcpu_thread_join(vcpu, &uc);
	ucall_describe(vm, &uc, desc, sizeof(desc));
	TH_LOG("the vCPU ended with: %s", desc);
	vm_free(vm);
	ASSERT_IDLE_AFTER_TEARDOWN();
}

#define ROUNDS 10000
#define ROUND_SLOTS 64
#define ROUND_MAX_BATCH 8
#define ROUND_TAG 0x524f554e44000000ULL
#define ROUND_FILL 16

/* The last fill of each slot: its round and offset; set by the host. */
struct round_fill {
	uint64_t round;
	uint64_t offset;
};

static struct round_fill last_fill[ROUND_SLOTS];

/* Word @word of @slot after the fill of @round at word @first. */
static inline __guest uint64_t round_word(uint64_t slot, uint64_t round,
					  uint64_t first, uint64_t word)
{
	if (word == first)
		return ROUND_TAG | round;
	if (word == first + 1)
		return slot;
	return 0;
}

/* Maps every slot (stage 1), then checks each slot's last fill. */
static void __guest guest_check_rounds(uint64_t nr_slots)
{
	const volatile uint64_t *region =
		(const volatile uint64_t *)KPF_REGION_GPA;
	uint64_t slot, word, sum = 0;

	for (slot = 0; slot < nr_slots; slot++)
		sum += region[slot * WORDS_PER_PAGE];
	GUEST_SYNC(1, sum);
	for (slot = 0; slot < nr_slots; slot++) {
		uint64_t first = READ_ONCE(last_fill[slot].offset) / 8;
		uint64_t round = READ_ONCE(last_fill[slot].round);

		for (word = 0; word < WORDS_PER_PAGE; word++) {
			uint64_t v = region[slot * WORDS_PER_PAGE + word];
			uint64_t want = round_word(slot, round, first, word);

			GUEST_ASSERT_FMT(
				v == want,
				"slot %lu word %lu reads %#lx, not %#lx", slot,
				word, v, want);
		}
	}
}

/*
 * Round @r's batch: 1 to 8 slots from a moving start, sometimes with a
 * gap in the middle, sometimes wrapping past the last slot, so that the
 * number of contiguous runs varies.
 */
static uint32_t round_batch(uint32_t r, struct kpf_flip_entry *e)
{
	uint32_t n = 1 + r % ROUND_MAX_BATCH, start = (r * 13) % ROUND_SLOTS;
	uint32_t gap = r % 3, i;

	for (i = 0; i < n; i++)
		e[i].slot = (start + i + (i >= (n + 1) / 2 ? gap : 0)) %
			    ROUND_SLOTS;
	return n;
}

/*
 * 10,000 host-driven batches: the binding's and the module's counters
 * move by exactly the flips, batches and runs the test made, every batch
 * reports its runs, and the guest finds each slot's last fill at the end.
 */
TEST_F_TIMEOUT(integrity, flip_rounds_balance, 240)
{
	struct kpf_counters mod0, mod1, bind;
	uint64_t flips = 0, runs = 0, fill[2];
	struct kpf_flip_entry e[ROUND_MAX_BATCH];
	struct kpf_region region;
	struct round_fill *last;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint32_t r, i, n, inval;

	vm = vm_create();
	ASSERT_EQ(0, kpf_region_attach(self->ctl, vm, ROUND_SLOTS,
				       KPF_REGION_MEMSLOT, KPF_REGION_GPA,
				       &region));
	vcpu = vm_vcpu_add(vm, guest_check_rounds, ROUND_SLOTS);
	ASSERT_SYNC(vcpu, &uc, 1);
	ASSERT_EQ(0, kpf_get_stats(self->ctl, 0, &mod0));

	last = *GUEST_VAR(vm, last_fill);
	for (r = 1; r <= ROUNDS; r++) {
		n = round_batch(r, e);
		for (i = 0; i < n; i++) {
			uint32_t offset = ((r + e[i].slot) % 255) * ROUND_FILL;

			fill[0] = ROUND_TAG | r;
			fill[1] = e[i].slot;
			ASSERT_EQ(0, kpf_pool_fill(self->ctl, fill, ROUND_FILL,
						   offset, &e[i].handle));
			last[e[i].slot] = (struct round_fill){ r, offset };
		}
		ASSERT_EQ_LOG(0, kpf_region_flip(region.fd, e, n, &inval),
			      "round %u", r);
		ASSERT_EQ_LOG(kpf_batch_runs(e, n), inval, "round %u", r);
		flips += n;
		runs += inval;
	}

	ASSERT_EQ(0, kpf_get_stats(self->ctl, region.binding_id, &bind));
	ASSERT_EQ(flips, bind.flips);
	ASSERT_EQ(ROUNDS, bind.batches);
	ASSERT_EQ(runs, bind.invalidations);
	ASSERT_EQ(0, kpf_get_stats(self->ctl, 0, &mod1));
	ASSERT_EQ(flips, mod1.flips - mod0.flips);
	ASSERT_EQ(ROUNDS, mod1.batches - mod0.batches);
	ASSERT_EQ(runs, mod1.invalidations - mod0.invalidations);
	ASSERT_EQ(flips * ROUND_FILL, mod1.bytes_filled - mod0.bytes_filled);
	ASSERT_EQ(0, mod1.pages_staged - mod0.pages_staged);
	ASSERT_TRUE(kpf_counters_balanced(&mod1));
	TH_LOG("%lu flips in %u batches, %lu unmap calls", flips, ROUNDS, runs);

	ASSERT_UCALL(vcpu, &uc, UCALL_DONE);
	kpf_region_release(&region);
	vm_free(vm);
	ASSERT_MODULE_IDLE(self->ctl);
}

/* delete_module(kvm_pageflip): 0 or a negative errno. */
static int try_rmmod(void)
{
	if (syscall(__NR_delete_module, KPF_MODULE_NAME, O_NONBLOCK))
		return -errno;
	return 0;
}

/*
 * rmmod while one thing of the module is alive: delete_module() must fail
 * with EWOULDBLOCK, and so leave the module loaded.
 */
FIXTURE(rmmod)
{
	int ctl;
	struct kvm_vm *vm;
};

FIXTURE_VARIANT(rmmod)
{
	const char *alive;
	bool region; /* a region fd */
	bool mapping; /* only a mapping of a region */
};

/* The harness's declarations are not calls: keep them as written. */
/* clang-format off */
FIXTURE_VARIANT_ADD(rmmod, control_fd) {
	.alive = "control fd",
};

FIXTURE_VARIANT_ADD(rmmod, region_fd) {
	.alive = "region fd",
	.region = true,
};

FIXTURE_VARIANT_ADD(rmmod, mapping) {
	.alive = "mapping of a region",
	.region = true,
	.mapping = true,
};
/* clang-format on */

FIXTURE_SETUP(rmmod)
{
	if (!devices_ready(_metadata, true))
		return;
	self->ctl = kpf_open();
	ASSERT_LE(0, self->ctl);
	self->vm = vm_create();
}

FIXTURE_TEARDOWN(rmmod)
{
}

TEST_F(rmmod, refused)
{
	void *map = NULL;
	int fd = -1, ret;
	uint32_t id;

	if (variant->region) {
		ASSERT_EQ(0, kpf_create_region(self->ctl, self->vm->fd, 1, &fd,
					       &id));
		close(self->ctl);
	}
	if (variant->mapping) {
		map = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, 0);
		ASSERT_NE(MAP_FAILED, map);
		close(fd);
	}
	ret = try_rmmod();
	if (ret == -EPERM)
		SKIP(return, "delete_module needs CAP_SYS_MODULE");
	ASSERT_NE_LOG(0, ret, "the module was unloaded with a live %s",
		      variant->alive);
	ASSERT_EQ_LOG(-EWOULDBLOCK, ret, "delete_module: %s", strerror(-ret));
	if (map)
		munmap(map, PAGE_SIZE);
	else if (fd >= 0)
		close(fd);
	else
		close(self->ctl);
}

/* Writes @cmd to the module's test hook. */
/*
 * A page that somebody else still references when it leaves its slot is
 * quarantined, never handed out, and returns once let go.  Needs the
 * module's test hook (test_hooks=1, debugfs mounted).
 */
TEST_F(integrity, quarantine_held_page)
{
	struct kpf_counters before, held, released, bind;
	struct bound b;
	struct ucall uc;
	char cmd[32];

	if (access(HOLD_HOOK, W_OK))
		SKIP(return, "no " HOLD_HOOK " (test_hooks=1)");
	bound_setup(_metadata, self->ctl, &b);
	ASSERT_EQ(0, kpf_get_stats(self->ctl, 0, &before));
	snprintf(cmd, sizeof(cmd), "%d 5", b.region.fd);
	ASSERT_EQ(0, file_write(HOLD_HOOK, cmd));
	bound_flip_staged(_metadata, &b, 2);

	ASSERT_EQ(0, kpf_get_stats(self->ctl, 0, &held));
	ASSERT_EQ(0, kpf_get_stats(self->ctl, b.region.binding_id, &bind));
	ASSERT_EQ(1, bind.quarantined);
	ASSERT_EQ(before.quarantined + 1, held.quarantined);
	ASSERT_EQ(before.pages_quarantined + 1, held.pages_quarantined);
	ASSERT_TRUE(kpf_counters_balanced(&held));

	ASSERT_EQ(0, file_write(HOLD_HOOK, "release"));
	ASSERT_EQ(0, kpf_get_stats(self->ctl, 0, &released));
	ASSERT_EQ(before.pages_quarantined, released.pages_quarantined);
	ASSERT_TRUE(kpf_counters_balanced(&released));

	*GUEST_VAR(b.vm, expect_last) = 1;
	ASSERT_UCALL(b.vcpu, &uc, UCALL_DONE);
	ASSERT_EQ(0, kpf_pool_drop(self->ctl, b.staged[1]));
	kpf_region_release(&b.region);
	vm_free(b.vm);
	ASSERT_MODULE_IDLE(self->ctl);
}

TEST_HARNESS_MAIN
