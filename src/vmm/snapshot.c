// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Snapshot and restore of a whole VM (snapshot.h, docs/vmm.md "Snapshots"):
 * the KVM side (vCPUs, irqchip, PIT, clock) is here; each device saves and
 * loads itself in its own file (serial_save, virtio_pci_save_locked, ...).
 *
 * Save runs on the control thread with the vCPUs parked and every device
 * locked (machine_lock_devices), so guest RAM and device state are one
 * instant. Restore runs in a new process, after the VM is built from the
 * same configuration and before any thread starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/arch/x86/regs.h"
#include "vmm/snapshot_vm.h"

#define SNAP_MAX_MSRS 1024
#define SNAP_MAX_VIRTIO 64
#define MEM_CHUNK (1u << 20) /* zero chunks of guest RAM become holes */

/* The VM section: what must match between the snapshot and the VM it goes into. */
struct vm_state {
	uint64_t ram_size;
	uint32_t nr_vcpus;
	uint8_t has_irqchip, micro, pad[2];
	uint32_t xsave_size; /* 0: KVM_GET_FPU only */
	uint32_t nr_virtio;
	uint16_t virtio[SNAP_MAX_VIRTIO]; /* device id per function, in slot order */
};

static int xsave_size(struct vm *vm)
{
	int n = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	if (n > (int)sizeof(struct kvm_xsave))
		return n;
	return ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0 ?
		       (int)sizeof(struct kvm_xsave) :
		       0;
}

static void vm_state_of(const struct snap_parts *p, struct vm_state *st)
{
	memset(st, 0, sizeof(*st));
	st->ram_size = p->vm->ram_size;
	st->nr_vcpus = p->vm->nr_vcpus;
	st->has_irqchip = p->vm->has_irqchip;
	st->micro = p->micro;
	st->xsave_size = xsave_size(p->vm);
	st->nr_virtio = machine_virtio_ids(p->mc, st->virtio, SNAP_MAX_VIRTIO);
}

static int ioctl_fail(struct err **err, const char *what, unsigned int id)
{
	return err_make(err, errno, "vcpu %u: %s", id, what);
}

/* Every MSR KVM lists that this vCPU lets us read; those it refuses are left out. */
static int save_msrs(struct vcpu *v, const struct x86_msr_list *l, struct snap_w *w,
		     struct err **err)
{
	size_t sz = sizeof(struct kvm_msrs) + SNAP_MAX_MSRS * sizeof(struct kvm_msr_entry);
	struct kvm_msrs *m = calloc(1, sz),
			*one = calloc(1, sizeof(*one) + sizeof(one->entries[0]));
	unsigned int i;

	if (!m || !one) {
		free(m);
		free(one);
		return err_make(err, ENOMEM, "vcpu %u: MSRs", v->id);
	}
	for (i = 0; i < l->nr && m->nmsrs < SNAP_MAX_MSRS; i++) {
		one->nmsrs = 1;
		one->entries[0] = (struct kvm_msr_entry){ .index = l->idx[i] };
		if (ioctl(v->fd, KVM_GET_MSRS, one) == 1)
			m->entries[m->nmsrs++] = one->entries[0];
	}
	snap_put(w, SNAP_MSRS, v->id, m->entries, m->nmsrs * sizeof(m->entries[0]));
	free(m);
	free(one);
	return 0;
}

