//! The Linux guest's initramfs: busybox, the scripts in `tests/linux/`, the
//! counter helper and the kernel modules the VM's devices need, as one newc
//! archive.

use crate::cpio::Archive;

/// PID 1 (`tests/linux/init.sh`).
const INIT: &str = include_str!("../../tests/linux/init.sh");
/// The checks `aerie.check=1` runs (`tests/linux/check.sh`).
const CHECK: &str = include_str!("../../tests/linux/check.sh");
/// `aerie.disk=write|verify`: disk persistence across an Aerie restart
/// (`tests/linux/disk-restart.sh`).
const DISK_RESTART: &str = include_str!("../../tests/linux/disk-restart.sh");
/// `aerie.panic=once`: a kernel panic the VM's disk remembers
/// (`tests/linux/panic-once.sh`).
const PANIC_ONCE: &str = include_str!("../../tests/linux/panic-once.sh");
/// udhcpc's event script for `aerie.ip=dhcp` (`tests/linux/udhcpc.script`).
const UDHCPC_SCRIPT: &str = include_str!("../../tests/linux/udhcpc.script");
/// The network checks `aerie.net=MODE` runs (`tests/linux/net.sh`).
const NET: &str = include_str!("../../tests/linux/net.sh");
/// The guest-tools checks `aerie.tools=1` runs (`tests/linux/tools.sh`).
const TOOLS: &str = include_str!("../../tests/linux/tools.sh");
/// vmtoolsd's configuration (tools initramfs only).
const TOOLS_CONF: &str = include_str!("../../tests/linux/tools.conf");
/// `/sbin/shutdown` on top of busybox (what vmtoolsd runs for a host's
/// shutdown or restart request).
const SHUTDOWN: &str = include_str!("../../tests/linux/shutdown");
/// busybox init's table for the interactive console.
const INITTAB: &str = include_str!("../../tests/linux/inittab");
/// Login shell settings.
const PROFILE: &str = include_str!("../../tests/linux/profile");

/// Everything that goes in besides the fixed files.
pub struct Inputs {
    /// `bin/busybox` of busybox-static (arm64).
    pub busybox: Vec<u8>,
    /// The counter helper built from `tests/linux/counter.c`.
    pub counter: Vec<u8>,
    /// The user-space debugger check built from `tests/linux/ptrace.c`.
    pub ptrace: Vec<u8>,
    /// The GuestRPC-into-unpopulated-pages check built from
    /// `tests/linux/hbpages.c` (run by tests/linux/tools.sh).
    pub hbpages: Vec<u8>,
    /// The power key listener built from `tests/linux/powerkey.c`.
    pub powerkey: Vec<u8>,
    /// The kernel release (`6.1.0-56-arm64`): modules live in /lib/modules/<it>.
    pub kernel_release: String,
    /// Modules in load order: (path below /lib/modules/<release>/, contents).
    pub modules: Vec<(String, Vec<u8>)>,
}

