/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Micro-guest, 64-bit long mode: checks that guest RAM is really there and
 * private. Writes each 4 KiB page's own address into its first qword, from
 * 2 MiB up to the top of the identity map below the stack (RDI holds the RAM
 * size, RSP its mapped top), then reads every page back. Prints the number of
 * pages checked in hex, and reports 0 when all match, 1 on the first mismatch.
 */
#include "serial.inc"

	.code64
	.text
	.globl _start
_start:
	mov	%rsp, %r9		/* end: top of mapped RAM */
	sub	$0x1000, %r9		/* keep the stack page out of it */
	mov	$0x200000, %r8		/* start above the payload */
	mov	%r8, %rax
1:	cmp	%r9, %rax
	jae	2f
	mov	%rax, (%rax)
	add	$0x1000, %rax
	jmp	1b
2:	mov	%r8, %rax
	xor	%rcx, %rcx		/* pages checked */
3:	cmp	%r9, %rax
	jae	4f
	cmp	%rax, (%rax)
	jne	bad
	inc	%rcx
	add	$0x1000, %rax
	jmp	3b
4:	lea	okmsg(%rip), %rsi
	call	puts
	mov	%rcx, %rax
	call	puthex
	mov	$'\n', %al
	mov	$COM1, %dx
	outb	%al, %dx
	xor	%eax, %eax
	outb	%al, $EXIT_PORT
	hlt
bad:	lea	badmsg(%rip), %rsi
	call	puts
	mov	$1, %al
	outb	%al, $EXIT_PORT
	hlt

puts:
	mov	$COM1, %dx
1:	lodsb
	test	%al, %al
	jz	2f
	outb	%al, %dx
	jmp	1b
2:	ret

/* Print %rax as 16 hex digits. */
puthex:
	mov	%rax, %rbx
	mov	$16, %ecx
	mov	$COM1, %dx
1:	rol	$4, %rbx
	mov	%bl, %al
	and	$0xf, %al
	add	$'0', %al
	cmp	$'9', %al
	jbe	2f
	add	$('a' - '9' - 1), %al
2:	outb	%al, %dx
	dec	%ecx
	jnz	1b
	ret

okmsg:	.asciz "VPS-MICRO memtest ok pages="
badmsg:	.asciz "VPS-MICRO memtest fail\n"
