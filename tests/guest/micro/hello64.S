/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Micro-guest, 64-bit long mode: entered at 1 MiB with paging on (the
 * monitor's identity map), print a marker and report status 0.
 */
#include "serial.inc"

	.code64
	.text
	.globl _start
_start:
	lea	msg(%rip), %rsi
	call	puts
	xor	%eax, %eax
	outb	%al, $EXIT_PORT
	cli
	hlt

/* Print the NUL-terminated string at %rsi on COM1. */
puts:
	mov	$COM1, %dx
1:	lodsb
	test	%al, %al
	jz	2f
	outb	%al, %dx
	jmp	1b
2:	ret

msg:	.asciz "VPS-MICRO hello64 ok\n"
