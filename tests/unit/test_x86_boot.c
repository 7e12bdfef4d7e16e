// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for x86 Linux boot: the guest memory map and e820 table
 * (arch/x86/layout.c), the bzImage loader (boot/linux.c) against crafted,
 * truncated and hostile images and against the real Debian kernel when the
 * test cache has it, and the 64-bit entry state (arch/x86/regs.c) on
 * /dev/kvm with a three-instruction guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <cmocka.h>

#include "common/log.h"
#include "common/util.h"
#include "vmm/arch/x86/cpuid.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/arch/x86/regs.h"
#include "vmm/boot/linux.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* ---- e820 ---- */

static void check_e820(uint64_t ram, uint64_t want_high)
{
	struct boot_e820_entry t[16];
	struct x86_layout l;
	uint64_t ram_sum = 0, end = 0;
	int n, i, ecam = 0, acpi = 0;

	assert_int_equal(x86_layout_init(&l, ram), 0);
	assert_int_equal(l.high_ram, want_high);
	n = x86_e820_build(&l, t, 16);
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		/* sorted, no overlap, nothing empty */
		assert_true(t[i].addr >= end);
		assert_true(t[i].size > 0);
		end = t[i].addr + t[i].size;
		if (t[i].type == X86_E820_RAM) {
			ram_sum += t[i].size;
			/* no RAM in the PCI hole */
			assert_true(end <= X86_PCI_HOLE || t[i].addr >= X86_HIGH_RAM);
			/* nothing between 640 KiB and 1 MiB */
			assert_true(end <= X86_LOW_RAM_END || t[i].addr >= X86_HIMEM);
		}
		ecam |= t[i].type == X86_E820_RESERVED && t[i].addr == X86_PCI_ECAM_BASE;
		acpi |= t[i].type == X86_E820_RESERVED && t[i].addr == X86_ACPI_ADDR;
	}
	assert_true(ecam && acpi);
	/* all RAM but the 384 KiB legacy hole (0xa0000..0xfffff) */
	assert_int_equal(ram_sum, ram - (X86_HIMEM - X86_LOW_RAM_END));
	assert_int_equal(t[0].addr, 0);
	assert_int_equal(t[0].size, X86_LOW_RAM_END);
	if (want_high) {
		assert_int_equal(t[n - 1].addr, X86_HIGH_RAM);
		assert_int_equal(t[n - 1].size, want_high);
		assert_int_equal(t[n - 1].type, X86_E820_RAM);
	}
	assert_true(l.mmio64_base >= X86_HIGH_RAM + l.high_ram);
	assert_int_equal(l.mmio64_base % GiB, 0);
}

static void e820_128m(void **state)
{
	check_e820(128 * MiB, 0);
}

static void e820_2g(void **state)
{
	check_e820(2 * GiB, 0);
}

static void e820_3g5(void **state)
{
	check_e820(3 * GiB + 512 * MiB, 512 * MiB);
}

static void e820_6g(void **state)
{
	check_e820(6 * GiB, 3 * GiB);
}

static void e820_too_small(void **state)
{
	struct boot_e820_entry t[2];
	struct x86_layout l;

	assert_int_equal(x86_layout_init(&l, MiB), -EINVAL);
	assert_int_equal(x86_layout_init(&l, 64 * MiB + 1), -EINVAL);
	assert_int_equal(x86_layout_init(&l, 6 * GiB), 0);
	assert_int_equal(x86_e820_build(&l, t, 2), -ENOSPC);
}

/* ---- crafted bzImages ---- */

#define SETUP_SECTS 7 /* setup = 8 * 512 bytes */
#define SETUP_LEN ((SETUP_SECTS + 1) * 512)
#define PM_LEN 0x2000
#define IMG_LEN (SETUP_LEN + PM_LEN)
#define GUEST_RAM (64 * MiB)

struct fixture {
	uint8_t img[IMG_LEN];
	uint8_t *ram;
	struct guest_mem mem;
	struct x86_layout lay;
};

static struct setup_header *hdr(struct fixture *f)
{
	return (struct setup_header *)(f->img + 0x1f1);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct setup_header *h;
	size_t i;

