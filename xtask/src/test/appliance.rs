//! Issue 6: the example appliance (`appliance/examples/hello.toml`: Debian's
//! arm64 and amd64 kernels, a busybox initramfs per architecture) built into
//! one OVA, validated, then deployed and booted three ways:
//! - `appliance-qemu-x86_64`: QEMU x86-64 with OVMF (KVM when it works here,
//!   TCG otherwise) boots BOOTX64.EFI from the system disk;
//! - `appliance-qemu-aarch64`: QEMU AArch64 with AAVMF boots BOOTAA64.EFI;
//! - `appliance-aerie`: the aarch64 configuration as an Aerie VM.
//!
//! Each must print the boot manager's line (UEFI targets), the initramfs's
//! `appliance: hello running on <arch>` and power off cleanly; the aarch64
//! ones also `appliance: data disk says aerie-appliance-data-ok` and then
//! `... data2-ok`: the guest read the aarch64 configuration's two data disks
//! in order (virtio-blk-pci on QEMU, the VM's two virtio-mmio block devices
//! on Aerie). Every boot also pings the NAT
//! network's gateway through the configuration's network card
//! (virtio-net-pci on QEMU's user-mode network; on Aerie the VM's card on the
//! switch, out through the uplink): [`NETWORK_LINE`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use aerie_appliance::{Console, Target};

use super::{clean_exit, judge, log_path, LINUX_TIMEOUT};
use crate::cmd::step;
use crate::output;
use crate::paths;
use crate::run;

/// `target/test-logs/<name>/`: the OVA and the deployment, made afresh.
fn work_dir(name: &str) -> Result<PathBuf, String> {
    let dir = paths::test_logs_dir().join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Builds the example appliance into `dir/hello.ova` and validates it.
fn build_and_validate(dir: &Path) -> Result<PathBuf, String> {
    let spec = paths::root().join("appliance/examples/hello.toml");
    let ova = dir.join("hello.ova");
    let report = aerie_appliance::build(&spec, &ova, &paths::efi_dir(), false)
        .map_err(|e| format!("build: {e:#}"))?;
    step(format!(
        "appliance: built {} ({} bytes, {:?})",
        paths::show(&ova),
        report.ova_bytes,
        report.archs
    ));
    let problems = aerie_appliance::validate(&ova, false).map_err(|e| format!("{e:#}"))?;
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        return Err(format!("validate: {}", lines.join("; ")));
    }
    Ok(ova)
}

/// Deploys to `target` in `dir/deploy`.
fn deploy(ova: &Path, target: Target, dir: &Path) -> Result<aerie_appliance::Deployment, String> {
    aerie_appliance::deploy(ova, target, &dir.join("deploy"), false)
        .map_err(|e| format!("deploy --target {}: {e:#}", target.name()))
}

/// What the aarch64 initramfs prints when it reads the data disks
/// (`target/aerie/appliance/aarch64/data.img` and `data2.img`, the aarch64
/// configuration's extra disks), in the order the guest sees them.
const DATA_DISK_LINES: [&str; 2] = [
    "appliance: data disk says aerie-appliance-data-ok",
    "appliance: data disk says aerie-appliance-data2-ok",
];

/// What every configuration's initramfs prints when its network card
/// reached the gateway.
const NETWORK_LINE: &str = "appliance: network: 10.0.2.2 answers";

/// The lines every boot of the appliance on `arch` must print (among them
/// [`NETWORK_LINE`]); with `data_disk` also [`DATA_DISK_LINES`], in order.
fn check_boot(out: &str, arch: &str, uefi: bool, data_disk: bool) -> Result<(), String> {
    let mut needles = Vec::new();
    if uefi {
        needles.push(format!("aerie-appliance: booting hello on {arch}"));
    }
    if data_disk {
        let first = output::line_index(out, 0, &[DATA_DISK_LINES[0]])
            .ok_or_else(|| format!("no `{}` line", DATA_DISK_LINES[0]))?;
        output::line_index(out, first + 1, &[DATA_DISK_LINES[1]])
            .ok_or_else(|| format!("no `{}` line after the first disk's", DATA_DISK_LINES[1]))?;
    }
    needles.push(NETWORK_LINE.to_string());
    needles.push(format!("appliance: hello running on {arch}"));
    for n in &needles {
        output::require_line(out, n)?;
    }
    Ok(())
}

/// A UEFI target: deploy, run the deployment's QEMU command, check.
pub fn on_qemu(name: &str, target: Target, arch: &str) -> Result<(), String> {
    let dir = work_dir(name)?;
    let ova = build_and_validate(&dir)?;
    let dep = deploy(&ova, target, &dir)?;
    let vm = dep.qemu.as_ref().ok_or("deploy made no QEMU VM")?;
    step(format!(
        "{name}: {} with {}",
        target.name(),
        if vm.kvm { "KVM" } else { "TCG" }
    ));
    let cmd = aerie_appliance::qemu_command(vm, Console::Serial);
    let log = log_path(name);
    let timeout = LINUX_TIMEOUT;
    let outcome = run::run_quiet_command(cmd, Duration::from_secs(timeout), &log)
        .map_err(|e| format!("{e:#}"))?;
    judge(name, &log, timeout, &outcome, |status, out| {
        check_boot(out, arch, true, target == Target::QemuAarch64)?;
        clean_exit(status, out)
    })
}

/// The Aerie target: deploy, then run the deployment's own `run.sh` the
/// way a user would (from its directory, no AERIE_ROOT set: the script
/// names the tree found at deploy time), which boots the generated Aerie VM
/// config with `cargo xtask run --no-build`.
pub fn on_aerie() -> Result<(), String> {
    let name = "appliance-aerie";
    let dir = work_dir(name)?;
    let ova = build_and_validate(&dir)?;
    let dep = deploy(&ova, Target::Aerie, &dir)?;
    dep.aerie_config
        .as_ref()
        .ok_or("deploy wrote no aerie.toml")?;
    let timeout = LINUX_TIMEOUT;
    let mut cmd = std::process::Command::new("sh");
    cmd.arg(&dep.run_script)
        .args(["--no-build", "--timeout", &timeout.to_string()])
        .current_dir(&dep.dir)
        .env_remove("AERIE_ROOT");
    let log = log_path(name);
    // The inner `cargo xtask run` has its own timeout; this one is a backstop.
    let outcome = run::run_quiet_command(cmd, Duration::from_secs(timeout + 60), &log)
        .map_err(|e| format!("{e:#}"))?;
    judge(name, &log, timeout, &outcome, |status, out| {
        check_boot(out, "aarch64", false, true)?;
        clean_exit(status, out)
    })
}
