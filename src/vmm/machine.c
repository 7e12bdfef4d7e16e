// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Assembling the x86 machine for a Linux guest: see machine.h. The order
 * matters to KVM: the irqchip before any vCPU, CPUID before a vCPU's MSRs
 * and registers (KVM checks them against it), and the boot vCPU's registers
 * last, once the kernel and its tables are in RAM.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/arch/x86/acpi.h"
#include "vmm/arch/x86/cpuid.h"
#include "vmm/arch/x86/regs.h"
#include "vmm/backends/tap.h"
#include "vmm/boot/firmware.h"
#include "vmm/boot/linux.h"
#include "vmm/devices/virtio/balloon.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/net.h"
#include "vmm/devices/virtio/scsi.h"
#include "vmm/machine.h"

static void irq_msi(void *opaque, uint64_t addr, uint32_t data)
{
	vm_signal_msi(opaque, addr, data);
}

static void irq_intx(void *opaque, unsigned int gsi, bool level)
{
	vm_irq_line(opaque, gsi, level);
}

static int irq_ioeventfd(void *opaque, uint64_t addr, int fd, bool assign)
{
	return notify_ioeventfd(opaque, addr, fd, assign);
}

static int irq_msi_gsi(void *opaque)
{
	return notify_msi_gsi(opaque);
}

static int irq_msi_route(void *opaque, unsigned int gsi, int fd, uint64_t addr, uint32_t data)
{
	return notify_msi_route(opaque, gsi, fd, addr, data);
}

static void irq_msi_detach(void *opaque, unsigned int gsi, int fd)
{
	notify_irqfd_detach(opaque, gsi, fd);
}

static const struct pci_irq_ops irq_ops = {
	.msi = irq_msi,
	.intx = irq_intx,
	.ioeventfd = irq_ioeventfd,
	.msi_gsi = irq_msi_gsi,
	.msi_route = irq_msi_route,
	.msi_detach = irq_msi_detach,
};

/*
 * Create a virtio-pci function for `type` and plug it into the next slot.
 * `on_vcpu`: its doorbells are served on the vCPU that rang them, never
 * through an ioeventfd and the I/O thread (the CD, below).
 */
static int add_virtio(struct machine *mc, const char *type, const void *params, bool on_vcpu,
		      struct virtio_pci **out, struct err **err)
{
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	unsigned int slot = mc->next_slot;
	int ret;

	if (!vp)
		return err_make(err, ENOMEM, "virtio-%s", type);
	if (slot >= PCI_MAX_DEVICES) {
		free(vp);
		return err_make(err, ENOSPC, "virtio-%s: no free PCI slot", type);
	}
	ret = virtio_pci_init(vp, virtio_dev_type_find(type), params, &mc->vm->mem, &irq_ops,
			      mc->vm);
	if (ret < 0) {
		free(vp);
		return err_make(err, -ret, "virtio-%s", type);
	}
	ret = virtio_pci_plug(vp, &mc->pci, x86_pci_gsi(slot, 0));
	if (ret < 0) {
		virtio_pci_uninit(vp);
		free(vp);
		return err_make(err, -ret, "virtio-%s: plug into slot %u", type, slot);
	}
	virtio_pci_fast_paths(vp, mc->vm->notify.ioeventfd && !on_vcpu, mc->vm->notify.irqfd);
	mc->next_slot++;
	*out = vp;
	return 0;
}

/* A stable locally administered MAC from the tap name, when none is given. */
static void mac_from_name(const char *name, uint8_t mac[6])
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = h >> 16;
	mac[4] = h >> 8;
	mac[5] = h;
}

