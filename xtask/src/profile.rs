//! `cargo xtask profile BENCH [--cpu MODEL]`: where one of the testkit's
//! benchmarks, the network transfer between two Linux VMs (`net`) or a
//! Linux VM's boot (`linux_boot`) spends its instructions, per function,
//! exactly.
//!
//! The workload runs twice under `-icount shift=0,sleep=off` with QEMU's
//! instruction-count plugin (`tools/insn-count`): a testkit benchmark once
//! for [`LONG`] iterations (or as many as the benchmark does at most) and
//! once for half as many; `net` once sending 2 MiB and once 1 MiB; `disk`
//! once reading 2 x [`linux::DISK_READS`] blocks of 4 KiB, once half as many
//! (`disk_power_down` the same, the guest idling only in power-down).
//! Everything else (boot, set-up, power-off) is the same in both runs, so
//! the difference between their counts is what the extra units (iterations,
//! or the extra MiB) cost: divided by their number, it is the cost of one
//! unit, address by address. `linux_boot` runs once, and its counts are
//! one whole run. Addresses are named by the symbols of Aerie's ELF file
//! and of the testkit's, or of the Linux kernel and its modules as the
//! kernel lists them (`/proc/kallsyms`; see `linux.rs`) (functions inlined
//! into another count as that one). The report shows
//! the workload's own measure beside the counted total: they agree for the
//! loop benchmarks and the round trips, which time whole iterations; a
//! latency benchmark (`wfi_wake`, `virq_latency`) times only part of each
//! iteration, from the event to its handler, `net` times only the
//! transfer (not making the data and summing it on both sides), and
//! `linux_boot` only the VM's boot (not Aerie's start and the power-off),
//! so their totals are larger.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::cmd::{self, step};
use crate::output;
use crate::paths;
use crate::qemu::{self, Outcome, QemuOptions, Status};
use crate::run::{self, Guest};
use crate::symtab;

mod linux;

pub const USAGE: &str = "usage: cargo xtask profile BENCH [--cpu cortex-a72|max] [--lines FUNCTION]

Runs one testkit benchmark (e.g. ipi_roundtrip, wfi_wake, hvc_null) twice under
QEMU's instruction-count plugin and prints the instructions one iteration costs,
per function of Aerie and the testkit, with calls per iteration. BENCH `net`
profiles the Linux VMs' TCP transfer of `cargo xtask bench net` instead: the
instructions one more MiB costs, per function of Aerie and of the guests' Linux
kernel and modules (`?`: user space). BENCH `disk` profiles one more 4 KiB
direct read of `cargo xtask bench disk`'s VM, the same way; `disk_power_down`
the same with the guest idling only in the power-down state (every wake-up
runs its resume path). BENCH `linux_boot` counts one whole run
of the `linux_boot` VM under Aerie. The whole table goes to
target/bench/profile-<BENCH>-<MODEL>.txt.
--lines FUNCTION: also break down Aerie's function whose name contains FUNCTION
by source line, each line under the function it was inlined from (debug info,
read with aarch64-linux-gnu-addr2line).";

/// Iterations asked of the long run. The interrupt benchmarks do at most
/// 1000; the short run does half of what the long one did. The more
/// iterations the difference spans, the less the periodic work both runs
/// do a different number of times (the scheduler's tick) weighs per
/// iteration.
const LONG: u64 = 40_000;
/// The benchmarks whose iteration costs a few dozen instructions, and the
/// long run they get instead. Each run also holds work done once whose
/// length QEMU's scheduling of its CPUs decides, even under `-icount`: a
/// secondary pCPU spinning on the machine lock at boot (QEMU's WFE only
/// yields) has cost up to 140,000 instructions more in one run than in the
/// other, 7 per iteration over 20,000, more than such a benchmark's
/// answer can carry; over 500,000 it is under 0.3.
const CHEAP: [&str; 4] = [
    "nop",
    "hvc_null",
    "dcc_backdoor_getversion",
    "brk_backdoor_getversion",
];
const LONG_CHEAP: u64 = 1_000_000;
const TIMEOUT: Duration = Duration::from_secs(300);
/// Rows printed; the file has them all.
const SHOWN: usize = 30;

