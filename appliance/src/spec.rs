//! The appliance spec: a TOML file naming, per architecture, what to boot.
//!
//! ```toml
//! [appliance]
//! name = "hello"             # required: [A-Za-z0-9_-], 1..=31 characters
//! version = "1.0"            # optional
//! description = "..."        # optional
//!
//! [aarch64]                  # at least one of [aarch64] / [x86_64]
//! kernel = "Image"           # required; relative to the spec file's directory;
//!                            # Linux with an EFI stub (arm64 Image / x86 bzImage)
//! initrd = "initrd.img"      # optional
//! cmdline = "console=ttyAMA0"  # optional, default ""
//! cpus = 2                   # required, 1..=256
//! memory = "512M"            # required: K/M/G suffix (binary) or plain bytes;
//!                            # a whole number of MiB, at least 16M
//!
//! network = true             # optional, default false: one network card (virtio)
//!                            # on the target's NAT network (QEMU's user-mode
//!                            # network; on Aerie, its switch and uplink)
//!
//! [[aarch64.disk]]           # optional extra disks, in order: raw images
//! path = "data.img"          # relative to the spec file's directory
//!
//! [x86_64]                   # same keys as [aarch64]
//! kernel = "bzImage"
//! cpus = 1
//! memory = "256M"
//! ```
//!
//! Unknown keys are errors, so a typo does not silently drop a setting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;

use crate::arch::Arch;

/// The longest appliance name.
pub const NAME_MAX: usize = 31;
/// The most vCPUs a configuration may ask for.
pub const CPUS_MAX: u32 = 256;
/// The least memory a configuration may ask for.
pub const MEMORY_MIN: u64 = 16 << 20;

/// A checked spec with every path resolved against the spec file's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub version: Option<String>,
    pub description: Option<String>,
    /// One entry per architecture present, in [`Arch::ALL`] order.
    pub archs: Vec<ArchSpec>,
}

