//! `aerie-appliance`: build, inspect, validate and deploy multi-architecture OVAs.

use std::path::PathBuf;
use std::process::ExitCode;

use aerie_appliance::{progress, Console, Target};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "aerie-appliance",
    version,
    about = "Multi-architecture (AArch64 + x86-64) OVA appliances"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build an OVA from a spec.
    Build {
        spec: PathBuf,
        /// The OVA to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Directory with BOOTAA64.EFI and BOOTX64.EFI [default: $AERIE_EFI_DIR, else target/aerie/efi]
        #[arg(long)]
        efi_dir: Option<PathBuf>,
    },
    /// Print a summary of an OVA.
    Inspect { ova: PathBuf },
    /// Check an OVA; one `error: ...` line per problem, exit 1 if any.
    Validate { ova: PathBuf },
    /// Validate, unpack and configure an OVA for a target; optionally boot it.
    Deploy {
        ova: PathBuf,
        /// qemu-x86_64, qemu-aarch64 or aerie
        #[arg(long)]
        target: Target,
        /// Where to unpack [default: ./NAME-<target>]
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Boot it after deploying (stdio inherited).
        #[arg(long)]
        run: bool,
        /// Forward host TCP port HOSTPORT (on 127.0.0.1) to the appliance's
        /// GUESTPORT, HOSTPORT:GUESTPORT (repeatable; needs a network card)
        #[arg(long, value_name = "HOSTPORT:GUESTPORT")]
        forward: Vec<String>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("aerie-appliance: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let progress = progress::stderr_is_terminal();
    match cli.cmd {
        Cmd::Build {
            spec,
            output,
            efi_dir,
        } => {
            let efi = efi_dir.unwrap_or_else(aerie_appliance::default_efi_dir);
            let r = aerie_appliance::build(&spec, &output, &efi, progress)?;
            let archs: Vec<&str> = r.archs.iter().map(|a| a.name()).collect();
            println!(
                "built {} ({} bytes; {}; {} disk file(s)) in {:.1}s",
                r.ova.display(),
                r.ova_bytes,
                archs.join(" + "),
                r.files.len(),
                r.elapsed.as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Inspect { ova } => {
            print!("{}", aerie_appliance::inspect(&ova, progress)?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Validate { ova } => {
            let problems = aerie_appliance::validate(&ova, progress)?;
            for p in &problems {
                println!("{p}");
            }
            if problems.is_empty() {
                println!("{}: ok", ova.display());
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::from(1))
            }
        }
        Cmd::Deploy {
            ova,
            target,
            dir,
            run,
            forward,
        } => {
            let forwards = forward
                .iter()
                .map(|r| aerie_appliance::Forward::parse(r))
                .collect::<Result<Vec<_>>>()?;
            let dir = dir.unwrap_or_else(|| aerie_appliance::deploy::default_dir(&ova, target));
            let d = aerie_appliance::deploy_forwarding(&ova, target, &dir, &forwards, progress)?;
            for w in &d.warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "deployed {} for {target} in {} (run: {})",
                d.name,
                dir.display(),
                d.run_script.display()
            );
            if run {
                let console = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    Console::Interactive
                } else {
                    Console::Serial
                };
                let status = d.command(console)?.status().context("starting the VM")?;
                return Ok(ExitCode::from(
                    status.code().unwrap_or(1).clamp(0, 255) as u8
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
