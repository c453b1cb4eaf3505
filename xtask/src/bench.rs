//! `cargo xtask bench`: trap costs in guest instructions, exact under
//! `-icount shift=0` (each instruction advances virtual time by 1 ns), then the
//! Linux boot benchmark (`bench_linux.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};

use crate::cmd::step;
use crate::output::{self, BenchLine};
use crate::paths;
use crate::qemu::{QemuOptions, Status};
use crate::run::{self, Guest};

const CPUS: [&str; 2] = ["cortex-a72", "max"];
/// The machines the trap table has a column for: each CPU model with a
/// GICv3, and the Cortex-A72 with a GICv2 (Aerie's GICv2 build, as on a
/// GIC-400 board): (column, CPU model, GIC version).
const MACHINES: [(&str, &str, u32); 3] = [
    ("cortex-a72", "cortex-a72", 3),
    ("max", "max", 3),
    ("a72-gicv2", "cortex-a72", 2),
];
/// The loop benchmarks, in table order: each iteration is one pass of a loop
/// around the measured instruction, so the `nop` loop's cost is overhead they
/// all pay and [`net`] subtracts it.
const LOOPS: [&str; 6] = [
    "nop",
    "hvc_null",
    "smc_psci_version",
    "mmio_uart_read",
    "sysreg_trap",
    "debug_reg_trap",
];
/// Benchmarks that are not loops around one instruction, with what one
/// iteration is: they are reported raw, since the nop loop's cost is not part
/// of them. They follow the loops in the table; anything else the testkit
/// reports comes last.
const RAW: [(&str, &str); 9] = [
    ("dcc_backdoor_getversion", "1 request+loop (raw)"),
    ("brk_backdoor_getversion", "1 request+loop (raw)"),
    ("virq_latency", "1 interrupt (raw)"),
    ("ipi_roundtrip", "1 round trip (raw)"),
    ("wfi_wake", "1 wake-up (raw)"),
    ("retention_wake", "1 wake-up (raw)"),
    ("irq_entry_exit", "1 interrupt (raw)"),
    ("pnmi_latency", "1 pseudo-NMI (raw)"),
    ("syscall_null", "1 system call (raw)"),
];
/// Benchmarks Aerie runs on itself at boot: its own interrupt paths,
/// measured at EL2 (`aerie.bench=irq`), and a user world's system-call round
/// trip (`aerie.user=bench`, C6). A separate boot, so the testkit's
/// benchmarks do not run beside them.
const AERIE_BOOT: [&str; 3] = ["irq_entry_exit", "pnmi_latency", "syscall_null"];
/// Aerie's command line for that boot.
const AERIE_BOOT_ARGS: &str = "aerie.bench=irq aerie.user=bench";
/// The loop overhead every other benchmark also pays.
const BASELINE: &str = "nop";
/// Targets on cortex-a72, in instructions per iteration net of the nop baseline
/// (the cost of the trap itself, not of the loop around it).
const TARGETS: [(&str, f64); 2] = [("hvc_null", 60.0), ("mmio_uart_read", 150.0)];
const TARGET_CPU: &str = "cortex-a72";
/// Targets relative to another benchmark on cortex-a72, both gross
/// (loop included): the backdoor's round trips against `hvc_null`.
const RELATIVE: [(&str, &str, f64); 2] = [
    ("dcc_backdoor_getversion", "hvc_null", 1.2),
    ("brk_backdoor_getversion", "hvc_null", 1.2),
];

/// `bench`'s cost as a multiple of its reference's on cortex-a72.
fn ratio(results: &BTreeMap<String, CpuResults>, bench: &str, reference: &str) -> Option<f64> {
    Some(ipi(results, TARGET_CPU, bench)? / ipi(results, TARGET_CPU, reference)?)
}
const TIMEOUT_SECS: u64 = 300;

/// Results for one CPU model, by benchmark name.
type CpuResults = BTreeMap<String, BenchLine>;

