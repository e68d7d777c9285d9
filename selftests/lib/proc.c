// SPDX-License-Identifier: GPL-2.0
/*
 * Children, fd passing and programs run for the tests that need a second
 * process, and writes to the kernel's files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "proc.h"

#define WAIT_POLL_MS 5

int wait_child(pid_t pid, int *status, unsigned int timeout_ms)
{
	struct timespec pause = { .tv_nsec = WAIT_POLL_MS * 1000000L };
	uint64_t deadline = now_ms() + timeout_ms;
	pid_t ret;

	for (;;) {
		ret = waitpid(pid, status, WNOHANG);
		if (ret == pid)
			return 0;
		if (ret < 0)
			return -errno;
		if (now_ms() >= deadline)
			break;
		nanosleep(&pause, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -ETIMEDOUT;
}

int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

int recv_fd(int sock, unsigned int timeout_ms)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct cmsghdr *cmsg;
	int fd, ret;

	ret = poll(&pfd, 1, timeout_ms);
	if (ret <= 0)
		return ret ? -errno : -ETIMEDOUT;
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -EPROTO;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS ||
	    cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

#define PROC_MAX_WORDS 32

/* Reads what a child wrote to memfd @fd into @buf (NUL-terminated). */
static void proc_read_back(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

int proc_run(const char *path, const char *words, struct proc_output *o,
	     unsigned int timeout_ms)
{
	char line[1024], *argv[PROC_MAX_WORDS + 2], *save, *p;
	int out, err, status, n = 0, ret;
	pid_t pid;

	snprintf(line, sizeof(line), "%s", words);
	argv[n++] = (char *)path;
	for (p = strtok_r(line, " ", &save); p && n <= PROC_MAX_WORDS;
	     p = strtok_r(NULL, " ", &save))
		argv[n++] = p;
	argv[n] = NULL;
	o->status = -1;
	o->out[0] = o->err[0] = '\0';
	out = memfd_create("proc-out", MFD_CLOEXEC);
	err = memfd_create("proc-err", MFD_CLOEXEC);
	if (out < 0 || err < 0) {
		ret = -errno;
		goto err_close;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto err_close;
	}
	if (!pid) {
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		execvp(path, argv);
		_exit(127);
	}
	if (!wait_child(pid, &status, timeout_ms) && WIFEXITED(status))
		o->status = WEXITSTATUS(status);
	proc_read_back(out, o->out, sizeof(o->out));
	proc_read_back(err, o->err, sizeof(o->err));
	return 0;

err_close:
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	return ret;
}

int file_write(const char *path, const char *text)
{
	ssize_t len = strlen(text), n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return n;
	return n == len ? 0 : -EIO;
}

int file_read(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? n : -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}
