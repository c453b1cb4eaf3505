//! The register ABI of the VMware arm64 backdoor and its constants
//! (open-vm-tools `backdoor_def.h`, `guest_msg_def.h`).
//!
//! x7 layout (open-vm-tools `backdoor_def.h`, arm64 section):
//!
//! | bits    | meaning                                                    |
//! |---------|------------------------------------------------------------|
//! | \[63:32\] | `X86_IO_MAGIC` = 0x86: this trap is a backdoor request      |
//! | \[1:0\]   | `X86_IO_W7_SIZE`: access size, 0 = 1 byte, 1 = 2, 2 = 4     |
//! | \[2\]     | `X86_IO_W7_DIR`: 1 = IN (host to guest), 0 = OUT            |
//! | \[3\]     | `X86_IO_W7_WITH`: port is in DX (x3\[15:0\]), else immediate  |
//! | \[4\]     | `X86_IO_W7_STR`: string I/O (`rep insb/outsb`)              |
//! | \[5\]     | `X86_IO_W7_DF`: direction flag (decrementing string I/O)    |
//! | \[12:5\]  | `X86_IO_W7_IMM`: port immediate when WITH is clear          |
//!
//! The header really does put the immediate at shift 5, overlapping DF; an
//! immediate port is at most 0xff and so never a backdoor port, so the
//! overlap is harmless: such a request is simply "unknown port".
//!
//! x0..x6 stand for eax, ebx, ecx, edx, esi, edi, ebp. Results are 32-bit
//! values written zero-extended, like a W-register write.

/// `BDOOR_MAGIC`, 'VMXh', expected in eax and returned in ebx by GETVERSION.
pub const BDOOR_MAGIC: u32 = 0x564D_5868;
/// `BDOOR_PORT`: the low-bandwidth port (one register-sized request).
pub const BDOOR_PORT: u16 = 0x5658;
/// `BDOORHB_PORT`: the high-bandwidth port (string I/O through guest memory).
pub const BDOORHB_PORT: u16 = 0x5659;

/// `X86_IO_MAGIC`, in x7\[63:32\].
pub const X86_IO_MAGIC: u64 = 0x86;
pub const X86_IO_W7_SIZE_MASK: u32 = 0x3;
pub const X86_IO_W7_DIR: u32 = 1 << 2;
pub const X86_IO_W7_WITH: u32 = 1 << 3;
pub const X86_IO_W7_STR: u32 = 1 << 4;
pub const X86_IO_W7_DF: u32 = 1 << 5;
pub const X86_IO_W7_IMM_SHIFT: u32 = 5;
pub const X86_IO_W7_IMM_MASK: u32 = 0xff << X86_IO_W7_IMM_SHIFT;

/// `BDOOR_CMD_*` numbers (low-bandwidth port, ecx\[15:0\]).
pub const BDOOR_CMD_GETMHZ: u16 = 1;
pub const BDOOR_CMD_GETVERSION: u16 = 10;
pub const BDOOR_CMD_GETUUID: u16 = 19;
pub const BDOOR_CMD_GETTIME: u16 = 23;
pub const BDOOR_CMD_MESSAGE: u16 = 30;
pub const BDOOR_CMD_GETHZ: u16 = 45;
pub const BDOOR_CMD_GETTIMEFULL: u16 = 46;

/// `BDOORHB_CMD_MESSAGE` (high-bandwidth port, ebx\[15:0\]).
pub const BDOORHB_CMD_MESSAGE: u16 = 0;

/// GETVERSION's eax: the backdoor protocol version VMware products report.
pub const BDOOR_VERSION: u32 = 6;
/// GETVERSION's ecx: `VMX_TYPE_SCALABLE_SERVER` (ESX). vmware-checkvm only
/// checks ebx == magic; `-p` prints this as the product.
pub const VMX_TYPE_SCALABLE_SERVER: u32 = 2;

/// eax after an unknown command (or GETTIME failing): all ones, which is
/// what the tools' fallbacks test for (e.g. timeSync: GETTIMEFULL answered
/// only if eax == magic, GETTIME failed if eax == 0xFFFFFFFF).
pub const BDOOR_FAIL: u32 = 0xFFFF_FFFF;

/// `MESSAGE_TYPE_*` (GuestRPC subcommand, ecx\[31:16\]).
pub const MESSAGE_TYPE_OPEN: u16 = 0;
pub const MESSAGE_TYPE_SENDSIZE: u16 = 1;
pub const MESSAGE_TYPE_SENDPAYLOAD: u16 = 2;
pub const MESSAGE_TYPE_RECVSIZE: u16 = 3;
pub const MESSAGE_TYPE_RECVPAYLOAD: u16 = 4;
pub const MESSAGE_TYPE_RECVSTATUS: u16 = 5;
pub const MESSAGE_TYPE_CLOSE: u16 = 6;

