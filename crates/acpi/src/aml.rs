//! The devices a DSDT declares, read from its AML without running it: for
//! each `Device`, its `_HID` when that is a string, its `_CRS` when that
//! is a plain buffer (ACPI 6.5 chapter 20 for the encoding, section 6.4 for
//! resource descriptors) and the SystemMemory OperationRegions of constant
//! offset and length it declares. That is how firmware such as QEMU's
//! describes fixed devices: virtio-mmio transports, UARTs, the Generic
//! Event Device's selector.
//!
//! The reader knows the objects that declare things (Scope, Device, Name,
//! Method, OperationRegion, Field and their kin) and skips every object
//! whose length it is told. At anything else it stops reading that scope
//! and goes on after it, whose end the enclosing object gives: a device it
//! cannot read is missed, never misread.

use alloc::string::String;
use alloc::vec::Vec;

use aerie_dt::Region;

/// One device the AML declares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Device {
    /// `_HID`, e.g. "LNRO0005" (virtio-mmio) or "ARMH0011" (PL011).
    pub hid: String,
    /// Memory ranges of its `_CRS`, in order.
    pub memory: Vec<Region>,
    /// Interrupts (GSIVs: GIC INTIDs on Arm) of its `_CRS`, in order.
    pub interrupts: Vec<u32>,
    /// The SystemMemory OperationRegions declared directly in its scope
    /// whose offset and length are integer constants, in order: registers
    /// its methods read (QEMU's GED: its event selector).
    pub regions: Vec<Region>,
}

/// How deep scopes may nest before the reader stops descending: a bound
/// on its stack, far above what firmware writes.
const MAX_DEPTH: usize = 32;

/// The devices with a string `_HID` in `aml` (a DSDT's or SSDT's body),
/// in the order they are declared, leaving out those whose `_STA` is a
/// constant 0 (not present).
pub fn devices(aml: &[u8]) -> Vec<Device> {
    let mut out = Vec::new();
    term_list(aml, 0, None, &mut out);
    out
}

/// What a Device's objects say about it so far.
#[derive(Default)]
struct Found {
    hid: Option<String>,
    crs: Option<(Vec<Region>, Vec<u32>)>,
    regions: Vec<Region>,
    absent: bool,
}

fn term_list(aml: &[u8], depth: usize, mut device: Option<&mut Found>, out: &mut Vec<Device>) {
    if depth > MAX_DEPTH {
        return;
    }
    let mut pos = 0;
    while pos < aml.len() {
        let Some(next) = term(aml, pos, depth, device.as_deref_mut(), out) else {
            return;
        };
        pos = next;
    }
}

/// Reads the object at `pos`; returns where the next one starts, or None
/// where the reader must stop.
fn term(
    aml: &[u8],
    pos: usize,
    depth: usize,
    device: Option<&mut Found>,
    out: &mut Vec<Device>,
) -> Option<usize> {
    match *aml.get(pos)? {
        SCOPE_OP => {
            let (body, end) = package(aml, pos + 1)?;
            let (_, names_end) = name_string(aml, body)?;
            term_list(aml.get(names_end..end)?, depth + 1, None, out);
            Some(end)
        }
        NAME_OP => {
            let (name, value) = name_string(aml, pos + 1)?;
            let (data, end) = data_object(aml, value)?;
            if let Some(found) = device {
                match (name.as_ref(), data) {
                    (Some(b"_HID"), Data::String(s)) => found.hid = Some(s),
                    (Some(b"_CRS"), Data::Buffer(b)) => found.crs = Some(resources(b)),
                    (Some(b"_STA"), Data::Integer(0)) => found.absent = true,
                    _ => {}
                }
            }
            Some(end)
        }
        METHOD_OP | IF_OP | ELSE_OP | WHILE_OP => Some(package(aml, pos + 1)?.1),
        EXTERNAL_OP => Some(name_string(aml, pos + 1)?.1 + 2),
        EXT_PREFIX => match *aml.get(pos + 1)? {
            DEVICE_OP => {
                let (body, end) = package(aml, pos + 2)?;
                let (_, names_end) = name_string(aml, body)?;
                let mut found = Found::default();
                term_list(aml.get(names_end..end)?, depth + 1, Some(&mut found), out);
                if let (Some(hid), false) = (found.hid, found.absent) {
                    let (memory, interrupts) = found.crs.unwrap_or_default();
                    out.push(Device {
                        hid,
                        memory,
                        interrupts,
                        regions: found.regions,
                    });
                }
                Some(end)
            }
            FIELD_OP | INDEX_FIELD_OP | BANK_FIELD_OP | PROCESSOR_OP | POWER_RES_OP
            | THERMAL_ZONE_OP => Some(package(aml, pos + 2)?.1),
            OP_REGION_OP => {
                let (_, space) = name_string(aml, pos + 2)?;
                let (offset, len_at) = integer(aml, space + 1)?;
                let (len, end) = integer(aml, len_at)?;
                if let (Some(found), SYSTEM_MEMORY) = (device, *aml.get(space)?) {
                    found.regions.push(Region::new(offset, len));
                }
                Some(end)
            }
            MUTEX_OP => Some(name_string(aml, pos + 2)?.1 + 1),
            EVENT_OP => Some(name_string(aml, pos + 2)?.1),
            _ => None,
        },
        _ => None,
    }
}

