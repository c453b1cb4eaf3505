//! Aerie started the way a board starts it (C4 from firmware): QEMU's UEFI
//! firmware (AAVMF, at EL2) boots Aerie's loader from an EFI System
//! Partition, and Aerie, entered with the firmware's MMU on and its 1:1 map,
//! re-maps itself.
//!
//! - `boot-uefi`, `boot-uefi-max` (with VHE: Aerie clears E2H whatever the
//!   firmware left): the testkit passes, and Aerie's debug log says it was
//!   entered with the MMU on and loaded, and found its device tree, where
//!   the loader said it put them, with the command line of
//!   `aerie/cmdline.txt`, the RAM of the UEFI memory map and a 64-byte
//!   rng-seed from the firmware's EFI_RNG_PROTOCOL (QEMU's virtio-rng).
//! - `boot-uefi-gicv2`: on `virt` with a GICv2, the loader finds it in the
//!   firmware's tree and starts `aerie/aerie-gicv2.Image`; the testkit
//!   passes on the GICv2 its VM gets, and Aerie's symbol table (packed for
//!   that build) is taken. `boot-uefi-acpi-gicv2`: the same from ACPI
//!   tables (the MADT's GICC structures give the GICv2's frames).
//! - `boot-uefi-acpi`: the firmware gives ACPI tables and no device tree,
//!   as servers' firmware does; the loader writes the tree from them.
//! - `boot-uefi-remap-fault`: after the re-map, the load address (inside the
//!   firmware's identity map a moment before) faults at EL2.
//! - `boot-uefi-bad-image`: a partition whose `aerie/aerie.Image` is not an
//!   Image: the loader refuses it with a line naming the file and what is
//!   wrong, and hands back to the firmware, which goes on to its UEFI shell
//!   (where the test types `reset -s` to power the machine off).
//! - `boot-uefi-shell`: the loader away from the removable-media path, so
//!   the firmware ends in its shell, where the test starts it with
//!   arguments: they are Aerie's command line, not `aerie/cmdline.txt`.
//! - `boot-uboot`: the same disk booted by U-Boot instead (Debian's build
//!   for `virt`, at EL2), as most boards boot: its distro boot finds
//!   `extlinux/extlinux.conf` and starts Aerie by `booti` with the boot
//!   module as its initrd and the tree U-Boot has; the testkit passes.

use super::{fresh_disk, identity_alias_faulted, run_test, testkit_passed, TESTKIT_MIN_PASSED};
use std::path::PathBuf;

use crate::output;
use crate::qemu::{self, Boot, Firmware, Keys, QemuOptions, Status};
use crate::run::{self, Guest};

/// The host disk of the ACPI run.
const HOST_DISK_MIB: usize = 2;

/// A testkit run through the firmware (and, for UEFI, the loader).
struct UefiRun<'a> {
    name: &'a str,
    cpu: &'a str,
    /// The machine's GIC version (2: the loader must start the GICv2 build).
    gic: u32,
    firmware: Firmware,
    /// Aerie's command line: `aerie.log=<log> <append>`.
    log: &'a str,
    append: &'a str,
    timeout: u64,
}

impl<'a> UefiRun<'a> {
    /// `name` on `cpu` with a GICv3, described by `firmware`: Aerie at
    /// `aerie.log=info`, 180 s.
    fn new(name: &'a str, cpu: &'a str, firmware: Firmware) -> Self {
        UefiRun {
            name,
            cpu,
            gic: 3,
            firmware,
            log: "info",
            append: "",
            timeout: 180,
        }
    }
}

