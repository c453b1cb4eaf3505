//! `linux-4vcpus-2pcpus` and `linux-4vcpus-4pcpus`: a Linux VM with 4 vCPUs
//! (tests/configs/linux-4vcpus.toml) runs the checks on a machine with 2
//! physical CPUs (the scheduler time-slices two vCPUs per pCPU) and with 4
//! (one each). Either way the guest must see every vCPU and run a task pinned
//! to each one.

use super::{
    clean_exit, config_vcpus, fresh_disk, linux_check_passed, run_aerie, test_config, AerieRun,
    LINUX_TIMEOUT,
};
use crate::output;
use crate::run::Guest;

/// The config both tests boot.
const CONFIG: &str = "linux-4vcpus.toml";

/// Runs the 4-vCPU check VM under Aerie on an `smp`-pCPU machine.
pub fn linux_4vcpus(smp: u32, name: &str) -> Result<(), String> {
    let config = test_config(CONFIG);
    let vcpus = config_vcpus(&config, 0)?;
    let disk = fresh_disk(name)?;
    let run = AerieRun {
        smp,
        ..AerieRun::new(name, Guest::Config(config), &disk, LINUX_TIMEOUT)
    };
    run_aerie(&run, |status, out| {
        all_vcpus_ran(out, vcpus)?;
        fixed_clock(out)?;
        steal_under_load(out, u64::from(smp) < vcpus)?;
        clean_exit(status, out)
    })
}

/// A busy loop on every vCPU at once: with more vCPUs than pCPUs they take
/// turns, and the guest's steal time (Aerie's stolen-time records) is at
/// least a quarter of the CPU time that passed (half in theory, 4 vCPUs on
/// 2 pCPUs); with a pCPU each, under a quarter.
fn steal_under_load(out: &str, overcommitted: bool) -> Result<(), String> {
    let lines = output::lines_with(out, "check: steal under load:");
    if lines.is_empty() {
        return Err("no `check: steal under load:` line".into());
    }
    for line in lines {
        let [stolen, total] = output::millis(line)[..] else {
            return Err(format!("`{line}`: cannot read its times"));
        };
        if total == 0 || (stolen * 4 >= total) != overcommitted {
            return Err(format!(
                "`{line}`: expected {} a quarter of the time stolen",
                if overcommitted { "at least" } else { "under" }
            ));
        }
    }
    Ok(())
}

/// The check passed with `nproc` = the VM's vCPUs on every boot, and the
/// taskset check covered all of them (`cpus 0..<vcpus-1>`).
fn all_vcpus_ran(out: &str, vcpus: u64) -> Result<(), String> {
    linux_check_passed(out, vcpus)?;
    let want = format!("check: taskset ok (cpus 0..{})", vcpus - 1);
    output::require_line(out, &want)
}

/// `cpufreq = false` held: the guest found no cpufreq on either boot, and
/// Aerie's record says every vCPU's clock was fixed.
fn fixed_clock(out: &str) -> Result<(), String> {
    let cpufreq = output::lines_with(out, "check: cpufreq");
    if cpufreq.is_empty() || cpufreq.iter().any(|l| !l.contains("check: cpufreq none")) {
        return Err(format!("cpufreq = false, but the guest saw {cpufreq:?}"));
    }
    let records = output::lines_with(out, " idle: wfi ");
    if records.is_empty() || records.iter().any(|l| !l.contains("clock fixed")) {
        return Err(format!(
            "Aerie's vCPU records do not all say `clock fixed`: {records:?}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_under_load_rules() {
        let contended = "check: steal under load: 2400 ms of 6400 ms on 4 CPUs\n";
        let alone = "check: steal under load: 40 ms of 3200 ms on 4 CPUs\n";
        assert_eq!(steal_under_load(contended, true), Ok(()));
        assert_eq!(steal_under_load(alone, false), Ok(()));
        assert!(steal_under_load(alone, true).is_err());
        assert!(steal_under_load(contended, false).is_err());
        assert!(steal_under_load("check: nproc=4\n", true).is_err());
    }

    #[test]
    fn config_is_one_4_vcpu_check_vm_with_a_disk() {
        let config = aerie_vmconfig::load(&test_config(CONFIG)).unwrap();
        assert_eq!(config.vms.len(), 1);
        let vm = &config.vms[0];
        assert_eq!(vm.vcpus, 4);
        assert!(vm.cmdline.contains("aerie.check=1"), "{}", vm.cmdline);
        assert!(!vm.disks.is_empty(), "the check's disk part needs /dev/vda");
        assert!(!vm.cpufreq, "the config stands for `cpufreq = false`");
    }

    #[test]
    fn every_vcpu_must_show() {
        let date = crate::test::tests::date_now();
        let boot = format!(
            "initramfs: started cntvct=1 cntfrq=2\ncheck: nproc=4\n{date}\
             check: taskset ok (cpus 0..3)\n"
        );
        let pass = format!(
            "{boot}check: disk wrote boot=1 md5=x; rebooting\n{boot}\
             check: disk ok (boot 2 read back what boot 1 wrote)\ncheck: RESULT PASS\n"
        );
        assert!(all_vcpus_ran(&pass, 4).is_ok());
        // A VM that came up with 2 of its 4 vCPUs.
        let two = pass.replace("nproc=4", "nproc=2").replace("0..3", "0..1");
        assert!(all_vcpus_ran(&two, 4).is_err());
        // nproc right but taskset covered fewer CPUs.
        assert!(all_vcpus_ran(&pass.replace("0..3", "0..1"), 4).is_err());
    }
}
