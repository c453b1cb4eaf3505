//! Errors reading ACPI tables: each names the table and what is wrong with
//! it, so that the loader's one line is enough to find the fault.

use core::fmt;

/// A table's four-character signature, as written ("APIC" for the MADT).
pub type Signature = [u8; 4];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcpiError {
    /// The RSDP is not one (its signature, checksum or revision).
    BadRsdp(&'static str),
    /// The firmware's memory does not hold `len` bytes at `address`.
    Unreadable {
        what: &'static str,
        address: u64,
        len: usize,
    },
    /// A table's bytes do not sum to zero.
    BadChecksum(Signature),
    /// A table is shorter than its layout (or its own length field) needs.
    Truncated {
        table: Signature,
        needed: usize,
        length: usize,
    },
    /// A table the machine cannot be described without is absent.
    Missing(&'static str),
    /// The table describes something Aerie cannot run on.
    Unsupported {
        table: Signature,
        what: &'static str,
    },
}

/// A signature printed as text (non-ASCII bytes as `?`).
pub struct Sig<'a>(pub &'a Signature);

impl fmt::Display for Sig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            let c = if b.is_ascii_graphic() { b as char } else { '?' };
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for AcpiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadRsdp(why) => write!(f, "the RSDP {why}"),
            Self::Unreadable { what, address, len } => {
                write!(f, "{what}: {len} bytes at {address:#x} cannot be read")
            }
            Self::BadChecksum(s) => write!(f, "{}: bad checksum", Sig(s)),
            Self::Truncated {
                table,
                needed,
                length,
            } => write!(
                f,
                "{}: {length} bytes long, its layout needs {needed}",
                Sig(table)
            ),
            Self::Missing(what) => write!(f, "the firmware has no {what}"),
            Self::Unsupported { table, what } => write!(f, "{}: {what}", Sig(table)),
        }
    }
}
