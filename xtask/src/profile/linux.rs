//! `cargo xtask profile net` and `profile disk`: the Linux VMs of `cargo
//! xtask bench net` and `bench disk` counted, and the names of their
//! kernel's functions, read from the kernel itself.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::{counted_run, Counted, Symbol};
use crate::cmd::step;
use crate::paths;
use crate::qemu::Status;
use crate::run;

/// How long a Linux VM's counted run may take.
const LINUX_TIMEOUT: Duration = Duration::from_secs(600);

/// The most a kernel symbol reaches: past it an address is unnamed (`linux
/// ?`), not the last symbol's before a gap (the last module function
/// before the kernel's text would otherwise reach 128 MiB).
const SPAN_MAX: u64 = 256 * 1024;

/// What `net`'s short run sends; the long one sends twice as much.
pub const NET_KIB: u64 = 1024;

/// The 4 KiB reads of `disk`'s short run; the long one does twice as many.
pub const DISK_READS: u64 = 512;

/// `cargo xtask bench net`'s VMs, b sending `kib` KiB, each with
/// `nokaslr`: the kernel and its modules then load at the same addresses in
/// every VM and every run, the one that lists them included (Aerie gives
/// each boot a `kaslr-seed` of its own).
fn net_config(kib: u64) -> Result<aerie_vmconfig::Config> {
    let mut config = crate::bench_net::config(kib)?;
    for vm in &mut config.vms {
        vm.cmdline.push_str(" nokaslr");
    }
    Ok(config)
}

/// The guests' kernel functions, modules' included, as the kernel lists
/// them in `/proc/kallsyms` (Debian's `System.map` is a stub). The sender
/// boots alone, with the same kernel, initramfs and modules as in the
/// counted runs, and prints the list (`aerie.kallsyms=1`); with `nokaslr`
/// ([`net_config`]) kernel and modules load where they did there. The list
/// is kept in `target/bench/kallsyms.txt` until the kernel or the
/// initramfs changes.
pub fn kernel_symbols(cpu: &str) -> Result<Vec<Symbol>> {
    let cache = paths::bench_dir().join("kallsyms.txt");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let inputs = [crate::linux::kernel_image(), crate::linux::initramfs()];
    let fresh = modified(&cache)
        .is_some_and(|at| inputs.iter().all(|p| modified(p).is_some_and(|m| m <= at)));
    if !fresh {
        let mut config = net_config(NET_KIB)?;
        let sender = crate::bench_net::sender(&mut config)?.clone();
        config.vms = vec![sender];
        config.vms[0].cmdline.push_str(" aerie.kallsyms=1");
        let stem = format!("profile-kallsyms-{cpu}");
        let opts = crate::bench_net::options(&config, cpu, &stem)?;
        let log = paths::bench_dir().join(format!("{stem}.log"));
        step(format!(
            "profile: the guest kernel's symbols (log {})",
            paths::show(&log)
        ));
        let outcome = run::run_quiet(&opts, LINUX_TIMEOUT, &log)?;
        if outcome.status != Status::Exited(0) {
            bail!("QEMU {:?} (log {})", outcome.status, paths::show(&log));
        }
        let list = kallsyms_lines(&outcome.output)
            .with_context(|| format!("no kallsyms list (log {})", paths::show(&log)))?;
        std::fs::write(&cache, list).with_context(|| format!("writing {}", paths::show(&cache)))?;
    }
    let text = std::fs::read_to_string(&cache)
        .with_context(|| format!("reading {}", paths::show(&cache)))?;
    parse_kallsyms(&text).with_context(|| paths::show(&cache))
}

/// The console lines between `kallsyms: begin` and `kallsyms: end`, with
/// the console's `[vm] ` prefix (several VMs) and line ends cut.
fn kallsyms_lines(output: &str) -> Option<String> {
    let mut list = None::<String>;
    for line in output.lines() {
        let line = line.trim_end_matches('\r');
        let line = match line.strip_prefix('[') {
            Some(rest) => rest.split_once("] ").map_or(line, |(_, l)| l),
            None => line,
        };
        match (&mut list, line) {
            (None, "kallsyms: begin") => list = Some(String::new()),
            (Some(_), "kallsyms: end") => return list,
            (Some(list), line) => {
                list.push_str(line);
                list.push('\n');
            }
            (None, _) => {}
        }
    }
    None
}

/// `/proc/kallsyms`'s text symbols (`<hex address> <t|T|w|W> <name>
/// [module]`, named `name [module]` then), each reaching to the next one's
/// address (the list has no sizes), [`SPAN_MAX`] at most. Lines of any
/// other shape (Aerie's own among the console's) are passed over.
fn parse_kallsyms(text: &str) -> Result<Vec<Symbol>> {
    let mut symbols = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (address, kind, name) = match words[..] {
            [a, k, n] => (a, k, n.to_string()),
            [a, k, n, module] => (a, k, format!("{n} {module}")),
            _ => continue,
        };
        let Ok(addr) = u64::from_str_radix(address, 16) else {
            continue;
        };
        if !matches!(kind, "t" | "T" | "w" | "W") || addr == 0 {
            continue;
        }
        symbols.push(Symbol {
            owner: "linux",
            addr,
            size: 0,
            name,
        });
    }
    // A module's init_module and cleanup_module are aliases of functions
    // of their own: one name per address, the alias's last.
    let alias =
        |s: &Symbol| s.name.starts_with("init_module ") || s.name.starts_with("cleanup_module ");
    symbols.sort_by_key(|s| (s.addr, alias(s)));
    symbols.dedup_by_key(|s| s.addr);
    for i in 1..symbols.len() {
        symbols[i - 1].size = (symbols[i].addr - symbols[i - 1].addr).min(SPAN_MAX);
    }
    if symbols.is_empty() {
        bail!("no text symbols (addresses all zero: kptr_restrict?)");
    }
    Ok(symbols)
}