static int add_devices(struct machine *mc, const struct vmm_config *cfg, struct err **err)
{
	struct virtio_balloon_params bp = { .ram_size = cfg->memory, .reserved = cfg->reserve };
	unsigned int i;
	int ret;

	for (i = 0; i < cfg->nr_disk; i++) {
		const struct config_disk *d = &cfg->disk[i];
		struct virtio_blk_params p = { .readonly = d->readonly,
					       .serial = d->id,
					       .io_uring = cfg->io_uring };
		int fd = open(d->path, (d->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);

		if (fd < 0)
			return err_make(err, errno, "`disk[%u].path`: open `%s`", i, d->path);
		mc->disk_fd[mc->nr_disk] = fd;
		snprintf(mc->disk_id[mc->nr_disk], sizeof(mc->disk_id[0]), "%s",
			 d->id ? d->id : "");
		p.fd = fd;
		/* a queue per vCPU, as Linux's blk-mq maps them, unless the config says */
		p.num_queues = d->queues;
		if (!p.num_queues)
			p.num_queues = cfg->cpus < CONFIG_DISK_QUEUES_MAX ? cfg->cpus :
									    CONFIG_DISK_QUEUES_MAX;
		ret = add_virtio(mc, "blk", &p, false, &mc->disk[mc->nr_disk], err);
		if (ret < 0) {
			close(fd);
			return err_wrap(err, "`disk[%u]`", i);
		}
		mc->nr_disk++;
	}
	if (cfg->cdrom) {
		struct virtio_scsi_params sp = { .fd = open(cfg->cdrom, O_RDONLY | O_CLOEXEC) };
		struct stat st;

		if (sp.fd < 0)
			return err_make(err, errno, "`cdrom`: open `%s`", cfg->cdrom);
		if (fstat(sp.fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < SCSI_CD_BLOCK) {
			close(sp.fd);
			return err_make(err, EINVAL,
					"`cdrom`: `%s` is not an image file of at least 2 KiB",
					cfg->cdrom);
		}
		sp.size = st.st_size;
		/*
		 * Served on the vCPU: SeaBIOS sends a command to each of 256
		 * targets and then polls the used ring, leaving to real mode
		 * and back (two port reads that exit) between polls. Done on
		 * the doorbell's exit, every command is answered by the first
		 * poll; through the I/O thread it took 2 to 20 polls in the
		 * nested host, most of SeaBIOS's time to the CD's boot sector.
		 */
		ret = add_virtio(mc, "scsi", &sp, true, &mc->cdrom, err);
		if (ret < 0) {
			close(sp.fd);
			return err_wrap(err, "`cdrom`");
		}
		mc->cdrom_fd = sp.fd;
	}
	for (i = 0; i < cfg->nr_net; i++) {
		const struct config_net *n = &cfg->net[i];
		/* vhost-net polls the doorbells KVM signals: none without ioeventfd */
		struct virtio_net_params p = { .offloads = cfg->net_offloads,
					       .vhost = n->vhost && cfg->ioeventfd };
		/* a queue pair per vCPU, as Linux's virtio-net uses them, unless the config says */
		unsigned int want = n->queues			      ? n->queues :
				    cfg->cpus < CONFIG_NET_QUEUES_MAX ? cfg->cpus :
									CONFIG_NET_QUEUES_MAX;
		int nr = tap_open_queues(n->tap, want, n->queues != 0, p.tap_fd, err), k;

		if (nr < 0)
			return err_wrap(err, "`net[%u].tap`", i);
		p.pairs = (unsigned int)nr;
		if (n->has_mac)
			memcpy(p.mac, n->mac, 6);
		else
			mac_from_name(n->tap, p.mac);
		memcpy(mc->tap_fd[mc->nr_net], p.tap_fd, sizeof(int) * (unsigned int)nr);
		mc->nr_tap[mc->nr_net] = (unsigned int)nr;
		ret = add_virtio(mc, "net", &p, false, &mc->net[mc->nr_net], err);
		if (ret < 0) {
			for (k = 0; k < nr; k++)
				close(p.tap_fd[k]);
			return err_wrap(err, "`net[%u]`", i);
		}
		pr_info("net[%u]: tap `%s`, %d queue pair%s, %s", i, n->tap, nr, nr > 1 ? "s" : "",
			virtio_net_vhost(&mc->net[mc->nr_net]->vdev) ? "vhost-net" :
								       "user-space path");
		mc->nr_net++;
	}
	ret = add_virtio(mc, "rng", NULL, false, &mc->rng, err);
	if (ret == 0)
		ret = add_virtio(mc, "balloon", &bp, false, &mc->balloon, err);
	return ret;
}

/* vCPUs with CPUID, MSRs and the LAPIC set; vCPU 0 gets the boot registers later. */
static int add_vcpus(struct machine *mc, unsigned int nr, struct err **err)
{
	struct vm *vm = mc->vm;
	struct cpuid_opts opts = {
		.tsc_deadline = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) >
				0,
	};
	struct x86_msr_list msrs = { 0 };
	struct kvm_cpuid2 *sup = NULL;
	unsigned int i;
	int ret;

	ret = cpuid_get_supported(vm->kvm_fd, &sup);
	if (ret < 0)
		return err_make(err, -ret, "KVM_GET_SUPPORTED_CPUID");
	ret = x86_msr_list_get(vm->kvm_fd, &msrs);
	if (ret < 0) {
		free(sup);
		return err_make(err, -ret, "KVM_GET_MSR_INDEX_LIST");
	}
	for (i = 0; i < nr && ret == 0; i++) {
		struct vcpu *v;

		ret = vcpu_create(vm, i, &v);
		if (ret < 0) {
			err_make(err, -ret, "create vcpu %u", i);
			break;
		}
		ret = cpuid_setup_vcpu(sup, v->fd, i, nr, &opts);
		if (ret < 0) {
			err_make(err, -ret, "vcpu %u: KVM_SET_CPUID2", i);
			break;
		}
		ret = x86_vcpu_init(v->fd, i, &msrs);
		if (ret < 0)
			err_make(err, -ret, "vcpu %u: initial state", i);
	}
	x86_msr_list_free(&msrs);
	free(sup);
	return ret;
}

/* 0xCF9's reset (SeaBIOS's reset path, Linux's reboot=pci): the guest's reboot. */
static void chipset_reset(void *opaque)
{
	vm_request_exit(opaque, VM_REBOOT, 0);
}

static int build_devices(struct machine *mc, struct vm *vm, const struct vmm_config *cfg,
			 uint64_t mmio_base, uint64_t mmio_size, uint64_t ecam, struct err **err)
{
	int ret;

	memset(mc, 0, sizeof(*mc));
	mc->vm = vm;
	mc->next_slot = 1; /* slot 0 is the host bridge */
	notify_init(vm, cfg->ioeventfd, cfg->irqfd);
	mc->notify_up = true;
	ret = pci_host_init(&mc->pci, &vm->pio, &vm->mmio, mmio_base, mmio_size);
	if (ret == 0)
		ret = pci_host_add_ecam(&mc->pci, &vm->mmio, ecam);
	mc->pci.reset = chipset_reset;
	mc->pci.reset_opaque = vm;
	if (ret < 0)
		return err_make(err, -ret, "PCI host bridge");
	mc->pci_up = true;
	return add_devices(mc, cfg, err);
}

int machine_build_devices(struct machine *mc, struct vm *vm, const struct vmm_config *cfg,
			  struct err **err)
{
	return build_devices(mc, vm, cfg, X86_PCI_MMIO32_BASE, X86_PCI_MMIO32_SIZE,
			     X86_PCI_ECAM_BASE, err);
}

/*
 * SeaBIOS's boot order: each disk by the OpenFirmware path QEMU would give
 * it (virtio-blk: /pci@i0cf8/scsi@SLOT/disk@0,0), which SeaBIOS matches
 * against its own "/pci@i0cf8/ *@SLOT" pattern.
 */
static char *bootorder(const struct machine *mc)
{
	size_t cap = 64 * (mc->nr_disk + 2), n = 0;
	char *s = calloc(1, cap);

	/* the CD first, as QEMU names a virtio-scsi LUN: an installer boots, then the disk */
	if (s && mc->cdrom)
		n += snprintf(s, cap, "/pci@i0cf8/scsi@%x/channel@0/disk@0,0\n",
			      mc->cdrom->pdev.slot);
	for (unsigned int i = 0; s && i < mc->nr_disk; i++)
		n += snprintf(s + n, cap - n, "/pci@i0cf8/scsi@%x/disk@0,0\n",
			      mc->disk[i]->pdev.slot);
	return s;
}

/* The VGA adapter with its video memory, a PCI function in the next slot. */
static int add_display(struct machine *mc, struct vm *vm, struct err **err)
{
	unsigned int slot = mc->next_slot;
	int ret;

	if (slot >= PCI_MAX_DEVICES)
		return err_make(err, ENOSPC, "VGA: no free PCI slot");
	ret = vga_init(&mc->vga, vm);
	if (ret < 0)
		return err_make(err, -ret, "VGA");
	mc->vga_up = true;
	/*
	 * Register writes queue in KVM, reads still exit: a vgabios's mode
	 * set is about 1,200 writes (the 768 bytes of the palette among them)
	 */
	ret = vm_coalesce_pio(vm, VGA_PORT_BASE, VGA_PORT_COUNT);
	if (ret < 0 && ret != -EOPNOTSUPP)
		return err_make(err, -ret, "VGA: coalesce the register writes");
	ret = vga_map_vram(&mc->vga, vm);
	if (ret < 0)
		return err_make(err, -ret, "VGA: %u MiB of video memory", VBE_VRAM_SIZE >> 20);
	ret = vga_pci_plug(&mc->vga, &mc->pci, x86_pci_gsi(slot, 0));
	if (ret < 0)
		return err_make(err, -ret, "VGA: plug into slot %u", slot);
	mc->next_slot++;
	return 0;
}

int machine_build_firmware(struct machine *mc, struct vm *vm, const struct vmm_config *cfg,
			   struct err **err)
{
	uint64_t low = cfg->memory < FIRMWARE_PCI_HOLE ? cfg->memory : FIRMWARE_PCI_HOLE;
	struct firmware_config fc = {
		.path = cfg->firmware,
		.vgabios = cfg->vgabios,
		.low_ram = low,
		.high_ram = cfg->memory - low,
		.cpus = cfg->cpus,
	};
	char *order;
	int ret;

	ret = x86_vm_init(vm->vm_fd);
	if (ret < 0)
		return err_make(err, -ret, "set up the in-kernel irqchip and PIT");
	vm->has_irqchip = true;
	ret = build_devices(mc, vm, cfg, FIRMWARE_PCI_MMIO_BASE, FIRMWARE_PCI_MMIO_SIZE,
			    FIRMWARE_ECAM_BASE, err);
	if (ret < 0)
		return ret;
	ret = fwcfg_init(&mc->fwcfg, vm);
	if (ret < 0)
		return err_make(err, -ret, "fw_cfg");
	mc->fwcfg_up = true;
	/*
	 * SeaBIOS's vgabios writes its debug messages to QEMU's debug port
	 * whatever answers there (about 1,600 bytes a boot, an exit each):
	 * queued in KVM and dropped. Nothing reads it back as QEMU's
	 * debugcon would (0xe9), so SeaBIOS itself stays quiet.
	 */
	ret = vm_coalesce_pio(vm, FIRMWARE_DEBUG_PORT, 1);
	if (ret < 0 && ret != -EOPNOTSUPP)
		return err_make(err, -ret, "coalesce the debug port's writes");
	if (cfg->vgabios) {
		ret = add_display(mc, vm, err);
		if (ret < 0)
			return ret;
	}
	order = bootorder(mc);
	if (!order)
		return err_make(err, ENOMEM, "boot order");
	fc.bootorder = *order ? order : NULL;
	ret = firmware_load(vm, &mc->fwcfg, &fc, err);
	free(order);
	if (ret < 0)
		return ret;
	/* the vCPUs stay in their reset state: vCPU 0 at 0xfffffff0, the others wait for SIPI */
	return add_vcpus(mc, cfg->cpus, err);
}

int machine_screen(void *opaque, json_t *reply, struct err **err)
{
	struct machine *mc = opaque;
	struct vga_screen scr;
	json_t *rows;

	if (!mc->vga_up)
		return err_make(err, ENODEV, "screen: this VM has no display (`vgabios`)");
	vga_text(&mc->vga, &scr);
	json_object_set_new(reply, "mode", json_string(scr.text ? "text" : "graphics"));
	if (!scr.text)
		return 0;
	rows = json_array();
	for (unsigned int r = 0; r < VGA_TEXT_ROWS; r++)
		json_array_append_new(rows, json_string(scr.rows[r]));
	json_object_set_new(reply, "cols", json_integer(VGA_TEXT_COLS));
	json_object_set_new(reply, "rows", json_integer(VGA_TEXT_ROWS));
	json_object_set_new(reply, "text", rows);
	json_object_set_new(reply, "cursor",
			    json_pack("[i, i]", (int)scr.cursor_row, (int)scr.cursor_col));
	return 0;
}

int machine_build(struct machine *mc, struct vm *vm, const struct vmm_config *cfg, struct err **err)
{
	struct linux_entry entry;
	struct x86_layout layout;
	uint64_t rsdp;
	int ret;

	ret = x86_layout_init(&layout, cfg->memory);
	if (ret < 0)
		return err_make(err, -ret, "`memory`: no x86 layout for %llu bytes",
				(unsigned long long)cfg->memory);
	/* The irqchip must exist before any vCPU. */
	ret = x86_vm_init(vm->vm_fd);
	if (ret < 0)
		return err_make(err, -ret, "set up the in-kernel irqchip and PIT");
	vm->has_irqchip = true;
	ret = machine_build_devices(mc, vm, cfg, err);
	if (ret == 0 && cfg->display)
		ret = add_display(mc, vm, err);
	if (ret < 0)
		return ret;
	mc->layout = layout;
	ret = add_vcpus(mc, cfg->cpus, err);
	if (ret < 0)
		return ret;

	ret = acpi_build(&vm->mem,
			 &(struct acpi_config){ .layout = &mc->layout, .nr_vcpus = cfg->cpus },
			 &rsdp);
	if (ret < 0)
		return err_make(err, -ret, "ACPI tables");
	ret = linux_load_files(&vm->mem, &mc->layout, cfg->kernel, cfg->initrd,
			       cfg->cmdline ? cfg->cmdline : "", rsdp, &entry);
	if (ret < 0)
		return err_make(err, -ret, "load kernel `%s`%s%s", cfg->kernel,
				cfg->initrd ? " with initrd " : "", cfg->initrd ? cfg->initrd : "");
	ret = x86_boot_tables(&vm->mem);
	if (ret == 0)
		ret = x86_vcpu_boot_regs(vm->vcpus[0]->fd, entry.rip, entry.boot_params);
	if (ret < 0)
		return err_make(err, -ret, "vcpu 0: boot registers");
	return 0;
}

static void drop(struct virtio_pci **vp)
{
	if (!*vp)
		return;
	virtio_pci_uninit(*vp);
	free(*vp);
	*vp = NULL;
}

/* Every virtio function, in slot order. */
static unsigned int all_virtio(struct machine *mc, struct virtio_pci *out[])
{
	unsigned int i, n = 0;

	for (i = 0; i < mc->nr_disk; i++)
		out[n++] = mc->disk[i];
	if (mc->cdrom)
		out[n++] = mc->cdrom;
	for (i = 0; i < mc->nr_net; i++)
		out[n++] = mc->net[i];
	if (mc->rng)
		out[n++] = mc->rng;
	if (mc->balloon)
		out[n++] = mc->balloon;
	return n;
}

#define MACHINE_MAX_VIRTIO (CONFIG_MAX_DISKS + CONFIG_MAX_NETS + 3)

int machine_start(struct machine *mc)
{
	struct virtio_pci *vp[MACHINE_MAX_VIRTIO];
	unsigned int i, n = all_virtio(mc, vp);

	notify_log(mc->vm);
	for (i = 0; i < mc->nr_disk; i++)
		pr_info("disk[%u]: %u request queue%s, %s", i, mc->disk[i]->vdev.num_queues,
			mc->disk[i]->vdev.num_queues == 1 ? "" : "s",
			virtio_blk_uses_io_uring(&mc->disk[i]->vdev) ?
				"io_uring on the I/O thread" :
				"synchronous pread/pwrite");
	for (i = 0; i < n; i++) {
		int r = virtio_dev_start(&vp[i]->vdev);

		if (r < 0)
			return r;
	}
	return 0;
}

static uint64_t ioeventfd_kicks(const struct virtio_pci *vp, const struct virtio_counters *c)
{
	/* what the I/O thread read, less what we wrote ourselves (exits, DRIVER_OK) */
	return c->kicks > c->kicks_forwarded ? c->kicks - c->kicks_forwarded : 0;
}

static json_t *virtio_counters_json(struct machine *mc)
{
	struct virtio_pci *vp[MACHINE_MAX_VIRTIO];
	unsigned int i, n = all_virtio(mc, vp);
	json_t *a = json_array();

	for (i = 0; i < n; i++) {
		struct virtio_counters c;

		pthread_mutex_lock(&vp[i]->vdev.lock);
		c = vp[i]->vdev.counters;
		pthread_mutex_unlock(&vp[i]->vdev.lock);
		json_array_append_new(
			a, json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I}", "device",
				     vp[i]->vdev.ops->name, "slot", (int)vp[i]->pdev.slot,
				     "notify_ioeventfd", (json_int_t)ioeventfd_kicks(vp[i], &c),
				     "notify_exit", (json_int_t)c.kick_exits, "irq_irqfd",
				     (json_int_t)c.irq_irqfd, "irq_msi", (json_int_t)c.irq_msi,
				     "irq_intx", (json_int_t)c.irq_intx));
	}
	return a;
}

