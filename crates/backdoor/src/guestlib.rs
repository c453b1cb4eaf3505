//! The Guest API's statistics: what VMware's guest library (vmGuestLib:
//! `vmware-toolbox-cmd stat sessionid|memlimit|cpulimit|balloon|...`, and
//! monitoring agents built on it) reads with the RPCI request
//! `guestlib.info.get 3`.
//!
//! The reply after `1 ` is a packed little-endian header (the data
//! version, 3; the session id; the length of what follows), then the
//! statistics in XDR (RFC 4506), as open-vm-tools' `guestlibV3.x` lays
//! them out: a count, then every statistic from id 1 up, each its id, a
//! valid flag and its value. A request for another version gets `0 3`, the
//! version Aerie speaks, on which the library asks again for version 3.
//!
//! Aerie answers what it knows: the VM's memory (all of it allocated and
//! mapped when the VM is built: reservation, limit, mapped, used and
//! target alike, nothing ballooned, swapped or shared), no CPU limit or
//! reservation, the CPU time its vCPUs have had, the counter's frequency
//! as the host's MHz (as GETMHZ), the time since the VM started, the time
//! its vCPUs waited for a pCPU (where its guest reads stolen time, which is
//! when Aerie counts it), and the root resource pool. Shares, active
//! memory and overhead are not kept: those statistics go out marked not
//! valid, which the library reports as "not available on this host".

use alloc::vec::Vec;

/// The request, and the data version Aerie answers.
pub const COMMAND: &str = "guestlib.info.get";
pub const VERSION: u32 = 3;

/// What the VM's statistics are made of, at the moment of the request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Nonzero, and the same for the VM's whole run (the library starts
    /// over when it changes, as after a migration).
    pub session_id: u64,
    pub host_mhz: u32,
    pub memory_mb: u32,
    /// CPU time its vCPUs have had, summed.
    pub cpu_used_ms: u64,
    /// Since the VM started.
    pub elapsed_ms: u64,
    /// Time its vCPUs waited, ready, for a pCPU, summed; None where it is
    /// not counted (its guest does not read stolen time).
    pub cpu_stolen_ms: Option<u64>,
}

/// The statistics that change while the VM runs, as its host counts them
/// (`Host::usage`), in ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub cpu_used_ms: u64,
    pub elapsed_ms: u64,
    pub cpu_stolen_ms: Option<u64>,
}

impl Facts {
    /// These facts with the running statistics of `usage`.
    pub fn with_usage(&self, usage: Usage) -> Facts {
        Facts {
            cpu_used_ms: usage.cpu_used_ms,
            elapsed_ms: usage.elapsed_ms,
            cpu_stolen_ms: usage.cpu_stolen_ms,
            ..*self
        }
    }
}

/// One statistic's value on the wire.
enum Stat {
    U32(Option<u32>),
    U64(Option<u64>),
    Text(&'static str),
}

/// `guestlibV3.x`'s statistics in id order (id = index + 1).
fn stats(f: &Facts) -> [Stat; 20] {
    use Stat::*;
    let mem = Some(f.memory_mb);
    [
        U32(Some(0)),        // 1 CPU reservation, MHz
        U32(Some(u32::MAX)), // 2 CPU limit, MHz: none
        U32(None),           // 3 CPU shares
        U64(Some(f.cpu_used_ms)),
        U32(Some(f.host_mhz)),
        U32(mem),     // 6 memory reservation, MB
        U32(mem),     // 7 memory limit
        U32(None),    // 8 memory shares
        U32(mem),     // 9 mapped
        U32(None),    // 10 active
        U32(None),    // 11 overhead
        U32(Some(0)), // 12 ballooned
        U32(Some(0)), // 13 swapped
        U32(Some(0)), // 14 shared
        U32(Some(0)), // 15 shared, saved
        U32(mem),     // 16 used
        U64(Some(f.elapsed_ms)),
        Text("/"),                         // 18 resource pool path: the root
        U64(f.cpu_stolen_ms),              // 19 CPU stolen, ms
        U64(Some(u64::from(f.memory_mb))), // 20 memory target size, MB
    ]
}

/// The reply to `guestlib.info.get <args>`.
pub fn reply(args: &str, facts: &Facts) -> Vec<u8> {
    if args.trim().parse::<u32>() != Ok(VERSION) {
        return Vec::from(&b"0 3"[..]);
    }
    let mut data = Vec::new();
    let list = stats(facts);
    put(&mut data, list.len() as u32);
    for (i, stat) in list.iter().enumerate() {
        put(&mut data, i as u32 + 1);
        match *stat {
            Stat::U32(v) => {
                put(&mut data, u32::from(v.is_some()));
                put(&mut data, v.unwrap_or(0));
            }
            Stat::U64(v) => {
                put(&mut data, u32::from(v.is_some()));
                data.extend_from_slice(&v.unwrap_or(0).to_be_bytes());
            }
            Stat::Text(s) => {
                put(&mut data, 1);
                put(&mut data, s.len() as u32);
                data.extend_from_slice(s.as_bytes());
                data.resize(data.len().next_multiple_of(4), 0);
            }
        }
    }
    let mut out = Vec::with_capacity(2 + 16 + data.len());
    out.extend_from_slice(b"1 ");
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&facts.session_id.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// An XDR unsigned int.
fn put(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests;
