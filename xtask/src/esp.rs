//! The boot disk Aerie boots from through UEFI firmware or U-Boot
//! (`cargo xtask run --uefi`, `--uboot`, `cargo xtask esp`): a GPT disk
//! image with one FAT partition (an EFI System Partition), written in Rust
//! by the appliance tool's ESP builder (`aerie_appliance::esp`), laid out
//! as a board's boot disk would be:
//!
//! ```text
//! EFI/BOOT/BOOTAA64.EFI   Aerie's loader (loader/), the removable-media path
//! extlinux/extlinux.conf  for U-Boot's distro boot: Aerie, its boot module
//!                         as the initrd, its command line
//! aerie/aerie.Image       Aerie
//! aerie/aerie-gicv2.Image Aerie's build for GICv2 machines, which the
//!                         loader starts where the firmware's tree has one
//! aerie/bootmodule.bin    the VMs
//! aerie/cmdline.txt       Aerie's command line
//! ```
//!
//! Under QEMU the UEFI firmware is Debian's AAVMF (`qemu-efi-aarch64`), with
//! a fresh copy of its variable store for every run; U-Boot is Debian's
//! build for QEMU's `virt` (`u-boot-qemu`).

use std::path::{Path, PathBuf};

use aerie_appliance::esp::{EspFile, Source};
use aerie_appliance::qemu::{AAVMF_CODE, AAVMF_VARS};
use anyhow::{Context, Result};

use crate::cmd::step;
use crate::paths;
use crate::qemu::{aerie_cmdline, Boot, Firmware};
use crate::run;

/// The disk image `run --uefi` boots: `target/aerie/esp.img`.
pub fn image() -> PathBuf {
    paths::aerie_dir().join("esp.img")
}

/// The run's copy of the firmware's variable store.
fn vars() -> PathBuf {
    paths::aerie_dir().join("esp-vars.fd")
}

/// Writes the disk image `out` for `boot` (an Aerie boot) on a machine
/// whose GIC is version `gic`: the loader, the hypervisor, its boot module
/// and command line; U-Boot's default label is the Aerie build for that
/// GIC (UEFI's loader finds that out itself). Returns its size.
pub fn write(boot: &Boot, out: &Path, gic: u32) -> Result<u64> {
    let Boot::Aerie { bootmodule, .. } = boot else {
        anyhow::bail!("only Aerie boots through the UEFI loader");
    };
    write_files(
        out,
        REMOVABLE_MEDIA_LOADER,
        &paths::hypervisor_image(),
        bootmodule,
        &aerie_cmdline(boot),
        gic,
    )
}

/// Where firmware looks for a boot program on a disk it has no boot entry
/// for (UEFI's removable-media path): the loader's place.
pub const REMOVABLE_MEDIA_LOADER: &str = "EFI/BOOT/BOOTAA64.EFI";

/// U-Boot's build for QEMU's `virt` (Debian's `u-boot-qemu`).
pub const UBOOT: &str = "/usr/lib/u-boot/qemu_arm64/u-boot.bin";

/// The distro-boot configuration U-Boot reads (`extlinux/extlinux.conf`):
/// Aerie as the kernel (started by `booti`, at EL2 where U-Boot runs), its
/// boot module as the initrd (U-Boot writes where it put it into the
/// tree's /chosen, as the boot module's loader must), `cmdline` as the
/// command line, with the machine's tree as U-Boot has it. A label for
/// Aerie's GICv2 build too (`gicv2`), for GIC-400 boards: U-Boot cannot
/// tell which GIC a board has, so such a board's disk makes it the
/// `default` (`for_gicv2`).
pub fn extlinux_conf(cmdline: &str, gicv2: bool, for_gicv2: bool) -> String {
    let default = if gicv2 && for_gicv2 {
        "aerie-gicv2"
    } else {
        "aerie"
    };
    let mut conf = format!("default {default}\n");
    let mut label = |name: &str, image: &str| {
        conf.push_str(&format!(
            "label {name}\n  kernel /aerie/{image}\n  initrd /aerie/bootmodule.bin\n  append {cmdline}\n"
        ));
    };
    label("aerie", "aerie.Image");
    if gicv2 {
        label("aerie-gicv2", "aerie-gicv2.Image");
    }
    conf
}

/// Writes the disk image `out` with Aerie's loader at `loader_at`,
/// `hypervisor` as the image it starts, `bootmodule` and `cmdline`, for a
/// machine whose GIC is version `gic`. Returns its size.
pub fn write_files(
    out: &Path,
    loader_at: &str,
    hypervisor: &Path,
    bootmodule: &Path,
    cmdline: &str,
    gic: u32,
) -> Result<u64> {
    let loader = paths::loader_efi();
    let gicv2 = paths::hypervisor_image_for(2);
    let mut files = vec![
        EspFile {
            path: loader_at.into(),
            source: Source::File(&loader),
        },
        EspFile {
            path: "aerie/aerie.Image".into(),
            source: Source::File(hypervisor),
        },
        EspFile {
            path: "aerie/bootmodule.bin".into(),
            source: Source::File(bootmodule),
        },
        EspFile {
            path: "aerie/cmdline.txt".into(),
            source: Source::Bytes(format!("{cmdline}\n").into_bytes()),
        },
        EspFile {
            path: "extlinux/extlinux.conf".into(),
            source: Source::Bytes(extlinux_conf(cmdline, gicv2.is_file(), gic == 2).into_bytes()),
        },
    ];
    if gicv2.is_file() {
        files.push(EspFile {
            path: "aerie/aerie-gicv2.Image".into(),
            source: Source::File(&gicv2),
        });
    }
    aerie_appliance::esp::build(out, &files).with_context(|| format!("writing {}", out.display()))
}

