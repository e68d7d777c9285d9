// SPDX-License-Identifier: GPL-2.0
/*
 * Test hooks, off unless the module is loaded with test_hooks=1.
 *
 * /sys/kernel/debug/kvm-pageflip/hold lets a test do what a kvm_vcpu_map()
 * user or a stray pin would do: hold an extra reference on the page that
 * currently backs a slot.  Writing "FD SLOT" (FD a region fd of the writing
 * process) takes such a reference; writing "release" drops them all.  The
 * quarantine is tested with it.
 *
 * /sys/kernel/debug/kvm-pageflip/iommu checks NIC-side isolation: writing
 * "FD IFINDEX [FIRST_IOVA PAGES]" (FD a region fd of the writer) looks up
 * every IOVA of the range (default: the 256 MiB below 4 GiB) in the IOMMU
 * domain of the device and counts how many translate, and how many of the
 * region's slots hold a page that one of them translates to.  Reading the
 * file gives "mapped=N slots_mapped=M slots=S" for the last check.
 *
 * /sys/kernel/debug/kvm-pageflip/inject queues test frames to a port as a
 * NIC driver would hand them over: writing "PORT_ID LEN COUNT" queues COUNT
 * frames of LEN bytes, each in fresh pages of which the module is the only
 * owner, every byte of the N-th frame N & 0xff.  The benchmark uses it to
 * compare flipping and copying on frames of every size.
 *
 * Nothing here is reachable otherwise.
 */
#include <linux/debugfs.h>
#include <linux/if_ether.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/sizes.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <net/net_namespace.h>
#include "debug.h"
#include "iommu.h"
#include "pool.h"
#include "port.h"
#include "region.h"

static bool test_hooks;
module_param(test_hooks, bool, 0444);
MODULE_PARM_DESC(test_hooks, "Create the debugfs test hooks (default off)");

#define KPF_DEBUG_MAX_HELD 64

static struct dentry *kpf_debug_dir;

static struct {
	struct mutex lock; /* protects held[] and nr_held */
	struct page *held[KPF_DEBUG_MAX_HELD];
	unsigned int nr_held;
} kpf_debug = {
	.lock = __MUTEX_INITIALIZER(kpf_debug.lock),
};

/* Copy a write of @count bytes into @buf as a string; -EINVAL if too long. */
static int kpf_debug_read_line(char *buf, size_t size, const char __user *ubuf,
			       size_t count)
{
	if (count >= size)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	return 0;
}

static void kpf_debug_release_all(void)
{
	mutex_lock(&kpf_debug.lock);
	while (kpf_debug.nr_held)
		put_page(kpf_debug.held[--kpf_debug.nr_held]);
	mutex_unlock(&kpf_debug.lock);
}

static int kpf_debug_hold(int fd, u32 slot)
{
	struct kpf_region *region;
	struct file *file;
	int ret = 0;

	file = fget(fd);
	if (!file)
		return -EBADF;
	region = kpf_region_from_file(file);
	if (!region || slot >= region->nr_slots) {
		ret = -EINVAL;
		goto out_fput;
	}

	mutex_lock(&kpf_debug.lock);
	if (kpf_debug.nr_held == KPF_DEBUG_MAX_HELD) {
		ret = -ENOSPC;
	} else {
		mutex_lock(&region->lock);
		get_page(region->slots[slot]->page);
		kpf_debug.held[kpf_debug.nr_held++] = region->slots[slot]->page;
		mutex_unlock(&region->lock);
	}
	mutex_unlock(&kpf_debug.lock);
out_fput:
	fput(file);
	return ret;
}

static ssize_t kpf_debug_hold_write(struct file *file, const char __user *ubuf,
				    size_t count, loff_t *ppos)
{
	char buf[32];
	int fd, ret;
	u32 slot;

	ret = kpf_debug_read_line(buf, sizeof(buf), ubuf, count);
	if (ret)
		return ret;

	if (sysfs_streq(buf, "release")) {
		kpf_debug_release_all();
		return count;
	}
	if (sscanf(buf, "%d %u", &fd, &slot) != 2)
		return -EINVAL;
	ret = kpf_debug_hold(fd, slot);
	return ret ? ret : count;
}

static const struct file_operations kpf_debug_hold_fops = {
	.owner = THIS_MODULE,
	.write = kpf_debug_hold_write,
	.llseek = noop_llseek,
};

static struct {
	struct mutex lock; /* protects result */
	char result[96];
} kpf_debug_iommu = {
	.lock = __MUTEX_INITIALIZER(kpf_debug_iommu.lock),
};

