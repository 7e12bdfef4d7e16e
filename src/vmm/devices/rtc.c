// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CMOS RTC: see rtc.h. Time registers are computed from the host clock on
 * every read, in BCD unless the guest cleared DM in register B, always in
 * 24-hour mode. UIP (update in progress) never shows, so a guest waiting
 * for it to clear never spins. Register numbers: MC146818A data sheet.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "vmm/devices/rtc.h"

#define RTC_INDEX 0x70
#define RTC_DATA 0x71

#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_WEEKDAY 0x06
#define RTC_DAY 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32

#define RTC_B_DM_BINARY 0x04
#define RTC_B_24H 0x02
#define RTC_D_VRT 0x80 /* valid RAM and time: the battery is fine */

static uint8_t to_bcd(struct rtc *r, int v)
{
	if (r->reg_b & RTC_B_DM_BINARY)
		return v;
	return ((v / 10) << 4) | (v % 10);
}

static uint8_t rtc_reg(struct rtc *r)
{
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	switch (r->index) {
	case RTC_SECONDS:
		return to_bcd(r, tm.tm_sec);
	case RTC_MINUTES:
		return to_bcd(r, tm.tm_min);
	case RTC_HOURS:
		return to_bcd(r, tm.tm_hour);
	case RTC_WEEKDAY:
		return to_bcd(r, tm.tm_wday + 1);
	case RTC_DAY:
		return to_bcd(r, tm.tm_mday);
	case RTC_MONTH:
		return to_bcd(r, tm.tm_mon + 1);
	case RTC_YEAR:
		return to_bcd(r, tm.tm_year % 100);
	case RTC_CENTURY:
		return to_bcd(r, 19 + tm.tm_year / 100);
	case RTC_REG_A:
		return 0x26; /* 32.768 kHz time base, 1024 Hz rate; UIP clear */
	case RTC_REG_B:
		return r->reg_b;
	case RTC_REG_D:
		return RTC_D_VRT;
	default:
		return r->index >= RTC_NVRAM_FIRST ? r->nvram[r->index] : 0;
	}
}

static void rtc_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct rtc *r = opaque;

	memset(data, 0, len);
	*(uint8_t *)data = off == 1 ? rtc_reg(r) : 0xff;
}

static void rtc_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct rtc *r = opaque;
	uint8_t v = *(const uint8_t *)data;

	if (off == 0)
		r->index = v & 0x7f; /* bit 7 is the NMI mask, not part of the index */
	else if (r->index == RTC_REG_B)
		r->reg_b = (v & RTC_B_DM_BINARY) | RTC_B_24H;
	else if (r->index >= RTC_NVRAM_FIRST && r->index != RTC_CENTURY)
		r->nvram[r->index] = v; /* index is 7 bits: always inside nvram[] */
	/* Setting the time is ignored: the host's clock is the guest's clock. */
}

static const struct io_ops rtc_ops = { .read = rtc_read, .write = rtc_write };

int rtc_init(struct rtc *r, struct vm *vm)
{
	memset(r, 0, sizeof(*r));
	r->reg_b = RTC_B_24H;
	/*
	 * glibc's gmtime_r() reads the zone file (/etc/localtime) on its first
	 * call: here, before the jail, not on a vCPU thread whose seccomp class
	 * has no openat (the sanitizer build allows it and so hid this).
	 */
	tzset();
	return iobus_register(&vm->pio, RTC_INDEX, 2, &rtc_ops, r);
}

void rtc_set_pc_memory(struct rtc *r, uint64_t low_ram, uint64_t high_ram, unsigned int cpus)
{
	uint64_t ext = low_ram > (1ULL << 20) ? (low_ram - (1ULL << 20)) >> 10 : 0;
	uint64_t above16 = low_ram > (16ULL << 20) ? (low_ram - (16ULL << 20)) >> 16 : 0;
	uint64_t above4g = high_ram >> 16;

	if (ext > 0xfc00)
		ext = 0xfc00; /* 63 MiB: what a 16-bit count of KiB may say */
	if (above16 > 0xffff)
		above16 = 0xffff;
	r->nvram[0x17] = r->nvram[0x30] = ext;
	r->nvram[0x18] = r->nvram[0x31] = ext >> 8;
	r->nvram[0x34] = above16;
	r->nvram[0x35] = above16 >> 8;
	r->nvram[0x5b] = above4g;
	r->nvram[0x5c] = above4g >> 8;
	r->nvram[0x5d] = above4g >> 16;
	r->nvram[0x5f] = cpus - 1;
}

void rtc_save(struct rtc *r, struct snap_w *w)
{
	uint8_t st[8] = { r->index, r->reg_b };

	snap_put(w, SNAP_RTC, 0, st, sizeof(st));
}

int rtc_load(struct rtc *r, const struct snap_r *sr, struct err **err)
{
	const uint8_t *st = snap_get(sr, SNAP_RTC, 0, 8, err);

	if (!st)
		return -EINVAL;
	r->index = st[0] & 0x7f; /* port 0x70's register select; bit 7 is NMI disable */
	r->reg_b = st[1];
	return 0;
}
