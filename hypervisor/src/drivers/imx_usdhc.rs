//! An SD card behind the host's i.MX uSDHC (NXP i.MX 6, 7 and 8M), the host
//! disk on boards without virtio. Register names and bits are those of the
//! i.MX 8M Plus reference manual's uSDHC chapter; the card's commands are
//! the SD Physical Layer specification's.
//!
//! Polled, one 512-byte block per command, the data through the buffer
//! port (no DMA): the simplest way that works on any uSDHC, and a host
//! disk here serves VMs' occasional requests. The card is identified at
//! 400 kHz and then run at 25 MHz on one data line, assuming the 400 MHz
//! root clock the i.MX 8M trees assign (the boot loader sets the clocks,
//! pins and card power, as U-Boot does when it reads the card). SD cards
//! only (SDSC and SDHC/SDXC): an eMMC answers none of the SD
//! identification commands, and is passed over.

use super::registers::Registers;
use crate::arch::aarch64::cpu;

const BLK_ATT: usize = 0x04;
const CMD_ARG: usize = 0x08;
const CMD_XFR_TYP: usize = 0x0c;
const CMD_RSP0: usize = 0x10;
const CMD_RSP1: usize = 0x14;
const CMD_RSP2: usize = 0x18;
const CMD_RSP3: usize = 0x1c;
const DATA_BUFF_ACC_PORT: usize = 0x20;
const PRES_STATE: usize = 0x24;
const PROT_CTRL: usize = 0x28;
const SYS_CTRL: usize = 0x2c;
const INT_STATUS: usize = 0x30;
const INT_STATUS_EN: usize = 0x34;
const INT_SIGNAL_EN: usize = 0x38;
const WTMK_LVL: usize = 0x44;
const MIX_CTRL: usize = 0x48;

/// PRES_STATE: command and data lines busy; the SD clock stable; DAT0's
/// level (low while a card is busy programming).
const PRES_CIHB: u32 = 1 << 0;
const PRES_CDIHB: u32 = 1 << 1;
const PRES_SDSTB: u32 = 1 << 3;
const PRES_DAT0: u32 = 1 << 24;
/// SYS_CTRL: the clock enables (bits 3:0, which the controller needs set
/// to issue anything), the divisors, the data timeout, the resets (one at
/// a time), and the 80 initialisation clocks.
const SYS_CLOCKS_ON: u32 = 0xf;
const SYS_DVS_SHIFT: u32 = 4;
const SYS_SDCLKFS_SHIFT: u32 = 8;
const SYS_CLOCK_FIELDS: u32 = 0xfff0;
const SYS_DTOCV: u32 = 0xe << 16;
const SYS_RSTA: u32 = 1 << 24;
const SYS_RSTC: u32 = 1 << 25;
const SYS_RSTD: u32 = 1 << 26;
const SYS_INITA: u32 = 1 << 27;
/// INT_STATUS: command complete, transfer complete, buffer write and read
/// ready; the command and data errors (timeout, CRC, end bit, index).
const INT_CC: u32 = 1 << 0;
const INT_TC: u32 = 1 << 1;
const INT_BWR: u32 = 1 << 4;
const INT_BRR: u32 = 1 << 5;
const INT_ERRORS: u32 = 0x7f << 16;
const INT_ENABLED: u32 = INT_ERRORS | INT_BRR | INT_BWR | INT_TC | INT_CC;
/// PROT_CTRL: little-endian data, one data line, no DMA.
const PROT_LITTLE_ENDIAN: u32 = 0x20;
/// WTMK_LVL: a whole block (128 words) per buffer-ready, either way.
const WTMK_BLOCK: u32 = 0x0080_0080;
/// MIX_CTRL: the transfer reads from the card.
const MIX_READ: u32 = 1 << 4;

/// CMD_XFR_TYP: the command index, data present, index and CRC checks,
/// and the response kind.
const DATA: u32 = 1 << 21;
const CHECK_INDEX: u32 = 1 << 20;
const CHECK_CRC: u32 = 1 << 19;
const R136: u32 = 0b01 << 16;
const R48: u32 = 0b10 << 16;
const R48_BUSY: u32 = 0b11 << 16;

/// A command: its index and CMD_XFR_TYP's other fields.
#[derive(Clone, Copy)]
struct Command(u32);

impl Command {
    const fn new(index: u32, flags: u32) -> Self {
        Command((index << 24) | flags)
    }
}

