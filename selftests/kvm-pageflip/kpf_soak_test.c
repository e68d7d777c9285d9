// SPDX-License-Identifier: GPL-2.0
/*
 * kpf_soak_test: the receive path for a long time, while everything around
 * it changes.
 *
 * Three KVM guests (selftests/lib/ring.h) receive through their ports and
 * check every frame they get.  Frames come two ways:
 *
 *  - from the sender NIC to the e1000e uplink (KPF_NIC_SKB, the module's
 *    rx_handler), test frames of frame.h to four MACs, the *keys*; a rule
 *    per key names the guest that owns it;
 *  - through the module's inject test hook, straight to each port: the
 *    bulk, since the emulated NICs carry a few thousand frames a second at
 *    best.  Each guest's injected frames have a length of their own.
 *
 * Between rounds of about SOAK_ROUND_FRAMES frames one key moves to the
 * next guest, its rule changing kind (MAC-only, exact MAC+VLAN) as it
 * goes.  Frames of a key carry a stream number of the key's *epoch*, which
 * changes with the owner: the new owner accepts the old epoch's stream
 * (frames sent before the change may still be classified after it) and
 * the new one, the old owner only the old one, the third guest none, so
 * that a frame sent after the change that reaches anyone but the new
 * owner fails that guest.  Mid-run, guests are destroyed and made anew,
 * and the uplink is flapped: link down and up, and its driver unbound
 * and bound again (which takes the uplink and its rules; they are
 * attached and added again), each time with a sender thread at work.
 *
 * Checked: every guest took only frames meant for it, byte for byte; no
 * stream was delivered more often than it was sent; every port's counters
 * balance when it goes (RX_FRAMES == DELIVERED + drops, each delivered
 * frame taken by the guest); the module totals balance at every flap and
 * recreation, and once everything is gone no page is staged or in a slot.
 * The runner checks the kernel log, kmemleak and the unload.
 *
 *   KPF_SOAK_FRAMES   frames in all (default 10^6: about 70 s on
 *                     Debian's kernels and 800 s on the debug kernel in
 *                     the test VM)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "kpf_rx.h"
#include "kpf_test.h"
#include "nic.h"
#include "proc.h"
#include "ring.h"

#define INJECT_HOOK "/sys/kernel/debug/kvm-pageflip/inject"

#define SOAK_VMS 3
#define SOAK_KEYS 4
/* Streams per key: its epoch modulo this; every stream of a guest is used. */
#define SOAK_EPOCHS (RXG_MAX_STREAMS / SOAK_KEYS)
#define SOAK_FRAMES 1000000
/* Frames between two rule changes, and of them NIC frames per key. */
#define SOAK_ROUND_FRAMES 3000
#define SOAK_NIC_PER_KEY 24
/* Each guest's ring, and the slots it keeps posted (of 64 - 3 for rings). */
#define SOAK_RING_SIZE 64
#define SOAK_POST 60
/*
 * Injected frames per write of the hook, and at most in flight per guest:
 * the rest of its posted slots are for NIC frames.
 */
#define SOAK_INJECT_BATCH 16
#define SOAK_INJECT_AHEAD 32
/* Guest v's injected frames are this long: a canary of their own. */
#define SOAK_INJECT_LEN(v) (64 + 4 * (v))
#define SOAK_FLAPS 4
/* Frames of each key the sender thread sends at most during a flap. */
#define SOAK_FLAP_ROUNDS 500
#define SOAK_RECREATIONS 2
/* Harness bound; selftests/vm/run.sh gives the program a little more. */
#define SOAK_TIMEOUT_S 1150
#define SOAK_WAIT_MS 30000
/*
 * The guests poll their rings without end: they run at the lowest
 * priority, on what the injecting thread and the module's worker leave of
 * the test VM's two CPUs, instead of taking three fifths of them.
 */
#define SOAK_GUEST_NICE 19
#define SOAK_CARRIER_MS 10000