static int save_vcpu(struct vcpu *v, const struct vm_state *vs, const struct x86_msr_list *l,
		     struct snap_w *w, struct err **err)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events ev;
	struct kvm_debugregs dbg;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
		return ioctl_fail(err, "KVM_GET_REGS", v->id);
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return ioctl_fail(err, "KVM_GET_SREGS", v->id);
	if (ioctl(v->fd, KVM_GET_FPU, &fpu) < 0)
		return ioctl_fail(err, "KVM_GET_FPU", v->id);
	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) < 0)
		return ioctl_fail(err, "KVM_GET_MP_STATE", v->id);
	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return ioctl_fail(err, "KVM_GET_VCPU_EVENTS", v->id);
	if (ioctl(v->fd, KVM_GET_DEBUGREGS, &dbg) < 0)
		return ioctl_fail(err, "KVM_GET_DEBUGREGS", v->id);
	snap_put(w, SNAP_REGS, v->id, &regs, sizeof(regs));
	snap_put(w, SNAP_SREGS, v->id, &sregs, sizeof(sregs));
	snap_put(w, SNAP_FPU, v->id, &fpu, sizeof(fpu));
	snap_put(w, SNAP_MPSTATE, v->id, &mp, sizeof(mp));
	snap_put(w, SNAP_EVENTS, v->id, &ev, sizeof(ev));
	snap_put(w, SNAP_DEBUGREGS, v->id, &dbg, sizeof(dbg));
	if (vs->xsave_size) {
		struct kvm_xsave *x = calloc(1, vs->xsave_size);
		unsigned long req = vs->xsave_size > sizeof(*x) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;

		if (!x)
			return err_make(err, ENOMEM, "vcpu %u: xsave", v->id);
		if (ioctl(v->fd, req, x) < 0) {
			free(x);
			return ioctl_fail(err, "KVM_GET_XSAVE", v->id);
		}
		snap_put(w, SNAP_XSAVE, v->id, x, vs->xsave_size);
		free(x);
		if (ioctl(v->fd, KVM_GET_XCRS, &xcrs) < 0)
			return ioctl_fail(err, "KVM_GET_XCRS", v->id);
		snap_put(w, SNAP_XCRS, v->id, &xcrs, sizeof(xcrs));
	}
	if (vs->has_irqchip) {
		if (ioctl(v->fd, KVM_GET_LAPIC, &lapic) < 0)
			return ioctl_fail(err, "KVM_GET_LAPIC", v->id);
		snap_put(w, SNAP_LAPIC, v->id, &lapic, sizeof(lapic));
	}
	return save_msrs(v, l, w, err);
}

/* The irqchip (PIC master, slave, IOAPIC), the PIT and kvmclock. */
static int save_vm(struct vm *vm, const struct vm_state *vs, struct snap_w *w, struct err **err)
{
	struct kvm_clock_data clk = { 0 };
	unsigned int c;

	if (vs->has_irqchip) {
		struct kvm_pit_state2 pit;

		for (c = 0; c < 3; c++) {
			struct kvm_irqchip chip = { .chip_id = c };

			if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
				return err_make(err, errno, "KVM_GET_IRQCHIP %u", c);
			snap_put(w, SNAP_IRQCHIP, c, &chip, sizeof(chip));
		}
		if (ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0)
			return err_make(err, errno, "KVM_GET_PIT2");
		snap_put(w, SNAP_PIT, 0, &pit, sizeof(pit));
	}
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clk) < 0)
		return err_make(err, errno, "KVM_GET_CLOCK");
	snap_put(w, SNAP_CLOCK, 0, &clk.clock, sizeof(clk.clock));
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	const uint64_t *q = (const uint64_t *)p;
	size_t i;

	for (i = 0; i < n / 8; i++)
		if (q[i])
			return false;
	return true;
}

/* Guest RAM to `fd`: the file is the RAM's size; zero chunks stay holes. */
static int save_memory(struct vm *vm, int fd, struct err **err)
{
	const uint8_t *ram = vm->ram;
	uint64_t off;

	if (ftruncate(fd, vm->ram_size) < 0)
		return err_make(err, errno, "snapshot memory: size it");
	for (off = 0; off < vm->ram_size; off += MEM_CHUNK) {
		size_t n = vm->ram_size - off < MEM_CHUNK ? vm->ram_size - off : MEM_CHUNK;
		size_t done = 0;

		if (all_zero(ram + off, n))
			continue;
		while (done < n) {
			ssize_t k = pwrite(fd, ram + off + done, n - done, off + done);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return err_make(err, k < 0 ? errno : EIO, "snapshot memory: write");
			done += k;
		}
	}
	return 0;
}

