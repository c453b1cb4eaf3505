//! Debian's `open-vm-tools:arm64` for the Linux guest (issue 5): the
//! programs the backdoor acceptance test runs, `vmware-rpctool`,
//! `vmware-checkvm` and the tools daemon `vmtoolsd` with the service plugins
//! it loads at start, and exactly the shared libraries they need, taken from
//! the unpacked Debian packages in `target/guest-cache/`.
//!
//! The library set is found, not listed: starting from the programs and
//! plugins, every DT_NEEDED name is looked up in the unpacked packages'
//! library directories and its own DT_NEEDED names followed in turn. [`PACKAGES`] only names the
//! packages to fetch; a soname none of them provides is an error that says who
//! needed it, so a Debian update that adds a dependency is caught at build time
//! rather than as a loader failure inside the guest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use object::elf;
use object::read::elf::{Dyn, ElfFile64, FileHeader, ProgramHeader};
use object::Endianness;

use crate::guest_pkgs;

/// The package the tools come from.
pub const TOOLS_PACKAGE: &str = "open-vm-tools";

/// Every Debian arm64 package the tools' DT_NEEDED closure reaches (bookworm,
/// open-vm-tools 2:12.2.0): libc6 for the loader, libc, libm and libresolv;
/// libvmtools.so.0 (in open-vm-tools itself) pulls glib, pcre2 and libtirpc,
/// and libtirpc pulls Kerberos' GSS-API libraries; vmtoolsd's gobject pulls
/// libffi.
pub const PACKAGES: &[&str] = &[
    TOOLS_PACKAGE,
    "libc6",
    "libglib2.0-0",
    "libpcre2-8-0",
    "libtirpc3",
    "libgssapi-krb5-2",
    "libkrb5-3",
    "libk5crypto3",
    "libkrb5support0",
    "libcom-err2",
    "libkeyutils1",
    "libffi8",
];

/// The programs, from `usr/bin` of [`TOOLS_PACKAGE`].
pub const PROGRAMS: &[&str] = &[
    "vmware-rpctool",
    "vmware-checkvm",
    "vmtoolsd",
    "vmware-toolbox-cmd",
];

/// Where vmtoolsd looks for its service ("vmsvc") plugins, in the package and
/// in the guest.
pub const PLUGIN_DIR: &str = "/usr/lib/aarch64-linux-gnu/open-vm-tools/plugins/vmsvc";

/// The vmsvc plugins the guest gets: guest information (the reports vmtoolsd
/// sends), power operations (the state-change capabilities) and time
/// synchronisation (the backdoor's host time). The others need libraries
/// this guest does not carry (libdrm, libudev) or serve features Aerie does
/// not offer (guest customisation, backup, VIX).
pub const PLUGINS: &[&str] = &["libguestInfo.so", "libpowerOps.so", "libtimeSync.so"];

/// Where a program's loader must be (PT_INTERP of every program).
pub const INTERPRETER: &str = "/lib/ld-linux-aarch64.so.1";

/// Where the libraries go in the initramfs: glibc's built-in multiarch search
/// directory, so no ld.so.cache or LD_LIBRARY_PATH is needed.
pub const LIB_DIR: &str = "/lib/aarch64-linux-gnu";

/// Directories of an unpacked package that hold shared libraries.
const PACKAGE_LIB_DIRS: &[&str] = &["lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu"];

/// What a 64-bit ELF file asks the dynamic loader for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dynamic {
    /// PT_INTERP, without its terminating NUL.
    pub interpreter: Option<String>,
    /// DT_NEEDED entries, in file order.
    pub needed: Vec<String>,
}

