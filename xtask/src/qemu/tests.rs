use super::*;

#[test]
fn a_qmp_socket_closed_by_qemu_counts_as_gone() {
    let reset = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    assert!(gone(&reset));
    assert!(gone(&anyhow::anyhow!("QMP: the socket closed")));
    let refused = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
    assert!(!gone(&refused));
    assert!(!gone(&anyhow::anyhow!("QMP system_powerdown: error")));
}

#[test]
fn uplink_card_and_forward_rules() {
    assert_eq!(
        hostfwd("8080:10.0.2.15:80").as_deref(),
        Ok("tcp:127.0.0.1:8080-10.0.2.15:80")
    );
    for bad in [
        "8080:10.0.2.15",
        "0:10.0.2.15:80",
        "8080:web:80",
        "8080:10.0.2.15:70000",
    ] {
        assert!(hostfwd(bad).unwrap_err().contains(bad), "{bad}");
    }
    let mut opts = QemuOptions::aerie("cortex-a72", "bm".into(), Firmware::Kernel);
    assert!(!args(&command(&opts, false))
        .iter()
        .any(|a| a.contains("netdev")));
    opts.uplink = Some(Uplink {
        forwards: vec!["2222:10.0.2.15:22".into()],
        ..Uplink::default()
    });
    let a = args(&command(&opts, false));
    assert!(
        a.windows(2).any(|w| w
            == [
                "-netdev",
                "user,id=uplink,hostfwd=tcp:127.0.0.1:2222-10.0.2.15:22"
            ]),
        "{a:?}"
    );
    assert!(a
        .windows(2)
        .any(|w| w == ["-device", "virtio-net-device,netdev=uplink"]));
}

#[test]
fn uefi_boot_uses_firmware_and_the_partition_not_kernel() {
    let mut opts = QemuOptions::aerie("cortex-a72", "/tmp/x.bootmodule".into(), Firmware::Kernel);
    opts.boot = Boot::Aerie {
        bootmodule: "/tmp/x.bootmodule".into(),
        log: "debug".into(),
        append: "aerie.test=identity-fault".into(),
        firmware: Firmware::UefiDeviceTree,
    };
    let a = args(&command(&opts, false)).join(" ");
    assert!(
        a.starts_with("-M virt,virtualization=on,gic-version=3,acpi=off "),
        "{a}"
    );
    assert!(
        a.contains("if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd"),
        "{a}"
    );
    assert!(
        a.contains("readonly=on,file=") && a.contains("esp.img"),
        "{a}"
    );
    assert!(a.contains("-device virtio-blk-pci,drive=esp"), "{a}");
    // With ACPI, QEMU's default machine: its firmware gives the tables.
    if let Boot::Aerie { firmware, .. } = &mut opts.boot {
        *firmware = Firmware::UefiAcpi;
    }
    let acpi = args(&command(&opts, false)).join(" ");
    assert!(
        acpi.starts_with("-M virt,virtualization=on,gic-version=3 "),
        "{acpi}"
    );
    assert!(acpi.contains("AAVMF_CODE.fd"), "{acpi}");
    for absent in ["-kernel", "-initrd", "-append"] {
        assert!(!a.contains(absent), "{a}");
    }
    assert_eq!(
        aerie_cmdline(&opts.boot),
        "aerie.log=debug aerie.test=identity-fault"
    );
}

