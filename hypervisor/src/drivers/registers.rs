//! A device's 32-bit registers at a mapped address: where the host drivers
//! read and write device memory, so each driver's `unsafe` is the one
//! promise that the address is right.

#[derive(Clone, Copy)]
pub struct Registers {
    base: usize,
}

impl Registers {
    /// The registers at `base`.
    ///
    /// # Safety
    /// `base` must be the virtual address of a mapped device's registers
    /// (Device memory), covering every offset the caller reads or writes,
    /// each a multiple of 4; and reading or writing them must have no
    /// effect beyond that device.
    pub const unsafe fn new(base: u64) -> Self {
        Registers {
            base: base as usize,
        }
    }

    pub fn read(&self, offset: usize) -> u32 {
        // SAFETY: `base + offset` is one of the device's registers (`new`).
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    pub fn write(&self, offset: usize, value: u32) {
        // SAFETY: as for `read`.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }
}
