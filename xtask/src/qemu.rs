//! Starting Aerie under QEMU, with the console echoed live and/or captured, and
//! an optional timeout.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::board::Board;
use crate::paths;

/// What QEMU boots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Boot {
    /// Aerie at EL2 with the boot module as its initrd, on a 1G machine.
    Aerie {
        /// The boot module, passed as `-initrd`.
        bootmodule: PathBuf,
        /// `aerie.log=` level.
        log: String,
        /// Extra Aerie command-line arguments.
        append: String,
        /// What starts Aerie: QEMU's `-kernel`, or UEFI firmware.
        firmware: Firmware,
    },
    /// A guest directly at EL1, no hypervisor: the baseline Aerie is measured
    /// and checked against. The machine is the VM Aerie would give it.
    Native {
        kernel: PathBuf,
        initrd: PathBuf,
        cmdline: String,
        /// Guest RAM in MiB.
        memory_mib: u64,
    },
}

/// What starts Aerie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    /// QEMU itself (`-kernel`), with its device tree in x0.
    Kernel,
    /// UEFI firmware (AAVMF) and Aerie's loader from an EFI System Partition
    /// disk image ([`crate::esp`]), the firmware describing the machine by a
    /// device tree (QEMU's `acpi=off`).
    UefiDeviceTree,
    /// The same, the firmware giving ACPI tables and no device tree (QEMU's
    /// default, and what servers' firmware does): the loader writes the
    /// tree from them.
    UefiAcpi,
    /// U-Boot (Debian's build for `virt`, at EL2) and its distro boot: it
    /// finds `extlinux/extlinux.conf` on the same boot disk and starts
    /// Aerie by `booti`, as most boards' boot loader would.
    UBoot,
}

impl Firmware {
    pub fn is_uefi(self) -> bool {
        matches!(self, Firmware::UefiDeviceTree | Firmware::UefiAcpi)
    }
}

/// `-icount` settings.
pub mod icount {
    /// One instruction = 1 ns of virtual time: trap costs are exact.
    pub const EXACT: &str = "shift=0";
    /// As [`EXACT`], and idle time jumps to the next timer deadline instead of
    /// passing in real time, so a run with idle CPUs (a Linux boot) is exactly
    /// repeatable too.
    pub const EXACT_NO_SLEEP: &str = "shift=0,sleep=off";
}

/// What varies between QEMU runs.
#[derive(Clone, Debug)]
pub struct QemuOptions {
    /// The machine. Only `virt` takes `cpu`, `gic_version`, UEFI or a
    /// native boot.
    pub board: Board,
    /// `-cpu`: `cortex-a72` (no VHE, no FGT) or `max`.
    pub cpu: String,
    /// `-smp`: physical CPUs of the virtual machine.
    pub smp: u32,
    /// The machine's GIC: 3, or 4 (GICv4, whose redistributors with
    /// direct virtual LPIs are twice as large, as on GIC-600/700 boards).
    pub gic_version: u32,
    pub boot: Boot,
    /// `-icount` value (see [`icount`]), if any.
    pub icount: Option<&'static str>,
    /// A raw image attached as the machine's virtio-blk device (the host disk).
    pub disk: Option<PathBuf>,
    /// A network card for the machine (Aerie's uplink), on QEMU's user-mode
    /// network; None: no card at all.
    pub uplink: Option<Uplink>,
    /// Commands for QEMU itself through a QMP socket, each once the output
    /// shows its trigger: `system_powerdown` presses the machine's power
    /// button. Apart from the console, so nothing QEMU answers lands in
    /// the guests' lines.
    pub qmp: Option<QmpScript>,
}

/// QMP commands a run sends as their triggers appear (`-qmp
/// unix:<socket>,server=on,wait=off`).
#[derive(Clone, Debug)]
pub struct QmpScript {
    pub socket: PathBuf,
    /// (triggers, command), in order, each waiting until the output holds
    /// every one of its triggers (QMP steps do not wait for [`Keys`]).
    pub steps: Vec<(Vec<String>, String)>,
}

/// The machine's network card: QEMU's user-mode network (10.0.2.0/24, the
/// host at 10.0.2.2, its DNS at 10.0.2.3), with host ports forwarded in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Uplink {
    /// `tcp:<host port>:<guest address>:<guest port>` rules as `cargo xtask
    /// run --forward` takes them (see [`hostfwd`]).
    pub forwards: Vec<String>,
    /// On a board with virtio (QEMU's Versal), the board's own Ethernet
    /// rather than a virtio-net card: as on the hardware, which has no
    /// virtio.
    pub own_ethernet: bool,
}

