// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The history's steps (store.h, docs/usage.md "History"), in a file of
 * their own: both backends fold samples by them and usage.c serves them,
 * and none of those may call back into store.c's dispatch.
 */
#include "host/store.h"

const struct store_step store_steps[STORE_STEPS] = {
	{ "day", 60, 86400 },
	{ "month", 1800, 31 * 86400 },
	{ "year", 86400, 366 * 86400 },
};
