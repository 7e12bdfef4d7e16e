// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The i8042 keyboard controller: see i8042.h. Command and status bits as
 * in IBM's PS/2 technical reference (and every PC since): status bit 0 the
 * output buffer is full, bit 2 the system flag, bit 3 the last write was a
 * command, bit 5 the byte is from the mouse port. The output buffer holds
 * one byte; the rest wait in a queue and move up as the guest reads port
 * 0x60. IRQ 1 (keyboard) or 12 (mouse) is high while a byte waits and its
 * interrupt is enabled in the command byte, as on the chip.
 */
#include <errno.h>
#include <string.h>

#include "vmm/devices/i8042.h"

#define I8042_DATA 0x60
#define I8042_CMD 0x64 /* command (write) / status (read) */

#define ST_OBF 0x01
#define ST_SYS 0x04
#define ST_CMD 0x08
#define ST_UNLOCKED 0x10
#define ST_AUX 0x20

#define CB_KBD_INT 0x01
#define CB_AUX_INT 0x02
#define CB_SYS 0x04
#define CB_KBD_OFF 0x10
#define CB_AUX_OFF 0x20
#define CB_XLATE 0x40

#define KBD_IRQ 1
#define AUX_IRQ 12

static void update_irq(struct i8042 *k)
{
	bool kbd = k->out_full && !k->out_aux && (k->cmd_byte & CB_KBD_INT);
	bool aux = k->out_full && k->out_aux && (k->cmd_byte & CB_AUX_INT);

	vm_irq_line(k->vm, KBD_IRQ, kbd);
	vm_irq_line(k->vm, AUX_IRQ, aux);
}

/* Move the next queued byte into the output buffer if it is free. */
static void refill(struct i8042 *k)
{
	if (!k->out_full && k->q_len) {
		k->out = k->q[k->q_head];
		k->out_aux = k->q_aux[k->q_head];
		k->out_full = true;
		k->q_head = (k->q_head + 1) % I8042_QUEUE;
		k->q_len--;
	}
	update_irq(k);
}

static int push(struct i8042 *k, uint8_t b, bool aux)
{
	if (k->q_len == I8042_QUEUE) {
		k->dropped++;
		return -ENOSPC;
	}
	k->q[(k->q_head + k->q_len) % I8042_QUEUE] = b;
	k->q_aux[(k->q_head + k->q_len) % I8042_QUEUE] = aux;
	k->q_len++;
	refill(k);
	return 0;
}

/* A byte for the keyboard (written to port 0x60 with no controller command pending). */
static void kbd_write(struct i8042 *k, uint8_t b)
{
	if (k->kbd_pending) { /* the argument of LEDs, typematic rate, scan code set */
		uint8_t c = k->kbd_pending;

		k->kbd_pending = 0;
		push(k, 0xfa, false);
		if (c == 0xf0 && b == 0)
			push(k, 0x02, false); /* the set in use: 2, translated to 1 */
		return;
	}
	switch (b) {
	case 0xff: /* reset: ACK, then self-test passed */
		push(k, 0xfa, false);
		push(k, 0xaa, false);
		break;
	case 0xf2: /* identify: an MF2 keyboard */
		push(k, 0xfa, false);
		push(k, 0xab, false);
		push(k, 0x83, false);
		break;
	case 0xee: /* echo */
		push(k, 0xee, false);
		break;
	case 0xed:
	case 0xf0:
	case 0xf3:
		k->kbd_pending = b;
		push(k, 0xfa, false);
		break;
	default: /* enable, disable, defaults, and whatever else: acknowledged */
		push(k, 0xfa, false);
		break;
	}
}

/* A byte for the mouse port (controller command 0xd4): a mouse that never moves. */
static void aux_write(struct i8042 *k, uint8_t b)
{
	push(k, 0xfa, true);
	if (b == 0xff) { /* reset: self-test passed, device id 0 */
		push(k, 0xaa, true);
		push(k, 0x00, true);
	} else if (b == 0xf2) {
		push(k, 0x00, true);
	} else if (b == 0xe9) { /* status request: three bytes */
		push(k, 0x00, true);
		push(k, 0x02, true);
		push(k, 0x64, true);
	}
}