/// QEMU's `hostfwd` value for a `--forward` rule `HOSTPORT:GUESTIP:GUESTPORT`
/// (TCP, the host side bound to 127.0.0.1), or why the rule is malformed.
pub fn hostfwd(rule: &str) -> Result<String, String> {
    let parts: Vec<&str> = rule.split(':').collect();
    let [host, ip, guest] = parts[..] else {
        return Err(format!(
            "--forward {rule:?}: expected HOSTPORT:GUESTIP:GUESTPORT"
        ));
    };
    let port = |p: &str| p.parse::<u16>().ok().filter(|&n| n != 0);
    let (Some(host), Ok(ip), Some(guest)) =
        (port(host), ip.parse::<std::net::Ipv4Addr>(), port(guest))
    else {
        return Err(format!(
            "--forward {rule:?}: ports are 1..=65535 and the guest address is IPv4, e.g. 8080:10.0.2.15:80"
        ));
    };
    Ok(format!("tcp:127.0.0.1:{host}-{ip}:{guest}"))
}

impl QemuOptions {
    /// Aerie booting `bootmodule` on 2 pCPUs of model `cpu`, at log level
    /// info with nothing appended, started by `firmware`, with no disk and
    /// no uplink.
    pub fn aerie(cpu: &str, bootmodule: PathBuf, firmware: Firmware) -> Self {
        QemuOptions {
            board: Board::Virt,
            cpu: cpu.into(),
            smp: 2,
            gic_version: 3,
            boot: Boot::Aerie {
                bootmodule,
                log: "info".into(),
                append: String::new(),
                firmware,
            },
            icount: None,
            disk: None,
            uplink: None,
            qmp: None,
        }
    }

    /// The built Linux guest (kernel and initramfs) booted by QEMU itself at
    /// EL1, no Aerie: `smp` CPUs of model `cpu` on `virt` with a GICv3,
    /// `memory_mib` of RAM and `cmdline`; no disk, no uplink, no `-icount`.
    pub fn native_linux(cpu: &str, smp: u32, cmdline: &str, memory_mib: u64) -> Self {
        QemuOptions {
            smp,
            boot: Boot::Native {
                kernel: crate::linux::kernel_image(),
                initrd: crate::linux::initramfs(),
                cmdline: cmdline.into(),
                memory_mib,
            },
            ..QemuOptions::aerie(cpu, PathBuf::new(), Firmware::Kernel)
        }
    }

    /// Aerie booting `bootmodule` on `smp` pCPUs of model `cpu` for a
    /// measurement: under `-icount shift=0,sleep=off` (exact and
    /// repeatable), logging at `log` (`aerie.log=`), with `append` on its
    /// command line.
    pub fn measured(cpu: &str, smp: u32, bootmodule: PathBuf, log: &str, append: &str) -> Self {
        QemuOptions {
            smp,
            boot: Boot::Aerie {
                bootmodule,
                log: log.into(),
                append: append.into(),
                firmware: Firmware::Kernel,
            },
            icount: Some(icount::EXACT_NO_SLEEP),
            ..QemuOptions::aerie(cpu, PathBuf::new(), Firmware::Kernel)
        }
    }
}

/// Whether the console is shown while QEMU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// Echo output live; pass a terminal stdin through so the user can type.
    Live,
    /// Capture only (integration tests, benchmarks).
    Quiet,
}

/// How QEMU ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    /// Killed by a signal other than ours.
    Signalled,
    /// We killed it when the timeout expired.
    TimedOut,
}

/// A finished QEMU run.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub status: Status,
    /// stdout and stderr, interleaved as they arrived.
    pub output: String,
    pub elapsed: Duration,
}

/// QEMU's terminal escape in interactive runs: Ctrl-] (0x1d) rather than its
/// default Ctrl-A, which Aerie's console multiplexer uses (Ctrl-A digit picks
/// the VM that gets keystrokes); QEMU would swallow it. `Ctrl-] x` quits.
pub const ESCAPE_CHAR: &str = "0x1d";

/// The full QEMU command line. `interactive` selects `-nographic` (serial and
/// monitor multiplexed on the terminal, `Ctrl-] x` quits: see [`ESCAPE_CHAR`])
/// over a plain serial-on-stdio setup for runs without a terminal.
pub fn command(opts: &QemuOptions, interactive: bool) -> Command {
    command_seeded(opts, interactive, 1)
}

