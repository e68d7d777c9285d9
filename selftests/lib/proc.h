/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for tests that involve other processes: waiting for a child with
 * a bound, and passing an fd over a unix socket (SCM_RIGHTS).
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

#endif /* KPF_PROC_H */
