//! `linux_boot` and `linux_boot_native`: guest instructions from VM start to
//! the initramfs's first line, under Aerie and on QEMU alone.
//!
//! The initramfs's first command prints the guest virtual counter
//! (`initramfs: started cntvct=<N> cntfrq=<F>`). Aerie starts each VM's virtual
//! counter at 0, as QEMU does at reset, so under `-icount` with shift 0 (one
//! instruction per ns) `N * 1e9 / F` counts instructions since the VM started
//! on all its vCPUs, plus idle time. `sleep=off` makes idle time jump to the
//! next timer deadline, so both runs are exactly repeatable. The kernel
//! command line is `quiet` so the comparison is of booting, not of how fast
//! each side pushes kernel messages through the UART.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::cmd::step;
use crate::output;
use crate::paths;
use crate::qemu::{icount, QemuOptions, Status};
use crate::run;

/// The VM's command line in both runs: `aerie.bench=boot` makes /init power
/// off right after its first line.
pub const CMDLINE: &str = "console=ttyAMA0 quiet aerie.bench=boot";
/// Aerie's boot may cost at most this much more than native, on cortex-a72.
pub const TARGET_RATIO: f64 = 1.10;
pub const TARGET_CPU: &str = "cortex-a72";
const VCPUS: u32 = 2;
const MEMORY_MIB: u64 = 256;
const TIMEOUT_SECS: u64 = 600;

/// Both measurements for one CPU model, in instructions (Err: why none).
#[derive(Clone, Debug, PartialEq)]
pub struct LinuxBoot {
    pub aerie: Result<f64, String>,
    pub native: Result<f64, String>,
}

impl LinuxBoot {
    /// Aerie over native, when both were measured.
    pub fn ratio(&self) -> Option<f64> {
        match (&self.aerie, &self.native) {
            (Ok(a), Ok(n)) if *n > 0.0 => Some(a / n),
            _ => None,
        }
    }
}

/// Instructions from the first line's counter value.
pub fn instructions(out: &str) -> Option<f64> {
    let (cnt, frq) = output::initramfs_counter(out)?;
    Some(cnt as f64 * 1e9 / frq as f64)
}

fn measure(name: &str, cpu: &str, opts: &QemuOptions) -> Result<f64> {
    let log = paths::bench_dir().join(format!("{name}-{cpu}.log"));
    step(format!(
        "bench: {name} on {cpu} (log {})",
        paths::show(&log)
    ));
    let outcome = run::run_quiet(opts, Duration::from_secs(TIMEOUT_SECS), &log)?;
    let found = instructions(&outcome.output);
    match (outcome.status, found) {
        (_, None) => bail!(
            "{name} {cpu}: no `initramfs: started cntvct=<N> cntfrq=<F>` line; QEMU {:?} (log {})",
            outcome.status,
            paths::show(&log)
        ),
        (Status::Exited(0), Some(n)) => Ok(n),
        (other, Some(_)) => bail!(
            "{name} {cpu}: QEMU {other:?} after the first line (log {})",
            paths::show(&log)
        ),
    }
}

/// `linux_boot` on `cpu`: the VM under Aerie.
fn under_aerie(cpu: &str) -> Result<f64> {
    let opts = aerie_options(cpu, "", "linux-bench")?;
    measure("linux_boot", cpu, &opts)
}

/// `linux_boot`'s VM under Aerie on `cpu`, with `extra` words on its
/// command line (`stem` names the boot module).
pub fn aerie_options(cpu: &str, extra: &str, stem: &str) -> Result<QemuOptions> {
    let mut config = crate::builtin_vms::linux_config(&format!("{CMDLINE}{extra}"));
    // No disk and no network card: the guest would probe them, and the
    // native run has neither.
    config.vms[0].disks.clear();
    config.vms[0].net = None;
    let prepared = run::prepare_config(&config, stem, true, None)?;
    Ok(QemuOptions::measured(
        cpu,
        VCPUS,
        prepared.bootmodule,
        "warn",
        "",
    ))
}

/// `linux_boot_native` on `cpu`: the same VM on QEMU at EL1, no hypervisor.
fn native(cpu: &str) -> Result<f64> {
    let mut opts = QemuOptions::native_linux(cpu, VCPUS, CMDLINE, MEMORY_MIB);
    opts.icount = Some(icount::EXACT_NO_SLEEP);
    measure("linux_boot_native", cpu, &opts)
}

