// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the monitor's configuration: flags and JSON describe the
 * same thing with the same keys; bad input names the key and the reason.
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

#include "vmm/config.h"

/* Parse argv as vps-vmm would; returns 0 or -errno and leaves the message in *msg. */
static int from_argv(struct vmm_config *c, char **msg, int argc, ...)
{
	char *argv[32], *json = NULL;
	struct err *e = NULL;
	va_list ap;
	int i, ret;

	argv[0] = "vps-vmm";
	va_start(ap, argc);
	for (i = 1; i <= argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc + 1] = NULL;
	config_init(c);
	ret = config_from_argv(argc + 1, argv, &json, &e);
	if (ret == 0)
		ret = config_parse(c, json, &e);
	if (ret == 0)
		ret = config_validate(c, &e);
	free(json);
	*msg = e ? strdup(err_msg(e)) : NULL;
	err_free(&e);
	return ret;
}

static void flags_fill_config(void **state)
{
	struct vmm_config c;
	char *msg;

	assert_int_equal(from_argv(&c, &msg, 13, "--kernel", "/k", "--memory", "1G", "--cpus", "4",
				   "--disk", "path=/a.img,readonly=on,id=root", "--disk",
				   "path=/b.img", "--net", "tap=tap0,mac=52:54:00:12:34:56",
				   "--reserve"),
			 0);
	assert_null(msg);
	assert_string_equal(c.kernel, "/k");
	assert_int_equal(c.memory, 1ULL << 30);
	assert_true(c.reserve);
	assert_int_equal(c.cpus, 4);
	assert_int_equal(c.nr_disk, 2);
	assert_string_equal(c.disk[0].path, "/a.img");
	assert_true(c.disk[0].readonly);
	assert_string_equal(c.disk[0].id, "root");
	assert_false(c.disk[1].readonly);
	assert_int_equal(c.nr_net, 1);
	assert_true(c.net[0].has_mac);
	assert_int_equal(c.net[0].mac[5], 0x56);
	assert_int_equal(c.serial, SERIAL_STDIO);
	config_free(&c);
}

/* The fast paths are on unless turned off; flag and key agree (docs/vmm.md). */
static void fast_paths_default_on(void **state)
{
	struct vmm_config c;
	char *msg;

	assert_int_equal(from_argv(&c, &msg, 2, "--kernel", "/k"), 0);
	assert_true(c.ioeventfd);
	assert_true(c.irqfd);
	assert_true(c.net_offloads);
	config_free(&c);
	assert_false(c.io_uring); /* opt-in: slower than pread/pwrite where measured */
	assert_int_equal(c.disk[0].queues, 0); /* no disk: nothing set */
	config_free(&c);
	assert_int_equal(from_argv(&c, &msg, 5, "--kernel", "/k", "--no-ioeventfd", "--no-irqfd",
				   "--no-net-offloads"),
			 0);
	assert_false(c.ioeventfd);
	assert_false(c.irqfd);
	assert_false(c.net_offloads);
	assert_false(c.io_uring);
	config_free(&c);
	assert_int_equal(from_argv(&c, &msg, 3, "--kernel", "/k", "--io-uring"), 0);
	assert_true(c.io_uring);
	config_free(&c);
	assert_int_equal(from_argv(&c, &msg, 5, "--kernel", "/k", "--no-io-uring", "--disk",
				   "path=/a,queues=4"),
			 0);
	assert_false(c.io_uring);
	assert_int_equal(c.disk[0].queues, 4);
	config_free(&c);
	/* net: queue pairs, and vhost-net only when asked for */
	assert_int_equal(from_argv(&c, &msg, 6, "--kernel", "/k", "--net", "tap=t0,queues=3",
				   "--net", "tap=t1,vhost=on"),
			 0);
	assert_int_equal(c.net[0].queues, 3);
	assert_false(c.net[0].vhost);
	assert_int_equal(c.net[1].queues, 0);
	assert_true(c.net[1].vhost);
	config_free(&c);
}

