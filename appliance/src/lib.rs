//! Multi-architecture virtual appliances: one OVA whose system disk boots on
//! AArch64 and x86-64 UEFI firmware (see `appliance/README.md`).
//!
//! - [`build()`]: spec (TOML, see [`spec`]) -> OVA.
//! - [`validate()`]: every check, one [`Problem`] each.
//! - [`inspect()`]: a readable summary.
//! - [`deploy()`]: unpack and configure for QEMU or Aerie; [`qemu_command`]
//!   gives the QEMU command line of a QEMU deployment.

#![forbid(unsafe_code)]

pub mod arch;
pub mod bootcfg;
pub mod build;
pub mod deploy;
pub mod digest;
pub mod esp;
pub mod inspect;
pub mod manifest;
pub mod ova;
pub mod ovf;
pub mod partio;
pub mod problem;
pub mod progress;
pub mod qemu;
pub mod qemu_img;
pub mod scan;
pub mod schema;
pub mod spec;
pub mod validate;

#[cfg(test)]
mod tests;

pub use arch::Arch;
pub use build::{build, default_efi_dir, BuildReport};
pub use deploy::{deploy, deploy_forwarding, Deployment, Forward, Target};
pub use inspect::inspect;
pub use problem::Problem;
pub use qemu::{qemu_command, Console, QemuVm};
pub use validate::validate;