/// Runs the testkit as `run` says.
fn run_uefi(
    run: &UefiRun,
    check: impl FnOnce(Status, &str) -> Result<(), String>,
) -> Result<(), String> {
    let disk = fresh_disk(run.name)?;
    let guest = Guest::testkit();
    let board = crate::board::Board::Virt;
    let prepared =
        run::prepare_for(&guest, true, Some(&disk), board, run.gic).map_err(String::from)?;
    // The testkit uses no disk; with ACPI, a host disk shows that the
    // virtio-mmio transports of the DSDT reach Aerie.
    let disk = match run.firmware {
        Firmware::UefiAcpi => {
            std::fs::write(&disk, vec![0u8; HOST_DISK_MIB << 20])
                .map_err(|e| format!("writing {}: {e}", disk.display()))?;
            Some(disk)
        }
        _ => prepared.disk,
    };
    let opts = QemuOptions {
        gic_version: run.gic,
        boot: Boot::Aerie {
            bootmodule: prepared.bootmodule,
            log: run.log.into(),
            append: run.append.into(),
            firmware: run.firmware,
        },
        disk,
        ..QemuOptions::aerie(run.cpu, PathBuf::new(), run.firmware)
    };
    run_test(run.name, &opts, run.timeout, check)
}

/// `boot-uboot`: U-Boot's distro boot starts Aerie from the boot disk.
pub fn boot_uboot() -> Result<(), String> {
    let run = UefiRun {
        log: "debug",
        ..UefiRun::new("boot-uboot", "cortex-a72", Firmware::UBoot)
    };
    run_uefi(&run, |status, out| {
        output::require_line(out, "U-Boot 2023.01")?;
        output::require_line(out, "Found /extlinux/extlinux.conf")?;
        output::require_line(out, "Retrieving file: /aerie/aerie.Image")?;
        output::require_line(out, "Starting kernel ...")?;
        // booti starts Aerie with the MMU off and, in x0, the tree U-Boot
        // moved and wrote the command line and the initrd (the boot
        // module, which the testkit's VM comes from) into.
        let dtb = out
            .lines()
            .find_map(|l| l.split("Loading Device Tree to ").nth(1))
            .and_then(|rest| u64::from_str_radix(rest.split(',').next()?.trim(), 16).ok())
            .ok_or("no `Loading Device Tree to <address>` line from U-Boot")?;
        output::require_line(out, &format!("boot: device tree at {dtb:#x};"))?;
        output::require_line(out, "boot: entered with the MMU off")?;
        testkit_passed(status, out, TESTKIT_MIN_PASSED)
    })
}

pub fn boot_uefi(name: &str, cpu: &str) -> Result<(), String> {
    let run = UefiRun {
        log: "debug",
        ..UefiRun::new(name, cpu, Firmware::UefiDeviceTree)
    };
    run_uefi(&run, |status, out| {
        let (entry, dtb) = loader_placement(out)?;
        output::require_line(
            out,
            &format!("device tree at {dtb:#x}; Aerie loaded at {entry:#x}"),
        )?;
        output::require_line(out, "command line \"aerie.log=debug\"")?;
        output::require_line(out, "boot: entered with the MMU on")?;
        // The firmware keeps the PL031 for its runtime services (its node
        // in the tree is disabled): the time of day is the one the loader
        // read from the firmware.
        wall_clock_from(out, "the boot loader")?;
        // The firmware's random number generator seeded Aerie (64 bytes).
        output::require_line(out, "rng-seed from the firmware's EFI_RNG_PROTOCOL")?;
        output::require_line(out, "entropy: boot loader seed 64 bytes")?;
        // Boot leaves the boot stack a quarter free (Aerie warns otherwise).
        output::require_line(out, "of the boot stack's 64 KiB used so far")?;
        if output::has_line(out, "the boot stack is") {
            return Err("Aerie warned that the boot stack is nearly full".into());
        }
        // Aerie's RAM is the UEFI memory map's, as the loader wrote it.
        let ram = output::numbers_after(out, "aerie-loader: starting Aerie at ")
            .first()
            .and(output::numbers_after(out, " RAM ").first().copied())
            .ok_or("no `RAM <n> MiB` in the loader's line")?;
        output::require_line(out, &format!("RAM {ram} MiB ("))?;
        testkit_passed(status, out, TESTKIT_MIN_PASSED)
    })
}

pub fn boot_uefi_gicv2() -> Result<(), String> {
    uefi_gicv2("boot-uefi-gicv2", Firmware::UefiDeviceTree)
}

/// The same with the firmware giving ACPI tables: the loader reads the
/// GICv2 from the MADT's GICC structures.
pub fn boot_uefi_acpi_gicv2() -> Result<(), String> {
    uefi_gicv2("boot-uefi-acpi-gicv2", Firmware::UefiAcpi)
}

