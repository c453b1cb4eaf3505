//! Power buttons. `linux-power-button`: three Linux VMs under Aerie
//! (tests/configs/linux-power-button.toml); `Ctrl-A b` presses VM a's
//! button, then the machine is shut down twice: `Ctrl-A q` asks b and c
//! to shut down (b's guest does, c's has no listener), and the machine's
//! power button (QEMU's `system_powerdown`, over QMP) then stops c; a
//! `shell` user world, which would wait for console lines for ever, ends
//! with the last VM. `linux-native-power-button`: the same guest on QEMU alone, its power
//! button pressed by `system_powerdown`, shows the guest's side against
//! QEMU's own PL061.

use super::{clean_exit, fresh_disk, qmp_script, run_aerie, run_test, test_config, AerieRun};
use super::{LINUX_TIMEOUT, LINUX_VCPUS};
use crate::output::{self, line_index, require_line};
use crate::qemu::{Firmware, Keys, QemuOptions, Status};
use crate::run::Guest;

/// The machine's power button, as QEMU's QMP calls it.
const SYSTEM_POWERDOWN: &str = "system_powerdown";

pub fn linux_power_button() -> Result<(), String> {
    let name = "linux-power-button";
    let keys = [
        // Both listeners watch before anything is pressed.
        Keys {
            after: "[a] powerkey: watching",
            bytes: b"",
        },
        Keys {
            after: "[b] powerkey: watching",
            bytes: b"\x01b",
        },
        Keys {
            after: "aerie: vm a: powered off",
            bytes: b"\x01q",
        },
    ];
    let qmp: [(&[&str], &str); 1] = [(&["aerie: vm b: powered off"], SYSTEM_POWERDOWN)];
    run_three_vms(name, &keys, &qmp, "aerie.user=shell", |status, out| {
        // Ctrl-A b: the focused VM's button only, and a's guest shuts down.
        require_line(out, "aerie: vm a: power button pressed (Ctrl-A b)")?;
        if output::lines_with(out, "power button pressed (Ctrl-A b)").len() != 1 {
            return Err("Ctrl-A b pressed more than the focused VM's button".into());
        }
        in_order(
            out,
            &[
                // The shell's prompt may share these lines.
                &["[a] ", "powerkey: KEY_POWER pressed, powering off"],
                &["[a] ", "The system is going down NOW!"],
                &["aerie: vm a: powered off (PSCI SYSTEM_OFF)"],
                // The machine's shutdown: every running VM is asked.
                &["aerie: shutdown (Ctrl-A q): asking 2 VM(s) to shut down"],
                &["[b] ", "powerkey: KEY_POWER pressed, powering off"],
                &["[b] ", "The system is going down NOW!"],
                &["aerie: vm b: powered off (PSCI SYSTEM_OFF)"],
                // Again, by the machine's power button: what still runs is
                // stopped.
                &["aerie: shutdown (the machine's power button) again: stopping 1 VM(s) now"],
                &["aerie: vm c: stopped at shutdown (the machine's power button)"],
                &["aerie: user world shell[1]: ended: the machine is powering off"],
                &["aerie: all VMs have stopped; powering off"],
            ],
        )?;
        for vm in ["b", "c"] {
            require_line(
                out,
                &format!("aerie: vm {vm}: power button pressed (Ctrl-A q)"),
            )?;
        }
        if line_index(out, 0, &["[c] ", "powerkey"]).is_some() {
            return Err("vm c has no power key listener, yet one spoke".into());
        }
        require_line(out, "[c] c-alive")?;
        clean_exit(status, out)
    })
}

