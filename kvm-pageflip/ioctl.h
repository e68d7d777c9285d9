/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KPF_IOCTL_H
#define KPF_IOCTL_H

#include <linux/printk.h>
#include <linux/sched.h>
#include <linux/stddef.h>
#include <linux/types.h>

struct file;

/*
 * One rate-limited line per request refused because of what userspace
 * passed, naming the caller; never a stack trace.
 */
#define kpf_user_err(fmt, ...)                             \
	pr_info_ratelimited("%s[%d]: " fmt, current->comm, \
			    task_tgid_nr(current), ##__VA_ARGS__)

/**
 * struct kpf_ucmd - one ioctl call being executed
 * @ubuffer: the caller's struct
 * @user_size: its size as the caller gave it
 * @cmd_size: size of the kernel's struct
 * @cmd: kernel copy of the struct, zero-extended to @cmd_size
 * @obj: what the fd refers to (struct kpf_ctx or struct kpf_region)
 * @file: the fd's file, whose opener's credentials may count
 * @ioctl_num: the ioctl number, for messages
 */
struct kpf_ucmd {
	void __user *ubuffer;
	u32 user_size;
	u32 cmd_size;
	void *cmd;
	void *obj;
	struct file *file;
	unsigned int ioctl_num;
};

/**
 * struct kpf_ioctl_op - one row of an ioctl table
 * @ioctl_num: the full ioctl number
 * @size: sizeof() the kernel's struct
 * @min_size: size of the first version of the struct
 * @flags: flags the command accepts
 * @execute: the handler; @cmd's size, tail and flags are already checked
 */
struct kpf_ioctl_op {
	unsigned int ioctl_num;
	u32 size;
	u32 min_size;
	u32 flags;
	int (*execute)(struct kpf_ucmd *ucmd);
};

/* A table row for @_ioctl in a table whose first command is @_base. */
#define KPF_IOCTL_OP(_base, _ioctl, _fn, _struct, _last, _flags) \
	[_IOC_NR(_ioctl) - (_base)] = {                          \
		.ioctl_num = _ioctl,                             \
		.size = sizeof(_struct),                         \
		.min_size = offsetofend(_struct, _last),         \
		.flags = _flags,                                 \
		.execute = _fn,                                  \
	}

long kpf_ioctl_dispatch(const struct kpf_ioctl_op *ops, unsigned int nr_ops,
			unsigned int base, unsigned int cmd, unsigned long arg,
			struct file *file);
int kpf_ucmd_respond(struct kpf_ucmd *ucmd);
int kpf_ucmd_reserved(struct kpf_ucmd *ucmd);

#endif /* KPF_IOCTL_H */
