/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KPF_VM_H
#define KPF_VM_H

struct file;
struct mm_struct;

struct file *kpf_vm_fget(int fd, struct mm_struct **mm);

#endif /* KPF_VM_H */
