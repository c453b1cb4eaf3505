//! The SD card protocol as a host speaks it, whatever the controller: the
//! commands Aerie sends and the response each gets, the bits of the OCR
//! and of the card status that matter, and the card's size from its CSD.
//! Section numbers are those of the SD Physical Layer Simplified
//! Specification (version 9.00). The controller driver turns a [`Command`]
//! into its own register fields.
#![no_std]

pub mod sdhci;

/// What a command's response is (section 4.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response {
    None,
    /// 48 bits: card status (R1), the OCR (R3: no valid CRC or index), a
    /// relative address (R6) or the interface condition (R7).
    R1,
    /// R1 with the card busy on DAT0 after it.
    R1b,
    R3,
    R6,
    R7,
    /// 136 bits: the CID or the CSD.
    R2,
}

impl Response {
    /// 136 bits rather than 48.
    pub const fn long(self) -> bool {
        matches!(self, Response::R2)
    }

    /// The card holds DAT0 low while busy after it.
    pub const fn busy(self) -> bool {
        matches!(self, Response::R1b)
    }

    /// The response's CRC is valid (R3's is all ones).
    pub const fn has_crc(self) -> bool {
        !matches!(self, Response::None | Response::R3)
    }

    /// The response repeats the command's index (R2 and R3 do not).
    pub const fn has_index(self) -> bool {
        matches!(
            self,
            Response::R1 | Response::R1b | Response::R6 | Response::R7
        )
    }

    /// The response is card status, whose error bits [`status_errors`]
    /// reads.
    pub const fn is_status(self) -> bool {
        matches!(self, Response::R1 | Response::R1b)
    }
}

/// A command: its index, its response, whether data follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command {
    pub index: u8,
    pub response: Response,
    pub data: bool,
}

const fn cmd(index: u8, response: Response, data: bool) -> Command {
    Command {
        index,
        response,
        data,
    }
}

/// The commands of identification and of transfer (section 4.7.4). ACMDs
/// follow APP_CMD.
pub const GO_IDLE_STATE: Command = cmd(0, Response::None, false);
pub const ALL_SEND_CID: Command = cmd(2, Response::R2, false);
pub const SEND_RELATIVE_ADDR: Command = cmd(3, Response::R6, false);
pub const SELECT_CARD: Command = cmd(7, Response::R1b, false);
pub const SEND_IF_COND: Command = cmd(8, Response::R7, false);
pub const SEND_CSD: Command = cmd(9, Response::R2, false);
pub const STOP_TRANSMISSION: Command = cmd(12, Response::R1b, false);
pub const SET_BLOCKLEN: Command = cmd(16, Response::R1, false);
pub const READ_SINGLE_BLOCK: Command = cmd(17, Response::R1, true);
pub const READ_MULTIPLE_BLOCK: Command = cmd(18, Response::R1, true);
pub const WRITE_BLOCK: Command = cmd(24, Response::R1, true);
pub const WRITE_MULTIPLE_BLOCK: Command = cmd(25, Response::R1, true);
pub const APP_CMD: Command = cmd(55, Response::R1, false);
pub const SET_BUS_WIDTH: Command = cmd(6, Response::R1, false);
/// CMD6 (section 4.3.10): check or switch a function; 64 bytes of status
/// come back as data.
pub const SWITCH_FUNC: Command = cmd(6, Response::R1, true);
pub const SD_SEND_OP_COND: Command = cmd(41, Response::R3, false);

/// ACMD6's argument for four data lines (every SD memory card has them).
pub const BUS_WIDTH_4: u32 = 2;

/// CMD6's arguments: check (bit 31 clear) or switch (set) function group
/// 1, access mode, to function 1, high speed (SDR25: up to 50 MHz),
/// leaving the other groups as they are (0xF).
pub const CHECK_HIGH_SPEED: u32 = 0x00ff_fff1;
pub const SWITCH_HIGH_SPEED: u32 = 0x80ff_fff1;
/// The bytes of CMD6's status (512 bits, the most significant first).
pub const SWITCH_STATUS_BYTES: usize = 64;

/// Whether CMD6's status says function group 1 has function 1, high
/// speed (status bits 415:400 are the group's functions, bit 400 + n
/// function n: bit 401 is byte 13's bit 1).
pub const fn offers_high_speed(status: &[u8; SWITCH_STATUS_BYTES]) -> bool {
    status[13] & (1 << 1) != 0
}

/// Whether CMD6's status says function group 1 is (or, checking, would
/// be) switched to function 1 (bits 379:376: byte 16's low nibble; 0xF
/// when the function cannot be had).
pub const fn high_speed_selected(status: &[u8; SWITCH_STATUS_BYTES]) -> bool {
    status[16] & 0xf == 1
}

/// The most blocks one transfer moves: the controllers' block count is 16
/// bits.
pub const MAX_TRANSFER_BLOCKS: usize = 0xffff;

