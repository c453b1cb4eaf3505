//! `deploy`: validate, unpack safely, convert, write the target's configuration.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use anyhow::{bail, Context, Result};

use crate::arch::Arch;
use crate::bootcfg;
use crate::esp::Esp;
use crate::qemu::{self, Console, QemuVm};
use crate::qemu_img;
use crate::validate::check;

/// Where to deploy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    QemuX86_64,
    QemuAarch64,
    /// The aarch64 configuration as an Aerie VM (direct kernel boot, no guest UEFI).
    Aerie,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::QemuX86_64 => "qemu-x86_64",
            Target::QemuAarch64 => "qemu-aarch64",
            Target::Aerie => "aerie",
        }
    }

    /// The architecture whose configuration the target runs.
    pub fn arch(self) -> Arch {
        match self {
            Target::QemuX86_64 => Arch::X86_64,
            Target::QemuAarch64 | Target::Aerie => Arch::Aarch64,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "qemu-x86_64" => Ok(Target::QemuX86_64),
            "qemu-aarch64" => Ok(Target::QemuAarch64),
            "aerie" => Ok(Target::Aerie),
            _ => Err(format!(
                "unknown target `{s}` (expected qemu-x86_64, qemu-aarch64 or aerie)"
            )),
        }
    }
}

/// A deployed appliance.
#[derive(Clone, Debug)]
pub struct Deployment {
    pub target: Target,
    pub dir: PathBuf,
    pub name: String,
    /// The QEMU VM (QEMU targets).
    pub qemu: Option<QemuVm>,
    /// `aerie.toml` (the Aerie target).
    pub aerie_config: Option<PathBuf>,
    /// The Aerie VM's host disk (the Aerie target, when the configuration
    /// has extra disks): they lie in it one after the other, raw, whole MiB.
    pub aerie_disk: Option<PathBuf>,
    /// Host TCP ports forwarded to the appliance's network card.
    pub forwards: Vec<Forward>,
    /// `run.sh`.
    pub run_script: PathBuf,
    /// What the deployment leaves out, one sentence each (printed by the CLI).
    pub warnings: Vec<String>,
}

impl Deployment {
    /// The command that boots it: QEMU directly, or for Aerie
    /// `cargo xtask run --config DIR/aerie.toml` in the Aerie tree
    /// ([`aerie_root`]).
    pub fn command(&self, console: Console) -> Result<Command> {
        if let Some(vm) = &self.qemu {
            return Ok(qemu::qemu_command(vm, console));
        }
        let root = aerie_root()?;
        let cfg = self.aerie_config.as_ref().context("no aerie.toml")?;
        let mut c = Command::new("cargo");
        c.args(["xtask", "run", "--config"]).arg(cfg);
        if let Some(disk) = &self.aerie_disk {
            c.arg("--disk").arg(disk);
        }
        for f in &self.forwards {
            c.arg("--forward").arg(f.aerie_rule());
        }
        c.current_dir(root);
        Ok(c)
    }
}

/// A host TCP port forwarded to a port of the appliance (`deploy --forward
/// HOSTPORT:GUESTPORT`): QEMU's user-mode network takes connections on
/// 127.0.0.1:`host` and makes them to the guest's `guest` port, at the
/// address its DHCP server gives first ([`GUEST_ADDRESS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    pub host: u16,
    pub guest: u16,
}

/// The guest's address on QEMU's user-mode network: what its DHCP server
/// gives first, and where `hostfwd` points by default.
pub const GUEST_ADDRESS: &str = "10.0.2.15";

impl Forward {
    /// `HOSTPORT:GUESTPORT`, both 1..=65535.
    pub fn parse(rule: &str) -> Result<Forward> {
        let port = |p: &str| p.parse::<u16>().ok().filter(|&n| n != 0);
        match rule.split_once(':').map(|(h, g)| (port(h), port(g))) {
            Some((Some(host), Some(guest))) => Ok(Forward { host, guest }),
            _ => bail!("--forward {rule:?}: expected HOSTPORT:GUESTPORT (1..=65535), e.g. 8080:80"),
        }
    }

    /// QEMU's `hostfwd` value.
    pub fn hostfwd(&self) -> String {
        format!("tcp:127.0.0.1:{}-{GUEST_ADDRESS}:{}", self.host, self.guest)
    }

    /// The rule as `cargo xtask run --forward` takes it.
    pub fn aerie_rule(&self) -> String {
        format!("{}:{GUEST_ADDRESS}:{}", self.host, self.guest)
    }
}

