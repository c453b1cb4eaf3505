//! SHA-256 while copying: every byte is read once and hashed as it passes.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use crate::progress::Progress;

/// Buffer size for streaming copies.
pub const BUF: usize = 1 << 20;

/// Reads `r` to the end, hashing, optionally writing every byte to `w`.
/// Returns (bytes, lower-case hex digest).
pub fn copy_hashed(
    r: &mut dyn Read,
    mut w: Option<&mut dyn Write>,
    progress: &Progress,
) -> io::Result<(u64, String)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; BUF];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..k]);
        if let Some(w) = w.as_mut() {
            w.write_all(&buf[..k])?;
        }
        n += k as u64;
        progress.inc(k as u64);
    }
    Ok((n, hex(&h.finalize())))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a byte string, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}
