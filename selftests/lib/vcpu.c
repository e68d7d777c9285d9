// SPDX-License-Identifier: GPL-2.0
/*
 * vCPUs: creation straight into 64-bit mode, runs bounded by a timeout,
 * and vCPUs that run in threads of their own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "x86.h"

/* A timer sends this to a thread whose vCPU ran too long. */
#define VCPU_KICK_SIGNAL SIGUSR1
/* How long a join waits beyond the vCPU's own timeout. */
#define VCPU_JOIN_GRACE_S 10

void __guest __attribute__((noreturn))
guest_entry(void (*fn)(uint64_t), uint64_t arg);

static __thread struct kvm_vcpu *running_vcpu;
/* Set by the kick: the timer of this thread's vcpu_run() expired. */
static __thread volatile sig_atomic_t vcpu_kicked;
static pthread_once_t kick_once = PTHREAD_ONCE_INIT;

/*
 * Makes KVM_RUN return EINTR: a signal that lands while the vCPU is in
 * the guest does that by itself, and immediate_exit covers one that lands
 * just before KVM_RUN is entered.
 */
static void vcpu_kick(int sig)
{
	(void)sig;
	vcpu_kicked = 1;
	if (running_vcpu)
		running_vcpu->run->immediate_exit = 1;
}

static void vcpu_kick_install(void)
{
	struct sigaction sa = { .sa_handler = vcpu_kick };

	sigemptyset(&sa.sa_mask);
	KVM_CHECK(!sigaction(VCPU_KICK_SIGNAL, &sa, NULL), "sigaction: %s",
		  strerror(errno));
}

static void vcpu_setup_sregs(struct kvm_vcpu *vcpu)
{
	struct kvm_segment code = {
		.limit = 0xffffffff,
		.selector = GDT_CODE,
		.type = 11,
		.present = 1,
		.s = 1,
		.l = 1,
		.g = 1,
	};
	struct kvm_segment data = {
		.limit = 0xffffffff,
		.selector = GDT_DATA,
		.type = 3,
		.present = 1,
		.s = 1,
		.db = 1,
		.g = 1,
	};
	struct kvm_segment tss = {
		.base = TSS_GPA,
		.limit = TSS_SIZE - 1,
		.selector = GDT_TSS,
		.type = 11,
		.present = 1,
	};
	struct kvm_sregs sregs;

	KVM_CHECK(!ioctl(vcpu->fd, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS: %s",
		  strerror(errno));
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = tss;
	sregs.ldt = (struct kvm_segment){ .type = 2, .unusable = 1 };
	sregs.gdt.base = GDT_GPA;
	sregs.gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs.idt.base = IDT_GPA;
	sregs.idt.limit = IDT_VECTORS * 16 - 1;
	sregs.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE |
		    X86_CR0_WP | X86_CR0_PG;
	sregs.cr3 = PML4_GPA;
	/* SSE on: the compiler may use it in guest code. */
	sregs.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	sregs.efer = EFER_LME | EFER_LMA;
	KVM_CHECK(!ioctl(vcpu->fd, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS: %s",
		  strerror(errno));
}

/* Starts at guest_entry(@fn, @arg) as if called, on the vCPU's own stack. */
static void vcpu_setup_regs(struct kvm_vcpu *vcpu, void (*fn)(uint64_t),
			    uint64_t arg)
{
	uint64_t stack_top = VM_STACKS_GPA + (vcpu->id + 1) * VCPU_STACK_SIZE;
	struct kvm_regs regs = {
		.rip = (uintptr_t)guest_entry,
		.rsp = stack_top - 8,
		.rdi = (uintptr_t)fn,
		.rsi = arg,
		.rflags = X86_RFLAGS_FIXED,
	};

	KVM_CHECK(!ioctl(vcpu->fd, KVM_SET_REGS, &regs), "KVM_SET_REGS: %s",
		  strerror(errno));
}

struct kvm_vcpu *vm_vcpu_add(struct kvm_vm *vm, void (*guest_fn)(uint64_t),
			     uint64_t arg)
{
	struct kvm_vcpu *vcpu = calloc(1, sizeof(*vcpu));

	KVM_CHECK(vcpu, "out of memory");
	KVM_CHECK(vm->nr_vcpus < VM_MAX_VCPUS, "too many vCPUs");
	vcpu->vm = vm;
	vcpu->id = vm->nr_vcpus;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, vcpu->id);
	KVM_CHECK(vcpu->fd >= 0, "KVM_CREATE_VCPU: %s", strerror(errno));
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	KVM_CHECK(vcpu->run != MAP_FAILED, "mmap(vCPU): %s", strerror(errno));
	vm->vcpus[vm->nr_vcpus++] = vcpu;

	KVM_CHECK(!ioctl(vcpu->fd, KVM_SET_CPUID2, vm->cpuid),
		  "KVM_SET_CPUID2: %s", strerror(errno));
	vcpu_setup_sregs(vcpu);
	vcpu_setup_regs(vcpu, guest_fn, arg);
	return vcpu;
}

/* Decodes the exit of a KVM_RUN that returned 0. */
static void vcpu_get_ucall(struct kvm_vcpu *vcpu, struct ucall *uc)
{
	struct kvm_run *run = vcpu->run;
	uint32_t gpa;
	void *src;

	if (run->exit_reason == KVM_EXIT_IO && run->io.port == UCALL_PORT &&
	    run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 4 &&
	    run->io.count == 1) {
		memcpy(&gpa, (char *)run + run->io.data_offset, sizeof(gpa));
		src = vm_gpa_hva(vcpu->vm, gpa, sizeof(*uc));
		if (src) {
			memcpy(uc, src, sizeof(*uc));
			if (uc->cmd >= UCALL_SYNC && uc->cmd <= UCALL_EXCEPTION)
				return;
		}
	}
	memset(uc, 0, sizeof(*uc));
	uc->cmd = UCALL_BAD_EXIT;
	uc->args[0] = run->exit_reason;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		uc->args[2] = run->io.port;
		break;
	case KVM_EXIT_MMIO:
		uc->args[2] = run->mmio.phys_addr;
		break;
	case KVM_EXIT_FAIL_ENTRY:
		uc->args[2] = run->fail_entry.hardware_entry_failure_reason;
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		uc->args[2] = run->internal.suberror;
		break;
	}
}

