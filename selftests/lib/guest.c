// SPDX-License-Identifier: GPL-2.0
/*
 * The guest half of the library: entry, ucalls and exception reports.
 * Everything here runs inside the VM, so everything is __guest.
 */
#include "guest.h"

/* Hands @uc to the host; the OUT exits to userspace (ucall.h). */
static void __guest ucall_out(struct ucall *uc)
{
	__asm__ __volatile__("outl %%eax, %%dx"
			     :
			     : "a"((uint32_t)(uintptr_t)uc), "d"(UCALL_PORT)
			     : "memory");
}

/*
 * After a final report the host never resumes the vCPU; halt in a loop so
 * that a buggy host that did would find the guest still stopped.
 */
static void __guest __attribute__((noreturn)) guest_halt(void)
{
	for (;;)
		__asm__ __volatile__("cli; hlt" : : : "memory");
}

void __guest guest_ucall(uint64_t cmd, uint64_t arg0, uint64_t arg1)
{
	struct ucall uc = {
		.cmd = cmd,
		.args = { arg0, arg1 },
	};

	ucall_out(&uc);
}

void __guest __guest_assert_fail(const char *file, uint64_t line,
				 const char *expr, const char *fmt,
				 const uint64_t *values)
{
	struct ucall uc = {
		.cmd = UCALL_ASSERT,
		.line = line,
		.file = file,
		.expr = expr,
		.fmt = fmt,
	};
	int i;

	for (i = 0; values && i < UCALL_NR_ARGS; i++)
		uc.args[i] = values[i];
	ucall_out(&uc);
	guest_halt();
}

void __guest guest_print(const char *text, uint64_t len, uint64_t tag)
{
	struct ucall uc = {
		.cmd = UCALL_PRINT,
		.args = { len, tag },
		.text = text,
	};

	ucall_out(&uc);
}

/*
 * First code a vCPU runs (kvm_util.c points RIP here): calls the test's
 * guest function with its argument and reports DONE when it returns.
 */
void __guest __attribute__((noreturn))
guest_entry(void (*fn)(uint64_t), uint64_t arg)
{
	fn(arg);
	guest_ucall(UCALL_DONE, 0, 0);
	guest_halt();
}

/* Called by the exception stubs below; reports and stops the vCPU. */
void __guest __attribute__((noreturn, used))
guest_exception(uint64_t vector, uint64_t error_code, uint64_t rip)
{
	struct ucall uc = {
		.cmd = UCALL_EXCEPTION,
		.args = { vector, error_code, rip },
	};

	ucall_out(&uc);
	guest_halt();
}

/*
 * Exception stubs for vectors 0-31, 16 bytes apart from guest_exc_stubs so
 * that the host can fill the IDT by arithmetic.  Each stub makes the frame
 * uniform (a zero error code where the CPU pushes none), pushes its vector
 * and calls guest_exception(vector, error code, faulting rip).
 */
__asm__(".pushsection " GUEST_SECTION ", \"ax\"\n"
	".balign 16\n"
	".globl guest_exc_stubs\n"
	"guest_exc_stubs:\n"
	".irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,"
	"22,23,24,25,26,27,28,29,30,31\n"
	".balign 16\n"
	".if !((\\vec == 8) || (\\vec == 10) || (\\vec == 11) || (\\vec == 12) || "
	"(\\vec == 13) || (\\vec == 14) || (\\vec == 17) || (\\vec == 21) || "
	"(\\vec == 29) || (\\vec == 30))\n"
	"pushq $0\n"
	".endif\n"
	"pushq $\\vec\n"
	"jmp guest_exc_common\n"
	".endr\n"
	"guest_exc_common:\n"
	"popq %rdi\n"
	"popq %rsi\n"
	"movq (%rsp), %rdx\n"
	"andq $-16, %rsp\n"
	"call guest_exception\n"
	".popsection\n");
