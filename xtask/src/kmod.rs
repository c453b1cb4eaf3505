//! Which kernel modules the guest initramfs must load, and in what order.
//!
//! The drivers the VM needs (virtio-mmio, virtio-blk, virtio-console,
//! virtio-net, PL011)
//! may be built into the Debian kernel or be modules; `boot/config-*` says
//! which. Debian's package does not ship `modules.dep` (depmod writes it at
//! install time), so dependencies come from each `.ko`'s `.modinfo` section,
//! whose `depends=` entry lists the modules it needs, comma-separated.
//! The Debian 6.1 kernel uses `CONFIG_MODULE_COMPRESS_NONE`, so modules are
//! plain `.ko` files busybox `insmod` loads; compressed ones are refused with a
//! clear error rather than guessed at.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use object::{Object, ObjectSection};

/// The drivers a Linux VM on Aerie uses: (config symbol, module name).
/// cpufreq-dt drives the vCPU clocks Aerie offers over SCMI.
pub const NEEDED: [(&str, &str); 8] = [
    ("CONFIG_SERIAL_AMBA_PL011", "amba_pl011"),
    ("CONFIG_VIRTIO_MMIO", "virtio_mmio"),
    ("CONFIG_VIRTIO_BLK", "virtio_blk"),
    ("CONFIG_VIRTIO_CONSOLE", "virtio_console"),
    ("CONFIG_CPUFREQ_DT", "cpufreq_dt"),
    ("CONFIG_VIRTIO_NET", "virtio_net"),
    // The power button: gpio-keys on the PL061's pin 3, read through evdev.
    ("CONFIG_KEYBOARD_GPIO", "gpio_keys"),
    ("CONFIG_INPUT_EVDEV", "evdev"),
];

/// How a kernel config symbol is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tristate {
    BuiltIn,
    Module,
    /// `# CONFIG_X is not set`, absent, or `=n`.
    No,
}

/// The setting of `symbol` in a kernel `.config` text.
pub fn config_value(config: &str, symbol: &str) -> Tristate {
    let prefix = format!("{symbol}=");
    match config.lines().find_map(|l| l.strip_prefix(&prefix)) {
        Some("y") => Tristate::BuiltIn,
        Some("m") => Tristate::Module,
        _ => Tristate::No,
    }
}

