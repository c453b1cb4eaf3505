//! SCMI messages: the header, status codes, and reading and writing the
//! little-endian 32-bit words payloads are made of.

/// SCMI status codes (DEN0056 section 4.1.4), returned as a signed 32-bit
/// first word of every reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Success = 0,
    NotSupported = -1,
    InvalidParameters = -2,
    Denied = -3,
    NotFound = -4,
    OutOfRange = -5,
    Busy = -6,
    CommsError = -7,
    GenericError = -8,
    HardwareError = -9,
    ProtocolError = -10,
}

/// A message header (section 4.1.2): message_id \[7:0\], message_type \[9:8\]
/// (0 = command), protocol_id \[17:10\], token \[27:18\].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header(pub u32);

impl Header {
    pub const fn new(protocol: u8, message: u8, token: u16) -> Header {
        Header(message as u32 | (protocol as u32) << 10 | ((token as u32) & 0x3ff) << 18)
    }

    pub const fn message_id(self) -> u8 {
        self.0 as u8
    }

    pub const fn message_type(self) -> u8 {
        ((self.0 >> 8) & 0b11) as u8
    }

    pub const fn protocol_id(self) -> u8 {
        (self.0 >> 10) as u8
    }
}

/// Message ids every protocol has (section 4.1.5 and each protocol's).
pub const PROTOCOL_VERSION: u8 = 0x0;
pub const PROTOCOL_ATTRIBUTES: u8 = 0x1;
pub const PROTOCOL_MESSAGE_ATTRIBUTES: u8 = 0x2;

/// The longest reply payload Aerie writes (status included), in bytes: a
/// DESCRIBE_RATES with every rate, or a protocol list.
pub const MAX_REPLY: usize = 128;

/// A request's payload, read as 32-bit words.
pub struct Args<'a>(pub &'a [u8]);

impl Args<'_> {
    /// Word `i`, or None when the guest sent fewer bytes.
    pub fn word(&self, i: usize) -> Option<u32> {
        let b = self.0.get(i * 4..i * 4 + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// A reply being built: the status word, then the return values.
pub struct Reply {
    bytes: [u8; MAX_REPLY],
    len: usize,
}

impl Reply {
    /// A reply that so far says `status`.
    pub fn status(status: Status) -> Reply {
        let mut r = Reply {
            bytes: [0; MAX_REPLY],
            len: 0,
        };
        r.word(status as i32 as u32);
        r
    }

    pub fn success() -> Reply {
        Reply::status(Status::Success)
    }

    /// Appends a word (silently dropped past [`MAX_REPLY`]: no reply Aerie
    /// builds gets there; the tests check the longest).
    pub fn word(&mut self, w: u32) -> &mut Reply {
        if self.len + 4 <= MAX_REPLY {
            self.bytes[self.len..self.len + 4].copy_from_slice(&w.to_le_bytes());
            self.len += 4;
        }
        self
    }

    /// Appends a 16-byte NUL-padded name (truncated to 15 characters).
    pub fn name(&mut self, name: &str) -> &mut Reply {
        let mut field = [0u8; 16];
        let n = name.len().min(15);
        field[..n].copy_from_slice(&name.as_bytes()[..n]);
        for chunk in field.chunks(4) {
            self.word(u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
        }
        self
    }

    /// The first word, as a status.
    pub fn status_word(&self) -> i32 {
        i32::from_le_bytes([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]])
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields() {
        let h = Header::new(0x14, 0x5, 0x3ff);
        assert_eq!(h.message_id(), 5);
        assert_eq!(h.protocol_id(), 0x14);
        assert_eq!(h.message_type(), 0);
        assert_eq!(h.0 >> 18, 0x3ff);
        // A delayed response or notification type is not a command.
        assert_eq!(Header(h.0 | 2 << 8).message_type(), 2);
    }

    #[test]
    fn reply_words_and_names() {
        let mut r = Reply::success();
        r.word(0x1234_5678).name("aerie-long-vendor-name");
        assert_eq!(r.bytes().len(), 4 + 4 + 16);
        assert_eq!(&r.bytes()[4..8], &0x1234_5678u32.to_le_bytes());
        // 15 characters and a NUL.
        assert_eq!(&r.bytes()[8..24], b"aerie-long-vend\0");
        assert_eq!(Reply::status(Status::NotFound).status_word(), -4);
    }

    #[test]
    fn short_args_read_as_none() {
        let a = Args(&[1, 0, 0, 0, 2, 0]);
        assert_eq!(a.word(0), Some(1));
        assert_eq!(a.word(1), None);
    }
}