/// `cargo xtask profile ARGS`; returns the exit code.
pub fn main(args: &[String]) -> i32 {
    let Args { bench, cpu, lines } = match parse_args(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("profile: {e}\n{USAGE}");
            return 2;
        }
    };
    match profile(&bench, &cpu, lines.as_deref()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("profile: error: {e:#}");
            1
        }
    }
}

/// What `profile` was asked.
#[derive(Debug, PartialEq, Eq)]
struct Args {
    bench: String,
    cpu: String,
    /// `--lines`: the Aerie function to break down by source line.
    lines: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut bench = None;
    let mut cpu = "cortex-a72".to_string();
    let mut lines = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--cpu" => match rest.next().map(String::as_str) {
                Some(model @ ("cortex-a72" | "max")) => cpu = model.into(),
                other => return Err(format!("--cpu takes cortex-a72 or max, not {other:?}")),
            },
            "--lines" => match rest.next() {
                Some(function) => lines = Some(function.clone()),
                None => return Err("--lines takes a function name".into()),
            },
            flag if flag.starts_with('-') => return Err(format!("unknown flag {flag}")),
            name if bench.is_none() => bench = Some(name.to_string()),
            extra => return Err(format!("one benchmark at a time ({extra:?} too)")),
        }
    }
    let bench = bench.ok_or("which benchmark?")?;
    Ok(Args { bench, cpu, lines })
}

fn profile(bench: &str, cpu: &str, lines: Option<&str>) -> Result<()> {
    crate::setup::setup()?;
    crate::build::build()?;
    let report = measure(bench, cpu)?;
    let unit = report.unit;
    // A disk request's time, as the guest measures it, includes the time
    // its vCPUs idle while QEMU's disk works, in which -icount counts no
    // instructions: no measure of them.
    let measured = if bench.starts_with("disk") {
        String::from("the guest's clock, idle included, is no measure of them")
    } else {
        format!("the benchmark measured {:.1}", report.measured)
    };
    let mut text = format!(
        "profile: {bench} on {cpu}: {:.1} instructions per {unit} counted \
         ({measured})\n{:>12} {:>10}  function\n",
        report.total(),
        format!("instr/{}", unit.short()),
        format!("calls/{}", unit.short()),
    );
    for row in &report.rows {
        text.push_str(&format!(
            "{:>12.1} {:>10.1}  {}\n",
            row.instructions, row.calls, row.name
        ));
    }
    let file = paths::bench_dir().join(format!("profile-{bench}-{cpu}.txt"));
    std::fs::write(&file, &text).with_context(|| format!("writing {}", paths::show(&file)))?;
    for line in text.lines().take(SHOWN + 2) {
        println!("{line}");
    }
    if report.rows.len() > SHOWN {
        println!(
            "({} more in {})",
            report.rows.len() - SHOWN,
            paths::show(&file)
        );
    }
    if let Some(function) = lines {
        print!("{}", by_line(&report, function)?);
    }
    Ok(())
}

/// The instructions per unit of Aerie's function named like
/// `function`, by source line: each address's innermost inlined frame, as
/// `aarch64-linux-gnu-addr2line` reads it from the debug info.
fn by_line(report: &Report, function: &str) -> Result<String> {
    let symbol = report
        .symbols
        .iter()
        .filter(|s| s.owner == "aerie" && s.name.contains(function))
        .min_by_key(|s| s.name.len())
        .with_context(|| format!("no Aerie function named like {function:?}"))?;
    let end = symbol.addr + symbol.size.max(1);
    let per = report.units;
    let mut addresses: Vec<(u64, f64)> = report
        .extra
        .iter()
        .filter(|(a, _)| (symbol.addr..end).contains(*a))
        .map(|(&a, &n)| (a, n as f64 / per))
        .collect();
    addresses.sort_by_key(|&(a, _)| a);
    let elf = paths::release_elf("aerie");
    let output = std::process::Command::new("aarch64-linux-gnu-addr2line")
        .args(["-a", "-f", "-i", "-C", "-e"])
        .arg(&elf)
        .args(addresses.iter().map(|(a, _)| format!("{a:#x}")))
        .output()
        .context("running aarch64-linux-gnu-addr2line (package binutils-aarch64-linux-gnu)")?;
    if !output.status.success() {
        bail!("aarch64-linux-gnu-addr2line failed ({})", output.status);
    }
    let frames = parse_addr2line(&String::from_utf8_lossy(&output.stdout));
    let mut lines: HashMap<String, f64> = HashMap::new();
    for (address, n) in addresses {
        let place = frames
            .get(&address)
            .and_then(|chain| chain.first())
            .map_or_else(|| "?".to_string(), |(f, at)| format!("{f} ({at})"));
        *lines.entry(place).or_default() += n;
    }
    let mut lines: Vec<(String, f64)> = lines.into_iter().collect();
    lines.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut text = format!(
        "\n{} by source line (innermost inlined function):\n",
        symbol.name
    );
    for (place, n) in lines {
        text.push_str(&format!("{n:>12.1}  {place}\n"));
    }
    Ok(text)
}

