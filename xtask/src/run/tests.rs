use super::*;
use crate::builtin_vms::TESTKIT_BACKDOOR;

fn s(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn outcome(status: Status, output: &str) -> Outcome {
    Outcome {
        status,
        output: output.into(),
        elapsed: Duration::ZERO,
    }
}

#[test]
fn defaults_and_flags() {
    assert_eq!(parse_args(&[]).unwrap(), RunArgs::default());
    assert_eq!(
        RunArgs::default().guest,
        Guest::Linux {
            cmdline: LINUX_CMDLINE.into()
        }
    );
    assert_eq!(
        parse_args(&s(&["--guest", "linux"])).unwrap(),
        RunArgs::default()
    );
    let t = parse_args(&s(&["--guest", "testkit", "--disk", "/tmp/d.img"])).unwrap();
    assert_eq!(
        t.guest,
        Guest::Testkit {
            cmdline: String::new()
        }
    );
    assert_eq!(t.disk, Some(PathBuf::from("/tmp/d.img")));
    assert_eq!(
        parse_args(&s(&["--guest", "linux-tools"])).unwrap().guest,
        Guest::LinuxTools {
            cmdline: LINUX_CMDLINE.into()
        }
    );
    let r = parse_args(&s(&[
        "--config",
        "a.toml",
        "--cpu",
        "max",
        "--smp",
        "4",
        "--timeout",
        "30",
        "--log",
        "debug",
        "--append",
        "aerie.test=identity-fault",
        "--icount",
        "--uefi",
    ]))
    .unwrap();
    assert_eq!(r.firmware, Firmware::UefiDeviceTree);
    assert_eq!(r.guest, Guest::Config("a.toml".into()));
    assert_eq!((r.cpu.as_str(), r.smp, r.timeout), ("max", 4, Some(30)));
    assert_eq!(
        (r.log.as_str(), r.append.as_str(), r.icount),
        ("debug", "aerie.test=identity-fault", true)
    );
    // --acpi is a UEFI boot too, whichever of the two comes first.
    for flags in [
        &["--acpi"][..],
        &["--uefi", "--acpi"],
        &["--acpi", "--uefi"],
    ] {
        assert_eq!(parse_args(&s(flags)).unwrap().firmware, Firmware::UefiAcpi);
    }
    // U-Boot is the other firmware, never with UEFI's.
    assert_eq!(
        parse_args(&s(&["--uboot"])).unwrap().firmware,
        Firmware::UBoot
    );
    for flags in [
        &["--uboot", "--uefi"][..],
        &["--uefi", "--uboot"],
        &["--uboot", "--acpi"],
        &["--acpi", "--uboot"],
        &["--board", "raspi4b", "--uboot"],
    ] {
        assert!(parse_args(&s(flags)).is_err(), "{flags:?}");
    }
}

#[test]
fn gic_version() {
    assert_eq!(parse_args(&[]).unwrap().gic_version, 3);
    assert_eq!(parse_args(&s(&["--gic", "2"])).unwrap().gic_version, 2);
    assert_eq!(parse_args(&s(&["--gic", "3"])).unwrap().gic_version, 3);
    for bad in [
        &["--gic", "4"][..],
        &["--gic"],
        &["--board", "imx8mp-evk", "--gic", "2"],
    ] {
        assert!(parse_args(&s(bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn bad_flags() {
    for bad in [
        &["--cpu", "a53"][..],
        &["--smp", "0"],
        &["--smp"],
        &["--timeout", "-1"],
        &["--log", "trace"],
        &["--guest", "windows"],
        &["--disk"],
        &["--frobnicate"],
    ] {
        assert!(parse_args(&s(bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn verdicts() {
    let pass = "testkit: 13 passed, 0 failed\n";
    assert_eq!(judge(&outcome(Status::Exited(0), pass), None, true).code, 0);
    assert_eq!(
        judge(&outcome(Status::Exited(0), "hello\n"), None, false).code,
        0
    );
    // Missing summary, failures, panics, exit codes and timeouts all fail.
    assert_eq!(
        judge(&outcome(Status::Exited(0), "hello\n"), None, true).code,
        1
    );
    assert_eq!(
        judge(
            &outcome(Status::Exited(0), "testkit: 12 passed, 1 failed\n"),
            None,
            true
        )
        .code,
        1
    );
    assert_eq!(
        judge(
            &outcome(Status::Exited(0), "aerie: panic at x\n"),
            None,
            false
        )
        .code,
        1
    );
    assert_eq!(judge(&outcome(Status::Exited(3), pass), None, true).code, 3);
    let t = judge(&outcome(Status::TimedOut, pass), Some(5), true);
    assert_eq!(t.code, 124);
    assert!(t.message.contains("timeout after 5 s"), "{}", t.message);
}

#[test]
fn a_board_takes_its_own_cpus_and_refuses_virt_only_flags() {
    let r = parse_args(&s(&["--board", "imx8mp-evk", "--guest", "testkit"])).unwrap();
    assert_eq!((r.board, r.smp), (Board::Imx8mpEvk, 4));
    let r = parse_args(&s(&["--board", "imx8mp-evk", "--smp", "2"])).unwrap();
    assert_eq!(r.smp, 2);
    for bad in [
        &["--board", "imx8mp-evk", "--smp", "5"][..],
        &["--board", "imx8mp-evk", "--cpu", "max"],
        &["--board", "imx8mp-evk", "--uefi"],
        &["--board", "imx8mp-evk", "--icount"],
        &["--board", "raspi3b"],
        &["--board", "raspi4b", "--smp", "2"],
        &["--board", "raspi4b", "--forward", "8022:10.0.2.15:22"],
        &["--board", "xlnx-zcu102", "--smp", "6"],
        &["--board", "xlnx-versal-virt", "--smp", "2"],
    ] {
        assert!(parse_args(&s(bad)).is_err(), "{bad:?}");
    }
    assert_eq!(parse_args(&s(&[])).unwrap().board, Board::Virt);
    // The Raspberry Pi 4's GIC-400 picks Aerie's GICv2 build.
    let r = parse_args(&s(&["--board", "raspi4b"])).unwrap();
    assert_eq!((r.board, r.smp, r.gic_version), (Board::Raspi4b, 4, 2));
    let r = parse_args(&s(&["--board", "xlnx-zcu102", "--smp", "2"])).unwrap();
    assert_eq!((r.board, r.smp, r.gic_version), (Board::Zcu102, 2, 2));
    // Its uplink is its own Ethernet, a Cadence GEM.
    let r = parse_args(&s(&[
        "--board",
        "xlnx-zcu102",
        "--forward",
        "8022:10.0.2.15:22",
    ]))
    .unwrap();
    assert_eq!(r.forwards, ["8022:10.0.2.15:22"]);
    let r = parse_args(&s(&["--board", "imx8mp-evk"])).unwrap();
    assert_eq!(r.gic_version, 3);
}

#[test]
fn bootmodule_round_trips_through_the_parser() {
    let dir = std::env::temp_dir().join(format!("xtask-bm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kernel = dir.join("k");
    std::fs::write(&kernel, b"kernel bytes").unwrap();
    let mut cfg = testkit_config("bench");
    cfg.vms[0].kernel = kernel.clone();
    let mut linux = linux_config(LINUX_CMDLINE).vms.remove(0);
    linux.kernel = kernel.clone();
    linux.initrd = Some(kernel);
    cfg.vms.push(linux);
    let out = dir.join("x.bootmodule");
    cfg.worlds.push(aerie_vmconfig::WorldConfig {
        name: "watcher".into(),
        program: dir.join("k"),
        arg: "once".into(),
        control: aerie_vmconfig::WorldControl::All,
        operations: aerie_bootmodule::Operations(aerie_bootmodule::Operations::HALT),
    });
    let programs = [b"kernel bytes".to_vec()];
    write_bootmodule_with(&cfg, &programs, b"packed symbols", &out).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    let m = aerie_bootmodule::BootModule::parse(&bytes).unwrap();
    assert_eq!(m.symbols(), Some(&b"packed symbols"[..]));
    let vm = m.vm(0).unwrap();
    assert_eq!(
        (vm.name, vm.vcpus, vm.memory, vm.kernel, vm.cmdline, vm.disk),
        (
            "testkit",
            2,
            64 << 20,
            &b"kernel bytes"[..],
            "backdoor=all brk=0x5658 bench",
            None
        )
    );
    assert_eq!(vm.backdoor, Some(TESTKIT_BACKDOOR));
    let entries: Vec<_> = vm.guestinfo_entries().map(Result::unwrap).collect();
    assert_eq!(entries, [("guestinfo.greeting", "from-config")]);
    let vm = m.vm(1).unwrap();
    assert_eq!(
        (vm.name, vm.vcpus, vm.memory, vm.cmdline),
        ("linux", 2, 256 << 20, LINUX_CMDLINE)
    );
    assert_eq!((vm.backdoor, vm.guestinfo), (None, &[][..]));
    assert_eq!(
        vm.disk,
        Some(aerie_bootmodule::DiskRegion {
            offset: 0,
            size: 256 << 20
        })
    );
    assert_eq!(m.world_count(), 1);
    let world = m.world(0).unwrap();
    assert_eq!(
        (world.name, world.program, world.arg, world.control),
        (
            "watcher",
            &b"kernel bytes"[..],
            "once",
            aerie_bootmodule::Control::All
        )
    );
    // The config's operations reach the module.
    assert_eq!(
        world.operations,
        aerie_bootmodule::Operations(aerie_bootmodule::Operations::HALT)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
