// SPDX-License-Identifier: GPL-2.0
/*
 * The XDP path, end to end: `kvm-pageflip attach` puts the classifier on
 * the test VM's virtio-net NIC (behind the emulated intel-iommu, strict
 * invalidation), frames sent out of the sender NIC are redirected to the
 * module's kpfxN target and flipped into tiny KVM guests, which check
 * every byte they get (lib/ring.h) and, where asked, that a flipped page
 * holds nothing but the frame.
 *
 * Rules, copy-break and detaching go through the CLI ($KPF_CLI, or
 * kvm-pageflip on $PATH), as an administrator would; what the module holds
 * is read back through its ioctls, what the NIC holds through rtnetlink,
 * and what the NIC's IOMMU domain still translates through the debugfs
 * file of test_hooks=1.  Without the NIC, native XDP, the CLI or the
 * module's receive path, the tests skip and say which.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/if_link.h>

#include "frame.h"
#include "kpf_rx.h"
#include "kpf_test.h"
#include "nic.h"
#include "proc.h"
#include "ring.h"

/* Each test's bound: seconds each, but under nested TCG. */
#define XDP_TEST_TIMEOUT_S 90
/* How long the host waits for guests, and a CLI run may take. */
#define XDP_WAIT_MS 20000
#define CLI_TIMEOUT_MS 20000
#define CARRIER_MS 10000
/* How long the host checker waits for one more frame. */
#define HOST_IDLE_MS 500
/* How long port counters must stay still to count as settled. */
#define SETTLE_MS 300

#define RING_SIZE 32
#define POST 24 /* slots each guest keeps posted */
#define FRAMES 16 /* frames per stream */
/* Frames of 1000 to 1500 bytes: payloads from PAYLOAD, SPAN apart. */
#define PAYLOAD (1000 - FRAME_LEN(0, 0))
#define SPAN 480

#define DEBUGFS_IOMMU "/sys/kernel/debug/kvm-pageflip/iommu"

/*
 * virtio-net receives into fragments of compound pages (page_frag), which
 * the module never flips; only a buffer the driver posted before XDP was
 * attached, and which lacks XDP headroom, is copied by the driver into an
 * order-0 page of its own (xdp_linearize_page()) that can be flipped.  So
 * that every test starts with a ring of such buffers, the set-up has the
 * NIC receive as many frames nobody takes as its ring holds (QEMU's
 * rx_queue_size, 256 by default) while no XDP program is attached: then
 * none of the buffers the previous test's program saw posted is left.
 * The frames go in batches, each waited for (rx_packets), as many as
 * needed: the driver refills its ring only between batches.
 */
#define PRIME_RING 256
#define PRIME_BATCH 128
#define PRIME_ROUNDS 8
#define PRIME_WAIT_MS 2000
#define PRIME_POLL_MS 20
#define PRIME_STREAM 63

static const uint8_t mac_a[6] = { 0x02, 0x6b, 0x70, 0x00, 0x01, 0x0a };
static const uint8_t mac_b[6] = { 0x02, 0x6b, 0x70, 0x00, 0x01, 0x0b };
static const uint8_t mac_unknown[6] = { 0x02, 0x6b, 0x70, 0x00, 0x01, 0xee };
static const uint8_t mac_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
#define MAC_A "02:6b:70:00:01:0a"
#define MAC_B "02:6b:70:00:01:0b"

/*
 * Stream @id: frames to @dst on VLAN @vlan (0: untagged), with @payload to
 * @payload + @span - 1 bytes of payload; stream_send() sets the source.
 */
static struct frame_spec stream_sized(uint32_t id, uint16_t vlan,
				      const uint8_t *dst, uint32_t payload,
				      uint32_t span)
{
	struct frame_spec f = { .stream = id,
				.payload = payload,
				.span = span };

	memcpy(f.dst, dst, 6);
	if (vlan)
		f.tags[0] = (struct frame_tag){ FRAME_TPID_8021Q, vlan };
	return f;
}

/* ... of 1000 to 1500 bytes. */
static struct frame_spec stream(uint32_t id, uint16_t vlan, const uint8_t *dst)
{
	return stream_sized(id, vlan, dst, PAYLOAD, SPAN);
}

