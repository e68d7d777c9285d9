/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Glue between the kselftest harness and the selftest library: skipping
 * when a device is missing, and asserting on what a guest reported.
 */
#ifndef KPF_TEST_H
#define KPF_TEST_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "frame.h"
#include "kpf.h"
#include "kpf_rx.h"
#include "nic.h"
#include "watch.h"

/*
 * How long a guest may run before the test gives up on it.  Generous:
 * the tests run under TCG with nested virtualisation.
 */
#define VCPU_TIMEOUT_MS 30000
/* How long teardown may take to hand every page back. */
#define IDLE_TIMEOUT_MS 5000

/*
 * The harness's ASSERT_*() take an optional statement that runs only when
 * they fail.  These take a message for that case instead, so that it reads
 * (and is formatted) as part of the assertion.
 */
#define ASSERT_EQ_LOG(expected, seen, ...)                      \
	do {                                                    \
		__typeof__(seen) __got = (seen);                \
		ASSERT_EQ(expected, __got) TH_LOG(__VA_ARGS__); \
	} while (0)
#define ASSERT_NE_LOG(expected, seen, ...)                      \
	do {                                                    \
		__typeof__(seen) __got = (seen);                \
		ASSERT_NE(expected, __got) TH_LOG(__VA_ARGS__); \
	} while (0)
#define ASSERT_LE_LOG(expected, seen, ...)                      \
	do {                                                    \
		__typeof__(seen) __got = (seen);                \
		ASSERT_LE(expected, __got) TH_LOG(__VA_ARGS__); \
	} while (0)
#define ASSERT_TRUE_LOG(cond, ...)                     \
	do {                                           \
		bool __ok = (cond);                    \
		ASSERT_TRUE(__ok) TH_LOG(__VA_ARGS__); \
	} while (0)

/*
 * Whether the devices the tests need can be used: 0 if they can, 1 if one
 * is missing (the test skips), -1 if one is there but unusable (the test
 * fails).  @why says which and why.
 */
static inline int devices_check(bool need_kpf, char *why, size_t size)
{
	const char *dev = "/dev/kvm";
	int err = kvm_available();

	if (!err && need_kpf) {
		dev = KPF_DEV;
		err = kpf_available();
	}
	if (!err)
		return 0;
	snprintf(why, size, "%s: %s", dev, strerror(err));
	return err == ENOENT || err == ENODEV || err == ENXIO ? 1 : -1;
}

/*
 * The start of every fixture set-up: whether KVM (and the module, when
 * @need_kpf) can be used.  False, with the test marked skipped, when a
 * device is missing: the set-up must then return.  A device that is there
 * but unusable fails the test.
 */
static inline bool devices_ready(struct __test_metadata *_metadata,
				 bool need_kpf)
{
	char why[128];
	int ret = devices_check(need_kpf, why, sizeof(why));

	if (ret > 0)
		SKIP(return false, "%s", why);
	ASSERT_EQ_LOG(0, ret, "%s", why);
	return true;
}

/*
 * A control fd of the module, with its info read into @info and its page
 * size checked against the tests' own; the test fails otherwise.
 */
static inline int control_open(struct __test_metadata *_metadata,
			       struct kpf_info *info)
{
	int ctl = kpf_open();

	ASSERT_LE(0, ctl);
	ASSERT_EQ(0, kpf_get_info(ctl, info));
	ASSERT_EQ(PAGE_SIZE, info->page_size);
	return ctl;
}

/*
 * Unbinds the driver of interface @name while @snd sends frames towards
 * it (@d and *@unbound record that, for a teardown to bind it again), lets
 * the sender go on for a moment, stops it, and checks that the interface
 * went away with its driver.
 */
static inline void unbind_while_sending(struct __test_metadata *_metadata,
					const char *name, struct nic_driver *d,
					bool *unbound, struct frame_sender *snd)
{
	int ret = nic_driver_unbind(name, d);

	*unbound = !ret;
	ASSERT_EQ_LOG(0, ret, "unbind %s: %s", name, strerror(-ret));
	usleep(100000);
	ASSERT_EQ(0, frame_sender_stop(snd));
	ASSERT_EQ(0, if_nametoindex(name));
}

/*
 * Binds the driver of interface @name (@d) again after
 * unbind_while_sending(), which clears *@unbound, and waits up to @ms for
 * the interface, under its old name.  Its new ifindex; the test fails if
 * it does not come back.
 */
static inline int uplink_rebind(struct __test_metadata *_metadata,
				const char *name, const struct nic_driver *d,
				bool *unbound, unsigned int ms)
{
	int ifindex = nic_driver_bind(d, ms);

	ASSERT_LE_LOG(1, ifindex, "bind %s: %s", name, strerror(-ifindex));
	*unbound = false;
	return ifindex;
}

/*
 * The NICs of a receive test: the uplink named by environment variable
 * @env, its name in @uplink, and the sender, its name in @tx and its
 * ifindex in *@tx_ifindex (IF_NAMESIZE bytes each).  The uplink's
 * ifindex, or 0 with the test marked skipped (the set-up must return).
 */