static void controller_cmd(struct i8042 *k, uint8_t c)
{
	switch (c) {
	case 0x20: /* read the command byte */
		push(k, k->cmd_byte, false);
		break;
	case 0x60: /* write the command byte */
	case 0xd1: /* write the output port */
	case 0xd2: /* write the keyboard output buffer */
	case 0xd3: /* write the mouse output buffer */
	case 0xd4: /* write to the mouse */
		k->pending = c;
		break;
	case 0xa7:
		k->cmd_byte |= CB_AUX_OFF;
		break;
	case 0xa8:
		k->cmd_byte &= ~CB_AUX_OFF;
		break;
	case 0xa9: /* test the mouse port: fine */
	case 0xab: /* test the keyboard port: fine */
		push(k, 0x00, false);
		break;
	case 0xaa: /* self-test */
		push(k, 0x55, false);
		break;
	case 0xad:
		k->cmd_byte |= CB_KBD_OFF;
		break;
	case 0xae:
		k->cmd_byte &= ~CB_KBD_OFF;
		break;
	case 0xd0: /* read the output port: A20 on, not in reset */
		push(k, 0x03, false);
		break;
	default:
		/* 0xf0..0xff pulse output lines; bit 0 low is the CPU reset */
		if (c >= 0xf0 && !(c & 1))
			vm_request_exit(k->vm, VM_REBOOT, 0);
		break;
	}
}

static void data_write(struct i8042 *k, uint8_t b)
{
	uint8_t c = k->pending;

	k->pending = 0;
	switch (c) {
	case 0x60:
		k->cmd_byte = b;
		update_irq(k);
		break;
	case 0xd1:
		if (!(b & 1))
			vm_request_exit(k->vm, VM_REBOOT, 0);
		break;
	case 0xd2:
		push(k, b, false);
		break;
	case 0xd3:
		push(k, b, true);
		break;
	case 0xd4:
		aux_write(k, b);
		break;
	default:
		kbd_write(k, b);
		break;
	}
}

void i8042_pio_read(void *opaque, uint64_t port, void *data, unsigned int len)
{
	struct i8042 *k = opaque;
	uint8_t v;

	memset(data, 0, len);
	if (!k->keyboard)
		return; /* the reset-line-only controller: empty, no keyboard */
	pthread_mutex_lock(&k->lock);
	if (port == I8042_DATA) {
		v = k->out;
		k->out_full = false;
		/* the line drops, then rises for the next byte: an edge for the PIC */
		update_irq(k);
		refill(k);
	} else {
		v = ST_UNLOCKED | (k->cmd_byte & CB_SYS ? ST_SYS : 0) |
		    (k->last_was_cmd ? ST_CMD : 0) | (k->out_full ? ST_OBF : 0) |
		    (k->out_full && k->out_aux ? ST_AUX : 0);
	}
	pthread_mutex_unlock(&k->lock);
	*(uint8_t *)data = v;
}

void i8042_pio_write(void *opaque, uint64_t port, const void *data, unsigned int len)
{
	struct i8042 *k = opaque;
	uint8_t b = *(const uint8_t *)data;

	if (!k->keyboard) {
		if (port == I8042_CMD && b == 0xfe) /* pulse the reset line */
			vm_request_exit(k->vm, VM_REBOOT, 0);
		return;
	}
	pthread_mutex_lock(&k->lock);
	k->last_was_cmd = port == I8042_CMD;
	if (port == I8042_CMD)
		controller_cmd(k, b);
	else
		data_write(k, b);
	pthread_mutex_unlock(&k->lock);
}

static void i8042_read_off(void *opaque, uint64_t off, void *data, unsigned int len)
{
	i8042_pio_read(opaque, I8042_DATA + off, data, len);
}

static void i8042_write_off(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	i8042_pio_write(opaque, I8042_DATA + off, data, len);
}

static const struct io_ops data_ops = { .read = i8042_read_off, .write = i8042_write_off };

static void cmd_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	i8042_pio_read(opaque, I8042_CMD, data, len);
}

static void cmd_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	i8042_pio_write(opaque, I8042_CMD, data, len);
}

static const struct io_ops cmd_ops = { .read = cmd_read, .write = cmd_write };

/* --- typing: US layout, scan code set 1 (what translation hands the guest) --- */

#define SC_E0 0x100 /* an extended key: 0xe0 before its code */
#define SC_LSHIFT 0x2a
#define SC_LCTRL 0x1d
#define SC_LALT 0x38

static const char row_plain[4][13] = { "1234567890-=", "qwertyuiop[]", "asdfghjkl;'`",
				       "\\zxcvbnm,./" };
static const char row_shift[4][13] = { "!@#$%^&*()_+", "QWERTYUIOP{}", "ASDFGHJKL:\"~",
				       "|ZXCVBNM<>?" };
static const uint8_t row_first[4] = { 0x02, 0x10, 0x1e, 0x2b };

