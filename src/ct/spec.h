/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The default config.json of `vps-ct spec` (spec.c), also used by the unit
 * tests as a known-good document.
 */
#ifndef VPS_CT_SPEC_H
#define VPS_CT_SPEC_H

#include "common/err.h"

const char *ct_spec_default(void);

/* Write `<bundle>/config.json`; fails if it exists. */
int ct_spec_write(const char *bundle, struct err **err);

#endif