fn args(c: &Command) -> Vec<String> {
    c.get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn command_line_has_the_documented_shape() {
    let mut opts = QemuOptions::aerie("cortex-a72", "/tmp/x.bootmodule".into(), Firmware::Kernel);
    opts.boot = Boot::Aerie {
        bootmodule: "/tmp/x.bootmodule".into(),
        log: "info".into(),
        append: "aerie.test=identity-fault".into(),
        firmware: Firmware::Kernel,
    };
    opts.icount = Some(icount::EXACT);
    let a = args(&command(&opts, false)).join(" ");
    assert!(
        a.starts_with("-M virt,virtualization=on,gic-version=3 -cpu cortex-a72 -smp 2 -m 1G"),
        "{a}"
    );
    assert!(
        a.contains("-display none -serial stdio -monitor none -no-reboot"),
        "{a}"
    );
    assert!(a.contains("-initrd /tmp/x.bootmodule"), "{a}");
    assert!(a.contains("-append aerie.log=info aerie.test=identity-fault -semihosting-config enable=on,target=native"), "{a}");
    assert!(a.ends_with("-icount shift=0 -seed 1"), "{a}");
    assert!(!a.contains("-drive"), "{a}");

    let plain = QemuOptions::aerie("cortex-a72", "/tmp/x.bootmodule".into(), Firmware::Kernel);
    let a = args(&command(&plain, true));
    assert!(a.contains(&"-nographic".to_string()));
    // Ctrl-] (ASCII GS, 0x1d) is QEMU's escape, so Ctrl-A reaches Aerie.
    let e = a.iter().position(|x| x == "-echr").unwrap();
    assert_eq!(
        u8::from_str_radix(a[e + 1].trim_start_matches("0x"), 16),
        Ok(0x1d)
    );
    assert!(!args(&command(&plain, false)).contains(&"-echr".to_string()));
    assert!(!a.contains(&"-icount".to_string()));
    let i = a.iter().position(|x| x == "-append").unwrap();
    assert_eq!(a[i + 1], "aerie.log=info");
}

#[test]
fn host_disk_is_a_virtio_mmio_block_device() {
    let mut opts = QemuOptions::aerie("max", "/tmp/x.bootmodule".into(), Firmware::Kernel);
    opts.disk = Some("/tmp/disk.img".into());
    let a = args(&command(&opts, false)).join(" ");
    assert!(
        a.contains(
            "-drive if=none,file=/tmp/disk.img,format=raw,id=hostdisk \
             -device virtio-blk-device,drive=hostdisk"
        ),
        "{a}"
    );
}

#[test]
fn a_qmp_script_opens_a_socket_and_keeps_the_console() {
    let mut opts = QemuOptions::aerie("cortex-a72", "bm".into(), Firmware::Kernel);
    opts.qmp = Some(QmpScript {
        socket: "/tmp/t.qmp".into(),
        steps: vec![(vec!["ready".into()], "system_powerdown".into())],
    });
    let a = args(&command(&opts, false)).join(" ");
    assert!(a.contains("-qmp unix:/tmp/t.qmp,server=on,wait=off"), "{a}");
    assert!(a.contains("-serial stdio -monitor none"), "{a}");
}

#[test]
fn a_board_boots_with_its_own_tree_and_console() {
    let opts = QemuOptions {
        board: Board::Imx8mpEvk,
        smp: 4,
        ..QemuOptions::aerie("cortex-a72", "/b".into(), Firmware::Kernel)
    };
    let a = args(&command(&opts, false)).join(" ");
    assert!(
        a.starts_with("-M imx8mp-evk -smp 4 -m 2G -audio none"),
        "{a}"
    );
    assert!(!a.contains("-cpu"), "{a}");
    assert!(a.contains("imx8mp-evk.dtb -display none"), "{a}");
    assert!(a.contains("-serial null -serial stdio"), "{a}");
    assert!(a.contains("-append aerie.log=info aerie.virq=hcr"), "{a}");
    let live = args(&command(&opts, true)).join(" ");
    assert!(
        live.contains("-nographic -echr 0x1d -serial null -serial mon:stdio"),
        "{live}"
    );
    assert!(!a.contains("-nic") && !a.contains("virtio-net"), "{a}");
    // Its uplink is its own Ethernet, on QEMU's user network.
    let uplinked = QemuOptions {
        uplink: Some(Uplink {
            forwards: vec!["8080:10.0.2.15:80".into()],
            ..Uplink::default()
        }),
        disk: Some("/d.img".into()),
        ..opts.clone()
    };
    let a = args(&command(&uplinked, false)).join(" ");
    assert!(
        a.contains("-nic user,hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80"),
        "{a}"
    );
    // Its ENET1 takes QEMU's first NIC: no others before it.
    assert!(!a.contains("restrict=on"), "{a}");
    // The host disk is an SD card in the EVK's slot (usdhc2).
    assert!(
        a.contains("-drive if=sd,bus=1,file=/d.img,format=raw,id=sdcard"),
        "{a}"
    );
    assert!(!a.contains("virtio") && !a.contains("hostdisk"), "{a}");
    // The ZCU102 needs EL2 asked for; its card slot is unit 1 on
    // QEMU's SD bus 0.
    let zcu102 = QemuOptions {
        board: Board::Zcu102,
        gic_version: 2,
        disk: Some("/d.img".into()),
        ..opts.clone()
    };
    let a = args(&command(&zcu102, false)).join(" ");
    assert!(
        a.starts_with("-M xlnx-zcu102,virtualization=on -smp 4 -m 2G -audio none"),
        "{a}"
    );
    assert!(a.contains("-drive if=sd,index=1,file=/d.img"), "{a}");
    assert!(a.contains("aerie-gicv2.Image"), "{a}");
    // Its uplink is GEM3, the fourth controller QEMU hands a NIC to:
    // GEM0 to GEM2 (off in its tree) take a cut-off network each first.
    let a = args(&command(
        &QemuOptions {
            uplink: uplinked.uplink.clone(),
            ..zcu102.clone()
        },
        false,
    ))
    .join(" ");
    assert!(
        a.contains(
            "-nic user,restrict=on -nic user,restrict=on -nic user,restrict=on \
             -nic user,hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80"
        ),
        "{a}"
    );
    assert_eq!(a.matches("-nic").count(), 4, "{a}");
    let versal = QemuOptions {
        board: Board::VersalVirt,
        smp: 2,
        disk: Some("/d.img".into()),
        ..opts
    };
    let a = args(&command(&versal, false)).join(" ");
    assert!(a.starts_with("-M xlnx-versal-virt -m 2G"), "{a}");
    assert!(a.contains("-monitor none -serial stdio"), "{a}");
    assert!(
        a.contains("-device virtio-blk-device,drive=hostdisk"),
        "{a}"
    );
    assert!(!a.contains("-dtb") && !a.contains("aerie.virq=hcr"), "{a}");
}

#[test]
fn native_boot_is_the_vm_without_the_hypervisor() {
    let opts = QemuOptions {
        board: Board::Virt,
        cpu: "cortex-a72".into(),
        smp: 2,
        gic_version: 3,
        boot: Boot::Native {
            kernel: "/k".into(),
            initrd: "/i.cpio".into(),
            cmdline: "console=ttyAMA0 aerie.bench=boot".into(),
            memory_mib: 256,
        },
        icount: Some(icount::EXACT_NO_SLEEP),
        disk: None,
        uplink: None,
        qmp: None,
    };
    let a = args(&command(&opts, false)).join(" ");
    assert!(
        a.starts_with("-M virt,gic-version=3 -cpu cortex-a72 -smp 2 -m 256M"),
        "{a}"
    );
    assert!(
        a.contains("-kernel /k -initrd /i.cpio -append console=ttyAMA0 aerie.bench=boot"),
        "{a}"
    );
    assert!(!a.contains("virtualization"), "{a}");
    assert!(!a.contains("-no-reboot"), "{a}");
    assert!(a.ends_with("-icount shift=0,sleep=off -seed 1"), "{a}");
}
