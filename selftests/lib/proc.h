/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for tests that involve other processes: waiting for a child with
 * a bound, passing an fd over a unix socket (SCM_RIGHTS), and running a
 * program (the CLI) and keeping what it said; and writing to the files of
 * sysfs, debugfs and procfs that the tests drive the kernel through, and
 * reading the small ones.
 */
#ifndef KPF_PROC_H
#define KPF_PROC_H

#include <sys/types.h>

/*
 * Waits at most @timeout_ms for @pid to end and stores its wait status.
 * 0, or -ETIMEDOUT after killing it (SIGKILL) and reaping it.
 */
int wait_child(pid_t pid, int *status, unsigned int timeout_ms);

/* Sends @fd over the unix socket @sock.  0 or a negative errno. */
int send_fd(int sock, int fd);
/* Receives an fd from @sock within @timeout_ms.  The fd or a negative errno. */
int recv_fd(int sock, unsigned int timeout_ms);

/* What a program run by proc_run() did. */
#define PROC_OUT_MAX 16384

struct proc_output {
	int status; /* exit status; 127: not executable; -1: killed */
	char out[PROC_OUT_MAX]; /* its stdout, NUL-terminated, truncated */
	char err[PROC_OUT_MAX]; /* its stderr, likewise */
};

/*
 * Runs @path with the words of @words (split at spaces, no quoting) as its
 * arguments, for at most @timeout_ms (then it is killed), and keeps what it
 * wrote in @o.  0, or a negative errno when it could not be started.
 */
int proc_run(const char *path, const char *words, struct proc_output *o,
	     unsigned int timeout_ms);

/**
 * file_write() - write a string to a file in one write()
 * @path: the file, typically in sysfs, debugfs or procfs
 * @text: what to write, without its terminating NUL
 *
 * Opens @path for writing, writes @text with a single write() call, as
 * the kernel's attribute and hook files expect, and closes it.
 *
 * Return: 0, a negative errno from open() or write(), or -EIO when the
 * file took only part of @text.
 */
int file_write(const char *path, const char *text);

/**
 * file_read() - read the first line of a small file
 * @path: the file, typically in sysfs or procfs
 * @buf: where its text goes, NUL-terminated, without the line's newline
 * @size: the size of @buf; longer text is truncated to @size - 1 bytes
 *
 * Return: 0, a negative errno from open() or read(), or -EIO when the
 * file was empty.
 */
int file_read(const char *path, char *buf, size_t size);

#endif /* KPF_PROC_H */
