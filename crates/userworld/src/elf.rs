//! Loading a user program: a static ELF64 little-endian AArch64 executable
//! (`ET_EXEC`), parsed from untrusted bytes without panicking on any input.
//!
//! Only `PT_LOAD` program headers matter. [`parse`] checks every segment
//! against the user layout ([`crate::layout`]) and the W^X rule, and hands
//! the loader a [`Program`]: for each [`Segment`], copy `bytes[file]` to
//! `vaddr`, zero the rest up to [`Segment::mapped_size`], and map it with
//! [`Perms`]. Sections, symbols and relocations are never looked at.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use crate::layout::{LOW_GUARD, PAGE_SIZE, PROGRAM_END, PROGRAM_MAX_BYTES};

/// The most loadable segments a program may have (text, rodata, data and
/// bss need four at most; the rest is headroom, and a bound on the work).
pub const MAX_SEGMENTS: usize = 16;

/// Size of the ELF64 file header.
const EHDR_SIZE: usize = 64;
/// Size of one ELF64 program header (the only `e_phentsize` accepted).
const PHDR_SIZE: u16 = 56;

const ELFMAG: [u8; 4] = [0x7F, b'E', b'L', b'F'];
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const ET_EXEC: u16 = 2;
const EM_AARCH64: u16 = 183;
const PT_LOAD: u32 = 1;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// How a segment is mapped at EL0. There is no writable-and-executable
/// mapping: a program that asks for one is refused (W^X).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Perms {
    /// Read-only data (`PF_R`).
    ReadOnly,
    /// Data and bss (`PF_R | PF_W`, or `PF_W` alone: EL0 cannot have a
    /// write-only mapping).
    ReadWrite,
    /// Code (`PF_R | PF_X`, or `PF_X` alone).
    ReadExecute,
}

/// One loadable segment, checked: page-aligned, inside the program area,
/// not overlapping any other segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Where the segment starts in the user world (page aligned).
    pub vaddr: u64,
    /// Its size in memory (> 0); the part past the file bytes is zeroed.
    pub mem_size: u64,
    /// The bytes of the ELF image copied to `vaddr` (at most `mem_size`).
    pub file: Range<usize>,
    /// How the segment is mapped.
    pub perms: Perms,
}

impl Segment {
    /// The bytes the loader maps: `mem_size` rounded up to a whole page.
    /// (Never overflows for a segment [`parse`] returned.)
    pub fn mapped_size(&self) -> u64 {
        round_up(self.mem_size).unwrap_or(u64::MAX)
    }
}

/// A parsed program: where it starts and what to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The entry point (`e_entry`), inside a [`Perms::ReadExecute`] segment.
    pub entry: u64,
    /// The loadable segments, in program-header order.
    pub segments: Vec<Segment>,
}

