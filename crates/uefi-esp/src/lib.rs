//! The EFI System Partition a UEFI program was loaded from: its device and
//! whole files on it. Shared by Aerie's loader and the appliance's boot
//! manager, which both read their configuration and images from there.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use uefi::boot::{self, ScopedProtocol};
use uefi::fs::FileSystem;
use uefi::proto::loaded_image::LoadedImage;
use uefi::proto::media::fs::SimpleFileSystem;
use uefi::{CString16, Handle, Status};

/// The device (partition) handle the running image was loaded from.
pub fn device() -> Result<Handle, Status> {
    let image = boot::open_protocol_exclusive::<LoadedImage>(boot::image_handle())
        .map_err(|e| e.status())?;
    image.device().ok_or(Status::UNSUPPORTED)
}

/// Reads a whole file from the file system on `device`: a missing file is
/// the firmware's `NOT_FOUND`, a path that is no UEFI path
/// `INVALID_PARAMETER`.
pub fn read(device: Handle, path: &str) -> Result<Vec<u8>, Status> {
    let path = CString16::try_from(path).map_err(|_| Status::INVALID_PARAMETER)?;
    let volume: ScopedProtocol<SimpleFileSystem> =
        boot::open_protocol_exclusive(device).map_err(|e| e.status())?;
    FileSystem::new(volume)
        .read(path.as_ref())
        .map_err(|e| match e {
            uefi::fs::Error::Io(io) => io.uefi_error.status(),
            _ => Status::INVALID_PARAMETER,
        })
}
