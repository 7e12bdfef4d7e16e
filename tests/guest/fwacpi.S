/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A boot sector that checks the ACPI tables SeaBIOS installed from fw_cfg's
 * etc/table-loader (tests/integration/test_vmm_firmware.py): it finds the
 * RSDP in the F segment and checks both its checksums, then copies the XSDT,
 * the FADT it names first and the DSDT the FADT names down from high RAM
 * (int 15h, AH=87h) and checks each signature and checksum, so every pointer
 * the loader patched is followed. It prints `VPS-ACPI ok` on COM1, or
 * `VPS-ACPI bad X` with X the step that failed, and halts. Build as
 * isoboot.S.
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
	sti
	cld
	/* the RSDP: "RSD PTR " on a 16-byte boundary in 0xf0000..0xfffff */
	movw	$0xf000, %ax
	movw	%ax, %es
	xorw	%di, %di
scan:
	movw	$sig, %si
	pushw	%di
	movw	$8, %cx
	repe cmpsb
	popw	%di
	je	found
	addw	$16, %di
	jnz	scan
	movb	$'R', %al
	jmp	bad
found:	/* copy the 36 bytes to 0x7000 and check both sums */
	pushw	%ds
	pushw	%es
	popw	%ds
	xorw	%ax, %ax
	movw	%ax, %es
	movw	%di, %si
	movw	$0x7000, %di
	movw	$36, %cx
	rep movsb
	popw	%ds
	movw	$0x7000, %si
	movw	$20, %cx
	call	sum
	movb	$'1', %al
	jnz	bad
	movw	$0x7000, %si
	movw	$36, %cx
	call	sum
	movb	$'2', %al
	jnz	bad
	/* the XSDT */
	movl	0x7000+24, %eax
	movl	$0x8000, %ebx
	movw	$64, %cx
	call	copy
	movl	$0x54445358, %edx	/* "XSDT" */
	movb	$'X', %al
	call	check
	/* the FADT, the XSDT's first entry */
	movl	0x8000+36, %eax
	movl	$0x8000, %ebx
	movw	$160, %cx
	call	copy
	movl	$0x50434146, %edx	/* "FACP" */
	movb	$'F', %al
	call	check
	/* the DSDT, from the FADT's 32-bit pointer */
	movl	0x8000+40, %eax
	movl	$0x8000, %ebx
	movw	$32, %cx
	call	copy
	cmpl	$0x54445344, 0x8000	/* "DSDT" */
	movb	$'D', %al
	jne	bad
	movw	$okmsg, %si
	call	puts
	jmp	halt
bad:
	movb	%al, badch
	movw	$badmsg, %si
	call	puts
halt:
	cli
	hlt
	jmp	halt

/* signature edx at 0x8000, and its length (at most 320) sums to zero; else bad with %al */
check:
	movb	%al, badch
	cmpl	%edx, 0x8000
	jne	1f
	movw	0x8004, %cx
	cmpw	$320, %cx
	ja	1f
	movw	$0x8000, %si
	call	sum
	jnz	1f
	ret
1:	movb	badch, %al
	jmp	bad

/* zero flag set when the %cx bytes at %ds:%si sum to zero */
sum:
	xorb	%ah, %ah
2:	lodsb
	addb	%al, %ah
	loop	2b
	testb	%ah, %ah
	ret

/* copy %cx words from physical %eax to physical %ebx (int 15h, AH=87h) */
copy:
	movw	%ax, gdt+16+2
	shrl	$16, %eax
	movb	%al, gdt+16+4
	movb	%ah, gdt+16+7
	movw	%bx, gdt+24+2
	shrl	$16, %ebx
	movb	%bl, gdt+24+4
	movb	%bh, gdt+24+7
	pushw	%ds
	popw	%es
	movw	$gdt, %si
	movb	$0x87, %ah
	int	$0x15
	jc	3f
	ret
3:	movb	$'C', %al
	jmp	bad

puts:
	lodsb
	testb	%al, %al
	jz	5f
	movb	%al, %bl
	movw	$0x3fd, %dx
4:	inb	%dx, %al
	testb	$0x20, %al
	jz	4b
	movw	$0x3f8, %dx
	movb	%bl, %al
	outb	%al, %dx
	jmp	puts
5:	ret

	.balign	8
gdt:	/* null, GDT alias, source, destination, BIOS CS, BIOS SS */
	.quad	0, 0
	.word	0xffff, 0
	.byte	0, 0x93, 0, 0
	.word	0xffff, 0
	.byte	0, 0x93, 0, 0
	.quad	0, 0
sig:	.ascii	"RSD PTR "
okmsg:	.asciz	"VPS-ACPI ok\r\n"
badmsg:	.ascii	"VPS-ACPI bad "
badch:	.asciz	"?\r\n"

	.org	510
	.byte	0x55, 0xaa
