//! `cargo xtask run`: boot Aerie in QEMU with a set of VMs and judge the run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aerie_bootmodule::{VmImage, WorldImage};
use aerie_vmconfig::Config;
use anyhow::{bail, Context, Result};

use crate::board::Board;
use crate::builtin_vms::{linux_config, linux_tools_config, testkit_config};
use crate::cmd::step;
use crate::disk::DiskError;
use crate::output;
use crate::paths;
use crate::qemu::{self, Boot, Console, Firmware, Outcome, QemuOptions, Status, Uplink};

/// Exit status when the timeout expires (as timeout(1)).
pub const EXIT_TIMEOUT: i32 = 124;
/// Exit status for a bad config or bad arguments, before QEMU starts.
pub const EXIT_USAGE: i32 = 2;

/// Which VMs to boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Guest {
    /// One Linux VM ("linux": 2 vCPUs, 256M, the Debian kernel and the
    /// initramfs, the whole host disk) with this kernel command line.
    Linux { cmdline: String },
    /// As `Linux`, booting the tools initramfs (open-vm-tools' `vmware-rpctool`
    /// and `vmware-checkvm` added; see `guest_tools.rs`).
    LinuxTools { cmdline: String },
    /// The testkit alone, with this guest command line (`bench` runs benchmarks).
    Testkit { cmdline: String },
    /// VMs from a config file.
    Config(PathBuf),
}

impl Guest {
    /// The testkit alone, with its default command line.
    pub fn testkit() -> Guest {
        Guest::Testkit {
            cmdline: String::new(),
        }
    }
}

/// `cargo xtask run` options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunArgs {
    pub guest: Guest,
    /// `--board`: the machine QEMU emulates.
    pub board: Board,
    pub cpu: String,
    pub smp: u32,
    /// `--gic`: the `virt` machine's GIC version, 3 (default) or 2 (a
    /// GIC-400-like GICv2 with the Virtualization Extensions).
    pub gic_version: u32,
    pub timeout: Option<u64>,
    pub log: String,
    pub append: String,
    pub icount: bool,
    /// `--disk FILE`: the host disk image (default `target/aerie/disk.img`).
    pub disk: Option<PathBuf>,
    /// Skip setup and build (use the Images already in target/aerie).
    pub no_build: bool,
    /// `--forward HOSTPORT:GUESTIP:GUESTPORT` rules: TCP ports of the host
    /// forwarded into the VMs' network through the uplink.
    pub forwards: Vec<String>,
    /// `--uefi`: boot through UEFI firmware and Aerie's loader (`loader/`)
    /// from an EFI System Partition, as a board would, instead of `-kernel`;
    /// `--acpi`: with the firmware describing the machine by ACPI tables.
    pub firmware: Firmware,
}

/// The default Linux VM's kernel command line: the PL011 console, with
/// earlycon so a kernel that dies early still says why, and its network
/// card set up for QEMU's user-mode network behind Aerie's uplink (the
/// address QEMU's own DHCP would give, the host as gateway, its DNS).
pub const LINUX_CMDLINE: &str = "console=ttyAMA0 earlycon=pl011,0x09000000 \
aerie.ip=10.0.2.15/24 aerie.gw=10.0.2.2 aerie.dns=10.0.2.3";

impl Default for RunArgs {
    fn default() -> Self {
        RunArgs {
            guest: Guest::Linux {
                cmdline: LINUX_CMDLINE.into(),
            },
            board: Board::Virt,
            cpu: "cortex-a72".into(),
            smp: 2,
            gic_version: 3,
            timeout: None,
            log: "info".into(),
            append: String::new(),
            icount: false,
            disk: None,
            no_build: false,
            forwards: Vec::new(),
            firmware: Firmware::Kernel,
        }
    }
}

