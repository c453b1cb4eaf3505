//! The Aerie boot module and the Linux arm64 `Image` header.
//!
//! The boot module is the one blob that carries every VM's configuration and guest
//! images, and the programs of the EL0 user worlds, to the hypervisor. QEMU loads it with `-initrd FILE`; Aerie finds it
//! through `/chosen/linux,initrd-start` and `linux,initrd-end` in the host device
//! tree. See [`format`] for the byte layout.
//!
//! The parser ([`BootModule`]) borrows the module's bytes and never allocates, so
//! the EL2 kernel can use it before it has a heap. The writer ([`write`]) needs
//! `std` and is enabled by the `std` feature (xtask uses it).
#![cfg_attr(not(any(test, feature = "std")), no_std)]

pub mod arm64_image;
mod error;
pub mod format;
mod guestinfo;
mod parse;
#[cfg(any(test, feature = "std"))]
mod write;

pub use error::{BootModuleError, VmField, VmFieldError, WorldField};
#[cfg(any(test, feature = "std"))]
pub use guestinfo::encode_guestinfo;
pub use guestinfo::{guestinfo_entries, GuestinfoEntries};
pub use parse::BootModule;
#[cfg(any(test, feature = "std"))]
pub use write::encode_disks;
#[cfg(any(test, feature = "std"))]
pub use write::write;

/// One VM as the boot module describes it; every slice borrows the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmImage<'a> {
    /// 1..=31 bytes of UTF-8.
    pub name: &'a str,
    /// Number of virtual CPUs, at least 1.
    pub vcpus: u32,
    /// Guest RAM size in bytes.
    pub memory: u64,
    /// The guest kernel (an arm64 `Image` or any flat binary loaded like one).
    pub kernel: &'a [u8],
    /// Optional initial RAM disk.
    pub initrd: Option<&'a [u8]>,
    /// Kernel command line (may be empty).
    pub cmdline: &'a str,
    /// This VM's region of the host disk, if it has a disk (format version 2):
    /// its first disk.
    pub disk: Option<DiskRegion>,
    /// Its further disks (format version 7; see [`format`]), as the record's
    /// blob of `(offset, size)` pairs; empty for none. Walk all disks with
    /// [`VmImage::disks`]; build the blob with `encode_disks` (`std`
    /// feature). A `VmImage` from [`BootModule::vm`] carries a blob the
    /// parser has checked.
    pub more_disks: &'a [u8],
    /// The VM's backdoor policy; `None` = no backdoor (format version 4).
    pub backdoor: Option<BackdoorPolicy>,
    /// The guestinfo blob (format version 4; see [`format`]): `guestinfo.<name>`
    /// keys and their values, preloaded into the VM's guestinfo store. Empty
    /// when there are none, and always when `backdoor` is `None`. Walk it with
    /// [`guestinfo_entries`] or [`VmImage::guestinfo_entries`]; a `VmImage`
    /// from [`BootModule::vm`] carries a blob the parser has checked. Build one
    /// with `encode_guestinfo` (`std` feature).
    pub guestinfo: &'a [u8],
    /// The vCPUs always run at full speed: no SCMI clocks for the guest's
    /// cpufreq, no performance caps (format version 5; false before).
    pub fixed_clock: bool,
    /// The VM's network card, a virtio-net device on Aerie's switch; `None`
    /// = no card (format version 7).
    pub net: Option<NetCard>,
}

/// A VM's network card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetCard {
    /// Its Ethernet address: unicast, not all zeros.
    pub mac: Mac,
    /// The switch's network it is on: it exchanges frames only with cards
    /// on the same network.
    pub network: u16,
    /// It reaches the uplink (the machine's own network card).
    pub uplink: bool,
}

/// An Ethernet (MAC) address.
pub type Mac = [u8; 6];

/// `mac` as text: `52:54:00:ae:00:01`.
pub fn mac_text(mac: &Mac) -> MacText {
    MacText(*mac)
}

/// An Ethernet address that displays as six colon-separated hex octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacText(pub Mac);

impl core::fmt::Display for MacText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// Whether `mac` can be a card's own address: not all zeros and not a group
/// (multicast or broadcast) address, whose first octet has bit 0 set.
pub fn mac_is_unicast(mac: &Mac) -> bool {
    *mac != [0; 6] && mac[0] & 1 == 0
}

impl<'a> VmImage<'a> {
    /// Every disk of the VM, its first first: the guest sees them in this
    /// order (`vda`, `vdb`, ...).
    pub fn disks(&self) -> impl Iterator<Item = DiskRegion> + 'a {
        let more = self.more_disks.chunks_exact(format::DISK_ENTRY).map(|e| {
            let word = |at: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&e[at..at + 8]);
                u64::from_le_bytes(b)
            };
            DiskRegion {
                offset: word(0),
                size: word(8),
            }
        });
        self.disk.into_iter().chain(more)
    }

    /// The guestinfo `(key, value)` pairs, in blob order. For a `VmImage` from
    /// [`BootModule::vm`] every item is `Ok` (the parser checked the blob).
    pub fn guestinfo_entries(&self) -> GuestinfoEntries<'a> {
        guestinfo_entries(self.guestinfo)
    }
}

