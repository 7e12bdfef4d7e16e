/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A boot sector that echoes the keyboard for tests/integration/
 * test_vmm_firmware.py: SeaBIOS loads it from a disk at 0x7c00; it prints
 * `VPS-KEYS ready` on COM1, then each key the BIOS (int 16h) reads from the
 * PS/2 keyboard, until Enter, then ` done` and halts. What the control
 * socket's `key` typed thus comes back on the serial line. Build as
 * isoboot.S.
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
	sti				/* the BIOS keyboard needs IRQ 1 */
	cld
	movw	$ready, %si
	call	puts
key:
	xorb	%ah, %ah		/* int 16h, ah=0: wait for a key */
	int	$0x16
	cmpb	$0x0d, %al
	je	enter
	call	putc
	jmp	key
enter:
	movw	$done, %si
	call	puts
halt:
	cli
	hlt
	jmp	halt

puts:
	lodsb
	testb	%al, %al
	jz	1f
	call	putc
	jmp	puts
1:	ret

putc:	/* %al to COM1 */
	pushw	%dx
	pushw	%ax
	movw	$0x3fd, %dx
2:	inb	%dx, %al
	testb	$0x20, %al
	jz	2b
	popw	%ax
	movw	$0x3f8, %dx
	outb	%al, %dx
	popw	%dx
	ret

ready:	.asciz	"VPS-KEYS ready\r\n"
done:	.asciz	" done\r\n"

	.org	510
	.byte	0x55, 0xaa
