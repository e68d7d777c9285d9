// SPDX-License-Identifier: GPL-2.0
/*
 * NIC settings through ioctls: flags, MTU, MAC, VLAN stripping, VLAN
 * devices; and the XDP program of a NIC, through rtnetlink.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_vlan.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>

#include "nic.h"
#include "proc.h"

#define NIC_CARRIER_POLL_MS 20

int nic_from_env(const char *env, char *name, size_t size, char *why,
		 size_t why_size)
{
	const char *val = getenv(env);
	int ifindex;

	if (!val || !*val || !strcmp(val, "none")) {
		snprintf(why, why_size, "%s is not set: the VM has no such NIC",
			 env);
		return 0;
	}
	ifindex = if_nametoindex(val);
	if (!ifindex) {
		snprintf(why, why_size, "%s=%s: %s", env, val, strerror(errno));
		return 0;
	}
	snprintf(name, size, "%s", val);
	return ifindex;
}

/* ioctl @cmd on @ifr for interface @name, through a throwaway socket. */
static int nic_ioctl(const char *name, unsigned long cmd, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	if (ioctl(fd, cmd, ifr))
		ret = -errno;
	close(fd);
	return ret;
}

int nic_set_flags(const char *name, unsigned int set, unsigned int clear)
{
	struct ifreq ifr = { 0 };
	int ret = nic_ioctl(name, SIOCGIFFLAGS, &ifr);

	if (ret)
		return ret;
	ifr.ifr_flags = (ifr.ifr_flags | set) & ~clear;
	return nic_ioctl(name, SIOCSIFFLAGS, &ifr);
}

int nic_get_mtu(const char *name, int *mtu)
{
	struct ifreq ifr = { 0 };
	int ret = nic_ioctl(name, SIOCGIFMTU, &ifr);

	if (!ret)
		*mtu = ifr.ifr_mtu;
	return ret;
}

int nic_set_mtu(const char *name, int mtu)
{
	struct ifreq ifr = { .ifr_mtu = mtu };

	return nic_ioctl(name, SIOCSIFMTU, &ifr);
}

int nic_get_mac(const char *name, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int ret = nic_ioctl(name, SIOCGIFHWADDR, &ifr);

	if (!ret)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return ret;
}

/*
 * The legacy flags interface is enough here: ETH_FLAG_RXVLAN is
 * rx-vlan-offload on every supported kernel, and changing nothing (a NIC
 * that cannot strip) succeeds.
 */
int nic_vlan_strip_off(const char *name)
{
	struct ethtool_value val = { .cmd = ETHTOOL_GFLAGS };
	struct ifreq ifr = { .ifr_data = (void *)&val };
	int ret = nic_ioctl(name, SIOCETHTOOL, &ifr);

	if (ret || !(val.data & ETH_FLAG_RXVLAN))
		return ret;
	val.cmd = ETHTOOL_SFLAGS;
	val.data &= ~ETH_FLAG_RXVLAN;
	return nic_ioctl(name, SIOCETHTOOL, &ifr);
}

int nic_uplink_prepare(const char *name)
{
	int ret = nic_set_flags(name, IFF_UP | IFF_PROMISC, 0);

	return ret ? ret : nic_vlan_strip_off(name);
}

int nic_rx_packets(const char *name, uint64_t *n)
{
	char path[80], text[32];
	int ret;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/rx_packets",
		 name);
	ret = file_read(path, text, sizeof(text));
	if (ret)
		return ret;
	*n = strtoull(text, NULL, 10);
	return 0;
}

/*
 * The carrier itself, from sysfs: IFF_RUNNING follows it only once
 * linkwatch has run, up to a second later.
 */
static int nic_carrier(const char *name)
{
	char path[64], text[4];
	int ret;

	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", name);
	ret = file_read(path, text, sizeof(text));
	if (ret)
		return ret;
	return text[0] == '1';
}

