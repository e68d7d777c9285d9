/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ucall: how guest code reports to the host.
 *
 * The guest fills a struct ucall on its own stack and writes the struct's
 * guest-physical address (below 4 GiB, memslot 0 is identity-mapped) to
 * UCALL_PORT with a 32-bit OUT.  KVM exits to userspace with KVM_EXIT_IO;
 * the host reads the struct from guest memory.  One exit per report, so
 * guests report sparingly: under nested TCG an exit costs up to a
 * millisecond.
 *
 * The struct is shared by guest and host code of the same binary, so both
 * agree on its layout; pointers in it are guest addresses, which equal the
 * host's link addresses of the same strings (see kvm_util.h).
 */
#ifndef KPF_UCALL_H
#define KPF_UCALL_H

#include <stdint.h>

#define UCALL_PORT 0x6b7

/* At most this many values travel with a SYNC, an assertion or a print. */
#define UCALL_NR_ARGS 4

enum ucall_cmd {
	UCALL_NONE,
	/* Reported by the guest */
	UCALL_SYNC, /* args[0] = stage, args[1] = value */
	UCALL_DONE, /* the guest function returned */
	UCALL_ASSERT, /* file, line, expr, fmt, args[] = values */
	UCALL_PRINT, /* text = bytes, args[0] = length, args[1] = tag */
	UCALL_EXCEPTION, /* args[] = vector, error code, rip */
	/* Made up by the host when the guest could not report */
	UCALL_TIMEOUT, /* args[0] = timeout in ms */
	UCALL_BAD_EXIT, /* args[0] = exit reason, args[1] = errno */
};

struct ucall {
	uint64_t cmd;
	uint64_t args[UCALL_NR_ARGS];
	uint64_t line;
	const char *file;
	const char *expr;
	const char *fmt;
	const char *text;
};

#endif /* KPF_UCALL_H */
