//! `cargo xtask lint`: rustfmt and clippy over all the cargo workspaces.

use crate::cmd::{self, step};
use crate::paths::{self, TARGET};

/// The workspaces: the host one at the root, the aarch64-only ones, the
/// two UEFI programs and the crate they share.
const WORKSPACES: [&str; 7] = [
    ".",
    "hypervisor",
    "guests/testkit",
    "userworlds",
    BOOTMGR,
    LOADER,
    UEFI_ESP,
];

/// The UEFI boot manager's workspace, linted for both of its targets.
const BOOTMGR: &str = "appliance/bootmgr";
const UEFI_TARGETS: [&str; 2] = ["aarch64-unknown-uefi", "x86_64-unknown-uefi"];
/// Aerie's UEFI loader: AArch64 only.
const LOADER: &str = "loader";
/// The ESP file access both UEFI programs use, linted for AArch64.
const UEFI_ESP: &str = "crates/uefi-esp";

/// Joins per-workspace failures into one Err whose first line names them all.
fn summarize(errors: Vec<(&str, String)>) -> Result<(), String> {
    if errors.is_empty() {
        return Ok(());
    }
    let dirs: Vec<&str> = errors.iter().map(|(d, _)| *d).collect();
    let details: Vec<String> = errors.into_iter().map(|(_, e)| e).collect();
    Err(format!(
        "failed in: {}\n{}",
        dirs.join(", "),
        details.join("\n")
    ))
}

/// Runs one command in `dir`; Err carries what failed plus the output tail.
fn check(dir: &str, args: &[&str]) -> Result<(), String> {
    if !cmd::has_manifest(dir) {
        return Err(format!("{dir}/Cargo.toml missing"));
    }
    let mut c = cmd::cargo(dir, args);
    let out = cmd::capture(&mut c).map_err(|e| format!("{e:#}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed\n{}",
            cmd::describe(&c),
            cmd::tail(&cmd::text(&out), 40)
        ))
    }
}

/// `cargo fmt --all --check` in every workspace; all are checked even if one fails.
pub fn fmt() -> Result<(), String> {
    let errors = WORKSPACES
        .iter()
        .filter_map(|dir| {
            step(format!("fmt: {dir}"));
            check(dir, &["fmt", "--all", "--check"])
                .err()
                .map(|e| (*dir, e))
        })
        .collect();
    summarize(errors)
}

/// clippy with `-D warnings`: all targets on the host workspace, release for the
/// aarch64 ones (that is how they are built). The user worlds are built first:
/// the hypervisor embeds their ELF files, so it does not compile without them.
pub fn clippy() -> Result<(), String> {
    // A failed build is reported with the rest; the workspaces are still
    // linted (the hypervisor then fails on the missing ELF files).
    let build_error = crate::build::build_userworlds()
        .err()
        .map(|e| ("userworlds", format!("building the user worlds: {e:#}")));
    let target_dir = paths::target_dir().to_string_lossy().into_owned();
    let errors: Vec<_> = WORKSPACES
        .iter()
        .filter_map(|dir| {
            step(format!("clippy: {dir}"));
            let result = if *dir == "." {
                check(dir, &["clippy", "--all-targets", "--", "-D", "warnings"])
            } else if [BOOTMGR, LOADER, UEFI_ESP].contains(dir) {
                let targets = if *dir != BOOTMGR {
                    &UEFI_TARGETS[..1]
                } else {
                    &UEFI_TARGETS[..]
                };
                targets.iter().try_for_each(|target| {
                    check(
                        dir,
                        &[
                            "clippy",
                            "--release",
                            "--target",
                            target,
                            "--target-dir",
                            &target_dir,
                            "--",
                            "-D",
                            "warnings",
                        ],
                    )
                })
            } else {
                check(
                    dir,
                    &[
                        "clippy",
                        "--release",
                        "--target",
                        TARGET,
                        "--target-dir",
                        &target_dir,
                        "--",
                        "-D",
                        "warnings",
                    ],
                )
            };
            result.err().map(|e| (*dir, e))
        })
        .collect();
    summarize(build_error.into_iter().chain(errors).collect())
}

/// `cargo xtask lint`; returns the exit code.
pub fn main() -> i32 {
    let mut code = 0;
    for (name, result) in [("fmt", fmt()), ("clippy", clippy())] {
        match result {
            Ok(()) => step(format!("{name}: ok")),
            Err(e) => {
                step(format!("{name}: FAILED"));
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    code
}