/// The SD commands used, with their response kinds (R1, R2, R3, R6, R7).
const GO_IDLE: Command = Command::new(0, 0);
const ALL_SEND_CID: Command = Command::new(2, R136 | CHECK_CRC);
const SEND_RELATIVE_ADDR: Command = Command::new(3, R48 | CHECK_CRC | CHECK_INDEX);
const SELECT_CARD: Command = Command::new(7, R48_BUSY | CHECK_CRC | CHECK_INDEX);
const SEND_IF_COND: Command = Command::new(8, R48 | CHECK_CRC | CHECK_INDEX);
const SEND_CSD: Command = Command::new(9, R136 | CHECK_CRC);
const SET_BLOCKLEN: Command = Command::new(16, R48 | CHECK_CRC | CHECK_INDEX);
const READ_SINGLE_BLOCK: Command = Command::new(17, R48 | CHECK_CRC | CHECK_INDEX | DATA);
const WRITE_BLOCK: Command = Command::new(24, R48 | CHECK_CRC | CHECK_INDEX | DATA);
const APP_CMD: Command = Command::new(55, R48 | CHECK_CRC | CHECK_INDEX);
/// ACMD41: R3 carries no valid CRC or index.
const SD_SEND_OP_COND: Command = Command::new(41, R48);

/// CMD8's argument: 2.7-3.6 V and a check pattern the card echoes.
const IF_COND: u32 = 0x1aa;
/// ACMD41's argument: the host takes high-capacity cards, 2.7-3.6 V.
const OP_COND: u32 = 0x40ff_8000;
/// OCR: powered up; high capacity (block addresses, not bytes).
const OCR_READY: u32 = 1 << 31;
const OCR_HIGH_CAPACITY: u32 = 1 << 30;
/// R1's error bits (card status 31:19 but for the 'ready' ones).
const R1_ERRORS: u32 = 0xfdf8_0000;

pub const BLOCK: usize = 512;
/// How long a command, a transfer or the card's power-up may take.
const COMMAND_MS: u64 = 1000;
const POWER_UP_MS: u64 = 1000;

/// Why a request failed.
#[derive(Clone, Copy, Debug)]
pub enum SdError {
    /// The controller or the card did not answer in time.
    Timeout(&'static str),
    /// The controller reported an error (INT_STATUS's error bits).
    Controller(u32),
    /// The card refused the command (R1's error bits).
    Card(u32),
    /// Not a card Aerie can use.
    Unusable(&'static str),
}

impl core::fmt::Display for SdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SdError::Timeout(what) => write!(f, "timed out: {what}"),
            SdError::Controller(status) => write!(f, "controller error (INT_STATUS {status:#x})"),
            SdError::Card(status) => write!(f, "refused by the card (status {status:#x})"),
            SdError::Unusable(why) => f.write_str(why),
        }
    }
}

pub struct SdCard {
    regs: Registers,
    /// Block addresses (SDHC/SDXC) rather than byte addresses (SDSC).
    high_capacity: bool,
    pub blocks: u64,
}

/// Waits until `done` holds, up to `ms` milliseconds.
fn wait(ms: u64, mut done: impl FnMut() -> bool) -> bool {
    let end = cpu::counter() + ms * cpu::counter_frequency() / 1000;
    loop {
        if done() {
            return true;
        }
        if cpu::counter() > end {
            return done();
        }
    }
}

