//! The VM config file: a TOML list of `[[vm]]` tables, and of `[[world]]`
//! tables for the user worlds Aerie starts beside the VMs.
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
//! size = "64M"              # regions must not overlap (any VM's); for up to
//!                           # 4 disks use [[vm.disk]] tables instead
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
//!
//! [vm.net]                  # optional: a network card on Aerie's switch (virtio-net)
//! mac = "02:00:00:12:34:56" # optional; default 52:54:00:ae:00:<VM index + 1>; unique
//! network = "lab"           # optional, default "default": cards talk only within their network
//! uplink = true             # optional, default true: false keeps the card off the
//!                           # machine's own network card
//!
//! [[world]]                 # optional, at most 16: an EL0 program started at boot
//! name = "watcher"          # required, the VM name rule; unique among worlds
//! program = "path/to/elf"   # required; relative to the config file's directory
//! arg = "text"              # optional, default "": what the program's `arg` call reads;
//!                           # at most 4096 bytes
//! control = true            # optional, default false: the world may stop, reset, start,
//!                           # halt, reboot VMs and press their power buttons (the
//!                           # `vm_control` call); without it that call fails; or a list
//!                           # of VM names (among the first 32 VMs), e.g. ["web"]: those
//!                           # and no other
//! operations = ["button"]   # optional, default every one; needs `control`: what the
//!                           # world may do to those VMs, of "stop", "reset", "start",
//!                           # "halt", "reboot" and "button"
//! ```
//!
//! At least one `[[vm]]` is required, worlds or not. Only `vm` and `world`
//! may appear at the top level.
//!
//! Guestinfo is limited as the backdoor's store is: at most 64 keys, keys at
//! most 128 bytes counting the `guestinfo.` prefix, values at most 4096 bytes.
//!
//! [`parse`] is pure (no file system access); [`Config::check_files`] checks that
//! the kernel, initrd and program files exist; [`load`] reads a file and parses it.

mod backdoor;
mod disk;
mod error;
mod net;
mod size;
mod table;
mod vm;
mod world;

use std::path::{Path, PathBuf};

use table::Ctx;

pub use aerie_bootmodule::BackdoorPolicy;
pub use aerie_bootmodule::{Mac, NetCard};
pub use backdoor::{
    GUESTINFO_MAX_KEYS, GUESTINFO_MAX_KEY_LEN, GUESTINFO_MAX_VALUE_LEN, GUESTINFO_PREFIX,
};
pub use disk::{DiskRegion, DISK_ALIGN, MAX_DISKS};
pub use error::{ConfigError, DiskOverlap, ErrorKind, NotAProgram, TableKind, TableRef};
pub use net::{default_mac, NetConfig, DEFAULT_NETWORK};
pub use size::{parse_size, MEMORY_ALIGN, MEMORY_MIN};
pub use table::NAME_MAX;
pub use vm::MAX_VCPUS;
pub use world::{WorldConfig, WorldControl, MAX_WORLDS, WORLD_ARG_MAX};

/// A validated config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The file it came from, when loaded with [`load`] (used in error messages).
    pub source: Option<PathBuf>,
    /// At least one VM; names are unique.
    pub vms: Vec<VmConfig>,
    /// At most [`MAX_WORLDS`] user worlds; names are unique among them.
    pub worlds: Vec<WorldConfig>,
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
    /// This VM's regions of the host disk (`[vm.disk]` or `[[vm.disk]]`), in
    /// the order the guest sees them; empty for none.
    pub disks: Vec<DiskRegion>,
    /// The VM's backdoor policy (`[vm.backdoor]`); `None` = no backdoor (no
    /// table, or `enabled = false`).
    pub backdoor: Option<BackdoorPolicy>,
    /// Guestinfo keys the VM starts with (`[vm.guestinfo]`), as
    /// `("guestinfo.<name>", value)` in key order; empty unless `backdoor`
    /// is `Some`.
    pub guestinfo: Vec<(String, String)>,
    /// The VM's network card (`[vm.net]`); `None` = no card.
    pub net: Option<NetConfig>,
}

/// Reads and parses the config file at `path`; errors carry the path.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: Some(path.to_path_buf()),
        table: None,
        field: None,
        kind: ErrorKind::Io(e.to_string()),
    })?;
    let base = path.parent().unwrap_or(Path::new(""));
    let mut config = parse(&text, base).map_err(|e| e.in_file(path))?;
    config.source = Some(path.to_path_buf());
    Ok(config)
}

