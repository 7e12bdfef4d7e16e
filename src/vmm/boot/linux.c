// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bzImage loader for the 64-bit boot protocol: see linux.h.
 *
 * Linux boot protocol (Documentation/x86/boot.rst) in brief, as used here:
 * the file starts with the real-mode setup, (setup_sects + 1) * 512 bytes,
 * whose setup header at 0x1f1 describes the image; the rest is the
 * protected-mode kernel, which we copy to 1 MiB and enter at its 64-bit
 * entry point 0x200 bytes in (§"64-bit Boot Protocol", XLF_KERNEL_64). We
 * never run the real-mode part, so we fill boot_params ourselves, starting
 * from a copy of the image's setup header as the protocol asks (§"The zero
 * page").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "vmm/boot/linux.h"

#define SETUP_HDR_OFF 0x1f1 /* boot.rst §"The real-mode kernel header" */
#define HDR_MAGIC 0x53726448 /* "HdrS" */
#define BOOT_FLAG 0xaa55
#define MIN_VERSION 0x020c /* 2.12: xloadflags, so XLF_KERNEL_64 can be checked */
#define STARTUP_64_OFF 0x200 /* boot.rst §"64-bit Boot Protocol" */
#define LOADER_UNDEFINED 0xff /* type_of_loader: "undefined" boot loader */
#define VID_MODE_NORMAL 0xffff /* vid_mode: "normal" 80x25; we have no VGA anyway */
/* init_size sits at 0x260, so a 2.12+ header reaches at least 0x264. */
#define MIN_HDR_END 0x264

#define PAGE_SIZE 4096ULL

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * Copy the setup header from the image into a boot_params, bounded by the
 * file, by struct setup_header and by the header's own length: "the end of
 * the setup header can be calculated as 0x0202 + byte at 0x0201".
 */
static int copy_header(const uint8_t *img, size_t len, struct boot_params *bp)
{
	size_t end, max = SETUP_HDR_OFF + sizeof(struct setup_header);

	if (len < 0x202 + 4 + 2) {
		pr_err("kernel: %zu bytes is too short for a bzImage", len);
		return -ENOEXEC;
	}
	end = 0x202 + img[0x201];
	if (end > max)
		end = max;
	if (end > len) {
		pr_err("kernel: setup header runs past the end of the file");
		return -ENOEXEC;
	}
	memset(bp, 0, sizeof(*bp));
	memcpy((uint8_t *)bp + SETUP_HDR_OFF, img + SETUP_HDR_OFF, end - SETUP_HDR_OFF);
	if (bp->hdr.header != HDR_MAGIC || bp->hdr.boot_flag != BOOT_FLAG) {
		pr_err("kernel: no bzImage setup header (magic or boot flag missing)");
		return -ENOEXEC;
	}
	if (bp->hdr.version < MIN_VERSION) {
		pr_err("kernel: boot protocol %u.%02u is older than 2.12", bp->hdr.version >> 8,
		       bp->hdr.version & 0xff);
		return -ENOEXEC;
	}
	if (end < MIN_HDR_END) {
		pr_err("kernel: setup header is %zu bytes, too short for protocol 2.12",
		       end - SETUP_HDR_OFF);
		return -ENOEXEC;
	}
	return 0;
}

static int parse(const void *img, size_t len, struct linux_image *out, struct boot_params *bp)
{
	const struct setup_header *h = &bp->hdr;
	size_t setup_sects;
	int ret;

	ret = copy_header(img, len, bp);
	if (ret < 0)
		return ret;
	if (!(h->loadflags & LOADED_HIGH)) {
		pr_err("kernel: a zImage (not LOADED_HIGH) cannot be loaded");
		return -ENOEXEC;
	}
	if (!(h->xloadflags & XLF_KERNEL_64)) {
		pr_err("kernel: no 64-bit entry point (XLF_KERNEL_64 clear)");
		return -ENOEXEC;
	}
	setup_sects = h->setup_sects ? h->setup_sects : 4; /* boot.rst: 0 means 4 */
	out->setup_size = (setup_sects + 1) * 512;
	if (out->setup_size >= len) {
		pr_err("kernel: setup (%zu bytes) reaches past the end of the file (%zu)",
		       out->setup_size, len);
		return -ENOEXEC;
	}
	out->kernel = (const uint8_t *)img + out->setup_size;
	out->kernel_len = len - out->setup_size;
	/* syssize is the protected-mode size in 16-byte units: a shorter file is truncated. */
	if ((uint64_t)h->syssize * 16 > out->kernel_len) {
		pr_err("kernel: file truncated: %zu bytes of kernel, header says %llu",
		       out->kernel_len, (unsigned long long)h->syssize * 16);
		return -ENOEXEC;
	}
	if (out->kernel_len <= STARTUP_64_OFF) {
		pr_err("kernel: protected-mode part too short for the 64-bit entry");
		return -ENOEXEC;
	}
	out->version = h->version;
	out->init_size = h->init_size;
	out->pref_address = h->pref_address;
	out->relocatable = h->relocatable_kernel;
	out->cmdline_size = h->cmdline_size;
	out->initrd_addr_max = h->initrd_addr_max;
	if (out->init_size < out->kernel_len)
		out->init_size = out->kernel_len;
	return 0;
}