/// Reads PT_INTERP and the DT_NEEDED entries of a 64-bit ELF file.
pub fn dynamic(bytes: &[u8]) -> Result<Dynamic> {
    let file = ElfFile64::<Endianness>::parse(bytes).context("not a 64-bit ELF file")?;
    let endian = file.endian();
    let header = file.elf_header();
    let mut out = Dynamic::default();
    for ph in header.program_headers(endian, bytes)? {
        if ph.p_type(endian) == elf::PT_INTERP {
            let data = ph
                .data(endian, bytes)
                .map_err(|()| anyhow::anyhow!("PT_INTERP outside the file"))?;
            let name = data.split(|b| *b == 0).next().unwrap_or_default();
            out.interpreter = Some(String::from_utf8_lossy(name).into_owned());
        }
    }
    // DT_NEEDED values are offsets into the dynamic string table, which the
    // SHT_DYNAMIC section links to (every Debian binary keeps its sections).
    let sections = header.sections(endian, bytes)?;
    if let Some((entries, strtab)) = sections.dynamic(endian, bytes)? {
        let strings = sections.strings(endian, bytes, strtab)?;
        for d in entries {
            if d.tag(endian) == elf::DT_NEEDED {
                let name = d
                    .string(endian, strings)
                    .map_err(|e| anyhow::anyhow!("DT_NEEDED name: {e}"))?;
                out.needed.push(String::from_utf8_lossy(name).into_owned());
            }
        }
    }
    Ok(out)
}

/// One file of the closure: its soname (or program name) and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    pub path: PathBuf,
}

/// The DT_NEEDED closure of `roots`: `lookup` finds a soname's file and
/// `needed` lists a file's DT_NEEDED names. Returns the roots first, then the
/// libraries in discovery order, each once; a name `lookup` cannot find is an
/// error naming the file that needed it.
pub fn closure(
    roots: &[Found],
    lookup: impl Fn(&str) -> Option<PathBuf>,
    needed: impl Fn(&Path) -> Result<Vec<String>>,
) -> Result<Vec<Found>> {
    let mut out: Vec<Found> = roots.to_vec();
    let mut seen: BTreeMap<String, ()> = roots.iter().map(|f| (f.name.clone(), ())).collect();
    let mut next = 0;
    while next < out.len() {
        let file = out[next].clone();
        next += 1;
        for name in
            needed(&file.path).with_context(|| format!("reading {}", file.path.display()))?
        {
            if seen.insert(name.clone(), ()).is_some() {
                continue;
            }
            let path = lookup(&name).with_context(|| {
                format!(
                    "{} needs {name}, which none of the packages {PACKAGES:?} provides",
                    file.name
                )
            })?;
            out.push(Found { name, path });
        }
    }
    Ok(out)
}

/// Whether every package is unpacked in the cache.
pub fn present() -> bool {
    PACKAGES.iter().all(|p| guest_pkgs::is_package_unpacked(p))
}

/// Downloads and unpacks whichever package is missing.
pub fn install() -> Result<()> {
    for p in PACKAGES {
        guest_pkgs::ensure_unpacked(p)?;
    }
    Ok(())
}

/// Finds `soname` in the unpacked packages' library directories.
fn lookup(soname: &str) -> Option<PathBuf> {
    PACKAGES.iter().find_map(|p| {
        let dir = guest_pkgs::unpacked_dir(p);
        PACKAGE_LIB_DIRS
            .iter()
            .map(|d| dir.join(d).join(soname))
            .find(|f| f.is_file())
    })
}

/// The files to add to the initramfs: (absolute path, mode, contents), and
/// symlinks (path, target). Symlinks in the packages (`libvmtools.so.0 ->
/// libvmtools.so.0.0.0`) are followed: each library is stored once, under its
/// soname, which is the only name the loader asks for.
pub struct Payload {
    pub files: Vec<(String, u32, Vec<u8>)>,
    pub symlinks: Vec<(String, String)>,
    /// Soname or program name and size, for the build's report.
    pub report: Vec<(String, usize)>,
}

