/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KPF_DEBUG_H
#define KPF_DEBUG_H

void kpf_debug_init(void);
void kpf_debug_uninit(void);

#endif /* KPF_DEBUG_H */