static const struct {
	const char *name;
	uint16_t code;
} named[] = {
	{ "esc", 0x01 },
	{ "backspace", 0x0e },
	{ "tab", 0x0f },
	{ "enter", 0x1c },
	{ "space", 0x39 },
	{ "f1", 0x3b },
	{ "f2", 0x3c },
	{ "f3", 0x3d },
	{ "f4", 0x3e },
	{ "f5", 0x3f },
	{ "f6", 0x40 },
	{ "f7", 0x41 },
	{ "f8", 0x42 },
	{ "f9", 0x43 },
	{ "f10", 0x44 },
	{ "f11", 0x57 },
	{ "f12", 0x58 },
	{ "up", SC_E0 | 0x48 },
	{ "down", SC_E0 | 0x50 },
	{ "left", SC_E0 | 0x4b },
	{ "right", SC_E0 | 0x4d },
	{ "home", SC_E0 | 0x47 },
	{ "end", SC_E0 | 0x4f },
	{ "pgup", SC_E0 | 0x49 },
	{ "pgdn", SC_E0 | 0x51 },
	{ "insert", SC_E0 | 0x52 },
	{ "delete", SC_E0 | 0x53 },
};

/* The code of one character, and whether it needs shift; 0 when it has none. */
static uint16_t char_code(char ch, bool *shift)
{
	*shift = false;
	if (ch == ' ')
		return 0x39;
	if (ch == '\n')
		return 0x1c;
	if (ch == '\t')
		return 0x0f;
	if (ch == '\b')
		return 0x0e;
	for (unsigned int r = 0; r < 4; r++) {
		const char *p = ch ? strchr(row_plain[r], ch) : NULL;

		if (p)
			return row_first[r] + (p - row_plain[r]);
		p = ch ? strchr(row_shift[r], ch) : NULL;
		if (p) {
			*shift = true;
			return row_first[r] + (p - row_shift[r]);
		}
	}
	return 0;
}

static int send_code(struct i8042 *k, uint16_t code, bool release)
{
	int r = 0;

	if (code & SC_E0)
		r = push(k, 0xe0, false);
	if (r == 0)
		r = push(k, (code & 0x7f) | (release ? 0x80 : 0), false);
	return r;
}

/* Press the modifiers, the key, then let go in reverse order. */
static int chord(struct i8042 *k, const uint16_t *mods, unsigned int n, uint16_t code)
{
	unsigned int i;
	int r = 0;

	for (i = 0; i < n && r == 0; i++)
		r = send_code(k, mods[i], false);
	if (r == 0)
		r = send_code(k, code, false);
	if (r == 0)
		r = send_code(k, code, true);
	for (i = n; i-- > 0 && r == 0;)
		r = send_code(k, mods[i], true);
	return r;
}

