// SPDX-License-Identifier: GPL-2.0
/*
 * uapi conformance of /dev/kvm-pageflip and its region files: one error
 * case of include/uapi/linux/kvm_pageflip.h per subtest.
 *
 * The "conform" and "reserved" fixtures run the same checks on every ioctl
 * (variants name the ioctl): struct size too short, too long with a zero or
 * a non-zero tail, unknown flags, non-zero reserved fields.  The "uapi"
 * fixture covers the per-command errnos.  Where it is cheap, a failing call
 * is also shown to have changed nothing: the counters it could have moved
 * are the same before and after, and the pages it was given are still
 * staged.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kpf_test.h"
#include "proc.h"

#define NR_SLOTS 16
#define CHILD_TIMEOUT_MS 10000
#define ARG_BUF_SIZE 512

/* What every test starts from: a control fd, a VM and a region of it. */
struct env {
	int ctl;
	struct kpf_info info;
	struct kvm_vm *vm;
	int region_fd;
	uint32_t binding_id;
	/* Used by prepared calls */
	uint8_t data[64];
	struct kpf_flip_entry entry;
};

static void env_setup(struct __test_metadata *_metadata, struct env *env)
{
	if (!devices_ready(_metadata, true))
		return;
	env->ctl = kpf_open();
	ASSERT_LE(0, env->ctl);
	ASSERT_EQ(0, kpf_get_info(env->ctl, &env->info));
	memset(env->data, 0x5a, sizeof(env->data));
	env->vm = vm_create();
	ASSERT_EQ(0, kpf_create_region(env->ctl, env->vm->fd, NR_SLOTS,
				       &env->region_fd, &env->binding_id));
}

static void env_teardown(struct env *env)
{
	close(env->region_fd);
	vm_free(env->vm);
	close(env->ctl);
}

static int raw_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

/* The counters a failed call must not have moved. */
struct snapshot {
	struct kpf_counters module;
	struct kpf_counters binding;
};

static void take_snapshot(struct __test_metadata *_metadata, struct env *env,
			  struct snapshot *s)
{
	ASSERT_EQ(0, kpf_get_stats(env->ctl, 0, &s->module));
	ASSERT_EQ(0, kpf_get_stats(env->ctl, env->binding_id, &s->binding));
}

static void assert_unchanged(struct __test_metadata *_metadata, struct env *env,
			     const struct snapshot *before)
{
	struct snapshot now;

	take_snapshot(_metadata, env, &now);
	ASSERT_EQ(before->module.flips, now.module.flips);
	ASSERT_EQ(before->module.batches, now.module.batches);
	ASSERT_EQ(before->module.invalidations, now.module.invalidations);
	ASSERT_EQ(before->module.bytes_filled, now.module.bytes_filled);
	ASSERT_EQ(before->module.pages_staged, now.module.pages_staged);
	ASSERT_EQ(before->module.pages_in_slots, now.module.pages_in_slots);
	ASSERT_EQ(before->binding.flips, now.binding.flips);
	ASSERT_EQ(before->binding.batches, now.binding.batches);
}

/*
 * One ioctl as the generic checks see it: how to make a valid argument,
 * and how to undo the effect of a call that succeeded.
 */
struct ioctl_case {
	unsigned long cmd;
	uint32_t size;
	/* Size of the struct's first version, when it has grown since. */
	uint32_t min_size;
	bool on_region;
	uint64_t (*supported_flags)(const struct kpf_info *info);
	void (*prepare)(struct __test_metadata *_metadata, struct env *env,
			void *arg);
	void (*undo)(struct env *env, void *arg);
};

static uint64_t no_flags(const struct kpf_info *info)
{
	(void)info;
	return 0;
}

static uint64_t create_region_flags(const struct kpf_info *info)
{
	return info->create_region_flags;
}

static uint64_t pool_fill_flags(const struct kpf_info *info)
{
	return info->pool_fill_flags;
}

static uint64_t region_flip_flags(const struct kpf_info *info)
{
	return info->region_flip_flags;
}

static void prep_get_info(struct __test_metadata *_metadata, struct env *env,
			  void *arg)
{
	struct kpf_info *a = arg;

	(void)_metadata;
	(void)env;
	a->size = sizeof(*a);
}

static void prep_create_region(struct __test_metadata *_metadata,
			       struct env *env, void *arg)
{
	struct kpf_create_region *a = arg;

	(void)_metadata;
	a->size = sizeof(*a);
	a->vm_fd = env->vm->fd;
	a->nr_slots = 1;
}

static void undo_create_region(struct env *env, void *arg)
{
	(void)env;
	close(((struct kpf_create_region *)arg)->out_region_fd);
}

static void prep_pool_fill(struct __test_metadata *_metadata, struct env *env,
			   void *arg)
{
	struct kpf_pool_fill *a = arg;

	(void)_metadata;
	a->size = sizeof(*a);
	a->data = (uintptr_t)env->data;
	a->len = sizeof(env->data);
}

static void undo_pool_fill(struct env *env, void *arg)
{
	kpf_pool_drop(env->ctl, ((struct kpf_pool_fill *)arg)->out_handle);
}

static void prep_pool_drop(struct __test_metadata *_metadata, struct env *env,
			   void *arg)
{
	struct kpf_pool_drop *a = arg;

	a->size = sizeof(*a);
	ASSERT_EQ(0, kpf_pool_fill(env->ctl, env->data, 8, 0, &a->handle));
}

static void prep_get_stats(struct __test_metadata *_metadata, struct env *env,
			   void *arg)
{
	struct kpf_get_stats *a = arg;

	(void)_metadata;
	a->size = sizeof(*a);
	a->binding_id = env->binding_id;
}

static void prep_list_bindings(struct __test_metadata *_metadata,
			       struct env *env, void *arg)
{
	struct kpf_list_bindings *a = arg;

