/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * x86 architectural bits the monitor sets when it puts a vCPU straight into
 * long mode: control registers, EFER and page-table entry flags. Intel SDM
 * vol. 3A §2.5 (control registers), §4.5 (4-level paging), §9.8.5
 * (entering IA-32e mode).
 */
#ifndef VPS_VMM_X86_CPU_H
#define VPS_VMM_X86_CPU_H

#define PTE_P (1ULL << 0) /* present */
#define PTE_RW (1ULL << 1) /* writable */
#define PTE_PS (1ULL << 7) /* a 2 MiB page in a page directory */

#define CR0_PE (1ULL << 0) /* protection enable */
#define CR0_ET (1ULL << 4) /* extension type: always 1 */
#define CR0_NE (1ULL << 5) /* native FPU errors */
#define CR0_PG (1ULL << 31) /* paging */
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8) /* long mode enable */
#define EFER_LMA (1ULL << 10) /* long mode active */

#endif
