//! `cargo xtask bench disk`: a Linux VM's disk, under Aerie and on QEMU
//! alone. The initramfs's `aerie.bench=disk` times three kinds of pass of
//! `dd` with direct I/O, one request at a time, by the guest's virtual
//! counter: 2,048 reads of 4 KiB (latency), 64 reads of 512 KiB and 64
//! writes of 512 KiB (throughput), in [`ROUNDS`] rounds; each kind's
//! median pass is its figure (a run's first round meets a cold disk, and
//! the guest's idle states make single passes differ by half and more).
//! Under Aerie the VM's disk is a region of the host disk, served by
//! `vm::block`; natively it is QEMU's virtio-blk itself.
//! Aerie runs twice: as `cargo xtask run` boots the VM, and with the
//! guest's cpuidle off (`cpuidle.off=1`: WFI only, as QEMU's own `virt`
//! offers no PSCI idle states), which shows what the idle states' entries
//! and exits cost beside the disk path itself.
//!
//! Wall clock, not instructions: without `-icount` the counter follows the
//! host's time. Under `-icount` a native guest's idle wait for QEMU's I/O
//! thread jumps to the next timer deadline (`sleep=off`) or runs at the
//! host's pace anyway (`sleep=on`), so neither would count the disk. The
//! figures are QEMU's TCG on this machine: compare the two columns, not
//! the absolute values with hardware's, and expect a few percent between
//! runs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::cmd::step;
use crate::output;
use crate::paths;
use crate::qemu::{Boot, QemuOptions, Status};
use crate::run;

const CMDLINE: &str = "console=ttyAMA0 quiet aerie.bench=disk";
const CPU: &str = "cortex-a72";
const VCPUS: u32 = 2;
const MEMORY_MIB: u64 = 256;
/// The disk both runs get: the whole file natively, a region of it as big
/// under Aerie.
const DISK_MIB: u64 = 64;
const TIMEOUT_SECS: u64 = 600;
const KEY: &str = "disk-bench: ";
/// Rounds of the three kinds of pass each run makes (tests/linux/init.sh).
pub const ROUNDS: usize = 3;
/// The kinds of pass.
const KINDS: usize = 3;

/// One pass: what it did and how long it took.
#[derive(Clone, Debug, PartialEq)]
pub struct Pass {
    /// `read` or `write`.
    pub op: String,
    pub block: u64,
    pub count: u64,
    pub seconds: f64,
}

impl Pass {
    /// The pass's name in the table: `disk_read_4k`.
    pub fn name(&self) -> String {
        format!("disk_{}_{}k", self.op, self.block / 1024)
    }

    /// Microseconds a request.
    pub fn us_per_request(&self) -> f64 {
        self.seconds * 1e6 / self.count as f64
    }

    /// MB (10^6 bytes) a second.
    pub fn mb_per_s(&self) -> f64 {
        (self.block * self.count) as f64 / self.seconds / 1e6
    }
}

/// `<n>k` as bytes.
fn block_bytes(text: &str) -> Option<u64> {
    Some(text.strip_suffix('k')?.parse::<u64>().ok()? * 1024)
}

/// Every `disk-bench: <op> bs=<B> count=<N> from cntvct=<T0> to
/// cntvct=<T1> cntfrq=<F>` line.
pub fn parse(out: &str) -> Vec<Pass> {
    out.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line[line.find(KEY)? + KEY.len()..]
                .split_whitespace()
                .collect();
            let field = |i: usize, key: &str| words.get(i)?.strip_prefix(key);
            let block = block_bytes(field(1, "bs=")?)?;
            let count: u64 = field(2, "count=")?.parse().ok()?;
            let t0: u64 = field(4, "cntvct=")?.parse().ok()?;
            let t1: u64 = field(6, "cntvct=")?.parse().ok()?;
            let freq: u64 = field(7, "cntfrq=")?.parse().ok()?;
            let op = words.first()?.to_string();
            (t1 > t0 && freq > 0 && count > 0).then(|| Pass {
                op,
                block,
                count,
                seconds: (t1 - t0) as f64 / freq as f64,
            })
        })
        .collect()
}