int linux_parse(const void *img, size_t len, struct linux_image *out)
{
	struct boot_params *bp = calloc(1, sizeof(*bp));
	int ret;

	if (!bp)
		return -ENOMEM;
	ret = parse(img, len, out, bp);
	free(bp);
	return ret;
}

/*
 * The end of what the kernel touches while it boots: the decompressor
 * works in [max(load address, pref_address), + init_size), since a
 * relocatable kernel loaded below LOAD_PHYSICAL_ADDR (= pref_address) moves
 * up to it (arch/x86/boot/compressed/head_64.S).
 */
static uint64_t kernel_end(const struct linux_image *k)
{
	uint64_t base = k->pref_address > X86_HIMEM ? k->pref_address : X86_HIMEM;

	return base + k->init_size;
}

int linux_initrd_place(const struct linux_image *k, const struct x86_layout *l, uint64_t size,
		       uint64_t *addr)
{
	uint64_t top = min_u64((uint64_t)k->initrd_addr_max + 1, l->low_ram);

	if (!size || size > top) {
		pr_err("initrd: %llu bytes do not fit below %#llx", (unsigned long long)size,
		       (unsigned long long)top);
		return -ENOMEM;
	}
	*addr = (top - size) & ~(PAGE_SIZE - 1);
	if (*addr < kernel_end(k)) {
		pr_err("initrd: %llu bytes do not fit between the kernel (up to %#llx) and %#llx",
		       (unsigned long long)size, (unsigned long long)kernel_end(k),
		       (unsigned long long)top);
		return -ENOMEM;
	}
	return 0;
}

/* Everything but the initrd bytes, which the caller has put at initrd_addr. */
static int load(struct guest_mem *m, const struct x86_layout *l, const void *img, size_t len,
		const char *cmdline, uint64_t rsdp, uint64_t initrd_addr, uint64_t initrd_len,
		struct linux_entry *out)
{
	_cleanup_free_ struct boot_params *bp = calloc(1, sizeof(*bp));
	struct linux_image k;
	size_t cl_len = cmdline ? strlen(cmdline) : 0;
	void *dst;
	int ret;

	if (!bp)
		return -ENOMEM;
	ret = parse(img, len, &k, bp);
	if (ret < 0)
		return ret;
	if (kernel_end(&k) > l->low_ram) {
		pr_err("kernel: needs RAM up to %#llx, the guest has %#llx below 4 GiB",
		       (unsigned long long)kernel_end(&k), (unsigned long long)l->low_ram);
		return -ENOMEM;
	}
	if (cl_len > k.cmdline_size || cl_len >= X86_CMDLINE_MAX) {
		pr_err("kernel command line is %zu bytes, the kernel takes at most %u", cl_len,
		       k.cmdline_size);
		return -E2BIG;
	}
	dst = gpa_ptr(m, X86_HIMEM, k.kernel_len);
	if (!dst)
		return -ENOMEM;
	memcpy(dst, k.kernel, k.kernel_len);
	dst = gpa_ptr(m, X86_CMDLINE_ADDR, cl_len + 1);
	if (!dst)
		return -ENOMEM;
	memcpy(dst, cmdline ? cmdline : "", cl_len + 1);