/// The Aerie source tree `cargo xtask run` needs for the Aerie target:
/// `$AERIE_ROOT` if set; else the nearest directory at or above the current
/// one that is an Aerie tree; else the tree this tool was built from (where
/// `cargo install --path appliance` still points).
pub fn aerie_root() -> Result<PathBuf> {
    if let Some(root) = std::env::var_os("AERIE_ROOT") {
        let root = PathBuf::from(root);
        if !is_aerie_tree(&root) {
            bail!(
                "AERIE_ROOT={} is not an Aerie source tree (no xtask/ and hypervisor/ there)",
                root.display()
            );
        }
        return Ok(root);
    }
    let cwd = std::env::current_dir().context("the current directory")?;
    if let Some(tree) = cwd.ancestors().find(|d| is_aerie_tree(d)) {
        return Ok(tree.to_path_buf());
    }
    match Path::new(env!("CARGO_MANIFEST_DIR")).parent() {
        Some(tree) if is_aerie_tree(tree) => Ok(tree.to_path_buf()),
        _ => bail!(
            "running an appliance on Aerie needs the Aerie source tree: run from inside it or set AERIE_ROOT"
        ),
    }
}

fn is_aerie_tree(dir: &Path) -> bool {
    dir.join("xtask/Cargo.toml").is_file() && dir.join("hypervisor/Cargo.toml").is_file()
}

/// The default deployment directory: `./NAME-<target>`.
pub fn default_dir(ova: &Path, target: Target) -> PathBuf {
    let stem = ova
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "appliance".into());
    PathBuf::from(format!("{stem}-{target}"))
}

/// Deploys `ova` for `target` into `dir` (must not exist, or be an empty directory).
/// On any problem, what was written into `dir` is removed and the refusal names it.
pub fn deploy(ova: &Path, target: Target, dir: &Path, progress: bool) -> Result<Deployment> {
    deploy_forwarding(ova, target, dir, &[], progress)
}

/// [`deploy`], with host ports forwarded to the appliance's network card
/// (refused when the target's configuration has none).
pub fn deploy_forwarding(
    ova: &Path,
    target: Target,
    dir: &Path,
    forwards: &[Forward],
    progress: bool,
) -> Result<Deployment> {
    let created = prepare_dir(dir)?;
    let result = deploy_into(ova, target, dir, forwards, progress);
    if result.is_err() {
        if created {
            let _ = std::fs::remove_dir_all(dir);
        } else if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    result
}

fn prepare_dir(dir: &Path) -> Result<bool> {
    match std::fs::symlink_metadata(dir) {
        Ok(md) if md.is_dir() => {
            if std::fs::read_dir(dir)?.next().is_some() {
                bail!(
                    "deploy directory {} is not empty; remove it or choose another --dir",
                    dir.display()
                );
            }
            Ok(false)
        }
        Ok(_) => bail!(
            "deploy directory {} exists and is not a directory",
            dir.display()
        ),
        Err(_) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok(true)
        }
    }
}