	(void)_metadata;
	(void)env;
	a->size = sizeof(*a);
}

static void prep_region_flip(struct __test_metadata *_metadata, struct env *env,
			     void *arg)
{
	struct kpf_region_flip *a = arg;

	a->size = sizeof(*a);
	a->nr_entries = 1;
	a->entries = (uintptr_t)&env->entry;
	env->entry.slot = 0;
	ASSERT_EQ(0,
		  kpf_pool_fill(env->ctl, env->data, 8, 0, &env->entry.handle));
}

static const struct ioctl_case case_get_info = {
	.cmd = KPF_GET_INFO,
	.size = sizeof(struct kpf_info),
	.min_size = offsetof(struct kpf_info, rule_match),
	.supported_flags = no_flags,
	.prepare = prep_get_info,
};

static const struct ioctl_case case_create_region = {
	.cmd = KPF_CREATE_REGION,
	.size = sizeof(struct kpf_create_region),
	.supported_flags = create_region_flags,
	.prepare = prep_create_region,
	.undo = undo_create_region,
};

static const struct ioctl_case case_pool_fill = {
	.cmd = KPF_POOL_FILL,
	.size = sizeof(struct kpf_pool_fill),
	.supported_flags = pool_fill_flags,
	.prepare = prep_pool_fill,
	.undo = undo_pool_fill,
};

static const struct ioctl_case case_pool_drop = {
	.cmd = KPF_POOL_DROP,
	.size = sizeof(struct kpf_pool_drop),
	.supported_flags = no_flags,
	.prepare = prep_pool_drop,
};

static const struct ioctl_case case_get_stats = {
	.cmd = KPF_GET_STATS,
	.size = sizeof(struct kpf_get_stats),
	.supported_flags = no_flags,
	.prepare = prep_get_stats,
};

static const struct ioctl_case case_list_bindings = {
	.cmd = KPF_LIST_BINDINGS,
	.size = sizeof(struct kpf_list_bindings),
	.supported_flags = no_flags,
	.prepare = prep_list_bindings,
};

static void prep_list_rules(struct __test_metadata *_metadata, struct env *env,
			    void *arg)
{
	struct kpf_list_rules *a = arg;

	(void)_metadata;
	(void)env;
	a->size = sizeof(*a);
}

static void prep_list_ports(struct __test_metadata *_metadata, struct env *env,
			    void *arg)
{
	struct kpf_list_ports *a = arg;

	(void)_metadata;
	(void)env;
	a->size = sizeof(*a);
}

/* The smallest port: a ring of 2 at slot 0, no eventfds. */
static void prep_region_add_port(struct __test_metadata *_metadata,
				 struct env *env, void *arg)
{
	struct kpf_region_add_port *a = arg;

	(void)_metadata;
	(void)env;
	a->size = sizeof(*a);
	a->ring_size = 2;
	a->kick_fd = -1;
	a->irq_fd = -1;
	a->copybreak = KPF_COPYBREAK_DEFAULT;
}

static void undo_region_add_port(struct env *env, void *arg)
{
	struct kpf_region_del_port del = {
		.size = sizeof(del),
		.port_id = ((struct kpf_region_add_port *)arg)->out_port_id,
	};

	raw_ioctl(env->region_fd, KPF_REGION_DEL_PORT, &del);
}

static const struct ioctl_case case_list_rules = {
	.cmd = KPF_LIST_RULES,
	.size = sizeof(struct kpf_list_rules),
	.supported_flags = no_flags,
	.prepare = prep_list_rules,
};

static const struct ioctl_case case_list_ports = {
	.cmd = KPF_LIST_PORTS,
	.size = sizeof(struct kpf_list_ports),
	.supported_flags = no_flags,
	.prepare = prep_list_ports,
};

static const struct ioctl_case case_region_add_port = {
	.cmd = KPF_REGION_ADD_PORT,
	.size = sizeof(struct kpf_region_add_port),
	.on_region = true,
	.supported_flags = no_flags,
	.prepare = prep_region_add_port,
	.undo = undo_region_add_port,
};

static const struct ioctl_case case_region_flip = {
	.cmd = KPF_REGION_FLIP,
	.size = sizeof(struct kpf_region_flip),
	.on_region = true,
	.supported_flags = region_flip_flags,
	.prepare = prep_region_flip,
};

/* An argument buffer with room for a tail beyond every struct. */
union arg_buf {
	uint8_t bytes[ARG_BUF_SIZE];
	uint64_t align;
};

static int case_call(struct env *env, const struct ioctl_case *c, void *arg)
{
	return raw_ioctl(c->on_region ? env->region_fd : env->ctl, c->cmd, arg);
}

FIXTURE(conform)
{
	struct env env;
};

FIXTURE_VARIANT(conform)
{
	const struct ioctl_case *c;
};

/* The harness's declarations are not calls: keep them as written. */
/* clang-format off */
FIXTURE_VARIANT_ADD(conform, get_info) {
	.c = &case_get_info,
};
FIXTURE_VARIANT_ADD(conform, create_region) {
	.c = &case_create_region,
};
FIXTURE_VARIANT_ADD(conform, pool_fill) {
	.c = &case_pool_fill,
};
FIXTURE_VARIANT_ADD(conform, pool_drop) {
	.c = &case_pool_drop,
};
FIXTURE_VARIANT_ADD(conform, get_stats) {
	.c = &case_get_stats,
};
FIXTURE_VARIANT_ADD(conform, list_bindings) {
	.c = &case_list_bindings,
};
FIXTURE_VARIANT_ADD(conform, region_flip) {
	.c = &case_region_flip,
};
FIXTURE_VARIANT_ADD(conform, list_rules) {
	.c = &case_list_rules,
};
FIXTURE_VARIANT_ADD(conform, list_ports) {
	.c = &case_list_ports,
};
FIXTURE_VARIANT_ADD(conform, region_add_port) {
	.c = &case_region_add_port,
};
/* clang-format on */