/// `addr2line -a -f -i` output: per address (`0x...` line), its frames
/// innermost first, each a function line and a `file:line` line. File
/// names are cut to their last component.
fn parse_addr2line(text: &str) -> HashMap<u64, Vec<(String, String)>> {
    let mut frames: HashMap<u64, Vec<(String, String)>> = HashMap::new();
    let mut current = None;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(hex) = line.strip_prefix("0x") {
            current = u64::from_str_radix(hex, 16).ok();
            continue;
        }
        let at = lines.next().unwrap_or("?");
        let at = at.rsplit('/').next().unwrap_or(at);
        if let Some(address) = current {
            frames
                .entry(address)
                .or_default()
                .push((line.to_string(), at.to_string()));
        }
    }
    frames
}

/// What the two runs of a profile differ by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A testkit benchmark's iteration.
    Iteration,
    /// A MiB more sent by `net`.
    MiB,
    /// A 4 KiB read more by `disk`.
    Request,
    /// `linux_boot`'s whole run.
    Boot,
}

impl Unit {
    fn short(self) -> &'static str {
        match self {
            Unit::Iteration => "iter",
            Unit::MiB => "MiB",
            Unit::Request => "req",
            Unit::Boot => "boot",
        }
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unit::Iteration => "iteration",
            Unit::MiB => "MiB",
            Unit::Request => "request",
            Unit::Boot => "boot",
        })
    }
}

/// One workload's cost per unit, by function.
pub struct Report {
    /// Most instructions first.
    pub rows: Vec<Row>,
    /// What the long run executed at each address beyond the short run
    /// (addresses where both ran alike left out), over `units` more units.
    extra: HashMap<u64, i64>,
    pub unit: Unit,
    units: f64,
    /// Aerie's functions and the guest's, by address.
    symbols: Vec<Symbol>,
    /// Instructions per unit as the workload measured them (its counter
    /// ticks), for comparison with the counted total.
    pub measured: f64,
}

impl Report {
    /// Instructions per unit, all functions together.
    pub fn total(&self) -> f64 {
        self.rows.iter().map(|r| r.instructions).sum()
    }

    /// The row of `name` (`aerie <function>`, `testkit <function>`, ...).
    pub fn row(&self, name: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.name == name)
    }
}

