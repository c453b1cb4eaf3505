//! What the descriptor says, independent of XML.

use crate::arch::Arch;

pub const OVF_NS: &str = "http://schemas.dmtf.org/ovf/envelope/2";
pub const RASD_NS: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData";
pub const VSSD_NS: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData";
/// This tool's extension namespace.
pub const AERIE_NS: &str = "https://aerie.dev/ovf/1";
/// The disk format of every disk in the package.
pub const VMDK_STREAM: &str =
    "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub name: String,
    pub version: Option<String>,
    pub description: Option<String>,
    /// References, in package order.
    pub files: Vec<FileRef>,
    pub disks: Vec<Disk>,
    /// One per architecture; the first is the default.
    pub configs: Vec<Config>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRef {
    pub id: String,
    pub href: String,
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    pub id: String,
    pub file_ref: String,
    /// Virtual size in bytes.
    pub capacity: u64,
    pub format: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub arch: Arch,
    pub cpus: u32,
    /// Bytes (a whole number of MiB).
    pub memory: u64,
    pub cmdline: String,
    /// Disk ids, boot disk (the system disk) first.
    pub disks: Vec<String>,
    /// One network card (virtio), connected to [`NAT_NETWORK`].
    pub network: bool,
}

/// The one network this tool's descriptors name: the deploy target's NAT
/// network (QEMU's user-mode network; on Aerie, its switch and uplink).
pub const NAT_NETWORK: &str = "nat";

/// The system disk's id in the DiskSection.
pub const SYSTEM_DISK: &str = "system";

impl Config {
    /// The configuration's extra disks (every disk but the system disk), in
    /// order.
    pub fn extra_disks(&self) -> impl Iterator<Item = &String> {
        self.disks.iter().filter(|id| *id != SYSTEM_DISK)
    }
}

impl Descriptor {
    pub fn file(&self, id: &str) -> Option<&FileRef> {
        self.files.iter().find(|f| f.id == id)
    }

    pub fn disk(&self, id: &str) -> Option<&Disk> {
        self.disks.iter().find(|d| d.id == id)
    }

    pub fn config(&self, arch: Arch) -> Option<&Config> {
        self.configs.iter().find(|c| c.arch == arch)
    }

    /// The file holding a disk.
    pub fn disk_file(&self, disk_id: &str) -> Option<&FileRef> {
        self.disk(disk_id).and_then(|d| self.file(&d.file_ref))
    }

    /// The system disk's file (`None` if the descriptor has none).
    pub fn system_file(&self) -> Option<&FileRef> {
        self.disk_file(SYSTEM_DISK)
    }
}
