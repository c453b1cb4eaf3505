//! Pseudo-NMI tests (C7, issue 4): the lockup watchdog, the stop/dump SGI
//! reaching a CPU with interrupts off, nested pseudo-NMIs, and the sampling
//! profiler. Each boots the testkit (not Linux) so it takes seconds, and
//! selects Aerie's test behaviour with an `aerie.test=` / `aerie.profile=`
//! boot argument. The lines they look for are the fixed interface of
//! docs/ARCHITECTURE.md ("Interrupts").

use super::{clean_exit, qemu_test, testkit_passed, TESTKIT_MIN_PASSED};
use crate::output::{self, line_index};
use crate::qemu::Status;
use crate::run::Guest;

/// Short: each of these either finishes within seconds or has hung.
const TIMEOUT: u64 = 60;
/// The profiler runs the whole testkit, like `testkit-*`.
const PROFILER_TIMEOUT: u64 = 120;

/// Lines without a trailing `\r`.
fn lines(out: &str) -> impl Iterator<Item = &str> {
    out.lines().map(|l| l.trim_end_matches('\r'))
}

/// Parses `0x<hex>` at the start of `s`, returning the value and the rest.
fn hex(s: &str) -> Option<(u64, &str)> {
    let s = s.strip_prefix("0x")?;
    let end = s.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(s.len());
    Some((u64::from_str_radix(&s[..end], 16).ok()?, &s[end..]))
}

/// Parses a decimal number at the start of `s`, returning it and the rest.
fn number(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// `<symbol>+0x<off>` naming a real symbol: `(symbol, offset)`, or None for
/// `?` (unknown) or anything else. Demangled Rust names may contain spaces
/// and `+` (`<T as core::ops::Add>::add`), so the offset is the last `+0x`.
fn symbolised(s: &str) -> Option<(&str, u64)> {
    let (symbol, off) = s.trim().rsplit_once("+0x")?;
    if symbol.is_empty() || symbol == "?" || !off.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((symbol, u64::from_str_radix(off, 16).ok()?))
}

/// The watchdog's report: `aerie: watchdog: cpu <n> stuck with interrupts
/// masked for <ms> ms at ELR=0x<hex> <symbol>+0x<off>`.
#[derive(Debug, PartialEq, Eq)]
struct WatchdogReport<'a> {
    /// Line index in the output.
    line: usize,
    cpu: u64,
    ms: u64,
    elr: u64,
    symbol: Option<&'a str>,
}

fn watchdog_report(out: &str) -> Option<WatchdogReport<'_>> {
    const KEY: &str = "aerie: watchdog: cpu ";
    lines(out).enumerate().find_map(|(line, l)| {
        let rest = &l[l.find(KEY)? + KEY.len()..];
        let (cpu, rest) = number(rest)?;
        let rest = rest.strip_prefix(" stuck with interrupts masked for ")?;
        let (ms, rest) = number(rest)?;
        let rest = rest.strip_prefix(" ms at ELR=")?;
        let (elr, rest) = hex(rest)?;
        let symbol = symbolised(rest).map(|(s, _)| s);
        Some(WatchdogReport {
            line,
            cpu,
            ms,
            elr,
            symbol,
        })
    })
}

/// The backtrace lines right after the report line:
/// `aerie: watchdog:   #<i> 0x<hex> <symbol>+0x<off>`, as (pc, symbolised).
fn watchdog_backtrace(out: &str, report_line: usize) -> Vec<(u64, bool)> {
    const KEY: &str = "aerie: watchdog:   #";
    lines(out)
        .skip(report_line + 1)
        .map_while(|l| {
            let rest = &l[l.find(KEY)? + KEY.len()..];
            let (_, rest) = number(rest)?;
            let (pc, rest) = hex(rest.strip_prefix(' ')?)?;
            Some((pc, symbolised(rest).is_some()))
        })
        .collect()
}

/// `watchdog-<cpu>`: a regular interrupt handler spins with regular
/// interrupts masked on pCPU 0; the watchdog pseudo-NMI must name cpu 0 and
/// where it was (an ELR inside Aerie, symbolised), give a backtrace, then
/// panic (the default `aerie.watchdog=panic`) so QEMU exits non-zero.
pub fn watchdog_on(cpu: &str, name: &str) -> Result<(), String> {
    qemu_test(
        name,
        Guest::testkit(),
        cpu,
        "aerie.test=spin-in-irq",
        TIMEOUT,
        check_watchdog,
    )
}

