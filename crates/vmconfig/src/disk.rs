//! The optional `[vm.disk]` table: this VM's region of the host disk; or,
//! for more than one disk, `[[vm.disk]]` tables (at most [`MAX_DISKS`]),
//! which the guest sees in order (`vda`, `vdb`, ...).
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

/// Most disks one VM may have.
pub const MAX_DISKS: usize = 1 + aerie_bootmodule::format::MORE_DISKS_MAX;

const FIELDS: [&str; 2] = ["offset", "size"];

/// A VM's share of the host disk: the boot module's type, which the parsed
/// config is written into unchanged.
pub use aerie_bootmodule::DiskRegion;

/// An error about one key of the table: (`disk.<key>` or `disk`, what).
pub(crate) type DiskError = (String, ErrorKind);

fn size_field(table: &toml::Table, table_field: &str, key: &str) -> Result<u64, DiskError> {
    let field = format!("{table_field}.{key}");
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

/// Parses the value of a VM's `disk` key: one table, or an array of them.
pub(crate) fn parse_disks(value: &Value) -> Result<Vec<DiskRegion>, DiskError> {
    let Value::Array(list) = value else {
        return Ok(vec![parse_disk(value, "disk")?]);
    };
    if list.is_empty() || list.len() > MAX_DISKS {
        return Err(("disk".into(), ErrorKind::DiskCount(list.len())));
    }
    let mut disks: Vec<DiskRegion> = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let field = format!("disk[{i}]");
        let region = parse_disk(v, &field)?;
        if let Some((other, _)) = first_overlap(disks.iter().enumerate(), &region) {
            return Err((field, ErrorKind::DiskOverlapsOwn(other)));
        }
        disks.push(region);
    }
    Ok(disks)
}

/// Parses one disk table; `field` names it in errors (`disk`, `disk[1]`).
fn parse_disk(value: &Value, field: &str) -> Result<DiskRegion, DiskError> {
    let Value::Table(table) = value else {
        return Err((
            field.into(),
            ErrorKind::WrongType {
                expected: "a table ([vm.disk] with offset and size, or [[vm.disk]] tables)",
                found: value.type_str(),
            },
        ));
    };
    if let Some(key) = table.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err((format!("{field}.{key}"), ErrorKind::UnknownDiskField));
    }
    let offset = size_field(table, field, "offset")?;
    let size = size_field(table, field, "size")?;
    if size == 0 {
        return Err((format!("{field}.size"), ErrorKind::DiskEmpty));
    }
    if offset.checked_add(size).is_none() {
        return Err((
            format!("{field}.size"),
            ErrorKind::NotASize(size.to_string()),
        ));
    }
    Ok(DiskRegion { offset, size })
}

/// The first of `earlier` ((owner index, region) pairs, in order) whose
/// region overlaps `region`.
pub(crate) fn first_overlap<'a>(
    earlier: impl IntoIterator<Item = (usize, &'a DiskRegion)>,
    region: &DiskRegion,
) -> Option<(usize, DiskRegion)> {
    earlier
        .into_iter()
        .find(|(_, r)| r.overlaps(region))
        .map(|(i, r)| (i, *r))
}
