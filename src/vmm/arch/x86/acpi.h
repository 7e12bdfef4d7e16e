/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ACPI tables for an x86 guest, written into guest memory at X86_ACPI_ADDR
 * (layout.h), where boot_params.acpi_rsdp_addr points and where older
 * kernels scan for the RSDP anyway: RSDP -> XSDT -> {FADT, MADT, MCFG},
 * FADT -> {FACS, DSDT}. The DSDT (built with aml.h) describes the PCI root
 * bridge, its interrupt routing, COM1, and \_S5 for power-off.
 *
 * The FADT promises fixed hardware that the monitor must emulate at the
 * ports below: the PM1a event and control blocks (power button, SCI,
 * SLP_TYP/SLP_EN for S5) and the reset register. ACPI 6.4 §4.8 (fixed
 * hardware), §5.2 (tables).
 */
#ifndef VPS_VMM_X86_ACPI_H
#define VPS_VMM_X86_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/arch/x86/layout.h"
#include "vmm/devices/pm.h"
#include "vmm/mem.h"

/*
 * Fixed hardware the monitor emulates (ACPI 6.4 §4.8.3), in devices/pm.c:
 * one block of ports holding PM1a_EVT (status, enable), PM1a_CNT, the
 * 24-bit PM timer and the reset register. The reset register is there
 * rather than at the customary 0xcf9, which is inside PCI configuration
 * mechanism #1's address register (0xcf8..0xcfb).
 */
#define ACPI_PM1A_EVT_PORT (PM_X86_BASE + PM_EVT_OFF)
#define ACPI_PM1_EVT_LEN 4
#define ACPI_PM1A_CNT_PORT (PM_X86_BASE + PM_CNT_OFF)
#define ACPI_PM1_CNT_LEN 2
#define ACPI_PM_TMR_PORT (PM_X86_BASE + PM_TMR_OFF)
#define ACPI_PM_TMR_LEN 4
#define ACPI_RESET_PORT (PM_X86_BASE + PM_RESET_OFF)
#define ACPI_RESET_VALUE PM_RESET_VALUE
#define ACPI_SLP_TYP_S5 PM_S5_SLP_TYP /* what \_S5 gives; SLP_EN with it powers off */
#define ACPI_SCI_IRQ X86_SCI_IRQ /* level triggered, active high (MADT override) */

/* Table layouts (ACPI 6.4 §5.2), for the builder and for tests that walk them. */
struct acpi_rsdp { /* §5.2.5.3 */
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum; /* of the first 20 bytes */
	char oem_id[6];
	uint8_t revision; /* 2: ACPI 2.0+ with XSDT */
	uint32_t rsdt_address; /* 0: we give only an XSDT */
	uint32_t length; /* 36 */
	uint64_t xsdt_address;
	uint8_t ext_checksum; /* of all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header { /* §5.2.6 */
	char signature[4];
	uint32_t length; /* of the whole table, header included */
	uint8_t revision;
	uint8_t checksum; /* all bytes of the table sum to 0 */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_gas { /* Generic Address Structure, §5.2.3.2 */
	uint8_t space_id; /* 0 memory, 1 system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size; /* 1 byte, 2 word, 3 dword, 4 qword */
	uint64_t address;
} __attribute__((packed));

struct acpi_fadt { /* §5.2.9, Table 5.9: revision 6 */
	struct acpi_header h;
	uint32_t firmware_ctrl; /* FACS */
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd; /* 0: no SMM, the machine is in ACPI mode */
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat; /* > 100: no C2 */
	uint16_t p_lvl3_lat; /* > 1000: no C3 */
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch; /* §5.2.9.3 */
	uint8_t reserved1;
	uint32_t flags; /* §5.2.9, Table 5.10 */
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));

/* MADT (§5.2.12) entry types we write. */
#define ACPI_MADT_LAPIC 0
#define ACPI_MADT_IOAPIC 1
#define ACPI_MADT_ISO 2 /* interrupt source override */
#define ACPI_MADT_LAPIC_NMI 4

struct acpi_config {
	const struct x86_layout *layout;
	unsigned int nr_vcpus; /* 1..255: one enabled Local APIC entry each, APIC id = index */
	/* firmware boot (boot/firmware.c): where SeaBIOS put ECAM and the BARs; 0: kernel boot's */
	uint64_t ecam_base, mmio32_base, mmio32_size;
	bool pc_legacy; /* an 8042 keyboard and VGA are there (firmware boot) */
};

/*
 * Write all tables into guest memory; *rsdp gets the RSDP's guest address
 * for boot_params.acpi_rsdp_addr. -EINVAL for a bad config, -ENOMEM when
 * the region is not guest RAM, -E2BIG if the tables outgrow it.
 */
int acpi_build(struct guest_mem *m, const struct acpi_config *c, uint64_t *rsdp);

/* The byte that makes buf sum to zero when stored in a checksum field holding 0. */
uint8_t acpi_checksum(const void *buf, size_t len);

/* The DSDT alone, in a fresh buffer (free() it): for tests and tools. */
int acpi_dsdt_build(const struct acpi_config *c, uint8_t **out, size_t *len);

#endif
