/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Micro-guest, real mode: print a marker, then halt with interrupts off. With
 * no interrupt controller to wake it the monitor must end the VM (status 0)
 * rather than spin.
 */
#include "serial.inc"

	.code16
	.text
	.globl _start
_start:
	mov	$'H', %al
	mov	$COM1, %dx
	outb	%al, %dx
	mov	$'\n', %al
	outb	%al, %dx
	cli
	hlt