impl SdCard {
    /// Find and set up the card behind the uSDHC at `va`. Resets the
    /// controller; leaves the card selected, in transfer state, 512-byte
    /// blocks.
    ///
    /// # Safety
    /// `va` must be the virtual address of a mapped uSDHC's registers, used
    /// by nobody else.
    pub unsafe fn attach(va: u64) -> Result<SdCard, SdError> {
        let mut card = SdCard {
            // SAFETY: per this function's contract.
            regs: unsafe { Registers::new(va) },
            high_capacity: false,
            blocks: 0,
        };
        card.reset_controller()?;
        // 400 MHz / (32 * 16): 390 kHz for identification.
        card.set_clock(0x20, 0xf)?;
        card.regs
            .write(SYS_CTRL, card.regs.read(SYS_CTRL) | SYS_INITA);
        // The 80 clocks; a controller that does not model them keeps the
        // bit (QEMU's), which is no error.
        wait(10, || card.regs.read(SYS_CTRL) & SYS_INITA == 0);

        card.command(GO_IDLE, 0)?;
        let echo = card.command(SEND_IF_COND, IF_COND).map_err(|_| {
            SdError::Unusable("no SD card answers (CMD8): an empty slot, an eMMC or an SD 1.x card")
        })?;
        if echo & 0xfff != IF_COND {
            return Err(SdError::Unusable("CMD8's check pattern came back wrong"));
        }
        let mut ocr = 0;
        let ready = wait(POWER_UP_MS, || {
            ocr = card
                .command(APP_CMD, 0)
                .and_then(|_| card.command(SD_SEND_OP_COND, OP_COND))
                .unwrap_or(0);
            ocr & OCR_READY != 0
        });
        if !ready {
            return Err(SdError::Timeout("the card did not power up (ACMD41)"));
        }
        card.high_capacity = ocr & OCR_HIGH_CAPACITY != 0;
        card.command(ALL_SEND_CID, 0)?;
        let rca = card.command(SEND_RELATIVE_ADDR, 0)? & 0xffff_0000;
        card.command(SEND_CSD, rca)?;
        let csd = [
            card.regs.read(CMD_RSP0),
            card.regs.read(CMD_RSP1),
            card.regs.read(CMD_RSP2),
            card.regs.read(CMD_RSP3),
        ];
        card.blocks = csd_blocks(csd).ok_or(SdError::Unusable("a CSD of an unknown version"))?;
        card.command(SELECT_CARD, rca)?;
        card.command(SET_BLOCKLEN, BLOCK as u32)?;
        // 400 MHz / (1 * 16): 25 MHz, the default speed every card takes.
        card.set_clock(0x00, 0xf)?;
        Ok(card)
    }

    fn reset_controller(&self) -> Result<(), SdError> {
        self.regs.write(SYS_CTRL, SYS_RSTA | SYS_CLOCKS_ON);
        if !wait(COMMAND_MS, || self.regs.read(SYS_CTRL) & SYS_RSTA == 0) {
            return Err(SdError::Timeout("the controller's reset"));
        }
        // A reset clears the status enables (nothing latches without them)
        // but not the transfer mode.
        self.regs.write(INT_STATUS_EN, INT_ENABLED);
        self.regs.write(INT_SIGNAL_EN, 0);
        self.regs.write(PROT_CTRL, PROT_LITTLE_ENDIAN);
        self.regs.write(WTMK_LVL, WTMK_BLOCK);
        self.regs.write(MIX_CTRL, 0);
        Ok(())
    }

    /// The SD clock: the root clock / (prescaler * (dvs + 1)), prescaler
    /// 2 * `sdclkfs` (1 for 0).
    fn set_clock(&self, sdclkfs: u32, dvs: u32) -> Result<(), SdError> {
        let ctrl = self.regs.read(SYS_CTRL) & !SYS_CLOCK_FIELDS & !(0xf << 16);
        self.regs.write(
            SYS_CTRL,
            ctrl | SYS_CLOCKS_ON
                | SYS_DTOCV
                | (sdclkfs << SYS_SDCLKFS_SHIFT)
                | (dvs << SYS_DVS_SHIFT),
        );
        if !wait(COMMAND_MS, || self.regs.read(PRES_STATE) & PRES_SDSTB != 0) {
            return Err(SdError::Timeout("the SD clock did not settle"));
        }
        Ok(())
    }

    /// Reset the command and data lines after an error (one reset at a
    /// time, the clocks kept on).
    fn recover(&self) {
        for reset in [SYS_RSTC, SYS_RSTD] {
            self.regs
                .write(SYS_CTRL, self.regs.read(SYS_CTRL) | reset | SYS_CLOCKS_ON);
            wait(COMMAND_MS, || self.regs.read(SYS_CTRL) & reset == 0);
        }
    }

    /// Waits for any of `bits` in INT_STATUS; an error bit ends the wait
    /// too, and the request (the lines reset).
    fn wait_status(&self, bits: u32, what: &'static str) -> Result<(), SdError> {
        let mut status = 0;
        if !wait(COMMAND_MS, || {
            status = self.regs.read(INT_STATUS);
            status & (bits | INT_ERRORS) != 0
        }) {
            self.recover();
            return Err(SdError::Timeout(what));
        }
        if status & INT_ERRORS != 0 {
            self.regs.write(INT_STATUS, status);
            self.recover();
            return Err(SdError::Controller(status));
        }
        Ok(())
    }

