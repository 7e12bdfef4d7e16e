// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the CLI prints: plain tables (vzctl's `vzlist`, prlctl's `list`: no
 * boxes, so that awk and cut work on them), `key: value` views of one
 * object, and JSON as the server sent it for --format json. Sizes are made
 * human-readable for people; the JSON keeps bytes for programs.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

#define CELL_MAX 256
#define COLS_MAX 16

void human_size(uint64_t n, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int u = -1;
	double d = (double)n;

	while (d >= 1024 && u < (int)sizeof(units) - 2) {
		d /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, n);
	else if (n % (1ULL << (10 * (u + 1))) == 0)
		snprintf(buf, len, "%.0f%c", d, units[u]);
	else
		snprintf(buf, len, "%.1f%c", d, units[u]);
}

static bool is_size_key(const char *key)
{
	static const char *const sizes[] = { "ram",	     "swap",	  "disk", "bw",
					     "memory_limit", "memory",	  "rx",	  "tx",
					     "total",	     "allowance", NULL };
	size_t n = key ? strlen(key) : 0;

	if (n > 6 && !strcmp(key + n - 6, "_bytes"))
		return true;
	if (n > 5 && !strcmp(key + n - 5, "_size"))
		return true;
	if (n > 10 && !strcmp(key + n - 10, "_allocated"))
		return true;
	for (size_t i = 0; key && sizes[i]; i++)
		if (!strcmp(key, sizes[i]))
			return true;
	return false;
}

static bool is_time_key(const char *key)
{
	static const char *const times[] = { "created", "started", "finished",	"expires",
					     "time",	"at",	   "last_used", NULL };

	for (size_t i = 0; key && times[i]; i++)
		if (!strcmp(key, times[i]))
			return true;
	return false;
}

void cell_text(const char *key, json_t *v, char *buf, size_t len)
{
	size_t off = 0;
	json_t *e;
	size_t i;

	if (!v) { /* a row without this column */
		snprintf(buf, len, "-");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(buf, len, "%s", json_string_value(v));
		break;
	case JSON_INTEGER:
		if (is_size_key(key) && json_integer_value(v) >= 0) {
			human_size((uint64_t)json_integer_value(v), buf, len);
		} else if (is_time_key(key) && json_integer_value(v) > 0) {
			time_t t = (time_t)json_integer_value(v);
			struct tm tm;

			localtime_r(&t, &tm);
			strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
		} else {
			snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		}
		break;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(buf, len, "true");
		break;
	case JSON_FALSE:
		snprintf(buf, len, "false");
		break;
	case JSON_ARRAY:
		buf[0] = '\0';
		json_array_foreach(v, i, e)
		{
			char one[CELL_MAX];

			cell_text(key, e, one, sizeof(one));
			if (off < len)
				off += snprintf(buf + off, len - off, "%s%s", i ? "," : "", one);
		}
		if (!json_array_size(v))
			snprintf(buf, len, "-");
		break;
	case JSON_OBJECT: {
		char *s = json_dumps(v, JSON_COMPACT);

		snprintf(buf, len, "%s", s ? s : "{}");
		free(s);
		break;
	}
	default:
		snprintf(buf, len, "-");
	}
}

json_t *as_list(json_t *reply)
{
	const char *k;
	json_t *v;

	if (json_is_array(reply))
		return reply;
	json_object_foreach(reply, k, v)
	{
		if (json_is_array(v))
			return v;
	}
	return NULL;
}

/* One cell, padded to its column's width but the last (no trailing blanks). */
static void put_cell(const char *text, size_t c, size_t ncol, const size_t *width)
{
	if (c + 1 < ncol)
		printf("%-*s  ", (int)width[c], text);
	else
		printf("%s\n", text);
}

void print_table(json_t *rows, const char *const *cols)
{
	size_t ncol = 0, nrow = json_array_size(rows);
	size_t width[COLS_MAX];
	char cell[CELL_MAX];
	size_t i, c;

	while (cols[ncol] && ncol < COLS_MAX)
		ncol++;
	for (c = 0; c < ncol; c++)
		width[c] = strlen(cols[c]);
	for (i = 0; i < nrow; i++)
		for (c = 0; c < ncol; c++) {
			cell_text(cols[c], json_object_get(json_array_get(rows, i), cols[c]), cell,
				  sizeof(cell));
			if (strlen(cell) > width[c])
				width[c] = strlen(cell);
		}
	for (c = 0; c < ncol; c++) {
		char head[64];
		size_t k;

		for (k = 0; cols[c][k] && k < sizeof(head) - 1; k++)
			head[k] = (char)toupper((unsigned char)cols[c][k]);
		head[k] = '\0';
		put_cell(head, c, ncol, width);
	}
	for (i = 0; i < nrow; i++)
		for (c = 0; c < ncol; c++) {
			cell_text(cols[c], json_object_get(json_array_get(rows, i), cols[c]), cell,
				  sizeof(cell));
			put_cell(cell, c, ncol, width);
		}
}

/*
 * One `key: value` line, or a block for objects and lists. Under a size key
 * (`memory:` in the host report) every number is a size.
 */
static void print_value(const char *key, json_t *v, int indent, const char *size_parent)
{
	const char *as = size_parent ? size_parent : key;
	char cell[4096];
	json_t *e;
	size_t i;

	if (json_is_null(v))
		return;
	if (json_is_object(v)) {
		printf("%*s%s:\n", indent, "", key);
		print_object_in(v, indent + 2, is_size_key(key) ? key : size_parent);
	} else if (json_is_array(v) && json_array_size(v)) {
		printf("%*s%s:\n", indent, "", key);
		json_array_foreach(v, i, e)
		{
			if (json_is_object(e)) {
				printf("%*s-\n", indent + 2, "");
				print_object_in(e, indent + 4, size_parent);
			} else {
				cell_text(as, e, cell, sizeof(cell));
				printf("%*s- %s\n", indent + 2, "", cell);
			}
		}
	} else {
		cell_text(as, v, cell, sizeof(cell));
		printf("%*s%s: %s\n", indent, "", key, cell);
	}
}

void print_object_in(json_t *obj, int indent, const char *size_parent)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v)
	{
		print_value(k, v, indent, size_parent);
	}
}

void print_object(json_t *obj, int indent)
{
	print_object_in(obj, indent, NULL);
}

void print_object_ordered(json_t *obj, const char *const *first)
{
	const char *k;
	json_t *v;
	size_t i;

	for (i = 0; first[i]; i++)
		if ((v = json_object_get(obj, first[i])))
			print_value(first[i], v, 0, NULL);
	json_object_foreach(obj, k, v)
	{
		for (i = 0; first[i] && strcmp(first[i], k); i++)
			;
		if (!first[i])
			print_value(k, v, 0, NULL);
	}
}

void print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	putchar('\n');
}

int parse_format(const char *cmd, const char *val, bool *json)
{
	if (!strcmp(val, "table") || !strcmp(val, "text")) {
		*json = false;
		return 0;
	}
	if (!strcmp(val, "json")) {
		*json = true;
		return 0;
	}
	return usage_err(cmd, "--format: `%s` is not table or json", val);
}
