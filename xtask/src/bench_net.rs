//! `net_transfer`: what it costs the whole machine to move 1 MiB over TCP
//! from one Linux VM to another through Aerie's switch (the `linux-net`
//! config and `tests/linux/net.sh`, which prints the sender's guest counter
//! before and after `nc`).
//!
//! Under `-icount shift=0,sleep=off` the counter advances one nanosecond per
//! instruction any CPU executes (both guests' TCP stacks and drivers, Aerie's
//! exits, the copies through the switch), and while every CPU is idle it
//! jumps to the next timer deadline instead of waiting in real time: the
//! difference is virtual time, exactly repeatable, with those idle stretches
//! in it. Reported raw and as the rate a machine doing one instruction per
//! nanosecond would see. There is no native row: QEMU alone has no switch
//! between two VMs.

use std::path::Path;
use std::time::Duration;

use aerie_vmconfig::{Config, VmConfig};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::cmd::step;
use crate::paths;
use crate::qemu::{icount, Outcome, QemuOptions, Status};
use crate::run;

/// The two VMs and what they run.
const CONFIG: &str = "tests/configs/linux-net.toml";
const CPU: &str = "cortex-a72";
const PCPUS: u32 = 2;
/// The VM that sends.
const SENDER: &str = "b";
const TIMEOUT_SECS: u64 = 600;
/// What the sender prints after its transfer.
const KEY: &str = "net: transfer of ";

/// One transfer: its size and the instructions it took.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetTransfer {
    pub bytes: u64,
    pub instructions: f64,
}

impl NetTransfer {
    /// MB (10^6 bytes) per second at one instruction per nanosecond.
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / (self.instructions / 1e9) / 1e6
    }
}

/// The transfer from the line `net: transfer of <B> bytes from cntvct=<T0>
/// to cntvct=<T1> cntfrq=<F> tries=<n>`; None without one, or when the
/// sender had to retry (the receiver was not listening yet: the wait would
/// count as transfer).
pub fn parse(out: &str) -> Option<NetTransfer> {
    let line = out.lines().find(|l| l.contains(KEY))?;
    let words: Vec<&str> = line[line.find(KEY)? + KEY.len()..]
        .split_whitespace()
        .collect();
    let field =
        |key: &str| -> Option<u64> { words.iter().find_map(|w| w.strip_prefix(key)?.parse().ok()) };
    let bytes: u64 = words.first()?.parse().ok()?;
    let (t0, t1, freq) = (field("cntvct=")?, words.get(5)?, field("cntfrq=")?);
    let t1: u64 = t1.strip_prefix("cntvct=")?.parse().ok()?;
    if field("tries=")? != 1 || freq == 0 || t1 <= t0 {
        return None;
    }
    Some(NetTransfer {
        bytes,
        instructions: (t1 - t0) as f64 * 1e9 / freq as f64,
    })
}

/// The VMs of [`CONFIG`], b asked to send `kib` KiB.
pub fn config(kib: u64) -> Result<Config> {
    let mut config = aerie_vmconfig::load(&paths::root().join(CONFIG))?;
    sender(&mut config)?
        .cmdline
        .push_str(&format!(" aerie.net_kib={kib}"));
    Ok(config)
}

/// The VM of `config` that sends.
pub fn sender(config: &mut Config) -> Result<&mut VmConfig> {
    config
        .vms
        .iter_mut()
        .find(|vm| vm.name == SENDER)
        .with_context(|| format!("{CONFIG} has no VM {SENDER:?}"))
}

/// `config`'s VMs on `cpu` under exact instruction counting (`stem` names
/// the boot module).
pub fn options(config: &Config, cpu: &str, stem: &str) -> Result<QemuOptions> {
    let prepared = run::prepare_config(config, stem, true, None)?;
    // At info level: the cards' lines at each VM's stop stay in the log.
    Ok(QemuOptions::measured(
        cpu,
        PCPUS,
        prepared.bootmodule,
        "info",
        "",
    ))
}

/// The transfer a run reports, or an error naming its log.
pub fn transfer(outcome: &Outcome, log: &Path) -> Result<NetTransfer> {
    match (outcome.status, parse(&outcome.output)) {
        (Status::Exited(0), Some(t)) => Ok(t),
        (status, found) => bail!(
            "net_transfer: QEMU {status:?}, {} (log {})",
            if found.is_some() {
                "measured"
            } else {
                "no single-try `net: transfer of` line"
            },
            paths::show(log)
        ),
    }
}

/// QEMU seeds the transfer runs on. How Linux cuts a transfer into TSO
/// packets follows its measured round trips, which move with the guests'
/// random numbers and with any change to the code that runs: one run moves
/// by 10% and more with a change of a few instructions anywhere, so the
/// benchmark is the mean of several seeds.
const SEEDS: [u32; 5] = [1, 2, 3, 4, 5];