/// One benchmark boot of Aerie and the testkit on `cpu` with a GIC of
/// version `gic` under `-icount shift=0`: `cmdline` for the testkit,
/// `append` for Aerie, the log as `target/bench/<log>.log`. Returns the
/// output of a run that exited 0.
fn boot(cpu: &str, gic: u32, cmdline: &str, append: &str, log: &str) -> Result<String> {
    let guest = Guest::Testkit {
        cmdline: cmdline.into(),
    };
    let prepared = run::prepare_for(&guest, true, None, crate::board::Board::Virt, gic)?;
    // Aerie's own bench lines are printed at the default level.
    let log_level = if append.is_empty() { "warn" } else { "info" };
    let opts = QemuOptions {
        gic_version: gic,
        ..QemuOptions::measured(cpu, 2, prepared.bootmodule, log_level, append)
    };
    let log = paths::bench_dir().join(format!("{log}.log"));
    let what = if append.is_empty() {
        cpu.to_string()
    } else {
        format!("{cpu} {append}")
    };
    step(format!("bench: {what} (log {})", paths::show(&log)));
    let outcome = run::run_quiet(&opts, Duration::from_secs(TIMEOUT_SECS), &log)?;
    match outcome.status {
        Status::Exited(0) => {}
        Status::TimedOut => bail!(
            "{cpu}: timeout after {TIMEOUT_SECS} s (log {})",
            paths::show(&log)
        ),
        other => bail!("{cpu}: QEMU {other:?} (log {})", paths::show(&log)),
    }
    // A benchmark that could not run says `bench: FAIL <name>: <why>`.
    for line in outcome.output.lines().filter(|l| l.contains("bench: FAIL")) {
        step(format!("bench: {cpu}: {}", line.trim_end_matches('\r')));
    }
    Ok(outcome.output)
}

fn by_name(lines: Vec<BenchLine>) -> CpuResults {
    lines.into_iter().map(|b| (b.name.clone(), b)).collect()
}

/// The testkit's benchmarks on machine `column` (`cpu`, GIC `gic`).
fn run_cpu(column: &str, cpu: &str, gic: u32) -> Result<CpuResults> {
    let out = boot(cpu, gic, "bench", "", column)?;
    if !output::bench_done(&out) {
        bail!(
            "{column}: no `bench: done` line (log {})",
            paths::show(&paths::bench_dir().join(format!("{column}.log")))
        );
    }
    Ok(by_name(output::bench_lines(&out)))
}

/// Aerie's own benchmarks ([`AERIE_BOOT`]) on machine `column`.
fn run_aerie_boot(column: &str, cpu: &str, gic: u32) -> Result<CpuResults> {
    let log = format!("{column}-aerie-boot");
    let out = boot(cpu, gic, "", AERIE_BOOT_ARGS, &log)?;
    let results = aerie_boot_results(&out).map_err(|e| {
        anyhow::anyhow!(
            "{column}: {e} (log {})",
            paths::show(&paths::bench_dir().join(format!("{log}.log")))
        )
    })?;
    Ok(results)
}

/// The [`AERIE_BOOT`] lines of that run: all of them must be
/// there (anything else printed, e.g. by the guest, is not Aerie's).
fn aerie_boot_results(out: &str) -> Result<CpuResults, String> {
    let all = by_name(output::bench_lines(out));
    AERIE_BOOT
        .iter()
        .map(|name| {
            all.get(*name)
                .cloned()
                .map(|b| (name.to_string(), b))
                .ok_or(format!("no `bench: name={name} ...` line from Aerie"))
        })
        .collect()
}

/// Instructions per iteration of `bench` on `cpu`, if measured.
fn ipi(results: &BTreeMap<String, CpuResults>, cpu: &str, bench: &str) -> Option<f64> {
    Some(results.get(cpu)?.get(bench)?.instructions_per_iter())
}

