/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Wraps a real-mode micro-guest as a 64 KiB firmware image for QEMU's -bios,
 * so QEMU runs the very same payload vps-vmm does: the payload sits at the
 * image's start (0xf0000 once mapped), the reset vector at offset 0xfff0
 * sets DS = SS = CS as vps-vmm's entry does and jumps to it.
 * Build: cc -nostdlib -Wl,--oformat=binary -Wl,-Ttext=0 -DPAYLOAD=\"x.bin\"
 */
	.code16
	.text
	.globl _start
_start:
	.incbin PAYLOAD
	.org 0xfff0
	mov	$0xf000, %ax
	mov	%ax, %ds
	mov	%ax, %ss
	mov	$0xfffe, %sp
	ljmp	$0xf000, $0
	.org 0x10000