    /// Issue `cmd` with `arg` and wait for its response; returns CMD_RSP0
    /// (R1, R3, R6, R7: the card's 32 bits). The data of a data command
    /// follows separately.
    fn command(&self, cmd: Command, arg: u32) -> Result<u32, SdError> {
        let busy = PRES_CIHB | if cmd.0 & DATA != 0 { PRES_CDIHB } else { 0 };
        // A card still programming the last block holds DAT0 low.
        let idle = |s: u32| s & busy == 0 && (cmd.0 & DATA == 0 || s & PRES_DAT0 != 0);
        if !wait(COMMAND_MS, || idle(self.regs.read(PRES_STATE))) {
            self.recover();
            return Err(SdError::Timeout("the command line stayed busy"));
        }
        self.regs.write(INT_STATUS, u32::MAX);
        self.regs.write(CMD_ARG, arg);
        self.regs.write(CMD_XFR_TYP, cmd.0);
        self.wait_status(INT_CC, "no response")?;
        self.regs.write(INT_STATUS, INT_CC);
        let response = self.regs.read(CMD_RSP0);
        let r1 = cmd.0 & (0b11 << 16) != 0 && cmd.0 & CHECK_INDEX != 0;
        if r1 && cmd.0 >> 24 != 3 && response & R1_ERRORS != 0 {
            self.recover();
            return Err(SdError::Card(response));
        }
        Ok(response)
    }

    /// The argument naming block `lba`: its number, or its byte address.
    fn address(&self, lba: u64) -> Result<u32, SdError> {
        let a = if self.high_capacity {
            lba
        } else {
            lba * BLOCK as u64
        };
        if lba >= self.blocks || a > u64::from(u32::MAX) {
            return Err(SdError::Unusable("a block beyond the card"));
        }
        Ok(a as u32)
    }

    /// Read block `lba` into `buf`.
    pub fn read_block(&self, lba: u64, buf: &mut [u8; BLOCK]) -> Result<(), SdError> {
        let arg = self.address(lba)?;
        self.regs.write(BLK_ATT, (1 << 16) | BLOCK as u32);
        self.regs.write(MIX_CTRL, MIX_READ);
        self.command(READ_SINGLE_BLOCK, arg)?;
        self.wait_status(INT_BRR, "no data to read")?;
        for word in buf.chunks_exact_mut(4) {
            word.copy_from_slice(&self.regs.read(DATA_BUFF_ACC_PORT).to_le_bytes());
        }
        self.regs.write(INT_STATUS, INT_BRR);
        self.wait_status(INT_TC, "the read did not complete")?;
        self.regs.write(INT_STATUS, INT_TC);
        Ok(())
    }

    /// Write `buf` to block `lba`.
    pub fn write_block(&self, lba: u64, buf: &[u8; BLOCK]) -> Result<(), SdError> {
        let arg = self.address(lba)?;
        self.regs.write(BLK_ATT, (1 << 16) | BLOCK as u32);
        self.regs.write(MIX_CTRL, 0);
        self.command(WRITE_BLOCK, arg)?;
        self.wait_status(INT_BWR, "no room to write")?;
        for word in buf.chunks_exact(4) {
            self.regs.write(
                DATA_BUFF_ACC_PORT,
                u32::from_le_bytes([word[0], word[1], word[2], word[3]]),
            );
        }
        self.regs.write(INT_STATUS, INT_BWR);
        self.wait_status(INT_TC, "the write did not complete")?;
        self.regs.write(INT_STATUS, INT_TC);
        Ok(())
    }
}

/// The card's size in blocks from its CSD, as the controller keeps an R2
/// response: the register's bits 127:8 in CMD_RSP3..0 (`csd[3]..csd[0]`),
/// so CSD bit n is bit n - 8 of that 128-bit value.
fn csd_blocks(csd: [u32; 4]) -> Option<u64> {
    let bits = |hi: u32, lo: u32| -> u64 {
        let value = u128::from(csd[0])
            | u128::from(csd[1]) << 32
            | u128::from(csd[2]) << 64
            | u128::from(csd[3]) << 96;
        let width = hi - lo + 1;
        ((value >> (lo - 8)) & ((1u128 << width) - 1)) as u64
    };
    match bits(127, 126) {
        // CSD 1.0 (SDSC): (C_SIZE + 1) * 2^(C_SIZE_MULT + 2) blocks of
        // 2^READ_BL_LEN bytes.
        0 => {
            let c_size = bits(73, 62);
            let mult = bits(49, 47);
            let read_bl_len = bits(83, 80);
            let bytes = (c_size + 1) << (mult + 2 + read_bl_len);
            Some(bytes / BLOCK as u64)
        }
        // CSD 2.0 (SDHC, SDXC): (C_SIZE + 1) * 512 KiB.
        1 => Some((bits(69, 48) + 1) * 1024),
        _ => None,
    }
}
