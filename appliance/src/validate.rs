//! `validate`: the package checked end to end, one [`Problem`] per finding.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::arch::Arch;
use crate::bootcfg::{self, BootCfg};
use crate::esp::Esp;
use crate::manifest::Manifest;
use crate::ovf::{Descriptor, VMDK_STREAM};
use crate::problem::{Problem, Problems};
use crate::scan::{scan, Dest, Scan};
use crate::{qemu_img, schema};

/// The result of checking a package.
pub struct Checked {
    pub scan: Scan,
    pub problems: Vec<Problem>,
    /// The system disk as a raw image in the scratch directory, if it could be made.
    pub system_raw: Option<PathBuf>,
}

/// Validates an OVA. `Ok(problems)`: empty means valid. `Err` only when the
/// package cannot be read at all or the private temp dir cannot be made.
pub fn validate(ova: &Path, progress: bool) -> Result<Vec<Problem>> {
    let scratch = tempfile::tempdir().context("creating a temp dir")?;
    Ok(check(ova, scratch.path(), &|_, _| None, progress)?.problems)
}

/// Validates, writing only into `scratch` (the descriptor, the system disk and
/// its raw conversion) and wherever `extra` says (other members).
///
/// The package is read once. The checks that need more than the bytes (the
/// schema check with xmllint, the system disk's conversion and its EFI System
/// Partition) run on their own threads as soon as their member has been
/// read, beside the hashing of the members that follow (the extra disks,
/// the bulk of a large package), so validation costs about one read.
pub fn check(ova: &Path, scratch: &Path, extra: Dest<'_>, progress: bool) -> Result<Checked> {
    let mut p = Problems::default();
    let dest = |d: Option<&Descriptor>, name: &str| -> Option<PathBuf> {
        if d.and_then(|d| d.system_file())
            .is_some_and(|f| f.href == name)
        {
            Some(scratch.join(format!("system-{name}")))
        } else {
            extra(d, name)
        }
    };
    std::thread::scope(|threads| -> Result<Checked> {
        let mut schema_job = None;
        let mut esp_job = None;
        let mut after = |s: &Scan, name: &str| {
            if schema_job.is_none() && s.ovf_name.as_deref() == Some(name) {
                if let Some(text) = s.ovf_text.clone() {
                    schema_job = Some(threads.spawn(move || {
                        let mut p = Problems::default();
                        check_schema(&text, scratch, &mut p).map(|()| p)
                    }));
                }
            }
            let system = s
                .descriptor
                .as_ref()
                .and_then(|d| Some((d, d.system_file()?)));
            if let (None, Some((d, f))) = (&esp_job, system) {
                if f.href == name {
                    if let Some(vmdk) = s.extracted(name) {
                        let (vmdk, d) = (vmdk.to_path_buf(), d.clone());
                        esp_job = Some(threads.spawn(move || system_disk(&vmdk, &d, scratch)));
                    }
                }
            }
        };
        let s = scan(ova, &dest, &mut after, progress, &mut p)?;
        check_ovf_and_mf_present(&s, &mut p);
        check_manifest(&s, &mut p);
        if let Some(d) = &s.descriptor {
            check_references(&s, d, &mut p);
            check_descriptor(d, &mut p);
        }
        if let Some(job) = schema_job {
            let found = job.join().expect("the schema check does not panic")?;
            p.0.extend(found.0);
        }
        let mut system_raw = None;
        if let Some(job) = esp_job {
            let (raw, found) = job.join().expect("the system disk check does not panic");
            system_raw = raw;
            p.0.extend(found.0);
        }
        Ok(Checked {
            scan: s,
            problems: p.0,
            system_raw,
        })
    })
}

/// The system disk (streamOptimized VMDK at `vmdk`) converted to raw in
/// `scratch`, and its EFI System Partition checked for every configuration.
fn system_disk(vmdk: &Path, d: &Descriptor, scratch: &Path) -> (Option<PathBuf>, Problems) {
    let mut p = Problems::default();
    let href = d.system_file().map(|f| f.href.clone()).unwrap_or_default();
    match to_raw(vmdk, scratch) {
        Ok(raw) => {
            check_esp(&raw, d, &mut p);
            (Some(raw), p)
        }
        Err(e) => {
            p.add(format!("the system disk `{href}` cannot be read: {e:#}"));
            (None, p)
        }
    }
}

fn check_ovf_and_mf_present(s: &Scan, p: &mut Problems) {
    match (&s.ovf_name, &s.mf_name) {
        (None, _) => p.add("the package has no .ovf descriptor"),
        (Some(_), None) => p.add("the package has no .mf manifest"),
        (Some(o), Some(m)) => {
            if o.strip_suffix(".ovf") != m.strip_suffix(".mf") {
                p.add(format!(
                    "the manifest `{m}` is not named after the descriptor `{o}`"
                ));
            }
        }
    }
}

fn check_manifest(s: &Scan, p: &mut Problems) {
    let (Some(mf_name), Some(text)) = (&s.mf_name, &s.mf_text) else {
        return;
    };
    let m = match Manifest::parse(text) {
        Ok(m) => m,
        Err(e) => return p.add(format!("the manifest `{mf_name}` cannot be read: {e:#}")),
    };
    for (file, digest) in &m.entries {
        match s.member(file) {
            None => p.add(format!("the manifest lists `{file}`, which is not in the package")),
            Some(member) if &member.sha256 != digest => p.add(format!(
                "digest mismatch for `{file}`: the manifest says SHA256 {digest}, the content is {}",
                member.sha256
            )),
            Some(_) => {}
        }
    }
    for member in &s.members {
        if &member.name != mf_name && m.get(&member.name).is_none() {
            p.add(format!(
                "`{}` is in the package but not in the manifest",
                member.name
            ));
        }
    }
}