/// A loop benchmark's cost net of the nop baseline on the target CPU; None
/// for the baseline itself and for anything that is not one of [`LOOPS`].
fn net(results: &BTreeMap<String, CpuResults>, bench: &str) -> Option<f64> {
    if bench == BASELINE || !LOOPS.contains(&bench) {
        return None;
    }
    Some(ipi(results, TARGET_CPU, bench)? - ipi(results, TARGET_CPU, BASELINE)?)
}

/// What one iteration of `bench` is, for the table.
fn iteration(bench: &str) -> &'static str {
    if LOOPS.contains(&bench) {
        "1 loop pass"
    } else {
        RAW.iter()
            .find(|(b, _)| *b == bench)
            .map_or("unknown (raw)", |(_, what)| *what)
    }
}

/// Row names: the known ones, then any extra the testkit reported.
fn rows(results: &BTreeMap<String, CpuResults>) -> Vec<String> {
    let mut rows: Vec<String> = LOOPS
        .iter()
        .chain(RAW.iter().map(|(b, _)| b))
        .map(|s| s.to_string())
        .collect();
    for r in results.values() {
        for name in r.keys() {
            if !rows.contains(name) {
                rows.push(name.clone());
            }
        }
    }
    rows
}

/// The table: guest instructions per iteration on each CPU model, what an
/// iteration is, and for the loops their cost net of the nop loop on
/// cortex-a72, which is what the targets bound.
fn table(results: &BTreeMap<String, CpuResults>) -> String {
    let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    let mut s =
        String::from("guest instructions per iteration (-icount shift=0: 1 instruction = 1 ns)\n");
    s.push_str(&format!("{:<25}{:<22}", "benchmark", "iteration"));
    for (column, _, _) in MACHINES {
        s.push_str(&format!("{column:>12}"));
    }
    s.push_str(&format!("{:>16}  target (a72 - nop)\n", "a72 - nop"));
    for bench in rows(results) {
        s.push_str(&format!("{bench:<25}{:<22}", iteration(&bench)));
        for (column, _, _) in MACHINES {
            s.push_str(&format!("{:>12}", cell(ipi(results, column, &bench))));
        }
        s.push_str(&format!("{:>16}", cell(net(results, &bench))));
        if let Some((_, max)) = TARGETS.iter().find(|(b, _)| *b == bench) {
            let mark = match net(results, &bench) {
                Some(v) if v <= *max => "ok",
                Some(_) => "OVER",
                None => "not measured",
            };
            s.push_str(&format!("  <= {max:.0} {mark}"));
        }
        if let Some((_, reference, max)) = RELATIVE.iter().find(|(b, _, _)| *b == bench) {
            let mark = match ratio(results, &bench, reference) {
                Some(r) if r <= *max => format!("{r:.2}x ok"),
                Some(r) => format!("{r:.2}x OVER"),
                None => "not measured".into(),
            };
            s.push_str(&format!("  <= {max}x {reference}: {mark}"));
        }
        s.push('\n');
    }
    s
}

fn json(results: &BTreeMap<String, CpuResults>) -> Value {
    let mut per_cpu = Map::new();
    for (cpu, r) in results {
        let mut m = Map::new();
        for (name, b) in r {
            m.insert(
                name.clone(),
                json!({
                    "iteration": iteration(name),
                    "instructions_per_iter": b.instructions_per_iter(),
                    "ticks": b.ticks,
                    "iters": b.iters,
                    "freq_hz": b.freq,
                }),
            );
        }
        per_cpu.insert(cpu.clone(), Value::Object(m));
    }
    let mut targets = Map::new();
    for (bench, max) in TARGETS {
        let value = net(results, bench);
        targets.insert(
            bench.into(),
            json!({
                "cpu": TARGET_CPU,
                "metric": "instructions_per_iter minus nop",
                "max": max,
                "value": value,
                "ok": value.map(|v| v <= max),
            }),
        );
    }
    for (bench, reference, max) in RELATIVE {
        let value = ratio(results, bench, reference);
        targets.insert(
            bench.into(),
            json!({
                "cpu": TARGET_CPU,
                "metric": format!("instructions_per_iter / {reference}'s"),
                "max": max,
                "value": value,
                "ok": value.map(|v| v <= max),
            }),
        );
    }
    json!({ "icount_shift": 0, "results": per_cpu, "targets": targets })
}

