//! Aerie's UEFI loader (BOOTAA64.EFI): starts Aerie from an EFI System
//! Partition on firmware that runs at EL2.
//!
//! From the partition it was loaded from it reads `\aerie\aerie.Image` (or,
//! on a machine whose GIC is a GICv2, `\aerie\aerie-gicv2.Image`), the
//! boot module `\aerie\bootmodule.bin` and the command line: the arguments
//! it was started with in the UEFI shell, else `\aerie\cmdline.txt` if
//! present. It places the image by its header, writes the command line, the
//! boot module and the RAM of the UEFI memory map into a copy of the
//! firmware's device tree, exits boot services and jumps to Aerie with the
//! MMU still on (Aerie turns it off and builds its own spaces: C4). On any
//! error it prints `aerie-loader: error: <what>` and returns the error
//! status, so that the firmware goes on to its next boot option.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod machine;
use aerie_uefi_esp as esp;

use aerie_dt::{Handoff, Region, WallClock};
use aerie_loader::clock::{self, FirmwareTime};
use aerie_loader::image::ImageHeader;
use aerie_loader::{cmdline, files, memmap, options};
use alloc::string::String;
use alloc::vec::Vec;
use core::convert::Infallible;
use core::fmt::Display;
use uefi::boot::{self, AllocateType, MemoryType};
use uefi::mem::memory_map::MemoryMap;
use uefi::proto::loaded_image::LoadedImage;
use uefi::proto::rng::Rng;
use uefi::{Handle, Status, entry, println};

const PAGE: u64 = 4096;

#[entry]
fn main() -> Status {
    match boot() {
        Ok(never) => match never {},
        Err(status) => status,
    }
}

/// Loads everything and starts Aerie; returns only on failure.
fn boot() -> Result<Infallible, Status> {
    let el = arch::current_el();
    if el != 2 {
        return Err(fail(
            Status::UNSUPPORTED,
            format_args!(
                "the firmware runs at EL{el}; Aerie must start at EL2 (QEMU: -machine virtualization=on)"
            ),
        ));
    }
    let device = esp::device().map_err(|s| fail(s, "cannot find the boot device"))?;
    let firmware_tree = machine::device_tree()?;
    // The GIC decides which build of Aerie starts.
    let gic = aerie_dt::host_gic_version(&firmware_tree).map_err(|e| {
        fail(
            Status::LOAD_ERROR,
            format_args!("the firmware's device tree: {e}"),
        )
    })?;
    let hypervisor = files::hypervisor_for(gic);
    if gic == Some(2) {
        println!("aerie-loader: the machine's GIC is a GICv2: starting {hypervisor}");
    }
    let file = read(device, hypervisor)?;
    let header = ImageHeader::parse(&file)
        .map_err(|e| fail(Status::LOAD_ERROR, format_args!("{hypervisor}: {e}")))?;
    let module = read(device, files::BOOT_MODULE)?;
    let (line, line_from) = match shell_arguments() {
        Some(line) => (line, "the UEFI shell"),
        None => {
            let text = match esp::read(device, files::CMDLINE) {
                Ok(text) => text,
                Err(Status::NOT_FOUND) => Vec::new(),
                Err(s) => return Err(fail(s, format_args!("cannot read {}", files::CMDLINE))),
            };
            let line = cmdline(&text)
                .map_err(|e| fail(Status::LOAD_ERROR, format_args!("{}: {e}", files::CMDLINE)))?;
            (String::from(line), files::CMDLINE)
        }
    };

    let start = allocate(header.allocation())?;
    let entry = header.load_address(start);
    // SAFETY: [start, start + allocation) is ours, and the image with its
    // bss fits above `entry` in it (ImageHeader::allocation).
    unsafe { place(entry, &file, header.image_size) };
    let module_pa = allocate(module.len() as u64)?;
    // SAFETY: a fresh allocation of module.len() bytes.
    unsafe { place(module_pa, &module, module.len() as u64) };
    let boot_module = Region::new(module_pa, module.len() as u64);
    let ram = firmware_ram()?;
    let seed = firmware_random();
    let wall_clock = firmware_wall_clock();
    let tree = aerie_dt::with_handoff(
        &firmware_tree,
        &Handoff {
            bootargs: &line,
            boot_module: Some(boot_module),
            reserve: &[],
            memory: Some(&ram),
            rng_seed: seed.as_ref().map(|s| &s[..]),
            wall_clock,
        },
    )
    .map_err(|e| {
        fail(
            Status::LOAD_ERROR,
            format_args!("the firmware's device tree: {e}"),
        )
    })?;
    let dtb = allocate(tree.len() as u64)?;
    // SAFETY: a fresh allocation of tree.len() bytes.
    unsafe { place(dtb, &tree, tree.len() as u64) };

    println!(
        "aerie-loader: starting Aerie at {entry:#x} (device tree at {dtb:#x}, boot module {} KiB at {module_pa:#x}, RAM {} MiB in {} ranges, rng-seed {}, command line \"{line}\" from {line_from})",
        module.len() / 1024,
        ram.iter().map(|r| r.size).sum::<u64>() >> 20,
        ram.len(),
        if seed.is_some() {
            "from the firmware's EFI_RNG_PROTOCOL"
        } else {
            "as the device tree has it"
        },
    );
    let written = [
        (entry, header.image_size),
        (module_pa, boot_module.size),
        (dtb, tree.len() as u64),
    ];
    // Nothing allocated from the pool may be freed after boot services end.
    drop((file, module, line, tree, ram, firmware_tree));
    // SAFETY: no protocol is open (the file system was closed after each
    // read) and nothing allocated from the pool is used from here on.
    let map = unsafe { boot::exit_boot_services(None) };
    // The map's buffer belongs to a firmware that is gone: never free it.
    core::mem::forget(map);
    // SAFETY: boot services are over; the image was placed by its header and
    // the device tree lies in loader data the firmware no longer touches.
    unsafe { arch::enter(entry, dtb, &written) }
}

