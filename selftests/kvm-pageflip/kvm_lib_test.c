// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the selftests' own KVM helper, without the module: that guests
 * run in 64-bit mode, report through ucalls, share globals with the host,
 * reach a memslot at 4 GiB, run on several vCPUs at once, keep running
 * through signals meant for someone else, and that the host notices a
 * guest that hangs or crashes.  The other tests rely on all of it.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mman.h>

#include "kpf_test.h"

#define HIGH_GPA KPF_REGION_GPA
#define HIGH_PAGES 4
#define HIGH_MAGIC 0x6869676866616365ULL
/* An address inside the identity map that no memslot backs. */
#define UNBACKED_GPA (6ULL << 30)
#define RENDEZVOUS_SPINS (1ULL << 32)

static uint64_t shared_in = 0x1111;
static uint64_t shared_out;
static uint64_t arrived[VM_MAX_VCPUS];
static uint64_t released;
#define STRAY_SIGNALS 20
#define STRAY_SIGNAL_GAP_NS 5000000L
/* How many gaps the sender waits for one signal to be handled. */
#define STRAY_SIGNAL_WAITS 2000

/* The harness's declarations are not calls: keep them as written. */
/* clang-format off */
FIXTURE(lib) {};
/* clang-format on */

FIXTURE_SETUP(lib)
{
	devices_ready(_metadata, false);
}

FIXTURE_TEARDOWN(lib)
{
}

static void __guest guest_sync_twice(uint64_t arg)
{
	GUEST_SYNC(1, arg);
	GUEST_SYNC(2, arg + 1);
}

TEST_F(lib, sync_then_done)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	vm = vm_create();
	vcpu = vm_vcpu_add(vm, guest_sync_twice, 41);
	ASSERT_SYNC(vcpu, &uc, 1);
	ASSERT_EQ(41, uc.args[1]);
	ASSERT_SYNC(vcpu, &uc, 2);
	ASSERT_EQ(42, uc.args[1]);
	ASSERT_UCALL(vcpu, &uc, UCALL_DONE);
	vm_free(vm);
}

static void __guest guest_fail_assert(uint64_t arg)
{
	GUEST_ASSERT_FMT(arg == 0, "arg %lu, twice %#lx", arg, arg * 2);
}

TEST_F(lib, guest_assert_reaches_host)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	char desc[512];

	vm = vm_create();
	vcpu = vm_vcpu_add(vm, guest_fail_assert, 7);
	ASSERT_UCALL(vcpu, &uc, UCALL_ASSERT);
	ucall_describe(vm, &uc, desc, sizeof(desc));
	TH_LOG("as reported: %s", desc);
	EXPECT_NE(NULL, strstr(desc, __FILE__));
	EXPECT_NE(NULL, strstr(desc, "arg == 0"));
	EXPECT_NE(NULL, strstr(desc, "arg 7, twice 0xe"));
	vm_free(vm);
}

static void __guest guest_ud2(uint64_t arg)
{
	(void)arg;
	__asm__ __volatile__("ud2");
}

TEST_F(lib, guest_exception_reaches_host)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	vm = vm_create();
	vcpu = vm_vcpu_add(vm, guest_ud2, 0);
	ASSERT_UCALL(vcpu, &uc, UCALL_EXCEPTION);
	EXPECT_EQ(6, uc.args[0]); /* #UD */
	EXPECT_LE((uintptr_t)guest_ud2, uc.args[2]);
	EXPECT_GT((uintptr_t)guest_ud2 + 64, uc.args[2]);
	vm_free(vm);
}

static void __guest guest_copy_global(uint64_t arg)
{
	(void)arg;
	WRITE_ONCE(shared_out, READ_ONCE(shared_in) + 1);
}

/*
 * The guest starts from the binary's initial data, not from the host's
 * globals, and each side sees the other's writes through GUEST_VAR().
 */
TEST_F(lib, globals_shared_with_host)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	shared_in = 0x2222;
	vm = vm_create();
	ASSERT_EQ(0x1111, *GUEST_VAR(vm, shared_in));
	*GUEST_VAR(vm, shared_in) = 0x3333;
	vcpu = vm_vcpu_add(vm, guest_copy_global, 0);
	ASSERT_UCALL(vcpu, &uc, UCALL_DONE);
	EXPECT_EQ(0x3334, *GUEST_VAR(vm, shared_out));
	EXPECT_EQ(0, shared_out);
	vm_free(vm);
}

static void __guest guest_touch_high(uint64_t arg)
{
	volatile uint64_t *p = (volatile uint64_t *)HIGH_GPA;
	uint64_t i;

	for (i = 0; i < arg; i++) {
		GUEST_ASSERT_FMT(p[i * 512] == HIGH_MAGIC + i,
				 "page %lu reads %#lx", i, p[i * 512]);
		p[i * 512 + 1] = ~(HIGH_MAGIC + i);
	}
}

TEST_F(lib, memslot_above_4g)
{
	size_t len = HIGH_PAGES * PAGE_SIZE;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t *mem, i;

	vm = vm_create();
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	for (i = 0; i < HIGH_PAGES; i++)
		mem[i * 512] = HIGH_MAGIC + i;
	vm_add_memslot(vm, KPF_REGION_MEMSLOT, HIGH_GPA, mem, len);
	vcpu = vm_vcpu_add(vm, guest_touch_high, HIGH_PAGES);
	ASSERT_UCALL(vcpu, &uc, UCALL_DONE);
	for (i = 0; i < HIGH_PAGES; i++)
		EXPECT_EQ(~(HIGH_MAGIC + i), mem[i * 512 + 1]);
	vm_free(vm);
	munmap(mem, len);
}