/// The command that moves `blocks` (1 to [`MAX_TRANSFER_BLOCKS`]) in one
/// transfer: one block by CMD17 or CMD24; more by CMD18 or CMD25, which
/// the controller ends with CMD12 itself (Auto CMD12) once the count is
/// done. A card reads ahead and programs in a stream during a multiple
/// block transfer, which single-block commands, each with its own command,
/// access time and programming, cannot.
pub const fn transfer_command(blocks: usize, write: bool) -> Command {
    match (blocks > 1, write) {
        (false, false) => READ_SINGLE_BLOCK,
        (false, true) => WRITE_BLOCK,
        (true, false) => READ_MULTIPLE_BLOCK,
        (true, true) => WRITE_MULTIPLE_BLOCK,
    }
}

/// The one block size Aerie uses (and every SDHC card has).
pub const BLOCK: usize = 512;

/// CMD8's argument: 2.7-3.6 V, and a check pattern the card echoes in
/// R7's bits 11:0 (section 4.3.13).
pub const IF_COND: u32 = 0x1aa;
/// ACMD41's argument: the host takes high-capacity cards (HCS), 2.7-3.6 V.
pub const OP_COND: u32 = 0x40ff_8000;
/// OCR (section 5.1): the card has powered up; it is high capacity
/// (CCS: block numbers as addresses, not bytes).
pub const OCR_READY: u32 = 1 << 31;
pub const OCR_HIGH_CAPACITY: u32 = 1 << 30;

/// Card status bits that say a command failed (section 4.10.1, table
/// 4-42: out of range, address, block length, erase, write protect, lock,
/// CRC, illegal command, ECC, controller and generic errors, CSD
/// overwrite), leaving out the state and the ready flags.
pub const STATUS_ERRORS: u32 = 0xfdf8_0000;

/// The error bits of card status `status`, 0 when the command succeeded.
pub const fn status_errors(status: u32) -> u32 {
    status & STATUS_ERRORS
}

/// The relative card address of an R6 response, placed as the commands
/// that name the card take it (bits 31:16 of their argument).
pub const fn rca(r6: u32) -> u32 {
    r6 & 0xffff_0000
}

/// The card's size in 512-byte blocks, from its CSD (section 5.3) as
/// controllers keep an R2 response: the register's bits 127:8 (its CRC
/// dropped) in four words, `r2[0]` the lowest, so CSD bit n is bit n - 8 of
/// that 128-bit value. None for a CSD structure this does not know.
pub fn csd_blocks(r2: [u32; 4]) -> Option<u64> {
    let value = u128::from(r2[0])
        | u128::from(r2[1]) << 32
        | u128::from(r2[2]) << 64
        | u128::from(r2[3]) << 96;
    let field = |hi: u32, lo: u32| -> u64 {
        let width = hi - lo + 1;
        ((value >> (lo - 8)) & ((1u128 << width) - 1)) as u64
    };
    match field(127, 126) {
        // CSD 1.0 (SDSC): (C_SIZE + 1) * 2^(C_SIZE_MULT + 2) blocks of
        // 2^READ_BL_LEN bytes.
        0 => {
            let c_size = field(73, 62);
            let mult = field(49, 47);
            let read_bl_len = field(83, 80);
            let bytes = (c_size + 1) << (mult + 2 + read_bl_len);
            Some(bytes / BLOCK as u64)
        }
        // CSD 2.0 (SDHC, SDXC): (C_SIZE + 1) * 512 KiB.
        1 => Some((field(69, 48) + 1) * 1024),
        _ => None,
    }
}