struct soak_vm {
	struct rx_vm g;
	bool live;
	uint64_t written; /* frames written to the hook for this port */
	uint64_t credit; /* injected frames it will never get (dropped) */
	/* Over all of its incarnations. */
	uint64_t nic_checked, injected_checked, incarnations;
};

FIXTURE(soak)
{
	int ctl;
	/* The uplink, e1000e, and the NIC frames are sent out of. */
	char uplink[IF_NAMESIZE], tx_name[IF_NAMESIZE];
	int uplink_ifindex;
	uint8_t tx_mac[6];
	struct frame_tx tx;
	/* What the parent's teardown undoes. */
	bool attached;
	struct nic_driver unbound;
	bool driver_unbound;

	struct soak_vm vm[SOAK_VMS];
	unsigned int owner[SOAK_KEYS];
	unsigned int epoch[SOAK_KEYS];
	bool exact[SOAK_KEYS]; /* the key's rule is MAC+VLAN, else MAC-only */
	uint32_t seq[RXG_MAX_STREAMS]; /* next sequence number per stream */
	uint64_t sent[RXG_MAX_STREAMS]; /* at most, per stream */
	uint64_t got[RXG_MAX_STREAMS]; /* by all guests gone so far */
	/* Figures. */
	uint64_t nic_sent, injected, rule_changes, recreations, flaps;
	uint64_t drops[KPF_PORT_MAX_COUNTERS];
	uint64_t delivered, copied, flipped;
	uint64_t inject_ns, write_ns; /* in soak_inject(), in its writes */
};

/* The uplink, through the module's rx_handler. */
static void soak_attach(struct __test_metadata *_metadata,
			FIXTURE_DATA(soak) * self)
{
	int ret = kpf_uplink_attach(self->ctl, self->uplink_ifindex, NULL);

	ASSERT_EQ_LOG(0, ret, "KPF_UPLINK_ATTACH %s: %s", self->uplink,
		      strerror(-ret));
	self->attached = true;
}

FIXTURE_SETUP(soak)
{
	int tx_ifindex;

	self->ctl = -1;
	self->tx.fd = -1;
	if (!devices_ready(_metadata, true))
		return;
	if (access(INJECT_HOOK, W_OK))
		SKIP(return, "no " INJECT_HOOK " (test_hooks=1)");
	self->uplink_ifindex = rx_nics_find(_metadata, NIC_ENV_SKB,
					    self->uplink, self->tx_name,
					    &tx_ifindex);
	if (!self->uplink_ifindex)
		return;
	self->ctl = kpf_open();
	ASSERT_LE(0, self->ctl);
	ASSERT_EQ(0, nic_uplink_prepare(self->uplink));
	ASSERT_EQ(0, nic_sender_prepare(self->tx_name, self->tx_mac,
					SOAK_CARRIER_MS));
	ASSERT_EQ(0, nic_wait_carrier(self->uplink, SOAK_CARRIER_MS));
	ASSERT_EQ(0, frame_tx_open(&self->tx, tx_ifindex));
	soak_attach(_metadata, self);
}

FIXTURE_TEARDOWN_PARENT(soak)
{
	uplink_restore(self->uplink, self->uplink_ifindex, self->attached,
		       &self->unbound, self->driver_unbound, SOAK_CARRIER_MS);
	nic_wait_carrier(self->uplink, SOAK_CARRIER_MS);
}

/* The stream of key @k in epoch @e. */
static uint32_t soak_stream(unsigned int k, unsigned int e)
{
	return k * SOAK_EPOCHS + e % SOAK_EPOCHS;
}

static void soak_mac(unsigned int k, uint8_t mac[6])
{
	const uint8_t base[6] = { 0x02, 0x6b, 0x70, 0x00, 0x50, 0x00 };

	memcpy(mac, base, 6);
	mac[5] = k;
}