/// `cargo xtask bench`; returns the exit code.
pub fn main() -> i32 {
    match bench() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// The testkit's and Aerie's own benchmarks on every CPU model, and 1 if
/// any run failed.
fn trap_results() -> (BTreeMap<String, CpuResults>, i32) {
    let mut results = BTreeMap::new();
    let mut code = 0;
    for (column, cpu, gic) in MACHINES {
        let mut cpu_results = CpuResults::new();
        for run in [run_cpu, run_aerie_boot] {
            match run(column, cpu, gic) {
                Ok(r) => cpu_results.extend(r),
                Err(e) => {
                    eprintln!("error: bench: {e:#}");
                    code = 1;
                }
            }
        }
        if !cpu_results.is_empty() {
            results.insert(column.to_string(), cpu_results);
        }
    }
    (results, code)
}

/// `cargo xtask bench traps`: only the trap and interrupt table (a few
/// minutes), printed and not written to results.json.
pub fn traps_only() -> i32 {
    let run = || -> Result<i32> {
        crate::setup::setup()?;
        crate::build::build()?;
        let (results, code) = trap_results();
        print!("{}", table(&results));
        Ok(code)
    };
    run().unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        1
    })
}

/// `cargo xtask bench appliance`: only the appliance throughput (host
/// tools; no QEMU), printed and not written to results.json.
pub fn appliance_only() -> i32 {
    let result = crate::setup::setup()
        .and_then(|()| crate::build::build())
        .and_then(|()| crate::bench_appliance::run())
        .map_err(|e| format!("{e:#}"));
    print!("{}", crate::bench_appliance::table(&result));
    i32::from(result.is_err())
}

/// `cargo xtask bench net`: only the VM-to-VM transfer, printed and not
/// written to results.json.
pub fn net_only() -> i32 {
    only(crate::bench_net::run, crate::bench_net::table)
}

/// `cargo xtask bench disk`: only the disk passes, printed and not written
/// to results.json.
pub fn disk_only() -> i32 {
    only(crate::bench_disk::run, crate::bench_disk::table)
}

/// One benchmark alone after set-up and build: its failure said on
/// stderr, its table printed; 1 if it failed.
fn only<T>(run: impl FnOnce() -> Result<T>, table: impl Fn(&Result<T, String>) -> String) -> i32 {
    let result = crate::setup::setup()
        .and_then(|()| crate::build::build())
        .and_then(|()| run())
        .map_err(|e| format!("{e:#}"));
    if let Err(e) = &result {
        eprintln!("error: {e}");
    }
    print!("{}", table(&result));
    i32::from(result.is_err())
}

/// A benchmark's failure, said on stderr and kept for its table row.
pub fn reported(e: anyhow::Error) -> String {
    let msg = format!("{e:#}");
    eprintln!("error: bench: {msg}");
    msg
}