fn deploy_into(
    ova: &Path,
    target: Target,
    dir: &Path,
    forwards: &[Forward],
    progress: bool,
) -> Result<Deployment> {
    let arch = target.arch();
    let scratch = tempfile::tempdir().context("creating a temp dir")?;
    // Extra disks of the target's configuration go straight into `dir`: all
    // of them for QEMU, as many as an Aerie VM has room for on Aerie.
    let dest = |d: Option<&crate::ovf::Descriptor>, name: &str| -> Option<PathBuf> {
        let d = d?;
        let c = d.config(arch)?;
        let wanted = if target == Target::Aerie {
            aerie_vmconfig::MAX_DISKS
        } else {
            usize::MAX
        };
        c.extra_disks()
            .take(wanted)
            .any(|id| d.disk_file(id).is_some_and(|f| f.href == name))
            .then(|| dir.join(name))
    };
    let checked = check(ova, scratch.path(), &dest, progress)?;
    if !checked.problems.is_empty() {
        let lines: Vec<String> = checked.problems.iter().map(|p| p.to_string()).collect();
        bail!(
            "refusing to deploy {}: it does not validate:\n{}",
            ova.display(),
            lines.join("\n")
        );
    }
    let d = checked.scan.descriptor.as_ref().context("no descriptor")?;
    let Some(cfg) = d.config(arch) else {
        let have: Vec<&str> = d.configs.iter().map(|c| c.arch.name()).collect();
        bail!(
            "refusing to deploy to {target}: the appliance has no {arch} configuration (it has: {})",
            have.join(", ")
        );
    };
    if !forwards.is_empty() && !cfg.network {
        bail!(
            "refusing to forward ports to {target}: the appliance's {arch} configuration has no network card (network = true in its spec)"
        );
    }
    let raw = checked
        .system_raw
        .as_ref()
        .context("the system disk was not read")?;
    let run_script = dir.join("run.sh");
    let mut dep = Deployment {
        target,
        dir: dir.to_path_buf(),
        name: d.name.clone(),
        qemu: None,
        aerie_config: None,
        aerie_disk: None,
        forwards: forwards.to_vec(),
        run_script: run_script.clone(),
        warnings: Vec::new(),
    };
    match target {
        Target::QemuX86_64 | Target::QemuAarch64 => {
            let mut disks = Vec::new();
            for (i, id) in cfg.disks.iter().enumerate() {
                let out = if i == 0 {
                    "system.qcow2".to_string()
                } else {
                    format!("{id}.qcow2")
                };
                if id == crate::ovf::SYSTEM_DISK {
                    qemu_img::convert(raw, "raw", &dir.join(&out), "qcow2", &[], progress)?;
                } else {
                    convert_extra_disk(d, &checked, id, &dir.join(&out), "qcow2", progress)?;
                }
                disks.push(PathBuf::from(out));
            }
            let (code, vars_template) = qemu::firmware(arch);
            if !Path::new(code).is_file() || !Path::new(vars_template).is_file() {
                bail!(
                    "the {arch} UEFI firmware {code} / {vars_template} is missing (Debian: apt-get install {})",
                    if arch == Arch::X86_64 { "ovmf" } else { "qemu-efi-aarch64" }
                );
            }
            let vars = PathBuf::from("efivars.fd");
            std::fs::copy(vars_template, dir.join(&vars))
                .with_context(|| format!("copying {vars_template}"))?;
            let vm = QemuVm {
                arch,
                dir: dir.to_path_buf(),
                cpus: cfg.cpus,
                memory_mib: cfg.memory >> 20,
                disks,
                code: PathBuf::from(code),
                vars,
                kvm: qemu::kvm_usable(arch),
                network: cfg.network,
                forwards: forwards.to_vec(),
            };
            write_script(&run_script, &qemu::run_script(&vm))?;
            dep.qemu = Some(vm);
        }
        Target::Aerie => {
            let esp = Esp::open(raw)?;
            esp.extract(&bootcfg::kernel_path(arch), &dir.join("vmlinuz"))?;
            let has_initrd = esp.exists(&bootcfg::initrd_path(arch));
            if has_initrd {
                esp.extract(&bootcfg::initrd_path(arch), &dir.join("initrd.img"))?;
            }
            // The extra disks, each raw and rounded up to whole MiB, one
            // after the other in one file, the host disk; each is one of the
            // VM's disks (a region of it), in order.
            let extra: Vec<&String> = cfg.extra_disks().collect();
            let img = dir.join(AERIE_DISK);
            let mut disks_mib = Vec::new();
            for (n, id) in extra.iter().enumerate() {
                if n == aerie_vmconfig::MAX_DISKS {
                    dep.warnings.push(format!(
                        "disk {id} of the {arch} configuration and those after it are not attached: an Aerie VM has at most {} disks",
                        aerie_vmconfig::MAX_DISKS
                    ));
                    break;
                }
                let part = dir.join(format!("{id}.raw"));
                convert_extra_disk(d, &checked, id, &part, "raw", progress)?;
                let mib = append_whole_mib(&img, &part)?;
                std::fs::remove_file(&part)?;
                disks_mib.push(mib);
            }
            if !disks_mib.is_empty() {
                dep.aerie_disk = Some(std::fs::canonicalize(&img)?);
            }
            let text = aerie_toml(&d.name, cfg, has_initrd, &disks_mib);
            aerie_vmconfig::parse(&text, dir).map_err(|e| {
                anyhow::anyhow!("refusing to deploy to aerie: the {arch} configuration is not a valid Aerie VM: {e}")
            })?;
            let path = dir.join("aerie.toml");
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            write_script(
                &run_script,
                &aerie_run_sh(
                    aerie_root().ok().as_deref(),
                    !disks_mib.is_empty(),
                    forwards,
                ),
            )?;
            dep.aerie_config = Some(std::fs::canonicalize(&path)?);
        }
    }
    Ok(dep)
}

