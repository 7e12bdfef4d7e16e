// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * VM construction and teardown: /dev/kvm, the VM fd, guest RAM. The
 * constructor undoes itself step by step on failure (kvmtool's reverse goto
 * ladder), so a failed vm_create() leaves no fd and no mapping behind.
 *
 * We ask /dev/kvm what it supports and never look at /proc/cpuinfo: on a PVM
 * host (software nested virtualisation) there is no svm/vmx flag, yet KVM
 * works.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/vm.h"

/* Register host memory [hva, hva+size) as guest RAM at gpa in KVM slot `slot`. */
static int add_ram_slot(struct vm *vm, unsigned int slot, uint64_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};
	int ret;

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		ret = -errno;
		pr_err("KVM_SET_USER_MEMORY_REGION %u: %s", slot, strerror(errno));
		return ret;
	}
	return guest_mem_add(&vm->mem, gpa, size, hva);
}

int vm_create(struct vm *vm, uint64_t ram_size, uint64_t hole_start)
{
	uint64_t low = ram_size < hole_start ? ram_size : hole_start;
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->coalesced_lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0) {
		ret = -errno;
		pr_err("eventfd: %s", strerror(errno));
		return ret;
	}
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = -errno;
		pr_err("open /dev/kvm: %s", strerror(errno));
		goto err_efd;
	}
	ret = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		pr_err("/dev/kvm speaks API version %d, we need %d", ret, KVM_API_VERSION);
		ret = -ENOTSUP;
		goto err_kvm;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		ret = -errno;
		pr_err("KVM_CREATE_VM: %s", strerror(errno));
		goto err_kvm;
	}
	/* One host mapping; the part above the hole is guest RAM from 4 GiB. */
	vm->ram = guest_ram_map(ram_size);
	if (!vm->ram) {
		ret = -errno;
		pr_err("map %llu bytes of guest RAM: %s", (unsigned long long)ram_size,
		       strerror(errno));
		vm->ram = NULL;
		goto err_vm;
	}
	vm->ram_size = ram_size;
	ret = add_ram_slot(vm, 0, 0, low, vm->ram);
	if (ret == 0 && ram_size > low)
		ret = add_ram_slot(vm, 1, 1ULL << 32, ram_size - low, (uint8_t *)vm->ram + low);
	if (ret < 0)
		goto err_ram;
	return 0;

err_ram:
	munmap(vm->ram, ram_size);
	vm->ram = NULL;
err_vm:
	close(vm->vm_fd);
	vm->vm_fd = -1;
err_kvm:
	close(vm->kvm_fd);
	vm->kvm_fd = -1;
err_efd:
	close(vm->stop_efd);
	vm->stop_efd = -1;
	return ret;
}

#define VM_ROM_SLOT 2 /* 0 and 1 are RAM below and above the hole */

int vm_add_rom(struct vm *vm, uint64_t gpa, const void *image, uint64_t size)
{
	struct kvm_userspace_memory_region region = {
		.slot = VM_ROM_SLOT,
		.guest_phys_addr = gpa,
		.memory_size = size,
	};
	void *p;

	if (vm->rom || !size || (size | gpa) & 0xfff)
		return -EINVAL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	memcpy(p, image, size);
	region.userspace_addr = (uintptr_t)p;
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0)
		region.flags = KVM_MEM_READONLY;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		int ret = -errno;

		pr_err("KVM_SET_USER_MEMORY_REGION (firmware at %#llx): %s",
		       (unsigned long long)gpa, strerror(errno));
		munmap(p, size);
		return ret;
	}
	vm->rom = p;
	vm->rom_size = size;
	return 0;
}