/// Parses config text; relative image and program paths are resolved against
/// `base_dir`.
pub fn parse(text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
        file: None,
        table: None,
        field: None,
        kind: ErrorKind::Syntax(e.to_string().trim_end().to_string()),
    })?;
    let top_error = |field: Option<&str>, kind| ConfigError {
        file: None,
        table: None,
        field: field.map(str::to_string),
        kind,
    };
    if let Some(key) = table
        .keys()
        .find(|k| !["vm", "world"].contains(&k.as_str()))
    {
        return Err(top_error(Some(key), ErrorKind::UnknownTopLevel));
    }
    // An absent key is no tables.
    let tables = |key: &str, expected| match table.get(key) {
        None => Ok(&[][..]),
        Some(toml::Value::Array(list)) => Ok(&list[..]),
        Some(other) => Err(top_error(
            Some(key),
            ErrorKind::WrongType {
                expected,
                found: other.type_str(),
            },
        )),
    };
    let list = tables("vm", "an array of tables ([[vm]])")?;
    if list.is_empty() {
        return Err(top_error(None, ErrorKind::NoVms));
    }

    let mut vms: Vec<VmConfig> = Vec::with_capacity(list.len());
    for (index, value) in list.iter().enumerate() {
        let vm = vm::parse_vm(index, value, base_dir)?;
        let ctx = Ctx::named(TableKind::Vm, index, &vm.name);
        if let Some(first) = vms.iter().position(|v| v.name == vm.name) {
            return Err(ctx.err("name", ErrorKind::DuplicateName { first }));
        }
        for region in &vm.disks {
            let earlier = vms
                .iter()
                .enumerate()
                .flat_map(|(i, v)| v.disks.iter().map(move |d| (i, d)));
            if let Some((other, theirs)) = disk::first_overlap(earlier, region) {
                return Err(ctx.err(
                    "disk",
                    ErrorKind::DiskOverlap(Box::new(DiskOverlap {
                        other,
                        other_name: vms[other].name.clone(),
                        ours: (region.offset, region.end()),
                        theirs: (theirs.offset, theirs.end()),
                    })),
                ));
            }
        }
        if let Some(mac) = vm.net.as_ref().map(|n| n.mac) {
            if let Some(first) = vms
                .iter()
                .position(|v| v.net.as_ref().is_some_and(|n| n.mac == mac))
            {
                let name = vms[first].name.clone();
                return Err(ctx.err("net.mac", ErrorKind::DuplicateMac { first, name }));
            }
        }
        vms.push(vm);
    }
    let vm_names: Vec<&str> = vms.iter().map(|v| v.name.as_str()).collect();
    let worlds = world::parse_worlds(
        tables("world", "an array of tables ([[world]])")?,
        base_dir,
        &vm_names,
    )?;
    Ok(Config {
        source: None,
        vms,
        worlds,
    })
}

impl Config {
    /// World `w`'s rights as the boot module carries them: a `control` list
    /// becomes the set of the VMs' indices.
    pub fn world_control(&self, w: &WorldConfig) -> aerie_bootmodule::Control {
        match &w.control {
            WorldControl::None => aerie_bootmodule::Control::None,
            WorldControl::All => aerie_bootmodule::Control::All,
            WorldControl::Vms(names) => aerie_bootmodule::Control::Listed(
                self.vms
                    .iter()
                    .enumerate()
                    .filter(|(_, vm)| names.contains(&vm.name))
                    .fold(0, |set, (i, _)| {
                        set | 1u32.checked_shl(i as u32).unwrap_or(0)
                    }),
            ),
        }
    }

    /// VM `index`'s network card as the boot module carries it: networks
    /// are numbered from 0 in the order the VMs first name them.
    pub fn net_card(&self, index: usize) -> Option<NetCard> {
        let net = self.vms.get(index)?.net.as_ref()?;
        let mut names: Vec<&str> = Vec::new();
        for n in self.vms.iter().filter_map(|v| v.net.as_ref()) {
            if !names.contains(&n.network.as_str()) {
                names.push(&n.network);
            }
        }
        let network = names.iter().position(|&n| n == net.network)?;
        Some(NetCard {
            mac: net.mac,
            network: u16::try_from(network).ok()?,
            uplink: net.uplink,
        })
    }

    /// How large the host disk must be: the end of the furthest region, or
    /// `None` when no VM has a disk.
    pub fn disk_end(&self) -> Option<u64> {
        self.vms
            .iter()
            .flat_map(|v| v.disks.iter().map(|d| d.end()))
            .max()
    }

    /// Checks that every kernel, initrd and program path names an existing file.
    pub fn check_files(&self) -> Result<(), ConfigError> {
        let vm_files = self.vms.iter().enumerate().flat_map(|(index, vm)| {
            std::iter::once(("kernel", &vm.kernel))
                .chain(vm.initrd.as_ref().map(|p| ("initrd", p)))
                .map(move |(field, path)| (TableKind::Vm, index, &vm.name, field, path))
        });
        let world_files = self
            .worlds
            .iter()
            .enumerate()
            .map(|(index, w)| (TableKind::World, index, &w.name, "program", &w.program));
        for (kind, index, name, field, path) in vm_files.chain(world_files) {
            if !path.is_file() {
                return Err(ConfigError {
                    file: self.source.clone(),
                    ..Ctx::named(kind, index, name)
                        .err(field, ErrorKind::FileNotFound(path.clone()))
                });
            }
        }
        Ok(())
    }

    /// Each world's program, read and checked with the ELF rules Aerie's
    /// loader applies (a static AArch64 executable, W^X segments in the
    /// user range), so a bad file is refused here, naming the world, rather
    /// than by Aerie at boot.
    pub fn read_programs(&self) -> Result<Vec<Vec<u8>>, ConfigError> {
        let fail = |index, world: &WorldConfig, kind| ConfigError {
            file: self.source.clone(),
            ..Ctx::named(TableKind::World, index, &world.name).err("program", kind)
        };
        self.worlds
            .iter()
            .enumerate()
            .map(|(index, world)| {
                let bytes = std::fs::read(&world.program)
                    .map_err(|e| fail(index, world, ErrorKind::Io(e.to_string())))?;
                aerie_userworld::elf::parse(&bytes).map_err(|e| {
                    let why = NotAProgram {
                        path: world.program.clone(),
                        why: e.to_string(),
                    };
                    fail(index, world, ErrorKind::NotAProgram(Box::new(why)))
                })?;
                Ok(bytes)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
