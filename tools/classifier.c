// SPDX-License-Identifier: GPL-2.0
/*
 * The XDP classifier of the CLI: xdp/kpf_xdp.bpf.o, linked into the binary
 * by xdp/kpf_xdp_obj.S and opened from memory with libbpf, so that the CLI
 * stays a single (static) file.
 *
 * Nothing is pinned.  The classifier is found again through the uplink:
 * the XDP program id on the device, the program's name and its map ids,
 * the map named kpf_rules among them.
 *
 * libbpf's messages are kept out of stderr (every error of the CLI is one
 * line) unless -v is given; the kernel's extack message of a failed attach
 * is kept for the error line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "classifier.h"
#include "kvm-pageflip.h"
#include "xdp/kpf_xdp.h"

/* xdp/kpf_xdp_obj.S */
extern const char kpf_xdp_obj[], kpf_xdp_obj_end[];

static char kernel_message[256];

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	static const char extack[] = "libbpf: Kernel error message: ";
	char line[sizeof(kernel_message) + sizeof(extack) - 1];

	if (verbose)
		return vfprintf(stderr, fmt, ap);
	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (!strncmp(line, extack, strlen(extack))) {
		snprintf(kernel_message, sizeof(kernel_message), "%s",
			 line + strlen(extack));
		kernel_message[strcspn(kernel_message, "\n")] = '\0';
	}
	return 0;
}

const char *classifier_kernel_message(void)
{
	return kernel_message;
}

static void __attribute__((constructor)) classifier_init(void)
{
	libbpf_set_print(libbpf_print);
}

static void key_of_rule(const struct kpf_rule *r, struct kpf_xdp_key *k)
{
	memset(k, 0, sizeof(*k));
	k->match = r->match;
	if (r->match & KPF_RULE_F_VLAN)
		k->vlan = r->vlan;
	if (r->match & KPF_RULE_F_MAC)
		memcpy(k->mac, r->mac, sizeof(k->mac));
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct kpf_xdp_key));
}

/* The fd of the map named @name among @prog_fd's maps, or -1. */
static int prog_map_fd(int prog_fd, const char *name)
{
	struct bpf_prog_info info = {};
	struct bpf_map_info minfo;
	uint32_t len = sizeof(info), mlen, i, nr, *ids;
	int fd = -1;

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -1;
	nr = info.nr_map_ids;
	ids = calloc(nr ? nr : 1, sizeof(*ids));
	if (!ids)
		return -1;
	/* Ask again for the ids only: other fields would be copied out. */
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = nr;
	info.map_ids = (uintptr_t)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		goto out;
	for (i = 0; i < nr && i < info.nr_map_ids && fd < 0; i++) {
		fd = bpf_map_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		memset(&minfo, 0, sizeof(minfo));
		mlen = sizeof(minfo);
		if (bpf_obj_get_info_by_fd(fd, &minfo, &mlen) ||
		    strcmp(minfo.name, name)) {
			close(fd);
			fd = -1;
		}
	}
out:
	free(ids);
	return fd;
}

/* Whether program @id is ours; if so @c holds its fds. */
static bool prog_is_ours(uint32_t id, struct classifier *c)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	int fd;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    strcmp(info.name, KPF_XDP_PROG))
		goto not_ours;
	c->rules_fd = prog_map_fd(fd, KPF_XDP_RULES_MAP);
	if (c->rules_fd < 0)
		goto not_ours;
	c->prog_fd = fd;
	c->prog_id = id;
	return true;

not_ours:
	close(fd);
	return false;
}

int classifier_find(unsigned int ifindex, struct classifier *c,
		    uint32_t *foreign_id)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	uint32_t ids[3], modes[3] = { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE,
				      XDP_FLAGS_HW_MODE };
	size_t i;

	memset(c, 0, sizeof(*c));
	c->prog_fd = -1;
	c->rules_fd = -1;
	*foreign_id = 0;
	if (bpf_xdp_query(ifindex, 0, &q))
		return -errno;
	ids[0] = q.drv_prog_id;
	ids[1] = q.skb_prog_id;
	ids[2] = q.hw_prog_id;
	for (i = 0; i < ARRAY_SIZE(ids); i++) {
		if (!ids[i])
			continue;
		if (prog_is_ours(ids[i], c)) {
			c->mode = modes[i];
			return 1;
		}
		*foreign_id = ids[i];
	}
	return 0;
}