pub const USAGE: &str = "usage: cargo xtask run [--guest linux|linux-tools|testkit | --config FILE] \
[--board virt|imx8mp-evk|xlnx-versal-virt|raspi4b|xlnx-zcu102] [--cpu cortex-a72|max] [--smp N] [--gic 2|3] [--timeout SECS] [--log debug|info|warn] [--append \"aerie args\"] [--icount] [--disk FILE] \
[--forward HOSTPORT:GUESTIP:GUESTPORT]... [--uefi [--acpi] | --uboot] [--no-build]

Default: one Linux VM (2 vCPUs, 256M) with a shell on the console; `poweroff` in it ends the run.
When a VM has a network card ([vm.net]), the machine gets one on QEMU's user-mode network
(10.0.2.0/24, the host at 10.0.2.2): the uplink of Aerie's switch. --forward passes a TCP
port of the host (127.0.0.1) to a VM's address and port on it.
--uefi boots as a board does: UEFI firmware (AAVMF) starts Aerie's loader from an EFI System
Partition (the disk image target/aerie/esp.img: EFI/BOOT/BOOTAA64.EFI, aerie/aerie.Image,
aerie/bootmodule.bin, aerie/cmdline.txt; `cargo xtask esp` writes one without running QEMU).
The firmware describes the machine by a device tree; with --acpi by ACPI tables, as servers'
firmware does, which the loader turns into the device tree Aerie reads.
--uboot boots as most boards do: U-Boot (Debian's build for virt) finds extlinux/extlinux.conf
on the same disk image and starts Aerie with `booti`, the boot module as its initrd.
--board imx8mp-evk boots on QEMU's model of NXP's i.MX 8M Plus EVK (4 Cortex-A53, --smp 1..4)
with the board's own device tree from Debian's kernel package: a real board's machine, no
virtio (the host disk is an SD card in its slot, a power of two in size; the uplink is its own
Ethernet), no --cpu, --uefi or --icount. --board xlnx-versal-virt
boots on QEMU's Xilinx Versal board (2 Cortex-A72, a GIC with two security states).
--board raspi4b boots on QEMU's Raspberry Pi 4 Model B (4 Cortex-A72, a GIC-400: Aerie's GICv2
build) with the board's own device tree: the host disk is an SD card (a power of two in size),
and there is no network card, so no uplink and no --forward.
--board xlnx-zcu102 boots on QEMU's Xilinx ZCU102 (4 Cortex-A53, --smp 1..4, a GIC-400: Aerie's
GICv2 build) with the board's own device tree: the console its Cadence UART, the host disk an
SD card (a power of two in size), the uplink its own Ethernet (GEM3, a Cadence GEM).
--gic 2 gives `virt` a GICv2 with the Virtualization Extensions (as a GIC-400 board has) and
boots aerie-gicv2.Image, Aerie's build for it (with --uefi the loader picks it by the GIC the
firmware describes); the guests get a GICv2 too.";

