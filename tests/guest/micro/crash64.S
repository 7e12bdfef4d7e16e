/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Micro-guest, 64-bit long mode: load an empty IDT and raise an exception.
 * With no handler the CPU double- and then triple-faults; the monitor must
 * report a crashed guest (status 4) and stay healthy itself.
 */
	.code64
	.text
	.globl _start
_start:
	lidt	idt(%rip)
	int3
	hlt
idt:	.word 0
	.quad 0