/* The CLI with the words of printf(@fmt, ...); what it did is in @o. */
static void __attribute__((format(printf, 2, 3)))
cli(struct proc_output *o, const char *fmt, ...)
{
	const char *path = getenv("KPF_CLI") ?: "kvm-pageflip";
	char words[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(words, sizeof(words), fmt, ap);
	va_end(ap);
	if (proc_run(path, words, o, CLI_TIMEOUT_MS))
		o->status = 127;
}

/* The CLI ran @words and succeeded. */
#define ASSERT_CLI(o, ...)                                                   \
	do {                                                                 \
		cli((o), __VA_ARGS__);                                       \
		ASSERT_EQ_LOG(0, (o)->status, "kvm-pageflip: %s", (o)->err); \
	} while (0)

/* The unsigned number after "\"@key\": " in @json, 0 if there is none. */
static uint32_t json_u32(const char *json, const char *key)
{
	char want[64];
	const char *p;

	snprintf(want, sizeof(want), "\"%s\": ", key);
	p = strstr(json, want);
	return p ? strtoul(p + strlen(want), NULL, 10) : 0;
}

FIXTURE(xdp)
{
	int ctl;
	char uplink[IF_NAMESIZE];
	int uplink_ifindex;
	char tx_name[IF_NAMESIZE];
	struct frame_tx tx;
	uint8_t tx_mac[6];
	/* What `kvm-pageflip attach` reported. */
	uint32_t target_ifindex, prog_id;
	char target[IF_NAMESIZE];
	/* The parent's teardown detaches (the fixture is shared with it). */
	bool attached;
	/* ... and binds the NIC's driver again, if driver_unbound. */
	struct nic_driver unbound;
	bool driver_unbound;
};

/* Sends frames @first .. @first + @count - 1 of stream @s. */
static int stream_send(FIXTURE_DATA(xdp) * self, const struct frame_spec *s,
		       uint32_t first, uint32_t count)
{
	struct frame_spec f = *s;

	memcpy(f.src, self->tx_mac, 6);
	f.seq = first;
	return frame_send_seq(&self->tx, &f, count);
}

/*
 * Primes the uplink's ring (see PRIME_RING): 0 once it has received
 * PRIME_RING frames, with how many in @got; a negative errno (-ETIMEDOUT:
 * they did not arrive).
 */
static int prime_ring(FIXTURE_DATA(xdp) * self, uint64_t *got)
{
	const struct frame_spec prime =
		stream_sized(PRIME_STREAM, 0, mac_unknown, 100, 0);
	const struct timespec pause = { .tv_nsec = PRIME_POLL_MS * 1000000L };
	uint64_t first, now, sent;
	unsigned int round, waited;
	int ret;

	*got = 0;
	ret = nic_rx_packets(self->uplink, &first);
	for (round = 0; !ret && round < PRIME_ROUNDS; round++) {
		ret = stream_send(self, &prime, round * PRIME_BATCH,
				  PRIME_BATCH);
		sent = (uint64_t)(round + 1) * PRIME_BATCH;
		for (waited = 0; !ret; waited += PRIME_POLL_MS) {
			ret = nic_rx_packets(self->uplink, &now);
			if (ret)
				break;
			*got = now - first;
			if (*got >= sent || waited >= PRIME_WAIT_MS)
				break;
			nanosleep(&pause, NULL);
		}
		if (!ret && *got >= PRIME_RING)
			return 0;
	}
	return ret ?: -ETIMEDOUT;
}

FIXTURE_SETUP(xdp)
{
	struct proc_output o;
	uint64_t primed;
	uint32_t prog_id;
	int ret;
	uint8_t mode;
	int tx_ifindex;
	char why[128];

	self->ctl = -1;
	self->tx.fd = -1;
	if (!devices_ready(_metadata, true))
		return;
	cli(&o, "--version");
	if (o.status == 127)
		SKIP(return,
			   "the kvm-pageflip CLI is not installed ($KPF_CLI or on $PATH)");
	tx_ifindex = nic_from_env(NIC_ENV_TX, self->tx_name,
				  sizeof(self->tx_name), why, sizeof(why));
	if (!tx_ifindex)
		SKIP(return, "%s", why);
	self->uplink_ifindex = nic_from_env(NIC_ENV_XDP, self->uplink,
					    sizeof(self->uplink), why,
					    sizeof(why));
	if (!self->uplink_ifindex)
		SKIP(return, "%s", why);
	self->ctl = kpf_open();
	ASSERT_LE(0, self->ctl);
	ASSERT_EQ(0, nic_uplink_prepare(self->uplink));
	ASSERT_EQ(0,
		  nic_sender_prepare(self->tx_name, self->tx_mac, CARRIER_MS));
	ASSERT_EQ(0, nic_wait_carrier(self->uplink, CARRIER_MS));
	ASSERT_EQ(0, frame_tx_open(&self->tx, tx_ifindex));

	ASSERT_EQ(0, nic_xdp_query(self->uplink_ifindex, &prog_id, &mode));
	ASSERT_EQ_LOG(0, prog_id, "%s already has XDP program %u", self->uplink,
		      prog_id);
	ret = prime_ring(self, &primed);
	ASSERT_EQ_LOG(0, ret, "%s received %llu of %u frames: %s", self->uplink,
		      (unsigned long long)primed, PRIME_RING, strerror(-ret));

	self->attached = true;
	cli(&o, "-j attach %s --mode xdp", self->uplink);
	if (o.status && strstr(o.err, "(EOPNOTSUPP)"))
		SKIP(return, "no native XDP: %.200s", o.err);
	if (o.status && strstr(o.err, "(ENOTTY)"))
		SKIP(return, "the module has no receive path: %.200s", o.err);
	ASSERT_EQ_LOG(0, o.status, "kvm-pageflip attach: %s", o.err);
	self->target_ifindex = json_u32(o.out, "xdp_target_ifindex");
	self->prog_id = json_u32(o.out, "prog_id");
	ASSERT_NE_LOG(0, self->prog_id, "attach said: %s", o.out);
	ASSERT_NE_LOG(NULL, if_indextoname(self->target_ifindex, self->target),
		      "redirect target ifindex %u", self->target_ifindex);
	ASSERT_EQ_LOG(0, strncmp(self->target, "kpfx", 4), "target %s",
		      self->target);
	/* The classifier runs in native mode, as the CLI said. */
	ASSERT_EQ(0, nic_xdp_query(self->uplink_ifindex, &prog_id, &mode));
	ASSERT_EQ(self->prog_id, prog_id);
	ASSERT_EQ(XDP_ATTACHED_DRV, mode);
}

/* Detach whatever the test's process left, even if it crashed. */
FIXTURE_TEARDOWN_PARENT(xdp)
{
	struct proc_output o;
	int ctl;

	/* The later tests and programs need the NIC, by its name. */
	if (self->driver_unbound &&
	    nic_driver_bind(&self->unbound, CARRIER_MS) > 0)
		nic_set_flags(self->uplink, IFF_UP, 0);
	if (!self->attached)
		return;
	cli(&o, "detach %s", self->uplink);
	/* Without the CLI, at least the module lets go. */
	ctl = kpf_open();
	if (ctl >= 0) {
		kpf_uplink_detach(ctl, self->uplink_ifindex);
		close(ctl);
	}
	nic_wait_carrier(self->uplink, CARRIER_MS);
}

#define ASSERT_SENT(s, first, count) \
	ASSERT_EQ(0, stream_send(self, (s), (first), (count)))

/* The tag the guest sees on stream @s. */
static uint64_t stream_tag(const struct frame_spec *s)
{
	return s->tags[0].tpid ? RXG_TAG(s->tags[0].tci) : 0;
}

/* A receiving VM with copy-break 0, and @flags for its guest. */
static void guest_create(struct __test_metadata *_metadata, int ctl,
			 struct rx_vm *g, const uint8_t *mac, uint64_t flags)
{
	int ret = rx_vm_create(ctl, g, mac, RING_SIZE, POST, 0);

	ASSERT_EQ_LOG(0, ret, "receiving VM: %s", strerror(-ret));
	g->rxg->flags = flags;
}

/* Logs what the guest said when it stopped short. */
static void guest_log(struct __test_metadata *_metadata, struct rx_vm *g)
{
	log_vcpus(_metadata, &g->vcpu, 1);
}

#define ASSERT_STARTED(g)                                                      \
	do {                                                                   \
		bool __ready = rx_vm_start((g), VCPU_TIMEOUT_MS + XDP_WAIT_MS, \
					   XDP_WAIT_MS);                       \
		if (!__ready)                                                  \
			guest_log(_metadata, (g));                             \
		ASSERT_TRUE_LOG(__ready, "the guest never posted");            \
	} while (0)

/* Waits until guest @g has taken @n frames; logs what it said if not. */
#define ASSERT_GUEST_GOT(g, n)                                             \
	do {                                                               \
		bool __got = rx_vm_wait((g), (n), XDP_WAIT_MS);            \
		if (!__got)                                                \
			guest_log(_metadata, (g));                         \
		ASSERT_TRUE_LOG(__got, "port %u: %lu of %lu frames",       \
				(g)->port.id, READ_ONCE((g)->rxg->frames), \
				(uint64_t)(n));                            \
	} while (0)

/* Every guest of @g got everything it expects and reported DONE. */
#define ASSERT_FINISHED(g, n)                                                \
	do {                                                                 \
		unsigned int __bad = 0;                                      \
		struct ucall __uc;                                           \
		unsigned int __f =                                           \
			rx_vms_finish((g), (n), XDP_WAIT_MS, &__bad, &__uc); \
		if (__f) {                                                   \
			TH_LOG("guest %u (port %u):", __bad,                 \
			       (g)[__bad].port.id);                          \
			log_ucall(_metadata, (g)[__bad].vm, &__uc);          \
		}                                                            \
		ASSERT_EQ(0u, __f);                                          \
	} while (0)

/* Settled counters of @g's port, and no drop, no error. */
static void port_read(struct __test_metadata *_metadata, int ctl,
		      struct rx_vm *g, struct kpf_port_info *pi)
{
	int i;

	ASSERT_EQ(0,
		  kpf_port_settle(ctl, g->port.id, pi, SETTLE_MS, XDP_WAIT_MS));
	ASSERT_EQ(KPF_PORT_STATE_RUNNING, pi->state);
	for (i = KPF_PORT_DROP_NO_BUFFER; i <= KPF_PORT_RING_ERRORS; i++)
		ASSERT_EQ_LOG(0, pi->counters[i], "port %u counter %d",
			      g->port.id, i);
}

/*
 * @g's port delivered exactly @frames frames, of which the guest saw as
 * flipped exactly what the module counts as flipped; at least one flip
 * took one invalidation at most.
 */
static void port_check(struct __test_metadata *_metadata, int ctl,
		       struct rx_vm *g, uint64_t frames,
		       struct kpf_port_info *pi)
{
	const __u64 *c = pi->counters;

	port_read(_metadata, ctl, g, pi);
	ASSERT_EQ(frames, c[KPF_PORT_RX_FRAMES]);
	ASSERT_EQ(frames, c[KPF_PORT_DELIVERED]);
	ASSERT_EQ(c[KPF_PORT_DELIVERED],
		  c[KPF_PORT_FLIPPED] + c[KPF_PORT_COPIED]);
	ASSERT_EQ(READ_ONCE(g->rxg->flipped), c[KPF_PORT_FLIPPED]);
	ASSERT_LE(c[KPF_PORT_INVALIDATIONS], c[KPF_PORT_FLIPPED]);
	if (c[KPF_PORT_FLIPPED])
		ASSERT_LT(0, c[KPF_PORT_INVALIDATIONS]);
}

/* The host checker on the uplink; frames reach it after the module. */
#define ASSERT_HOST_OPEN(rx) \
	ASSERT_EQ(0, frame_rx_open((rx), self->uplink_ifindex))

/* Drains the host checker: nothing bad, and @n frames of stream @s. */
#define ASSERT_HOST_GOT(rx, s, n)                                       \
	ASSERT_EQ_LOG(0, frame_rx_expect((rx), HOST_IDLE_MS, (s), (n)), \
		      "host: %s", (rx)->why)

/*
 * Three guests, one per kind of rule, added with the CLI: A by MAC+VLAN,
 * B by MAC, C by VLAN.  Each receives exactly its own 1000-1500 byte
 * frames, byte-exact and in order, flipped (the guest sees
 * KPF_USED_F_FLIPPED on as many completions as the port counts flips).
 * With copy-break 65536 the same frames are copied instead.
 */
TEST_F_TIMEOUT(xdp, xdp_attach_flips_into_guests, XDP_TEST_TIMEOUT_S)
{
	const struct frame_spec s[] = {
		stream(0, 10, mac_a), /* A: exact */
		stream(1, 0, mac_b), /* B: MAC-only, untagged */
		stream(2, 30, mac_b), /* B: any VLAN */
		stream(3, 20, mac_unknown), /* C: VLAN-only */
		stream(4, 20, mac_a), /* C: A's MAC, VLAN 20 */
		stream(5, 0, mac_a), /* nobody: A untagged */
	};
	/* The guest each stream goes to (3: the host). */
	const unsigned int to[] = { 0, 1, 1, 2, 2, 3 };
	const unsigned int nr = ARRAY_SIZE(s);
	struct kpf_port_info pi[3], after;
	struct proc_output o;
	struct frame_rx host;
	struct rx_vm g[3];
	unsigned int i, j;
	uint64_t n;

	guest_create(_metadata, self->ctl, &g[0], mac_a, 0);
	guest_create(_metadata, self->ctl, &g[1], mac_b, 0);
	guest_create(_metadata, self->ctl, &g[2], NULL, 0);
	ASSERT_CLI(&o, "rule add %s mac %s vlan 10 port %u", self->uplink,
		   MAC_A, g[0].port.id);
	ASSERT_CLI(&o, "rule add %s mac %s port %u", self->uplink, MAC_B,
		   g[1].port.id);
	ASSERT_CLI(&o, "rule add %s vlan 20 port %u", self->uplink,
		   g[2].port.id);
	for (i = 0; i < 3; i++) {
		ASSERT_CLI(&o, "port set %u copybreak 0", g[i].port.id);
		for (j = 0; j < nr; j++)
			if (to[j] == i)
				rx_vm_expect(&g[i], s[j].stream,
					     stream_tag(&s[j]), FRAMES);
		ASSERT_STARTED(&g[i]);
	}
	ASSERT_HOST_OPEN(&host);

	/* Interleaved, in halves: no guest needs more than it posted. */
	for (i = 0; i < nr; i++)
		ASSERT_SENT(&s[i], 0, FRAMES / 2);
	for (i = 0; i < 3; i++)
		ASSERT_GUEST_GOT(&g[i], i ? FRAMES : FRAMES / 2);
	for (i = 0; i < nr; i++)
		ASSERT_SENT(&s[i], FRAMES / 2, FRAMES / 2);
	for (i = 0; i < 3; i++)
		ASSERT_GUEST_GOT(&g[i], i ? 2 * FRAMES : FRAMES);
	ASSERT_HOST_GOT(&host, 5, FRAMES);
	ASSERT_EQ(FRAMES, host.frames);
	for (i = 0; i < 3; i++) {
		n = i ? 2 * FRAMES : FRAMES;
		port_check(_metadata, self->ctl, &g[i], n, &pi[i]);
		TH_LOG("port %u: %llu flipped, %llu copied, %llu invalidations",
		       g[i].port.id, pi[i].counters[KPF_PORT_FLIPPED],
		       pi[i].counters[KPF_PORT_COPIED],
		       pi[i].counters[KPF_PORT_INVALIDATIONS]);
		ASSERT_LT(0, pi[i].counters[KPF_PORT_FLIPPED]);
	}

	/* Copy-break 65536: the same frames, all copied. */
	for (i = 0; i < 3; i++) {
		ASSERT_CLI(&o, "port set %u copybreak 65536", g[i].port.id);
		for (j = 0; j < nr; j++)
			if (to[j] == i)
				WRITE_ONCE(g[i].rxg->expect[s[j].stream],
					   FRAMES + FRAMES / 2);
	}
	cli(&o, "-j ports");
	ASSERT_NE_LOG(NULL, strstr(o.out, "\"copybreak\": 65536"), "%s", o.out);
	for (i = 0; i < nr; i++)
		ASSERT_SENT(&s[i], FRAMES, FRAMES / 2);
	ASSERT_FINISHED(g, 3);
	ASSERT_HOST_GOT(&host, 5, FRAMES + FRAMES / 2);
	for (i = 0; i < 3; i++) {
		n = pi[i].counters[KPF_PORT_DELIVERED];
		n += i ? FRAMES : FRAMES / 2;
		port_check(_metadata, self->ctl, &g[i], n, &after);
		ASSERT_EQ(pi[i].counters[KPF_PORT_FLIPPED],
			  after.counters[KPF_PORT_FLIPPED]);
		ASSERT_EQ(pi[i].counters[KPF_PORT_COPIED] +
				  (i ? FRAMES : FRAMES / 2),
			  after.counters[KPF_PORT_COPIED]);
	}
	frame_rx_close(&host);
	for (i = 0; i < 3; i++)
		rx_vm_free(&g[i]);
}

/*
 * A flipped page holds the frame and zeros: the guest reads every byte of
 * it outside [offset, offset + len).  Frames of many sizes, tagged ones
 * among them (the removed tag leaves 4 bytes of the head to zero).
 */
TEST_F_TIMEOUT(xdp, xdp_flipped_page_is_scrubbed, XDP_TEST_TIMEOUT_S)
{
	const struct frame_spec s[] = {
		stream_sized(0, 0, mac_a, 0, 1480),
		stream_sized(1, 7, mac_a, 0, 1470),
	};
	struct kpf_port_info pi;
	struct proc_output o;
	struct rx_vm g;
	unsigned int i;

	guest_create(_metadata, self->ctl, &g, mac_a, RXG_F_SCRUBBED);
	ASSERT_CLI(&o, "rule add %s mac %s port %u", self->uplink, MAC_A,
		   g.port.id);
	for (i = 0; i < 2; i++)
		rx_vm_expect(&g, i, stream_tag(&s[i]), 2 * FRAMES);
	ASSERT_STARTED(&g);
	for (i = 0; i < 4; i++) {
		ASSERT_SENT(&s[i % 2], i / 2 * FRAMES, FRAMES);
		ASSERT_GUEST_GOT(&g, (i + 1) * FRAMES);
	}
	ASSERT_FINISHED(&g, 1);
	port_check(_metadata, self->ctl, &g, 4 * FRAMES, &pi);
	ASSERT_LT(0, pi.counters[KPF_PORT_FLIPPED]);
	ASSERT_EQ(pi.counters[KPF_PORT_FLIPPED], g.rxg->scrub_checked);
	ASSERT_LT(0, pi.counters[KPF_PORT_BYTES_ZEROED]);
	rx_vm_free(&g);
}

/*
 * With the classifier attached, frames it does not redirect still reach
 * the host stack unchanged: a unicast frame for a MAC no rule names, and
 * broadcast, which reaches the guest too (through the rx_handler).
 */
TEST_F_TIMEOUT(xdp, xdp_host_frames_untouched, XDP_TEST_TIMEOUT_S)
{
	const struct frame_spec mine = stream(0, 0, mac_a);
	const struct frame_spec other = stream(1, 0, mac_unknown);
	const struct frame_spec bcast = stream_sized(2, 0, mac_bcast, 40, 1000);
	struct kpf_port_info pi;
	struct proc_output o;
	struct frame_rx host;
	struct rx_vm g;

	guest_create(_metadata, self->ctl, &g, mac_a, 0);
	ASSERT_CLI(&o, "rule add %s mac %s port %u", self->uplink, MAC_A,
		   g.port.id);
	rx_vm_expect(&g, mine.stream, 0, FRAMES);
	rx_vm_expect(&g, bcast.stream, 0, FRAMES);
	ASSERT_STARTED(&g);
	ASSERT_HOST_OPEN(&host);
	ASSERT_SENT(&other, 0, FRAMES);
	ASSERT_SENT(&mine, 0, FRAMES / 2);
	ASSERT_SENT(&bcast, 0, FRAMES / 2);
	ASSERT_GUEST_GOT(&g, FRAMES);
	ASSERT_SENT(&mine, FRAMES / 2, FRAMES / 2);
	ASSERT_SENT(&bcast, FRAMES / 2, FRAMES / 2);
	ASSERT_FINISHED(&g, 1);

	ASSERT_HOST_GOT(&host, other.stream, FRAMES);
	ASSERT_EQ(FRAMES, host.count[bcast.stream]);
	ASSERT_EQ(0, host.count[mine.stream]);
	ASSERT_EQ(2 * FRAMES, host.frames);
	port_check(_metadata, self->ctl, &g, 2 * FRAMES, &pi);
	frame_rx_close(&host);
	rx_vm_free(&g);
}

/* The classifier's map matches the module's rules: `sync` changes nothing. */
static void map_check(struct __test_metadata *_metadata, const char *uplink,
		      uint32_t rules)
{
	struct proc_output o;

	ASSERT_CLI(&o, "-j sync %s", uplink);
	ASSERT_EQ_LOG(rules, json_u32(o.out, "rules"), "%s", o.out);
	ASSERT_EQ_LOG(0,
		      json_u32(o.out, "added") + json_u32(o.out, "updated") +
			      json_u32(o.out, "removed"),
		      "the map lagged: %s", o.out);
}

/*
 * `rule del` takes a guest's MAC out of the module and of the classifier's
 * map: its frames go to the host; `rule add` brings them back to the guest.
 */
TEST_F_TIMEOUT(xdp, xdp_rule_change_resyncs_map, XDP_TEST_TIMEOUT_S)
{
	const struct frame_spec before = stream(0, 0, mac_a);
	const struct frame_spec gone = stream(1, 0, mac_a);
	const struct frame_spec back = stream(2, 0, mac_a);
	struct kpf_port_info pi;
	struct proc_output o;
	struct frame_rx host;
	struct rx_vm g;

	guest_create(_metadata, self->ctl, &g, mac_a, 0);
	rx_vm_expect(&g, before.stream, 0, FRAMES);
	rx_vm_expect(&g, back.stream, 0, FRAMES);
	ASSERT_CLI(&o, "rule add %s mac %s port %u", self->uplink, MAC_A,
		   g.port.id);
	map_check(_metadata, self->uplink, 1);
	ASSERT_STARTED(&g);
	ASSERT_HOST_OPEN(&host);
	ASSERT_SENT(&before, 0, FRAMES);
	ASSERT_GUEST_GOT(&g, FRAMES);

	ASSERT_CLI(&o, "rule del %s mac %s", self->uplink, MAC_A);
	map_check(_metadata, self->uplink, 0);
	ASSERT_SENT(&gone, 0, FRAMES);
	ASSERT_HOST_GOT(&host, gone.stream, FRAMES);
	ASSERT_EQ(FRAMES, host.frames);
	port_read(_metadata, self->ctl, &g, &pi);
	ASSERT_EQ(FRAMES, pi.counters[KPF_PORT_RX_FRAMES]);

	ASSERT_CLI(&o, "rule add %s mac %s port %u", self->uplink, MAC_A,
		   g.port.id);
	map_check(_metadata, self->uplink, 1);
	ASSERT_SENT(&back, 0, FRAMES);
	ASSERT_FINISHED(&g, 1);
	ASSERT_LE(0, frame_rx_drain(&host, HOST_IDLE_MS));
	ASSERT_EQ(FRAMES, host.frames);
	port_check(_metadata, self->ctl, &g, 2 * FRAMES, &pi);
	ASSERT_LT(0, pi.counters[KPF_PORT_FLIPPED]);
	frame_rx_close(&host);
	rx_vm_free(&g);
}

/*
 * Writes "@region_fd @ifindex" to the debugfs file and reads its answer.
 * 0, or a negative errno of the open (-ENOENT: no such file) or write.
 */
static int iommu_scan(int region_fd, int ifindex, unsigned long *mapped,
		      unsigned int *slots_mapped, unsigned int *slots)
{
	char buf[128];
	ssize_t n;
	int fd, len, ret = 0;

	fd = open(DEBUGFS_IOMMU, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%d %d", region_fd, ifindex);
	if (write(fd, buf, len) != len) {
		ret = -errno;
	} else {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		if (sscanf(buf, "mapped=%lu slots_mapped=%u slots=%u", mapped,
			   slots_mapped, slots) != 3)
			ret = -EPROTO;
	}
	close(fd);
	return ret;
}

/*
 * Once pages the NIC received into are in a guest's slots, the NIC's IOMMU
 * domain translates none of them, while it still translates the NIC's own
 * receive buffers (so the scan can see mappings at all).
 */
TEST_F_TIMEOUT(xdp, iommu_flipped_pages_unmapped_for_nic, XDP_TEST_TIMEOUT_S)
{
	const struct frame_spec s = stream(0, 0, mac_a);
	unsigned int slots_mapped, slots;
	struct kpf_port_info pi;
	struct proc_output o;
	unsigned long mapped;
	struct rx_vm g;
	int group, ret;

	guest_create(_metadata, self->ctl, &g, mac_a, 0);
	ASSERT_CLI(&o, "rule add %s mac %s port %u", self->uplink, MAC_A,
		   g.port.id);
	rx_vm_expect(&g, s.stream, 0, FRAMES);
	ASSERT_STARTED(&g);
	ASSERT_SENT(&s, 0, FRAMES);
	ASSERT_GUEST_GOT(&g, FRAMES);
	port_check(_metadata, self->ctl, &g, FRAMES, &pi);
	ASSERT_LT(0, pi.counters[KPF_PORT_FLIPPED]);

	group = nic_iommu_group(self->uplink);
	if (group < 0)
		SKIP(goto out, "%s: no IOMMU group on its device or a parent",
		     self->uplink);
	ret = iommu_scan(g.region.fd, self->uplink_ifindex, &mapped,
			 &slots_mapped, &slots);
	if (ret == -ENOENT)
		SKIP(goto out, "%s: %s (module loaded without test_hooks=1?)",
		     DEBUGFS_IOMMU, strerror(-ret));
	/* -ENODEV: the module found no domain for a NIC behind the IOMMU. */
	ASSERT_EQ_LOG(0, ret,
		      "%s for %s, whose DMA device is in IOMMU group %d: %s",
		      DEBUGFS_IOMMU, self->uplink, group, strerror(-ret));
	TH_LOG("mapped=%lu slots_mapped=%u slots=%u (%llu flipped)", mapped,
	       slots_mapped, slots, pi.counters[KPF_PORT_FLIPPED]);
	ASSERT_EQ(RX_VM_SLOTS, slots);
	ASSERT_LT(0, mapped);
	ASSERT_EQ(0, slots_mapped);
out:
	ASSERT_FINISHED(&g, 1);
	rx_vm_free(&g);
}

/* The uplink is detached: its kpfxN target and its rules are gone. */
static void assert_detached(struct __test_metadata *_metadata,
			    FIXTURE_DATA(xdp) * self)
{
	char name[IF_NAMESIZE];
	uint32_t n = 0;

	ASSERT_EQ_LOG(NULL, if_indextoname(self->target_ifindex, name),
		      "%s (ifindex %u) is still there", name,
		      self->target_ifindex);
	ASSERT_EQ(-ENOENT,
		  kpf_list_rules(self->ctl, self->uplink_ifindex, NULL, &n));
	ASSERT_EQ(0, kpf_list_rules(self->ctl, 0, NULL, &n));
	ASSERT_EQ(0, n);
}

/*
 * `kvm-pageflip detach` removes the classifier and the kpfxN target, and
 * the module's rules of the uplink; the guest's frames reach the host.
 */
TEST_F_TIMEOUT(xdp, xdp_detach_removes_program, XDP_TEST_TIMEOUT_S)
{
	const struct frame_spec s = stream(0, 0, mac_a);
	struct kpf_port_info pi;
	struct proc_output o;
	struct frame_rx host;
	uint32_t prog_id, n = 0;
	struct rx_vm g;
	uint8_t mode;

	guest_create(_metadata, self->ctl, &g, mac_a, 0);
	ASSERT_CLI(&o, "rule add %s mac %s port %u", self->uplink, MAC_A,
		   g.port.id);
	ASSERT_CLI(&o, "rule add %s vlan 5 port %u", self->uplink, g.port.id);
	ASSERT_EQ(0, kpf_list_rules(self->ctl, self->uplink_ifindex, NULL, &n));
	ASSERT_EQ(2, n);

	ASSERT_CLI(&o, "detach %s", self->uplink);
	self->attached = false;
	ASSERT_EQ(0, nic_xdp_query(self->uplink_ifindex, &prog_id, &mode));
	ASSERT_EQ(0, prog_id);
	ASSERT_EQ(XDP_ATTACHED_NONE, mode);
	assert_detached(_metadata, self);

	ASSERT_EQ(0, nic_wait_carrier(self->uplink, CARRIER_MS));
	ASSERT_HOST_OPEN(&host);
	ASSERT_SENT(&s, 0, FRAMES);
	ASSERT_HOST_GOT(&host, s.stream, FRAMES);
	ASSERT_EQ(0, kpf_port_info(self->ctl, g.port.id, &pi));
	ASSERT_EQ(0, pi.counters[KPF_PORT_RX_FRAMES]);
	frame_rx_close(&host);
	rx_vm_free(&g);
}

/*
 * The virtio-net driver is unbound from its virtio device while the
 * classifier redirects frames into a guest that takes them flipped: the
 * interface goes with its XDP program, and the module detaches by itself
 * (the uplink, its rules and the kpfxN target are gone); every frame the
 * port got is delivered or counted as dropped, and the guest goes on.
 * Bound again, the NIC comes back under its name, without a program, and
 * `kvm-pageflip attach` makes it deliver to the same guest again.
 */
TEST_F_TIMEOUT(xdp, xdp_driver_unbound_while_frames_flip, XDP_TEST_TIMEOUT_S)
{
	struct frame_spec s = stream(0, 0, mac_a);
	const struct frame_spec after = stream(1, 0, mac_a);
	struct frame_sender snd = { .tx = &self->tx,
				    .specs = &s,
				    .nr_specs = 1 };
	struct kpf_port_info pi;
	const __u64 *c = pi.counters;
	struct proc_output o;
	uint64_t delivered;
	uint32_t prog_id;
	struct rx_vm g;
	uint8_t mode;
	int ifindex;

	guest_create(_metadata, self->ctl, &g, mac_a,
		     RXG_F_LOSSY | RXG_F_UNORDERED);
	rx_vm_expect(&g, 0, 0, UINT32_MAX);
	rx_vm_expect(&g, 1, 0, UINT32_MAX);
	ASSERT_CLI(&o, "rule add %s mac %s port %u", self->uplink, MAC_A,
		   g.port.id);
	ASSERT_STARTED(&g);
	memcpy(s.src, self->tx_mac, 6);
	ASSERT_EQ(0, frame_sender_start(&snd));
	ASSERT_GUEST_GOT(&g, 16);
	unbind_while_sending(_metadata, self->uplink, &self->unbound,
			     &self->driver_unbound, &snd);
	self->attached = false;
	assert_detached(_metadata, self);
	ASSERT_EQ(-ENOENT, kpf_uplink_detach(self->ctl, self->uplink_ifindex));
	ASSERT_EQ(0, kpf_port_settle(self->ctl, g.port.id, &pi, SETTLE_MS,
				     XDP_WAIT_MS));
	ASSERT_EQ(KPF_PORT_STATE_RUNNING, pi.state);
	ASSERT_EQ(0, c[KPF_PORT_RING_ERRORS]);
	delivered = c[KPF_PORT_DELIVERED];
	ASSERT_EQ(c[KPF_PORT_RX_FRAMES],
		  delivered + c[KPF_PORT_DROP_NO_BUFFER] +
			  c[KPF_PORT_DROP_QUEUE_FULL] +
			  c[KPF_PORT_DROP_RING_ERROR] +
			  c[KPF_PORT_DROP_OVERSIZE] + c[KPF_PORT_DROP_RUNT] +
			  c[KPF_PORT_DROP_NOMEM]);
	ASSERT_EQ(delivered, c[KPF_PORT_FLIPPED] + c[KPF_PORT_COPIED]);
	ASSERT_GUEST_GOT(&g, delivered);
	TH_LOG("%s unbound after %llu of %u frames (%llu flipped)",
	       self->uplink, delivered, snd.sent, c[KPF_PORT_FLIPPED]);

	/* Bound again: no program, and attach works as on a fresh NIC. */
	ifindex = uplink_rebind(_metadata, self->uplink, &self->unbound,
				&self->driver_unbound, CARRIER_MS);
	self->uplink_ifindex = ifindex;
	ASSERT_EQ(0, nic_xdp_query(ifindex, &prog_id, &mode));
	ASSERT_EQ(0, prog_id);
	ASSERT_EQ(0, nic_uplink_prepare(self->uplink));
	ASSERT_EQ(0, nic_wait_carrier(self->uplink, CARRIER_MS));
	self->attached = true;
	ASSERT_CLI(&o, "attach %s --mode xdp", self->uplink);
	ASSERT_CLI(&o, "rule add %s mac %s port %u", self->uplink, MAC_A,
		   g.port.id);
	ASSERT_SENT(&after, 0, FRAMES);
	ASSERT_GUEST_GOT(&g, delivered + FRAMES);
	WRITE_ONCE(g.rxg->expect_frames, delivered + FRAMES);
	ASSERT_FINISHED(&g, 1);
	rx_vm_free(&g);
	ASSERT_MODULE_IDLE(self->ctl);
}

TEST_HARNESS_MAIN
