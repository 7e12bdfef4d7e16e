/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A boot sector that sets a Bochs VBE graphics mode through the DISPI ports
 * and draws into the linear framebuffer, for tests/integration/
 * test_vmm_firmware.py: SeaBIOS loads it from a disk at 0x7c00; it checks
 * the DISPI ID as SeaBIOS's vgabios does (0xb0c0 written, read back), sets
 * 640x400 at 32 bits per pixel with the LFB, finds the framebuffer as a
 * driver does (BAR 0 of the display's PCI function), switches to flat 32-bit
 * protected mode, fills the screen with 0x336699 and rows 100..199 with red
 * there, then prints `VPS-VBE drawn` on COM1 (or `VPS-VBE no-dispi`) and
 * halts. Build as isoboot.S.
 */
	.equ	DISPI_INDEX, 0x1ce
	.equ	DISPI_DATA, 0x1cf
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
	movw	$0, %bx			/* ID */
	movw	$0xb0c0, %ax
	call	dispi_out
	call	dispi_in
	cmpw	$0xb0c0, %ax
	jne	no_dispi
	call	find_lfb
	jc	no_dispi
	movw	$4, %bx			/* ENABLE off */
	xorw	%ax, %ax
	call	dispi_out
	movw	$1, %bx			/* XRES */
	movw	$640, %ax
	call	dispi_out
	movw	$2, %bx			/* YRES */
	movw	$400, %ax
	call	dispi_out
	movw	$3, %bx			/* BPP */
	movw	$32, %ax
	call	dispi_out
	movw	$4, %bx			/* ENABLE: enabled | LFB */
	movw	$0x41, %ax
	call	dispi_out
	lgdt	gdtr
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmp	$0x08, $pm

	.include "fwvbe_draw.inc"

	.code16
dispi_out:	/* register %bx := %ax */
	pushw	%ax
	movw	%bx, %ax
	movw	$DISPI_INDEX, %dx
	outw	%ax, %dx
	popw	%ax
	movw	$DISPI_DATA, %dx
	outw	%ax, %dx
	ret

dispi_in:	/* %ax := register %bx */
	movw	%bx, %ax
	movw	$DISPI_INDEX, %dx
	outw	%ax, %dx
	movw	$DISPI_DATA, %dx
	inw	%dx, %ax
	ret

nodispi: .asciz	"VPS-VBE no-dispi\r\n"

	.org	510
	.byte	0x55, 0xaa
