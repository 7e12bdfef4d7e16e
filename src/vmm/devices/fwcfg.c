// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fw_cfg, the firmware configuration device: see fwcfg.h. One range of
 * ports 0x510..0x51b; offsets 0 (selector), 1 (data) and 4..11 (DMA).
 * Multi-byte values in the directory and the DMA descriptor are big-endian,
 * the legacy items (RAM size, CPU count) little-endian, as QEMU has them.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "vmm/devices/fwcfg.h"

#define FWCFG_RANGE 12
#define FWCFG_OFF_SEL 0
#define FWCFG_OFF_DATA 1
#define FWCFG_OFF_DMA_HI 4
#define FWCFG_OFF_DMA_LO 8

#define FWCFG_ID_TRADITIONAL 0x1
#define FWCFG_ID_DMA 0x2

/* The DMA descriptor, fw_cfg.rst "FWCfgDmaAccess", every field big-endian. */
struct fwcfg_dma {
	uint32_t control;
	uint32_t length;
	uint64_t address;
} __attribute__((packed));

#define FWCFG_DMA_ERROR 0x01
#define FWCFG_DMA_READ 0x02
#define FWCFG_DMA_SKIP 0x04
#define FWCFG_DMA_SELECT 0x08
#define FWCFG_DMA_WRITE 0x10

/* A directory entry, fw_cfg.rst "FWCfgFile". */
struct fwcfg_file {
	uint32_t size;
	uint16_t select;
	uint16_t reserved;
	char name[FWCFG_NAME_MAX];
} __attribute__((packed));

static int set_item(struct fwcfg *f, uint16_t key, const void *data, uint32_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, len);
	free(f->item[key].data);
	f->item[key].data = copy;
	f->item[key].len = len;
	return 0;
}

static int rebuild_dir(struct fwcfg *f)
{
	size_t len = 4 + f->nr_files * sizeof(struct fwcfg_file);
	uint8_t *dir = calloc(1, len);
	unsigned int i;
	int ret;

	if (!dir)
		return -ENOMEM;
	*(uint32_t *)dir = htobe32(f->nr_files);
	for (i = 0; i < f->nr_files; i++) {
		struct fwcfg_file *e = (struct fwcfg_file *)(dir + 4) + i;

		e->size = htobe32(f->item[FWCFG_FILE_FIRST + i].len);
		e->select = htobe16(FWCFG_FILE_FIRST + i);
		memcpy(e->name, f->name[i], FWCFG_NAME_MAX);
	}
	ret = set_item(f, FWCFG_FILE_DIR, dir, len);
	free(dir);
	return ret;
}

int fwcfg_add(struct fwcfg *f, uint16_t key, const void *data, uint32_t len)
{
	if (key >= FWCFG_FILE_FIRST || key == FWCFG_FILE_DIR)
		return -EINVAL;
	return set_item(f, key, data, len);
}

int fwcfg_add_file(struct fwcfg *f, const char *name, const void *data, uint32_t len)
{
	unsigned int i;
	int ret;

	if (strlen(name) >= FWCFG_NAME_MAX)
		return -ENAMETOOLONG;
	for (i = 0; i < f->nr_files; i++)
		if (!strcmp(f->name[i], name))
			return -EEXIST;
	if (f->nr_files >= FWCFG_MAX_FILES)
		return -ENOSPC;
	ret = set_item(f, FWCFG_FILE_FIRST + f->nr_files, data, len);
	if (ret < 0)
		return ret;
	memset(f->name[f->nr_files], 0, FWCFG_NAME_MAX);
	strcpy(f->name[f->nr_files], name);
	f->nr_files++;
	return rebuild_dir(f);
}

/* The item the selector names, or NULL: unknown keys, writes, arch-local keys. */
static const struct fwcfg_item *selected(struct fwcfg *f)
{
	if (f->sel >= FWCFG_NR_KEYS || !f->item[f->sel].data)
		return NULL;
	return &f->item[f->sel];
}

static void select_key(struct fwcfg *f, uint16_t key)
{
	f->sel = key;
	f->off = 0;
	if (!selected(f))
		f->bad_keys++;
}

static uint8_t read_byte(struct fwcfg *f)
{
	const struct fwcfg_item *it = selected(f);

	if (!it || f->off >= it->len)
		return 0;
	return it->data[f->off++];
}

