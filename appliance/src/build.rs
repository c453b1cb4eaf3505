//! `build`: spec -> system disk -> VMDKs -> descriptor + manifest -> OVA.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};

use crate::arch::Arch;
use crate::bootcfg::{self, BootCfg};
use crate::digest::copy_hashed;
use crate::esp::{self, EspFile, Source};
use crate::manifest::Manifest;
use crate::ova::{self, Member};
use crate::ovf::{self, Config, Descriptor, Disk, FileRef, VMDK_STREAM};
use crate::progress::Progress;
use crate::{qemu_img, spec};

/// What `build` made.
#[derive(Clone, Debug)]
pub struct BuildReport {
    pub ova: PathBuf,
    /// Size of the OVA in bytes.
    pub ova_bytes: u64,
    /// The members after the descriptor and manifest: (name, bytes).
    pub files: Vec<(String, u64)>,
    pub archs: Vec<Arch>,
    /// The system disk's virtual size.
    pub system_disk_bytes: u64,
    pub elapsed: Duration,
}

/// The default directory of the boot manager binaries: `$AERIE_EFI_DIR`, else
/// `target/aerie/efi` under the current directory.
pub fn default_efi_dir() -> PathBuf {
    std::env::var_os("AERIE_EFI_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/aerie/efi"))
}

/// Builds `out` (an .ova) from the spec at `spec_path`, taking BOOTAA64.EFI and
/// BOOTX64.EFI from `efi_dir`. Temporary files go to a private directory next
/// to `out` and are removed.
pub fn build(spec_path: &Path, out: &Path, efi_dir: &Path, progress: bool) -> Result<BuildReport> {
    let start = Instant::now();
    let spec = spec::load(spec_path)?;
    let efi: Vec<(Arch, PathBuf)> = Arch::ALL
        .iter()
        .map(|&a| (a, efi_dir.join(a.efi_boot_file())))
        .collect();
    for (a, p) in &efi {
        ensure!(
            p.is_file(),
            "the {a} boot manager {} is missing (build it, or pass --efi-dir / set AERIE_EFI_DIR)",
            p.display()
        );
    }
    let out_dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let work = tempfile::Builder::new()
        .prefix(".aerie-appliance-")
        .tempdir_in(&out_dir)
        .with_context(|| format!("creating a temp dir in {}", out_dir.display()))?;
    let w = work.path();

    // The system disk.
    let mut files: Vec<EspFile<'_>> = efi
        .iter()
        .map(|(a, p)| EspFile {
            path: bootcfg::efi_boot_path(*a),
            source: Source::File(p),
        })
        .collect();
    let mut entries = Vec::new();
    for a in &spec.archs {
        let cfg = BootCfg::standard(&spec.name, a.arch, a.initrd.is_some(), &a.cmdline);
        files.push(EspFile {
            path: bootcfg::kernel_path(a.arch),
            source: Source::File(&a.kernel),
        });
        if let Some(i) = &a.initrd {
            files.push(EspFile {
                path: bootcfg::initrd_path(a.arch),
                source: Source::File(i),
            });
        }
        files.push(EspFile {
            path: bootcfg::boot_cfg_path(a.arch),
            source: Source::Bytes(cfg.render().into_bytes()),
        });
        entries.push((cfg, a.cpus, a.memory));
    }
    files.push(EspFile {
        path: bootcfg::APPLIANCE_TOML.into(),
        source: Source::Bytes(
            bootcfg::appliance_toml(&spec.name, spec.version.as_deref(), &entries).into_bytes(),
        ),
    });
    let system_raw = w.join("system.img");
    let system_disk_bytes = esp::build(&system_raw, &files).context("building the system disk")?;

    // Disks: (disk id, file id, href, raw source).
    let mut disks = vec![(
        ovf::SYSTEM_DISK.to_string(),
        "file-system".to_string(),
        format!("{}-system.vmdk", spec.name),
        system_raw.clone(),
    )];
    let mut configs = Vec::new();
    for a in &spec.archs {
        let mut ids = vec![ovf::SYSTEM_DISK.to_string()];
        for (n, d) in a.disks.iter().enumerate() {
            let n = n + 1;
            let id = format!("{}-disk{n}", a.arch);
            disks.push((
                id.clone(),
                format!("file-{}-{n}", a.arch),
                format!("{}-{}-disk{n}.vmdk", spec.name, a.arch),
                d.clone(),
            ));
            ids.push(id);
        }
        configs.push(Config {
            arch: a.arch,
            cpus: a.cpus,
            memory: a.memory,
            cmdline: a.cmdline.clone(),
            disks: ids,
            network: a.network,
        });
    }
    let mut desc = Descriptor {
        name: spec.name.clone(),
        version: spec.version.clone(),
        description: spec.description.clone(),
        files: vec![],
        disks: vec![],
        configs,
    };
    let mut manifest_tail = Vec::new();
    let mut vmdks = Vec::new();
    for (disk_id, file_id, href, raw) in &disks {
        let vmdk = w.join(href);
        qemu_img::raw_to_vmdk(raw, &vmdk, progress)
            .with_context(|| format!("converting {}", raw.display()))?;
        let capacity = qemu_img::virtual_size(&vmdk, "vmdk")?;
        let size = std::fs::metadata(&vmdk)?.len();
        let bar = Progress::bytes(progress, "hashing", size);
        let (_, digest) = copy_hashed(&mut File::open(&vmdk)?, None, &bar)
            .with_context(|| format!("hashing {}", vmdk.display()))?;
        drop(bar);
        desc.files.push(FileRef {
            id: file_id.clone(),
            href: href.clone(),
            size,
        });
        desc.disks.push(Disk {
            id: disk_id.clone(),
            file_ref: file_id.clone(),
            capacity,
            format: VMDK_STREAM.into(),
        });
        manifest_tail.push((href.clone(), digest));
        vmdks.push((href.clone(), vmdk));
    }
    let ovf_name = format!("{}.ovf", spec.name);
    let mf_name = format!("{}.mf", spec.name);
    let ovf_text = ovf::render(&desc);
    let mut mf = Manifest::default();
    mf.push(&ovf_name, &crate::digest::sha256_hex(ovf_text.as_bytes()));
    for (f, d) in &manifest_tail {
        mf.push(f, d);
    }
    let mf_text = mf.render();
    let mut members = vec![
        Member::Bytes(&ovf_name, ovf_text.as_bytes()),
        Member::Bytes(&mf_name, mf_text.as_bytes()),
    ];
    for (href, path) in &vmdks {
        members.push(Member::File(href, path));
    }
    // Pack into the temp dir, then rename: no half-written OVA under `out`.
    let tmp_out = w.join("out.ova");
    ova::pack(&tmp_out, &members, progress)?;
    std::fs::rename(&tmp_out, out)
        .with_context(|| format!("moving the OVA to {}", out.display()))?;
    Ok(BuildReport {
        ova: out.to_path_buf(),
        ova_bytes: std::fs::metadata(out)?.len(),
        files: desc
            .files
            .iter()
            .map(|f| (f.href.clone(), f.size))
            .collect(),
        archs: spec.archs.iter().map(|a| a.arch).collect(),
        system_disk_bytes,
        elapsed: start.elapsed(),
    })
}
