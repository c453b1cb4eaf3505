//! `[[world]]` tables: EL0 user-world programs Aerie starts at boot beside
//! the VMs.

use std::path::{Path, PathBuf};

use toml::Value;

use aerie_bootmodule::Operations;

use crate::error::{ConfigError, ErrorKind, TableKind};
use crate::table::Ctx;

/// Most `[[world]]` tables one config may have.
pub const MAX_WORLDS: usize = 16;
/// Longest world argument, in bytes.
pub const WORLD_ARG_MAX: usize = 4096;

const FIELDS: [&str; 5] = ["name", "program", "arg", "control", "operations"];

/// One `[[world]]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorldConfig {
    /// Unique among worlds (a VM may have the same name); the VM name rule.
    pub name: String,
    /// The program's ELF file, resolved against the config file's directory.
    pub program: PathBuf,
    /// The string the program reads with the `arg` system call; "" if not given.
    pub arg: String,
    /// The VMs the world may control: stop, reset, start, halt, reboot
    /// them or press their power buttons (the `vm_control` system call).
    /// `control = true` (all), `control = ["web", "db"]` (those, by name),
    /// none if not given.
    pub control: WorldControl,
    /// What it may do to them: `operations = ["halt", "button"]`, every
    /// operation if not given. Needs `control`.
    pub operations: Operations,
}

/// Which VMs a world may control.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum WorldControl {
    /// None (`control = false`, or not given): it may look, not touch.
    #[default]
    None,
    /// Every VM (`control = true`).
    All,
    /// The VMs named (`control = ["web"]`), each one of the config's first
    /// [`CONTROL_VMS_MAX`](aerie_bootmodule::format::CONTROL_VMS_MAX).
    Vms(Vec<String>),
}

/// Checks every `[[world]]` table: their number, each table, unique names,
/// and that a `control` list names VMs of `vm_names` (among the first
/// [`CONTROL_VMS_MAX`](aerie_bootmodule::format::CONTROL_VMS_MAX)).
pub(crate) fn parse_worlds(
    list: &[Value],
    base_dir: &Path,
    vm_names: &[&str],
) -> Result<Vec<WorldConfig>, ConfigError> {
    if list.len() > MAX_WORLDS {
        return Err(ConfigError {
            file: None,
            table: None,
            field: Some("world".into()),
            kind: ErrorKind::TooManyWorlds(list.len()),
        });
    }
    let mut worlds: Vec<WorldConfig> = Vec::with_capacity(list.len());
    for (index, value) in list.iter().enumerate() {
        let mut ctx = Ctx::new(TableKind::World, index);
        let world = parse_world(&mut ctx, value, base_dir)?;
        if let Some(first) = worlds.iter().position(|w| w.name == world.name) {
            return Err(ctx.err("name", ErrorKind::DuplicateWorldName { first }));
        }
        if let WorldControl::Vms(names) = &world.control {
            for name in names {
                match vm_names.iter().position(|vm| vm == name) {
                    None => {
                        return Err(ctx.err("control", ErrorKind::ControlUnknownVm(name.clone())))
                    }
                    Some(i) if i >= aerie_bootmodule::format::CONTROL_VMS_MAX => {
                        return Err(ctx.err("control", ErrorKind::ControlVmPastList(name.clone())))
                    }
                    Some(_) => {}
                }
            }
        }
        worlds.push(world);
    }
    Ok(worlds)
}

fn parse_world(ctx: &mut Ctx, value: &Value, base_dir: &Path) -> Result<WorldConfig, ConfigError> {
    let (table, name) = ctx.open(value)?;
    if let Some(key) = table.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ctx.err(key, ErrorKind::UnknownWorldField));
    }
    let program = ctx.required_path(table, base_dir, "program")?;
    let arg = ctx.optional_string(table, "arg")?.unwrap_or_default();
    if arg.len() > WORLD_ARG_MAX {
        return Err(ctx.err("arg", ErrorKind::WorldArgTooLong(arg.len())));
    }
    const CONTROL_TYPE: &str = "true, false or a list of VM names";
    let control = match table.get("control") {
        None | Some(Value::Boolean(false)) => WorldControl::None,
        Some(Value::Boolean(true)) => WorldControl::All,
        Some(Value::Array(names)) if names.is_empty() => WorldControl::None,
        Some(Value::Array(names)) => WorldControl::Vms(
            names
                .iter()
                .map(|n| match n {
                    Value::String(s) => Ok(s.clone()),
                    v => Err(ctx.wrong_type("control", CONTROL_TYPE, v)),
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(v) => return Err(ctx.wrong_type("control", CONTROL_TYPE, v)),
    };
    const OPERATIONS_TYPE: &str = "a list of operation names";
    let operations = match table.get("operations") {
        None => Operations::ALL,
        Some(_) if control == WorldControl::None => {
            return Err(ctx.err("operations", ErrorKind::OperationsWithoutControl))
        }
        Some(Value::Array(names)) => {
            let mut bits = 0;
            for n in names {
                let Value::String(name) = n else {
                    return Err(ctx.wrong_type("operations", OPERATIONS_TYPE, n));
                };
                let Some(&(_, bit)) = Operations::NAMES.iter().find(|(o, _)| o == name) else {
                    return Err(ctx.err("operations", ErrorKind::UnknownOperation(name.clone())));
                };
                bits |= bit;
            }
            Operations(bits)
        }
        Some(v) => return Err(ctx.wrong_type("operations", OPERATIONS_TYPE, v)),
    };
    Ok(WorldConfig {
        name,
        program,
        arg,
        control,
        operations,
    })
}