FIXTURE_SETUP(conform)
{
	env_setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN(conform)
{
	env_teardown(&self->env);
}

/* Every size below the struct's first version is EINVAL. */
TEST_F(conform, size_too_short)
{
	const struct ioctl_case *c = variant->c;
	uint32_t min = c->min_size ? c->min_size : c->size;
	struct snapshot before;
	union arg_buf arg = { 0 };
	uint32_t size;

	c->prepare(_metadata, &self->env, &arg);
	take_snapshot(_metadata, &self->env, &before);
	for (size = 0; size < min; size++) {
		*(uint32_t *)arg.bytes = size;
		ASSERT_EQ_LOG(-EINVAL, case_call(&self->env, c, &arg),
			      "size %u", size);
	}
	assert_unchanged(_metadata, &self->env, &before);
}

/* A longer struct whose extra bytes are zero is accepted; they stay zero. */
TEST_F(conform, size_long_zero_tail)
{
	static const uint32_t extra[] = { 1, 8, 64 };
	const struct ioctl_case *c = variant->c;
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(extra); i++) {
		union arg_buf arg = { 0 };

		c->prepare(_metadata, &self->env, &arg);
		*(uint32_t *)arg.bytes = c->size + extra[i];
		ASSERT_EQ_LOG(0, case_call(&self->env, c, &arg), "size %u",
			      c->size + extra[i]);
		for (j = c->size; j < ARG_BUF_SIZE; j++)
			ASSERT_EQ_LOG(0, arg.bytes[j], "byte %u written", j);
		if (c->undo)
			c->undo(&self->env, &arg);
	}
}

/* A longer struct with a non-zero byte the kernel does not know: E2BIG. */
TEST_F(conform, size_long_nonzero_tail)
{
	static const uint32_t extra[] = { 1, 8, 64 };
	const struct ioctl_case *c = variant->c;
	struct snapshot before;
	union arg_buf arg = { 0 };
	unsigned int i;

	c->prepare(_metadata, &self->env, &arg);
	take_snapshot(_metadata, &self->env, &before);
	for (i = 0; i < ARRAY_SIZE(extra); i++) {
		*(uint32_t *)arg.bytes = c->size + extra[i];
		arg.bytes[c->size + extra[i] - 1] = 0x01;
		ASSERT_EQ_LOG(-E2BIG, case_call(&self->env, c, &arg), "size %u",
			      c->size + extra[i]);
		arg.bytes[c->size + extra[i] - 1] = 0;
	}
	assert_unchanged(_metadata, &self->env, &before);
}

/*
 * A size above the page size is E2BIG even when every extra byte is zero:
 * the module does not scan arbitrary amounts of user memory for zeros.
 */
TEST_F(conform, size_above_page)
{
	const struct ioctl_case *c = variant->c;
	long page = sysconf(_SC_PAGESIZE);
	struct snapshot before;
	union arg_buf arg = { 0 };
	uint8_t *big;

	big = calloc(2, page);
	ASSERT_NE(NULL, big);
	c->prepare(_metadata, &self->env, &arg);
	memcpy(big, arg.bytes, c->size);
	*(uint32_t *)big = page + 1;
	take_snapshot(_metadata, &self->env, &before);
	ASSERT_EQ(-E2BIG, case_call(&self->env, c, big));
	assert_unchanged(_metadata, &self->env, &before);
	free(big);
}

/* Each flag bit the module does not report in kpf_info: EOPNOTSUPP. */
TEST_F(conform, unknown_flags)
{
	const struct ioctl_case *c = variant->c;
	uint64_t supported = c->supported_flags(&self->env.info);
	struct snapshot before;
	union arg_buf arg = { 0 };
	unsigned int bit, tried = 0;

	c->prepare(_metadata, &self->env, &arg);
	take_snapshot(_metadata, &self->env, &before);
	for (bit = 0; bit < 32; bit++) {
		if (supported & (1ULL << bit))
			continue;
		((uint32_t *)arg.bytes)[1] = 1U << bit;
		ASSERT_EQ_LOG(-EOPNOTSUPP, case_call(&self->env, c, &arg),
			      "flag bit %u", bit);
		tried++;
	}
	ASSERT_LT(0, tried);
	assert_unchanged(_metadata, &self->env, &before);
}

FIXTURE(reserved)
{
	struct env env;
};

FIXTURE_VARIANT(reserved)
{
	const struct ioctl_case *c;
	size_t offset;
};

/* The harness's declarations are not calls: keep them as written. */
/* clang-format off */
FIXTURE_VARIANT_ADD(reserved, pool_fill) {
	.c = &case_pool_fill,
	.offset = offsetof(struct kpf_pool_fill, __reserved),
};
FIXTURE_VARIANT_ADD(reserved, pool_drop) {
	.c = &case_pool_drop,
	.offset = offsetof(struct kpf_pool_drop, __reserved),
};
FIXTURE_VARIANT_ADD(reserved, get_stats) {
	.c = &case_get_stats,
	.offset = offsetof(struct kpf_get_stats, __reserved),
};
FIXTURE_VARIANT_ADD(reserved, list_bindings) {
	.c = &case_list_bindings,
	.offset = offsetof(struct kpf_list_bindings, __reserved),
};
FIXTURE_VARIANT_ADD(reserved, region_flip) {
	.c = &case_region_flip,
	.offset = offsetof(struct kpf_region_flip, __reserved),
};
FIXTURE_VARIANT_ADD(reserved, region_flip_2) {
	.c = &case_region_flip,
	.offset = offsetof(struct kpf_region_flip, __reserved2),
};
FIXTURE_VARIANT_ADD(reserved, list_ports) {
	.c = &case_list_ports,
	.offset = offsetof(struct kpf_list_ports, __reserved),
};
FIXTURE_VARIANT_ADD(reserved, region_add_port) {
	.c = &case_region_add_port,
	.offset = offsetof(struct kpf_region_add_port, __reserved),
};
/* clang-format on */