/// Parses `run`'s flags.
pub fn parse_args(args: &[String]) -> Result<RunArgs, String> {
    let mut r = RunArgs::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--guest" => match value()?.as_str() {
                "linux" => {
                    r.guest = Guest::Linux {
                        cmdline: LINUX_CMDLINE.into(),
                    }
                }
                "linux-tools" => {
                    r.guest = Guest::LinuxTools {
                        cmdline: LINUX_CMDLINE.into(),
                    }
                }
                "testkit" => r.guest = Guest::testkit(),
                other => {
                    return Err(format!(
                        "--guest {other}: unknown guest (known: linux, linux-tools, testkit)"
                    ))
                }
            },
            "--disk" => r.disk = Some(value()?.into()),
            "--forward" => {
                let rule = value()?;
                qemu::hostfwd(&rule)?;
                r.forwards.push(rule);
            }
            "--config" => r.guest = Guest::Config(value()?.into()),
            "--board" => {
                let name = value()?;
                r.board = Board::parse(&name).ok_or(format!(
                    "--board {name}: unknown board (known: {})",
                    Board::names()
                ))?;
            }
            "--cpu" => {
                let cpu = value()?;
                if !["cortex-a72", "max"].contains(&cpu.as_str()) {
                    return Err(format!("--cpu {cpu}: use cortex-a72 or max"));
                }
                r.cpu = cpu;
            }
            "--smp" => {
                let v = value()?;
                r.smp = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=8).contains(n))
                    .ok_or(format!("--smp {v}: expected 1..=8"))?;
            }
            "--gic" => {
                let v = value()?;
                r.gic_version = match v.as_str() {
                    "2" => 2,
                    "3" => 3,
                    _ => return Err(format!("--gic {v}: use 2 or 3")),
                };
            }
            "--timeout" => {
                let v = value()?;
                r.timeout = Some(
                    v.parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or(format!("--timeout {v}: expected seconds > 0"))?,
                );
            }
            "--log" => {
                let level = value()?;
                if !["debug", "info", "warn"].contains(&level.as_str()) {
                    return Err(format!("--log {level}: use debug, info or warn"));
                }
                r.log = level;
            }
            "--append" => r.append = value()?,
            "--icount" => r.icount = true,
            "--uefi" if r.firmware == Firmware::Kernel => r.firmware = Firmware::UefiDeviceTree,
            "--uefi" if r.firmware == Firmware::UBoot => {
                return Err("--uefi and --uboot: one firmware at a time".into())
            }
            "--uefi" => {}
            "--acpi" if r.firmware == Firmware::UBoot => {
                return Err("--acpi: U-Boot describes the machine by its device tree".into())
            }
            "--acpi" => r.firmware = Firmware::UefiAcpi,
            "--uboot" if r.firmware.is_uefi() => {
                return Err("--uefi and --uboot: one firmware at a time".into())
            }
            "--uboot" => r.firmware = Firmware::UBoot,
            "--no-build" => r.no_build = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if r.board != Board::Virt {
        let given = |flag: &str| args.iter().any(|a| a == flag);
        for flag in ["--cpu", "--gic", "--uefi", "--acpi", "--uboot", "--icount"] {
            if given(flag) {
                return Err(format!("{flag}: not with --board {}", r.board.name()));
            }
        }
        if !r.board.takes_uplink() && !r.forwards.is_empty() {
            return Err(format!(
                "--forward: the {} has no network card for the uplink",
                r.board.name()
            ));
        }
        if given("--smp") && !r.board.cpus_chosen() {
            return Err(format!(
                "--smp: the {} has {} CPUs, always",
                r.board.name(),
                r.board.max_cpus()
            ));
        }
        if !given("--smp") {
            r.smp = r.board.max_cpus();
        }
        r.gic_version = r.board.gic_version().unwrap_or(3);
        if r.smp > r.board.max_cpus() {
            return Err(format!(
                "--smp {}: the {} has {} CPUs",
                r.smp,
                r.board.name(),
                r.board.max_cpus()
            ));
        }
    }
    Ok(r)
}

/// Why a run could not start.
pub enum PrepareError {
    /// The config (or an image it names) is bad: exit 2, QEMU never starts.
    Config(String),
    /// Anything else (setup or build failed, I/O).
    Other(anyhow::Error),
}

impl From<anyhow::Error> for PrepareError {
    fn from(e: anyhow::Error) -> Self {
        PrepareError::Other(e)
    }
}

/// For callers that only report it (tests, benchmarks): the message.
impl PrepareError {
    /// The exit code of a command that could not start: [`EXIT_USAGE`] for
    /// a bad config, 1 for anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            PrepareError::Config(_) => EXIT_USAGE,
            PrepareError::Other(_) => 1,
        }
    }

    /// Prints `error: <what>` and hands back [`Self::exit_code`].
    pub fn report(self) -> i32 {
        let code = self.exit_code();
        eprintln!("error: {}", String::from(self));
        code
    }
}

impl From<PrepareError> for String {
    fn from(e: PrepareError) -> Self {
        match e {
            PrepareError::Config(m) => m,
            PrepareError::Other(e) => format!("{e:#}"),
        }
    }
}

