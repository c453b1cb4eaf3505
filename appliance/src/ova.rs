//! The OVA container: a ustar tar, `.ovf` first, `.mf` second, then the
//! files in References order.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use anyhow::{Context, Result};

use crate::digest::BUF;
use crate::progress::Progress;

/// What goes into the package.
pub enum Member<'a> {
    Bytes(&'a str, &'a [u8]),
    File(&'a str, &'a Path),
}

/// Writes the OVA (ustar, mode 0644, no links, no directories).
pub fn pack(out: &Path, members: &[Member<'_>], progress: bool) -> Result<()> {
    let f = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(BUF, f));
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut total = 0;
    for m in members {
        if let Member::File(_, p) = m {
            total += std::fs::metadata(p)?.len();
        }
    }
    let bar = Progress::bytes(progress, "packing", total);
    for m in members {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_entry_type(tar::EntryType::Regular);
        match m {
            Member::Bytes(name, data) => {
                h.set_path(name)?;
                h.set_size(data.len() as u64);
                h.set_cksum();
                tar.append(&h, *data)
                    .with_context(|| format!("packing {name}"))?;
            }
            Member::File(name, path) => {
                let src =
                    File::open(path).with_context(|| format!("opening {}", path.display()))?;
                h.set_path(name)?;
                h.set_size(src.metadata()?.len());
                h.set_cksum();
                let reader = Counting {
                    inner: src,
                    bar: &bar,
                };
                tar.append(&h, reader)
                    .with_context(|| format!("packing {name}"))?;
            }
        }
    }
    let mut w = tar.into_inner().context("finishing the tar")?;
    w.flush()?;
    Ok(())
}

struct Counting<'a, R> {
    inner: R,
    bar: &'a Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// Why a tar entry name is unsafe, if it is. Safe names are plain file names:
/// not empty, not absolute, no `..`, no `/`, no NUL.
pub fn unsafe_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("has an empty name")
    } else if name.starts_with('/') || name.starts_with('\\') {
        Some("has an absolute path")
    } else if name.split(['/', '\\']).any(|c| c == "..") {
        Some("contains `..`")
    } else if name.contains('/') || name.contains('\\') {
        Some("is in a directory (OVA members must be at the top level)")
    } else if name == "." || name.contains('\0') {
        Some("has an invalid name")
    } else {
        None
    }
}
