// SPDX-License-Identifier: GPL-2.0
/*
 * The receive path: frames sent out of the test VM's sender NIC arrive on
 * an uplink the module is attached to, and reach tiny KVM guests through
 * their ports' rings, or the host stack.
 *
 * Each guest (lib/ring.h) checks every frame byte for byte, in order per
 * stream, with its tag and destination; the host checks what reaches its
 * stack (lib/frame.h) and the module's port counters.  Every test runs on
 * both uplinks: the virtio-net NIC meant for XDP (here through the
 * rx_handler, like any driver) and the e1000e.
 *
 * Classification, as the uapi header states it: a unicast frame goes to
 * the most specific rule (MAC+VLAN, else MAC-only, else VLAN-only);
 * broadcast goes to every port whose rules match its VLAN and to the host;
 * a frame no rule matches goes to the host.  Only an outer TPID of 0x8100
 * is a VLAN to the module: 802.1ad (0x88a8) and other TPIDs go to the host.
 *
 * ring_protocol_against_model checks the guest ring code itself against
 * the host playing the module (lib/ring_model.h); it needs no NIC.
 */
#define _GNU_SOURCE
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "kpf_rx.h"
#include "kpf_test.h"
#include "nic.h"
#include "proc.h"
#include "ring.h"
#include "ring_model.h"

/* Receiving guests: lib/kpf_rx.h's struct rx_vm, with assertions. */
#define RX_RING_SIZE 32
/* How long the host waits for guests to take what it sent. */
#define RX_WAIT_MS 20000
#define RXG(g) ((g)->rxg)

/* An rx_vm (ports take the module's default copy-break), or fail. */
static void rx_guest_create(struct __test_metadata *_metadata, int ctl,
			    struct rx_vm *g, const uint8_t *mac,
			    uint32_t ring_size, uint32_t post)
{
	int ret = rx_vm_create(ctl, g, mac, ring_size, post,
			       KPF_COPYBREAK_DEFAULT);

	ASSERT_EQ_LOG(0, ret, "a receiving VM: %s", strerror(-ret));
	ASSERT_EQ(KPF_RING_PAGES(ring_size), g->port.ring_pages);
}

/*
 * Starts the guest in a vCPU thread that may run for @run_ms, and waits
 * until it has posted.
 */
static void rx_guest_start_for(struct __test_metadata *_metadata,
			       struct rx_vm *g, unsigned int run_ms)
{
	bool ready = rx_vm_start(g, run_ms, RX_WAIT_MS);

	if (!ready)
		log_vcpus(_metadata, &g->vcpu, 1);
	ASSERT_TRUE_LOG(ready, "the guest never posted");
}

/* ... for the time a test of a few frames takes. */
static void rx_guest_start(struct __test_metadata *_metadata, struct rx_vm *g)
{
	rx_guest_start_for(_metadata, g, VCPU_TIMEOUT_MS + RX_WAIT_MS);
}

/* Lets stream @s arrive at @g, with outer tag @tag (RXG_TAG() or 0). */
static void rx_guest_expect(struct rx_vm *g, uint32_t s, uint64_t tag)
{
	RXG(g)->streams |= 1ULL << s;
	RXG(g)->vlan[s] = tag;
}

/* Tells the guests to finish and asserts that each reported DONE. */
static void rx_guests_finish(struct __test_metadata *_metadata, struct rx_vm *g,
			     unsigned int n)
{
	unsigned int bad = 0;
	struct ucall uc;

	if (!rx_vms_finish(g, n, RX_WAIT_MS, &bad, &uc))
		return;
	TH_LOG("guest %u (port %u):", bad, g[bad].port.id);
	log_ucall(_metadata, g[bad].vm, &uc);
	ASSERT_EQ(UCALL_DONE, uc.cmd);
}

/* Each test's bound; they take seconds, but run under nested TCG. */
#define RX_TEST_TIMEOUT_S 120
#define RX_FRAMES 16 /* frames per stream */
#define RX_POST 24 /* slots each guest keeps posted */
/* Frames of each stream, at least, while rules change under them... */
#define RULE_CHANGE_FRAMES 1000
/* ... and steps of rule changes (add, replace, delete), at least. */
#define RULE_CHANGE_STEPS 12
/* How long a NIC may take to get its link back. */
#define CARRIER_MS 10000
/* How long the host checker waits for one more frame. */
#define HOST_IDLE_MS 500

static const uint8_t mac_a[6] = { 0x02, 0x6b, 0x70, 0x00, 0x00, 0x0a };
static const uint8_t mac_b[6] = { 0x02, 0x6b, 0x70, 0x00, 0x00, 0x0b };
static const uint8_t mac_c[6] = { 0x02, 0x6b, 0x70, 0x00, 0x00, 0x0c };
static const uint8_t mac_unknown[6] = { 0x02, 0x6b, 0x70, 0x00, 0x00, 0xee };
static const uint8_t mac_mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x42 };
static const uint8_t mac_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

FIXTURE(rx)
{
	int ctl;
	struct kpf_info info;
	char uplink[IF_NAMESIZE];
	int uplink_ifindex;
	char tx_name[IF_NAMESIZE];
	struct frame_tx tx;
	uint8_t tx_mac[6];
	/* What the parent's teardown undoes (the fixture is shared with it). */
	bool attached;
	int tx_mtu, uplink_mtu; /* to restore, 0: unchanged */
	char vlan_dev[IF_NAMESIZE + 8]; /* to delete, "": none */
	struct nic_driver unbound; /* to bind again, if driver_unbound */
	bool driver_unbound;
};

FIXTURE_VARIANT(rx)
{
	const char *nic_env;
};

/* clang-format off */
/* The XDP uplink, attached without XDP: the module's rx_handler. */
FIXTURE_VARIANT_ADD(rx, virtio_net_skb) {
	.nic_env = NIC_ENV_XDP,
};

FIXTURE_VARIANT_ADD(rx, e1000e) {
	.nic_env = NIC_ENV_SKB,
};
/* clang-format on */

FIXTURE_SETUP(rx)
{
	int tx_ifindex, ret;

	self->ctl = -1;
	self->tx.fd = -1;
	if (!devices_ready(_metadata, true))
		return;
	self->uplink_ifindex = rx_nics_find(_metadata, variant->nic_env,
					    self->uplink, self->tx_name,
					    &tx_ifindex);
	if (!self->uplink_ifindex)
		return;
	self->ctl = control_open(_metadata, &self->info);
	ASSERT_EQ(0, nic_uplink_prepare(self->uplink));
	ASSERT_EQ(0, nic_set_flags(self->tx_name, IFF_UP, 0));
	ASSERT_EQ(0, nic_get_mac(self->tx_name, self->tx_mac));
	ASSERT_EQ(0, nic_wait_carrier(self->tx_name, CARRIER_MS));
	ASSERT_EQ(0, nic_wait_carrier(self->uplink, CARRIER_MS));
	ASSERT_EQ(0, frame_tx_open(&self->tx, tx_ifindex));
	ret = kpf_uplink_attach(self->ctl, self->uplink_ifindex, NULL);
	if (ret == -ENOTTY)
		SKIP(return,
			   "the module has no receive path (KPF_UPLINK_ATTACH: ENOTTY)");
	ASSERT_EQ_LOG(0, ret, "KPF_UPLINK_ATTACH %s: %s", self->uplink,
		      strerror(-ret));
	self->attached = true;
}

/*
 * Uplinks belong to the module, and NIC settings to the VM: undo them in
 * the parent, whatever happened to the test's process.
 */
FIXTURE_TEARDOWN_PARENT(rx)
{
	uplink_restore(self->uplink, self->uplink_ifindex, self->attached,
		       &self->unbound, self->driver_unbound, CARRIER_MS);
	if (self->vlan_dev[0])
		nic_vlan_del(self->vlan_dev);
	if (self->tx_mtu)
		nic_set_mtu(self->tx_name, self->tx_mtu);
	if (self->uplink_mtu)
		nic_set_mtu(self->uplink, self->uplink_mtu);
	/* The next test starts with working links. */
	nic_wait_carrier(self->tx_name, CARRIER_MS);
	nic_wait_carrier(self->uplink, CARRIER_MS);
}

/* Frames of one stream: where they go and how big they are. */
struct stream {
	uint32_t id;
	const uint8_t *dst;
	struct frame_tag tags[FRAME_MAX_TAGS];
	uint32_t payload; /* payload of the first frame */
	uint32_t span; /* payloads vary in [payload, payload + span) */
};