impl From<PrepareError> for anyhow::Error {
    fn from(e: PrepareError) -> Self {
        match e {
            PrepareError::Config(m) => anyhow::anyhow!(m),
            PrepareError::Other(e) => e,
        }
    }
}

/// A file-name-safe form of a command line, for naming boot modules.
fn stem_of(cmdline: &str) -> String {
    let s: String = cmdline
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(48)
        .collect();
    s
}

/// What a prepared run needs: the boot module and, when a VM has a disk
/// region, the host disk file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    pub bootmodule: PathBuf,
    pub disk: Option<PathBuf>,
    /// How many VMs the boot module holds.
    pub vms: usize,
    /// Some VM has a network card that reaches the uplink: the machine gets
    /// a card too, the uplink of Aerie's switch.
    pub uplink: bool,
}

/// Loads the VMs, builds (unless `no_build`), checks the image files, makes
/// sure the host disk (`disk`, default `target/aerie/disk.img`) exists and is
/// large enough if any VM has a disk region, and writes the boot module.
pub fn prepare(
    guest: &Guest,
    no_build: bool,
    disk: Option<&Path>,
) -> Result<Prepared, PrepareError> {
    prepare_for(guest, no_build, disk, Board::Virt, 3)
}

/// [`prepare`] for `board` with a GIC of version `gic`: the boot module
/// carries the symbols of the Aerie build that drives it, and on a board
/// with no host disk Aerie drives the built-in Linux VMs go without theirs.
pub fn prepare_for(
    guest: &Guest,
    no_build: bool,
    disk: Option<&Path>,
    board: Board,
    gic: u32,
) -> Result<Prepared, PrepareError> {
    let diskless = |mut config: Config| {
        if !board.takes_disk() {
            for vm in &mut config.vms {
                vm.disks.clear();
            }
        }
        config
    };
    let (config, stem) = match guest {
        Guest::Linux { cmdline } if cmdline == LINUX_CMDLINE => {
            (diskless(linux_config(cmdline)), "linux".to_string())
        }
        Guest::Linux { cmdline } => (
            diskless(linux_config(cmdline)),
            format!("linux-{}", stem_of(cmdline)),
        ),
        Guest::LinuxTools { cmdline } => {
            if !no_build {
                crate::setup::setup()?;
                crate::build::build_with(true)?;
            }
            let config = diskless(linux_tools_config(cmdline));
            // Built above: the shared path below must not rebuild.
            return prepare_config_for(&config, "linux-tools", true, disk, gic);
        }
        Guest::Testkit { cmdline } if cmdline.is_empty() => {
            (testkit_config(""), "testkit".to_string())
        }
        Guest::Testkit { cmdline } => (
            testkit_config(cmdline),
            format!("testkit-{}", stem_of(cmdline)),
        ),
        Guest::Config(path) => {
            let config =
                aerie_vmconfig::load(path).map_err(|e| PrepareError::Config(e.to_string()))?;
            let stem = path
                .file_stem()
                .map_or("config".into(), |s| s.to_string_lossy().into_owned());
            (config, stem)
        }
    };
    prepare_config_for(&config, &stem, no_build, disk, gic)
}

/// [`prepare`] for a config already in hand; the boot module is
/// `target/aerie/<stem>.bootmodule`.
pub fn prepare_config(
    config: &Config,
    stem: &str,
    no_build: bool,
    disk: Option<&Path>,
) -> Result<Prepared, PrepareError> {
    prepare_config_for(config, stem, no_build, disk, 3)
}

