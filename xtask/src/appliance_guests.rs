//! The example appliance's guests (issue 6): Debian's arm64 and amd64
//! kernels and a busybox initramfs per architecture whose /init prints the
//! architecture it runs on and powers off.
//!
//! The arm64 kernel and busybox are the Linux guest's (`guest_pkgs`); the
//! amd64 ones are downloaded the same way (`apt-get download`, `dpkg-deb
//! -x`) into `target/guest-cache/amd64/`. Outputs, which
//! `appliance/examples/hello.toml` names:
//! `target/aerie/appliance/<arch>/vmlinuz` and `.../initrd.img`.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cmd::step;
use crate::cpio::Archive;
use crate::guest_pkgs;
use crate::linux::{one_file, write_if_changed};
use crate::paths;

const AMD64_KERNEL_META: &str = "linux-image-amd64";

/// `target/aerie/appliance/<arch>/`.
pub fn arch_dir(arch: &str) -> PathBuf {
    paths::aerie_dir().join("appliance").join(arch)
}

fn amd64_dir(name: &str) -> PathBuf {
    guest_pkgs::cache_dir().join("amd64").join(name)
}

/// The amd64 kernel package `linux-image-amd64` depends on.
fn amd64_kernel_package() -> Result<String> {
    guest_pkgs::kernel_package_named_by(AMD64_KERNEL_META)
}

/// Whether the amd64 kernel and busybox are unpacked (for `setup`).
pub fn present() -> Result<bool> {
    let Ok(kernel) = amd64_kernel_package() else {
        return Ok(false);
    };
    Ok([kernel.as_str(), guest_pkgs::BUSYBOX_PACKAGE]
        .iter()
        .all(|p| guest_pkgs::is_unpacked_dir(&amd64_dir(p))))
}

/// Downloads and unpacks the amd64 kernel and busybox (for `setup`).
pub fn install() -> Result<()> {
    let kernel = amd64_kernel_package()?;
    for name in [kernel.as_str(), guest_pkgs::BUSYBOX_PACKAGE] {
        let dir = amd64_dir(name);
        if !guest_pkgs::is_unpacked_dir(&dir) {
            guest_pkgs::download_and_unpack(name, "amd64", &dir)?;
        }
    }
    Ok(())
}

/// /init: say where it runs, power off.
const INIT: &str = "#!/bin/sh
/bin/busybox mount -t proc proc /proc
echo \"appliance: hello running on $(/bin/busybox uname -m)\"
/bin/busybox poweroff -f
";

/// The initramfs around one architecture's busybox.
fn initramfs(busybox: Vec<u8>) -> Vec<u8> {
    let mut a = Archive::new();
    for dir in ["/proc", "/sys", "/dev", "/bin"] {
        a.dir(dir, 0o755);
    }
    a.char_device("/dev/console", 0o600, 5, 1);
    a.file("/bin/busybox", 0o755, busybox);
    a.symlink("/bin/sh", "busybox");
    a.file("/init", 0o755, INIT.as_bytes().to_vec());
    a.to_bytes()
}

/// Builds both architectures' kernel copies and initramfs images.
pub fn build() -> Result<()> {
    let amd64_kernel = amd64_dir(&amd64_kernel_package()?);
    let arm64_kernel = guest_pkgs::unpacked_dir(&guest_pkgs::kernel_package()?);
    let inputs = [
        (
            "aarch64",
            one_file(&arm64_kernel.join("boot"), "vmlinuz-")?,
            guest_pkgs::unpacked_dir(guest_pkgs::BUSYBOX_PACKAGE).join("bin/busybox"),
        ),
        (
            "x86_64",
            one_file(&amd64_kernel.join("boot"), "vmlinuz-")?,
            amd64_dir(guest_pkgs::BUSYBOX_PACKAGE).join("bin/busybox"),
        ),
    ];
    for (arch, kernel, busybox) in inputs {
        let dir = arch_dir(arch);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let kernel_bytes =
            std::fs::read(&kernel).with_context(|| format!("reading {}", kernel.display()))?;
        write_if_changed(&dir.join("vmlinuz"), &kernel_bytes)?;
        let busybox =
            std::fs::read(&busybox).with_context(|| format!("reading {}", busybox.display()))?;
        write_if_changed(&dir.join("initrd.img"), &initramfs(busybox))?;
    }
    step(format!(
        "appliance guests: {} and {}",
        paths::show(&arch_dir("aarch64")),
        paths::show(&arch_dir("x86_64"))
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initramfs_has_init_busybox_and_console() {
        let bytes = initramfs(b"\x7fELF busybox".to_vec());
        let text = String::from_utf8_lossy(&bytes);
        for name in ["init", "bin/busybox", "dev/console", "bin/sh"] {
            assert!(text.contains(name), "{name} missing");
        }
        assert!(INIT.contains("uname -m") && INIT.contains("poweroff -f"));
    }
}
