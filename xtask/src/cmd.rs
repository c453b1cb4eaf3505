//! Running child processes: announced, and either inherited or captured.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use anyhow::{bail, Context, Result};

use crate::paths;

/// Prints one progress line.
pub fn step(msg: impl AsRef<str>) {
    println!("xtask: {}", msg.as_ref());
}

/// `cargo <args>` in `dir` (relative to the root), announced as one line.
pub fn cargo(dir: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.args(args).current_dir(paths::root().join(dir));
    cmd
}

/// A human-readable form of `cmd` for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        s.push(' ');
        if a.is_empty() || a.contains(char::is_whitespace) {
            s.push_str(&format!("{a:?}"));
        } else {
            s.push_str(&a);
        }
    }
    if let Some(dir) = cmd.get_current_dir() {
        let dir = paths::show(dir);
        if !dir.is_empty() {
            s.push_str(&format!(" (in {dir}/)"));
        }
    }
    s
}

/// Runs `cmd` with inherited stdio and fails if it exits non-zero.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{}`", describe(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(cmd));
    }
    Ok(())
}

/// Runs `cmd` with its output captured, so a provisioning step stays one line;
/// fails with the output's tail if it exits non-zero.
pub fn run_captured(cmd: &mut Command) -> Result<()> {
    let out = capture(cmd)?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({})\n{}",
            describe(cmd),
            out.status,
            tail(&text(&out), 15)
        );
    }
    Ok(())
}

/// Runs `cmd` with stdout and stderr captured (stdin closed).
pub fn capture(cmd: &mut Command) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start `{}`", describe(cmd)))
}

/// Both streams of a captured run as one text (stdout first).
pub fn text(out: &Output) -> String {
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Whether `dir` (relative to the root) holds a Cargo project yet.
pub fn has_manifest(dir: &str) -> bool {
    Path::new(&paths::root().join(dir).join("Cargo.toml")).is_file()
}