/// Why a program was refused. Segment indices are program-header indices,
/// as `readelf -l` numbers them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// The image is shorter than the 64-byte ELF header.
    TooShort { len: usize },
    /// The first four bytes are not `\x7fELF`.
    BadMagic { magic: [u8; 4] },
    /// `EI_CLASS` is not `ELFCLASS64`.
    NotElf64 { class: u8 },
    /// `EI_DATA` is not `ELFDATA2LSB`.
    NotLittleEndian { data: u8 },
    /// `e_type` is not `ET_EXEC` (a shared object or PIE needs relocating,
    /// which Aerie does not do).
    NotExecutable { e_type: u16 },
    /// `e_machine` is not `EM_AARCH64`.
    NotAArch64 { machine: u16 },
    /// `e_phentsize` is not the ELF64 program-header size, 56.
    BadPhentsize { size: u16 },
    /// The program-header table does not fit in the image.
    HeadersOutOfBounds { offset: u64, count: u16, len: usize },
    /// No `PT_LOAD` program header.
    NoLoadSegment,
    /// More than [`MAX_SEGMENTS`] `PT_LOAD` program headers.
    TooManySegments { count: usize },
    /// A segment that is writable and executable.
    WriteExecute { index: usize, vaddr: u64 },
    /// A segment that is neither readable, writable nor executable.
    NoPermissions {
        index: usize,
        vaddr: u64,
        flags: u32,
    },
    /// A segment with `p_memsz` 0.
    EmptySegment { index: usize, vaddr: u64 },
    /// A segment with more file bytes than memory.
    FileLargerThanMemory {
        index: usize,
        vaddr: u64,
        file_size: u64,
        mem_size: u64,
    },
    /// A segment whose file bytes lie outside the image.
    FileOutOfBounds {
        index: usize,
        vaddr: u64,
        offset: u64,
        file_size: u64,
        len: usize,
    },
    /// A segment starting below [`LOW_GUARD`].
    BelowLowGuard { index: usize, vaddr: u64 },
    /// A segment not starting on a page boundary.
    Misaligned { index: usize, vaddr: u64 },
    /// A segment reaching past [`PROGRAM_END`] (or past the end of the
    /// address space).
    PastProgramEnd {
        index: usize,
        vaddr: u64,
        mem_size: u64,
    },
    /// Two segments sharing a page.
    Overlap {
        first: usize,
        first_vaddr: u64,
        second: usize,
        second_vaddr: u64,
    },
    /// The segments take more than [`PROGRAM_MAX_BYTES`] (page-rounded).
    TooLarge { total: u64 },
    /// The entry point is not inside a [`Perms::ReadExecute`] segment.
    EntryNotExecutable { entry: u64 },
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ElfError::TooShort { len } => {
                write!(
                    f,
                    "file is {len} bytes, shorter than the {EHDR_SIZE}-byte ELF header"
                )
            }
            ElfError::BadMagic {
                magic: [a, b, c, d],
            } => {
                write!(f, "not an ELF file (magic {a:02x} {b:02x} {c:02x} {d:02x})")
            }
            ElfError::NotElf64 { class } => write!(f, "not a 64-bit ELF (EI_CLASS {class})"),
            ElfError::NotLittleEndian { data } => {
                write!(f, "not a little-endian ELF (EI_DATA {data})")
            }
            ElfError::NotExecutable { e_type } => write!(
                f,
                "not a static executable (e_type {e_type}, want ET_EXEC {ET_EXEC})"
            ),
            ElfError::NotAArch64 { machine } => {
                write!(f, "not an AArch64 ELF (e_machine {machine})")
            }
            ElfError::BadPhentsize { size } => {
                write!(f, "program header size {size}, want {PHDR_SIZE}")
            }
            ElfError::HeadersOutOfBounds { offset, count, len } => write!(
                f,
                "program header table ({count} entries at offset {offset:#x}) runs past the \
                 end of the {len}-byte file"
            ),
            ElfError::NoLoadSegment => f.write_str("no loadable (PT_LOAD) segment"),
            ElfError::TooManySegments { count } => {
                write!(f, "{count} loadable segments, more than {MAX_SEGMENTS}")
            }
            ElfError::WriteExecute { index, vaddr } => {
                write!(
                    f,
                    "segment {index} at {vaddr:#x} is writable and executable (W^X)"
                )
            }
            ElfError::NoPermissions {
                index,
                vaddr,
                flags,
            } => write!(
                f,
                "segment {index} at {vaddr:#x} is neither readable, writable nor executable \
                 (p_flags {flags:#x})"
            ),
            ElfError::EmptySegment { index, vaddr } => {
                write!(f, "segment {index} at {vaddr:#x} has a memory size of 0")
            }
            ElfError::FileLargerThanMemory {
                index,
                vaddr,
                file_size,
                mem_size,
            } => write!(
                f,
                "segment {index} at {vaddr:#x} has file size {file_size:#x}, larger than its \
                 memory size {mem_size:#x}"
            ),
            ElfError::FileOutOfBounds {
                index,
                vaddr,
                offset,
                file_size,
                len,
            } => write!(
                f,
                "segment {index} at {vaddr:#x} has file bytes {file_size:#x} at offset \
                 {offset:#x}, outside the {len}-byte file"
            ),
            ElfError::BelowLowGuard { index, vaddr } => write!(
                f,
                "segment {index} at {vaddr:#x} lies below the low guard {LOW_GUARD:#x}"
            ),
            ElfError::Misaligned { index, vaddr } => {
                write!(f, "segment {index} at {vaddr:#x} is not page aligned")
            }
            ElfError::PastProgramEnd {
                index,
                vaddr,
                mem_size,
            } => write!(
                f,
                "segment {index} at {vaddr:#x} ({mem_size:#x} bytes) reaches past the end of \
                 the program area {PROGRAM_END:#x}"
            ),
            ElfError::Overlap {
                first,
                first_vaddr,
                second,
                second_vaddr,
            } => write!(
                f,
                "segments {first} at {first_vaddr:#x} and {second} at {second_vaddr:#x} overlap"
            ),
            ElfError::TooLarge { total } => write!(
                f,
                "segments take {total:#x} bytes, more than the {PROGRAM_MAX_BYTES:#x}-byte limit"
            ),
            ElfError::EntryNotExecutable { entry } => {
                write!(f, "entry point {entry:#x} is not in an executable segment")
            }
        }
    }
}