/// Module names the `.modinfo` section lists under `depends=` (NUL-separated
/// `key=value` strings).
pub fn modinfo_depends(modinfo: &[u8]) -> Vec<String> {
    modinfo
        .split(|&b| b == 0)
        .filter_map(|kv| kv.strip_prefix(b"depends="))
        .flat_map(|v| {
            String::from_utf8_lossy(v)
                .split(',')
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// A module's name as the kernel knows it: the file name without `.ko`, with
/// `-` as `_` (`amba-pl011.ko` is module `amba_pl011`).
pub fn module_name(file_name: &str) -> Option<String> {
    Some(file_name.strip_suffix(".ko")?.replace('-', "_"))
}

/// Every `.ko` below `modules_dir/kernel`, by module name.
pub fn index(modules_dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![modules_dir.join("kernel")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = e?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                stack.push(path);
            } else if let Some(m) = module_name(name) {
                out.insert(m, path);
            } else if name.ends_with(".ko.xz")
                || name.ends_with(".ko.zst")
                || name.ends_with(".ko.gz")
            {
                bail!(
                    "{} is compressed; this kernel would need its modules decompressed \
                     before busybox insmod can load them",
                    path.display()
                );
            }
        }
    }
    Ok(out)
}

/// The `depends=` list of the module file at `path`.
pub fn file_depends(path: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let elf =
        object::File::parse(&*bytes).with_context(|| format!("parsing {}", path.display()))?;
    let section = elf
        .section_by_name(".modinfo")
        .with_context(|| format!("{}: no .modinfo section", path.display()))?;
    let data = section
        .data()
        .with_context(|| format!("{}: reading .modinfo", path.display()))?;
    Ok(modinfo_depends(data))
}

/// Orders `wanted` and everything they depend on so each module comes after its
/// dependencies. `depends(name)` returns the direct dependencies of a module.
pub fn load_order(
    wanted: &[String],
    mut depends: impl FnMut(&str) -> Result<Vec<String>>,
) -> Result<Vec<String>> {
    fn visit(
        name: &str,
        depends: &mut dyn FnMut(&str) -> Result<Vec<String>>,
        done: &mut HashSet<String>,
        path: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<()> {
        if done.contains(name) {
            return Ok(());
        }
        if path.iter().any(|p| p == name) {
            bail!("module dependency cycle: {} -> {name}", path.join(" -> "));
        }
        path.push(name.to_string());
        for dep in depends(name).with_context(|| format!("dependencies of {name}"))? {
            visit(&dep, depends, done, path, out)?;
        }
        path.pop();
        done.insert(name.to_string());
        out.push(name.to_string());
        Ok(())
    }
    let (mut done, mut out) = (HashSet::new(), Vec::new());
    for w in wanted {
        visit(w, &mut depends, &mut done, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

/// The kernel release of a `boot/vmlinuz-<release>` file.
pub fn release_of(vmlinuz: &Path) -> Result<String> {
    vmlinuz
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .map(str::to_string)
        .with_context(|| format!("kernel file name {}", vmlinuz.display()))
}

/// The modules `drivers` need, read from the kernel package unpacked in
/// `kdir` (its `boot/config-*` and `lib/modules/<release>/`), in load
/// order: (path below /lib/modules/<release>/, contents).
pub fn read_modules(
    kdir: &Path,
    release: &str,
    drivers: &[(&str, &str)],
) -> Result<Vec<(String, Vec<u8>)>> {
    let config_path = crate::linux::one_file(&kdir.join("boot"), "config-")?;
    let config = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let modules_dir = kdir.join("lib/modules").join(release);
    let mut out = Vec::new();
    for path in modules_for(drivers, &config, &modules_dir)? {
        let rel = path
            .strip_prefix(&modules_dir)
            .expect("index() returns paths below modules_dir")
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        out.push((rel, bytes));
    }
    Ok(out)
}

/// The file name of a module path (`kernel/drivers/virtio/virtio_mmio.ko`
/// -> `virtio_mmio.ko`), for progress lines.
pub fn file_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

/// The module files to load, in order, for the `drivers` (config symbol,
/// module name; e.g. [`NEEDED`]) that this kernel (its `config` text and
/// `modules_dir`) builds as modules. A driver the kernel lacks altogether is
/// an error naming its config symbol.
pub fn modules_for(
    drivers: &[(&str, &str)],
    config: &str,
    modules_dir: &Path,
) -> Result<Vec<PathBuf>> {
    let mut wanted = Vec::new();
    for &(symbol, module) in drivers {
        match config_value(config, symbol) {
            Tristate::BuiltIn => {}
            Tristate::Module => wanted.push(module.to_string()),
            Tristate::No => bail!("the guest kernel is built without {symbol}"),
        }
    }
    let index = index(modules_dir)?;
    let path_of = |name: &str| {
        index
            .get(name)
            .cloned()
            .with_context(|| format!("module {name} not found below {}", modules_dir.display()))
    };
    let order = load_order(&wanted, |name| file_depends(&path_of(name)?))?;
    order.iter().map(|n| path_of(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_symbols() {
        let config = "# comment\nCONFIG_VIRTIO_MMIO=m\nCONFIG_SERIAL_AMBA_PL011=y\n\
                      # CONFIG_VIRTIO_BLK is not set\nCONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y\n";
        assert_eq!(config_value(config, "CONFIG_VIRTIO_MMIO"), Tristate::Module);
        assert_eq!(
            config_value(config, "CONFIG_SERIAL_AMBA_PL011"),
            Tristate::BuiltIn
        );
        assert_eq!(config_value(config, "CONFIG_VIRTIO_BLK"), Tristate::No);
        assert_eq!(config_value(config, "CONFIG_VIRTIO"), Tristate::No);
    }

    #[test]
    fn modinfo_depends_lists() {
        let modinfo = b"license=GPL\0depends=virtio_ring,virtio\0vermagic=6.1.0 SMP\0";
        assert_eq!(modinfo_depends(modinfo), ["virtio_ring", "virtio"]);
        assert!(modinfo_depends(b"depends=\0name=virtio_blk\0").is_empty());
        assert!(modinfo_depends(b"").is_empty());
    }

    #[test]
    fn module_names() {
        assert_eq!(module_name("amba-pl011.ko").as_deref(), Some("amba_pl011"));
        assert_eq!(module_name("virtio_blk.ko").as_deref(), Some("virtio_blk"));
        assert_eq!(module_name("virtio_blk.ko.xz"), None);
    }

    fn graph(name: &str) -> Result<Vec<String>> {
        let deps: &[&str] = match name {
            "virtio_blk" => &["virtio_ring", "virtio"],
            "virtio_ring" => &["virtio"],
            "virtio_console" => &["virtio"],
            "a" => &["b"],
            "b" => &["a"],
            _ => &[],
        };
        Ok(deps.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn dependencies_load_first_and_once() {
        let wanted = ["virtio_blk".to_string(), "virtio_console".to_string()];
        assert_eq!(
            load_order(&wanted, graph).unwrap(),
            ["virtio", "virtio_ring", "virtio_blk", "virtio_console"]
        );
    }

    #[test]
    fn cycles_are_errors() {
        let e = load_order(&["a".to_string()], graph).unwrap_err();
        assert!(format!("{e:#}").contains("cycle: a -> b -> a"), "{e:#}");
    }
}
