//! Reading what Aerie and its guests printed. Every matcher works on whole lines
//! (serial output may carry `\r`), anywhere in the line, so a prefix added by
//! the hypervisor's console (e.g. `[vm testkit] `) does not matter.

/// Lines without trailing `\r`.
fn lines(output: &str) -> impl Iterator<Item = &str> {
    output.lines().map(|l| l.trim_end_matches('\r'))
}

/// Parses a leading unsigned decimal number, returning it and the rest.
fn number(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// Parses a leading `0x<hex>`.
fn hex(s: &str) -> Option<u64> {
    let s = s.strip_prefix("0x")?;
    let end = s.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(s.len());
    u64::from_str_radix(&s[..end], 16).ok()
}

/// The testkit's summary `testkit: <P> passed, <F> failed` (the last one).
pub fn testkit_result(output: &str) -> Option<(u64, u64)> {
    lines(output)
        .filter_map(|l| {
            let rest = &l[l.find("testkit: ")? + "testkit: ".len()..];
            let (passed, rest) = number(rest)?;
            let rest = rest.strip_prefix(" passed, ")?;
            let (failed, rest) = number(rest)?;
            rest.starts_with(" failed").then_some((passed, failed))
        })
        .last()
}

/// [`testkit_result`] among the console lines of VM `vm` (`[<vm>] ...`).
pub fn testkit_result_of(output: &str, vm: &str) -> Option<(u64, u64)> {
    let prefix = format!("[{vm}] ");
    let mine: Vec<&str> = lines(output).filter(|l| l.contains(&prefix)).collect();
    testkit_result(&mine.join("\n"))
}

/// Whether Aerie reported a panic (`aerie: panic`).
pub fn has_panic(output: &str) -> bool {
    lines(output).any(|l| l.contains("aerie: panic"))
}

/// The `0x<hex>` right after `key` on the first line that has one there.
pub fn hex_after(output: &str, key: &str) -> Option<u64> {
    lines(output).find_map(|l| hex(&l[l.find(key)? + key.len()..]))
}

/// The address from `boot-test: touching identity alias 0x<hex>`.
pub fn identity_alias(output: &str) -> Option<u64> {
    hex_after(output, "boot-test: touching identity alias ")
}

/// FAR from a line with `EL2 synchronous exception` and `FAR=0x<hex>`.
pub fn el2_fault_far(output: &str) -> Option<u64> {
    lines(output)
        .filter(|l| l.contains("EL2 synchronous exception"))
        .find_map(|l| hex(&l[l.find("FAR=")? + "FAR=".len()..]))
}

/// Whether Aerie refused VM `name` (`aerie: vm <name>: refused: ...` or a line
/// with `vm <name>` and `cannot`).
pub fn vm_refused(output: &str, name: &str) -> bool {
    let vm = format!("vm {name}");
    lines(output).any(|l| {
        l.find(&vm).is_some_and(|at| {
            // `vm huge` but not `vm huger`.
            let after = l[at + vm.len()..].chars().next();
            !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }) && (l.contains("refused") || l.contains("cannot"))
    })
}

/// The Linux check script's verdict: the last `check: RESULT PASS` (Ok) or
/// `check: RESULT FAIL <why>` (Err(why)) line; None if there is none.
pub fn check_result(output: &str) -> Option<Result<(), String>> {
    const KEY: &str = "check: RESULT ";
    lines(output)
        .filter_map(|l| {
            let rest = &l[l.find(KEY)? + KEY.len()..];
            if rest.trim_end() == "PASS" {
                Some(Ok(()))
            } else {
                rest.strip_prefix("FAIL")
                    .map(|why| Err(why.trim().to_string()))
            }
        })
        .last()
}

/// Every `check: nproc=<n>` value, in order (one per boot).
pub fn check_nprocs(output: &str) -> Vec<u64> {
    numbers_after(output, "check: nproc=")
}

/// The decimal number right after `key`, on every line that has one, in order.
pub fn numbers_after(output: &str, key: &str) -> Vec<u64> {
    lines(output)
        .filter_map(|l| number(&l[l.find(key)? + key.len()..]).map(|(n, _)| n))
        .collect()
}

/// The times in `line`: every number right before a word that starts
/// with `ms` (`ms`, `ms,`): `millis("a 20 ms, b 30 ms of 4 ms")` is
/// `[20, 30, 4]`.
pub fn millis(line: &str) -> Vec<u64> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[1].starts_with("ms"))
        .filter_map(|w| w[0].parse().ok())
        .collect()
}

/// The decimal number that is the last word of `line` before the first
/// `word` in it: `number_before("7 reads (", " reads (")` is 7.
pub fn number_before(line: &str, word: &str) -> Option<u64> {
    let at = line.find(word)?;
    line[..at].split_whitespace().last()?.parse().ok()
}