static void json_and_flags_agree(void **state)
{
	const char *json = "{\"kernel\":\"/k\",\"memory\":\"1G\",\"cpus\":4,\"reserve\":true,"
			   "\"disk\":[{\"path\":\"/a.img\",\"readonly\":true,\"id\":\"root\"}],"
			   "\"serial\":\"file:/tmp/c.log\",\"control\":\"/run/x.sock\"}";
	struct vmm_config c;
	struct err *e = NULL;

	config_init(&c);
	assert_int_equal(config_parse(&c, json, &e), 0);
	assert_int_equal(config_validate(&c, &e), 0);
	assert_int_equal(c.memory, 1ULL << 30);
	assert_int_equal(c.cpus, 4);
	assert_true(c.reserve);
	assert_true(c.disk[0].readonly);
	assert_int_equal(c.serial, SERIAL_FILE);
	assert_string_equal(c.serial_path, "/tmp/c.log");
	assert_string_equal(c.control, "/run/x.sock");
	config_free(&c);
}

static void config_file_then_flags(void **state)
{
	char path[] = "/tmp/vps-cfg-XXXXXX";
	struct vmm_config c;
	char *msg;
	FILE *f;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("{\"kernel\":\"/k\",\"memory\":\"256M\",\"disk\":[{\"path\":\"/a\"}]}", f);
	fclose(f);
	assert_int_equal(
		from_argv(&c, &msg, 6, "--memory", "1G", "--config", path, "--disk", "path=/b"), 0);
	assert_int_equal(c.memory, 1ULL << 30); /* the flag wins */
	assert_int_equal(c.nr_disk, 2); /* lists add up */
	assert_string_equal(c.disk[1].path, "/b");
	config_free(&c);
	unlink(path);
}

struct bad {
	const char *flag, *value, *needle;
};

static void bad_flags_name_the_key(void **state)
{
	static const struct bad cases[] = {
		{ "--cpus", "two", "--cpus" },
		{ "--cpus", "0", "`cpus`" },
		{ "--cpus", "65", "`cpus`" },
		{ "--memory", "12Q", "`memory`" },
		{ "--memory", "1M", "`memory`" },
		{ "--disk", "readonly=on", "`disk[0].path`: missing" },
		{ "--disk", "path=/a,readonly=maybe", "readonly=maybe" },
		{ "--disk", "path=/a,size=1G", "`disk[0].size`: unknown key" },
		{ "--disk", "path=/a,id=012345678901234567890", "`disk[0].id`" },
		{ "--disk", "path=/a,path=/b", "given twice" },
		{ "--disk", "junk", "not key=value" },
		{ "--disk", "path=/a,queues=0",
		  "`disk[0].queues`: expected a whole number from 1 to 8" },
		{ "--disk", "path=/a,queues=9", "`disk[0].queues`" },
		{ "--disk", "path=/a,queues=2x", "`disk[0].queues`" },
		{ "--disk", "path=/a,queues=", "`disk[0].queues`" },
		{ "--net", "tap=t0,queues=0",
		  "`net[0].queues`: expected a whole number from 1 to 3" },
		{ "--net", "tap=t0,queues=4", "`net[0].queues`" },
		{ "--net", "tap=t0,vhost=maybe", "`vhost=maybe`: expected on or off" },
		{ "--net", "tap=t0,mac=01:00:00:00:00:01", "`net[0].mac`" },
		{ "--net", "tap=t0,mac=52:54:00:00:00", "`net[0].mac`" },
		{ "--net", "mac=52:54:00:00:00:01", "`net[0].tap`: missing" },
		{ "--serial", "tcp:1", "`serial`" },
		{ "--mode", "protected", "`mode`" },
		{ "--config", "/nonexistent.json", "--config" },
	};
	struct vmm_config c;
	unsigned int i;
	char *msg;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = from_argv(&c, &msg, 4, "--kernel", "/k", cases[i].flag, cases[i].value);

		if (ret == 0 || !msg || !strstr(msg, cases[i].needle))
			fail_msg("%s %s: got %d `%s`, want `%s`", cases[i].flag, cases[i].value,
				 ret, msg ? msg : "", cases[i].needle);
		free(msg);
		config_free(&c);
	}
}