/// [`command`], with QEMU's random numbers from `seed` in an `-icount` run
/// (another seed gives the guests other rng-seeds, and so, for one, other
/// TCP timing).
pub fn command_seeded(opts: &QemuOptions, interactive: bool, seed: u32) -> Command {
    if opts.board != Board::Virt {
        return board_command(opts, interactive, seed);
    }
    let mut c = Command::new("qemu-system-aarch64");
    let gic = opts.gic_version;
    let (machine, memory) = match &opts.boot {
        // The firmware hands over a device tree only when it has no ACPI
        // tables to give.
        Boot::Aerie {
            firmware: Firmware::UefiDeviceTree,
            ..
        } => (
            format!("virt,virtualization=on,gic-version={gic},acpi=off"),
            "1G".to_string(),
        ),
        Boot::Aerie { .. } => (
            format!("virt,virtualization=on,gic-version={gic}"),
            "1G".to_string(),
        ),
        Boot::Native { memory_mib, .. } => {
            (format!("virt,gic-version={gic}"), format!("{memory_mib}M"))
        }
    };
    c.args(["-M", &machine])
        .args(["-cpu", &opts.cpu])
        .args(["-smp", &opts.smp.to_string()])
        .args(["-m", &memory])
        // No default NIC: its option ROM (efi-virtio.rom) is not installed
        // with --no-install-recommends. The uplink is a virtio-mmio card,
        // which needs none.
        .args(["-nic", "none"]);
    if let Some(uplink) = &opts.uplink {
        uplink_args(&mut c, uplink);
    }
    if interactive {
        c.arg("-nographic").args(["-echr", ESCAPE_CHAR]);
    } else {
        c.args(["-display", "none", "-serial", "stdio", "-monitor", "none"]);
    }
    qmp_socket(&mut c, opts);
    match &opts.boot {
        Boot::Aerie {
            bootmodule,
            firmware,
            ..
        } => {
            // A reset of the whole machine ends the run: Aerie resets VMs itself.
            c.arg("-no-reboot");
            if firmware.is_uefi() {
                // The disk crate::esp::write wrote, read-only, on PCI:
                // the firmware boots from it, Aerie sees no PCI device.
                // A virtio-rng gives the firmware an EFI_RNG_PROTOCOL, which
                // the loader seeds Aerie from, as a board's firmware would.
                c.args(["-drive", &crate::esp::pflash_code()])
                    .args(["-drive", &crate::esp::pflash_vars()])
                    .args(["-drive", &crate::esp::drive()])
                    .args(["-device", "virtio-blk-pci,drive=esp"])
                    .args(["-device", "virtio-rng-pci"]);
            } else if *firmware == Firmware::UBoot {
                // U-Boot as the machine's firmware, the same disk on PCI.
                c.args(["-bios", crate::esp::UBOOT])
                    .args(["-drive", &crate::esp::drive()])
                    .args(["-device", "virtio-blk-pci,drive=esp"]);
            } else {
                kernel_args(
                    &mut c,
                    &paths::hypervisor_image_for(gic),
                    bootmodule,
                    &aerie_cmdline(&opts.boot),
                );
            }
            c.args(["-semihosting-config", "enable=on,target=native"]);
        }
        Boot::Native {
            kernel,
            initrd,
            cmdline,
            ..
        } => {
            // The guest's reboot restarts it, as Aerie restarts a VM.
            kernel_args(&mut c, kernel, initrd, cmdline);
        }
    }
    if let Some(disk) = &opts.disk {
        disk_args(&mut c, disk);
    }
    icount_args(&mut c, opts, seed);
    c
}

/// QEMU's own loader: `kernel` started with `initrd` and `cmdline`.
fn kernel_args(c: &mut Command, kernel: &Path, initrd: &Path, cmdline: &str) {
    c.arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", cmdline]);
}

/// The host disk: a virtio-mmio block device on the raw image `disk`.
fn disk_args(c: &mut Command, disk: &Path) {
    c.args(["-drive", &crate::disk::drive_option(disk)])
        .args(["-device", "virtio-blk-device,drive=hostdisk"]);
}

/// The uplink: a virtio-mmio network card on QEMU's user-mode network.
fn uplink_args(c: &mut Command, uplink: &Uplink) {
    c.args(["-netdev", &user_network("user,id=uplink", uplink)])
        .args(["-device", "virtio-net-device,netdev=uplink"]);
}

