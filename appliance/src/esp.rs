//! The system disk: a GPT disk with one EFI System Partition (FAT16/FAT32),
//! built and read in Rust (the `gpt` and `fatfs` crates), no loop mounts.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

use crate::partio::Slice;

const MIB: u64 = 1 << 20;
const SECTOR: u64 = 512;
/// The partition starts here (1 MiB aligned, as every partitioning tool does).
pub const PART_START: u64 = MIB;
/// Smallest partition: large enough that fatfs formats FAT16, never FAT12.
pub const PART_MIN: u64 = 8 * MIB;
/// The GPT partition name.
pub const PART_NAME: &str = "EFI System";

/// Where a file's bytes come from.
pub enum Source<'a> {
    Bytes(Vec<u8>),
    File(&'a Path),
}

/// One file to put on the ESP (`path` `/`-separated, relative to the root).
pub struct EspFile<'a> {
    pub path: String,
    pub source: Source<'a>,
}

impl EspFile<'_> {
    fn len(&self) -> Result<u64> {
        Ok(match &self.source {
            Source::Bytes(b) => b.len() as u64,
            Source::File(p) => std::fs::metadata(p)
                .with_context(|| p.display().to_string())?
                .len(),
        })
    }
}

/// The partition size for files totalling these sizes: each file rounded up to
/// the largest cluster, plus directories, FATs and 10% + 4 MiB slack, 1 MiB aligned.
pub fn partition_size(file_sizes: impl IntoIterator<Item = u64>) -> u64 {
    let mut total = 0u64;
    let mut n = 0u64;
    for s in file_sizes {
        total += s.div_ceil(32 * 1024) * 32 * 1024;
        n += 1;
    }
    let want = total + total / 10 + n * 64 * 1024 + 4 * MIB;
    want.div_ceil(MIB).max(PART_MIN / MIB) * MIB
}