/* Each vCPU arrives, then waits until every other one has arrived too. */
static void __guest guest_rendezvous(uint64_t nr_vcpus)
{
	uint64_t id = __atomic_fetch_add(&shared_in, 1, __ATOMIC_SEQ_CST);
	uint64_t spins, i, all = 0;

	WRITE_ONCE(arrived[id], 1);
	for (spins = 0; spins < RENDEZVOUS_SPINS && all < nr_vcpus; spins++) {
		for (i = 0, all = 0; i < nr_vcpus; i++)
			all += READ_ONCE(arrived[i]);
		cpu_relax();
	}
	GUEST_ASSERT_FMT(all == nr_vcpus, "%lu of %lu vCPUs arrived", all,
			 nr_vcpus);
}

TEST_F(lib, vcpus_run_concurrently)
{
	const unsigned int nr = 2;
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	struct ucall uc;
	unsigned int i;

	vm = vm_create();
	*GUEST_VAR(vm, shared_in) = 0;
	for (i = 0; i < nr; i++)
		vcpus[i] = vm_vcpu_add(vm, guest_rendezvous, nr);
	for (i = 0; i < nr; i++)
		vcpu_thread_start(vcpus[i], VCPU_TIMEOUT_MS);
	for (i = 0; i < nr; i++)
		ASSERT_JOINED_DONE(vcpus[i], &uc);
	vm_free(vm);
}

static void __guest guest_spin(uint64_t arg)
{
	uint64_t i;

	for (i = 0; i < arg; i++)
		cpu_relax();
}

TEST_F(lib, hung_guest_times_out)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	vm = vm_create();
	vcpu = vm_vcpu_add(vm, guest_spin, UINT64_MAX);
	EXPECT_EQ((uint64_t)UCALL_TIMEOUT, vcpu_run(vcpu, &uc, 300));
	vm_free(vm);
}

static void __guest guest_wait_release(uint64_t arg)
{
	(void)arg;
	while (!READ_ONCE(released))
		cpu_relax();
}

static volatile sig_atomic_t strays_seen;

static void stray_handler(int sig)
{
	(void)sig;
	strays_seen++;
}

struct stray_sender {
	pthread_t target;
	uint64_t *release;
};

/*
 * Signals the vCPU's thread STRAY_SIGNALS times, each once the last one was
 * handled (a signal sent while the same one is pending is merged into it),
 * then releases the guest.
 */
static void *stray_send(void *data)
{
	struct timespec gap = { .tv_nsec = STRAY_SIGNAL_GAP_NS };
	struct stray_sender *s = data;
	unsigned int i, waits;

	for (i = 0; i < STRAY_SIGNALS; i++) {
		pthread_kill(s->target, SIGUSR2);
		for (waits = 0; strays_seen <= (sig_atomic_t)i &&
				waits < STRAY_SIGNAL_WAITS;
		     waits++)
			nanosleep(&gap, NULL);
	}
	WRITE_ONCE(*s->release, 1);
	return NULL;
}

/*
 * A signal that is not the run's own timeout (a SIGCHLD, say, which
 * system() and posix_spawn() let reach any thread) interrupts KVM_RUN but
 * must not end the run.
 */
TEST_F(lib, stray_signals_do_not_end_a_run)
{
	struct sigaction sa = { .sa_handler = stray_handler }, old;
	struct stray_sender sender;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	pthread_t thread;
	struct ucall uc;

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR2, &sa, &old));
	vm = vm_create();
	sender.target = pthread_self();
	sender.release = GUEST_VAR(vm, released);
	*sender.release = 0;
	vcpu = vm_vcpu_add(vm, guest_wait_release, 0);
	strays_seen = 0;
	ASSERT_EQ(0, pthread_create(&thread, NULL, stray_send, &sender));
	EXPECT_EQ((uint64_t)UCALL_DONE, vcpu_run(vcpu, &uc, VCPU_TIMEOUT_MS))
	log_ucall(_metadata, vm, &uc);
	pthread_join(thread, NULL);
	EXPECT_EQ(STRAY_SIGNALS, strays_seen);
	sigaction(SIGUSR2, &old, NULL);
	vm_free(vm);
}

static void __guest guest_read_unbacked(uint64_t arg)
{
	(void)arg;
	READ_ONCE(*(uint64_t *)UNBACKED_GPA);
}

TEST_F(lib, unbacked_access_is_reported)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;

	vm = vm_create();
	vcpu = vm_vcpu_add(vm, guest_read_unbacked, 0);
	ASSERT_UCALL(vcpu, &uc, UCALL_BAD_EXIT);
	EXPECT_EQ(KVM_EXIT_MMIO, uc.args[0]);
	EXPECT_EQ(UNBACKED_GPA, uc.args[2]);
	vm_free(vm);
}

static const char hello[] = "hello from the guest";

static void __guest guest_say_hello(uint64_t tag)
{
	guest_print(hello, sizeof(hello) - 1, tag);
}

TEST_F(lib, print_reaches_host)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	char text[64];

	vm = vm_create();
	vcpu = vm_vcpu_add(vm, guest_say_hello, 5);
	ASSERT_UCALL(vcpu, &uc, UCALL_PRINT);
	EXPECT_EQ(5, uc.args[1]);
	ASSERT_TRUE(ucall_text(vm, &uc, text, sizeof(text)));
	EXPECT_STREQ(hello, text);
	ASSERT_UCALL(vcpu, &uc, UCALL_DONE);
	vm_free(vm);
}

TEST_HARNESS_MAIN