/// [`prepare_config`] for a machine whose GIC is version `gic` (the boot
/// module of a GICv2 run is `<stem>-gicv2.bootmodule`).
pub fn prepare_config_for(
    config: &Config,
    stem: &str,
    no_build: bool,
    disk: Option<&Path>,
    gic: u32,
) -> Result<Prepared, PrepareError> {
    if !no_build {
        crate::setup::setup()?;
        crate::build::build()?;
    }
    config
        .check_files()
        .map_err(|e| PrepareError::Config(e.to_string()))?;
    // Read once: checked here, packed below.
    let programs = config
        .read_programs()
        .map_err(|e| PrepareError::Config(e.to_string()))?;
    require(&paths::hypervisor_image_for(gic))?;
    let disk = match config.disk_end() {
        None => None,
        Some(needed) => {
            let path = disk.map_or_else(crate::disk::default_path, Path::to_path_buf);
            match crate::disk::ensure(&path, needed) {
                Ok(()) => Some(path),
                Err(DiskError::TooSmall { path, len, needed }) => {
                    return Err(PrepareError::Config(format!(
                        "host disk {}: {len} bytes, but the VMs' `disk` regions reach byte {needed}",
                        path.display()
                    )))
                }
                Err(DiskError::Io(e)) => return Err(e.into()),
            }
        }
    };
    let stem = if gic == 2 {
        format!("{stem}-gicv2")
    } else {
        stem.to_string()
    };
    let out = paths::aerie_dir().join(format!("{stem}.bootmodule"));
    write_bootmodule(config, &programs, &crate::symtab::load(gic)?, &out)?;
    Ok(Prepared {
        bootmodule: out,
        disk,
        vms: config.vms.len(),
        uplink: config
            .vms
            .iter()
            .any(|vm| vm.net.as_ref().is_some_and(|n| n.uplink)),
    })
}

/// Reads every VM's files and writes the boot module to `out` with the
/// worlds' `programs` (one per `config.worlds`, from
/// [`Config::read_programs`]) and Aerie's packed `symbols` (of the build
/// that boots it, from `symtab::load`).
pub fn write_bootmodule(
    config: &Config,
    programs: &[Vec<u8>],
    symbols: &[u8],
    out: &Path,
) -> Result<()> {
    write_bootmodule_with(config, programs, symbols, out)
}

/// [`write_bootmodule`] with Aerie's packed symbol table given.
fn write_bootmodule_with(
    config: &Config,
    programs: &[Vec<u8>],
    symbols: &[u8],
    out: &Path,
) -> Result<()> {
    let vms = &config.vms;
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let mut files = Vec::new();
    for vm in vms {
        let kernel = read(&vm.kernel)?;
        let initrd = vm.initrd.as_deref().map(read).transpose()?;
        let guestinfo = aerie_bootmodule::encode_guestinfo(
            vm.guestinfo.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let more_disks = aerie_bootmodule::encode_disks(vm.disks.get(1..).unwrap_or_default());
        files.push((kernel, initrd, guestinfo, more_disks));
    }
    let images: Vec<VmImage> = vms
        .iter()
        .zip(&files)
        .enumerate()
        .map(
            |(i, (vm, (kernel, initrd, guestinfo, more_disks)))| VmImage {
                name: &vm.name,
                vcpus: vm.vcpus,
                memory: vm.memory,
                kernel,
                initrd: initrd.as_deref(),
                cmdline: &vm.cmdline,
                disk: vm.disks.first().copied(),
                more_disks,
                backdoor: vm.backdoor,
                guestinfo,
                fixed_clock: !vm.cpufreq,
                net: config.net_card(i),
            },
        )
        .collect();
    let worlds: Vec<WorldImage> = config
        .worlds
        .iter()
        .zip(programs)
        .map(|(w, program)| WorldImage {
            name: &w.name,
            program,
            arg: &w.arg,
            control: config.world_control(w),
            operations: w.operations,
        })
        .collect();
    let bytes = aerie_bootmodule::write(&images, &worlds, Some(symbols));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    let worlds = match worlds.len() {
        0 => String::new(),
        1 => ", 1 world".to_string(),
        n => format!(", {n} worlds"),
    };
    step(format!(
        "boot module {} ({} VM{}{worlds}, {} bytes, {} of them Aerie's symbols)",
        paths::show(out),
        vms.len(),
        if vms.len() == 1 { "" } else { "s" },
        bytes.len(),
        symbols.len()
    ));
    Ok(())
}

/// The judgement on one run: exit code for `cargo xtask run` and one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub code: i32,
    pub message: String,
}

