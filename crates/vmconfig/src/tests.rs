//! Config parsing: the happy path and one test per error.

use std::path::{Path, PathBuf};

use crate::{
    load, parse, BackdoorPolicy, ConfigError, DiskRegion, ErrorKind, WorldConfig, WorldControl,
    MAX_WORLDS,
};

const GOOD: &str = r#"
[[vm]]
name = "testkit"
vcpus = 2
memory = "64M"
kernel = "../../target/aerie/testkit.Image"
cmdline = "bench"

[[vm]]
name = "linux"
vcpus = 4
memory = 1073741824
kernel = "/abs/Image"
initrd = "rootfs.cpio"
"#;

fn err(text: &str) -> ConfigError {
    parse(text, Path::new("cfg")).unwrap_err()
}

/// A one-VM config with `line` replaced or added.
fn vm_with(field: &str, line: Option<&str>) -> String {
    let mut lines = vec![
        "name = \"big\"",
        "vcpus = 1",
        "memory = \"64M\"",
        "kernel = \"Image\"",
    ];
    lines.retain(|l| !l.starts_with(field));
    lines.extend(line);
    format!("[[vm]]\n{}\n", lines.join("\n"))
}

#[test]
fn parses_good_config() {
    let c = parse(GOOD, Path::new("tests/configs")).unwrap();
    assert_eq!(c.vms.len(), 2);
    let t = &c.vms[0];
    assert_eq!(t.name, "testkit");
    assert_eq!(t.vcpus, 2);
    assert_eq!(t.memory, 64 << 20);
    assert_eq!(
        t.kernel,
        PathBuf::from("tests/configs/../../target/aerie/testkit.Image")
    );
    assert_eq!(t.initrd, None);
    assert_eq!(t.cmdline, "bench");
    let l = &c.vms[1];
    assert_eq!(l.memory, 1 << 30);
    assert_eq!(l.kernel, PathBuf::from("/abs/Image"), "absolute paths stay");
    assert_eq!(l.initrd, Some(PathBuf::from("tests/configs/rootfs.cpio")));
    assert_eq!(l.cmdline, "");
    assert_eq!(
        (t.backdoor, l.backdoor),
        (None, None),
        "no table, no backdoor"
    );
    assert!(t.guestinfo.is_empty() && l.guestinfo.is_empty());
    assert!(
        t.cpufreq && l.cpufreq,
        "the guest sets its speed by default"
    );
}

#[test]
fn cpufreq_off_and_its_type() {
    let c = parse(&vm_with("cpufreq", Some("cpufreq = false")), Path::new("")).unwrap();
    assert!(!c.vms[0].cpufreq);
    let e = err(&vm_with("cpufreq", Some("cpufreq = \"off\"")));
    assert_eq!(e.field.as_deref(), Some("cpufreq"));
    assert!(matches!(e.kind, ErrorKind::WrongType { .. }), "{e}");
    assert!(e.to_string().contains("cpufreq"), "{e}");
}

