/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A hostile boot sector for tests/integration/test_vmm_firmware.py: SeaBIOS
 * loads it from a disk at 0x7c00; it attacks vps-vmm's firmware devices and
 * reports on COM1 what it saw: fw_cfg selectors out of range, a DMA read of
 * 4 GiB to an address outside RAM, a DMA descriptor outside RAM, then a
 * good DMA read of the signature; every VGA port written with all ones and
 * the CRTC start address pushed to its maximum. It prints
 * `VPS-FW-HOSTILE E Q done` when the bad DMA came back with the error bit
 * (E) and the good one read "QEMU" (Q), an `x` in place of either letter
 * otherwise, and halts. Build as isoboot.S.
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
	/* fw_cfg: selectors nobody defined, data read from each */
	movw	$sels, %si
sel_next:
	lodsw
	testw	%ax, %ax
	jz	dma
	movw	$0x510, %dx
	outw	%ax, %dx
	movw	$0x511, %dx
	movw	$64, %cx
sel_read:
	inb	%dx, %al
	loop	sel_read
	jmp	sel_next
dma:
	/* a 4 GiB read of the file directory to 0xfffff000: must fail */
	movw	$0x514, %dx
	xorl	%eax, %eax
	outl	%eax, %dx
	movw	$0x518, %dx
	movl	$desc, %eax
	bswap	%eax
	outl	%eax, %dx
	/* a descriptor outside RAM: nothing to write back, nothing may break */
	movw	$0x514, %dx
	xorl	%eax, %eax
	outl	%eax, %dx
	movw	$0x518, %dx
	movl	$0x0000f0ff, %eax	/* 0xfff00000 big-endian */
	outl	%eax, %dx
	/* a good read: the signature, 4 bytes to 0x600 */
	movw	$0x514, %dx
	xorl	%eax, %eax
	outl	%eax, %dx
	movw	$0x518, %dx
	movl	$good, %eax
	bswap	%eax
	outl	%eax, %dx
	/* VGA: all ones to every port, byte and word wide */
	movw	$0x3c0, %dx
vga_next:
	movb	$0xff, %al
	outb	%al, %dx
	movw	$0xffff, %ax
	outw	%ax, %dx
	inb	%dx, %al
	incw	%dx
	cmpw	$0x3e0, %dx
	jb	vga_next
	movw	$0x3d4, %dx
	movw	$0xff0c, %ax		/* CRTC start address high = 0xff */
	outw	%ax, %dx
	movw	$0xff0d, %ax		/* and low */
	outw	%ax, %dx

	/* COM1 at its reset defaults is fine for the monitor's UART */
	movb	$'E', %al
	cmpb	$1, desc+3		/* control came back big-endian 1: error */
	je	1f
	movb	$'x', %al
1:	movb	%al, res
	movb	$'Q', %al
	cmpl	$0x554d4551, 0x600	/* "QEMU" */
	je	2f
	movb	$'x', %al
2:	movb	%al, res+2

	movw	$msg, %si
next:
	lodsb
	testb	%al, %al
	jz	halt
	movb	%al, %bl
	movw	$0x3fd, %dx
wait:
	inb	%dx, %al
	testb	$0x20, %al
	jz	wait
	movw	$0x3f8, %dx
	movb	%bl, %al
	outb	%al, %dx
	jmp	next
halt:
	cli
	hlt
	jmp	halt

	.balign	8
desc:	/* control: select 0x19, read; length 0xffffffff; address 0xfffff000 */
	.byte	0x00, 0x19, 0x00, 0x0a
	.byte	0xff, 0xff, 0xff, 0xff
	.byte	0, 0, 0, 0, 0xff, 0xff, 0xf0, 0x00
good:	/* control: select 0, read; length 4; address 0x600 */
	.byte	0x00, 0x00, 0x00, 0x0a
	.byte	0, 0, 0, 4
	.byte	0, 0, 0, 0, 0, 0, 0x06, 0x00
sels:	.word	0xffff, 0x7fff, 0x4001, 0x8003, 0x0040, 0x3fff, 0
msg:	.ascii	"VPS-FW-HOSTILE "
res:	.asciz	"? ? done\r\n"

	.org	510
	.byte	0x55, 0xaa
