/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KPF_CTX_H
#define KPF_CTX_H

#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/xarray.h>

struct kpf_page;
struct kpf_flip_entry;

/**
 * struct kpf_ctx - what one open of /dev/kvm-pageflip owns
 * @ref: held by the control file and by every region it created
 * @lock: protects @staged and the @claimed bits of the pages in it
 * @staged: handle -> struct kpf_page of frames staged by KPF_POOL_FILL
 */
struct kpf_ctx {
	struct kref ref;
	struct mutex lock; /* protects staged and its pages' claimed bits */
	struct xarray staged;
};

struct kpf_ctx *kpf_ctx_create(void);
void kpf_ctx_get(struct kpf_ctx *ctx);
void kpf_ctx_put(struct kpf_ctx *ctx);
int kpf_ctx_reserve(struct kpf_ctx *ctx, u32 *handle);
void kpf_ctx_publish(struct kpf_ctx *ctx, u32 handle, struct kpf_page *kp);
void kpf_ctx_unreserve(struct kpf_ctx *ctx, u32 handle);
struct kpf_page *kpf_ctx_unstage(struct kpf_ctx *ctx, u32 handle);
int kpf_ctx_claim(struct kpf_ctx *ctx, const struct kpf_flip_entry *entries,
		  u32 n, struct kpf_page **pages);

#endif /* KPF_CTX_H */