/// Counts `bench` (a testkit benchmark, `net`, `disk` or `linux_boot`) on `cpu`
/// (Aerie and the guests already built).
pub fn measure(bench: &str, cpu: &str) -> Result<Report> {
    cmd::run(&mut cmd::cargo(
        "",
        &["build", "--release", "-p", "aerie-insn-count"],
    ))?;
    let plugin = paths::target_dir().join("release/libaerie_insn_count.so");
    let (unit, long, short, guest_symbols) = if bench == "linux_boot" {
        let boot = linux::counted_boot(cpu, &plugin)?;
        let nothing = Counted {
            units: 0.0,
            instructions: 0.0,
            counts: HashMap::new(),
        };
        (Unit::Boot, boot, nothing, linux::kernel_symbols(cpu)?)
    } else if bench == "net" {
        let long = linux::counted_net(cpu, 2 * linux::NET_KIB, &plugin)?;
        let short = linux::counted_net(cpu, linux::NET_KIB, &plugin)?;
        (Unit::MiB, long, short, linux::kernel_symbols(cpu)?)
    } else if bench == "disk" || bench == "disk_power_down" {
        let idle_only = (bench == "disk_power_down").then(linux::power_down_state);
        let long = linux::counted_disk(cpu, 2 * linux::DISK_READS, idle_only, &plugin)?;
        let short = linux::counted_disk(cpu, linux::DISK_READS, idle_only, &plugin)?;
        (Unit::Request, long, short, linux::kernel_symbols(cpu)?)
    } else {
        let iters = if CHEAP.contains(&bench) {
            LONG_CHEAP
        } else {
            LONG
        };
        let long = counted_testkit(bench, cpu, iters, &plugin)?;
        let short = counted_testkit(bench, cpu, long.units as u64 / 2, &plugin)?;
        let testkit = elf_symbols("testkit", &paths::release_elf("testkit"))?;
        (Unit::Iteration, long, short, testkit)
    };
    let units = long.units - short.units;
    if units <= 0.0 {
        bail!("both runs did {} {unit}s", long.units);
    }
    let measured = (long.instructions - short.instructions) / units;
    let mut symbols = elf_symbols("aerie", &paths::release_elf("aerie"))?;
    symbols.extend(guest_symbols);
    symbols.sort_by_key(|s| s.addr);
    let extra = extra_counts(&short.counts, &long.counts);
    Ok(Report {
        rows: per_function(&extra, &symbols, units),
        extra,
        unit,
        units,
        symbols,
        measured,
    })
}

/// The function symbols of the ELF file at `elf`, as `owner`'s.
fn elf_symbols(owner: &'static str, elf: &Path) -> Result<Vec<Symbol>> {
    let bytes = std::fs::read(elf).with_context(|| format!("reading {}", paths::show(elf)))?;
    let entries =
        symtab::text_symbols(&bytes).with_context(|| format!("symbols of {}", paths::show(elf)))?;
    Ok(entries
        .into_iter()
        .map(|(addr, size, name)| Symbol {
            owner,
            addr,
            size: u64::from(size),
            name,
        })
        .collect())
}

/// What one counted run gave: how many units it did, the instructions its
/// own measure says they took, and the plugin's counts.
struct Counted {
    units: f64,
    instructions: f64,
    counts: HashMap<u64, u64>,
}

/// Runs `bench` for `iters` iterations on `cpu` with the plugin loaded.
fn counted_testkit(bench: &str, cpu: &str, iters: u64, plugin: &Path) -> Result<Counted> {
    let guest = Guest::Testkit {
        cmdline: format!("bench={bench} bench_iters={iters}"),
    };
    let prepared = run::prepare(&guest, true, None)?;
    let opts = QemuOptions::measured(cpu, 2, prepared.bootmodule, "warn", "");
    let stem = format!("profile-{bench}-{cpu}-{iters}");
    step(format!("profile: {bench}, {iters} iterations on {cpu}"));
    let (outcome, log, counts) = counted_run(&opts, &stem, TIMEOUT, plugin)?;
    let log = paths::show(&log);
    if let Some(fail) = outcome.output.lines().find(|l| l.contains("bench: FAIL")) {
        bail!("{} (log {log})", fail.trim_end());
    }
    let line = output::bench_lines(&outcome.output)
        .into_iter()
        .find(|l| l.name == bench)
        .with_context(|| format!("no `bench: name={bench}` line (log {log})"))?;
    Ok(Counted {
        units: line.iters as f64,
        instructions: line.ticks as f64 * (1e9 / line.freq as f64),
        counts,
    })
}