/// `n` rounded up to a whole page, `None` on overflow.
fn round_up(n: u64) -> Option<u64> {
    Some(n.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1))
}

/// The `N` bytes at `off`, or `None` past the end.
fn field<const N: usize>(bytes: &[u8], off: usize) -> Option<[u8; N]> {
    bytes.get(off..off.checked_add(N)?)?.try_into().ok()
}

fn u16_at(bytes: &[u8], off: usize) -> Option<u16> {
    field(bytes, off).map(u16::from_le_bytes)
}

fn u32_at(bytes: &[u8], off: usize) -> Option<u32> {
    field(bytes, off).map(u32::from_le_bytes)
}

fn u64_at(bytes: &[u8], off: usize) -> Option<u64> {
    field(bytes, off).map(u64::from_le_bytes)
}

/// The fields of one program header that matter here.
struct Phdr {
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    file_size: u64,
    mem_size: u64,
}

/// Reads program header `off` (already bounds-checked by the caller; a
/// short read still yields `None` rather than a panic).
fn phdr_at(bytes: &[u8], off: usize) -> Option<Phdr> {
    Some(Phdr {
        p_type: u32_at(bytes, off)?,
        flags: u32_at(bytes, off.checked_add(4)?)?,
        offset: u64_at(bytes, off.checked_add(8)?)?,
        vaddr: u64_at(bytes, off.checked_add(16)?)?,
        file_size: u64_at(bytes, off.checked_add(32)?)?,
        mem_size: u64_at(bytes, off.checked_add(40)?)?,
    })
}

/// Mapping permissions from `p_flags`, refusing W+X and no access at all.
fn perms(index: usize, ph: &Phdr) -> Result<Perms, ElfError> {
    let (r, w, x) = (
        ph.flags & PF_R != 0,
        ph.flags & PF_W != 0,
        ph.flags & PF_X != 0,
    );
    let vaddr = ph.vaddr;
    match (r, w, x) {
        (_, true, true) => Err(ElfError::WriteExecute { index, vaddr }),
        (_, false, true) => Ok(Perms::ReadExecute),
        (_, true, false) => Ok(Perms::ReadWrite),
        (true, false, false) => Ok(Perms::ReadOnly),
        (false, false, false) => Err(ElfError::NoPermissions {
            index,
            vaddr,
            flags: ph.flags,
        }),
    }
}

/// Checks one `PT_LOAD` header and turns it into a [`Segment`].
fn segment(index: usize, ph: &Phdr, len: usize) -> Result<Segment, ElfError> {
    let perms = perms(index, ph)?;
    let vaddr = ph.vaddr;
    if ph.mem_size == 0 {
        return Err(ElfError::EmptySegment { index, vaddr });
    }
    if ph.file_size > ph.mem_size {
        return Err(ElfError::FileLargerThanMemory {
            index,
            vaddr,
            file_size: ph.file_size,
            mem_size: ph.mem_size,
        });
    }
    // The file bytes, as a range of `bytes` (every step checked).
    let file = usize::try_from(ph.offset)
        .ok()
        .zip(usize::try_from(ph.file_size).ok())
        .and_then(|(start, size)| Some(start..start.checked_add(size)?))
        .filter(|range| range.end <= len)
        .ok_or(ElfError::FileOutOfBounds {
            index,
            vaddr,
            offset: ph.offset,
            file_size: ph.file_size,
            len,
        })?;
    if vaddr < LOW_GUARD {
        return Err(ElfError::BelowLowGuard { index, vaddr });
    }
    if !vaddr.is_multiple_of(PAGE_SIZE) {
        return Err(ElfError::Misaligned { index, vaddr });
    }
    let mapped_end = round_up(ph.mem_size).and_then(|size| vaddr.checked_add(size));
    if !matches!(mapped_end, Some(e) if e <= PROGRAM_END) {
        return Err(ElfError::PastProgramEnd {
            index,
            vaddr,
            mem_size: ph.mem_size,
        });
    }
    Ok(Segment {
        vaddr,
        mem_size: ph.mem_size,
        file,
        perms,
    })
}

