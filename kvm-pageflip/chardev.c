// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/kvm-pageflip: the control fd and its commands.
 *
 * Each open creates a control context (ctx.c).  Objects that need an fd of
 * their own (regions) are fully set up, their result is copied back to the
 * caller, and only then are they published and their fd installed, so a
 * failing call leaves nothing behind.
 */
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm_pageflip.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>
#include "binding.h"
#include "chardev.h"
#include "ctx.h"
#include "demux.h"
#include "ioctl.h"
#include "pool.h"
#include "port.h"
#include "region.h"
#include "uplink.h"

static int kpf_ioctl_get_info(struct kpf_ucmd *ucmd)
{
	struct kpf_info *cmd = ucmd->cmd;

	cmd->api_version = KPF_API_VERSION;
	cmd->page_size = PAGE_SIZE;
	cmd->max_slots = KPF_MAX_SLOTS;
	cmd->max_batch = KPF_MAX_BATCH;
	cmd->max_pool_pages = kpf_pool_max_pages();
	cmd->create_region_flags = 0;
	cmd->pool_fill_flags = 0;
	cmd->region_flip_flags = 0;
	cmd->rule_match = KPF_RULE_F_MAC | KPF_RULE_F_VLAN;
	cmd->max_rules = KPF_DEMUX_MAX_RULES;
	cmd->max_ports = KPF_MAX_PORTS;
	cmd->max_ring_size = KPF_RING_SIZE_MAX;
	cmd->copybreak = kpf_port_default_copybreak();
	return kpf_ucmd_respond(ucmd);
}

static int kpf_ioctl_create_region(struct kpf_ucmd *ucmd)
{
	struct kpf_create_region *cmd = ucmd->cmd;
	struct file *file;
	int fd, ret;

	if (!cmd->nr_slots || cmd->nr_slots > KPF_MAX_SLOTS) {
		kpf_user_err("nr_slots %u is not in 1..%u\n", cmd->nr_slots,
			     KPF_MAX_SLOTS);
		return -EINVAL;
	}

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	file = kpf_region_create(ucmd->obj, cmd->vm_fd, cmd->nr_slots);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_put_fd;
	}

	cmd->out_region_fd = fd;
	cmd->out_binding_id = kpf_region_from_file(file)->binding_id;
	ret = kpf_ucmd_respond(ucmd);
	if (ret)
		goto err_fput;

	kpf_binding_publish(kpf_region_from_file(file));
	fd_install(fd, file);
	return 0;

err_fput:
	fput(file);
err_put_fd:
	put_unused_fd(fd);
	return ret;
}

static int kpf_ioctl_pool_fill(struct kpf_ucmd *ucmd)
{
	struct kpf_pool_fill *cmd = ucmd->cmd;
	struct kpf_ctx *ctx = ucmd->obj;
	struct kpf_page *kp;
	u32 end;
	int ret;

	if (cmd->__reserved)
		return kpf_ucmd_reserved(ucmd);
	if (check_add_overflow(cmd->offset, cmd->len, &end)) {
		kpf_user_err("offset %u + len %u overflows\n", cmd->offset,
			     cmd->len);
		return -EOVERFLOW;
	}
	if (!cmd->len || end > PAGE_SIZE) {
		kpf_user_err("offset %u, len %u do not fit a page\n",
			     cmd->offset, cmd->len);
		return -EINVAL;
	}

	kp = kpf_pool_take(KPF_PAGE_STAGED, cmd->offset, cmd->len, NULL);
	if (IS_ERR(kp))
		return PTR_ERR(kp);
	if (copy_from_user(page_address(kp->page) + cmd->offset,
			   u64_to_user_ptr(cmd->data), cmd->len)) {
		ret = -EFAULT;
		goto err_release;
	}
	ret = kpf_ctx_reserve(ctx, &cmd->out_handle);
	if (ret)
		goto err_release;
	ret = kpf_ucmd_respond(ucmd);
	if (ret)
		goto err_unreserve;

	kpf_ctx_publish(ctx, cmd->out_handle, kp);
	kpf_stat_add(NULL, KPF_STAT_BYTES_FILLED, cmd->len);
	return 0;

err_unreserve:
	kpf_ctx_unreserve(ctx, cmd->out_handle);
err_release:
	kpf_pool_release(kp, NULL);
	return ret;
}

