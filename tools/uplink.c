// SPDX-License-Identifier: GPL-2.0
/*
 * The receive-path commands of the CLI: attach, detach, rule add, rule
 * del, rules and sync.
 *
 * The module's rule table is the one source of truth.  The rule map of the
 * XDP classifier on an uplink only says which unicast frames are worth
 * redirecting to the module; the tool rewrites it from KPF_LIST_RULES after
 * every rule add or del, on attach and on `sync`, and never edits it
 * otherwise.  Both changes go to the module first and to the map second:
 * for a moment after a delete the map may still redirect frames of the
 * deleted rule, which is safe because the module classifies every
 * redirected frame again and hands the host those no rule matches.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/libbpf.h>

#include "classifier.h"
#include "kvm-pageflip.h"

static const struct errno_text attach_errnos[] = {
	{ ENODEV, "no such device" },
	{ EINVAL, "not an Ethernet device, or not in the initial network "
		  "namespace" },
	{ EEXIST, "already attached" },
	{ EBUSY, "the device already has an rx_handler (a bridge, bond, "
		 "macvlan or team port)" },
	{}
};

static const struct errno_text rule_errnos[] = {
	{ EINVAL, "the module refused the key: a VLAN above 4094, a "
		  "multicast or all-zero MAC, or a non-zero unused key part" },
	{ EOPNOTSUPP, "the module does not know a match bit (is it older "
		      "than this tool?)" },
	{ EEXIST, "a rule with the same key exists on the uplink" },
	{ ENOSPC, "the uplink has 4096 rules, the most it can have" },
	{}
};

/* KPF_UPLINK_DETACH and KPF_LIST_RULES */
static const struct errno_text uplink_errnos[] = { { ENOENT, "not attached" },
						   {} };

static unsigned int dev_index(const char *name)
{
	unsigned int ifindex = if_nametoindex(name);

	if (!ifindex)
		die("%s: no such network device (%s)", name,
		    errno_name(errno == ENXIO ? ENODEV : errno));
	return ifindex;
}

/* Every rule of @ifindex (0: of every uplink); dies naming @dev. */
static struct kpf_rule *list_rules(unsigned int ifindex, const char *dev,
				   uint32_t *n)
{
	struct kpf_list_rules list = { .size = sizeof(list),
				       .ifindex = ifindex };
	struct kpf_rule *r;

	r = list_all(KPF_LIST_RULES, &list, &list.nr_entries,
		     (uint64_t *)&list.entries, sizeof(*r), dev, uplink_errnos);
	*n = list.nr_entries;
	return r;
}

/* Finds our classifier on @ifindex: 1 found, 0 not (*@foreign: another). */
static int find_classifier(unsigned int ifindex, const char *dev,
			   struct classifier *c, uint32_t *foreign)
{
	int ret = classifier_find(ifindex, c, foreign);

	if (ret < 0)
		die("%s: cannot query its XDP program: %s", dev,
		    strerror(-ret));
	return ret;
}

/*
 * Rewrites the rule map of the classifier on @ifindex from the module's
 * rules.  False when no classifier of ours is there.  On failure dies with
 * @done (what already happened) in the message.
 */
static bool sync_rules(unsigned int ifindex, const char *dev, const char *done,
		       struct sync_result *res)
{
	struct classifier c;
	struct kpf_rule *rules;
	uint32_t foreign, n;
	int err;

	if (!find_classifier(ifindex, dev, &c, &foreign))
		return false;
	rules = list_rules(ifindex, dev, &n);
	err = classifier_sync(c.rules_fd, rules, n, res);
	classifier_close(&c);
	free(rules);
	if (err)
		die("%s: %scannot sync the XDP rule map: %s; run '%s sync %s'",
		    dev, done, strerror(-err), prog, dev);
	return true;
}

/*
 * The classifier could not be attached to @dev: detach the uplink again
 * and say why, suggesting skb mode when the driver has no native XDP.
 */