/* Sends frames @first .. @first + @count - 1 of @s. */
static int stream_send(FIXTURE_DATA(rx) * self, const struct stream *s,
		       uint32_t first, uint32_t count)
{
	struct frame_spec f = { .stream = s->id };
	uint32_t i;
	int ret;

	memcpy(f.dst, s->dst, 6);
	memcpy(f.src, self->tx_mac, 6);
	memcpy(f.tags, s->tags, sizeof(f.tags));
	for (i = first; i < first + count; i++) {
		f.seq = i;
		f.payload = s->payload + (s->span ? i * 211 % s->span : 0);
		ret = frame_send(&self->tx, &f);
		if (ret)
			return ret;
	}
	return 0;
}

#define ASSERT_SENT(self, s, first, count) \
	ASSERT_EQ(0, stream_send((self), (s), (first), (count)))

static struct frame_tag tag8021q(uint16_t tci)
{
	return (struct frame_tag){ .tpid = FRAME_TPID_8021Q, .tci = tci };
}

static void rule_add(struct __test_metadata *_metadata, FIXTURE_DATA(rx) * self,
		     uint32_t match, uint16_t vlan, const uint8_t *mac,
		     uint32_t port_id)
{
	struct kpf_rule r =
		kpf_rule_make(self->uplink_ifindex, match, vlan, mac, port_id);
	int ret = kpf_rule_add(self->ctl, &r);

	ASSERT_EQ_LOG(0, ret, "KPF_RULE_ADD: %s", strerror(-ret));
}

/*
 * The port's counters once it has classified @frames frames: all
 * delivered (each either flipped or copied), none dropped, and one
 * interrupt counted per signal of its irq eventfd.
 */
static void port_check_clean(struct __test_metadata *_metadata, int ctl,
			     struct rx_vm *g, uint64_t frames)
{
	struct kpf_port_info pi;
	const __u64 *c = pi.counters;
	int i;

	ASSERT_EQ(0, kpf_port_info(ctl, g->port.id, &pi));
	ASSERT_EQ(KPF_PORT_STATE_RUNNING, pi.state);
	ASSERT_EQ(frames, c[KPF_PORT_RX_FRAMES]);
	ASSERT_EQ(frames, c[KPF_PORT_DELIVERED]);
	ASSERT_EQ(c[KPF_PORT_DELIVERED],
		  c[KPF_PORT_FLIPPED] + c[KPF_PORT_COPIED]);
	for (i = KPF_PORT_DROP_NO_BUFFER; i <= KPF_PORT_RING_ERRORS; i++)
		ASSERT_EQ_LOG(0, c[i], "port %u counter %d", g->port.id, i);
	ASSERT_EQ(kpf_port_irqs(&g->port), c[KPF_PORT_INTERRUPTS]);
	if (frames)
		ASSERT_LT(0, c[KPF_PORT_INTERRUPTS]);
}

/* Waits until guest @g has taken @n frames; logs what it said if not. */
#define ASSERT_GUEST_GOT(g, n)                                           \
	do {                                                             \
		bool __got = rx_vm_wait((g), (n), RX_WAIT_MS);           \
		if (!__got)                                              \
			log_vcpus(_metadata, &(g)->vcpu, 1);             \
		ASSERT_TRUE_LOG(__got, "port %u: %lu of %lu frames",     \
				(g)->port.id, READ_ONCE(RXG(g)->frames), \
				(uint64_t)(n));                          \
	} while (0)

/*
 * The end of a test with one guest @g and the host checker @host: the
 * port's counters are clean for @frames frames, and both are released.
 */
static void one_guest_done(struct __test_metadata *_metadata, int ctl,
			   struct rx_vm *g, struct frame_rx *host,
			   uint64_t frames)
{
	port_check_clean(_metadata, ctl, g, frames);
	frame_rx_close(host);
	rx_vm_free(g);
}

/* Sets how many frames of stream @s the guest gets (before sending). */
static void expect_frames(struct rx_vm *g, uint32_t s, uint64_t n)
{
	WRITE_ONCE(RXG(g)->expect[s], n);
}

/* The host checker on the uplink; frames reach it after the module. */
static void host_open(struct __test_metadata *_metadata,
		      FIXTURE_DATA(rx) * self, struct frame_rx *rx)
{
	ASSERT_EQ(0, frame_rx_open(rx, self->uplink_ifindex));
}

/* Drains the host checker: nothing bad, and @count of stream @s. */
#define ASSERT_HOST_GOT(rx, s, n)                                    \
	do {                                                         \
		ASSERT_LE(0, frame_rx_drain((rx), HOST_IDLE_MS));    \
		ASSERT_EQ_LOG(0u, (rx)->bad, "host: %s", (rx)->why); \
		ASSERT_EQ((uint32_t)(n), (rx)->count[(s)]);          \
	} while (0)

/*
 * Three guests, one per kind of rule: A has MAC+VLAN (mac_a, VLAN 10), B
 * MAC-only (mac_b), C VLAN-only (VLAN 20).  Each gets exactly its own
 * frames, byte-exact and in order; the one frame stream no rule matches
 * reaches the host; the port counters agree.
 */
TEST_F_TIMEOUT(rx, three_guests_by_mac_and_vlan, RX_TEST_TIMEOUT_S)
{
	const struct stream s[] = {
		{ 0, mac_a, { tag8021q(10) }, 16, 1400 }, /* A: exact */
		{ 1, mac_b, {}, 30, 1400 }, /* B: MAC-only, untagged */
		{ 2, mac_b, { tag8021q(30) }, 100, 900 }, /* B: any VLAN */
		{ 3, mac_unknown, { tag8021q(20) }, 0, 1400 }, /* C: VLAN */
		{ 4, mac_a, { tag8021q(20) }, 60, 500 }, /* C: A's MAC, VLAN 20 */
		{ 5, mac_a, {}, 60, 500 }, /* nobody: A untagged */
	};
	struct rx_vm g[3];
	struct frame_rx host;
	unsigned int i;

	rx_guest_create(_metadata, self->ctl, &g[0], mac_a, RX_RING_SIZE,
			RX_POST);
	rx_guest_create(_metadata, self->ctl, &g[1], mac_b, RX_RING_SIZE,
			RX_POST);
	rx_guest_create(_metadata, self->ctl, &g[2], NULL, RX_RING_SIZE,
			RX_POST);
	rule_add(_metadata, self, KPF_RULE_F_MAC | KPF_RULE_F_VLAN, 10, mac_a,
		 g[0].port.id);
	rule_add(_metadata, self, KPF_RULE_F_MAC, 0, mac_b, g[1].port.id);
	rule_add(_metadata, self, KPF_RULE_F_VLAN, 20, NULL, g[2].port.id);
	rx_guest_expect(&g[0], 0, RXG_TAG(10));
	rx_guest_expect(&g[1], 1, 0);
	rx_guest_expect(&g[1], 2, RXG_TAG(30));
	rx_guest_expect(&g[2], 3, RXG_TAG(20));
	rx_guest_expect(&g[2], 4, RXG_TAG(20));
	expect_frames(&g[0], 0, RX_FRAMES);
	expect_frames(&g[1], 1, RX_FRAMES);
	expect_frames(&g[1], 2, RX_FRAMES);
	expect_frames(&g[2], 3, RX_FRAMES);
	expect_frames(&g[2], 4, RX_FRAMES);
	for (i = 0; i < 3; i++)
		rx_guest_start(_metadata, &g[i]);
	host_open(_metadata, self, &host);

	/* Interleaved, in halves, so that no guest needs more than it posted. */
	for (i = 0; i < 6; i++)
		ASSERT_SENT(self, &s[i], 0, RX_FRAMES / 2);
	ASSERT_GUEST_GOT(&g[1], RX_FRAMES);
	ASSERT_GUEST_GOT(&g[2], RX_FRAMES);
	for (i = 0; i < 6; i++)
		ASSERT_SENT(self, &s[i], RX_FRAMES / 2, RX_FRAMES / 2);
	rx_guests_finish(_metadata, g, 3);

	ASSERT_HOST_GOT(&host, 5, RX_FRAMES);
	ASSERT_EQ(RX_FRAMES, host.frames);
	port_check_clean(_metadata, self->ctl, &g[0], RX_FRAMES);
	port_check_clean(_metadata, self->ctl, &g[1], 2 * RX_FRAMES);
	port_check_clean(_metadata, self->ctl, &g[2], 2 * RX_FRAMES);
	frame_rx_close(&host);
	for (i = 0; i < 3; i++)
		rx_vm_free(&g[i]);
}

