/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A tiny El Torito (no-emulation) boot program for the firmware-boot test
 * (tests/integration/test_vm_firmware.py): SeaBIOS loads it at 0x7c00 from
 * the ISO; it sets up COM1 (115200 8N1), prints `VPS-ISO-BOOT ok\r\n` and
 * halts. Build:
 *
 *     as --32 -o isoboot.o isoboot.S
 *     ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o boot.bin isoboot.o
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
	ljmp	$0, $start2		/* %cs:%ip = 0:0x7c00+ whatever loaded us */
start2:
	cld
	/* COM1: 115200 8N1, FIFO on, interrupts off */
	movw	$0x3f9, %dx		/* IER: no interrupts */
	xorb	%al, %al
	outb	%al, %dx
	movw	$0x3fb, %dx		/* LCR: DLAB */
	movb	$0x80, %al
	outb	%al, %dx
	movw	$0x3f8, %dx		/* DLL: divisor 1 = 115200 */
	movb	$1, %al
	outb	%al, %dx
	movw	$0x3f9, %dx		/* DLM */
	xorb	%al, %al
	outb	%al, %dx
	movw	$0x3fb, %dx		/* LCR: 8N1, DLAB off */
	movb	$0x03, %al
	outb	%al, %dx
	movw	$0x3fa, %dx		/* FCR: FIFO on and cleared */
	movb	$0xc7, %al
	outb	%al, %dx
	movw	$0x3fc, %dx		/* MCR: DTR, RTS, OUT2 */
	movb	$0x0b, %al
	outb	%al, %dx

	movw	$msg, %si
next:
	lodsb
	testb	%al, %al
	jz	halt
	movb	%al, %bl
	movw	$0x3fd, %dx		/* LSR: wait for THR empty */
wait:
	inb	%dx, %al
	testb	$0x20, %al
	jz	wait
	movw	$0x3f8, %dx		/* THR */
	movb	%bl, %al
	outb	%al, %dx
	jmp	next
halt:
	cli
	hlt
	jmp	halt

msg:
	.asciz	"VPS-ISO-BOOT ok\r\n"

	.org	510
	.byte	0x55, 0xaa
