// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * 16550A UART. The transmitter is always ready (LSR THRE|TEMT): each byte
 * written to THR goes straight to the console backend, so the guest never
 * waits on us.
 * The receiver is a 16-byte FIFO filled by the console backend. Interrupts
 * follow the data sheet's priorities (receive data over THR empty); the IRQ
 * line is level-triggered on the guest's GSI.
 * Register map and IIR codes: PC16550D data sheet, tables 2 and 4.
 */
#include <errno.h>
#include <string.h>

#include "vmm/devices/serial.h"

#define UART_RBR_THR 0 /* receive buffer / transmit holding; DLL when DLAB */
#define UART_IER 1 /* interrupt enable; DLM when DLAB */
#define UART_IIR 2 /* interrupt identification (read) / FIFO control (write) */
#define UART_LCR 3 /* line control; bit 7 is DLAB */
#define UART_MCR 4 /* modem control */
#define UART_LSR 5 /* line status */
#define UART_MSR 6 /* modem status */
#define UART_SCR 7 /* scratch */

#define UART_IER_RDI 0x01 /* receive data available */
#define UART_IER_THRI 0x02 /* transmit holding register empty */
#define UART_IIR_NO_INT 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_FIFO 0xc0 /* FIFOs enabled */
#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_LCR_DLAB 0x80
#define UART_MCR_LOOP 0x10
#define UART_MCR_OUT2 0x08 /* gates the IRQ on PC serial cards */
#define UART_LSR_DR 0x01 /* data ready */
#define UART_LSR_THRE 0x20 /* transmit holding register empty */
#define UART_LSR_TEMT 0x40 /* transmitter empty */
#define UART_MSR_DCD_DSR_CTS 0xb0

static uint8_t iir_locked(struct serial *s)
{
	if ((s->ier & UART_IER_RDI) && s->rx_len)
		return UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->thri_pending)
		return UART_IIR_THRI;
	return UART_IIR_NO_INT;
}

/* Recompute the IRQ line; called with the lock held after any state change. */
static void update_irq_locked(struct serial *s)
{
	int level = iir_locked(s) != UART_IIR_NO_INT;

	if (level != s->irq_level) {
		s->irq_level = level;
		vm_irq_line(s->vm, s->gsi, level);
	}
}

static uint8_t rx_pop_locked(struct serial *s)
{
	uint8_t v;

	if (!s->rx_len)
		return 0;
	v = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
	s->rx_len--;
	return v;
}

static void serial_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct serial *s = opaque;
	uint8_t v = 0;

	pthread_mutex_lock(&s->lock);
	switch (off) {
	case UART_RBR_THR:
		v = (s->lcr & UART_LCR_DLAB) ? s->dll : rx_pop_locked(s);
		break;
	case UART_IER:
		v = (s->lcr & UART_LCR_DLAB) ? s->dlm : s->ier;
		break;
	case UART_IIR:
		v = iir_locked(s);
		if (v == UART_IIR_THRI)
			s->thri_pending = 0; /* reading IIR acknowledges THRE */
		if (s->fcr & UART_FCR_ENABLE)
			v |= UART_IIR_FIFO;
		break;
	case UART_LCR:
		v = s->lcr;
		break;
	case UART_MCR:
		v = s->mcr;
		break;
	case UART_LSR:
		v = UART_LSR_THRE | UART_LSR_TEMT | (s->rx_len ? UART_LSR_DR : 0);
		break;
	case UART_MSR:
		v = UART_MSR_DCD_DSR_CTS;
		break;
	case UART_SCR:
		v = s->scr;
		break;
	}
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
	memset(data, 0, len);
	*(uint8_t *)data = v;
}

