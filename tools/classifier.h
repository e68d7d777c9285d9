/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The XDP classifier (xdp/kpf_xdp.bpf.c), built into the CLI: loading it on
 * an uplink, finding it there again without pinning, keeping its rule map
 * in step with the module's rules, and removing it.
 */
#ifndef KVM_PAGEFLIP_CLASSIFIER_H
#define KVM_PAGEFLIP_CLASSIFIER_H

#include <stdint.h>
#include <linux/kvm_pageflip.h>

struct bpf_object;

/* Our classifier as found attached to an uplink. */
struct classifier {
	uint32_t prog_id;
	uint32_t mode; /* XDP_FLAGS_DRV_MODE, _SKB_MODE or _HW_MODE */
	int prog_fd;
	int rules_fd; /* the kpf_rules map */
};

/* What classifier_sync() changed. */
struct sync_result {
	uint32_t rules; /* keys in the map afterwards: the module's rules */
	uint32_t added, updated, removed;
};

/*
 * Looks at the XDP programs on @ifindex.  Returns 1 and fills @c when one
 * is ours, 0 when none is, and then sets *@foreign_id to the id of another
 * program there (0 if there is none); a negative errno if the kernel could
 * not be asked.
 */
int classifier_find(unsigned int ifindex, struct classifier *c,
		    uint32_t *foreign_id);
void classifier_close(struct classifier *c);

/* Loads the built-in object into the kernel; dies on failure. */
struct bpf_object *classifier_load(void);

/*
 * Points the loaded @obj at the module's redirect target @target_ifindex,
 * fills its rule map from @rules and attaches it to @ifindex in native
 * mode.  0 with *@prog_id set, or a negative errno.
 */
int classifier_attach(struct bpf_object *obj, unsigned int ifindex,
		      uint32_t target_ifindex, const struct kpf_rule *rules,
		      uint32_t nr_rules, uint32_t *prog_id);

/* Removes @c from @ifindex (only if it is still the program there). */
int classifier_detach(unsigned int ifindex, const struct classifier *c);

/*
 * Makes the rule map @rules_fd hold exactly the keys of @rules: adds the
 * missing ones, rewrites changed ports, deletes the others.
 */
int classifier_sync(int rules_fd, const struct kpf_rule *rules, uint32_t n,
		    struct sync_result *res);

/* The kernel's own words for the last failed attach, or "". */
const char *classifier_kernel_message(void);

#endif /* KVM_PAGEFLIP_CLASSIFIER_H */
