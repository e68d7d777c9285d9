// SPDX-License-Identifier: GPL-2.0
/*
 * Ports: the receive queues of a region, and their rings in guest memory.
 *
 * A port turns a few slots of its region into control slots that hold its
 * rings (struct kpf_ring_hdr and the avail and used rings, see the uapi
 * header and Documentation/guest-protocol.rst).  The module maps them with
 * vmap() and reads only what the guest owns there: avail_idx, used_event and
 * the avail ring.  Everything it reads is validated once, into private
 * state; what it writes (used_idx, avail_event, error, the used ring) it
 * never reads back.
 *
 * Frames reach a port from softirq context through kpf_port_enqueue(),
 * which only queues them.  The port's worker (rx.c) delivers them in process
 * context.  The guest's doorbell eventfd wakes the worker too.
 *
 * Lifetime: a port belongs to its region.  Deleting it takes it out of the
 * id registry, removes its rules under rtnl_lock, waits for the receive path
 * to let go of it (synchronize_net()), stops the doorbell and the worker,
 * and only then frees the queue and gives the control slots back.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/netdevice.h>
#include <linux/poll.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/xarray.h>
#include <net/xdp.h>
#include "ioctl.h"
#include "pool.h"
#include "port.h"
#include "region.h"
#include "uplink.h"

/*
 * The default comes from make bench (Documentation/performance.rst): in the
 * test VM no frame size flipped at least as fast as it copied, so new ports
 * copy everything unless told otherwise.
 */
static unsigned int copybreak = KPF_COPYBREAK_MAX;
module_param(copybreak, uint, 0644);
MODULE_PARM_DESC(copybreak,
		 "Copy frames shorter than this; 65536: always (default)");

/*
 * Port ids.  An id is reserved (it resolves to nothing) before the port is
 * set up; the port is stored, and later erased, under rtnl_lock.
 */
static DEFINE_XARRAY_ALLOC1(kpf_ports);
static struct workqueue_struct *kpf_rx_wq;

/**
 * kpf_port_default_copybreak() - the copybreak module parameter, capped
 */
u32 kpf_port_default_copybreak(void)
{
	return min_t(u32, READ_ONCE(copybreak), KPF_COPYBREAK_MAX);
}

/**
 * kpf_port_id() - the module-wide id of @port
 * @port: the port
 */
u32 kpf_port_id(const struct kpf_port *port)
{
	return port->id;
}

/*
 * kpf_rx_item_free() - drop a queued frame
 * @item: an sk_buff, a tagged xdp_frame (kpf_rx_item_xdp()) or an injected
 *        test frame (kpf_rx_item_inject())
 */
static void kpf_rx_item_free(void *item)
{
	struct xdp_frame *frame = kpf_rx_item_to_xdp(item);
	struct kpf_rx_inject *inj = kpf_rx_item_to_inject(item);
	u32 i;

	if (frame) {
		xdp_return_frame(frame);
	} else if (inj) {
		for (i = 0; i < inj->nr_pages; i++)
			put_page(inj->pages[i]);
		kfree(inj);
	} else {
		kfree_skb(item);
	}
}

/* One test frame of @len bytes in fresh pages, every byte @seq & 0xff. */
static struct kpf_rx_inject *kpf_rx_inject_alloc(u32 len, u32 seq)
{
	u32 i, n = DIV_ROUND_UP(len, PAGE_SIZE);
	struct kpf_rx_inject *inj;

	inj = kzalloc(struct_size(inj, pages, n), GFP_KERNEL);
	if (!inj)
		return NULL;
	inj->len = len;
	for (i = 0; i < n; i++) {
		inj->pages[i] = alloc_page(GFP_KERNEL);
		if (!inj->pages[i]) {
			kpf_rx_item_free(kpf_rx_item_inject(inj));
			return NULL;
		}
		inj->nr_pages++;
		memset(page_address(inj->pages[i]), seq, PAGE_SIZE);
	}
	return inj;
}

/**
 * kpf_port_inject() - queue test frames to a port as if a NIC received them
 * @port_id: the port
 * @len: length of each frame, 1 .. 65536 + 14
 * @count: how many, at most KPF_PORT_QUEUE_LEN
 *
 * Only for the test hooks (debug.c) and the benchmark: each frame lies in
 * fresh whole pages of which the module is the only owner, as a page_pool
 * driver hands them over, and goes through the worker like any other.
 *
 * Return: 0, -ENOENT or -ENOMEM (frames queued so far stay queued).
 */
