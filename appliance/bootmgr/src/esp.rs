//! The EFI System Partition this program was loaded from: its file system
//! and the device paths of files on it.

use alloc::boxed::Box;
use alloc::vec::Vec;
use uefi::boot::{self, ScopedProtocol};
use uefi::fs::FileSystem;
use uefi::proto::device_path::DevicePath;
use uefi::proto::device_path::build::{DevicePathBuilder, media::FilePath};
use uefi::proto::loaded_image::LoadedImage;
use uefi::proto::media::fs::SimpleFileSystem;
use uefi::{CString16, Handle, Status};

/// The device (partition) handle the running image was loaded from.
pub fn device() -> Result<Handle, Status> {
    let image = boot::open_protocol_exclusive::<LoadedImage>(boot::image_handle())
        .map_err(|e| e.status())?;
    image.device().ok_or(Status::UNSUPPORTED)
}

/// Reads a whole file from the file system on `device`.
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

/// The full device path of `path` on `device`: the device's own path followed
/// by one FilePath node, as LoadImage wants it.
pub fn file_device_path(device: Handle, path: &str) -> Result<Box<DevicePath>, Status> {
    let path = CString16::try_from(path).map_err(|_| Status::INVALID_PARAMETER)?;
    let device_path =
        boot::open_protocol_exclusive::<DevicePath>(device).map_err(|e| e.status())?;
    let mut buffer = Vec::new();
    let mut builder = DevicePathBuilder::with_vec(&mut buffer);
    for node in device_path.node_iter() {
        builder = builder.push(&node).map_err(|_| Status::BAD_BUFFER_SIZE)?;
    }
    builder
        .push(&FilePath { path_name: &path })
        .and_then(DevicePathBuilder::finalize)
        .map(DevicePath::to_boxed)
        .map_err(|_| Status::BAD_BUFFER_SIZE)
}
