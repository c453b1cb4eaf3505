//! The optional `[vm.disk]` table: this VM's region of the host disk.
//!
//! ```toml
//! [vm.disk]
//! offset = "0"      # where the region starts on the host disk
//! size = "64M"      # its length; the VM sees a disk of exactly this size
//! ```
//!
//! Both take the same forms as `memory` and must be multiples of 1 MiB. Virtio
//! only needs 512-byte sectors, but whole MiB keep regions easy to reason about
//! (and to lay out in a disk image by hand), so the config asks for them.

use toml::Value;

use crate::error::ErrorKind;
use crate::size::parse_size;

/// Disk offsets and sizes must be multiples of this (1 MiB).
pub const DISK_ALIGN: u64 = 1 << 20;

const FIELDS: [&str; 2] = ["offset", "size"];

/// A VM's share of the host disk: the boot module's type, which the parsed
/// config is written into unchanged.
pub use aerie_bootmodule::DiskRegion;

/// An error about one key of the table: (`disk.<key>` or `disk`, what).
pub(crate) type DiskError = (String, ErrorKind);

fn size_field(table: &toml::Table, key: &str) -> Result<u64, DiskError> {
    let field = format!("disk.{key}");
    let n = match table.get(key) {
        None => return Err((field, ErrorKind::MissingField)),
        Some(Value::String(s)) => {
            parse_size(s).ok_or_else(|| (field.clone(), ErrorKind::NotASize(s.clone())))?
        }
        Some(Value::Integer(n)) => {
            u64::try_from(*n).map_err(|_| (field.clone(), ErrorKind::NotASize(n.to_string())))?
        }
        Some(v) => {
            return Err((
                field,
                ErrorKind::WrongType {
                    expected: "a size string like \"64M\" or an integer",
                    found: v.type_str(),
                },
            ))
        }
    };
    if !n.is_multiple_of(DISK_ALIGN) {
        return Err((field, ErrorKind::DiskMisaligned(n)));
    }
    Ok(n)
}

/// Parses the value of a VM's `disk` key.
pub(crate) fn parse_disk(value: &Value) -> Result<DiskRegion, DiskError> {
    let Value::Table(table) = value else {
        return Err((
            "disk".into(),
            ErrorKind::WrongType {
                expected: "a table ([vm.disk] with offset and size)",
                found: value.type_str(),
            },
        ));
    };
    if let Some(key) = table.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err((format!("disk.{key}"), ErrorKind::UnknownDiskField));
    }
    let offset = size_field(table, "offset")?;
    let size = size_field(table, "size")?;
    if size == 0 {
        return Err(("disk.size".into(), ErrorKind::DiskEmpty));
    }
    if offset.checked_add(size).is_none() {
        return Err(("disk.size".into(), ErrorKind::NotASize(size.to_string())));
    }
    Ok(DiskRegion { offset, size })
}

/// The first of `earlier` (VMs in file order, `None` = no disk) whose region
/// overlaps `region`, with its index.
pub(crate) fn first_overlap<'a>(
    earlier: impl IntoIterator<Item = Option<&'a DiskRegion>>,
    region: &DiskRegion,
) -> Option<(usize, DiskRegion)> {
    earlier
        .into_iter()
        .enumerate()
        .find_map(|(i, r)| r.filter(|r| r.overlaps(region)).map(|r| (i, *r)))
}