int kpf_port_inject(u32 port_id, u32 len, u32 count)
{
	struct kpf_rx_inject *inj;
	struct kpf_port *port;
	u32 i;

	for (i = 0; i < count; i++) {
		inj = kpf_rx_inject_alloc(len, i);
		if (!inj)
			return -ENOMEM;
		rtnl_lock();
		port = kpf_port_lookup_rtnl(port_id);
		if (port)
			kpf_port_enqueue(port, kpf_rx_item_inject(inj), len);
		rtnl_unlock();
		if (!port) {
			kpf_rx_item_free(kpf_rx_item_inject(inj));
			return -ENOENT;
		}
	}
	return 0;
}

/**
 * kpf_port_enqueue() - hand a frame to a port's worker
 * @port: the port, from the demux table under rcu_read_lock()
 * @item: the frame, which the port now owns
 * @len: its length, for the counters
 *
 * Called from the receive path in softirq context.  Never sleeps.
 */
void kpf_port_enqueue(struct kpf_port *port, void *item, unsigned int len)
{
	kpf_port_count(port, KPF_PORT_RX_FRAMES, 1);
	kpf_port_count(port, KPF_PORT_RX_BYTES, len);
	if (READ_ONCE(port->state) != KPF_PORT_STATE_RUNNING) {
		kpf_port_count(port, KPF_PORT_DROP_RING_ERROR, 1);
		kpf_rx_item_free(item);
		return;
	}
	if (ptr_ring_produce_bh(&port->queue, item)) {
		kpf_port_count(port, KPF_PORT_DROP_QUEUE_FULL, 1);
		kpf_rx_item_free(item);
		return;
	}
	queue_work(kpf_rx_wq, &port->work);
}

/**
 * kpf_port_schedule() - make the port's worker run (again)
 * @port: the port
 */
void kpf_port_schedule(struct kpf_port *port)
{
	queue_work(kpf_rx_wq, &port->work);
}

static int kpf_port_kick_wake(wait_queue_entry_t *wait, unsigned int mode,
			      int sync, void *key)
{
	struct kpf_port *port = container_of(wait, struct kpf_port, kick_wait);

	if (key_to_poll(key) & EPOLLIN) {
		kpf_port_count(port, KPF_PORT_KICKS, 1);
		queue_work(kpf_rx_wq, &port->work);
	}
	return 0;
}

static void kpf_port_kick_queue(struct file *file, wait_queue_head_t *wqh,
				poll_table *pt)
{
	struct kpf_port *port = container_of(pt, struct kpf_port, kick_pt);

	port->kick_wqh = wqh;
	add_wait_queue(wqh, &port->kick_wait);
}

/*
 * The eventfd behind @fd (named @what in messages), with a reference on its
 * file, and its context in @ctx when @ctx is not NULL.  ERR_PTR(-EBADF) or
 * ERR_PTR(-EINVAL) when @fd is not open or not an eventfd.
 */
static struct file *kpf_port_eventfd(int fd, const char *what,
				     struct eventfd_ctx **ctx)
{
	struct eventfd_ctx *c;
	struct file *file;

	file = fget(fd);
	if (!file) {
		kpf_user_err("port: %s %d is not open\n", what, fd);
		return ERR_PTR(-EBADF);
	}
	c = eventfd_ctx_fileget(file);
	if (IS_ERR(c)) {
		kpf_user_err("port: %s %d is not an eventfd\n", what, fd);
		fput(file);
		return ERR_PTR(-EINVAL);
	}
	if (ctx)
		*ctx = c;
	else
		eventfd_ctx_put(c);
	return file;
}

/* Take the doorbell eventfd @fd; kpf_port_kick_start() waits on it. */
static int kpf_port_kick_get(struct kpf_port *port, int fd)
{
	struct file *file = kpf_port_eventfd(fd, "kick_fd", NULL);

	if (IS_ERR(file))
		return PTR_ERR(file);
	port->kick_file = file;
	return 0;
}

/* Wait on the doorbell eventfd, if the port has one. */
static void kpf_port_kick_start(struct kpf_port *port)
{
	if (!port->kick_file)
		return;
	init_waitqueue_func_entry(&port->kick_wait, kpf_port_kick_wake);
	init_poll_funcptr(&port->kick_pt, kpf_port_kick_queue);
	vfs_poll(port->kick_file, &port->kick_pt);
}

/* Stop the doorbell and the worker; they stay stopped.  Idempotent. */
static void kpf_port_quiesce(struct kpf_port *port)
{
	if (port->kick_wqh)
		remove_wait_queue(port->kick_wqh, &port->kick_wait);
	port->kick_wqh = NULL;
	if (port->kick_file)
		fput(port->kick_file);
	port->kick_file = NULL;
	cancel_work_sync(&port->work);
}