	/* boot.rst §"Details of header fields": what a boot loader must write. */
	bp->hdr.type_of_loader = LOADER_UNDEFINED;
	bp->hdr.vid_mode = VID_MODE_NORMAL;
	bp->hdr.loadflags &= ~(QUIET_FLAG | KEEP_SEGMENTS);
	bp->hdr.code32_start = X86_HIMEM;
	bp->hdr.cmd_line_ptr = X86_CMDLINE_ADDR;
	bp->ext_cmd_line_ptr = 0;
	bp->hdr.ramdisk_image = initrd_addr;
	bp->hdr.ramdisk_size = initrd_len;
	bp->ext_ramdisk_image = initrd_addr >> 32;
	bp->ext_ramdisk_size = initrd_len >> 32;
	bp->hdr.setup_data = 0;
	bp->hdr.hardware_subarch = 0; /* a normal PC */
	/* Honoured from protocol 2.14; older kernels find the RSDP by scanning 0xe0000. */
	bp->acpi_rsdp_addr = rsdp;
	ret = x86_e820_build(l, bp->e820_table, E820_MAX_ENTRIES_ZEROPAGE);
	if (ret < 0)
		return ret;
	bp->e820_entries = ret;

	dst = gpa_ptr(m, X86_BOOT_PARAMS_ADDR, sizeof(*bp));
	if (!dst)
		return -ENOMEM;
	memcpy(dst, bp, sizeof(*bp));
	out->rip = X86_HIMEM + STARTUP_64_OFF;
	out->boot_params = X86_BOOT_PARAMS_ADDR;
	pr_debug(
		"kernel: protocol %u.%02u, %zu bytes at %#llx, init_size %#x, initrd %llu bytes at %#llx",
		k.version >> 8, k.version & 0xff, k.kernel_len, X86_HIMEM, k.init_size,
		(unsigned long long)initrd_len, (unsigned long long)initrd_addr);
	return 0;
}

int linux_load(struct guest_mem *m, const struct x86_layout *l, const struct linux_boot *b,
	       struct linux_entry *out)
{
	struct linux_image k;
	uint64_t initrd_addr = 0;
	void *dst;
	int ret;

	ret = linux_parse(b->kernel, b->kernel_len, &k);
	if (ret < 0)
		return ret;
	if (b->initrd_len) {
		ret = linux_initrd_place(&k, l, b->initrd_len, &initrd_addr);
		if (ret < 0)
			return ret;
		dst = gpa_ptr(m, initrd_addr, b->initrd_len);
		if (!dst)
			return -ENOMEM;
		memcpy(dst, b->initrd, b->initrd_len);
	}
	return load(m, l, b->kernel, b->kernel_len, b->cmdline, b->rsdp, initrd_addr, b->initrd_len,
		    out);
}

/* Read the initrd straight into guest RAM: it can be hundreds of MiB. */
static int read_initrd(struct guest_mem *m, const struct x86_layout *l, const struct linux_image *k,
		       const char *path, uint64_t *addr, uint64_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *dst;
	int ret;

	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		pr_err("initrd: open `%s`: %s", path, strerror(errno));
		return ret;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
		pr_err("initrd: `%s` is not a non-empty regular file", path);
		return -EINVAL;
	}
	ret = linux_initrd_place(k, l, st.st_size, addr);
	if (ret < 0)
		return ret;
	dst = gpa_ptr(m, *addr, st.st_size);
	if (!dst)
		return -ENOMEM;
	if (read_all(fd, dst, st.st_size) != st.st_size) {
		pr_err("initrd: read `%s`: %s", path, errno ? strerror(errno) : "short read");
		return -EIO;
	}
	*len = st.st_size;
	return 0;
}

int linux_load_files(struct guest_mem *m, const struct x86_layout *l, const char *kernel_path,
		     const char *initrd_path, const char *cmdline, uint64_t rsdp,
		     struct linux_entry *out)
{
	_cleanup_free_ char *img = NULL;
	struct linux_image k;
	uint64_t initrd_addr = 0, initrd_len = 0;
	size_t len;
	int ret;

	ret = read_file(kernel_path, &img, &len);
	if (ret < 0) {
		pr_err("kernel: read `%s`: %s", kernel_path, strerror(-ret));
		return ret;
	}
	ret = linux_parse(img, len, &k);
	if (ret < 0)
		return ret;
	if (initrd_path) {
		ret = read_initrd(m, l, &k, initrd_path, &initrd_addr, &initrd_len);
		if (ret < 0)
			return ret;
	}
	return load(m, l, img, len, cmdline, rsdp, initrd_addr, initrd_len, out);
}
