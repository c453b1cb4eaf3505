//! End-to-end tests of build / validate / inspect / deploy on small fake
//! kernels and dummy EFI programs.

use std::path::{Path, PathBuf};

use crate::manifest::Manifest;
use crate::{build, validate, Problem};

struct Fixture {
    _t: tempfile::TempDir,
    dir: PathBuf,
    ova: PathBuf,
}

fn write(p: &Path, data: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// Builds `hello.ova` with both architectures (aarch64 with an extra disk).
fn fixture() -> Fixture {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("work");
    write(&dir.join("efi/BOOTAA64.EFI"), b"MZ fake aa64 boot manager");
    write(&dir.join("efi/BOOTX64.EFI"), b"MZ fake x64 boot manager");
    write(&dir.join("in/Image"), &vec![0xaa; 300_000]);
    write(&dir.join("in/initrd-a"), &vec![0x11; 50_000]);
    write(&dir.join("in/bzImage"), &vec![0xbb; 200_000]);
    write(&dir.join("in/data.img"), &vec![0x42; 1 << 20]);
    write(
        &dir.join("in/hello.toml"),
        br#"
[appliance]
name = "hello"
version = "1.0"
description = "test appliance"
[aarch64]
kernel = "Image"
initrd = "initrd-a"
cmdline = "console=ttyAMA0 rdinit=/init x=y"
network = true
cpus = 2
memory = "256M"
[[aarch64.disk]]
path = "data.img"
[x86_64]
kernel = "bzImage"
cmdline = "console=ttyS0"
cpus = 1
memory = "128M"
"#,
    );
    let ova = dir.join("hello.ova");
    build(&dir.join("in/hello.toml"), &ova, &dir.join("efi"), false).unwrap();
    Fixture { _t: t, dir, ova }
}

/// A tar member as written by the tamper tests, bypassing the tar crate's path checks.
struct Raw {
    name: String,
    kind: tar::EntryType,
    data: Vec<u8>,
    link: Option<String>,
}

fn read_members(ova: &Path) -> Vec<Raw> {
    let mut a = tar::Archive::new(std::fs::File::open(ova).unwrap());
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            Raw {
                name: String::from_utf8(e.path_bytes().to_vec()).unwrap(),
                kind: tar::EntryType::Regular,
                data,
                link: None,
            }
        })
        .collect()
}

fn write_members(ova: &Path, members: &[Raw]) {
    let mut out = Vec::new();
    for m in members {
        let mut h = tar::Header::new_ustar();
        let name = m.name.as_bytes();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        if let Some(l) = &m.link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(m.kind);
        h.set_mode(0o644);
        h.set_size(m.data.len() as u64);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&m.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    std::fs::write(ova, out).unwrap();
}

fn fix_manifest(members: &mut [Raw]) {
    let mut mf = Manifest::default();
    for m in members.iter().filter(|m| !m.name.ends_with(".mf")) {
        mf.push(&m.name, &crate::digest::sha256_hex(&m.data));
    }
    members
        .iter_mut()
        .find(|m| m.name.ends_with(".mf"))
        .unwrap()
        .data = mf.render().into_bytes();
}

/// Lists every path under `dir`.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(tree(&p));
        }
        out.push(p);
    }
    out.sort();
    out
}

/// Validates a tampered copy and checks that validate wrote nothing next to it.
fn problems_of(f: &Fixture, members: &[Raw]) -> Vec<Problem> {
    let bad = f.dir.join("bad.ova");
    write_members(&bad, members);
    let before = tree(f._t.path());
    let p = validate(&bad, false).unwrap();
    assert_eq!(
        tree(f._t.path()),
        before,
        "validate wrote outside its temp dir"
    );
    for m in members {
        if let Some(base) = Path::new(&m.name).file_name() {
            let evil = std::env::temp_dir().join(base);
            assert!(!evil.exists() || m.name == "hello-system.vmdk" || !m.name.contains(".."));
        }
    }
    p
}

fn assert_one(problems: &[Problem], want: &str) {
    assert!(
        problems.iter().any(|p| p.to_string().contains(want)),
        "expected a problem containing `{want}`, got: {problems:#?}"
    );
    for p in problems {
        assert!(
            p.to_string().starts_with("error: ") && !p.to_string().contains('\n'),
            "{p}"
        );
    }
}