/// Writes a GPT disk with one ESP holding `files` to `out` (created or truncated).
/// Returns the disk size in bytes.
pub fn build(out: &Path, files: &[EspFile<'_>]) -> Result<u64> {
    let sizes = files.iter().map(|f| f.len()).collect::<Result<Vec<_>>>()?;
    let part_len = partition_size(sizes);
    // 1 MiB before the partition, 1 MiB after it (backup GPT needs 33 sectors).
    let disk_len = PART_START + part_len + MIB;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(out)
        .with_context(|| format!("creating {}", out.display()))?;
    file.set_len(disk_len)?;
    write_gpt(file.try_clone()?, disk_len, part_len).context("writing the GPT")?;
    let part = Slice::new(file, PART_START, part_len)?;
    format_and_fill(part, files).context("writing the FAT file system")?;
    Ok(disk_len)
}

fn write_gpt(mut file: File, disk_len: u64, part_len: u64) -> Result<()> {
    let lbas = disk_len / SECTOR;
    let mbr = gpt::mbr::ProtectiveMBR::with_lb_size(u32::try_from(lbas - 1).unwrap_or(u32::MAX));
    mbr.overwrite_lba0(&mut file)?;
    let mut disk = gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(gpt::disk::LogicalBlockSize::Lb512)
        .create_from_device(file, None)?;
    disk.add_partition_at(
        PART_NAME,
        1,
        PART_START / SECTOR,
        part_len / SECTOR,
        gpt::partition_types::EFI,
        0,
    )?;
    let mut file = disk.write()?;
    file.flush()?;
    Ok(())
}

fn format_and_fill(mut part: Slice<File>, files: &[EspFile<'_>]) -> Result<()> {
    fatfs::format_volume(
        &mut part,
        fatfs::FormatVolumeOptions::new().volume_label(*b"AERIE ESP  "),
    )?;
    part.seek(SeekFrom::Start(0))?;
    let fs = fatfs::FileSystem::new(part, fatfs::FsOptions::new())?;
    for f in files {
        let (dir_path, name) = match f.path.rsplit_once('/') {
            Some((d, n)) => (Some(d), n),
            None => (None, f.path.as_str()),
        };
        let mut dir = fs.root_dir();
        if let Some(d) = dir_path {
            for comp in d.split('/') {
                dir = dir
                    .create_dir(comp)
                    .with_context(|| format!("creating /{d}"))?;
            }
        }
        let mut out = dir
            .create_file(name)
            .with_context(|| format!("creating /{}", f.path))?;
        out.truncate()?;
        match &f.source {
            Source::Bytes(b) => out.write_all(b)?,
            Source::File(p) => {
                let mut src = File::open(p).with_context(|| format!("opening {}", p.display()))?;
                io::copy(&mut src, &mut out)
                    .with_context(|| format!("copying {} to /{}", p.display(), f.path))?;
            }
        }
        out.flush()?;
    }
    fs.unmount()?;
    Ok(())
}

/// An ESP found on a raw GPT disk image, opened read-only.
pub struct Esp {
    fs: fatfs::FileSystem<Slice<File>>,
    /// Byte offset of the partition on the disk.
    pub offset: u64,
    /// Partition length in bytes.
    pub len: u64,
}

/// A file on the ESP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EspEntry {
    /// `/`-separated, relative to the root, as stored (case kept).
    pub path: String,
    pub size: u64,
}

impl Esp {
    /// Opens the EFI System Partition of a raw GPT disk image.
    pub fn open(disk: &Path) -> Result<Esp> {
        let file = File::open(disk).with_context(|| format!("opening {}", disk.display()))?;
        let gpt = gpt::GptConfig::new()
            .writable(false)
            .logical_block_size(gpt::disk::LogicalBlockSize::Lb512)
            .open_from_device(file.try_clone()?)
            .context("reading the GPT")?;
        let part = gpt
            .partitions()
            .values()
            .find(|p| p.part_type_guid == gpt::partition_types::EFI)
            .context("the GPT has no EFI System Partition")?;
        let offset = part.first_lba * SECTOR;
        let len = (part.last_lba + 1 - part.first_lba) * SECTOR;
        ensure!(
            offset + len <= file.metadata()?.len(),
            "the EFI System Partition runs past the end of the disk"
        );
        let slice = Slice::new(file, offset, len)?;
        let fs = fatfs::FileSystem::new(slice, fatfs::FsOptions::new())
            .context("the EFI System Partition holds no FAT file system")?;
        Ok(Esp { fs, offset, len })
    }

    /// `FAT16` or `FAT32` (or `FAT12`).
    pub fn fat_type(&self) -> &'static str {
        match self.fs.fat_type() {
            fatfs::FatType::Fat12 => "FAT12",
            fatfs::FatType::Fat16 => "FAT16",
            fatfs::FatType::Fat32 => "FAT32",
        }
    }

    /// Every regular file, depth first, in directory order.
    pub fn list(&self) -> Result<Vec<EspEntry>> {
        let mut out = Vec::new();
        let mut stack = vec![(String::new(), self.fs.root_dir())];
        while let Some((prefix, dir)) = stack.pop() {
            let mut subdirs = Vec::new();
            for e in dir.iter() {
                let e = e?;
                let name = e.file_name();
                if name == "." || name == ".." {
                    continue;
                }
                let path = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                if e.is_dir() {
                    subdirs.push((path, e.to_dir()));
                } else {
                    out.push(EspEntry {
                        path,
                        size: e.len(),
                    });
                }
            }
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(out)
    }

    /// Whether a regular file exists (FAT is case-insensitive).
    pub fn exists(&self, path: &str) -> bool {
        self.fs.root_dir().open_file(path).is_ok()
    }

    /// Reads a whole file (at most `limit` bytes, else an error).
    pub fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        let mut f = self
            .fs
            .root_dir()
            .open_file(path)
            .with_context(|| format!("/{path}"))?;
        let mut buf = Vec::new();
        (&mut f)
            .take(limit + 1)
            .read_to_end(&mut buf)
            .with_context(|| format!("reading /{path}"))?;
        if buf.len() as u64 > limit {
            bail!("/{path} is larger than {limit} bytes");
        }
        Ok(buf)
    }

    /// Copies a file to `out` (created; fails if it exists).
    pub fn extract(&self, path: &str, out: &Path) -> Result<u64> {
        let mut f = self
            .fs
            .root_dir()
            .open_file(path)
            .with_context(|| format!("/{path}"))?;
        let mut dst = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(out)
            .with_context(|| format!("creating {}", out.display()))?;
        io::copy(&mut f, &mut dst).with_context(|| format!("extracting /{path}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn have(tool: &str) -> bool {
        let ok = Command::new(tool).arg("--version").output().is_ok()
            || Command::new(tool).arg("-V").output().is_ok();
        if !ok {
            eprintln!("note: `{tool}` is not installed; skipping its check (apt-get install mtools gdisk)");
        }
        ok
    }

    fn sample(dir: &Path) -> std::path::PathBuf {
        let kernel = dir.join("k");
        std::fs::write(&kernel, vec![0x5a; 3 * 1024 * 1024 + 17]).unwrap();
        let files = vec![
            EspFile {
                path: "EFI/BOOT/BOOTAA64.EFI".into(),
                source: Source::Bytes(b"MZaa".to_vec()),
            },
            EspFile {
                path: "EFI/BOOT/BOOTX64.EFI".into(),
                source: Source::Bytes(b"MZx".to_vec()),
            },
            EspFile {
                path: "aerie/aarch64/vmlinuz".into(),
                source: Source::File(&kernel),
            },
            EspFile {
                path: "aerie/aarch64/boot.cfg".into(),
                source: Source::Bytes(b"name=a\n".to_vec()),
            },
        ];
        let img = dir.join("disk.img");
        let len = build(&img, &files).unwrap();
        assert_eq!(len % MIB, 0);
        img
    }

    #[test]
    fn read_back_with_fatfs() {
        let t = tempfile::tempdir().unwrap();
        let img = sample(t.path());
        let esp = Esp::open(&img).unwrap();
        assert_eq!(esp.offset, PART_START);
        assert_eq!(esp.len % MIB, 0);
        assert!(matches!(esp.fat_type(), "FAT16" | "FAT32"));
        let list = esp.list().unwrap();
        let names: Vec<_> = list.iter().map(|e| (e.path.as_str(), e.size)).collect();
        assert_eq!(
            names,
            [
                ("EFI/BOOT/BOOTAA64.EFI", 4),
                ("EFI/BOOT/BOOTX64.EFI", 3),
                ("aerie/aarch64/vmlinuz", 3 * 1024 * 1024 + 17),
                ("aerie/aarch64/boot.cfg", 7),
            ]
        );
        assert_eq!(
            esp.read("aerie/aarch64/boot.cfg", 100).unwrap(),
            b"name=a\n"
        );
        assert!(esp.exists("efi/boot/bootx64.efi"));
        assert!(!esp.exists("aerie/x86_64/boot.cfg"));
    }

    #[test]
    fn read_back_with_mtools() {
        if !have("mdir") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let img = sample(t.path());
        let target = format!("{}@@{}", img.display(), PART_START);
        let out = Command::new("mdir")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-i", &target, "::/EFI/BOOT"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "mdir: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("BOOTAA64 EFI") || text.contains("BOOTAA64.EFI"),
            "{text}"
        );
        assert!(
            text.contains("BOOTX64  EFI") || text.contains("BOOTX64.EFI"),
            "{text}"
        );
        let out = Command::new("mtype")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-i", &target, "::/aerie/aarch64/boot.cfg"])
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"name=a\n");
    }

    #[test]
    fn read_back_with_sgdisk() {
        if !have("sgdisk") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let img = sample(t.path());
        let out = Command::new("sgdisk").arg("-p").arg(&img).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "sgdisk: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // One partition, number 1, from sector 2048, type EF00 (EFI system partition).
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("1 "))
            .expect(&text);
        let cols: Vec<_> = line.split_whitespace().collect();
        assert_eq!(cols[1], "2048", "{text}");
        assert_eq!(cols[5], "EF00", "{text}");
        assert!(!text.contains("Problem"), "{text}");
        let v = Command::new("sgdisk").arg("-v").arg(&img).output().unwrap();
        let vt = String::from_utf8_lossy(&v.stdout);
        assert!(vt.contains("No problems found"), "{vt}");
    }
}
