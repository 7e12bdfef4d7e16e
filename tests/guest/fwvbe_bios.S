/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fwvbe.S's picture, set through the firmware as an OS loader does: VBE
 * function 4F01h for mode 141h (SeaBIOS's 640x400x32) says where the linear
 * framebuffer is (PhysBasePtr), 4F02h sets the mode with the LFB bit; the
 * sector then draws there from flat 32-bit protected mode and prints
 * `VPS-VBE drawn` on COM1 (`VPS-VBE no-vbe` when either call fails or the
 * framebuffer is not BAR 0 of the display's PCI function: the vgabios ran as
 * that function's ROM). Build as isoboot.S.
 */
	.code16
	.text
	.globl _start
_start:
	cli
	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	$0x7c00, %sp
	ljmp	$0, $start2
start2:
	cld
	movw	$0x4f01, %ax		/* mode information into 0x8000 */
	movw	$0x141, %cx
	movw	$0x8000, %di
	int	$0x10
	cmpw	$0x004f, %ax
	jne	no_dispi
	call	find_lfb
	jc	no_dispi
	movl	0x8028, %eax		/* PhysBasePtr */
	cmpl	lfb, %eax
	jne	no_dispi
	movw	$0x4f02, %ax
	movw	$0x4141, %bx		/* mode 141h, linear framebuffer */
	int	$0x10
	cmpw	$0x004f, %ax
	jne	no_dispi
	cli
	lgdt	gdtr
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmp	$0x08, $pm

	.include "fwvbe_draw.inc"
nodispi: .asciz	"VPS-VBE no-vbe\r\n"

	.org	510
	.byte	0x55, 0xaa
