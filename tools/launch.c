// SPDX-License-Identifier: GPL-2.0
/*
 * The qemu command of the kvm-pageflip CLI: start QEMU with the
 * kvm-pageflip device without giving QEMU any privilege.
 *
 *   kvm-pageflip qemu --uplink DEV [--user USER] -- QEMU [QEMU ARGS]
 *
 * The CLI opens what needs privilege (the control node, whose fd carries
 * its opener's CAP_NET_ADMIN into the module's rule ioctls, and an
 * AF_PACKET socket bound to DEV, which needs CAP_NET_RAW to create but not
 * to use), leaves both open across exec, adds their numbers to the
 * `-device kvm-pageflip,...` option, drops to USER and execs QEMU.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kvm-pageflip.h"

#define DEVICE_DRIVER "kvm-pageflip"

/* A file descriptor that survives exec. */
static void keep_open(int fd, const char *what)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
		die("%s: fcntl: %s", what, strerror(errno));
}

/* Refuses an uplink the module is not attached to, before QEMU starts. */
static void check_attached(const char *dev, unsigned int ifindex)
{
	static const struct errno_text texts[] = {
		{ ENOENT, "not attached (see 'kvm-pageflip attach')" }, {}
	};
	struct kpf_list_rules list = {
		.size = sizeof(list),
		.ifindex = ifindex,
	};
	int err;

	err = kpf_ioctl(KPF_LIST_RULES, &list);
	if (err)
		die_errno(dev, err, texts);
}

static int open_tx_socket(const char *dev, unsigned int ifindex)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_ifindex = ifindex,
	};
	int fd;

	/* Protocol 0: the socket only sends, it receives nothing. */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		die("AF_PACKET socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		die("binding an AF_PACKET socket to %s: %s", dev,
		    strerror(errno));
	return fd;
}

/* Does the comma-separated option list @opts have a key @key=? */
static bool has_key(const char *opts, const char *key)
{
	size_t len = strlen(key);
	const char *p = opts;

	while (p) {
		if (!strncmp(p, key, len) && p[len] == '=')
			return true;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

static bool is_device_option(const char *arg)
{
	return !strcmp(arg, "-device") || !strcmp(arg, "--device");
}

/*
 * The value of the one `-device kvm-pageflip[,...]` in @argv, rewritten
 * with uplink (unless given), ctl-fd and tx-fd.  Several such devices, or
 * fds already given, are refused: the fds belong to one device.
 */
static void add_fds(int argc, char **argv, const char *dev, int ctl_fd,
		    int tx_fd)
{
	char *opts, *found = NULL;
	int i, where = -1;
	size_t len;

	for (i = 1; i + 1 < argc; i++) {
		if (!is_device_option(argv[i]))
			continue;
		opts = argv[i + 1];
		len = strlen(DEVICE_DRIVER);
		if (strncmp(opts, DEVICE_DRIVER, len) ||
		    (opts[len] != '\0' && opts[len] != ','))
			continue;
		if (found)
			die("more than one -device %s: start one QEMU per device",
			    DEVICE_DRIVER);
		found = opts;
		where = i + 1;
	}
	if (!found)
		usage_error("no '-device %s' in the QEMU command line",
			    DEVICE_DRIVER);
	if (has_key(found, "ctl-fd") || has_key(found, "tx-fd"))
		usage_error("-device %s: ctl-fd and tx-fd are the launcher's",
			    DEVICE_DRIVER);
	len = strlen(found) + strlen(dev) + 64;
	opts = malloc(len);
	if (!opts)
		die("out of memory");
	snprintf(opts, len, "%s%s%s,ctl-fd=%d,tx-fd=%d", found,
		 has_key(found, "uplink") ? "" : ",uplink=",
		 has_key(found, "uplink") ? "" : dev, ctl_fd, tx_fd);
	argv[where] = opts;
}

/*
 * The groups of @name with primary group @gid, from /etc/group.  The CLI is
 * linked statically, so it reads the files itself instead of going through
 * NSS: --user takes local users.
 */
static gid_t *local_groups(const char *name, gid_t gid, size_t *n)
{
	size_t room = 16;
	gid_t *groups = malloc(room * sizeof(*groups));
	struct group *gr;
	char **m;
	FILE *f;

	if (!groups)
		die("out of memory");
	groups[0] = gid;
	*n = 1;
	f = fopen("/etc/group", "re");
	if (!f)
		return groups;
	while ((gr = fgetgrent(f))) {
		for (m = gr->gr_mem; *m && strcmp(*m, name); m++)
			;
		if (!*m || gr->gr_gid == gid)
			continue;
		if (*n == room) {
			room *= 2;
			groups = realloc(groups, room * sizeof(*groups));
			if (!groups)
				die("out of memory");
		}
		groups[(*n)++] = gr->gr_gid;
	}
	fclose(f);
	return groups;
}

/* Becomes @user (its uid, gid and groups); every capability goes. */
static void drop_to(const char *user)
{
	struct passwd *pw = NULL;
	gid_t *groups;
	size_t n;
	uid_t uid;
	gid_t gid;
	FILE *f;

	f = fopen("/etc/passwd", "re");
	if (!f)
		die("/etc/passwd: %s", strerror(errno));
	while ((pw = fgetpwent(f)) && strcmp(pw->pw_name, user))
		;
	if (!pw)
		die("user %s: not in /etc/passwd", user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	groups = local_groups(user, gid, &n);
	fclose(f);
	if (setgroups(n, groups) || setgid(gid) || setuid(uid))
		die("becoming %s: %s", user, strerror(errno));
	if (uid && !setuid(0))
		die("becoming %s: could regain root", user);
	free(groups);
}

int cmd_qemu(const struct cmd_args *a)
{
	const char *dev = a->opt[0], *user = a->opt[1];
	unsigned int ifindex;
	int ctl_fd, tx_fd;

	if (!dev)
		usage_error("qemu: --uplink DEV is required");
	ifindex = if_nametoindex(dev);
	if (!ifindex)
		die("%s: %s", dev, strerror(errno));

	ctl_fd = ctl();
	check_attached(dev, ifindex);
	tx_fd = open_tx_socket(dev, ifindex);
	keep_open(ctl_fd, device);
	keep_open(tx_fd, "AF_PACKET socket");
	add_fds(a->argc, a->argv, dev, ctl_fd, tx_fd);
	if (user)
		drop_to(user);

	execvp(a->argv[0], a->argv);
	die("cannot run %s: %s", a->argv[0], strerror(errno));
}
