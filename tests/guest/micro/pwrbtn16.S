/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Micro-guest, real mode: wait for the ACPI power button the way an OS
 * without interrupts would, by polling PWRBTN_STS in PM1a_STS; then
 * acknowledge it, say so, and power off through S5 (status 0). It prints
 * "W\n" first so the test knows when to press.
 */
#include "serial.inc"

	.code16
	.text
	.globl _start
_start:
	mov	$COM1, %dx
	mov	$'W', %al
	outb	%al, %dx
	mov	$'\n', %al
	outb	%al, %dx
	mov	$PM_BASE, %dx
1:	inw	%dx, %ax
	test	$(1 << 8), %ax
	jz	1b
	mov	$(1 << 8), %ax		/* write one to clear */
	outw	%ax, %dx
	inw	%dx, %ax
	test	$(1 << 8), %ax
	jnz	bad
	mov	$COM1, %dx
	mov	$'P', %al
	outb	%al, %dx
	mov	$'\n', %al
	outb	%al, %dx
	mov	$(PM_BASE + 4), %dx
	mov	$((5 << 10) | (1 << 13)), %ax
	outw	%ax, %dx
2:	jmp	2b
bad:	mov	$9, %al
	outb	%al, $EXIT_PORT
	hlt
