//! The Base protocol (0x10, DEN0056 section 4.2): who the platform is and
//! which protocols it offers this agent.

use crate::message::{
    Args, Reply, Status, PROTOCOL_ATTRIBUTES, PROTOCOL_MESSAGE_ATTRIBUTES, PROTOCOL_VERSION,
};

pub const PROTOCOL_ID: u8 = 0x10;
/// Version 2.0.
pub const VERSION: u32 = 0x0002_0000;

pub const DISCOVER_VENDOR: u8 = 0x3;
pub const DISCOVER_SUB_VENDOR: u8 = 0x4;
pub const DISCOVER_IMPLEMENTATION_VERSION: u8 = 0x5;
pub const DISCOVER_LIST_PROTOCOLS: u8 = 0x6;
pub const DISCOVER_AGENT: u8 = 0x7;

pub const VENDOR: &str = "aerie";
pub const SUB_VENDOR: &str = "aerie-virt";
/// Aerie's own version of this implementation.
pub const IMPLEMENTATION_VERSION: u32 = 1;

/// The protocols offered besides Base, ascending.
pub const PROTOCOLS: [u8; 1] = [crate::clock::PROTOCOL_ID];

/// Serves one Base protocol command.
pub fn handle(message: u8, args: &Args<'_>) -> Reply {
    handle_inner(message, args).unwrap_or_else(Reply::status)
}

fn handle_inner(message: u8, args: &Args<'_>) -> Result<Reply, Status> {
    let mut r = Reply::success();
    match message {
        PROTOCOL_VERSION => {
            r.word(VERSION);
        }
        PROTOCOL_ATTRIBUTES => {
            // [7:0] protocols besides Base, [15:8] agents: none are
            // described to the guest (it is the only agent it can see).
            r.word(PROTOCOLS.len() as u32);
        }
        PROTOCOL_MESSAGE_ATTRIBUTES => {
            let m = args.word(0).ok_or(Status::ProtocolError)?;
            if m > DISCOVER_LIST_PROTOCOLS as u32 {
                return Err(Status::NotFound);
            }
            r.word(0);
        }
        DISCOVER_VENDOR => {
            r.name(VENDOR);
        }
        DISCOVER_SUB_VENDOR => {
            r.name(SUB_VENDOR);
        }
        DISCOVER_IMPLEMENTATION_VERSION => {
            r.word(IMPLEMENTATION_VERSION);
        }
        DISCOVER_LIST_PROTOCOLS => {
            let skip = args.word(0).ok_or(Status::ProtocolError)? as usize;
            if skip > PROTOCOLS.len() {
                return Err(Status::InvalidParameters);
            }
            let rest = &PROTOCOLS[skip..];
            r.word(rest.len() as u32);
            // Four protocol ids per word, the first in the low byte.
            for chunk in rest.chunks(4) {
                let mut w = [0u8; 4];
                w[..chunk.len()].copy_from_slice(chunk);
                r.word(u32::from_le_bytes(w));
            }
        }
        _ => return Err(Status::NotFound),
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn call(message: u8, args: &[u32]) -> Vec<u32> {
        let bytes: Vec<u8> = args.iter().flat_map(|w| w.to_le_bytes()).collect();
        handle(message, &Args(&bytes))
            .bytes()
            .chunks(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    #[test]
    fn discovery() {
        assert_eq!(call(PROTOCOL_VERSION, &[]), [0, VERSION]);
        assert_eq!(call(PROTOCOL_ATTRIBUTES, &[]), [0, 1]);
        assert_eq!(call(DISCOVER_IMPLEMENTATION_VERSION, &[]), [0, 1]);
        let vendor = call(DISCOVER_VENDOR, &[]);
        let name: Vec<u8> = vendor[1..].iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(&name[..6], b"aerie\0");
        assert_eq!(name.len(), 16);
    }

    #[test]
    fn list_protocols_skips() {
        assert_eq!(call(DISCOVER_LIST_PROTOCOLS, &[0]), [0, 1, 0x14]);
        assert_eq!(call(DISCOVER_LIST_PROTOCOLS, &[1]), [0, 0]);
        assert_eq!(
            call(DISCOVER_LIST_PROTOCOLS, &[2]),
            [Status::InvalidParameters as i32 as u32]
        );
        assert_eq!(
            call(DISCOVER_LIST_PROTOCOLS, &[]),
            [Status::ProtocolError as i32 as u32]
        );
    }

    #[test]
    fn unknown_and_unoffered_messages() {
        let not_found = Status::NotFound as i32 as u32;
        assert_eq!(call(DISCOVER_AGENT, &[0]), [not_found]);
        assert_eq!(
            call(PROTOCOL_MESSAGE_ATTRIBUTES, &[DISCOVER_AGENT as u32]),
            [not_found]
        );
        assert_eq!(
            call(PROTOCOL_MESSAGE_ATTRIBUTES, &[DISCOVER_VENDOR as u32]),
            [0, 0]
        );
        assert_eq!(call(0x40, &[]), [not_found]);
    }
}
