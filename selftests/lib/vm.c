// SPDX-License-Identifier: GPL-2.0
/*
 * VMs of the selftests: creation, memslots, the guest's system tables and
 * the test binary loaded into guest memory.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "x86.h"

#define KVM_DEV "/dev/kvm"
#define KVM_EXPECTED_API 12
#define CPUID_MAX_ENTRIES 1024

void __kvm_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "# %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(KVM_UTIL_FAIL);
}

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

int kvm_available(void)
{
	int fd = open(KVM_DEV, O_RDWR | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return errno;
	if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_EXPECTED_API)
		err = ENOTSUP;
	close(fd);
	return err;
}

/* The CPUID KVM supports, set on every vCPU (KVM checks EFER.LME against it). */
static struct kvm_cpuid2 *kvm_supported_cpuid(int kvm_fd)
{
	struct kvm_cpuid2 *cpuid;
	unsigned int nent;

	for (nent = 64; nent <= CPUID_MAX_ENTRIES; nent *= 2) {
		cpuid = calloc(1, sizeof(*cpuid) +
					  nent * sizeof(cpuid->entries[0]));
		KVM_CHECK(cpuid, "out of memory");
		cpuid->nent = nent;
		if (!ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid))
			return cpuid;
		KVM_CHECK(errno == E2BIG, "KVM_GET_SUPPORTED_CPUID: %s",
			  strerror(errno));
		free(cpuid);
	}
	kvm_fail("KVM_GET_SUPPORTED_CPUID: more than %d entries",
		 CPUID_MAX_ENTRIES);
}

void vm_add_memslot(struct kvm_vm *vm, uint32_t slot, uint64_t gpa, void *hva,
		    uint64_t size)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};
	struct vm_memslot *ms;

	KVM_CHECK(vm->nr_memslots < VM_MAX_MEMSLOTS, "too many memslots");
	KVM_CHECK(!ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region),
		  "KVM_SET_USER_MEMORY_REGION slot %u at %#lx: %s", slot, gpa,
		  strerror(errno));
	ms = &vm->memslots[vm->nr_memslots++];
	ms->slot = slot;
	ms->gpa = gpa;
	ms->size = size;
	ms->hva = hva;
}

void *vm_gpa_hva(struct kvm_vm *vm, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < vm->nr_memslots; i++) {
		struct vm_memslot *ms = &vm->memslots[i];

		if (gpa >= ms->gpa && len <= ms->size &&
		    gpa - ms->gpa <= ms->size - len)
			return (char *)ms->hva + (gpa - ms->gpa);
	}
	return NULL;
}

/* Identity map of [0, VM_IDMAP_SIZE) with 2 MiB pages. */
static void vm_setup_page_tables(struct kvm_vm *vm)
{
	uint64_t *pml4 = vm_gpa_hva(vm, PML4_GPA, PAGE_SIZE);
	uint64_t *pdpt = vm_gpa_hva(vm, PDPT_GPA, PAGE_SIZE);
	uint64_t *pd = vm_gpa_hva(vm, PD_GPA, NR_PDS * PAGE_SIZE);
	uint64_t i;

	pml4[0] = PDPT_GPA | PTE_PRESENT | PTE_WRITE;
	for (i = 0; i < NR_PDS; i++)
		pdpt[i] = (PD_GPA + i * PAGE_SIZE) | PTE_PRESENT | PTE_WRITE;
	for (i = 0; i < NR_PDS * 512; i++)
		pd[i] = (i << 21) | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
}

/* Flat 64-bit code and data segments and a busy 64-bit TSS. */
static void vm_setup_gdt(struct kvm_vm *vm)
{
	uint64_t *gdt = vm_gpa_hva(vm, GDT_GPA, GDT_ENTRIES * 8);
	uint64_t base = TSS_GPA, limit = TSS_SIZE - 1;

	gdt[GDT_CODE / 8] = 0x00af9b000000ffffULL;
	gdt[GDT_DATA / 8] = 0x00cf93000000ffffULL;
	gdt[GDT_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 |
			   0x8bULL << 40 | ((limit >> 16) & 0xf) << 48 |
			   ((base >> 24) & 0xff) << 56;
	gdt[GDT_TSS / 8 + 1] = base >> 32;
}

/* Interrupt gates to the guest's exception stubs (lib/guest.c). */
static void vm_setup_idt(struct kvm_vm *vm)
{
	extern const char guest_exc_stubs[];
	uint64_t *idt = vm_gpa_hva(vm, IDT_GPA, IDT_VECTORS * 16);
	uint64_t v;

	for (v = 0; v < IDT_VECTORS; v++) {
		uint64_t addr = (uintptr_t)guest_exc_stubs + v * 16;

		idt[2 * v] = (addr & 0xffff) | (uint64_t)GDT_CODE << 16 |
			     0x8eULL << 40 | ((addr >> 16) & 0xffff) << 48;
		idt[2 * v + 1] = addr >> 32;
	}
}

static void pread_all(int fd, void *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, off);

		KVM_CHECK(n > 0, "reading /proc/self/exe: %s",
			  n ? strerror(errno) : "short file");
		buf = (char *)buf + n;
		len -= n;
		off += n;
	}
}

