/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The i8042 keyboard controller at ports 0x60/0x64 (see i8042.c). For a
 * kernel-booted VM it is the reset line only, as before: status reads as
 * an empty controller and Linux finds no keyboard. For firmware boot it is
 * a controller with a PS/2 keyboard (and an answering but silent mouse
 * port): SeaBIOS and the guest find it, and the control socket's `key`
 * types into it (i8042_type), in scan code set 1 as the controller's
 * translation gives every PC guest.
 *
 * Hostile input: commands and data bytes are a small state machine over a
 * bounded output queue; anything unknown is acknowledged or ignored.
 */
#ifndef VPS_VMM_I8042_H
#define VPS_VMM_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "vmm/vm.h"

#define I8042_QUEUE 256 /* bytes waiting for the guest; more are dropped */

struct i8042 {
	pthread_mutex_t lock;
	struct vm *vm;
	bool keyboard; /* a full controller with a keyboard (firmware boot) */
	uint8_t cmd_byte; /* the controller's command byte */
	uint8_t pending; /* the controller command whose data byte comes next, or 0 */
	uint8_t kbd_pending; /* the keyboard command whose argument comes next, or 0 */
	bool last_was_cmd; /* status bit 3 */
	uint8_t out; /* the output buffer */
	bool out_full, out_aux;
	uint8_t q[I8042_QUEUE];
	bool q_aux[I8042_QUEUE];
	unsigned int q_head, q_len;
	uint64_t dropped; /* queue overflows */
};

int i8042_init(struct i8042 *k, struct vm *vm, bool keyboard);
void i8042_destroy(struct i8042 *k);

/*
 * Type keys: `what` is text (printable US-ASCII, \n, \t, \b) or, with
 * is_name, one key or chord by name ("esc", "enter", "f1".."f12", "up",
 * "ctrl-alt-delete", "ctrl-c", "alt-f2"). -EINVAL naming what is not known,
 * -ENOSPC when the guest has not read what it was sent; -ENODEV without a
 * keyboard.
 */
int i8042_type(struct i8042 *k, const char *what, bool is_name, struct err **err);

/*
 * One key down or up by its X keysym, as an RFB client sends it (RFC 6143
 * §7.5.4): Latin-1 characters on the US layout (the client presses shift
 * itself), Return, BackSpace, Tab, Escape, arrows, Home/End/Page, Insert,
 * Delete, F1-F12, shift, control, alt. -EINVAL for a keysym with no key,
 * -ENOSPC when the guest has not read what it was sent (the key is
 * dropped), -ENODEV without a keyboard.
 */
int i8042_keysym(struct i8042 *k, uint32_t keysym, bool down);

/* The port handlers, exposed for the fuzz target. */
void i8042_pio_read(void *opaque, uint64_t port, void *data, unsigned int len);
void i8042_pio_write(void *opaque, uint64_t port, const void *data, unsigned int len);

#endif