/// Parses and checks a user program. Never panics, whatever `bytes` hold.
pub fn parse(bytes: &[u8]) -> Result<Program, ElfError> {
    let len = bytes.len();
    if len < EHDR_SIZE {
        return Err(ElfError::TooShort { len });
    }
    // The header is 64 bytes and `len >= 64`, so these reads all succeed;
    // `unwrap_or` keeps that from being a panic path anyway.
    let magic: [u8; 4] = field(bytes, 0).unwrap_or_default();
    if magic != ELFMAG {
        return Err(ElfError::BadMagic { magic });
    }
    let class = bytes[4];
    if class != ELFCLASS64 {
        return Err(ElfError::NotElf64 { class });
    }
    let data = bytes[5];
    if data != ELFDATA2LSB {
        return Err(ElfError::NotLittleEndian { data });
    }
    let e_type = u16_at(bytes, 16).unwrap_or(0);
    if e_type != ET_EXEC {
        return Err(ElfError::NotExecutable { e_type });
    }
    let machine = u16_at(bytes, 18).unwrap_or(0);
    if machine != EM_AARCH64 {
        return Err(ElfError::NotAArch64 { machine });
    }
    let entry = u64_at(bytes, 24).unwrap_or(0);
    let phoff = u64_at(bytes, 32).unwrap_or(0);
    let phentsize = u16_at(bytes, 54).unwrap_or(0);
    let phnum = u16_at(bytes, 56).unwrap_or(0);
    if phnum == 0 {
        return Err(ElfError::NoLoadSegment);
    }
    if phentsize != PHDR_SIZE {
        return Err(ElfError::BadPhentsize { size: phentsize });
    }
    let out_of_bounds = ElfError::HeadersOutOfBounds {
        offset: phoff,
        count: phnum,
        len,
    };
    let table = usize::try_from(phoff)
        .ok()
        .and_then(|start| {
            let end = start.checked_add(usize::from(phnum) * usize::from(PHDR_SIZE))?;
            (end <= len).then_some(start)
        })
        .ok_or_else(|| out_of_bounds.clone())?;
    // Every header lies inside `bytes` now. They are read in place (twice)
    // rather than collected: a hostile image may hold 65535 of them.
    let loads = || {
        (0..usize::from(phnum))
            .map(move |i| (i, phdr_at(bytes, table + i * usize::from(PHDR_SIZE))))
            .filter(|(_, ph)| ph.as_ref().is_none_or(|ph| ph.p_type == PT_LOAD))
    };
    let count = loads().count();
    if count == 0 {
        return Err(ElfError::NoLoadSegment);
    }
    if count > MAX_SEGMENTS {
        return Err(ElfError::TooManySegments { count });
    }

    let mut segments: Vec<Segment> = Vec::with_capacity(count);
    let mut indices: Vec<usize> = Vec::with_capacity(count);
    let mut total: u64 = 0;
    for (index, ph) in loads() {
        let ph = ph.ok_or_else(|| out_of_bounds.clone())?;
        let seg = segment(index, &ph, len)?;
        let (start, end) = (seg.vaddr, seg.vaddr.saturating_add(seg.mapped_size()));
        for (other, &other_index) in segments.iter().zip(&indices) {
            let other_end = other.vaddr.saturating_add(other.mapped_size());
            if start < other_end && other.vaddr < end {
                return Err(ElfError::Overlap {
                    first: other_index,
                    first_vaddr: other.vaddr,
                    second: index,
                    second_vaddr: seg.vaddr,
                });
            }
        }
        total = total.saturating_add(seg.mapped_size());
        segments.push(seg);
        indices.push(index);
    }
    if total > PROGRAM_MAX_BYTES {
        return Err(ElfError::TooLarge { total });
    }
    let executable = segments
        .iter()
        .any(|s| s.perms == Perms::ReadExecute && entry >= s.vaddr && entry - s.vaddr < s.mem_size);
    if !executable {
        return Err(ElfError::EntryNotExecutable { entry });
    }
    Ok(Program { entry, segments })
}

#[cfg(test)]
mod tests;