/// Runs QEMU with `opts` and the plugin; the log and the counts go to
/// `target/bench/<stem>.log` and `.counts`. Returns the outcome, the log's
/// path and the counts of a run that powered off cleanly.
fn counted_run(
    opts: &QemuOptions,
    stem: &str,
    timeout: Duration,
    plugin: &Path,
) -> Result<(Outcome, PathBuf, HashMap<u64, u64>)> {
    let counts_file = paths::bench_dir().join(format!("{stem}.counts"));
    let log = paths::bench_dir().join(format!("{stem}.log"));
    std::fs::create_dir_all(paths::bench_dir())?;
    let mut command = qemu::command(opts, false);
    command.arg("-plugin").arg(plugin_arg(plugin, &counts_file));
    let outcome = run::run_quiet_aerie_command(command, timeout, &log)?;
    if outcome.status != Status::Exited(0) {
        bail!("QEMU {:?} (log {})", outcome.status, paths::show(&log));
    }
    let text = std::fs::read_to_string(&counts_file)
        .with_context(|| format!("reading {}", paths::show(&counts_file)))?;
    let counts = parse_counts(&text).with_context(|| paths::show(&counts_file))?;
    Ok((outcome, log, counts))
}

/// QEMU's `-plugin` value for the plugin at `plugin` writing to `out`.
fn plugin_arg(plugin: &Path, out: &Path) -> String {
    format!("{},out={}", plugin.display(), out.display())
}

/// The plugin's `<hex address> <count>` lines.
fn parse_counts(text: &str) -> Result<HashMap<u64, u64>> {
    text.lines()
        .map(|line| {
            let (address, count) = line
                .split_once(' ')
                .with_context(|| format!("bad line {line:?}"))?;
            let address = u64::from_str_radix(address, 16)
                .with_context(|| format!("bad address in {line:?}"))?;
            let count = count
                .parse()
                .with_context(|| format!("bad count in {line:?}"))?;
            Ok((address, count))
        })
        .collect()
}

/// A function of Aerie or the testkit.
#[derive(Clone, Debug)]
struct Symbol {
    owner: &'static str,
    addr: u64,
    size: u64,
    name: String,
}

/// One row of the report.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// `aerie <function>`, `testkit <function>`, `linux <function>`,
    /// `linux ?` or `?`.
    pub name: String,
    /// Instructions per unit in the function.
    pub instructions: f64,
    /// Times per unit its first instruction ran.
    pub calls: f64,
}

/// `long` minus `short` at each address, where they differ.
fn extra_counts(short: &HashMap<u64, u64>, long: &HashMap<u64, u64>) -> HashMap<u64, i64> {
    long.iter()
        .map(|(&address, &n)| {
            let before = short.get(&address).copied().unwrap_or(0);
            (address, n as i64 - before as i64)
        })
        .filter(|&(_, extra)| extra != 0)
        .collect()
}

/// The instructions per unit of each function (`symbols` sorted by
/// address), most first: the `extra` counts of its addresses over `units`.
/// An address no symbol covers counts as `linux ?` in the kernel's half of
/// the address space (modules), as `?` below it (user space, under `net`).
fn per_function(extra: &HashMap<u64, i64>, symbols: &[Symbol], units: f64) -> Vec<Row> {
    let mut by_name: HashMap<String, (i64, i64)> = HashMap::new();
    for (&address, &extra) in extra {
        let (name, first) = match symbol_at(symbols, address) {
            Some(s) => (format!("{} {}", s.owner, s.name), s.addr == address),
            None if address >> 48 == 0xffff => ("linux ?".to_string(), false),
            None => ("?".to_string(), false),
        };
        let entry = by_name.entry(name).or_default();
        entry.0 += extra;
        if first {
            entry.1 += extra;
        }
    }
    let per = units;
    let mut rows: Vec<Row> = by_name
        .into_iter()
        .map(|(name, (n, calls))| Row {
            name,
            instructions: n as f64 / per,
            calls: calls as f64 / per,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.instructions
            .total_cmp(&a.instructions)
            .then_with(|| a.name.cmp(&b.name))
    });
    rows
}

