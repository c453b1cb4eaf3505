//! `cargo xtask test`: lint, host unit tests, build, then QEMU integration tests.
//! Ends with exactly one line `total: <N> passed, <M> failed`.

mod appliance;
mod board;
mod disk_restart;
mod linux_backdoor;
mod linux_net;
mod linux_power;
mod linux_smp;
mod panic_isolated;
mod pnmi;
mod power_button;
mod profile;
mod share;
mod uefi;
mod userworlds;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::board::Board;
use crate::cmd::{self, step};
use crate::output;
use crate::paths;
use crate::qemu::{self, Boot, Firmware, Keys, QemuOptions, QmpScript, Status, Uplink};
use crate::run::{self, Guest};

/// One integration test: Err is the reason it failed.
type TestFn = fn() -> Result<(), String>;

/// QEMU-based tests, run after a successful build. The Linux ones take tens of
/// seconds each under TCG; `linux-native` checks the kernel, the initramfs and
/// the check script on QEMU alone, so a failure of the others is Aerie's.
const QEMU_TESTS: [(&str, TestFn); 76] = [
    ("testkit-cortex-a72", || {
        testkit_on("cortex-a72", "testkit-cortex-a72")
    }),
    ("testkit-max", || testkit_on("max", "testkit-max")),
    ("testkit-backdoor-off", || {
        testkit_config_on("cortex-a72", "testkit-backdoor-off")
    }),
    ("testkit-backdoor-el1", || {
        testkit_config_on("max", "testkit-backdoor-el1")
    }),
    ("testkit-disk", testkit_disk),
    ("testkit-disk-reset", testkit_disk_reset),
    ("testkit-4pcpus", testkit_4pcpus),
    ("testkit-gicv4", testkit_gicv4),
    ("testkit-two-policies", testkit_two_policies),
    ("testkit-timer-left", testkit_timer_left),
    ("boot-remap-fault", boot_remap_fault),
    ("mem-routines", mem_routines),
    ("boot-uefi", || uefi::boot_uefi("boot-uefi", "cortex-a72")),
    ("boot-uefi-max", || uefi::boot_uefi("boot-uefi-max", "max")),
    ("boot-uefi-acpi", uefi::boot_uefi_acpi),
    ("boot-uefi-remap-fault", uefi::boot_uefi_remap_fault),
    ("boot-uefi-bad-image", uefi::boot_uefi_bad_image),
    ("boot-uefi-shell", uefi::boot_uefi_shell),
    ("boot-uboot", uefi::boot_uboot),
    ("userworlds-cortex-a72", || {
        userworlds::userworlds_on("cortex-a72", "userworlds-cortex-a72")
    }),
    ("userworlds-max", || {
        userworlds::userworlds_on("max", "userworlds-max")
    }),
    ("userworlds-vmctl", || userworlds::vmctl("userworlds-vmctl")),
    ("userworlds-config", || {
        userworlds::from_config("userworlds-config")
    }),
    ("userworlds-shell", || userworlds::shell("userworlds-shell")),
    ("sched-share", share::sched_share),
    ("watchdog-cortex-a72", || {
        pnmi::watchdog_on("cortex-a72", "watchdog-cortex-a72")
    }),
    ("watchdog-max", || pnmi::watchdog_on("max", "watchdog-max")),
    ("stop-dump", pnmi::stop_dump),
    ("pnmi-nested", pnmi::pnmi_nested),
    ("profiler", pnmi::profiler),
    ("profile-counts", profile::counts),
    ("bad-vm-isolated", bad_vm_isolated),
    ("disk-keeps-boot-partition", disk_keeps_boot_partition),
    ("linux-native", linux_native),
    ("linux-cortex-a72", || {
        linux_on("cortex-a72", "linux-cortex-a72")
    }),
    ("linux-max", || linux_on("max", "linux-max")),
    ("linux-gicv2", linux_gicv2),
    ("testkit-gicv2", testkit_gicv2),
    ("boot-uefi-gicv2", uefi::boot_uefi_gicv2),
    ("boot-uefi-acpi-gicv2", uefi::boot_uefi_acpi_gicv2),
    ("linux-two-vms", linux_two_vms),
    ("linux-power-button", power_button::linux_power_button),
    (
        "linux-power-button-acpi",
        power_button::linux_power_button_acpi,
    ),
    (
        "linux-shutdown-timeout",
        power_button::linux_shutdown_timeout,
    ),
    (
        "linux-native-power-button",
        power_button::linux_native_power_button,
    ),
    ("linux-net", linux_net::linux_net),
    ("profile-net", profile::net),
    ("profile-disk", profile::disk),
    ("profile-linux-boot", profile::linux_boot),
    ("linux-uplink", linux_net::linux_uplink),
    ("linux-4vcpus-2pcpus", || {
        linux_smp::linux_4vcpus(2, "linux-4vcpus-2pcpus")
    }),
    ("linux-4vcpus-4pcpus", || {
        linux_smp::linux_4vcpus(4, "linux-4vcpus-4pcpus")
    }),
    ("linux-disk-restart", disk_restart::linux_disk_restart),
    ("linux-panic-isolated", panic_isolated::linux_panic_isolated),
    ("linux-backdoor-cortex-a72", || {
        linux_backdoor::linux_backdoor("cortex-a72", "linux-backdoor-cortex-a72")
    }),
    ("linux-backdoor-max", || {
        linux_backdoor::linux_backdoor("max", "linux-backdoor-max")
    }),
    ("appliance-qemu-x86_64", || {
        appliance::on_qemu(
            "appliance-qemu-x86_64",
            aerie_appliance::Target::QemuX86_64,
            "x86_64",
        )
    }),
    ("appliance-qemu-aarch64", || {
        appliance::on_qemu(
            "appliance-qemu-aarch64",
            aerie_appliance::Target::QemuAarch64,
            "aarch64",
        )
    }),
    ("appliance-aerie", appliance::on_aerie),
    ("board-imx8mp-testkit", board::imx8mp_testkit),
    ("board-imx8mp-linux", board::imx8mp_linux),
    ("board-imx8mp-disk", board::imx8mp_disk),
    ("board-imx8mp-console", board::imx8mp_console),
    ("board-versal-testkit", board::versal_testkit),
    ("board-versal-pnmi", board::versal_pnmi),
    ("board-versal-linux", board::versal_linux),
    ("board-versal-uplink", board::versal_uplink),
    ("board-imx8mp-uplink", board::imx8mp_uplink),
    ("board-raspi4b-linux", board::raspi4b_linux),
    ("board-raspi4b-console", board::raspi4b_console),
    ("board-zcu102-testkit", board::zcu102_testkit),
    ("board-zcu102-linux", board::zcu102_linux),
    ("board-zcu102-console", board::zcu102_console),
    ("board-zcu102-uplink", board::zcu102_uplink),
    ("board-zcu102-exact", board::zcu102_exact),
    ("board-versal-gem-uplink", board::versal_gem_uplink),
];

