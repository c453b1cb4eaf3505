//! One `[[vm]]` table, checked field by field so errors name the field.

use std::path::Path;

use toml::Value;

use crate::backdoor::{parse_backdoor, parse_guestinfo};
use crate::disk::parse_disks;
use crate::error::{ConfigError, ErrorKind, TableKind};
use crate::net::parse_net;
use crate::size::{parse_size, MEMORY_ALIGN, MEMORY_MIN};
use crate::table::Ctx;
use crate::VmConfig;

/// Most vCPUs one VM may have.
pub const MAX_VCPUS: u32 = 8;

const FIELDS: [&str; 11] = [
    "name",
    "vcpus",
    "memory",
    "kernel",
    "initrd",
    "cmdline",
    "cpufreq",
    "disk",
    "backdoor",
    "guestinfo",
    "net",
];

pub(crate) fn parse_vm(
    index: usize,
    value: &Value,
    base_dir: &Path,
) -> Result<VmConfig, ConfigError> {
    let mut ctx = Ctx::new(TableKind::Vm, index);
    let (table, name) = ctx.open(value)?;
    if let Some(key) = table.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ctx.err(key, ErrorKind::UnknownField));
    }
    let required = |field: &str| {
        table
            .get(field)
            .ok_or_else(|| ctx.err(field, ErrorKind::MissingField))
    };

    let vcpus = match required("vcpus")? {
        Value::Integer(n) if (1..=i64::from(MAX_VCPUS)).contains(n) => *n as u32,
        Value::Integer(n) => return Err(ctx.err("vcpus", ErrorKind::VcpusOutOfRange(*n))),
        v => return Err(ctx.wrong_type("vcpus", "an integer", v)),
    };

    let memory = match required("memory")? {
        Value::String(s) => {
            parse_size(s).ok_or_else(|| ctx.err("memory", ErrorKind::NotASize(s.clone())))?
        }
        Value::Integer(n) => {
            u64::try_from(*n).map_err(|_| ctx.err("memory", ErrorKind::NotASize(n.to_string())))?
        }
        v => return Err(ctx.wrong_type("memory", "a size string like \"64M\" or an integer", v)),
    };
    if memory < MEMORY_MIN {
        return Err(ctx.err("memory", ErrorKind::MemoryTooSmall(memory)));
    }
    if !memory.is_multiple_of(MEMORY_ALIGN) {
        return Err(ctx.err("memory", ErrorKind::MemoryMisaligned(memory)));
    }

    let kernel = ctx.required_path(table, base_dir, "kernel")?;
    let initrd = ctx
        .optional_string(table, "initrd")?
        .map(|s| ctx.path(base_dir, "initrd", &s))
        .transpose()?;
    let cmdline = ctx.optional_string(table, "cmdline")?.unwrap_or_default();
    let cpufreq = match table.get("cpufreq") {
        None => true,
        Some(Value::Boolean(b)) => *b,
        Some(v) => return Err(ctx.wrong_type("cpufreq", "true or false", v)),
    };
    let disks = table
        .get("disk")
        .map(parse_disks)
        .transpose()
        .map_err(|(field, kind)| ctx.err(&field, kind))?
        .unwrap_or_default();
    let backdoor = table
        .get("backdoor")
        .map(parse_backdoor)
        .transpose()
        .map_err(|(field, kind)| ctx.err(&field, kind))?
        .flatten();
    let guestinfo = match table.get("guestinfo") {
        None => Vec::new(),
        Some(_) if backdoor.is_none() => {
            return Err(ctx.err("guestinfo", ErrorKind::GuestinfoWithoutBackdoor))
        }
        Some(v) => parse_guestinfo(v).map_err(|(field, kind)| ctx.err(&field, kind))?,
    };

    let net = table
        .get("net")
        .map(|v| parse_net(index, v))
        .transpose()
        .map_err(|(field, kind)| ctx.err(&field, kind))?;

    Ok(VmConfig {
        name,
        vcpus,
        memory,
        kernel,
        initrd,
        cmdline,
        cpufreq,
        disks,
        backdoor,
        guestinfo,
        net,
    })
}
