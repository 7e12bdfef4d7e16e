// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * 8250/16550 UART, polled transmit. The guest sees a UART whose transmitter
 * is always empty (LSR THRE|TEMT), so it never waits; every byte written to
 * THR goes straight to out_fd. Divisor latch, scratch and modem registers
 * hold what is written so probing drivers find a real-looking chip.
 * Register map: PC16550D data sheet, table 2.
 */
#include <string.h>

#include "common/util.h"
#include "vmm/devices/serial.h"

#define UART_RBR_THR 0 /* receive buffer / transmit holding; DLL when DLAB */
#define UART_IER 1 /* interrupt enable; DLM when DLAB */
#define UART_IIR 2 /* interrupt identification (read) / FIFO control (write) */
#define UART_LCR 3 /* line control; bit 7 is DLAB */
#define UART_MCR 4 /* modem control */
#define UART_LSR 5 /* line status */
#define UART_MSR 6 /* modem status */
#define UART_SCR 7 /* scratch */

#define UART_LCR_DLAB 0x80
#define UART_LSR_THRE 0x20 /* transmit holding register empty */
#define UART_LSR_TEMT 0x40 /* transmitter empty */
#define UART_IIR_NO_INT 0x01
#define UART_MSR_DCD_DSR_CTS 0xb0

static void serial_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct serial *s = opaque;
	uint8_t v = 0;

	switch (off) {
	case UART_RBR_THR:
		v = (s->lcr & UART_LCR_DLAB) ? s->dll : 0;
		break;
	case UART_IER:
		v = (s->lcr & UART_LCR_DLAB) ? s->dlm : s->ier;
		break;
	case UART_IIR:
		v = UART_IIR_NO_INT;
		break;
	case UART_LCR:
		v = s->lcr;
		break;
	case UART_MCR:
		v = s->mcr;
		break;
	case UART_LSR:
		v = UART_LSR_THRE | UART_LSR_TEMT;
		break;
	case UART_MSR:
		v = UART_MSR_DCD_DSR_CTS;
		break;
	case UART_SCR:
		v = s->scr;
		break;
	}
	memset(data, 0, len);
	*(uint8_t *)data = v;
}

static void serial_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct serial *s = opaque;
	uint8_t v = *(const uint8_t *)data;

	switch (off) {
	case UART_RBR_THR:
		if (s->lcr & UART_LCR_DLAB)
			s->dll = v;
		else if (s->out_fd >= 0)
			write_all(s->out_fd, &v, 1);
		break;
	case UART_IER:
		if (s->lcr & UART_LCR_DLAB)
			s->dlm = v;
		else
			s->ier = v & 0x0f;
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	}
}

static const struct io_ops serial_ops = {
	.read = serial_read,
	.write = serial_write,
};

int serial_init(struct serial *s, struct vm *vm, uint16_t base, int out_fd)
{
	memset(s, 0, sizeof(*s));
	s->out_fd = out_fd;
	return iobus_register(&vm->pio, base, 8, &serial_ops, s);
}
