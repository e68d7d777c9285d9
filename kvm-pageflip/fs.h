/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KPF_FS_H
#define KPF_FS_H

#include <linux/fs.h>

struct file *kpf_fs_file_create(const char *name,
				const struct file_operations *fops,
				void *private_data);
int kpf_fs_init(void);
void kpf_fs_uninit(void);

#endif /* KPF_FS_H */