#[test]
fn built_package_validates_and_inspects() {
    let f = fixture();
    let p = validate(&f.ova, false).unwrap();
    assert!(p.is_empty(), "{p:#?}");
    let names: Vec<String> = read_members(&f.ova).into_iter().map(|m| m.name).collect();
    assert_eq!(
        names,
        [
            "hello.ovf",
            "hello.mf",
            "hello-system.vmdk",
            "hello-aarch64-disk1.vmdk"
        ]
    );
    let text = crate::inspect(&f.ova, false).unwrap();
    for want in [
        "appliance hello version 1.0",
        "aarch64 (default): 2 vCPU(s), 256 MiB",
        "x86_64: 1 vCPU(s), 128 MiB",
        "cmdline: console=ttyAMA0 rdinit=/init x=y",
        "aarch64-disk1: capacity 1.0 MiB",
        "/EFI/BOOT/BOOTAA64.EFI",
        "/EFI/BOOT/BOOTX64.EFI",
        "/aerie/aarch64/vmlinuz",
        "300000 bytes",
        "/aerie/aarch64/initrd.img",
        "/aerie/x86_64/boot.cfg",
        "/aerie/appliance.toml",
        "validation: ok",
    ] {
        assert!(text.contains(want), "inspect lacks `{want}`:\n{text}");
    }
}

#[test]
fn system_partition_contract() {
    let f = fixture();
    let scratch = tempfile::tempdir().unwrap();
    let c = crate::validate::check(&f.ova, scratch.path(), &|_, _| None, false).unwrap();
    let esp = crate::esp::Esp::open(c.system_raw.as_ref().unwrap()).unwrap();
    let cfg = String::from_utf8(esp.read("aerie/aarch64/boot.cfg", 4096).unwrap()).unwrap();
    assert_eq!(
        cfg,
        "name=hello\narch=aarch64\nkernel=\\aerie\\aarch64\\vmlinuz\ninitrd=\\aerie\\aarch64\\initrd.img\n\
         cmdline=console=ttyAMA0 rdinit=/init x=y\n"
    );
    let cfg = String::from_utf8(esp.read("aerie/x86_64/boot.cfg", 4096).unwrap()).unwrap();
    assert_eq!(
        cfg,
        "name=hello\narch=x86_64\nkernel=\\aerie\\x86_64\\vmlinuz\ncmdline=console=ttyS0\n"
    );
    assert_eq!(
        esp.read("aerie/x86_64/vmlinuz", 1 << 20).unwrap(),
        vec![0xbb; 200_000]
    );
    assert_eq!(
        esp.read("EFI/BOOT/BOOTX64.EFI", 100).unwrap(),
        b"MZ fake x64 boot manager"
    );
}

#[test]
fn rejects_digest_mismatch() {
    let f = fixture();
    let mut m = read_members(&f.ova);
    let last = m.last_mut().unwrap();
    let n = last.data.len() / 2;
    last.data[n] ^= 0xff;
    assert_one(
        &problems_of(&f, &m),
        "digest mismatch for `hello-aarch64-disk1.vmdk`",
    );
}

#[test]
fn rejects_missing_file() {
    let f = fixture();
    let mut m = read_members(&f.ova);
    m.pop();
    let p = problems_of(&f, &m);
    assert_one(&p, "`hello-aarch64-disk1.vmdk` (File file-aarch64-1) is referenced by the descriptor but missing");
    assert_one(
        &p,
        "the manifest lists `hello-aarch64-disk1.vmdk`, which is not in the package",
    );
}

#[test]
fn rejects_extra_file() {
    let f = fixture();
    let mut m = read_members(&f.ova);
    m.push(Raw {
        name: "extra.txt".into(),
        kind: tar::EntryType::Regular,
        data: b"hi".to_vec(),
        link: None,
    });
    fix_manifest(&mut m);
    let p = problems_of(&f, &m);
    assert_one(
        &p,
        "`extra.txt` is in the package but not referenced by the descriptor",
    );
    assert_eq!(p.len(), 1, "{p:#?}");
    // And unlisted in the manifest too.
    let mut m = read_members(&f.ova);
    m.push(Raw {
        name: "extra.txt".into(),
        kind: tar::EntryType::Regular,
        data: b"hi".to_vec(),
        link: None,
    });
    assert_one(
        &problems_of(&f, &m),
        "`extra.txt` is in the package but not in the manifest",
    );
}

