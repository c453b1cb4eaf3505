//! The EFI System Partition `cargo xtask run --uefi` boots Aerie from: a
//! directory QEMU presents as a FAT disk (its `vvfat` driver), laid out as a
//! partition on a board would be:
//!
//! ```text
//! EFI/BOOT/BOOTAA64.EFI   Aerie's loader (loader/), the removable-media path
//! aerie/aerie.Image       Aerie
//! aerie/bootmodule.bin    the VMs
//! aerie/cmdline.txt       Aerie's command line
//! ```
//!
//! The firmware is Debian's AAVMF (`qemu-efi-aarch64`), with a fresh copy of
//! its variable store for every run.

use std::path::{Path, PathBuf};

use aerie_appliance::qemu::{AAVMF_CODE, AAVMF_VARS};
use anyhow::{Context, Result};

use crate::paths;
use crate::qemu::{aerie_cmdline, Boot};

/// The partition's directory: `target/aerie/esp/`.
pub fn dir() -> PathBuf {
    paths::aerie_dir().join("esp")
}

/// The run's copy of the firmware's variable store.
fn vars() -> PathBuf {
    paths::aerie_dir().join("esp-vars.fd")
}

/// Writes the partition and a fresh variable store for `boot` (an Aerie boot).
pub fn prepare(boot: &Boot) -> Result<()> {
    let Boot::Aerie { bootmodule, .. } = boot else {
        anyhow::bail!("only Aerie boots through the UEFI loader");
    };
    let dir = dir();
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let efi_boot = dir.join("EFI").join("BOOT");
    let aerie = dir.join("aerie");
    for d in [&efi_boot, &aerie] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    place(&paths::loader_efi(), &efi_boot.join("BOOTAA64.EFI"))?;
    place(&paths::hypervisor_image(), &aerie.join("aerie.Image"))?;
    place(bootmodule, &aerie.join("bootmodule.bin"))?;
    let cmdline = aerie.join("cmdline.txt");
    std::fs::write(&cmdline, format!("{}\n", aerie_cmdline(boot)))
        .with_context(|| format!("writing {}", cmdline.display()))?;
    std::fs::copy(AAVMF_VARS, vars())
        .with_context(|| format!("copying {AAVMF_VARS} (package qemu-efi-aarch64)"))?;
    Ok(())
}

/// A hard link where the file system allows one (boot modules with Linux
/// are tens of MiB), a copy elsewhere.
fn place(from: &Path, to: &Path) -> Result<()> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}

/// `-drive` for the firmware's code (read-only flash).
pub fn pflash_code() -> String {
    format!("if=pflash,format=raw,unit=0,readonly=on,file={AAVMF_CODE}")
}

/// `-drive` for the run's variable store (writable flash).
pub fn pflash_vars() -> String {
    format!("if=pflash,format=raw,unit=1,file={}", vars().display())
}

/// `-drive` for the partition, read-only (QEMU's FAT view of [`dir`]).
pub fn drive() -> String {
    format!(
        "if=none,id=esp,format=raw,readonly=on,file=fat:{}",
        dir().display()
    )
}
