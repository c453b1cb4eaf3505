//! Where things live, all absolute so commands work from any directory.

use std::path::{Path, PathBuf};

/// Target triple of everything that runs on the (virtual) Arm machine.
pub const TARGET: &str = "aarch64-unknown-none-softfloat";

/// The repository root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the repository root")
        .to_path_buf()
}

/// `target/`, shared by the host workspace, the hypervisor, the testkit and
/// the user worlds.
pub fn target_dir() -> PathBuf {
    root().join("target")
}

/// Flat Images and boot modules: `target/aerie/`.
pub fn aerie_dir() -> PathBuf {
    target_dir().join("aerie")
}

/// Release ELF of an aarch64 crate.
pub fn release_elf(name: &str) -> PathBuf {
    target_dir().join(TARGET).join("release").join(name)
}

/// The user-world programs: every `userworlds/src/bin/<name>.rs`, sorted.
/// They are built before the hypervisor, whose build.rs lists the same
/// files and embeds their ELFs.
pub fn user_programs() -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("userworlds/src/bin"))?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_string)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// The release ELF of user-world program `name` (the file the hypervisor
/// embeds with `include_bytes!`).
pub fn user_program_elf(name: &str) -> PathBuf {
    release_elf(name)
}

/// The hypervisor Image QEMU boots.
pub fn hypervisor_image() -> PathBuf {
    aerie_dir().join("aerie.Image")
}

/// Aerie's Image for a machine whose GIC is version `gic` (3 and 4: the
/// usual build; 2: the GICv2 build, `aerie-gicv2.Image`).
pub fn hypervisor_image_for(gic: u32) -> PathBuf {
    for_gic(gic, hypervisor_image(), "aerie-gicv2.Image")
}

/// `usual`, or for a GICv2 (`gic` 2) the file `gicv2` beside it.
fn for_gic(gic: u32, usual: PathBuf, gicv2: &str) -> PathBuf {
    if gic == 2 {
        usual.with_file_name(gicv2)
    } else {
        usual
    }
}

/// Where the hypervisor's GICv2 build (the `gicv2` feature) goes: a target
/// directory of its own, so that the two builds do not undo each other.
pub fn gicv2_target_dir() -> PathBuf {
    target_dir().join("gicv2")
}

/// Aerie's UEFI loader (`loader/`), BOOTAA64.EFI on the partition
/// `cargo xtask run --uefi` boots from.
pub fn loader_efi() -> PathBuf {
    aerie_dir().join("aerie-loader.efi")
}

/// Aerie's packed symbol table, written by the build next to its Image.
pub fn hypervisor_symbols() -> PathBuf {
    aerie_dir().join("aerie.symbols")
}

/// The symbol table of [`hypervisor_image_for`]`(gic)`.
pub fn hypervisor_symbols_for(gic: u32) -> PathBuf {
    for_gic(gic, hypervisor_symbols(), "aerie-gicv2.symbols")
}

/// The appliance's UEFI boot manager binaries (BOOTAA64.EFI, BOOTX64.EFI):
/// `target/aerie/efi/`, the appliance tool's default `--efi-dir`.
pub fn efi_dir() -> PathBuf {
    aerie_dir().join("efi")
}

/// The testkit guest Image.
pub fn testkit_image() -> PathBuf {
    aerie_dir().join("testkit.Image")
}

/// Integration test logs: `target/test-logs/`.
pub fn test_logs_dir() -> PathBuf {
    target_dir().join("test-logs")
}

/// Benchmark output: `target/bench/`.
pub fn bench_dir() -> PathBuf {
    target_dir().join("bench")
}

/// `path` relative to the root for messages, or as is when outside it.
pub fn show(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}