/// One EL0 user world (format version 6): a program Aerie runs beside the
/// VMs. Every slice borrows the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorldImage<'a> {
    /// 1..=31 bytes of UTF-8.
    pub name: &'a str,
    /// The program: a static AArch64 ELF file, not empty. The parser checks
    /// only that it lies in the module, 4 KiB aligned; the loader checks the ELF.
    pub program: &'a [u8],
    /// Text handed to the program (may be empty).
    pub arg: &'a str,
    /// The VMs the world may control: stop, reset, start, halt or reboot
    /// (the `vm_control` system call; record flags
    /// [`WORLD_FLAG_CONTROL`](format::WORLD_FLAG_CONTROL) and
    /// [`WORLD_FLAG_CONTROL_LISTED`](format::WORLD_FLAG_CONTROL_LISTED)).
    pub control: Control,
    /// What it may do to them ([`Operations::ALL`] unless the config lists
    /// some: record flag [`WORLD_FLAG_OPS_LISTED`](format::WORLD_FLAG_OPS_LISTED)).
    pub operations: Operations,
}

/// The operations a world may do to the VMs it controls: bit i for the
/// `vm_control` operation numbered i (the user-world ABI's `vm_op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operations(pub u32);

impl Operations {
    pub const STOP: u32 = 1 << 0;
    pub const RESET: u32 = 1 << 1;
    pub const START: u32 = 1 << 2;
    pub const HALT: u32 = 1 << 3;
    pub const REBOOT: u32 = 1 << 4;
    pub const POWER_BUTTON: u32 = 1 << 5;
    /// Every operation there is.
    pub const ALL: Operations = Operations((1 << 6) - 1);
    /// Each operation's name in a config and its bit, in `vm_op` order.
    pub const NAMES: [(&'static str, u32); 6] = [
        ("stop", Self::STOP),
        ("reset", Self::RESET),
        ("start", Self::START),
        ("halt", Self::HALT),
        ("reboot", Self::REBOOT),
        ("button", Self::POWER_BUTTON),
    ];

    /// Whether operation `op` (a `vm_op` number) is among these.
    pub fn allows(self, op: u64) -> bool {
        op < 32 && self.0 & (1 << op) & Self::ALL.0 != 0
    }
}

/// Which VMs a world may control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Control {
    /// None: it may look, not touch.
    #[default]
    None,
    /// Every VM.
    All,
    /// The VMs whose record index has its bit set (bit i: VM i, one of the
    /// first [`CONTROL_VMS_MAX`](format::CONTROL_VMS_MAX)).
    Listed(u32),
}

impl Control {
    /// Whether the world may control VM `index`.
    pub fn allows(self, index: usize) -> bool {
        match self {
            Control::None => false,
            Control::All => true,
            Control::Listed(vms) => index < format::CONTROL_VMS_MAX && vms & (1 << index) != 0,
        }
    }
}

/// A VM's backdoor policy (the VMware-compatible guest backdoor): present in
/// [`VmImage::backdoor`] when the VM has the backdoor at all, which always
/// includes the DCC transport (`mrs xN, MDCCSR_EL0`) for guest EL1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackdoorPolicy {
    /// Guest EL0 (user space) may use the backdoor too, not only the kernel.
    pub el0: bool,
    /// The BRK transport: `brk #imm` with this immediate is a backdoor call;
    /// `None` = off (DCC only).
    pub brk_imm: Option<u16>,
    /// Offer the high-bandwidth port (GuestRPC messages copied through guest
    /// memory rather than 4 bytes per call).
    pub high_bandwidth: bool,
}

impl BackdoorPolicy {
    /// The record's `backdoor_flags` word for this policy (enabled bit set).
    pub fn flags(&self) -> u32 {
        let mut flags = format::BACKDOOR_ENABLED;
        if self.el0 {
            flags |= format::BACKDOOR_EL0;
        }
        if self.brk_imm.is_some() {
            flags |= format::BACKDOOR_BRK;
        }
        if self.high_bandwidth {
            flags |= format::BACKDOOR_HIGH_BANDWIDTH;
        }
        flags
    }

    /// Decodes a record's `backdoor_flags` and `brk_imm`: `Ok(None)` for no
    /// backdoor (both zero); [`VmFieldError::BadBackdoor`] for an unknown flag
    /// bit, a policy bit without the enabled bit, an immediate above 0xffff,
    /// or a non-zero immediate while the BRK transport is off.
    pub fn from_record(flags: u32, brk_imm: u32) -> Result<Option<BackdoorPolicy>, VmFieldError> {
        let bad = VmFieldError::BadBackdoor { flags, brk_imm };
        if flags & !format::BACKDOOR_FLAGS_KNOWN != 0 {
            return Err(bad);
        }
        if flags & format::BACKDOOR_ENABLED == 0 {
            return if flags == 0 && brk_imm == 0 {
                Ok(None)
            } else {
                Err(bad)
            };
        }
        let imm = u16::try_from(brk_imm).map_err(|_| bad)?;
        let brk = flags & format::BACKDOOR_BRK != 0;
        if !brk && imm != 0 {
            return Err(bad);
        }
        Ok(Some(BackdoorPolicy {
            el0: flags & format::BACKDOOR_EL0 != 0,
            brk_imm: brk.then_some(imm),
            high_bandwidth: flags & format::BACKDOOR_HIGH_BANDWIDTH != 0,
        }))
    }
}

/// A VM's share of the host disk: bytes `[offset, offset + size)`. Both are
/// multiples of [`format::DISK_SECTOR`] and `size > 0`; the VM sees the region as
/// a whole disk starting at its sector 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskRegion {
    /// First byte of the region on the host disk.
    pub offset: u64,
    /// Length in bytes.
    pub size: u64,
}

impl DiskRegion {
    /// One past the last byte (the parser guarantees this does not overflow).
    pub fn end(&self) -> u64 {
        self.offset + self.size
    }

    /// Whether two regions share at least one byte.
    pub fn overlaps(&self, other: &DiskRegion) -> bool {
        self.offset < other.end() && other.offset < self.end()
    }
}

#[cfg(test)]
mod tests;
