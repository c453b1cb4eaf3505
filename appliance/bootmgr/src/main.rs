//! Aerie appliance UEFI boot manager (BOOTAA64.EFI / BOOTX64.EFI).
//!
//! Reads `\aerie\<arch>\boot.cfg` from the ESP it was loaded from, prints
//! `aerie-appliance: booting <name> on <arch>` and starts the kernel's EFI
//! stub with `initrd=<initrd> <cmdline>` as its load options. On any error it
//! prints `aerie-appliance: error: <what>` and returns the error status, so
//! that the firmware goes on to its next boot option.
#![no_std]
#![no_main]

extern crate alloc;

mod esp;
mod launch;

use aerie_bootmgr::{arch::ARCH, arch::config_path, config, options::load_options};
use core::convert::Infallible;
use core::fmt::Display;
use uefi::{Status, entry, println};

#[entry]
fn main() -> Status {
    match boot() {
        Ok(never) => match never {},
        Err(status) => status,
    }
}

/// Reads the configuration and starts the kernel; returns only on failure.
fn boot() -> Result<Infallible, Status> {
    let device = esp::device().map_err(|s| fail(s, "cannot find the boot device"))?;
    let path = config_path();
    let bytes =
        esp::read(device, &path).map_err(|s| fail(s, format_args!("cannot read {path}")))?;
    let text = core::str::from_utf8(&bytes).map_err(|_| {
        fail(
            Status::VOLUME_CORRUPTED,
            format_args!("{path} is not UTF-8"),
        )
    })?;
    let config = config::parse(text, ARCH)
        .map_err(|e| fail(Status::LOAD_ERROR, format_args!("{path}: {e}")))?;

    let kernel = config.kernel;
    let image = esp::file_device_path(device, kernel)
        .and_then(|file| launch::load(&file, &load_options(&config)))
        .map_err(|s| fail(s, format_args!("cannot load kernel {kernel}")))?;
    println!("aerie-appliance: booting {} on {ARCH}", config.name);
    launch::start(image).map_err(|s| fail(s, format_args!("kernel {kernel} failed")))?;
    Err(fail(
        Status::ABORTED,
        format_args!("kernel {kernel} returned"),
    ))
}

/// Prints the error line and hands back the status to return to the firmware.
fn fail(status: Status, what: impl Display) -> Status {
    println!("aerie-appliance: error: {what} ({status:?})");
    status
}
