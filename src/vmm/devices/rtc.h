/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MC146818 CMOS real-time clock at ports 0x70/0x71, read-only: the guest
 * reads the host's UTC time at boot. No alarms, no periodic interrupt.
 * The battery-backed bytes from register 0x0e on are plain memory: the
 * monitor fills the ones PC firmware reads (memory size, CPU count) and
 * the guest may write the rest (SeaBIOS keeps its shutdown code there).
 */
#ifndef VPS_VMM_RTC_H
#define VPS_VMM_RTC_H

#include <stdint.h>

#include "vmm/snapshot.h"
#include "vmm/vm.h"

struct rtc {
	uint8_t index; /* selected CMOS register */
	uint8_t reg_b; /* control register B, as the guest set it */
	uint8_t nvram[128]; /* registers 0x0e..0x7f other than the century */
};

#define RTC_NVRAM_FIRST 0x0e

int rtc_init(struct rtc *r, struct vm *vm);
/*
 * The CMOS bytes PC firmware reads for memory and CPUs (the layout QEMU and
 * SeaBIOS share): 0x30/0x31 KiB above 1 MiB up to 64 MiB, 0x34/0x35 64 KiB
 * units from 16 MiB to low_ram, 0x5b..0x5d 64 KiB units above 4 GiB, 0x5f
 * the vCPU count less one.
 */
void rtc_set_pc_memory(struct rtc *r, uint64_t low_ram, uint64_t high_ram, unsigned int cpus);

/* Snapshot state: the selected register and register B (the time is the host's). */
void rtc_save(struct rtc *r, struct snap_w *w);
int rtc_load(struct rtc *r, const struct snap_r *sr, struct err **err);

#endif