/// QEMU's user-mode network `start`, with the uplink's forwarding rules.
fn user_network(start: &str, uplink: &Uplink) -> String {
    let mut netdev = String::from(start);
    for rule in &uplink.forwards {
        // Checked when the rule was read; a bad one is left out here.
        if let Ok(fwd) = hostfwd(rule) {
            netdev.push_str(",hostfwd=");
            netdev.push_str(&fwd);
        }
    }
    netdev
}

/// `-qmp` for a run with a QMP script.
fn qmp_socket(c: &mut Command, opts: &QemuOptions) {
    if let Some(qmp) = &opts.qmp {
        c.args([
            "-qmp",
            &format!("unix:{},server=on,wait=off", qmp.socket.display()),
        ]);
    }
}

/// `-icount` (and `-seed`) for a run under icount.
fn icount_args(c: &mut Command, opts: &QemuOptions, seed: u32) {
    if let Some(icount) = opts.icount {
        // QEMU's random numbers (the device tree's rng-seed, which seeds
        // Aerie's pool and through it every guest) from a given seed, so an
        // -icount run repeats exactly.
        c.args(["-icount", icount])
            .args(["-seed", &seed.to_string()]);
    }
}

/// The command line for Aerie on a board model other than `virt` (see
/// [`Board`]): its own CPUs, its device tree, its console on the serial port
/// the tree's stdout-path names. Started by `-kernel` only.
fn board_command(opts: &QemuOptions, interactive: bool, seed: u32) -> Command {
    let mut c = Command::new("qemu-system-aarch64");
    // Without an uplink the board's own Ethernet keeps QEMU's default user
    // network: `-nic none` would leave it unconnected, which QEMU warns
    // about on every run.
    c.args(["-M", &opts.board.machine()]);
    if opts.board.cpus_chosen() {
        c.args(["-smp", &opts.smp.to_string()]);
    }
    c.args(["-m", "2G"]);
    // Boards with sound (the ZCU102's DisplayPort) would try the host's.
    c.args(["-audio", "none"]);
    match opts.board.boot_dtb() {
        Ok(Some(dtb)) => {
            c.arg("-dtb").arg(dtb);
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!("warning: the {} tree with the boot loader's additions: {e:#}; booting the plain one", opts.board.name());
            if let Some(dtb) = opts.board.dtb() {
                c.arg("-dtb").arg(dtb);
            }
        }
    }
    // The console on the serial port the board's tree names (the EVK's is
    // UART2, QEMU's second); -nographic as on `virt` otherwise (the
    // terminal raw, `Ctrl-] x` quits).
    let console = if interactive { "mon:stdio" } else { "stdio" };
    if interactive {
        c.arg("-nographic").args(["-echr", ESCAPE_CHAR]);
    } else {
        c.args(["-display", "none", "-monitor", "none"]);
    }
    for _ in 0..opts.board.console_serial() {
        c.args(["-serial", "null"]);
    }
    c.args(["-serial", console]);
    if let Some(disk) = &opts.disk {
        match opts.board.sd_card_slot() {
            Some(slot) => {
                c.args(["-drive", &crate::disk::sd_drive_option(disk, slot)]);
            }
            None => disk_args(&mut c, disk),
        }
    }
    match &opts.uplink {
        // No card to put on a network: the VMs' switch has no uplink.
        Some(_) if !opts.board.takes_uplink() => {}
        Some(uplink) if opts.board.has_virtio() && !uplink.own_ethernet => {
            uplink_args(&mut c, uplink)
        }
        // The board's own Ethernet on QEMU's user network, with the rules.
        // The controllers QEMU hands NICs to before it (the ZCU102's GEM0
        // to GEM2, off in its tree) get user networks of their own, cut
        // off from the host (restrict=on), which nothing uses: `-nic none`
        // would hold no place.
        Some(uplink) => {
            for _ in 0..opts.board.uplink_nic() {
                c.args(["-nic", "user,restrict=on"]);
            }
            c.args(["-nic", &user_network("user", uplink)]);
        }
        None => {}
    }
    qmp_socket(&mut c, opts);
    if let Boot::Aerie { bootmodule, .. } = &opts.boot {
        let mut append = aerie_cmdline(&opts.boot);
        if opts.board.virq_unwired() {
            append.push_str(" aerie.virq=hcr");
        }
        c.arg("-no-reboot");
        kernel_args(
            &mut c,
            &paths::hypervisor_image_for(opts.gic_version),
            bootmodule,
            append.trim(),
        );
    }
    icount_args(&mut c, opts, seed);
    c
}