fn check_watchdog(status: Status, out: &str) -> Result<(), String> {
    let report = watchdog_report(out).ok_or(
        "no `aerie: watchdog: cpu <n> stuck with interrupts masked for <ms> ms at ELR=0x<hex> ...` line",
    )?;
    if report.cpu != 0 {
        return Err(format!(
            "the watchdog named cpu {}, but the spinning handler is on cpu 0",
            report.cpu
        ));
    }
    if report.symbol.is_none() {
        return Err(format!(
            "ELR={:#x} is not symbolised as `<symbol>+0x<off>` (Aerie's symbol table)",
            report.elr
        ));
    }
    let backtrace = watchdog_backtrace(out, report.line);
    if backtrace.is_empty() {
        return Err("no `aerie: watchdog:   #<i> 0x<hex> ...` backtrace line".into());
    }
    line_index(out, report.line, &["aerie: panic"])
        .ok_or("no `aerie: panic` after the watchdog report (default aerie.watchdog=panic)")?;
    match status {
        Status::Exited(0) => Err("QEMU exited 0; the watchdog's panic must exit non-zero".into()),
        _ => Ok(()),
    }
}

/// `stop-dump`: pCPU 1 sits with interrupts off (PMR 0xA0) and pCPU 0 asks
/// for a dump by pseudo-NMI SGI: every pCPU prints its state, cpu 1's shows
/// the mask it sat behind, and cpu 0 sees the dump arrive.
pub fn stop_dump() -> Result<(), String> {
    qemu_test(
        "stop-dump",
        Guest::testkit(),
        "cortex-a72",
        "aerie.test=dump-masked",
        TIMEOUT,
        |status, out| {
            check_dump(out)?;
            clean_exit(status, out)
        },
    )
}

fn check_dump(out: &str) -> Result<(), String> {
    line_index(out, 0, &["aerie: dump: cpu 0:"]).ok_or("no `aerie: dump: cpu 0:` line")?;
    let masked = line_index(out, 0, &["aerie: dump: cpu 1:"])
        .ok_or("no `aerie: dump: cpu 1:` line: the pseudo-NMI SGI did not get through PMR 0xA0")?;
    if line_index(out, masked, &["aerie: dump: cpu 1:", "pmr=0xa0"]) != Some(masked) {
        return Err("cpu 1's dump line does not say `pmr=0xa0` (interrupts off)".into());
    }
    line_index(out, masked, &["boot-test: dump arrived from cpu 1"])
        .ok_or("no `boot-test: dump arrived from cpu 1` after cpu 1's dump line")?;
    Ok(())
}

/// `pnmi-nested`: a pseudo-NMI arriving while another is handled, and one
/// arriving on a CPU that is stopping, are both handled without deadlock.
pub fn pnmi_nested() -> Result<(), String> {
    qemu_test(
        "pnmi-nested",
        Guest::testkit(),
        "cortex-a72",
        "aerie.test=pnmi-nested",
        TIMEOUT,
        |status, out| {
            check_nested(out)?;
            clean_exit(status, out)
        },
    )
}

fn check_nested(out: &str) -> Result<(), String> {
    for line in [
        "boot-test: nested pseudo-NMI handled",
        "boot-test: pseudo-NMI on a stopping CPU handled",
    ] {
        output::require_line(out, line)?;
    }
    Ok(())
}

/// The profiler's report: the summary and its top lines.
#[derive(Debug, Default, PartialEq, Eq)]
struct Profile {
    samples: u64,
    aerie: u64,
    guest: u64,
    /// `(count, where, pc, symbolised)` of each top line.
    top: Vec<(u64, String, u64, bool)>,
}

/// The last `aerie: profile: <N> samples, aerie <A>, guest <G>` line and the
/// `aerie: profile: <count> <where> 0x<pc> <symbol>+0x<off>` lines after it.
fn profile(out: &str) -> Option<Profile> {
    const KEY: &str = "aerie: profile: ";
    let payloads: Vec<&str> = lines(out)
        .filter_map(|l| Some(&l[l.find(KEY)? + KEY.len()..]))
        .collect();
    let summary = |s: &str| -> Option<(u64, u64, u64)> {
        let (samples, rest) = number(s)?;
        let (aerie, rest) = number(rest.strip_prefix(" samples, aerie ")?)?;
        let (guest, _) = number(rest.strip_prefix(", guest ")?)?;
        Some((samples, aerie, guest))
    };
    let at = payloads.iter().rposition(|p| summary(p).is_some())?;
    let (samples, aerie, guest) = summary(payloads[at])?;
    let top = payloads[at + 1..]
        .iter()
        .filter_map(|p| {
            let (count, rest) = number(p)?;
            let mut parts = rest.strip_prefix(' ')?.splitn(2, ' ');
            let place = parts.next()?.to_string();
            let (pc, rest) = hex(parts.next()?)?;
            Some((count, place, pc, symbolised(rest).is_some()))
        })
        .collect();
    Some(Profile {
        samples,
        aerie,
        guest,
        top,
    })
}