/* The rule of key @k as it is now (or, with @exact, of that kind). */
static struct kpf_rule soak_rule(FIXTURE_DATA(soak) * self, unsigned int k,
				 bool exact)
{
	uint8_t mac[6];

	soak_mac(k, mac);
	return kpf_rule_make(
		self->uplink_ifindex,
		exact ? KPF_RULE_F_MAC | KPF_RULE_F_VLAN : KPF_RULE_F_MAC,
		KPF_VLAN_UNTAGGED, mac, self->vm[self->owner[k]].g.port.id);
}

static void soak_rule_add(struct __test_metadata *_metadata,
			  FIXTURE_DATA(soak) * self, unsigned int k)
{
	struct kpf_rule r = soak_rule(self, k, self->exact[k]);
	int ret = kpf_rule_add(self->ctl, &r);

	ASSERT_EQ_LOG(0, ret, "KPF_RULE_ADD key %u: %s", k, strerror(-ret));
}

/* Lets stream @s reach guest @v. */
static void soak_accept(FIXTURE_DATA(soak) * self, unsigned int v, uint32_t s)
{
	struct rxg *r = self->vm[v].g.rxg;

	WRITE_ONCE(r->vlan[s], 0);
	__atomic_or_fetch(&r->streams, 1ULL << s, __ATOMIC_SEQ_CST);
}

/* The module totals balance. */
static void soak_check_totals(struct __test_metadata *_metadata,
			      FIXTURE_DATA(soak) * self)
{
	struct kpf_counters c;

	ASSERT_EQ(0, kpf_get_stats(self->ctl, 0, &c));
	ASSERT_TRUE_LOG(
		kpf_counters_balanced(&c),
		"%llu free + %llu staged + %llu in slots + %llu quarantined != %llu allocated",
		c.pages_free, c.pages_staged, c.pages_in_slots,
		c.pages_quarantined, c.pages_allocated);
}

/* Makes guest @v (anew), with the current streams and rules of its keys. */
static void soak_vm_start(struct __test_metadata *_metadata,
			  FIXTURE_DATA(soak) * self, unsigned int v)
{
	struct soak_vm *sv = &self->vm[v];
	struct rxg *r;
	unsigned int k;
	bool ready;
	int ret;

	ret = rx_vm_create(self->ctl, &sv->g, NULL, SOAK_RING_SIZE, SOAK_POST,
			   KPF_COPYBREAK_DEFAULT);
	ASSERT_EQ_LOG(0, ret, "a receiving VM: %s", strerror(-ret));
	r = sv->g.rxg;
	r->flags = RXG_F_LOSSY | RXG_F_UNORDERED | RXG_F_INJECT;
	r->inject_len = SOAK_INJECT_LEN(v);
	r->inject_count = SOAK_INJECT_BATCH;
	for (k = 0; k < SOAK_KEYS; k++)
		if (self->owner[k] == v)
			soak_accept(self, v, soak_stream(k, self->epoch[k]));
	/* Threads inherit the nice value of the thread that makes them. */
	ASSERT_EQ(0, setpriority(PRIO_PROCESS, gettid(), SOAK_GUEST_NICE));
	ready = rx_vm_start(&sv->g, SOAK_TIMEOUT_S * 1000, SOAK_WAIT_MS);
	ASSERT_EQ(0, setpriority(PRIO_PROCESS, gettid(), 0));
	if (!ready)
		log_vcpus(_metadata, &sv->g.vcpu, 1);
	ASSERT_TRUE_LOG(ready, "guest %u never posted", v);
	sv->live = true;
	sv->written = sv->credit = 0;
	sv->incarnations++;
	for (k = 0; k < SOAK_KEYS; k++)
		if (self->owner[k] == v && self->attached)
			soak_rule_add(_metadata, self, k);
}

/*
 * Lets guest @v take what its port has, checks the port's counters and
 * the guest's verdict, keeps the figures, and destroys it (its rules go
 * with its port).
 */