/// Aerie's command line for `boot` (empty for a native boot): the log level
/// and the extra arguments.
pub fn aerie_cmdline(boot: &Boot) -> String {
    let Boot::Aerie { log, append, .. } = boot else {
        return String::new();
    };
    let mut line = format!("aerie.log={log}");
    if !append.is_empty() {
        line.push(' ');
        line.push_str(append);
    }
    line
}

/// Copies `from` into the shared buffer (and to `echo`, if any) until EOF.
fn pump(
    mut from: impl Read + Send + 'static,
    sink: Arc<Mutex<Vec<u8>>>,
    mut echo: Option<Box<dyn Write + Send>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Some(out) = echo.as_mut() {
                        // The console is best effort: a closed stdout must not stop capture.
                        let _ = out.write_all(&buf[..n]).and_then(|()| out.flush());
                    }
                    sink.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend_from_slice(&buf[..n]);
                }
            }
        }
    })
}

/// Asks QEMU to quit (SIGTERM lets it restore the terminal), then kills it.
fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs QEMU to completion (or until `timeout`), returning its status and output.
pub fn run(opts: &QemuOptions, timeout: Option<Duration>, console: Console) -> Result<Outcome> {
    run_scripted(opts, timeout, console, &[])
}

/// Console input a test types: once the output contains `after`, `bytes`
/// go to the serial console (steps in order, each waiting for its own line).
pub struct Keys<'a> {
    pub after: &'a str,
    pub bytes: &'a [u8],
}

/// [`run`], typing `script` on the console as its triggers appear.
pub fn run_scripted(
    opts: &QemuOptions,
    timeout: Option<Duration>,
    console: Console,
    script: &[Keys],
) -> Result<Outcome> {
    if let Boot::Aerie { firmware, .. } = &opts.boot {
        // UEFI firmware and U-Boot boot from the same disk; UEFI keeps its
        // variables beside it, fresh for each run.
        if *firmware != Firmware::Kernel {
            crate::esp::write(&opts.boot, &crate::esp::image(), opts.gic_version)?;
        }
        if firmware.is_uefi() {
            crate::esp::fresh_vars()?;
        }
    }
    let interactive =
        script.is_empty() && console == Console::Live && std::io::stdin().is_terminal();
    if let Some(qmp) = &opts.qmp {
        // A socket left by an earlier run would refuse the bind.
        let _ = std::fs::remove_file(&qmp.socket);
    }
    run_child(
        command(opts, interactive),
        interactive,
        timeout,
        console,
        Script {
            keys: script,
            qmp: opts.qmp.as_ref(),
        },
        true,
    )
}

/// What a run types and asks for as its triggers appear.
#[derive(Clone, Copy, Default)]
struct Script<'a> {
    keys: &'a [Keys<'a>],
    qmp: Option<&'a QmpScript>,
}