/// Runs both measurements on every CPU model.
pub fn run_all(cpus: &[&str]) -> BTreeMap<String, LinuxBoot> {
    let err = crate::bench::reported;
    cpus.iter()
        .map(|cpu| {
            let r = LinuxBoot {
                native: native(cpu).map_err(err),
                aerie: under_aerie(cpu).map_err(err),
            };
            (cpu.to_string(), r)
        })
        .collect()
}

/// Whether every measurement was taken.
pub fn all_measured(results: &BTreeMap<String, LinuxBoot>) -> bool {
    results
        .values()
        .all(|r| r.aerie.is_ok() && r.native.is_ok())
}

/// Rows for the bench table: millions of instructions, and the ratio.
pub fn table(results: &BTreeMap<String, LinuxBoot>) -> String {
    let m = |v: &Result<f64, String>| match v {
        Ok(v) => format!("{:.1}M", v / 1e6),
        Err(_) => "-".into(),
    };
    let mut s = String::new();
    for (cpu, r) in results {
        s.push_str(&format!(
            "{:<18}{cpu:>12}  aerie {:>9}  native {:>9}  ratio {}",
            "linux_boot",
            m(&r.aerie),
            m(&r.native),
            r.ratio().map_or("-".into(), |x| format!("{x:.3}"))
        ));
        if cpu == TARGET_CPU {
            let mark = match r.ratio() {
                Some(x) if x <= TARGET_RATIO => "ok",
                Some(_) => "OVER",
                None => "not measured",
            };
            s.push_str(&format!("  <= {TARGET_RATIO:.2} {mark}"));
        }
        s.push('\n');
    }
    s
}

/// The `linux_boot` part of results.json.
pub fn json(results: &BTreeMap<String, LinuxBoot>) -> Value {
    let v = |r: &Result<f64, String>| match r {
        Ok(x) => json!(x),
        Err(_) => Value::Null,
    };
    let per_cpu: serde_json::Map<String, Value> = results
        .iter()
        .map(|(cpu, r)| {
            (
                cpu.clone(),
                json!({
                    "linux_boot": v(&r.aerie),
                    "linux_boot_native": v(&r.native),
                    "ratio": r.ratio(),
                }),
            )
        })
        .collect();
    let ratio = results.get(TARGET_CPU).and_then(LinuxBoot::ratio);
    json!({
        "metric": "guest instructions from VM start to the initramfs's first line",
        "cmdline": CMDLINE,
        "icount": icount::EXACT_NO_SLEEP,
        "results": per_cpu,
        "target": {
            "cpu": TARGET_CPU,
            "max_ratio": TARGET_RATIO,
            "ratio": ratio,
            "ok": ratio.map(|x| x <= TARGET_RATIO),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_to_instructions() {
        // 62.5 MHz: one tick is 16 ns = 16 instructions at shift 0.
        let out = "[linux] initramfs: started cntvct=1000000 cntfrq=62500000\n";
        assert_eq!(instructions(out), Some(16e6));
        assert_eq!(instructions("initramfs: started\n"), None);
    }

    #[test]
    fn ratio_table_and_json() {
        let results: BTreeMap<String, LinuxBoot> = [
            (
                "cortex-a72".to_string(),
                LinuxBoot {
                    aerie: Ok(105e6),
                    native: Ok(100e6),
                },
            ),
            (
                "max".to_string(),
                LinuxBoot {
                    aerie: Err("no line".into()),
                    native: Ok(90e6),
                },
            ),
        ]
        .into();
        assert!((results["cortex-a72"].ratio().unwrap() - 1.05).abs() < 1e-12);
        assert_eq!(results["max"].ratio(), None);
        assert!(!all_measured(&results));
        let t = table(&results);
        assert!(
            t.contains("aerie    105.0M  native    100.0M  ratio 1.050  <= 1.10 ok"),
            "{t}"
        );
        assert!(
            t.contains("aerie         -  native     90.0M  ratio -\n"),
            "{t}"
        );
        let j = json(&results);
        assert_eq!(j["results"]["cortex-a72"]["linux_boot"], 105e6);
        assert_eq!(j["results"]["max"]["linux_boot"], Value::Null);
        assert_eq!(j["target"]["ok"], true);
        let over = LinuxBoot {
            aerie: Ok(120e6),
            native: Ok(100e6),
        };
        let results: BTreeMap<_, _> = [("cortex-a72".to_string(), over)].into();
        assert!(table(&results).contains("ratio 1.200  <= 1.10 OVER"));
        assert_eq!(json(&results)["target"]["ok"], false);
    }
}
