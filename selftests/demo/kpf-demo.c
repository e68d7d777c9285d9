// SPDX-License-Identifier: GPL-2.0
/*
 * kpf-demo: kvm-pageflip's main job, end to end.
 *
 * Three VMs, each bound to a region with one receive port, and a real NIC
 * of the test VM (virtio-net behind the emulated IOMMU) as the uplink, with
 * the XDP classifier loaded by the CLI.  Rules send
 *   VM A the frames for its MAC on VLAN 10 (an exact MAC+VLAN rule),
 *   VM B the frames for its MAC on any VLAN (a MAC-only rule),
 *   VM C all of VLAN 20 (a VLAN-only rule).
 * Frames for each come in from the other NIC on the QEMU hub.  The guests'
 * own code checks every frame it gets, byte by byte, and counts those
 * whose page was flipped into it.  The ports are set to flip whatever can
 * be flipped (copybreak 0), to show flipping; the module's default copies
 * (Documentation/performance.rst).
 *
 * The demo prints what each guest received, the CLI's view of rules and
 * ports, and exits non-zero if a guest saw anything but its own frames.
 */
#define _GNU_SOURCE
#include <net/if.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "kpf_rx.h"
#include "nic.h"

#define DEMO_FRAMES 24
#define DEMO_PAYLOAD 1200
#define DEMO_RING 32
#define DEMO_WAIT_MS 60000

struct demo_vm {
	const char *name;
	uint8_t mac[6];
	const char *rule; /* the CLI's words for its rule */
	uint32_t stream;
	uint8_t dst[6];
	uint16_t vlan; /* 0: untagged */
};

static struct demo_vm vms[] = {
	{ "A",
	  { 0x52, 0x54, 0x00, 0xaa, 0x00, 0x01 },
	  "mac 52:54:00:aa:00:01 vlan 10",
	  0,
	  { 0x52, 0x54, 0x00, 0xaa, 0x00, 0x01 },
	  10 },
	{ "B",
	  { 0x52, 0x54, 0x00, 0xbb, 0x00, 0x02 },
	  "mac 52:54:00:bb:00:02",
	  1,
	  { 0x52, 0x54, 0x00, 0xbb, 0x00, 0x02 },
	  0 },
	{ "C", { 0 }, "vlan 20", 2, { 0x52, 0x54, 0x00, 0xcc, 0x0c, 0xcc }, 20 },
};

#define NR_VMS ARRAY_SIZE(vms)

static struct rx_vm rx[NR_VMS];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Runs a shell command, echoing it first as a user would type it.  With
 * posix_spawn(), which shares the address space until the exec: a fork()
 * would make the guests' memory copy-on-write for nothing.
 */
static int sh(const char *fmt, ...)
{
	char cmd[256], *argv[] = { "sh", "-c", cmd, NULL };
	int ret, status;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	printf("# %s\n", cmd);
	fflush(stdout);
	ret = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
	if (ret || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int fail(const char *what)
{
	printf("kpf-demo: %s\n", what);
	return 1;
}

int main(void)
{
	char uplink[IF_NAMESIZE], tx_name[IF_NAMESIZE], why[128];
	struct frame_spec spec = { 0 };
	unsigned int i, bad = 0, failed;
	struct frame_tx tx;
	uint8_t tx_mac[6];
	struct ucall uc;
	int ctl, ret = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!nic_from_env(NIC_ENV_XDP, uplink, sizeof(uplink), why,
			  sizeof(why)) ||
	    !nic_from_env(NIC_ENV_TX, tx_name, sizeof(tx_name), why,
			  sizeof(why)))
		return fail(why);
	if (nic_uplink_prepare(uplink) ||
	    nic_sender_prepare(tx_name, tx_mac, 10000))
		return fail("the NICs could not be set up");
	ctl = kpf_open();
	if (ctl < 0)
		return fail("cannot open " KPF_DEV);

	printf("kpf-demo: three VMs receive frames from %s (virtio-net, XDP) "
	       "by MAC and VLAN\n\n",
	       uplink);
	for (i = 0; i < NR_VMS; i++) {
		struct demo_vm *d = &vms[i];

		if (rx_vm_create(ctl, &rx[i], d->mac[0] ? d->mac : NULL,
				 DEMO_RING, DEMO_RING, 0))
			return fail("a VM could not be created");
		rx_vm_expect(&rx[i], d->stream, d->vlan ? RXG_TAG(d->vlan) : 0,
			     DEMO_FRAMES);
		rx[i].rxg->flags |= RXG_F_SCRUBBED;
		if (!rx_vm_start(&rx[i], DEMO_WAIT_MS, DEMO_WAIT_MS))
			return fail("a guest did not post its slots");
		printf("VM %s: binding %u, port %u, %u slots posted\n", d->name,
		       rx[i].region.binding_id, rx[i].port.id, DEMO_RING);
	}
	printf("\n");

	if (sh("kvm-pageflip attach %s", uplink))
		return fail("attach failed");
	for (i = 0; i < NR_VMS; i++)
		if (sh("kvm-pageflip rule add %s %s port %u", uplink,
		       vms[i].rule, rx[i].port.id))
			ret = fail("rule add failed");
	sh("kvm-pageflip rules");
	printf("\n");

	if (!ret && frame_tx_open(&tx, if_nametoindex(tx_name)))
		ret = fail("cannot send on the sender NIC");
	for (i = 0; !ret && i < NR_VMS; i++) {
		memcpy(spec.dst, vms[i].dst, 6);
		memcpy(spec.src, tx_mac, 6);
		memset(spec.tags, 0, sizeof(spec.tags));
		if (vms[i].vlan) {
			spec.tags[0].tpid = FRAME_TPID_8021Q;
			spec.tags[0].tci = vms[i].vlan;
		}
		spec.stream = vms[i].stream;
		spec.seq = 0;
		spec.payload = DEMO_PAYLOAD;
		printf("sending %u frames of %u bytes for VM %s\n", DEMO_FRAMES,
		       FRAME_LEN(vms[i].vlan ? 1 : 0, DEMO_PAYLOAD),
		       vms[i].name);
		if (frame_send_seq(&tx, &spec, DEMO_FRAMES))
			ret = fail("sending failed");
	}
	if (!ret)
		frame_tx_close(&tx);
	for (i = 0; !ret && i < NR_VMS; i++)
		rx_vm_wait(&rx[i], DEMO_FRAMES, DEMO_WAIT_MS);

	failed = rx_vms_finish(rx, NR_VMS, DEMO_WAIT_MS, &bad, &uc);
	printf("\n");
	for (i = 0; i < NR_VMS; i++) {
		struct rxg *r = rx[i].rxg;

		printf("VM %s: %lu frames, every byte as sent, in order; %lu "
		       "flipped into it, %lu scrubbed pages checked\n",
		       vms[i].name, (unsigned long)r->frames,
		       (unsigned long)r->flipped,
		       (unsigned long)r->scrub_checked);
		if (r->frames != DEMO_FRAMES)
			ret = 1;
	}
	if (failed) {
		char text[256];

		ucall_describe(rx[bad].vm, &uc, text, sizeof(text));
		printf("VM %s failed: %s\n", vms[bad].name, text);
		ret = 1;
	}
	printf("\n");
	sh("kvm-pageflip ports");
	sh("kvm-pageflip detach %s", uplink);
	for (i = 0; i < NR_VMS; i++)
		rx_vm_free(&rx[i]);
	close(ctl);
	return ret;
}
