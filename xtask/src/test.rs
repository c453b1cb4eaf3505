//! `cargo xtask test`: lint, host unit tests, build, then QEMU integration tests.
//! Ends with exactly one line `total: <N> passed, <M> failed`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::cmd::{self, step};
use crate::output;
use crate::paths;
use crate::qemu::{QemuOptions, Status};
use crate::run::{self, Guest, PrepareError};

/// One integration test: Err is the reason it failed.
type TestFn = fn() -> Result<(), String>;

/// QEMU-based tests, run after a successful build.
const QEMU_TESTS: [(&str, TestFn); 4] = [
    ("testkit-cortex-a72", || {
        testkit_on("cortex-a72", "testkit-cortex-a72")
    }),
    ("testkit-max", || testkit_on("max", "testkit-max")),
    ("boot-remap-fault", boot_remap_fault),
    ("bad-vm-isolated", bad_vm_isolated),
];

/// Fewest testkit checks a healthy run reports.
const TESTKIT_MIN_PASSED: u64 = 13;

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
}

impl Tally {
    fn record(&mut self, name: &str, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("test {name} ... ok");
            }
            Err(why) => {
                self.failed += 1;
                let (first, rest) = why.split_once('\n').unwrap_or((&why, ""));
                println!("test {name} ... FAILED ({first})");
                if !rest.is_empty() {
                    println!("{rest}");
                }
            }
        }
    }
}

/// `cargo xtask test`; returns the exit code.
pub fn main() -> i32 {
    let mut t = Tally::default();
    if let Err(e) = crate::setup::setup() {
        t.record("setup", Err(format!("{e:#}")));
    }

    t.record("fmt", crate::lint::fmt());
    t.record("clippy", crate::lint::clippy());
    unit_tests(&mut t);

    step("build");
    let built = crate::build::build().map_err(|e| format!("build failed: {e:#}"));
    if let Err(e) = &built {
        println!("xtask: {e}");
    }
    for (name, test) in QEMU_TESTS {
        let result = match &built {
            Ok(()) => test(),
            Err(_) => Err("build failed".into()),
        };
        t.record(name, result);
    }
    t.record("bad-config", bad_config());

    println!("total: {} passed, {} failed", t.passed, t.failed);
    i32::from(t.failed > 0)
}

/// `cargo test --workspace`: every host test counts on its own.
fn unit_tests(t: &mut Tally) {
    step("unit tests: cargo test --workspace");
    let mut c = cmd::cargo(".", &["test", "--workspace", "--no-fail-fast"]);
    let out = match cmd::capture(&mut c) {
        Ok(out) => out,
        Err(e) => return t.record("unit-tests", Err(format!("{e:#}"))),
    };
    let text = cmd::text(&out);
    let (passed, failed) = output::cargo_test_counts(&text);
    step(format!("unit tests: {passed} passed, {failed} failed"));
    t.passed += passed;
    t.failed += failed;
    if failed > 0 {
        let failures: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("test ") && l.ends_with("FAILED"))
            .collect();
        println!("{}", failures.join("\n"));
    }
    if !out.status.success() && failed == 0 {
        t.record(
            "unit-tests",
            Err(format!(
                "cargo test failed before running tests\n{}",
                cmd::tail(&text, 40)
            )),
        );
    }
}

fn log_path(name: &str) -> std::path::PathBuf {
    paths::test_logs_dir().join(format!("{name}.log"))
}

