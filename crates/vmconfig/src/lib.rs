//! The VM config file: a TOML list of `[[vm]]` tables.
//!
//! ```toml
//! [[vm]]
//! name = "testkit"          # required, 1..=31 chars [A-Za-z0-9_-], unique
//! vcpus = 2                 # required, 1..=8
//! memory = "64M"            # required: K/M/G suffix (binary) or plain bytes; >= 16M, multiple of 2M
//! kernel = "path/Image"     # required; relative to the config file's directory
//! initrd = "path"           # optional
//! cmdline = "console=ttyAMA0"  # optional, default ""
//! cpufreq = true            # optional, default true: the guest sets its vCPUs' speed
//!                           # (SCMI clocks; Aerie caps each vCPU by its clock);
//!                           # false: no clocks, every vCPU may use a whole CPU
//!
//! [vm.disk]                 # optional: this VM's region of the host disk
//! offset = "0"              # sizes as for memory, multiples of 1M
//! size = "64M"              # regions of different VMs must not overlap
//!
//! [vm.backdoor]             # optional: the VMware-compatible backdoor (DCC transport)
//! enabled = true            # default true; false = no backdoor, as without the table
//! el0 = true                # default true: guest user space may use it, not only EL1
//! brk = 0x5658              # optional: BRK transport immediate 0..=0xffff; absent = off
//! high_bandwidth = true     # default true: offer the high-bandwidth port
//!
//! [vm.guestinfo]            # optional, needs an enabled [vm.backdoor]
//! greeting = "hello"        # string values; the guest reads key "guestinfo.greeting"
//! net.ip = "10.0.0.2"       # dotted keys flatten: "guestinfo.net.ip"
//! ```
//!
//! Guestinfo is limited as the backdoor's store is: at most 64 keys, keys at
//! most 128 bytes counting the `guestinfo.` prefix, values at most 4096 bytes.
//!
//! [`parse`] is pure (no file system access); [`Config::check_files`] checks that
//! the kernel and initrd files exist; [`load`] reads a file and parses it.

mod backdoor;
mod disk;
mod error;
mod size;
mod vm;

use std::path::{Path, PathBuf};

pub use aerie_bootmodule::BackdoorPolicy;
pub use backdoor::{
    GUESTINFO_MAX_KEYS, GUESTINFO_MAX_KEY_LEN, GUESTINFO_MAX_VALUE_LEN, GUESTINFO_PREFIX,
};
pub use disk::{DiskRegion, DISK_ALIGN};
pub use error::{ConfigError, DiskOverlap, ErrorKind, VmRef};
pub use size::{parse_size, MEMORY_ALIGN, MEMORY_MIN};
pub use vm::{MAX_VCPUS, NAME_MAX};

/// A validated config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The file it came from, when loaded with [`load`] (used in error messages).
    pub source: Option<PathBuf>,
    /// At least one VM; names are unique.
    pub vms: Vec<VmConfig>,
}

/// One `[[vm]]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmConfig {
    pub name: String,
    pub vcpus: u32,
    /// Guest RAM in bytes.
    pub memory: u64,
    /// Kernel image path, resolved against the config file's directory.
    pub kernel: PathBuf,
    /// Initrd path, resolved like `kernel`.
    pub initrd: Option<PathBuf>,
    pub cmdline: String,
    /// The guest sets its vCPUs' speed (`cpufreq`, default true): Aerie gives
    /// it an SCMI clock per vCPU and caps each vCPU by its clock's rate.
    /// False: no clocks, every vCPU may always use a whole pCPU.
    pub cpufreq: bool,
    /// This VM's region of the host disk (`[vm.disk]`), if any.
    pub disk: Option<DiskRegion>,
    /// The VM's backdoor policy (`[vm.backdoor]`); `None` = no backdoor (no
    /// table, or `enabled = false`).
    pub backdoor: Option<BackdoorPolicy>,
    /// Guestinfo keys the VM starts with (`[vm.guestinfo]`), as
    /// `("guestinfo.<name>", value)` in key order; empty unless `backdoor`
    /// is `Some`.
    pub guestinfo: Vec<(String, String)>,
}

