//! Provisioning: make sure the tools the build and the tests need are present.
//! Each step checks first and installs only what is missing, so running this at
//! the start of every command costs a couple of process spawns. Nothing here asks
//! questions: CI has no terminal.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::cmd::{self, step};
use crate::guest_pkgs;
use crate::paths::TARGET;

/// One provisioning step.
struct Step {
    /// What it provides, as printed: `xtask: <name>: already present`.
    name: &'static str,
    present: fn() -> Result<bool>,
    install: fn() -> Result<()>,
}

/// In order: each step may rely on the ones before it.
const STEPS: &[Step] = &[
    Step {
        name: "rust targets aarch64-unknown-none-softfloat, aarch64-unknown-uefi, x86_64-unknown-uefi",
        present: rust_target_present,
        install: install_rust_target,
    },
    Step {
        name: "qemu-system-aarch64 >= 10",
        present: qemu_present,
        install: install_qemu,
    },
    Step {
        name: "dpkg foreign architecture arm64",
        present: guest_pkgs::arm64_architecture_present,
        install: add_arm64_architecture,
    },
    Step {
        name: "apt package lists for arm64",
        present: guest_pkgs::arm64_lists_present,
        install: apt_update,
    },
    Step {
        name: "guest packages (Debian arm64 kernel, busybox-static) in target/guest-cache",
        present: guest_pkgs::present,
        install: guest_pkgs::install,
    },
    Step {
        name: "aarch64-linux-gnu-gcc (builds the initramfs counter helper)",
        present: cross_gcc_present,
        install: install_cross_gcc,
    },
    Step {
        name: "firmware and appliance tools (qemu-system-x86_64, OVMF, AAVMF, U-Boot, mtools, sgdisk, xmllint)",
        present: appliance_tools_present,
        install: install_appliance_tools,
    },
    Step {
        name: "appliance guest packages (Debian amd64 kernel, busybox-static) in target/guest-cache/amd64",
        present: crate::appliance_guests::present,
        install: crate::appliance_guests::install,
    },
];

/// The Rust targets: Aerie and the testkit, and the appliance's UEFI boot
/// manager for both architectures.
const RUST_TARGETS: [&str; 3] = [TARGET, "aarch64-unknown-uefi", "x86_64-unknown-uefi"];

/// Files the appliance's build, tests and deploy use, from Debian packages.
const APPLIANCE_FILES: [&str; 7] = [
    "/usr/bin/qemu-system-x86_64",
    aerie_appliance::qemu::OVMF_CODE,
    aerie_appliance::qemu::AAVMF_CODE,
    crate::esp::UBOOT,
    "/usr/bin/mdir",
    "/usr/sbin/sgdisk",
    "/usr/bin/xmllint",
];
const APPLIANCE_PACKAGES: [&str; 13] = [
    "install",
    "-y",
    "-q",
    "-t",
    "bookworm-backports",
    "--no-install-recommends",
    "qemu-system-x86",
    "ovmf",
    "qemu-efi-aarch64",
    "u-boot-qemu",
    "mtools",
    "gdisk",
    "libxml2-utils",
];

fn appliance_tools_present() -> Result<bool> {
    Ok(APPLIANCE_FILES.iter().all(|f| Path::new(f).exists()))
}

fn install_appliance_tools() -> Result<()> {
    require_root(
        "installing the appliance tools",
        &[format!("apt-get {}", APPLIANCE_PACKAGES.join(" "))],
    )?;
    cmd::run_captured(&mut apt(&APPLIANCE_PACKAGES))
}

/// Runs every step; fails at the first that cannot be satisfied.
pub fn setup() -> Result<()> {
    for s in STEPS {
        if (s.present)()? {
            step(format!("{}: already present", s.name));
            continue;
        }
        step(format!("{}: installing ...", s.name));
        (s.install)().with_context(|| format!("setup step `{}`", s.name))?;
        if !(s.present)()? {
            bail!("setup step `{}`: still missing after installing", s.name);
        }
        step(format!("{}: installed", s.name));
    }
    Ok(())
}

fn rust_target_present() -> Result<bool> {
    // rustup knows best; without rustup, look in the sysroot.
    if let Ok(out) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    {
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            return Ok(RUST_TARGETS
                .iter()
                .all(|t| text.lines().any(|l| l.trim() == *t)));
        }
    }
    let out = cmd::capture(Command::new("rustc").args(["--print", "sysroot"]))?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(RUST_TARGETS
        .iter()
        .all(|t| Path::new(&sysroot).join("lib/rustlib").join(t).is_dir()))
}