/// The testkit through the firmware and the loader on `virt` with a
/// GICv2, the machine described by `firmware`'s device tree or ACPI.
fn uefi_gicv2(name: &str, firmware: Firmware) -> Result<(), String> {
    let run = UefiRun {
        gic: 2,
        ..UefiRun::new(name, "cortex-a72", firmware)
    };
    run_uefi(&run, |status, out| {
        loader_placement(out)?;
        if firmware == Firmware::UefiAcpi {
            output::require_line(
                out,
                "aerie-loader: the machine from ACPI (BOCHS BXPC): 2 CPUs, GICv2 distributor at 0x8000000",
            )?;
        }
        output::require_line(
            out,
            "aerie-loader: the machine's GIC is a GICv2: starting \\aerie\\aerie-gicv2.Image",
        )?;
        output::require_line(out, "GICv2 with one security state")?;
        output::require_line(out, ", GICv2")?;
        if output::has_line(out, "symbol table ignored") {
            return Err("Aerie ignored the boot module's symbol table".into());
        }
        testkit_passed(status, out, TESTKIT_MIN_PASSED)
    })
}

pub fn boot_uefi_remap_fault() -> Result<(), String> {
    let run = UefiRun {
        append: "aerie.test=identity-fault",
        timeout: 90,
        ..UefiRun::new(
            "boot-uefi-remap-fault",
            "cortex-a72",
            Firmware::UefiDeviceTree,
        )
    };
    run_uefi(&run, |status, out| {
        loader_placement(out)?;
        identity_alias_faulted(status, out)
    })
}

/// The firmware with ACPI tables and no device tree, as servers' firmware
/// boots: the loader reads the CPUs, the GIC, the console and the
/// virtio-mmio transports from the MADT, SPCR and DSDT and writes the tree
/// Aerie reads, and Aerie finds in it what QEMU has: both CPUs start, the
/// console prints, the host disk (a virtio-mmio transport of the DSDT) is
/// Aerie's, and the testkit passes.
pub fn boot_uefi_acpi() -> Result<(), String> {
    let name = "boot-uefi-acpi";
    let run = UefiRun {
        log: "debug",
        ..UefiRun::new(name, "max", Firmware::UefiAcpi)
    };
    run_uefi(&run, |status, out| {
        output::require_line(
            out,
            "aerie-loader: the machine from ACPI (BOCHS BXPC): 2 CPUs, GICv3 distributor at 0x8000000, console PL011 at 0x9000000, 32 virtio-mmio transports",
        )?;
        if output::has_line(out, "aerie-loader: note:") {
            return Err("the loader left something of QEMU's machine out".into());
        }
        output::require_line(out, ", 2 CPUs, VHE: yes")?;
        output::require_line(
            out,
            &format!("host disk: virtio-blk at 0xa003e00, {HOST_DISK_MIB} MiB"),
        )?;
        // No PL031 in the DSDT: the time of day is the firmware's, read
        // by the loader.
        wall_clock_from(out, "the boot loader")?;
        if output::has_line(out, "did not start") {
            return Err("a CPU did not start".into());
        }
        testkit_passed(status, out, TESTKIT_MIN_PASSED)
    })
}

/// Aerie's wall clock came from `source` and is this machine's time, to
/// within ten minutes.
fn wall_clock_from(out: &str, source: &str) -> Result<(), String> {
    let now = super::unix_now();
    let line = output::lines_with(out, "wall clock: ")
        .first()
        .copied()
        .ok_or("no `wall clock:` line")?;
    match output::numbers_after(line, "wall clock: ").first() {
        Some(t) if t.abs_diff(now) < 600 && line.ends_with(&format!("from {source}")) => Ok(()),
        _ => Err(format!(
            "{line:?}: expected about {now} s since the epoch, from {source}"
        )),
    }
}