FIXTURE_SETUP(reserved)
{
	env_setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN(reserved)
{
	env_teardown(&self->env);
}

TEST_F(reserved, nonzero)
{
	static const uint32_t values[] = { 1, 0x80000000 };
	const struct ioctl_case *c = variant->c;
	struct snapshot before;
	union arg_buf arg = { 0 };
	unsigned int i;

	c->prepare(_metadata, &self->env, &arg);
	take_snapshot(_metadata, &self->env, &before);
	for (i = 0; i < ARRAY_SIZE(values); i++) {
		memcpy(arg.bytes + variant->offset, &values[i],
		       sizeof(values[i]));
		ASSERT_EQ_LOG(-EOPNOTSUPP, case_call(&self->env, c, &arg),
			      "__reserved = %#x", values[i]);
	}
	assert_unchanged(_metadata, &self->env, &before);
}

FIXTURE(uapi)
{
	struct env env;
};

FIXTURE_SETUP(uapi)
{
	env_setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN(uapi)
{
	env_teardown(&self->env);
}

TEST_F(uapi, info_reports_limits)
{
	struct kpf_info *info = &self->env.info;

	ASSERT_EQ(KPF_API_VERSION, info->api_version);
	ASSERT_EQ(getpagesize(), info->page_size);
	ASSERT_LE(1, info->max_slots);
	ASSERT_LE(1, info->max_batch);
	ASSERT_LE(info->max_slots, info->max_pool_pages);
	ASSERT_EQ(KPF_RULE_F_MAC | KPF_RULE_F_VLAN, info->rule_match);
	ASSERT_EQ(KPF_MAX_PORTS, info->max_ports);
	ASSERT_EQ(KPF_RING_SIZE_MAX, info->max_ring_size);
	ASSERT_LE(1, info->max_rules);
	ASSERT_GE(KPF_COPYBREAK_MAX, info->copybreak);
	ASSERT_EQ(0, info->__reserved);
}

/* A caller built against the first version gets what it knows, no more. */
TEST_F(uapi, info_first_version_size)
{
	const uint32_t first = offsetof(struct kpf_info, rule_match);
	struct kpf_info info;

	memset(&info, 0xa5, sizeof(info));
	info.size = first;
	info.flags = 0;
	ASSERT_EQ(0, raw_ioctl(self->env.ctl, KPF_GET_INFO, &info));
	ASSERT_EQ(KPF_API_VERSION, info.api_version);
	ASSERT_EQ(0xa5a5a5a5, info.rule_match);
	ASSERT_EQ(0xa5a5a5a5, info.__reserved);
}

TEST_F(uapi, null_argument)
{
	static const unsigned long cmds[] = {
		KPF_GET_INFO,  KPF_CREATE_REGION, KPF_POOL_FILL,
		KPF_POOL_DROP, KPF_GET_STATS,	  KPF_LIST_BINDINGS,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		ASSERT_EQ_LOG(-EFAULT, raw_ioctl(self->env.ctl, cmds[i], NULL),
			      "cmd %#lx", cmds[i]);
	ASSERT_EQ(-EFAULT,
		  raw_ioctl(self->env.region_fd, KPF_REGION_FLIP, NULL));
}

TEST_F(uapi, unknown_cmd_on_control)
{
	static const unsigned long cmds[] = {
		_IO(KPF_TYPE, KPF_CMD_PORT_SET + 1),
		_IO(KPF_TYPE, 0x3f),
		_IO(KPF_TYPE, 0xff),
		_IO(KPF_TYPE + 1, KPF_CMD_GET_INFO),
	};
	struct kpf_info info = { .size = sizeof(info) };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		ASSERT_EQ_LOG(-ENOTTY, raw_ioctl(self->env.ctl, cmds[i], &info),
			      "cmd %#lx", cmds[i]);
}

TEST_F(uapi, unknown_cmd_on_region)
{
	static const unsigned long cmds[] = {
		_IO(KPF_TYPE, KPF_CMD_REGION_DEL_PORT + 1),
		_IO(KPF_TYPE, KPF_CMD_GET_INFO),
		_IO(KPF_TYPE, 0xff),
		_IO(KPF_TYPE + 1, KPF_CMD_REGION_FLIP),
	};
	struct kpf_region_flip flip = { .size = sizeof(flip) };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		ASSERT_EQ_LOG(-ENOTTY,
			      raw_ioctl(self->env.region_fd, cmds[i], &flip),
			      "cmd %#lx", cmds[i]);
}

/* Control commands, with valid arguments, are not region commands. */
TEST_F(uapi, control_cmd_on_region)
{
	static const struct ioctl_case *cases[] = {
		&case_get_info,	 &case_create_region, &case_pool_fill,
		&case_pool_drop, &case_get_stats,     &case_list_bindings,
	};
	struct snapshot before;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		union arg_buf arg = { 0 };

		cases[i]->prepare(_metadata, &self->env, &arg);
		take_snapshot(_metadata, &self->env, &before);
		ASSERT_EQ_LOG(-ENOTTY,
			      raw_ioctl(self->env.region_fd, cases[i]->cmd,
					&arg),
			      "cmd %#lx", cases[i]->cmd);
		assert_unchanged(_metadata, &self->env, &before);
	}
}

TEST_F(uapi, region_cmd_on_control)
{
	union arg_buf arg = { 0 };
	struct snapshot before;

	prep_region_flip(_metadata, &self->env, &arg);
	take_snapshot(_metadata, &self->env, &before);
	ASSERT_EQ(-ENOTTY, raw_ioctl(self->env.ctl, KPF_REGION_FLIP, &arg));
	assert_unchanged(_metadata, &self->env, &before);
	ASSERT_EQ(0, kpf_pool_drop(self->env.ctl, self->env.entry.handle));
}

/* KPF_CREATE_REGION with @vm_fd, which must fail with -@err. */
static void assert_create_fails(struct __test_metadata *_metadata,
				struct env *env, int vm_fd, uint32_t nr_slots,
				int err)
{
	struct snapshot before;
	uint32_t id = 0;
	int fd = -1;

	take_snapshot(_metadata, env, &before);
	ASSERT_EQ(-err, kpf_create_region(env->ctl, vm_fd, nr_slots, &fd, &id));
	assert_unchanged(_metadata, env, &before);
}

TEST_F(uapi, vm_fd_closed)
{
	int fd = dup(self->env.ctl);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	assert_create_fails(_metadata, &self->env, fd, 1, EBADF);
	assert_create_fails(_metadata, &self->env, -1, 1, EBADF);
}

TEST_F(uapi, vm_fd_dev_null)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	assert_create_fails(_metadata, &self->env, fd, 1, EINVAL);
	close(fd);
}

TEST_F(uapi, vm_fd_eventfd)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, fd);
	assert_create_fails(_metadata, &self->env, fd, 1, EINVAL);
	close(fd);
}