/* Write a file in dirfd through a temporary name, synced, then renamed into place. */
static int write_file(int dirfd, const char *name, struct err **err,
		      int (*fill)(void *ctx, int fd, struct err **err), void *ctx)
{
	char tmp[64];
	int fd, ret;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_make(err, errno, "snapshot: create `%s`", tmp);
	ret = fill(ctx, fd, err);
	if (ret == 0 && fsync(fd) < 0)
		ret = err_make(err, errno, "snapshot: sync `%s`", name);
	close(fd);
	if (ret == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		ret = err_make(err, errno, "snapshot: rename `%s`", name);
	if (ret < 0)
		unlinkat(dirfd, tmp, 0);
	return ret;
}

static int fill_memory(void *ctx, int fd, struct err **err)
{
	return save_memory(ctx, fd, err);
}

static int fill_state(void *ctx, int fd, struct err **err)
{
	int r = snap_w_write(ctx, fd);

	return r < 0 ? err_make(err, -r, "snapshot: write state") : 0;
}

void snapshot_build_shape(const struct snap_parts *p, struct snap_w *w)
{
	struct vm_state vs;

	vm_state_of(p, &vs);
	snap_put(w, SNAP_VM, 0, &vs, sizeof(vs));
}

int snapshot_build_state(const struct snap_parts *p, struct snap_w *w, struct err **err)
{
	struct x86_msr_list msrs = { 0 };
	struct vm_state vs;
	unsigned int i;
	int ret;

	vm_state_of(p, &vs);
	if (vs.nr_virtio > SNAP_MAX_VIRTIO)
		return err_make(err, E2BIG, "snapshot: more than %u virtio functions",
				SNAP_MAX_VIRTIO);
	ret = x86_msr_list_get(p->vm->kvm_fd, &msrs);
	if (ret < 0)
		return err_make(err, -ret, "snapshot: KVM_GET_MSR_INDEX_LIST");
	snap_put(w, SNAP_VM, 0, &vs, sizeof(vs));
	for (i = 0; i < p->vm->nr_vcpus && ret == 0; i++)
		ret = save_vcpu(p->vm->vcpus[i], &vs, &msrs, w, err);
	x86_msr_list_free(&msrs);
	if (ret == 0)
		ret = save_vm(p->vm, &vs, w, err);
	if (ret == 0) {
		serial_save(p->com1, w);
		rtc_save(p->rtc, w);
		pm_save(p->pm, w);
		machine_save_locked(p->mc, w);
		if (w->err)
			ret = err_make(err, -w->err, "snapshot: state");
	}
	return ret;
}

int snapshot_save(const struct snap_parts *p, int dirfd, struct err **err)
{
	struct snap_w w;
	int ret;

	snap_w_init(&w);
	ret = snapshot_build_state(p, &w, err);
	/* memory first: a directory with a `state` is a whole snapshot */
	if (ret == 0)
		ret = write_file(dirfd, SNAP_MEMORY_FILE, err, fill_memory, p->vm);
	if (ret == 0)
		ret = write_file(dirfd, SNAP_STATE_FILE, err, fill_state, &w);
	if (ret == 0 && fsync(dirfd) < 0)
		ret = err_make(err, errno, "snapshot: sync the directory");
	snap_w_free(&w);
	return ret;
}

/* ---- restore ---- */

static int check_vm(const struct snap_parts *p, const struct snap_r *r, struct vm_state *out,
		    struct err **err)
{
	const struct vm_state *st = snap_get(r, SNAP_VM, 0, sizeof(*st), err);
	struct vm_state here;
	unsigned int i;

	if (!st)
		return -EINVAL;
	vm_state_of(p, &here);
	if (st->ram_size != here.ram_size)
		return err_make(err, EINVAL,
				"snapshot is of a VM with %llu bytes of memory, this one has %llu",
				(unsigned long long)st->ram_size,
				(unsigned long long)here.ram_size);
	if (st->nr_vcpus != here.nr_vcpus)
		return err_make(err, EINVAL, "snapshot is of a VM with %u vCPUs, this one has %u",
				st->nr_vcpus, here.nr_vcpus);
	if (st->micro != here.micro || st->has_irqchip != here.has_irqchip)
		return err_make(err, EINVAL, "snapshot is of a %s, this is a %s",
				st->micro ? "micro-guest" : "Linux VM",
				here.micro ? "micro-guest" : "Linux VM");
	if (st->xsave_size != here.xsave_size)
		return err_make(
			err, EINVAL,
			"snapshot's FPU state is %u bytes, this host's KVM uses %u (another CPU?)",
			st->xsave_size, here.xsave_size);
	if (st->nr_virtio != here.nr_virtio)
		return err_make(err, EINVAL,
				"snapshot has %u virtio functions, this VM %u: pass the same disks "
				"and network cards",
				st->nr_virtio, here.nr_virtio);
	for (i = 0; i < here.nr_virtio && i < SNAP_MAX_VIRTIO; i++)
		if (st->virtio[i] != here.virtio[i])
			return err_make(
				err, EINVAL,
				"snapshot's virtio function %u is device id %u, here %u: pass "
				"the same disks and network cards in the same order",
				i, st->virtio[i], here.virtio[i]);
	*out = here;
	return 0;
}

#define MSR_IA32_TSC_DEADLINE 0x6e0

static int set_msr(struct vcpu *v, const struct kvm_msr_entry *m)
{
	struct kvm_msrs *one = calloc(1, sizeof(*one) + sizeof(one->entries[0]));
	int ret;

	if (!one)
		return -ENOMEM;
	one->nmsrs = 1;
	one->entries[0] = *m;
	ret = ioctl(v->fd, KVM_SET_MSRS, one) == 1 ? 0 : -EINVAL;
	free(one);
	return ret;
}

/*
 * Every saved MSR but the TSC deadline, which is kept in `deadline` for
 * load_vcpu to set once the local APIC is loaded: KVM ignores a deadline
 * written while the LAPIC's timer is not in TSC-deadline mode (as it is
 * not before KVM_SET_LAPIC), and KVM_SET_LAPIC does not carry it. Loaded
 * before, the guest's armed timer is lost: a NOHZ CPU then sleeps past its
 * next event, and anything waiting on a timer (msleep in the poweroff
 * path) waits for ever. QEMU sets it last for the same reason.
 */
static int load_msrs(struct vcpu *v, const struct snap_r *r, const struct x86_msr_list *l,
		     struct kvm_msr_entry *deadline, struct err **err)
{
	size_t len, n, i, j;
	const struct kvm_msr_entry *e = snap_find(r, SNAP_MSRS, v->id, &len);
	unsigned int refused = 0;
	uint32_t first_refused = 0;
	int ret;

	if (!e || len % sizeof(*e) || len / sizeof(*e) > SNAP_MAX_MSRS)
		return err_make(err, EINVAL, "snapshot state: vcpu %u: bad MSR section", v->id);
	n = len / sizeof(*e);
	for (i = 0; i < n; i++) {
		struct kvm_msr_entry m;

		memcpy(&m, &e[i], sizeof(m));
		/* only MSRs KVM lists as the guest's state: never an index from a file alone */
		for (j = 0; j < l->nr && l->idx[j] != m.index; j++)
			;
		if (j == l->nr)
			return err_make(err, EINVAL,
					"snapshot state: vcpu %u: MSR %#x is not one KVM saves",
					v->id, m.index);
		m.reserved = 0;
		if (m.index == MSR_IA32_TSC_DEADLINE) {
			*deadline = m;
			continue;
		}
		ret = set_msr(v, &m);
		if (ret == -ENOMEM)
			return err_make(err, ENOMEM, "vcpu %u: MSRs", v->id);
		if (ret < 0 && !refused++)
			first_refused = m.index;
	}
	if (refused)
		pr_warn("vcpu %u: KVM refused %u of %zu saved MSRs (the first: %#x)", v->id,
			refused, n, first_refused);
	return 0;
}

#define LOAD(tag, type, req, name)                                                              \
	do {                                                                                    \
		const type *s_ = snap_get(r, tag, v->id, sizeof(type), err);                    \
		type c_;                                                                        \
		if (!s_)                                                                        \
			return -EINVAL;                                                         \
		memcpy(&c_, s_, sizeof(c_));                                                    \
		if (ioctl(v->fd, req, &c_) < 0)                                                 \
			return err_make(err, errno, "vcpu %u: KVM refused the saved %s", v->id, \
					name);                                                  \
	} while (0)

static int load_vcpu(struct vcpu *v, const struct vm_state *vs, const struct snap_r *r,
		     const struct x86_msr_list *l, struct err **err)
{
	struct kvm_msr_entry deadline = { 0 };
	int ret;

	LOAD(SNAP_REGS, struct kvm_regs, KVM_SET_REGS, "registers");
	if (vs->xsave_size) {
		const void *x = snap_get(r, SNAP_XSAVE, v->id, vs->xsave_size, err);
		void *c = x ? malloc(vs->xsave_size) : NULL;

		if (!x)
			return -EINVAL;
		if (!c)
			return err_make(err, ENOMEM, "vcpu %u: xsave", v->id);
		memcpy(c, x, vs->xsave_size);
		ret = ioctl(v->fd, KVM_SET_XSAVE, c);
		free(c);
		if (ret < 0)
			return err_make(err, errno, "vcpu %u: KVM refused the saved XSAVE area",
					v->id);
		LOAD(SNAP_XCRS, struct kvm_xcrs, KVM_SET_XCRS, "XCRs");
	} else {
		LOAD(SNAP_FPU, struct kvm_fpu, KVM_SET_FPU, "FPU");
	}
	LOAD(SNAP_SREGS, struct kvm_sregs, KVM_SET_SREGS, "special registers");
	ret = load_msrs(v, r, l, &deadline, err);
	if (ret < 0)
		return ret;
	LOAD(SNAP_MPSTATE, struct kvm_mp_state, KVM_SET_MP_STATE, "MP state");
	if (vs->has_irqchip)
		LOAD(SNAP_LAPIC, struct kvm_lapic_state, KVM_SET_LAPIC, "local APIC");
	if (deadline.index == MSR_IA32_TSC_DEADLINE && set_msr(v, &deadline) < 0)
		return err_make(err, EINVAL, "vcpu %u: KVM refused the saved TSC deadline", v->id);
	LOAD(SNAP_EVENTS, struct kvm_vcpu_events, KVM_SET_VCPU_EVENTS, "pending events");
	LOAD(SNAP_DEBUGREGS, struct kvm_debugregs, KVM_SET_DEBUGREGS, "debug registers");
	return 0;
}

static int load_vm(struct vm *vm, const struct vm_state *vs, const struct snap_r *r,
		   struct err **err)
{
	const uint64_t *clock = snap_get(r, SNAP_CLOCK, 0, sizeof(*clock), err);
	struct kvm_clock_data clk = { 0 };
	unsigned int c;

	if (!clock)
		return -EINVAL;
	if (vs->has_irqchip) {
		const struct kvm_pit_state2 *pit;
		struct kvm_pit_state2 pc;

		for (c = 0; c < 3; c++) {
			const struct kvm_irqchip *chip =
				snap_get(r, SNAP_IRQCHIP, c, sizeof(*chip), err);
			struct kvm_irqchip cc;

			if (!chip)
				return -EINVAL;
			memcpy(&cc, chip, sizeof(cc));
			if (cc.chip_id != c)
				return err_make(err, EINVAL,
						"snapshot state: irqchip %u is labelled %u", c,
						cc.chip_id);
			if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &cc) < 0)
				return err_make(err, errno, "KVM refused the saved irqchip %u", c);
		}
		pit = snap_get(r, SNAP_PIT, 0, sizeof(*pit), err);
		if (!pit)
			return -EINVAL;
		memcpy(&pc, pit, sizeof(pc));
		if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pc) < 0)
			return err_make(err, errno, "KVM refused the saved PIT");
	}
	memcpy(&clk.clock, clock, sizeof(clk.clock));
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clk) < 0)
		return err_make(err, errno, "KVM refused the saved clock");
	return 0;
}

