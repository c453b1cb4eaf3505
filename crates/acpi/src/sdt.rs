//! Finding tables: the RSDP, the XSDT (or the RSDT of ACPI 1.0) it points
//! to, and each table's header and checksum (ACPI 6.5, sections 5.2.5 to
//! 5.2.8).

use alloc::vec::Vec;

use crate::error::{AcpiError, Signature};

/// The firmware's memory, read by physical address. The loader reads it
/// directly (UEFI maps memory 1:1); tests give a buffer.
pub trait Memory {
    /// `len` bytes at `address`, or None if they are not all readable.
    fn read(&self, address: u64, len: usize) -> Option<&[u8]>;
}

/// Every table starts with this header (section 5.2.6).
pub const HEADER_LEN: usize = 36;
/// A bound on one table's length: a firmware's largest, the DSDT, is well
/// under it, and a corrupt length field cannot make the loader read far.
pub const MAX_TABLE_LEN: usize = 16 << 20;

/// One table, checked: its length is its header's, and it sums to zero.
#[derive(Debug, Clone, Copy)]
pub struct Table<'a> {
    pub signature: Signature,
    pub bytes: &'a [u8],
}

impl<'a> Table<'a> {
    /// The table at `address`, whatever its signature.
    pub fn read(
        memory: &'a dyn Memory,
        address: u64,
        what: &'static str,
    ) -> Result<Self, AcpiError> {
        let unreadable = |len| AcpiError::Unreadable { what, address, len };
        let header = memory
            .read(address, HEADER_LEN)
            .ok_or(unreadable(HEADER_LEN))?;
        let mut signature = [0; 4];
        signature.copy_from_slice(&header[..4]);
        let length = u32::from_le_bytes(header[4..8].try_into().unwrap()) as usize;
        if length < HEADER_LEN {
            return Err(AcpiError::Truncated {
                table: signature,
                needed: HEADER_LEN,
                length,
            });
        }
        if length > MAX_TABLE_LEN {
            return Err(AcpiError::Unsupported {
                table: signature,
                what: "longer than 16 MiB",
            });
        }
        let bytes = memory.read(address, length).ok_or(unreadable(length))?;
        if checksum(bytes) != 0 {
            return Err(AcpiError::BadChecksum(signature));
        }
        Ok(Self { signature, bytes })
    }

    /// The header's OEM ID and OEM table ID, trimmed ("BOCHS", "BXPC").
    pub fn oem(&self) -> (&'a str, &'a str) {
        let text = |b: &'a [u8]| {
            core::str::from_utf8(b)
                .unwrap_or("?")
                .trim_end_matches(['\0', ' '])
        };
        (text(&self.bytes[10..16]), text(&self.bytes[16..24]))
    }

    pub fn revision(&self) -> u8 {
        self.bytes[8]
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// `N` bytes at `offset`, or Truncated naming this table.
    pub fn field<const N: usize>(&self, offset: usize) -> Result<[u8; N], AcpiError> {
        self.bytes
            .get(offset..offset + N)
            .map(|b| b.try_into().unwrap())
            .ok_or(AcpiError::Truncated {
                table: self.signature,
                needed: offset + N,
                length: self.bytes.len(),
            })
    }

    /// Truncated unless the table reaches `end`.
    pub fn require(&self, end: usize) -> Result<(), AcpiError> {
        self.field::<0>(end).map(|_| ())
    }

    pub fn u8(&self, offset: usize) -> Result<u8, AcpiError> {
        Ok(self.field::<1>(offset)?[0])
    }

    pub fn u16(&self, offset: usize) -> Result<u16, AcpiError> {
        Ok(u16::from_le_bytes(self.field(offset)?))
    }

    pub fn u32(&self, offset: usize) -> Result<u32, AcpiError> {
        Ok(u32::from_le_bytes(self.field(offset)?))
    }

    pub fn u64(&self, offset: usize) -> Result<u64, AcpiError> {
        Ok(u64::from_le_bytes(self.field(offset)?))
    }

    /// What follows the header.
    pub fn body(&self) -> &'a [u8] {
        &self.bytes[HEADER_LEN..]
    }
}

/// The byte sum a valid table or RSDP has: zero.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |sum, b| sum.wrapping_add(*b))
}

/// The root table's entries: the address of every other table.
pub fn table_addresses(memory: &dyn Memory, rsdp: u64) -> Result<Vec<u64>, AcpiError> {
    let bad = AcpiError::BadRsdp;
    let v1 = memory.read(rsdp, 20).ok_or(AcpiError::Unreadable {
        what: "RSDP",
        address: rsdp,
        len: 20,
    })?;
    if &v1[..8] != b"RSD PTR " {
        return Err(bad("has no \"RSD PTR \" signature"));
    }
    if checksum(v1) != 0 {
        return Err(bad("has a bad checksum"));
    }
    let revision = v1[15];
    let rsdt = u32::from_le_bytes(v1[16..20].try_into().unwrap());
    if revision >= 2 {
        let v2 = memory.read(rsdp, 36).ok_or(AcpiError::Unreadable {
            what: "RSDP",
            address: rsdp,
            len: 36,
        })?;
        if checksum(v2) != 0 {
            return Err(bad("has a bad extended checksum"));
        }
        let xsdt = u64::from_le_bytes(v2[24..32].try_into().unwrap());
        if xsdt != 0 {
            return entries(&Table::read(memory, xsdt, "XSDT")?, *b"XSDT", 8);
        }
    }
    if rsdt == 0 {
        return Err(bad("points to no root table"));
    }
    entries(&Table::read(memory, u64::from(rsdt), "RSDT")?, *b"RSDT", 4)
}

/// The `width`-byte addresses after a root table's header.
fn entries(table: &Table<'_>, expected: Signature, width: usize) -> Result<Vec<u64>, AcpiError> {
    if table.signature != expected {
        return Err(AcpiError::Unsupported {
            table: table.signature,
            what: "found where the RSDP points to its root table",
        });
    }
    Ok(table
        .body()
        .chunks_exact(width)
        .map(|c| {
            let mut b = [0; 8];
            b[..width].copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect())
}

/// Every table with `signature` among `addresses` (SSDTs come in any
/// number); one that cannot be read or fails its checksum is an error.
pub fn find_all<'a>(
    memory: &'a dyn Memory,
    addresses: &[u64],
    signature: Signature,
    what: &'static str,
) -> Result<Vec<Table<'a>>, AcpiError> {
    carrying(memory, addresses, signature)
        .map(|a| Table::read(memory, a, what))
        .collect()
}

/// The first table with `signature` among `addresses`. Tables that cannot
/// be read or fail their checksum are errors only if they carry the
/// signature looked for.
pub fn find<'a>(
    memory: &'a dyn Memory,
    addresses: &[u64],
    signature: Signature,
    what: &'static str,
) -> Result<Option<Table<'a>>, AcpiError> {
    carrying(memory, addresses, signature)
        .next()
        .map(|a| Table::read(memory, a, what))
        .transpose()
}

/// The addresses among `addresses` whose table starts with `signature`
/// (one whose signature cannot be read carries none).
fn carrying<'m>(
    memory: &'m dyn Memory,
    addresses: &'m [u64],
    signature: Signature,
) -> impl Iterator<Item = u64> + 'm {
    addresses
        .iter()
        .copied()
        .filter(move |&a| memory.read(a, 4) == Some(&signature[..]))
}