/* Count the region's slots whose page @pfns holds. */
static u32 kpf_debug_slots_in(struct kpf_region *region, struct xarray *pfns)
{
	u32 i, n = 0;

	mutex_lock(&region->lock);
	for (i = 0; i < region->nr_slots; i++)
		n += !!xa_load(pfns, page_to_pfn(region->slots[i]->page));
	mutex_unlock(&region->lock);
	return n;
}

static int kpf_debug_iommu_check(int fd, int ifindex, u64 first, u64 pages)
{
	struct kpf_region *region;
	struct net_device *dev;
	unsigned long mapped;
	struct xarray pfns;
	struct file *file;
	u32 in_slots;
	int ret;

	file = fget(fd);
	if (!file)
		return -EBADF;
	region = kpf_region_from_file(file);
	dev = region ? dev_get_by_index(&init_net, ifindex) : NULL;
	if (!dev) {
		ret = region ? -ENODEV : -EINVAL;
		goto out_fput;
	}

	xa_init(&pfns);
	ret = kpf_iommu_scan(dev, first, pages, &pfns, &mapped);
	if (!ret) {
		in_slots = kpf_debug_slots_in(region, &pfns);
		mutex_lock(&kpf_debug_iommu.lock);
		snprintf(kpf_debug_iommu.result, sizeof(kpf_debug_iommu.result),
			 "mapped=%lu slots_mapped=%u slots=%u\n", mapped,
			 in_slots, region->nr_slots);
		mutex_unlock(&kpf_debug_iommu.lock);
	}
	xa_destroy(&pfns);
	dev_put(dev);
out_fput:
	fput(file);
	return ret;
}

static ssize_t kpf_debug_iommu_write(struct file *file, const char __user *ubuf,
				     size_t count, loff_t *ppos)
{
	u64 first = SZ_4G - SZ_256M, pages = SZ_256M / PAGE_SIZE;
	char buf[64];
	int fd, ifindex, n, ret;

	ret = kpf_debug_read_line(buf, sizeof(buf), ubuf, count);
	if (ret)
		return ret;
	n = sscanf(buf, "%d %d %llx %llu", &fd, &ifindex, &first, &pages);
	if (n != 2 && n != 4)
		return -EINVAL;
	ret = kpf_debug_iommu_check(fd, ifindex, first, pages);
	return ret ? ret : count;
}

static ssize_t kpf_debug_iommu_read(struct file *file, char __user *ubuf,
				    size_t count, loff_t *ppos)
{
	char buf[sizeof(kpf_debug_iommu.result)];

	mutex_lock(&kpf_debug_iommu.lock);
	memcpy(buf, kpf_debug_iommu.result, sizeof(buf));
	mutex_unlock(&kpf_debug_iommu.lock);
	return simple_read_from_buffer(ubuf, count, ppos, buf, strlen(buf));
}

static const struct file_operations kpf_debug_iommu_fops = {
	.owner = THIS_MODULE,
	.write = kpf_debug_iommu_write,
	.read = kpf_debug_iommu_read,
	.llseek = default_llseek,
};

static ssize_t kpf_debug_inject_write(struct file *file,
				      const char __user *ubuf, size_t count,
				      loff_t *ppos)
{
	u32 port_id, len, nr;
	char buf[48];
	int ret;

	ret = kpf_debug_read_line(buf, sizeof(buf), ubuf, count);
	if (ret)
		return ret;
	if (sscanf(buf, "%u %u %u", &port_id, &len, &nr) != 3 || !len ||
	    len > KPF_COPYBREAK_MAX + ETH_HLEN || nr > KPF_PORT_QUEUE_LEN)
		return -EINVAL;
	ret = kpf_port_inject(port_id, len, nr);
	return ret ? ret : count;
}

static const struct file_operations kpf_debug_inject_fops = {
	.owner = THIS_MODULE,
	.write = kpf_debug_inject_write,
	.llseek = noop_llseek,
};

/**
 * kpf_debug_init() - create the test hooks when test_hooks is set
 *
 * Debugfs failures are not fatal: the hooks are then simply absent.
 */
void kpf_debug_init(void)
{
	if (!test_hooks)
		return;
	kpf_debug_dir = debugfs_create_dir("kvm-pageflip", NULL);
	debugfs_create_file("hold", 0200, kpf_debug_dir, NULL,
			    &kpf_debug_hold_fops);
	debugfs_create_file("iommu", 0600, kpf_debug_dir, NULL,
			    &kpf_debug_iommu_fops);
	debugfs_create_file("inject", 0200, kpf_debug_dir, NULL,
			    &kpf_debug_inject_fops);
}

/**
 * kpf_debug_uninit() - remove the hooks and drop every reference they hold
 */
void kpf_debug_uninit(void)
{
	debugfs_remove(kpf_debug_dir);
	kpf_debug_release_all();
}