/* One line per device at the end: how its notifications came and its interrupts went. */
static void log_counters(struct machine *mc)
{
	struct virtio_pci *vp[MACHINE_MAX_VIRTIO];
	unsigned int i, n = all_virtio(mc, vp);

	for (i = 0; i < n; i++) {
		struct virtio_counters c;

		pthread_mutex_lock(&vp[i]->vdev.lock);
		c = vp[i]->vdev.counters;
		pthread_mutex_unlock(&vp[i]->vdev.lock);
		pr_info("virtio-%s (slot %u): notifications %llu by ioeventfd, %llu by exit; "
			"interrupts %llu by irqfd, %llu by KVM_SIGNAL_MSI, %llu INTx",
			vp[i]->vdev.ops->name, vp[i]->pdev.slot,
			(unsigned long long)ioeventfd_kicks(vp[i], &c),
			(unsigned long long)c.kick_exits, (unsigned long long)c.irq_irqfd,
			(unsigned long long)c.irq_msi, (unsigned long long)c.irq_intx);
	}
	for (i = 0; i < mc->nr_net; i++) {
		struct virtio_net_stats s;

		virtio_net_get_stats(&mc->net[i]->vdev, &s);
		pr_info("virtio-net (slot %u): offloads %s, %u queue pairs (at most %u in use; "
			"%llu control commands, %llu refused), %s (rings handed over %llu times); "
			"received %llu frames (%llu over several "
			"buffers, %llu errors), sent %llu (%llu segmentation-offloaded, %llu errors, "
			"%llu refused headers, %llu announcements)",
			mc->net[i]->pdev.slot, s.offloads ? "on" : "off", s.max_pairs, s.peak_pairs,
			(unsigned long long)(s.ctrl_ok + s.ctrl_errors),
			(unsigned long long)s.ctrl_errors,
			s.vhost ? "vhost-net" : "user-space path",
			(unsigned long long)s.vhost_starts, (unsigned long long)s.rx_packets,
			(unsigned long long)s.rx_merged, (unsigned long long)s.rx_errors,
			(unsigned long long)s.tx_packets, (unsigned long long)s.tx_gso,
			(unsigned long long)s.tx_errors, (unsigned long long)s.tx_bad_hdr,
			(unsigned long long)s.announces);
	}
	for (i = 0; i < mc->nr_disk; i++) {
		struct virtio_blk_stats s;

		virtio_blk_get_stats(&mc->disk[i]->vdev, &s);
		pr_info("disk[%u]: %llu reads, %llu writes, %llu flushes, %llu errors; %llu through "
			"io_uring",
			i, (unsigned long long)s.read_ops, (unsigned long long)s.write_ops,
			(unsigned long long)s.flush_ops, (unsigned long long)s.errors,
			(unsigned long long)s.uring_ops);
	}
}