/// Lays the initramfs out.
pub fn archive(inputs: Inputs) -> Archive {
    let mut a = Archive::new();
    for dir in [
        "/proc",
        "/sys",
        "/dev",
        "/tmp",
        "/sbin",
        "/usr/bin",
        "/usr/sbin",
    ] {
        a.dir(dir, 0o755);
    }
    a.dir("/root", 0o700);
    // The kernel opens /dev/console for init's stdio before /init can mount
    // devtmpfs: without this node init would run with no output.
    a.char_device("/dev/console", 0o600, 5, 1);
    a.file("/bin/busybox", 0o755, inputs.busybox);
    // `#!/bin/sh` scripts and `sh` before `busybox --install` runs.
    a.symlink("/bin/sh", "busybox");
    a.file("/bin/aerie-counter", 0o755, inputs.counter);
    // The same program, run by these names, checks that a plain DCC read and
    // a BRK from user space still fault as on hardware (tests/linux/tools.sh).
    a.symlink("/bin/aerie-dcc", "aerie-counter");
    a.symlink("/bin/aerie-brk", "aerie-counter");
    a.file("/bin/aerie-ptrace", 0o755, inputs.ptrace);
    a.file("/bin/aerie-hbpages", 0o755, inputs.hbpages);
    a.file("/bin/aerie-powerkey", 0o755, inputs.powerkey);
    a.file("/init", 0o755, INIT.as_bytes().to_vec());
    a.file("/etc/aerie/check.sh", 0o644, CHECK.as_bytes().to_vec());
    a.file("/etc/aerie/net.sh", 0o644, NET.as_bytes().to_vec());
    a.file(
        "/etc/aerie/udhcpc.script",
        0o755,
        UDHCPC_SCRIPT.as_bytes().to_vec(),
    );
    a.file(
        "/etc/aerie/disk-restart.sh",
        0o644,
        DISK_RESTART.as_bytes().to_vec(),
    );
    a.file(
        "/etc/aerie/panic-once.sh",
        0o644,
        PANIC_ONCE.as_bytes().to_vec(),
    );
    a.file("/etc/aerie/tools.sh", 0o644, TOOLS.as_bytes().to_vec());
    a.file("/sbin/shutdown", 0o755, SHUTDOWN.as_bytes().to_vec());
    a.file("/etc/inittab", 0o644, INITTAB.as_bytes().to_vec());
    a.file("/etc/profile", 0o644, PROFILE.as_bytes().to_vec());
    // The one user (glib-based programs such as vmtoolsd look it up).
    a.file(
        "/etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\n".to_vec(),
    );
    a.file("/etc/group", 0o644, b"root:x:0:\n".to_vec());
    let base = format!("/lib/modules/{}", inputs.kernel_release);
    let mut list = String::new();
    for (rel, bytes) in inputs.modules {
        let path = format!("{base}/{rel}");
        list.push_str(&path);
        list.push('\n');
        a.file(&path, 0o644, bytes);
    }
    a.file("/etc/aerie/modules", 0o644, list.into_bytes());
    a
}