static void __attribute__((noreturn))
attach_failed(unsigned int ifindex, const char *dev, int err)
{
	struct kpf_uplink_detach det = { .size = sizeof(det),
					 .ifindex = ifindex };
	const char *kmsg = classifier_kernel_message();
	int undo = kpf_ioctl(KPF_UPLINK_DETACH, &det);
	char left[160] = "; nothing was attached";

	if (undo)
		snprintf(
			left, sizeof(left),
			"; detaching the uplink again failed too (%s), run '%s detach %s'",
			errno_name(undo), prog, dev);
	if (err == -EOPNOTSUPP)
		die("%s: the driver has no native XDP support (EOPNOTSUPP)%s; use --mode skb (the rx_handler, which copies every frame)",
		    dev, left);
	die("%s: cannot attach the XDP classifier in native mode: %s%s%s (%s)%s",
	    dev, strerror(-err), *kmsg ? ": " : "", kmsg, errno_name(-err),
	    left);
}

int cmd_attach(const struct cmd_args *a)
{
	struct kpf_uplink_attach at = { .size = sizeof(at) };
	const char *dev = a->argv[0], *mode = a->opt[0] ? a->opt[0] : "xdp";
	struct bpf_object *obj = NULL;
	struct kpf_rule *rules;
	struct classifier c;
	uint32_t foreign, n, prog_id = 0;
	char what[IF_NAMESIZE + 16];
	bool xdp = !strcmp(mode, "xdp");
	int err;

	if (!xdp && strcmp(mode, "skb"))
		usage_error("attach: invalid mode '%s': expected xdp or skb",
			    mode);
	at.ifindex = dev_index(dev);
	ctl(); /* a missing module is the first thing to hear about */
	if (xdp) {
		if (find_classifier(at.ifindex, dev, &c, &foreign))
			die("%s: already has kvm-pageflip's XDP classifier (program %u); detach first",
			    dev, c.prog_id);
		if (foreign)
			die("%s: already has another XDP program (id %u); remove it, or use --mode skb",
			    dev, foreign);
		obj = classifier_load();
	}

	snprintf(what, sizeof(what), "attach %s", dev);
	err = kpf_ioctl(KPF_UPLINK_ATTACH, &at);
	if (err)
		die_errno(what, err, attach_errnos);

	if (xdp) {
		rules = list_rules(at.ifindex, dev, &n);
		err = classifier_attach(obj, at.ifindex, at.out_xdp_ifindex,
					rules, n, &prog_id);
		free(rules);
		if (err)
			attach_failed(at.ifindex, dev, err);
		/* The attachment holds the program and its maps. */
		bpf_object__close(obj);
	}

	if (json) {
		printf("{\"dev\": ");
		print_json_string(dev);
		printf(", \"ifindex\": %u, \"mode\": \"%s\", \"xdp_target_ifindex\": %u, \"prog_id\": %u}\n",
		       at.ifindex, mode, at.out_xdp_ifindex, prog_id);
	} else if (xdp) {
		printf("%s: attached; XDP program %u redirects to ifindex %u\n",
		       dev, prog_id, at.out_xdp_ifindex);
	} else {
		printf("%s: attached (rx_handler only)\n", dev);
	}
	return 0;
}

int cmd_detach(const struct cmd_args *a)
{
	const char *dev = a->argv[0];
	struct kpf_uplink_detach det = { .size = sizeof(det),
					 .ifindex = dev_index(dev) };
	char what[IF_NAMESIZE + 16];
	bool removed = false;
	struct classifier c;
	uint32_t foreign;
	int err;

	/* Stop redirecting first, so that no frame is redirected in vain. */
	if (find_classifier(det.ifindex, dev, &c, &foreign)) {
		err = classifier_detach(det.ifindex, &c);
		if (err)
			die("%s: cannot remove the XDP classifier (program %u): %s (%s); the uplink stays attached",
			    dev, c.prog_id, strerror(-err), errno_name(-err));
		classifier_close(&c);
		removed = true;
	}
	snprintf(what, sizeof(what), "detach %s", dev);
	err = kpf_ioctl(KPF_UPLINK_DETACH, &det);
	/* A classifier left behind (the module was reloaded) is gone now. */
	if (err == ENOENT && removed)
		return 0;
	if (err)
		die_errno(what, err, uplink_errnos);
	return 0;
}

