//! The VMs `cargo xtask run --guest testkit|linux|linux-tools` stands for,
//! as the same `Config` a config file would give.

use aerie_vmconfig::{BackdoorPolicy, Config, DiskRegion, VmConfig};

use crate::paths;

/// The testkit's backdoor policy under `--guest testkit` (and in
/// tests/configs/testkit.toml): everything on, BRK transport `brk #0x5658`.
pub const TESTKIT_BACKDOOR: BackdoorPolicy = BackdoorPolicy {
    el0: true,
    brk_imm: Some(0x5658),
    high_bandwidth: true,
};

/// The guestinfo key (and value) the testkit VM starts with when it has a
/// backdoor (`[vm.guestinfo] greeting = "from-config"` in the config files).
pub const TESTKIT_GUESTINFO: (&str, &str) = ("guestinfo.greeting", "from-config");

/// The testkit command-line words that tell it which backdoor policy to expect:
/// `backdoor=off`, or `backdoor=all` (EL0 too) / `backdoor=el1`, then
/// `brk=0x<imm>` when the BRK transport is on.
pub fn testkit_backdoor_words(policy: Option<BackdoorPolicy>) -> String {
    let Some(p) = policy else {
        return "backdoor=off".into();
    };
    let mut words = String::from(if p.el0 {
        "backdoor=all"
    } else {
        "backdoor=el1"
    });
    if let Some(imm) = p.brk_imm {
        words.push_str(&format!(" brk={imm:#x}"));
    }
    words
}

/// The one-VM config `--guest testkit` stands for; `cmdline` (e.g. `bench`)
/// follows the backdoor words of [`TESTKIT_BACKDOOR`].
pub fn testkit_config(cmdline: &str) -> Config {
    testkit_config_with(cmdline, Some(TESTKIT_BACKDOOR))
}

/// The testkit VM with backdoor `policy` (`None` = none): its command line is
/// [`testkit_backdoor_words`] then `cmdline`, and it gets the guestinfo key
/// [`TESTKIT_GUESTINFO`] when it has a backdoor.
pub fn testkit_config_with(cmdline: &str, policy: Option<BackdoorPolicy>) -> Config {
    let mut full = testkit_backdoor_words(policy);
    if !cmdline.is_empty() {
        full.push(' ');
        full.push_str(cmdline);
    }
    Config {
        source: None,
        worlds: Vec::new(),
        vms: vec![VmConfig {
            name: "testkit".into(),
            vcpus: 2,
            memory: 64 << 20,
            kernel: paths::testkit_image(),
            initrd: None,
            cmdline: full,
            cpufreq: true,
            disks: Vec::new(),
            backdoor: policy,
            guestinfo: match policy {
                Some(_) => vec![guestinfo(TESTKIT_GUESTINFO)],
                None => Vec::new(),
            },
            net: None,
        }],
    }
}

/// The one-VM config `--guest linux` stands for: a disk (the whole host
/// disk) and a network card on the uplink.
pub fn linux_config(cmdline: &str) -> Config {
    Config {
        source: None,
        worlds: Vec::new(),
        vms: vec![VmConfig {
            name: "linux".into(),
            vcpus: 2,
            memory: 256 << 20,
            kernel: crate::linux::kernel_image(),
            initrd: Some(crate::linux::initramfs()),
            cmdline: cmdline.into(),
            cpufreq: true,
            disks: vec![DiskRegion {
                offset: 0,
                size: crate::disk::DEFAULT_SIZE,
            }],
            backdoor: None,
            guestinfo: Vec::new(),
            net: Some(aerie_vmconfig::NetConfig {
                mac: aerie_vmconfig::default_mac(0),
                network: aerie_vmconfig::DEFAULT_NETWORK.into(),
                uplink: true,
            }),
        }],
    }
}

/// The Linux tools VM's backdoor policy (`--guest linux-tools`): open to
/// user space (open-vm-tools uses DCC), and a BRK transport too, so Linux
/// runs with its debug exceptions routed through Aerie (MDCR_EL2.TDE).
pub const LINUX_TOOLS_BACKDOOR: BackdoorPolicy = BackdoorPolicy {
    el0: true,
    brk_imm: Some(0x5658),
    high_bandwidth: true,
};