const SCOPE_OP: u8 = 0x10;
const NAME_OP: u8 = 0x08;
const METHOD_OP: u8 = 0x14;
const EXTERNAL_OP: u8 = 0x15;
const IF_OP: u8 = 0xA0;
const ELSE_OP: u8 = 0xA1;
const WHILE_OP: u8 = 0xA2;
const EXT_PREFIX: u8 = 0x5B;
const MUTEX_OP: u8 = 0x01;
const EVENT_OP: u8 = 0x02;
const OP_REGION_OP: u8 = 0x80;
const FIELD_OP: u8 = 0x81;
const DEVICE_OP: u8 = 0x82;
const PROCESSOR_OP: u8 = 0x83;
const POWER_RES_OP: u8 = 0x84;
const THERMAL_ZONE_OP: u8 = 0x85;
const INDEX_FIELD_OP: u8 = 0x86;
const BANK_FIELD_OP: u8 = 0x87;
/// An OperationRegion's RegionSpace 0: system memory.
const SYSTEM_MEMORY: u8 = 0x00;

/// A PkgLength at `pos`: where the package's contents start and where it
/// ends (its length counts from `pos`). None if it runs past `aml`.
fn package(aml: &[u8], pos: usize) -> Option<(usize, usize)> {
    let lead = *aml.get(pos)?;
    let extra = usize::from(lead >> 6);
    let len = if extra == 0 {
        usize::from(lead & 0x3F)
    } else {
        let mut len = usize::from(lead & 0x0F);
        for i in 0..extra {
            len |= usize::from(*aml.get(pos + 1 + i)?) << (4 + 8 * i);
        }
        len
    };
    let end = pos.checked_add(len)?;
    (end <= aml.len() && len > extra).then_some((pos + 1 + extra, end))
}

/// A NameString at `pos`: its last segment (None for the null name) and
/// where it ends.
fn name_string(aml: &[u8], mut pos: usize) -> Option<(Option<[u8; 4]>, usize)> {
    if *aml.get(pos)? == b'\\' {
        pos += 1;
    } else {
        while *aml.get(pos)? == b'^' {
            pos += 1;
        }
    }
    let segments = match *aml.get(pos)? {
        0x00 => return Some((None, pos + 1)),
        0x2E => {
            pos += 1;
            2
        }
        0x2F => {
            pos += 2;
            usize::from(*aml.get(pos - 1)?)
        }
        b'A'..=b'Z' | b'_' => 1,
        _ => return None,
    };
    let end = pos + 4 * segments;
    let last = aml.get(end.checked_sub(4)?..end)?;
    (segments > 0).then(|| (Some(last.try_into().unwrap()), end))
}

enum Data<'a> {
    Integer(u64),
    String(String),
    Buffer(&'a [u8]),
    Other,
}