/* Parses "52:54:00:12:34:56" (1 or 2 hex digits per byte). */
static bool parse_mac(const char *s, __u8 mac[6])
{
	unsigned int i, v;
	char *end;

	for (i = 0; i < 6; i++) {
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		      (*s >= 'A' && *s <= 'F')))
			return false;
		v = strtoul(s, &end, 16);
		if (end - s > 2 || *end != (i < 5 ? ':' : '\0'))
			return false;
		mac[i] = v;
		s = end + 1;
	}
	return true;
}

static void format_mac(const __u8 mac[6], char *buf, size_t size)
{
	snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
}

/* The rule's key as the command line gives it: "mac M vlan V". */
static void format_key(const struct kpf_rule *r, char *buf, size_t size)
{
	char mac[18], vlan[16];

	format_mac(r->mac, mac, sizeof(mac));
	snprintf(vlan, sizeof(vlan), "%u", r->vlan);
	snprintf(buf, size, "%s%s%s%s%s",
		 r->match & KPF_RULE_F_MAC ? "mac " : "",
		 r->match & KPF_RULE_F_MAC ? mac : "",
		 r->match == (KPF_RULE_F_MAC | KPF_RULE_F_VLAN) ? " " : "",
		 r->match & KPF_RULE_F_VLAN ? "vlan " : "",
		 !(r->match & KPF_RULE_F_VLAN) ? "" :
		 r->vlan == KPF_VLAN_UNTAGGED  ? "untagged" :
						 vlan);
}

/* DEV [mac MAC] [vlan VID|untagged] [port ID] into @r. */
static void parse_rule(const struct cmd_args *a, bool with_port,
		       struct kpf_rule *r)
{
	bool port = false;
	const char *kw, *val;
	int i;

	memset(r, 0, sizeof(*r));
	r->ifindex = dev_index(a->argv[0]);
	for (i = 1; i < a->argc; i += 2) {
		kw = a->argv[i];
		val = i + 1 < a->argc ? a->argv[i + 1] : NULL;
		if (!val)
			usage_error("'%s' needs a value", kw);
		if (!strcmp(kw, "mac") && !(r->match & KPF_RULE_F_MAC)) {
			if (!parse_mac(val, r->mac))
				usage_error(
					"invalid MAC '%s': expected six hex bytes like 52:54:00:12:34:56",
					val);
			if (r->mac[0] & 1)
				usage_error(
					"MAC %s is multicast: rules match unicast destinations (broadcast and multicast frames reach every port of their VLAN)",
					val);
			if (!memcmp(r->mac, "\0\0\0\0\0\0", 6))
				usage_error("MAC %s is all zero", val);
			r->match |= KPF_RULE_F_MAC;
		} else if (!strcmp(kw, "vlan") &&
			   !(r->match & KPF_RULE_F_VLAN)) {
			r->vlan = strcmp(val, "untagged") ?
					  parse_u32(val, "VLAN id", 0,
						    KPF_VLAN_MAX) :
					  KPF_VLAN_UNTAGGED;
			r->match |= KPF_RULE_F_VLAN;
		} else if (!strcmp(kw, "port") && with_port && !port) {
			r->port_id = parse_u32(val, "port id", 1, UINT32_MAX);
			port = true;
		} else {
			usage_error("unexpected or repeated '%s': expected %s",
				    kw,
				    with_port ? "mac, vlan and port" :
						"mac and vlan");
		}
	}
	if (!r->match)
		usage_error("a rule needs mac, vlan or both");
	if (with_port && !port)
		usage_error("a rule needs 'port ID'");
}

/*
 * rule add and rule del: change the module's rule table, then the XDP rule
 * map.  KPF_RULE_ADD and KPF_RULE_DEL take the same struct layout.
 */