int nic_wait_carrier(const char *name, unsigned int ms)
{
	struct timespec pause = { .tv_nsec = NIC_CARRIER_POLL_MS * 1000000L };
	unsigned int waited;
	int ret;

	for (waited = 0;; waited += NIC_CARRIER_POLL_MS) {
		ret = nic_carrier(name);
		if (ret)
			return ret < 0 ? ret : 0;
		if (waited >= ms)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
}

/* The attributes nested in IFLA_XDP of @ifla (@len bytes). */
static void nic_xdp_attrs(struct rtattr *ifla, int len, uint32_t *prog_id,
			  uint8_t *attached)
{
	struct rtattr *a;
	int alen;

	for (; RTA_OK(ifla, len); ifla = RTA_NEXT(ifla, len)) {
		if ((ifla->rta_type & NLA_TYPE_MASK) != IFLA_XDP)
			continue;
		alen = RTA_PAYLOAD(ifla);
		for (a = RTA_DATA(ifla); RTA_OK(a, alen);
		     a = RTA_NEXT(a, alen)) {
			if (a->rta_type == IFLA_XDP_ATTACHED)
				*attached = *(uint8_t *)RTA_DATA(a);
			else if (a->rta_type == IFLA_XDP_PROG_ID)
				*prog_id = *(uint32_t *)RTA_DATA(a);
		}
	}
}

int nic_xdp_query(int ifindex, uint32_t *prog_id, uint8_t *attached)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = { .nlmsg_len = sizeof(req),
			.nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST },
		.ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex },
	};
	static char buf[32768];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	int fd, ret = 0;
	ssize_t n;

	*prog_id = 0;
	*attached = XDP_ATTACHED_NONE;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	n = -1;
	if (send(fd, &req, sizeof(req), 0) == sizeof(req))
		n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		ret = -errno;
	} else if (!NLMSG_OK(nh, n)) {
		ret = -EPROTO;
	} else if (nh->nlmsg_type == NLMSG_ERROR) {
		ret = ((struct nlmsgerr *)NLMSG_DATA(nh))->error ?: -EPROTO;
	} else if (nh->nlmsg_type != RTM_NEWLINK) {
		ret = -EPROTO;
	} else {
		nic_xdp_attrs(IFLA_RTA(NLMSG_DATA(nh)), IFLA_PAYLOAD(nh),
			      prog_id, attached);
	}
	close(fd);
	return ret;
}

int nic_sender_prepare(const char *name, uint8_t mac[6], unsigned int ms)
{
	int ret = nic_set_flags(name, IFF_UP, 0);

	if (!ret)
		ret = nic_get_mac(name, mac);
	return ret ? ret : nic_wait_carrier(name, ms);
}

int nic_iommu_group(const char *name)
{
	char path[PATH_MAX + 16], dev[PATH_MAX], link[PATH_MAX], *slash;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/class/net/%s/device", name);
	if (!realpath(path, dev))
		return -ENOENT;
	while (strncmp(dev, "/sys/devices/", 13) == 0) {
		snprintf(path, sizeof(path), "%s/iommu_group", dev);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			slash = strrchr(link, '/');
			return atoi(slash ? slash + 1 : link);
		}
		slash = strrchr(dev, '/');
		*slash = '\0';
	}
	return -ENOENT;
}

/* A VLAN ioctl (8021q) on a throwaway socket. */
static int nic_vlan_ioctl(struct vlan_ioctl_args *args)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCSIFVLAN, args))
		ret = -errno;
	close(fd);
	return ret;
}

int nic_vlan_add(const char *lower, uint16_t vid, char *name, size_t size)
{
	struct vlan_ioctl_args args = {
		.cmd = SET_VLAN_NAME_TYPE_CMD,
		.u.name_type = VLAN_NAME_TYPE_RAW_PLUS_VID_NO_PAD,
	};
	int ret = nic_vlan_ioctl(&args);

	if (ret)
		return ret;
	args = (struct vlan_ioctl_args){ .cmd = ADD_VLAN_CMD, .u.VID = vid };
	snprintf(args.device1, sizeof(args.device1), "%s", lower);
	ret = nic_vlan_ioctl(&args);
	if (!ret)
		snprintf(name, size, "%s.%u", lower, vid);
	return ret;
}

int nic_vlan_del(const char *name)
{
	struct vlan_ioctl_args args = { .cmd = DEL_VLAN_CMD };

	snprintf(args.device1, sizeof(args.device1), "%s", name);
	return nic_vlan_ioctl(&args);
}

/* Room for an rtnetlink link request and its few attributes. */
struct nic_link_req {
	struct nlmsghdr nh;
	struct ifinfomsg ifi;
	char attrs[256];
};