#[test]
fn bad_memory_message_names_file_vm_and_field() {
    let dir = std::env::temp_dir().join(format!("aerie-vmconfig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, vm_with("memory", Some("memory = \"12Q\""))).unwrap();
    let e = load(&file).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: vm[0] (\"big\"): field `memory`: \"12Q\" is not a size (use e.g. 256M or 1G)",
            file.display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn memory_limits() {
    let e = err(&vm_with("memory", Some("memory = \"8M\"")));
    assert_eq!(e.kind, ErrorKind::MemoryTooSmall(8 << 20));
    assert_eq!(e.field.as_deref(), Some("memory"));
    let e = err(&vm_with("memory", Some("memory = \"17M\"")));
    assert_eq!(e.kind, ErrorKind::MemoryMisaligned(17 << 20));
    let e = err(&vm_with("memory", Some("memory = -5")));
    assert_eq!(e.kind, ErrorKind::NotASize("-5".into()));
    let e = err(&vm_with("memory", Some("memory = 1.5")));
    assert!(matches!(
        e.kind,
        ErrorKind::WrongType { found: "float", .. }
    ));
    // More than any machine has is still a valid config: the hypervisor refuses it.
    let c = parse(&vm_with("memory", Some("memory = \"64G\"")), Path::new("")).unwrap();
    assert_eq!(c.vms[0].memory, 64 << 30);
}

#[test]
fn missing_fields_are_named() {
    for field in ["vcpus", "memory", "kernel"] {
        let e = err(&vm_with(field, None));
        assert_eq!(e.field.as_deref(), Some(field));
        assert_eq!(e.kind, ErrorKind::MissingField);
        assert_eq!(
            e.to_string(),
            format!("vm[0] (\"big\"): field `{field}`: missing (required)")
        );
    }
    let e = err(&vm_with("name", None));
    assert_eq!(e.to_string(), "vm[0]: field `name`: missing (required)");
}

#[test]
fn unknown_fields_rejected() {
    let e = err(&vm_with("zzz", Some("cpus = 2")));
    assert_eq!(e.field.as_deref(), Some("cpus"));
    assert_eq!(e.kind, ErrorKind::UnknownField);
    let e = err("vmm = 1\n[[vm]]\nname = \"a\"\n");
    assert_eq!(e.field.as_deref(), Some("vmm"));
    assert_eq!(e.kind, ErrorKind::UnknownTopLevel);
}

#[test]
fn vcpus_range_and_type() {
    let e = err(&vm_with("vcpus", Some("vcpus = 0")));
    assert_eq!(e.kind, ErrorKind::VcpusOutOfRange(0));
    let e = err(&vm_with("vcpus", Some("vcpus = 9")));
    assert_eq!(e.kind, ErrorKind::VcpusOutOfRange(9));
    assert!(parse(&vm_with("vcpus", Some("vcpus = 8")), Path::new("")).is_ok());
    let e = err(&vm_with("vcpus", Some("vcpus = \"2\"")));
    assert_eq!(
        e.to_string(),
        "vm[0] (\"big\"): field `vcpus`: expected an integer, found string"
    );
}

#[test]
fn bad_names_rejected() {
    let e = err(&vm_with("name", Some("name = \"has space\"")));
    assert_eq!(e.field.as_deref(), Some("name"));
    assert!(matches!(e.kind, ErrorKind::BadName(_)));
    assert!(
        e.table.unwrap().name.is_none(),
        "a bad name is not echoed as the VM's name"
    );
    let long = format!("name = \"{}\"", "n".repeat(32));
    assert!(matches!(
        err(&vm_with("name", Some(&long))).kind,
        ErrorKind::BadName(_)
    ));
}

#[test]
fn duplicate_names_rejected() {
    let text = format!("{}{}", vm_with("zzz", None), vm_with("zzz", None));
    let e = err(&text);
    assert_eq!(e.kind, ErrorKind::DuplicateName { first: 0 });
    assert_eq!(
        e.to_string(),
        "vm[1] (\"big\"): field `name`: duplicate name (already used by vm[0])"
    );
}

#[test]
fn no_vms_rejected() {
    assert_eq!(err("").kind, ErrorKind::NoVms);
    assert_eq!(err("vm = []").kind, ErrorKind::NoVms);
    assert!(matches!(err("vm = 3").kind, ErrorKind::WrongType { .. }));
}

#[test]
fn syntax_error_reported() {
    assert!(matches!(err("[[vm]\nname=").kind, ErrorKind::Syntax(_)));
}

#[test]
fn empty_kernel_path_rejected() {
    let e = err(&vm_with("kernel", Some("kernel = \"\"")));
    assert_eq!(
        (e.field.as_deref(), e.kind),
        (Some("kernel"), ErrorKind::EmptyPath)
    );
}

#[test]
fn check_files_names_field_and_resolved_path() {
    let dir = std::env::temp_dir().join(format!("aerie-vmconfig-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Image"), b"k").unwrap();
    let file = dir.join("vm.toml");

    std::fs::write(&file, vm_with("zzz", None)).unwrap();
    load(&file).unwrap().check_files().unwrap();

    std::fs::write(&file, vm_with("kernel", Some("kernel = \"nope/Image\""))).unwrap();
    let e = load(&file).unwrap().check_files().unwrap_err();
    assert_eq!(e.field.as_deref(), Some("kernel"));
    assert_eq!(e.kind, ErrorKind::FileNotFound(dir.join("nope/Image")));
    assert_eq!(
        e.to_string(),
        format!(
            "{}: vm[0] (\"big\"): field `kernel`: file not found: {}",
            file.display(),
            dir.join("nope/Image").display()
        )
    );

    std::fs::write(&file, vm_with("initrd", Some("initrd = \"missing.cpio\""))).unwrap();
    let e = load(&file).unwrap().check_files().unwrap_err();
    assert_eq!(e.field.as_deref(), Some("initrd"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unreadable_file_reported() {
    let e = load(Path::new("/nonexistent/aerie.toml")).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Io(_)));
    assert!(e
        .to_string()
        .starts_with("/nonexistent/aerie.toml: cannot read"));
}

fn two_disks(a: &str, b: &str) -> String {
    format!(
        "[[vm]]\nname = \"a\"\nvcpus = 1\nmemory = \"64M\"\nkernel = \"I\"\n[vm.disk]\n{a}\n\
         [[vm]]\nname = \"b\"\nvcpus = 1\nmemory = \"64M\"\nkernel = \"I\"\n[vm.disk]\n{b}\n"
    )
}

#[test]
fn disk_regions_parse() {
    let c = parse(
        &two_disks(
            "offset = \"0\"\nsize = \"64M\"",
            "offset = 67108864\nsize = \"1G\"",
        ),
        Path::new(""),
    )
    .unwrap();
    assert_eq!(
        c.vms[0].disks,
        [DiskRegion {
            offset: 0,
            size: 64 << 20
        }]
    );
    assert_eq!(
        c.vms[1].disks,
        [DiskRegion {
            offset: 64 << 20,
            size: 1 << 30
        }]
    );
    assert_eq!(c.disk_end(), Some((64 << 20) + (1 << 30)));
    // No [vm.disk]: no disk, and no host disk needed.
    let c = parse(&vm_with("zzz", None), Path::new("")).unwrap();
    assert_eq!((c.vms[0].disks.len(), c.disk_end()), (0, None));
}

#[test]
fn several_disks_in_order_and_their_errors() {
    let disks = |tables: &[&str]| {
        let t: String = tables
            .iter()
            .map(|body| format!("[[vm.disk]]\n{body}\n"))
            .collect();
        vm_with("zzz", Some(&t))
    };
    let c = parse(
        &disks(&[
            "offset = \"8M\"\nsize = \"1M\"",
            "offset = \"0\"\nsize = \"2M\"",
        ]),
        Path::new(""),
    )
    .unwrap();
    let regions: Vec<_> = c.vms[0].disks.iter().map(|d| (d.offset, d.size)).collect();
    assert_eq!(regions, [(8 << 20, 1 << 20), (0, 2 << 20)], "as written");
    assert_eq!(c.disk_end(), Some(9 << 20));
    // Too many; overlapping its own; a bad key names the table.
    let body = "offset = \"0\"\nsize = \"1M\"";
    let five: Vec<String> = (0..5)
        .map(|i| format!("offset = \"{i}M\"\nsize = \"1M\""))
        .collect();
    let five: Vec<&str> = five.iter().map(String::as_str).collect();
    let e = err(&disks(&five));
    assert_eq!(
        (e.field.as_deref(), e.kind),
        (Some("disk"), ErrorKind::DiskCount(5))
    );
    let e = err(&disks(&[body, "offset = \"0\"\nsize = \"4M\""]));
    assert_eq!(
        (e.field.as_deref(), e.kind),
        (Some("disk[1]"), ErrorKind::DiskOverlapsOwn(0))
    );
    let e = err(&disks(&[body, "offset = \"2M\""]));
    assert_eq!(e.field.as_deref(), Some("disk[1].size"));
}

#[test]
fn overlapping_disks_name_the_field_and_both_vms() {
    let e = err(&two_disks(
        "offset = \"0\"\nsize = \"64M\"",
        "offset = \"63M\"\nsize = \"2M\"",
    ));
    assert_eq!(e.field.as_deref(), Some("disk"));
    assert_eq!(
        e.to_string(),
        "vm[1] (\"b\"): field `disk`: region 0x3f00000..0x4100000 overlaps vm[0] (\"a\")'s 0x0..0x4000000"
    );
    // Containment is overlap too; adjacency is not.
    let ErrorKind::DiskOverlap(o) = err(&two_disks(
        "offset = \"0\"\nsize = \"1G\"",
        "offset = \"128M\"\nsize = \"1M\"",
    ))
    .kind
    else {
        panic!("expected an overlap")
    };
    assert_eq!(
        (o.other, o.other_name.as_str(), o.ours, o.theirs),
        (0, "a", (128 << 20, 129 << 20), (0, 1 << 30))
    );
    assert!(parse(
        &two_disks(
            "offset = \"0\"\nsize = \"64M\"",
            "offset = \"64M\"\nsize = \"64M\""
        ),
        Path::new("")
    )
    .is_ok());
}

#[test]
fn bad_disk_tables_name_the_key() {
    let one = |body: &str| err(&vm_with("zzz", Some(&format!("[vm.disk]\n{body}"))));
    let cases: [(&str, &str, ErrorKind); 6] = [
        ("size = \"64M\"", "disk.offset", ErrorKind::MissingField),
        ("offset = \"0\"", "disk.size", ErrorKind::MissingField),
        (
            "offset = \"512K\"\nsize = \"64M\"",
            "disk.offset",
            ErrorKind::DiskMisaligned(512 << 10),
        ),
        (
            "offset = \"0\"\nsize = 1000",
            "disk.size",
            ErrorKind::DiskMisaligned(1000),
        ),
        (
            "offset = \"0\"\nsize = 0",
            "disk.size",
            ErrorKind::DiskEmpty,
        ),
        (
            "offset = \"0\"\nsize = \"1M\"\nsectors = 2",
            "disk.sectors",
            ErrorKind::UnknownDiskField,
        ),
    ];
    for (body, field, kind) in cases {
        let e = one(body);
        assert_eq!((e.field.as_deref(), e.kind), (Some(field), kind), "{body}");
    }
    let e = one("offset = \"x\"\nsize = \"1M\"");
    assert_eq!(
        e.to_string(),
        "vm[0] (\"big\"): field `disk.offset`: \"x\" is not a size (use e.g. 256M or 1G)"
    );
    let e = err(&vm_with("zzz", Some("disk = \"/dev/vda\"")));
    assert_eq!(e.field.as_deref(), Some("disk"));
    assert!(matches!(
        e.kind,
        ErrorKind::WrongType {
            found: "string",
            ..
        }
    ));
}

/// A one-VM config with these tables (TOML text) after the VM's fields.
fn vm_tables(tables: &str) -> String {
    vm_with("zzz", Some(tables))
}

fn one_vm(tables: &str) -> crate::VmConfig {
    parse(&vm_tables(tables), Path::new(""))
        .unwrap_or_else(|e| panic!("{e}"))
        .vms
        .remove(0)
}

#[test]
fn backdoor_defaults() {
    let vm = one_vm("[vm.backdoor]");
    assert_eq!(
        vm.backdoor,
        Some(BackdoorPolicy {
            el0: true,
            brk_imm: None,
            high_bandwidth: true
        })
    );
    assert!(vm.guestinfo.is_empty());
    let vm = one_vm("[vm.backdoor]\nenabled = true");
    assert_eq!(vm.backdoor.map(|b| b.brk_imm), Some(None));
}

#[test]
fn backdoor_all_fields() {
    let vm =
        one_vm("[vm.backdoor]\nenabled = true\nel0 = false\nbrk = 0x5658\nhigh_bandwidth = false");
    assert_eq!(
        vm.backdoor,
        Some(BackdoorPolicy {
            el0: false,
            brk_imm: Some(0x5658),
            high_bandwidth: false
        })
    );
    // Both ends of the immediate's range; inline tables work too.
    let vm = one_vm("backdoor = { brk = 0 }");
    assert_eq!(vm.backdoor.unwrap().brk_imm, Some(0));
    let vm = one_vm("[vm.backdoor]\nbrk = 65535");
    assert_eq!(vm.backdoor.unwrap().brk_imm, Some(0xffff));
}

#[test]
fn backdoor_disabled_is_none_but_still_checked() {
    let vm = one_vm("[vm.backdoor]\nenabled = false\nel0 = false\nbrk = 1");
    assert_eq!(vm.backdoor, None);
    let e = err(&vm_tables("[vm.backdoor]\nenabled = false\nbrk = -1"));
    assert_eq!(e.kind, ErrorKind::BrkOutOfRange(-1));
}

#[test]
fn bad_brk_rejected() {
    for (value, kind) in [
        ("-1", ErrorKind::BrkOutOfRange(-1)),
        ("0x10000", ErrorKind::BrkOutOfRange(0x10000)),
        (
            "\"0x5658\"",
            ErrorKind::WrongType {
                expected: "an integer 0..=0xffff (e.g. brk = 0x5658)",
                found: "string",
            },
        ),
    ] {
        let e = err(&vm_tables(&format!("[vm.backdoor]\nbrk = {value}")));
        assert_eq!(
            (e.field.as_deref(), e.kind),
            (Some("backdoor.brk"), kind),
            "{value}"
        );
    }
    let e = err(&vm_tables("[vm.backdoor]\nbrk = 65536"));
    assert_eq!(
        e.to_string(),
        "vm[0] (\"big\"): field `backdoor.brk`: 65536 is out of range (a BRK immediate is 0..=0xffff)"
    );
    let e = err(&vm_tables("[vm.backdoor]\nbrk = \"0x5658\""));
    assert_eq!(
        e.to_string(),
        "vm[0] (\"big\"): field `backdoor.brk`: expected an integer 0..=0xffff \
         (e.g. brk = 0x5658), found string"
    );
}

#[test]
fn bad_backdoor_types_and_keys_rejected() {
    let e = err(&vm_tables("[vm.backdoor]\nel0 = \"yes\""));
    assert_eq!(
        e.to_string(),
        "vm[0] (\"big\"): field `backdoor.el0`: expected true or false, found string"
    );
    let e = err(&vm_tables("[vm.backdoor]\nhigh_bandwidth = 1"));
    assert_eq!(e.field.as_deref(), Some("backdoor.high_bandwidth"));
    let e = err(&vm_tables("[vm.backdoor]\nenabled = 0"));
    assert_eq!(e.field.as_deref(), Some("backdoor.enabled"));
    let e = err(&vm_tables("[vm.backdoor]\nel1 = true"));
    assert_eq!(
        (e.field.as_deref(), &e.kind),
        (Some("backdoor.el1"), &ErrorKind::UnknownBackdoorField)
    );
    assert_eq!(
        e.to_string(),
        "vm[0] (\"big\"): field `backdoor.el1`: unknown field \
         (known in [vm.backdoor]: enabled, el0, brk, high_bandwidth)"
    );
    let e = err(&vm_with("zzz", Some("backdoor = true")));
    assert_eq!(e.field.as_deref(), Some("backdoor"));
    assert!(matches!(
        e.kind,
        ErrorKind::WrongType {
            found: "boolean",
            ..
        }
    ));
}

#[test]
fn guestinfo_flattens_dotted_and_nested_keys() {
    let vm = one_vm(
        "[vm.backdoor]\n\
         [vm.guestinfo]\n\
         greeting = \"from-config\"\n\
         net.ip = \"10.0.0.2\"\n\
         net.dns.primary = \"1.1.1.1\"\n\
         empty = \"\"\n\
         [vm.guestinfo.deep]\n\
         x = \"y\"",
    );
    let keys: Vec<(&str, &str)> = vm
        .guestinfo
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("guestinfo.deep.x", "y"),
            ("guestinfo.empty", ""),
            ("guestinfo.greeting", "from-config"),
            ("guestinfo.net.dns.primary", "1.1.1.1"),
            ("guestinfo.net.ip", "10.0.0.2"),
        ]
    );
    // An empty table is no keys; a quoted dotted key is the same guestinfo key
    // as the dotted one, so giving both is an error.
    assert!(one_vm("[vm.backdoor]\n[vm.guestinfo]").guestinfo.is_empty());
    let e = err(&vm_tables(
        "[vm.backdoor]\n[vm.guestinfo]\n\"a.b\" = \"1\"\na.b = \"2\"",
    ));
    assert_eq!(
        (e.field.as_deref(), e.kind),
        (Some("guestinfo.a.b"), ErrorKind::GuestinfoDuplicate)
    );
    let e = err(&vm_tables("[vm.backdoor]\n[vm.guestinfo]\n\"\" = \"1\""));
    assert_eq!(e.kind, ErrorKind::GuestinfoEmptyName);
}