/// Judges a finished run. `expect_testkit`: a `testkit: P passed, 0 failed` line
/// is required for success.
pub fn judge(outcome: &Outcome, timeout_secs: Option<u64>, expect_testkit: bool) -> Verdict {
    let qemu = match outcome.status {
        Status::Exited(c) => format!("QEMU exit {c}"),
        Status::Signalled => "QEMU killed by a signal".into(),
        Status::TimedOut => format!("timeout after {} s", timeout_secs.unwrap_or(0)),
    };
    let testkit = output::testkit_result(&outcome.output);
    let summary = match testkit {
        Some((p, f)) => format!("testkit {p} passed, {f} failed; {qemu}"),
        None if expect_testkit => format!("no testkit summary; {qemu}"),
        None => qemu,
    };
    let fail = |code, why: &str| Verdict {
        code,
        message: format!("FAIL ({why}): {summary}"),
    };
    match outcome.status {
        Status::TimedOut => return fail(EXIT_TIMEOUT, "timeout"),
        Status::Signalled => return fail(1, "QEMU killed"),
        Status::Exited(c) if c != 0 => {
            let why = if output::has_panic(&outcome.output) {
                "aerie panic"
            } else {
                "QEMU exit status"
            };
            return fail(c, why);
        }
        Status::Exited(_) => {}
    }
    if output::has_panic(&outcome.output) {
        return fail(1, "aerie panic");
    }
    if expect_testkit {
        match testkit {
            Some((_, 0)) => {}
            Some(_) => return fail(1, "testkit failures"),
            None => return fail(1, "testkit did not report"),
        }
    }
    Verdict {
        code: 0,
        message: format!("PASS: {summary}"),
    }
}

/// `cargo xtask run ARGS`; returns the process exit code.
pub fn main(args: &[String]) -> i32 {
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return EXIT_USAGE;
        }
    };
    let prepared = match prepare_for(
        &args.guest,
        args.no_build,
        args.disk.as_deref(),
        args.board,
        args.gic_version,
    ) {
        Ok(p) => p,
        Err(e) => return e.report(),
    };
    if let Err(e) = crate::disk::fits_board(prepared.disk.as_deref(), args.board) {
        eprintln!("error: {e}");
        return EXIT_USAGE;
    }
    let on_virt = args.board == Board::Virt;
    let opts = QemuOptions {
        board: args.board,
        cpu: args.cpu.clone(),
        smp: args.smp,
        gic_version: args.gic_version,
        boot: Boot::Aerie {
            bootmodule: prepared.bootmodule,
            log: args.log.clone(),
            append: args.append.clone(),
            firmware: args.firmware,
        },
        icount: args.icount.then_some(qemu::icount::EXACT),
        disk: prepared.disk.clone(),
        uplink: prepared.uplink.then(|| Uplink {
            forwards: args.forwards.clone(),
            ..Uplink::default()
        }),
        qmp: None,
    };
    step(format!(
        "run: QEMU {} -smp {}{}{} (Ctrl-] x quits{}{})",
        if on_virt {
            format!("-cpu {}", opts.cpu)
        } else {
            format!("-M {} (its own device tree)", opts.board.name())
        },
        opts.smp,
        if args.firmware.is_uefi() {
            format!(
                ", UEFI firmware and loader from {}",
                paths::show(&crate::esp::image())
            )
        } else if args.firmware == Firmware::UBoot {
            format!(
                ", U-Boot's distro boot from {}",
                paths::show(&crate::esp::image())
            )
        } else {
            String::new()
        },
        opts.disk
            .as_ref()
            .map_or(String::new(), |d| format!(", host disk {}", paths::show(d))),
        if prepared.vms > 1 {
            format!(
                "; Ctrl-A 1..{} picks the VM that gets keystrokes",
                prepared.vms
            )
        } else {
            String::new()
        },
        if matches!(args.guest, Guest::Linux { .. } | Guest::LinuxTools { .. }) {
            "; `poweroff` in the guest or Ctrl-A b (its power button) ends the run"
        } else {
            ""
        }
    ));
    let outcome = match qemu::run(&opts, args.timeout.map(Duration::from_secs), Console::Live) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            return 1;
        }
    };
    if outcome.status == Status::TimedOut {
        println!("xtask: timeout after {} s", args.timeout.unwrap_or(0));
    }
    let expect_testkit = matches!(args.guest, Guest::Testkit { .. });
    let verdict = judge(&outcome, args.timeout, expect_testkit);
    step(format!("run: {}", verdict.message));
    verdict.code
}