static void soak_vm_stop(struct __test_metadata *_metadata,
			 FIXTURE_DATA(soak) * self, unsigned int v)
{
	struct soak_vm *sv = &self->vm[v];
	struct kpf_port_info pi;
	const __u64 *c = pi.counters;
	unsigned int bad, i;
	struct rxg *r = sv->g.rxg;
	struct ucall uc;
	bool got;

	ASSERT_EQ(0, kpf_port_settle(self->ctl, sv->g.port.id, &pi, 500,
				     SOAK_WAIT_MS));
	ASSERT_EQ(KPF_PORT_STATE_RUNNING, pi.state);
	ASSERT_EQ(0, c[KPF_PORT_RING_ERRORS]);
	ASSERT_EQ_LOG(c[KPF_PORT_RX_FRAMES],
		      c[KPF_PORT_DELIVERED] + kpf_port_drops(&pi),
		      "port %u: %llu delivered, %llu dropped", sv->g.port.id,
		      c[KPF_PORT_DELIVERED], kpf_port_drops(&pi));
	ASSERT_EQ(c[KPF_PORT_DELIVERED],
		  c[KPF_PORT_FLIPPED] + c[KPF_PORT_COPIED]);
	got = rx_vm_wait(&sv->g, c[KPF_PORT_DELIVERED], SOAK_WAIT_MS);
	if (!got)
		log_vcpus(_metadata, &sv->g.vcpu, 1);
	ASSERT_TRUE_LOG(got, "guest %u: %lu of %llu frames", v,
			READ_ONCE(r->frames), c[KPF_PORT_DELIVERED]);
	WRITE_ONCE(r->expect_frames, c[KPF_PORT_DELIVERED]);
	if (rx_vms_finish(&sv->g, 1, SOAK_WAIT_MS, &bad, &uc)) {
		TH_LOG("guest %u (port %u):", v, sv->g.port.id);
		log_ucall(_metadata, sv->g.vm, &uc);
		ASSERT_EQ(UCALL_DONE, uc.cmd);
	}
	sv->injected_checked += r->injected;
	sv->nic_checked += r->frames - r->injected;
	for (i = 0; i < RXG_MAX_STREAMS; i++)
		self->got[i] += r->got[i];
	for (i = KPF_PORT_DROP_NO_BUFFER; i <= KPF_PORT_DROP_NOMEM; i++)
		self->drops[i] += c[i];
	self->delivered += c[KPF_PORT_DELIVERED];
	self->copied += c[KPF_PORT_COPIED];
	self->flipped += c[KPF_PORT_FLIPPED];
	rx_vm_free(&sv->g);
	sv->live = false;
}

/* Fails at once if a guest has stopped: it says why. */
static void soak_vms_alive(struct __test_metadata *_metadata,
			   FIXTURE_DATA(soak) * self)
{
	struct ucall uc;
	unsigned int v;

	for (v = 0; v < SOAK_VMS; v++) {
		struct soak_vm *sv = &self->vm[v];

		if (!sv->live || !vcpu_thread_finished(sv->g.vcpu))
			continue;
		vcpu_thread_join(sv->g.vcpu, &uc);
		TH_LOG("guest %u (port %u) stopped:", v, sv->g.port.id);
		log_ucall(_metadata, sv->g.vm, &uc);
		ASSERT_TRUE_LOG(false, "guest %u stopped mid-run", v);
	}
}

/* The frames of key @k now, from sequence number @seq on. */
static struct frame_spec soak_spec(FIXTURE_DATA(soak) * self, unsigned int k)
{
	uint32_t s = soak_stream(k, self->epoch[k]);
	struct frame_spec f = {
		.stream = s,
		.seq = self->seq[s],
		.payload = 46,
		.span = 300,
	};

	soak_mac(k, f.dst);
	memcpy(f.src, self->tx_mac, 6);
	return f;
}