static int rule_change(const struct cmd_args *a, bool add)
{
	union {
		struct kpf_rule_add add;
		struct kpf_rule_del del;
	} req = { .add.size = sizeof(req.add) };
	struct kpf_rule *rule = &req.add.rule;
	const char *dev = a->argv[0];
	struct sync_result res;
	char key[64], what[IF_NAMESIZE + 96];
	int err;

	_Static_assert(sizeof(req.add) == sizeof(req.del) &&
			       offsetof(struct kpf_rule_add, rule) ==
				       offsetof(struct kpf_rule_del, rule),
		       "KPF_RULE_ADD and KPF_RULE_DEL structs differ");
	parse_rule(a, add, rule);
	format_key(rule, key, sizeof(key));
	snprintf(what, sizeof(what), "rule %s %s %s", add ? "add" : "del", dev,
		 key);
	err = kpf_ioctl(add ? KPF_RULE_ADD : KPF_RULE_DEL, &req);
	if (err == ENODEV)
		die("%s: %s is not attached (ENODEV)", what, dev);
	if (err == ENOENT && add)
		die("%s: no port %u (ENOENT)", what, rule->port_id);
	if (err == ENOENT)
		die("%s: no such rule (ENOENT)", what);
	if (err)
		die_errno(what, err, rule_errnos);
	sync_rules(rule->ifindex, dev,
		   add ? "rule added, but " : "rule deleted, but ", &res);
	return 0;
}

int cmd_rule_add(const struct cmd_args *a)
{
	return rule_change(a, true);
}

int cmd_rule_del(const struct cmd_args *a)
{
	return rule_change(a, false);
}

static void print_rule(const struct kpf_rule *r, bool first)
{
	char dev[IF_NAMESIZE], mac[18] = "*", vlan[12] = "*";

	if (!if_indextoname(r->ifindex, dev))
		snprintf(dev, sizeof(dev), "if%u", r->ifindex);
	if (r->match & KPF_RULE_F_MAC)
		format_mac(r->mac, mac, sizeof(mac));
	if (r->match & KPF_RULE_F_VLAN)
		snprintf(vlan, sizeof(vlan), "%u", r->vlan);
	if (!json) {
		printf("%-16s %-17s  %-8s  %u\n", dev, mac,
		       r->match & KPF_RULE_F_VLAN &&
				       r->vlan == KPF_VLAN_UNTAGGED ?
			       "untagged" :
			       vlan,
		       r->port_id);
		return;
	}
	printf("%s\n  {\"dev\": ", first ? "" : ",");
	print_json_string(dev);
	printf(", \"ifindex\": %u, \"mac\": ", r->ifindex);
	if (r->match & KPF_RULE_F_MAC)
		printf("\"%s\"", mac);
	else
		printf("null");
	printf(", \"vlan\": %s, \"port\": %u}",
	       r->match & KPF_RULE_F_VLAN ? vlan : "null", r->port_id);
}

int cmd_rules(const struct cmd_args *a)
{
	unsigned int ifindex = a->argc ? dev_index(a->argv[0]) : 0;
	struct kpf_rule *rules;
	uint32_t i, n;

	rules = list_rules(ifindex, a->argc ? a->argv[0] : "rules", &n);
	if (json)
		printf("[");
	else
		printf("%-16s %-17s  %-8s  %s\n", "dev", "mac", "vlan", "port");
	for (i = 0; i < n; i++)
		print_rule(&rules[i], i == 0);
	if (json)
		printf("%s]\n", n ? "\n" : "");
	free(rules);
	return 0;
}

int cmd_sync(const struct cmd_args *a)
{
	const char *dev = a->argv[0];
	unsigned int ifindex = dev_index(dev);
	struct sync_result res;

	if (!sync_rules(ifindex, dev, "", &res))
		die("%s: has no kvm-pageflip XDP classifier (attached with --mode skb?)",
		    dev);
	if (json) {
		printf("{\"dev\": ");
		print_json_string(dev);
		printf(", \"rules\": %u, \"added\": %u, \"updated\": %u, \"removed\": %u}\n",
		       res.rules, res.added, res.updated, res.removed);
	} else {
		printf("%s: %u rules in the XDP map; %u added, %u updated, %u removed\n",
		       dev, res.rules, res.added, res.updated, res.removed);
	}
	return 0;
}