/// What a transfer names block `lba` by on a card with `ocr`: its number
/// (high capacity) or its byte address; None past what a 32-bit argument
/// can say.
pub fn block_address(ocr: u32, lba: u64) -> Option<u32> {
    let address = if ocr & OCR_HIGH_CAPACITY != 0 {
        lba
    } else {
        lba.checked_mul(BLOCK as u64)?
    };
    u32::try_from(address).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CSD as 16 bytes, most significant first (CSD bits 127:0), kept as
    /// a controller keeps an R2: bits 127:8 in four words.
    fn r2(csd: [u8; 16]) -> [u32; 4] {
        let value = u128::from_be_bytes(csd) >> 8;
        [
            value as u32,
            (value >> 32) as u32,
            (value >> 64) as u32,
            (value >> 96) as u32,
        ]
    }

    /// Sets CSD bits hi:lo of `csd` (bytes most significant first) to `v`.
    fn set(csd: &mut [u8; 16], hi: u32, lo: u32, v: u64) {
        let mut value = u128::from_be_bytes(*csd);
        let width = hi - lo + 1;
        value &= !(((1u128 << width) - 1) << lo);
        value |= u128::from(v) << lo;
        *csd = value.to_be_bytes();
    }

    #[test]
    fn a_csd_2_gives_c_size_plus_one_times_512_kib() {
        // A 4 GiB SDHC card: C_SIZE 8191.
        let mut csd = [0u8; 16];
        set(&mut csd, 127, 126, 1);
        set(&mut csd, 69, 48, 8191);
        set(&mut csd, 7, 1, 0x55); // the CRC, which the controller drops
        assert_eq!(csd_blocks(r2(csd)), Some(8 << 20));
        // The largest SDXC: C_SIZE 0x3FFFFF, 2 TiB.
        set(&mut csd, 69, 48, 0x3f_ffff);
        assert_eq!(csd_blocks(r2(csd)), Some(1 << 32));
    }

    #[test]
    fn a_csd_1_multiplies_out_c_size_mult_and_the_block_length() {
        // A 64 MiB SDSC card: READ_BL_LEN 9, C_SIZE 255, C_SIZE_MULT 7.
        let mut csd = [0u8; 16];
        set(&mut csd, 83, 80, 9);
        set(&mut csd, 73, 62, 255);
        set(&mut csd, 49, 47, 7);
        assert_eq!(csd_blocks(r2(csd)), Some((64 << 20) / 512));
        // A 2 GiB SDSC card: 1024-byte blocks, C_SIZE 4095.
        set(&mut csd, 83, 80, 10);
        set(&mut csd, 73, 62, 4095);
        assert_eq!(csd_blocks(r2(csd)), Some((2u64 << 30) / 512));
    }

    #[test]
    fn an_unknown_csd_structure_is_refused() {
        let mut csd = [0u8; 16];
        set(&mut csd, 127, 126, 2);
        assert_eq!(csd_blocks(r2(csd)), None);
    }

    #[test]
    fn standard_capacity_cards_take_bytes_high_capacity_ones_blocks() {
        let sdsc = OCR_READY;
        let sdhc = OCR_READY | OCR_HIGH_CAPACITY;
        assert_eq!(block_address(sdsc, 3), Some(1536));
        assert_eq!(block_address(sdhc, 3), Some(3));
        // A byte address past 4 GiB cannot be said; a block number can.
        assert_eq!(block_address(sdsc, 1 << 23), None);
        assert_eq!(block_address(sdhc, 1 << 23), Some(1 << 23));
        assert_eq!(block_address(sdhc, 1 << 32), None);
    }

    #[test]
    fn status_errors_leave_out_the_state_and_ready_bits() {
        // Transfer state, ready for data: 0x900.
        assert_eq!(status_errors(0x900), 0);
        // ADDRESS_ERROR (bit 30) in transfer state.
        assert_eq!(status_errors(0x4000_0900), 0x4000_0000);
        // ILLEGAL_COMMAND (bit 22).
        assert_ne!(status_errors(1 << 22), 0);
        // APP_CMD (bit 5) is no error.
        assert_eq!(status_errors(1 << 5), 0);
        assert_eq!(rca(0xb368_0500), 0xb368_0000);
    }

    #[test]
    fn responses_say_what_the_controller_checks() {
        assert!(SEND_CSD.response.long() && !SEND_CSD.response.has_index());
        assert!(!SD_SEND_OP_COND.response.has_crc());
        assert!(SELECT_CARD.response.busy() && SELECT_CARD.response.is_status());
        assert!(!SEND_RELATIVE_ADDR.response.is_status());
        let data = [READ_SINGLE_BLOCK, WRITE_BLOCK, APP_CMD].map(|c| c.data);
        assert_eq!(data, [true, true, false]);
        assert!(STOP_TRANSMISSION.response.busy() && !STOP_TRANSMISSION.data);
    }

    #[test]
    fn the_switch_status_says_whether_high_speed_is_offered_and_taken() {
        // As a card answers CMD6 check mode for high speed: groups 1 to 6
        // offer function 0 (and group 1 function 1, high speed); the
        // selection would be function 1 in group 1, 0 elsewhere.
        let mut status = [0u8; SWITCH_STATUS_BYTES];
        status[13] = 0b11; // bits 401 and 400
        status[16] = 0x01; // bits 379:376 = 1
        assert!(offers_high_speed(&status) && high_speed_selected(&status));
        // A default-speed-only card: function 0 offered, the group 1
        // selection 0xF (cannot switch).
        status[13] = 0b01;
        status[16] = 0x0f;
        assert!(!offers_high_speed(&status) && !high_speed_selected(&status));
        // CMD6 and ACMD6 share an index: only the first has data.
        assert_eq!(
            [SWITCH_FUNC, SET_BUS_WIDTH].map(|c| (c.index, c.data)),
            [(6, true), (6, false)]
        );
    }

    #[test]
    fn one_block_goes_by_a_single_block_command_more_by_a_multiple() {
        assert_eq!(transfer_command(1, false).index, 17);
        assert_eq!(transfer_command(1, true).index, 24);
        assert_eq!(transfer_command(2, false).index, 18);
        assert_eq!(transfer_command(MAX_TRANSFER_BLOCKS, true).index, 25);
        assert!(transfer_command(8, true).data && transfer_command(8, false).data);
    }
}
