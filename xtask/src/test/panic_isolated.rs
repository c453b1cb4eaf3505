//! `linux-panic-isolated`: one VM's kernel panic is that VM's problem alone
//! (tests/configs/linux-panic-isolated.toml). VM "a" crashes its kernel
//! (tests/linux/panic-once.sh) with `panic=1`, so Linux restarts itself 1 s
//! later through PSCI SYSTEM_RESET and Aerie reloads it; the second boot finds
//! the panic marker on its disk and powers off. VM "b" prints `b-alive <n>`
//! once a second throughout and powers off after 8 s.

use super::{clean_exit, qemu_test, test_config, LINUX_TIMEOUT};
use crate::output::{count_lines, has_line, line_index};
use crate::run::Guest;

const CONFIG: &str = "linux-panic-isolated.toml";
/// `b-alive` lines VM b prints (its `aerie.alive=`).
const B_ALIVE: u32 = 8;
/// `b-alive` lines that must follow a's panic: b was still being scheduled
/// while a sat panicked and while a rebooted.
const B_ALIVE_AFTER_PANIC: usize = 2;

pub fn linux_panic_isolated() -> Result<(), String> {
    let guest = Guest::Config(test_config(CONFIG));
    qemu_test(
        "linux-panic-isolated",
        guest,
        "cortex-a72",
        "",
        LINUX_TIMEOUT,
        |status, out| {
            panic_stayed_in_a(out)?;
            clean_exit(status, out)
        },
    )
}

/// In order: a's kernel panic, Aerie resetting a, a's second boot finding
/// the marker and powering off; b printing past the panic to its last line
/// and powering off.
fn panic_stayed_in_a(out: &str) -> Result<(), String> {
    let panic = line_index(out, 0, &["[a] ", "Kernel panic"])
        .ok_or("vm a: no `Kernel panic` line (did `echo c > /proc/sysrq-trigger` run?)")?;
    let panics = count_lines(out, 0, "Kernel panic");
    if panics != 1 {
        return Err(format!(
            "{panics} `Kernel panic` lines, expected only a's one"
        ));
    }
    let after = count_lines(out, panic, "[b] b-alive ");
    if after < B_ALIVE_AFTER_PANIC {
        return Err(format!(
            "vm b: {after} `b-alive` lines after a's panic, expected >= {B_ALIVE_AFTER_PANIC}"
        ));
    }
    let last = format!("[b] b-alive {B_ALIVE}");
    if !has_line(out, &last) {
        return Err(format!("vm b: no `{last}` line"));
    }
    line_index(out, 0, &["aerie: vm b: powered off"])
        .ok_or("vm b: no `aerie: vm b: powered off` line")?;

    let reset = line_index(out, panic, &["aerie: vm a: reset"])
        .ok_or("vm a: no `aerie: vm a: reset` line after its panic (panic=1 restarts it)")?;
    let second = line_index(out, reset, &["[a] ", "panic-test: already panicked once"])
        .ok_or("vm a: its second boot did not print `panic-test: already panicked once`")?;
    line_index(out, second, &["aerie: vm a: powered off"])
        .ok_or("vm a: no `aerie: vm a: powered off` line after its second boot")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
[a] initramfs: started cntvct=1 cntfrq=2
[b] initramfs: started cntvct=1 cntfrq=2
[a] panic-test: panicking the kernel (echo c > /proc/sysrq-trigger)
[b] b-alive 1
[a] [    1.9] Kernel panic - not syncing: sysrq triggered crash
[b] b-alive 2
[a] [    1.9] Rebooting in 1 seconds..
aerie: vm a: reset (PSCI SYSTEM_RESET)
[b] b-alive 3
[a] initramfs: started cntvct=1 cntfrq=2
[b] b-alive 4
[a] panic-test: already panicked once; powering off
aerie: vm a: powered off (PSCI SYSTEM_OFF)
[b] b-alive 5
[b] b-alive 6
[b] b-alive 7
[b] b-alive 8
aerie: vm b: powered off (PSCI SYSTEM_OFF)
aerie: all VMs have stopped; powering off
";

    #[test]
    fn the_expected_story_passes() {
        assert_eq!(panic_stayed_in_a(GOOD), Ok(()));
    }

    #[test]
    fn each_missing_or_misordered_event_fails() {
        let without = |line: &str| GOOD.replace(line, "");
        for (broken, why) in [
            (without("Kernel panic"), "Kernel panic"),
            (without("aerie: vm a: reset"), "reset"),
            (without("[a] panic-test: already"), "second boot"),
            (without("aerie: vm a: powered off"), "vm a: powered off"),
            (without("aerie: vm b: powered off"), "vm b: powered off"),
            (without("[b] b-alive 8"), "b-alive 8"),
            // b stopped printing when a panicked.
            (
                GOOD.replace("[b] b-alive 3", "")
                    .replace("[b] b-alive 4", "")
                    .replace("[b] b-alive 5", "")
                    .replace("[b] b-alive 6", "")
                    .replace("[b] b-alive 7", "")
                    .replace("[b] b-alive 8", ""),
                "after a's panic",
            ),
            // b panicked too.
            (
                GOOD.replace("[b] b-alive 2", "[b] Kernel panic - oops"),
                "Kernel panic",
            ),
            // a powered off before the reset, never rebooted.
            (
                GOOD.replace("[a] [    1.9] Rebooting", "aerie: vm a: powered off\n[a] x")
                    .replace("aerie: vm a: reset (PSCI SYSTEM_RESET)", "")
                    .replace("aerie: vm a: powered off (PSCI SYSTEM_OFF)", ""),
                "reset",
            ),
        ] {
            let e = panic_stayed_in_a(&broken).unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        }
    }

    #[test]
    fn config_pairs_a_panicking_vm_with_a_ticking_one() {
        let c = aerie_vmconfig::load(&test_config(CONFIG)).unwrap();
        let names: Vec<_> = c.vms.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let a = &c.vms[0].cmdline;
        assert!(
            a.contains("aerie.panic=once") && a.contains(" panic=1"),
            "{a}"
        );
        assert!(!c.vms[0].disks.is_empty(), "a remembers its panic on disk");
        let b = &c.vms[1].cmdline;
        assert!(b.contains(&format!("aerie.alive={B_ALIVE}")), "{b}");
        assert!(b.contains("aerie.name=b"), "{b}");
    }
}
