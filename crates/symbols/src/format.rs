//! Byte layout (all integers little-endian):
//!
//! | offset            | size        | field                                   |
//! |-------------------|-------------|-----------------------------------------|
//! | 0                 | 8           | magic `b"AESYMS01"`                     |
//! | 8                 | 4           | `count`: number of entries              |
//! | 12                | 4           | `strtab_len`: bytes of string table     |
//! | 16                | 16 * count  | entries, strictly ascending by `addr`   |
//! | 16 + 16 * count   | strtab_len  | string table: NUL-terminated UTF-8 names |
//!
//! Entry: `addr: u64`, `size: u32` (0 = unknown: the symbol extends to the
//! next one), `name_off: u32` (offset of the name in the string table).
//! Trailing zero bytes after the string table are allowed (alignment
//! padding added by whatever carries the blob); anything else is refused.

/// The first 8 bytes of every table.
pub const MAGIC: [u8; 8] = *b"AESYMS01";
/// Bytes before the first entry.
pub const HEADER_LEN: usize = 16;
/// Bytes per entry.
pub const ENTRY_LEN: usize = 16;