/// The transfer, once per seed.
#[derive(Clone, Debug, PartialEq)]
pub struct NetBench {
    pub bytes: u64,
    /// Instructions of each run, in [`SEEDS`] order.
    pub runs: Vec<f64>,
}

impl NetBench {
    pub fn mean(&self) -> f64 {
        self.runs.iter().sum::<f64>() / self.runs.len().max(1) as f64
    }

    fn min(&self) -> f64 {
        self.runs.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn max(&self) -> f64 {
        self.runs.iter().copied().fold(0.0, f64::max)
    }

    /// The rate of the mean.
    pub fn mb_per_s(&self) -> f64 {
        NetTransfer {
            bytes: self.bytes,
            instructions: self.mean(),
        }
        .mb_per_s()
    }
}

/// Boots the two VMs under Aerie with exact instruction counting, once per
/// seed.
pub fn run() -> Result<NetBench> {
    let opts = options(&config(1024)?, CPU, "net-bench")?;
    let mut bench = NetBench {
        bytes: 0,
        runs: Vec::new(),
    };
    for seed in SEEDS {
        let log = paths::bench_dir().join(format!("net_transfer-{CPU}-seed{seed}.log"));
        step(format!(
            "bench: net_transfer on {CPU}, QEMU seed {seed} (log {})",
            paths::show(&log)
        ));
        let command = crate::qemu::command_seeded(&opts, false, seed);
        let outcome =
            run::run_quiet_aerie_command(command, Duration::from_secs(TIMEOUT_SECS), &log)?;
        let t = transfer(&outcome, &log)?;
        bench.bytes = t.bytes;
        bench.runs.push(t.instructions);
    }
    Ok(bench)
}

/// The bench table's row.
pub fn table(result: &Result<NetBench, String>) -> String {
    match result {
        Ok(b) => format!(
            "{:<18}{CPU:>12}  {} bytes in {:.1}M instructions (mean of QEMU seeds {}: {:.1}M to {:.1}M): \
             {:.1} MB/s at 1 instruction/ns\n",
            "net_transfer",
            b.bytes,
            b.mean() / 1e6,
            seeds_text(),
            b.min() / 1e6,
            b.max() / 1e6,
            b.mb_per_s()
        ),
        Err(_) => format!("{:<18}{CPU:>12}  not measured\n", "net_transfer"),
    }
}

/// `1, 2, 3, 4, 5`.
fn seeds_text() -> String {
    SEEDS.map(|s| s.to_string()).join(", ")
}

/// The `net_transfer` part of results.json.
pub fn json(result: &Result<NetBench, String>) -> Value {
    let ok = result.as_ref().ok();
    json!({
        "metric": "instructions of the whole machine while one VM sends another 1 MiB over TCP, mean of the QEMU seeds",
        "config": CONFIG,
        "cpu": CPU,
        "icount": icount::EXACT_NO_SLEEP,
        "seeds": SEEDS,
        "bytes": ok.map(|b| b.bytes),
        "instructions": ok.map(NetBench::mean),
        "instructions_per_seed": ok.map(|b| b.runs.clone()),
        "mb_per_s_at_1ns": ok.map(NetBench::mb_per_s),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_senders_line() {
        // 62.5 MHz: a tick is 16 instructions; 62_500 ticks = 1 ms.
        let out = "[b] net: transfer of 1048576 bytes from cntvct=1000 to cntvct=63500 \
                   cntfrq=62500000 tries=1\n";
        let t = parse(out).unwrap();
        assert_eq!(t.bytes, 1 << 20);
        assert_eq!(t.instructions, 1e6);
        assert!((t.mb_per_s() - 1048.576).abs() < 1e-9);
        let b = NetBench {
            bytes: t.bytes,
            runs: vec![1e6, 2e6, 3e6],
        };
        assert!(
            table(&Ok(b.clone())).contains(
                "1048576 bytes in 2.0M instructions (mean of QEMU seeds 1, 2, 3, 4, 5: 1.0M to 3.0M): \
                 524.3 MB/s"
            ),
            "{}",
            table(&Ok(b.clone()))
        );
        let j = json(&Ok(b));
        assert_eq!(j["bytes"], 1 << 20);
        assert_eq!(j["instructions"], 2e6);
        assert_eq!(j["instructions_per_seed"][2], 3e6);
        // A retried connection, a counter that went backwards, no line.
        assert_eq!(parse(&out.replace("tries=1", "tries=3")), None);
        assert_eq!(parse(&out.replace("cntvct=63500", "cntvct=10")), None);
        assert_eq!(parse("net: bye\n"), None);
        assert!(table(&Err("x".into())).contains("not measured"));
    }
}
