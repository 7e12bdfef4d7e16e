/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ACPI fixed hardware (ACPI 6.4 §4.8): the PM1a event block (status and
 * enable), the PM1a control block (sleep type and enable: S5 is poweroff),
 * the PM timer, and a reset register. The FADT points the guest at these
 * ports; the power button is the fixed-feature one, pressed from the
 * control socket.
 */
#ifndef VPS_VMM_PM_H
#define VPS_VMM_PM_H

#include <pthread.h>
#include <stdint.h>

#include "vmm/snapshot.h"
#include "vmm/vm.h"

/* Port layout of the block; the FADT must say the same. */
#define PM_EVT_OFF 0 /* PM1a_EVT_BLK: 4 bytes */
#define PM_CNT_OFF 4 /* PM1a_CNT_BLK: 2 bytes */
#define PM_TMR_OFF 8 /* PM_TMR_BLK: 4 bytes */
#define PM_RESET_OFF 12 /* RESET_REG: 1 byte */
#define PM_BLOCK_LEN 16
#define PM_RESET_VALUE 0x06 /* written to RESET_REG to reset */

/* Where the block sits on x86 and the \_S5 sleep type the DSDT declares. */
#define PM_X86_BASE 0x600
#define PM_S5_SLP_TYP 5

struct pm {
	pthread_mutex_t lock; /* vCPU threads and the control socket */
	struct vm *vm;
	unsigned int sci_gsi;
	uint8_t s5_typ; /* SLP_TYP value the DSDT's \_S5 gives */
	uint16_t sts, en, cnt;
	int sci_level;
	uint64_t t0_ns; /* PM timer epoch */
};

int pm_init(struct pm *pm, struct vm *vm, uint16_t base, unsigned int sci_gsi, uint8_t s5_typ);

/* Press the power button: set PWRBTN_STS and raise the SCI if enabled. */
int pm_power_button(struct pm *pm);

/* Snapshot state: status, enable, control and the PM timer's count. */
void pm_save(struct pm *pm, struct snap_w *w);
int pm_load(struct pm *pm, const struct snap_r *r, struct err **err);

#endif