/// Runs QEMU quietly for tests and benchmarks, saving the output to `log`.
pub fn run_quiet(opts: &QemuOptions, timeout: Duration, log: &Path) -> Result<Outcome> {
    run_quiet_scripted(opts, timeout, log, &[])
}

/// [`run_quiet`], typing `keys` on the console as their triggers appear.
pub fn run_quiet_scripted(
    opts: &QemuOptions,
    timeout: Duration,
    log: &Path,
    keys: &[qemu::Keys],
) -> Result<Outcome> {
    let outcome = qemu::run_scripted(opts, Some(timeout), Console::Quiet, keys)?;
    write_log(log, &qemu::command(opts, false), &outcome)?;
    Ok(outcome)
}

/// Runs `cmd` (a QEMU command line made elsewhere) quietly, logged like
/// [`run_quiet`].
pub fn run_quiet_command(cmd: Command, timeout: Duration, log: &Path) -> Result<Outcome> {
    run_quiet_command_scripted(cmd, timeout, log, &[])
}

/// [`run_quiet_command`] for a command line that boots Aerie: a run that
/// times out gets `Ctrl-A d` first, as [`run_quiet`]'s do.
pub fn run_quiet_aerie_command(cmd: Command, timeout: Duration, log: &Path) -> Result<Outcome> {
    logged(cmd, log, |cmd| qemu::run_aerie_command(cmd, timeout))
}

/// [`run_quiet_command`], typing `keys` on the console.
pub fn run_quiet_command_scripted(
    cmd: Command,
    timeout: Duration,
    log: &Path,
    keys: &[qemu::Keys],
) -> Result<Outcome> {
    logged(cmd, log, |cmd| {
        qemu::run_command_scripted(cmd, timeout, keys)
    })
}

/// Runs `cmd` with `run`, then writes its command line, output and end to
/// `log`.
fn logged(
    cmd: Command,
    log: &Path,
    run: impl FnOnce(Command) -> Result<Outcome>,
) -> Result<Outcome> {
    let shown = crate::cmd::describe(&cmd);
    let outcome = run(cmd)?;
    write_log_text(log, &shown, &outcome)?;
    Ok(outcome)
}

/// `log`: the command line, what QEMU printed, how it ended.
fn write_log(log: &Path, cmd: &Command, outcome: &Outcome) -> Result<()> {
    write_log_text(log, &crate::cmd::describe(cmd), outcome)
}

fn write_log_text(log: &Path, cmd: &str, outcome: &Outcome) -> Result<()> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut text = format!("$ {cmd}\n");
    text.push_str(&outcome.output);
    text.push_str(&format!(
        "\n[xtask: {:?} after {:.1} s]\n",
        outcome.status,
        outcome.elapsed.as_secs_f64()
    ));
    std::fs::write(log, text).with_context(|| format!("writing {}", log.display()))
}

/// Fails unless `path` exists (used before QEMU runs that need an Image).
pub fn require(path: &Path) -> Result<()> {
    if !path.is_file() {
        bail!("{} is missing (run `cargo xtask build`)", paths::show(path));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
