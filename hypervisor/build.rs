//! Link with Aerie's linker script whatever directory cargo is started
//! from, and list the built-in user-world programs: every
//! `userworlds/src/bin/<name>.rs`, whose release ELF (built first by the
//! xtask, in `AERIE_USERWORLDS`) the kernel embeds. One list, the files.
use std::fmt::Write;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo:rustc-link-arg=-T{dir}/linker.ld");
    println!("cargo:rerun-if-changed=linker.ld");

    let bins = std::path::Path::new(&dir).join("../userworlds/src/bin");
    println!("cargo:rerun-if-changed={}", bins.display());
    let elf_dir = std::env::var("AERIE_USERWORLDS")
        .expect("AERIE_USERWORLDS (hypervisor/.cargo/config.toml)");
    let mut names: Vec<String> = std::fs::read_dir(&bins)
        .unwrap_or_else(|e| panic!("{}: {e}", bins.display()))
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_string)
        })
        .collect();
    names.sort();
    let mut out = format!(
        "/// The built-in programs ({}).\nconst PROGRAMS: [(&str, &[u8]); {}] = [\n",
        bins.display(),
        names.len()
    );
    for name in &names {
        let elf = std::path::Path::new(&elf_dir).join(name);
        println!("cargo:rerun-if-changed={}", elf.display());
        writeln!(
            out,
            "    ({name:?}, include_bytes!({:?})),",
            elf.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let generated =
        std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("userworld_programs.rs");
    std::fs::write(&generated, out).unwrap_or_else(|e| panic!("{}: {e}", generated.display()));
}