	assert_non_null(f);
	f->ram = calloc(1, GUEST_RAM);
	assert_non_null(f->ram);
	assert_int_equal(guest_mem_add(&f->mem, 0, GUEST_RAM, f->ram), 0);
	assert_int_equal(x86_layout_init(&f->lay, GUEST_RAM), 0);
	h = hdr(f);
	h->setup_sects = SETUP_SECTS;
	h->boot_flag = 0xaa55;
	h->jump = 0x66eb; /* jmp to 0x268: the header is 0x66 bytes past 0x202 */
	h->header = 0x53726448;
	h->version = 0x020f;
	h->loadflags = LOADED_HIGH;
	h->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h->syssize = PM_LEN / 16;
	h->relocatable_kernel = 1;
	h->kernel_alignment = 2 * MiB;
	h->cmdline_size = 255;
	h->initrd_addr_max = 0x7fffffff;
	h->pref_address = 16 * MiB;
	h->init_size = 8 * MiB;
	for (i = SETUP_LEN; i < IMG_LEN; i++)
		f->img[i] = i * 7;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->ram);
	free(f);
	return 0;
}

static int parse_len(struct fixture *f, size_t len)
{
	struct linux_image k;

	return linux_parse(f->img, len, &k);
}

static void bz_good(void **state)
{
	struct fixture *f = *state;
	static const uint8_t initrd[5000] = { 1, 2, 3 };
	struct linux_boot b = {
		.kernel = f->img,
		.kernel_len = IMG_LEN,
		.initrd = initrd,
		.initrd_len = sizeof(initrd),
		.cmdline = "console=ttyS0 panic=-1",
		.rsdp = X86_ACPI_ADDR,
	};
	struct linux_entry e;
	struct boot_params *bp = (struct boot_params *)(f->ram + X86_BOOT_PARAMS_ADDR);
	uint64_t rd;

	assert_int_equal(linux_load(&f->mem, &f->lay, &b, &e), 0);
	assert_int_equal(e.rip, X86_HIMEM + 0x200);
	assert_int_equal(e.boot_params, X86_BOOT_PARAMS_ADDR);
	assert_memory_equal(f->ram + X86_HIMEM, f->img + SETUP_LEN, PM_LEN);
	assert_int_equal(bp->hdr.header, 0x53726448);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.vid_mode, 0xffff);
	assert_int_equal(bp->hdr.cmd_line_ptr, X86_CMDLINE_ADDR);
	assert_string_equal((char *)f->ram + X86_CMDLINE_ADDR, b.cmdline);
	assert_int_equal(bp->acpi_rsdp_addr, X86_ACPI_ADDR);
	assert_int_equal(bp->e820_entries, 5); /* low RAM, ACPI, RAM, ECAM, KVM pages */
	rd = bp->hdr.ramdisk_image | (uint64_t)bp->ext_ramdisk_image << 32;
	assert_int_equal(bp->hdr.ramdisk_size, sizeof(initrd));
	assert_int_equal(rd % 4096, 0);
	assert_true(rd + sizeof(initrd) <= GUEST_RAM);
	assert_true(rd >= 16 * MiB + 8 * MiB); /* above the decompressor's buffer */
	assert_memory_equal(f->ram + rd, initrd, sizeof(initrd));
}

static void bz_bad_magic(void **state)
{
	struct fixture *f = *state;

	hdr(f)->header = 0x53726449;
	assert_int_equal(parse_len(f, IMG_LEN), -ENOEXEC);
}

static void bz_bad_boot_flag(void **state)
{
	struct fixture *f = *state;

	hdr(f)->boot_flag = 0;
	assert_int_equal(parse_len(f, IMG_LEN), -ENOEXEC);
}

static void bz_old_version(void **state)
{
	struct fixture *f = *state;

	hdr(f)->version = 0x0206;
	assert_int_equal(parse_len(f, IMG_LEN), -ENOEXEC);
}

static void bz_no_64bit(void **state)
{
	struct fixture *f = *state;

	hdr(f)->xloadflags = 0;
	assert_int_equal(parse_len(f, IMG_LEN), -ENOEXEC);
	hdr(f)->xloadflags = XLF_KERNEL_64;
	hdr(f)->loadflags = 0;
	assert_int_equal(parse_len(f, IMG_LEN), -ENOEXEC);
}

static void bz_setup_past_end(void **state)
{
	struct fixture *f = *state;

	struct linux_image k;

	hdr(f)->setup_sects = 200;
	assert_int_equal(parse_len(f, IMG_LEN), -ENOEXEC);
	/* setup_sects 0 means 4 (boot.rst) */
	hdr(f)->setup_sects = 0;
	assert_int_equal(linux_parse(f->img, IMG_LEN, &k), 0);
	assert_int_equal(k.setup_size, 5 * 512);
}

