/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small encoder for ACPI Machine Language, enough for the DSDT of a
 * virtual machine: names, scopes, devices, packages, integers, strings,
 * EISA ids, and buffers holding resource templates (I/O ports, IRQs,
 * address-space descriptors). ACPI 6.4 §20 (AML grammar) and §6.4
 * (resource data types). Used by arch/x86/acpi.c.
 *
 * Objects are appended to a growing byte buffer. A nested object (Scope,
 * Device, Package) is opened with *_begin(), which returns a mark, and
 * closed with aml_end(mark), which inserts the PkgLength once the body's
 * size is known. Errors (no memory, a malformed name) are sticky: the
 * first one is kept in `err` and later calls do nothing, so a builder
 * checks once at the end.
 */
#ifndef VPS_VMM_X86_AML_H
#define VPS_VMM_X86_AML_H

#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len;
	size_t cap;
	int err; /* 0 or the first -errno */
};

void aml_free(struct aml *a);

void aml_bytes(struct aml *a, const void *p, size_t n);

/* Data objects (ACPI 6.4 §20.2.3). */
void aml_integer(struct aml *a, uint64_t v); /* shortest of Zero/One/Byte/Word/DWord/QWord */
void aml_string(struct aml *a, const char *s);
void aml_eisaid(struct aml *a, const char *id); /* "PNP0A08" compressed to a DWord */

/* A NameString: "\\_SB_.PCI0", "_HID", "^FOO"; short segments are padded with '_'. */
void aml_namestring(struct aml *a, const char *path);

/* Name(name, ...): the value is the object written next. */
void aml_name(struct aml *a, const char *name);

size_t aml_scope_begin(struct aml *a, const char *name);
size_t aml_device_begin(struct aml *a, const char *name);
size_t aml_package_begin(struct aml *a, uint8_t nelems);
void aml_end(struct aml *a, size_t mark);

/* Buffer() holding the given bytes. */
void aml_buffer(struct aml *a, const void *p, size_t n);

/*
 * Resource descriptors (ACPI 6.4 §6.4.2, §6.4.3), appended to a `struct aml`
 * used as a plain byte sink; aml_resource_template() then wraps them in a
 * Buffer with the End Tag.
 */
enum aml_mem_cache { AML_NONCACHEABLE = 0, AML_CACHEABLE = 1 };

void aml_res_io(struct aml *r, uint16_t base, uint8_t len); /* fixed, 16-bit decode */
void aml_res_irq(struct aml *r, uint8_t irq); /* IRQNoFlags: edge, active high */
void aml_res_mem32_fixed(struct aml *r, uint32_t base, uint32_t len);
/* Producer windows of a bridge: min/max fixed, positive decode. */
void aml_res_word_bus(struct aml *r, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml *r, uint16_t min, uint16_t max);
void aml_res_dword_mem(struct aml *r, enum aml_mem_cache c, uint32_t min, uint32_t max);
void aml_res_qword_mem(struct aml *r, enum aml_mem_cache c, uint64_t min, uint64_t max);

void aml_resource_template(struct aml *a, const struct aml *res);

#endif