/* A sender thread that sends @n frames to every key, one key after another. */
static void soak_sender_start(struct __test_metadata *_metadata,
			      FIXTURE_DATA(soak) * self,
			      struct frame_sender *snd,
			      struct frame_spec f[SOAK_KEYS], uint32_t n)
{
	unsigned int k;

	for (k = 0; k < SOAK_KEYS; k++)
		f[k] = soak_spec(self, k);
	memset(snd, 0, sizeof(*snd));
	snd->tx = &self->tx;
	snd->specs = f;
	snd->nr_specs = SOAK_KEYS;
	snd->count = n;
	ASSERT_EQ(0, frame_sender_start(snd));
}

/* Waits for a sender thread to have sent all it was to send. */
static void soak_sender_finish(struct __test_metadata *_metadata,
			       struct frame_sender *snd)
{
	uint64_t deadline = now_ms() + SOAK_WAIT_MS;
	int ret;

	while (!__atomic_load_n(&snd->done, __ATOMIC_ACQUIRE) &&
	       now_ms() < deadline)
		usleep(1000);
	ret = frame_sender_stop(snd);
	ASSERT_EQ_LOG(0, ret, "send: %s", strerror(-ret));
	ASSERT_EQ(snd->count, snd->sent);
}

/*
 * Accounts what a stopped sender sent (a round it was stopped in may have
 * been sent in part).
 */
static void soak_sender_account(FIXTURE_DATA(soak) * self,
				const struct frame_sender *snd,
				const struct frame_spec f[SOAK_KEYS])
{
	unsigned int k;

	for (k = 0; k < SOAK_KEYS; k++) {
		self->seq[f[k].stream] += snd->sent + 1;
		self->sent[f[k].stream] += snd->sent + 1;
		self->nic_sent += snd->sent;
	}
}

/*
 * Flap @i of the uplink, with frames flowing: even ones take its link down
 * and up; odd ones unbind its driver, which unregisters it and so detaches
 * it and deletes its rules, and bind it again, attach it and add the rules.
 */
static void soak_flap(struct __test_metadata *_metadata,
		      FIXTURE_DATA(soak) * self, unsigned int i)
{
	struct frame_spec f[SOAK_KEYS];
	struct frame_sender snd;
	unsigned int k;

	soak_sender_start(_metadata, self, &snd, f, SOAK_FLAP_ROUNDS);
	usleep(50000);
	if (!(i & 1)) {
		ASSERT_EQ(0, nic_set_flags(self->uplink, 0, IFF_UP));
		usleep(100000);
		ASSERT_EQ(0, nic_set_flags(self->uplink, IFF_UP, 0));
		ASSERT_EQ(0, nic_wait_carrier(self->uplink, SOAK_CARRIER_MS));
		ASSERT_EQ(0, frame_sender_stop(&snd));
	} else {
		unbind_while_sending(_metadata, self->uplink, &self->unbound,
				     &self->driver_unbound, &snd);
		self->attached = false;
		self->uplink_ifindex =
			uplink_rebind(_metadata, self->uplink, &self->unbound,
				      &self->driver_unbound, SOAK_CARRIER_MS);
		ASSERT_EQ(0, nic_uplink_prepare(self->uplink));
		ASSERT_EQ(0, nic_wait_carrier(self->uplink, SOAK_CARRIER_MS));
		soak_attach(_metadata, self);
		for (k = 0; k < SOAK_KEYS; k++)
			soak_rule_add(_metadata, self, k);
	}
	soak_sender_account(self, &snd, f);
	self->flaps++;
	soak_check_totals(_metadata, self);
}

/*
 * Moves key @k to the next live guest: the new owner accepts the old
 * epoch's stream and a new one, the epoch before the old one is no
 * longer accepted by anyone, and the rule changes kind on the way (the
 * new one added before the old one goes, so there is never a gap).
 */