static void bz_truncated(void **state)
{
	struct fixture *f = *state;
	int err_fd = dup(STDERR_FILENO), null_fd = open("/dev/null", O_WRONLY);
	size_t len;

	assert_int_equal(parse_len(f, IMG_LEN), 0);
	assert_int_equal(parse_len(f, IMG_LEN - 1), -ENOEXEC);
	/* every shorter length fails cleanly (ASan watches the reads); quietly */
	assert_true(err_fd >= 0 && null_fd >= 0);
	dup2(null_fd, STDERR_FILENO);
	for (len = 0; len < IMG_LEN; len++)
		if (parse_len(f, len) != -ENOEXEC)
			break;
	dup2(err_fd, STDERR_FILENO);
	close(err_fd);
	close(null_fd);
	assert_int_equal(len, IMG_LEN);
}

static void bz_short_header(void **state)
{
	struct fixture *f = *state;

	/* a header that claims to end before init_size */
	hdr(f)->jump = 0x20eb;
	assert_int_equal(parse_len(f, IMG_LEN), -ENOEXEC);
	/* one that claims to be longer than we know is clipped, not trusted */
	hdr(f)->jump = 0xffeb;
	assert_int_equal(parse_len(f, IMG_LEN), 0);
}

static void bz_cmdline_too_long(void **state)
{
	struct fixture *f = *state;
	struct linux_boot b = { .kernel = f->img, .kernel_len = IMG_LEN };
	struct linux_entry e;

	hdr(f)->cmdline_size = 8;
	b.cmdline = "12345678";
	assert_int_equal(linux_load(&f->mem, &f->lay, &b, &e), 0);
	b.cmdline = "123456789";
	assert_int_equal(linux_load(&f->mem, &f->lay, &b, &e), -E2BIG);
}

static void bz_initrd_too_big(void **state)
{
	struct fixture *f = *state;
	struct linux_image k;
	uint64_t at;

	assert_int_equal(linux_parse(f->img, IMG_LEN, &k), 0);
	/* 64 MiB RAM, the kernel needs up to 24 MiB */
	assert_int_equal(linux_initrd_place(&k, &f->lay, 40 * MiB, &at), 0);
	assert_int_equal(at, 24 * MiB);
	assert_int_equal(linux_initrd_place(&k, &f->lay, 40 * MiB + 1, &at), -ENOMEM);
	assert_int_equal(linux_initrd_place(&k, &f->lay, 100 * MiB, &at), -ENOMEM);
	assert_int_equal(linux_initrd_place(&k, &f->lay, ~0ULL, &at), -ENOMEM);
	/* initrd_addr_max is the last byte it may use */
	k.initrd_addr_max = 32 * MiB - 1;
	assert_int_equal(linux_initrd_place(&k, &f->lay, 4096, &at), 0);
	assert_int_equal(at, 32 * MiB - 4096);
}

static void bz_kernel_too_big(void **state)
{
	struct fixture *f = *state;
	struct linux_boot b = { .kernel = f->img, .kernel_len = IMG_LEN };
	struct linux_entry e;

	hdr(f)->init_size = 60 * MiB;
	assert_int_equal(linux_load(&f->mem, &f->lay, &b, &e), -ENOMEM);
}

/* ---- the real kernel ---- */

static char *find_kernel(void)
{
	const char *env = getenv("VPS_TEST_KERNEL");
	char *path = NULL;
	glob_t g;

	if (env && *env)
		return strdup(env);
	if (glob("/var/cache/vps-test/kernel/*/vmlinuz", 0, NULL, &g) == 0) {
		path = strdup(g.gl_pathv[0]);
		globfree(&g);
	}
	return path;
}

static void bz_real_kernel(void **state)
{
	char *path = find_kernel(), *img = NULL;
	const size_t ram = 256 * MiB;
	struct boot_params *bp;
	struct linux_image k;
	struct linux_entry e;
	struct x86_layout l;
	struct guest_mem m = { 0 };
	char initrd[] = "/tmp/vps-test-initrd-XXXXXX";
	uint8_t *mem;
	size_t len;
	int fd;

	if (!path || access(path, R_OK) < 0) {
		printf("# skip: no test kernel (run tests/guest/mkkernel or set VPS_TEST_KERNEL)\n");
		free(path);
		skip();
	}
	assert_int_equal(read_file(path, &img, &len), 0);
	assert_int_equal(linux_parse(img, len, &k), 0);
	assert_true(k.version >= 0x020f);
	assert_true(k.relocatable);
	assert_true(k.cmdline_size >= 2047);

	mem = mmap(NULL, ram, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	assert_true(mem != MAP_FAILED);
	assert_int_equal(guest_mem_add(&m, 0, ram, mem), 0);
	assert_int_equal(x86_layout_init(&l, ram), 0);
	fd = mkstemp(initrd);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "070701", 6), 6);
	close(fd);
	assert_int_equal(linux_load_files(&m, &l, path, initrd, "console=ttyS0", X86_ACPI_ADDR, &e),
			 0);
	unlink(initrd);
	bp = (struct boot_params *)(mem + X86_BOOT_PARAMS_ADDR);
	assert_int_equal(e.rip, 0x100200);
	assert_int_equal(bp->hdr.ramdisk_size, 6);
	assert_memory_equal(mem + bp->hdr.ramdisk_image, "070701", 6);
	assert_memory_equal(mem + X86_HIMEM, img + k.setup_size, k.kernel_len);
	munmap(mem, ram);
	free(img);
	free(path);
}

