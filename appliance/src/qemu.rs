//! QEMU command lines for a deployed appliance (UEFI firmware from Debian's
//! `ovmf` / `qemu-efi-aarch64` packages, every disk on virtio-blk-pci).

use std::path::PathBuf;
use std::process::Command;

use crate::arch::Arch;

/// x86-64 firmware code (Debian `ovmf`).
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
/// x86-64 variable store template; each VM gets a writable copy.
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/// AArch64 firmware code (Debian `qemu-efi-aarch64`), 64 MiB flash image.
pub const AAVMF_CODE: &str = "/usr/share/AAVMF/AAVMF_CODE.fd";
/// AArch64 variable store template.
pub const AAVMF_VARS: &str = "/usr/share/AAVMF/AAVMF_VARS.fd";

/// How the console is wired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// `-nographic -serial mon:stdio`: a terminal, QEMU's monitor on Ctrl-A c.
    Interactive,
    /// `-display none -serial stdio`: for scripts and tests (no monitor).
    Serial,
}

/// A VM to run under QEMU. Paths in `disks` and `vars` are relative to `dir`
/// (or absolute); the command runs in `dir`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QemuVm {
    pub arch: Arch,
    pub dir: PathBuf,
    pub cpus: u32,
    pub memory_mib: u64,
    /// qcow2 images, boot disk first.
    pub disks: Vec<PathBuf>,
    /// Firmware code (read-only pflash).
    pub code: PathBuf,
    /// Writable firmware variable store (pflash unit 1).
    pub vars: PathBuf,
    /// Use KVM (`-enable-kvm -cpu host`) instead of TCG.
    pub kvm: bool,
    /// One virtio network card on QEMU's user-mode network (NAT: the guest
    /// reaches the host as 10.0.2.2 and the world through it).
    pub network: bool,
    /// Host TCP ports forwarded to the guest (with `network`).
    pub forwards: Vec<crate::deploy::Forward>,
}

/// The firmware (code, vars template) for an architecture.
pub fn firmware(arch: Arch) -> (&'static str, &'static str) {
    match arch {
        Arch::X86_64 => (OVMF_CODE, OVMF_VARS),
        Arch::Aarch64 => (AAVMF_CODE, AAVMF_VARS),
    }
}

/// Whether KVM can run `arch` guests here: same host architecture, a
/// read-write `/dev/kvm`, and a short trial run of the firmware under KVM
/// that neither fails nor reports a KVM internal error. The trial matters:
/// nested setups may open /dev/kvm and then fail on the firmware's first
/// real-mode instructions ("KVM internal error. Suberror: 1").
pub fn kvm_usable(arch: Arch) -> bool {
    let opens = Arch::host() == Some(arch)
        && std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok();
    opens && kvm_trial(arch).unwrap_or(false)
}

/// How long the firmware runs under KVM in [`kvm_usable`]'s trial.
const KVM_TRIAL: std::time::Duration = std::time::Duration::from_secs(2);

fn kvm_trial(arch: Arch) -> std::io::Result<bool> {
    use std::io::Read;
    use std::process::Stdio;
    let dir = tempfile::tempdir()?;
    let (code, vars) = firmware(arch);
    let vars_copy = dir.path().join("vars.fd");
    std::fs::copy(vars, &vars_copy)?;
    let vm = QemuVm {
        arch,
        dir: dir.path().to_path_buf(),
        cpus: 1,
        memory_mib: 128,
        disks: Vec::new(),
        code: PathBuf::from(code),
        vars: vars_copy,
        kvm: true,
        network: false,
        forwards: Vec::new(),
    };
    let mut child = Command::new(program(arch))
        .args(qemu_args(&vm, Console::Serial))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let start = std::time::Instant::now();
    let exited = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if start.elapsed() >= KVM_TRIAL {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    Ok(exited.is_none() && !err.contains("KVM internal error"))
}

/// The QEMU program for an architecture.
pub fn program(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "qemu-system-x86_64",
        Arch::Aarch64 => "qemu-system-aarch64",
    }
}

/// The arguments after the program name.
pub fn qemu_args(vm: &QemuVm, console: Console) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |s: &[&str]| a.extend(s.iter().map(|s| s.to_string()));
    match vm.arch {
        Arch::X86_64 => push(&["-machine", "q35"]),
        Arch::Aarch64 => push(&["-M", "virt"]),
    }
    if vm.kvm {
        push(&["-enable-kvm", "-cpu", "host"]);
    } else {
        match vm.arch {
            Arch::X86_64 => push(&["-accel", "tcg"]),
            Arch::Aarch64 => push(&["-accel", "tcg", "-cpu", "max"]),
        }
    }
    push(&[
        "-m",
        &format!("{}M", vm.memory_mib),
        "-smp",
        &vm.cpus.to_string(),
    ]);
    push(&[
        "-drive",
        &format!(
            "if=pflash,format=raw,unit=0,readonly=on,file={}",
            vm.code.display()
        ),
        "-drive",
        &format!("if=pflash,format=raw,unit=1,file={}", vm.vars.display()),
    ]);
    for (i, d) in vm.disks.iter().enumerate() {
        push(&[
            "-drive",
            &format!("if=none,id=disk{i},format=qcow2,file={}", d.display()),
            "-device",
            &format!(
                "virtio-blk-pci,drive=disk{i}{}",
                if i == 0 { ",bootindex=0" } else { "" }
            ),
        ]);
    }
    if vm.network {
        // No option ROM (`romfile=`): the firmware boots from the disk, and
        // efi-virtio.rom is not installed with --no-install-recommends.
        let mut netdev = String::from("user,id=nat");
        for f in &vm.forwards {
            netdev.push_str(",hostfwd=");
            netdev.push_str(&f.hostfwd());
        }
        push(&[
            "-netdev",
            &netdev,
            "-device",
            "virtio-net-pci,netdev=nat,romfile=",
        ]);
    } else {
        push(&["-nic", "none"]);
    }
    match console {
        Console::Interactive => push(&["-nographic", "-serial", "mon:stdio"]),
        Console::Serial => push(&["-display", "none", "-serial", "stdio", "-monitor", "none"]),
    }
    a
}

/// The full command (program, arguments, working directory `vm.dir`).
pub fn qemu_command(vm: &QemuVm, console: Console) -> Command {
    let mut c = Command::new(program(vm.arch));
    c.args(qemu_args(vm, console)).current_dir(&vm.dir);
    c
}

/// Single-quotes for sh when needed.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=,:+@%".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `run.sh`: the interactive command line, run from the script's directory.
pub fn run_script(vm: &QemuVm) -> String {
    // One option per line, with its value.
    let mut lines: Vec<String> = Vec::new();
    for a in qemu_args(vm, Console::Interactive) {
        match lines.last_mut() {
            Some(l) if !a.starts_with('-') && l.starts_with('-') && !l.contains(' ') => {
                l.push(' ');
                l.push_str(&sh_quote(&a));
            }
            _ => lines.push(sh_quote(&a)),
        }
    }
    format!(
        "#!/bin/sh\n# Boots the {arch} configuration under QEMU with UEFI firmware (written by aerie-appliance deploy).\n\
         # Console on this terminal; Ctrl-A x quits.\nset -e\ncd \"$(dirname \"$0\")\"\nexec {} \\\n  {} \"$@\"\n",
        program(vm.arch),
        lines.join(" \\\n  "),
        arch = vm.arch
    )
}
