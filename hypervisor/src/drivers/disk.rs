//! The host disk, the one place that picks between the disks Aerie
//! drives: the host's virtio-blk (QEMU's `virt` and Versal boards), else an
//! SD card behind an i.MX uSDHC (i.MX boards) or an SDHCI (the Raspberry
//! Pi 4). Each VM with a disk gets a region of it
//! (`vm::block::DiskRegion`), which must keep out of the partitions a
//! board boots from (`aerie_partition`). The virtio-blk answers a VM's
//! requests later ([`submit`], its interrupt, [`take_done`]); an SD card's
//! requests are synchronous: the pCPU that calls waits for the transfer,
//! holding only this module's lock (`vm::block` calls without the machine
//! lock).

use super::sd_card::{SdCard, SdError, BLOCK};
use super::virtio_blk;
pub use super::virtio_blk::Refused;
use crate::mm::kernel_map::KernelSpace;
use aerie_dt::HostInfo;
use aerie_partition::{Layout, Sectors};
use core::sync::atomic::{AtomicBool, Ordering};
use spin::{Mutex, Once};

enum Disk {
    Virtio,
    Sd(SdCard),
}

static DISK: Mutex<Option<Disk>> = Mutex::new(None);
/// The host disk is a virtio-blk with an interrupt ([`answers_later`]).
static ANSWERS_LATER: AtomicBool = AtomicBool::new(false);
/// The host disk's partition table and partitions, read once it is found.
static LAYOUT: Once<Layout> = Once::new();

/// Find the host disk ([`find`]) and read its partition table, which VM
/// disk regions must keep out of ([`refuse_region`]). Returns its size in
/// bytes.
pub fn probe(host: &HostInfo, space: &mut KernelSpace, virtio_mapped: bool) -> Option<u64> {
    let bytes = find(host, space, virtio_mapped)?;
    let layout = aerie_partition::read_layout(bytes / BLOCK as u64, |lba, sector| {
        read(lba, sector).is_ok()
    });
    if !layout.table.is_empty() {
        log::info!(
            "host disk: a partition table with {} partition{}; VMs' disk regions keep out of it and its FAT partitions",
            layout.partitions.len(),
            if layout.partitions.len() == 1 { "" } else { "s" }
        );
    }
    LAYOUT.call_once(|| layout);
    Some(bytes)
}

/// Why VM disk region `sectors` (host sectors) may not be written, or
/// None if it may ([`aerie_partition::refuse`]).
pub fn refuse_region(sectors: Sectors) -> Option<alloc::string::String> {
    aerie_partition::refuse(LAYOUT.get()?, sectors)
}

/// [`probe`]'s search: a virtio-blk among the host's virtio-mmio
/// transports (`virtio_mapped`: they are mapped), else the first SD card
/// in the SD host controllers the device tree names. Its size in bytes.
fn find(host: &HostInfo, space: &mut KernelSpace, virtio_mapped: bool) -> Option<u64> {
    if virtio_mapped {
        if let Some(bytes) = virtio_blk::probe(&host.virtio_mmio) {
            *DISK.lock() = Some(Disk::Virtio);
            ANSWERS_LATER.store(virtio_blk::intid() != 0, Ordering::Relaxed);
            return Some(bytes);
        }
    }
    for sd in &host.sd_hosts {
        let base = sd.region.base;
        let va = match space.map_device(base, sd.region.size) {
            Ok(va) => va,
            Err(e) => {
                log::warn!("{} at {base:#x}: cannot map it: {e:?}", sd.kind.name());
                continue;
            }
        };
        // SAFETY: the controller's registers, of the kind its node names,
        // were just mapped as device memory, for good; nothing else in
        // Aerie drives it.
        match unsafe { SdCard::attach(va, sd) } {
            Ok(card) => {
                let bytes = card.blocks * BLOCK as u64;
                log::info!(
                    "host disk: SD card behind the {} at {base:#x}, {} MiB, {} data line{} at {} MHz",
                    sd.kind.name(),
                    bytes >> 20,
                    card.data_lines,
                    if card.data_lines == 1 { "" } else { "s" },
                    card.clock_hz / 1_000_000
                );
                *DISK.lock() = Some(Disk::Sd(card));
                return Some(bytes);
            }
            Err(e) => log::info!(
                "{} at {base:#x}{}: no host disk there: {e}",
                sd.kind.name(),
                if sd.non_removable {
                    " (soldered on)"
                } else {
                    ""
                }
            ),
        }
    }
    None
}

