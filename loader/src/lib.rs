//! Pure logic of Aerie's UEFI loader, kept free of UEFI so that it is
//! unit-tested on the host (`cargo test --lib`). The UEFI program that uses
//! it is `main.rs`; the assembly it needs is in `arch.rs`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod clock;
pub mod image;
pub mod memmap;
pub mod options;

/// The files the loader reads from the partition it was loaded from.
pub mod files {
    /// Aerie itself: the Image `cargo xtask build` writes as `aerie.Image`.
    pub const HYPERVISOR: &str = "\\aerie\\aerie.Image";
    /// Aerie's build for machines whose GIC is a GICv2 (`aerie-gicv2.Image`).
    pub const HYPERVISOR_GICV2: &str = "\\aerie\\aerie-gicv2.Image";

    /// The Image to start on a machine whose tree describes a GIC of
    /// `version` (`aerie_dt::host_gic_version`): the GICv2 build for a
    /// GICv2, else the usual one (which says what it needs if the tree has
    /// no GIC it drives).
    pub fn hypervisor_for(version: Option<u8>) -> &'static str {
        if version == Some(2) {
            HYPERVISOR_GICV2
        } else {
            HYPERVISOR
        }
    }
    /// The VMs: the boot module `cargo xtask run` packs (QEMU's `-initrd`).
    pub const BOOT_MODULE: &str = "\\aerie\\bootmodule.bin";
    /// Aerie's command line, one line; optional, and arguments given to the
    /// loader in the UEFI shell take its place.
    pub const CMDLINE: &str = "\\aerie\\cmdline.txt";
}

/// The command line from the contents of [`files::CMDLINE`]: its first line,
/// trimmed. Errors name what is wrong with the file.
pub fn cmdline(text: &[u8]) -> Result<&str, &'static str> {
    let text = core::str::from_utf8(text).map_err(|_| "not UTF-8")?;
    let line = text.lines().next().unwrap_or("").trim();
    if line.contains('\0') {
        return Err("contains a NUL byte");
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::{cmdline, files};

    #[test]
    fn a_gicv2_machine_starts_the_gicv2_build() {
        assert_eq!(files::hypervisor_for(Some(2)), files::HYPERVISOR_GICV2);
        assert_eq!(files::hypervisor_for(Some(3)), files::HYPERVISOR);
        assert_eq!(files::hypervisor_for(None), files::HYPERVISOR);
    }

    #[test]
    fn cmdline_is_the_first_line_trimmed() {
        assert_eq!(
            cmdline(b"aerie.log=debug \n# ignored\n"),
            Ok("aerie.log=debug")
        );
        assert_eq!(cmdline(b""), Ok(""));
        assert_eq!(cmdline(b"\xff"), Err("not UTF-8"));
        assert_eq!(cmdline(b"a\0b"), Err("contains a NUL byte"));
    }
}