/// Each kind of pass's median by time, in the order the kinds first came.
pub fn medians(passes: &[Pass]) -> Vec<Pass> {
    let mut kinds: Vec<Vec<&Pass>> = Vec::new();
    for p in passes {
        match kinds.iter_mut().find(|k| k[0].name() == p.name()) {
            Some(kind) => kind.push(p),
            None => kinds.push(vec![p]),
        }
    }
    kinds
        .into_iter()
        .map(|mut kind| {
            kind.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
            kind[kind.len() / 2].clone()
        })
        .collect()
}

/// A fresh zeroed disk file for `name`.
fn disk_file(name: &str) -> Result<PathBuf> {
    let path = paths::bench_dir().join(format!("{name}.disk.img"));
    crate::disk::create(&path, DISK_MIB << 20)?;
    Ok(path)
}

/// The throttles Aerie's cap (C1) dealt a run's vCPUs, added up from the
/// lines it logs at `info` when a VM stops (`vm linux: vcpu 0 clock 500
/// MHz (24 changes, 1249 throttles) ...`); None without such lines.
pub fn throttles(out: &str) -> Option<u64> {
    let counts: Vec<u64> = output::lines_with(out, " throttles)")
        .into_iter()
        .filter(|l| l.contains(": vcpu "))
        .filter_map(|l| output::number_before(l, " throttles)"))
        .collect();
    (!counts.is_empty()).then(|| counts.iter().sum())
}

/// One run: each kind of pass's median, and the throttles of its vCPUs.
struct Run {
    passes: Vec<Pass>,
    throttles: Option<u64>,
}

fn measure(name: &str, opts: &QemuOptions) -> Result<Run> {
    let log = paths::bench_dir().join(format!("{name}.log"));
    step(format!("bench: {name} (log {})", paths::show(&log)));
    let outcome = run::run_quiet(opts, Duration::from_secs(TIMEOUT_SECS), &log)?;
    let passes = parse(&outcome.output);
    if outcome.output.contains("disk-bench: dd") {
        bail!("{name}: a dd failed (log {})", paths::show(&log));
    }
    match (outcome.status, passes.len()) {
        (Status::Exited(0), n) if n == ROUNDS * KINDS => Ok(Run {
            passes: medians(&passes),
            throttles: throttles(&outcome.output),
        }),
        (status, n) => bail!(
            "{name}: {n} of {} `disk-bench:` lines, QEMU {status:?} (log {})",
            ROUNDS * KINDS,
            paths::show(&log)
        ),
    }
}

/// The benchmark's VM under Aerie on `cpu`, `extra` on its command line,
/// with a fresh disk: QEMU's options for run `name` (under `-icount`, as
/// [`QemuOptions::measured`] has it; the benchmark turns that off).
pub fn aerie_options(name: &str, cpu: &str, extra: &str) -> Result<QemuOptions> {
    let mut config = crate::builtin_vms::linux_config(&format!("{CMDLINE}{extra}"));
    config.vms[0].net = None;
    config.vms[0].disks[0].size = DISK_MIB << 20;
    let disk = disk_file(name)?;
    let stem = format!("linux-bench-{name}");
    let prepared = run::prepare_config(&config, &stem, true, Some(&disk))?;
    let mut opts = QemuOptions::measured(cpu, VCPUS, prepared.bootmodule, "warn", "");
    opts.disk = Some(disk);
    Ok(opts)
}

/// The VM under Aerie, `extra` on its command line; Aerie logs at `info`,
/// for the vCPUs' throttles when the VM stops.
fn under_aerie(name: &str, extra: &str) -> Result<Run> {
    let mut opts = aerie_options(name, CPU, extra)?;
    opts.icount = None;
    if let Boot::Aerie { log, .. } = &mut opts.boot {
        *log = "info".into();
    }
    measure(name, &opts)
}