void machine_destroy(struct machine *mc)
{
	unsigned int i;

	log_counters(mc);
	if (mc->vm && mc->vm->coalesced)
		pr_info("port writes queued in KVM (VGA registers, debug port): %llu",
			(unsigned long long)mc->vm->coalesced_writes);
	if (mc->vga_up && mc->vga.pci)
		pr_info("vga (slot %u): video memory at %#llx, placed %llu times, %llu placements "
			"refused; %llu bad register writes",
			mc->vga.pdev.slot, (unsigned long long)mc->vga.lfb_gpa,
			(unsigned long long)mc->vga.lfb_moves,
			(unsigned long long)mc->vga.lfb_refused,
			(unsigned long long)mc->vga.bad_writes);
	for (i = 0; i < mc->nr_disk; i++) {
		drop(&mc->disk[i]);
		close(mc->disk_fd[i]);
	}
	for (i = 0; i < mc->nr_net; i++) {
		unsigned int k;

		drop(&mc->net[i]);
		for (k = 0; k < mc->nr_tap[i]; k++)
			close(mc->tap_fd[i][k]);
	}
	drop(&mc->rng);
	drop(&mc->balloon);
	if (mc->cdrom) {
		drop(&mc->cdrom);
		if (mc->cdrom_fd >= 0)
			close(mc->cdrom_fd);
	}
	if (mc->fwcfg_up)
		fwcfg_destroy(&mc->fwcfg);
	if (mc->vga_up)
		vga_destroy(&mc->vga);
	mc->fwcfg_up = mc->vga_up = false;
	if (mc->pci_up)
		pci_host_destroy(&mc->pci);
	if (mc->notify_up)
		notify_destroy(mc->vm);
	mc->nr_disk = mc->nr_net = 0;
	mc->pci_up = mc->notify_up = false;
}