/*
 * Guest RAM from the `memory` file, read into the VM's own anonymous
 * mapping: only the file's data extents (SEEK_DATA), so holes cost nothing
 * and stay unbacked pages.
 */
static int load_memory(struct vm *vm, int fd, struct err **err)
{
	uint8_t *ram = vm->ram;
	struct stat st;
	off_t pos = 0;

	if (fstat(fd, &st) < 0)
		return err_make(err, errno, "snapshot memory");
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != vm->ram_size)
		return err_make(err, EINVAL,
				"snapshot memory file is %lld bytes, the VM has %llu bytes of RAM",
				(long long)st.st_size, (unsigned long long)vm->ram_size);
	for (;;) {
		off_t data = lseek(fd, pos, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			break;
		if (data < 0)
			return err_make(err, errno, "snapshot memory: seek");
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return err_make(err, errno, "snapshot memory: seek");
		if (hole > st.st_size)
			hole = st.st_size;
		while (data < hole) {
			ssize_t n = pread(fd, ram + data, hole - data, data);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return err_make(err, n < 0 ? errno : EIO, "snapshot memory: read");
			data += n;
		}
		pos = hole;
		if (pos >= st.st_size)
			break;
	}
	return 0;
}

int snapshot_check_shape(const struct snap_parts *p, const struct snap_r *r, struct err **err)
{
	struct vm_state vs;

	return check_vm(p, r, &vs, err);
}