/// The same VM on QEMU alone, the whole disk file its disk.
fn native() -> Result<Run> {
    let mut opts = QemuOptions::native_linux(CPU, VCPUS, CMDLINE, MEMORY_MIB);
    opts.disk = Some(disk_file("disk-native")?);
    measure("disk-native", &opts)
}

/// One pass as each run made it.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub aerie: Pass,
    /// Under Aerie, the guest's cpuidle off.
    pub aerie_wfi: Pass,
    pub native: Pass,
}

/// Every pass, by name, and the throttles Aerie's cap dealt the vCPUs of
/// each run under it (aerie, aerie-wfi): the first column moves with them.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskResults {
    pub rows: BTreeMap<String, Row>,
    pub throttles: [Option<u64>; 2],
}

/// Runs all three.
pub fn run() -> Result<DiskResults> {
    let aerie = under_aerie("disk-aerie", "")?;
    let aerie_wfi = under_aerie("disk-aerie-wfi", " cpuidle.off=1")?;
    let native = native()?;
    let throttles = [aerie.throttles, aerie_wfi.throttles];
    let rows = aerie
        .passes
        .into_iter()
        .zip(aerie_wfi.passes)
        .zip(native.passes)
        .map(|((aerie, aerie_wfi), native)| {
            (
                aerie.name(),
                Row {
                    aerie,
                    aerie_wfi,
                    native,
                },
            )
        })
        .collect();
    Ok(DiskResults { rows, throttles })
}

/// The table: latency for small requests, throughput for large ones, and
/// Aerie's time over native (both ways of running the guest).
pub fn table(results: &Result<DiskResults, String>) -> String {
    let results = match results {
        Ok(r) => r,
        Err(e) => return format!("disk: not measured: {e}\n"),
    };
    let mut s = format!(
        "disk (wall clock under TCG, one request at a time, direct I/O, the median of \
         {ROUNDS} passes; aerie-wfi: the guest's cpuidle off)\n"
    );
    for (name, r) in &results.rows {
        let ratio = |p: &Pass| p.seconds / r.native.seconds;
        let value = |p: &Pass| {
            if p.block <= 4096 {
                format!("{:.0} us/request", p.us_per_request())
            } else {
                format!("{:.1} MB/s", p.mb_per_s())
            }
        };
        s.push_str(&format!(
            "{name:<16} aerie {:>15}  aerie-wfi {:>15}  native {:>15}  time ratio {:.2} / {:.2}\n",
            value(&r.aerie),
            value(&r.aerie_wfi),
            value(&r.native),
            ratio(&r.aerie),
            ratio(&r.aerie_wfi)
        ));
    }
    let count = |t: Option<u64>| t.map_or("?".into(), |n| n.to_string());
    s.push_str(&format!(
        "throttles by the cap on the guest's clocks (C1), all vCPUs of a run: aerie {}, aerie-wfi {}\n",
        count(results.throttles[0]),
        count(results.throttles[1])
    ));
    s
}

