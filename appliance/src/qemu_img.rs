//! Disk format conversion with `qemu-img`.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context, Result};

use crate::progress::Progress;

/// Runs `qemu-img convert -f <from> -O <to> [opts] src dst`.
pub fn convert(
    src: &Path,
    from: &str,
    dst: &Path,
    to: &str,
    opts: &[&str],
    progress: bool,
) -> Result<()> {
    let mut cmd = Command::new("qemu-img");
    cmd.args(["convert", "-f", from, "-O", to]);
    for o in opts {
        cmd.args(["-o", o]);
    }
    cmd.arg(src).arg(dst);
    cmd.stdin(Stdio::null());
    let _spinner = Progress::spinner(progress, &format!("converting {}", file_name(src)));
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("qemu-img is not installed (Debian: apt-get install qemu-utils)")
        }
        Err(e) => return Err(e).context("running qemu-img"),
    };
    ensure!(
        out.status.success(),
        "qemu-img convert {} ({from}) -> {} ({to}) failed: {}",
        src.display(),
        dst.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// Converts a raw image to a streamOptimized VMDK.
pub fn raw_to_vmdk(src: &Path, dst: &Path, progress: bool) -> Result<()> {
    convert(
        src,
        "raw",
        dst,
        "vmdk",
        &["subformat=streamOptimized"],
        progress,
    )
}

/// The virtual size of an image in bytes (`qemu-img info`).
pub fn virtual_size(img: &Path, format: &str) -> Result<u64> {
    let out = Command::new("qemu-img")
        .args(["info", "--output=json", "-f", format])
        .arg(img)
        .output()
        .context("running qemu-img info")?;
    ensure!(
        out.status.success(),
        "qemu-img info {}: {}",
        img.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let info: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("qemu-img info printed no JSON")?;
    info.get("virtual-size")
        .and_then(|v| v.as_u64())
        .context("qemu-img info printed no virtual-size")
}

/// Refuses VMDKs that could make qemu-img read other files: only a single-file
/// sparse VMDK (magic `KDMV`, non-zero capacity, so no embedded descriptor
/// naming external extents) is accepted.
pub fn check_vmdk_self_contained(img: &Path) -> Result<()> {
    use std::io::Read;
    let mut head = [0u8; 20];
    std::fs::File::open(img)
        .and_then(|mut f| f.read_exact(&mut head))
        .with_context(|| format!("reading the VMDK header of {}", img.display()))?;
    ensure!(
        &head[0..4] == b"KDMV",
        "not a sparse/streamOptimized VMDK (no KDMV magic)"
    );
    let capacity = u64::from_le_bytes(head[12..20].try_into().unwrap_or_default());
    ensure!(
        capacity != 0,
        "VMDK with zero capacity (a descriptor that may name external extents)"
    );
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