TEST_F(uapi, vm_fd_dev_kvm)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	assert_create_fails(_metadata, &self->env, fd, 1, EINVAL);
	close(fd);
}

static void __guest guest_nothing(uint64_t arg)
{
	(void)arg;
}

TEST_F(uapi, vm_fd_vcpu)
{
	struct kvm_vcpu *vcpu = vm_vcpu_add(self->env.vm, guest_nothing, 0);

	assert_create_fails(_metadata, &self->env, vcpu->fd, 1, EINVAL);
}

/* Our own files are not VMs either. */
TEST_F(uapi, vm_fd_kvm_pageflip)
{
	assert_create_fails(_metadata, &self->env, self->env.ctl, 1, EINVAL);
	assert_create_fails(_metadata, &self->env, self->env.region_fd, 1,
			    EINVAL);
}

/* Creates a VM in a child and sends its fd over @sock; waits for EOF. */
static void __attribute__((noreturn)) child_send_vm(int sock)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);

	if (vm < 0 || send_fd(sock, vm))
		_exit(1);
	poll(&pfd, 1, CHILD_TIMEOUT_MS);
	_exit(0);
}

TEST_F(uapi, vm_fd_of_other_process)
{
	int sv[2], vm_fd, status;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sv[0]);
		child_send_vm(sv[1]);
	}
	close(sv[1]);
	vm_fd = recv_fd(sv[0], CHILD_TIMEOUT_MS);
	ASSERT_LE_LOG(0, vm_fd, "no VM fd from the child: %s",
		      strerror(-vm_fd));
	assert_create_fails(_metadata, &self->env, vm_fd, 1, EPERM);
	close(vm_fd);
	close(sv[0]);
	ASSERT_EQ(0, wait_child(pid, &status, CHILD_TIMEOUT_MS));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
}

TEST_F(uapi, nr_slots_zero)
{
	assert_create_fails(_metadata, &self->env, self->env.vm->fd, 0, EINVAL);
}

TEST_F(uapi, nr_slots_above_max)
{
	uint32_t max = self->env.info.max_slots;

	assert_create_fails(_metadata, &self->env, self->env.vm->fd, max + 1,
			    EINVAL);
	assert_create_fails(_metadata, &self->env, self->env.vm->fd, UINT32_MAX,
			    EINVAL);
}

TEST_F(uapi, mmap_slots_read_zero)
{
	size_t len = NR_SLOTS * PAGE_SIZE, i;
	uint8_t *map;

	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->env.region_fd, 0);
	ASSERT_NE_LOG(MAP_FAILED, map, "mmap: %s", strerror(errno));
	for (i = 0; i < len; i++)
		ASSERT_EQ_LOG(0, map[i], "byte %zu", i);
	munmap(map, len);
}

TEST_F(uapi, mmap_private)
{
	void *map = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			 self->env.region_fd, 0);

	ASSERT_EQ(MAP_FAILED, map);
	ASSERT_EQ(EINVAL, errno);
}

TEST_F(uapi, mmap_beyond_slots)
{
	void *map;

	map = mmap(NULL, (NR_SLOTS + 1) * PAGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_SHARED, self->env.region_fd, 0);
	ASSERT_EQ(MAP_FAILED, map);
	ASSERT_EQ(EINVAL, errno);
	map = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->env.region_fd, NR_SLOTS * PAGE_SIZE);
	ASSERT_EQ(MAP_FAILED, map);
	ASSERT_EQ(EINVAL, errno);
}

/* Only the VM's own process may map its region. */
TEST_F(uapi, mmap_by_other_process)
{
	int status, code;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		void *map = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_SHARED,
				 self->env.region_fd, 0);

		_exit(map != MAP_FAILED ? 100 : errno == EPERM ? 0 : errno);
	}
	ASSERT_EQ(0, wait_child(pid, &status, CHILD_TIMEOUT_MS));
	ASSERT_TRUE(WIFEXITED(status));
	code = WEXITSTATUS(status);
	ASSERT_EQ_LOG(0, code, "child's mmap: %s",
		      code == 100 ? "succeeded" : strerror(code));
}

/* Drops CAP_NET_ADMIN from every capability set of the calling thread. */
static int drop_net_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	unsigned int i = CAP_TO_INDEX(CAP_NET_ADMIN);

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[i].effective &= ~CAP_TO_MASK(CAP_NET_ADMIN);
	data[i].permitted &= ~CAP_TO_MASK(CAP_NET_ADMIN);
	data[i].inheritable &= ~CAP_TO_MASK(CAP_NET_ADMIN);
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/* KPF_PORT_SET of @port_id on @ctl: 0 or an errno. */
static int port_set(int ctl, uint32_t port_id)
{
	struct kpf_port_set set = {
		.size = sizeof(set),
		.port_id = port_id,
		.copybreak = KPF_COPYBREAK_DEFAULT,
	};

	return -raw_ioctl(ctl, KPF_PORT_SET, &set);
}