uint64_t vcpu_run(struct kvm_vcpu *vcpu, struct ucall *uc,
		  unsigned int timeout_ms)
{
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID,
		.sigev_signo = VCPU_KICK_SIGNAL,
	};
	struct itimerspec its = {
		.it_value.tv_sec = timeout_ms / 1000,
		.it_value.tv_nsec = (timeout_ms % 1000) * 1000000L,
	};
	timer_t timer;
	int ret, err;

	KVM_CHECK(timeout_ms > 0, "vcpu_run() needs a timeout");
	pthread_once(&kick_once, vcpu_kick_install);
	sev._sigev_un._tid = gettid();
	KVM_CHECK(!timer_create(CLOCK_MONOTONIC, &sev, &timer),
		  "timer_create: %s", strerror(errno));

	vcpu->run->immediate_exit = 0;
	running_vcpu = vcpu;
	KVM_CHECK(!timer_settime(timer, 0, &its, NULL), "timer_settime: %s",
		  strerror(errno));
	/*
	 * Any signal makes KVM_RUN return EINTR, even one whose action is to
	 * be ignored: a SIGCHLD sent while the thread that started the child
	 * blocked it (system() and posix_spawn() do) goes to whichever thread
	 * does not, a vCPU thread included.  Only the kick ends the run.
	 */
	vcpu_kicked = 0;
	do {
		ret = ioctl(vcpu->fd, KVM_RUN, 0);
		err = errno;
	} while (ret < 0 && err == EINTR && !vcpu_kicked);
	timer_delete(timer);
	running_vcpu = NULL;

	memset(uc, 0, sizeof(*uc));
	if (ret < 0 && err == EINTR) {
		uc->cmd = UCALL_TIMEOUT;
		uc->args[0] = timeout_ms;
	} else if (ret < 0) {
		uc->cmd = UCALL_BAD_EXIT;
		uc->args[0] = vcpu->run->exit_reason;
		uc->args[1] = err;
	} else {
		vcpu_get_ucall(vcpu, uc);
	}
	return uc->cmd;
}

static void *vcpu_thread(void *data)
{
	struct kvm_vcpu *vcpu = data;
	uint64_t deadline = now_ms() + vcpu->timeout_ms;
	uint64_t cmd, now;
	sigset_t mask;

	/* Signals are the other threads' business; this one takes the kick. */
	sigfillset(&mask);
	sigdelset(&mask, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	do {
		now = now_ms();
		if (now >= deadline) {
			memset(&vcpu->result, 0, sizeof(vcpu->result));
			vcpu->result.cmd = UCALL_TIMEOUT;
			break;
		}
		cmd = vcpu_run(vcpu, &vcpu->result, deadline - now);
	} while (cmd == UCALL_SYNC || cmd == UCALL_PRINT);
	if (vcpu->result.cmd == UCALL_TIMEOUT)
		vcpu->result.args[0] = vcpu->timeout_ms;
	__atomic_store_n(&vcpu->finished, true, __ATOMIC_RELEASE);
	return NULL;
}

void vcpu_thread_start(struct kvm_vcpu *vcpu, unsigned int timeout_ms)
{
	int ret;

	KVM_CHECK(!vcpu->threaded, "vCPU %d already has a thread", vcpu->id);
	vcpu->timeout_ms = timeout_ms;
	vcpu->finished = false;
	ret = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	KVM_CHECK(!ret, "pthread_create: %s", strerror(ret));
	vcpu->threaded = true;
}

uint64_t vcpu_thread_join(struct kvm_vcpu *vcpu, struct ucall *uc)
{
	struct timespec ts;
	int ret;

	KVM_CHECK(vcpu->threaded, "vCPU %d has no thread", vcpu->id);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += vcpu->timeout_ms / 1000 + 1 + VCPU_JOIN_GRACE_S;
	ret = pthread_timedjoin_np(vcpu->thread, NULL, &ts);
	KVM_CHECK(!ret, "vCPU %d thread did not stop: %s", vcpu->id,
		  strerror(ret));
	vcpu->threaded = false;
	*uc = vcpu->result;
	return uc->cmd;
}