/// `profiler`: the testkit under `aerie.profile=1` still passes, and the
/// report shows samples in Aerie and in the guest, an Aerie top entry named
/// by Aerie's symbol table and one from VM `testkit`.
pub fn profiler() -> Result<(), String> {
    qemu_test(
        "profiler",
        Guest::testkit(),
        "cortex-a72",
        "aerie.profile=1",
        PROFILER_TIMEOUT,
        |status, out| {
            check_profile(out)?;
            testkit_passed(status, out, TESTKIT_MIN_PASSED)
        },
    )
}

fn check_profile(out: &str) -> Result<(), String> {
    let p = profile(out).ok_or("no `aerie: profile: <N> samples, aerie <A>, guest <G>` line")?;
    if p.aerie == 0 || p.guest == 0 {
        return Err(format!(
            "profile: {} samples, aerie {}, guest {}: want samples in both",
            p.samples, p.aerie, p.guest
        ));
    }
    if !p
        .top
        .iter()
        .any(|(_, place, _, named)| place == "aerie" && *named)
    {
        return Err("no top `aerie` line with a symbol (`<symbol>+0x<off>`, not `?`)".into());
    }
    if !p.top.iter().any(|(_, place, _, _)| place == "vm:testkit") {
        return Err("no top `vm:testkit` line".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WATCHDOG: &str = "\
aerie: Aerie 0.1.0 on Cortex-A72 (MIDR 0x410fd083), 2 CPUs
boot-test: spinning in a regular interrupt handler on cpu 0\r
aerie: watchdog: cpu 0 stuck with interrupts masked for 1003 ms at ELR=0xffffc0004a10 aerie::test::spin_in_irq+0x14\r
aerie: watchdog:   #0 0xffffc0004a10 aerie::test::spin_in_irq+0x14
aerie: watchdog:   #1 0xffffc0005b20 <aerie::irq::Handler as core::ops::Fn<()>>::call+0x3c
aerie: watchdog:   #2 0xffffc0001000 ?
aerie: panic at src/irq/watchdog.rs:88: cpu 0 locked up
";

    #[test]
    fn symbolised_needs_a_real_symbol_and_a_hex_offset() {
        assert_eq!(symbolised(" main+0x10"), Some(("main", 0x10)));
        assert_eq!(
            symbolised("<a as core::ops::Add>::add+0x4"),
            Some(("<a as core::ops::Add>::add", 4))
        );
        assert_eq!(symbolised("?"), None);
        assert_eq!(symbolised("?+0x10"), None);
        assert_eq!(symbolised("main"), None);
        assert_eq!(symbolised("main+0xzz"), None);
        assert_eq!(symbolised("+0x10"), None);
    }

    #[test]
    fn watchdog_report_and_backtrace_parse() {
        let r = watchdog_report(WATCHDOG).unwrap();
        assert_eq!(
            r,
            WatchdogReport {
                line: 2,
                cpu: 0,
                ms: 1003,
                elr: 0xffff_c000_4a10,
                symbol: Some("aerie::test::spin_in_irq")
            }
        );
        assert_eq!(
            watchdog_backtrace(WATCHDOG, r.line),
            [
                (0xffff_c000_4a10, true),
                (0xffff_c000_5b20, true),
                (0xffff_c000_1000, false)
            ]
        );
    }

    #[test]
    fn watchdog_rules() {
        assert_eq!(check_watchdog(Status::Exited(1), WATCHDOG), Ok(()));
        let fails = |out: &str, status, why: &str| {
            let e = check_watchdog(status, out).unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        };
        fails(WATCHDOG, Status::Exited(0), "exited 0");
        fails(
            &WATCHDOG.replace("cpu 0 stuck", "cpu 1 stuck"),
            Status::Exited(1),
            "cpu 1",
        );
        fails(
            &WATCHDOG.replace(
                "0xffffc0004a10 aerie::test::spin_in_irq+0x14\r",
                "0xffffc0004a10 ?\r",
            ),
            Status::Exited(1),
            "not symbolised",
        );
        let no_backtrace: String = WATCHDOG
            .lines()
            .filter(|l| !l.contains("watchdog:   #"))
            .map(|l| format!("{l}\n"))
            .collect();
        fails(&no_backtrace, Status::Exited(1), "backtrace");
        fails(
            &WATCHDOG.replace("aerie: panic at", "aerie: halted at"),
            Status::Exited(1),
            "aerie: panic",
        );
        fails(
            "aerie: panic at x\n",
            Status::Exited(1),
            "no `aerie: watchdog",
        );
    }

    const DUMP: &str = "\
boot-test: cpu 1 sits with interrupts off
aerie: dump: cpu 0: pmr=0xf0 elr=0xffffc0001234 state=running
aerie: dump: cpu 1: pmr=0xa0 elr=0xffffc0005678 state=masked\r
boot-test: dump arrived from cpu 1
aerie: all VMs have stopped; powering off
";

    #[test]
    fn dump_rules() {
        assert_eq!(check_dump(DUMP), Ok(()));
        for (broken, why) in [
            (
                DUMP.replace("cpu 1: pmr=0xa0", "cpu 1: pmr=0xf0"),
                "pmr=0xa0",
            ),
            (
                DUMP.replace("aerie: dump: cpu 1:", "aerie: dump: cpu 2:"),
                "cpu 1:",
            ),
            (DUMP.replace("aerie: dump: cpu 0:", "x"), "cpu 0:"),
            (DUMP.replace("boot-test: dump arrived", "x"), "dump arrived"),
        ] {
            let e = check_dump(&broken).unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        }
        // The arrival must follow cpu 1's dump, not precede it.
        let early = "boot-test: dump arrived from cpu 1\naerie: dump: cpu 0: x\naerie: dump: cpu 1: pmr=0xa0\n";
        assert!(check_dump(early).is_err());
    }

    #[test]
    fn nested_rules() {
        let ok = "boot-test: nested pseudo-NMI handled\n\
                  boot-test: pseudo-NMI on a stopping CPU handled\n";
        assert_eq!(check_nested(ok), Ok(()));
        assert!(check_nested("boot-test: nested pseudo-NMI handled\n")
            .unwrap_err()
            .contains("stopping CPU"));
        assert!(
            check_nested("boot-test: pseudo-NMI on a stopping CPU handled\n")
                .unwrap_err()
                .contains("nested")
        );
    }

    const PROFILE: &str = "\
testkit: 19 passed, 0 failed
aerie: vm testkit: powered off (PSCI SYSTEM_OFF)
aerie: profile: 5120 samples, aerie 1200, guest 3920\r
aerie: profile: 2100 vm:testkit 0x40081234 ?
aerie: profile: 800 aerie 0xffffc0003000 aerie::vm::run+0x40
aerie: profile: 12 aerie 0xffffc0002000 ?
aerie: all VMs have stopped; powering off
";

    #[test]
    fn profile_parses() {
        let p = profile(PROFILE).unwrap();
        assert_eq!((p.samples, p.aerie, p.guest), (5120, 1200, 3920));
        assert_eq!(
            p.top,
            [
                (2100, "vm:testkit".to_string(), 0x4008_1234, false),
                (800, "aerie".to_string(), 0xffff_c000_3000, true),
                (12, "aerie".to_string(), 0xffff_c000_2000, false),
            ]
        );
        assert_eq!(profile("testkit: 19 passed, 0 failed\n"), None);
    }

    #[test]
    fn profile_rules() {
        assert_eq!(check_profile(PROFILE), Ok(()));
        for (broken, why) in [
            (
                PROFILE.replace("aerie 1200,", "aerie 0,"),
                "want samples in both",
            ),
            (
                PROFILE.replace("guest 3920", "guest 0"),
                "want samples in both",
            ),
            (PROFILE.replace("aerie::vm::run+0x40", "?"), "with a symbol"),
            (PROFILE.replace("vm:testkit", "vm:other"), "vm:testkit"),
            (
                PROFILE.replace("samples, aerie", "samples aerie"),
                "no `aerie: profile",
            ),
        ] {
            let e = check_profile(&broken).unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        }
    }
}