static int parse_name(const char *what, uint16_t *mods, unsigned int *nmods, uint16_t *code)
{
	const char *p = what, *dash;
	bool shift;

	*nmods = 0;
	while ((dash = strchr(p, '-')) && dash[1]) {
		size_t n = dash - p;

		if (*nmods == 3)
			return -EINVAL;
		if (n == 4 && !strncmp(p, "ctrl", 4))
			mods[(*nmods)++] = SC_LCTRL;
		else if (n == 3 && !strncmp(p, "alt", 3))
			mods[(*nmods)++] = SC_LALT;
		else if (n == 5 && !strncmp(p, "shift", 5))
			mods[(*nmods)++] = SC_LSHIFT;
		else
			return -EINVAL;
		p = dash + 1;
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (!strcmp(p, named[i].name)) {
			*code = named[i].code;
			return 0;
		}
	if (p[0] && !p[1] && (*code = char_code(p[0], &shift))) {
		if (shift && *nmods < 3)
			mods[(*nmods)++] = SC_LSHIFT;
		return 0;
	}
	return -EINVAL;
}

int i8042_type(struct i8042 *k, const char *what, bool is_name, struct err **err)
{
	uint16_t mods[3], code = 0;
	unsigned int nmods = 0;
	size_t need = 0;
	int r = 0;

	if (!k->keyboard)
		return err_make(err, 0, "this VM has no keyboard");
	/* check it all first: a key the guest cannot get sends nothing */
	if (is_name) {
		if (parse_name(what, mods, &nmods, &code) < 0)
			return err_make(err, 0, "`key`: no key `%s`", what);
		need = 4 * (nmods + 1);
	} else {
		for (const char *c = what; *c; c++) {
			bool shift;

			if (!char_code(*c, &shift))
				return err_make(err, 0, "`text`: no key for byte %#x at offset %zu",
						(unsigned char)*c, (size_t)(c - what));
			need += shift ? 6 : 2;
		}
	}
	pthread_mutex_lock(&k->lock);
	if (need > I8042_QUEUE - k->q_len) {
		pthread_mutex_unlock(&k->lock);
		return err_make(err, 0,
				"the guest has not read the keys sent before (%u bytes waiting)",
				k->q_len);
	}
	if (is_name) {
		r = chord(k, mods, nmods, code);
	} else {
		for (const char *c = what; *c && r == 0; c++) {
			bool shift;
			uint16_t sc = char_code(*c, &shift), lshift = SC_LSHIFT;

			r = chord(k, &lshift, shift, sc);
		}
	}
	pthread_mutex_unlock(&k->lock);
	return r < 0 ? err_make(err, -r, "keyboard queue full") : 0;
}

/* X keysyms (X11's keysymdef.h) of the keys that are not characters, by set 1 code. */
static const struct {
	uint32_t keysym;
	uint16_t code;
} keysyms[] = {
	{ 0xff08, 0x0e }, /* BackSpace */
	{ 0xff09, 0x0f }, /* Tab */
	{ 0xff0d, 0x1c }, /* Return */
	{ 0xff1b, 0x01 }, /* Escape */
	{ 0xff50, SC_E0 | 0x47 }, /* Home */
	{ 0xff51, SC_E0 | 0x4b }, /* Left */
	{ 0xff52, SC_E0 | 0x48 }, /* Up */
	{ 0xff53, SC_E0 | 0x4d }, /* Right */
	{ 0xff54, SC_E0 | 0x50 }, /* Down */
	{ 0xff55, SC_E0 | 0x49 }, /* Page_Up */
	{ 0xff56, SC_E0 | 0x51 }, /* Page_Down */
	{ 0xff57, SC_E0 | 0x4f }, /* End */
	{ 0xff63, SC_E0 | 0x52 }, /* Insert */
	{ 0xffff, SC_E0 | 0x53 }, /* Delete */
	{ 0xff8d, SC_E0 | 0x1c }, /* KP_Enter */
	{ 0xffe1, SC_LSHIFT }, /* Shift_L */
	{ 0xffe2, 0x36 }, /* Shift_R */
	{ 0xffe3, SC_LCTRL }, /* Control_L */
	{ 0xffe4, SC_E0 | 0x1d }, /* Control_R */
	{ 0xffe5, 0x3a }, /* Caps_Lock */
	{ 0xffe9, SC_LALT }, /* Alt_L */
	{ 0xffea, SC_E0 | 0x38 }, /* Alt_R */
	{ 0xffe7, SC_LALT }, /* Meta_L, as noVNC sends Alt on some layouts */
	{ 0xffeb, SC_E0 | 0x5b }, /* Super_L */
	{ 0xffec, SC_E0 | 0x5c }, /* Super_R */
};

static uint16_t keysym_code(uint32_t keysym)
{
	bool shift;

	if (keysym >= 0xffbe && keysym <= 0xffc7) /* F1..F10 */
		return 0x3b + (keysym - 0xffbe);
	if (keysym == 0xffc8 || keysym == 0xffc9) /* F11, F12 */
		return 0x57 + (keysym - 0xffc8);
	for (size_t i = 0; i < sizeof(keysyms) / sizeof(keysyms[0]); i++)
		if (keysyms[i].keysym == keysym)
			return keysyms[i].code;
	/* Latin-1 characters are their own keysyms; the client sends shift itself */
	if (keysym > 0x20 && keysym < 0x7f)
		return char_code((char)keysym, &shift);
	return keysym == 0x20 ? 0x39 : 0;
}

int i8042_keysym(struct i8042 *k, uint32_t keysym, bool down)
{
	uint16_t code = keysym_code(keysym);
	int r;

	if (!k->keyboard)
		return -ENODEV;
	if (!code)
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	/* both bytes of an extended key or neither */
	r = k->q_len + 2 > I8042_QUEUE ? -ENOSPC : send_code(k, code, !down);
	if (r < 0)
		k->dropped++;
	pthread_mutex_unlock(&k->lock);
	return r;
}

int i8042_init(struct i8042 *k, struct vm *vm, bool keyboard)
{
	int ret;

	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->vm = vm;
	k->keyboard = keyboard;
	k->cmd_byte = CB_KBD_INT | CB_SYS | CB_XLATE;
	ret = iobus_register(&vm->pio, I8042_DATA, 1, &data_ops, k);
	if (ret < 0)
		return ret;
	return iobus_register(&vm->pio, I8042_CMD, 1, &cmd_ops, k);
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}