/* Appends attribute @type of @len bytes at @data (may be NULL) to @req. */
static struct rtattr *nic_rta_add(struct nic_link_req *req, int type,
				  const void *data, size_t len)
{
	struct rtattr *rta =
		(struct rtattr *)((char *)req + NLMSG_ALIGN(req->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (data)
		memcpy(RTA_DATA(rta), data, len);
	req->nh.nlmsg_len =
		NLMSG_ALIGN(req->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
	return rta;
}

/* Sends @req on a throwaway rtnetlink socket; 0 or the kernel's errno. */
static int nic_link_request(struct nic_link_req *req)
{
	struct {
		struct nlmsghdr nh;
		struct nlmsgerr err;
	} ack;
	int fd, ret = 0;
	ssize_t n;

	req->nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	n = -1;
	if (send(fd, req, req->nh.nlmsg_len, 0) == (ssize_t)req->nh.nlmsg_len)
		n = recv(fd, &ack, sizeof(ack), 0);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n < sizeof(ack) || ack.nh.nlmsg_type != NLMSG_ERROR)
		ret = -EPROTO;
	else
		ret = ack.err.error;
	close(fd);
	return ret;
}

int nic_link_add(const char *name, const char *kind, int link)
{
	struct nic_link_req req = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
			.nlmsg_type = RTM_NEWLINK,
			.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL },
		.ifi = { .ifi_family = AF_UNSPEC },
	};
	struct rtattr *info;

	nic_rta_add(&req, IFLA_IFNAME, name, strlen(name) + 1);
	if (link)
		nic_rta_add(&req, IFLA_LINK, &link, sizeof(link));
	info = nic_rta_add(&req, IFLA_LINKINFO, NULL, 0);
	nic_rta_add(&req, IFLA_INFO_KIND, kind, strlen(kind));
	info->rta_len = (char *)&req + req.nh.nlmsg_len - (char *)info;
	return nic_link_request(&req);
}

int nic_link_del(const char *name)
{
	struct nic_link_req req = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
			.nlmsg_type = RTM_DELLINK },
		.ifi = { .ifi_family = AF_UNSPEC },
	};

	nic_rta_add(&req, IFLA_IFNAME, name, strlen(name) + 1);
	return nic_link_request(&req);
}

int nic_driver_unbind(const char *name, struct nic_driver *d)
{
	char path[PATH_MAX], real[PATH_MAX];
	const char *id;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(path, sizeof(path), "/sys/class/net/%s/device", name);
	if (!realpath(path, real) || strlen(real) >= sizeof(d->device))
		return -ENOENT;
	memcpy(d->device, real, strlen(real) + 1);
	snprintf(path, sizeof(path), "%s/driver", d->device);
	if (!realpath(path, real) || strlen(real) >= sizeof(d->driver))
		return -ENOENT;
	memcpy(d->driver, real, strlen(real) + 1);
	id = strrchr(d->device, '/') + 1;
	snprintf(path, sizeof(path), "%s/unbind", d->driver);
	return file_write(path, id);
}

/* The interface of device @device, in @name; 0 or -ENOENT. */
static int nic_of_device(const char *device, char *name, size_t size)
{
	char path[PATH_MAX];
	struct dirent *e;
	int ret = -ENOENT;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/net", device);
	dir = opendir(path);
	if (!dir)
		return -ENOENT;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= size)
			continue;
		memcpy(name, e->d_name, strlen(e->d_name) + 1);
		ret = 0;
		break;
	}
	closedir(dir);
	return ret;
}

int nic_driver_bind(const struct nic_driver *d, unsigned int ms)
{
	const char *id = strrchr(d->device, '/') + 1;
	struct timespec start, now;
	char name[IF_NAMESIZE], path[PATH_MAX];
	struct ifreq ifr = { 0 };
	int ret, ifindex;

	snprintf(path, sizeof(path), "%s/bind", d->driver);
	ret = file_write(path, id);
	if (ret)
		return ret;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while ((ret = nic_of_device(d->device, name, sizeof(name)))) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 +
			    (now.tv_nsec - start.tv_nsec) / 1000000 >=
		    ms)
			return -ETIMEDOUT;
		usleep(NIC_CARRIER_POLL_MS * 1000);
	}
	if (strcmp(name, d->name)) {
		/* A fresh interface is down: it can be renamed at once. */
		snprintf(ifr.ifr_newname, sizeof(ifr.ifr_newname), "%s",
			 d->name);
		ret = nic_ioctl(name, SIOCSIFNAME, &ifr);
		if (ret)
			return ret;
	}
	ifindex = if_nametoindex(d->name);
	return ifindex ? ifindex : -errno;
}