fn check_references(s: &Scan, d: &Descriptor, p: &mut Problems) {
    for f in &d.files {
        match s.member(&f.href) {
            None => p.add(format!(
                "`{}` (File {}) is referenced by the descriptor but missing from the package",
                f.href, f.id
            )),
            Some(m) if m.size != f.size => p.add(format!(
                "`{}`: the descriptor declares ovf:size {} but the file has {} bytes",
                f.href, f.size, m.size
            )),
            Some(_) => {}
        }
    }
    for m in &s.members {
        let ours = Some(&m.name) == s.ovf_name.as_ref() || Some(&m.name) == s.mf_name.as_ref();
        if !ours && !d.files.iter().any(|f| f.href == m.name) {
            p.add(format!(
                "`{}` is in the package but not referenced by the descriptor",
                m.name
            ));
        }
    }
    // Files after the .ovf and .mf must follow References order.
    let order: Vec<usize> = s
        .members
        .iter()
        .filter_map(|m| d.files.iter().position(|f| f.href == m.name))
        .collect();
    if order.windows(2).any(|w| w[0] > w[1]) {
        p.add("the disk files are not in the descriptor's References order");
    }
}

fn check_descriptor(d: &Descriptor, p: &mut Problems) {
    if d.configs.is_empty() {
        p.add("the descriptor has no architecture configuration (aerie:ArchitectureSection)");
    }
    if d.system_file().is_none() {
        p.add("the descriptor has no system disk (Disk `system` with a File)");
    }
    for k in &d.disks {
        if d.file(&k.file_ref).is_none() {
            p.add(format!(
                "Disk `{}` names File `{}`, which References does not have",
                k.id, k.file_ref
            ));
        }
        if k.format != VMDK_STREAM {
            p.add(format!(
                "Disk `{}` has format `{}`, not streamOptimized VMDK",
                k.id, k.format
            ));
        }
    }
    for c in &d.configs {
        for id in &c.disks {
            if d.disk(id).is_none() {
                p.add(format!(
                    "the {} configuration uses disk `{id}`, which DiskSection does not have",
                    c.arch
                ));
            }
        }
    }
}

fn check_schema(text: &str, scratch: &Path, p: &mut Problems) -> Result<()> {
    let ovf = scratch.join("descriptor.ovf");
    std::fs::write(&ovf, text).with_context(|| format!("writing {}", ovf.display()))?;
    match schema::check(&ovf, scratch) {
        Ok(lines) => {
            for l in lines {
                p.add(format!("the descriptor fails the OVF 2 schema: {l}"));
            }
        }
        Err(e) => p.add(format!(
            "cannot check the descriptor against the OVF schema: {e:#}"
        )),
    }
    Ok(())
}

fn to_raw(vmdk: &Path, scratch: &Path) -> Result<PathBuf> {
    qemu_img::check_vmdk_self_contained(vmdk)?;
    let raw = scratch.join("system.raw");
    // No progress bar: this runs beside the read, which has one.
    qemu_img::convert(vmdk, "vmdk", &raw, "raw", &[], false)?;
    Ok(raw)
}

/// Largest boot.cfg read.
const BOOT_CFG_MAX: u64 = 64 * 1024;

fn check_esp(raw: &Path, d: &Descriptor, p: &mut Problems) {
    let esp = match Esp::open(raw) {
        Ok(e) => e,
        Err(e) => {
            return p.add(format!(
                "the system disk has no readable EFI System Partition: {e:#}"
            ))
        }
    };
    for c in &d.configs {
        for problem in boot_path_problems(&esp, c.arch, &d.name) {
            p.add(format!(
                "the system partition cannot boot {}: {problem}",
                c.arch
            ));
        }
    }
}

/// What is missing for `arch` to boot from this ESP.
pub fn boot_path_problems(esp: &Esp, arch: Arch, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let efi = bootcfg::efi_boot_path(arch);
    if !esp.exists(&efi) {
        out.push(format!("/{efi} is missing"));
    }
    let cfg_path = bootcfg::boot_cfg_path(arch);
    let cfg = match esp.read(&cfg_path, BOOT_CFG_MAX) {
        Ok(bytes) => match String::from_utf8(bytes)
            .map_err(anyhow::Error::from)
            .and_then(|t| BootCfg::parse(&t))
        {
            Ok(c) => c,
            Err(e) => {
                out.push(format!("/{cfg_path} is invalid: {e:#}"));
                return out;
            }
        },
        Err(_) => {
            out.push(format!("/{cfg_path} is missing"));
            return out;
        }
    };
    if cfg.arch != arch {
        out.push(format!("/{cfg_path} says arch={}", cfg.arch));
    }
    if cfg.name != name {
        out.push(format!(
            "/{cfg_path} names appliance `{}`, the descriptor `{name}`",
            cfg.name
        ));
    }
    for (what, path) in std::iter::once(("kernel", Some(&cfg.kernel)))
        .chain(std::iter::once(("initrd", cfg.initrd.as_ref())))
    {
        let Some(path) = path else { continue };
        match bootcfg::esp_path(path) {
            Some(p) if esp.exists(&p) => {}
            Some(p) => out.push(format!("the {what} /{p} named by /{cfg_path} is missing")),
            None => out.push(format!(
                "/{cfg_path}: {what} `{path}` is not an absolute UEFI path"
            )),
        }
    }
    out
}
