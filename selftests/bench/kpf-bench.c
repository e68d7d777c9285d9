// SPDX-License-Identifier: GPL-2.0
/*
 * kpf-bench: flipping against copying, and batches against single frames.
 *
 * For every frame size (64 B, 1500 B, 4 KiB, 9000 B, a 64 KiB aggregate),
 * worker batch size (1, 16, 64: the module parameter rx_batch) and mode
 * (copy: copybreak 65536; flip: copybreak 0), one port of a fresh VM region
 * receives a stream of frames.  The frames are queued through the module's
 * test hook kvm-pageflip/inject: each lies in fresh whole pages of which the
 * module is the only owner, as a page_pool NIC driver hands them over, and
 * goes through the same worker as frames from a NIC.  The VMM plays the
 * guest: it keeps every data slot posted, and for each completion reads the
 * first and the last byte of the frame through its own mapping of the region
 * (after a flip that read faults the new page in, as a guest's access faults
 * it into EPT) and posts the slot again.
 *
 * Printed, all from this one run:
 *   - delivered frames per second, flip/copy, end to end (wall clock) and
 *     for the module's worker alone (its KPF_PORT_WORKER_NS counter);
 *   - bytes copied and bytes zeroed per delivered byte, in each mode;
 *   - invalidation calls per flipped page.
 * Under TCG the absolute rates say nothing about hardware; the ratios of one
 * run and the byte and call counts are what to read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kpf_rx.h"
#include "proc.h"

#define INJECT_PATH "/sys/kernel/debug/kvm-pageflip/inject"
#define RX_BATCH_PATH "/sys/module/kvm_pageflip/parameters/rx_batch"
#define RING_SIZE 1024
#define DATA_SLOTS RING_SIZE
/* Bytes moved per configuration, and the bounds on its frame count. */
#define BYTES_PER_RUN (8u << 20)
#define MIN_FRAMES 64
#define MAX_FRAMES 4096
/*
 * Frames queued ahead of delivery: half the port's queue (512), and half
 * the posted slots' worth.
 */
#define IN_FLIGHT_FRAMES 256
#define IN_FLIGHT_SLOTS (DATA_SLOTS / 2)

static const uint32_t sizes[] = { 64, 1500, 4096, 9000, 65536 };
static const uint32_t batches[] = { 1, 16, 64 };

struct result {
	uint64_t frames, bytes;
	uint64_t flipped, copied, bytes_copied, bytes_zeroed, invalidations;
	uint64_t worker_ns, wall_ns;
	uint64_t bad;
};

struct consumer {
	struct kpf_region *r;
	struct kpf_ring_hdr *hdr;
	uint32_t *avail;
	struct kpf_used_elem *used;
	uint32_t avail_idx, used_seen;
	uint64_t frames, bad;
	volatile int stop;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "kpf-bench: %s: %s\n", what, strerror(err));
	exit(1);
}

static void write_file(const char *path, const char *text)
{
	int ret = file_write(path, text);

	if (ret)
		die(path, -ret);
}

static void post(struct consumer *c, uint32_t slot)
{
	c->avail[c->avail_idx & (RING_SIZE - 1)] = slot;
	__atomic_store_n(&c->hdr->avail_idx, ++c->avail_idx, __ATOMIC_RELEASE);
}

/* The guest's part: read each frame's ends, post its slots again. */
static void *consume(void *arg)
{
	struct consumer *c = arg;
	const volatile uint8_t *p;
	struct kpf_used_elem e;
	uint32_t idx;

	while (!c->stop) {
		idx = __atomic_load_n(&c->hdr->used_idx, __ATOMIC_ACQUIRE);
		if (idx == c->used_seen) {
			sched_yield();
			continue;
		}
		while (c->used_seen != idx) {
			e = c->used[c->used_seen++ & (RING_SIZE - 1)];
			p = (const volatile uint8_t *)c->r->map +
			    (uint64_t)e.slot * PAGE_SIZE + e.offset;
			/* Every byte of an injected frame is the same. */
			if (p[0] != p[e.len - 1])
				c->bad++;
			if (!(e.flags & KPF_USED_F_MORE))
				c->frames++;
			post(c, e.slot);
		}
	}
	return NULL;
}