static void soak_move_key(struct __test_metadata *_metadata,
			  FIXTURE_DATA(soak) * self, unsigned int k)
{
	unsigned int from = self->owner[k], to = from, e = self->epoch[k], v;
	struct kpf_rule old = soak_rule(self, k, self->exact[k]);
	uint32_t gone = soak_stream(k, e + SOAK_EPOCHS - 1);
	int ret;

	do
		to = (to + 1) % SOAK_VMS;
	while (!self->vm[to].live);
	if (e)
		for (v = 0; v < SOAK_VMS; v++)
			if (self->vm[v].live)
				__atomic_and_fetch(&self->vm[v].g.rxg->streams,
						   ~(1ULL << gone),
						   __ATOMIC_SEQ_CST);
	soak_accept(self, to, soak_stream(k, e));
	soak_accept(self, to, soak_stream(k, e + 1));
	self->owner[k] = to;
	self->exact[k] = !self->exact[k];
	soak_rule_add(_metadata, self, k);
	ret = kpf_rule_del(self->ctl, &old);
	ASSERT_EQ_LOG(0, ret, "KPF_RULE_DEL key %u: %s", k, strerror(-ret));
	self->epoch[k] = e + 1;
	self->rule_changes++;
}

static uint64_t soak_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Room for injected frames at guest @v: frames in flight under the bound. */
static bool soak_inject_room(FIXTURE_DATA(soak) * self, unsigned int v)
{
	struct soak_vm *sv = &self->vm[v];
	uint64_t done = READ_ONCE(sv->g.rxg->injected) + sv->credit;

	return sv->written + SOAK_INJECT_BATCH <= done + SOAK_INJECT_AHEAD;
}

/*
 * Frames injected for guest @v that it has not taken are either queued in
 * its port or delivered and not taken yet: when more seem to be in flight
 * than that, the rest were dropped, and are credited.  The guest's
 * counters are read first, so that the ones of the port can only be later
 * and the credit is never too high.
 */
static void soak_inject_credit(struct __test_metadata *_metadata,
			       FIXTURE_DATA(soak) * self, unsigned int v)
{
	struct soak_vm *sv = &self->vm[v];
	uint64_t injected = READ_ONCE(sv->g.rxg->injected);
	uint64_t frames = READ_ONCE(sv->g.rxg->frames), ahead, held;
	struct kpf_port_info pi;
	const __u64 *c = pi.counters;

	ASSERT_EQ(0, kpf_port_info(self->ctl, sv->g.port.id, &pi));
	held = c[KPF_PORT_RX_FRAMES] - kpf_port_drops(&pi) - frames;
	ahead = sv->written - injected;
	sv->credit = ahead > held ? ahead - held : 0;
}

/*
 * Injects @n frames (rounded up to whole writes), the same share to every
 * live guest, as fast as they take them.
 */
static void soak_inject(struct __test_metadata *_metadata,
			FIXTURE_DATA(soak) * self, uint64_t n)
{
	uint64_t stalled = now_ms(), moved = now_ms(), t0, t1;
	uint64_t left[SOAK_VMS] = { 0 }, share, todo = 0;
	unsigned int v, live = 0;
	char cmd[48];
	bool progress;
	int ret;

	for (v = 0; v < SOAK_VMS; v++)
		live += self->vm[v].live;
	share = (n + live * SOAK_INJECT_BATCH - 1) / (live * SOAK_INJECT_BATCH);
	for (v = 0; v < SOAK_VMS; v++)
		if (self->vm[v].live)
			todo += left[v] = share * SOAK_INJECT_BATCH;
	t0 = soak_ns();
	while (todo) {
		progress = false;
		for (v = 0; v < SOAK_VMS; v++) {
			struct soak_vm *sv = &self->vm[v];

			if (!left[v] || !soak_inject_room(self, v))
				continue;
			snprintf(cmd, sizeof(cmd), "%u %u %u", sv->g.port.id,
				 SOAK_INJECT_LEN(v), SOAK_INJECT_BATCH);
			t1 = soak_ns();
			ret = file_write(INJECT_HOOK, cmd);
			self->write_ns += soak_ns() - t1;
			ASSERT_EQ_LOG(0, ret, "inject %s: %s", cmd,
				      strerror(-ret));
			sv->written += SOAK_INJECT_BATCH;
			self->injected += SOAK_INJECT_BATCH;
			left[v] -= SOAK_INJECT_BATCH;
			todo -= SOAK_INJECT_BATCH;
			progress = true;
		}
		if (progress) {
			stalled = moved = now_ms();
			continue;
		}
		soak_vms_alive(_metadata, self);
		if (now_ms() - stalled < 200) {
			usleep(200);
			continue;
		}
		for (v = 0; v < SOAK_VMS; v++)
			if (left[v])
				soak_inject_credit(_metadata, self, v);
		ASSERT_TRUE_LOG(now_ms() - moved < SOAK_WAIT_MS,
				"injection stalled, %llu frames short",
				(unsigned long long)todo);
		stalled = now_ms();
	}
	self->inject_ns += soak_ns() - t0;
}

