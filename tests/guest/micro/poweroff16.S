/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Micro-guest, real mode: ACPI S5 poweroff as Linux does it: SLP_TYP from
 * the DSDT's \_S5 with SLP_EN into PM1a_CNT. Then it spins, so only the
 * poweroff can end it: status 0.
 */
#include "serial.inc"

	.code16
	.text
	.globl _start
_start:
	mov	$(PM_BASE + 4), %dx
	mov	$((5 << 10) | (1 << 13)), %ax
	outw	%ax, %dx
1:	jmp	1b