static void serial_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct serial *s = opaque;
	uint8_t v = *(const uint8_t *)data;

	pthread_mutex_lock(&s->lock);
	switch (off) {
	case UART_RBR_THR:
		if (s->lcr & UART_LCR_DLAB) {
			s->dll = v;
		} else if (s->mcr & UART_MCR_LOOP) {
			if (s->rx_len < SERIAL_RX_FIFO) {
				s->rx[(s->rx_head + s->rx_len) % SERIAL_RX_FIFO] = v;
				s->rx_len++;
			}
			s->thri_pending = 1;
		} else {
			if (s->tx)
				s->tx(s->tx_opaque, &v, 1);
			s->tx_bytes++;
			s->thri_pending = 1; /* sent at once: the holding register is empty again */
		}
		break;
	case UART_IER:
		if (s->lcr & UART_LCR_DLAB) {
			s->dlm = v;
		} else {
			/* Enabling THRI with an empty THR raises it at once (8250 behaviour). */
			if ((v & UART_IER_THRI) && !(s->ier & UART_IER_THRI))
				s->thri_pending = 1;
			s->ier = v & 0x0f;
		}
		break;
	case UART_IIR:
		s->fcr = v;
		if (v & UART_FCR_CLEAR_RX)
			s->rx_len = 0;
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
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
}

static const struct io_ops serial_ops = {
	.read = serial_read,
	.write = serial_write,
};

int serial_init(struct serial *s, struct vm *vm, uint16_t base, unsigned int gsi,
		void (*tx)(void *opaque, const uint8_t *buf, size_t len), void *tx_opaque)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->vm = vm;
	s->gsi = gsi;
	s->tx = tx;
	s->tx_opaque = tx_opaque;
	return iobus_register(&vm->pio, base, 8, &serial_ops, s);
}

size_t serial_rx_room(struct serial *s)
{
	size_t room;

	pthread_mutex_lock(&s->lock);
	room = SERIAL_RX_FIFO - s->rx_len;
	pthread_mutex_unlock(&s->lock);
	return room;
}

size_t serial_rx(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_len < SERIAL_RX_FIFO) {
		s->rx[(s->rx_head + s->rx_len) % SERIAL_RX_FIFO] = buf[n++];
		s->rx_len++;
	}
	s->rx_bytes += n;
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* The saved form: fixed layout, independent of struct serial. */
struct serial_state {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr, rx_head, rx_len, thri_pending, irq_level, pad[5];
	uint8_t rx[SERIAL_RX_FIFO];
};

void serial_save(struct serial *s, struct snap_w *w)
{
	struct serial_state st = { 0 };

	pthread_mutex_lock(&s->lock);
	st.ier = s->ier;
	st.lcr = s->lcr;
	st.mcr = s->mcr;
	st.scr = s->scr;
	st.dll = s->dll;
	st.dlm = s->dlm;
	st.fcr = s->fcr;
	st.rx_head = s->rx_head;
	st.rx_len = s->rx_len;
	st.thri_pending = !!s->thri_pending;
	st.irq_level = !!s->irq_level;
	memcpy(st.rx, s->rx, sizeof(st.rx));
	pthread_mutex_unlock(&s->lock);
	snap_put(w, SNAP_SERIAL, 0, &st, sizeof(st));
}

int serial_load(struct serial *s, const struct snap_r *r, struct err **err)
{
	const struct serial_state *st = snap_get(r, SNAP_SERIAL, 0, sizeof(*st), err);

	if (!st)
		return -EINVAL;
	if (st->rx_head >= SERIAL_RX_FIFO || st->rx_len > SERIAL_RX_FIFO)
		return err_make(err, EINVAL, "snapshot state: serial FIFO position out of range");
	pthread_mutex_lock(&s->lock);
	s->ier = st->ier;
	s->lcr = st->lcr;
	s->mcr = st->mcr;
	s->scr = st->scr;
	s->dll = st->dll;
	s->dlm = st->dlm;
	s->fcr = st->fcr;
	s->rx_head = st->rx_head;
	s->rx_len = st->rx_len;
	s->thri_pending = st->thri_pending != 0;
	memcpy(s->rx, st->rx, sizeof(s->rx));
	/* the line's level is in the irqchip's saved state; ours follows it */
	s->irq_level = st->irq_level != 0;
	pthread_mutex_unlock(&s->lock);
	return 0;
}