/// The guestinfo key the Linux tools VM starts with.
pub const LINUX_TOOLS_GUESTINFO: (&str, &str) = ("guestinfo.configured", "from-config");

/// The one-VM config `--guest linux-tools` stands for: [`linux_config`] with
/// the tools initramfs, [`LINUX_TOOLS_BACKDOOR`] and [`LINUX_TOOLS_GUESTINFO`].
pub fn linux_tools_config(cmdline: &str) -> Config {
    let mut config = linux_config(cmdline);
    let vm = &mut config.vms[0];
    vm.initrd = Some(crate::linux::tools_initramfs());
    vm.backdoor = Some(LINUX_TOOLS_BACKDOOR);
    vm.guestinfo = vec![guestinfo(LINUX_TOOLS_GUESTINFO)];
    config
}

fn guestinfo((key, value): (&str, &str)) -> (String, String) {
    (key.into(), value.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::LINUX_CMDLINE;

    #[test]
    fn testkit_command_lines_name_the_backdoor_policy() {
        assert_eq!(testkit_config("").vms[0].cmdline, "backdoor=all brk=0x5658");
        assert_eq!(
            testkit_config("bench bench_iters=5").vms[0].cmdline,
            "backdoor=all brk=0x5658 bench bench_iters=5"
        );
        let el1 = BackdoorPolicy {
            el0: false,
            brk_imm: None,
            high_bandwidth: true,
        };
        assert_eq!(testkit_backdoor_words(None), "backdoor=off");
        assert_eq!(testkit_backdoor_words(Some(el1)), "backdoor=el1");
        let vm = &testkit_config_with("", None).vms[0];
        assert_eq!((vm.backdoor, vm.guestinfo.len()), (None, 0));
        let tools = &linux_tools_config(LINUX_CMDLINE).vms[0];
        assert_eq!(tools.backdoor, Some(LINUX_TOOLS_BACKDOOR));
        assert_eq!(tools.backdoor.unwrap().brk_imm, Some(0x5658));
        assert_eq!(
            tools.guestinfo,
            [(
                "guestinfo.configured".to_string(),
                "from-config".to_string()
            )]
        );
        assert_eq!(tools.initrd, Some(crate::linux::tools_initramfs()));
    }

    /// tests/configs/testkit*.toml describe exactly the VM `testkit_config_with`
    /// builds for their policy, so a test may boot either.
    #[test]
    fn testkit_config_files_match_the_generated_configs() {
        let dir = paths::root().join("tests/configs");
        let el1 = BackdoorPolicy {
            el0: false,
            brk_imm: None,
            high_bandwidth: true,
        };
        for (file, policy) in [
            ("testkit.toml", Some(TESTKIT_BACKDOOR)),
            ("testkit-backdoor-off.toml", None),
            ("testkit-backdoor-el1.toml", Some(el1)),
        ] {
            let path = dir.join(file);
            let mut loaded = aerie_vmconfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                loaded.vms[0].kernel,
                dir.join("../../target/aerie/testkit.Image"),
                "{file}"
            );
            loaded.source = None;
            loaded.vms[0].kernel = paths::testkit_image();
            assert_eq!(loaded, testkit_config_with("", policy), "{file}");
        }
    }

    /// testkit-two-policies.toml holds testkit.toml's VM and
    /// testkit-backdoor-off.toml's, renamed.
    #[test]
    fn two_policies_config_holds_the_two_testkit_vms() {
        let path = paths::root().join("tests/configs/testkit-two-policies.toml");
        let loaded = aerie_vmconfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.vms.len(), 2);
        for (vm, name, policy) in [
            (&loaded.vms[0], "open", Some(TESTKIT_BACKDOOR)),
            (&loaded.vms[1], "closed", None),
        ] {
            let mut want = testkit_config_with("", policy).vms.remove(0);
            want.name = name.into();
            want.kernel = vm.kernel.clone();
            assert_eq!(*vm, want, "{name}");
        }
    }
}
