//! `/aerie/<arch>/boot.cfg`, the file the boot manager reads, and
//! `/aerie/appliance.toml`, the human-readable appliance configuration.
//!
//! boot.cfg is UTF-8, one `key=value` per line (LF), keys in this order:
//!
//! ```text
//! name=hello
//! arch=aarch64
//! kernel=\aerie\aarch64\vmlinuz
//! initrd=\aerie\aarch64\initrd.img
//! cmdline=console=ttyAMA0 quiet
//! ```
//!
//! `initrd` is absent when there is none; `cmdline` is the rest of its line
//! (it may contain spaces and `=`, and may be empty). Paths are UEFI paths
//! (backslashes, absolute on the ESP).

use anyhow::{bail, Context, Result};

use crate::arch::Arch;

/// One architecture's boot entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootCfg {
    pub name: String,
    pub arch: Arch,
    /// UEFI path on the ESP, e.g. `\aerie\aarch64\vmlinuz`.
    pub kernel: String,
    pub initrd: Option<String>,
    pub cmdline: String,
}

/// The ESP directory of an architecture's payload, `/`-separated, no leading slash.
pub fn payload_dir(arch: Arch) -> String {
    format!("aerie/{}", arch.name())
}

/// ESP path (`/`-separated, no leading slash) of the kernel.
pub fn kernel_path(arch: Arch) -> String {
    format!("{}/vmlinuz", payload_dir(arch))
}

/// ESP path of the initrd.
pub fn initrd_path(arch: Arch) -> String {
    format!("{}/initrd.img", payload_dir(arch))
}

/// ESP path of boot.cfg.
pub fn boot_cfg_path(arch: Arch) -> String {
    format!("{}/boot.cfg", payload_dir(arch))
}

/// ESP path of the removable-media boot manager for `arch`.
pub fn efi_boot_path(arch: Arch) -> String {
    format!("EFI/BOOT/{}", arch.efi_boot_file())
}

/// ESP path of the appliance configuration.
pub const APPLIANCE_TOML: &str = "aerie/appliance.toml";

/// `aerie/x/y` -> `\aerie\x\y`.
pub fn uefi_path(esp_path: &str) -> String {
    format!("\\{}", esp_path.replace('/', "\\"))
}

/// `\aerie\x\y` -> `aerie/x/y`; `None` if not an absolute UEFI path.
pub fn esp_path(uefi: &str) -> Option<String> {
    let rest = uefi.strip_prefix('\\')?;
    if rest.is_empty()
        || rest
            .split('\\')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return None;
    }
    Some(rest.replace('\\', "/"))
}

impl BootCfg {
    /// The entry for an architecture's standard payload paths.
    pub fn standard(name: &str, arch: Arch, has_initrd: bool, cmdline: &str) -> BootCfg {
        BootCfg {
            name: name.to_string(),
            arch,
            kernel: uefi_path(&kernel_path(arch)),
            initrd: has_initrd.then(|| uefi_path(&initrd_path(arch))),
            cmdline: cmdline.to_string(),
        }
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut s = format!(
            "name={}\narch={}\nkernel={}\n",
            self.name, self.arch, self.kernel
        );
        if let Some(i) = &self.initrd {
            s.push_str(&format!("initrd={i}\n"));
        }
        s.push_str(&format!("cmdline={}\n", self.cmdline));
        s
    }

    /// Parses the file's text (`name`, `arch`, `kernel` required).
    pub fn parse(text: &str) -> Result<BootCfg> {
        let (mut name, mut arch, mut kernel, mut initrd, mut cmdline) =
            (None, None, None, None, None);
        for (n, line) in text.lines().enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .with_context(|| format!("boot.cfg line {}: no `=`", n + 1))?;
            let slot = match key {
                "name" => &mut name,
                "arch" => &mut arch,
                "kernel" => &mut kernel,
                "initrd" => &mut initrd,
                "cmdline" => &mut cmdline,
                _ => bail!("boot.cfg line {}: unknown key `{key}`", n + 1),
            };
            if slot.replace(value.to_string()).is_some() {
                bail!("boot.cfg line {}: `{key}` given twice", n + 1);
            }
        }
        let arch: String = arch.context("boot.cfg: no `arch`")?;
        Ok(BootCfg {
            name: name.context("boot.cfg: no `name`")?,
            arch: arch
                .parse()
                .map_err(|e: String| anyhow::anyhow!("boot.cfg: {e}"))?,
            kernel: kernel.context("boot.cfg: no `kernel`")?,
            initrd,
            cmdline: cmdline.unwrap_or_default(),
        })
    }
}

/// `/aerie/appliance.toml`: the appliance as the ESP holds it, for people.
pub fn appliance_toml(
    name: &str,
    version: Option<&str>,
    entries: &[(BootCfg, u32, u64)],
) -> String {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut s = String::from(
        "# Aerie appliance configuration (written by aerie-appliance; informational:\n\
         # the boot manager reads /aerie/<arch>/boot.cfg).\n[appliance]\n",
    );
    s.push_str(&format!("name = {}\n", q(name)));
    if let Some(v) = version {
        s.push_str(&format!("version = {}\n", q(v)));
    }
    for (cfg, cpus, memory) in entries {
        s.push_str(&format!("\n[{}]\n", cfg.arch));
        s.push_str(&format!("kernel = {}\n", q(&cfg.kernel)));
        if let Some(i) = &cfg.initrd {
            s.push_str(&format!("initrd = {}\n", q(i)));
        }
        s.push_str(&format!("cmdline = {}\n", q(&cfg.cmdline)));
        s.push_str(&format!("cpus = {cpus}\nmemory = \"{}M\"\n", memory >> 20));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c = BootCfg::standard("hello", Arch::Aarch64, true, "console=ttyAMA0 a=b c");
        let text = c.render();
        assert_eq!(
            text,
            "name=hello\narch=aarch64\nkernel=\\aerie\\aarch64\\vmlinuz\n\
             initrd=\\aerie\\aarch64\\initrd.img\ncmdline=console=ttyAMA0 a=b c\n"
        );
        assert_eq!(BootCfg::parse(&text).unwrap(), c);
        let c = BootCfg::standard("x", Arch::X86_64, false, "");
        assert!(!c.render().contains("initrd"));
        assert_eq!(BootCfg::parse(&c.render()).unwrap(), c);
    }

    #[test]
    fn paths() {
        assert_eq!(
            esp_path("\\aerie\\x86_64\\vmlinuz").unwrap(),
            "aerie/x86_64/vmlinuz"
        );
        assert!(esp_path("aerie\\x").is_none());
        assert!(esp_path("\\a\\..\\b").is_none());
    }

    #[test]
    fn appliance_toml_is_toml() {
        let c = BootCfg::standard("h", Arch::X86_64, true, "a \"q\"");
        let t: toml::Table = appliance_toml("h", Some("1"), &[(c, 2, 64 << 20)])
            .parse()
            .unwrap();
        assert_eq!(t["x86_64"]["cmdline"].as_str(), Some("a \"q\""));
    }
}
