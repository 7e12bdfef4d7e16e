/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Micro-guest, real mode: read the CMOS clock's century and year (BCD) and
 * print them as "RTC 2026\n"; the test compares with the host's UTC year.
 */
#include "serial.inc"

	.code16
	.text
	.globl _start
_start:
	mov	$COM1, %dx
	mov	$'R', %al
	outb	%al, %dx
	mov	$'T', %al
	outb	%al, %dx
	mov	$'C', %al
	outb	%al, %dx
	mov	$' ', %al
	outb	%al, %dx
	mov	$0x32, %al	/* century */
	call	putbcd
	mov	$0x09, %al	/* year */
	call	putbcd
	mov	$'\n', %al
	outb	%al, %dx
	xor	%al, %al
	outb	%al, $EXIT_PORT
	hlt

/* Print CMOS register %al as two BCD digits. */
putbcd:
	outb	%al, $0x70
	inb	$0x71, %al
	mov	%al, %bl
	shr	$4, %al
	add	$'0', %al
	outb	%al, %dx
	mov	%bl, %al
	and	$0xf, %al
	add	$'0', %al
	outb	%al, %dx
	ret