/// Reads a file the loader cannot do without.
fn read(device: Handle, path: &str) -> Result<Vec<u8>, Status> {
    esp::read(device, path).map_err(|s| fail(s, format_args!("cannot read {path}")))
}

/// The RAM Aerie may use once boot services end, from the UEFI memory map
/// (see `memmap`). Allocations made after this call are loader data, which
/// the map already counts as usable, so it holds for them too.
fn firmware_ram() -> Result<Vec<Region>, Status> {
    let map = boot::memory_map(MemoryType::LOADER_DATA)
        .map_err(|e| fail(e.status(), "cannot read the firmware's memory map"))?;
    let regions = map
        .entries()
        .filter(|d| memmap::usable(d.ty.0))
        .map(|d| Region::new(d.phys_start, d.page_count * PAGE))
        .collect();
    Ok(memmap::merged(regions))
}

/// Bytes of entropy asked of the firmware for Aerie's `rng-seed`.
const SEED_LEN: usize = 64;

/// Entropy from the firmware's random number generator (EFI_RNG_PROTOCOL),
/// if it has one that delivers: Aerie seeds its guests from it.
fn firmware_random() -> Option<[u8; SEED_LEN]> {
    let handle = boot::get_handle_for_protocol::<Rng>().ok()?;
    let mut rng = boot::open_protocol_exclusive::<Rng>(handle).ok()?;
    let mut seed = [0u8; SEED_LEN];
    rng.get_rng(None, &mut seed).ok()?;
    Some(seed)
}

/// The firmware's time of day (UEFI GetTime) with the counter's value when
/// it was read, if the firmware has a clock that gives a valid time.
fn firmware_wall_clock() -> Option<WallClock> {
    let t = uefi::runtime::get_time().ok()?;
    let counter = arch::counter();
    let unix_seconds = clock::unix_seconds(&FirmwareTime {
        year: t.year(),
        month: t.month(),
        day: t.day(),
        hour: t.hour(),
        minute: t.minute(),
        second: t.second(),
        zone_minutes: t.time_zone(),
    })?;
    Some(WallClock {
        unix_seconds,
        counter,
    })
}

/// The arguments the loader was started with in the UEFI shell, if any.
fn shell_arguments() -> Option<String> {
    let image = boot::open_protocol_exclusive::<LoadedImage>(boot::image_handle()).ok()?;
    options::arguments(image.load_options_as_bytes()?)
}

/// `bytes` pages of loader data; their physical address (the firmware maps
/// memory 1:1).
fn allocate(bytes: u64) -> Result<u64, Status> {
    let pages = bytes.div_ceil(PAGE) as usize;
    boot::allocate_pages(
        AllocateType::AnyPages,
        MemoryType::LOADER_DATA,
        pages.max(1),
    )
    .map(|p| p.as_ptr() as u64)
    .map_err(|e| fail(e.status(), format_args!("cannot allocate {pages} pages")))
}

/// Copies `data` to `at` and zeroes the rest of `len` bytes.
///
/// # Safety
/// `[at, at + len)` must be memory this program allocated, and `len` at least
/// `data.len()`.
unsafe fn place(at: u64, data: &[u8], len: u64) {
    let dst = at as *mut u8;
    // SAFETY: the caller gives a writable range of len >= data.len() bytes
    // that does not overlap `data` (a fresh allocation).
    unsafe {
        core::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len());
        core::ptr::write_bytes(dst.add(data.len()), 0, len as usize - data.len());
    }
}

/// Prints the error line and hands back the status to return to the firmware.
fn fail(status: Status, what: impl Display) -> Status {
    println!("aerie-loader: error: {what} ({status:?})");
    status
}
