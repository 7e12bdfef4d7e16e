/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Micro-guest, real mode: print a marker on COM1, waiting for the
 * transmitter like a real driver, then report status 0 on the exit port.
 * Loaded at 0x10000 and entered at 0x1000:0000 with DS = CS.
 */
#include "serial.inc"

	.code16
	.text
	.globl _start
_start:
	cld
	mov	$msg, %si
1:	lodsb
	test	%al, %al
	jz	3f
	mov	%al, %bl
	mov	$COM1_LSR, %dx
2:	inb	%dx, %al
	test	$LSR_THRE, %al
	jz	2b
	mov	$COM1, %dx
	mov	%bl, %al
	outb	%al, %dx
	jmp	1b
3:	xor	%al, %al
	outb	%al, $EXIT_PORT
	cli
	hlt

msg:	.asciz "VPS-MICRO hello16 ok\n"