void classifier_close(struct classifier *c)
{
	if (c->prog_fd >= 0)
		close(c->prog_fd);
	if (c->rules_fd >= 0)
		close(c->rules_fd);
	c->prog_fd = -1;
	c->rules_fd = -1;
}

struct bpf_object *classifier_load(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "kpf_xdp");
	struct bpf_object *obj;

	obj = bpf_object__open_mem(kpf_xdp_obj, kpf_xdp_obj_end - kpf_xdp_obj,
				   &opts);
	if (!obj)
		die("cannot open the built-in XDP classifier: %s",
		    strerror(errno));
	if (bpf_object__load(obj))
		die("cannot load the XDP classifier into the kernel: %s%s",
		    strerror(errno), verbose ? "" : " (-v shows libbpf's log)");
	return obj;
}

int classifier_attach(struct bpf_object *obj, unsigned int ifindex,
		      uint32_t target_ifindex, const struct kpf_rule *rules,
		      uint32_t nr_rules, uint32_t *prog_id)
{
	struct bpf_program *p;
	struct sync_result res;
	struct bpf_prog_info info = {};
	uint32_t key = 0, len = sizeof(info);
	int target_fd, rules_fd, prog_fd, err;

	p = bpf_object__find_program_by_name(obj, KPF_XDP_PROG);
	target_fd = bpf_object__find_map_fd_by_name(obj, KPF_XDP_TARGET_MAP);
	rules_fd = bpf_object__find_map_fd_by_name(obj, KPF_XDP_RULES_MAP);
	if (!p || target_fd < 0 || rules_fd < 0)
		return -ENOENT;
	prog_fd = bpf_program__fd(p);
	if (bpf_map_update_elem(target_fd, &key, &target_ifindex, BPF_ANY))
		return -errno;
	err = classifier_sync(rules_fd, rules, nr_rules, &res);
	if (err)
		return err;
	kernel_message[0] = '\0';
	err = bpf_xdp_attach(ifindex, prog_fd,
			     XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
			     NULL);
	if (err)
		return err;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) == 0)
		*prog_id = info.id;
	return 0;
}

int classifier_detach(unsigned int ifindex, const struct classifier *c)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = c->prog_fd);

	kernel_message[0] = '\0';
	return bpf_xdp_detach(ifindex, c->mode, &opts);
}

int classifier_sync(int rules_fd, const struct kpf_rule *rules, uint32_t n,
		    struct sync_result *res)
{
	struct kpf_xdp_key *want, *extra = NULL, key, next, *prev = NULL;
	uint32_t i, port, nr_extra = 0;
	int err = 0;

	memset(res, 0, sizeof(*res));
	want = calloc(n ? n : 1, sizeof(*want));
	if (!want)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		key_of_rule(&rules[i], &want[i]);
		if (bpf_map_lookup_elem(rules_fd, &want[i], &port))
			res->added++;
		else if (port != rules[i].port_id)
			res->updated++;
		else
			continue;
		if (bpf_map_update_elem(rules_fd, &want[i], &rules[i].port_id,
					BPF_ANY)) {
			err = -errno;
			goto out;
		}
	}
	res->rules = n;

	/* Collect the extra keys first: deleting restarts an iteration. */
	qsort(want, n, sizeof(*want), key_cmp);
	while (!bpf_map_get_next_key(rules_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bsearch(&key, want, n, sizeof(*want), key_cmp))
			continue;
		extra = reallocarray(extra, nr_extra + 1, sizeof(*extra));
		if (!extra) {
			err = -ENOMEM;
			goto out;
		}
		extra[nr_extra++] = key;
	}
	if (errno != ENOENT) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < nr_extra; i++) {
		if (bpf_map_delete_elem(rules_fd, &extra[i]) &&
		    errno != ENOENT) {
			err = -errno;
			goto out;
		}
		res->removed++;
	}
out:
	free(extra);
	free(want);
	return err;
}
