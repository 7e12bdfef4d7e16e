// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test builds only (meson's b_sanitize has `undefined`; src/common/meson.build
 * adds this file to every program then): make UBSan honour the log_path in
 * UBSAN_OPTIONS.
 *
 * With GCC, -fsanitize=address,undefined links two runtimes, libasan and
 * libubsan, each with its own copy of the sanitizer's report file. libasan
 * opens ASAN_OPTIONS's log_path; libubsan, initialised as a plugin next to
 * ASan, parses UBSAN_OPTIONS but never opens its log_path, and writes its
 * reports to stderr, wherever that goes. The integration tests need every
 * report in one watched directory (tests/integration/framework/sanitizer.py),
 * so this constructor hands log_path to libubsan's own
 * __sanitizer_set_report_path. Where libubsan is not a library of its own
 * (clang's combined runtime honours log_path) there is nothing to do.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

__attribute__((constructor)) static void san_ubsan_log_path(void)
{
	const char *opts = getenv("UBSAN_OPTIONS");
	const char *p = opts ? strstr(opts, "log_path=") : NULL;
	char path[PATH_MAX];
	void (*set_path)(const char *);
	void *ubsan;
	size_t n;

	if (!p)
		return;
	p += strlen("log_path=");
	n = strcspn(p, ": ");
	if (n == 0 || n >= sizeof(path))
		return;
	memcpy(path, p, n);
	path[n] = '\0';
	ubsan = dlopen("libubsan.so.1", RTLD_NOLOAD | RTLD_LAZY);
	if (!ubsan)
		return;
	set_path = (void (*)(const char *))dlsym(ubsan, "__sanitizer_set_report_path");
	if (set_path)
		set_path(path);
	dlclose(ubsan);
}
