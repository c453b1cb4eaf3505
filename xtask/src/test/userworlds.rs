//! C6: user worlds at EL0. One boot runs every built-in program, the probe
//! once per misbehaviour, one after another on the boot pCPU; each must end
//! the way its row says, and the testkit VM that runs afterwards must pass
//! (Aerie carried on through every fault).

use super::{
    clean_exit, fresh_disk, run_aerie, summary_passed, testkit_passed, AerieRun, TESTKIT_MIN_PASSED,
};
use crate::output;
use crate::qemu::Keys;
use crate::run::Guest;

/// `program[:argument]` and the lines its world must print (after
/// `aerie: uw <name>[<id>]: ` or `aerie: user world <name>[<id>]: `).
const WORLDS: &[(&str, &[&str])] = &[
    (
        "hello:x",
        &[
            "hello from EL0, arg \"x\"",
            "clock advances: yes",
            "sleep 20 ms: yes",
            "sp in the user stack: yes",
            "exited with status 0",
        ],
    ),
    // Aerie's memory is outside the 39-bit range: the walk fails at level 0.
    (
        "probe:kernel-read",
        &["killed: data abort: translation fault (level 0) on a read of 0x800000000000 "],
    ),
    (
        "probe:kernel-read-high",
        &["killed: data abort: translation fault (level 0) on a read of 0xffffc0000000 "],
    ),
    (
        "probe:null",
        &["killed: data abort: translation fault", "on a read of 0x8 "],
    ),
    (
        "probe:write-text",
        &["killed: data abort: permission fault (level 3) on a write to 0x40"],
    ),
    (
        "probe:exec-data",
        &["killed: instruction abort: permission fault (level 3) at 0x40"],
    ),
    (
        "probe:exec-stack",
        &["killed: instruction abort: permission fault (level 3) at 0x7fffff"],
    ),
    // The shim page: readable by the world, not writable, not executable.
    (
        "probe:shim-write",
        &["killed: data abort: permission fault (level 3) on a write to 0x7ffffff000 "],
    ),
    (
        "probe:shim-exec",
        &["killed: instruction abort: permission fault (level 3) at 0x7ffffff000 "],
    ),
    ("probe:sysreg", &["killed: undefined instruction at pc"]),
    ("probe:hvc", &["killed: undefined instruction at pc"]),
    ("probe:smc", &["killed: undefined instruction at pc"]),
    ("probe:fp", &["killed: FP/SIMD instruction"]),
    ("probe:brk", &["killed: breakpoint (BRK #0x42)"]),
    ("probe:wfi", &["killed: WFI/WFE"]),
    // The guard page under the 64 KiB stack.
    (
        "probe:stack-overflow",
        &["killed: data abort: translation fault (level 3) on a write to 0x7ffffed"],
    ),
    (
        "probe:spin",
        &["killed: used its CPU budget (500 ms within 2000 ms)"],
    ),
    // 800 ms of CPU over 4 s: within the budget, which is per 2 s.
    ("probe:pace", &["probe: pace done", "exited with status 0"]),
    (
        "probe:bad-write",
        &[
            "write(kernel address) = -14",
            "write(unmapped) = -14",
            "write(huge length) = -22",
            "arg(text page) = -14",
            "syscall(999) = -38",
            "sleep(61 s) = -22",
            "vm_info(no such VM) = -2",
            "vm_info(text page) = -14",
            "vm_info(short buffer) = -22",
            "exited with status 0",
        ],
    ),
    ("probe:exit7", &["exited with status 7"]),
    (
        "probe:no-such-probe",
        &["unknown probe", "exited with status 2"],
    ),
    (
        "no-such-program",
        // The list of programs: see `builtin_list`.
        &["no such program (built in: "],
    ),
    (
        "bench",
        &[
            "bench: name=syscall_null iters=1000 ticks=",
            "exited with status 0",
        ],
    ),
    // 20000 system calls with hostile arguments, each answered as the ABI
    // says.
    (
        "storm:7",
        &[
            "storm: 20000 calls, every answer as the ABI says",
            "exited with status 0",
        ],
    ),
    // Beside the VM: it sees the testkit run and then stop, and the machine
    // powers off only once it has exited.
    (
        "vmstat",
        &[
            "vm 0 testkit: running, 2 vCPUs",
            "vm 0 testkit: stopped",
            "every VM has stopped",
            "exited with status 0",
        ],
    ),
];