int machine_balloon_set(void *opaque, uint64_t target, struct err **err)
{
	struct machine *mc = opaque;

	return virtio_balloon_set_target(&mc->balloon->vdev, target, err);
}

/* The queue pairs of one virtio-net in its stats: how many, which path, frames per pair. */
static void net_queues_json(json_t *o, const struct virtio_net_stats *s)
{
	json_t *pairs = json_array();
	unsigned int k;

	for (k = 0; k < s->max_pairs; k++)
		json_array_append_new(pairs, json_pack("{s:I, s:I}", "rx_packets",
						       (json_int_t)s->pair_rx[k], "tx_packets",
						       (json_int_t)s->pair_tx[k]));
	json_object_set_new(o, "queue_pairs", json_integer(s->pairs));
	json_object_set_new(o, "max_queue_pairs", json_integer(s->max_pairs));
	json_object_set_new(o, "peak_queue_pairs", json_integer(s->peak_pairs));
	json_object_set_new(o, "ctrl_ok", json_integer((json_int_t)s->ctrl_ok));
	json_object_set_new(o, "ctrl_errors", json_integer((json_int_t)s->ctrl_errors));
	json_object_set_new(o, "path", json_string(s->vhost ? "vhost-net" : "user-space"));
	json_object_set_new(o, "vhost_starts", json_integer((json_int_t)s->vhost_starts));
	json_object_set_new(o, "pairs", pairs);
}

