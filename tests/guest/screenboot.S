/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A tiny El Torito (no-emulation) boot program with a screen and a
 * keyboard, for the screen tests (tests/integration/test_screen.py,
 * docs/screen.md). SeaBIOS loads it at 0x7c00 from the ISO. It sets VGA
 * text mode 3 (80x25) through the video BIOS, hides the cursor (so the
 * picture holds still), writes straight into text memory at 0xb8000:
 *
 *   row 10  `VPS-SCREEN ok`, white on black (attribute 0x0f)
 *   row 12  a bar of 80 spaces, white on red (0x4f)
 *
 * prints `VPS-SCREEN ok\r\n` on COM1 (115200 8N1), and then echoes every
 * key the BIOS reads (int 16h) both on COM1 and on row 14, one cell per key,
 * black on green (0x20): a test counts the green cells in the framebuffer
 * and reads the keys back on the serial line. Ctrl-Alt-Del is SeaBIOS's
 * (a reset: the marker comes again). Build:
 *
 *     as --32 -o screenboot.o screenboot.S
 *     ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o boot.bin screenboot.o
 */
	.code16
	.text
	.globl _start
_start:
	cli
	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %ss
	movw	$0x7c00, %sp
	ljmp	$0, $start2
start2:
	cld
	/* COM1: 115200 8N1, FIFO on, interrupts off */
	movw	$0x3f9, %dx
	xorb	%al, %al
	outb	%al, %dx
	movw	$0x3fb, %dx
	movb	$0x80, %al
	outb	%al, %dx
	movw	$0x3f8, %dx
	movb	$1, %al
	outb	%al, %dx
	movw	$0x3f9, %dx
	xorb	%al, %al
	outb	%al, %dx
	movw	$0x3fb, %dx
	movb	$0x03, %al
	outb	%al, %dx
	movw	$0x3fa, %dx
	movb	$0xc7, %al
	outb	%al, %dx
	movw	$0x3fc, %dx
	movb	$0x0b, %al
	outb	%al, %dx
	sti

	movw	$0x0003, %ax		/* int 10h: mode 3, 80x25 text, cleared */
	int	$0x10
	movb	$0x01, %ah		/* int 10h: cursor shape; CH bit 5: hidden */
	movw	$0x2000, %cx
	int	$0x10

	movw	$0xb800, %ax
	movw	%ax, %es
	movw	$msg, %si		/* row 10: the words */
	movw	$(10 * 160), %di
	movb	$0x0f, %ah
words:
	lodsb
	cmpb	$0x0d, %al		/* the line's end: the rest is COM1's */
	je	bar
	stosw
	jmp	words
bar:
	movw	$(12 * 160), %di	/* row 12: the red bar */
	movw	$0x4f20, %ax
	movw	$80, %cx
	rep	stosw

	movw	$msg, %si		/* the marker on COM1 */
serial:
	lodsb
	testb	%al, %al
	jz	keys
	call	putc
	jmp	serial

keys:
	movw	$(14 * 160), %di	/* row 14: the keys, one green cell each */
key:
	xorb	%ah, %ah		/* int 16h: wait for a key; AL its character */
	int	$0x16
	call	putc
	movb	$0x20, %ah
	stosw
	cmpw	$(15 * 160), %di
	jb	key
	movw	$(14 * 160), %di	/* 80 keys: the row again */
	jmp	key

/* AL to COM1 (AX and DX kept but for DX) */
putc:
	pushw	%ax
	movb	%al, %bl
	movw	$0x3fd, %dx
1:	inb	%dx, %al
	testb	$0x20, %al
	jz	1b
	movw	$0x3f8, %dx
	movb	%bl, %al
	outb	%al, %dx
	popw	%ax
	ret

msg:
	.asciz	"VPS-SCREEN ok\r\n"

	.org	510
	.byte	0x55, 0xaa