pub fn userworlds_on(cpu: &str, name: &str) -> Result<(), String> {
    let append = user_arg(WORLDS);
    let disk = fresh_disk(name)?;
    // vmstat, the last world of the list; the console starts two more.
    let vmstat = format!("vmstat[{}]", WORLDS.len());
    let (typed, unknown) = (WORLDS.len() + 1, WORLDS.len() + 2);
    let running = format!("uw {vmstat}: vm 0 testkit: running");
    let listed = format!("aerie: dump: sched: user world {vmstat}: ");
    let run = AerieRun {
        cpu,
        // The worlds share the pCPUs with the testkit's vCPU: one pCPU on
        // the Cortex-A72 (every world and the vCPU take turns on it), two
        // on `max` (worlds also run on both at once).
        smp: if cpu == "max" { 2 } else { 1 },
        append: &append,
        // The console's scheduler view (Ctrl-A d) lists the world; Ctrl-A u
        // starts one, or says there is no such program.
        keys: &[
            Keys {
                after: &running,
                bytes: b"\x01d",
            },
            Keys {
                after: &listed,
                bytes: b"\x01uvmstat:once\r",
            },
            Keys {
                after: "started from the console",
                bytes: b"\x01unope\r",
            },
        ],
        ..AerieRun::new(name, Guest::testkit(), &disk, 180)
    };
    run_aerie(&run, |status, out| {
        check_worlds(out, WORLDS)?;
        builtin_list(out)?;
        // The VM's CPU time grew while it ran.
        let cpu_ms = |state: &str| {
            output::lines_with(out, &format!("uw {vmstat}: vm 0 testkit: {state},"))
                .first()
                .and_then(|l| output::number_before(l, " ms of CPU"))
        };
        match (cpu_ms("running"), cpu_ms("stopped")) {
            (Some(first), Some(last)) if last > first => {}
            other => {
                return Err(format!(
                    "vmstat: CPU time running/stopped {other:?}, want it to grow"
                ))
            }
        }
        // The testkit read its stolen-time record (its `stolen_time` check),
        // so Aerie counted its vCPU's waits and vm_info reports them.
        let stopped = output::lines_with(out, &format!("uw {vmstat}: vm 0 testkit: stopped,"));
        let stolen = stopped
            .first()
            .and_then(|l| output::number_before(l, " ms stolen"));
        if stolen.is_none() {
            return Err(format!("vmstat: no stolen time in {stopped:?}"));
        }
        // It looked when Aerie said a VM changed (vm_wait), not on a timer:
        // at the start, at the stop, at most twice more (Stopping and
        // Stopped may come apart).
        let looks = output::lines_with(out, &format!("uw {vmstat}: every VM has stopped ("))
            .first()
            .and_then(|l| l.split('(').nth(1)?.split(' ').next()?.parse::<u64>().ok());
        if looks.is_none_or(|n| n > 4) {
            return Err(format!(
                "vmstat looked {looks:?} times, want at most 4 (it waits for changes)"
            ));
        }
        if !out.contains(&listed) {
            return Err(format!("Ctrl-A d: no line for user world {vmstat}"));
        }
        for want in [
            format!("aerie: user world vmstat[{typed}]: started from the console"),
            format!("aerie: uw vmstat[{typed}]: vm 0 testkit: "),
            format!("aerie: user world vmstat[{typed}]: exited with status 0"),
            format!("aerie: error: user world nope[{unknown}]: no such program"),
        ] {
            if !out.contains(&want) {
                return Err(format!("Ctrl-A u: no line with `{want}`"));
            }
        }
        testkit_passed(status, out, TESTKIT_MIN_PASSED)
    })
}