/// One architecture's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchSpec {
    pub arch: Arch,
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    pub cmdline: String,
    pub cpus: u32,
    /// Bytes; a whole number of MiB.
    pub memory: u64,
    /// Extra raw disk images, in order.
    pub disks: Vec<PathBuf>,
    /// One network card on the target's NAT network.
    pub network: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    appliance: RawAppliance,
    aarch64: Option<RawArch>,
    x86_64: Option<RawArch>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppliance {
    name: String,
    version: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArch {
    kernel: PathBuf,
    initrd: Option<PathBuf>,
    #[serde(default)]
    cmdline: String,
    cpus: u32,
    memory: toml::Value,
    #[serde(default)]
    disk: Vec<RawDisk>,
    #[serde(default)]
    network: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDisk {
    path: PathBuf,
}

/// Reads and checks a spec file (the files it names must exist).
pub fn load(path: &Path) -> Result<Spec> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading spec {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let spec = parse(&text, base).with_context(|| format!("spec {}", path.display()))?;
    for a in &spec.archs {
        let files = std::iter::once(&a.kernel)
            .chain(a.initrd.iter())
            .chain(a.disks.iter());
        for f in files {
            let md = std::fs::metadata(f).with_context(|| {
                format!("spec {}: [{}]: {}", path.display(), a.arch, f.display())
            })?;
            ensure!(
                md.is_file(),
                "spec {}: [{}]: {} is not a regular file",
                path.display(),
                a.arch,
                f.display()
            );
        }
    }
    Ok(spec)
}

/// Parses and checks spec text; relative paths are resolved against `base`.
/// Pure: does not touch the file system.
pub fn parse(text: &str, base: &Path) -> Result<Spec> {
    let raw: RawSpec = toml::from_str(text).context("invalid TOML")?;
    check_name(&raw.appliance.name)?;
    let mut archs = Vec::new();
    let mut table = BTreeMap::new();
    if let Some(a) = raw.aarch64 {
        table.insert(Arch::Aarch64, a);
    }
    if let Some(a) = raw.x86_64 {
        table.insert(Arch::X86_64, a);
    }
    ensure!(
        !table.is_empty(),
        "no architecture: add an [aarch64] or [x86_64] table"
    );
    for (arch, a) in table {
        archs.push(arch_spec(arch, a, base).with_context(|| format!("[{arch}]"))?);
    }
    Ok(Spec {
        name: raw.appliance.name,
        version: raw.appliance.version,
        description: raw.appliance.description,
        archs,
    })
}

/// Checks an appliance name: 1..=31 of `[A-Za-z0-9_-]`.
pub fn check_name(name: &str) -> Result<()> {
    ensure!(
        !name.is_empty() && name.len() <= NAME_MAX,
        "appliance name `{name}` must be 1..={NAME_MAX} characters"
    );
    ensure!(
        name.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "appliance name `{name}` may only contain A-Z a-z 0-9 _ -"
    );
    Ok(())
}

fn arch_spec(arch: Arch, a: RawArch, base: &Path) -> Result<ArchSpec> {
    ensure!(
        (1..=CPUS_MAX).contains(&a.cpus),
        "cpus = {} is out of range 1..={CPUS_MAX}",
        a.cpus
    );
    let memory = match &a.memory {
        toml::Value::String(s) => match aerie_vmconfig::parse_size(s) {
            Some(n) => n,
            None => bail!("memory = \"{s}\": expected digits with an optional K/M/G suffix"),
        },
        toml::Value::Integer(n) if *n > 0 => *n as u64,
        v => bail!("memory = {v}: expected a size such as \"512M\""),
    };
    ensure!(memory >= MEMORY_MIN, "memory = {memory} bytes is below 16M");
    ensure!(
        memory % (1 << 20) == 0,
        "memory = {memory} bytes is not a whole number of MiB"
    );
    ensure!(
        !a.cmdline.contains('\n') && !a.cmdline.contains('\r'),
        "cmdline must be one line"
    );
    Ok(ArchSpec {
        arch,
        kernel: base.join(a.kernel),
        initrd: a.initrd.map(|p| base.join(p)),
        cmdline: a.cmdline,
        cpus: a.cpus,
        memory,
        disks: a.disk.into_iter().map(|d| base.join(d.path)).collect(),
        network: a.network,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_archs() {
        let s = parse(
            r#"
            [appliance]
            name = "hello"
            version = "1.0"
            [x86_64]
            kernel = "bz"
            cpus = 1
            memory = "256M"
            [aarch64]
            kernel = "Image"
            initrd = "i.img"
            cmdline = "console=ttyAMA0 a=b"
            cpus = 2
            memory = "1G"
            network = true
            [[aarch64.disk]]
            path = "d.img"
            "#,
            Path::new("/b"),
        )
        .unwrap();
        assert_eq!(s.archs.len(), 2);
        assert!(s.archs[0].network && !s.archs[1].network);
        assert_eq!(s.archs[0].arch, Arch::Aarch64);
        assert_eq!(s.archs[0].memory, 1 << 30);
        assert_eq!(s.archs[0].disks, vec![PathBuf::from("/b/d.img")]);
        assert_eq!(s.archs[1].initrd, None);
    }

    #[test]
    fn rejects_bad_specs() {
        let base = Path::new(".");
        let bad = [
            (
                "[appliance]\nname = \"a b\"\n[x86_64]\nkernel=\"k\"\ncpus=1\nmemory=\"64M\"",
                "may only",
            ),
            ("[appliance]\nname = \"a\"", "no architecture"),
            (
                "[appliance]\nname = \"a\"\n[x86_64]\nkernel=\"k\"\ncpus=0\nmemory=\"64M\"",
                "cpus",
            ),
            (
                "[appliance]\nname = \"a\"\n[x86_64]\nkernel=\"k\"\ncpus=1\nmemory=\"8M\"",
                "below",
            ),
            (
                "[appliance]\nname = \"a\"\n[x86_64]\nkernel=\"k\"\ncpus=1\nmemory=\"64M\"\nfoo=1",
                "unknown field",
            ),
        ];
        for (text, want) in bad {
            let e = format!("{:#}", parse(text, base).unwrap_err());
            assert!(e.contains(want), "{e}");
        }
    }
}