static void put_balloon_stat(json_t *o, const char *key, int64_t v)
{
	if (v >= 0)
		json_object_set_new(o, key, json_integer(v));
}

void machine_stats(void *opaque, json_t *reply)
{
	struct machine *mc = opaque;
	struct virtio_balloon_stats bs;
	json_t *disks = json_array(), *nets = json_array(), *b;
	unsigned int i;

	for (i = 0; i < mc->nr_disk; i++) {
		struct virtio_blk_stats s;

		virtio_blk_get_stats(&mc->disk[i]->vdev, &s);
		json_array_append_new(
			disks,
			json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:b, s:I}", "read_ops",
				  (json_int_t)s.read_ops, "read_bytes", (json_int_t)s.read_bytes,
				  "write_ops", (json_int_t)s.write_ops, "write_bytes",
				  (json_int_t)s.write_bytes, "flush_ops", (json_int_t)s.flush_ops,
				  "errors", (json_int_t)s.errors, "queues",
				  (int)mc->disk[i]->vdev.num_queues, "io_uring",
				  virtio_blk_uses_io_uring(&mc->disk[i]->vdev), "uring_ops",
				  (json_int_t)s.uring_ops));
	}
	for (i = 0; i < mc->nr_net; i++) {
		struct virtio_net_stats s;

		virtio_net_get_stats(&mc->net[i]->vdev, &s);
		json_array_append_new(
			nets,
			json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
				  "rx_packets", (json_int_t)s.rx_packets, "rx_bytes",
				  (json_int_t)s.rx_bytes, "rx_errors", (json_int_t)s.rx_errors,
				  "rx_merged", (json_int_t)s.rx_merged, "tx_packets",
				  (json_int_t)s.tx_packets, "tx_bytes", (json_int_t)s.tx_bytes,
				  "tx_errors", (json_int_t)s.tx_errors, "tx_bad_hdr",
				  (json_int_t)s.tx_bad_hdr, "tx_gso", (json_int_t)s.tx_gso,
				  "announces", (json_int_t)s.announces, "offloads", s.offloads));
		net_queues_json(json_array_get(nets, json_array_size(nets) - 1), &s);
	}
	json_object_set_new(reply, "virtio", virtio_counters_json(mc));
	json_object_set_new(reply, "disk", disks);
	json_object_set_new(reply, "net", nets);
	if (mc->cdrom) {
		struct virtio_scsi_stats s;
		uint64_t blocks;
		bool in = virtio_scsi_medium(&mc->cdrom->vdev, &blocks);

		virtio_scsi_get_stats(&mc->cdrom->vdev, &s);
		json_object_set_new(reply, "cdrom",
				    json_pack("{s:b, s:I, s:I, s:I, s:I, s:I}", "medium", in,
					      "blocks", (json_int_t)blocks, "commands",
					      (json_int_t)s.commands, "read_bytes",
					      (json_int_t)s.read_bytes, "errors",
					      (json_int_t)s.errors, "media_changes",
					      (json_int_t)s.media_changes));
	}
	virtio_balloon_get_stats(&mc->balloon->vdev, &bs);
	b = json_pack("{s:I, s:I, s:I}", "target_pages", (json_int_t)bs.target_pages,
		      "actual_pages", (json_int_t)bs.actual_pages, "inflated_bytes",
		      (json_int_t)bs.inflated_bytes);
	put_balloon_stat(b, "free_memory", bs.free_memory);
	put_balloon_stat(b, "total_memory", bs.total_memory);
	put_balloon_stat(b, "available_memory", bs.available_memory);
	put_balloon_stat(b, "disk_caches", bs.disk_caches);
	put_balloon_stat(b, "swap_in", bs.swap_in);
	put_balloon_stat(b, "swap_out", bs.swap_out);
	json_object_set_new(reply, "balloon", b);
}

