//! Device-tree handling for Aerie: read the host DTB the boot loader hands the
//! hypervisor, and write the DTB each guest boots with.
//!
//! Uses `alloc`: the hypervisor calls in after its heap is up.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod binding;
mod error;
mod ethernet;
mod fdt;
mod ged;
mod gic_v2;
mod guest;
mod handoff;
mod host;
mod host_tree;
mod power;
mod region;
mod rtc;
mod sd_host;
mod uart;

pub use binding::{PPI_INTIDS, SPI_INTIDS};
pub use error::DtError;
pub use ethernet::{EthernetKind, HostEthernet, PhyMode};
pub use fdt::header::total_size;
pub use ged::GedButton;
pub use gic_v2::{host_gic_version, GicV2};
pub use guest::{
    build_guest, GuestGic, GuestScmi, GuestSpec, IdleStateNode, VirtioMmio, GPIO_SPI, KEY_POWER,
    POWER_BUTTON_PIN, RTC_SPI,
};
pub use handoff::{with_handoff, Handoff, WallClock};
pub use host::{parse_host, Cpu, GicV3, HostInfo, HostVirtio, PowerButton, Timer};
pub use host_tree::{host_tree, primecell_region};
pub use power::{HostPowerController, PowerControllerKind};
pub use region::Region;
pub use rtc::{HostRtc, RtcKind};
pub use sd_host::{HostSdHost, SdHostKind};
pub use uart::UartKind;
