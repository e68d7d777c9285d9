// SPDX-License-Identifier: GPL-2.0
/*
 * The table-driven ioctl dispatcher shared by the control fd and region fds.
 *
 * Every command struct starts with __u32 size and __u32 flags.  The
 * dispatcher checks the size against the table, copies the struct in with
 * copy_struct_from_user() (zero-extending older callers, refusing unknown
 * non-zero tails from newer ones), rejects unknown flags, and only then calls
 * the handler.
 */
#include <linux/kvm_pageflip.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include "ioctl.h"

/* Room for the largest command struct. */
union kpf_ucmd_buffer {
	struct kpf_info info;
	struct kpf_create_region create_region;
	struct kpf_pool_fill pool_fill;
	struct kpf_pool_drop pool_drop;
	struct kpf_get_stats get_stats;
	struct kpf_list_bindings list_bindings;
	struct kpf_region_flip region_flip;
	struct kpf_uplink_attach uplink_attach;
	struct kpf_uplink_detach uplink_detach;
	struct kpf_rule_add rule_add;
	struct kpf_rule_del rule_del;
	struct kpf_list_rules list_rules;
	struct kpf_list_ports list_ports;
	struct kpf_port_set port_set;
	struct kpf_region_add_port region_add_port;
	struct kpf_region_del_port region_del_port;
};

/* The header every command struct begins with. */
struct kpf_ucmd_header {
	u32 size;
	u32 flags;
};

/**
 * kpf_ioctl_dispatch() - run one ioctl through a command table
 * @ops: the table, indexed by _IOC_NR(cmd) - @base
 * @nr_ops: entries in @ops
 * @base: _IOC_NR of the table's first command
 * @cmd: the ioctl number
 * @arg: the user pointer to the command struct
 * @file: the fd; its private_data is what it refers to, passed to the handler
 *
 * Return: the handler's result, or -ENOTTY, -EFAULT, -EINVAL, -E2BIG,
 * -EOPNOTSUPP as the uapi header describes.
 */
long kpf_ioctl_dispatch(const struct kpf_ioctl_op *ops, unsigned int nr_ops,
			unsigned int base, unsigned int cmd, unsigned long arg,
			struct file *file)
{
	void __user *ubuffer = (void __user *)arg;
	const struct kpf_ioctl_op *op;
	union kpf_ucmd_buffer buf;
	struct kpf_ucmd ucmd;
	u32 user_size, unknown;
	unsigned int nr;
	int ret;

	nr = _IOC_NR(cmd);
	if (_IOC_TYPE(cmd) != KPF_TYPE || nr < base || nr - base >= nr_ops)
		return -ENOTTY;
	op = &ops[nr - base];
	if (!op->execute || op->ioctl_num != cmd)
		return -ENOTTY;

	if (get_user(user_size, (u32 __user *)ubuffer))
		return -EFAULT;
	if (user_size < op->min_size) {
		kpf_user_err("ioctl %#x: size %u is below %u\n", cmd, user_size,
			     op->min_size);
		return -EINVAL;
	}
	/* Nothing legitimate is this large; don't scan gigabytes for zeros. */
	if (user_size > PAGE_SIZE) {
		kpf_user_err("ioctl %#x: size %u is too large\n", cmd,
			     user_size);
		return -E2BIG;
	}
	ret = copy_struct_from_user(&buf, op->size, ubuffer, user_size);
	if (ret == -E2BIG)
		kpf_user_err("ioctl %#x: non-zero bytes beyond byte %u\n", cmd,
			     op->size);
	if (ret)
		return ret;
	unknown = ((struct kpf_ucmd_header *)&buf)->flags & ~op->flags;
	if (unknown) {
		kpf_user_err("ioctl %#x: unknown flags %#x\n", cmd, unknown);
		return -EOPNOTSUPP;
	}

	ucmd = (struct kpf_ucmd){
		.ubuffer = ubuffer,
		.user_size = user_size,
		.cmd_size = op->size,
		.cmd = &buf,
		.obj = file->private_data,
		.file = file,
		.ioctl_num = cmd,
	};
	return op->execute(&ucmd);
}

/**
 * kpf_ucmd_respond() - copy the command struct back to the caller
 * @ucmd: the call; as many bytes as both sides know are written
 *
 * Return: 0 or -EFAULT.
 */
int kpf_ucmd_respond(struct kpf_ucmd *ucmd)
{
	if (copy_to_user(ucmd->ubuffer, ucmd->cmd,
			 min(ucmd->user_size, ucmd->cmd_size)))
		return -EFAULT;
	return 0;
}

/**
 * kpf_ucmd_reserved() - refuse a command whose reserved field is not zero
 * @ucmd: the call
 *
 * Return: -EOPNOTSUPP, after saying why.
 */
int kpf_ucmd_reserved(struct kpf_ucmd *ucmd)
{
	kpf_user_err("ioctl %#x: reserved field is not zero\n",
		     ucmd->ioctl_num);
	return -EOPNOTSUPP;
}