#[test]
fn rejects_schema_failure() {
    let f = fixture();
    let mut m = read_members(&f.ova);
    let ovf = String::from_utf8(m[0].data.clone()).unwrap();
    // A CIM element out of order: readable by this tool, invalid by the schema.
    let bad = ovf.replacen(
        "<rasd:Description>Number of virtual CPUs</rasd:Description>",
        "<rasd:Weight>1</rasd:Weight>\n<rasd:Description>Number of virtual CPUs</rasd:Description>",
        1,
    );
    assert_ne!(bad, ovf);
    m[0].data = bad.into_bytes();
    fix_manifest(&mut m);
    let p = problems_of(&f, &m);
    assert_one(&p, "the descriptor fails the OVF 2 schema:");
    assert!(p.iter().all(|p| p.0.contains("schema")), "{p:#?}");
}

#[test]
fn rejects_dotdot_absolute_and_links() {
    let f = fixture();
    for (name, kind, link, want) in [
        ("../evil.txt", tar::EntryType::Regular, None, "tar entry `../evil.txt` contains `..`"),
        ("/tmp/evil.txt", tar::EntryType::Regular, None, "tar entry `/tmp/evil.txt` has an absolute path"),
        (
            "link.vmdk",
            tar::EntryType::Symlink,
            Some("../../etc/passwd"),
            "tar entry `link.vmdk` is a symbolic link to `../../etc/passwd`, which leaves the package directory",
        ),
        ("hard", tar::EntryType::Link, Some("/etc/passwd"), "tar entry `hard` is a hard link"),
        ("dev", tar::EntryType::Char, None, "tar entry `dev` is a device"),
    ] {
        let mut m = read_members(&f.ova);
        m.push(Raw { name: name.into(), kind, data: b"x".to_vec(), link: link.map(String::from) });
        let p = problems_of(&f, &m);
        assert_one(&p, want);
        assert!(!f.dir.parent().unwrap().join("evil.txt").exists());
        assert!(!Path::new("/tmp/evil.txt").exists());
    }
}

#[test]
fn rejects_layout_errors() {
    let f = fixture();
    let mut m = read_members(&f.ova);
    m.swap(0, 1);
    assert_one(
        &problems_of(&f, &m),
        "the first tar entry is `hello.mf`, not the .ovf descriptor",
    );
    let mut m = read_members(&f.ova);
    let dup = Raw {
        name: m[2].name.clone(),
        kind: tar::EntryType::Regular,
        data: m[2].data.clone(),
        link: None,
    };
    m.push(dup);
    assert_one(
        &problems_of(&f, &m),
        "tar entry `hello-system.vmdk` appears more than once",
    );
}

