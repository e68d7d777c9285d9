// SPDX-License-Identifier: GPL-2.0
/*
 * The control context: one per open of /dev/kvm-pageflip.  It owns the
 * frames staged through it until a flip consumes them, and it outlives its
 * file for as long as a region it created still accepts its handles.
 */
#include <linux/slab.h>
#include <linux/kvm_pageflip.h>
#include "ctx.h"
#include "ioctl.h"
#include "pool.h"

/**
 * kpf_ctx_create() - allocate a control context with one reference
 *
 * Return: the context, or NULL when out of memory.
 */
struct kpf_ctx *kpf_ctx_create(void)
{
	struct kpf_ctx *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return NULL;
	kref_init(&ctx->ref);
	mutex_init(&ctx->lock);
	xa_init_flags(&ctx->staged, XA_FLAGS_ALLOC1);
	return ctx;
}

/**
 * kpf_ctx_get() - take a reference on @ctx
 * @ctx: a context the caller already holds a reference on
 */
void kpf_ctx_get(struct kpf_ctx *ctx)
{
	kref_get(&ctx->ref);
}

/* Last reference: frames nobody flipped go back to the pool. */
static void kpf_ctx_release(struct kref *ref)
{
	struct kpf_ctx *ctx = container_of(ref, struct kpf_ctx, ref);
	struct kpf_page *kp;
	unsigned long handle;

	xa_for_each(&ctx->staged, handle, kp)
		kpf_pool_release(kp, NULL);
	xa_destroy(&ctx->staged);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
}

/**
 * kpf_ctx_put() - drop a reference on @ctx
 * @ctx: the context
 */
void kpf_ctx_put(struct kpf_ctx *ctx)
{
	kref_put(&ctx->ref, kpf_ctx_release);
}

/**
 * kpf_ctx_reserve() - reserve a handle for a frame being staged
 * @ctx: the staging context
 * @handle: out: the handle; it resolves to nothing until published
 *
 * Return: 0, or -ENOMEM (or -EBUSY when all 2^32 - 1 handles are in use).
 */
int kpf_ctx_reserve(struct kpf_ctx *ctx, u32 *handle)
{
	int ret;

	mutex_lock(&ctx->lock);
	ret = xa_alloc(&ctx->staged, handle, NULL, xa_limit_32b,
		       GFP_KERNEL_ACCOUNT);
	mutex_unlock(&ctx->lock);
	return ret;
}

/**
 * kpf_ctx_publish() - make a reserved handle resolve to its staged page
 * @ctx: the staging context
 * @handle: a handle from kpf_ctx_reserve()
 * @kp: a page in state KPF_PAGE_STAGED, now owned by @ctx
 *
 * Cannot fail: the slot was allocated by the reservation.
 */
void kpf_ctx_publish(struct kpf_ctx *ctx, u32 handle, struct kpf_page *kp)
{
	mutex_lock(&ctx->lock);
	WARN_ON(xa_store(&ctx->staged, handle, kp, GFP_KERNEL_ACCOUNT));
	mutex_unlock(&ctx->lock);
}

/**
 * kpf_ctx_unreserve() - give back a handle that was never published
 * @ctx: the staging context
 * @handle: a handle from kpf_ctx_reserve()
 */
void kpf_ctx_unreserve(struct kpf_ctx *ctx, u32 handle)
{
	mutex_lock(&ctx->lock);
	xa_erase(&ctx->staged, handle);
	mutex_unlock(&ctx->lock);
}

/**
 * kpf_ctx_unstage() - take a staged page back out of @ctx by its handle
 * @ctx: the staging context
 * @handle: the page's handle
 *
 * Return: the page, which the caller now owns, or NULL if @handle is unknown.
 */
struct kpf_page *kpf_ctx_unstage(struct kpf_ctx *ctx, u32 handle)
{
	struct kpf_page *kp;

	mutex_lock(&ctx->lock);
	kp = xa_load(&ctx->staged, handle);
	if (kp)
		xa_erase(&ctx->staged, handle);
	mutex_unlock(&ctx->lock);
	return kp;
}

/**
 * kpf_ctx_claim() - take the staged pages of a whole flip batch, or none
 * @ctx: the staging context
 * @entries: the batch
 * @n: number of entries
 * @pages: out: pages[i] is the page of entries[i].handle
 *
 * Return: 0 when every handle was staged and appears once; the pages then
 * belong to the caller.  -ENOENT for an unknown handle, -EINVAL for a handle
 * given twice; @ctx is then unchanged.
 */
int kpf_ctx_claim(struct kpf_ctx *ctx, const struct kpf_flip_entry *entries,
		  u32 n, struct kpf_page **pages)
{
	struct kpf_page *kp;
	int ret = 0;
	u32 i;

	mutex_lock(&ctx->lock);
	for (i = 0; i < n; i++) {
		kp = xa_load(&ctx->staged, entries[i].handle);
		if (!kp) {
			kpf_user_err("flip: handle %u is not staged\n",
				     entries[i].handle);
			ret = -ENOENT;
			break;
		}
		if (kp->claimed) {
			kpf_user_err("flip: handle %u appears twice\n",
				     entries[i].handle);
			ret = -EINVAL;
			break;
		}
		kp->claimed = true;
		pages[i] = kp;
	}
	while (i--) {
		pages[i]->claimed = false;
		if (!ret)
			xa_erase(&ctx->staged, entries[i].handle);
	}
	mutex_unlock(&ctx->lock);
	return ret;
}
