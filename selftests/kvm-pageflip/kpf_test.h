/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Glue between the kselftest harness and the selftest library: skipping
 * when a device is missing, and asserting on what a guest reported.
 */
#ifndef KPF_TEST_H
#define KPF_TEST_H

#include <errno.h>
#include <string.h>

#include "kselftest_harness.h"
#include "kpf.h"
#include "watch.h"

/*
 * How long a guest may run before the test gives up on it.  Generous:
 * the tests run under TCG with nested virtualisation.
 */
#define VCPU_TIMEOUT_MS 30000
/* How long teardown may take to hand every page back. */
#define IDLE_TIMEOUT_MS 5000

/* True for the errnos that mean "this device is not there". */
static inline bool dev_missing(int err)
{
	return err == ENOENT || err == ENODEV || err == ENXIO;
}

/* A missing /dev/kvm is a SKIP with the reason; an unusable one fails. */
#define REQUIRE_KVM()                                                        \
	do {                                                                 \
		int __err = kvm_available();                                 \
		if (dev_missing(__err))                                      \
			SKIP(return, "/dev/kvm: %s", strerror(__err));       \
		ASSERT_EQ(0, __err) TH_LOG("/dev/kvm: %s", strerror(__err)); \
	} while (0)

/* Both devices; the module's tests need KVM for their VM fds. */
#define REQUIRE_KPF()                                                        \
	do {                                                                 \
		int __err;                                                   \
		REQUIRE_KVM();                                               \
		__err = kpf_available();                                     \
		if (dev_missing(__err))                                      \
			SKIP(return, KPF_DEV ": %s", strerror(__err));       \
		ASSERT_EQ(0, __err) TH_LOG(KPF_DEV ": %s", strerror(__err)); \
	} while (0)

#define LOG_UCALL(vm, uc)                                                    \
	do {                                                                 \
		char __desc[512];                                            \
		ucall_describe((vm), (uc), __desc, sizeof(__desc));          \
		TH_LOG("%s", __desc);                                        \
	} while (0)

/* Runs @vcpu to its next ucall, which must be @cmd. */
#define ASSERT_UCALL(vcpu, uc, cmd)                                          \
	do {                                                                 \
		struct kvm_vcpu *__v = (vcpu);                               \
		ASSERT_EQ((uint64_t)(cmd), vcpu_run(__v, (uc), VCPU_TIMEOUT_MS)) \
			LOG_UCALL(__v->vm, (uc));                            \
	} while (0)

/* Runs @vcpu to its next ucall, which must be SYNC of @stage. */
#define ASSERT_SYNC(vcpu, uc, stage)                                         \
	do {                                                                 \
		ASSERT_UCALL(vcpu, uc, UCALL_SYNC);                          \
		ASSERT_EQ((uint64_t)(stage), (uc)->args[0]);                 \
	} while (0)

/* Joins a vCPU thread, which must have reported DONE. */
#define ASSERT_JOINED_DONE(vcpu, uc)                                         \
	do {                                                                 \
		struct kvm_vcpu *__v = (vcpu);                               \
		ASSERT_EQ((uint64_t)UCALL_DONE, vcpu_thread_join(__v, (uc))) \
			LOG_UCALL(__v->vm, (uc));                            \
	} while (0)

/* Joins every vCPU thread; each must have reported DONE. */
#define ASSERT_ALL_DONE(vcpus, n)                                            \
	do {                                                                 \
		struct ucall __uc;                                           \
		unsigned int __i;                                            \
		for (__i = 0; __i < (n); __i++)                              \
			ASSERT_JOINED_DONE((vcpus)[__i], &__uc);             \
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
		LOG_UCALL(vcpus[i]->vm, &uc);
	}
}

/* Waits for slot watchers (watch.h) to complete @passes passes each. */
#define ASSERT_PASSES(vm, vcpus, n, passes)                                  \
	do {                                                                 \
		if (!watch_wait_passes((vm), (vcpus), (n), (passes),         \
				       VCPU_TIMEOUT_MS)) {                   \
			log_vcpus(_metadata, (vcpus), (n));                  \
			ASSERT_TRUE(false)                                   \
				TH_LOG("guests stopped short of %lu passes", \
				       (uint64_t)(passes));                  \
		}                                                            \
	} while (0)

/* Module totals: nothing staged or in a slot, and the books balance. */
#define ASSERT_MODULE_IDLE(ctl)                                              \
	do {                                                                 \
		struct kpf_counters __c;                                     \
		ASSERT_TRUE(kpf_wait_idle((ctl), &__c, IDLE_TIMEOUT_MS))     \
			TH_LOG("left over: %llu staged, %llu in slots",      \
			       __c.pages_staged, __c.pages_in_slots);        \
		ASSERT_TRUE(kpf_counters_balanced(&__c))                     \
			TH_LOG("%llu free + %llu staged + %llu in slots + "  \
			       "%llu quarantined != %llu allocated",         \
			       __c.pages_free, __c.pages_staged,             \
			       __c.pages_in_slots, __c.pages_quarantined,    \
			       __c.pages_allocated);                         \
	} while (0)

#endif /* KPF_TEST_H */