/* Frames in all: KPF_SOAK_FRAMES, or 10^6. */
static uint64_t soak_frames(void)
{
	const char *v = getenv("KPF_SOAK_FRAMES");

	return v && *v ? strtoull(v, NULL, 0) : SOAK_FRAMES;
}

static void soak_print(FIXTURE_DATA(soak) * self, uint64_t ms, uint64_t over)
{
	uint64_t drops = 0;
	unsigned int v, i;

	printf("# soak: %llu frames sent in %.1f s: %llu injected (the inject hook), %llu from the sender NIC to %s (rx_handler)\n",
	       (unsigned long long)(self->injected + self->nic_sent),
	       ms / 1000.0, (unsigned long long)self->injected,
	       (unsigned long long)self->nic_sent, self->uplink);
	for (v = 0; v < SOAK_VMS; v++)
		printf("# soak: guest %u: %llu frames checked (%llu injected, %llu NIC) over %llu incarnations\n",
		       v,
		       (unsigned long long)(self->vm[v].injected_checked +
					    self->vm[v].nic_checked),
		       (unsigned long long)self->vm[v].injected_checked,
		       (unsigned long long)self->vm[v].nic_checked,
		       (unsigned long long)self->vm[v].incarnations);
	printf("# soak: %llu delivered (%llu copied, %llu flipped); misdeliveries: 0 seen by the guests, %llu more than sent\n",
	       (unsigned long long)self->delivered,
	       (unsigned long long)self->copied,
	       (unsigned long long)self->flipped, (unsigned long long)over);
	printf("# soak: injecting took %.1f s, %.1f s of it in writes to the hook\n",
	       self->inject_ns / 1e9, self->write_ns / 1e9);
	printf("# soak: %llu rule changes, %llu VM recreations, %llu uplink flaps\n",
	       (unsigned long long)self->rule_changes,
	       (unsigned long long)self->recreations,
	       (unsigned long long)self->flaps);
	for (i = 0; i < KPF_PORT_MAX_COUNTERS; i++)
		drops += self->drops[i];
	printf("# soak: %llu dropped by the module: no buffer %llu, queue full %llu, ring error %llu, oversize %llu, runt %llu, no memory %llu\n",
	       (unsigned long long)drops,
	       (unsigned long long)self->drops[KPF_PORT_DROP_NO_BUFFER],
	       (unsigned long long)self->drops[KPF_PORT_DROP_QUEUE_FULL],
	       (unsigned long long)self->drops[KPF_PORT_DROP_RING_ERROR],
	       (unsigned long long)self->drops[KPF_PORT_DROP_OVERSIZE],
	       (unsigned long long)self->drops[KPF_PORT_DROP_RUNT],
	       (unsigned long long)self->drops[KPF_PORT_DROP_NOMEM]);
	fflush(stdout);
}

