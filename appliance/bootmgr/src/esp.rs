//! The EFI System Partition this program was loaded from: its device and
//! files (`aerie-uefi-esp`, shared with Aerie's loader), and the device
//! paths of files on it.

pub use aerie_uefi_esp::{device, read};

use alloc::boxed::Box;
use alloc::vec::Vec;
use uefi::boot;
use uefi::proto::device_path::DevicePath;
use uefi::proto::device_path::build::{DevicePathBuilder, media::FilePath};
use uefi::{CString16, Handle, Status};

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