/*
 * A VLAN-only rule takes its whole VLAN, whatever the destination
 * (unicast to anyone, broadcast), and nothing of other VLANs.
 */
TEST_F_TIMEOUT(rx, vlan_only_rule_delivers_whole_vlan, RX_TEST_TIMEOUT_S)
{
	const struct stream s[] = {
		{ 0, mac_a, { tag8021q(42) }, 40, 1000 },
		{ 1, mac_unknown, { tag8021q(42) }, 40, 1000 },
		{ 2, mac_bcast, { tag8021q(42) }, 40, 100 },
		{ 3, mac_unknown, { tag8021q(43) }, 40, 100 }, /* host */
		{ 4, mac_unknown, {}, 40, 100 }, /* host */
	};
	struct frame_rx host;
	struct rx_vm g;
	unsigned int i;

	rx_guest_create(_metadata, self->ctl, &g, NULL, RX_RING_SIZE, RX_POST);
	rule_add(_metadata, self, KPF_RULE_F_VLAN, 42, NULL, g.port.id);
	for (i = 0; i < 3; i++) {
		rx_guest_expect(&g, i, RXG_TAG(42));
		expect_frames(&g, i, RX_FRAMES / 2);
	}
	rx_guest_start(_metadata, &g);
	host_open(_metadata, self, &host);
	for (i = 0; i < 5; i++)
		ASSERT_SENT(self, &s[i], 0, RX_FRAMES / 2);
	rx_guests_finish(_metadata, &g, 1);

	/* Broadcast reaches the host too. */
	ASSERT_HOST_GOT(&host, 2, RX_FRAMES / 2);
	ASSERT_EQ(RX_FRAMES / 2, host.count[3]);
	ASSERT_EQ(RX_FRAMES / 2, host.count[4]);
	ASSERT_EQ(0, host.count[0] + host.count[1]);
	one_guest_done(_metadata, self->ctl, &g, &host, 3 * RX_FRAMES / 2);
}

/*
 * Broadcast (untagged) reaches every guest whose rules match untagged
 * frames (MAC-only rules match every VLAN) and the host; a guest whose
 * only rule is another VLAN does not get it.
 */
TEST_F_TIMEOUT(rx, broadcast_reaches_every_guest, RX_TEST_TIMEOUT_S)
{
	const struct stream bcast = { 0, mac_bcast, {}, 20, 1000 };
	const struct stream mcast = { 1, mac_mcast, {}, 20, 100 };
	const uint8_t *macs[3] = { mac_a, mac_b, mac_c };
	struct rx_vm g[4];
	struct frame_rx host;
	unsigned int i;

	for (i = 0; i < 3; i++) {
		rx_guest_create(_metadata, self->ctl, &g[i], macs[i],
				RX_RING_SIZE, RX_POST);
		rule_add(_metadata, self, KPF_RULE_F_MAC, 0, macs[i],
			 g[i].port.id);
		rx_guest_expect(&g[i], 0, 0);
		rx_guest_expect(&g[i], 1, 0);
		expect_frames(&g[i], 0, RX_FRAMES);
		expect_frames(&g[i], 1, RX_FRAMES / 2);
	}
	/* The fourth listens to VLAN 7 only. */
	rx_guest_create(_metadata, self->ctl, &g[3], NULL, RX_RING_SIZE,
			RX_POST);
	rule_add(_metadata, self, KPF_RULE_F_VLAN, 7, NULL, g[3].port.id);
	for (i = 0; i < 4; i++)
		rx_guest_start(_metadata, &g[i]);
	host_open(_metadata, self, &host);
	ASSERT_SENT(self, &bcast, 0, RX_FRAMES);
	ASSERT_SENT(self, &mcast, 0, RX_FRAMES / 2);
	rx_guests_finish(_metadata, g, 4);

	ASSERT_HOST_GOT(&host, 0, RX_FRAMES);
	ASSERT_EQ(RX_FRAMES / 2, host.count[1]);
	for (i = 0; i < 3; i++)
		port_check_clean(_metadata, self->ctl, &g[i],
				 RX_FRAMES + RX_FRAMES / 2);
	port_check_clean(_metadata, self->ctl, &g[3], 0);
	frame_rx_close(&host);
	for (i = 0; i < 4; i++)
		rx_vm_free(&g[i]);
}

/* A MAC no rule names goes to the host, unchanged, and to no guest. */
TEST_F_TIMEOUT(rx, unknown_mac_reaches_host, RX_TEST_TIMEOUT_S)
{
	const struct stream mine = { 0, mac_a, {}, 100, 1300 };
	const struct stream other = { 1, mac_unknown, {}, 100, 1300 };
	const struct stream other_vlan = {
		2, mac_unknown, { tag8021q(99) }, 100, 1300
	};
	struct frame_rx host;
	struct rx_vm g;

	rx_guest_create(_metadata, self->ctl, &g, mac_a, RX_RING_SIZE, RX_POST);
	rule_add(_metadata, self, KPF_RULE_F_MAC, 0, mac_a, g.port.id);
	rx_guest_expect(&g, 0, 0);
	expect_frames(&g, 0, RX_FRAMES);
	rx_guest_start(_metadata, &g);
	host_open(_metadata, self, &host);
	ASSERT_SENT(self, &other, 0, RX_FRAMES);
	ASSERT_SENT(self, &mine, 0, RX_FRAMES);
	ASSERT_SENT(self, &other_vlan, 0, RX_FRAMES);
	rx_guests_finish(_metadata, &g, 1);

	ASSERT_HOST_GOT(&host, 1, RX_FRAMES);
	ASSERT_EQ(RX_FRAMES, host.count[2]);
	ASSERT_EQ(0, host.count[0]);
	one_guest_done(_metadata, self->ctl, &g, &host, RX_FRAMES);
}

/*
 * A priority tag (VID 0, PCP set) is "untagged" to the rules
 * (KPF_VLAN_UNTAGGED); the guest still gets the tag's priority bits.
 */
TEST_F_TIMEOUT(rx, priority_tag_vid0, RX_TEST_TIMEOUT_S)
{
	const uint16_t prio_tci = 5 << 13; /* PCP 5, VID 0 */
	const struct stream prio = { 0, mac_a, { tag8021q(prio_tci) }, 50, 900 };
	const struct stream plain = { 1, mac_a, {}, 50, 900 };
	const struct stream vlan = { 2, mac_a, { tag8021q(3) }, 50, 900 };
	struct frame_rx host;
	struct rx_vm g;

	rx_guest_create(_metadata, self->ctl, &g, mac_a, RX_RING_SIZE, RX_POST);
	rule_add(_metadata, self, KPF_RULE_F_MAC | KPF_RULE_F_VLAN,
		 KPF_VLAN_UNTAGGED, mac_a, g.port.id);
	rx_guest_expect(&g, 0, RXG_TAG(prio_tci));
	rx_guest_expect(&g, 1, 0);
	expect_frames(&g, 0, RX_FRAMES / 2);
	expect_frames(&g, 1, RX_FRAMES / 2);
	rx_guest_start(_metadata, &g);
	host_open(_metadata, self, &host);
	ASSERT_SENT(self, &prio, 0, RX_FRAMES / 2);
	ASSERT_SENT(self, &plain, 0, RX_FRAMES / 2);
	ASSERT_SENT(self, &vlan, 0, RX_FRAMES / 2);
	rx_guests_finish(_metadata, &g, 1);

	/* VLAN 3 is not the untagged rule's: the host gets it. */
	ASSERT_HOST_GOT(&host, 2, RX_FRAMES / 2);
	ASSERT_EQ(RX_FRAMES / 2, host.frames);
	one_guest_done(_metadata, self->ctl, &g, &host, RX_FRAMES);
}

/*
 * Only an outer 802.1Q tag (TPID 0x8100) is classified.  QinQ with an
 * 0x8100 outer tag goes by the outer VLAN and keeps its inner tag; an
 * 802.1ad (0x88a8) or unknown (0x9100) outer tag is not a VLAN to the
 * module, so those frames go to the host although their VID has a rule.
 */