/* ---- entry state on /dev/kvm ---- */

static void kvm_long_mode_entry(void **state)
{
	/* mov rax, rsi; out 0x80, eax; hlt */
	static const uint8_t code[] = { 0x48, 0x89, 0xf0, 0xe7, 0x80, 0xf4 };
	const size_t ram = 64 * MiB;
	struct kvm_userspace_memory_region r = { .memory_size = ram };
	struct x86_msr_list msrs = { 0 };
	struct kvm_cpuid2 *sup = NULL;
	struct cpuid_opts o = { 0 };
	struct guest_mem m = { 0 };
	struct kvm_sregs sregs;
	struct kvm_run *run;
	int kvm, vm, vcpu;
	uint8_t *mem;

	log_init("test_x86_boot", LOG_INFO); /* show which boot MSRs this KVM refuses */
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("# skip: no /dev/kvm: %s\n", strerror(errno));
		skip();
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	assert_true(vm >= 0);
	assert_int_equal(x86_vm_init(vm), 0);
	mem = mmap(NULL, ram, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	assert_true(mem != MAP_FAILED);
	r.userspace_addr = (uintptr_t)mem;
	assert_int_equal(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r), 0);
	assert_int_equal(guest_mem_add(&m, 0, ram, mem), 0);
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	assert_true(vcpu >= 0);
	run = mmap(NULL, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu, 0);
	assert_true(run != MAP_FAILED);

	assert_int_equal(cpuid_get_supported(kvm, &sup), 0);
	o.tsc_deadline = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	assert_int_equal(cpuid_setup_vcpu(sup, vcpu, 0, 1, &o), 0);
	assert_int_equal(x86_msr_list_get(kvm, &msrs), 0);
	assert_int_equal(x86_vcpu_init(vcpu, 0, &msrs), 0);
	assert_int_equal(x86_boot_tables(&m), 0);
	memcpy(mem + X86_HIMEM + 0x200, code, sizeof(code));
	assert_int_equal(x86_vcpu_boot_regs(vcpu, X86_HIMEM + 0x200, X86_BOOT_PARAMS_ADDR), 0);

	assert_int_equal(ioctl(vcpu, KVM_RUN, 0), 0);
	assert_int_equal(run->exit_reason, KVM_EXIT_IO);
	assert_int_equal(run->io.port, 0x80);
	assert_int_equal(run->io.size, 4);
	assert_int_equal(*(uint32_t *)((uint8_t *)run + run->io.data_offset), X86_BOOT_PARAMS_ADDR);
	assert_int_equal(ioctl(vcpu, KVM_GET_SREGS, &sregs), 0);
	assert_true(sregs.efer & (1 << 10)); /* LMA */
	assert_int_equal(sregs.cs.l, 1);
	assert_int_equal(sregs.cs.selector, 0x10);
	assert_int_equal(sregs.ds.selector, 0x18);

	x86_msr_list_free(&msrs);
	free(sup);
	close(vcpu);
	close(vm);
	close(kvm);
	munmap(mem, ram);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(e820_128m),
		cmocka_unit_test(e820_2g),
		cmocka_unit_test(e820_3g5),
		cmocka_unit_test(e820_6g),
		cmocka_unit_test(e820_too_small),
		cmocka_unit_test_setup_teardown(bz_good, setup, teardown),
		cmocka_unit_test_setup_teardown(bz_bad_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(bz_bad_boot_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(bz_old_version, setup, teardown),
		cmocka_unit_test_setup_teardown(bz_no_64bit, setup, teardown),
		cmocka_unit_test_setup_teardown(bz_setup_past_end, setup, teardown),
		cmocka_unit_test_setup_teardown(bz_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(bz_short_header, setup, teardown),
		cmocka_unit_test_setup_teardown(bz_cmdline_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(bz_initrd_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(bz_kernel_too_big, setup, teardown),
		cmocka_unit_test(bz_real_kernel),
		cmocka_unit_test(kvm_long_mode_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
