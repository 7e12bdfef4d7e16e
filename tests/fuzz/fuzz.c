// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fuzz targets' shared pieces: see fuzz.h.
 */
#include "common/log.h"
#include "fuzz.h"

/* libFuzzer calls this once, before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", LOG_ERR);
	return 0;
}
