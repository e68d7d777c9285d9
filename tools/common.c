// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers every command of the kvm-pageflip CLI uses: one-line errors that
 * name the errno and what the uapi header says it means, the control fd,
 * listing ioctls, output as text or JSON, and number parsing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm-pageflip.h"

const char *prog = "kvm-pageflip";
bool json;
bool verbose;
const char *device = "/dev/" KPF_DEVICE_NAME;

static void vsay(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	exit(EXIT_ERROR);
}

void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	exit(EXIT_USAGE);
}

const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "unknown errno";
}

/* What the uapi header says an errno means for every ioctl. */
static const struct errno_text common_errnos[] = {
	{ ENOTTY, "the module does not know this command (is it older than "
		  "this tool?)" },
	{ EFAULT, "the module could not read or write the tool's memory" },
	{ EINVAL, "a value is out of range" },
	{ E2BIG, "the module does not know part of the request (is it older "
		 "than this tool?)" },
	{ EOPNOTSUPP, "the module does not support a flag or value the tool "
		      "used (is it older than this tool?)" },
	{ EOVERFLOW, "an arithmetic overflow in the arguments" },
	{ ENOMEM, "the kernel could not allocate memory; nothing was changed" },
	{ EPERM, "not permitted (needs CAP_NET_ADMIN)" },
	{}
};

static const char *errno_lookup(const struct errno_text *t, int err)
{
	for (; t && t->err; t++)
		if (t->err == err)
			return t->text;
	return NULL;
}

void die_errno(const char *what, int err, const struct errno_text *texts)
{
	const char *text = errno_lookup(texts, err);

	if (!text)
		text = errno_lookup(common_errnos, err);
	die("%s: %s (%s)", what, text ? text : strerror(err), errno_name(err));
}

int ctl(void)
{
	static int fd = -1;

	if (fd >= 0)
		return fd;
	fd = open(device, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("cannot open %s: %s%s", device, strerror(errno),
		    errno == ENOENT ? " (is the kvm-pageflip module loaded?)" :
				      "");
	return fd;
}

int kpf_ioctl(unsigned long cmd, void *arg)
{
	return ioctl(ctl(), cmd, arg) ? errno : 0;
}

void *list_all(unsigned long cmd, void *arg, uint32_t *nr, uint64_t *entries,
	       size_t entry_size, const char *what,
	       const struct errno_text *texts)
{
	uint32_t room = 0;
	void *buf = NULL;
	int err;

	/* Grow until every entry fits; entries may come and go meanwhile. */
	for (;;) {
		*nr = room;
		*entries = (uintptr_t)buf;
		err = kpf_ioctl(cmd, arg);
		if (err)
			die_errno(what, err, texts);
		if (*nr <= room)
			break;
		room = *nr + 8;
		buf = realloc(buf, room * entry_size);
		if (!buf)
			die("out of memory");
	}
	return buf;
}

void print_fields(const struct field *f, size_t n, const char *indent)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (json)
			printf("%s\"%s\": %" PRIu64 "%s\n", indent, f[i].name,
			       f[i].value, i + 1 < n ? "," : "");
		else
			printf("%s%-20s %" PRIu64 "\n", indent, f[i].name,
			       f[i].value);
	}
}

void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

uint32_t parse_u32(const char *s, const char *what, uint32_t min, uint32_t max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || !*s || *s == '-' || v < min || v > max)
		usage_error("invalid %s '%s': expected a number from %u to %u",
			    what, s, min, max);
	return v;
}
