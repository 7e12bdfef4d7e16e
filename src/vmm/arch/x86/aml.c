// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * AML encoder: see aml.h. Opcode values and encodings are from ACPI 6.4
 * §20.2 ("AML Grammar Definition"); resource descriptors from §6.4.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/arch/x86/aml.h"

#define AML_ZERO 0x00
#define AML_ONE 0x01
#define AML_NAME 0x08
#define AML_BYTE 0x0a
#define AML_WORD 0x0b
#define AML_DWORD 0x0c
#define AML_STRING 0x0d
#define AML_QWORD 0x0e
#define AML_SCOPE 0x10
#define AML_BUFFER 0x11
#define AML_PACKAGE 0x12
#define AML_EXT 0x5b
#define AML_DEVICE 0x82 /* after AML_EXT */
#define AML_ROOT '\\'
#define AML_PARENT '^'
#define AML_DUAL_NAME 0x2e
#define AML_MULTI_NAME 0x2f

/* Resource descriptor tags (§6.4.2 small, §6.4.3 large). */
#define RES_IRQ_NOFLAGS 0x22 /* small type 4, length 2 */
#define RES_IO 0x47 /* small type 8, length 7 */
#define RES_END 0x79 /* small type 0xf, length 1 */
#define RES_MEM32_FIXED 0x86
#define RES_DWORD_ADDR 0x87
#define RES_WORD_ADDR 0x88
#define RES_QWORD_ADDR 0x8a

#define ADDR_MEM 0
#define ADDR_IO 1
#define ADDR_BUS 2
#define ADDR_MIF_MAF 0x0c /* min and max address fixed; producer, positive decode */
#define MEM_RW 0x01
#define IO_ENTIRE_RANGE 0x03

void aml_free(struct aml *a)
{
	free(a->buf);
	*a = (struct aml){ 0 };
}