/// The lines that contain `needle`, in order.
pub fn lines_with<'a>(output: &'a str, needle: &str) -> Vec<&'a str> {
    lines(output).filter(|l| l.contains(needle)).collect()
}

/// Whether some line contains `needle`.
pub fn has_line(output: &str, needle: &str) -> bool {
    lines(output).any(|l| l.contains(needle))
}

/// Ok when some line contains `needle`, else the error a test reports:
/// ``no `needle` line``.
pub fn require_line(output: &str, needle: &str) -> Result<(), String> {
    if has_line(output, needle) {
        Ok(())
    } else {
        Err(format!("no `{needle}` line"))
    }
}

/// Index of the first line at or after line `from` that contains every one
/// of `needles`: for tests that care what happened in which order.
pub fn line_index(output: &str, from: usize, needles: &[&str]) -> Option<usize> {
    lines(output)
        .enumerate()
        .skip(from)
        .find(|(_, l)| needles.iter().all(|n| l.contains(n)))
        .map(|(i, _)| i)
}

/// How many lines at or after line `from` contain `needle`.
pub fn count_lines(output: &str, from: usize, needle: &str) -> usize {
    lines(output)
        .skip(from)
        .filter(|l| l.contains(needle))
        .count()
}

/// `(token, md5)` from the first `check: disk <what> token=<T> md5=<M>` line,
/// `what` being `written` (aerie.disk=write) or `persisted` (aerie.disk=verify).
pub fn disk_token(output: &str, what: &str) -> Option<(String, String)> {
    let key = format!("check: disk {what} token=");
    lines(output).find_map(|l| {
        let rest = &l[l.find(&key)? + key.len()..];
        let (token, rest) = rest.split_once(' ')?;
        let md5 = rest.strip_prefix("md5=")?.trim_end();
        (!token.is_empty() && md5.len() == 32 && md5.chars().all(|c| c.is_ascii_hexdigit()))
            .then(|| (token.to_string(), md5.to_string()))
    })
}

/// How many times the initramfs started (`initramfs: started`): boots seen.
pub fn initramfs_starts(output: &str) -> usize {
    lines(output)
        .filter(|l| l.contains("initramfs: started"))
        .count()
}

/// The guest virtual counter and its frequency from the initramfs's first
/// line, `initramfs: started cntvct=<N> cntfrq=<F>` (the first such line).
pub fn initramfs_counter(output: &str) -> Option<(u64, u64)> {
    lines(output).find_map(|l| {
        let rest = &l[l.find("initramfs: started cntvct=")? + "initramfs: started cntvct=".len()..];
        let (cnt, rest) = number(rest)?;
        let (frq, _) = number(rest.strip_prefix(" cntfrq=")?)?;
        (frq > 0).then_some((cnt, frq))
    })
}

