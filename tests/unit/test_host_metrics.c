// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The metrics' text (src/host/metrics.c): label values escaped as the
 * exposition format 0.0.4 says (backslash, double quote, newline; nothing
 * else), and the latency histogram's buckets: a request on a bucket's
 * bound counts in it, buckets are cumulative, +Inf is the count, and a
 * method and route seen first get their series. Rendered from a real
 * SQLite store in a temporary directory, with no VPS and no sampler.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/metrics.h"
#include "host/store.h"

static char *escaped(const char *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	metrics_label_value(f, s);
	assert_int_equal(fclose(f), 0);
	return out;
}

static void escapes_label_values(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "web1", "web1" },
		{ "", "" },
		{ "a\"b", "a\\\"b" },
		{ "a\\b", "a\\\\b" },
		{ "a\nb", "a\\nb" },
		{ "\\\"\n", "\\\\\\\"\\n" },
		/* an injection: stays inside the one value */
		{ "x\"} 1\nvps_host_cpus 999", "x\\\"} 1\\nvps_host_cpus 999" },
		/* tabs, carriage returns and UTF-8 pass as they are */
		{ "t\tr\r\xc3\xa9", "t\tr\r\xc3\xa9" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = escaped(cases[i].in);

		assert_string_equal(got, cases[i].out);
		free(got);
	}
}

/* The value of the line that starts with `prefix` (followed by a space) in text. */
static double line_value(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, n) && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	fail_msg("no line `%s`", prefix);
	return -1;
}

static void histogram_buckets(void **state)
{
	char dir[] = "/tmp/test_host_metrics.XXXXXX", db[64];
	struct host h = { .sample_every = 0 };
	struct err *e = NULL;
	char *text;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/vps.db", dir);
	h.data_dir = dir;
	h.run_dir = dir;
	assert_int_equal(store_open(db, &h.store, &e), 0);

	metrics_api_observe("GET", "/unit", 200, 0.0004); /* le 0.001 */
	metrics_api_observe("GET", "/unit", 200, 0.005); /* on the bound: le 0.005 */
	metrics_api_observe("GET", "/unit", 404, 0.02); /* le 0.025 */
	metrics_api_observe("GET", "/unit", 200, 100); /* past every bound: +Inf only */
	metrics_api_observe("POST", "/unit", 201, 0.3);
	metrics_op_started("unit");
	metrics_op_finished("unit", false);
	assert_int_equal(metrics_render(&h, &text, &len, &e), 0);
	assert_int_equal(strlen(text), len);

	assert_true(line_value(text, "vpsd_api_requests_total{method=\"GET\",route=\"/unit\","
				     "status=\"200\"}") == 3);
	assert_true(line_value(text, "vpsd_api_requests_total{method=\"GET\",route=\"/unit\","
				     "status=\"404\"}") == 1);
#define B(le)                                                                                 \
	line_value(text,                                                                      \
		   "vpsd_api_request_duration_seconds_bucket{method=\"GET\",route=\"/unit\"," \
		   "le=\"" le "\"}")
	assert_true(B("0.001") == 1);
	assert_true(B("0.0025") == 1);
	assert_true(B("0.005") == 2);
	assert_true(B("0.01") == 2);
	assert_true(B("0.025") == 3);
	assert_true(B("30") == 3);
	assert_true(B("+Inf") == 4);
#undef B
	assert_true(line_value(text, "vpsd_api_request_duration_seconds_count{method=\"GET\","
				     "route=\"/unit\"}") == 4);
	assert_float_equal(line_value(text, "vpsd_api_request_duration_seconds_sum{method=\"GET\","
					    "route=\"/unit\"}"),
			   100.0254, 1e-9);
	assert_true(line_value(text, "vpsd_api_request_duration_seconds_count{method=\"POST\","
				     "route=\"/unit\"}") == 1);
	assert_true(line_value(text, "vpsd_operations_finished_total{action=\"unit\","
				     "result=\"failed\"}") == 1);
	assert_true(line_value(text, "vpsd_operations_running") == 0);
	/* no VPS: every kind and state counted zero, no per-VPS sample */
	assert_true(line_value(text, "vps_host_vps{kind=\"ct\",state=\"running\"}") == 0);
	assert_null(strstr(text, "vps_state{"));
	/* each family's HELP and TYPE once */
	assert_non_null(strstr(text, "# TYPE vpsd_api_request_duration_seconds histogram\n"));
	assert_ptr_equal(strstr(text, "# TYPE vps_host_cpus "),
			 strstr(text, "# TYPE vps_host_cpus gauge\n"));
	free(text);
	store_close(h.store);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escapes_label_values),
		cmocka_unit_test(histogram_buckets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
