// SPDX-License-Identifier: GPL-2.0
/*
 * uapi conformance of /dev/kvm-pageflip and its region files: one error
 * case of include/uapi/linux/kvm_pageflip.h per subtest.
 *
 * The "conform" and "reserved" fixtures run the same checks on every ioctl
 * (variants name the ioctl): struct size too short, too long with a zero or
 * a non-zero tail, unknown flags, non-zero reserved fields.  The "uapi"
 * fixture covers the per-command errnos, the "uplink" fixture those of the
 * uplink and rule commands, on a veth pair made for the tests (no NIC is
 * needed to attach to a device or to add rules to it).  Where it is cheap,
 * a failing call is also shown to have changed nothing: the counters it
 * could have moved, the rules and the ports (with their counters) are the
 * same before and after, the uplink is still (or still not) attached, and
 * the pages it was given are still staged.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "kpf_rx.h"
#include "kpf_test.h"
#include "nic.h"
#include "proc.h"

#define NR_SLOTS 16
#define CHILD_TIMEOUT_MS 10000
#define ARG_BUF_SIZE 512
/*
 * The veth the uplink tests attach to (its peer is named by the kernel),
 * made by the first test that needs it and deleted when the program ends:
 * making and deleting one per test took minutes on the debug kernel.
 */
#define UPLINK_NAME "kpfu0"
/* A macvlan on it, while a test needs its rx_handler taken. */
#define MACVLAN_NAME "kpfm0"
/* Where the prepared ports of the generic checks keep their rings. */
#define ENV_PORT_SLOT 0
#define DEL_PORT_SLOT 8
/* Rules and ports a snapshot keeps whole (beyond that, their number). */
#define SNAP_MAX 16

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
	uint32_t uplink_ifindex; /* UPLINK_NAME, 0: not made */
	uint32_t port_id; /* a port at ENV_PORT_SLOT, 0: none yet */
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

/* The process that deletes the veth at the end. */
static pid_t main_pid;

static void __attribute__((constructor)) uplink_note_main(void)
{
	main_pid = getpid();
}

static void __attribute__((destructor)) uplink_delete(void)
{
	if (getpid() == main_pid)
		nic_link_del(UPLINK_NAME);
}

/*
 * The veth UPLINK_NAME, detached (so without rules) and with no macvlan
 * on it, whatever an earlier test left.  False, with the test skipped,
 * when this kernel cannot make one.
 */
static bool env_uplink_setup(struct __test_metadata *_metadata, struct env *env)
{
	int ret = 0;

	nic_link_del(MACVLAN_NAME);
	if (!if_nametoindex(UPLINK_NAME))
		ret = nic_link_add(UPLINK_NAME, "veth", 0);
	if (ret == -EOPNOTSUPP)
		SKIP(return false, "no veth devices: %s", strerror(-ret));
	ASSERT_EQ_LOG(0, ret, "veth %s: %s", UPLINK_NAME, strerror(-ret));
	env->uplink_ifindex = if_nametoindex(UPLINK_NAME);
	ASSERT_NE(0, env->uplink_ifindex);
	kpf_uplink_detach(env->ctl, env->uplink_ifindex);
	return true;
}

/* Detaching the veth takes its rules with it. */
static void env_teardown(struct env *env)
{
	if (env->uplink_ifindex) {
		nic_link_del(MACVLAN_NAME);
		kpf_uplink_detach(env->ctl, env->uplink_ifindex);
	}
	close(env->region_fd);
	vm_free(env->vm);
	close(env->ctl);
}

/* A port of @ring_size at @slot of @region_fd; 0 or a negative errno. */
static int add_port(int region_fd, uint32_t slot, uint32_t ring_size,
		    int kick_fd, int irq_fd, uint32_t copybreak, uint32_t *id)
{
	struct kpf_region_add_port a = {
		.size = sizeof(a),
		.ring_slot = slot,
		.ring_size = ring_size,
		.kick_fd = kick_fd,
		.irq_fd = irq_fd,
		.copybreak = copybreak,
	};

	if (ioctl(region_fd, KPF_REGION_ADD_PORT, &a))
		return -errno;
	if (id)
		*id = a.out_port_id;
	return 0;
}

/* The env's port, made on first use. */
static uint32_t env_port(struct __test_metadata *_metadata, struct env *env)
{
	if (!env->port_id)
		ASSERT_EQ(0, add_port(env->region_fd, ENV_PORT_SLOT, 2, -1, -1,
				      KPF_COPYBREAK_DEFAULT, &env->port_id));
	return env->port_id;
}

/* The env's veth, attached (it may be already). */
static void env_attach(struct __test_metadata *_metadata, struct env *env)
{
	int ret = kpf_uplink_attach(env->ctl, env->uplink_ifindex, NULL);

	if (ret != -EEXIST)
		ASSERT_EQ_LOG(0, ret, "KPF_UPLINK_ATTACH: %s", strerror(-ret));
}

/* A MAC-only rule of the env's uplink for @port_id; byte 5 of its MAC: @n. */
static struct kpf_rule env_rule(struct env *env, uint8_t n, uint32_t port_id)
{
	const uint8_t mac[6] = { 0x02, 0x6b, 0x70, 0x75, 0x00, n };

	return kpf_rule_make(env->uplink_ifindex, KPF_RULE_F_MAC, 0, mac,
			     port_id);
}

static int raw_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

/* What a failed call must not have changed. */
struct snapshot {
	struct kpf_counters module;
	struct kpf_counters binding;
	uint32_t nr_rules, nr_ports;
	struct kpf_rule rules[SNAP_MAX];
	struct kpf_port_info ports[SNAP_MAX];
	int attached; /* KPF_LIST_RULES of the env's uplink: 0 or -ENOENT */
};

static void take_snapshot(struct __test_metadata *_metadata, struct env *env,
			  struct snapshot *s)
{
	uint32_t n = 0;