TEST_F_TIMEOUT(rx, qinq_and_bad_tags, RX_TEST_TIMEOUT_S)
{
	const struct stream s[] = {
		{ 0, mac_a, { tag8021q(100), tag8021q(5) }, 40, 800 },
		{ 1, mac_a, { { FRAME_TPID_8021AD, 100 } }, 40, 800 },
		{ 2, mac_a, { { FRAME_TPID_BOGUS, 100 } }, 40, 800 },
		{ 3,
		  mac_a,
		  { { FRAME_TPID_8021AD, 100 }, tag8021q(5) },
		  40,
		  800 },
	};
	struct frame_rx host;
	struct rx_vm g;
	unsigned int i;

	rx_guest_create(_metadata, self->ctl, &g, NULL, RX_RING_SIZE, RX_POST);
	rule_add(_metadata, self, KPF_RULE_F_VLAN, 100, NULL, g.port.id);
	rx_guest_expect(&g, 0, RXG_TAG(100));
	expect_frames(&g, 0, RX_FRAMES);
	rx_guest_start(_metadata, &g);
	host_open(_metadata, self, &host);
	for (i = 0; i < 4; i++)
		ASSERT_SENT(self, &s[i], 0, RX_FRAMES);
	rx_guests_finish(_metadata, &g, 1);

	ASSERT_HOST_GOT(&host, 1, RX_FRAMES);
	ASSERT_EQ(RX_FRAMES, host.count[2]);
	ASSERT_EQ(RX_FRAMES, host.count[3]);
	ASSERT_EQ(0, host.count[0]);
	one_guest_done(_metadata, self->ctl, &g, &host, RX_FRAMES);
}

/*
 * The shortest frames (a frame header and no payload, 34 bytes) arrive
 * padded to 60 bytes by the sending NIC, and are delivered whole, as are
 * the longest standard ones; none is a runt to the module.
 */
TEST_F_TIMEOUT(rx, runt_and_full_size_frames, RX_TEST_TIMEOUT_S)
{
	const struct stream s[] = {
		{ 0, mac_a, {}, 0, 8 },
		{ 1, mac_a, { tag8021q(9) }, 0, 8 },
		{ 2, mac_a, {}, 1500 - FRAME_HDR_LEN, 0 },
		{ 3, mac_a, { tag8021q(9) }, 1500 - FRAME_HDR_LEN, 0 },
	};
	struct rx_vm g;
	unsigned int i;

	rx_guest_create(_metadata, self->ctl, &g, mac_a, RX_RING_SIZE, RX_POST);
	rule_add(_metadata, self, KPF_RULE_F_MAC, 0, mac_a, g.port.id);
	for (i = 0; i < 4; i++) {
		rx_guest_expect(&g, i, s[i].tags[0].tpid ? RXG_TAG(9) : 0);
		expect_frames(&g, i, RX_FRAMES / 4);
	}
	rx_guest_start(_metadata, &g);
	for (i = 0; i < 4; i++)
		ASSERT_SENT(self, &s[i], 0, RX_FRAMES / 4);
	rx_guests_finish(_metadata, &g, 1);
	port_check_clean(_metadata, self->ctl, &g, RX_FRAMES);
	rx_vm_free(&g);
}

/*
 * Sets @mtu on @name, saving the old one in @old for the teardown, and
 * waits for the link.  False, with the test skipped, if the NIC refuses.
 */
static bool mtu_set(struct __test_metadata *_metadata, const char *name,
		    int mtu, int *old)
{
	int ret, was;

	ASSERT_EQ(0, nic_get_mtu(name, &was));
	ret = nic_set_mtu(name, mtu);
	if (ret)
		SKIP(return false, "%s: MTU %d: %s", name, mtu, strerror(-ret));
	*old = was;
	ASSERT_EQ(0, nic_wait_carrier(name, CARRIER_MS));
	return true;
}

/*
 * 9000-byte jumbo frames (MTU 9000 on the sender and the uplink) span
 * three slots: every element but the last has KPF_USED_F_MORE, and the
 * guest reassembles them byte-exact.
 */
TEST_F_TIMEOUT(rx, jumbo_frames_span_slots, RX_TEST_TIMEOUT_S)
{
	const struct stream jumbo = { 0, mac_a, {}, 9000 - FRAME_HDR_LEN, 0 };
	const struct stream tagged = {
		1, mac_a, { tag8021q(12) }, 9000 - FRAME_HDR_LEN - 64, 64
	};
	struct rx_vm g;

	if (!mtu_set(_metadata, self->tx_name, 9000, &self->tx_mtu) ||
	    !mtu_set(_metadata, self->uplink, 9000, &self->uplink_mtu))
		return;
	rx_guest_create(_metadata, self->ctl, &g, mac_a, RX_RING_SIZE, RX_POST);
	rule_add(_metadata, self, KPF_RULE_F_MAC, 0, mac_a, g.port.id);
	rx_guest_expect(&g, 0, 0);
	rx_guest_expect(&g, 1, RXG_TAG(12));
	expect_frames(&g, 0, 4);
	expect_frames(&g, 1, 4);
	rx_guest_start(_metadata, &g);
	ASSERT_SENT(self, &jumbo, 0, 4);
	ASSERT_SENT(self, &tagged, 0, 4);
	rx_guests_finish(_metadata, &g, 1);
	port_check_clean(_metadata, self->ctl, &g, 8);
	ASSERT_LE(3 * 8, RXG(&g)->elems);
	rx_vm_free(&g);
}

/* Reads the port's counters until they stop changing for @quiet_ms. */
static void port_settle(struct __test_metadata *_metadata, int ctl,
			uint32_t port_id, struct kpf_port_info *pi,
			unsigned int quiet_ms)
{
	uint64_t deadline = now_ms() + RX_WAIT_MS, still = now_ms();
	struct kpf_port_info last;

	ASSERT_EQ(0, kpf_port_info(ctl, port_id, &last));
	while (now_ms() < deadline && now_ms() - still < quiet_ms) {
		usleep(20000);
		ASSERT_EQ(0, kpf_port_info(ctl, port_id, pi));
		if (memcmp(pi->counters, last.counters, sizeof(last.counters)))
			still = now_ms();
		last = *pi;
	}
	*pi = last;
}

/*
 * Frames longer than the uplink's MTU are either refused by the NIC or
 * reach the guest whole; never truncated.  Whatever the module got is
 * delivered or counted as dropped.
 */
TEST_F_TIMEOUT(rx, oversize_frames_never_truncated, RX_TEST_TIMEOUT_S)
{
	const struct stream big = { 0, mac_a, {}, 4000, 0 };
	const struct stream after = { 1, mac_a, {}, 100, 0 };
	struct kpf_port_info pi;
	struct rx_vm g;

	if (!mtu_set(_metadata, self->tx_name, 9000, &self->tx_mtu))
		return;
	rx_guest_create(_metadata, self->ctl, &g, mac_a, RX_RING_SIZE, RX_POST);
	rule_add(_metadata, self, KPF_RULE_F_MAC, 0, mac_a, g.port.id);
	RXG(&g)->flags = RXG_F_LOSSY;
	rx_guest_expect(&g, 0, 0);
	rx_guest_expect(&g, 1, 0);
	rx_guest_start(_metadata, &g);
	ASSERT_SENT(self, &big, 0, 4);
	ASSERT_SENT(self, &after, 0, 4);
	port_settle(_metadata, self->ctl, g.port.id, &pi, 500);
	ASSERT_LE(4, pi.counters[KPF_PORT_DELIVERED]);
	ASSERT_EQ(pi.counters[KPF_PORT_RX_FRAMES],
		  pi.counters[KPF_PORT_DELIVERED] + kpf_port_drops(&pi));
	WRITE_ONCE(RXG(&g)->expect_frames, pi.counters[KPF_PORT_DELIVERED]);
	rx_guests_finish(_metadata, &g, 1);
	TH_LOG("%s: of 4 oversize frames the module got %llu, dropped %llu",
	       self->uplink, pi.counters[KPF_PORT_RX_FRAMES] - 4,
	       pi.counters[KPF_PORT_DROP_OVERSIZE]);
	rx_vm_free(&g);
}

/*
 * A guest that posts 4 slots and takes nothing back: of 32 frames, at
 * least 4 are delivered, the rest are counted as dropped for want of
 * buffers (or a full backlog) and every frame is accounted for.  Once the
 * guest takes its frames, the port works again.
 */
