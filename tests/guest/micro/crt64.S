/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Entry stub of the C micro-guests. vps-vmm enters us at 1 MiB in 64-bit
 * mode with the first min(RAM, 4 GiB) identity-mapped, RSP at the top of that
 * map and RDI = RAM size (src/vmm/arch/x86/micro.h). Clear .bss (the binary
 * does not carry it, and a guest must not rely on RAM being zero), let the
 * runtime set itself up, run main(ram_size) and hand its return byte to the
 * test exit port, which ends the VM with that status.
 */
#include "serial.inc"

	.code64
	.section .text.entry, "ax"
	.globl _start
_start:
	cld
	mov	%rdi, %rbx		/* callee-saved: RAM size across the calls */
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	xor	%eax, %eax
	rep stosb
	and	$~0xf, %rsp		/* SysV: 16-byte aligned before the call */
	mov	%rbx, %rdi
	call	rt_init
	mov	%rbx, %rdi
	call	main
	outb	%al, $EXIT_PORT
	/* Only without --exit-port do we get here: halt for good. */
1:	cli
	hlt
	jmp	1b
