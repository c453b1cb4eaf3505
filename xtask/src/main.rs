//! `cargo xtask <command>`: provisioning, build, run, test, bench and lint for
//! Aerie. Every step prints one `xtask: ...` line; see README.md.

mod appliance_guests;
mod bench;
mod bench_appliance;
mod bench_disk;
mod bench_linux;
mod bench_net;
mod board;
mod build;
mod builtin_vms;
mod cmd;
mod cpio;
mod disk;
mod elf_image;
mod esp;
mod guest_pkgs;
mod guest_tools;
mod initramfs;
mod kmod;
mod lint;
mod linux;
mod output;
mod paths;
mod profile;
mod qemu;
mod run;
mod setup;
mod symtab;
mod test;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  setup    install what is missing (Rust targets, QEMU >= 10, firmware, guest packages)
  build    build the hypervisor, the testkit, the Linux guest, the appliance's UEFI
           boot manager and its guests into target/aerie/
           (`--linux-tools`: also linux-tools-initramfs.cpio with open-vm-tools)
  run      boot Aerie in QEMU (see `cargo xtask run --help`)
  esp      write what `run` boots as a UEFI boot disk image (see `cargo xtask esp --help`)
  test     lint, unit tests, build and QEMU integration tests
           (`cargo xtask test NAME...`: only those QEMU tests)
  bench    trap costs and Linux boot under -icount, the VM-to-VM transfer, a
           Linux VM's disk against QEMU alone (wall clock), appliance throughput
           (target/bench/results.json; `bench traps`: only the trap and
           interrupt table, `bench appliance`: only the appliance, `bench net`:
           only the VM-to-VM transfer, `bench disk`: only the disk; none of
           those saved)
  profile  one benchmark's instructions per iteration (or per MiB of `net`,
           per `linux_boot`), per function, counted exactly by a QEMU plugin
           (see `cargo xtask profile --help`)
  lint     cargo fmt --check and clippy -D warnings on every workspace";

/// Runs `f`, printing an anyhow error as `error: ...`; returns the exit code.
fn exit_code(f: impl FnOnce() -> anyhow::Result<()>) -> i32 {
    match f() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let rest = &args[1..];
    let code = match command.as_str() {
        "setup" => exit_code(setup::setup),
        "build" => exit_code(|| {
            let tools = match rest {
                [] => false,
                [flag] if flag == "--linux-tools" => true,
                _ => anyhow::bail!("build: unknown arguments {rest:?} (known: --linux-tools)"),
            };
            setup::setup()?;
            build::build_with(tools)
        }),
        "run" if rest.iter().any(|a| a == "--help" || a == "-h") => {
            println!("{}", run::USAGE);
            0
        }
        "run" => run::main(rest),
        "esp" if rest.iter().any(|a| a == "--help" || a == "-h") => {
            println!("{}", esp::ESP_USAGE);
            0
        }
        "esp" => esp::main(rest),
        "test" => test::main(rest),
        "bench" => match rest {
            [] => bench::main(),
            [only] if only == "appliance" => bench::appliance_only(),
            [only] if only == "traps" => bench::traps_only(),
            [only] if only == "net" => bench::net_only(),
            [only] if only == "disk" => bench::disk_only(),
            _ => {
                eprintln!("bench: unknown arguments {rest:?} (known: appliance, net, traps)");
                2
            }
        },
        "profile" if rest.iter().any(|a| a == "--help" || a == "-h") => {
            println!("{}", profile::USAGE);
            0
        }
        "profile" => profile::main(rest),
        "lint" => lint::main(),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            0
        }
        other => {
            eprintln!("error: unknown command {other:?}\n{USAGE}");
            2
        }
    };
    std::process::exit(code);
}