TEST_F_TIMEOUT(rx, full_ring_drops_counted, RX_TEST_TIMEOUT_S)
{
	const struct stream s = { 0, mac_a, {}, 200, 200 };
	const struct stream more = { 1, mac_a, {}, 200, 200 };
	struct kpf_port_info pi;
	struct rx_vm g;
	const __u64 *c = pi.counters;

	rx_guest_create(_metadata, self->ctl, &g, mac_a, RX_RING_SIZE, 4);
	rule_add(_metadata, self, KPF_RULE_F_MAC, 0, mac_a, g.port.id);
	RXG(&g)->flags = RXG_F_LOSSY | RXG_F_HOLD;
	rx_guest_expect(&g, 0, 0);
	rx_guest_expect(&g, 1, 0);
	rx_guest_start(_metadata, &g);
	ASSERT_SENT(self, &s, 0, 32);
	port_settle(_metadata, self->ctl, g.port.id, &pi, 500);
	ASSERT_EQ(32, c[KPF_PORT_RX_FRAMES]);
	ASSERT_LE(4, c[KPF_PORT_DELIVERED]);
	ASSERT_LT(0, c[KPF_PORT_DROP_NO_BUFFER]);
	ASSERT_LE(c[KPF_PORT_DELIVERED] + kpf_port_drops(&pi), 32);

	/* The guest takes what it has; what was queued may follow. */
	WRITE_ONCE(RXG(&g)->go, 1);
	port_settle(_metadata, self->ctl, g.port.id, &pi, 500);
	ASSERT_EQ(32, c[KPF_PORT_DELIVERED] + c[KPF_PORT_DROP_NO_BUFFER] +
			      c[KPF_PORT_DROP_QUEUE_FULL]);
	ASSERT_GUEST_GOT(&g, c[KPF_PORT_DELIVERED]);
	/* Paced now: everything arrives. */
	ASSERT_SENT(self, &more, 0, 4);
	ASSERT_GUEST_GOT(&g, c[KPF_PORT_DELIVERED] + 4);
	WRITE_ONCE(RXG(&g)->expect_frames, c[KPF_PORT_DELIVERED] + 4);
	rx_guests_finish(_metadata, &g, 1);
	ASSERT_EQ(0, kpf_port_info(self->ctl, g.port.id, &pi));
	ASSERT_EQ(36, c[KPF_PORT_RX_FRAMES]);
	ASSERT_EQ(0, c[KPF_PORT_RING_ERRORS]);
	rx_vm_free(&g);
}

/* A way to corrupt a ring, and the error the module must report. */
struct garbage {
	uint32_t kind;
	uint32_t error;
	const char *what;
};

static const struct garbage garbages[] = {
	{ RXG_GARBAGE_SLOT, KPF_RING_ERR_SLOT_RANGE, "slot beyond the region" },
	{ RXG_GARBAGE_SLOT, KPF_RING_ERR_SLOT_CONTROL, "a control slot" },
	{ RXG_GARBAGE_SLOT, KPF_RING_ERR_SLOT_BUSY, "a slot posted twice" },
	{ RXG_GARBAGE_AVAIL_JUMP, KPF_RING_ERR_AVAIL_IDX,
	  "avail_idx ring_size + 1 ahead" },
};

#define NR_GARBAGE (ARRAY_SIZE(garbages))

/* The slot a garbage guest posts for @error. */
static uint64_t garbage_slot(const struct rx_vm *g, uint32_t error)
{
	switch (error) {
	case KPF_RING_ERR_SLOT_RANGE:
		return RX_VM_SLOTS + 3;
	case KPF_RING_ERR_SLOT_CONTROL:
		return g->port.ring_slot + 1;
	default:
		return g->port.ring_pages; /* posted already */
	}
}

/*
 * Guests that corrupt their rings in each way the header names: each port
 * goes into KPF_PORT_STATE_ERROR with that error, counts it once and drops
 * further frames; a well-behaved guest on the same uplink receives all of
 * its frames meanwhile.
 */
TEST_F_TIMEOUT(rx, garbage_ring_contained, RX_TEST_TIMEOUT_S)
{
	struct rx_vm good, bad[NR_GARBAGE];
	const struct stream mine = { 0, mac_a, {}, 64, 1000 };
	struct kpf_port_info pi;
	uint8_t mac[6];
	unsigned int i;

	rx_guest_create(_metadata, self->ctl, &good, mac_a, RX_RING_SIZE,
			RX_POST);
	rule_add(_metadata, self, KPF_RULE_F_MAC, 0, mac_a, good.port.id);
	rx_guest_expect(&good, 0, 0);
	expect_frames(&good, 0, RX_FRAMES);
	rx_guest_start(_metadata, &good);
	for (i = 0; i < NR_GARBAGE; i++) {
		/* Distinct unicast MACs: 02:6b:70:00:01:i */
		memcpy(mac, mac_a, 6);
		mac[4] = 1;
		mac[5] = i;
		rx_guest_create(_metadata, self->ctl, &bad[i], mac,
				RX_RING_SIZE, 8);
		rule_add(_metadata, self, KPF_RULE_F_MAC, 0, mac,
			 bad[i].port.id);
		RXG(&bad[i])->garbage = garbages[i].kind;
		RXG(&bad[i])->garbage_slot =
			garbage_slot(&bad[i], garbages[i].error);
		RXG(&bad[i])->expect_error = garbages[i].error;
		rx_guest_start(_metadata, &bad[i]);
	}
	ASSERT_SENT(self, &mine, 0, RX_FRAMES / 2);
	for (i = 0; i < NR_GARBAGE; i++) {
		const struct stream s = { 1 + i, RXG(&bad[i])->mac, {}, 64, 0 };
		uint64_t deadline = now_ms() + RX_WAIT_MS;

		/* The garbage goes in before any frame takes a slot... */
		WRITE_ONCE(RXG(&bad[i])->go, 1);
		while (!READ_ONCE(RXG(&bad[i])->garbage_posted) &&
		       !vcpu_thread_finished(bad[i].vcpu) &&
		       now_ms() < deadline)
			usleep(1000);
		/* ...and enough frames follow that the module must read it. */
		ASSERT_SENT(self, &s, 0, 10);
	}
	ASSERT_SENT(self, &mine, RX_FRAMES / 2, RX_FRAMES / 2);
	rx_guests_finish(_metadata, bad, NR_GARBAGE);
	rx_guests_finish(_metadata, &good, 1);

	for (i = 0; i < NR_GARBAGE; i++) {
		const struct stream s = { 1 + i, RXG(&bad[i])->mac, {}, 64, 0 };

		/* One more frame, once the error is there. */
		ASSERT_SENT(self, &s, 10, 1);
		port_settle(_metadata, self->ctl, bad[i].port.id, &pi, 300);
		TH_LOG("%s: %s", garbages[i].what,
		       pi.state == KPF_PORT_STATE_ERROR ? "error" : "running");
		ASSERT_EQ(KPF_PORT_STATE_ERROR, pi.state);
		ASSERT_EQ(garbages[i].error, pi.error);
		ASSERT_EQ(1, pi.counters[KPF_PORT_RING_ERRORS]);
		ASSERT_LT(0, pi.counters[KPF_PORT_DROP_RING_ERROR]);
		ASSERT_EQ(11, pi.counters[KPF_PORT_RX_FRAMES]);
		ASSERT_EQ(pi.counters[KPF_PORT_RX_FRAMES],
			  pi.counters[KPF_PORT_DELIVERED] +
				  kpf_port_drops(&pi));
	}
	port_check_clean(_metadata, self->ctl, &good, RX_FRAMES);
	for (i = 0; i < NR_GARBAGE; i++)
		rx_vm_free(&bad[i]);
	rx_vm_free(&good);
}

/* The rules of uplink @ifindex (0: all); -ENOENT if it is not attached. */
static int rules_count(int ctl, uint32_t ifindex, uint32_t *n)
{
	*n = 0;
	return kpf_list_rules(ctl, ifindex, NULL, n);
}

/*
 * The uplink is a VLAN device made for the test; it is deleted while
 * frames flow to a guest.  The module detaches it by itself: its rules go,
 * KPF_UPLINK_DETACH finds nothing, the port stays usable, and everything
 * the port got was delivered or counted.
 */