/* Run the descriptor at gpa; its control word is written back when done. */
static void dma_run(struct fwcfg *f, uint64_t gpa)
{
	struct fwcfg_dma *d = gpa_ptr(f->mem, gpa, sizeof(*d));
	uint32_t control, len, done = 0;
	uint64_t addr;

	f->dma_ops++;
	if (!d) {
		f->dma_errors++;
		pr_ratelimited(LOG_WARN, "fw_cfg: DMA descriptor at %#llx is outside RAM",
			       (unsigned long long)gpa);
		return;
	}
	control = be32toh(d->control);
	len = be32toh(d->length);
	addr = be64toh(d->address);
	if (control & FWCFG_DMA_SELECT)
		select_key(f, control >> 16);
	if (control & FWCFG_DMA_WRITE)
		goto fail; /* every item is read-only */
	if (control & FWCFG_DMA_READ) {
		const struct fwcfg_item *it = selected(f);
		uint8_t *dst = gpa_ptr(f->mem, addr, len);
		uint32_t avail = it && f->off < it->len ? it->len - f->off : 0;

		if (!dst && len)
			goto fail;
		done = len < avail ? len : avail;
		if (done)
			memcpy(dst, it->data + f->off, done);
		if (len > done)
			memset(dst + done, 0, len - done); /* past the end reads as zeros */
		f->off += done;
	} else if (control & FWCFG_DMA_SKIP) {
		const struct fwcfg_item *it = selected(f);
		uint32_t avail = it && f->off < it->len ? it->len - f->off : 0;

		f->off += len < avail ? len : avail;
	}
	d->control = 0;
	return;
fail:
	f->dma_errors++;
	d->control = htobe32(FWCFG_DMA_ERROR);
}

void fwcfg_pio_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct fwcfg *f = opaque;
	uint8_t *out = data;
	unsigned int i;

	memset(data, 0, len);
	pthread_mutex_lock(&f->lock);
	if (off == FWCFG_OFF_DATA) {
		/* wider reads of the data port return consecutive bytes, as QEMU's do */
		for (i = 0; i < len; i++)
			out[i] = read_byte(f);
	} else if (off == FWCFG_OFF_SEL && len == 2) {
		uint16_t v = f->sel;

		memcpy(data, &v, 2);
	} else if (off >= FWCFG_OFF_DMA_HI && off + len <= FWCFG_RANGE) {
		/* "QEMU CFG" read as one big-endian 64-bit value */
		static const char sig[] = "QEMU CFG";

		memcpy(data, sig + (off - FWCFG_OFF_DMA_HI), len);
	}
	pthread_mutex_unlock(&f->lock);
}

void fwcfg_pio_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct fwcfg *f = opaque;
	uint32_t v = 0;

	memcpy(&v, data, len < 4 ? len : 4);
	pthread_mutex_lock(&f->lock);
	if (off == FWCFG_OFF_SEL && len == 2)
		select_key(f, v);
	else if (off == FWCFG_OFF_DMA_HI && len == 4)
		f->dma_hi = be32toh(v);
	else if (off == FWCFG_OFF_DMA_LO && len == 4)
		dma_run(f, (uint64_t)f->dma_hi << 32 | be32toh(v));
	/* writes through the data port: ignored, as QEMU 2.4+ does */
	pthread_mutex_unlock(&f->lock);
}

static const struct io_ops fwcfg_ops = { .read = fwcfg_pio_read, .write = fwcfg_pio_write };

int fwcfg_init(struct fwcfg *f, struct vm *vm)
{
	uint32_t id = htole32(FWCFG_ID_TRADITIONAL | FWCFG_ID_DMA);
	int ret;

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->mem = &vm->mem;
	ret = set_item(f, FWCFG_SIGNATURE, "QEMU", 4);
	if (ret == 0)
		ret = set_item(f, FWCFG_ID, &id, 4);
	if (ret == 0)
		ret = rebuild_dir(f);
	if (ret == 0)
		ret = iobus_register(&vm->pio, FWCFG_PORT_SEL, FWCFG_RANGE, &fwcfg_ops, f);
	if (ret < 0)
		fwcfg_destroy(f);
	return ret;
}

void fwcfg_destroy(struct fwcfg *f)
{
	for (unsigned int i = 0; i < FWCFG_NR_KEYS; i++) {
		free(f->item[i].data);
		f->item[i].data = NULL;
	}
	pthread_mutex_destroy(&f->lock);
}