static int kpf_ioctl_pool_drop(struct kpf_ucmd *ucmd)
{
	struct kpf_pool_drop *cmd = ucmd->cmd;
	struct kpf_page *kp;

	if (cmd->__reserved)
		return kpf_ucmd_reserved(ucmd);
	kp = kpf_ctx_unstage(ucmd->obj, cmd->handle);
	if (!kp) {
		kpf_user_err("handle %u is not staged here\n", cmd->handle);
		return -ENOENT;
	}
	kpf_pool_release(kp, NULL);
	return 0;
}

static int kpf_ioctl_get_stats(struct kpf_ucmd *ucmd)
{
	struct kpf_get_stats *cmd = ucmd->cmd;
	int ret;

	if (cmd->__reserved)
		return kpf_ucmd_reserved(ucmd);
	memset(&cmd->counters, 0, sizeof(cmd->counters));
	if (cmd->binding_id) {
		ret = kpf_binding_read(cmd->binding_id, &cmd->counters);
		if (ret) {
			kpf_user_err("no binding %u\n", cmd->binding_id);
			return ret;
		}
	} else {
		kpf_stats_read_total(&cmd->counters);
		kpf_pool_read(&cmd->counters);
	}
	return kpf_ucmd_respond(ucmd);
}

static int kpf_ioctl_list_bindings(struct kpf_ucmd *ucmd)
{
	struct kpf_list_bindings *cmd = ucmd->cmd;
	int ret;

	if (cmd->__reserved)
		return kpf_ucmd_reserved(ucmd);
	ret = kpf_binding_list(u64_to_user_ptr(cmd->entries), cmd->nr_entries,
			       &cmd->nr_entries);
	if (ret)
		return ret;
	return kpf_ucmd_respond(ucmd);
}

/*
 * Changing where frames go is network administration.  The control fd
 * carries its opener's privilege, as a socket carries its creator's: a
 * launcher with CAP_NET_ADMIN may open the node and hand the fd to an
 * unprivileged VMM.  The caller's own CAP_NET_ADMIN counts as well.
 */
static int kpf_net_admin(struct kpf_ucmd *ucmd)
{
	if (file_ns_capable(ucmd->file, &init_user_ns, CAP_NET_ADMIN) ||
	    capable(CAP_NET_ADMIN))
		return 0;
	kpf_user_err("needs CAP_NET_ADMIN (caller or fd opener)\n");
	return -EPERM;
}

static int kpf_ioctl_uplink_attach(struct kpf_ucmd *ucmd)
{
	struct kpf_uplink_attach *cmd = ucmd->cmd;
	int ret;

	ret = kpf_net_admin(ucmd);
	if (ret)
		return ret;
	ret = kpf_uplink_attach(cmd->ifindex, &cmd->out_xdp_ifindex);
	if (ret)
		return ret;
	ret = kpf_ucmd_respond(ucmd);
	if (ret)
		kpf_uplink_detach(cmd->ifindex);
	return ret;
}

static int kpf_ioctl_uplink_detach(struct kpf_ucmd *ucmd)
{
	struct kpf_uplink_detach *cmd = ucmd->cmd;
	int ret;

	if (cmd->__reserved)
		return kpf_ucmd_reserved(ucmd);
	ret = kpf_net_admin(ucmd);
	if (ret)
		return ret;
	return kpf_uplink_detach(cmd->ifindex);
}

static int kpf_ioctl_rule_add(struct kpf_ucmd *ucmd)
{
	struct kpf_rule_add *cmd = ucmd->cmd;
	int ret;

	ret = kpf_net_admin(ucmd);
	if (ret)
		return ret;
	return kpf_uplink_rule_add(&cmd->rule);
}

static int kpf_ioctl_rule_del(struct kpf_ucmd *ucmd)
{
	struct kpf_rule_del *cmd = ucmd->cmd;
	int ret;

	ret = kpf_net_admin(ucmd);
	if (ret)
		return ret;
	/* The port is not part of the key. */
	cmd->rule.port_id = 0;
	return kpf_uplink_rule_del(&cmd->rule);
}

static int kpf_ioctl_list_rules(struct kpf_ucmd *ucmd)
{
	struct kpf_list_rules *cmd = ucmd->cmd;
	int ret;

	ret = kpf_uplink_list_rules(cmd->ifindex, u64_to_user_ptr(cmd->entries),
				    cmd->nr_entries, &cmd->nr_entries);
	if (ret)
		return ret;
	return kpf_ucmd_respond(ucmd);
}