int vm_reserve_ram(struct vm *vm)
{
	uint64_t mib = vm->ram_size >> 20;
	struct rlimit rl;
	int ret;

	/*
	 * The default limit is a few MiB. Root may lift it (CAP_SYS_RESOURCE),
	 * and with CAP_IPC_LOCK mlock() ignores it anyway; an unprivileged
	 * monitor gets what its hard limit allows and a message saying so.
	 */
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < vm->ram_size) {
		struct rlimit want = { RLIM_INFINITY, RLIM_INFINITY };

		if (setrlimit(RLIMIT_MEMLOCK, &want) < 0 && rl.rlim_max > rl.rlim_cur) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_MEMLOCK, &rl);
		}
	}
	/*
	 * On a private writable mapping mlock() write-faults every page: real
	 * pages, not zero pages. The raw system call, because AddressSanitizer
	 * turns the libc call into a silent no-op.
	 */
	if (syscall(SYS_mlock, vm->ram, vm->ram_size) < 0) {
		ret = -errno;
		if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			pr_err("reserve: mlock %llu MiB: %s (RLIMIT_MEMLOCK is %llu KiB: run as "
			       "root or raise it)",
			       (unsigned long long)mib, strerror(-ret),
			       (unsigned long long)(rl.rlim_cur >> 10));
		else
			pr_err("reserve: mlock %llu MiB: %s", (unsigned long long)mib,
			       strerror(-ret));
		munlock(vm->ram, vm->ram_size);
		return ret;
	}
	vm->ram_reserved = true;
	return 0;
}

void vm_destroy(struct vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(vm->vcpus[i]);
	vm->nr_vcpus = 0;
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	vm->ram = NULL;
	if (vm->rom)
		munmap(vm->rom, vm->rom_size);
	vm->rom = NULL;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	vm->vm_fd = vm->kvm_fd = vm->stop_efd = -1;
}

int vm_coalesce_pio(struct vm *vm, uint16_t port, uint32_t len)
{
	struct kvm_coalesced_mmio_zone zone = { .addr = port, .size = len, .pio = 1 };
	int page;

	if (vm->nr_vcpus)
		return -EBUSY; /* the ring's address is taken as the first vCPU is made */
	page = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	if (page <= 0 || ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) <= 0)
		return -EOPNOTSUPP;
	if (ioctl(vm->vm_fd, KVM_REGISTER_COALESCED_MMIO, &zone) < 0)
		return -errno;
	vm->coalesced_page = page;
	return 0;
}

void vm_coalesced_flush(struct vm *vm)
{
	struct kvm_coalesced_mmio_ring *r = vm ? vm->coalesced : NULL;
	uint32_t first;

	/* the common case, nothing queued, without the lock: KVM moves only `last` */
	if (!r || __atomic_load_n(&r->first, __ATOMIC_RELAXED) ==
			  __atomic_load_n(&r->last, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&vm->coalesced_lock);
	first = r->first;
	while (first != __atomic_load_n(&r->last, __ATOMIC_ACQUIRE)) {
		struct kvm_coalesced_mmio e;

		if (first >= vm->coalesced_max)
			break; /* not a ring KVM made: leave it */
		e = r->coalesced_mmio[first];
		if (e.len <= sizeof(e.data))
			iobus_access(e.pio ? &vm->pio : &vm->mmio, e.phys_addr, e.data, e.len, 1);
		vm->coalesced_writes++;
		first = (first + 1) % vm->coalesced_max;
		/* the entry is read before KVM may reuse it */
		__atomic_store_n(&r->first, first, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&vm->coalesced_lock);
}

void vm_request_exit(struct vm *vm, enum vm_exit_reason why, int status)
{
	uint64_t one = 1;

	pthread_mutex_lock(&vm->lock);
	if (vm->exit_reason != VM_RUNNING) {
		pthread_mutex_unlock(&vm->lock);
		return;
	}
	vm->exit_status = status;
	__atomic_store_n(&vm->exit_reason, why, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	vm_kick_vcpus(vm);
	if (write(vm->stop_efd, &one, sizeof(one)) < 0)
		pr_warn("signal VM stop: %s", strerror(errno));
}

void vm_irq_line(struct vm *vm, unsigned int gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (!vm->has_irqchip)
		return;
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		pr_ratelimited(LOG_WARN, "KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
}

int vm_signal_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};

	if (ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0) {
		pr_ratelimited(LOG_WARN, "KVM_SIGNAL_MSI: %s", strerror(errno));
		return -errno;
	}
	return 0;
}
