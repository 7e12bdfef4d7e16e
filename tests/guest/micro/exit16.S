/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Micro-guest, real mode: report status 7 on the exit port and nothing else,
 * so a test can tell that the status really comes from the guest.
 */
#include "serial.inc"

	.code16
	.text
	.globl _start
_start:
	mov	$7, %al
	outb	%al, $EXIT_PORT
	cli
	hlt