/// Collects the programs, the plugins and their library closure from the
/// cache.
pub fn payload() -> Result<Payload> {
    let pkg = guest_pkgs::unpacked_dir(TOOLS_PACKAGE);
    let bin = pkg.join("usr/bin");
    let plugins = pkg.join(PLUGIN_DIR.trim_start_matches('/'));
    let programs = PROGRAMS.iter().map(|p| Found {
        name: (*p).to_string(),
        path: bin.join(p),
    });
    let roots: Vec<Found> = programs
        .chain(PLUGINS.iter().map(|p| Found {
            name: (*p).to_string(),
            path: plugins.join(p),
        }))
        .collect();
    for r in &roots[..PROGRAMS.len()] {
        let d = dynamic(
            &std::fs::read(&r.path).with_context(|| format!("reading {}", r.path.display()))?,
        )?;
        if d.interpreter.as_deref() != Some(INTERPRETER) {
            bail!(
                "{}: loader {:?}, expected {INTERPRETER}",
                r.path.display(),
                d.interpreter
            );
        }
    }
    let all = closure(&roots, lookup, |p| Ok(dynamic(&std::fs::read(p)?)?.needed))?;
    let mut files = Vec::new();
    let mut report = Vec::new();
    for (i, f) in all.iter().enumerate() {
        let bytes =
            std::fs::read(&f.path).with_context(|| format!("reading {}", f.path.display()))?;
        report.push((f.name.clone(), bytes.len()));
        let dest = if i < PROGRAMS.len() {
            format!("/usr/bin/{}", f.name)
        } else if i < roots.len() {
            format!("{PLUGIN_DIR}/{}", f.name)
        } else {
            format!("{LIB_DIR}/{}", f.name)
        };
        files.push((dest, 0o755, bytes));
    }
    if !all
        .iter()
        .any(|f| Some(f.name.as_str()) == INTERPRETER.rsplit('/').next())
    {
        bail!("the closure of {PROGRAMS:?} has no {INTERPRETER}");
    }
    // Debian's layout: the PT_INTERP path is a symlink into the multiarch dir.
    let symlinks = vec![(
        INTERPRETER.to_string(),
        format!(
            "{}/ld-linux-aarch64.so.1",
            LIB_DIR.trim_start_matches("/lib/")
        ),
    )];
    Ok(Payload {
        files,
        symlinks,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(name: &str) -> Found {
        Found {
            name: name.into(),
            path: PathBuf::from(format!("/pkgs/{name}")),
        }
    }

    /// A fake dependency graph with the shape of the real one (shared libc,
    /// a diamond through glib).
    fn needed_of(p: &Path) -> Result<Vec<String>> {
        let name = p.file_name().unwrap().to_str().unwrap();
        let list: &[&str] = match name {
            "vmware-rpctool" => &["libc.so.6", "ld-linux-aarch64.so.1"],
            "vmware-checkvm" => &["libvmtools.so.0", "libglib-2.0.so.0", "libc.so.6"],
            "libvmtools.so.0" => &["libtirpc.so.3", "libglib-2.0.so.0", "libc.so.6"],
            "libglib-2.0.so.0" => &["libpcre2-8.so.0", "libc.so.6"],
            "libc.so.6" => &["ld-linux-aarch64.so.1"],
            _ => &[],
        };
        Ok(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn closure_visits_each_library_once_in_discovery_order() {
        let roots = [found("vmware-rpctool"), found("vmware-checkvm")];
        let all = closure(
            &roots,
            |n| Some(PathBuf::from(format!("/pkgs/{n}"))),
            needed_of,
        )
        .unwrap();
        let names: Vec<&str> = all.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "vmware-rpctool",
                "vmware-checkvm",
                "libc.so.6",
                "ld-linux-aarch64.so.1",
                "libvmtools.so.0",
                "libglib-2.0.so.0",
                "libtirpc.so.3",
                "libpcre2-8.so.0",
            ]
        );
    }

    #[test]
    fn closure_names_who_needs_a_missing_library() {
        let roots = [found("vmware-checkvm")];
        let err = closure(
            &roots,
            |n| (n != "libpcre2-8.so.0").then(|| PathBuf::from(format!("/pkgs/{n}"))),
            needed_of,
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("libglib-2.0.so.0 needs libpcre2-8.so.0"),
            "{msg}"
        );
    }

    #[test]
    fn dynamic_rejects_non_elf() {
        assert!(dynamic(b"#!/bin/sh\n").is_err());
    }

    /// The real tools, when a previous setup unpacked them (skipped
    /// otherwise: host tests must not download).
    #[test]
    fn real_tools_use_the_debian_loader_when_cached() {
        let path = guest_pkgs::unpacked_dir(TOOLS_PACKAGE).join("usr/bin/vmware-rpctool");
        let Ok(bytes) = std::fs::read(&path) else {
            return;
        };
        let d = dynamic(&bytes).unwrap();
        assert_eq!(d.interpreter.as_deref(), Some(INTERPRETER));
        assert!(d.needed.iter().any(|n| n == "libc.so.6"), "{d:?}");
    }
}
