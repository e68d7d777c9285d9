/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KPF_CHARDEV_H
#define KPF_CHARDEV_H

int kpf_chardev_init(void);
void kpf_chardev_uninit(void);

#endif /* KPF_CHARDEV_H */
