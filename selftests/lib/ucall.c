// SPDX-License-Identifier: GPL-2.0
/*
 * The host half of ucalls: turning what a guest reported into text.
 * Strings are read from the guest's memory, never from the host's own copy
 * of the binary, and bounds-checked, so a confused guest cannot crash the
 * test that describes it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "kvm_util.h"

#define UCALL_STR_MAX 256

/* Copies the guest's C string at @gva; false if it leaves guest memory. */
static bool vm_read_string(struct kvm_vm *vm, const char *gva, char *buf,
			   size_t size)
{
	size_t i;

	for (i = 0; i + 1 < size; i++) {
		const char *p = vm_gpa_hva(vm, (uintptr_t)gva + i, 1);

		if (!p)
			break;
		buf[i] = *p;
		if (!*p)
			return true;
	}
	buf[i] = '\0';
	return i + 1 == size;
}

bool ucall_text(struct kvm_vm *vm, const struct ucall *uc, char *buf,
		size_t size)
{
	uint64_t len = uc->args[0];
	const char *src;

	if (uc->cmd != UCALL_PRINT || !size || len >= size)
		return false;
	src = vm_gpa_hva(vm, (uintptr_t)uc->text, len);
	if (!src)
		return false;
	memcpy(buf, src, len);
	buf[len] = '\0';
	return true;
}

/* True if @fmt takes at most UCALL_NR_ARGS integers and nothing else. */
static bool ucall_format_safe(const char *fmt)
{
	int n = 0;

	for (; *fmt; fmt++) {
		if (*fmt != '%')
			continue;
		if (*++fmt == '%')
			continue;
		fmt += strspn(fmt, "#0- +'123456789.hlLjzt");
		if (!*fmt || !strchr("diouxXc", *fmt) || ++n > UCALL_NR_ARGS)
			return false;
	}
	return true;
}

static const char *exit_reason_name(uint64_t reason)
{
	switch (reason) {
	case KVM_EXIT_IO:
		return "port I/O";
	case KVM_EXIT_HLT:
		return "HLT";
	case KVM_EXIT_MMIO:
		return "MMIO (unbacked guest-physical address)";
	case KVM_EXIT_SHUTDOWN:
		return "shutdown (triple fault)";
	case KVM_EXIT_FAIL_ENTRY:
		return "VM entry failed";
	case KVM_EXIT_INTERNAL_ERROR:
		return "KVM internal error";
	default:
		return "unexpected";
	}
}

static void describe_assert(struct kvm_vm *vm, const struct ucall *uc,
			    char *buf, size_t size)
{
	char file[UCALL_STR_MAX], expr[UCALL_STR_MAX], fmt[UCALL_STR_MAX];
	char values[UCALL_STR_MAX] = "";
	int n;

	if (!vm_read_string(vm, uc->file, file, sizeof(file)))
		snprintf(file, sizeof(file), "?");
	if (!vm_read_string(vm, uc->expr, expr, sizeof(expr)))
		snprintf(expr, sizeof(expr), "?");
	if (uc->fmt && vm_read_string(vm, uc->fmt, fmt, sizeof(fmt)) &&
	    ucall_format_safe(fmt))
		snprintf(values, sizeof(values), fmt, uc->args[0], uc->args[1],
			 uc->args[2], uc->args[3]);
	n = snprintf(buf, size, "guest assertion failed at %s:%lu: %s", file,
		     uc->line, expr);
	if (values[0] && n >= 0 && (size_t)n < size)
		snprintf(buf + n, size - n, " (%s)", values);
}

void ucall_describe(struct kvm_vm *vm, const struct ucall *uc, char *buf,
		    size_t size)
{
	char text[UCALL_STR_MAX];

	switch (uc->cmd) {
	case UCALL_SYNC:
		snprintf(buf, size, "guest sync: stage %lu, value %#lx",
			 uc->args[0], uc->args[1]);
		break;
	case UCALL_DONE:
		snprintf(buf, size, "guest done");
		break;
	case UCALL_ASSERT:
		describe_assert(vm, uc, buf, size);
		break;
	case UCALL_PRINT:
		if (!ucall_text(vm, uc, text, sizeof(text)))
			snprintf(text, sizeof(text), "(unreadable)");
		snprintf(buf, size, "guest print: %s", text);
		break;
	case UCALL_EXCEPTION:
		snprintf(buf, size,
			 "guest exception %lu, error code %#lx, at rip %#lx",
			 uc->args[0], uc->args[1], uc->args[2]);
		break;
	case UCALL_TIMEOUT:
		snprintf(buf, size, "guest still running after %lu ms",
			 uc->args[0]);
		break;
	case UCALL_BAD_EXIT:
		if (uc->args[1])
			snprintf(buf, size, "KVM_RUN failed: %s",
				 strerror(uc->args[1]));
		else
			snprintf(buf, size, "guest exit %lu: %s (%#lx)",
				 uc->args[0], exit_reason_name(uc->args[0]),
				 uc->args[2]);
		break;
	default:
		snprintf(buf, size, "no ucall");
		break;
	}
}