/*
 * Copies the PT_LOAD segments of the running binary, as they are in the
 * file, to their link addresses in guest memory.  The guest starts from
 * the binary's initial data, whatever the host did to its own globals.
 */
static void vm_load_elf(struct kvm_vm *vm)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	bool exec, inside;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int i;

	KVM_CHECK(fd >= 0, "/proc/self/exe: %s", strerror(errno));
	pread_all(fd, &eh, sizeof(eh), 0);
	exec = !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	       eh.e_ident[EI_CLASS] == ELFCLASS64 &&
	       eh.e_machine == EM_X86_64 && eh.e_type == ET_EXEC;
	KVM_CHECK(exec, "the test binary must be static, non-PIE x86-64");
	for (i = 0; i < eh.e_phnum; i++) {
		void *dst;

		pread_all(fd, &ph, sizeof(ph), eh.e_phoff + i * eh.e_phentsize);
		if (ph.p_type != PT_LOAD)
			continue;
		inside = ph.p_vaddr >= ELF_MIN_GPA &&
			 ph.p_filesz <= ph.p_memsz &&
			 ph.p_vaddr + ph.p_memsz <= VM_STACKS_GPA;
		KVM_CHECK(inside,
			  "segment at %#lx (%#lx bytes) is outside "
			  "guest memory",
			  ph.p_vaddr, ph.p_memsz);
		dst = vm_gpa_hva(vm, ph.p_vaddr, ph.p_memsz);
		pread_all(fd, dst, ph.p_filesz, ph.p_offset);
		memset((char *)dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}
	close(fd);
}

struct kvm_vm *vm_create(void)
{
	struct kvm_vm *vm = calloc(1, sizeof(*vm));
	int kvm_fd, tries = 0;
	long run_size;

	KVM_CHECK(vm, "out of memory");
	kvm_fd = open(KVM_DEV, O_RDWR | O_CLOEXEC);
	KVM_CHECK(kvm_fd >= 0, KVM_DEV ": %s", strerror(errno));
	/* KVM_CREATE_VM may fail transiently with EINTR. */
	do {
		vm->fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	} while (vm->fd < 0 && errno == EINTR && ++tries < 10);
	KVM_CHECK(vm->fd >= 0, "KVM_CREATE_VM: %s", strerror(errno));
	run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	KVM_CHECK(run_size > 0, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	vm->run_size = run_size;
	vm->cpuid = kvm_supported_cpuid(kvm_fd);
	close(kvm_fd);

	vm->mem = mmap(NULL, VM_MEM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	KVM_CHECK(vm->mem != MAP_FAILED, "guest memory: %s", strerror(errno));
	vm_add_memslot(vm, 0, 0, vm->mem, VM_MEM_SIZE);
	vm_setup_page_tables(vm);
	vm_setup_gdt(vm);
	vm_setup_idt(vm);
	vm_load_elf(vm);
	return vm;
}

void vm_close_fds(struct kvm_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i]->fd >= 0)
			close(vm->vcpus[i]->fd);
		vm->vcpus[i]->fd = -1;
	}
	if (vm->fd >= 0)
		close(vm->fd);
	vm->fd = -1;
}

/* Frees the VM; its vCPU threads, if any, must have been joined. */
void vm_free(struct kvm_vm *vm)
{
	unsigned int i;

	vm_close_fds(vm);
	for (i = 0; i < vm->nr_vcpus; i++) {
		munmap(vm->vcpus[i]->run, vm->run_size);
		free(vm->vcpus[i]);
	}
	munmap(vm->mem, VM_MEM_SIZE);
	free(vm->cpuid);
	free(vm);
}
