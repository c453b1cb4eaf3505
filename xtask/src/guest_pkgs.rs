//! The Debian arm64 packages Linux guests are built from: the kernel
//! (`linux-image-6.1.0-<abi>-arm64`) and `busybox-static`, downloaded with
//! `apt-get download` and unpacked with `dpkg-deb -x` under
//! `target/guest-cache/` (git ignores `target/`). Nothing is installed on the
//! host: the packages are only unpacked into the cache.
//!
//! The kernel package name carries the ABI number, which changes with Debian
//! point releases; the metapackage `linux-image-arm64` always depends on the
//! current one, so `apt-cache depends` resolves it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::cmd;
use crate::paths;

/// The metapackage that names the current kernel package.
const KERNEL_META: &str = "linux-image-arm64:arm64";
/// Statically linked busybox: runs without a libc in the initramfs.
pub const BUSYBOX_PACKAGE: &str = "busybox-static";
/// Written into an unpacked package directory once `dpkg-deb -x` succeeded, so
/// an interrupted extraction is redone instead of trusted.
const STAMP: &str = ".aerie-unpacked";

/// `target/guest-cache/`.
pub fn cache_dir() -> PathBuf {
    paths::target_dir().join("guest-cache")
}

/// Where package `name` is unpacked: `target/guest-cache/<name>/`.
pub fn unpacked_dir(name: &str) -> PathBuf {
    cache_dir().join(name)
}

/// The kernel package metapackage `meta` (`linux-image-arm64[:arm64]`)
/// depends on, from `apt-cache depends` output
/// (`  Depends: linux-image-6.1.0-56-arm64:arm64`), without the `:arch`.
pub fn kernel_package_from_depends(output: &str, meta: &str) -> Option<String> {
    let meta = meta.split(':').next().unwrap_or(meta);
    output.lines().find_map(|l| {
        let dep = l.trim().strip_prefix("Depends:")?.trim();
        let name = dep.split(':').next()?;
        (name.starts_with("linux-image-") && name != meta).then(|| name.to_string())
    })
}

/// Asks apt which kernel package metapackage `meta` names (for arm64 it
/// needs the arm64 package lists).
pub fn kernel_package_named_by(meta: &str) -> Result<String> {
    let out = cmd::capture(Command::new("apt-cache").args(["depends", meta]))?;
    let text = cmd::text(&out);
    kernel_package_from_depends(&text, meta).with_context(|| {
        format!(
            "`apt-cache depends {meta}` names no linux-image-* package:\n{}",
            cmd::tail(&text, 5)
        )
    })
}

/// Asks apt for the current arm64 kernel package.
pub fn current_kernel_package() -> Result<String> {
    kernel_package_named_by(KERNEL_META)
}

/// The newest kernel package already unpacked in the cache (for offline use
/// when apt cannot answer).
fn cached_kernel_package() -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(cache_dir())
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("linux-image-") && is_unpacked(&unpacked_dir(n)))
        .collect();
    names.sort();
    names.pop()
}

/// The kernel package to use: the current one if apt knows it, else the
/// cached one.
pub fn kernel_package() -> Result<String> {
    match current_kernel_package() {
        Ok(name) => Ok(name),
        Err(e) => cached_kernel_package().ok_or(e),
    }
}

fn is_unpacked(dir: &Path) -> bool {
    dir.join(STAMP).is_file()
}

/// Whether `dir` holds a completely unpacked package.
pub fn is_unpacked_dir(dir: &Path) -> bool {
    is_unpacked(dir)
}

/// Whether package `name` is unpacked in the cache.
pub fn is_package_unpacked(name: &str) -> bool {
    is_unpacked(&unpacked_dir(name))
}

/// Downloads and unpacks package `name` (arm64) unless already unpacked.
pub fn ensure_unpacked(name: &str) -> Result<()> {
    let dir = unpacked_dir(name);
    if is_unpacked(&dir) {
        return Ok(());
    }
    download_and_unpack(name, "arm64", &dir)
}

