//! `cargo xtask build`: the user-world programs, the hypervisor (which embeds
//! them) and the testkit, as flat arm64 Images, and the Linux guest (kernel
//! and initramfs, see `linux.rs`).

use std::path::Path;

use aerie_bootmodule::arm64_image::parse_image_header;
use anyhow::{bail, Context, Result};

use crate::cmd::{self, step};
use crate::elf_image::elf_to_image;
use crate::paths::{self, TARGET};

/// A path xtask derives (see `paths`).
type PathFn = fn() -> std::path::PathBuf;

/// One aarch64 binary to build: its own cargo workspace, ELF name and Image.
struct Binary {
    dir: &'static str,
    elf: &'static str,
    image: PathFn,
    /// Where to write its packed symbol table, for binaries that symbolise
    /// their own addresses (Aerie: every boot module carries it).
    symbols: Option<PathFn>,
    /// A cargo feature to build with, in the target directory given.
    feature: Option<(&'static str, PathFn)>,
}

const BINARIES: [Binary; 3] = [
    Binary {
        dir: "hypervisor",
        elf: "aerie",
        image: paths::hypervisor_image,
        symbols: Some(paths::hypervisor_symbols),
        feature: None,
    },
    // Aerie for machines with a GICv2 (GIC-400): its CPU interface is
    // chosen at build time, so the usual build pays nothing for it.
    Binary {
        dir: "hypervisor",
        elf: "aerie",
        image: || paths::hypervisor_image_for(2),
        symbols: Some(|| paths::hypervisor_symbols_for(2)),
        feature: Some(("gicv2", paths::gicv2_target_dir)),
    },
    Binary {
        dir: "guests/testkit",
        elf: "testkit",
        image: paths::testkit_image,
        symbols: None,
        feature: None,
    },
];

/// Builds everything QEMU needs. Always release: benchmarks and test timing
/// depend on it, and the debug build would only be used by mistake.
pub fn build() -> Result<()> {
    build_with(false)
}

/// [`build`], plus the Linux tools initramfs when `linux_tools` (issue 5:
/// open-vm-tools in the guest; fetched on first use, never by plain `build`).
pub fn build_with(linux_tools: bool) -> Result<()> {
    build_userworlds()?;
    for b in &BINARIES {
        build_binary(b)?;
    }
    build_bootmgr()?;
    build_loader()?;
    crate::linux::build(linux_tools)?;
    crate::appliance_guests::build()
}

/// The user-world programs (`userworlds/`, ELF files run at EL0). They must
/// exist before the hypervisor is built or linted: it embeds them with
/// `include_bytes!`.
pub fn build_userworlds() -> Result<()> {
    const DIR: &str = "userworlds";
    if !cmd::has_manifest(DIR) {
        bail!("{DIR}/Cargo.toml does not exist: no user-world programs to build");
    }
    step(format!("build {DIR} (release)"));
    cross_build(DIR, TARGET)?;
    let programs = paths::user_programs().context("listing userworlds/src/bin")?;
    for name in &programs {
        let elf = paths::user_program_elf(name);
        if !elf.is_file() {
            bail!("{} missing after building {DIR}", paths::show(&elf));
        }
    }
    let dir = paths::target_dir().join(TARGET).join("release");
    step(format!(
        "user worlds: {} in {}",
        programs.join(", "),
        paths::show(&dir)
    ));
    Ok(())
}

/// The appliance's UEFI boot manager (`appliance/bootmgr`) for both
/// architectures: `target/aerie/efi/BOOTAA64.EFI` and `BOOTX64.EFI`, the
/// names the appliance puts on its EFI System Partition.
fn build_bootmgr() -> Result<()> {
    const DIR: &str = "appliance/bootmgr";
    let target_dir = paths::target_dir();
    let out = paths::efi_dir();
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for (target, name) in [
        ("aarch64-unknown-uefi", "BOOTAA64.EFI"),
        ("x86_64-unknown-uefi", "BOOTX64.EFI"),
    ] {
        step(format!("build {DIR} (release, {target})"));
        cross_build(DIR, target)?;
        let efi = target_dir
            .join(target)
            .join("release")
            .join("aerie-bootmgr.efi");
        std::fs::copy(&efi, out.join(name))
            .with_context(|| format!("copying {} to {}", efi.display(), out.display()))?;
    }
    step(format!("boot manager: {}", paths::show(&out)));
    Ok(())
}

/// Aerie's UEFI loader (`loader/`): `target/aerie/aerie-loader.efi`.
fn build_loader() -> Result<()> {
    const DIR: &str = "loader";
    const UEFI: &str = "aarch64-unknown-uefi";
    step(format!("build {DIR} (release, {UEFI})"));
    cross_build(DIR, UEFI)?;
    let efi = paths::target_dir()
        .join(UEFI)
        .join("release")
        .join("aerie-loader.efi");
    let out = paths::loader_efi();
    std::fs::copy(&efi, &out)
        .with_context(|| format!("copying {} to {}", efi.display(), out.display()))?;
    step(format!("loader: {}", paths::show(&out)));
    Ok(())
}

/// `cargo build --release` of the workspace in `dir` for `target` into the
/// shared target directory. Target and target dir are normally set by the
/// crate's .cargo/config.toml; passing them too keeps the output where xtask
/// expects it regardless. Compiler flags are not passed: each crate's
/// .cargo/config.toml owns them (the hypervisor's forces frame pointers for
/// its backtraces). RUSTFLAGS from the caller's environment would replace
/// those wholesale (cargo uses the first source of flags it finds), so it is
/// removed for these cross builds; it was meant for the host anyway.
fn cross_build(dir: &str, target: &str) -> Result<()> {
    cross_build_in(dir, target, &paths::target_dir(), None)
}

/// [`cross_build`] into `target_dir`, with `feature` on if given.
fn cross_build_in(dir: &str, target: &str, target_dir: &Path, feature: Option<&str>) -> Result<()> {
    let target_dir = target_dir.to_string_lossy();
    let mut args = vec![
        "build",
        "--release",
        "--target",
        target,
        "--target-dir",
        &target_dir,
    ];
    if let Some(f) = feature {
        args.extend(["--features", f]);
    }
    let mut build = cmd::cargo(dir, &args);
    build
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    cmd::run(&mut build)
}

fn build_binary(b: &Binary) -> Result<()> {
    if !cmd::has_manifest(b.dir) {
        bail!("{}/Cargo.toml does not exist: nothing to build", b.dir);
    }
    let elf = match b.feature {
        None => {
            step(format!("build {} (release)", b.dir));
            cross_build(b.dir, TARGET)?;
            paths::release_elf(b.elf)
        }
        Some((feature, dir)) => {
            step(format!("build {} (release, feature {feature})", b.dir));
            cross_build_in(b.dir, TARGET, &dir(), Some(feature))?;
            dir().join(TARGET).join("release").join(b.elf)
        }
    };
    let image = (b.image)();
    write_image(&elf, &image)?;
    if let Some(symbols) = b.symbols {
        let out = symbols();
        let count = crate::symtab::write_file(&elf, &out)?;
        step(format!("{} ({count} symbols)", paths::show(&out)));
    }
    Ok(())
}

/// Converts `elf` to a flat Image at `image` and checks its arm64 header.
pub fn write_image(elf: &Path, image: &Path) -> Result<()> {
    let bytes = std::fs::read(elf).with_context(|| format!("reading {}", paths::show(elf)))?;
    let flat = elf_to_image(&bytes).with_context(|| format!("converting {}", paths::show(elf)))?;
    let header = parse_image_header(&flat).map_err(|e| {
        anyhow::anyhow!(
            "{} does not begin with an arm64 Image header: {e}. The entry code must start \
             with the 64-byte Linux Image header (see Linux Documentation/arch/arm64/booting.rst) \
             so QEMU loads it as a kernel",
            paths::show(elf)
        )
    })?;
    if let Some(dir) = image.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(image, &flat).with_context(|| format!("writing {}", image.display()))?;
    step(format!(
        "{} -> {} ({} bytes, image_size {:#x})",
        paths::show(elf),
        paths::show(image),
        flat.len(),
        header.image_size
    ));
    Ok(())
}