TEST_F_TIMEOUT(rx, uplink_deleted_while_traffic_flows, RX_TEST_TIMEOUT_S)
{
	const struct stream s = { 0, mac_a, { tag8021q(77) }, 100, 1000 };
	char *vdev = self->vlan_dev;
	struct kpf_port_info pi;
	struct kpf_rule rule;
	struct rx_vm g;
	uint32_t vindex, n, sent;
	int ret;

	ret = nic_vlan_add(self->uplink, 77, vdev, sizeof(self->vlan_dev));
	if (ret == -ENOPKG)
		SKIP(return, "no 802.1Q devices (8021q): %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	vindex = if_nametoindex(vdev);
	ASSERT_NE(0, vindex);
	ASSERT_EQ(0, nic_set_flags(vdev, IFF_UP, 0));
	ASSERT_EQ(0, kpf_uplink_attach(self->ctl, vindex, NULL));

	rx_guest_create(_metadata, self->ctl, &g, mac_a, RX_RING_SIZE, RX_POST);
	rule = kpf_rule_make(vindex, KPF_RULE_F_MAC, 0, mac_a, g.port.id);
	ASSERT_EQ(0, kpf_rule_add(self->ctl, &rule));
	RXG(&g)->flags = RXG_F_LOSSY;
	rx_guest_expect(&g, 0, 0); /* the VLAN device took the tag */
	rx_guest_start(_metadata, &g);
	ASSERT_SENT(self, &s, 0, 8);
	ASSERT_GUEST_GOT(&g, 8);
	for (sent = 8; sent < 24; sent += 4) {
		ASSERT_SENT(self, &s, sent, 4);
		if (sent == 12) {
			ASSERT_EQ(0, nic_vlan_del(vdev));
			vdev[0] = '\0';
		}
	}
	ASSERT_EQ(-ENOENT, rules_count(self->ctl, vindex, &n));
	ASSERT_EQ(0, rules_count(self->ctl, 0, &n));
	ASSERT_EQ(0, n);
	ASSERT_EQ(-ENOENT, kpf_uplink_detach(self->ctl, vindex));
	port_settle(_metadata, self->ctl, g.port.id, &pi, 300);
	ASSERT_EQ(KPF_PORT_STATE_RUNNING, pi.state);
	ASSERT_LE(8, pi.counters[KPF_PORT_DELIVERED]);
	ASSERT_EQ(pi.counters[KPF_PORT_RX_FRAMES],
		  pi.counters[KPF_PORT_DELIVERED] + kpf_port_drops(&pi));
	WRITE_ONCE(RXG(&g)->expect_frames, pi.counters[KPF_PORT_DELIVERED]);
	rx_guests_finish(_metadata, &g, 1);
	rx_vm_free(&g);
}

/*
 * KPF_UPLINK_DETACH takes every rule of the uplink with it (and nothing
 * else); afterwards frames for the guests reach the host.
 */
TEST_F_TIMEOUT(rx, detach_removes_rules, RX_TEST_TIMEOUT_S)
{
	const struct stream s = { 0, mac_a, {}, 100, 0 };
	struct kpf_port_info pi;
	struct frame_rx host;
	struct rx_vm g;
	uint32_t n;

	rx_guest_create(_metadata, self->ctl, &g, mac_a, RX_RING_SIZE, RX_POST);
	rule_add(_metadata, self, KPF_RULE_F_MAC, 0, mac_a, g.port.id);
	rule_add(_metadata, self, KPF_RULE_F_VLAN, 5, NULL, g.port.id);
	rule_add(_metadata, self, KPF_RULE_F_MAC | KPF_RULE_F_VLAN, 6, mac_b,
		 g.port.id);
	ASSERT_EQ(0, rules_count(self->ctl, self->uplink_ifindex, &n));
	ASSERT_EQ(3, n);
	ASSERT_EQ(0, kpf_uplink_detach(self->ctl, self->uplink_ifindex));
	self->attached = false;
	ASSERT_EQ(-ENOENT, rules_count(self->ctl, self->uplink_ifindex, &n));
	ASSERT_EQ(0, rules_count(self->ctl, 0, &n));
	ASSERT_EQ(0, n);
	ASSERT_EQ(0, kpf_port_info(self->ctl, g.port.id, &pi));

	host_open(_metadata, self, &host);
	ASSERT_SENT(self, &s, 0, 4);
	ASSERT_HOST_GOT(&host, 0, 4);
	ASSERT_EQ(0, kpf_port_info(self->ctl, g.port.id, &pi));
	ASSERT_EQ(0, pi.counters[KPF_PORT_RX_FRAMES]);
	frame_rx_close(&host);
	rx_vm_free(&g);
}

/*
 * A VMM receiving a stream is killed (SIGKILL) mid-traffic: its port and
 * rules vanish with it, the module's page accounting balances with nothing
 * left in slots, and its MAC's frames go to the host again.
 */
TEST_F_TIMEOUT(rx, vm_killed_mid_traffic, RX_TEST_TIMEOUT_S)
{
	const struct stream s = { 0, mac_a, {}, 100, 1000 };
	uint64_t deadline;
	struct kpf_port_info pi;
	struct frame_rx host;
	uint32_t port_id = 0, n;
	int pipefd[2], status;
	pid_t child;

	ASSERT_EQ(0, pipe(pipefd));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		struct rx_vm g;
		int ctl = kpf_open();

		if (ctl < 0)
			_exit(1);
		/* Never outlive the test, whatever happens to it. */
		alarm(RX_TEST_TIMEOUT_S);
		rx_guest_create(_metadata, ctl, &g, mac_a, RX_RING_SIZE,
				RX_POST);
		rule_add(_metadata, self, KPF_RULE_F_MAC, 0, mac_a, g.port.id);
		RXG(&g)->flags = RXG_F_LOSSY;
		rx_guest_expect(&g, 0, 0);
		rx_guest_start(_metadata, &g);
		if (write(pipefd[1], &g.port.id, sizeof(g.port.id)) !=
		    sizeof(g.port.id))
			_exit(1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	ASSERT_EQ(sizeof(port_id), read(pipefd[0], &port_id, sizeof(port_id)));
	close(pipefd[0]);
	ASSERT_SENT(self, &s, 0, 8);
	kill(child, SIGKILL);
	ASSERT_SENT(self, &s, 8, 8);
	ASSERT_EQ(0, wait_child(child, &status, RX_WAIT_MS));

	/* The region goes with the process; its port and rules with it. */
	deadline = now_ms() + IDLE_TIMEOUT_MS;
	while (kpf_port_info(self->ctl, port_id, &pi) != -ENOENT &&
	       now_ms() < deadline)
		usleep(10000);
	ASSERT_EQ(-ENOENT, kpf_port_info(self->ctl, port_id, &pi));
	ASSERT_EQ(0, rules_count(self->ctl, self->uplink_ifindex, &n));
	ASSERT_EQ(0, n);
	ASSERT_MODULE_IDLE(self->ctl);

	host_open(_metadata, self, &host);
	ASSERT_SENT(self, &s, 16, 4);
	ASSERT_LE(0, frame_rx_drain(&host, HOST_IDLE_MS));
	ASSERT_EQ(4, host.count[0]);
	frame_rx_close(&host);
}

/* Stream @s as frame_sender_start() takes it, from frame @first on. */
static struct frame_spec stream_spec(FIXTURE_DATA(rx) * self,
				     const struct stream *s, uint32_t first)
{
	struct frame_spec f = { .stream = s->id,
				.seq = first,
				.payload = s->payload,
				.span = s->span };

	memcpy(f.dst, s->dst, 6);
	memcpy(f.src, self->tx_mac, 6);
	memcpy(f.tags, s->tags, sizeof(f.tags));
	return f;
}

/* The module's XDP redirect targets (kpfxN) that exist now. */
static unsigned int redirect_targets(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	unsigned int n = 0;

	for (i = ifs; i && i->if_index; i++)
		n += !strncmp(i->if_name, "kpfx", 4);
	if_freenameindex(ifs);
	return n;
}

/* The port's settled counters: every frame it got delivered or dropped. */
static void port_balanced(struct __test_metadata *_metadata, int ctl,
			  struct rx_vm *g, struct kpf_port_info *pi)
{
	const __u64 *c = pi->counters;

	port_settle(_metadata, ctl, g->port.id, pi, 500);
	ASSERT_EQ(KPF_PORT_STATE_RUNNING, pi->state);
	ASSERT_EQ(0, c[KPF_PORT_RING_ERRORS]);
	ASSERT_EQ_LOG(c[KPF_PORT_RX_FRAMES],
		      c[KPF_PORT_DELIVERED] + kpf_port_drops(pi),
		      "port %u: %llu delivered, %llu dropped", g->port.id,
		      c[KPF_PORT_DELIVERED], kpf_port_drops(pi));
	ASSERT_EQ(c[KPF_PORT_DELIVERED],
		  c[KPF_PORT_FLIPPED] + c[KPF_PORT_COPIED]);
	ASSERT_GUEST_GOT(g, c[KPF_PORT_DELIVERED]);
}

/*
 * Rules come and go while frames flow: two guests, A (mac_a) and B
 * (mac_b), each only ever has rules for its own MAC, and a sender thread
 * sends frames to A, to B and to a MAC no rule names (1,000 each at
 * least), while A's and B's rules are added, replaced (a MAC-only rule by
 * an exact MAC+VLAN 0 rule) and deleted as fast as the module allows,
 * four rounds at least.  Each guest checks that every frame it gets is of its
 * own stream, to its own MAC and byte-exact; at the end each port's
 * counters balance (RX_FRAMES == DELIVERED + drops), each guest got every
 * frame its port delivered, and once the last rules are deleted no
 * further frame reaches a port.  The order within a stream is not
 * checked: at this rate the emulated e1000e reorders a few frames before
 * any rx_handler sees them (measured on the host stack with no module in
 * the way: 63 of 4,000).
 */
TEST_F_TIMEOUT(rx, rules_change_while_traffic_flows, 2 * RX_TEST_TIMEOUT_S)
{
	const struct stream s[] = {
		{ 0, mac_a, {}, 64, 200 },
		{ 1, mac_b, {}, 64, 200 },
		{ 2, mac_c, {}, 64, 0 }, /* the host's */
	};
	struct frame_spec f[ARRAY_SIZE(s)];
	struct frame_sender snd = { .tx = &self->tx,
				    .specs = f,
				    .nr_specs = ARRAY_SIZE(s) };
	struct kpf_rule mac_only[2], exact[2];
	struct kpf_port_info pi[2];
	unsigned int changes = 0, i;
	uint64_t delivered = 0;
	struct rx_vm g[2];
	uint32_t n;
	int err;

	for (i = 0; i < ARRAY_SIZE(s); i++)
		f[i] = stream_spec(self, &s[i], 0);
	for (i = 0; i < 2; i++) {
		rx_guest_create(_metadata, self->ctl, &g[i], s[i].dst,
				RX_RING_SIZE, RX_POST);
		RXG(&g[i])->flags = RXG_F_LOSSY | RXG_F_UNORDERED;
		rx_guest_expect(&g[i], i, 0);
		mac_only[i] = kpf_rule_make(self->uplink_ifindex,
					    KPF_RULE_F_MAC, 0, s[i].dst,
					    g[i].port.id);
		exact[i] = kpf_rule_make(self->uplink_ifindex,
					 KPF_RULE_F_MAC | KPF_RULE_F_VLAN,
					 KPF_VLAN_UNTAGGED, s[i].dst,
					 g[i].port.id);
		/* The debug kernel takes a minute to send all the frames. */
		rx_guest_start_for(_metadata, &g[i],
				   2 * RX_TEST_TIMEOUT_S * 1000);
	}
	ASSERT_EQ(0, frame_sender_start(&snd));
	while (!__atomic_load_n(&snd.done, __ATOMIC_ACQUIRE) &&
	       (__atomic_load_n(&snd.sent, __ATOMIC_ACQUIRE) <
			RULE_CHANGE_FRAMES ||
		changes < RULE_CHANGE_STEPS)) {
		for (i = 0; i < 2; i++) {
			/* Add, replace, delete. */
			switch (changes % 3) {
			case 0:
				ASSERT_EQ(0, kpf_rule_add(self->ctl,
							  &mac_only[i]));
				break;
			case 1:
				ASSERT_EQ(0,
					  kpf_rule_add(self->ctl, &exact[i]));
				ASSERT_EQ(0, kpf_rule_del(self->ctl,
							  &mac_only[i]));
				break;
			default:
				ASSERT_EQ(0,
					  kpf_rule_del(self->ctl, &exact[i]));
				break;
			}
		}
		changes++;
	}
	err = frame_sender_stop(&snd);
	ASSERT_EQ_LOG(0, err, "send: %s", strerror(-err));
	ASSERT_LE(RULE_CHANGE_FRAMES, snd.sent);

	/* Once their rules are deleted, no frame reaches the ports. */
	for (i = 0; i < 2; i++) {
		kpf_rule_del(self->ctl, &mac_only[i]);
		kpf_rule_del(self->ctl, &exact[i]);
	}
	ASSERT_EQ(0, rules_count(self->ctl, self->uplink_ifindex, &n));
	ASSERT_EQ(0, n);
	for (i = 0; i < 2; i++)
		port_balanced(_metadata, self->ctl, &g[i], &pi[i]);
	for (i = 0; i < 2; i++)
		ASSERT_SENT(self, &s[i], snd.sent, 16);
	for (i = 0; i < 2; i++) {
		struct kpf_port_info before = pi[i];

		port_balanced(_metadata, self->ctl, &g[i], &pi[i]);
		ASSERT_EQ(before.counters[KPF_PORT_RX_FRAMES],
			  pi[i].counters[KPF_PORT_RX_FRAMES]);
		ASSERT_LT(0, pi[i].counters[KPF_PORT_DELIVERED]);
		ASSERT_GE(snd.sent, pi[i].counters[KPF_PORT_RX_FRAMES]);
		WRITE_ONCE(RXG(&g[i])->expect_frames,
			   pi[i].counters[KPF_PORT_DELIVERED]);
		delivered += pi[i].counters[KPF_PORT_DELIVERED];
	}
	TH_LOG("%s: %u rule changes; of %u frames each, A got %llu (%llu dropped), B %llu (%llu dropped)",
	       self->uplink, changes, snd.sent,
	       pi[0].counters[KPF_PORT_RX_FRAMES], kpf_port_drops(&pi[0]),
	       pi[1].counters[KPF_PORT_RX_FRAMES], kpf_port_drops(&pi[1]));
	ASSERT_LE(RULE_CHANGE_STEPS, changes);
	rx_guests_finish(_metadata, g, 2);
	for (i = 0; i < 2; i++)
		rx_vm_free(&g[i]);
	ASSERT_LT(0, delivered);
}

/*
 * The uplink's driver is unbound from its device (the e1000e's PCI
 * function; the virtio device of the virtio-net NIC) while frames flow to
 * a guest.  The interface goes, and the module detaches by itself: the
 * uplink, its rules and its redirect target are gone, every frame the port
 * got is delivered or counted as dropped, the guest goes on.  The driver
 * is bound again, the interface gets its name back, and once attached
 * again it delivers to the same guest; when the guest is gone the module
 * holds no page.
 */
TEST_F_TIMEOUT(rx, driver_unbound_while_traffic_flows, RX_TEST_TIMEOUT_S)
{
	const struct stream s = { 0, mac_a, {}, 100, 1000 };
	const struct stream after = { 1, mac_a, {}, 100, 0 };
	struct frame_spec f = stream_spec(self, &s, 8);
	struct frame_sender snd = { .tx = &self->tx,
				    .specs = &f,
				    .nr_specs = 1 };
	struct kpf_port_info pi;
	const __u64 *c = pi.counters;
	uint64_t delivered;
	struct rx_vm g;
	uint32_t n;
	int ifindex;

	rx_guest_create(_metadata, self->ctl, &g, mac_a, RX_RING_SIZE, RX_POST);
	rule_add(_metadata, self, KPF_RULE_F_MAC, 0, mac_a, g.port.id);
	RXG(&g)->flags = RXG_F_LOSSY | RXG_F_UNORDERED;
	rx_guest_expect(&g, 0, 0);
	rx_guest_expect(&g, 1, 0);
	rx_guest_start_for(_metadata, &g, RX_TEST_TIMEOUT_S * 1000);
	ASSERT_SENT(self, &s, 0, 8);
	ASSERT_GUEST_GOT(&g, 8);
	ASSERT_EQ(1, redirect_targets());

	/* Unbind while the sender is at it. */
	ASSERT_EQ(0, frame_sender_start(&snd));
	ASSERT_GUEST_GOT(&g, 24);
	unbind_while_sending(_metadata, self->uplink, &self->unbound,
			     &self->driver_unbound, &snd);
	self->attached = false;
	ASSERT_EQ(-ENOENT, rules_count(self->ctl, self->uplink_ifindex, &n));
	ASSERT_EQ(0, rules_count(self->ctl, 0, &n));
	ASSERT_EQ(0, n);
	ASSERT_EQ(-ENOENT, kpf_uplink_detach(self->ctl, self->uplink_ifindex));
	ASSERT_EQ(0, redirect_targets());
	port_balanced(_metadata, self->ctl, &g, &pi);
	ASSERT_LE(24, c[KPF_PORT_DELIVERED]);
	delivered = c[KPF_PORT_DELIVERED];
	TH_LOG("%s: %s unbound from %s after %llu of %u frames", self->uplink,
	       strrchr(self->unbound.driver, '/') + 1,
	       strrchr(self->unbound.device, '/') + 1, delivered, 8 + snd.sent);

	/* The driver comes back, and the guest receives through it. */
	ifindex = uplink_rebind(_metadata, self->uplink, &self->unbound,
				&self->driver_unbound, CARRIER_MS);
	self->uplink_ifindex = ifindex;
	ASSERT_EQ(0, nic_uplink_prepare(self->uplink));
	ASSERT_EQ(0, nic_wait_carrier(self->uplink, CARRIER_MS));
	ASSERT_EQ(0, kpf_uplink_attach(self->ctl, ifindex, NULL));
	self->attached = true;
	rule_add(_metadata, self, KPF_RULE_F_MAC, 0, mac_a, g.port.id);
	ASSERT_SENT(self, &after, 0, 8);
	ASSERT_GUEST_GOT(&g, delivered + 8);
	port_balanced(_metadata, self->ctl, &g, &pi);
	ASSERT_EQ(delivered + 8, c[KPF_PORT_DELIVERED]);
	WRITE_ONCE(RXG(&g)->expect_frames, c[KPF_PORT_DELIVERED]);
	rx_guests_finish(_metadata, &g, 1);
	rx_vm_free(&g);
	ASSERT_MODULE_IDLE(self->ctl);
}

/* The ring code alone, against the host playing the module. */
FIXTURE(model)
{
	struct kvm_vm *vm;
	void *mem;
};

FIXTURE_SETUP(model)
{
	if (!devices_ready(_metadata, false))
		return;
	self->mem = mmap(NULL, RX_VM_SLOTS * PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	self->vm = vm_create();
	vm_add_memslot(self->vm, KPF_REGION_MEMSLOT, KPF_REGION_GPA, self->mem,
		       RX_VM_SLOTS * PAGE_SIZE);
}

FIXTURE_TEARDOWN(model)
{
	if (self->vm)
		vm_free(self->vm);
	munmap(self->mem, RX_VM_SLOTS * PAGE_SIZE);
}

#define MODEL_PORT_ID 7

/*
 * A port played by @m with rings of @ring_size at slot 0 of @mem, and the
 * guest's rxg set to post @post of the other slots.
 */
static void model_port_init(struct ring_model *m, struct rxg *r, void *mem,
			    uint32_t ring_size, uint32_t post)
{
	ring_model_init(m, mem, RX_VM_SLOTS, 0, ring_size, MODEL_PORT_ID);
	r->ring_gpa = KPF_REGION_GPA;
	r->region_gpa = KPF_REGION_GPA;
	r->port_id = MODEL_PORT_ID;
	r->first_slot = KPF_RING_PAGES(ring_size);
	r->nr_slots = RX_VM_SLOTS - r->first_slot;
	r->post = post;
}

/*
 * Frames of every shape (minimum, full size, tagged with the tag left in
 * or stripped to vlan_tci, 9000 bytes over three slots, at an offset or
 * in small pieces) go through the guest's ring code, which must take them
 * all, repost its slots, and ring the doorbell when the event index asks.
 */
TEST_F_TIMEOUT(model, ring_protocol_against_model, RX_TEST_TIMEOUT_S)
{
	static const struct {
		uint32_t payload, offset, piece;
		uint16_t tci; /* 0: untagged */
		bool strip;
	} shapes[] = {
		{ 0, 0, PAGE_SIZE, 0, false },
		{ 1480, 64, PAGE_SIZE, 0, false },
		{ 700, 0, PAGE_SIZE, 0x2007, true },
		{ 700, 128, PAGE_SIZE, 0x2007, false },
		{ 9000 - FRAME_HDR_LEN, 0, PAGE_SIZE, 0, false },
		{ 5000, 200, 1000, 0x0009, true },
	};
	const unsigned int nr_shapes = ARRAY_SIZE(shapes);
	const uint32_t rounds = 40, ring_size = 16;
	uint8_t frame[FRAME_MAX_LEN];
	struct ring_model m;
	struct kvm_vcpu *vcpu;
	struct rxg *r = GUEST_VAR(self->vm, rxg);
	struct ucall uc;
	uint64_t deadline;
	uint32_t i, s;

	model_port_init(&m, r, self->mem, ring_size, ring_size);
	memcpy(r->mac, mac_a, 6);
	for (s = 0; s < nr_shapes; s++) {
		r->streams |= 1ULL << s;
		r->vlan[s] = shapes[s].tci ? RXG_TAG(shapes[s].tci) : 0;
		r->expect[s] = rounds;
	}
	vcpu = vm_vcpu_add(self->vm, guest_rx, 0);
	vcpu_thread_start(vcpu, VCPU_TIMEOUT_MS);

	for (i = 0; i < rounds; i++) {
		for (s = 0; s < nr_shapes; s++) {
			struct frame_spec f = {
				.stream = s,
				.seq = i,
				.payload = shapes[s].payload,
			};
			size_t len;
			int ret;

			memcpy(f.dst, s % 2 ? mac_a : mac_bcast, 6);
			memcpy(f.src, mac_b, 6);
			if (shapes[s].tci)
				f.tags[0] = tag8021q(shapes[s].tci);
			len = frame_build(&f, frame, sizeof(frame));
			ASSERT_NE(0, len);
			deadline = now_ms() + RX_WAIT_MS;
			/* The guest reposts as it goes: wait for slots. */
			while ((ret = ring_model_deliver(
					&m, frame, len, shapes[s].offset,
					shapes[s].piece, shapes[s].strip)) ==
				       -ENOBUFS &&
			       !vcpu_thread_finished(vcpu) &&
			       now_ms() < deadline)
				usleep(100);
			if (ret)
				log_vcpus(_metadata, &vcpu, 1);
			ASSERT_EQ(0, ret);
		}
	}
	WRITE_ONCE(r->final, 1);
	ASSERT_JOINED_DONE(vcpu, &uc);
	ASSERT_EQ(KPF_RING_OK, m.error);
	ASSERT_EQ(rounds * nr_shapes, r->frames);
	/* The guest asked for an interrupt at every completion it waited for. */
	ASSERT_LT(0, m.irqs);
	TH_LOG("%lu elements, %lu doorbells, %lu interrupts", r->elems,
	       r->kicks, m.irqs);
}

/* The model refuses what the module must refuse, as the guest does it. */
TEST_F_TIMEOUT(model, garbage_against_model, RX_TEST_TIMEOUT_S)
{
	const uint32_t ring_size = 8;
	struct rxg *r = GUEST_VAR(self->vm, rxg);
	struct ring_model m;
	struct kvm_vcpu *vcpu;
	uint8_t frame[64] = { 0 };
	uint64_t deadline;
	struct ucall uc;

	model_port_init(&m, r, self->mem, ring_size, 4);
	r->garbage = RXG_GARBAGE_SLOT;
	r->garbage_slot = 1; /* a control slot */
	r->expect_error = KPF_RING_ERR_SLOT_CONTROL;
	r->go = 1;
	vcpu = vm_vcpu_add(self->vm, guest_rx, 0);
	vcpu_thread_start(vcpu, VCPU_TIMEOUT_MS);
	deadline = now_ms() + RX_WAIT_MS;
	while (!m.error && !vcpu_thread_finished(vcpu) && now_ms() < deadline) {
		/* Frames take the good slots, then the model meets the bad one. */
		ring_model_deliver(&m, frame, sizeof(frame), 0, PAGE_SIZE,
				   false);
		usleep(1000);
	}
	ASSERT_JOINED_DONE(vcpu, &uc);
	ASSERT_EQ(KPF_RING_ERR_SLOT_CONTROL, m.error);
}

TEST_HARNESS_MAIN