/// Whether every guest package is unpacked in the cache.
pub fn present() -> Result<bool> {
    let Ok(kernel) = kernel_package() else {
        return Ok(false);
    };
    Ok([kernel.as_str(), BUSYBOX_PACKAGE]
        .iter()
        .all(|p| is_unpacked(&unpacked_dir(p))))
}

/// Downloads and unpacks whichever guest package is missing.
pub fn install() -> Result<()> {
    let kernel = current_kernel_package()?;
    for name in [kernel.as_str(), BUSYBOX_PACKAGE] {
        let dir = unpacked_dir(name);
        if !is_unpacked(&dir) {
            download_and_unpack(name, "arm64", &dir)?;
        }
    }
    Ok(())
}

/// Downloads Debian package `name` for `arch` (`arm64`, `amd64`) into the
/// cache's `debs/` (unless there already) and unpacks it into `dir`.
pub fn download_and_unpack(name: &str, arch: &str, dir: &Path) -> Result<()> {
    let debs = cache_dir().join("debs");
    std::fs::create_dir_all(&debs).with_context(|| format!("creating {}", debs.display()))?;
    let deb = find_deb(&debs, name, arch);
    let deb = match deb {
        Some(deb) => deb,
        None => {
            // apt drops to the `_apt` user for downloads, which cannot write into
            // a root-owned target/; downloading as the caller is what we want.
            let download = || {
                cmd::capture(
                    Command::new("apt-get")
                        .args(["download", "-q", "-o", "APT::Sandbox::User=root"])
                        .arg(format!("{name}:{arch}"))
                        .current_dir(&debs),
                )
            };
            let mut out = download()?;
            if !out.status.success() && crate::setup::is_root() {
                // Stale lists name a version the mirror no longer has: refresh once.
                cmd::run_captured(Command::new("apt-get").args(["update", "-q"]))?;
                out = download()?;
            }
            if !out.status.success() {
                bail!(
                    "`apt-get download {name}:{arch}` failed (try `sudo apt-get update`)\n{}",
                    cmd::tail(&cmd::text(&out), 10)
                );
            }
            find_deb(&debs, name, arch)
                .with_context(|| format!("apt-get download left no {name}_*_{arch}.deb"))?
        }
    };
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    cmd::run_captured(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(dir))?;
    std::fs::write(
        dir.join(STAMP),
        deb.file_name().unwrap_or_default().as_encoded_bytes(),
    )
    .with_context(|| format!("writing {}", dir.join(STAMP).display()))
}

/// `<name>_<version>_<arch>.deb` in `dir`, if downloaded before.
fn find_deb(dir: &Path, name: &str, arch: &str) -> Option<PathBuf> {
    let suffix = format!("_{arch}.deb");
    let prefix = format!("{name}_");
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(&suffix))
        })
}

/// Whether dpkg already accepts arm64 packages.
pub fn arm64_architecture_present() -> Result<bool> {
    let out = cmd::capture(Command::new("dpkg").arg("--print-foreign-architectures"))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == "arm64"))
}

/// Whether apt has arm64 package lists (after `dpkg --add-architecture` they
/// appear only with the next `apt-get update`).
pub fn arm64_lists_present() -> Result<bool> {
    let Ok(out) = Command::new("apt-cache")
        .args(["show", "-q", &format!("{BUSYBOX_PACKAGE}:arm64")])
        .output()
    else {
        return Ok(false);
    };
    Ok(out.status.success() && !out.stdout.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_package_from_apt_cache_depends() {
        let out = "linux-image-arm64:arm64\n  Depends: linux-image-6.1.0-56-arm64:arm64\n";
        assert_eq!(
            kernel_package_from_depends(out, KERNEL_META).as_deref(),
            Some("linux-image-6.1.0-56-arm64")
        );
        // Other dependencies (none today) and junk are skipped.
        let out = "linux-image-arm64\n  Depends: foo\n  Depends: linux-image-6.1.0-99-arm64\n";
        assert_eq!(
            kernel_package_from_depends(out, KERNEL_META).as_deref(),
            Some("linux-image-6.1.0-99-arm64")
        );
        assert_eq!(
            kernel_package_from_depends("W: Unable to locate package\n", KERNEL_META),
            None
        );
    }
}
