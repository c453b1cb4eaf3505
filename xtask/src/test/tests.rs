use super::*;

#[test]
fn testkit_pass_rules() {
    let ok = "testkit: 13 passed, 0 failed\n";
    assert!(testkit_passed(Status::Exited(0), ok, 13).is_ok());
    // The integration tests want every testkit check: 47 today.
    assert!(testkit_passed(Status::Exited(0), ok, TESTKIT_MIN_PASSED).is_err());
    let all = "testkit: 47 passed, 0 failed\n";
    assert!(testkit_passed(Status::Exited(0), all, TESTKIT_MIN_PASSED).is_ok());
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

/// A guest's `check: date` line saying now, from its PL031, and its
/// `check: rtc set ok` and `check: rtc alarm ok` lines.
pub(crate) fn date_now() -> String {
    let now = unix_now();
    format!(
        "check: date {now} (rtc0: rtc-pl031 9010000.pl031)\n\
         check: rtc set ok (a day ahead: +86400 s, back: 0 s)\n\
         check: rtc alarm ok (interrupts 0 -> 1 after 2 s)\n"
    )
}

#[test]
fn linux_pass_rules() {
    let date = date_now();
    let pass = &format!(
        "initramfs: started\ncheck: nproc=2\n{date}check: disk wrote boot=1 md5=x; rebooting\n\
         initramfs: started cntvct=1 cntfrq=2\ncheck: nproc=2\n{date}check: disk ok (boot 2 read back what boot 1 wrote)\n\
         check: RESULT PASS\n"
    );
    assert!(linux_check_passed(pass, 2).is_ok());
    // A guest whose date is far off, or whose clock is not its PL031,
    // or which printed none.
    let old = pass.replacen("check: date 1", "check: date 8", 1);
    assert!(linux_check_passed(&old, 2).is_err());
    let efi = pass.replace("rtc-pl031", "rtc-efi");
    assert!(linux_check_passed(&efi, 2).is_err());
    let no_alarm = pass.replace("check: rtc alarm ok", "check: FAIL rtc alarm");
    assert!(linux_check_passed(&no_alarm, 2).is_err());
    let undated = pass.replace(&date, "");
    assert!(linux_check_passed(&undated, 2).is_err());
    assert!(linux_check_passed(pass, 4).is_err(), "nproc must match");
    let no_disk = pass.replace("check: disk ok", "check: disk none");
    assert!(linux_check_passed(&no_disk, 2).is_err());
    let one_cpu_after_reboot = pass
        .replacen("nproc=2", "nproc=1", 2)
        .replacen("nproc=1", "nproc=2", 1);
    assert!(linux_check_passed(&one_cpu_after_reboot, 2).is_err());
    assert!(
        linux_check_passed("check: nproc=2\ncheck: disk ok\ncheck: RESULT FAIL x\n", 2).is_err()
    );
    let one_boot = pass.replacen("initramfs: started", "", 1);
    assert!(linux_check_passed(&one_boot, 2).is_err());
    assert!(linux_check_passed("check: nproc=2\ncheck: disk ok\n", 2).is_err());
    assert!(clean_exit(Status::Exited(0), pass).is_ok());
    assert!(clean_exit(Status::Exited(1), pass).is_err());
    assert!(clean_exit(Status::Exited(0), "aerie: panic at x\n").is_err());
}

#[test]
fn linux_test_configs_mean_what_the_tests_need() {
    let dir = paths::root().join("tests/configs");
    let one = aerie_vmconfig::load(&dir.join("linux-check.toml")).unwrap();
    assert_eq!(one.vms.len(), 1);
    let vm = &one.vms[0];
    assert_eq!(u64::from(vm.vcpus), LINUX_VCPUS);
    assert_eq!(
        vm.cmdline, LINUX_CHECK_CMDLINE,
        "native and Aerie runs must match"
    );
    assert_eq!(vm.kernel, dir.join("../../target/aerie/linux.Image"));
    assert_eq!(
        vm.initrd.as_deref(),
        Some(
            dir.join("../../target/aerie/linux-initramfs.cpio")
                .as_path()
        )
    );
    assert!(!vm.disks.is_empty(), "the check needs a disk");
    assert!(one.disk_end().unwrap() <= crate::disk::DEFAULT_SIZE);

    let two = aerie_vmconfig::load(&dir.join("linux-two-vms.toml")).unwrap();
    let names: Vec<_> = two.vms.iter().map(|v| (v.name.as_str(), v.vcpus)).collect();
    assert_eq!(names, [("a", 2), ("b", 2)]);
    assert!(two.vms[0].cmdline.contains("aerie.check=1"));
    assert!(two.vms[1].cmdline.contains("aerie.alive=5"));
    assert!(two.vms[1].cmdline.contains("aerie.name=b"));
    assert!(two.disk_end().unwrap() <= crate::disk::DEFAULT_SIZE);
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
