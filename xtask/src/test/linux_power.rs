//! What the Linux check VM shows of C1 under Aerie: its cpuidle entering
//! the PSCI idle states Aerie publishes, its cpufreq driving the vCPU
//! clocks, Aerie's caps by those clocks, and Aerie's own per-vCPU record of
//! both (printed when the VM powers off).

use crate::output::{self, lines_with};

/// Linux idled through the PSCI states Aerie publishes and Aerie saw it: on
/// every boot the check's `check: cpuidle` line shows `cpu-retention` and
/// `cpu-power-down` without a rejection (a power-down that returned instead
/// of waking at its entry point is one) and the last boot used both; the
/// idle record Aerie prints per vCPU when the VM stops counts at least the
/// entries Linux counted.
pub fn guest_idle_captured(out: &str) -> Result<(), String> {
    const STATES: [(&str, &str); 2] = [
        ("cpu-retention", "retention"),
        ("cpu-power-down", "power-down"),
    ];
    let checks = lines_with(out, "check: cpuidle");
    if checks.is_empty() {
        return Err("no `check: cpuidle` line".into());
    }
    let aerie = lines_with(out, " idle: wfi ");
    if aerie.is_empty() {
        return Err("no per-vCPU idle record from Aerie (` idle: wfi ...`)".into());
    }
    for (linux_name, aerie_name) in STATES {
        let mut linux_total = 0;
        for (i, line) in checks.iter().enumerate() {
            let key = format!(" {linux_name}=");
            let (entries, rejected) = line
                .find(&key)
                .and_then(|at| {
                    let (e, r) = line[at + key.len()..]
                        .split_whitespace()
                        .next()?
                        .split_once('/')?;
                    Some((e.parse::<u64>().ok()?, r.parse::<u64>().ok()?))
                })
                .ok_or_else(|| format!("`{line}` has no {linux_name}=entries/rejected"))?;
            if rejected != 0 {
                return Err(format!(
                    "Linux rejected {linux_name} {rejected} times: `{line}`"
                ));
            }
            if i == checks.len() - 1 && entries == 0 {
                return Err(format!("Linux never entered {linux_name}: `{line}`"));
            }
            linux_total += entries;
        }
        // In Aerie's lines only: Linux's say `cpu-<name>=`.
        let aerie_total: u64 = output::numbers_after(out, &format!(" {aerie_name} "))
            .iter()
            .sum();
        if aerie_total < linux_total {
            return Err(format!(
                "Aerie recorded {aerie_total} {aerie_name} entries, Linux counted {linux_total}"
            ));
        }
    }
    Ok(())
}

/// The guest's cpufreq drives Aerie's vCPU clocks and Aerie caps by them:
/// every boot has one cpufreq-dt policy per vCPU over the four operating
/// points; the busy loop pinned to cpu0 at the slowest point (a quarter of
/// a pCPU) takes at least twice as long as at the fastest (4 times in
/// theory, 3.4 to 6 measured: the loop's exits, the guest's ticks and the
/// host's own load blur it; without the cap it is 1), and
/// Aerie's record at the VM's power-off shows throttles.
pub fn guest_cpufreq_capped(out: &str, vcpus: u64) -> Result<(), String> {
    let policies = lines_with(out, "check: cpufreq policies=");
    if policies.is_empty() {
        return Err("no `check: cpufreq policies=` line (no cpufreq in the guest)".into());
    }
    let want = format!("policies={vcpus} driver=cpufreq-dt");
    for line in &policies {
        if !line.contains(&want) || !line.contains("freqs=250000 500000 750000 1000000") {
            return Err(format!(
                "`{line}`: expected {want} and freqs=250000 .. 1000000"
            ));
        }
    }
    let caps = lines_with(out, "check: cpufreq cap:");
    if caps.len() != policies.len() {
        return Err(format!(
            "{} `check: cpufreq cap:` lines for {} boots",
            caps.len(),
            policies.len()
        ));
    }
    for line in caps {
        let [slow, fast] = output::millis(line)[..] else {
            return Err(format!("`{line}`: cannot read its times"));
        };
        if fast == 0 || slow < fast * 2 {
            return Err(format!("`{line}`: the slowest clock is not twice as slow"));
        }
    }
    let throttles: u64 = output::numbers_after(out, " changes, ").iter().sum();
    if throttles == 0 {
        return Err("Aerie's per-vCPU record shows no throttles".into());
    }
    Ok(())
}

