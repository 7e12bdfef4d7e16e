/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Micro-guest, real mode: a serial echo. Prints "READY\n", then polls the
 * UART's data-ready bit and writes each received byte back, upper-casing
 * letters so a test can tell the echo from its own input. A 'q' ends it
 * with status 0.
 */
#include "serial.inc"

#define LSR_DR 0x01

	.code16
	.text
	.globl _start
_start:
	mov	$COM1, %dx
	mov	$'R', %al
	outb	%al, %dx
	mov	$'E', %al
	outb	%al, %dx
	mov	$'A', %al
	outb	%al, %dx
	mov	$'D', %al
	outb	%al, %dx
	mov	$'Y', %al
	outb	%al, %dx
	mov	$'\n', %al
	outb	%al, %dx
1:	mov	$COM1_LSR, %dx
	inb	%dx, %al
	test	$LSR_DR, %al
	jz	1b
	mov	$COM1, %dx
	inb	%dx, %al
	cmp	$'q', %al
	je	3f
	cmp	$'a', %al
	jb	2f
	cmp	$'z', %al
	ja	2f
	sub	$0x20, %al
2:	outb	%al, %dx
	jmp	1b
3:	xor	%al, %al
	outb	%al, $EXIT_PORT
	hlt