void machine_lock_devices(struct machine *mc)
{
	struct virtio_pci *vp[MACHINE_MAX_VIRTIO];
	unsigned int i, n = all_virtio(mc, vp);

	for (i = 0; i < n; i++)
		pthread_mutex_lock(&vp[i]->vdev.lock);
}

void machine_unlock_devices(struct machine *mc)
{
	struct virtio_pci *vp[MACHINE_MAX_VIRTIO];
	unsigned int i, n = all_virtio(mc, vp);

	for (i = n; i-- > 0;)
		pthread_mutex_unlock(&vp[i]->vdev.lock);
}

void machine_mark_used_rings(struct machine *mc)
{
	struct virtio_pci *vp[MACHINE_MAX_VIRTIO];
	unsigned int i, q, n = all_virtio(mc, vp);

	for (i = 0; i < n; i++) {
		struct virtio_dev *d = &vp[i]->vdev;

		for (q = 0; q < d->ops->num_queues && q < VIRTIO_MAX_QUEUES; q++) {
			const struct virtq *vq = &d->vqs[q];

			/* gpa_ptr marks what it maps; with EVENT_IDX avail_event follows the ring */
			if (vq->ready && vq->mem &&
			    !gpa_ptr(vq->mem, vq->used_gpa, 8 + 8 * (uint64_t)vq->size))
				gpa_ptr(vq->mem, vq->used_gpa, 6 + 8 * (uint64_t)vq->size);
		}
	}
}

unsigned int machine_virtio_ids(struct machine *mc, uint16_t *ids, unsigned int max)
{
	struct virtio_pci *vp[MACHINE_MAX_VIRTIO];
	unsigned int i, n = all_virtio(mc, vp);

	for (i = 0; i < n && i < max; i++)
		ids[i] = vp[i]->vdev.ops->device_id;
	return n;
}

bool machine_net_vhost(struct machine *mc)
{
	unsigned int i;

	for (i = 0; i < mc->nr_net; i++)
		if (virtio_net_vhost(&mc->net[i]->vdev))
			return true;
	return false;
}

int machine_quiesce_locked(struct machine *mc, struct err **err)
{
	unsigned int i;

	/* the queues' positions are the kernel's while vhost-net has them */
	for (i = 0; i < mc->nr_net; i++)
		virtio_net_quiesce_locked(&mc->net[i]->vdev);

	for (i = 0; i < mc->nr_disk; i++)
		if (virtio_blk_quiesce(&mc->disk[i]->vdev) < 0)
			return err_make(
				err, EBUSY,
				"snapshot: disk[%u] has requests waiting to be sent; try again", i);
	return 0;
}

static void disks_hold_locked(struct machine *mc, bool on)
{
	for (unsigned int i = 0; i < mc->nr_disk; i++)
		virtio_blk_hold(&mc->disk[i]->vdev, on);
}

int machine_cdrom_change(struct machine *mc, int fd, struct err **err)
{
	struct stat st;
	int old;

	if (!mc->cdrom)
		return err_make(err, 0,
				"this VM has no CD drive (it boots `firmware` with a `cdrom`)");
	if (fd >= 0) {
		int fl = fcntl(fd, F_GETFL);

		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < SCSI_CD_BLOCK)
			return err_make(err, 0,
					"the medium is not an image file of at least 2 KiB");
		if (fl < 0 || (fl & O_ACCMODE) != O_RDONLY)
			return err_make(err, 0, "the medium must be opened read-only");
	}
	old = virtio_scsi_change(&mc->cdrom->vdev, fd, fd >= 0 ? (uint64_t)st.st_size : 0);
	if (old < -1)
		return err_make(err, -old, "change the medium");
	if (old >= 0)
		close(old);
	mc->cdrom_fd = fd;
	return 0;
}