/// `MESSAGE_STATUS_*` bits (ecx\[31:16\] on return; ebx\[31:16\] on the HB port).
pub const MESSAGE_STATUS_FAIL: u16 = 0x0000;
pub const MESSAGE_STATUS_SUCCESS: u16 = 0x0001;
pub const MESSAGE_STATUS_DORECV: u16 = 0x0002;
pub const MESSAGE_STATUS_CLOSED: u16 = 0x0004;
pub const MESSAGE_STATUS_UNSENT: u16 = 0x0008;
pub const MESSAGE_STATUS_CPT: u16 = 0x0010;
pub const MESSAGE_STATUS_HB: u16 = 0x0080;

/// `GUESTMSG_FLAG_COOKIE`, or-ed into the protocol on OPEN.
pub const GUESTMSG_FLAG_COOKIE: u32 = 0x8000_0000;
/// 'RPCI': guest-initiated requests, host replies.
pub const RPCI_PROTOCOL_NUM: u32 = 0x4943_5052;
/// 'TCLO': host-initiated commands the guest polls for.
pub const TCLO_PROTOCOL_NUM: u32 = 0x4f4c_4354;

/// The trapping vCPU's x0..x7 (x0..x6 = eax, ebx, ecx, edx, esi, edi, ebp).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Regs {
    pub x: [u64; 8],
}

impl Regs {
    pub fn eax(&self) -> u32 {
        self.x[0] as u32
    }
    pub fn ebx(&self) -> u32 {
        self.x[1] as u32
    }
    pub fn ecx(&self) -> u32 {
        self.x[2] as u32
    }
    pub fn edx(&self) -> u32 {
        self.x[3] as u32
    }
    pub fn esi(&self) -> u32 {
        self.x[4] as u32
    }
    pub fn edi(&self) -> u32 {
        self.x[5] as u32
    }
    pub fn ebp(&self) -> u32 {
        self.x[6] as u32
    }
    /// Writes a 32-bit result zero-extended into x`n`.
    pub fn set32(&mut self, n: usize, v: u32) {
        self.x[n] = u64::from(v);
    }
}

/// True if x7 carries the backdoor signature `X86_IO_MAGIC` in \[63:32\].
pub fn is_backdoor_request(x7: u64) -> bool {
    x7 >> 32 == X86_IO_MAGIC
}

/// The decoded x7\[31:0\] I/O flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoFlags {
    /// Access size in bytes (1, 2 or 4; the reserved encoding 3 reads as 4).
    pub size: u8,
    /// IN: data flows host to guest.
    pub is_in: bool,
    /// Port taken from DX (x3\[15:0\]) rather than the immediate.
    pub port_in_dx: bool,
    pub string: bool,
    pub df: bool,
    pub imm: u8,
}

impl IoFlags {
    pub fn decode(x7: u64) -> Self {
        let w = x7 as u32;
        IoFlags {
            size: match w & X86_IO_W7_SIZE_MASK {
                0 => 1,
                1 => 2,
                _ => 4,
            },
            is_in: w & X86_IO_W7_DIR != 0,
            port_in_dx: w & X86_IO_W7_WITH != 0,
            string: w & X86_IO_W7_STR != 0,
            df: w & X86_IO_W7_DF != 0,
            imm: ((w & X86_IO_W7_IMM_MASK) >> X86_IO_W7_IMM_SHIFT) as u8,
        }
    }

    /// The I/O port the request addresses.
    pub fn port(&self, regs: &Regs) -> u16 {
        if self.port_in_dx {
            regs.edx() as u16
        } else {
            u16::from(self.imm)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_bandwidth_x7_as_open_vm_tools_builds_it() {
        // Backdoor_InOut: WITH | DIR | 2 << SIZE_SHIFT, movk 0x86 << 32.
        let x7 = (0x86u64 << 32) | 0b1110;
        assert!(is_backdoor_request(x7));
        let f = IoFlags::decode(x7);
        assert_eq!(f.size, 4);
        assert!(f.is_in && f.port_in_dx && !f.string && !f.df);
    }

    #[test]
    fn high_bandwidth_out_x7() {
        let x7 = (0x86u64 << 32) | u64::from(X86_IO_W7_STR | X86_IO_W7_WITH);
        let f = IoFlags::decode(x7);
        assert_eq!(f.size, 1);
        assert!(!f.is_in && f.string && f.port_in_dx);
        let mut r = Regs::default();
        r.x[3] = 0xABCD_0000 | u64::from(BDOORHB_PORT);
        assert_eq!(f.port(&r), 0x5659);
    }

    #[test]
    fn signature_must_be_exact() {
        assert!(!is_backdoor_request(0));
        assert!(!is_backdoor_request(0x87u64 << 32));
        assert!(!is_backdoor_request(0x8086u64 << 32));
        assert!(!is_backdoor_request(0xffff_ff86u64 << 32));
        assert!(!is_backdoor_request(0x86));
    }

    #[test]
    fn immediate_port_when_without_dx() {
        let x7 = (0x86u64 << 32) | (0x60 << 5) | 2;
        let f = IoFlags::decode(x7);
        assert!(!f.port_in_dx);
        assert_eq!(f.port(&Regs::default()), 0x60);
    }
}
