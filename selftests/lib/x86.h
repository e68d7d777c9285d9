/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where kvm_util puts the guest's system tables, and the x86 bits it sets.
 * Private to the library; kvm_util.h describes the layout.
 */
#ifndef KPF_X86_H
#define KPF_X86_H

#define GDT_GPA 0x1000UL
#define TSS_GPA 0x1800UL
#define IDT_GPA 0x2000UL
#define PML4_GPA 0x3000UL
#define PDPT_GPA 0x4000UL
#define PD_GPA 0x5000UL
#define NR_PDS (VM_IDMAP_SIZE >> 30)
#define ELF_MIN_GPA 0x400000UL

#define GDT_CODE 0x08
#define GDT_DATA 0x10
#define GDT_TSS 0x18
#define GDT_ENTRIES 5 /* null, code, data, TSS (two entries) */
#define TSS_SIZE 104
#define IDT_VECTORS 32

#define PTE_PRESENT (1ULL << 0)
#define PTE_WRITE (1ULL << 1)
#define PTE_LARGE (1ULL << 7)

#define X86_CR0_PE (1UL << 0)
#define X86_CR0_MP (1UL << 1)
#define X86_CR0_ET (1UL << 4)
#define X86_CR0_NE (1UL << 5)
#define X86_CR0_WP (1UL << 16)
#define X86_CR0_PG (1UL << 31)
#define X86_CR4_PAE (1UL << 5)
#define X86_CR4_OSFXSR (1UL << 9)
#define X86_CR4_OSXMMEXCPT (1UL << 10)
#define EFER_LME (1UL << 8)
#define EFER_LMA (1UL << 10)
#define X86_RFLAGS_FIXED (1UL << 1)

#endif /* KPF_X86_H */