static int kpf_port_irq_get(struct kpf_port *port, int fd)
{
	struct file *file = kpf_port_eventfd(fd, "irq_fd", &port->irq);

	if (IS_ERR(file))
		return PTR_ERR(file);
	fput(file);
	return 0;
}

/* Drop every frame still queued; the worker must not be running. */
static void kpf_port_purge(struct kpf_port *port)
{
	void *item;

	while ((item = ptr_ring_consume(&port->queue)))
		kpf_rx_item_free(item);
}

/* Free what kpf_port_create() set up; the port is in no list any more. */
static void kpf_port_free(struct kpf_port *port)
{
	kpf_port_quiesce(port);
	kpf_port_purge(port);
	ptr_ring_cleanup(&port->queue, NULL);
	if (port->irq)
		eventfd_ctx_put(port->irq);
	if (port->ring)
		vunmap(port->ring);
	kfree(port->posted);
	kvfree(port->batch);
	kfree(port);
}

/*
 * Map the control slots, check they are free, make them control slots and
 * lay out a fresh ring header.
 */
static int kpf_port_map_ring(struct kpf_port *port)
{
	struct kpf_region *region = port->region;
	struct page **pages;
	u32 i, slot;
	int ret = 0;

	pages = kmalloc_array(port->ring_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	mutex_lock(&region->lock);
	for (i = 0; i < port->ring_pages; i++) {
		slot = port->ring_slot + i;
		if (test_bit(slot, region->ctrl) ||
		    test_bit(slot, region->posted)) {
			kpf_user_err("port: slot %u is in use\n", slot);
			ret = -EBUSY;
			goto out_unlock;
		}
		pages[i] = region->slots[slot]->page;
	}
	port->ring = vmap(pages, port->ring_pages, VM_MAP, PAGE_KERNEL);
	if (!port->ring) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	for (i = 0; i < port->ring_pages; i++)
		set_bit(port->ring_slot + i, region->ctrl);
	memset(port->ring, 0, (size_t)port->ring_pages << PAGE_SHIFT);

	port->hdr = port->ring;
	port->avail = port->ring + PAGE_SIZE;
	port->used = port->ring + ((1 + KPF_RING_AVAIL_PAGES(port->ring_size))
				   << PAGE_SHIFT);
	port->hdr->magic = KPF_RING_MAGIC;
	port->hdr->version = KPF_RING_VERSION;
	port->hdr->ring_size = port->ring_size;
	port->hdr->avail_offset = (void *)port->avail - port->ring;
	port->hdr->used_offset = (void *)port->used - port->ring;
	port->hdr->port_id = port->id;
out_unlock:
	mutex_unlock(&region->lock);
	kfree(pages);
	return ret;
}

/*
 * Give back the slots the port holds (posted ones and, once mapped, the
 * control slots) and take it off the region's list.  The worker is stopped.
 */
static void kpf_port_unlist(struct kpf_port *port)
{
	struct kpf_region *region = port->region;
	u32 i;

	mutex_lock(&region->lock);
	for (i = 0; i < port->nr_posted; i++)
		clear_bit(port->posted[(port->posted_head + i) &
				       (port->ring_size - 1)],
			  region->posted);
	port->nr_posted = 0;
	for (i = 0; port->ring && i < port->ring_pages; i++)
		clear_bit(port->ring_slot + i, region->ctrl);
	list_del(&port->region_node);
	region->nr_ports--;
	mutex_unlock(&region->lock);
}

static int kpf_port_check(struct kpf_region *region,
			  const struct kpf_region_add_port *cmd)
{
	u32 pages;

	if (cmd->ring_size < 2 || cmd->ring_size > KPF_RING_SIZE_MAX ||
	    !is_power_of_2(cmd->ring_size)) {
		kpf_user_err("port: ring_size %u is not 2^n in 2..%u\n",
			     cmd->ring_size, KPF_RING_SIZE_MAX);
		return -EINVAL;
	}
	pages = KPF_RING_PAGES(cmd->ring_size);
	if (cmd->ring_slot >= region->nr_slots ||
	    pages > region->nr_slots - cmd->ring_slot) {
		kpf_user_err("port: rings at slot %u+%u exceed %u slots\n",
			     cmd->ring_slot, pages, region->nr_slots);
		return -EINVAL;
	}
	if (cmd->copybreak != KPF_COPYBREAK_DEFAULT &&
	    cmd->copybreak > KPF_COPYBREAK_MAX) {
		kpf_user_err("port: copybreak %u is above %u\n", cmd->copybreak,
			     KPF_COPYBREAK_MAX);
		return -EINVAL;
	}
	return 0;
}

/**
 * kpf_port_create() - execute KPF_REGION_ADD_PORT
 * @region: the region
 * @cmd: the command; out fields are set on success
 *
 * Return: 0 or a negative errno (see KPF_REGION_ADD_PORT); nothing is left
 * behind on error.
 */
int kpf_port_create(struct kpf_region *region, struct kpf_region_add_port *cmd)
{
	struct kpf_port *port;
	int ret;

	ret = kpf_port_check(region, cmd);
	if (ret)
		return ret;

	port = kzalloc(sizeof(*port), GFP_KERNEL_ACCOUNT);
	if (!port)
		return -ENOMEM;
	port->region = region;
	port->ring_slot = cmd->ring_slot;
	port->ring_size = cmd->ring_size;
	port->ring_pages = KPF_RING_PAGES(cmd->ring_size);
	port->copybreak = cmd->copybreak == KPF_COPYBREAK_DEFAULT ?
				  kpf_port_default_copybreak() :
				  cmd->copybreak;
	port->vmm_tgid = region->vmm_tgid;
	INIT_LIST_HEAD(&port->region_node);
	INIT_WORK(&port->work, kpf_rx_work);

	/* kpf_port_free() needs an initialised queue, locks included. */
	ret = ptr_ring_init(&port->queue, KPF_PORT_QUEUE_LEN, GFP_KERNEL);
	if (ret) {
		kfree(port);
		return ret;
	}
	port->posted = kcalloc(port->ring_size, sizeof(*port->posted),
			       GFP_KERNEL_ACCOUNT);
	port->batch = kpf_rx_batch_alloc();
	if (!port->posted || !port->batch) {
		ret = -ENOMEM;
		goto err_free;
	}
	/* Both eventfds are checked before the control slots are touched. */
	if (cmd->irq_fd != -1) {
		ret = kpf_port_irq_get(port, cmd->irq_fd);
		if (ret)
			goto err_free;
	}
	if (cmd->kick_fd != -1) {
		ret = kpf_port_kick_get(port, cmd->kick_fd);
		if (ret)
			goto err_free;
	}

	/* The id is reserved now and resolves only once the port works. */
	ret = xa_alloc(&kpf_ports, &port->id, NULL, xa_limit_32b, GFP_KERNEL);
	if (ret)
		goto err_free;

	/*
	 * On the list, the port counts against the limit, but until it is set
	 * up no KPF_REGION_DEL_PORT may claim it (its id can be guessed).
	 */
	port->deleting = true;
	mutex_lock(&region->lock);
	if (region->nr_ports >= KPF_MAX_PORTS) {
		mutex_unlock(&region->lock);
		kpf_user_err("port: binding %u already has %u ports\n",
			     region->binding_id, KPF_MAX_PORTS);
		ret = -ENOSPC;
		goto err_erase;
	}
	region->nr_ports++;
	list_add_tail(&port->region_node, &region->ports);
	mutex_unlock(&region->lock);

	ret = kpf_port_map_ring(port);
	if (ret)
		goto err_unlist;
	kpf_port_kick_start(port);

	cmd->out_port_id = port->id;
	cmd->out_ring_pages = port->ring_pages;
	rtnl_lock();
	xa_store(&kpf_ports, port->id, port, GFP_KERNEL);
	rtnl_unlock();
	mutex_lock(&region->lock);
	port->deleting = false;
	mutex_unlock(&region->lock);
	return 0;

err_unlist:
	kpf_port_unlist(port);
err_erase:
	xa_erase(&kpf_ports, port->id);
err_free:
	kpf_port_free(port);
	return ret;
}

/* Take @port out of service and free it; caller holds no lock. */
static void kpf_port_destroy(struct kpf_port *port)
{
	rtnl_lock();
	xa_erase(&kpf_ports, port->id);
	kpf_uplink_remove_port(port);
	rtnl_unlock();
	/* No receiver can reach the port once softirqs have moved on. */
	synchronize_net();

	kpf_port_quiesce(port);
	kpf_port_unlist(port);
	kpf_port_free(port);
}

/**
 * kpf_port_delete() - execute KPF_REGION_DEL_PORT
 * @region: the region
 * @port_id: a port of @region
 *
 * Return: 0 or -ENOENT.
 */
int kpf_port_delete(struct kpf_region *region, u32 port_id)
{
	struct kpf_port *port, *found = NULL;

	mutex_lock(&region->lock);
	list_for_each_entry(port, &region->ports, region_node) {
		if (port->id == port_id && !port->deleting) {
			port->deleting = true;
			found = port;
			break;
		}
	}
	mutex_unlock(&region->lock);
	if (!found) {
		kpf_user_err("port: binding %u has no port %u\n",
			     region->binding_id, port_id);
		return -ENOENT;
	}
	kpf_port_destroy(found);
	return 0;
}

/**
 * kpf_port_delete_all() - delete every port of a region being destroyed
 * @region: the region; nobody else can reach it any more
 */
void kpf_port_delete_all(struct kpf_region *region)
{
	struct kpf_port *port;

	for (;;) {
		mutex_lock(&region->lock);
		port = list_first_entry_or_null(&region->ports, struct kpf_port,
						region_node);
		mutex_unlock(&region->lock);
		if (!port)
			return;
		kpf_port_destroy(port);
	}
}

/**
 * kpf_port_lookup_rtnl() - a port by id
 * @port_id: the id
 *
 * Caller holds rtnl_lock; the port cannot go away before it is dropped.
 *
 * Return: the port, or NULL.
 */
struct kpf_port *kpf_port_lookup_rtnl(u32 port_id)
{
	ASSERT_RTNL();
	return xa_load(&kpf_ports, port_id);
}

static void kpf_port_fill_info(struct kpf_port *port,
			       struct kpf_port_info *info)
{
	unsigned int i;

	memset(info, 0, sizeof(*info));
	info->port_id = port->id;
	info->binding_id = port->region->binding_id;
	info->ring_size = port->ring_size;
	info->ring_slot = port->ring_slot;
	info->copybreak = READ_ONCE(port->copybreak);
	info->state = READ_ONCE(port->state);
	info->error = READ_ONCE(port->error);
	for (i = 0; i < KPF_PORT_NR_COUNTERS; i++)
		info->counters[i] = atomic64_read(&port->counters[i]);
}

/**
 * kpf_port_list() - execute KPF_LIST_PORTS
 * @uinfo: user array
 * @room: its length
 * @total: out: number of ports
 *
 * The entries are gathered under rtnl_lock and copied out after it.
 *
 * Return: 0, -EFAULT or -ENOMEM.
 */
int kpf_port_list(struct kpf_port_info __user *uinfo, u32 room, u32 *total)
{
	struct kpf_port_info *info = NULL;
	struct kpf_port *port;
	unsigned long id;
	u32 n = 0, cap = 0;
	int ret = 0;

	rtnl_lock();
	xa_for_each(&kpf_ports, id, port)
		cap++;
	cap = min(cap, room);
	if (cap) {
		info = kvcalloc(cap, sizeof(*info), GFP_KERNEL);
		if (!info) {
			rtnl_unlock();
			return -ENOMEM;
		}
	}
	xa_for_each(&kpf_ports, id, port) {
		if (n < cap)
			kpf_port_fill_info(port, &info[n]);
		n++;
	}
	rtnl_unlock();

	if (copy_to_user(uinfo, info, min(n, cap) * sizeof(*info)))
		ret = -EFAULT;
	kvfree(info);
	*total = n;
	return ret;
}

/**
 * kpf_port_set() - execute KPF_PORT_SET
 * @cmd: the command
 *
 * Return: 0, -ENOENT or -EINVAL.
 */
int kpf_port_set(struct kpf_port_set *cmd)
{
	struct kpf_port *port;
	int ret = 0;

	if (cmd->copybreak == KPF_COPYBREAK_DEFAULT)
		cmd->copybreak = kpf_port_default_copybreak();
	if (cmd->copybreak > KPF_COPYBREAK_MAX) {
		kpf_user_err("port: copybreak %u is above %u\n", cmd->copybreak,
			     KPF_COPYBREAK_MAX);
		return -EINVAL;
	}
	rtnl_lock();
	port = kpf_port_lookup_rtnl(cmd->port_id);
	if (port)
		WRITE_ONCE(port->copybreak, cmd->copybreak);
	rtnl_unlock();
	if (!port) {
		kpf_user_err("port: no port %u\n", cmd->port_id);
		ret = -ENOENT;
	}
	return ret;
}

/**
 * kpf_port_init() - create the workqueue the port workers run on
 *
 * Return: 0 or -ENOMEM.
 */
int kpf_port_init(void)
{
	kpf_rx_wq = alloc_workqueue("kvm-pageflip-rx", WQ_UNBOUND, 0);
	return kpf_rx_wq ? 0 : -ENOMEM;
}

/**
 * kpf_port_uninit() - destroy the workqueue; every port is gone
 */
void kpf_port_uninit(void)
{
	destroy_workqueue(kpf_rx_wq);
}
