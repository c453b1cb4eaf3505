//! The two architectures an appliance can carry.

use std::fmt;
use std::str::FromStr;

/// A guest architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    Aarch64,
    X86_64,
}

impl Arch {
    /// Both, in the order they appear in a package.
    pub const ALL: [Arch; 2] = [Arch::Aarch64, Arch::X86_64];

    /// The name used in specs, on the ESP and in the OVF (`aarch64`, `x86_64`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64",
            Arch::X86_64 => "x86_64",
        }
    }

    /// The removable-media boot file name UEFI firmware of this architecture loads.
    pub fn efi_boot_file(self) -> &'static str {
        match self {
            Arch::Aarch64 => "BOOTAA64.EFI",
            Arch::X86_64 => "BOOTX64.EFI",
        }
    }

    /// The OVF `VirtualSystemType` of a configuration for this architecture.
    pub fn virtual_system_type(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aerie-aarch64",
            Arch::X86_64 => "aerie-x86_64",
        }
    }

    /// The host architecture, if it is one of ours.
    pub fn host() -> Option<Arch> {
        std::env::consts::ARCH.parse().ok()
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "aarch64" => Ok(Arch::Aarch64),
            "x86_64" => Ok(Arch::X86_64),
            _ => Err(format!(
                "unknown architecture `{s}` (expected aarch64 or x86_64)"
            )),
        }
    }
}