/// A management world (`vmctl`) resets the testkit VM mid-run, which then
/// boots again and passes; in a second boot it powers the VM off and
/// another starts it again, and it passes. Requests in the wrong state and
/// bad requests get their messages.
pub fn vmctl(name: &str) -> Result<(), String> {
    const RESET: &[(&str, &[&str])] = &[
        (
            "vmctl:reset:testkit:300",
            &["vmctl: reset vm 0 (testkit): done", "exited with status 0"],
        ),
        (
            "vmctl:stop:nosuch",
            &["vmctl: no VM nosuch", "exited with status 1"],
        ),
        (
            "vmctl:frob:0",
            &[
                "usage: vmctl:stop|reset|start|halt|reboot|button:<vm>",
                "exited with status 2",
            ],
        ),
        (
            "vmctl:reset:0:70000",
            &[
                "usage: vmctl:stop|reset|start|halt|reboot|button:<vm>",
                "exited with status 2",
            ],
        ),
        // The testkit reads no power key: the first press holds the button,
        // the second finds it held (the reset at 300 ms lets it go).
        (
            "vmctl:button:testkit:50",
            &["vmctl: button vm 0 (testkit): done", "exited with status 0"],
        ),
        (
            "vmctl:button:0:150",
            &[
                "vmctl: button vm 0: it is not running, or its button is still held",
                "exited with status 1",
            ],
        ),
        // The testkit has the backdoor but no tools daemon to ask.
        (
            "vmctl:halt:testkit",
            &[
                "vmctl: halt vm 0: no guest tools to ask",
                "exited with status 1",
            ],
        ),
    ];
    const STOP: &[(&str, &[&str])] = &[
        (
            "vmctl:stop:0:300",
            &["vmctl: stop vm 0 (testkit): done", "exited with status 0"],
        ),
        (
            "vmctl:reset:testkit:600",
            &[
                "vmctl: reset vm 0: it is not running",
                "exited with status 1",
            ],
        ),
        (
            "vmstat",
            &[
                "vm 0 testkit: running",
                "vm 0 testkit: stopped",
                "exited with status 0",
            ],
        ),
        (
            "vmctl:start:testkit:900",
            &["vmctl: start vm 0 (testkit): done", "exited with status 0"],
        ),
        (
            "vmctl:start:0:1200",
            &[
                "vmctl: start vm 0: it is not stopped",
                "exited with status 1",
            ],
        ),
    ];
    let disk = fresh_disk(name)?;
    let append = user_arg(RESET);
    let run = AerieRun {
        append: &append,
        ..AerieRun::new(name, Guest::testkit(), &disk, 120)
    };
    run_aerie(&run, |status, out| {
        check_worlds(out, RESET)?;
        if !out.contains("aerie: vm testkit: reset by user world vmctl[1]") {
            return Err("no `vm testkit: reset by user world vmctl[1]` line".into());
        }
        let starts = testkit_starts(out);
        if starts != 2 {
            return Err(format!(
                "the testkit started {starts} times, want 2 (before and after the reset)"
            ));
        }
        testkit_passed(status, out, TESTKIT_MIN_PASSED)
    })?;
    let log = format!("{name}-stop");
    let append = user_arg(STOP);
    let run = AerieRun {
        log: &log,
        guest: Guest::testkit(),
        append: &append,
        ..run
    };
    run_aerie(&run, |status, out| {
        check_worlds(out, STOP)?;
        for want in [
            "aerie: vm testkit: powered off by user world vmctl[1]",
            "aerie: vm testkit: started by user world vmctl[4]",
        ] {
            if !out.contains(want) {
                return Err(format!("no `{want}` line"));
            }
        }
        let starts = testkit_starts(out);
        if starts != 2 {
            return Err(format!(
                "the testkit started {starts} times, want 2 (before the stop and after the start)"
            ));
        }
        testkit_passed(status, out, TESTKIT_MIN_PASSED)
    })
}