/// `linux-shutdown-timeout`: the same VMs with `aerie.shutdown_timeout=15`.
/// The machine's power button (over QMP) is the first request: Aerie must
/// ask all three VMs, `a` and `b` must power themselves off, and 15 s
/// later Aerie must stop `c` by itself, end the `shell` and power off.
pub fn linux_shutdown_timeout() -> Result<(), String> {
    let name = "linux-shutdown-timeout";
    // Pressed once both listeners watch.
    let watching: &[&str] = &["[a] powerkey: watching", "[b] powerkey: watching"];
    let qmp = [(watching, SYSTEM_POWERDOWN)];
    let append = "aerie.user=shell aerie.shutdown_timeout=15";
    run_three_vms(name, &[], &qmp, append, |status, out| {
        let asked = "aerie: shutdown (the machine's power button): asking 3 VM(s) to shut down \
                     (again, or in 15 s: stop them)";
        let timed_out = "aerie: shutdown: 1 VM(s) still running after 15 s: stopping them";
        for vm in ["a", "b"] {
            in_order(
                out,
                &[
                    &[asked],
                    &[
                        &format!("[{vm}] "),
                        "powerkey: KEY_POWER pressed, powering off",
                    ],
                    &[&format!("aerie: vm {vm}: powered off (PSCI SYSTEM_OFF)")],
                    &[timed_out],
                ],
            )
            .map_err(|e| format!("vm {vm}: {e}"))?;
        }
        in_order(
            out,
            &[
                &[timed_out],
                &["aerie: vm c: stopped at shutdown (15 s timeout)"],
                &["aerie: user world shell[1]: ended: the machine is powering off"],
                &["aerie: all VMs have stopped; powering off"],
            ],
        )?;
        clean_exit(status, out)
    })
}

/// Runs test `name` on tests/configs/linux-power-button.toml with a fresh
/// host disk, `keys` typed, `qmp` sent and `append` on Aerie's command line.
fn run_three_vms(
    name: &str,
    keys: &[Keys],
    qmp: &[(&[&str], &str)],
    append: &str,
    check: impl FnOnce(Status, &str) -> Result<(), String>,
) -> Result<(), String> {
    let disk = fresh_disk(name)?;
    let run = AerieRun {
        keys,
        qmp,
        append,
        ..AerieRun::new(
            name,
            Guest::Config(test_config("linux-power-button.toml")),
            &disk,
            LINUX_TIMEOUT,
        )
    };
    run_aerie(&run, check)
}

/// Lines with each set of needles, each after the previous one's.
fn in_order(out: &str, steps: &[&[&str]]) -> Result<(), String> {
    let mut from = 0;
    for needles in steps {
        match line_index(out, from, needles) {
            Some(i) => from = i + 1,
            None if line_index(out, 0, needles).is_some() => {
                return Err(format!("`{}` came too early", needles.join("")));
            }
            None => return Err(format!("no `{}` line", needles.join(""))),
        }
    }
    Ok(())
}

/// The machine's power button on QEMU's machine described by ACPI (AAVMF
/// with ACPI tables, no device tree): `system_powerdown` raises QEMU's
/// Generic Event Device, which the loader found in the DSDT. Aerie must
/// read its power-down event and ask the VM (tests/configs/linux-shell.toml)
/// to shut down; the guest does, and the run ends.
pub fn linux_power_button_acpi() -> Result<(), String> {
    let name = "linux-power-button-acpi";
    let guest = Guest::Config(test_config("linux-shell.toml"));
    let prepared = crate::run::prepare(&guest, true, None).map_err(String::from)?;
    let opts = QemuOptions {
        qmp: qmp_script(name, &[(&["powerkey: watching"], SYSTEM_POWERDOWN)]),
        ..QemuOptions::aerie("cortex-a72", prepared.bootmodule, Firmware::UefiAcpi)
    };
    run_test(name, &opts, LINUX_TIMEOUT, |status, out| {
        require_line(
            out,
            ", power button: QEMU's Generic Event Device at 0x9080000",
        )?;
        require_line(
            out,
            "aerie: power button: the Generic Event Device at 0x9080000 (INTID 41, power-down event 0x2)",
        )?;
        in_order(
            out,
            &[
                &["aerie: shutdown (the machine's power button): asking 1 VM(s) to shut down"],
                &["powerkey: KEY_POWER pressed, powering off"],
                &["aerie: vm linux: powered off (PSCI SYSTEM_OFF)"],
            ],
        )?;
        clean_exit(status, out)
    })
}

pub fn linux_native_power_button() -> Result<(), String> {
    let name = "linux-native-power-button";
    let opts = QemuOptions {
        qmp: qmp_script(name, &[(&["powerkey: watching"], SYSTEM_POWERDOWN)]),
        ..QemuOptions::native_linux("cortex-a72", LINUX_VCPUS as u32, "console=ttyAMA0", 256)
    };
    run_test(name, &opts, LINUX_TIMEOUT, |status, out| {
        in_order(
            out,
            &[
                &["powerkey: KEY_POWER pressed, powering off"],
                &["The system is going down NOW!"],
                &["Requesting system poweroff"],
            ],
        )?;
        clean_exit(status, out)
    })
}