/*
 * The control fd carries its opener's CAP_NET_ADMIN: a child without it is
 * refused on an fd it opened itself (EPERM), and allowed on the fd its
 * privileged parent opened, as an unprivileged VMM given the fd by a
 * launcher is.  KPF_PORT_SET stands for every CAP_NET_ADMIN ioctl.
 */
TEST_F(uapi, net_admin_of_fd_opener)
{
	struct kpf_region_add_port add = {
		.size = sizeof(add),
		.ring_size = 2,
		.kick_fd = -1,
		.irq_fd = -1,
		.copybreak = KPF_COPYBREAK_DEFAULT,
	};
	int status, code;
	pid_t pid;

	ASSERT_EQ(0, raw_ioctl(self->env.region_fd, KPF_REGION_ADD_PORT, &add));
	ASSERT_EQ(0, port_set(self->env.ctl, add.out_port_id));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int own;

		if (drop_net_admin())
			_exit(101);
		own = kpf_open();
		if (own < 0)
			_exit(102);
		if (port_set(own, add.out_port_id) != EPERM)
			_exit(103);
		_exit(port_set(self->env.ctl, add.out_port_id));
	}
	ASSERT_EQ(0, wait_child(pid, &status, CHILD_TIMEOUT_MS));
	ASSERT_TRUE(WIFEXITED(status));
	code = WEXITSTATUS(status);
	ASSERT_NE_LOG(101, code, "the child could not drop CAP_NET_ADMIN");
	ASSERT_NE_LOG(102, code, "the child could not open the node");
	ASSERT_NE_LOG(103, code, "own fd not refused with EPERM");
	ASSERT_EQ_LOG(0, code, "the parent's fd in the child: %s",
		      strerror(code));
}

/* Stages @n small frames into @handles. */
static void stage(struct __test_metadata *_metadata, struct env *env,
		  uint32_t *handles, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		ASSERT_EQ(0, kpf_pool_fill(env->ctl, env->data, 16, 0,
					   &handles[i]));
}

/* The handles survived a failed flip: each can still be dropped, once. */
static void assert_still_staged(struct __test_metadata *_metadata,
				struct env *env, const uint32_t *handles,
				unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		ASSERT_EQ_LOG(0, kpf_pool_drop(env->ctl, handles[i]),
			      "handle %u was consumed", handles[i]);
}

/* A failing flip of @entries: errno, unchanged counters, handles kept. */
static void assert_flip_fails(struct __test_metadata *_metadata,
			      struct env *env,
			      const struct kpf_flip_entry *entries,
			      uint32_t nr_entries, int err)
{
	struct snapshot before;

	take_snapshot(_metadata, env, &before);
	ASSERT_EQ(-err,
		  kpf_region_flip(env->region_fd, entries, nr_entries, NULL));
	assert_unchanged(_metadata, env, &before);
}

TEST_F(uapi, flip_slot_out_of_range)
{
	static const uint32_t bad_slots[] = { NR_SLOTS, NR_SLOTS + 1,
					      UINT32_MAX };
	struct kpf_flip_entry e[2];
	uint32_t h[2];
	unsigned int i;

	stage(_metadata, &self->env, h, 2);
	for (i = 0; i < ARRAY_SIZE(bad_slots); i++) {
		e[0] = (struct kpf_flip_entry){ .slot = 0, .handle = h[0] };
		e[1] = (struct kpf_flip_entry){ .slot = bad_slots[i],
						.handle = h[1] };
		assert_flip_fails(_metadata, &self->env, e, 2, EINVAL);
	}
	assert_still_staged(_metadata, &self->env, h, 2);
}

TEST_F(uapi, flip_no_entries)
{
	struct kpf_flip_entry e;

	stage(_metadata, &self->env, &e.handle, 1);
	e.slot = 0;
	assert_flip_fails(_metadata, &self->env, &e, 0, EINVAL);
	assert_still_staged(_metadata, &self->env, &e.handle, 1);
}

TEST_F(uapi, flip_too_many_entries)
{
	uint32_t n = self->env.info.max_batch + 1, i;
	struct kpf_flip_entry *e = calloc(n, sizeof(*e));
	uint32_t h;

	ASSERT_NE(NULL, e);
	stage(_metadata, &self->env, &h, 1);
	for (i = 0; i < n; i++)
		e[i] = (struct kpf_flip_entry){ .slot = i % NR_SLOTS,
						.handle = h };
	assert_flip_fails(_metadata, &self->env, e, n, EINVAL);
	assert_flip_fails(_metadata, &self->env, e, UINT32_MAX, EINVAL);
	assert_still_staged(_metadata, &self->env, &h, 1);
	free(e);
}

TEST_F(uapi, flip_same_slot_twice)
{
	struct kpf_flip_entry e[3];
	uint32_t h[3];

	stage(_metadata, &self->env, h, 3);
	e[0] = (struct kpf_flip_entry){ .slot = 2, .handle = h[0] };
	e[1] = (struct kpf_flip_entry){ .slot = 3, .handle = h[1] };
	e[2] = (struct kpf_flip_entry){ .slot = 2, .handle = h[2] };
	assert_flip_fails(_metadata, &self->env, e, 3, EINVAL);
	assert_still_staged(_metadata, &self->env, h, 3);
}

TEST_F(uapi, flip_same_handle_twice)
{
	struct kpf_flip_entry e[2];
	uint32_t h;

	stage(_metadata, &self->env, &h, 1);
	e[0] = (struct kpf_flip_entry){ .slot = 1, .handle = h };
	e[1] = (struct kpf_flip_entry){ .slot = 2, .handle = h };
	assert_flip_fails(_metadata, &self->env, e, 2, EINVAL);
	assert_still_staged(_metadata, &self->env, &h, 1);
}

