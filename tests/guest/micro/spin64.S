/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Micro-guest, 64-bit long mode: print a marker, then spin forever. The
 * control-socket tests use it as a guest that runs until told otherwise.
 */
#include "serial.inc"

	.code64
	.text
	.globl _start
_start:
	lea	msg(%rip), %rsi
	mov	$COM1, %dx
1:	lodsb
	test	%al, %al
	jz	2f
	outb	%al, %dx
	jmp	1b
2:	inc	%rax
	jmp	2b

msg:	.asciz "VPS-MICRO spin\n"
