//! The load options (command line) handed to the kernel's EFI stub.

use crate::config::BootConfig;
use alloc::format;
use alloc::string::String;

/// `initrd=<initrd> <cmdline>`, or just the command line without an initrd.
///
/// Linux's EFI stub loads every `initrd=` file from the device it was loaded
/// from, which is the ESP this configuration came from.
#[must_use]
pub fn load_options(config: &BootConfig<'_>) -> String {
    match (config.initrd, config.cmdline) {
        (Some(initrd), "") => format!("initrd={initrd}"),
        (Some(initrd), cmdline) => format!("initrd={initrd} {cmdline}"),
        (None, cmdline) => String::from(cmdline),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config<'a>(initrd: Option<&'a str>, cmdline: &'a str) -> BootConfig<'a> {
        BootConfig {
            name: "n",
            arch: "x86_64",
            kernel: "\\k",
            initrd,
            cmdline,
        }
    }

    #[test]
    fn initrd_comes_first() {
        let options = load_options(&config(Some("\\aerie\\x86_64\\initrd"), "console=ttyS0"));
        assert_eq!(options, "initrd=\\aerie\\x86_64\\initrd console=ttyS0");
    }

    #[test]
    fn no_initrd_is_just_the_cmdline() {
        assert_eq!(
            load_options(&config(None, "console=ttyS0 quiet")),
            "console=ttyS0 quiet"
        );
    }

    #[test]
    fn initrd_without_cmdline_has_no_trailing_space() {
        assert_eq!(load_options(&config(Some("\\i"), "")), "initrd=\\i");
    }
}
