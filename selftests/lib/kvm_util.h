/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small KVM helper for the kvm-pageflip selftests and demo.
 *
 * vm_create() makes a VM whose memslot 0 covers GPA [0, VM_MEM_SIZE) and
 * holds, at their link addresses, the PT_LOAD segments of the running test
 * binary (read from /proc/self/exe).  The binary is static and not
 * position-independent, so a guest function, the globals it touches and its
 * string constants have the same addresses in the guest as in the host.
 * Each vCPU starts directly in 64-bit mode (KVM_SET_SREGS): flat GDT,
 * identity-mapped page tables with 2 MiB pages over the low VM_IDMAP_SIZE
 * bytes (so memslots placed at e.g. 4 GiB are reachable), an IDT whose
 * exception stubs report through a ucall, and a stack of its own.
 *
 * Guest memory layout (memslot 0):
 *   0x1000  GDT and TSS
 *   0x2000  IDT (vectors 0-31)
 *   0x3000  PML4, then the PDPT, then one page directory per GiB
 *   0x400000..VM_STACKS_GPA      the test binary (link address)
 *   VM_STACKS_GPA..VM_MEM_SIZE   vCPU stacks, VCPU_STACK_SIZE each
 *
 * Setup errors are not test results: the helpers print what failed and end
 * the process with KSFT_FAIL (kvm_fail()).
 */
#ifndef KPF_KVM_UTIL_H
#define KPF_KVM_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "guest.h"
#include "ucall.h"

#define PAGE_SIZE 4096UL
#define VM_MEM_SIZE (16UL << 20)
#define VM_STACKS_GPA (12UL << 20)
#define VCPU_STACK_SIZE (64UL << 10)
#define VM_MAX_VCPUS 8
#define VM_IDMAP_SIZE (8ULL << 30)
#define VM_MAX_MEMSLOTS 4

#ifndef ARRAY_SIZE /* kselftest.h has the same */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* Exit code of a failed test, as in kselftest.h. */
#define KVM_UTIL_FAIL 1

struct kvm_vm;

struct kvm_vcpu {
	struct kvm_vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	/* A vCPU run by vcpu_thread_start() */
	pthread_t thread;
	bool threaded;
	bool finished; /* set by the thread when it is done */
	unsigned int timeout_ms;
	struct ucall result;
};

struct vm_memslot {
	uint32_t slot;
	uint64_t gpa;
	uint64_t size;
	void *hva;
};

struct kvm_vm {
	int fd;
	void *mem;
	size_t run_size;
	struct vm_memslot memslots[VM_MAX_MEMSLOTS];
	unsigned int nr_memslots;
	struct kvm_vcpu *vcpus[VM_MAX_VCPUS];
	unsigned int nr_vcpus;
	struct kvm_cpuid2 *cpuid;
};

void __attribute__((noreturn, format(printf, 3, 4)))
__kvm_fail(const char *file, int line, const char *fmt, ...);
#define kvm_fail(fmt, ...) __kvm_fail(__FILE__, __LINE__, fmt, ##__VA_ARGS__)
#define KVM_CHECK(cond, fmt, ...)                     \
	do {                                          \
		if (!(cond))                          \
			kvm_fail(fmt, ##__VA_ARGS__); \
	} while (0)

/* 0 when /dev/kvm can be used, else an errno saying why not. */
int kvm_available(void);

struct kvm_vm *vm_create(void);
/* Closes the VM and vCPU fds but keeps their memory (teardown tests). */
void vm_close_fds(struct kvm_vm *vm);
void vm_free(struct kvm_vm *vm);

/* Registers [@hva, @hva + @size) at @gpa as KVM memslot @slot. */
void vm_add_memslot(struct kvm_vm *vm, uint32_t slot, uint64_t gpa, void *hva,
		    uint64_t size);
/* Host address of guest-physical [@gpa, @gpa + @len), NULL if unbacked. */
void *vm_gpa_hva(struct kvm_vm *vm, uint64_t gpa, uint64_t len);

/* The guest's copy of the global at @addr (@size bytes), seen from the host. */
static inline void *vm_guest_var(struct kvm_vm *vm, const void *addr,
				 size_t size)
{
	return vm_gpa_hva(vm, (uintptr_t)addr, size);
}

/* The guest's copy of the global @sym, seen from the host. */
#define GUEST_VAR(vm, sym) \
	((__typeof__(&(sym)))vm_guest_var((vm), &(sym), sizeof(sym)))

/* A vCPU that will run @guest_fn(@arg) and then report DONE. */
struct kvm_vcpu *vm_vcpu_add(struct kvm_vm *vm, void (*guest_fn)(uint64_t),
			     uint64_t arg);

/*
 * Runs @vcpu until the guest's next ucall, which is copied to @uc; its cmd
 * is returned.  Gives up after @timeout_ms with UCALL_TIMEOUT; any exit
 * other than a ucall gives UCALL_BAD_EXIT.  Either way the vCPU must not be
 * run again.
 */
uint64_t vcpu_run(struct kvm_vcpu *vcpu, struct ucall *uc,
		  unsigned int timeout_ms);

/*
 * Runs @vcpu in a thread of its own until it reports anything but SYNC or
 * PRINT, or for at most @timeout_ms in all.  vcpu_thread_join() returns
 * that final ucall.
 */
void vcpu_thread_start(struct kvm_vcpu *vcpu, unsigned int timeout_ms);
uint64_t vcpu_thread_join(struct kvm_vcpu *vcpu, struct ucall *uc);

/* True once a vCPU thread has stopped running its vCPU. */
static inline bool vcpu_thread_finished(struct kvm_vcpu *vcpu)
{
	return __atomic_load_n(&vcpu->finished, __ATOMIC_ACQUIRE);
}

/* Human-readable account of @uc, e.g. a guest assertion and its values. */
void ucall_describe(struct kvm_vm *vm, const struct ucall *uc, char *buf,
		    size_t size);
/* Copies the text of a UCALL_PRINT as a C string; false if out of bounds. */
bool ucall_text(struct kvm_vm *vm, const struct ucall *uc, char *buf,
		size_t size);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t now_ms(void);

#endif /* KPF_KVM_UTIL_H */
