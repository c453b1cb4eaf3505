//! Passes the linker script by absolute path so the build works from any cwd
//! (a relative `-T` would resolve against wherever rustc runs the linker).

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-arg-bins=-T{dir}/user.ld");
    // lld aligns AArch64 segments to 64 KiB by default; user mappings are
    // 4 KiB pages, and the smaller alignment keeps the files small.
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    println!("cargo:rerun-if-changed=user.ld");
}