/* Never issued (0 never is), or dropped already; the good entry survives. */
TEST_F(uapi, flip_unknown_handle)
{
	struct kpf_flip_entry e[2];
	uint32_t h[2];

	stage(_metadata, &self->env, h, 2);
	ASSERT_EQ(0, kpf_pool_drop(self->env.ctl, h[1]));
	e[0] = (struct kpf_flip_entry){ .slot = 0, .handle = h[0] };
	e[1] = (struct kpf_flip_entry){ .slot = 1, .handle = h[1] };
	assert_flip_fails(_metadata, &self->env, e, 2, ENOENT);
	e[1].handle = 0;
	assert_flip_fails(_metadata, &self->env, e, 2, ENOENT);
	assert_still_staged(_metadata, &self->env, h, 1);
}

/* A handle staged on another control fd is not ours to flip. */
TEST_F(uapi, flip_handle_of_other_control_fd)
{
	int other = kpf_open();
	struct kpf_flip_entry e;

	ASSERT_LE(0, other);
	ASSERT_EQ(0, kpf_pool_fill(other, self->env.data, 16, 0, &e.handle));
	e.slot = 0;
	assert_flip_fails(_metadata, &self->env, &e, 1, ENOENT);
	ASSERT_EQ(-ENOENT, kpf_pool_drop(self->env.ctl, e.handle));
	ASSERT_EQ(0, kpf_pool_drop(other, e.handle));
	close(other);
}

/* {3, 4, 5, 9} is two contiguous runs: two unmap calls. */
TEST_F(uapi, flip_counts_runs)
{
	static const uint32_t slots[] = { 3, 4, 5, 9 };
	struct kpf_counters before, after;
	struct kpf_flip_entry e[4];
	uint32_t h[4], inval = 0;
	unsigned int i;

	stage(_metadata, &self->env, h, 4);
	for (i = 0; i < 4; i++)
		e[i] = (struct kpf_flip_entry){ .slot = slots[i],
						.handle = h[i] };
	ASSERT_EQ(0,
		  kpf_get_stats(self->env.ctl, self->env.binding_id, &before));
	ASSERT_EQ(0, kpf_region_flip(self->env.region_fd, e, 4, &inval));
	ASSERT_EQ(0,
		  kpf_get_stats(self->env.ctl, self->env.binding_id, &after));
	ASSERT_EQ(2, inval);
	ASSERT_EQ(before.flips + 4, after.flips);
	ASSERT_EQ(before.batches + 1, after.batches);
	ASSERT_EQ(before.invalidations + 2, after.invalidations);
	/* Consumed: the handles are gone. */
	ASSERT_EQ(-ENOENT, kpf_pool_drop(self->env.ctl, h[0]));
}

/* Arguments of a KPF_POOL_FILL that must fail. */
struct fill_args {
	uint32_t len;
	uint32_t offset;
};

TEST_F(uapi, fill_len_zero)
{
	struct snapshot before;
	uint32_t h;

	take_snapshot(_metadata, &self->env, &before);
	ASSERT_EQ(-EINVAL,
		  kpf_pool_fill(self->env.ctl, self->env.data, 0, 0, &h));
	assert_unchanged(_metadata, &self->env, &before);
}

TEST_F(uapi, fill_beyond_page)
{
	static const struct fill_args cases[] = {
		{ .len = 100, .offset = 4000 },
		{ .len = 4097, .offset = 0 },
		{ .len = 1, .offset = 4096 },
		{ .len = 4096, .offset = 1 },
	};
	uint8_t *page = calloc(2, PAGE_SIZE);
	struct snapshot before;
	unsigned int i;
	uint32_t h;

	ASSERT_NE(NULL, page);
	take_snapshot(_metadata, &self->env, &before);
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		ASSERT_EQ_LOG(-EINVAL,
			      kpf_pool_fill(self->env.ctl, page, cases[i].len,
					    cases[i].offset, &h),
			      "len %u offset %u", cases[i].len,
			      cases[i].offset);
	assert_unchanged(_metadata, &self->env, &before);
	free(page);
}

TEST_F(uapi, fill_offset_overflow)
{
	static const struct fill_args cases[] = {
		{ .len = 1, .offset = UINT32_MAX },
		{ .len = 4096, .offset = 0xfffff000 },
		{ .len = 16, .offset = 0xfffffff8 },
	};
	uint8_t *page = calloc(1, PAGE_SIZE);
	struct snapshot before;
	unsigned int i;
	uint32_t h;

	ASSERT_NE(NULL, page);
	take_snapshot(_metadata, &self->env, &before);
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		ASSERT_EQ_LOG(-EOVERFLOW,
			      kpf_pool_fill(self->env.ctl, page, cases[i].len,
					    cases[i].offset, &h),
			      "len %u offset %u", cases[i].len,
			      cases[i].offset);
	assert_unchanged(_metadata, &self->env, &before);
	free(page);
}

TEST_F(uapi, fill_bad_pointer)
{
	struct snapshot before;
	uint32_t h;

	take_snapshot(_metadata, &self->env, &before);
	ASSERT_EQ(-EFAULT, kpf_pool_fill(self->env.ctl, NULL, 16, 0, &h));
	assert_unchanged(_metadata, &self->env, &before);
}

