/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What guest code may use.
 *
 * Guest code is ordinary C of the test binary, run by a vCPU in 64-bit mode
 * at its link address (kvm_util.h).  It must stay self-contained: no libc,
 * no thread-local storage, no system calls.  Mark every function that runs
 * in the guest with __guest: it goes to its own section, and the build
 * (lib/check-guest.sh) refuses any call from that section to code outside
 * it, such as a memcpy() the compiler made up.
 *
 * The guest reports through ucalls (ucall.h): GUEST_SYNC() for progress,
 * GUEST_ASSERT*() for failures, GUEST_PRINT() for text.  Returning from the
 * guest function reports DONE.  Host and guest share data through globals:
 * the guest uses them by name, the host through GUEST_VAR() (kvm_util.h).
 */
#ifndef KPF_GUEST_H
#define KPF_GUEST_H

#include <stdint.h>
#include "ucall.h"

#define GUEST_SECTION ".text.kpf_guest"
#define __guest __attribute__((section(GUEST_SECTION)))

#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

void __guest guest_ucall(uint64_t cmd, uint64_t arg0, uint64_t arg1);
void __guest __attribute__((noreturn))
__guest_assert_fail(const char *file, uint64_t line, const char *expr,
		    const char *fmt, const uint64_t *values);

/* Never called: lets the compiler check a GUEST_ASSERT_FMT() format. */
static inline __attribute__((format(printf, 1, 2))) void
guest_check_format(const char *fmt, ...)
{
	(void)fmt;
}

#define GUEST_SYNC(stage, value) guest_ucall(UCALL_SYNC, (stage), (value))

#define GUEST_ASSERT(cond)                                                    \
	do {                                                                  \
		if (!(cond))                                                  \
			__guest_assert_fail(__FILE__, __LINE__, #cond, 0, 0); \
	} while (0)

/*
 * @fmt describes up to UCALL_NR_ARGS integer values; the host formats it,
 * so it may use integer conversions only (%lu, %#lx, ...).
 */
#define GUEST_ASSERT_FMT(cond, fmt, ...)                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			const uint64_t __values[UCALL_NR_ARGS] = {          \
				__VA_ARGS__                                 \
			};                                                  \
			if (0)                                              \
				guest_check_format(fmt, ##__VA_ARGS__);     \
			__guest_assert_fail(__FILE__, __LINE__, #cond, fmt, \
					    __values);                      \
		}                                                           \
	} while (0)

/* Sends @len bytes at @text to the host, with a @tag of the caller's. */
void __guest guest_print(const char *text, uint64_t len, uint64_t tag);

static inline __guest void cpu_relax(void)
{
	__asm__ __volatile__("pause" : : : "memory");
}

#endif /* KPF_GUEST_H */