/// Worlds from the config (`tests/configs/testkit-worlds.toml`): programs
/// the boot module carries, under names Aerie does not build in, start at
/// boot beside two testkit VMs, one world without the right to control
/// VMs, one with the right to control `testkit` and one with the right to
/// control `spare` only, then a built-in one from the command line.
pub fn from_config(name: &str) -> Result<(), String> {
    const WORLDS: &[(&str, &[&str])] = &[
        (
            "greeter",
            &[
                "hello from EL0, arg \"from the config\"",
                "exited with status 0",
            ],
        ),
        (
            "watcher",
            &[
                "vm 0 testkit: running",
                "vm 0 testkit: stopped",
                "exited with status 0",
            ],
        ),
        (
            "janitor",
            &[
                "vmctl: reset vm 0: this world may not control this VM",
                "exited with status 1",
            ],
        ),
        (
            "steward",
            &[
                "vmctl: halt vm 0: no guest tools to ask",
                "exited with status 1",
            ],
        ),
        (
            "keeper",
            &[
                "vmctl: halt vm 0: this world may not control this VM",
                "exited with status 1",
            ],
        ),
        (
            "porter",
            &[
                "vmctl: stop vm 0: this world may not control this VM",
                "exited with status 1",
            ],
        ),
        (
            "doorman",
            &["vmctl: button vm 0 (testkit): done", "exited with status 0"],
        ),
        (
            "hello:after",
            &["hello from EL0, arg \"after\"", "exited with status 0"],
        ),
    ];
    let disk = fresh_disk(name)?;
    let guest = Guest::Config(super::test_config("testkit-worlds.toml"));
    let run = AerieRun {
        append: "aerie.user=hello:after",
        ..AerieRun::new(name, guest, &disk, 120)
    };
    run_aerie(&run, |status, out| {
        check_worlds(out, WORLDS)?;
        output::require_line(out, "watcher[2]: vm 1 spare: running")?;
        for vm in ["testkit", "spare"] {
            summary_passed(output::testkit_result_of(out, vm), TESTKIT_MIN_PASSED)
                .map_err(|e| format!("vm {vm}: {e}"))?;
        }
        clean_exit(status, out)
    })
}

/// `userworlds-shell`: the `shell` world started from the console
/// (`Ctrl-A u shell`) beside the testkit VM reads lines typed for the worlds
/// (`Ctrl-A w`): `list` shows the VM, an unknown command is named; once the
/// testkit has passed and powered its VM off (the waiting shell keeps the
/// machine on), `start testkit` boots it again, `exit` ends the shell, and
/// the testkit passes a second time before the machine powers off.
pub fn shell(name: &str) -> Result<(), String> {
    let disk = fresh_disk(name)?;
    let run = AerieRun {
        keys: &[
            Keys {
                after: "aerie: vm testkit: ",
                bytes: b"\x01ushell\r",
            },
            // The dump shows the shell waiting for a line.
            Keys {
                after: "]: shell>",
                bytes: b"\x01d",
            },
            Keys {
                after: ": waiting for a console line (read_line; Ctrl-A w;",
                bytes: b"\x01wlist\r",
            },
            Keys {
                after: "]: shell: vm 0 testkit: ",
                bytes: b"bogus\r",
            },
            Keys {
                after: "aerie: vm testkit: powered off",
                bytes: b"start testkit\r",
            },
            Keys {
                after: "]: shell: start vm 0 (testkit): done",
                bytes: b"exit\r",
            },
        ],
        ..AerieRun::new(name, Guest::testkit(), &disk, 120)
    };
    run_aerie(&run, |status, out| {
        for line in [
            "]: shell: Aerie's shell",
            "]: shell: vm 0 testkit: ",
            "]: shell: unknown command `bogus` (try `help`)",
            "]: shell: start vm 0 (testkit): done",
            "]: shell: bye",
        ] {
            output::require_line(out, line)?;
        }
        let passes = out
            .lines()
            .filter(|l| {
                output::testkit_result(l).is_some_and(|(p, f)| f == 0 && p >= TESTKIT_MIN_PASSED)
            })
            .count();
        if passes != 2 {
            return Err(format!(
                "the testkit passed {passes} times, want 2 (before and after the shell's start)"
            ));
        }
        // Lines typed while no world reads are dropped, said so: none here.
        if output::has_line(out, "no user world is reading the console") {
            return Err("a line found no world reading".into());
        }
        testkit_passed(status, out, TESTKIT_MIN_PASSED)
    })
}