int machine_disks_hold(struct machine *mc, struct err **err)
{
	unsigned int i;
	int r;

	if ((r = machine_disks_barrier(mc, err)) < 0)
		return r;
	/* the page cache's copy is what a copy reads; a crash of the host keeps it too */
	for (i = 0; i < mc->nr_disk; i++)
		if (fdatasync(mc->disk_fd[i]) < 0 && errno != EINVAL) {
			r = err_make(err, errno, "sync disk[%u]", i);
			machine_disks_release(mc);
			return r;
		}
	return 0;
}

int machine_disks_dirty_log(struct machine *mc, bool on, struct err **err)
{
	unsigned int i;
	int r = 0;

	if (!mc->nr_disk)
		return err_make(err, ENODEV, "this VM has no disk");
	machine_lock_devices(mc);
	for (i = 0; i < mc->nr_disk && r == 0; i++)
		if (on)
			r = virtio_blk_dirty_start(&mc->disk[i]->vdev);
		else
			virtio_blk_dirty_stop(&mc->disk[i]->vdev);
	if (r < 0) /* all or none */
		for (i = 0; i < mc->nr_disk; i++)
			virtio_blk_dirty_stop(&mc->disk[i]->vdev);
	machine_unlock_devices(mc);
	if (r < 0)
		return err_make(err, -r, "dirty-block log");
	return (int)mc->nr_disk;
}

int machine_disk_dirty_take(struct machine *mc, unsigned int i, uint64_t (*ranges)[2],
			    unsigned int max, bool *more, const char **id, unsigned int *nr,
			    struct err **err)
{
	struct virtio_dev *vdev;
	int r;

	if (i >= mc->nr_disk)
		return err_make(err, EINVAL, "`disk`: this VM has %u disk(s)", mc->nr_disk);
	vdev = &mc->disk[i]->vdev;
	*id = mc->disk_id[i];
	*nr = mc->nr_disk;
	pthread_mutex_lock(&vdev->lock);
	r = virtio_blk_dirty_take(vdev, ranges, max, more);
	pthread_mutex_unlock(&vdev->lock);
	if (r == -ENOENT)
		return err_make(err, ENOENT, "no dirty-block log runs: `dirty-log` `start` first");
	return r;
}

int machine_disks_barrier(struct machine *mc, struct err **err)
{
	int r;

	machine_lock_devices(mc);
	r = machine_quiesce_locked(mc, err);
	if (r == 0)
		disks_hold_locked(mc, true);
	machine_unlock_devices(mc);
	if (r < 0)
		machine_kick_all(mc);
	return r;
}

void machine_disks_release(struct machine *mc)
{
	machine_lock_devices(mc);
	disks_hold_locked(mc, false);
	machine_unlock_devices(mc);
	machine_kick_all(mc);
}

void machine_announce(struct machine *mc)
{
	for (unsigned int i = 0; i < mc->nr_net; i++)
		virtio_net_announce(&mc->net[i]->vdev);
}

void machine_kick_all(struct machine *mc)
{
	struct virtio_pci *vp[MACHINE_MAX_VIRTIO];
	unsigned int i, q, n = all_virtio(mc, vp);

	for (i = 0; i < n; i++) {
		/*
		 * Only through the I/O thread's doorbell: without one (no
		 * ioeventfd) a vCPU serves its notification itself, under the
		 * lock, so none is left unread, and the caller's thread may not
		 * do device work (its seccomp class).
		 */
		if (!vp[i]->vdev.kick_async)
			continue;
		pthread_mutex_lock(&vp[i]->vdev.lock);
		for (q = 0; q < vp[i]->vdev.num_queues; q++)
			virtio_dev_kick(&vp[i]->vdev, q);
		pthread_mutex_unlock(&vp[i]->vdev.lock);
	}
}

void machine_save_locked(struct machine *mc, struct snap_w *w)
{
	struct virtio_pci *vp[MACHINE_MAX_VIRTIO];
	unsigned int i, n = all_virtio(mc, vp);

	if (!mc->pci_up)
		return;
	pci_host_save(&mc->pci, w);
	for (i = 0; i < n; i++)
		virtio_pci_save_locked(vp[i], w);
}

int machine_load(struct machine *mc, const struct snap_r *r, struct err **err)
{
	struct virtio_pci *vp[MACHINE_MAX_VIRTIO];
	unsigned int i, n = all_virtio(mc, vp);
	int ret;

	if (!mc->pci_up)
		return 0;
	ret = pci_host_load(&mc->pci, r, err);
	for (i = 0; i < n && ret == 0; i++) {
		pthread_mutex_lock(&vp[i]->vdev.lock);
		ret = virtio_pci_load_locked(vp[i], r, err);
		pthread_mutex_unlock(&vp[i]->vdev.lock);
	}
	return ret;
}