/// The Linux check VM's command line when booted without Aerie (the same as
/// in tests/configs/linux-check.toml).
const LINUX_CHECK_CMDLINE: &str = "console=ttyAMA0 earlycon=pl011,0x09000000 aerie.check=1";
/// vCPUs of the VMs in tests/configs/linux-*.toml.
const LINUX_VCPUS: u64 = 2;
/// A Linux check run boots twice (the disk check reboots) under TCG; on two
/// host cores that takes well under a minute natively, so this leaves room
/// for a slower hypervisor without letting a hang cost the whole CI budget.
const LINUX_TIMEOUT: u64 = 240;

/// Fewest testkit checks a healthy run reports: all of them today (46), so a
/// check that silently stops running fails the test.
const TESTKIT_MIN_PASSED: u64 = 47;

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
}

impl Tally {
    fn record(&mut self, name: &str, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("test {name} ... ok");
            }
            Err(why) => {
                self.failed += 1;
                let (first, rest) = why.split_once('\n').unwrap_or((&why, ""));
                println!("test {name} ... FAILED ({first})");
                if !rest.is_empty() {
                    println!("{rest}");
                }
            }
        }
    }
}

/// `cargo xtask test`; returns the exit code.
/// With `only` non-empty, runs just the QEMU tests named there (after setup
/// and build), skipping lint and unit tests: for iterating on one test.
pub fn main(only: &[String]) -> i32 {
    let known: Vec<&str> = QEMU_TESTS.iter().map(|(n, _)| *n).collect();
    if let Some(bad) = only.iter().find(|n| !known.contains(&n.as_str())) {
        eprintln!(
            "error: unknown test {bad:?} (QEMU tests: {})",
            known.join(", ")
        );
        return 2;
    }
    let mut t = Tally::default();
    if let Err(e) = crate::setup::setup() {
        t.record("setup", Err(format!("{e:#}")));
    }

    if only.is_empty() {
        t.record("fmt", crate::lint::fmt());
        t.record("clippy", crate::lint::clippy());
        unit_tests(&mut t);
    }

    step("build");
    let built = crate::build::build().map_err(|e| format!("build failed: {e:#}"));
    if let Err(e) = &built {
        println!("xtask: {e}");
    }
    for (name, test) in QEMU_TESTS {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let result = match &built {
            Ok(()) => test(),
            Err(_) => Err("build failed".into()),
        };
        t.record(name, result);
    }
    if only.is_empty() {
        t.record("bad-config", bad_config());
    }

    println!("total: {} passed, {} failed", t.passed, t.failed);
    i32::from(t.failed > 0)
}

/// `cargo test --workspace`, then the host-testable libraries of the boot
/// manager and the loader (workspaces of their own): every host test counts
/// on its own.
fn unit_tests(t: &mut Tally) {
    unit_tests_in(t, ".", &["test", "--workspace", "--no-fail-fast"]);
    unit_tests_in(t, "appliance/bootmgr", &["test", "--lib", "--no-fail-fast"]);
    unit_tests_in(t, "loader", &["test", "--lib", "--no-fail-fast"]);
}

fn unit_tests_in(t: &mut Tally, dir: &str, args: &[&str]) {
    step(format!("unit tests: cargo {} in {dir}", args.join(" ")));
    let mut c = cmd::cargo(dir, args);
    let out = match cmd::capture(&mut c) {
        Ok(out) => out,
        Err(e) => return t.record("unit-tests", Err(format!("{e:#}"))),
    };
    let text = cmd::text(&out);
    let (passed, failed) = output::cargo_test_counts(&text);
    step(format!("unit tests: {passed} passed, {failed} failed"));
    t.passed += passed;
    t.failed += failed;
    if failed > 0 {
        let failures: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("test ") && l.ends_with("FAILED"))
            .collect();
        println!("{}", failures.join("\n"));
    }
    if !out.status.success() && failed == 0 {
        t.record(
            "unit-tests",
            Err(format!(
                "cargo test failed before running tests\n{}",
                cmd::tail(&text, 40)
            )),
        );
    }
}

fn log_path(name: &str) -> std::path::PathBuf {
    paths::test_logs_dir().join(format!("{name}.log"))
}