/// Reads and parses the config file at `path`; errors carry the path.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: Some(path.to_path_buf()),
        vm: None,
        field: None,
        kind: ErrorKind::Io(e.to_string()),
    })?;
    let base = path.parent().unwrap_or(Path::new(""));
    let mut config = parse(&text, base).map_err(|e| e.in_file(path))?;
    config.source = Some(path.to_path_buf());
    Ok(config)
}

/// Parses config text; relative image paths are resolved against `base_dir`.
pub fn parse(text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
        file: None,
        vm: None,
        field: None,
        kind: ErrorKind::Syntax(e.to_string().trim_end().to_string()),
    })?;
    let top_error = |field: Option<&str>, kind| ConfigError {
        file: None,
        vm: None,
        field: field.map(str::to_string),
        kind,
    };
    if let Some(key) = table.keys().find(|k| k.as_str() != "vm") {
        return Err(top_error(Some(key), ErrorKind::UnknownTopLevel));
    }
    let list = match table.get("vm") {
        None => return Err(top_error(None, ErrorKind::NoVms)),
        Some(toml::Value::Array(list)) if list.is_empty() => {
            return Err(top_error(None, ErrorKind::NoVms))
        }
        Some(toml::Value::Array(list)) => list,
        Some(other) => {
            return Err(top_error(
                Some("vm"),
                ErrorKind::WrongType {
                    expected: "an array of tables ([[vm]])",
                    found: other.type_str(),
                },
            ))
        }
    };

    let mut vms: Vec<VmConfig> = Vec::with_capacity(list.len());
    for (index, value) in list.iter().enumerate() {
        let vm = vm::parse_vm(index, value, base_dir)?;
        if let Some(first) = vms.iter().position(|v| v.name == vm.name) {
            return Err(ConfigError {
                file: None,
                vm: Some(VmRef {
                    index,
                    name: Some(vm.name.clone()),
                }),
                field: Some("name".into()),
                kind: ErrorKind::DuplicateName { first },
            });
        }
        if let Some(region) = &vm.disk {
            if let Some((other, theirs)) =
                disk::first_overlap(vms.iter().map(|v| v.disk.as_ref()), region)
            {
                return Err(ConfigError {
                    file: None,
                    vm: Some(VmRef {
                        index,
                        name: Some(vm.name.clone()),
                    }),
                    field: Some("disk".into()),
                    kind: ErrorKind::DiskOverlap(Box::new(DiskOverlap {
                        other,
                        other_name: vms[other].name.clone(),
                        ours: (region.offset, region.end()),
                        theirs: (theirs.offset, theirs.end()),
                    })),
                });
            }
        }
        vms.push(vm);
    }
    Ok(Config { source: None, vms })
}

impl Config {
    /// How large the host disk must be: the end of the furthest region, or
    /// `None` when no VM has a disk.
    pub fn disk_end(&self) -> Option<u64> {
        self.vms
            .iter()
            .filter_map(|v| v.disk.map(|d| d.end()))
            .max()
    }

    /// Checks that every kernel and initrd path names an existing file.
    pub fn check_files(&self) -> Result<(), ConfigError> {
        for (index, vm) in self.vms.iter().enumerate() {
            let files = std::iter::once(("kernel", &vm.kernel))
                .chain(vm.initrd.as_ref().map(|p| ("initrd", p)));
            for (field, path) in files {
                if !path.is_file() {
                    return Err(ConfigError {
                        file: self.source.clone(),
                        vm: Some(VmRef {
                            index,
                            name: Some(vm.name.clone()),
                        }),
                        field: Some(field.into()),
                        kind: ErrorKind::FileNotFound(path.clone()),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