/* A fill stages one page and counts its bytes; a drop unstages it. */
TEST_F(uapi, fill_and_drop_count)
{
	struct kpf_counters c0, c1, c2;
	uint32_t h;

	ASSERT_EQ(0, kpf_get_stats(self->env.ctl, 0, &c0));
	ASSERT_EQ(0, kpf_pool_fill(self->env.ctl, self->env.data, 48, 100, &h));
	ASSERT_NE(0, h);
	ASSERT_EQ(0, kpf_get_stats(self->env.ctl, 0, &c1));
	ASSERT_EQ(c0.pages_staged + 1, c1.pages_staged);
	ASSERT_EQ(c0.bytes_filled + 48, c1.bytes_filled);
	ASSERT_TRUE(kpf_counters_balanced(&c1));
	ASSERT_EQ(0, kpf_pool_drop(self->env.ctl, h));
	ASSERT_EQ(0, kpf_get_stats(self->env.ctl, 0, &c2));
	ASSERT_EQ(c0.pages_staged, c2.pages_staged);
	ASSERT_TRUE(kpf_counters_balanced(&c2));
}

TEST_F(uapi, drop_unknown_handle)
{
	int other = kpf_open();
	uint32_t h, foreign;

	ASSERT_LE(0, other);
	ASSERT_EQ(-ENOENT, kpf_pool_drop(self->env.ctl, 0));
	stage(_metadata, &self->env, &h, 1);
	ASSERT_EQ(0, kpf_pool_drop(self->env.ctl, h));
	ASSERT_EQ(-ENOENT, kpf_pool_drop(self->env.ctl, h));
	ASSERT_EQ(0, kpf_pool_fill(other, self->env.data, 16, 0, &foreign));
	ASSERT_EQ(-ENOENT, kpf_pool_drop(self->env.ctl, foreign));
	ASSERT_EQ(0, kpf_pool_drop(other, foreign));
	close(other);
}

TEST_F(uapi, stats_unknown_binding)
{
	struct kpf_counters c;

	ASSERT_EQ(-ENOENT, kpf_get_stats(self->env.ctl, UINT32_MAX, &c));
}

/* A binding's id goes away with the binding (possibly deferred). */
TEST_F(uapi, stats_closed_binding)
{
	uint64_t deadline = now_ms() + IDLE_TIMEOUT_MS;
	struct kpf_counters c;
	uint32_t id;
	int fd, ret;

	ASSERT_EQ(0, kpf_create_region(self->env.ctl, self->env.vm->fd, 1, &fd,
				       &id));
	ASSERT_NE(0, id);
	ASSERT_EQ(0, kpf_get_stats(self->env.ctl, id, &c));
	close(fd);
	for (;;) {
		ret = kpf_get_stats(self->env.ctl, id, &c);
		if (ret || now_ms() >= deadline)
			break;
		usleep(10000);
	}
	ASSERT_EQ(-ENOENT, ret);
}

/* A fresh binding: its slots and nothing else, no events yet. */
TEST_F(uapi, stats_of_new_binding)
{
	struct kpf_counters c;

	ASSERT_EQ(0, kpf_get_stats(self->env.ctl, self->env.binding_id, &c));
	ASSERT_EQ(NR_SLOTS, c.pages_in_slots);
	ASSERT_EQ(NR_SLOTS, c.pages_allocated);
	ASSERT_EQ(0, c.pages_free);
	ASSERT_EQ(0, c.pages_staged);
	ASSERT_EQ(0, c.pages_quarantined);
	ASSERT_EQ(0, c.flips);
	ASSERT_EQ(0, c.batches);
	ASSERT_EQ(0, c.invalidations);
}

/* Our bindings are listed, in ascending id order, with their details. */
TEST_F(uapi, list_bindings)
{
	struct kpf_binding_info entries[64];
	uint32_t n = ARRAY_SIZE(entries), ids[2], i, found = 0;
	int fds[2];

	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, kpf_create_region(self->env.ctl, self->env.vm->fd,
					       i + 1, &fds[i], &ids[i]));
	ASSERT_EQ(0, kpf_list_bindings(self->env.ctl, entries, &n));
	ASSERT_LE(3, n);
	ASSERT_GE(ARRAY_SIZE(entries), n);
	for (i = 0; i < n; i++) {
		if (i)
			ASSERT_LT(entries[i - 1].binding_id,
				  entries[i].binding_id);
		ASSERT_EQ(0, entries[i].__reserved);
		if (entries[i].binding_id == self->env.binding_id) {
			ASSERT_EQ(NR_SLOTS, entries[i].nr_slots);
		} else if (entries[i].binding_id == ids[0] ||
			   entries[i].binding_id == ids[1]) {
			ASSERT_EQ(entries[i].binding_id == ids[0] ? 1 : 2,
				  entries[i].nr_slots);
		} else {
			continue;
		}
		ASSERT_EQ(getpid(), entries[i].vmm_pid);
		found++;
	}
	ASSERT_EQ(3, found);
	close(fds[0]);
	close(fds[1]);
}

/* Too little room: the count of all, and only as many entries as fit. */
TEST_F(uapi, list_bindings_short_room)
{
	struct kpf_binding_info entries[2];
	uint32_t n = 1, id;
	int fd;

	ASSERT_EQ(0, kpf_create_region(self->env.ctl, self->env.vm->fd, 1, &fd,
				       &id));
	memset(entries, 0xff, sizeof(entries));
	ASSERT_EQ(0, kpf_list_bindings(self->env.ctl, entries, &n));
	ASSERT_LE(2, n);
	ASSERT_NE(UINT32_MAX, entries[0].binding_id);
	ASSERT_EQ(UINT32_MAX, entries[1].binding_id);
	ASSERT_EQ(UINT32_MAX, entries[1].nr_slots);
	n = 0;
	ASSERT_EQ(0, kpf_list_bindings(self->env.ctl, NULL, &n));
	ASSERT_LE(2, n);
	close(fd);
}

TEST_F(uapi, list_bindings_bad_pointer)
{
	struct kpf_list_bindings arg = {
		.size = sizeof(arg),
		.nr_entries = 4,
		.entries = 8,
	};

	ASSERT_EQ(-EFAULT, raw_ioctl(self->env.ctl, KPF_LIST_BINDINGS, &arg));
}

TEST_HARNESS_MAIN