/// The disk benchmark's part of results.json.
pub fn json(results: &Result<DiskResults, String>) -> serde_json::Value {
    let Ok(results) = results else {
        return serde_json::Value::Null;
    };
    let row = |p: &Pass| {
        serde_json::json!({
            "seconds": p.seconds,
            "us_per_request": p.us_per_request(),
            "mb_per_s": p.mb_per_s(),
        })
    };
    let mut all = serde_json::Map::new();
    for (name, r) in &results.rows {
        all.insert(
            name.clone(),
            serde_json::json!({
                "aerie": row(&r.aerie),
                "aerie_cpuidle_off": row(&r.aerie_wfi),
                "native": row(&r.native),
                "time_ratio": r.aerie.seconds / r.native.seconds,
            }),
        );
    }
    serde_json::json!({
        "metric": "wall clock of direct-I/O dd passes in a Linux VM (TCG, no icount)",
        "cmdline": CMDLINE,
        "results": all,
        "throttles": {
            "aerie": results.throttles[0],
            "aerie_cpuidle_off": results.throttles[1],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_are_parsed_from_their_lines() {
        let out = "[linux] disk-bench: read bs=4k count=2048 from cntvct=1000 to cntvct=63501000 cntfrq=62500000\n\
                   disk-bench: write bs=512k count=64 from cntvct=0 to cntvct=62500000 cntfrq=62500000\n\
                   disk-bench: read bs=4k count=2048 from cntvct=9 to cntvct=9 cntfrq=62500000\n";
        let p = parse(out);
        assert_eq!(p.len(), 2, "a pass that took no time is dropped");
        assert_eq!(p[0].name(), "disk_read_4k");
        assert!((p[0].seconds - 1.016).abs() < 1e-9);
        assert!((p[0].us_per_request() - 1.016e6 / 2048.0).abs() < 1e-6);
        assert_eq!(p[1].name(), "disk_write_512k");
        assert!((p[1].mb_per_s() - 64.0 * 524288.0 / 1e6).abs() < 1e-9);
    }

    #[test]
    fn throttles_add_up_over_the_vcpus() {
        let out = "aerie: vm linux: vcpu 0 clock 750 MHz (75 changes, 2151 throttles) idle: wfi 2355 (153 ms)\n\
                   aerie: vm linux: vcpu 1 clock 750 MHz (209 changes, 1735 throttles) idle: wfi 6070 (254 ms)\n\
                   disk-bench: read bs=4k count=2048 from cntvct=1 to cntvct=2 cntfrq=62500000\n";
        assert_eq!(throttles(out), Some(3886));
        assert_eq!(throttles("aerie: vm linux: powered off\n"), None);
    }

    #[test]
    fn each_kind_of_pass_gives_its_median() {
        let pass = |op: &str, block: u64, seconds: f64| Pass {
            op: op.into(),
            block,
            count: 64,
            seconds,
        };
        let passes = [
            pass("read", 4096, 3.0),
            pass("write", 524288, 0.5),
            pass("read", 4096, 1.0),
            pass("write", 524288, 0.9),
            pass("read", 4096, 2.0),
            pass("write", 524288, 0.1),
        ];
        let m = medians(&passes);
        assert_eq!(m, [pass("read", 4096, 2.0), pass("write", 524288, 0.5)]);
    }

    #[test]
    fn the_table_says_latency_and_throughput() {
        let pass = |op: &str, block: u64, seconds: f64| Pass {
            op: op.into(),
            block,
            count: 64,
            seconds,
        };
        let row = |block: u64, a: f64, w: f64, n: f64| Row {
            aerie: pass("read", block, a),
            aerie_wfi: pass("read", block, w),
            native: pass("read", block, n),
        };
        let results = DiskResults {
            rows: [
                ("disk_read_4k".into(), row(4096, 0.064, 0.048, 0.032)),
                ("disk_read_512k".into(), row(524288, 1.0, 0.75, 0.5)),
            ]
            .into(),
            throttles: [Some(1249), None],
        };
        let t = table(&Ok(results));
        assert!(
            t.contains("all vCPUs of a run: aerie 1249, aerie-wfi ?"),
            "{t}"
        );
        assert!(
            t.contains("disk_read_4k     aerie 1000 us/request  aerie-wfi  750 us/request  native  500 us/request  time ratio 2.00 / 1.50"),
            "{t}"
        );
        assert!(
            t.contains("disk_read_512k   aerie       33.6 MB/s  aerie-wfi       44.7 MB/s  native       67.1 MB/s  time ratio 2.00 / 1.50"),
            "{t}"
        );
        assert!(table(&Err("no".into())).contains("not measured: no"));
    }
}