/// The symbol whose `[addr, addr + size)` holds `address`.
fn symbol_at(symbols: &[Symbol], address: u64) -> Option<&Symbol> {
    let i = symbols
        .partition_point(|s| s.addr <= address)
        .checked_sub(1)?;
    let s = &symbols[i];
    (address < s.addr + s.size.max(1)).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(owner: &'static str, addr: u64, size: u64, name: &str) -> Symbol {
        Symbol {
            owner,
            addr,
            size,
            name: name.into(),
        }
    }

    #[test]
    fn counts_parse_and_bad_lines_are_named() {
        let counts = parse_counts("ffffc0001000 12\n40000000 3\n").unwrap();
        assert_eq!(counts[&0xffff_c000_1000], 12);
        assert_eq!(counts[&0x4000_0000], 3);
        let e = parse_counts("zz 1\n").unwrap_err();
        assert!(format!("{e:#}").contains("bad address"), "{e:#}");
        assert!(parse_counts("10\n").is_err());
    }

    #[test]
    fn the_difference_per_iteration_goes_to_the_functions() {
        let symbols = [
            sym("testkit", 0x4000_0000, 0x10, "loop"),
            sym("aerie", 0xffff_c000_0000, 0x20, "exit"),
            sym("aerie", 0xffff_c000_0020, 0x10, "enter"),
        ];
        // The long run does 10 more iterations: 4 instructions of `exit`
        // (entered once each), 2 of `enter`, 1 of the loop; boot (the
        // address counted equally in both runs) costs nothing per iteration.
        let short = HashMap::from([
            (0xffff_c000_0000, 5),
            (0xffff_c000_0008, 5),
            (0xffff_c000_0024, 100),
            (0x4000_0004, 7),
        ]);
        let long = HashMap::from([
            (0xffff_c000_0000, 15),
            (0xffff_c000_0008, 45),
            (0xffff_c000_0024, 120),
            (0x4000_0004, 17),
            (0x1234, 10),
        ]);
        let rows = per_function(&extra_counts(&short, &long), &symbols, 10.0);
        let got: Vec<(&str, f64, f64)> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.instructions, r.calls))
            .collect();
        assert_eq!(
            got,
            [
                ("aerie exit", 5.0, 1.0),
                ("aerie enter", 2.0, 0.0),
                ("?", 1.0, 0.0),
                ("testkit loop", 1.0, 0.0),
            ]
        );
    }

    #[test]
    fn addresses_past_a_symbol_belong_to_none() {
        let symbols = [
            sym("aerie", 0x100, 0x10, "f"),
            sym("aerie", 0x200, 0, "label"),
        ];
        assert_eq!(symbol_at(&symbols, 0x100).unwrap().name, "f");
        assert_eq!(symbol_at(&symbols, 0x10f).unwrap().name, "f");
        assert!(symbol_at(&symbols, 0x110).is_none());
        assert!(symbol_at(&symbols, 0xff).is_none());
        assert_eq!(symbol_at(&symbols, 0x200).unwrap().name, "label");
    }

    #[test]
    fn addr2line_chains_innermost_first() {
        let text = "0xffffc0001000\nmemcpy\n/src/mem.rs:10\nflush\n/x/vgic/src/flush.rs:59\n\
                    0xffffc0001004\nflush\n/x/vgic/src/flush.rs:60\n";
        let frames = parse_addr2line(text);
        assert_eq!(
            frames[&0xffff_c000_1000],
            [
                ("memcpy".to_string(), "mem.rs:10".to_string()),
                ("flush".to_string(), "flush.rs:59".to_string())
            ]
        );
        assert_eq!(frames[&0xffff_c000_1004].len(), 1);
    }

    #[test]
    fn arguments() {
        let args = |a: &[&str]| parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let want = |bench: &str, cpu: &str, lines: Option<&str>| Args {
            bench: bench.into(),
            cpu: cpu.into(),
            lines: lines.map(String::from),
        };
        assert_eq!(
            args(&["wfi_wake"]).unwrap(),
            want("wfi_wake", "cortex-a72", None)
        );
        assert_eq!(
            args(&["--cpu", "max", "ipi_roundtrip", "--lines", "schedule"]).unwrap(),
            want("ipi_roundtrip", "max", Some("schedule"))
        );
        assert!(args(&["x", "--lines"]).is_err());
        assert!(args(&[]).is_err());
        assert!(args(&["a", "b"]).is_err());
        assert!(args(&["--cpu", "a53", "x"]).is_err());
        assert!(args(&["--fast", "x"]).is_err());
    }
}
