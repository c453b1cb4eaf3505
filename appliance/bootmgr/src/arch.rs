//! The architecture this boot manager was built for, which is the one the
//! firmware booted: each architecture's firmware only runs its own binary.

/// Architecture name as used in `\aerie\<arch>\boot.cfg` and in the
/// `arch` key of that file.
#[cfg(target_arch = "aarch64")]
pub const ARCH: &str = "aarch64";

/// Architecture name as used in `\aerie\<arch>\boot.cfg` and in the
/// `arch` key of that file.
#[cfg(target_arch = "x86_64")]
pub const ARCH: &str = "x86_64";

#[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
compile_error!("aerie-bootmgr supports only aarch64 and x86_64");

/// UEFI path of this architecture's configuration file on the ESP.
#[must_use]
pub fn config_path() -> alloc::string::String {
    alloc::format!("\\aerie\\{ARCH}\\boot.cfg")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_path_names_the_arch_directory() {
        assert_eq!(config_path(), format!("\\aerie\\{ARCH}\\boot.cfg"));
        assert!(config_path().starts_with("\\aerie\\"));
    }
}