static uint64_t counter(const struct kpf_port_info *i, enum kpf_port_counter c)
{
	return i->counters[c];
}

static void run_one(int ctl, uint32_t size, bool flip, struct result *res)
{
	uint32_t frames = BYTES_PER_RUN / size, queued = 0, n, i;
	uint32_t in_flight =
		IN_FLIGHT_SLOTS / ((size + PAGE_SIZE - 1) / PAGE_SIZE);

	if (in_flight > IN_FLIGHT_FRAMES)
		in_flight = IN_FLIGHT_FRAMES;
	struct kpf_region_add_port ap = { .size = sizeof(ap) };
	struct kpf_port_info info;
	struct consumer c = { 0 };
	struct kpf_region r;
	struct kvm_vm *vm;
	pthread_t thread;
	uint64_t start;
	char cmd[64];
	int ret;

	frames = frames < MIN_FRAMES ? MIN_FRAMES : frames;
	frames = frames > MAX_FRAMES ? MAX_FRAMES : frames;

	vm = vm_create();
	ret = kpf_region_attach(ctl, vm, KPF_RING_PAGES(RING_SIZE) + DATA_SLOTS,
				KPF_REGION_MEMSLOT, KPF_REGION_GPA, &r);
	if (ret)
		die("region", -ret);
	ap.ring_slot = 0;
	ap.ring_size = RING_SIZE;
	ap.kick_fd = -1;
	ap.irq_fd = -1;
	ap.copybreak = flip ? 0 : KPF_COPYBREAK_MAX;
	if (ioctl(r.fd, KPF_REGION_ADD_PORT, &ap))
		die("KPF_REGION_ADD_PORT", errno);

	c.r = &r;
	c.hdr = r.map;
	c.avail = (uint32_t *)((char *)r.map + c.hdr->avail_offset);
	c.used = (struct kpf_used_elem *)((char *)r.map + c.hdr->used_offset);
	for (i = 0; i < DATA_SLOTS; i++)
		post(&c, ap.out_ring_pages + i);
	pthread_create(&thread, NULL, consume, &c);

	start = now_ns();
	while (__atomic_load_n(&c.frames, __ATOMIC_RELAXED) < frames) {
		if (queued < frames &&
		    queued - __atomic_load_n(&c.frames, __ATOMIC_RELAXED) <
			    in_flight) {
			n = frames - queued < 32 ? frames - queued : 32;
			n = n < in_flight ? n : in_flight;
			snprintf(cmd, sizeof(cmd), "%u %u %u", ap.out_port_id,
				 size, n);
			write_file(INJECT_PATH, cmd);
			queued += n;
			continue;
		}
		ret = kpf_port_info(ctl, ap.out_port_id, &info);
		if (ret)
			die("KPF_LIST_PORTS", -ret);
		/* Drops would stall the count: give up and say so. */
		if (counter(&info, KPF_PORT_DELIVERED) < queued &&
		    counter(&info, KPF_PORT_DROP_NO_BUFFER) +
				    counter(&info, KPF_PORT_DROP_QUEUE_FULL) >
			    0) {
			fprintf(stderr, "kpf-bench: frames dropped\n");
			res->bad++;
			break;
		}
		sched_yield();
	}
	res->wall_ns += now_ns() - start;
	c.stop = 1;
	pthread_join(thread, NULL);

	ret = kpf_port_info(ctl, ap.out_port_id, &info);
	if (ret)
		die("KPF_LIST_PORTS", -ret);
	res->frames += counter(&info, KPF_PORT_DELIVERED);
	res->bytes += counter(&info, KPF_PORT_RX_BYTES);
	res->flipped += counter(&info, KPF_PORT_PAGES_FLIPPED);
	res->copied += counter(&info, KPF_PORT_COPIED);
	res->bytes_copied += counter(&info, KPF_PORT_BYTES_COPIED);
	res->bytes_zeroed += counter(&info, KPF_PORT_BYTES_ZEROED);
	res->invalidations += counter(&info, KPF_PORT_INVALIDATIONS);
	res->worker_ns += counter(&info, KPF_PORT_WORKER_NS);
	res->bad += c.bad;

	kpf_region_release(&r);
	vm_free(vm);
}

