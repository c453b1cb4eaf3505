//! One pass over an OVA: every entry's layout checked, every byte hashed
//! once as it is read, the descriptor and manifest kept, chosen files copied
//! into a directory the caller owns. Nothing is written anywhere else.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::digest::{copy_hashed, BUF};
use crate::ova::unsafe_name;
use crate::ovf::{self, Descriptor};
use crate::problem::Problems;
use crate::progress::Progress;

/// The largest descriptor or manifest read into memory.
pub const TEXT_MAX: u64 = 16 << 20;

/// A regular, safely named member.
#[derive(Clone, Debug)]
pub struct Member {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// What one pass found.
#[derive(Default)]
pub struct Scan {
    /// Safe, regular, first-seen members in tar order.
    pub members: Vec<Member>,
    pub ovf_name: Option<String>,
    pub ovf_text: Option<String>,
    pub descriptor: Option<Descriptor>,
    pub mf_name: Option<String>,
    pub mf_text: Option<String>,
    /// Copies made (member name -> path), see [`scan`].
    pub extracted: Vec<(String, PathBuf)>,
}

impl Scan {
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    pub fn extracted(&self, name: &str) -> Option<&Path> {
        self.extracted
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.as_path())
    }
}

/// Where to copy a member: `dest(descriptor so far, name)` returns the path to
/// create, or `None` to only hash it.
pub type Dest<'a> = &'a dyn Fn(Option<&Descriptor>, &str) -> Option<PathBuf>;

/// Called after each member is read (and copied, if `dest` chose to), with
/// what the pass has found so far and the member's name: lets the caller
/// start work on a member while the rest of the package is read.
pub type AfterMember<'a> = &'a mut dyn FnMut(&Scan, &str);

/// Reads `ova` once. `dest` says which members to copy where (it sees only
/// already checked, plain names; the files are created new, never
/// overwritten, never through links). Layout problems go to `problems`.
pub fn scan(
    ova: &Path,
    dest: Dest<'_>,
    after: AfterMember<'_>,
    progress: bool,
    problems: &mut Problems,
) -> Result<Scan> {
    let file = File::open(ova).with_context(|| format!("opening {}", ova.display()))?;
    let total = file.metadata()?.len();
    let bar = Progress::bytes(progress, "reading", total);
    let mut archive = tar::Archive::new(BufReader::with_capacity(BUF, file));
    let mut s = Scan::default();
    let mut seen = HashSet::new();
    let entries = archive.entries().context("reading the tar")?;
    for (index, entry) in entries.enumerate() {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                problems.add(format!("the tar is damaged after {index} entries: {e}"));
                break;
            }
        };
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            let what = match kind {
                tar::EntryType::Symlink => "a symbolic link",
                tar::EntryType::Link => "a hard link",
                tar::EntryType::Directory => "a directory",
                tar::EntryType::Char | tar::EntryType::Block => "a device",
                tar::EntryType::Fifo => "a FIFO",
                _ => "not a regular file",
            };
            let target = entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned());
            let detail = match target {
                Some(t) if unsafe_name(&t).is_some() && !t.is_empty() => {
                    format!(" to `{t}`, which leaves the package directory")
                }
                Some(t) if !t.is_empty() => format!(" to `{t}`"),
                _ => String::new(),
            };
            problems.add(format!(
                "tar entry `{name}` is {what}{detail}; only regular files are allowed"
            ));
            continue;
        }
        if let Some(why) = unsafe_name(&name) {
            problems.add(format!("tar entry `{name}` {why}"));
            continue;
        }
        if !seen.insert(name.clone()) {
            problems.add(format!("tar entry `{name}` appears more than once"));
            continue;
        }
        let is_ovf = name.ends_with(".ovf") && s.ovf_name.is_none();
        let is_mf = name.ends_with(".mf") && s.mf_name.is_none();
        match (index, is_ovf, is_mf) {
            (0, false, _) => problems.add(format!(
                "the first tar entry is `{name}`, not the .ovf descriptor"
            )),
            (1, _, false) => problems.add(format!(
                "the second tar entry is `{name}`, not the .mf manifest"
            )),
            (i, true, _) if i != 0 => problems.add(format!(
                "the descriptor `{name}` is not the first tar entry"
            )),
            (i, _, true) if i != 1 => {
                problems.add(format!("the manifest `{name}` is not the second tar entry"))
            }
            _ => {}
        }
        let header_size = entry.header().size().unwrap_or(0);
        let member = if is_ovf || is_mf {
            let mut buf = Vec::new();
            let (n, sha256) =
                copy_hashed(&mut (&mut entry).take(TEXT_MAX + 1), Some(&mut buf), &bar)
                    .with_context(|| format!("reading {name}"))?;
            if n > TEXT_MAX {
                problems.add(format!("`{name}` is larger than {TEXT_MAX} bytes"));
                continue;
            }
            let text = match String::from_utf8(buf) {
                Ok(t) => t,
                Err(_) => {
                    problems.add(format!("`{name}` is not UTF-8"));
                    String::new()
                }
            };
            if is_ovf {
                match ovf::parse(&text) {
                    Ok(d) => s.descriptor = Some(d),
                    Err(e) => {
                        problems.add(format!("the descriptor `{name}` cannot be read: {e:#}"))
                    }
                }
                s.ovf_name = Some(name.clone());
                s.ovf_text = Some(text);
            } else {
                s.mf_name = Some(name.clone());
                s.mf_text = Some(text);
            }
            Member {
                name: name.clone(),
                size: n,
                sha256,
            }
        } else if let Some(path) = dest(s.descriptor.as_ref(), &name) {
            let mut out = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            let (n, sha256) = copy_hashed(&mut entry, Some(&mut out as &mut dyn Write), &bar)
                .with_context(|| format!("reading {name}"))?;
            out.flush()?;
            s.extracted.push((name.clone(), path));
            Member {
                name: name.clone(),
                size: n,
                sha256,
            }
        } else {
            let (n, sha256) =
                copy_hashed(&mut entry, None, &bar).with_context(|| format!("reading {name}"))?;
            Member {
                name: name.clone(),
                size: n,
                sha256,
            }
        };
        if member.size != header_size {
            problems.add(format!("tar entry `{name}` is truncated"));
        }
        s.members.push(member);
        after(&s, &name);
    }
    Ok(s)
}
