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
    use super::cmdline;

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