/// Runs `cargo xtask bench net`'s VMs on `cpu`, b sending `kib` KiB, with
/// the plugin loaded.
pub fn counted_net(cpu: &str, kib: u64, plugin: &Path) -> Result<Counted> {
    let stem = format!("profile-net-{cpu}-{kib}");
    let opts = crate::bench_net::options(&net_config(kib)?, cpu, &stem)?;
    step(format!("profile: net, b sends {kib} KiB on {cpu}"));
    let (outcome, log, counts) = counted_run(&opts, &stem, LINUX_TIMEOUT, plugin)?;
    let transfer = crate::bench_net::transfer(&outcome, &log)?;
    Ok(Counted {
        units: kib as f64 / 1024.0,
        instructions: transfer.instructions,
        counts,
    })
}

/// The name of the guest's power-down idle state: its device-tree node's,
/// which Linux's cpuidle takes as the state's name.
pub fn power_down_state() -> &'static str {
    aerie_firmware::IDLE_STATES
        .iter()
        .find(|s| s.kind == aerie_firmware::IdleKind::PowerDown)
        .expect("Aerie publishes a power-down state")
        .name
}

/// Runs `cargo xtask bench disk`'s VM under Aerie on `cpu`, reading
/// `reads` blocks of 4 KiB, with the plugin loaded (`nokaslr`, as for
/// [`kernel_symbols`]); with `idle_only`, the guest idles only in the
/// cpuidle state of that name.
pub fn counted_disk(
    cpu: &str,
    reads: u64,
    idle_only: Option<&str>,
    plugin: &Path,
) -> Result<Counted> {
    let stem = match idle_only {
        Some(state) => format!("profile-disk-{state}-{cpu}-{reads}"),
        None => format!("profile-disk-{cpu}-{reads}"),
    };
    let mut extra = format!(" nokaslr aerie.disk_reads={reads}");
    if let Some(state) = idle_only {
        extra.push_str(&format!(" aerie.idle_only={state}"));
    }
    let opts = crate::bench_disk::aerie_options(&stem, cpu, &extra)?;
    step(format!("profile: disk, {reads} reads of 4 KiB on {cpu}"));
    let (outcome, log, counts) = counted_run(&opts, &stem, LINUX_TIMEOUT, plugin)?;
    let passes = crate::bench_disk::parse(&outcome.output);
    let [pass] = &passes[..] else {
        bail!(
            "{} `disk-bench:` lines, not one (log {})",
            passes.len(),
            paths::show(&log)
        );
    };
    Ok(Counted {
        units: pass.count as f64,
        // Under -icount shift=0 a second of the counter is 10^9 instructions.
        instructions: pass.seconds * 1e9,
        counts,
    })
}

/// Runs `linux_boot`'s VM under Aerie on `cpu` with the plugin loaded
/// (with `nokaslr`, so that the kernel runs where [`kernel_symbols`] lists
/// it). One boot: the counts hold all of it, Aerie's own start and the
/// power-off around the VM's boot included.
pub fn counted_boot(cpu: &str, plugin: &Path) -> Result<Counted> {
    let stem = format!("profile-linux_boot-{cpu}");
    let opts = crate::bench_linux::aerie_options(cpu, " nokaslr", &stem)?;
    step(format!("profile: linux_boot on {cpu}"));
    let (outcome, log, counts) = counted_run(&opts, &stem, LINUX_TIMEOUT, plugin)?;
    let instructions = crate::bench_linux::instructions(&outcome.output).with_context(|| {
        format!(
            "no `initramfs: started cntvct=<N> cntfrq=<F>` line (log {})",
            paths::show(&log)
        )
    })?;
    Ok(Counted {
        units: 1.0,
        instructions,
        counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kallsyms_symbols_reach_to_the_next() {
        let console = "[b] Linux booting\n[b] kallsyms: begin\r\n\
                       [b] ffff800008000000 T _text\n\
                       aerie: a log line\n\
                       [b] ffff800008010000 t gic_handle_irq\n\
                       [b] ffff800008010040 D some_data\n\
                       [b] ffff800000f10000 t virtnet_poll\t[virtio_net]\n\
                       [b] ffff800000f10100 t cleanup_module\t[virtio_net]\n\
                       [b] ffff800000f10100 t virtnet_exit\t[virtio_net]\n\
                       [b] ffff800008010080 W arch_cpu_idle\n\
                       [b] kallsyms: end\n[b] after\n";
        let list = kallsyms_lines(console).unwrap();
        assert!(list.starts_with("ffff800008000000 T _text\naerie: a log line\n"));
        let symbols = parse_kallsyms(&list).unwrap();
        let got: Vec<(&str, u64, u64)> = symbols
            .iter()
            .map(|s| (s.name.as_str(), s.addr, s.size))
            .collect();
        assert_eq!(
            got,
            [
                ("virtnet_poll [virtio_net]", 0xffff_8000_00f1_0000, 0x100),
                ("virtnet_exit [virtio_net]", 0xffff_8000_00f1_0100, SPAN_MAX),
                ("_text", 0xffff_8000_0800_0000, 0x10000),
                ("gic_handle_irq", 0xffff_8000_0801_0000, 0x80),
                ("arch_cpu_idle", 0xffff_8000_0801_0080, 0),
            ]
        );
        assert_eq!(symbols[0].owner, "linux");
        assert!(kallsyms_lines("[b] kallsyms: begin\n").is_none());
        assert!(parse_kallsyms("0000000000000000 T _text\n").is_err());
    }
}
