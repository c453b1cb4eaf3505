//! Why a symbol table was refused.

use core::fmt;

/// A malformed symbol table, with where it went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolsError {
    /// The first 8 bytes are not `AESYMS01`.
    BadMagic,
    /// The header announces more bytes than the blob has.
    Truncated { needed: usize, len: usize },
    /// Non-zero bytes after the string table.
    TrailingBytes { offset: usize },
    /// Entry `index` has an address not above the previous entry's.
    NotSorted { index: usize, prev: u64, addr: u64 },
    /// Entry `index`'s `addr + size` overflows 64 bits.
    SizeOverflow { index: usize },
    /// Entry `index`'s name starts outside the string table.
    NameOutOfBounds { index: usize, name_off: u32 },
    /// Entry `index`'s name has no NUL before the end of the string table.
    NameNotTerminated { index: usize },
    /// Entry `index`'s name is not UTF-8.
    NameNotUtf8 { index: usize },
}

impl fmt::Display for SymbolsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SymbolsError::BadMagic => write!(f, "symbol table: bad magic (want AESYMS01)"),
            SymbolsError::Truncated { needed, len } => {
                write!(
                    f,
                    "symbol table: truncated: needs {needed} bytes, has {len}"
                )
            }
            SymbolsError::TrailingBytes { offset } => {
                write!(f, "symbol table: non-zero trailing byte at offset {offset}")
            }
            SymbolsError::NotSorted { index, prev, addr } => write!(
                f,
                "symbol table: entry {index} at {addr:#x} does not follow previous {prev:#x}"
            ),
            SymbolsError::SizeOverflow { index } => {
                write!(f, "symbol table: entry {index}: addr + size overflows")
            }
            SymbolsError::NameOutOfBounds { index, name_off } => write!(
                f,
                "symbol table: entry {index}: name offset {name_off} outside string table"
            ),
            SymbolsError::NameNotTerminated { index } => {
                write!(f, "symbol table: entry {index}: name not NUL-terminated")
            }
            SymbolsError::NameNotUtf8 { index } => {
                write!(f, "symbol table: entry {index}: name is not UTF-8")
            }
        }
    }
}
