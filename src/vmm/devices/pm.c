// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ACPI fixed hardware: see pm.h. Register bits: ACPI 6.4 §4.8.3.1 (PM1
 * status and enable), §4.8.3.2 (PM1 control), §4.8.3.3 (PM timer). There is
 * no SMI command port, so the platform is always in ACPI mode and SCI_EN
 * reads as set. The SCI is level triggered: it stays up while any enabled
 * status bit is set, and the guest clears status bits by writing ones.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "vmm/devices/pm.h"

#define PM1_TMR_STS (1u << 0)
#define PM1_PWRBTN (1u << 8) /* PWRBTN_STS / PWRBTN_EN */
#define PM1_WAK_STS (1u << 15)
#define PM1_CNT_SCI_EN (1u << 0)
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_TYP_MASK (7u << PM1_CNT_SLP_TYP_SHIFT)
#define PM1_CNT_SLP_EN (1u << 13)
#define PM_TIMER_HZ 3579545ULL /* ACPI 6.4 §4.8.3.3 */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void update_sci_locked(struct pm *pm)
{
	int level = (pm->sts & pm->en) != 0;

	if (level != pm->sci_level) {
		pm->sci_level = level;
		vm_irq_line(pm->vm, pm->sci_gsi, level);
	}
}

static uint32_t pm_timer(struct pm *pm)
{
	uint64_t ns = now_ns() - pm->t0_ns;

	/* 24-bit counter (TMR_VAL_EXT clear in the FADT). */
	return (uint32_t)((ns / 1000) * PM_TIMER_HZ / 1000000) & 0xffffff;
}

static void pm_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct pm *pm = opaque;
	uint32_t v = 0;

	pthread_mutex_lock(&pm->lock);
	if (off >= PM_TMR_OFF && off < PM_TMR_OFF + 4)
		v = pm_timer(pm) >> (8 * (off - PM_TMR_OFF));
	else if (off == PM_EVT_OFF)
		v = pm->sts | (uint32_t)pm->en << 16;
	else if (off == PM_EVT_OFF + 2)
		v = pm->en;
	else if (off == PM_CNT_OFF)
		v = pm->cnt | PM1_CNT_SCI_EN;
	pthread_mutex_unlock(&pm->lock);
	memcpy(data, &v, len < 4 ? len : 4);
}

static void pm_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct pm *pm = opaque;
	uint32_t v = 0;
	uint8_t typ;

	memcpy(&v, data, len < 4 ? len : 4);
	pthread_mutex_lock(&pm->lock);
	switch (off) {
	case PM_EVT_OFF:
		pm->sts &= ~(uint16_t)v; /* write one to clear */
		if (len == 4)
			pm->en = v >> 16;
		break;
	case PM_EVT_OFF + 2:
		pm->en = v;
		break;
	case PM_CNT_OFF:
		pm->cnt = v & ~PM1_CNT_SLP_EN;
		typ = (v & PM1_CNT_SLP_TYP_MASK) >> PM1_CNT_SLP_TYP_SHIFT;
		if ((v & PM1_CNT_SLP_EN) && typ == pm->s5_typ)
			vm_request_exit(pm->vm, VM_POWEROFF, 0);
		/* Other sleep states (S1-S4) are not offered in the DSDT: ignored. */
		break;
	case PM_RESET_OFF:
		if ((uint8_t)v == PM_RESET_VALUE)
			vm_request_exit(pm->vm, VM_REBOOT, 0);
		break;
	}
	update_sci_locked(pm);
	pthread_mutex_unlock(&pm->lock);
}

static const struct io_ops pm_ops = { .read = pm_read, .write = pm_write };

int pm_init(struct pm *pm, struct vm *vm, uint16_t base, unsigned int sci_gsi, uint8_t s5_typ)
{
	memset(pm, 0, sizeof(*pm));
	pthread_mutex_init(&pm->lock, NULL);
	pm->vm = vm;
	pm->sci_gsi = sci_gsi;
	pm->s5_typ = s5_typ;
	pm->t0_ns = now_ns();
	return iobus_register(&vm->pio, base, PM_BLOCK_LEN, &pm_ops, pm);
}

int pm_power_button(struct pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->sts |= PM1_PWRBTN;
	update_sci_locked(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

/* The PM timer is saved as its count, so it runs on from there after restore. */
struct pm_state {
	uint16_t sts, en, cnt, sci_level;
	uint32_t timer, pad;
};

void pm_save(struct pm *pm, struct snap_w *w)
{
	struct pm_state st = { 0 };

	pthread_mutex_lock(&pm->lock);
	st.sts = pm->sts;
	st.en = pm->en;
	st.cnt = pm->cnt;
	st.sci_level = !!pm->sci_level;
	st.timer = pm_timer(pm);
	pthread_mutex_unlock(&pm->lock);
	snap_put(w, SNAP_PM, 0, &st, sizeof(st));
}

int pm_load(struct pm *pm, const struct snap_r *r, struct err **err)
{
	const struct pm_state *st = snap_get(r, SNAP_PM, 0, sizeof(*st), err);
	uint64_t off_ns;

	if (!st)
		return -EINVAL;
	pthread_mutex_lock(&pm->lock);
	pm->sts = st->sts;
	pm->en = st->en;
	pm->cnt = st->cnt & ~PM1_CNT_SLP_EN; /* a sleep request is acted on when written */
	pm->sci_level = st->sci_level != 0;
	off_ns = (uint64_t)st->timer * 1000000000ULL / PM_TIMER_HZ;
	pm->t0_ns = now_ns() - off_ns;
	pthread_mutex_unlock(&pm->lock);
	return 0;
}