static double ratio(double a, double b)
{
	return b ? a / b : 0;
}

static double rate(const struct result *r, uint64_t ns)
{
	return ns ? r->frames * 1e9 / ns : 0;
}

int main(void)
{
	uint32_t crossover = KPF_COPYBREAK_MAX;
	struct result copy, flip;
	uint64_t bad = 0;
	double worker;
	unsigned int s, b;
	char text[16];
	int ctl;

	ctl = kpf_open();
	if (ctl < 0)
		die(KPF_DEV, -ctl);
	if (access(INJECT_PATH, W_OK))
		die(INJECT_PATH " (load the module with test_hooks=1)", errno);

	printf("kpf-bench: one port, %u posted slots, the VMM as the guest; "
	       "ratios from this run (TCG: absolute rates mean nothing)\n\n",
	       DATA_SLOTS);
	printf("%-7s %5s | %8s %8s | %8s %8s | %9s %9s | %9s %9s | %8s\n",
	       "size", "batch", "copy/s", "flip/s", "flip/copy", "(worker)",
	       "copied/B", "(flip)", "zeroed/B", "(flip)", "inv/page");
	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (b = 0; b < ARRAY_SIZE(batches); b++) {
			snprintf(text, sizeof(text), "%u", batches[b]);
			write_file(RX_BATCH_PATH, text);
			memset(&copy, 0, sizeof(copy));
			memset(&flip, 0, sizeof(flip));
			run_one(ctl, sizes[s], false, &copy);
			run_one(ctl, sizes[s], true, &flip);
			printf("%-7u %5u | %8.0f %8.0f | %8.2f %8.2f | %9.3f %9.3f | %9.3f %9.3f | %8.3f\n",
			       sizes[s], batches[b], rate(&copy, copy.wall_ns),
			       rate(&flip, flip.wall_ns),
			       ratio(rate(&flip, flip.wall_ns),
				     rate(&copy, copy.wall_ns)),
			       ratio(rate(&flip, flip.worker_ns),
				     rate(&copy, copy.worker_ns)),
			       ratio(copy.bytes_copied, copy.bytes),
			       ratio(flip.bytes_copied, flip.bytes),
			       ratio(copy.bytes_zeroed, copy.bytes),
			       ratio(flip.bytes_zeroed, flip.bytes),
			       ratio(flip.invalidations, flip.flipped));
			fflush(stdout);
			worker = ratio(rate(&flip, flip.worker_ns),
				       rate(&copy, copy.worker_ns));
			if (batches[b] == 64 && worker >= 1.0 &&
			    sizes[s] < crossover)
				crossover = sizes[s];
			bad += copy.bad + flip.bad;
			if (!flip.flipped || flip.copied || copy.flipped) {
				printf("kpf-bench: size %u: flip mode flipped %llu and copied %llu, copy mode flipped %llu\n",
				       sizes[s],
				       (unsigned long long)flip.flipped,
				       (unsigned long long)flip.copied,
				       (unsigned long long)copy.flipped);
				bad++;
			}
		}
	}
	write_file(RX_BATCH_PATH, "64");
	printf("\nflip/copy: delivered frames per second, flip over copy (end "
	       "to end; in brackets the module's worker alone).\n"
	       "copied/B, zeroed/B: bytes copied or zeroed per delivered byte "
	       "(copy mode; in brackets flip mode).\n"
	       "inv/page: unmap_mapping_range() calls per flipped page.\n");
	if (crossover < KPF_COPYBREAK_MAX)
		printf("copy-break from this run: %u (the smallest size whose "
		       "worker flips at least as fast as it copies, batch 64)\n",
		       crossover);
	else
		printf("copy-break from this run: %u (no size flipped at least "
		       "as fast as it copied, batch 64: copy everything)\n",
		       crossover);
	if (bad) {
		printf("kpf-bench: %llu bad frames or runs\n",
		       (unsigned long long)bad);
		return 1;
	}
	return 0;
}
