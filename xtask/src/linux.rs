//! Building the Linux guest from the cached Debian packages: the kernel Image
//! (copied to `target/aerie/linux.Image`), the counter helper and the initramfs
//! (`target/aerie/linux-initramfs.cpio`), and the boards' device trees the
//! same package carries (`board::prepare_dtbs`).

use std::path::{Path, PathBuf};
use std::process::Command;

use aerie_bootmodule::arm64_image::parse_image_header;
use anyhow::{bail, Context, Result};

use crate::cmd::{self, step};
use crate::guest_pkgs;
use crate::guest_tools;
use crate::initramfs;
use crate::kmod;
use crate::paths;

/// The Debian kernel, as an arm64 Image (Debian's arm64 `vmlinuz` is one,
/// uncompressed).
pub fn kernel_image() -> PathBuf {
    paths::aerie_dir().join("linux.Image")
}

/// The initramfs.
pub fn initramfs() -> PathBuf {
    paths::aerie_dir().join("linux-initramfs.cpio")
}

/// The initramfs plus open-vm-tools' `vmware-rpctool` and `vmware-checkvm`
/// and their libraries (issue 5); built only on request ([`build_tools`]).
pub fn tools_initramfs() -> PathBuf {
    paths::aerie_dir().join("linux-tools-initramfs.cpio")
}

/// The counter helper (an arm64 Linux executable).
fn counter_binary() -> PathBuf {
    paths::aerie_dir().join("aerie-counter")
}

/// The user-space debugger check (an arm64 Linux executable).
fn ptrace_binary() -> PathBuf {
    paths::aerie_dir().join("aerie-ptrace")
}

/// The GuestRPC reply-into-unpopulated-pages check (an arm64 Linux executable).
fn hbpages_binary() -> PathBuf {
    paths::aerie_dir().join("aerie-hbpages")
}

/// The power key listener (an arm64 Linux executable).
fn powerkey_binary() -> PathBuf {
    paths::aerie_dir().join("aerie-powerkey")
}

/// The single file in `dir` whose name starts with `prefix`.
pub fn one_file(dir: &Path, prefix: &str) -> Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    match found.len() {
        1 => Ok(found.pop().expect("one element")),
        0 => bail!("no {prefix}* in {}", dir.display()),
        _ => bail!("several {prefix}* in {}: {found:?}", dir.display()),
    }
}

/// Builds the kernel copy, the counter helper and the initramfs; with
/// `with_tools` also the tools initramfs (fetching open-vm-tools and its
/// libraries first if they are not in the cache).
pub fn build(with_tools: bool) -> Result<()> {
    let package = guest_pkgs::kernel_package()?;
    let kdir = guest_pkgs::unpacked_dir(&package);
    let vmlinuz = one_file(&kdir.join("boot"), "vmlinuz-")?;
    let release = kmod::release_of(&vmlinuz)?;
    let kernel =
        std::fs::read(&vmlinuz).with_context(|| format!("reading {}", vmlinuz.display()))?;
    parse_image_header(&kernel).map_err(|e| {
        anyhow::anyhow!(
            "{} is not an uncompressed arm64 Image: {e}",
            vmlinuz.display()
        )
    })?;
    std::fs::create_dir_all(paths::aerie_dir())?;
    write_if_changed(&kernel_image(), &kernel)?;
    crate::board::prepare_dtbs(&kdir, &package)?;

    build_helper("counter.c", &counter_binary())?;
    build_helper("ptrace.c", &ptrace_binary())?;
    build_helper("hbpages.c", &hbpages_binary())?;
    build_helper("powerkey.c", &powerkey_binary())?;

    let modules = kmod::read_modules(&kdir, &release, &kmod::NEEDED)?;
    let names: Vec<String> = modules
        .iter()
        .map(|(rel, _)| kmod::file_name(rel).to_string())
        .collect();
    let busybox_path = guest_pkgs::unpacked_dir(guest_pkgs::BUSYBOX_PACKAGE).join("bin/busybox");
    let archive = initramfs::archive(initramfs::Inputs {
        busybox: std::fs::read(&busybox_path)
            .with_context(|| format!("reading {}", busybox_path.display()))?,
        counter: std::fs::read(counter_binary())?,
        ptrace: std::fs::read(ptrace_binary())?,
        hbpages: std::fs::read(hbpages_binary())?,
        powerkey: std::fs::read(powerkey_binary())?,
        kernel_release: release.clone(),
        modules,
    });
    let bytes = archive.to_bytes();
    write_if_changed(&initramfs(), &bytes)?;
    if with_tools {
        build_tools(archive)?;
    }
    step(format!(
        "linux {release}: {} and {} ({} bytes; modules: {})",
        paths::show(&kernel_image()),
        paths::show(&initramfs()),
        bytes.len(),
        if names.is_empty() {
            "none needed".to_string()
        } else {
            names.join(" ")
        }
    ));
    Ok(())
}

/// Writes [`tools_initramfs`]: `base` (the plain initramfs) plus the tools.
fn build_tools(mut base: crate::cpio::Archive) -> Result<()> {
    if !guest_tools::present() {
        step("guest tools: fetching open-vm-tools:arm64 and its libraries ...");
        guest_tools::install().context("fetching the guest tools packages")?;
    }
    let payload = guest_tools::payload()?;
    initramfs::add_tools(&mut base, &payload);
    let bytes = base.to_bytes();
    write_if_changed(&tools_initramfs(), &bytes)?;
    let total: usize = payload.report.iter().map(|(_, n)| n).sum();
    let names: Vec<&str> = payload.report.iter().map(|(n, _)| n.as_str()).collect();
    step(format!(
        "linux tools: {} ({} bytes; {} files, {total} bytes: {})",
        paths::show(&tools_initramfs()),
        bytes.len(),
        names.len(),
        names.join(" ")
    ));
    Ok(())
}

/// Writes `bytes` unless the file already holds them (keeps mtimes stable).
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Compiles `tests/linux/<source>` into a static, libc-free arm64
/// executable at `out`.
fn build_helper(source: &str, out: &Path) -> Result<()> {
    let src = paths::root().join("tests/linux").join(source);
    cmd::run_captured(
        Command::new("aarch64-linux-gnu-gcc")
            .args([
                "-static",
                "-nostdlib",
                "-ffreestanding",
                "-fno-stack-protector",
                "-O2",
                "-Wall",
                "-Werror",
                "-Wl,--build-id=none",
                "-o",
            ])
            .arg(out)
            .arg(&src),
    )
}
