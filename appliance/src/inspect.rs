//! `inspect`: a readable summary of a package.

use std::fmt::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::esp::Esp;
use crate::validate::check;

fn mib(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    } else {
        format!("{b} bytes")
    }
}

/// The summary text (also lists validation problems at the end, if any).
pub fn inspect(ova: &Path, progress: bool) -> Result<String> {
    let scratch = tempfile::tempdir().context("creating a temp dir")?;
    let c = check(ova, scratch.path(), &|_, _| None, progress)?;
    let mut o = String::new();
    let Some(d) = &c.scan.descriptor else {
        let _ = writeln!(o, "{}: no readable descriptor", ova.display());
        for p in &c.problems {
            let _ = writeln!(o, "{p}");
        }
        return Ok(o);
    };
    let _ = writeln!(
        o,
        "appliance {}{}",
        d.name,
        d.version
            .as_ref()
            .map(|v| format!(" version {v}"))
            .unwrap_or_default()
    );
    if let Some(desc) = &d.description {
        let _ = writeln!(o, "  {desc}");
    }
    let _ = writeln!(
        o,
        "architectures: {}",
        d.configs
            .iter()
            .map(|c| c.arch.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (i, cfg) in d.configs.iter().enumerate() {
        let _ = writeln!(
            o,
            "  {}{}: {} vCPU(s), {} MiB, VirtualSystemType {}",
            cfg.arch,
            if i == 0 { " (default)" } else { "" },
            cfg.cpus,
            cfg.memory >> 20,
            cfg.arch.virtual_system_type()
        );
        let _ = writeln!(o, "    cmdline: {}", cfg.cmdline);
        let _ = writeln!(o, "    disks: {}", cfg.disks.join(", "));
        if cfg.network {
            let _ = writeln!(
                o,
                "    network: one virtio card on `{}`",
                crate::ovf::NAT_NETWORK
            );
        }
    }
    let _ = writeln!(o, "disks:");
    for k in &d.disks {
        let file = d.file(&k.file_ref);
        let fmt = k.format.rsplit('#').next().unwrap_or(&k.format);
        let _ = writeln!(
            o,
            "  {}: capacity {}, file {} ({}), format vmdk {}",
            k.id,
            mib(k.capacity),
            file.map(|f| f.href.as_str()).unwrap_or("?"),
            file.map(|f| mib(f.size)).unwrap_or_default(),
            fmt
        );
    }
    if let Some(raw) = &c.system_raw {
        match Esp::open(raw) {
            Ok(esp) => {
                let _ = writeln!(
                    o,
                    "system partition: {} at offset {}, {}",
                    esp.fat_type(),
                    esp.offset,
                    mib(esp.len)
                );
                for e in esp.list()? {
                    let _ = writeln!(o, "  /{:<32} {:>12} bytes", e.path, e.size);
                }
            }
            Err(e) => {
                let _ = writeln!(o, "system partition: unreadable: {e:#}");
            }
        }
    }
    if !c.problems.is_empty() {
        let _ = writeln!(o, "validation: {} problem(s)", c.problems.len());
        for p in &c.problems {
            let _ = writeln!(o, "{p}");
        }
    } else {
        let _ = writeln!(o, "validation: ok");
    }
    Ok(o)
}