fn bench() -> Result<i32> {
    crate::setup::setup()?;
    crate::build::build()?;
    let (results, mut code) = trap_results();
    let linux = crate::bench_linux::run_all(&CPUS);
    if !crate::bench_linux::all_measured(&linux) {
        code = 1;
    }
    let appliance = crate::bench_appliance::run().map_err(reported);
    let net = crate::bench_net::run().map_err(reported);
    let disk = crate::bench_disk::run().map_err(reported);
    if appliance.is_err() || net.is_err() || disk.is_err() {
        code = 1;
    }
    print!("{}", table(&results));
    print!("{}", crate::bench_linux::table(&linux));
    print!("{}", crate::bench_net::table(&net));
    print!("{}", crate::bench_disk::table(&disk));
    print!("{}", crate::bench_appliance::table(&appliance));
    let out = paths::bench_dir().join("results.json");
    std::fs::create_dir_all(paths::bench_dir())?;
    let mut all = json(&results);
    all["linux_boot"] = crate::bench_linux::json(&linux);
    all["appliance"] = crate::bench_appliance::json(&appliance);
    all["net_transfer"] = crate::bench_net::json(&net);
    all["disk"] = crate::bench_disk::json(&disk);
    std::fs::write(&out, serde_json::to_string_pretty(&all)? + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    step(format!("bench: wrote {}", paths::show(&out)));
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BTreeMap<String, CpuResults> {
        // freq 1 GHz makes ticks = instructions.
        let line = |name: &str, ticks| BenchLine {
            name: name.into(),
            iters: 10,
            ticks,
            freq: 1_000_000_000,
        };
        let a72: CpuResults = [
            line("nop", 30),
            line("hvc_null", 630),
            line("mmio_uart_read", 1600),
            line("virq_latency", 1025),
            line("ipi_roundtrip", 60000),
            line("irq_entry_exit", 3000),
            line("pnmi_latency", 1500),
            line("dcc_backdoor_getversion", 756),
        ]
        .into_iter()
        .map(|b| (b.name.clone(), b))
        .collect();
        let max: CpuResults = [
            line("nop", 20),
            line("ipi_roundtrip", 50000),
            line("extra", 5),
        ]
        .into_iter()
        .map(|b| (b.name.clone(), b))
        .collect();
        let gicv2: CpuResults = [line("ipi_roundtrip", 70000)]
            .into_iter()
            .map(|b| (b.name.clone(), b))
            .collect();
        [
            ("cortex-a72".to_string(), a72),
            ("max".to_string(), max),
            ("a72-gicv2".to_string(), gicv2),
        ]
        .into()
    }

    #[test]
    fn table_values_net_and_marks() {
        let t = table(&sample());
        let row = |name: &str| t.lines().find(|l| l.starts_with(name)).unwrap().to_string();
        let cells = |name: &str| -> Vec<String> {
            row(name).split_whitespace().map(String::from).collect()
        };
        assert!(t.starts_with("guest instructions per iteration"), "{t}");
        assert!(
            row("benchmark").contains("iteration")
                && row("benchmark").contains("a72 - nop")
                && row("benchmark").contains("target (a72 - nop)"),
            "{t}"
        );
        // hvc_null: 63.0 gross, 60.0 net of the 3.0 nop: at the target.
        assert_eq!(
            cells("hvc_null"),
            ["hvc_null", "1", "loop", "pass", "63.0", "-", "-", "60.0", "<=", "60", "ok"],
            "{t}"
        );
        // mmio_uart_read: 160.0 gross, 157.0 net: over 150.
        assert!(row("mmio_uart_read").contains("157.0  <= 150 OVER"), "{t}");
        // The baseline is not net of itself.
        assert_eq!(
            cells("nop"),
            ["nop", "1", "loop", "pass", "3.0", "2.0", "-", "-"],
            "{t}"
        );
        assert!(row("sysreg_trap").contains('-'), "{t}");
        // Not loops: raw, never net of the nop loop.
        assert_eq!(
            cells("virq_latency"),
            [
                "virq_latency",
                "1",
                "interrupt",
                "(raw)",
                "102.5",
                "-",
                "-",
                "-"
            ],
            "{t}"
        );
        assert_eq!(
            cells("ipi_roundtrip"),
            [
                "ipi_roundtrip",
                "1",
                "round",
                "trip",
                "(raw)",
                "6000.0",
                "5000.0",
                "7000.0",
                "-"
            ],
            "{t}"
        );
        // 75.6 / 63.0 = 1.2: exactly at the relative target.
        assert!(
            row("dcc_backdoor_getversion").ends_with("<= 1.2x hvc_null: 1.20x ok"),
            "{t}"
        );
        assert!(
            row("brk_backdoor_getversion").ends_with("not measured"),
            "{t}"
        );
        assert_eq!(
            cells("extra"),
            ["extra", "unknown", "(raw)", "-", "0.5", "-", "-"],
            "{t}"
        );
        // Known rows first, in order, then the extra one.
        let names: Vec<&str> = t
            .lines()
            .skip(2)
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "nop",
                "hvc_null",
                "smc_psci_version",
                "mmio_uart_read",
                "sysreg_trap",
                "debug_reg_trap",
                "dcc_backdoor_getversion",
                "brk_backdoor_getversion",
                "virq_latency",
                "ipi_roundtrip",
                "wfi_wake",
                "retention_wake",
                "irq_entry_exit",
                "pnmi_latency",
                "syscall_null",
                "extra"
            ]
        );
        // Aerie's own interrupt paths: raw, per interrupt.
        assert_eq!(
            cells("irq_entry_exit"),
            [
                "irq_entry_exit",
                "1",
                "interrupt",
                "(raw)",
                "300.0",
                "-",
                "-",
                "-"
            ],
            "{t}"
        );
        assert_eq!(
            cells("pnmi_latency"),
            [
                "pnmi_latency",
                "1",
                "pseudo-NMI",
                "(raw)",
                "150.0",
                "-",
                "-",
                "-"
            ],
            "{t}"
        );
    }

    #[test]
    fn aerie_boot_lines_are_required_and_picked_out() {
        let out = "aerie: Aerie 0.1.0 on Cortex-A72\r\n\
                   bench: name=irq_entry_exit iters=100 ticks=62500 freq=62500000\r\n\
                   bench: name=pnmi_latency iters=100 ticks=31250 freq=62500000\n\
                   aerie: uw bench[1]: bench: name=syscall_null iters=10 ticks=6250 freq=62500000\n\
                   [testkit] bench: name=nop iters=1 ticks=1 freq=1\n";
        let r = aerie_boot_results(out).unwrap();
        assert_eq!(
            r.keys().collect::<Vec<_>>(),
            ["irq_entry_exit", "pnmi_latency", "syscall_null"]
        );
        assert_eq!(r["syscall_null"].instructions_per_iter(), 10_000.0);
        // 62500 ticks at 62.5 MHz = 1 ms = 1e6 instructions, over 100 interrupts.
        assert_eq!(r["irq_entry_exit"].instructions_per_iter(), 10_000.0);
        assert_eq!(r["pnmi_latency"].instructions_per_iter(), 5_000.0);
        let missing = out.replace("name=pnmi_latency", "name=other");
        let e = aerie_boot_results(&missing).unwrap_err();
        assert!(e.contains("bench: name=pnmi_latency"), "{e}");
    }

    #[test]
    fn json_shape() {
        let j = json(&sample());
        assert_eq!(j["icount_shift"], 0);
        assert_eq!(
            j["results"]["cortex-a72"]["hvc_null"]["instructions_per_iter"],
            63.0
        );
        assert_eq!(j["results"]["cortex-a72"]["hvc_null"]["ticks"], 630);
        assert_eq!(j["results"]["max"]["nop"]["freq_hz"], 1_000_000_000u64);
        assert_eq!(j["targets"]["hvc_null"]["ok"], true);
        assert_eq!(j["targets"]["mmio_uart_read"]["ok"], false);
        assert_eq!(j["targets"]["mmio_uart_read"]["value"], 157.0);
        assert_eq!(j["targets"]["dcc_backdoor_getversion"]["ok"], true);
        assert_eq!(j["targets"]["brk_backdoor_getversion"]["ok"], Value::Null);
        assert_eq!(
            j["results"]["cortex-a72"]["virq_latency"]["instructions_per_iter"],
            102.5
        );
        assert_eq!(
            j["results"]["cortex-a72"]["virq_latency"]["iteration"],
            "1 interrupt (raw)"
        );
        assert_eq!(
            j["results"]["cortex-a72"]["hvc_null"]["iteration"],
            "1 loop pass"
        );
        assert_eq!(
            j["results"]["cortex-a72"]["pnmi_latency"]["instructions_per_iter"],
            150.0
        );
        assert_eq!(
            j["results"]["cortex-a72"]["pnmi_latency"]["iteration"],
            "1 pseudo-NMI (raw)"
        );
    }
}
