//! C6: user worlds at EL0. One boot runs every built-in program, the probe
//! once per misbehaviour, one after another on the boot pCPU; each must end
//! the way its row says, and the testkit VM that runs afterwards must pass
//! (Aerie carried on through every fault).

use super::{fresh_disk, run_aerie, testkit_passed, AerieRun, TESTKIT_MIN_PASSED};
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
        &["killed: ran for its whole time budget (500 ms)"],
    ),
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
        &["no such program (built in: hello, probe, bench, vmstat)"],
    ),
    (
        "bench",
        &[
            "bench: name=syscall_null iters=1000 ticks=",
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
    let list: Vec<&str> = WORLDS.iter().map(|(w, _)| *w).collect();
    let append = format!("aerie.user={}", list.join(","));
    let disk = fresh_disk(name)?;
    let run = AerieRun {
        log: name,
        guest: Guest::Testkit {
            cmdline: String::new(),
        },
        cpu,
        // The worlds share the pCPUs with the testkit's vCPU: one pCPU on
        // the Cortex-A72 (every world and the vCPU take turns on it), two
        // on `max` (worlds also run on both at once).
        smp: if cpu == "max" { 2 } else { 1 },
        append: &append,
        disk: &disk,
        timeout: 180,
        // The console's scheduler view (Ctrl-A d) lists the world.
        keys: &[Keys {
            after: "uw vmstat[23]: vm 0 testkit: running",
            bytes: b"\x01d",
        }],
    };
    run_aerie(&run, |status, out| {
        for (i, (world, lines)) in WORLDS.iter().enumerate() {
            check_world(out, i + 1, world, lines)?;
        }
        if !out.contains("aerie: dump: sched: user world vmstat[23]: ") {
            return Err("Ctrl-A d: no line for user world vmstat[23]".into());
        }
        testkit_passed(status, out, TESTKIT_MIN_PASSED)
    })
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

    /// The console check names vmstat by its id: its place in the list.
    #[test]
    fn vmstat_is_world_23() {
        assert_eq!(WORLDS[22].0, "vmstat");
    }
}