static int kpf_ioctl_list_ports(struct kpf_ucmd *ucmd)
{
	struct kpf_list_ports *cmd = ucmd->cmd;
	int ret;

	if (cmd->__reserved)
		return kpf_ucmd_reserved(ucmd);
	ret = kpf_port_list(u64_to_user_ptr(cmd->entries), cmd->nr_entries,
			    &cmd->nr_entries);
	if (ret)
		return ret;
	return kpf_ucmd_respond(ucmd);
}

static int kpf_ioctl_port_set(struct kpf_ucmd *ucmd)
{
	int ret;

	ret = kpf_net_admin(ucmd);
	if (ret)
		return ret;
	return kpf_port_set(ucmd->cmd);
}

static const struct kpf_ioctl_op kpf_ctl_ops[] = {
	KPF_IOCTL_OP(KPF_CMD_BASE, KPF_GET_INFO, kpf_ioctl_get_info,
		     struct kpf_info, region_flip_flags, 0),
	KPF_IOCTL_OP(KPF_CMD_BASE, KPF_CREATE_REGION, kpf_ioctl_create_region,
		     struct kpf_create_region, out_binding_id, 0),
	KPF_IOCTL_OP(KPF_CMD_BASE, KPF_POOL_FILL, kpf_ioctl_pool_fill,
		     struct kpf_pool_fill, __reserved, 0),
	KPF_IOCTL_OP(KPF_CMD_BASE, KPF_POOL_DROP, kpf_ioctl_pool_drop,
		     struct kpf_pool_drop, __reserved, 0),
	KPF_IOCTL_OP(KPF_CMD_BASE, KPF_GET_STATS, kpf_ioctl_get_stats,
		     struct kpf_get_stats, counters, 0),
	KPF_IOCTL_OP(KPF_CMD_BASE, KPF_LIST_BINDINGS, kpf_ioctl_list_bindings,
		     struct kpf_list_bindings, entries, 0),
	KPF_IOCTL_OP(KPF_CMD_BASE, KPF_UPLINK_ATTACH, kpf_ioctl_uplink_attach,
		     struct kpf_uplink_attach, out_xdp_ifindex, 0),
	KPF_IOCTL_OP(KPF_CMD_BASE, KPF_UPLINK_DETACH, kpf_ioctl_uplink_detach,
		     struct kpf_uplink_detach, __reserved, 0),
	KPF_IOCTL_OP(KPF_CMD_BASE, KPF_RULE_ADD, kpf_ioctl_rule_add,
		     struct kpf_rule_add, rule, 0),
	KPF_IOCTL_OP(KPF_CMD_BASE, KPF_RULE_DEL, kpf_ioctl_rule_del,
		     struct kpf_rule_del, rule, 0),
	KPF_IOCTL_OP(KPF_CMD_BASE, KPF_LIST_RULES, kpf_ioctl_list_rules,
		     struct kpf_list_rules, entries, 0),
	KPF_IOCTL_OP(KPF_CMD_BASE, KPF_LIST_PORTS, kpf_ioctl_list_ports,
		     struct kpf_list_ports, entries, 0),
	KPF_IOCTL_OP(KPF_CMD_BASE, KPF_PORT_SET, kpf_ioctl_port_set,
		     struct kpf_port_set, copybreak, 0),
};

static long kpf_ctl_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	return kpf_ioctl_dispatch(kpf_ctl_ops, ARRAY_SIZE(kpf_ctl_ops),
				  KPF_CMD_BASE, cmd, arg, file);
}

static int kpf_ctl_open(struct inode *inode, struct file *file)
{
	struct kpf_ctx *ctx;

	ctx = kpf_ctx_create();
	if (!ctx)
		return -ENOMEM;
	file->private_data = ctx;
	return 0;
}

static int kpf_ctl_release(struct inode *inode, struct file *file)
{
	kpf_ctx_put(file->private_data);
	return 0;
}

static const struct file_operations kpf_ctl_fops = {
	.owner = THIS_MODULE,
	.open = kpf_ctl_open,
	.release = kpf_ctl_release,
	.unlocked_ioctl = kpf_ctl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice kpf_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = KPF_DEVICE_NAME,
	.fops = &kpf_ctl_fops,
	.mode = 0600,
};

/**
 * kpf_chardev_init() - register /dev/kvm-pageflip
 *
 * Return: 0 or a negative errno.
 */
int kpf_chardev_init(void)
{
	return misc_register(&kpf_misc);
}

/**
 * kpf_chardev_uninit() - unregister /dev/kvm-pageflip
 */
void kpf_chardev_uninit(void)
{
	misc_deregister(&kpf_misc);
}