/// A DataRefObject at `pos` and where it ends.
fn data_object(aml: &[u8], pos: usize) -> Option<(Data<'_>, usize)> {
    if let Some((value, end)) = integer(aml, pos) {
        return Some((Data::Integer(value), end));
    }
    match *aml.get(pos)? {
        STRING_PREFIX => {
            let len = aml.get(pos + 1..)?.iter().position(|&b| b == 0)?;
            let text = core::str::from_utf8(&aml[pos + 1..pos + 1 + len]).ok()?;
            Some((Data::String(String::from(text)), pos + 2 + len))
        }
        BUFFER_OP => {
            let (body, end) = package(aml, pos + 1)?;
            let (_, bytes) = integer(aml, body)?;
            Some((Data::Buffer(aml.get(bytes..end)?), end))
        }
        PACKAGE_OP | VAR_PACKAGE_OP => Some((Data::Other, package(aml, pos + 1)?.1)),
        _ => None,
    }
}

const STRING_PREFIX: u8 = 0x0D;
const BUFFER_OP: u8 = 0x11;
const PACKAGE_OP: u8 = 0x12;
const VAR_PACKAGE_OP: u8 = 0x13;

/// An integer constant at `pos` (Zero, One, Ones, or a Byte/Word/DWord/
/// QWord prefix) and where it ends.
fn integer(aml: &[u8], pos: usize) -> Option<(u64, usize)> {
    let width = match *aml.get(pos)? {
        0x00 => return Some((0, pos + 1)),
        0x01 => return Some((1, pos + 1)),
        0xFF => return Some((u64::MAX, pos + 1)),
        0x0A => 1,
        0x0B => 2,
        0x0C => 4,
        0x0E => 8,
        _ => return None,
    };
    let bytes = aml.get(pos + 1..pos + 1 + width)?;
    let mut value = [0; 8];
    value[..width].copy_from_slice(bytes);
    Some((u64::from_le_bytes(value), pos + 1 + width))
}

/// Memory ranges and interrupts of a resource template (section 6.4):
/// Memory32Fixed, DWord and QWord memory ranges, Extended Interrupt. It
/// stops at the end tag or at a descriptor that runs past the buffer.
fn resources(buf: &[u8]) -> (Vec<Region>, Vec<u32>) {
    let mut memory = Vec::new();
    let mut interrupts = Vec::new();
    let mut pos = 0;
    while let Some(&tag) = buf.get(pos) {
        if tag & 0x80 == 0 {
            // Small item: type in bits 6:3, length in bits 2:0.
            if (tag >> 3) & 0x0F == END_TAG {
                break;
            }
            pos += 1 + usize::from(tag & 7);
            continue;
        }
        let Some(len) = buf.get(pos + 1..pos + 3) else {
            break;
        };
        let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
        let Some(data) = buf.get(pos + 3..pos + 3 + len) else {
            break;
        };
        let u32_at = |o: usize| {
            data.get(o..o + 4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        };
        let u64_at = |o: usize| {
            data.get(o..o + 8)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
        };
        match tag {
            MEMORY32_FIXED => {
                if let (Some(base), Some(size)) = (u32_at(1), u32_at(5)) {
                    memory.push(Region::new(u64::from(base), u64::from(size)));
                }
            }
            DWORD_ADDRESS if data.first() == Some(&MEMORY_RANGE) => {
                if let (Some(base), Some(size)) = (u32_at(7), u32_at(19)) {
                    memory.push(Region::new(u64::from(base), u64::from(size)));
                }
            }
            QWORD_ADDRESS if data.first() == Some(&MEMORY_RANGE) => {
                if let (Some(base), Some(size)) = (u64_at(11), u64_at(35)) {
                    memory.push(Region::new(base, size));
                }
            }
            EXTENDED_INTERRUPT => {
                let count = data.get(1).copied().unwrap_or(0);
                interrupts.extend((0..usize::from(count)).filter_map(|i| u32_at(2 + 4 * i)));
            }
            _ => {}
        }
        pos += 3 + len;
    }
    (memory, interrupts)
}

const END_TAG: u8 = 0x0F;
const MEMORY32_FIXED: u8 = 0x86;
const DWORD_ADDRESS: u8 = 0x87;
const EXTENDED_INTERRUPT: u8 = 0x89;
const QWORD_ADDRESS: u8 = 0x8A;
/// Address space descriptors' resource type 0: a memory range.
const MEMORY_RANGE: u8 = 0;
