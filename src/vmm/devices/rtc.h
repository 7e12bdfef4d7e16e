/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MC146818 CMOS real-time clock at ports 0x70/0x71, read-only: the guest
 * reads the host's UTC time at boot. No alarms, no periodic interrupt.
 */
#ifndef VPS_VMM_RTC_H
#define VPS_VMM_RTC_H

#include <stdint.h>

#include "vmm/snapshot.h"
#include "vmm/vm.h"

struct rtc {
	uint8_t index; /* selected CMOS register */
	uint8_t reg_b; /* control register B, as the guest set it */
};

int rtc_init(struct rtc *r, struct vm *vm);

/* Snapshot state: the selected register and register B (the time is the host's). */
void rtc_save(struct rtc *r, struct snap_w *w);
int rtc_load(struct rtc *r, const struct snap_r *sr, struct err **err);

#endif