static void bad_json_names_the_key(void **state)
{
	static const char *const cases[][2] = {
		{ "{\"kernel\":\"/k\",\"memroy\":1}", "`memroy`: unknown key" },
		{ "{\"kernel\":5}", "`kernel`: expected a string" },
		{ "{\"kernel\":\"\"}", "`kernel`: must be a non-empty" },
		{ "{\"kernel\":\"/k\",\"disk\":{}}", "`disk`: expected an array" },
		{ "{\"kernel\":\"/k\",\"disk\":[5]}", "`disk[0]`: expected an object" },
		{ "{\"kernel\":\"/k\",\"disk\":[{\"path\":\"/a\",\"readonly\":\"yes\"}]}",
		  "`disk[0].readonly`: expected true or false" },
		{ "{\"kernel\":\"/k\",\"reserve\":\"yes\"}", "`reserve`: expected true or false" },
		{ "{\"kernel\":\"/k\",\"irqfd\":1}", "`irqfd`: expected true or false" },
		{ "{\"kernel\":\"/k\",\"net_offloads\":\"no\"}",
		  "`net_offloads`: expected true or false" },
		{ "{\"kernel\":\"/k\",\"io_uring\":\"no\"}", "`io_uring`: expected true or false" },
		{ "{\"kernel\":\"/k\",\"disk\":[{\"path\":\"/a\",\"queues\":-1}]}",
		  "`disk[0].queues`" },
		{ "{\"kernel\":\"/k\",\"disk\":[{\"path\":\"/a\",\"queues\":true}]}",
		  "`disk[0].queues`" },
		{ "{\"kernel\":\"/k\",\"kernel\":\"/j\"}", "duplicate" },
		{ "[1]", "expected a JSON object" },
		{ "{\"kernel\":", "line 1" },
		{ "{}", "exactly one of `kernel`, `firmware` and `micro`" },
		{ "{\"firmware\": \"b\", \"cmdline\": \"x\"}", "`firmware`: takes no initrd" },
		{ "{\"kernel\": \"k\", \"vgabios\": \"v\"}", "`vgabios`: only with `firmware`" },
		{ "{\"firmware\": \"f\", \"vnc\": \"s\"}",
		  "`vnc`: only with a display (`firmware` and `vgabios`, or `kernel` and `display`)" },
		{ "{\"kernel\": \"k\", \"vnc\": \"s\"}", "`vnc`: only with a display" },
		{ "{\"firmware\": \"f\", \"display\": true}", "`display`: only with `kernel`" },
		{ "{\"kernel\": \"k\", \"display\": 1}", "`display`: expected true or false" },
		{ "{\"kernel\": \"k\", \"display\": true, \"migrate_listen\": \"/s\"}",
		  "`display`: no snapshots or migration" },
		{ "{\"firmware\": \"b\", \"kernel\": \"k\"}", "exactly one of" },
		{ "{\"firmware\": \"b\", \"restore\": \"/s\"}", "`firmware`: no snapshots" },
		{ "{\"kernel\": \"k\", \"cdrom\": \"c\"}", "`cdrom`: only with `firmware`" },
		{ "{\"kernel\":\"/k\",\"micro\":\"/m\"}", "exactly one of" },
		{ "{\"micro\":\"/m\",\"cpus\":2}", "`cpus`: micro-guests" },
		{ "{\"micro\":\"/m\",\"memory\":\"4G\"}", "`memory`: micro-guests get at most 3G" },
		{ "{\"kernel\":\"/k\",\"memory\":4097}", "`memory`" },
		{ "{\"kernel\":\"/k\",\"net\":[{\"tap\":\"a\"},{\"tap\":\"a\"}]}",
		  "`net[1].tap`: `a` is used by net[0]" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vmm_config c;
		struct err *e = NULL;
		int ret;

		config_init(&c);
		ret = config_parse(&c, cases[i][0], &e);
		if (ret == 0)
			ret = config_validate(&c, &e);
		if (ret == 0 || !strstr(err_msg(e), cases[i][1]))
			fail_msg("%s: got %d `%s`, want `%s`", cases[i][0], ret, err_msg(e),
				 cases[i][1]);
		err_free(&e);
		config_free(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flags_fill_config),	  cmocka_unit_test(fast_paths_default_on),
		cmocka_unit_test(json_and_flags_agree),	  cmocka_unit_test(config_file_then_flags),
		cmocka_unit_test(bad_flags_name_the_key), cmocka_unit_test(bad_json_names_the_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