/// A fresh copy of the firmware's variable store for the next run.
pub fn fresh_vars() -> Result<()> {
    std::fs::copy(AAVMF_VARS, vars())
        .map(|_| ())
        .with_context(|| format!("copying {AAVMF_VARS} (package qemu-efi-aarch64)"))
}

/// `cargo xtask esp [--out FILE] ARGS`: builds what `run ARGS` would boot
/// and writes it as a boot disk image (default `target/aerie/esp.img`)
/// instead of starting QEMU; returns the process exit code. Only the flags
/// that shape what is booted are taken: the VMs (`--guest`, `--config`),
/// the machine's GIC (`--board`, `--gic`: the build U-Boot starts and
/// whose symbols the boot module carries), Aerie's command line (`--log`,
/// `--append`) and `--no-build`.
pub fn main(args: &[String]) -> i32 {
    let mut out = image();
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => match it.next() {
                Some(path) => out = PathBuf::from(path),
                None => {
                    eprintln!("error: --out needs a file\n{ESP_USAGE}");
                    return run::EXIT_USAGE;
                }
            },
            "--cpu" | "--smp" | "--timeout" | "--icount" | "--disk" | "--forward" | "--uefi"
            | "--acpi" => {
                eprintln!(
                    "error: {a} is about the QEMU run, which `esp` does not start\n{ESP_USAGE}"
                );
                return run::EXIT_USAGE;
            }
            _ => rest.push(a.clone()),
        }
    }
    let args = match run::parse_args(&rest) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n{ESP_USAGE}");
            return run::EXIT_USAGE;
        }
    };
    // A board (or `--gic 2`) picks the Aerie build: the boot module carries
    // its symbols, and U-Boot's default label starts it.
    let prepared = match run::prepare_for(
        &args.guest,
        args.no_build,
        args.disk.as_deref(),
        args.board,
        args.gic_version,
    ) {
        Ok(p) => p,
        Err(e) => return e.report(),
    };
    let boot = Boot::Aerie {
        bootmodule: prepared.bootmodule,
        log: args.log,
        append: args.append,
        // A board's firmware gives a device tree or ACPI tables; the loader
        // on the partition reads either.
        firmware: Firmware::UefiAcpi,
    };
    match write(&boot, &out, args.gic_version) {
        Ok(size) => {
            step(format!(
                "esp: {} ({} MiB): a GPT disk with one EFI System Partition; write it to a USB stick or SD card (dd if={} of=/dev/<disk> bs=4M) and boot a machine that runs its UEFI firmware or U-Boot at EL2 from it (U-Boot starts aerie/{}){}",
                paths::show(&out),
                size >> 20,
                paths::show(&out),
                if args.gic_version == 2 {
                    "aerie-gicv2.Image"
                } else {
                    "aerie.Image"
                },
                if prepared.disk.is_some() {
                    ". Its VMs' disks are regions of the host disk Aerie finds (virtio-blk, or an SD card): not this disk, whose partition they would overwrite"
                } else {
                    ""
                }
            ));
            0
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

pub const ESP_USAGE: &str =
    "usage: cargo xtask esp [--out FILE] [--guest linux|linux-tools|testkit | --config FILE] \
[--board BOARD | --gic 2|3] [--log debug|info|warn] [--append \"aerie args\"] [--no-build]

Writes what `cargo xtask run` with the same flags boots as a UEFI boot disk image (default
target/aerie/esp.img): Aerie's loader as EFI/BOOT/BOOTAA64.EFI, Aerie, the boot module and
the command line; U-Boot's distro boot finds the same in extlinux/extlinux.conf, starting the
build for the GIC of --board or --gic (the UEFI loader picks it itself).";

/// `-drive` for the firmware's code (read-only flash).
pub fn pflash_code() -> String {
    format!("if=pflash,format=raw,unit=0,readonly=on,file={AAVMF_CODE}")
}

/// `-drive` for the run's variable store (writable flash).
pub fn pflash_vars() -> String {
    format!("if=pflash,format=raw,unit=1,file={}", vars().display())
}

/// `-drive` for the disk image, read-only.
pub fn drive() -> String {
    format!(
        "if=none,id=esp,format=raw,readonly=on,file={}",
        image().display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extlinux_conf_boots_aerie_with_its_module_and_command_line() {
        let conf = extlinux_conf("aerie.log=info aerie.user=shell", true, false);
        assert_eq!(
            conf,
            "default aerie\n\
             label aerie\n  kernel /aerie/aerie.Image\n  initrd /aerie/bootmodule.bin\n  append aerie.log=info aerie.user=shell\n\
             label aerie-gicv2\n  kernel /aerie/aerie-gicv2.Image\n  initrd /aerie/bootmodule.bin\n  append aerie.log=info aerie.user=shell\n"
        );
        assert!(!extlinux_conf("", false, true).contains("gicv2"));
        // A GICv2 machine's disk starts the GICv2 build.
        assert!(extlinux_conf("", true, true).starts_with("default aerie-gicv2\n"));
    }
}