	memset(s, 0, sizeof(*s));
	ASSERT_EQ(0, kpf_get_stats(env->ctl, 0, &s->module));
	ASSERT_EQ(0, kpf_get_stats(env->ctl, env->binding_id, &s->binding));
	s->nr_rules = SNAP_MAX;
	ASSERT_EQ(0, kpf_list_rules(env->ctl, 0, s->rules, &s->nr_rules));
	s->nr_ports = SNAP_MAX;
	ASSERT_EQ(0, kpf_list_ports(env->ctl, s->ports, &s->nr_ports));
	if (env->uplink_ifindex)
		s->attached =
			kpf_list_rules(env->ctl, env->uplink_ifindex, NULL, &n);
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
	ASSERT_EQ(before->attached, now.attached);
	ASSERT_EQ(before->nr_rules, now.nr_rules);
	ASSERT_EQ(0, memcmp(before->rules, now.rules, sizeof(now.rules)));
	ASSERT_EQ(before->nr_ports, now.nr_ports);
	ASSERT_EQ(0, memcmp(before->ports, now.ports, sizeof(now.ports)));
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
	bool needs_uplink; /* the env's veth must exist */
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

static void prep_uplink_attach(struct __test_metadata *_metadata,
			       struct env *env, void *arg)
{
	struct kpf_uplink_attach *a = arg;

	(void)_metadata;
	kpf_uplink_detach(env->ctl, env->uplink_ifindex);
	a->size = sizeof(*a);
	a->ifindex = env->uplink_ifindex;
}

static void undo_uplink_attach(struct env *env, void *arg)
{
	kpf_uplink_detach(env->ctl, ((struct kpf_uplink_attach *)arg)->ifindex);
}

static void prep_uplink_detach(struct __test_metadata *_metadata,
			       struct env *env, void *arg)
{
	struct kpf_uplink_detach *a = arg;

	env_attach(_metadata, env);
	a->size = sizeof(*a);
	a->ifindex = env->uplink_ifindex;
}

static void prep_rule_add(struct __test_metadata *_metadata, struct env *env,
			  void *arg)
{
	struct kpf_rule_add *a = arg;

	env_attach(_metadata, env);
	a->size = sizeof(*a);
	a->rule = env_rule(env, 1, env_port(_metadata, env));
	kpf_rule_del(env->ctl, &a->rule);
}

static void undo_rule_add(struct env *env, void *arg)
{
	kpf_rule_del(env->ctl, &((struct kpf_rule_add *)arg)->rule);
}

static void prep_rule_del(struct __test_metadata *_metadata, struct env *env,
			  void *arg)
{
	struct kpf_rule_del *a = arg;
	int ret;

	env_attach(_metadata, env);
	a->size = sizeof(*a);
	a->rule = env_rule(env, 1, env_port(_metadata, env));
	ret = kpf_rule_add(env->ctl, &a->rule);
	if (ret != -EEXIST)
		ASSERT_EQ(0, ret);
}

static void prep_port_set(struct __test_metadata *_metadata, struct env *env,
			  void *arg)
{
	struct kpf_port_set *a = arg;

	a->size = sizeof(*a);
	a->port_id = env_port(_metadata, env);
	a->copybreak = 128;
}

/* A port of its own, away from the env's: each call deletes a new one. */
static void prep_region_del_port(struct __test_metadata *_metadata,
				 struct env *env, void *arg)
{
	struct kpf_region_del_port *a = arg;