/// The time in the first line containing `key`, written after it as
/// `vmware-toolbox-cmd stat hosttime` prints it (`26 Nov 2026 05:13:11`),
/// in seconds since the Unix epoch.
pub fn date_after(output: &str, key: &str) -> Option<u64> {
    let line = lines(output).find(|l| l.contains(key))?;
    let mut parts = line[line.find(key)? + key.len()..].split_whitespace();
    let day: u64 = parts.next()?.parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == name)? as u64 + 1;
    let year: u64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if !(1..=31).contains(&day) || year < 1970 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(aerie_civil::days_since_epoch(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// One `bench: name=<name> iters=<N> ticks=<T> freq=<Hz>` line.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchLine {
    pub name: String,
    pub iters: u64,
    pub ticks: u64,
    pub freq: u64,
}

impl BenchLine {
    /// Instructions per iteration: with `-icount shift=0` one instruction is 1 ns
    /// of virtual time, so T ticks at `freq` Hz are T * 1e9 / freq instructions.
    pub fn instructions_per_iter(&self) -> f64 {
        self.ticks as f64 * (1e9 / self.freq as f64) / self.iters as f64
    }
}

/// Every well-formed bench line, in order.
pub fn bench_lines(output: &str) -> Vec<BenchLine> {
    lines(output)
        .filter_map(|l| {
            let rest = &l[l.find("bench: name=")? + "bench: ".len()..];
            let (mut name, mut iters, mut ticks, mut freq) = (None, None, None, None);
            for kv in rest.split_whitespace() {
                let (k, v) = kv.split_once('=')?;
                match k {
                    "name" => name = Some(v.to_string()),
                    "iters" => iters = v.parse().ok(),
                    "ticks" => ticks = v.parse().ok(),
                    "freq" => freq = v.parse().ok(),
                    _ => {}
                }
            }
            let line = BenchLine {
                name: name?,
                iters: iters?,
                ticks: ticks?,
                freq: freq?,
            };
            (line.iters > 0 && line.freq > 0).then_some(line)
        })
        .collect()
}

/// Whether the testkit finished its benchmarks (`bench: done`).
pub fn bench_done(output: &str) -> bool {
    lines(output).any(|l| l.contains("bench: done"))
}

/// `test result: ok. X passed; Y failed; ...` lines of `cargo test`, summed.
pub fn cargo_test_counts(output: &str) -> (u64, u64) {
    lines(output)
        .filter_map(|l| {
            let rest = &l[l.find("test result: ")?..];
            let rest = &rest[rest.find(". ")? + 2..];
            let (passed, rest) = number(rest)?;
            let rest = rest.strip_prefix(" passed; ")?;
            let (failed, _) = number(rest)?;
            Some((passed, failed))
        })
        .fold((0, 0), |(p, f), (p2, f2)| (p + p2, f + f2))
}

#[cfg(test)]
mod date_tests {
    use super::*;

    #[test]
    fn dates_as_the_tools_print_them() {
        assert_eq!(
            date_after("tools: hosttime 01 Jan 1970 00:00:38", "hosttime "),
            Some(38)
        );
        // 2000-02-29 (a leap day) and 2026-11-26.
        assert_eq!(
            date_after("x 29 Feb 2000 00:00:00", "x "),
            Some(951_782_400)
        );
        assert_eq!(
            date_after(
                "[guest] tools: hosttime 26 Nov 2026 05:13:11\r",
                "hosttime "
            ),
            Some(1_795_669_991)
        );
        assert_eq!(
            date_after("tools: hosttime Failed to get", "hosttime "),
            None
        );
        assert_eq!(date_after("x 32 Jan 2026 00:00:00", "x "), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_are_the_numbers_before_ms() {
        let line = "check: steal: cpu0 at 250000 kHz 2310 ms of 2970 ms, at 1 kHz 00 ms of x ms";
        assert_eq!(millis(line), [2310, 2970, 0]);
        assert_eq!(millis("no times here"), Vec::<u64>::new());
    }

    #[test]
    fn number_before_a_word() {
        let line = "disk vda: 12 reads (48 KiB), 5 of 6 notifies returned early";
        assert_eq!(number_before(line, " reads ("), Some(12));
        assert_eq!(number_before(line, " notifies"), Some(6));
        assert_eq!(number_before(line, " of "), Some(5));
        assert_eq!(number_before(line, " writes"), None);
        assert_eq!(number_before("x reads", " reads"), None);
    }

    #[test]
    fn testkit_summary() {
        let out = "aerie: booting\r\n[vm testkit] testkit: 13 passed, 0 failed\r\naerie: vm testkit: exited\r\n";
        assert_eq!(testkit_result(out), Some((13, 0)));
        assert_eq!(
            testkit_result("testkit: 12 passed, 3 failed\n"),
            Some((12, 3))
        );
        assert_eq!(testkit_result("testkit: passed all\n"), None);
        let two = "[a] testkit: 45 passed, 0 failed\r\n[b] testkit: 44 passed, 1 failed\r\n";
        assert_eq!(testkit_result_of(two, "a"), Some((45, 0)));
        assert_eq!(testkit_result_of(two, "b"), Some((44, 1)));
        assert_eq!(testkit_result_of(two, "c"), None);
        assert_eq!(testkit_result("testkit: 5 passed\n"), None);
        // The last summary wins.
        assert_eq!(
            testkit_result("testkit: 1 passed, 0 failed\ntestkit: 2 passed, 1 failed\n"),
            Some((2, 1))
        );
    }

    #[test]
    fn panic_line() {
        assert!(has_panic("x\naerie: panic at src/main.rs:3: oops\n"));
        assert!(!has_panic("aerie: no panic here? it says pan ic\n"));
    }

    #[test]
    fn identity_fault_lines() {
        let out = "boot-test: touching identity alias 0x40080000\r\n\
                   aerie: EL2 synchronous exception: EC=0x25 ESR=0x96000006 FAR=0x40080000 ELR=0xffff...\r\n";
        assert_eq!(identity_alias(out), Some(0x4008_0000));
        assert_eq!(el2_fault_far(out), Some(0x4008_0000));
        assert_eq!(el2_fault_far("FAR=0x10 without the words\n"), None);
        assert_eq!(
            identity_alias("boot-test: touching identity alias zz\n"),
            None
        );
    }

    #[test]
    fn refused_vm() {
        assert!(vm_refused(
            "aerie: vm huge: refused: needs 64 GiB, 960 MiB free\n",
            "huge"
        ));
        assert!(vm_refused("aerie: vm huge cannot be placed\n", "huge"));
        assert!(!vm_refused("aerie: vm huge: started\n", "huge"));
        assert!(!vm_refused("aerie: vm huger: refused\n", "huge"));
    }

    #[test]
    fn bench_parsing_and_arithmetic() {
        let out = "bench: name=hvc_null iters=1000 ticks=3125 freq=62500000\r\n\
                   bench: name=broken iters=x ticks=1 freq=1\n\
                   bench: done\n";
        let b = bench_lines(out);
        assert_eq!(
            b,
            vec![BenchLine {
                name: "hvc_null".into(),
                iters: 1000,
                ticks: 3125,
                freq: 62_500_000
            }]
        );
        // 3125 ticks at 62.5 MHz = 50 us = 50000 instructions, / 1000 iterations.
        assert!((b[0].instructions_per_iter() - 50.0).abs() < 1e-9);
        assert!(bench_done(out));
        assert!(!bench_done("bench: name=x"));
    }

    #[test]
    fn linux_check_lines() {
        let out = "[a] initramfs: started cntvct=123456 cntfrq=62500000\r\n\
                   [a] check: nproc=2\r\n[a] check: disk wrote boot=1 md5=x; rebooting\r\n\
                   [a] initramfs: started cntvct=99 cntfrq=62500000\r\n\
                   [a] check: nproc=2\r\n[a] check: disk ok (boot 2 read back what boot 1 wrote)\r\n\
                   [a] check: RESULT PASS\r\n";
        assert_eq!(check_result(out), Some(Ok(())));
        assert_eq!(check_nprocs(out), [2, 2]);
        assert!(has_line(out, "check: disk ok"));
        assert_eq!(initramfs_starts(out), 2);
        assert_eq!(initramfs_counter(out), Some((123_456, 62_500_000)));
        assert_eq!(
            check_result("check: RESULT FAIL sleep 1 took 0 ms; disk\n"),
            Some(Err("sleep 1 took 0 ms; disk".into()))
        );
        assert_eq!(check_result("check: RESULT PASSED?\n"), None);
        assert_eq!(check_result("check: nproc=2\n"), None);
        assert_eq!(initramfs_counter("initramfs: started\n"), None);
        assert_eq!(
            initramfs_counter("initramfs: started cntvct=5 cntfrq=0\n"),
            None
        );
    }

    #[test]
    fn ordered_lines() {
        let out = "[a] x\r\n[b] b-alive 1\n[a] Kernel panic - not syncing\n[b] b-alive 2\n[b] b-alive 3\n";
        assert_eq!(line_index(out, 0, &["[a] ", "Kernel panic"]), Some(2));
        assert_eq!(line_index(out, 3, &["Kernel panic"]), None);
        assert_eq!(line_index(out, 0, &["b-alive", "[a]"]), None);
        assert_eq!(line_index(out, 0, &["[a] x"]), Some(0));
        assert_eq!(count_lines(out, 3, "b-alive"), 2);
        assert_eq!(count_lines(out, 0, "b-alive"), 3);
        assert_eq!(count_lines(out, 9, "b-alive"), 0);
    }

    #[test]
    fn disk_token_lines() {
        let md5 = "2c2b561c0d7961eaee0c6cfb462caed8";
        let out = format!("check: disk written token=5581b28d-a211 md5={md5}\r\n");
        assert_eq!(
            disk_token(&out, "written"),
            Some(("5581b28d-a211".into(), md5.into()))
        );
        assert_eq!(disk_token(&out, "persisted"), None);
        let persisted = format!("[disk] check: disk persisted token=t md5={md5}\n");
        assert_eq!(
            disk_token(&persisted, "persisted"),
            Some(("t".into(), md5.into()))
        );
        assert_eq!(
            disk_token("check: disk not persisted: no marker\n", "persisted"),
            None
        );
        assert_eq!(
            disk_token("check: disk written token=t md5=xyz\n", "written"),
            None
        );
    }

    #[test]
    fn numbers_after_key() {
        let out =
            "[linux] tools: kprobe hits=4\r\ntools: kprobe hits=x\ntools: kprobe hits=12 more\n";
        assert_eq!(numbers_after(out, "tools: kprobe hits="), vec![4, 12]);
        assert_eq!(numbers_after(out, "nproc="), Vec::<u64>::new());
    }

    #[test]
    fn cargo_test_summary() {
        let out = "test result: ok. 21 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.07s\n\
                   test result: FAILED. 3 passed; 2 failed; 0 ignored\n\
                   test result: ok. 0 passed; 0 failed; 0 ignored\n";
        assert_eq!(cargo_test_counts(out), (24, 2));
        assert_eq!(
            cargo_test_counts("error[E0308]: mismatched types\n"),
            (0, 0)
        );
    }
}
