//! The system-call ABI. A user world calls `svc #0` with the call number in
//! x8 and its arguments in x0..x5; the result comes back in x0, a negative
//! value being an error from [`err`]. Every other register is preserved.

/// System-call numbers (x8).
pub mod nr {
    /// `exit(status)`: the world ends; Aerie logs its status. Never returns.
    pub const EXIT: u64 = 0;
    /// `write(buf, len)`: write bytes to Aerie's console (a line prefixed
    /// with the world's name). Returns `len`, or `EFAULT` for a buffer the
    /// world may not read.
    pub const WRITE: u64 = 1;
    /// `arg(buf, len)`: copy the world's argument string (from the boot
    /// command line) to `buf`, at most `len` bytes. Returns the argument's
    /// full length, or `EFAULT` for a buffer the world may not write.
    pub const ARG: u64 = 2;
    /// `clock()`: nanoseconds since Aerie started.
    pub const CLOCK: u64 = 3;
    /// `null()`: returns 0 at once (the round-trip benchmark).
    pub const NULL: u64 = 4;
}

/// Error results, as negative numbers in x0 (the Linux values, so they read
/// familiarly in a register dump).
pub mod err {
    /// A buffer the world may not access.
    pub const EFAULT: i64 = -14;
    /// An argument out of range.
    pub const EINVAL: i64 = -22;
    /// No such system call.
    pub const ENOSYS: i64 = -38;
}