/// Aerie's stolen-time records reach the guest: every boot's kernel found
/// them (`arm-pv: using stolen time PV`), and cpu0's `steal` in /proc/stat
/// grew by at least a third of the busy loop's time at the slowest clock,
/// where the cap leaves it a quarter of a pCPU (three quarters in theory,
/// 77% and 78% measured), and by less than half at the fastest, where
/// nothing else wants its pCPU (10 and 20 ms of 600 measured).
pub fn guest_steal_seen(out: &str) -> Result<(), String> {
    let boots = lines_with(out, "check: cpufreq cap:").len();
    let found = lines_with(out, "check: stolen time from the hypervisor").len();
    let steals = lines_with(out, "check: steal: cpu0");
    if found != boots || steals.len() != boots {
        return Err(format!(
            "{boots} boots with a cap, {found} found stolen time, {} measured it",
            steals.len()
        ));
    }
    for line in steals {
        let [slow_steal, slow, fast_steal, fast] = output::millis(line)[..] else {
            return Err(format!("`{line}`: cannot read its times"));
        };
        if slow_steal * 3 < slow {
            return Err(format!(
                "`{line}`: under a quarter of a pCPU less than a third of the time was stolen"
            ));
        }
        if fast_steal * 2 >= fast {
            return Err(format!("`{line}`: at full speed half the time was stolen"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_steal_rules() {
        let good = "check: cpufreq cap: cpu0 at 250000 kHz 2970 ms, at 1000000 kHz 600 ms\n\
                    check: steal: cpu0 at 250000 kHz 2310 ms of 2970 ms, at 1000000 kHz 10 ms of 600 ms\n\
                    check: stolen time from the hypervisor\n";
        assert_eq!(guest_steal_seen(good), Ok(()));
        let unseen = good.replace("2310 ms", "0 ms");
        assert!(guest_steal_seen(&unseen).unwrap_err().contains("third"));
        let all = good.replace("10 ms of 600", "590 ms of 600");
        assert!(guest_steal_seen(&all).unwrap_err().contains("full speed"));
        let not_found = good.replace("check: stolen time from the hypervisor\n", "");
        assert!(guest_steal_seen(&not_found).is_err());
        assert_eq!(guest_steal_seen("check: cpufreq none\n"), Ok(()));
    }

    #[test]
    fn guest_cpufreq_rules() {
        let good = "check: cpufreq policies=2 driver=cpufreq-dt governor=schedutil freqs=250000 500000 750000 1000000  cur=750000\n\
                    check: cpufreq cap: cpu0 at 250000 kHz 2100 ms, at 1000000 kHz 460 ms\n\
                    aerie: vm linux: vcpu 0 clock 1000 MHz (3 changes, 40 throttles) idle: wfi 1 (0 ms)\n\
                    aerie: vm linux: vcpu 1 clock 250 MHz (9 changes, 0 throttles) idle: wfi 1 (0 ms)\n";
        assert_eq!(guest_cpufreq_capped(good, 2), Ok(()));
        assert!(
            guest_cpufreq_capped(good, 4).is_err(),
            "one policy per vCPU"
        );
        let weak = good.replace("2100 ms", "900 ms");
        assert!(guest_cpufreq_capped(&weak, 2)
            .unwrap_err()
            .contains("twice"));
        let unthrottled = good.replace("40 throttles", "0 throttles");
        assert!(guest_cpufreq_capped(&unthrottled, 2)
            .unwrap_err()
            .contains("no throttles"));
        let no_cap_line: String = good
            .lines()
            .filter(|l| !l.contains("cap:"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(guest_cpufreq_capped(&no_cap_line, 2).is_err());
        assert!(guest_cpufreq_capped("check: cpufreq none\n", 2).is_err());
    }

    #[test]
    fn guest_idle_rules() {
        let good = "check: cpuidle (entries/rejected) WFI=146/0 cpu-retention=109/0 cpu-power-down=203/0\n\
                    check: cpuidle (entries/rejected) WFI=8/0 cpu-retention=124/0 cpu-power-down=206/0\n\
                    aerie: vm linux: vcpu 0 idle: wfi 100 (1 ms) retention 200 (2 ms) power-down 300 (900 ms)\n\
                    aerie: vm linux: vcpu 1 idle: wfi 90 (1 ms) retention 40 (2 ms) power-down 120 (800 ms)\n";
        assert_eq!(guest_idle_captured(good), Ok(()));
        // A rejected power-down (it returned instead of waking at its entry).
        let rejected = good.replacen("cpu-power-down=203/0", "cpu-power-down=203/5", 1);
        assert!(guest_idle_captured(&rejected)
            .unwrap_err()
            .contains("rejected"));
        // The last boot never went that deep.
        let unused = good.replacen("cpu-power-down=206/0", "cpu-power-down=0/0", 1);
        assert!(guest_idle_captured(&unused).unwrap_err().contains("never"));
        // Aerie recorded fewer entries (190 + 40) than Linux made (109 + 124).
        let missed = good.replacen("retention 200", "retention 190", 1);
        assert!(guest_idle_captured(&missed)
            .unwrap_err()
            .contains("Aerie recorded"));
        // Without idle states (QEMU's own DT) or without Aerie's record.
        assert!(guest_idle_captured("check: cpuidle none\n").is_err());
        let no_record: String = good
            .lines()
            .filter(|l| l.starts_with("check"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(guest_idle_captured(&no_record).is_err());
    }
}