/// Runs a QEMU test quietly; the Err carries the log tail.
fn qemu_test(
    name: &str,
    guest: Guest,
    cpu: &str,
    append: &str,
    timeout: u64,
    check: impl FnOnce(Status, &str) -> Result<(), String>,
) -> Result<(), String> {
    let bootmodule = run::prepare(&guest, true).map_err(|e| match e {
        PrepareError::Config(m) => m,
        PrepareError::Other(e) => format!("{e:#}"),
    })?;
    let opts = QemuOptions {
        cpu: cpu.into(),
        smp: 2,
        log: "info".into(),
        append: append.into(),
        icount: false,
        bootmodule,
    };
    let log = log_path(name);
    let outcome =
        run::run_quiet(&opts, Duration::from_secs(timeout), &log).map_err(|e| format!("{e:#}"))?;
    let result = if outcome.status == Status::TimedOut {
        Err(format!("timeout after {timeout} s"))
    } else {
        check(outcome.status, &outcome.output)
    };
    result.map_err(|why| {
        format!(
            "{why}; log {}\n{}",
            paths::show(&log),
            cmd::tail(&outcome.output, 25)
                .lines()
                .map(|l| format!("    | {}", l.trim_end_matches('\r')))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// QEMU exited 0 and the testkit reported enough passes and no failures.
fn testkit_passed(status: Status, out: &str, min_passed: u64) -> Result<(), String> {
    match output::testkit_result(out) {
        None => return Err("no `testkit: <P> passed, <F> failed` line".into()),
        Some((p, f)) if f > 0 || p < min_passed => {
            return Err(format!(
                "testkit: {p} passed, {f} failed (want >= {min_passed} passed, 0 failed)"
            ))
        }
        Some(_) => {}
    }
    if output::has_panic(out) {
        return Err("aerie: panic".into());
    }
    match status {
        Status::Exited(0) => Ok(()),
        other => Err(format!("QEMU {other:?}, expected exit 0")),
    }
}

fn testkit_on(cpu: &str, name: &str) -> Result<(), String> {
    let guest = Guest::Testkit {
        cmdline: String::new(),
    };
    qemu_test(name, guest, cpu, "", 120, |status, out| {
        testkit_passed(status, out, TESTKIT_MIN_PASSED)
    })
}

/// C4: after the switch to the final tables the identity alias must be gone, so
/// touching it faults at EL2 with FAR = that address.
fn boot_remap_fault() -> Result<(), String> {
    let guest = Guest::Testkit {
        cmdline: String::new(),
    };
    qemu_test(
        "boot-remap-fault",
        guest,
        "cortex-a72",
        "aerie.test=identity-fault",
        30,
        |status, out| {
            let alias = output::identity_alias(out)
                .ok_or("no `boot-test: touching identity alias 0x<hex>` line")?;
            let far = output::el2_fault_far(out)
                .ok_or("no line with `EL2 synchronous exception` and `FAR=0x<hex>`")?;
            if far != alias {
                return Err(format!("FAR={far:#x} but the alias touched was {alias:#x}"));
            }
            match status {
                Status::Exited(0) => {
                    Err("QEMU exited 0; the fault must stop Aerie with an error".into())
                }
                _ => Ok(()),
            }
        },
    )
}

/// A VM that cannot be created is refused without taking the others down.
fn bad_vm_isolated() -> Result<(), String> {
    let guest = Guest::Config(paths::root().join("tests/configs/two-vms-one-bad.toml"));
    qemu_test(
        "bad-vm-isolated",
        guest,
        "cortex-a72",
        "",
        120,
        |status, out| {
            if !output::vm_refused(out, "huge") {
                return Err("no line with `vm huge` and `refused` or `cannot`".into());
            }
            testkit_passed(status, out, 1)
        },
    )
}

/// `cargo xtask run --config <bad>` exits 2 naming the field, before QEMU starts.
fn bad_config() -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    for (file, field) in [
        ("tests/configs/bad-memory.toml", "memory"),
        ("tests/configs/missing-kernel.toml", "kernel"),
    ] {
        let out = Command::new(&exe)
            .args(["run", "--no-build", "--config", file])
            .current_dir(paths::root())
            .output()
            .map_err(|e| format!("running {}: {e}", exe.display()))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(run::EXIT_USAGE) {
            return Err(format!(
                "{file}: exit {:?}, expected 2\n{stderr}",
                out.status.code()
            ));
        }
        let want = format!("field `{field}`");
        if !stderr.contains(&want) || !stderr.contains("error: ") {
            return Err(format!(
                "{file}: stderr does not say `error: ... {want}`\n{stderr}"
            ));
        }
        if !Path::new(&paths::root().join(file)).is_file() {
            return Err(format!("{file} is missing"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testkit_pass_rules() {
        let ok = "testkit: 13 passed, 0 failed\n";
        assert!(testkit_passed(Status::Exited(0), ok, 13).is_ok());
        assert!(testkit_passed(Status::Exited(0), "testkit: 12 passed, 0 failed\n", 13).is_err());
        assert!(testkit_passed(Status::Exited(0), "testkit: 20 passed, 1 failed\n", 13).is_err());
        assert!(testkit_passed(Status::Exited(1), ok, 13).is_err());
        assert!(testkit_passed(
            Status::Exited(0),
            "aerie: panic\ntestkit: 13 passed, 0 failed\n",
            13
        )
        .is_err());
    }

    #[test]
    fn test_configs_exist_and_mean_what_the_tests_need() {
        let dir = paths::root().join("tests/configs");
        let bad = aerie_vmconfig::load(&dir.join("bad-memory.toml")).unwrap_err();
        assert_eq!(bad.field.as_deref(), Some("memory"));
        let missing = aerie_vmconfig::load(&dir.join("missing-kernel.toml")).unwrap();
        assert_eq!(
            missing.check_files().unwrap_err().field.as_deref(),
            Some("kernel")
        );
        let two = aerie_vmconfig::load(&dir.join("two-vms-one-bad.toml")).unwrap();
        let names: Vec<_> = two
            .vms
            .iter()
            .map(|v| (v.name.as_str(), v.memory))
            .collect();
        assert_eq!(names, [("huge", 64 << 30), ("testkit", 64 << 20)]);
        assert_eq!(
            two.vms[1].kernel,
            dir.join("../../target/aerie/testkit.Image")
        );
    }
}