/// Sends `command` (a name, or a whole JSON request with its arguments)
/// over a fresh connection to QEMU's QMP socket and waits for its answer
/// (events that come first are skipped).
fn qmp_execute(socket: &std::path::Path, command: &str) -> Result<()> {
    use std::io::BufRead;
    let stream = std::os::unix::net::UnixStream::connect(socket)
        .with_context(|| format!("connecting to QEMU's QMP socket {}", socket.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = std::io::BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut answer = |request: &str| -> Result<String> {
        if !request.is_empty() {
            writer.write_all(request.as_bytes())?;
        }
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                anyhow::bail!("QMP: the socket closed");
            }
            if request.is_empty() || line.contains("\"return\"") || line.contains("\"error\"") {
                return Ok(line);
            }
        }
    };
    answer("")?; // the greeting
    answer("{\"execute\":\"qmp_capabilities\"}\n")?;
    let request = if command.starts_with('{') {
        format!("{command}\n")
    } else {
        format!("{{\"execute\":\"{command}\"}}\n")
    };
    let reply = match answer(&request) {
        Ok(reply) => reply,
        // The command was sent and QEMU is gone before answering: what it
        // did (a power button that ended the run) shows in the run's
        // output, which the caller checks.
        Err(e) if gone(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    if !reply.contains("\"return\"") {
        anyhow::bail!("QMP {command}: {}", reply.trim());
    }
    Ok(())
}

/// Whether `e` says QEMU's end of the QMP socket went away.
fn gone(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind;
    match e.downcast_ref::<std::io::Error>() {
        Some(io) => matches!(
            io.kind(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof
        ),
        None => e.to_string().contains("the socket closed"),
    }
}

/// Runs `cmd` (a QEMU command line made elsewhere, e.g. by the appliance
/// tool) quietly to completion or until `timeout`, typing `script` on the
/// console as its triggers appear.
pub fn run_command_scripted(cmd: Command, timeout: Duration, script: &[Keys]) -> Result<Outcome> {
    let script = Script {
        keys: script,
        qmp: None,
    };
    run_child(cmd, false, Some(timeout), Console::Quiet, script, false)
}

/// Runs `cmd`, a command line booting Aerie made elsewhere (another seed,
/// a plugin), quietly to completion or `timeout`, with the dump request on
/// a timeout that [`run_scripted`] makes.
pub fn run_aerie_command(cmd: Command, timeout: Duration) -> Result<Outcome> {
    run_child(
        cmd,
        false,
        Some(timeout),
        Console::Quiet,
        Script::default(),
        true,
    )
}

/// Runs `cmd` to completion or `timeout`. `aerie`: the machine runs Aerie,
/// so a quiet run that times out gets `Ctrl-A d` first and two seconds to
/// answer: every pCPU prints where it is and Aerie its scheduler's view,
/// which is what a hang's log needs.
fn run_child(
    mut cmd: Command,
    interactive: bool,
    timeout: Option<Duration>,
    console: Console,
    script: Script,
    aerie: bool,
) -> Result<Outcome> {
    // A live console forwards stdin even when it is not a terminal, so
    // `printf 'cmd\npoweroff\n' | cargo xtask run` drives the guest; quiet
    // runs get nothing but their script (and the dump request).
    let dump_on_timeout = aerie && console == Console::Quiet;
    cmd.stdin(if !script.keys.is_empty() || dump_on_timeout {
        Stdio::piped()
    } else if interactive || console == Console::Live {
        Stdio::inherit()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", crate::cmd::describe(&cmd)))?;

    let sink = Arc::new(Mutex::new(Vec::new()));
    let live = console == Console::Live;
    let readers = [
        pump(
            child.stdout.take().expect("stdout is piped"),
            sink.clone(),
            live.then(|| Box::new(std::io::stdout()) as Box<dyn Write + Send>),
        ),
        pump(
            child.stderr.take().expect("stderr is piped"),
            sink.clone(),
            live.then(|| Box::new(std::io::stderr()) as Box<dyn Write + Send>),
        ),
    ];

    let mut keyboard = child.stdin.take();
    let mut next_key = 0;
    let mut next_qmp = 0;
    let status = loop {
        if let Some(qmp) = script.qmp {
            if let Some((after, command)) = qmp.steps.get(next_qmp) {
                let seen = {
                    let out = sink.lock().unwrap_or_else(|p| p.into_inner());
                    let out = String::from_utf8_lossy(&out);
                    after.iter().all(|a| out.contains(a.as_str()))
                };
                if seen {
                    qmp_execute(&qmp.socket, command)?;
                    next_qmp += 1;
                }
            }
        }
        if let (Some(keys), Some(input)) = (script.keys.get(next_key), keyboard.as_mut()) {
            let seen = {
                let out = sink.lock().unwrap_or_else(|p| p.into_inner());
                String::from_utf8_lossy(&out).contains(keys.after)
            };
            if seen {
                input
                    .write_all(keys.bytes)
                    .and_then(|()| input.flush())
                    .context("typing on QEMU's console")?;
                next_key += 1;
            }
        }
        if let Some(st) = child.try_wait().context("waiting for QEMU")? {
            break match st.code() {
                Some(code) => Status::Exited(code),
                None => Status::Signalled,
            };
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            if let (true, Some(input)) = (dump_on_timeout, keyboard.as_mut()) {
                if input
                    .write_all(b"\x01d")
                    .and_then(|()| input.flush())
                    .is_ok()
                {
                    thread::sleep(Duration::from_secs(2));
                }
            }
            stop(&mut child);
            break Status::TimedOut;
        }
        thread::sleep(Duration::from_millis(20));
    };
    for r in readers {
        let _ = r.join();
    }
    let output =
        String::from_utf8_lossy(&sink.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    Ok(Outcome {
        status,
        output,
        elapsed: start.elapsed(),
    })
}

#[cfg(test)]
mod tests;