int snapshot_load_state(const struct snap_parts *p, const struct snap_r *r, struct err **err)
{
	struct x86_msr_list msrs = { 0 };
	struct vm_state vs;
	unsigned int i;
	int ret = check_vm(p, r, &vs, err);

	if (ret == 0) {
		ret = x86_msr_list_get(p->vm->kvm_fd, &msrs);
		if (ret < 0)
			err_make(err, -ret, "KVM_GET_MSR_INDEX_LIST");
	}
	if (ret == 0)
		ret = load_vm(p->vm, &vs, r, err);
	for (i = 0; i < p->vm->nr_vcpus && ret == 0; i++)
		ret = load_vcpu(p->vm->vcpus[i], &vs, r, &msrs, err);
	if (ret == 0)
		ret = serial_load(p->com1, r, err);
	if (ret == 0)
		ret = rtc_load(p->rtc, r, err);
	if (ret == 0)
		ret = pm_load(p->pm, r, err);
	if (ret == 0)
		ret = machine_load(p->mc, r, err);
	x86_msr_list_free(&msrs);
	return ret < 0 ? ret : 0;
}

int snapshot_restore(const struct snap_parts *p, const char *dir, struct err **err)
{
	struct snap_r r;
	struct vm_state vs;
	int dirfd, fd, ret;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return err_make(err, errno, "`restore`: open `%s`", dir);
	fd = openat(dirfd, SNAP_STATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		ret = err_make(err, errno, "`restore`: `%s/%s`", dir, SNAP_STATE_FILE);
		close(dirfd);
		return ret;
	}
	ret = snap_r_open(&r, fd, err);
	close(fd);
	if (ret == 0)
		ret = check_vm(p, &r, &vs, err);
	if (ret == 0) {
		fd = openat(dirfd, SNAP_MEMORY_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			ret = err_make(err, errno, "`restore`: `%s/%s`", dir, SNAP_MEMORY_FILE);
		} else {
			ret = load_memory(p->vm, fd, err);
			close(fd);
		}
	}
	if (ret == 0)
		ret = snapshot_load_state(p, &r, err);
	snap_r_free(&r);
	close(dirfd);
	return ret < 0 ? ret : 0;
}