pub fn boot_uefi_bad_image() -> Result<(), String> {
    let name = "boot-uefi-bad-image";
    let prepared = prepare_testkit()?;
    // Anything but an Image: the boot module itself.
    let partition = Partition {
        loader_at: crate::esp::REMOVABLE_MEDIA_LOADER,
        hypervisor: &prepared.bootmodule,
        bootmodule: &prepared.bootmodule,
        cmdline: "aerie.log=info",
    };
    let keys = [Keys {
        after: "Shell> ",
        bytes: b"reset -s\r",
    }];
    run_partition(name, &partition, &keys, 120, |status, out| {
        output::require_line(
            out,
            "aerie-loader: error: \\aerie\\aerie.Image: no arm64 Image magic",
        )?;
        if out.contains("aerie-loader: starting Aerie") || out.contains("aerie: Aerie ") {
            return Err("the loader started the bad image".into());
        }
        match status {
            Status::Exited(0) => Ok(()),
            other => Err(format!("QEMU {other:?}; the shell's `reset -s` powers off")),
        }
    })
}

/// The loader where no firmware looks for it, so the firmware ends in its
/// UEFI shell; the test starts it there with arguments, which replace
/// `aerie/cmdline.txt` as Aerie's command line: the debug lines it turns on
/// appear, and the testkit passes.
pub fn boot_uefi_shell() -> Result<(), String> {
    let name = "boot-uefi-shell";
    let prepared = prepare_testkit()?;
    let hypervisor = crate::paths::hypervisor_image();
    let partition = Partition {
        loader_at: "aerie/loader.efi",
        hypervisor: &hypervisor,
        bootmodule: &prepared.bootmodule,
        cmdline: "aerie.log=info",
    };
    let keys = [Keys {
        after: "Shell> ",
        bytes: b"fs0:\\aerie\\loader.efi aerie.log=debug\r",
    }];
    run_partition(name, &partition, &keys, 180, |status, out| {
        output::require_line(out, "command line \"aerie.log=debug\" from the UEFI shell")?;
        output::require_line(out, "boot: entered with the MMU on")?;
        testkit_passed(status, out, TESTKIT_MIN_PASSED)
    })
}

/// The testkit VM's boot module (built, with Aerie and the loader).
fn prepare_testkit() -> Result<run::Prepared, String> {
    let guest = Guest::testkit();
    run::prepare(&guest, true, None).map_err(String::from)
}

/// What a test puts on the EFI System Partition.
struct Partition<'a> {
    loader_at: &'a str,
    hypervisor: &'a std::path::Path,
    bootmodule: &'a std::path::Path,
    cmdline: &'a str,
}

/// Boots QEMU's firmware on a partition holding `partition`, typing `keys`
/// on the console as their prompts appear.
fn run_partition(
    name: &str,
    partition: &Partition,
    keys: &[Keys],
    timeout: u64,
    check: impl FnOnce(Status, &str) -> Result<(), String>,
) -> Result<(), String> {
    crate::esp::write_files(
        &crate::esp::image(),
        partition.loader_at,
        partition.hypervisor,
        partition.bootmodule,
        partition.cmdline,
        3,
    )
    .and_then(|_| crate::esp::fresh_vars())
    .map_err(|e| format!("{e:#}"))?;
    let opts = QemuOptions::aerie(
        "cortex-a72",
        partition.bootmodule.to_path_buf(),
        Firmware::UefiDeviceTree,
    );
    // The partition was written above: run QEMU on it as it is.
    let log = super::log_path(name);
    let outcome = run::run_quiet_command_scripted(
        qemu::command(&opts, false),
        std::time::Duration::from_secs(timeout),
        &log,
        keys,
    )
    .map_err(|e| format!("{e:#}"))?;
    super::judge(name, &log, timeout, &outcome, check)
}

/// Where the loader put Aerie and the device tree, from its line
/// `aerie-loader: starting Aerie at 0x.. (device tree at 0x.., ...`.
fn loader_placement(out: &str) -> Result<(u64, u64), String> {
    let entry = output::hex_after(out, "aerie-loader: starting Aerie at ");
    let dtb = output::hex_after(out, "(device tree at ");
    match (entry, dtb) {
        (Some(entry), Some(dtb)) => Ok((entry, dtb)),
        _ => Err("no `aerie-loader: starting Aerie at 0x.. (device tree at 0x..` line".into()),
    }
}