/*
 * 10^6 frames (KPF_SOAK_FRAMES) to three guests while rules move, guests
 * are made anew and the uplink flaps.
 */
TEST_F_TIMEOUT(soak, churn_recreate_flap, SOAK_TIMEOUT_S)
{
	uint64_t frames = soak_frames(), start = now_ms(), total;
	uint64_t checked, drops = 0, over = 0;
	unsigned int v, k, round, rounds, flap = 0, recreated = 0;
	struct frame_spec f[SOAK_KEYS];
	struct frame_sender snd;
	uint64_t round_inject;

	rounds = frames / SOAK_ROUND_FRAMES;
	if (rounds < SOAK_FLAPS + SOAK_RECREATIONS + 1)
		rounds = SOAK_FLAPS + SOAK_RECREATIONS + 1;
	round_inject = frames / rounds;
	round_inject -= round_inject % SOAK_INJECT_BATCH;
	if (round_inject > SOAK_KEYS * SOAK_NIC_PER_KEY)
		round_inject -= SOAK_KEYS * SOAK_NIC_PER_KEY;
	printf("# soak: %llu frames in %u rounds, %u NIC frames and %llu injected each\n",
	       (unsigned long long)frames, rounds, SOAK_KEYS * SOAK_NIC_PER_KEY,
	       (unsigned long long)round_inject);
	fflush(stdout);

	for (k = 0; k < SOAK_KEYS; k++)
		self->owner[k] = k % SOAK_VMS;
	for (v = 0; v < SOAK_VMS; v++)
		soak_vm_start(_metadata, self, v);

	for (round = 0; round < rounds; round++) {
		soak_sender_start(_metadata, self, &snd, f, SOAK_NIC_PER_KEY);
		soak_inject(_metadata, self, round_inject);
		soak_sender_finish(_metadata, &snd);
		soak_sender_account(self, &snd, f);
		soak_move_key(_metadata, self, round % SOAK_KEYS);
		if (flap < SOAK_FLAPS &&
		    round == (flap + 1) * rounds / (SOAK_FLAPS + 1))
			soak_flap(_metadata, self, flap++);
		if (recreated < SOAK_RECREATIONS &&
		    round == (2 * recreated + 1) * rounds /
				     (2 * SOAK_RECREATIONS)) {
			v = recreated++ % SOAK_VMS;
			soak_vm_stop(_metadata, self, v);
			soak_check_totals(_metadata, self);
			soak_vm_start(_metadata, self, v);
			self->recreations++;
		}
	}
	for (v = 0; v < SOAK_VMS; v++)
		soak_vm_stop(_metadata, self, v);

	/* A guest that took a frame not meant for it has failed above. */
	for (k = 0; k < RXG_MAX_STREAMS; k++)
		if (self->got[k] > self->sent[k])
			over += self->got[k] - self->sent[k];
	soak_print(self, now_ms() - start, over);
	ASSERT_EQ(0, over);
	total = self->injected + self->nic_sent;
	ASSERT_LE(frames, total + rounds * SOAK_INJECT_BATCH);
	ASSERT_EQ(SOAK_FLAPS, self->flaps);
	ASSERT_EQ(SOAK_RECREATIONS, self->recreations);
	ASSERT_LE(rounds, self->rule_changes);
	for (v = 0; v < SOAK_VMS; v++) {
		ASSERT_LT(0, self->vm[v].injected_checked);
		ASSERT_LT(0, self->vm[v].nic_checked);
	}
	/* Every injected frame was checked by its guest or dropped. */
	for (v = 0, checked = 0; v < SOAK_VMS; v++)
		checked += self->vm[v].injected_checked;
	for (k = 0; k < KPF_PORT_MAX_COUNTERS; k++)
		drops += self->drops[k];
	ASSERT_LE(checked, self->injected);
	ASSERT_LE(self->injected, checked + drops);
	ASSERT_MODULE_IDLE(self->ctl);
}

TEST_HARNESS_MAIN
