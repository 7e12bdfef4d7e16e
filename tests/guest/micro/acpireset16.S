/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Micro-guest, real mode: reset through the ACPI reset register (the
 * FADT's RESET_REG: value 6 to port PM_BASE + 12). Expect status 3.
 */
#include "serial.inc"

	.code16
	.text
	.globl _start
_start:
	mov	$(PM_BASE + 12), %dx
	mov	$6, %al
	outb	%al, %dx
	mov	$9, %al
	outb	%al, $EXIT_PORT
	hlt
