//! Throughput of the appliance tool on a 1 GiB appliance: the example's
//! kernels for both architectures plus a 1 GiB extra disk (aarch64's) of
//! pseudo-random bytes, which streamOptimized VMDK cannot compress away, so
//! the OVA itself is about 1.1 GB.
//!
//! Validation reads every byte of the OVA once and hashes it while reading,
//! so its floor is one SHA-256 pass over the file: [`hash_pass`] measures
//! that pass alone (the same hashing copy loop, over the whole file) and the
//! target bounds validation by it. Build is reported, not bounded: it
//! converts every disk with `qemu-img` (deflate) before it packs and hashes.
//!
//! Seconds of wall time, not instructions: these are host tools. The files
//! are in the page cache by the time they are read, so "disk-read speed"
//! here is the speed of reading from memory plus hashing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::cmd::step;
use crate::paths;

const DISK_BYTES: u64 = 1 << 30;
/// Validation may take at most this much longer than one hashing pass.
pub const TARGET_RATIO: f64 = 1.25;

/// The three throughputs, in MB/s (10^6 bytes), and the OVA's size.
#[derive(Clone, Debug, PartialEq)]
pub struct Throughput {
    pub ova_bytes: u64,
    pub build_mbps: f64,
    pub validate_mbps: f64,
    pub hash_mbps: f64,
}

impl Throughput {
    /// Validate time over one hashing pass's time.
    pub fn ratio(&self) -> f64 {
        self.hash_mbps / self.validate_mbps
    }
}

/// 1 GiB of xorshift64* output: fast to make, incompressible to deflate.
fn write_random_disk(path: &Path) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..DISK_BYTES / block.len() as u64 {
        for chunk in block.chunks_exact_mut(8) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            chunk.copy_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        out.write_all(&block)?;
    }
    out.flush()?;
    Ok(())
}

/// The example spec, both architectures, with the 1 GiB extra disk on the
/// aarch64 one: written next to the disk, with absolute paths.
fn write_spec(dir: &Path, disk: &Path) -> Result<PathBuf> {
    let arch = |a: &str, console: &str| {
        let d = crate::appliance_guests::arch_dir(a);
        format!(
            "[{a}]\nkernel = {:?}\ninitrd = {:?}\ncmdline = \"console={console} rdinit=/init\"\n\
             cpus = 2\nmemory = \"256M\"\n",
            d.join("vmlinuz"),
            d.join("initrd.img"),
        )
    };
    let spec = format!(
        "[appliance]\nname = \"bench\"\n{}[[aarch64.disk]]\npath = {:?}\n{}",
        arch("aarch64", "ttyAMA0"),
        disk,
        arch("x86_64", "ttyS0")
    );
    let path = dir.join("bench.toml");
    std::fs::write(&path, spec).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs.max(1e-9)
}

/// One SHA-256 pass over `path` with the appliance's own hashing copy loop
/// (the one validation reads every member with): the validation floor.
fn hash_pass(path: &Path) -> Result<f64> {
    let mut f = std::fs::File::open(path)?;
    let start = Instant::now();
    let (total, digest) = aerie_appliance::digest::copy_hashed(
        &mut f,
        None,
        &aerie_appliance::progress::Progress::none(),
    )?;
    std::hint::black_box(digest);
    Ok(mbps(total, start.elapsed().as_secs_f64()))
}

/// Builds and validates the 1 GiB appliance under `target/bench/appliance/`.
pub fn run() -> Result<Throughput> {
    let dir = paths::bench_dir().join("appliance");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let disk = dir.join("data.img");
    step(format!(
        "bench: appliance: 1 GiB disk {}",
        paths::show(&disk)
    ));
    write_random_disk(&disk)?;
    let spec = write_spec(&dir, &disk)?;
    let ova = dir.join("bench.ova");

    let start = Instant::now();
    let report = aerie_appliance::build(&spec, &ova, &paths::efi_dir(), false)
        .map_err(|e| anyhow::anyhow!("appliance build: {e:#}"))?;
    let build_secs = start.elapsed().as_secs_f64();
    // The disk is no longer needed; free the space before reading the OVA.
    std::fs::remove_file(&disk)?;

    let hash_mbps = hash_pass(&ova)?;
    let start = Instant::now();
    let problems = aerie_appliance::validate(&ova, false)
        .map_err(|e| anyhow::anyhow!("appliance validate: {e:#}"))?;
    let validate_secs = start.elapsed().as_secs_f64();
    if !problems.is_empty() {
        bail!("the benchmark appliance does not validate: {}", problems[0]);
    }
    let t = Throughput {
        ova_bytes: report.ova_bytes,
        build_mbps: mbps(report.ova_bytes, build_secs),
        validate_mbps: mbps(report.ova_bytes, validate_secs),
        hash_mbps,
    };
    std::fs::remove_dir_all(&dir)?;
    Ok(t)
}

pub fn table(t: &Result<Throughput, String>) -> String {
    match t {
        Ok(t) => format!(
            "appliance ({:.0} MB OVA)  build {:.0} MB/s  validate {:.0} MB/s  \
             one SHA-256 pass {:.0} MB/s  validate/pass {:.2} <= {TARGET_RATIO} {}\n",
            t.ova_bytes as f64 / 1e6,
            t.build_mbps,
            t.validate_mbps,
            t.hash_mbps,
            t.ratio(),
            if t.ratio() <= TARGET_RATIO {
                "ok"
            } else {
                "OVER"
            }
        ),
        Err(e) => format!("appliance: not measured ({e})\n"),
    }
}

pub fn json(t: &Result<Throughput, String>) -> Value {
    match t {
        Ok(t) => json!({
            "ova_bytes": t.ova_bytes,
            "build_mb_per_s": t.build_mbps,
            "validate_mb_per_s": t.validate_mbps,
            "sha256_pass_mb_per_s": t.hash_mbps,
            "target": {
                "metric": "one SHA-256 pass MB/s / validate MB/s",
                "max": TARGET_RATIO,
                "value": t.ratio(),
                "ok": t.ratio() <= TARGET_RATIO,
            },
        }),
        Err(e) => json!({ "error": e }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_and_table() {
        let t = Throughput {
            ova_bytes: 1_100_000_000,
            build_mbps: 80.0,
            validate_mbps: 400.0,
            hash_mbps: 450.0,
        };
        assert!((t.ratio() - 1.125).abs() < 1e-9);
        let line = table(&Ok(t.clone()));
        assert!(line.contains("validate 400 MB/s"), "{line}");
        assert!(line.ends_with("1.12 <= 1.25 ok\n"), "{line}");
        assert_eq!(json(&Ok(t))["target"]["ok"], true);
        assert!(table(&Err("x".into())).contains("not measured"));
    }
}
