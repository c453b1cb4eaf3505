//! Loading and starting the kernel's EFI stub with its command line.

use uefi::boot::{self, LoadImageSource};
use uefi::proto::BootPolicy;
use uefi::proto::device_path::DevicePath;
use uefi::proto::loaded_image::LoadedImage;
use uefi::{CString16, Handle, Status};

/// A loaded, not yet started image and the load options it points to.
pub struct Loaded {
    handle: Handle,
    /// Referenced by the child's LoadedImage.load_options: must outlive it.
    _options: CString16,
}

/// Loads the image at `path` (a full device path) and gives it `options`
/// as its UCS-2 load options (its command line).
pub fn load(path: &DevicePath, options: &str) -> Result<Loaded, Status> {
    let options = CString16::try_from(options).map_err(|_| Status::INVALID_PARAMETER)?;
    let size = u32::try_from(options.as_bytes().len()).map_err(|_| Status::BAD_BUFFER_SIZE)?;
    let source = LoadImageSource::FromDevicePath {
        device_path: path,
        boot_policy: BootPolicy::ExactMatch,
    };
    let handle = boot::load_image(boot::image_handle(), source).map_err(|e| e.status())?;
    let mut image = boot::open_protocol_exclusive::<LoadedImage>(handle).map_err(|e| e.status())?;
    // SAFETY: the buffer is owned by the returned `Loaded`, which `start`
    // consumes and keeps alive until the child exits (it never does once
    // Linux has exited boot services). Moving a CString16 does not move its
    // heap buffer.
    unsafe { image.set_load_options(options.as_bytes().as_ptr(), size) };
    Ok(Loaded {
        handle,
        _options: options,
    })
}

/// Starts a loaded image. Returns only if it exits.
pub fn start(image: Loaded) -> Result<(), Status> {
    let result = boot::start_image(image.handle).map_err(|e| e.status());
    drop(image);
    result
}