/// Aerie names every built-in program (each `userworlds/src/bin/*.rs`) when
/// asked for one it does not have.
fn builtin_list(out: &str) -> Result<(), String> {
    let names = crate::paths::user_programs().map_err(|e| format!("userworlds/src/bin: {e}"))?;
    output::require_line(
        out,
        &format!("no such program (built in: {})", names.join(", ")),
    )
}

/// A world of a test, `program[:argument]`, and the lines it must print.
type Expected<'a> = (&'a str, &'a [&'a str]);

/// `aerie.user=` naming each of `worlds` in order.
fn user_arg(worlds: &[Expected]) -> String {
    let names: Vec<&str> = worlds.iter().map(|(w, _)| *w).collect();
    format!("aerie.user={}", names.join(","))
}

/// Each of `worlds` (world ids 1, 2, ... in order) printed its lines.
/// How many times the testkit started, in the guest's own output with
/// Aerie's lines taken out and the lines joined: a guest that stalls
/// mid-line longer than Aerie's console holds its own lines back (worlds
/// loading, a VM being started) has its line broken by them (`testkit:
/// start, ` / `aerie: uw ...` / `2 vCPUs, ...`).
fn testkit_starts(out: &str) -> usize {
    let guest: String = out.lines().filter(|l| !l.starts_with("aerie: ")).collect();
    guest.matches("testkit: start, 2 vCPUs").count()
}

fn check_worlds(out: &str, worlds: &[Expected]) -> Result<(), String> {
    worlds
        .iter()
        .enumerate()
        .try_for_each(|(i, (world, lines))| check_world(out, i + 1, world, lines))
}

/// Every line of `lines` appears for world `id`, in its own name.
fn check_world(out: &str, id: usize, world: &str, lines: &[&str]) -> Result<(), String> {
    let name = world.split(':').next().unwrap_or(world);
    let tag = format!("{name}[{id}]: ");
    let mine = output::lines_with(out, &tag);
    for want in lines {
        if !mine.iter().any(|l| l.contains(want)) {
            return Err(format!("user world {world} ({tag}): no line with `{want}`"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::WORLDS;

    /// Start lines broken by Aerie's lines (both seen in CI) still count.
    #[test]
    fn a_broken_start_line_still_counts() {
        let out = "t\naerie: uw vmctl[3]: usage: ...\nestkit: start, 2 vCPUs, bootargs \"x\"\n\
                   testkit: start, \naerie: vm testkit: started by user world vmctl[4]\n\
                   aerie: uw vmctl[4]: vmctl: start vm 0 (testkit): done\n\
                   2 vCPUs, bootargs \"x\"\ntestkit: PASS psci_version (1.1)\n";
        assert_eq!(super::testkit_starts(out), 2);
    }

    /// The console checks name vmstat by its id: the last of the list.
    #[test]
    fn vmstat_is_the_last_world() {
        assert_eq!(WORLDS.last().map(|w| w.0), Some("vmstat"));
    }
}
