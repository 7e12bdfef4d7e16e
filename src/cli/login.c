// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps login` and `vps 2fa` (docs/auth.md): logging in over --url with a
 * password and, for a user with two-factor login, a code; and turning
 * two-factor login on and off for oneself. The CLI keeps no state between
 * runs, so `vps login` ends by making an API token with the session it
 * opened (printed for `export VPS_TOKEN=...`) and logging the session out.
 *
 * Secrets come from standard input: the password typed without echo on a
 * terminal (else the first line), a code as the next line. Secrets and
 * recovery codes are printed on standard output, what to do with them on
 * standard error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define LOGIN_TOKEN_TTL (12 * 3600) /* s: a working day's token by default */

/* One line: a code typed in the open (it is good once), or stdin's next line. */
static char *read_code(const char *prompt)
{
	if (isatty(STDIN_FILENO)) {
		fputs(prompt, stderr);
		fflush(stderr);
	}
	return read_line();
}

/*
 * Turn on two-factor login for whoever the requests are made as; password:
 * theirs (vpsd asks for it again), or NULL to read it.
 */
static int enrol(const char *password)
{
	struct err *err = NULL;
	json_t *reply = NULL, *body, *c;
	char *code, *pw = NULL;
	size_t i;
	int r;

	if (!password &&
	    !(pw = isatty(STDIN_FILENO) ? prompt_line("Your password: ") : read_line()))
		return usage_err("2fa enable", "password: nothing on standard input");
	body = json_pack("{s:s}", "password", password ? password : pw);
	free_secret(pw);
	if (!body)
		return usage_err("2fa enable", "password: not valid UTF-8");
	r = api("POST", "/me/2fa", body, &reply, &err);
	json_decref(body);
	if (r < 0)
		return fail_err(&err);
	printf("secret: %s\nuri: %s\n", json_string_value(json_object_get(reply, "secret")),
	       json_string_value(json_object_get(reply, "uri")));
	fflush(stdout);
	json_decref(reply);
	fputs("Add the secret (or the URI, as a QR code) to an authenticator app; it is not "
	      "shown again.\n",
	      stderr);
	if (!(code = read_code("Code from the authenticator: ")))
		return fail("2fa enable: no code given; two-factor login stays off");
	body = json_pack("{s:s}", "code", code);
	free_secret(code);
	r = api("POST", "/me/2fa/confirm", body, &reply, &err);
	json_decref(body);
	if (r < 0)
		return fail_err(&err);
	fputs("Two-factor login is on. Recovery codes, each good once in place of a code "
	      "(keep them apart from the phone; they are not shown again):\n",
	      stderr);
	json_array_foreach(json_object_get(reply, "recovery_codes"), i, c)
		printf("%s\n", json_string_value(c));
	json_decref(reply);
	return 0;
}

int cmd_2fa_enable(struct args *a)
{
	(void)a;
	return enrol(NULL);
}

int cmd_2fa_disable(struct args *a)
{
	struct err *err = NULL;
	json_t *body, *reply = NULL;
	char *code;
	int r;

	(void)a;
	if (!(code = read_code("Code from the authenticator (or a recovery code): ")))
		return usage_err("2fa disable", "no code given");
	body = json_pack("{s:s}", "code", code);
	free_secret(code);
	r = api("POST", "/me/2fa/disable", body, &reply, &err);
	json_decref(body);
	json_decref(reply);
	if (r < 0)
		return fail_err(&err);
	printf("two-factor login is off\n");
	return 0;
}

/* POST /login with body; on a `totp_required` answer, again with a code. */
static int login_post(json_t *body, json_t **reply, struct err **err)
{
	char *code;
	int r;

	if ((r = api("POST", "/login", body, reply, err)) == 0 ||
	    strcmp(api_last_code(), "totp_required"))
		return r;
	err_free(err);
	if (!(code = read_code("Two-factor code (or a recovery code): ")))
		return err_make(err, 0, "this user logs in with a second factor: no code given");
	json_object_set_new(body, "totp", json_string(code));
	free_secret(code);
	return api("POST", "/login", body, reply, err);
}

int cmd_login(struct args *a)
{
	const char *user = a->pos[0], *exp = args_get(a, "expires");
	json_t *body, *reply = NULL, *tok = NULL;
	struct err *err = NULL;
	long ttl = LOGIN_TOKEN_TTL;
	char prompt[96], *pw, *end;
	int r = 0;

	if (!cli_target.url)
		return usage_err("login", "is for --url: on the unix socket you are root already");
	if (exp) {
		errno = 0;
		ttl = strtol(exp, &end, 10);
		switch (*end) {
		case 'm':
			ttl *= 60, end++;
			break;
		case 'h':
			ttl *= 3600, end++;
			break;
		case 'd':
			ttl *= 86400, end++;
			break;
		case 's':
			end++;
			break;
		}
		if (*end || errno || ttl < 60 || ttl > 31536000)
			return usage_err("login", "--expires: `%s` is not 60s to 365d (12h, 30d)",
					 exp);
	}
	snprintf(prompt, sizeof(prompt), "Password for %s: ", user);
	if (!(pw = isatty(STDIN_FILENO) ? prompt_line(prompt) : read_line()))
		return usage_err("login", "password: nothing on standard input");
	body = json_pack("{s:s, s:s}", "user", user, "password", pw);
	if (!body) {
		free_secret(pw);
		return usage_err("login", "password: not valid UTF-8");
	}
	api_session(NULL, NULL);
	r = login_post(body, &reply, &err);
	json_decref(body);
	if (r < 0) {
		free_secret(pw);
		return fail_err(&err);
	}
	api_session(api_session_cookie(), json_string_value(json_object_get(reply, "csrf")));
	if (json_is_true(json_object_get(reply, "2fa_required"))) {
		fprintf(stderr,
			"This host requires two-factor login, and %s has none: turning it "
			"on now.\n",
			user);
		if ((r = enrol(pw)) == 0)
			fprintf(stderr, "Log in again with the authenticator's next code.\n");
	} else {
		body = json_pack("{s:s, s:I}", "name", "vps login", "expires_in", (json_int_t)ttl);
		if (api("POST", "/tokens", body, &tok, &err) < 0) {
			r = fail_err(&err);
		} else {
			printf("%s\n", json_string_value(json_object_get(tok, "token")) ?: "");
			fprintf(stderr, "logged in as %s; use the token: export VPS_TOKEN=...\n",
				user);
		}
		json_decref(body);
		json_decref(tok);
	}
	json_decref(reply);
	free_secret(pw);
	/* the session served its purpose: end it */
	if (api("POST", "/logout", NULL, &reply, &err) == 0)
		json_decref(reply);
	err_free(&err);
	api_session(NULL, NULL);
	return r;
}
