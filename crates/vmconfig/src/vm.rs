//! One `[[vm]]` table, checked field by field so errors name the field.

use std::path::Path;

use toml::Value;

use crate::backdoor::{parse_backdoor, parse_guestinfo};
use crate::disk::parse_disk;
use crate::error::{ConfigError, ErrorKind, VmRef};
use crate::size::{parse_size, MEMORY_ALIGN, MEMORY_MIN};
use crate::VmConfig;

/// Longest VM name (the boot module stores 31 bytes plus a NUL).
pub const NAME_MAX: usize = 31;
/// Most vCPUs one VM may have.
pub const MAX_VCPUS: u32 = 8;

const FIELDS: [&str; 10] = [
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
];

/// Builds errors about VM `index`, naming it once its name is known.
struct Ctx {
    index: usize,
    name: Option<String>,
}

impl Ctx {
    fn err(&self, field: &str, kind: ErrorKind) -> ConfigError {
        ConfigError {
            file: None,
            vm: Some(VmRef {
                index: self.index,
                name: self.name.clone(),
            }),
            field: Some(field.to_string()),
            kind,
        }
    }

    fn wrong_type(&self, field: &str, expected: &'static str, v: &Value) -> ConfigError {
        self.err(
            field,
            ErrorKind::WrongType {
                expected,
                found: v.type_str(),
            },
        )
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is empty".into());
    }
    if name.len() > NAME_MAX {
        return Err(format!(
            "{name:?} is {} characters, more than {NAME_MAX}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!("{name:?} contains {c:?}; use only A-Z a-z 0-9 _ -"));
    }
    Ok(())
}

pub(crate) fn parse_vm(
    index: usize,
    value: &Value,
    base_dir: &Path,
) -> Result<VmConfig, ConfigError> {
    let mut ctx = Ctx { index, name: None };
    let Value::Table(table) = value else {
        return Err(ctx.wrong_type("vm", "a table ([[vm]])", value));
    };
    // Read the name first so every later error can show it.
    let name = match table.get("name") {
        None => return Err(ctx.err("name", ErrorKind::MissingField)),
        Some(Value::String(s)) => s.clone(),
        Some(v) => return Err(ctx.wrong_type("name", "a string", v)),
    };
    check_name(&name).map_err(|why| ctx.err("name", ErrorKind::BadName(why)))?;
    ctx.name = Some(name.clone());

    if let Some(key) = table.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ctx.err(key, ErrorKind::UnknownField));
    }
    let required = |field: &str| {
        table
            .get(field)
            .ok_or_else(|| ctx.err(field, ErrorKind::MissingField))
    };
    let optional_string = |field: &str| match table.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(ctx.wrong_type(field, "a string", v)),
    };
    let path = |field: &str, s: String| {
        if s.is_empty() {
            Err(ctx.err(field, ErrorKind::EmptyPath))
        } else {
            Ok(base_dir.join(s))
        }
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

    let kernel = match required("kernel")? {
        Value::String(s) => path("kernel", s.clone())?,
        v => return Err(ctx.wrong_type("kernel", "a string", v)),
    };
    let initrd = optional_string("initrd")?
        .map(|s| path("initrd", s))
        .transpose()?;
    let cmdline = optional_string("cmdline")?.unwrap_or_default();
    let cpufreq = match table.get("cpufreq") {
        None => true,
        Some(Value::Boolean(b)) => *b,
        Some(v) => return Err(ctx.wrong_type("cpufreq", "true or false", v)),
    };
    let disk = table
        .get("disk")
        .map(parse_disk)
        .transpose()
        .map_err(|(field, kind)| ctx.err(&field, kind))?;
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

    Ok(VmConfig {
        name,
        vcpus,
        memory,
        kernel,
        initrd,
        cmdline,
        cpufreq,
        disk,
        backdoor,
        guestinfo,
    })
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names() {
        assert!(check_name("testkit").is_ok());
        assert!(check_name("a-b_C9").is_ok());
        assert!(check_name(&"x".repeat(31)).is_ok());
        assert!(check_name(&"x".repeat(32)).is_err());
        assert!(check_name("").is_err());
        assert!(check_name("has space").is_err());
        assert!(check_name("dot.ted").is_err());
        assert!(check_name("naïve").is_err());
    }
}