/// Appends `part` to `img` (created if missing), padded with zeros to whole
/// MiB (Aerie's disk regions are whole MiB). Returns the MiB it takes.
fn append_whole_mib(img: &Path, part: &Path) -> Result<u64> {
    use std::io::Write;
    let len = std::fs::metadata(part)?.len();
    let mib = len.div_ceil(1 << 20).max(1);
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(img)
        .with_context(|| format!("opening {}", img.display()))?;
    let mut input =
        std::fs::File::open(part).with_context(|| format!("reading {}", part.display()))?;
    std::io::copy(&mut input, &mut out).with_context(|| format!("writing {}", img.display()))?;
    out.write_all(&vec![0u8; ((mib << 20) - len) as usize])?;
    Ok(mib)
}

/// Converts extra disk `id` (its streamOptimized VMDK, unpacked into the
/// deployment by the scan) to `out` in `format`, then removes the VMDK.
fn convert_extra_disk(
    d: &crate::ovf::Descriptor,
    checked: &crate::validate::Checked,
    id: &str,
    out: &Path,
    format: &str,
    progress: bool,
) -> Result<()> {
    let href = &d.disk_file(id).context("disk without file")?.href;
    let vmdk = checked
        .scan
        .extracted(href)
        .context("extra disk not unpacked")?;
    qemu_img::check_vmdk_self_contained(vmdk).with_context(|| href.clone())?;
    qemu_img::convert(vmdk, "vmdk", out, format, &[], progress)?;
    std::fs::remove_file(vmdk)?;
    Ok(())
}

/// The VM's disk file next to `aerie.toml`, when it has one.
pub const AERIE_DISK: &str = "disk.img";

/// The Aerie VM config for the aarch64 configuration `cfg` (see
/// crates/vmconfig); `disks_mib`: the sizes of the extra disks laid one
/// after the other in [`AERIE_DISK`], each one of the VM's disks. A network
/// card becomes the VM's card on Aerie's switch, whose uplink `cargo xtask
/// run` puts on QEMU's user-mode network.
pub fn aerie_toml(name: &str, cfg: &crate::ovf::Config, initrd: bool, disks_mib: &[u64]) -> String {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut s = format!(
        "# The appliance's aarch64 configuration as an Aerie VM (written by aerie-appliance deploy).\n\
         [[vm]]\nname = {}\nvcpus = {}\nmemory = \"{}M\"\nkernel = \"vmlinuz\"\n",
        q(name),
        cfg.cpus,
        cfg.memory >> 20
    );
    if initrd {
        s.push_str("initrd = \"initrd.img\"\n");
    }
    s.push_str(&format!("cmdline = {}\n", q(&cfg.cmdline)));
    if cfg.network {
        s.push_str("# The appliance's network card, on Aerie's switch and its uplink.\n[vm.net]\n");
    }
    let mut offset = 0;
    for (n, mib) in disks_mib.iter().enumerate() {
        s.push_str(&format!(
            "# The appliance's extra disk {} ({AERIE_DISK}, the host disk, from {offset}M).\n\
             [[vm.disk]]\noffset = \"{offset}M\"\nsize = \"{mib}M\"\n",
            n + 1
        ));
        offset += mib;
    }
    s
}

/// `run.sh` for the Aerie target: `cargo xtask run --config` in the Aerie
/// tree, `$AERIE_ROOT` or else the tree found at deploy time (`root`).
pub(crate) fn aerie_run_sh(root: Option<&Path>, disk: bool, forwards: &[Forward]) -> String {
    let root_line = match root {
        Some(r) => format!(
            "[ -n \"${{AERIE_ROOT:-}}\" ] || AERIE_ROOT={}\n",
            qemu::sh_quote(&r.to_string_lossy())
        ),
        None => ": \"${AERIE_ROOT:?set AERIE_ROOT to the Aerie source tree}\"\n".to_string(),
    };
    let mut disk_arg = if disk {
        format!(" --disk \"$here/{AERIE_DISK}\"")
    } else {
        String::new()
    };
    for f in forwards {
        disk_arg.push_str(&format!(" --forward {}", f.aerie_rule()));
    }
    format!(
        "#!/bin/sh\n\
         # Boots this appliance's aarch64 configuration as an Aerie VM (written by aerie-appliance deploy).\n\
         # Runs `cargo xtask run` in the Aerie source tree: $AERIE_ROOT, or the one found at deploy time.\n\
         set -e\n\
         here=$(cd \"$(dirname \"$0\")\" && pwd)\n\
         {root_line}\
         cd \"$AERIE_ROOT\"\n\
         exec cargo xtask run --config \"$here/aerie.toml\"{disk_arg} \"$@\"\n"
    )
}

fn write_script(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}