	a->size = sizeof(*a);
	ASSERT_EQ(0, add_port(env->region_fd, DEL_PORT_SLOT, 2, -1, -1,
			      KPF_COPYBREAK_DEFAULT, &a->port_id));
}

static const struct ioctl_case case_uplink_attach = {
	.cmd = KPF_UPLINK_ATTACH,
	.size = sizeof(struct kpf_uplink_attach),
	.needs_uplink = true,
	.supported_flags = no_flags,
	.prepare = prep_uplink_attach,
	.undo = undo_uplink_attach,
};

static const struct ioctl_case case_uplink_detach = {
	.cmd = KPF_UPLINK_DETACH,
	.size = sizeof(struct kpf_uplink_detach),
	.needs_uplink = true,
	.supported_flags = no_flags,
	.prepare = prep_uplink_detach,
};

static const struct ioctl_case case_rule_add = {
	.cmd = KPF_RULE_ADD,
	.size = sizeof(struct kpf_rule_add),
	.needs_uplink = true,
	.supported_flags = no_flags,
	.prepare = prep_rule_add,
	.undo = undo_rule_add,
};

static const struct ioctl_case case_rule_del = {
	.cmd = KPF_RULE_DEL,
	.size = sizeof(struct kpf_rule_del),
	.needs_uplink = true,
	.supported_flags = no_flags,
	.prepare = prep_rule_del,
};

static const struct ioctl_case case_port_set = {
	.cmd = KPF_PORT_SET,
	.size = sizeof(struct kpf_port_set),
	.supported_flags = no_flags,
	.prepare = prep_port_set,
};

static const struct ioctl_case case_region_del_port = {
	.cmd = KPF_REGION_DEL_PORT,
	.size = sizeof(struct kpf_region_del_port),
	.on_region = true,
	.supported_flags = no_flags,
	.prepare = prep_region_del_port,
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
FIXTURE_VARIANT_ADD(conform, uplink_attach) {
	.c = &case_uplink_attach,
};
FIXTURE_VARIANT_ADD(conform, uplink_detach) {
	.c = &case_uplink_detach,
};
FIXTURE_VARIANT_ADD(conform, rule_add) {
	.c = &case_rule_add,
};
FIXTURE_VARIANT_ADD(conform, rule_del) {
	.c = &case_rule_del,
};
FIXTURE_VARIANT_ADD(conform, port_set) {
	.c = &case_port_set,
};
FIXTURE_VARIANT_ADD(conform, region_del_port) {
	.c = &case_region_del_port,
};
/* clang-format on */

/* The env, and its veth when the ioctl needs one. */
static bool case_setup(struct __test_metadata *_metadata, struct env *env,
		       const struct ioctl_case *c)
{
	env_setup(_metadata, env);
	if (_metadata->exit_code || !c->needs_uplink)
		return !_metadata->exit_code;
	return env_uplink_setup(_metadata, env);
}

FIXTURE_SETUP(conform)
{
	case_setup(_metadata, &self->env, variant->c);
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
FIXTURE_VARIANT_ADD(reserved, uplink_detach) {
	.c = &case_uplink_detach,
	.offset = offsetof(struct kpf_uplink_detach, __reserved),
};
FIXTURE_VARIANT_ADD(reserved, rule_add) {
	.c = &case_rule_add,
	.offset = offsetof(struct kpf_rule_add, rule.__reserved),
};
FIXTURE_VARIANT_ADD(reserved, rule_del) {
	.c = &case_rule_del,
	.offset = offsetof(struct kpf_rule_del, rule.__reserved),
};
FIXTURE_VARIANT_ADD(reserved, region_del_port) {
	.c = &case_region_del_port,
	.offset = offsetof(struct kpf_region_del_port, __reserved),
};
/* clang-format on */

FIXTURE_SETUP(reserved)
{
	case_setup(_metadata, &self->env, variant->c);
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

/*
 * Ports (KPF_REGION_ADD_PORT, KPF_REGION_DEL_PORT, KPF_PORT_SET,
 * KPF_LIST_PORTS).
 */

/* An eventfd, or fail. */
static int make_eventfd(struct __test_metadata *_metadata)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	ASSERT_LE(0, fd);
	return fd;
}

/* A port call that must fail with @err and change nothing. */
#define ASSERT_ADD_PORT_FAILS(err, slot, ring, kick, irq, copybreak)    \
	do {                                                            \
		struct snapshot __before;                               \
		take_snapshot(_metadata, &self->env, &__before);        \
		ASSERT_EQ(-(err),                                       \
			  add_port(self->env.region_fd, (slot), (ring), \
				   (kick), (irq), (copybreak), NULL));  \
		assert_unchanged(_metadata, &self->env, &__before);     \
	} while (0)

TEST_F(uapi, add_port_ring_size_not_power_of_two)
{
	static const uint32_t sizes[] = { 3, 6, 12, 1000 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		ASSERT_ADD_PORT_FAILS(EINVAL, 0, sizes[i], -1, -1,
				      KPF_COPYBREAK_DEFAULT);
}

TEST_F(uapi, add_port_ring_size_out_of_range)
{
	static const uint32_t sizes[] = { 0, 1, KPF_RING_SIZE_MAX * 2,
					  0x80000000 };
	unsigned int i;

	ASSERT_EQ(KPF_RING_SIZE_MAX, self->env.info.max_ring_size);
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		ASSERT_ADD_PORT_FAILS(EINVAL, 0, sizes[i], -1, -1,
				      KPF_COPYBREAK_DEFAULT);
}

/* The control slots must lie inside the region. */
TEST_F(uapi, add_port_rings_beyond_region)
{
	uint32_t pages = KPF_RING_PAGES(2);

	ASSERT_ADD_PORT_FAILS(EINVAL, NR_SLOTS, 2, -1, -1,
			      KPF_COPYBREAK_DEFAULT);
	ASSERT_ADD_PORT_FAILS(EINVAL, NR_SLOTS - pages + 1, 2, -1, -1,
			      KPF_COPYBREAK_DEFAULT);
	ASSERT_ADD_PORT_FAILS(EINVAL, UINT32_MAX, 2, -1, -1,
			      KPF_COPYBREAK_DEFAULT);
	/* 2 * 4096 entries take more pages than the region has. */
	ASSERT_ADD_PORT_FAILS(EINVAL, 0, KPF_RING_SIZE_MAX, -1, -1,
			      KPF_COPYBREAK_DEFAULT);
	/* The last slots that fit do. */
	ASSERT_EQ(0, add_port(self->env.region_fd, NR_SLOTS - pages, 2, -1, -1,
			      KPF_COPYBREAK_DEFAULT, NULL));
}

TEST_F(uapi, add_port_copybreak_above_max)
{
	ASSERT_ADD_PORT_FAILS(EINVAL, 0, 2, -1, -1, KPF_COPYBREAK_MAX + 1);
	ASSERT_ADD_PORT_FAILS(EINVAL, 0, 2, -1, -1, KPF_COPYBREAK_DEFAULT - 1);
}

/*
 * Neither eventfd is taken as valid after the control slots were zeroed:
 * what the would-be control slots held is still there.
 */
TEST_F(uapi, add_port_kick_fd_not_eventfd)
{
	size_t len = KPF_RING_PAGES(2) * PAGE_SIZE, i;
	uint8_t *mem;

	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->env.region_fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	memset(mem, 0xa5, len);
	ASSERT_ADD_PORT_FAILS(EINVAL, 0, 2, self->env.ctl, -1,
			      KPF_COPYBREAK_DEFAULT);
	for (i = 0; i < len && mem[i] == 0xa5; i++)
		;
	EXPECT_EQ(len, i);
	munmap(mem, len);
}

TEST_F(uapi, add_port_irq_fd_not_eventfd)
{
	ASSERT_ADD_PORT_FAILS(EINVAL, 0, 2, -1, self->env.region_fd,
			      KPF_COPYBREAK_DEFAULT);
}

TEST_F(uapi, add_port_kick_fd_closed)
{
	int fd = make_eventfd(_metadata);

	close(fd);
	ASSERT_ADD_PORT_FAILS(EBADF, 0, 2, fd, -1, KPF_COPYBREAK_DEFAULT);
	ASSERT_ADD_PORT_FAILS(EBADF, 0, 2, -2, -1, KPF_COPYBREAK_DEFAULT);
}

TEST_F(uapi, add_port_irq_fd_closed)
{
	int fd = make_eventfd(_metadata);

	close(fd);
	ASSERT_ADD_PORT_FAILS(EBADF, 0, 2, -1, fd, KPF_COPYBREAK_DEFAULT);
	ASSERT_ADD_PORT_FAILS(EBADF, 0, 2, -1, INT32_MAX,
			      KPF_COPYBREAK_DEFAULT);
}

/* Rings that overlap another port's control slots, at either end. */
TEST_F(uapi, add_port_control_slot_taken)
{
	uint32_t pages = KPF_RING_PAGES(2);

	ASSERT_EQ(0, add_port(self->env.region_fd, 4, 2, -1, -1,
			      KPF_COPYBREAK_DEFAULT, NULL));
	ASSERT_ADD_PORT_FAILS(EBUSY, 4, 2, -1, -1, KPF_COPYBREAK_DEFAULT);
	ASSERT_ADD_PORT_FAILS(EBUSY, 4 - pages + 1, 2, -1, -1,
			      KPF_COPYBREAK_DEFAULT);
	ASSERT_ADD_PORT_FAILS(EBUSY, 4 + pages - 1, 2, -1, -1,
			      KPF_COPYBREAK_DEFAULT);
	ASSERT_EQ(0, add_port(self->env.region_fd, 4 + pages, 2, -1, -1,
			      KPF_COPYBREAK_DEFAULT, NULL));
}

/*
 * A slot a port's guest posted cannot become a control slot.  The test
 * plays the guest through the VMM's mapping: it posts slot 10 and rings
 * the doorbell; the worker takes the slot once avail_event moves.
 */
TEST_F(uapi, add_port_slot_posted)
{
	long page = sysconf(_SC_PAGESIZE);
	volatile struct kpf_ring_hdr *hdr;
	uint64_t deadline, one = 1;
	uint32_t *avail;
	int kick = make_eventfd(_metadata);
	void *map;

	ASSERT_EQ(0, add_port(self->env.region_fd, 0, 2, kick, -1,
			      KPF_COPYBREAK_DEFAULT, NULL));
	map = mmap(NULL, NR_SLOTS * page, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->env.region_fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	hdr = map;
	ASSERT_EQ(KPF_RING_MAGIC, hdr->magic);
	avail = (uint32_t *)((char *)map + hdr->avail_offset);
	avail[0] = 10;
	__atomic_store_n(&hdr->avail_idx, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(sizeof(one), write(kick, &one, sizeof(one)));
	deadline = now_ms() + IDLE_TIMEOUT_MS;
	while (__atomic_load_n(&hdr->avail_event, __ATOMIC_ACQUIRE) != 1 &&
	       now_ms() < deadline)
		usleep(1000);
	ASSERT_EQ(1, hdr->avail_event);
	ASSERT_EQ(KPF_RING_OK, hdr->error);
	ASSERT_ADD_PORT_FAILS(EBUSY, 10, 2, -1, -1, KPF_COPYBREAK_DEFAULT);
	ASSERT_ADD_PORT_FAILS(EBUSY, 9, 2, -1, -1, KPF_COPYBREAK_DEFAULT);
	munmap(map, NR_SLOTS * page);
	close(kick);
}

/* max_ports ports fit in a region that has room for them; one more: ENOSPC. */
TEST_F(uapi, add_port_too_many)
{
	uint32_t pages = KPF_RING_PAGES(2), i, slots, id;
	struct kpf_region_add_port a;
	int fd;

	ASSERT_EQ(KPF_MAX_PORTS, self->env.info.max_ports);
	slots = (KPF_MAX_PORTS + 1) * pages;
	ASSERT_EQ(0, kpf_create_region(self->env.ctl, self->env.vm->fd, slots,
				       &fd, &id));
	for (i = 0; i < KPF_MAX_PORTS; i++)
		ASSERT_EQ_LOG(0,
			      add_port(fd, i * pages, 2, -1, -1,
				       KPF_COPYBREAK_DEFAULT, NULL),
			      "port %u", i);
	a = (struct kpf_region_add_port){
		.size = sizeof(a),
		.ring_slot = KPF_MAX_PORTS * pages,
		.ring_size = 2,
		.kick_fd = -1,
		.irq_fd = -1,
		.copybreak = KPF_COPYBREAK_DEFAULT,
	};
	ASSERT_EQ(-ENOSPC, raw_ioctl(fd, KPF_REGION_ADD_PORT, &a));
	ASSERT_EQ(0, a.out_port_id);
	/* Another region is not affected. */
	ASSERT_EQ(0, add_port(self->env.region_fd, 0, 2, -1, -1,
			      KPF_COPYBREAK_DEFAULT, NULL));
	close(fd);
}

TEST_F(uapi, del_port_unknown)
{
	struct snapshot before;

	env_port(_metadata, &self->env);
	take_snapshot(_metadata, &self->env, &before);
	ASSERT_EQ(-ENOENT, kpf_region_del_port(self->env.region_fd, 0));
	ASSERT_EQ(-ENOENT,
		  kpf_region_del_port(self->env.region_fd, UINT32_MAX));
	ASSERT_EQ(-ENOENT, kpf_region_del_port(self->env.region_fd,
					       self->env.port_id + 1));
	assert_unchanged(_metadata, &self->env, &before);
}

/* A port is deleted through its own region only. */
TEST_F(uapi, del_port_of_other_region)
{
	struct kpf_port_info pi;
	struct snapshot before;
	uint32_t id, other = 0;
	int fd;

	ASSERT_EQ(0, kpf_create_region(self->env.ctl, self->env.vm->fd,
				       NR_SLOTS, &fd, &id));
	ASSERT_EQ(0, add_port(fd, 0, 2, -1, -1, KPF_COPYBREAK_DEFAULT, &other));
	take_snapshot(_metadata, &self->env, &before);
	ASSERT_EQ(-ENOENT, kpf_region_del_port(self->env.region_fd, other));
	assert_unchanged(_metadata, &self->env, &before);
	ASSERT_EQ(0, kpf_port_info(self->env.ctl, other, &pi));
	ASSERT_EQ(id, pi.binding_id);
	ASSERT_EQ(0, kpf_region_del_port(fd, other));
	close(fd);
}

TEST_F(uapi, del_port_twice)
{
	struct kpf_port_info pi;
	uint32_t id = env_port(_metadata, &self->env);

	ASSERT_EQ(0, kpf_region_del_port(self->env.region_fd, id));
	ASSERT_EQ(-ENOENT, kpf_port_info(self->env.ctl, id, &pi));
	ASSERT_EQ(-ENOENT, kpf_region_del_port(self->env.region_fd, id));
	/* Its control slots are ordinary slots again. */
	ASSERT_EQ(0, add_port(self->env.region_fd, ENV_PORT_SLOT, 2, -1, -1,
			      KPF_COPYBREAK_DEFAULT, NULL));
}

TEST_F(uapi, port_set_unknown_port)
{
	struct snapshot before;

	env_port(_metadata, &self->env);
	take_snapshot(_metadata, &self->env, &before);
	ASSERT_EQ(-ENOENT, kpf_port_set(self->env.ctl, 0, 0));
	ASSERT_EQ(-ENOENT, kpf_port_set(self->env.ctl, UINT32_MAX, 0));
	assert_unchanged(_metadata, &self->env, &before);
}

TEST_F(uapi, port_set_copybreak_above_max)
{
	uint32_t id = env_port(_metadata, &self->env);
	struct snapshot before;

	ASSERT_EQ(0, kpf_port_set(self->env.ctl, id, 100));
	take_snapshot(_metadata, &self->env, &before);
	ASSERT_EQ(-EINVAL,
		  kpf_port_set(self->env.ctl, id, KPF_COPYBREAK_MAX + 1));
	ASSERT_EQ(-EINVAL,
		  kpf_port_set(self->env.ctl, id, KPF_COPYBREAK_DEFAULT - 1));
	assert_unchanged(_metadata, &self->env, &before);
}

/* The limits are accepted; KPF_COPYBREAK_DEFAULT reads back as the value. */
TEST_F(uapi, port_set_copybreak_values)
{
	static const uint32_t values[] = { 0, 1, KPF_COPYBREAK_MAX };
	uint32_t id = env_port(_metadata, &self->env);
	struct kpf_port_info pi;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(values); i++) {
		ASSERT_EQ(0, kpf_port_set(self->env.ctl, id, values[i]));
		ASSERT_EQ(0, kpf_port_info(self->env.ctl, id, &pi));
		ASSERT_EQ(values[i], pi.copybreak);
	}
	ASSERT_EQ(0, kpf_port_set(self->env.ctl, id, KPF_COPYBREAK_DEFAULT));
	ASSERT_EQ(0, kpf_port_info(self->env.ctl, id, &pi));
	ASSERT_EQ(self->env.info.copybreak, pi.copybreak);
}

TEST_F(uapi, list_ports_bad_pointer)
{
	struct kpf_list_ports arg = {
		.size = sizeof(arg),
		.nr_entries = 4,
		.entries = 8,
	};

	env_port(_metadata, &self->env);
	ASSERT_EQ(-EFAULT, raw_ioctl(self->env.ctl, KPF_LIST_PORTS, &arg));
}

/*
 * Uplinks and rules (KPF_UPLINK_ATTACH, KPF_UPLINK_DETACH, KPF_RULE_ADD,
 * KPF_RULE_DEL, KPF_LIST_RULES), and CAP_NET_ADMIN for every command that
 * needs it.
 */

/* Exit status of a child whose setup went wrong (not an errno). */
#define CHILD_BROKEN 255

/* The errno of a child's call (0: none), or -1 if the child broke. */
static int child_errno(pid_t pid)
{
	int status;

	if (pid < 0 || wait_child(pid, &status, CHILD_TIMEOUT_MS))
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) == CHILD_BROKEN)
		return -1;
	return WEXITSTATUS(status);
}

/*
 * ioctl @cmd by a child without CAP_NET_ADMIN, on a control fd it opens
 * itself once it has dropped the capability (a control fd carries its
 * opener's CAP_NET_ADMIN): 0 or -errno.
 */
static int call_without_net_admin(unsigned long cmd, void *arg)
{
	pid_t pid = fork();
	int err, fd;

	if (!pid) {
		if (drop_net_admin())
			_exit(CHILD_BROKEN);
		fd = kpf_open();
		if (fd < 0)
			_exit(CHILD_BROKEN);
		_exit(ioctl(fd, cmd, arg) ? errno : 0);
	}
	err = child_errno(pid);
	return err < 0 ? -ECHILD : -err;
}

FIXTURE(uplink)
{
	struct env env;
};

FIXTURE_SETUP(uplink)
{
	env_setup(_metadata, &self->env);
	if (!_metadata->exit_code)
		env_uplink_setup(_metadata, &self->env);
}

FIXTURE_TEARDOWN(uplink)
{
	env_teardown(&self->env);
}

/* A call that must fail with @err and change nothing. */
#define ASSERT_FAILS_UNCHANGED(err, call)                           \
	do {                                                        \
		struct snapshot __before;                           \
		take_snapshot(_metadata, &self->env, &__before);    \
		ASSERT_EQ(-(err), (call));                          \
		assert_unchanged(_metadata, &self->env, &__before); \
	} while (0)

/* Every command that changes where frames go needs CAP_NET_ADMIN. */
TEST_F(uplink, attach_without_net_admin)
{
	struct kpf_uplink_attach a = { .size = sizeof(a),
				       .ifindex = self->env.uplink_ifindex };

	ASSERT_FAILS_UNCHANGED(EPERM,
			       call_without_net_admin(KPF_UPLINK_ATTACH, &a));
}

TEST_F(uplink, detach_without_net_admin)
{
	struct kpf_uplink_detach a = { .size = sizeof(a),
				       .ifindex = self->env.uplink_ifindex };

	env_attach(_metadata, &self->env);
	ASSERT_FAILS_UNCHANGED(EPERM,
			       call_without_net_admin(KPF_UPLINK_DETACH, &a));
}

TEST_F(uplink, rule_add_without_net_admin)
{
	struct kpf_rule_add a = { .size = sizeof(a) };

	env_attach(_metadata, &self->env);
	a.rule = env_rule(&self->env, 1, env_port(_metadata, &self->env));
	ASSERT_FAILS_UNCHANGED(EPERM, call_without_net_admin(KPF_RULE_ADD, &a));
}

TEST_F(uplink, rule_del_without_net_admin)
{
	struct kpf_rule_del a = { .size = sizeof(a) };

	env_attach(_metadata, &self->env);
	a.rule = env_rule(&self->env, 1, env_port(_metadata, &self->env));
	ASSERT_EQ(0, kpf_rule_add(self->env.ctl, &a.rule));
	ASSERT_FAILS_UNCHANGED(EPERM, call_without_net_admin(KPF_RULE_DEL, &a));
}

TEST_F(uplink, port_set_without_net_admin)
{
	struct kpf_port_set a = { .size = sizeof(a), .copybreak = 0 };

	a.port_id = env_port(_metadata, &self->env);
	ASSERT_FAILS_UNCHANGED(EPERM, call_without_net_admin(KPF_PORT_SET, &a));
}

/* Reading needs no capability. */
TEST_F(uplink, lists_without_net_admin)
{
	struct kpf_list_rules r = { .size = sizeof(r) };
	struct kpf_list_ports p = { .size = sizeof(p) };

	ASSERT_EQ(0, call_without_net_admin(KPF_LIST_RULES, &r));
	ASSERT_EQ(0, call_without_net_admin(KPF_LIST_PORTS, &p));
}

TEST_F(uplink, attach_no_such_device)
{
	ASSERT_FAILS_UNCHANGED(ENODEV,
			       kpf_uplink_attach(self->env.ctl, 0, NULL));
	ASSERT_FAILS_UNCHANGED(ENODEV, kpf_uplink_attach(self->env.ctl,
							 INT32_MAX, NULL));
}

/* The loopback device is not Ethernet. */
TEST_F(uplink, attach_not_ethernet)
{
	uint32_t lo = if_nametoindex("lo");

	ASSERT_NE(0, lo);
	ASSERT_FAILS_UNCHANGED(EINVAL,
			       kpf_uplink_attach(self->env.ctl, lo, NULL));
}

/* The module's own redirect target is Ethernet, but not an uplink. */
TEST_F(uplink, attach_redirect_target)
{
	char name[IF_NAMESIZE];
	uint32_t xdp = 0;

	ASSERT_EQ(0, kpf_uplink_attach(self->env.ctl, self->env.uplink_ifindex,
				       &xdp));
	ASSERT_NE(NULL, if_indextoname(xdp, name));
	ASSERT_EQ(0, strncmp(name, "kpfx", 4));
	ASSERT_FAILS_UNCHANGED(EINVAL,
			       kpf_uplink_attach(self->env.ctl, xdp, NULL));
	/* The target goes with its uplink. */
	ASSERT_EQ(0,
		  kpf_uplink_detach(self->env.ctl, self->env.uplink_ifindex));
	ASSERT_EQ(NULL, if_indextoname(xdp, name));
}

/*
 * A caller in another network namespace: EINVAL, even for an Ethernet
 * device of its own.
 */
TEST_F(uplink, attach_other_netns)
{
	struct snapshot before;
	pid_t pid;
	int err;

	take_snapshot(_metadata, &self->env, &before);
	pid = fork();
	if (!pid) {
		uint32_t ifindex;

		if (unshare(CLONE_NEWNET) ||
		    nic_link_add(UPLINK_NAME, "veth", 0))
			_exit(CHILD_BROKEN);
		ifindex = if_nametoindex(UPLINK_NAME);
		if (!ifindex)
			_exit(CHILD_BROKEN);
		_exit(-kpf_uplink_attach(self->env.ctl, ifindex, NULL));
	}
	err = child_errno(pid);
	ASSERT_EQ(EINVAL, err);
	assert_unchanged(_metadata, &self->env, &before);
}

TEST_F(uplink, attach_twice)
{
	env_attach(_metadata, &self->env);
	ASSERT_FAILS_UNCHANGED(
		EEXIST, kpf_uplink_attach(self->env.ctl,
					  self->env.uplink_ifindex, NULL));
}

/* A device that has an rx_handler already (a macvlan's lower device). */
TEST_F(uplink, attach_rx_handler_taken)
{
	int ret =
		nic_link_add(MACVLAN_NAME, "macvlan", self->env.uplink_ifindex);

	if (ret == -EOPNOTSUPP)
		SKIP(return, "no macvlan devices: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	ASSERT_FAILS_UNCHANGED(
		EBUSY, kpf_uplink_attach(self->env.ctl,
					 self->env.uplink_ifindex, NULL));
	ASSERT_EQ(0, nic_link_del(MACVLAN_NAME));
	ASSERT_EQ(0, kpf_uplink_attach(self->env.ctl, self->env.uplink_ifindex,
				       NULL));
}

TEST_F(uplink, detach_not_attached)
{
	ASSERT_FAILS_UNCHANGED(ENOENT,
			       kpf_uplink_detach(self->env.ctl,
						 self->env.uplink_ifindex));
	ASSERT_FAILS_UNCHANGED(ENOENT, kpf_uplink_detach(self->env.ctl, 0));
	env_attach(_metadata, &self->env);
	ASSERT_EQ(0,
		  kpf_uplink_detach(self->env.ctl, self->env.uplink_ifindex));
	ASSERT_FAILS_UNCHANGED(ENOENT,
			       kpf_uplink_detach(self->env.ctl,
						 self->env.uplink_ifindex));
}

/* The uplink is not attached: ENODEV, told apart from a missing port. */
TEST_F(uplink, rule_add_uplink_not_attached)
{
	struct kpf_rule r =
		env_rule(&self->env, 1, env_port(_metadata, &self->env));

	ASSERT_FAILS_UNCHANGED(ENODEV, kpf_rule_add(self->env.ctl, &r));
	/* Even when the port is missing too. */
	r.port_id = UINT32_MAX;
	ASSERT_FAILS_UNCHANGED(ENODEV, kpf_rule_add(self->env.ctl, &r));
	r.ifindex = 0;
	ASSERT_FAILS_UNCHANGED(ENODEV, kpf_rule_add(self->env.ctl, &r));
}

TEST_F(uplink, rule_add_unknown_port)
{
	uint32_t gone = 0;
	struct kpf_rule r = env_rule(&self->env, 1, 0);

	env_attach(_metadata, &self->env);
	ASSERT_FAILS_UNCHANGED(ENOENT, kpf_rule_add(self->env.ctl, &r));
	r.port_id = UINT32_MAX;
	ASSERT_FAILS_UNCHANGED(ENOENT, kpf_rule_add(self->env.ctl, &r));
	ASSERT_EQ(0, add_port(self->env.region_fd, DEL_PORT_SLOT, 2, -1, -1,
			      KPF_COPYBREAK_DEFAULT, &gone));
	ASSERT_EQ(0, kpf_region_del_port(self->env.region_fd, gone));
	r.port_id = gone;
	ASSERT_FAILS_UNCHANGED(ENOENT, kpf_rule_add(self->env.ctl, &r));
}

/*
 * One rule with a bad key, for the EINVAL and EOPNOTSUPP cases, built as
 * given (kpf_rule_make() would clear the parts @match leaves out).
 */
static void assert_key_refused(struct __test_metadata *_metadata,
			       struct env *env, int err, uint32_t match,
			       uint16_t vlan, const uint8_t *mac)
{
	struct kpf_rule r = {
		.ifindex = env->uplink_ifindex,
		.match = match,
		.vlan = vlan,
		.port_id = env_port(_metadata, env),
	};
	struct snapshot before;

	if (mac)
		memcpy(r.mac, mac, sizeof(r.mac));

	take_snapshot(_metadata, env, &before);
	ASSERT_EQ_LOG(-err, kpf_rule_add(env->ctl, &r),
		      "add: match %#x vlan %u", match, vlan);
	ASSERT_EQ_LOG(-err, kpf_rule_del(env->ctl, &r),
		      "del: match %#x vlan %u", match, vlan);
	assert_unchanged(_metadata, env, &before);
}

static const uint8_t mac_ok[6] = { 0x02, 0x6b, 0x70, 0x75, 0x00, 0x01 };

/* The key checks come first: the same errors with or without an uplink. */
TEST_F(uplink, rule_no_match_bit)
{
	assert_key_refused(_metadata, &self->env, EINVAL, 0, 0, NULL);
	env_attach(_metadata, &self->env);
	assert_key_refused(_metadata, &self->env, EINVAL, 0, 0, NULL);
}

TEST_F(uplink, rule_vlan_above_max)
{
	env_attach(_metadata, &self->env);
	assert_key_refused(_metadata, &self->env, EINVAL, KPF_RULE_F_VLAN,
			   KPF_VLAN_MAX + 1, NULL);
	assert_key_refused(_metadata, &self->env, EINVAL,
			   KPF_RULE_F_VLAN | KPF_RULE_F_MAC, 0xffff, mac_ok);
}

TEST_F(uplink, rule_vlan_without_vlan_match)
{
	env_attach(_metadata, &self->env);
	assert_key_refused(_metadata, &self->env, EINVAL, KPF_RULE_F_MAC, 5,
			   mac_ok);
}

TEST_F(uplink, rule_multicast_mac)
{
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	env_attach(_metadata, &self->env);
	assert_key_refused(_metadata, &self->env, EINVAL, KPF_RULE_F_MAC, 0,
			   mcast);
	assert_key_refused(_metadata, &self->env, EINVAL, KPF_RULE_F_MAC, 0,
			   bcast);
}

TEST_F(uplink, rule_zero_mac)
{
	static const uint8_t zero[6];

	env_attach(_metadata, &self->env);
	assert_key_refused(_metadata, &self->env, EINVAL, KPF_RULE_F_MAC, 0,
			   zero);
	assert_key_refused(_metadata, &self->env, EINVAL,
			   KPF_RULE_F_MAC | KPF_RULE_F_VLAN, 3, zero);
}

TEST_F(uplink, rule_mac_without_mac_match)
{
	env_attach(_metadata, &self->env);
	assert_key_refused(_metadata, &self->env, EINVAL, KPF_RULE_F_VLAN, 3,
			   mac_ok);
}

/* Each match bit the module does not report in kpf_info: EOPNOTSUPP. */
TEST_F(uplink, rule_unknown_match_bit)
{
	unsigned int bit, tried = 0;

	env_attach(_metadata, &self->env);
	for (bit = 0; bit < 32; bit++) {
		if (self->env.info.rule_match & (1U << bit))
			continue;
		assert_key_refused(_metadata, &self->env, EOPNOTSUPP,
				   KPF_RULE_F_MAC | 1U << bit, 0, mac_ok);
		tried++;
	}
	ASSERT_EQ(KPF_RULE_F_MAC | KPF_RULE_F_VLAN, self->env.info.rule_match);
	ASSERT_EQ(30, tried);
}

/* One rule per key, whatever port the second one names. */
TEST_F(uplink, rule_add_same_key)
{
	uint32_t other = 0;
	struct kpf_rule r =
		env_rule(&self->env, 1, env_port(_metadata, &self->env));

	env_attach(_metadata, &self->env);
	ASSERT_EQ(0, kpf_rule_add(self->env.ctl, &r));
	ASSERT_FAILS_UNCHANGED(EEXIST, kpf_rule_add(self->env.ctl, &r));
	ASSERT_EQ(0, add_port(self->env.region_fd, DEL_PORT_SLOT, 2, -1, -1,
			      KPF_COPYBREAK_DEFAULT, &other));
	r.port_id = other;
	ASSERT_FAILS_UNCHANGED(EEXIST, kpf_rule_add(self->env.ctl, &r));
}

/* max_rules rules per uplink; one more is ENOSPC, on that uplink only. */
TEST_F(uplink, rule_add_too_many)
{
	uint32_t port = env_port(_metadata, &self->env), i, n = 0;
	uint8_t mac[6] = { 0x02, 0x6b, 0x70, 0x76, 0, 0 };
	struct kpf_rule r;

	ASSERT_EQ(4096, self->env.info.max_rules);
	env_attach(_metadata, &self->env);
	for (i = 0; i < self->env.info.max_rules; i++) {
		mac[4] = i >> 8;
		mac[5] = i;
		r = kpf_rule_make(self->env.uplink_ifindex, KPF_RULE_F_MAC, 0,
				  mac, port);
		ASSERT_EQ_LOG(0, kpf_rule_add(self->env.ctl, &r), "rule %u", i);
	}
	r = kpf_rule_make(self->env.uplink_ifindex, KPF_RULE_F_VLAN, 1, NULL,
			  port);
	ASSERT_FAILS_UNCHANGED(ENOSPC, kpf_rule_add(self->env.ctl, &r));
	ASSERT_EQ(0, kpf_list_rules(self->env.ctl, self->env.uplink_ifindex,
				    NULL, &n));
	ASSERT_EQ(self->env.info.max_rules, n);
	/* Room again once one goes. */
	ASSERT_EQ(0, kpf_rule_del(self->env.ctl,
				  &(struct kpf_rule){
					  .ifindex = self->env.uplink_ifindex,
					  .match = KPF_RULE_F_MAC,
					  .mac = { 0x02, 0x6b, 0x70, 0x76, 0,
						   7 } }));
	ASSERT_EQ(0, kpf_rule_add(self->env.ctl, &r));
}

TEST_F(uplink, rule_del_uplink_not_attached)
{
	struct kpf_rule r =
		env_rule(&self->env, 1, env_port(_metadata, &self->env));

	ASSERT_FAILS_UNCHANGED(ENODEV, kpf_rule_del(self->env.ctl, &r));
	/* Detaching took the rule with it. */
	env_attach(_metadata, &self->env);
	ASSERT_EQ(0, kpf_rule_add(self->env.ctl, &r));
	ASSERT_EQ(0,
		  kpf_uplink_detach(self->env.ctl, self->env.uplink_ifindex));
	ASSERT_FAILS_UNCHANGED(ENODEV, kpf_rule_del(self->env.ctl, &r));
}

/* No rule with the key: a key that differs in any part is another rule. */
TEST_F(uplink, rule_del_no_such_rule)
{
	struct kpf_rule r =
		env_rule(&self->env, 1, env_port(_metadata, &self->env));
	struct kpf_rule other = r;

	env_attach(_metadata, &self->env);
	ASSERT_FAILS_UNCHANGED(ENOENT, kpf_rule_del(self->env.ctl, &r));
	ASSERT_EQ(0, kpf_rule_add(self->env.ctl, &r));
	other.mac[5] ^= 0x10;
	ASSERT_FAILS_UNCHANGED(ENOENT, kpf_rule_del(self->env.ctl, &other));
	other = r;
	other.match |= KPF_RULE_F_VLAN;
	ASSERT_FAILS_UNCHANGED(ENOENT, kpf_rule_del(self->env.ctl, &other));
	ASSERT_EQ(0, kpf_rule_del(self->env.ctl, &r));
	ASSERT_FAILS_UNCHANGED(ENOENT, kpf_rule_del(self->env.ctl, &r));
}

/* The port is not part of the key: deleting names the rule by its key. */
TEST_F(uplink, rule_del_ignores_port)
{
	struct kpf_rule r =
		env_rule(&self->env, 1, env_port(_metadata, &self->env));
	uint32_t n = 0;

	env_attach(_metadata, &self->env);
	ASSERT_EQ(0, kpf_rule_add(self->env.ctl, &r));
	r.port_id = UINT32_MAX;
	ASSERT_EQ(0, kpf_rule_del(self->env.ctl, &r));
	ASSERT_EQ(0, kpf_list_rules(self->env.ctl, 0, NULL, &n));
	ASSERT_EQ(0, n);
}

TEST_F(uplink, list_rules_not_attached)
{
	uint32_t n = 0;

	ASSERT_EQ(-ENOENT, kpf_list_rules(self->env.ctl,
					  self->env.uplink_ifindex, NULL, &n));
	ASSERT_EQ(-ENOENT, kpf_list_rules(self->env.ctl, INT32_MAX, NULL, &n));
	/* 0 is every uplink, attached or not. */
	ASSERT_EQ(0, kpf_list_rules(self->env.ctl, 0, NULL, &n));
}

TEST_F(uplink, list_rules_bad_pointer)
{
	struct kpf_rule r =
		env_rule(&self->env, 1, env_port(_metadata, &self->env));
	struct kpf_list_rules arg = {
		.size = sizeof(arg),
		.nr_entries = 4,
		.entries = 8,
	};

	env_attach(_metadata, &self->env);
	ASSERT_EQ(0, kpf_rule_add(self->env.ctl, &r));
	ASSERT_EQ(-EFAULT, raw_ioctl(self->env.ctl, KPF_LIST_RULES, &arg));
}

/* A port's rules go with it, and only its rules. */
TEST_F(uplink, del_port_takes_its_rules)
{
	struct kpf_rule rules[4];
	uint32_t other = 0, n = ARRAY_SIZE(rules);
	struct kpf_rule a, b;

	env_attach(_metadata, &self->env);
	ASSERT_EQ(0, add_port(self->env.region_fd, DEL_PORT_SLOT, 2, -1, -1,
			      KPF_COPYBREAK_DEFAULT, &other));
	a = env_rule(&self->env, 1, env_port(_metadata, &self->env));
	b = env_rule(&self->env, 2, other);
	ASSERT_EQ(0, kpf_rule_add(self->env.ctl, &a));
	ASSERT_EQ(0, kpf_rule_add(self->env.ctl, &b));
	ASSERT_EQ(0, kpf_region_del_port(self->env.region_fd, other));
	ASSERT_EQ(0, kpf_list_rules(self->env.ctl, self->env.uplink_ifindex,
				    rules, &n));
	ASSERT_EQ(1, n);
	ASSERT_EQ(0, memcmp(&a, &rules[0], sizeof(a)));
}

TEST_HARNESS_MAIN