#[test]
fn rejects_size_mismatch() {
    let f = fixture();
    let mut m = read_members(&f.ova);
    let ovf = String::from_utf8(m[0].data.clone()).unwrap();
    let size = m[3].data.len();
    let bad = ovf.replace(
        &format!(r#"ovf:href="hello-aarch64-disk1.vmdk" ovf:size="{size}""#),
        &format!(
            r#"ovf:href="hello-aarch64-disk1.vmdk" ovf:size="{}""#,
            size + 1
        ),
    );
    assert_ne!(bad, ovf);
    m[0].data = bad.into_bytes();
    fix_manifest(&mut m);
    let p = problems_of(&f, &m);
    assert_one(
        &p,
        &format!("`hello-aarch64-disk1.vmdk`: the descriptor declares ovf:size {} but the file has {size} bytes", size + 1),
    );
    assert_eq!(p.len(), 1, "{p:#?}");
}

#[test]
fn rejects_architecture_the_partition_cannot_boot() {
    // A package whose system partition lacks BOOTX64.EFI and x86_64's boot.cfg.
    let f = fixture();
    let scratch = tempfile::tempdir().unwrap();
    let c = crate::validate::check(&f.ova, scratch.path(), &|_, _| None, false).unwrap();
    let esp = crate::esp::Esp::open(c.system_raw.as_ref().unwrap()).unwrap();
    let keep: Vec<(String, Vec<u8>)> = esp
        .list()
        .unwrap()
        .into_iter()
        .filter(|e| e.path != "EFI/BOOT/BOOTX64.EFI" && e.path != "aerie/x86_64/boot.cfg")
        .map(|e| (e.path.clone(), esp.read(&e.path, 1 << 30).unwrap()))
        .collect();
    drop(esp);
    let files: Vec<crate::esp::EspFile<'_>> = keep
        .iter()
        .map(|(p, d)| crate::esp::EspFile {
            path: p.clone(),
            source: crate::esp::Source::Bytes(d.clone()),
        })
        .collect();
    let raw = scratch.path().join("new.raw");
    crate::esp::build(&raw, &files).unwrap();
    let vmdk = scratch.path().join("new.vmdk");
    crate::qemu_img::raw_to_vmdk(&raw, &vmdk, false).unwrap();
    let mut m = read_members(&f.ova);
    m[2].data = std::fs::read(&vmdk).unwrap();
    let ovf = String::from_utf8(m[0].data.clone()).unwrap();
    let old = read_members(&f.ova)[2].data.len();
    m[0].data = ovf
        .replace(
            &format!(r#"ovf:href="hello-system.vmdk" ovf:size="{old}""#),
            &format!(
                r#"ovf:href="hello-system.vmdk" ovf:size="{}""#,
                m[2].data.len()
            ),
        )
        .into_bytes();
    fix_manifest(&mut m);
    let p = problems_of(&f, &m);
    assert_one(
        &p,
        "the system partition cannot boot x86_64: /EFI/BOOT/BOOTX64.EFI is missing",
    );
    assert_one(
        &p,
        "the system partition cannot boot x86_64: /aerie/x86_64/boot.cfg is missing",
    );
    assert!(!p.iter().any(|p| p.0.contains("aarch64")), "{p:#?}");
}

#[test]
fn deploy_targets() {
    let f = fixture();
    // QEMU x86-64: system disk only.
    let d = f.dir.join("dx");
    let dep = crate::deploy(&f.ova, crate::Target::QemuX86_64, &d, false).unwrap();
    assert!(d.join("system.qcow2").is_file());
    let script = std::fs::read_to_string(d.join("run.sh")).unwrap();
    assert!(script.contains("qemu-system-x86_64"), "{script}");
    assert!(script.contains("-machine q35"), "{script}");
    assert!(
        script.contains("file=/usr/share/OVMF/OVMF_CODE_4M.fd"),
        "{script}"
    );
    assert!(
        script.contains("-m 128M") && script.contains("-smp 1"),
        "{script}"
    );
    let cmd = crate::qemu_command(dep.qemu.as_ref().unwrap(), crate::Console::Serial);
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert!(
        args.windows(2).any(|w| w == ["-serial", "stdio"]),
        "{args:?}"
    );
    // Its configuration has no network card.
    assert!(args.windows(2).any(|w| w == ["-nic", "none"]), "{args:?}");
    // QEMU aarch64: system disk + the extra disk.
    let d = f.dir.join("da");
    let dep = crate::deploy(&f.ova, crate::Target::QemuAarch64, &d, false).unwrap();
    assert_eq!(dep.qemu.as_ref().unwrap().disks.len(), 2);
    assert!(d.join("aarch64-disk1.qcow2").is_file());
    assert!(!d.join("hello-aarch64-disk1.vmdk").exists());
    let script = std::fs::read_to_string(d.join("run.sh")).unwrap();
    assert!(
        script.contains("qemu-system-aarch64") && script.contains("-M virt"),
        "{script}"
    );
    assert!(
        script.contains("/usr/share/AAVMF/AAVMF_CODE.fd"),
        "{script}"
    );
    // Its network card, on QEMU's user-mode network, without an option ROM.
    assert!(
        script.contains("-netdev user,id=nat")
            && script.contains("virtio-net-pci,netdev=nat,romfile="),
        "{script}"
    );
    assert!(!script.contains("-nic none"), "{script}");
    // Aerie: kernel, initrd, aerie.toml.
    let d = f.dir.join("de");
    crate::deploy(&f.ova, crate::Target::Aerie, &d, false).unwrap();
    assert_eq!(
        std::fs::read(d.join("vmlinuz")).unwrap(),
        vec![0xaa; 300_000]
    );
    assert_eq!(
        std::fs::read(d.join("initrd.img")).unwrap(),
        vec![0x11; 50_000]
    );
    let cfg = aerie_vmconfig::load(&d.join("aerie.toml")).unwrap();
    assert_eq!(cfg.vms[0].name, "hello");
    assert_eq!(cfg.vms[0].vcpus, 2);
    assert_eq!(cfg.vms[0].memory, 256 << 20);
    assert_eq!(cfg.vms[0].cmdline, "console=ttyAMA0 rdinit=/init x=y");
    assert!(cfg.vms[0].net.is_some(), "the card is the VM's [vm.net]");
    // run.sh finds the Aerie tree by itself: the one found at deploy time
    // (these tests run inside it) unless AERIE_ROOT says otherwise.
    let script = std::fs::read_to_string(d.join("run.sh")).unwrap();
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    assert!(
        script.contains(&format!(
            "[ -n \"${{AERIE_ROOT:-}}\" ] || AERIE_ROOT={}\n",
            crate::qemu::sh_quote(&tree.to_string_lossy())
        )),
        "{script}"
    );
    assert!(script
        .contains("exec cargo xtask run --config \"$here/aerie.toml\" --disk \"$here/disk.img\""));
    // The aarch64 configuration's extra disk is the VM's disk: raw, whole MiB,
    // the VM's region all of it.
    assert_eq!(
        std::fs::read(d.join("disk.img")).unwrap(),
        vec![0x42; 1 << 20]
    );
    assert!(!d.join("hello-aarch64-disk1.vmdk").exists());
    let vm = &cfg.vms[0];
    assert_eq!(
        vm.disks,
        [aerie_vmconfig::DiskRegion {
            offset: 0,
            size: 1 << 20
        }]
    );
    // Refusals name the problem.
    let e = crate::deploy(&f.ova, crate::Target::Aerie, &d, false).unwrap_err();
    assert!(format!("{e:#}").contains("is not empty"), "{e:#}");
    let mut m = read_members(&f.ova);
    m.pop();
    let bad = f.dir.join("bad.ova");
    write_members(&bad, &m);
    let e = crate::deploy(&bad, crate::Target::QemuX86_64, &f.dir.join("dbad"), false).unwrap_err();
    assert!(format!("{e:#}").contains("does not validate"), "{e:#}");
    assert!(!f.dir.join("dbad").exists());
}

#[test]
fn aerie_run_script_names_the_tree_or_asks_for_aerie_root() {
    let s = crate::deploy::aerie_run_sh(Some(Path::new("/src/my aerie")), false, &[]);
    assert!(
        s.contains("[ -n \"${AERIE_ROOT:-}\" ] || AERIE_ROOT='/src/my aerie'\n"),
        "{s}"
    );
    let s = crate::deploy::aerie_run_sh(None, true, &[]);
    assert!(
        s.contains(": \"${AERIE_ROOT:?set AERIE_ROOT to the Aerie source tree}\"\n"),
        "{s}"
    );
    // Both then run in that tree; with a disk, it is the host disk.
    assert!(s.contains("cd \"$AERIE_ROOT\"\n"));
    assert!(s.contains("--config \"$here/aerie.toml\" --disk \"$here/disk.img\" \"$@\""));
}

#[test]
fn forwarded_ports_reach_the_network_card_on_every_target() {
    use crate::deploy::{deploy_forwarding, Forward};
    let f = fixture();
    let fwd = [
        Forward::parse("8080:80").unwrap(),
        Forward::parse("2222:22").unwrap(),
    ];
    for bad in ["8080", "0:80", "8080:http", "70000:80"] {
        let e = format!("{:#}", Forward::parse(bad).unwrap_err());
        assert!(e.contains("HOSTPORT:GUESTPORT"), "{e}");
    }
    // QEMU aarch64: the card's netdev carries the rules.
    let d = f.dir.join("fa");
    deploy_forwarding(&f.ova, crate::Target::QemuAarch64, &d, &fwd, false).unwrap();
    let script = std::fs::read_to_string(d.join("run.sh")).unwrap();
    assert!(
        script.contains(
            "user,id=nat,hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80,hostfwd=tcp:127.0.0.1:2222-10.0.2.15:22"
        ),
        "{script}"
    );
    // Aerie: cargo xtask run --forward, in run.sh and in the command.
    let d = f.dir.join("fe");
    let dep = deploy_forwarding(&f.ova, crate::Target::Aerie, &d, &fwd, false).unwrap();
    let script = std::fs::read_to_string(d.join("run.sh")).unwrap();
    assert!(
        script.contains("--forward 8080:10.0.2.15:80 --forward 2222:10.0.2.15:22"),
        "{script}"
    );
    if let Ok(cmd) = dep.command(crate::Console::Serial) {
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(
            args.windows(2)
                .any(|w| w == ["--forward", "2222:10.0.2.15:22"]),
            "{args:?}"
        );
    }
    // The x86-64 configuration has no card: refused, nothing left behind.
    let d = f.dir.join("fx");
    let e = deploy_forwarding(&f.ova, crate::Target::QemuX86_64, &d, &fwd, false).unwrap_err();
    assert!(format!("{e:#}").contains("has no network card"), "{e:#}");
    assert!(!d.exists());
}

#[test]
fn aerie_attaches_every_extra_disk_up_to_four() {
    let f = fixture();
    let spec = std::fs::read_to_string(f.dir.join("in/hello.toml")).unwrap();
    // Five more besides data.img (1 MiB of 0x42): 2 MiB, 1 byte short of
    // 1 MiB (padded), then three the VM has no room for.
    write(&f.dir.join("in/logs.img"), &vec![0x17; 2 << 20]);
    write(&f.dir.join("in/odd.img"), &vec![0x23; (1 << 20) - 512]);
    let mut more = String::from(
        "[[aarch64.disk]]\npath = \"logs.img\"\n[[aarch64.disk]]\npath = \"odd.img\"\n",
    );
    for _ in 0..3 {
        more.push_str("[[aarch64.disk]]\npath = \"odd.img\"\n");
    }
    let many = spec.replace("[x86_64]", &format!("{more}[x86_64]"));
    write(&f.dir.join("in/many.toml"), many.as_bytes());
    let ova = f.dir.join("many.ova");
    build(&f.dir.join("in/many.toml"), &ova, &f.dir.join("efi"), false).unwrap();
    let d = f.dir.join("d2");
    let dep = crate::deploy(&ova, crate::Target::Aerie, &d, false).unwrap();
    // One host disk: each extra disk at its whole-MiB offset, in order.
    let img = std::fs::read(d.join("disk.img")).unwrap();
    assert_eq!(img.len(), 5 << 20);
    assert!(img[..1 << 20].iter().all(|&b| b == 0x42));
    assert!(img[1 << 20..3 << 20].iter().all(|&b| b == 0x17));
    assert!(img[3 << 20..(4 << 20) - 512].iter().all(|&b| b == 0x23));
    assert!(
        img[(4 << 20) - 512..4 << 20].iter().all(|&b| b == 0),
        "padding"
    );
    let cfg = aerie_vmconfig::load(&d.join("aerie.toml")).unwrap();
    let regions: Vec<_> = cfg.vms[0]
        .disks
        .iter()
        .map(|r| (r.offset >> 20, r.size >> 20))
        .collect();
    assert_eq!(regions, [(0, 1), (1, 2), (3, 1), (4, 1)]);
    assert_eq!(dep.warnings.len(), 1, "{:?}", dep.warnings);
    assert!(
        dep.warnings[0].contains("are not attached: an Aerie VM has at most 4 disks"),
        "{:?}",
        dep.warnings
    );
    // Nothing of the disks is left in the deployment but disk.img.
    let names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.ends_with(".vmdk") && !n.ends_with(".raw")),
        "{names:?}"
    );
}
