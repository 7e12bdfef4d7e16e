/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The console client: the user's terminal copied both ways with a
 * console's socket (src/monitor/console.c serves it: raw bytes, the last
 * 64 KiB replayed on connect). `vps console` (src/cli/attach.c) and
 * `vps-ctm console` (src/ctm/main.c) both run this one loop; it lives in
 * vps_sys, the lowest library both link (the CLI links no monitor code).
 */
#ifndef VPS_SYS_TTY_H
#define VPS_SYS_TTY_H

#include <stdbool.h>

#define TTY_ESCAPE 0x1d /* Ctrl-] detaches, as in telnet and virsh console */
#define TTY_IDLE_MS 1000 /* input not a terminal and at its end: leave after this much quiet */

/* Why a session ended. */
enum tty_end {
	TTY_DETACHED, /* the escape key, typed on a terminal */
	TTY_INPUT_DONE, /* input ended: a terminal's at once, else after TTY_IDLE_MS of quiet */
	TTY_PEER_CLOSED, /* the console's socket closed (the VPS stopped?) */
	TTY_OUTPUT_CLOSED, /* out could not be written */
	TTY_SIGNAL, /* SIGTERM, SIGHUP or SIGINT (tty_session.sig) */
	TTY_FAILED, /* poll failed (tty_session.err) */
};

struct tty_session {
	int in, out; /* the user's side: 0 and 1 */
	int peer; /* the console's socket (left open) */
	const char *hello; /* said on stderr once the terminal is raw (a terminal only) */
	/* set by tty_attach */
	bool raw; /* in was a terminal, raw from the hello to the end */
	int sig; /* the signal that ended it, or 0 */
	int err; /* the errno of TTY_FAILED */
};

/*
 * Copy between s->in/s->out and s->peer until one of enum tty_end. When
 * s->in is a terminal it is raw meanwhile (^C goes to the console) and the
 * escape key detaches; else every byte, the escape key's too, goes to the
 * console. On every way out the terminal is as it was, and so are the
 * dispositions of SIGTERM, SIGHUP, SIGINT and SIGPIPE and the signal mask
 * (those three are caught while it runs: a kill ends the session, not the
 * program, so its terminal is restored).
 */
enum tty_end tty_attach(struct tty_session *s);
/* What went wrong, for a message; NULL for a detach, an input's end or a signal. */
const char *tty_end_str(enum tty_end end);

#endif