static inline int rx_nics_find(struct __test_metadata *_metadata,
			       const char *env, char *uplink, char *tx,
			       int *tx_ifindex)
{
	char why[128];
	int ifindex = nic_from_env(env, uplink, IF_NAMESIZE, why, sizeof(why));

	if (ifindex) {
		*tx_ifindex = nic_from_env(NIC_ENV_TX, tx, IF_NAMESIZE, why,
					   sizeof(why));
		if (*tx_ifindex)
			return ifindex;
	}
	SKIP(return 0, "%s", why);
}

/*
 * The parent's teardown of a test that attached interface @name (@ifindex)
 * as an uplink, if @attached, and may have unbound its driver (@d, if
 * @unbound): detaches it, and binds the driver again, waiting up to @ms
 * for the interface, which it brings up under its name for the later
 * tests and programs.
 */
static inline void uplink_restore(const char *name, int ifindex, bool attached,
				  const struct nic_driver *d, bool unbound,
				  unsigned int ms)
{
	int ctl = kpf_open();

	if (attached && ctl >= 0)
		kpf_uplink_detach(ctl, ifindex);
	if (ctl >= 0)
		close(ctl);
	if (unbound && nic_driver_bind(d, ms) > 0)
		nic_set_flags(name, IFF_UP, 0);
}

/* Logs what a guest reported in @uc. */
static inline void log_ucall(struct __test_metadata *_metadata,
			     struct kvm_vm *vm, const struct ucall *uc)
{
	char desc[512];

	ucall_describe(vm, uc, desc, sizeof(desc));
	TH_LOG("%s", desc);
}

/* Runs @vcpu to its next ucall, which must be @cmd. */
#define ASSERT_UCALL(vcpu, uc, cmd)                                    \
	do {                                                           \
		struct kvm_vcpu *__v = (vcpu);                         \
		uint64_t __got = vcpu_run(__v, (uc), VCPU_TIMEOUT_MS); \
		if (__got != (uint64_t)(cmd))                          \
			log_ucall(_metadata, __v->vm, (uc));           \
		ASSERT_EQ((uint64_t)(cmd), __got);                     \
	} while (0)

/* Runs @vcpu to its next ucall, which must be SYNC of @stage. */
#define ASSERT_SYNC(vcpu, uc, stage)                         \
	do {                                                 \
		ASSERT_UCALL(vcpu, uc, UCALL_SYNC);          \
		ASSERT_EQ((uint64_t)(stage), (uc)->args[0]); \
	} while (0)

/* Joins a vCPU thread, which must have reported DONE. */
#define ASSERT_JOINED_DONE(vcpu, uc)                          \
	do {                                                  \
		struct kvm_vcpu *__v = (vcpu);                \
		uint64_t __got = vcpu_thread_join(__v, (uc)); \
		if (__got != UCALL_DONE)                      \
			log_ucall(_metadata, __v->vm, (uc));  \
		ASSERT_EQ((uint64_t)UCALL_DONE, __got);       \
	} while (0)

/* Joins every vCPU thread; each must have reported DONE. */
#define ASSERT_ALL_DONE(vcpus, n)                                \
	do {                                                     \
		struct ucall __uc;                               \
		unsigned int __i;                                \
		for (__i = 0; __i < (n); __i++)                  \
			ASSERT_JOINED_DONE((vcpus)[__i], &__uc); \
	} while (0)

/* Joins the vCPU threads still running and logs what each reported. */
static inline void log_vcpus(struct __test_metadata *_metadata,
			     struct kvm_vcpu **vcpus, unsigned int n)
{
	struct ucall uc;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!vcpus[i]->threaded)
			continue;
		vcpu_thread_join(vcpus[i], &uc);
		TH_LOG("vCPU %d of this VM:", vcpus[i]->id);
		log_ucall(_metadata, vcpus[i]->vm, &uc);
	}
}

/* Waits for slot watchers (watch.h) to complete @passes passes each. */
#define ASSERT_PASSES(vm, vcpus, n, passes)                                   \
	do {                                                                  \
		bool __passed = watch_wait_passes((vm), (vcpus), (n),         \
						  (passes), VCPU_TIMEOUT_MS); \
		if (!__passed)                                                \
			log_vcpus(_metadata, (vcpus), (n));                   \
		ASSERT_TRUE_LOG(__passed,                                     \
				"guests stopped short of %lu passes",         \
				(uint64_t)(passes));                          \
	} while (0)

/* Module totals: nothing staged or in a slot, and the books balance. */
#define ASSERT_MODULE_IDLE(ctl)                                              \
	do {                                                                 \
		struct kpf_counters __c;                                     \
		bool __idle = kpf_wait_idle((ctl), &__c, IDLE_TIMEOUT_MS);   \
		ASSERT_TRUE_LOG(__idle,                                      \
				"left over: %llu staged, %llu in slots",     \
				__c.pages_staged, __c.pages_in_slots);       \
		ASSERT_TRUE_LOG(kpf_counters_balanced(&__c),                 \
				"%llu free + %llu staged + %llu in slots + " \
				"%llu quarantined != %llu allocated",        \
				__c.pages_free, __c.pages_staged,            \
				__c.pages_in_slots, __c.pages_quarantined,   \
				__c.pages_allocated);                        \
	} while (0)

#endif /* KPF_TEST_H */
