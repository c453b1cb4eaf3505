//! The OVF 2.x descriptor: the model ([`Descriptor`]), its writer and reader.
//!
//! Layout (one VirtualSystem, one deployment option per architecture):
//!
//! - `References`: one `File` per disk file, with `ovf:size`.
//! - `DiskSection`: the system disk (`ovf:diskId="system"`, shared by every
//!   configuration) and each architecture's extra disks (`<arch>-disk<N>`),
//!   with `ovf:capacity` in bytes and the streamOptimized VMDK format URI.
//! - `DeploymentOptionSection`: a `Configuration` per architecture, `ovf:id` =
//!   the architecture name; the first is the default.
//! - `VirtualSystem` with a `ProductSection` (name, version) and one
//!   `VirtualHardwareSection` per architecture (`ovf:id` = architecture): a
//!   `System` whose `VirtualSystemType` names it (`aerie-aarch64`), CPU,
//!   memory, a virtio controller and the disks; every `Item` carries
//!   `ovf:configuration="<arch>"`. Inside it, the extension element
//!   `aerie:ArchitectureSection ovf:required="false"` (namespace
//!   [`AERIE_NS`]) states the architecture and kernel command line.

mod model;
mod read;
mod write;

pub use model::{
    Config, Descriptor, Disk, FileRef, AERIE_NS, NAT_NETWORK, OVF_NS, RASD_NS, SYSTEM_DISK,
    VMDK_STREAM, VSSD_NS,
};
pub use read::parse;
pub use write::render;