#[test]
fn guestinfo_non_string_values_name_the_key() {
    for (line, field, found) in [
        ("port = 8080", "guestinfo.port", "integer"),
        ("a.on = true", "guestinfo.a.on", "boolean"),
        ("list = [\"x\"]", "guestinfo.list", "array"),
    ] {
        let e = err(&vm_tables(&format!(
            "[vm.backdoor]\n[vm.guestinfo]\n{line}"
        )));
        assert_eq!(e.field.as_deref(), Some(field), "{line}");
        assert!(
            matches!(e.kind, ErrorKind::WrongType { found: f, .. } if f == found),
            "{line}: {:?}",
            e.kind
        );
    }
    let e = err(&vm_tables("[vm.backdoor]\n[vm.guestinfo]\nport = 8080"));
    assert_eq!(
        e.to_string(),
        "vm[0] (\"big\"): field `guestinfo.port`: expected a string (guestinfo values \
         are text: quote numbers and booleans), found integer"
    );
    let e = err(&vm_with("zzz", Some("guestinfo = \"x\"\n[vm.backdoor]")));
    assert_eq!(e.field.as_deref(), Some("guestinfo"));
}

#[test]
fn guestinfo_limits() {
    let table = |body: String| vm_tables(&format!("[vm.backdoor]\n[vm.guestinfo]\n{body}"));
    let keys = |n: usize| {
        (0..n)
            .map(|i| format!("k{i} = \"v\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        parse(&table(keys(64)), Path::new("")).unwrap().vms[0]
            .guestinfo
            .len(),
        64
    );
    let e = err(&table(keys(65)));
    assert_eq!(
        (e.field.as_deref(), &e.kind),
        (Some("guestinfo"), &ErrorKind::GuestinfoTooMany(65))
    );
    assert_eq!(
        e.to_string(),
        "vm[0] (\"big\"): field `guestinfo`: 65 keys, more than the 64 a VM's guestinfo holds"
    );

    // 128 bytes with the 10-byte prefix is fine, 129 is not.
    let ok = "n".repeat(118);
    assert!(parse(&table(format!("{ok} = \"v\"")), Path::new("")).is_ok());
    let long = "n".repeat(119);
    let e = err(&table(format!("{long} = \"v\"")));
    assert_eq!(e.kind, ErrorKind::GuestinfoKeyTooLong(129));
    assert_eq!(
        e.to_string(),
        format!(
            "vm[0] (\"big\"): field `guestinfo.{long}`: key is 129 bytes, more than 128 \
             (counting the `guestinfo.` prefix)"
        )
    );

    let value = "v".repeat(4096);
    assert!(parse(&table(format!("k = \"{value}\"")), Path::new("")).is_ok());
    let e = err(&table(format!("k = \"{value}x\"")));
    assert_eq!(
        (e.field.as_deref(), &e.kind),
        (Some("guestinfo.k"), &ErrorKind::GuestinfoValueTooLong(4097))
    );
    assert_eq!(
        e.to_string(),
        "vm[0] (\"big\"): field `guestinfo.k`: value is 4097 bytes, more than 4096"
    );
}

#[test]
fn guestinfo_needs_an_enabled_backdoor() {
    for tables in [
        "[vm.guestinfo]\ngreeting = \"hi\"",
        "[vm.backdoor]\nenabled = false\n[vm.guestinfo]\ngreeting = \"hi\"",
        "[vm.guestinfo]",
    ] {
        let e = err(&vm_tables(tables));
        assert_eq!(
            (e.field.as_deref(), &e.kind),
            (Some("guestinfo"), &ErrorKind::GuestinfoWithoutBackdoor),
            "{tables}"
        );
        assert_eq!(
            e.to_string(),
            "vm[0] (\"big\"): field `guestinfo`: guestinfo needs [vm.backdoor] (enabled): \
             the guest reads it through the backdoor"
        );
    }
}

#[test]
fn guestinfo_limits_match_the_backdoor_store() {
    // The config must not accept what the VM's store would refuse.
    let mut store = aerie_backdoor::GuestInfo::new();
    let key = format!(
        "guestinfo.{}",
        "n".repeat(crate::GUESTINFO_MAX_KEY_LEN - 10)
    );
    let value = "v".repeat(crate::GUESTINFO_MAX_VALUE_LEN);
    store.set(&key, &value).unwrap();
    for i in 1..crate::GUESTINFO_MAX_KEYS {
        store.set(&format!("guestinfo.k{i}"), "").unwrap();
    }
    assert!(store.set("guestinfo.one-more", "").is_err());
}

/// The one-VM config with these `[[world]]` tables (TOML text) after it.
fn with_worlds(worlds: &str) -> String {
    format!("{}{worlds}\n", vm_with("zzz", None))
}

/// A `[[world]]` table named `name`, `line` replacing its key or added.
fn world(name: &str, line: &str) -> String {
    let name = format!("name = \"{name}\"");
    let mut lines = vec![name.as_str(), "program = \"w\""];
    let key = format!("{} ", line.split(' ').next().unwrap_or(""));
    lines.retain(|l| !l.starts_with(&key));
    lines.extend(Some(line).filter(|l| !l.is_empty()));
    format!("[[world]]\n{}\n", lines.join("\n"))
}

#[test]
fn worlds_parse() {
    let text = with_worlds(
        "[[world]]\nname = \"watcher\"\nprogram = \"bin/vmstat\"\narg = \"every 1s\"\n\
         [[world]]\nname = \"vm-ctl_2\"\nprogram = \"/abs/vmctl\"\ncontrol = true",
    );
    let c = parse(&text, Path::new("tests/configs")).unwrap();
    assert_eq!(
        c.worlds,
        [
            WorldConfig {
                name: "watcher".into(),
                program: PathBuf::from("tests/configs/bin/vmstat"),
                arg: "every 1s".into(),
                control: WorldControl::None,
                operations: aerie_bootmodule::Operations::ALL,
            },
            WorldConfig {
                name: "vm-ctl_2".into(),
                program: PathBuf::from("/abs/vmctl"),
                arg: String::new(),
                control: WorldControl::All,
                operations: aerie_bootmodule::Operations::ALL,
            },
        ]
    );
    assert_eq!(c.vms.len(), 1);
    // No [[world]]: no worlds; a world may share a VM's name.
    assert!(parse(&vm_with("zzz", None), Path::new(""))
        .unwrap()
        .worlds
        .is_empty());
    assert!(parse(&with_worlds(&world("big", "")), Path::new("")).is_ok());
}

#[test]
fn world_errors_name_the_world_and_field() {
    let long_arg = format!("arg = \"{}\"", "a".repeat(4097));
    let cases: [(&str, &str, ErrorKind, &str); 9] = [
        (
            "program = 7",
            "program",
            ErrorKind::WrongType {
                expected: "a string",
                found: "integer",
            },
            "world[1] (\"w1\"): field `program`: expected a string, found integer",
        ),
        (
            "program = \"\"",
            "program",
            ErrorKind::EmptyPath,
            "world[1] (\"w1\"): field `program`: path is empty",
        ),
        (
            "arg = [\"a\"]",
            "arg",
            ErrorKind::WrongType {
                expected: "a string",
                found: "array",
            },
            "world[1] (\"w1\"): field `arg`: expected a string, found array",
        ),
        (
            &long_arg,
            "arg",
            ErrorKind::WorldArgTooLong(4097),
            "world[1] (\"w1\"): field `arg`: 4097 bytes, more than 4096",
        ),
        (
            "vcpus = 1",
            "vcpus",
            ErrorKind::UnknownWorldField,
            "world[1] (\"w1\"): field `vcpus`: unknown field (known in [[world]]: name, \
             program, arg, control, operations)",
        ),
        (
            "control = \"yes\"",
            "control",
            ErrorKind::WrongType {
                expected: "true, false or a list of VM names",
                found: "string",
            },
            "world[1] (\"w1\"): field `control`: expected true, false or a list of VM names, found string",
        ),
        (
            "control = 1",
            "control",
            ErrorKind::WrongType {
                expected: "true, false or a list of VM names",
                found: "integer",
            },
            "world[1] (\"w1\"): field `control`: expected true, false or a list of VM names, found integer",
        ),
        (
            "name = \"bad name\"",
            "name",
            ErrorKind::BadName("\"bad name\" contains ' '; use only A-Z a-z 0-9 _ -".into()),
            "world[1]: field `name`: \"bad name\" contains ' '; use only A-Z a-z 0-9 _ -",
        ),
        (
            "name = 1",
            "name",
            ErrorKind::WrongType {
                expected: "a string",
                found: "integer",
            },
            "world[1]: field `name`: expected a string, found integer",
        ),
    ];
    for (line, field, kind, message) in cases {
        let second = world("w1", line);
        let e = err(&with_worlds(&format!("{}{second}", world("w0", ""))));
        assert_eq!(
            (e.field.as_deref(), &e.kind),
            (Some(field), &kind),
            "{line:.40}"
        );
        assert_eq!(e.to_string(), message, "{line:.40}");
    }
    // Exactly 4096 bytes is fine.
    let arg = format!("arg = \"{}\"", "a".repeat(4096));
    assert!(parse(&with_worlds(&world("w", &arg)), Path::new("")).is_ok());
}

#[test]
fn world_control_is_off_unless_asked_for() {
    let control = |line: &str| {
        let c = parse(&with_worlds(&world("w", line)), Path::new("")).unwrap();
        c.worlds[0].control != WorldControl::None
    };
    assert!(!control(""));
    assert!(!control("control = false"));
    assert!(control("control = true"));
    assert!(!control("control = []"));
    assert!(control("control = [\"big\"]"));
    // Each world has its own right.
    let text = with_worlds(&format!(
        "{}{}{}",
        world("a", "control = true"),
        world("b", ""),
        world("c", "control = true")
    ));
    let c = parse(&text, Path::new("")).unwrap();
    assert_eq!(
        c.worlds
            .iter()
            .map(|w| w.control.clone())
            .collect::<Vec<_>>(),
        [WorldControl::All, WorldControl::None, WorldControl::All]
    );
}

#[test]
fn a_control_list_names_vms_and_becomes_their_indices() {
    let vms = format!(
        "{}{}{}",
        vm_with("name", Some("name = \"a\"")),
        vm_with("name", Some("name = \"b\"")),
        vm_with("name", Some("name = \"c\""))
    );
    let text = format!(
        "{vms}{}{}{}",
        world("w1", "control = [\"c\", \"a\"]"),
        world("w2", "control = true"),
        world("w3", "")
    );
    let c = parse(&text, Path::new("")).unwrap();
    assert_eq!(
        c.worlds[0].control,
        WorldControl::Vms(vec!["c".into(), "a".into()])
    );
    let rights: Vec<_> = c.worlds.iter().map(|w| c.world_control(w)).collect();
    assert_eq!(
        rights,
        [
            aerie_bootmodule::Control::Listed(0b101),
            aerie_bootmodule::Control::All,
            aerie_bootmodule::Control::None
        ]
    );
    // A name the config does not have, and a list of something else.
    for (line, message) in [
        (
            "control = [\"a\", \"web\"]",
            "world[0] (\"w\"): field `control`: names VM \"web\", which the config does not have",
        ),
        (
            "control = [1]",
            "world[0] (\"w\"): field `control`: expected true, false or a list of VM names, found integer",
        ),
        (
            "control = \"a\"",
            "world[0] (\"w\"): field `control`: expected true, false or a list of VM names, found string",
        ),
    ] {
        let e = parse(&format!("{vms}{}", world("w", line)), Path::new("")).unwrap_err();
        assert_eq!(e.to_string(), message, "{line}");
    }
}

#[test]
fn operations_name_what_a_controlling_world_may_do() {
    use aerie_bootmodule::Operations;
    let ops = |line: &str| {
        let text = with_worlds(&world("w", &format!("control = true\n{line}")));
        parse(&text, Path::new("")).map(|c| c.worlds[0].operations)
    };
    assert_eq!(ops(""), Ok(Operations::ALL));
    assert_eq!(
        ops("operations = [\"halt\", \"button\"]"),
        Ok(Operations(Operations::HALT | Operations::POWER_BUTTON))
    );
    assert_eq!(ops("operations = []"), Ok(Operations(0)));
    let every = "operations = [\"stop\", \"reset\", \"start\", \"halt\", \"reboot\", \"button\"]";
    assert_eq!(ops(every), Ok(Operations::ALL));
    for (line, message) in [
        (
            "operations = [\"halt\", \"shutdown\"]",
            "world[0] (\"w\"): field `operations`: names \"shutdown\", which is not an \
             operation (stop, reset, start, halt, reboot, button)",
        ),
        (
            "operations = \"halt\"",
            "world[0] (\"w\"): field `operations`: expected a list of operation names, found \
             string",
        ),
        (
            "operations = [3]",
            "world[0] (\"w\"): field `operations`: expected a list of operation names, found \
             integer",
        ),
    ] {
        assert_eq!(ops(line).unwrap_err().to_string(), message, "{line}");
    }
    // Operations with nothing to use them on.
    let text = with_worlds(&world("w", "operations = [\"button\"]"));
    assert_eq!(
        parse(&text, Path::new("")).unwrap_err().to_string(),
        "world[0] (\"w\"): field `operations`: lists operations, but the world has no \
         `control` to use them on"
    );
}

#[test]
fn a_control_list_reaches_the_first_32_vms() {
    let vms: String = (0..33)
        .map(|i| vm_with("name", Some(&format!("name = \"v{i}\""))))
        .collect();
    let ok = format!("{vms}{}", world("w", "control = [\"v31\"]"));
    let c = parse(&ok, Path::new("")).unwrap();
    assert_eq!(
        c.world_control(&c.worlds[0]),
        aerie_bootmodule::Control::Listed(1 << 31)
    );
    let past = format!("{vms}{}", world("w", "control = [\"v32\"]"));
    assert_eq!(
        parse(&past, Path::new("")).unwrap_err().to_string(),
        "world[0] (\"w\"): field `control`: names VM \"v32\", but a list may name only the first 32 VMs"
    );
}

#[test]
fn world_missing_fields_and_duplicates() {
    let e = err(&with_worlds("[[world]]\nname = \"w\""));
    assert_eq!(
        (e.field.as_deref(), &e.kind),
        (Some("program"), &ErrorKind::MissingField)
    );
    assert_eq!(
        e.to_string(),
        "world[0] (\"w\"): field `program`: missing (required)"
    );
    let e = err(&with_worlds("[[world]]\nprogram = \"p\""));
    assert_eq!(e.to_string(), "world[0]: field `name`: missing (required)");

    let e = err(&with_worlds(&format!(
        "{}{}{}",
        world("a", ""),
        world("b", ""),
        world("a", "")
    )));
    assert_eq!(e.kind, ErrorKind::DuplicateWorldName { first: 0 });
    assert_eq!(
        e.to_string(),
        "world[2] (\"a\"): field `name`: duplicate name (already used by world[0])"
    );
}

#[test]
fn world_must_be_an_array_of_tables() {
    let e = err(&format!("world = \"x\"\n{}", vm_with("zzz", None)));
    assert_eq!(e.field.as_deref(), Some("world"));
    assert_eq!(
        e.kind,
        ErrorKind::WrongType {
            expected: "an array of tables ([[world]])",
            found: "string",
        }
    );
    let e = err(&format!("world = [1]\n{}", vm_with("zzz", None)));
    assert_eq!(
        e.to_string(),
        "world[0]: field `world`: expected a table ([[world]]), found integer"
    );
    // `world` is a known top-level key now; others still are not.
    let e = err(&format!("worlds = []\n{}", vm_with("zzz", None)));
    assert_eq!(
        (e.field.as_deref(), e.kind),
        (Some("worlds"), ErrorKind::UnknownTopLevel)
    );
}

#[test]
fn at_most_sixteen_worlds() {
    let worlds = |n: usize| -> String { (0..n).map(|i| world(&format!("w{i}"), "")).collect() };
    let c = parse(&with_worlds(&worlds(MAX_WORLDS)), Path::new("")).unwrap();
    assert_eq!(c.worlds.len(), 16);
    let e = err(&with_worlds(&worlds(17)));
    assert_eq!(
        (e.field.as_deref(), &e.kind),
        (Some("world"), &ErrorKind::TooManyWorlds(17))
    );
    assert_eq!(
        e.to_string(),
        "field `world`: 17 [[world]] tables, more than the 16 allowed"
    );
}

#[test]
fn worlds_alone_are_not_a_config() {
    assert_eq!(err(&world("w", "")).kind, ErrorKind::NoVms);
    assert_eq!(
        err(&format!("vm = []\n{}", world("w", ""))).kind,
        ErrorKind::NoVms
    );
}

#[test]
fn check_files_names_a_missing_program() {
    let dir = std::env::temp_dir().join(format!("aerie-vmconfig-world-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Image"), b"k").unwrap();
    std::fs::write(dir.join("w"), b"elf").unwrap();
    let file = dir.join("vm.toml");

    let text = with_worlds(&format!(
        "{}[[world]]\nname = \"watcher\"\nprogram = \"bin/nope\"\n",
        world("ok", "")
    ));
    std::fs::write(&file, &text).unwrap();
    let e = load(&file).unwrap().check_files().unwrap_err();
    assert_eq!(
        (e.field.as_deref(), &e.kind),
        (
            Some("program"),
            &ErrorKind::FileNotFound(dir.join("bin/nope"))
        )
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{}: world[1] (\"watcher\"): field `program`: file not found: {}",
            file.display(),
            dir.join("bin/nope").display()
        )
    );

    std::fs::write(&file, with_worlds(&world("ok", ""))).unwrap();
    load(&file).unwrap().check_files().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn read_programs_refuses_a_file_that_is_not_a_program() {
    let dir = std::env::temp_dir().join(format!("aerie-vmconfig-prog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("w"), [b'x'; 100]).unwrap();
    let file = dir.join("vm.toml");
    std::fs::write(&file, with_worlds(&world("ok", ""))).unwrap();
    let e = load(&file).unwrap().read_programs().unwrap_err();
    assert_eq!(e.field.as_deref(), Some("program"));
    assert!(
        matches!(&e.kind, ErrorKind::NotAProgram(p) if p.path == dir.join("w")),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "{}: world[0] (\"ok\"): field `program`: ",
            file.display()
        )) && text.contains("is not a user-world program: not an ELF file"),
        "{text}"
    );
    // No worlds, nothing to read.
    std::fs::write(&file, with_worlds("")).unwrap();
    assert!(load(&file).unwrap().read_programs().unwrap().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn network_cards_default_their_address_and_refuse_bad_ones() {
    let two = |a: &str, b: &str| {
        format!(
            "[[vm]]\nname = \"a\"\nvcpus = 1\nmemory = \"64M\"\nkernel = \"I\"\n{a}\n\
             [[vm]]\nname = \"b\"\nvcpus = 1\nmemory = \"64M\"\nkernel = \"I\"\n{b}\n"
        )
    };
    let c = parse(
        &two("[vm.net]", "[vm.net]\nmac = \"02:00:00:00:00:2a\""),
        Path::new(""),
    )
    .unwrap();
    let mac = |c: &crate::Config, i: usize| c.vms[i].net.as_ref().map(|n| n.mac);
    assert_eq!(mac(&c, 0), Some([0x52, 0x54, 0, 0xae, 0, 1]));
    assert_eq!(mac(&c, 1), Some([2, 0, 0, 0, 0, 0x2a]));
    let net = c.vms[0].net.as_ref().unwrap();
    assert_eq!((net.network.as_str(), net.uplink), ("default", true));
    let c = parse(&two("", "[vm.net]"), Path::new("")).unwrap();
    assert_eq!(c.vms[0].net, None);
    assert_eq!(mac(&c, 1), Some([0x52, 0x54, 0, 0xae, 0, 2]), "by position");

    let e = err(&two("[vm.net]\nmac = \"52:54:00:ae:00:02\"", "[vm.net]"));
    assert_eq!(e.field.as_deref(), Some("net.mac"));
    assert_eq!(
        e.to_string(),
        "vm[1] (\"b\"): field `net.mac`: address already used by vm[0] (\"a\")"
    );
    let e =
        err(&vm_with("net", Some("[net]\nmac = \"01:00:5e:00:00:01\""))
            .replace("[net]", "[vm.net]"));
    assert_eq!(e.field.as_deref(), Some("net.mac"));
    assert!(e.to_string().contains("first octet even"), "{e}");
    let e = err(&vm_with("net", Some("[vm.net]\nspeed = 10")));
    assert_eq!(
        (e.field.as_deref(), e.kind),
        (Some("net.speed"), ErrorKind::UnknownNetField)
    );
    let e = err(&vm_with("net", Some("net = true")));
    assert_eq!(e.field.as_deref(), Some("net"));
    let e = err(&vm_with("net", Some("[vm.net]\nmac = 42")));
    assert_eq!(e.field.as_deref(), Some("net.mac"));
    let e = err(&vm_with("net", Some("[vm.net]\nnetwork = \"two words\"")));
    assert_eq!(e.field.as_deref(), Some("net.network"));
    let e = err(&vm_with("net", Some("[vm.net]\nuplink = \"no\"")));
    assert_eq!(e.field.as_deref(), Some("net.uplink"));
}

#[test]
fn networks_are_numbered_in_order_of_first_mention() {
    let vm = |name: &str, net: &str| {
        format!("[[vm]]\nname = \"{name}\"\nvcpus = 1\nmemory = \"64M\"\nkernel = \"I\"\n{net}\n")
    };
    let text = [
        vm("a", "[vm.net]\nnetwork = \"lab\"\nuplink = false"),
        vm("b", ""),
        vm("c", "[vm.net]"),
        vm("d", "[vm.net]\nnetwork = \"lab\""),
    ]
    .concat();
    let c = parse(&text, Path::new("")).unwrap();
    let card = |i| c.net_card(i).map(|n| (n.network, n.uplink));
    assert_eq!(card(0), Some((0, false)));
    assert_eq!(card(1), None);
    assert_eq!(card(2), Some((1, true)), "\"default\" is the second named");
    assert_eq!(card(3), Some((0, true)));
    assert_eq!(c.net_card(9), None);
}