/// One quiet QEMU run of Aerie in a test.
struct AerieRun<'a> {
    /// Names the log, `target/test-logs/<log>.log`.
    log: &'a str,
    guest: Guest,
    /// The machine (`virt` unless a board's model).
    board: Board,
    cpu: &'a str,
    /// Physical CPUs of the emulated machine.
    smp: u32,
    /// Its GIC version (3 or 4).
    gic_version: u32,
    /// More Aerie command-line arguments.
    append: &'a str,
    /// The host disk, created zeroed if a VM has a disk region and it is missing.
    disk: &'a Path,
    timeout: u64,
    /// Console input typed as the output reaches each trigger.
    keys: &'a [Keys<'a>],
    /// QMP commands for QEMU, each once the output shows all its triggers:
    /// (triggers, command); see [`QemuOptions::qmp`].
    qmp: &'a [(&'a [&'a str], &'a str)],
    /// Host ports forwarded through the uplink (`--forward` rules).
    forwards: &'a [String],
    /// The uplink on the board's own Ethernet even where it has virtio.
    own_ethernet: bool,
}

impl<'a> AerieRun<'a> {
    /// `guest` on two Cortex-A72 pCPUs with the host disk `disk`: nothing
    /// appended to Aerie's command line, nothing typed.
    fn new(log: &'a str, guest: Guest, disk: &'a Path, timeout: u64) -> Self {
        AerieRun {
            log,
            guest,
            board: Board::Virt,
            cpu: "cortex-a72",
            smp: 2,
            gic_version: 3,
            append: "",
            disk,
            timeout,
            keys: &[],
            qmp: &[],
            forwards: &[],
            own_ethernet: false,
        }
    }
}

/// Runs Aerie as `run` says and judges the output with `check`; the Err
/// carries the log tail.
fn run_aerie(
    run: &AerieRun,
    check: impl FnOnce(Status, &str) -> Result<(), String>,
) -> Result<(), String> {
    run_aerie_icount(run, None, check)
}

/// [`run_aerie`] with QEMU's `-icount` set as `icount` says.
fn run_aerie_icount(
    run: &AerieRun,
    icount: Option<&'static str>,
    check: impl FnOnce(Status, &str) -> Result<(), String>,
) -> Result<(), String> {
    let prepared = run::prepare_for(&run.guest, true, Some(run.disk), run.board, run.gic_version)
        .map_err(String::from)?;
    let opts = QemuOptions {
        board: run.board,
        cpu: run.cpu.into(),
        smp: run.smp,
        gic_version: run.gic_version,
        boot: Boot::Aerie {
            bootmodule: prepared.bootmodule,
            log: "info".into(),
            append: run.append.into(),
            firmware: Firmware::Kernel,
        },
        icount,
        disk: prepared.disk,
        uplink: prepared.uplink.then(|| Uplink {
            forwards: run.forwards.to_vec(),
            own_ethernet: run.own_ethernet,
        }),
        qmp: qmp_script(run.log, run.qmp),
    };
    run_test_scripted(run.log, &opts, run.timeout, run.keys, check)
}

/// The QMP script of test `log`'s `steps`, its socket beside the log
/// (none without steps).
fn qmp_script(log: &str, steps: &[(&[&str], &str)]) -> Option<QmpScript> {
    (!steps.is_empty()).then(|| QmpScript {
        socket: paths::test_logs_dir().join(format!("{log}.qmp")),
        steps: steps
            .iter()
            .map(|&(after, command)| {
                let after = after.iter().map(|a| a.to_string()).collect();
                (after, command.to_string())
            })
            .collect(),
    })
}

/// Runs a QEMU test of Aerie on a 2-pCPU machine with a fresh host disk.
fn qemu_test(
    name: &str,
    guest: Guest,
    cpu: &str,
    append: &str,
    timeout: u64,
    check: impl FnOnce(Status, &str) -> Result<(), String>,
) -> Result<(), String> {
    qemu_test_scripted(name, guest, cpu, append, timeout, &[], check)
}

/// [`qemu_test`], typing `keys` on the console.
fn qemu_test_scripted(
    name: &str,
    guest: Guest,
    cpu: &str,
    append: &str,
    timeout: u64,
    keys: &[Keys],
    check: impl FnOnce(Status, &str) -> Result<(), String>,
) -> Result<(), String> {
    let disk = fresh_disk(name)?;
    let run = AerieRun {
        cpu,
        append,
        keys,
        ..AerieRun::new(name, guest, &disk, timeout)
    };
    run_aerie(&run, check)
}

/// `tests/configs/<file>`.
fn test_config(file: &str) -> PathBuf {
    paths::root().join("tests/configs").join(file)
}

/// The vCPUs of VM `index` in config `path`: what its `check: nproc=` must say.
fn config_vcpus(path: &Path, index: usize) -> Result<u64, String> {
    let config = aerie_vmconfig::load(path).map_err(|e| e.to_string())?;
    let vm = config
        .vms
        .get(index)
        .ok_or_else(|| format!("{}: no vm[{index}]", paths::show(path)))?;
    Ok(u64::from(vm.vcpus))
}

/// The host disk of test `name`, `target/test-logs/<name>.disk.img`, with any
/// file from an earlier run removed so every run starts from zeros;
/// `run::prepare` creates it when a VM has a disk region.
fn fresh_disk(name: &str) -> Result<std::path::PathBuf, String> {
    let path = paths::test_logs_dir().join(format!("{name}.disk.img"));
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("removing {}: {e}", path.display()))
        }
        _ => Ok(path),
    }
}

/// Runs QEMU with `opts`, logs to `target/test-logs/<name>.log` and judges
/// the output with `check`.
fn run_test(
    name: &str,
    opts: &QemuOptions,
    timeout: u64,
    check: impl FnOnce(Status, &str) -> Result<(), String>,
) -> Result<(), String> {
    run_test_scripted(name, opts, timeout, &[], check)
}

/// [`run_test`], typing `keys` on the console.
fn run_test_scripted(
    name: &str,
    opts: &QemuOptions,
    timeout: u64,
    keys: &[Keys],
    check: impl FnOnce(Status, &str) -> Result<(), String>,
) -> Result<(), String> {
    let log = log_path(name);
    let outcome = run::run_quiet_scripted(opts, Duration::from_secs(timeout), &log, keys)
        .map_err(|e| format!("{e:#}"))?;
    judge(name, &log, timeout, &outcome, check)
}

