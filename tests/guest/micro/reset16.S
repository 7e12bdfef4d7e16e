/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Micro-guest, real mode: reset through the i8042 (command 0xfe to port
 * 0x64), as Linux's reboot falls back to. The monitor must report a reboot
 * (status 3); if the reset is ignored the guest says so on the exit port.
 */
#include "serial.inc"

	.code16
	.text
	.globl _start
_start:
	mov	$0xfe, %al
	outb	%al, $0x64
	mov	$9, %al		/* still running: the reset did nothing */
	outb	%al, $EXIT_PORT
	hlt