/// Adds the guest tools (programs, libraries, the loader symlink) to `a`.
pub fn add_tools(a: &mut Archive, payload: &crate::guest_tools::Payload) {
    for dir in ["/lib", crate::guest_tools::LIB_DIR] {
        a.dir(dir, 0o755);
    }
    for (path, perm, bytes) in &payload.files {
        a.file(path, *perm, bytes.clone());
    }
    a.file(
        "/etc/vmware-tools/tools.conf",
        0o644,
        TOOLS_CONF.as_bytes().to_vec(),
    );
    for (path, target) in &payload.symlinks {
        a.symlink(path, target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpio::Node;

    fn sample() -> Archive {
        archive(Inputs {
            busybox: b"\x7fELF busybox".to_vec(),
            counter: b"\x7fELF counter".to_vec(),
            ptrace: b"\x7fELF ptrace".to_vec(),
            hbpages: b"\x7fELF hbpages".to_vec(),
            powerkey: b"\x7fELF powerkey".to_vec(),
            kernel_release: "6.1.0-56-arm64".into(),
            modules: vec![
                ("kernel/drivers/virtio/virtio_mmio.ko".into(), vec![1]),
                ("kernel/drivers/block/virtio_blk.ko".into(), vec![2]),
            ],
        })
    }

    #[test]
    fn init_is_an_executable_busybox_script_that_speaks_first() {
        let a = sample();
        let init = a.get("/init").unwrap();
        assert_eq!(init.perm, 0o755);
        let Node::File(text) = &init.node else {
            panic!("/init is not a file")
        };
        let text = String::from_utf8_lossy(text);
        assert!(text.starts_with("#!/bin/busybox sh\n"));
        // The first command prints the benchmark's first line.
        let first = text
            .lines()
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap();
        assert!(first.starts_with("/bin/aerie-counter"), "{first}");
        assert!(first.contains("initramfs: started"), "{first}");
        assert_eq!(a.get("/bin/aerie-counter").unwrap().perm, 0o755);
    }

    #[test]
    fn tools_go_to_usr_bin_and_the_multiarch_dir_with_the_loader_link() {
        let mut a = sample();
        let payload = crate::guest_tools::Payload {
            files: vec![
                ("/usr/bin/vmware-rpctool".into(), 0o755, vec![7]),
                (
                    "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1".into(),
                    0o755,
                    vec![8],
                ),
            ],
            symlinks: vec![(
                "/lib/ld-linux-aarch64.so.1".into(),
                "aarch64-linux-gnu/ld-linux-aarch64.so.1".into(),
            )],
            report: vec![],
        };
        add_tools(&mut a, &payload);
        assert_eq!(
            a.get("/usr/bin/vmware-rpctool").unwrap().node,
            Node::File(vec![7])
        );
        assert_eq!(
            a.get("/lib/ld-linux-aarch64.so.1").unwrap().node,
            Node::Symlink("aarch64-linux-gnu/ld-linux-aarch64.so.1".into())
        );
        assert!(a.get("/lib/aarch64-linux-gnu").is_some());
        // The plain archive is untouched by the tools build.
        assert!(sample().get("/usr/bin/vmware-rpctool").is_none());
    }

    #[test]
    fn console_node_busybox_and_modules_in_order() {
        let a = sample();
        assert_eq!(
            a.get("/dev/console").unwrap().node,
            Node::CharDevice { major: 5, minor: 1 }
        );
        assert_eq!(
            a.get("/bin/sh").unwrap().node,
            Node::Symlink("busybox".into())
        );
        assert_eq!(
            a.get("/etc/aerie/modules").unwrap().node,
            Node::File(
                b"/lib/modules/6.1.0-56-arm64/kernel/drivers/virtio/virtio_mmio.ko\n\
                  /lib/modules/6.1.0-56-arm64/kernel/drivers/block/virtio_blk.ko\n"
                    .to_vec()
            )
        );
        assert_eq!(
            a.get("/lib/modules/6.1.0-56-arm64/kernel/drivers/block/virtio_blk.ko")
                .unwrap()
                .node,
            Node::File(vec![2])
        );
    }

    #[test]
    fn check_script_prints_what_the_tests_match() {
        for needle in [
            "check: nproc=",
            "check: sleep ok",
            "check: taskset ok",
            "check: disk ok",
            "check: RESULT PASS",
            "check: RESULT FAIL",
            "reboot -f",
        ] {
            assert!(CHECK.contains(needle), "{needle}");
        }
        for needle in [
            "aerie.bench=boot",
            "aerie.check",
            "aerie.alive",
            "-alive $n",
            "aerie.disk",
            "/etc/aerie/disk-restart.sh",
            "aerie.panic",
            "/etc/aerie/panic-once.sh",
        ] {
            assert!(INIT.contains(needle), "{needle}");
        }
    }

    #[test]
    fn disk_and_panic_scripts_are_in_the_archive_and_print_what_the_tests_match() {
        let a = sample();
        for (path, text) in [
            ("/etc/aerie/disk-restart.sh", DISK_RESTART),
            ("/etc/aerie/panic-once.sh", PANIC_ONCE),
        ] {
            assert_eq!(
                a.get(path).unwrap().node,
                Node::File(text.as_bytes().to_vec()),
                "{path}"
            );
        }
        for needle in [
            "check: disk written token=",
            "check: disk persisted token=",
            "check: disk not persisted",
            "AERIE-DISK token=%s md5=%s",
        ] {
            assert!(DISK_RESTART.contains(needle), "{needle}");
        }
        for needle in [
            "AERIE-PANICKED",
            "echo c > /proc/sysrq-trigger",
            "panic-test: already panicked once",
            "conv=sync,fsync",
        ] {
            assert!(PANIC_ONCE.contains(needle), "{needle}");
        }
    }
}