/// A finished QEMU run of test `name` (logged at `log`): one step line,
/// then `check` unless it timed out; an Err carries the log's tail.
fn judge(
    name: &str,
    log: &Path,
    timeout: u64,
    outcome: &qemu::Outcome,
    check: impl FnOnce(Status, &str) -> Result<(), String>,
) -> Result<(), String> {
    step(format!(
        "{name}: {:?} after {:.1} s",
        outcome.status,
        outcome.elapsed.as_secs_f64()
    ));
    let result = if outcome.status == Status::TimedOut {
        Err(format!("timeout after {timeout} s"))
    } else {
        check(outcome.status, &outcome.output)
    };
    result.map_err(|why| {
        format!(
            "{why}; log {}\n{}",
            paths::show(log),
            cmd::tail(&outcome.output, 25)
                .lines()
                .map(|l| format!("    | {}", l.trim_end_matches('\r')))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// QEMU exited 0 and the testkit reported enough passes and no failures.
fn testkit_passed(status: Status, out: &str, min_passed: u64) -> Result<(), String> {
    summary_passed(output::testkit_result(out), min_passed)?;
    clean_exit(status, out)
}

/// A testkit summary (passed, failed) that says at least `min_passed`
/// passed and none failed.
fn summary_passed(summary: Option<(u64, u64)>, min_passed: u64) -> Result<(), String> {
    match summary {
        None => Err("no `testkit: <P> passed, <F> failed` line".into()),
        Some((p, f)) if f > 0 || p < min_passed => Err(format!(
            "testkit: {p} passed, {f} failed (want >= {min_passed} passed, 0 failed)"
        )),
        Some(_) => Ok(()),
    }
}

fn testkit_on(cpu: &str, name: &str) -> Result<(), String> {
    let guest = Guest::testkit();
    qemu_test(name, guest, cpu, "", 120, |status, out| {
        testkit_passed(status, out, TESTKIT_MIN_PASSED)
    })
}

/// The testkit VM of `tests/configs/<name>.toml` (another backdoor policy;
/// its command line tells the testkit which) on `cpu`.
fn testkit_config_on(cpu: &str, name: &str) -> Result<(), String> {
    let guest = Guest::Config(test_config(&format!("{name}.toml")));
    qemu_test(name, guest, cpu, "", 120, |status, out| {
        testkit_passed(status, out, TESTKIT_MIN_PASSED)
    })
}

/// The testkit VM with two disks (tests/configs/testkit-disk.toml): every
/// check passes and `virtio_blk` really ran (not skipped): a page read back,
/// a reset by vCPU 1 during vCPU 0's read after which nothing moved, and a
/// request vCPU 1 added during vCPU 0's read done with it. The host disk
/// (QEMU's virtio-blk) answers later: some of the VM's notifies return
/// before their request is done, its vCPU back in the guest meanwhile
/// (while the vCPU waited in the notify for the host disk, none did; how
/// many do depends on how fast QEMU's disk answers: 3 to 6 of 6 seen, so
/// the test asks for one).
/// And `virtio_blk_ring` ran: both disks' requests at once filled Aerie's
/// ring on the host disk, which the disks' summaries must show, and all
/// came back with their data.
fn testkit_disk() -> Result<(), String> {
    let name = "testkit-disk";
    let guest = Guest::Config(test_config(&format!("{name}.toml")));
    qemu_test(name, guest, "cortex-a72", "", 120, |status, out| {
        testkit_passed(status, out, TESTKIT_MIN_PASSED)?;
        let (early, notifies) = virtio_blk_ran(out)?;
        if early == 0 {
            return Err(format!(
                "{early} of {notifies} notifies returned before their request was done: the vCPU waited for the host disk"
            ));
        }
        virtio_blk_ring_ran(out)?;
        let full: u64 = out
            .lines()
            .filter(|l| l.contains("vm testkit: disk vd"))
            .filter_map(|l| output::number_before(l, " times"))
            .sum();
        if full == 0 {
            return Err("the disks' summaries show the host disk's ring never full".into());
        }
        Ok(())
    })
}

/// The testkit's `disk-reset` mode (tests/configs/testkit-disk-reset.toml):
/// its first boot resets the VM with disk reads in flight, QEMU's disk made
/// slow to read first (16 MB/s, over QMP, once the first boot says it is
/// about to read), so that they go on moving data long after the reset.
/// Aerie says the reset found requests with the host disk, reloads the VM
/// only once they are back, and the second boot finds the buffer those
/// reads aimed at still zero.
fn testkit_disk_reset() -> Result<(), String> {
    let name = "testkit-disk-reset";
    let disk = fresh_disk(name)?;
    let run = AerieRun {
        qmp: &[(&["disk-reset: first boot:"], SLOW_READS)],
        ..AerieRun::new(
            name,
            Guest::Config(test_config(&format!("{name}.toml"))),
            &disk,
            120,
        )
    };
    run_aerie(&run, |status, out| {
        let line = out
            .lines()
            .find(|l| {
                l.contains("vm testkit: ") && l.contains(" with the host disk: its memory stays")
            })
            .ok_or("Aerie did not say the reset found disk requests with the host disk")?;
        output::require_line(out, "vm testkit: reset (PSCI SYSTEM_RESET)")?;
        output::require_line(out, "testkit: disk-reset: PASS")
            .map_err(|e| format!("{e} ({line})"))?;
        clean_exit(status, out)
    })
}

/// QMP: QEMU's host disk reads at most 16 MB/s from now on.
const SLOW_READS: &str = r#"{"execute":"block_set_io_throttle","arguments":{"device":"hostdisk","bps":0,"bps_rd":16777216,"bps_wr":0,"iops":0,"iops_rd":0,"iops_wr":0}}"#;

/// The testkit's `virtio_blk_ring` check ran on two disks and passed.
pub(crate) fn virtio_blk_ring_ran(out: &str) -> Result<(), String> {
    let line = out
        .lines()
        .find(|l| l.contains("testkit: PASS virtio_blk_ring"))
        .ok_or("no `testkit: PASS virtio_blk_ring` line")?;
    if line.contains("skipped") {
        return Err(format!("virtio_blk_ring did not run: {line}"));
    }
    Ok(())
}

/// The testkit's `virtio_blk` check ran (it had a disk) and passed, the
/// reset and the request added mid-read included. Returns how many of its
/// notifies returned before their request was done, and how many it made.
pub(crate) fn virtio_blk_ran(out: &str) -> Result<(u64, u64), String> {
    let line = out
        .lines()
        .find(|l| l.contains("testkit: PASS virtio_blk ("))
        .ok_or("no `testkit: PASS virtio_blk` line")?;
    if !line.contains("nothing moved after it") || !line.contains("added in its middle done") {
        return Err(format!("virtio_blk did not run its checks: {line}"));
    }
    // Its last part: `E of N notifies returned early`.
    let part = line.rsplit(';').next().unwrap_or(line);
    match (
        output::number_before(part, " of "),
        output::number_before(part, " notifies returned early"),
    ) {
        (Some(early), Some(notifies)) => Ok((early, notifies)),
        _ => Err(format!("virtio_blk did not count its notifies: {line}")),
    }
}

/// The testkit with 4 vCPUs on 4 pCPUs (tests/configs/testkit-4vcpus.toml):
/// every check passes, and the power-off with vCPUs 1..3 parked on their
/// pCPUs ends the run (QEMU exit 0; a pCPU waiting for another to discard
/// its parked vCPU would hang it).
fn testkit_4pcpus() -> Result<(), String> {
    testkit_4vcpus("testkit-4pcpus", "cortex-a72", 3)
}

/// The testkit VM of `testkit-4pcpus` on a GICv4 machine (`-cpu max`,
/// `gic-version=4`), as GIC-600/700 boards have: each redistributor with
/// direct virtual LPIs is twice as large, and Aerie must find each of the
/// 4 pCPUs' own by walking them.
fn testkit_gicv4() -> Result<(), String> {
    testkit_4vcpus("testkit-gicv4", "max", 4)
}

/// The 4-vCPU testkit VM on 4 pCPUs of model `cpu` with a GICv`gic`.
/// The same on a GICv2 host (Aerie's GICv2 build): the testkit drives the
/// GICv2 its VM gets (the hardware's virtual CPU interface, Aerie's
/// distributor), and every check passes there too.
fn testkit_gicv2() -> Result<(), String> {
    testkit_4vcpus("testkit-gicv2", "cortex-a72", 2)
}

fn testkit_4vcpus(name: &str, cpu: &str, gic_version: u32) -> Result<(), String> {
    let disk = fresh_disk(name)?;
    let run = AerieRun {
        cpu,
        smp: 4,
        gic_version,
        ..AerieRun::new(
            name,
            Guest::Config(test_config("testkit-4vcpus.toml")),
            &disk,
            120,
        )
    };
    run_aerie(&run, |status, out| {
        output::require_line(out, ", 4 CPUs, VHE: ")?;
        if gic_version == 2 {
            output::require_line(out, "GICv2 with one security state")?;
            output::require_line(out, ", GICv2")?;
        }
        output::require_line(out, "testkit: 3 other vCPU(s) left idle for the power-off")?;
        testkit_passed(status, out, TESTKIT_MIN_PASSED)
    })
}

/// Test `name`'s config (tests/configs/<name>.toml) on a machine of one
/// pCPU, its VMs taking turns there, with host disk `disk`.
fn config_on_one_pcpu<'a>(name: &'a str, disk: &'a Path, timeout: u64) -> AerieRun<'a> {
    AerieRun {
        smp: 1,
        ..AerieRun::new(
            name,
            Guest::Config(test_config(&format!("{name}.toml"))),
            disk,
            timeout,
        )
    }
}

/// Two testkit VMs, one with every backdoor transport and one with none
/// (tests/configs/testkit-two-policies.toml), taking turns on one pCPU:
/// each passes, so the backdoor fast path answered for the one and never for
/// the other across their switches.
fn testkit_two_policies() -> Result<(), String> {
    let name = "testkit-two-policies";
    let disk = fresh_disk(name)?;
    let run = config_on_one_pcpu(name, &disk, 240);
    run_aerie(&run, |status, out| {
        for vm in ["open", "closed"] {
            summary_passed(output::testkit_result_of(out, vm), TESTKIT_MIN_PASSED)
                .map_err(|e| format!("vm {vm}: {e}"))?;
        }
        clean_exit(status, out)
    })
}

/// A VM powering off with its virtual timer armed
/// (tests/configs/testkit-timer-left.toml, one pCPU): its timer goes with
/// its state, so the other VM, blocked in WFI until its own deadline,
/// wakes at that deadline and powers off (cf95f16: left armed, the timer's
/// level interrupt held the idle pCPU).
fn testkit_timer_left() -> Result<(), String> {
    let name = "testkit-timer-left";
    let disk = fresh_disk(name)?;
    let run = config_on_one_pcpu(name, &disk, 60);
    run_aerie(&run, |status, out| {
        let leaving = output::line_index(
            out,
            0,
            &["timer-left: leaving with the virtual timer armed 20 ms ahead"],
        )
        .ok_or("no `timer-left: leaving` line from the leaver")?;
        let off = output::line_index(out, leaving, &["vm leaver: powered off"])
            .ok_or("no `vm leaver: powered off` line after it")?;
        output::line_index(out, off, &["timer-left: PASS: the stayer woke"])
            .ok_or("no `timer-left: PASS: the stayer woke` line after the leaver's power-off")?;
        let line = output::lines_with(out, "timer-left: PASS: the stayer woke")[0];
        let late = output::number_before(line, "ms").ok_or_else(|| format!("`{line}`"))?;
        if late > WAKE_LATE_MS {
            return Err(format!(
                "`{line}`: more than {WAKE_LATE_MS} ms after its deadline"
            ));
        }
        clean_exit(status, out)
    })
}

/// How late the stayer of `testkit-timer-left` may wake: TCG's timing, not
/// Aerie's, makes up most of it.
const WAKE_LATE_MS: u64 = 50;

/// C4: after the switch to the final tables the identity alias must be gone, so
/// touching it faults at EL2 with FAR = that address.
fn boot_remap_fault() -> Result<(), String> {
    let guest = Guest::testkit();
    qemu_test(
        "boot-remap-fault",
        guest,
        "cortex-a72",
        "aerie.test=identity-fault",
        30,
        identity_alias_faulted,
    )
}

/// Aerie's own `memcpy` and `memset` (arch/aarch64/mem.S) match byte-wise
/// copies for every length to 300 at every alignment of both buffers, and
/// memset's DC ZVA zeroing from 256 bytes at every offset in a block
/// (`aerie.test=mem`); then a short testkit run powers off cleanly.
fn mem_routines() -> Result<(), String> {
    let guest = Guest::Testkit {
        cmdline: "bench=nop bench_iters=10".into(),
    };
    qemu_test(
        "mem-routines",
        guest,
        "cortex-a72",
        "aerie.test=mem",
        60,
        |status, out| {
            if !output::lines_with(out, "boot-test: memcpy and memset right in ")
                .iter()
                .any(|l| l.contains(" 96944 cases"))
            {
                return Err("no `boot-test: memcpy and memset right in 96944 cases` line".into());
            }
            clean_exit(status, out)
        },
    )
}

/// The boot test `aerie.test=identity-fault` passed: reading the load-time
/// identity alias faulted at EL2 with that address in FAR, and Aerie stopped
/// with an error.
fn identity_alias_faulted(status: Status, out: &str) -> Result<(), String> {
    let alias = output::identity_alias(out)
        .ok_or("no `boot-test: touching identity alias 0x<hex>` line")?;
    let far = output::el2_fault_far(out)
        .ok_or("no line with `EL2 synchronous exception` and `FAR=0x<hex>`")?;
    if far != alias {
        return Err(format!("FAR={far:#x} but the alias touched was {alias:#x}"));
    }
    match status {
        Status::Exited(0) => Err("QEMU exited 0; the fault must stop Aerie with an error".into()),
        _ => Ok(()),
    }
}

/// A VM that cannot be created is refused without taking the others down.
fn bad_vm_isolated() -> Result<(), String> {
    let guest = Guest::Config(paths::root().join("tests/configs/two-vms-one-bad.toml"));
    qemu_test(
        "bad-vm-isolated",
        guest,
        "cortex-a72",
        "",
        120,
        |status, out| {
            if !output::vm_refused(out, "huge") {
                return Err("no line with `vm huge` and `refused` or `cannot`".into());
            }
            testkit_passed(status, out, 1)
        },
    )
}

/// A boot disk as the host disk (a GPT whose EFI System Partition, 8 MiB
/// from 1 MiB, holds a file, grown to 64 MiB): the VM whose disk region
/// lies inside that partition is refused, saying why, and the partition is
/// left as it was; the VM whose region lies in free space runs.
fn disk_keeps_boot_partition() -> Result<(), String> {
    let name = "disk-keeps-boot-partition";
    let disk = fresh_disk(name)?;
    let file = aerie_appliance::esp::EspFile {
        path: "boot/kept.txt".into(),
        source: aerie_appliance::esp::Source::Bytes(b"a board boots from this\n".to_vec()),
    };
    aerie_appliance::esp::build(&disk, &[file]).map_err(|e| format!("{e:#}"))?;
    let grown = std::fs::OpenOptions::new()
        .write(true)
        .open(&disk)
        .and_then(|f| f.set_len(64 << 20));
    grown.map_err(|e| format!("growing {}: {e}", disk.display()))?;
    let before = std::fs::read(&disk).map_err(|e| e.to_string())?;
    let run = AerieRun::new(
        name,
        Guest::Config(test_config("disk-keeps-boot-partition.toml")),
        &disk,
        120,
    );
    run_aerie(&run, |status, out| {
        output::require_line(out, "host disk: a partition table with 1 partition")?;
        output::require_line(
            out,
            "vm onboot: refused: disk region 4 MiB at offset 2 MiB would overwrite what the host disk holds: sectors 4096..=12287 overlap partition 1 of the host disk (sectors 2048..=",
        )?;
        output::require_line(out, ", a FAT partition, which boards boot from")?;
        testkit_passed(status, out, 1)?;
        let after = std::fs::read(&disk).map_err(|e| e.to_string())?;
        if after[..10 << 20] != before[..10 << 20] {
            return Err("the boot disk's first 10 MiB changed".into());
        }
        Ok(())
    })
}

/// The check script passed: its verdict is PASS, every boot saw `vcpus` CPUs,
/// the disk check (which spans a reboot) read back its data, and nothing after
/// suggests otherwise.
fn linux_check_passed(out: &str, vcpus: u64) -> Result<(), String> {
    match output::check_result(out) {
        None => return Err("no `check: RESULT` line".into()),
        Some(Err(why)) => return Err(format!("check: RESULT FAIL {why}")),
        Some(Ok(())) => {}
    }
    let nprocs = output::check_nprocs(out);
    if nprocs.is_empty() || nprocs.iter().any(|&n| n != vcpus) {
        return Err(format!("check: nproc values {nprocs:?}, expected {vcpus}"));
    }
    if !output::has_line(out, "check: disk ok") {
        return Err("no `check: disk ok` line (the VM has a disk)".into());
    }
    guest_date_is_today(out)?;
    let boots = output::initramfs_starts(out);
    if boots < 2 {
        return Err(format!(
            "{boots} `initramfs: started` lines; the disk check must reboot once"
        ));
    }
    Ok(())
}

/// This machine's time, in seconds since the Unix epoch: what the guests'
/// and Aerie's clocks are checked against.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The guest's date, set from its PL031 at boot, is this machine's (to
/// within ten minutes) in every boot: Aerie's virtual PL031 counts Aerie's
/// wall clock, as QEMU's counts the host's; `hwclock -w` can set it; and
/// its alarm interrupts.
fn guest_date_is_today(out: &str) -> Result<(), String> {
    let now = unix_now();
    let dates = output::numbers_after(out, "check: date ");
    if dates.is_empty() || dates.iter().any(|d| d.abs_diff(now) >= 600) {
        return Err(format!(
            "the guest's `check: date` values {dates:?}, expected about {now}"
        ));
    }
    if !output::has_line(out, "(rtc0: rtc-pl031") {
        return Err("the guest's rtc0 is not its PL031".into());
    }
    // `hwclock -w` set it a day ahead and back (the check fails otherwise).
    if !output::has_line(out, "check: rtc set ok") {
        return Err("no `check: rtc set ok` line".into());
    }
    // An alarm 2 s ahead raised the PL031's interrupt.
    if !output::has_line(out, "check: rtc alarm ok") {
        return Err("no `check: rtc alarm ok` line".into());
    }
    Ok(())
}

/// Every boot's random number generator was ready at once, as on QEMU
/// alone: Aerie gave the guest a `/chosen/rng-seed` (a Cortex-A72 has no
/// RNDR; without a seed Linux's generator was not ready during the run).
fn rng_seeded(out: &str) -> Result<(), String> {
    said_in_every_boot(out, "[    0.000000] random: crng init done")
}

/// Every boot placed the kernel at a random offset, as on QEMU alone: Aerie
/// gave the guest a `/chosen/kaslr-seed` (without one Linux says `KASLR
/// disabled due to lack of seed` and runs where it was linked).
fn kaslr_enabled(out: &str) -> Result<(), String> {
    said_in_every_boot(out, "KASLR enabled")
}

/// Lines with `needle` number at least the boots (`initramfs: started`
/// lines), and there was one.
fn said_in_every_boot(out: &str, needle: &str) -> Result<(), String> {
    let said = output::lines_with(out, needle).len();
    let boots = output::initramfs_starts(out);
    if said < boots || boots == 0 {
        return Err(format!("{said} boots of {boots} said `{needle}`"));
    }
    Ok(())
}

/// Under Aerie the VM has a virtio console too: the check script's line
/// written to /dev/hvc0 came out on the console.
fn virtio_console_worked(out: &str) -> Result<(), String> {
    if output::has_line(out, "hvc0: hello from the virtio console") {
        Ok(())
    } else {
        Err("no line from /dev/hvc0 (the virtio console)".into())
    }
}

/// QEMU exited 0 (the last VM powered off) and Aerie did not panic.
fn clean_exit(status: Status, out: &str) -> Result<(), String> {
    if output::has_panic(out) {
        return Err("aerie: panic".into());
    }
    match status {
        Status::Exited(0) => Ok(()),
        other => Err(format!("QEMU {other:?}, expected exit 0")),
    }
}

/// The Linux check VM booted by QEMU directly at EL1, no Aerie: proves the
/// kernel, the initramfs and the checks themselves.
fn linux_native() -> Result<(), String> {
    let name = "linux-native";
    let mut opts =
        QemuOptions::native_linux("cortex-a72", LINUX_VCPUS as u32, LINUX_CHECK_CMDLINE, 256);
    opts.disk = Some(fresh_disk(name)?);
    if let Some(disk) = &opts.disk {
        crate::disk::create(disk, crate::disk::DEFAULT_SIZE).map_err(|e| format!("{e:#}"))?;
    }
    run_test(name, &opts, LINUX_TIMEOUT, |status, out| {
        linux_check_passed(out, LINUX_VCPUS)?;
        clean_exit(status, out)
    })
}

/// Linux under Aerie runs the checks (tests/configs/linux-check.toml).
fn linux_on(cpu: &str, name: &str) -> Result<(), String> {
    let config = test_config("linux-check.toml");
    let vcpus = config_vcpus(&config, 0)?;
    qemu_test(
        name,
        Guest::Config(config),
        cpu,
        "",
        LINUX_TIMEOUT,
        |status, out| {
            linux_check_passed(out, vcpus)?;
            virtio_console_worked(out)?;
            rng_seeded(out)?;
            kaslr_enabled(out)?;
            linux_power::guest_idle_captured(out)?;
            linux_power::guest_cpufreq_capped(out, vcpus)?;
            linux_power::guest_steal_seen(out)?;
            clean_exit(status, out)
        },
    )
}

/// Linux under Aerie on a host whose GIC is a GICv2 (QEMU `virt` with
/// `gic-version=2`, as a GIC-400 board): Aerie drives it through its
/// memory-mapped CPU interface, and the VM gets a GICv2 whose CPU interface
/// is the hardware's GICV. The checks need its timer, its SGIs (taskset on
/// each CPU) and its SPIs (virtio).
fn linux_gicv2() -> Result<(), String> {
    let name = "linux-gicv2";
    let config = test_config("linux-check.toml");
    let vcpus = config_vcpus(&config, 0)?;
    let disk = fresh_disk(name)?;
    let run = AerieRun {
        gic_version: 2,
        ..AerieRun::new(name, Guest::Config(config), &disk, LINUX_TIMEOUT)
    };
    run_aerie(&run, |status, out| {
        output::require_line(out, "GICv2 with one security state")?;
        linux_drove_a_gic_v2(out)?;
        linux_check_passed(out, vcpus)?;
        virtio_console_worked(out)?;
        clean_exit(status, out)
    })
}

/// The guest's `check: irqchip GIC-0, N reschedule IPIs` lines: Linux's
/// GICv2 driver took the timer, and SGIs reached the other vCPUs.
pub(super) fn linux_drove_a_gic_v2(out: &str) -> Result<(), String> {
    let lines: Vec<&str> = output::lines_with(out, "check: irqchip ")
        .into_iter()
        .filter_map(|l| l.split_once("check: irqchip ").map(|(_, r)| r))
        .collect();
    if lines.is_empty() {
        return Err("no `check: irqchip` line".into());
    }
    for line in lines {
        let (chip, rest) = line.split_once(", ").unwrap_or((line, ""));
        let ipis: u64 = rest
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if chip != "GIC-0" || ipis == 0 {
            return Err(format!(
                "check: irqchip {line}: expected Linux's GICv2 driver (GIC-0) and reschedule IPIs"
            ));
        }
    }
    Ok(())
}

/// Two Linux VMs at once (tests/configs/linux-two-vms.toml): "a" runs the
/// checks, "b" says `b-alive <n>` once a second for 5 s while it reads its
/// disk over and over; both power off and Aerie exits 0 once the last is
/// gone. b's disk summary must show exits handled on the other pCPU while
/// its data moved: the machine goes on during a VM's disk transfer; and
/// the host disk's answers taken, nearly all, by the pCPU holding the vCPU
/// they interrupt.
fn linux_two_vms() -> Result<(), String> {
    let config = test_config("linux-two-vms.toml");
    let vcpus = config_vcpus(&config, 0)?;
    qemu_test(
        "linux-two-vms",
        Guest::Config(config),
        "cortex-a72",
        "",
        LINUX_TIMEOUT + 60,
        |status, out| {
            linux_check_passed(out, vcpus).map_err(|e| format!("vm a: {e}"))?;
            if !output::has_line(out, "b-alive") {
                return Err("vm b: no `b-alive` line".into());
            }
            disk_went_on_beside(out, "b")?;
            answers_went_to_the_vcpu(out, "b")?;
            clean_exit(status, out)
        },
    )
}

/// What VM `vm`'s first disk summary (at its stop) says: reads, exits
/// other pCPUs handled while its data moved, and hand-overs at a turn's end.
pub(crate) fn disk_summary(out: &str, vm: &str) -> Result<(u64, u64, u64), String> {
    let line = disk_summary_line(out, vm)?;
    match (
        output::number_before(line, " reads ("),
        output::number_before(line, " exits"),
        output::number_before(line, " handed over"),
    ) {
        (Some(reads), Some(beside), Some(handed)) => Ok((reads, beside, handed)),
        _ => Err(format!("vm {vm}: unreadable disk summary: {line}")),
    }
}

/// VM `vm`'s first disk summary line (at its stop).
fn disk_summary_line<'a>(out: &'a str, vm: &str) -> Result<&'a str, String> {
    let prefix = format!("vm {vm}: disk vda");
    out.lines()
        .find(|l| l.contains(&prefix))
        .ok_or(format!("no `{prefix}` summary line"))
}

/// VM `vm`'s disk summary says it read data, and that other pCPUs handled
/// exits while its data moved without the machine lock.
fn disk_went_on_beside(out: &str, vm: &str) -> Result<(), String> {
    let (reads, beside, _) = disk_summary(out, vm)?;
    if reads < 100 || beside == 0 {
        return Err(format!(
            "vm {vm}: expected 100+ reads with exits handled beside them, got {reads} reads, {beside} exits"
        ));
    }
    Ok(())
}

/// VM `vm`'s disk summary says the host disk's answers went, nearly all,
/// to the pCPU holding the vCPU they interrupt (`vm::block::route_answers`;
/// 1% went elsewhere in a run, 17% while the boot pCPU took them all).
fn answers_went_to_the_vcpu(out: &str, vm: &str) -> Result<(), String> {
    let line = disk_summary_line(out, vm)?;
    let (Some(at), Some(across)) = (
        output::number_before(line, " taken by the pCPU"),
        output::number_before(line, " by another"),
    ) else {
        return Err(format!(
            "vm {vm}: no answer counts in its disk summary: {line}"
        ));
    };
    if at < 100 || across * 10 > at {
        return Err(format!(
            "vm {vm}: {at} host disk answers taken where their vCPU was, {across} by another pCPU (want 100+, and at most a tenth elsewhere)"
        ));
    }
    Ok(())
}

/// `cargo xtask run --config <bad>` exits 2 naming the field, before QEMU starts.
fn bad_config() -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    for (file, field) in [
        ("tests/configs/bad-memory.toml", "memory"),
        ("tests/configs/missing-kernel.toml", "kernel"),
        ("tests/configs/bad-world.toml", "program"),
    ] {
        let out = Command::new(&exe)
            .args(["run", "--no-build", "--config", file])
            .current_dir(paths::root())
            .output()
            .map_err(|e| format!("running {}: {e}", exe.display()))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(run::EXIT_USAGE) {
            return Err(format!(
                "{file}: exit {:?}, expected 2\n{stderr}",
                out.status.code()
            ));
        }
        let want = format!("field `{field}`");
        if !stderr.contains(&want) || !stderr.contains("error: ") {
            return Err(format!(
                "{file}: stderr does not say `error: ... {want}`\n{stderr}"
            ));
        }
        if !Path::new(&paths::root().join(file)).is_file() {
            return Err(format!("{file} is missing"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
