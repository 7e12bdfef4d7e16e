// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * HTTP to vpsd with libcurl: over the unix socket (CURLOPT_UNIX_SOCKET_PATH,
 * as the docker and incus clients do) or, with --url, over TCP. One request
 * per call; the CLI makes few. The server's error body
 * `{"error": {"code", "message"}}` becomes the err's message as it is.
 * Over the socket the caller is root; over TCP it is whoever $VPS_TOKEN
 * (`vps token create`) belongs to, sent as a bearer token.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "cli/cli.h"

struct buf {
	char *data;
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t add = size * n;
	char *d = realloc(b->data, b->len + add + 1);

	if (!d)
		return 0; /* curl reports CURLE_WRITE_ERROR */
	memcpy(d + b->len, p, add);
	b->len += add;
	d[b->len] = '\0';
	b->data = d;
	return add;
}

/* What failed when curl could not talk to vpsd, said in the socket's terms. */
static int transport_err(CURLcode rc, const char *detail, struct err **err)
{
	const char *sock = cli_target.socket;
	struct stat st;

	if (cli_target.url)
		return err_make(err, 0, "cannot reach vpsd at `%s`: %s", cli_target.url,
				*detail ? detail : curl_easy_strerror(rc));
	if (rc == CURLE_COULDNT_CONNECT) {
		if (stat(sock, &st) < 0)
			return err_make(err, errno, "cannot reach vpsd: socket `%s`", sock);
		if (!S_ISSOCK(st.st_mode))
			return err_make(err, ENOTSOCK, "cannot reach vpsd: `%s`", sock);
		return err_make(err, 0, "cannot reach vpsd at `%s` (is it running?): %s", sock,
				*detail ? detail : curl_easy_strerror(rc));
	}
	return err_make(err, 0, "talking to vpsd at `%s`: %s", sock,
			*detail ? detail : curl_easy_strerror(rc));
}

/*
 * A browser-like session for `vps login` (login.c): the cookie a login
 * answered, sent with its CSRF token instead of $VPS_TOKEN while it is set.
 */
static char session_cookie[128], session_csrf[128], last_code[32];

void api_session(const char *cookie, const char *csrf)
{
	if (cookie != session_cookie) /* api_session(api_session_cookie(), csrf) keeps it */
		snprintf(session_cookie, sizeof(session_cookie), "%s", cookie ? cookie : "");
	snprintf(session_csrf, sizeof(session_csrf), "%s", csrf ? csrf : "");
}

const char *api_session_cookie(void)
{
	return session_cookie;
}

const char *api_last_code(void)
{
	return last_code;
}

/* Set-Cookie: vps_session=HEX; ...: taken as the session's cookie. */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	static const char key[] = "set-cookie: vps_session=";
	size_t len = size * n, v;

	(void)arg;
	if (len > sizeof(key) - 1 && !strncasecmp(p, key, sizeof(key) - 1)) {
		p += sizeof(key) - 1;
		len -= sizeof(key) - 1;
		for (v = 0; v < len && p[v] != ';' && p[v] != '\r' && p[v] != '\n'; v++)
			;
		if (v < sizeof(session_cookie))
			snprintf(session_cookie, sizeof(session_cookie), "%.*s", (int)v, p);
	}
	return size * n;
}

/* The message of an error reply, or the status and what came. */
static int server_err(long status, const char *body, json_t *reply, struct err **err)
{
	json_t *e = json_object_get(reply, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));

	snprintf(last_code, sizeof(last_code), "%s",
		 json_string_value(json_object_get(e, "code")) ?: "");
	if (!msg)
		msg = json_string_value(e);
	if (msg)
		return err_make(err, 0, "%s", msg);
	return err_make(err, 0, "vpsd answered HTTP %ld: %.200s", status,
			body && *body ? body : "(no body)");
}

static int request(const char *method, const char *path, json_t *body, FILE *up, long long uplen,
		   json_t **reply, struct err **err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct buf in = { NULL, 0 };
	char *url = NULL, *out = NULL, *auth = NULL, *cookie = NULL, *csrf = NULL;
	const char *token = getenv("VPS_TOKEN");
	json_t *j = NULL;
	long status = 0;
	json_error_t je;
	CURLcode rc;
	CURL *c;
	int r;

	*reply = NULL;
	if (!cli_target.socket)
		cli_target.socket = DEFAULT_SOCKET;
	if (asprintf(&url, "%s/api/v1%s", cli_target.url ? cli_target.url : "http://localhost",
		     path) < 0)
		return err_make(err, ENOMEM, "request");
	c = curl_easy_init();
	if (!c) {
		free(url);
		return err_make(err, ENOMEM, "curl");
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (!cli_target.url)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, cli_target.socket);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &in);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "vps-cli");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	last_code[0] = 0;
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	if (cli_target.url && *session_cookie) {
		if (asprintf(&cookie, "Cookie: vps_session=%s", session_cookie) < 0 ||
		    asprintf(&csrf, "X-CSRF-Token: %s", session_csrf) < 0) {
			r = err_make(err, ENOMEM, "request");
			goto done;
		}
		hdrs = curl_slist_append(hdrs, cookie);
		hdrs = curl_slist_append(hdrs, csrf);
	} else if (cli_target.url && token && *token) {
		if (asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
			r = err_make(err, ENOMEM, "request");
			goto done;
		}
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (body) {
		out = json_dumps(body, JSON_COMPACT);
		if (!out) {
			r = err_make(err, ENOMEM, "request body");
			goto done;
		}
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, out);
	} else if (up) { /* a file's bytes as they are: a template import */
		hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READDATA, up);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)uplen);
	} else if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, ""); /* Content-Length: 0 */
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		r = transport_err(rc, errbuf, err);
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (in.len) {
		j = json_loadb(in.data, in.len, JSON_DECODE_ANY, &je);
		if (!j && status < 300) {
			r = err_make(err, 0, "vpsd sent a reply that is not JSON: %s", je.text);
			goto done;
		}
	}
	if (status < 200 || status >= 300) {
		r = server_err(status, in.data, j, err);
		json_decref(j);
		goto done;
	}
	*reply = j;
	r = 0;
done:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	free(url);
	free(out);
	free(auth);
	free(cookie);
	free(csrf);
	free(in.data);
	return r;
}

int api(const char *method, const char *path, json_t *body, json_t **reply, struct err **err)
{
	return request(method, path, body, NULL, 0, reply, err);
}

int api_upload(const char *path, const char *file, json_t **reply, struct err **err)
{
	FILE *f = fopen(file, "rb");
	struct stat st;
	int r;

	*reply = NULL;
	if (!f)
		return err_make(err, errno, "open `%s`", file);
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return err_make(err, EINVAL, "`%s`: not a regular file", file);
	}
	r = request("PUT", path, NULL, f, (long long)st.st_size, reply, err);
	fclose(f);
	return r;
}

int api_delete(const char *collection, const char *name, const char *done)
{
	struct err *err = NULL;
	json_t *reply;
	char path[160];

	snprintf(path, sizeof(path), "/%s/%s", collection, name);
	if (api("DELETE", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	json_decref(reply);
	printf("%s %s\n", done, name);
	return 0;
}

int api_show(const char *path, bool json, const char *const *cols, const char *const *order)
{
	struct err *err = NULL;
	json_t *reply;

	if (api("GET", path, NULL, &reply, &err) < 0)
		return fail_err(&err);
	if (json)
		print_json(reply);
	else if (cols)
		print_table(as_list(reply), cols);
	else
		print_object_ordered(reply, order);
	json_decref(reply);
	return 0;
}