/// Size of the host disk in bytes, if there is one.
pub fn capacity() -> Option<u64> {
    match DISK.lock().as_ref()? {
        Disk::Virtio => virtio_blk::capacity(),
        Disk::Sd(card) => Some(card.blocks * BLOCK as u64),
    }
}

fn sd_error(e: SdError) -> &'static str {
    match e {
        SdError::Timeout(_) => "host disk (SD card) timed out",
        SdError::Controller(_) => "host disk (SD card): controller error",
        SdError::Card(_) => "host disk (SD card) refused the request",
        SdError::Unusable(why) => why,
    }
}

/// Read whole sectors (512 bytes) starting at `sector` of the host disk.
pub fn read(sector: u64, buf: &mut [u8]) -> Result<(), &'static str> {
    let mut disk = DISK.lock();
    match disk.as_mut().ok_or("no host disk")? {
        Disk::Virtio => virtio_blk::read(sector, buf),
        Disk::Sd(card) => {
            if !buf.len().is_multiple_of(BLOCK) {
                return Err("partial sector");
            }
            card.read(sector, buf).map_err(|e| {
                log::warn!(
                    "host disk: reading {} sectors at {sector}: {e}",
                    buf.len() / BLOCK
                );
                sd_error(e)
            })
        }
    }
}

/// Write whole sectors (512 bytes) starting at `sector` of the host disk.
pub fn write(sector: u64, buf: &[u8]) -> Result<(), &'static str> {
    let mut disk = DISK.lock();
    match disk.as_mut().ok_or("no host disk")? {
        Disk::Virtio => virtio_blk::write(sector, buf),
        Disk::Sd(card) => {
            if !buf.len().is_multiple_of(BLOCK) {
                return Err("partial sector");
            }
            card.write(sector, buf).map_err(|e| {
                log::warn!(
                    "host disk: writing {} sectors at {sector}: {e}",
                    buf.len() / BLOCK
                );
                sd_error(e)
            })
        }
    }
}

/// Whether the host disk answers requests later ([`submit`]): the
/// virtio-blk does (DMA, an interrupt when done), if the device tree gives
/// its interrupt; an SD card is driven by PIO, its transfers run on the
/// pCPU that asks ([`read`], [`write`]), as a virtio-blk's do without an
/// interrupt.
/// Asked under the machine lock, so it takes no lock of its own (an SD
/// transfer holds the disk's for milliseconds).
pub fn answers_later() -> bool {
    ANSWERS_LATER.load(Ordering::Relaxed)
}

/// Sends a VM's `transfer` (host sectors) to a host disk that
/// [`answers_later`], tagged `tag` ([`take_done`] returns it); Ok(Some)
/// when it is answered at once.
///
/// # Safety
/// As for [`virtio_blk::submit`].
pub unsafe fn submit(
    transfer: &aerie_virtio::Transfer,
    tag: u64,
) -> Result<Option<Result<(), &'static str>>, Refused> {
    if !answers_later() {
        return Err(Refused::Failed("the host disk does not answer later"));
    }
    // SAFETY: passed on from the caller.
    unsafe { virtio_blk::submit(transfer, tag) }
}

/// Moves the VMs' requests the host disk has returned (tags and outcomes)
/// to the end of `into`.
pub fn take_done(into: &mut alloc::vec::Vec<(u64, Result<(), &'static str>)>) {
    virtio_blk::take_done(into);
}

/// The host disk's interrupt, 0 without one (an SD card is polled).
pub fn intid() -> u32 {
    virtio_blk::intid()
}

/// Silences the host disk's interrupt.
pub fn acknowledge() {
    virtio_blk::acknowledge();
}

/// Make written data durable. An SD card's write is complete (programmed)
/// when the card lets DAT0 go after the transfer, which the next command
/// waits for: nothing more to do.
pub fn flush() -> Result<(), &'static str> {
    match DISK.lock().as_ref().ok_or("no host disk")? {
        Disk::Virtio => virtio_blk::flush(),
        Disk::Sd(_) => Ok(()),
    }
}