fn install_rust_target() -> Result<()> {
    cmd::run(
        Command::new("rustup")
            .arg("target")
            .arg("add")
            .args(RUST_TARGETS),
    )
}

/// Major version from `QEMU emulator version 10.0.2 (...)`.
pub fn qemu_major(version_output: &str) -> Option<u32> {
    let rest = version_output.split("version ").nth(1)?;
    rest.split('.').next()?.trim().parse().ok()
}

fn qemu_present() -> Result<bool> {
    let Ok(out) = Command::new("qemu-system-aarch64")
        .arg("--version")
        .output()
    else {
        return Ok(false);
    };
    Ok(qemu_major(&String::from_utf8_lossy(&out.stdout)).is_some_and(|v| v >= 10))
}

const BACKPORTS_FILE: &str = "/etc/apt/sources.list.d/aerie-backports.sources";
const BACKPORTS_SOURCE: &str = "Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";
const APT_INSTALL: [&str; 7] = [
    "install",
    "-y",
    "-t",
    "bookworm-backports",
    "--no-install-recommends",
    "qemu-system-arm",
    "-q",
];

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Whether any apt source file already names bookworm-backports.
fn backports_configured() -> bool {
    let mut files = vec![Path::new("/etc/apt/sources.list").to_path_buf()];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        files.extend(dir.flatten().map(|e| e.path()));
    }
    files
        .iter()
        .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("bookworm-backports")))
}

/// `apt-get ARGS`, never asking.
fn apt(args: &[&str]) -> Command {
    let mut c = Command::new("apt-get");
    c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    c
}

/// Fails with the commands to run by hand when not root.
fn require_root(what: &str, commands: &[String]) -> Result<()> {
    if is_root() {
        return Ok(());
    }
    eprintln!("xtask: {what} needs root. Run:");
    for c in commands {
        eprintln!("  sudo {c}");
    }
    bail!("{what}: not root, cannot install");
}

fn add_arm64_architecture() -> Result<()> {
    require_root(
        "adding the arm64 architecture",
        &[
            "dpkg --add-architecture arm64".into(),
            "apt-get update".into(),
        ],
    )?;
    cmd::run_captured(Command::new("dpkg").args(["--add-architecture", "arm64"]))
}

fn apt_update() -> Result<()> {
    require_root("apt-get update", &["apt-get update".into()])?;
    cmd::run_captured(&mut apt(&["update", "-q"]))
}

fn cross_gcc_present() -> Result<bool> {
    Ok(Command::new("aarch64-linux-gnu-gcc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success()))
}

fn install_cross_gcc() -> Result<()> {
    const ARGS: [&str; 5] = [
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "gcc-aarch64-linux-gnu",
    ];
    require_root(
        "installing gcc-aarch64-linux-gnu",
        &[format!("apt-get {}", ARGS.join(" "))],
    )?;
    cmd::run_captured(&mut apt(&ARGS))
}

fn install_qemu() -> Result<()> {
    let need_source = !backports_configured();
    if !is_root() {
        eprintln!("xtask: QEMU >= 10 is missing and installing it needs root. Run:");
        if need_source {
            eprintln!("  sudo tee {BACKPORTS_FILE} <<'EOF'\n{BACKPORTS_SOURCE}EOF");
        }
        eprintln!("  sudo apt-get update");
        eprintln!(
            "  sudo DEBIAN_FRONTEND=noninteractive apt-get {}",
            APT_INSTALL.join(" ")
        );
        bail!("QEMU >= 10 missing (not root, cannot install)");
    }
    if need_source {
        step(format!("adding bookworm-backports: {BACKPORTS_FILE}"));
        std::fs::write(BACKPORTS_FILE, BACKPORTS_SOURCE)
            .with_context(|| format!("writing {BACKPORTS_FILE}"))?;
    }
    cmd::run(&mut apt(&["update", "-q"]))?;
    cmd::run(&mut apt(&APT_INSTALL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qemu_version() {
        assert_eq!(
            qemu_major("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\n"),
            Some(10)
        );
        assert_eq!(qemu_major("QEMU emulator version 7.2.15"), Some(7));
        assert_eq!(qemu_major("garbage"), None);
    }

    #[test]
    fn backports_source_is_deb822() {
        for key in ["Types: deb", "Suites: bookworm-backports", "Signed-By: "] {
            assert!(
                BACKPORTS_SOURCE.lines().any(|l| l.starts_with(key)),
                "{key}"
            );
        }
    }
}