static int grow(struct aml *a, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (a->err)
		return a->err;
	if (a->len + n <= a->cap)
		return 0;
	cap = a->cap ? a->cap : 256;
	while (cap < a->len + n)
		cap *= 2;
	p = realloc(a->buf, cap);
	if (!p)
		return a->err = -ENOMEM;
	a->buf = p;
	a->cap = cap;
	return 0;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (grow(a, n) < 0)
		return;
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

/* Little-endian, n bytes of v. */
static void le(struct aml *a, uint64_t v, unsigned int n)
{
	while (n--) {
		byte(a, v & 0xff);
		v >>= 8;
	}
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		byte(a, AML_ZERO);
	} else if (v == 1) {
		byte(a, AML_ONE);
	} else if (v <= 0xff) {
		byte(a, AML_BYTE);
		le(a, v, 1);
	} else if (v <= 0xffff) {
		byte(a, AML_WORD);
		le(a, v, 2);
	} else if (v <= 0xffffffff) {
		byte(a, AML_DWORD);
		le(a, v, 4);
	} else {
		byte(a, AML_QWORD);
		le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * EISAID (§19.6.35): three letters, 5 bits each ('A' = 1), then four hex
 * digits, stored big-endian: "PNP0A03" is the bytes 41 d0 0a 03.
 */
void aml_eisaid(struct aml *a, const char *id)
{
	uint8_t b[4];
	int i, h[4];

	if (strlen(id) != 7) {
		a->err = a->err ?: -EINVAL;
		return;
	}
	for (i = 0; i < 3; i++)
		if (id[i] < 'A' || id[i] > 'Z')
			a->err = a->err ?: -EINVAL;
	for (i = 0; i < 4; i++)
		if ((h[i] = hexval(id[3 + i])) < 0)
			a->err = a->err ?: -EINVAL;
	if (a->err)
		return;
	b[0] = (id[0] - '@') << 2 | (id[1] - '@') >> 3;
	b[1] = ((id[1] - '@') & 7) << 5 | (id[2] - '@');
	b[2] = h[0] << 4 | h[1];
	b[3] = h[2] << 4 | h[3];
	byte(a, AML_DWORD);
	aml_bytes(a, b, 4);
}

static int name_char(char c, int first)
{
	return c == '_' || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9');
}

/* One NameSeg (§20.2.2): 1..4 characters, padded with '_'. */
static void nameseg(struct aml *a, const char *s, size_t n)
{
	char seg[4] = { '_', '_', '_', '_' };
	size_t i;

	if (!n || n > 4) {
		a->err = a->err ?: -EINVAL;
		return;
	}
	for (i = 0; i < n; i++) {
		if (!name_char(s[i], i == 0)) {
			a->err = a->err ?: -EINVAL;
			return;
		}
		seg[i] = s[i];
	}
	aml_bytes(a, seg, 4);
}

void aml_namestring(struct aml *a, const char *path)
{
	const char *p, *dot;
	size_t nsegs = 1;

	while (*path == AML_ROOT || *path == AML_PARENT)
		byte(a, *path++);
	if (!*path) {
		byte(a, 0); /* NullName */
		return;
	}
	for (p = path; *p; p++)
		nsegs += *p == '.';
	if (nsegs == 2) {
		byte(a, AML_DUAL_NAME);
	} else if (nsegs > 2) {
		if (nsegs > 255) {
			a->err = a->err ?: -EINVAL;
			return;
		}
		byte(a, AML_MULTI_NAME);
		byte(a, nsegs);
	}
	for (p = path;; p = dot + 1) {
		dot = strchr(p, '.');
		nameseg(a, p, dot ? (size_t)(dot - p) : strlen(p));
		if (!dot)
			break;
	}
}

void aml_name(struct aml *a, const char *name)
{
	byte(a, AML_NAME);
	aml_namestring(a, name);
}

size_t aml_scope_begin(struct aml *a, const char *name)
{
	size_t mark;

	byte(a, AML_SCOPE);
	mark = a->len;
	aml_namestring(a, name);
	return mark;
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	size_t mark;

	byte(a, AML_EXT);
	byte(a, AML_DEVICE);
	mark = a->len;
	aml_namestring(a, name);
	return mark;
}

size_t aml_package_begin(struct aml *a, uint8_t nelems)
{
	size_t mark;

	byte(a, AML_PACKAGE);
	mark = a->len;
	byte(a, nelems);
	return mark;
}

/*
 * PkgLength (§20.2.4) counts itself: one byte holds up to 63; longer
 * lengths take 2..4 bytes, the first giving the count in bits 7:6 and the
 * low nibble, the rest the higher bits.
 */
static size_t pkglen_encode(size_t body, uint8_t out[4])
{
	size_t n, total;

	if (body + 1 <= 0x3f) {
		out[0] = body + 1;
		return 1;
	}
	for (n = 2; n <= 4; n++) {
		total = body + n;
		if (total < (1UL << (4 + 8 * (n - 1))))
			break;
	}
	if (n > 4)
		return 0;
	out[0] = (n - 1) << 6 | (total & 0xf);
	out[1] = total >> 4;
	if (n > 2)
		out[2] = total >> 12;
	if (n > 3)
		out[3] = total >> 20;
	return n;
}

void aml_end(struct aml *a, size_t mark)
{
	uint8_t pl[4];
	size_t n;

	if (a->err)
		return;
	if (mark > a->len) {
		a->err = -EINVAL;
		return;
	}
	n = pkglen_encode(a->len - mark, pl);
	if (!n) {
		a->err = -E2BIG;
		return;
	}
	if (grow(a, n) < 0)
		return;
	memmove(a->buf + mark + n, a->buf + mark, a->len - mark);
	memcpy(a->buf + mark, pl, n);
	a->len += n;
}

void aml_buffer(struct aml *a, const void *p, size_t n)
{
	size_t mark;

	byte(a, AML_BUFFER);
	mark = a->len;
	aml_integer(a, n);
	aml_bytes(a, p, n);
	aml_end(a, mark);
}

void aml_res_io(struct aml *r, uint16_t base, uint8_t len)
{
	byte(r, RES_IO);
	byte(r, 1); /* decodes 16 bits */
	le(r, base, 2); /* minimum */
	le(r, base, 2); /* maximum */
	byte(r, 1); /* alignment */
	byte(r, len);
}

void aml_res_irq(struct aml *r, uint8_t irq)
{
	byte(r, RES_IRQ_NOFLAGS);
	le(r, irq < 16 ? 1U << irq : 0, 2);
	if (irq >= 16)
		r->err = r->err ?: -EINVAL;
}

void aml_res_mem32_fixed(struct aml *r, uint32_t base, uint32_t len)
{
	byte(r, RES_MEM32_FIXED);
	le(r, 9, 2);
	byte(r, MEM_RW);
	le(r, base, 4);
	le(r, len, 4);
}

/*
 * Address space descriptors (§6.4.3.5.1-3): tag, length, resource type,
 * general flags, type flags, then granularity, minimum, maximum,
 * translation offset and length, each `size` bytes.
 */
static void addr(struct aml *r, uint8_t tag, unsigned int size, uint8_t type, uint8_t tflags,
		 uint64_t min, uint64_t max)
{
	if (max < min) {
		r->err = r->err ?: -EINVAL;
		return;
	}
	byte(r, tag);
	le(r, 3 + 5 * size, 2);
	byte(r, type);
	byte(r, ADDR_MIF_MAF);
	byte(r, tflags);
	le(r, 0, size); /* granularity: decoded as a plain range */
	le(r, min, size);
	le(r, max, size);
	le(r, 0, size); /* no translation */
	le(r, max - min + 1, size);
}

void aml_res_word_bus(struct aml *r, uint16_t min, uint16_t max)
{
	addr(r, RES_WORD_ADDR, 2, ADDR_BUS, 0, min, max);
}

void aml_res_word_io(struct aml *r, uint16_t min, uint16_t max)
{
	addr(r, RES_WORD_ADDR, 2, ADDR_IO, IO_ENTIRE_RANGE, min, max);
}

void aml_res_dword_mem(struct aml *r, enum aml_mem_cache c, uint32_t min, uint32_t max)
{
	addr(r, RES_DWORD_ADDR, 4, ADDR_MEM, c << 1 | MEM_RW, min, max);
}

void aml_res_qword_mem(struct aml *r, enum aml_mem_cache c, uint64_t min, uint64_t max)
{
	addr(r, RES_QWORD_ADDR, 8, ADDR_MEM, c << 1 | MEM_RW, min, max);
}

void aml_resource_template(struct aml *a, const struct aml *res)
{
	static const uint8_t end[2] = { RES_END, 0 }; /* checksum 0: "treat as correct" */
	size_t mark;

	if (res->err) {
		a->err = a->err ?: res->err;
		return;
	}
	byte(a, AML_BUFFER);
	mark = a->len;
	aml_integer(a, res->len + sizeof(end));
	aml_bytes(a, res->buf, res->len);
	aml_bytes(a, end, sizeof(end));
	aml_end(a, mark);
}
