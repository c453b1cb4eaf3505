//! An SD card behind the host's SD host controller, the host disk on
//! boards without virtio: NXP's uSDHC (i.MX 6, 7 and 8M) or a standard
//! SDHCI (the Raspberry Pi 4's EMMC2, the ZynqMP's Arasan). The two share most of their
//! registers (the uSDHC grew out of the SDHCI); where they differ (the
//! clock, the power, where the transfer's direction goes, DAT0's bit) the
//! [`Controller`] says. Register names and bits are the i.MX 8M Plus
//! reference manual's and the SD Host Controller Simplified
//! Specification's; the card's commands are the SD Physical Layer
//! specification's.
//!
//! Polled, the data through the buffer port a block at a time (no DMA):
//! the simplest way that works on any of them. A request of several
//! blocks is one multiple-block transfer (CMD18 or CMD25, which the
//! controller's Auto CMD12 ends), so the card streams it rather than
//! answering a command per block. The card is identified at 400 kHz or
//! less and then run at 25 MHz or less, 50 MHz where the controller and
//! card have high speed, on four data lines where the tree's
//! `bus-width` says the slot has them (else one): on a uSDHC
//! assuming the 400 MHz root clock the i.MX 8M trees assign, on an SDHCI
//! from the base clock its capabilities give (the boot loader sets the
//! clocks and pins, as U-Boot does when it reads the card). SD cards
//! only (SDSC and SDHC/SDXC): an eMMC or an SDIO device answers none of the
//! SD identification commands, and is passed over.

use super::registers::Registers;
use crate::arch::aarch64::cpu;
use aerie_dt::{HostSdHost, SdHostKind};
pub use aerie_sdcard::BLOCK;
use aerie_sdcard::{
    block_address, csd_blocks, high_speed_selected, offers_high_speed, rca, sdhci, status_errors,
    transfer_command, Command, Response, ALL_SEND_CID, APP_CMD, BUS_WIDTH_4, CHECK_HIGH_SPEED,
    GO_IDLE_STATE, IF_COND, MAX_TRANSFER_BLOCKS, OCR_READY, OP_COND, SD_SEND_OP_COND, SELECT_CARD,
    SEND_CSD, SEND_IF_COND, SEND_RELATIVE_ADDR, SET_BLOCKLEN, SET_BUS_WIDTH, STOP_TRANSMISSION,
    SWITCH_FUNC, SWITCH_HIGH_SPEED, SWITCH_STATUS_BYTES,
};

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
/// The capabilities: an SDHCI's base clock in bits 15:8 (MHz); on both,
/// High Speed Support in bit 21.
const CAPABILITIES: usize = 0x40;
const CAP_HIGH_SPEED: u32 = 1 << 21;
const WTMK_LVL: usize = 0x44;
const MIX_CTRL: usize = 0x48;

/// PRES_STATE: command and data lines busy; the SD clock stable; DAT0's
/// level (low while a card is busy programming).
const PRES_CIHB: u32 = 1 << 0;
const PRES_CDIHB: u32 = 1 << 1;
const PRES_SDSTB: u32 = 1 << 3;
const PRES_DAT0_USDHC: u32 = 1 << 24;
const PRES_DAT0_SDHCI: u32 = 1 << 20;
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
/// ready; the command and data errors (timeout, CRC, end bit, index) and
/// the Auto CMD12's.
const INT_CC: u32 = 1 << 0;
const INT_TC: u32 = 1 << 1;
const INT_BWR: u32 = 1 << 4;
const INT_BRR: u32 = 1 << 5;
const INT_ERRORS: u32 = (0x7f << 16) | (1 << 24);
const INT_ENABLED: u32 = INT_ERRORS | INT_BRR | INT_BWR | INT_TC | INT_CC;
/// PROT_CTRL: little-endian data, one data line, no DMA; DTW: four data
/// lines (the same bit in an SDHCI's Host Control 1).
const PROT_LITTLE_ENDIAN: u32 = 0x20;
const PROT_DTW_4BIT: u32 = 1 << 1;
/// WTMK_LVL: a whole block (128 words) per buffer-ready, either way; the
/// read watermark is bits 7:0.
const WTMK_BLOCK: u32 = 0x0080_0080;
const WTMK_READ: u32 = 0xff;
/// SDHCI: Power Control (byte 0x29 of the word at 0x28): bus power on at
/// 3.3 V; Host Control 1 (byte 0x28) left 0: one data line, no DMA.
const SDHCI_POWER_3V3: u32 = 0x0f << 8;
/// SDHCI Host Control 1 (byte 0x28): High Speed Enable. (A uSDHC has no
/// such bit: its bit 2 is part of DTW.)
const SDHCI_HIGH_SPEED: u32 = 1 << 2;
/// SDHCI Clock Control (the low half of the word at 0x2c): internal clock
/// enable and stable, SD clock enable (the divisor: `aerie_sdcard::sdhci`).
const SDHCI_ICE: u32 = 1 << 0;
const SDHCI_ICS: u32 = 1 << 1;
const SDHCI_SDCE: u32 = 1 << 2;
/// The identification and default-speed clocks, at most.
const IDENTIFICATION_HZ: u64 = 400_000;
const DEFAULT_SPEED_HZ: u64 = 25_000_000;
const HIGH_SPEED_HZ: u64 = 50_000_000;

/// Which kind of controller, where they differ.
#[derive(Clone, Copy, Debug)]
pub enum Controller {
    Usdhc,
    /// A standard SDHCI with this base clock.
    Sdhci {
        base_hz: u64,
    },
}

/// CMD_XFR_TYP: data present, index and CRC checks, the response's kind
/// (bits 17:16), the command index (bits 29:24).
const XFR_DATA: u32 = 1 << 21;
const XFR_CHECK_INDEX: u32 = 1 << 20;
const XFR_CHECK_CRC: u32 = 1 << 19;
const XFR_R136: u32 = 0b01 << 16;
const XFR_R48: u32 = 0b10 << 16;
const XFR_R48_BUSY: u32 = 0b11 << 16;

/// CMD_XFR_TYP for `cmd`.
fn transfer_type(cmd: Command) -> u32 {
    let r = cmd.response;
    let kind = match r {
        Response::None => 0,
        _ if r.long() => XFR_R136,
        _ if r.busy() => XFR_R48_BUSY,
        _ => XFR_R48,
    };
    (u32::from(cmd.index) << 24)
        | kind
        | if r.has_crc() { XFR_CHECK_CRC } else { 0 }
        | if r.has_index() { XFR_CHECK_INDEX } else { 0 }
        | if cmd.data { XFR_DATA } else { 0 }
}

/// How long a command, a transfer or the card's power-up may take.
const COMMAND_MS: u64 = 1000;
const POWER_UP_MS: u64 = 1000;

/// [`cpu::poll_for`], telling the watchdog meanwhile that this pCPU is not
/// stuck: it waits for the card, each wait bounded, interrupts masked (a
/// VM's disk request, `vm::block`), and a card that stopped answering
/// fails the request; it does not end Aerie.
fn poll_for(ms: u64, mut done: impl FnMut() -> bool) -> bool {
    let me = crate::sched::this_cpu();
    cpu::poll_for(ms, || {
        crate::irq::watchdog::progress(me);
        done()
    })
}

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
    controller: Controller,
    /// Its OCR: whether it takes block numbers or byte addresses.
    ocr: u32,
    pub blocks: u64,
    /// The data lines in use: 1 or 4.
    pub data_lines: u8,
    /// The SD clock transfers run at (Hz).
    pub clock_hz: u64,
}

impl SdCard {
    /// Find and set up the card behind controller `host`, mapped at `va`.
    /// Resets the controller; leaves the card selected, in transfer state,
    /// 512-byte blocks, on four data lines if the slot has them.
    ///
    /// # Safety
    /// `va` must be the virtual address of the mapped registers of `host`,
    /// used by nobody else.
    pub unsafe fn attach(va: u64, host: &HostSdHost) -> Result<SdCard, SdError> {
        // SAFETY: per this function's contract.
        let regs = unsafe { Registers::new(va) };
        let controller = if host.kind == SdHostKind::ImxUsdhc {
            Controller::Usdhc
        } else {
            let mhz = (regs.read(CAPABILITIES) >> 8) & 0xff;
            if mhz == 0 {
                return Err(SdError::Unusable(
                    "the SDHCI's capabilities give no base clock",
                ));
            }
            Controller::Sdhci {
                base_hz: u64::from(mhz) * 1_000_000,
            }
        };
        let mut card = SdCard {
            regs,
            controller,
            ocr: 0,
            blocks: 0,
            data_lines: 1,
            clock_hz: 0,
        };
        card.reset_controller()?;
        card.identification_clock()?;

        card.command(GO_IDLE_STATE, 0)?;
        let echo = card.command(SEND_IF_COND, IF_COND).map_err(|_| {
            SdError::Unusable("no SD card answers (CMD8): an empty slot, an eMMC or an SD 1.x card")
        })?;
        if echo & 0xfff != IF_COND {
            return Err(SdError::Unusable("CMD8's check pattern came back wrong"));
        }
        let mut ocr = 0;
        let ready = poll_for(POWER_UP_MS, || {
            ocr = card
                .command(APP_CMD, 0)
                .and_then(|_| card.command(SD_SEND_OP_COND, OP_COND))
                .unwrap_or(0);
            ocr & OCR_READY != 0
        });
        if !ready {
            return Err(SdError::Timeout("the card did not power up (ACMD41)"));
        }
        card.ocr = ocr;
        card.command(ALL_SEND_CID, 0)?;
        let rca = rca(card.command(SEND_RELATIVE_ADDR, 0)?);
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
        if host.bus_width >= 4 {
            // The card first, then the controller. An 8-line slot (an
            // eMMC's width) has the four an SD card uses.
            card.command(APP_CMD, rca)?;
            card.command(SET_BUS_WIDTH, BUS_WIDTH_4)?;
            card.regs
                .write(PROT_CTRL, card.regs.read(PROT_CTRL) | PROT_DTW_4BIT);
            card.data_lines = 4;
        }
        let high_speed = card.switch_to_high_speed();
        card.clock_hz = card.data_clock(high_speed)?;
        Ok(card)
    }

    /// Switch the card to high speed (SDR25, up to 50 MHz) if the
    /// controller says it can run it and the card offers it (CMD6, check
    /// then switch). Whether it did; a card that does not know CMD6 (SD
    /// 1.0) stays at default speed.
    fn switch_to_high_speed(&self) -> bool {
        if self.regs.read(CAPABILITIES) & CAP_HIGH_SPEED == 0 {
            return false;
        }
        let mut status = [0u8; SWITCH_STATUS_BYTES];
        let mut ask = |arg| {
            self.read_data(SWITCH_FUNC, arg, &mut status)
                .map(|()| status)
        };
        matches!(ask(CHECK_HIGH_SPEED), Ok(s) if offers_high_speed(&s) && high_speed_selected(&s))
            && matches!(ask(SWITCH_HIGH_SPEED), Ok(s) if high_speed_selected(&s))
    }

    fn reset_controller(&self) -> Result<(), SdError> {
        let usdhc = matches!(self.controller, Controller::Usdhc);
        let clocks = if usdhc { SYS_CLOCKS_ON } else { 0 };
        self.regs.write(SYS_CTRL, SYS_RSTA | clocks);
        if !poll_for(COMMAND_MS, || self.regs.read(SYS_CTRL) & SYS_RSTA == 0) {
            return Err(SdError::Timeout("the controller's reset"));
        }
        // A reset clears the status enables (nothing latches without them)
        // but not the transfer mode.
        self.regs.write(INT_STATUS_EN, INT_ENABLED);
        self.regs.write(INT_SIGNAL_EN, 0);
        if usdhc {
            self.regs.write(PROT_CTRL, PROT_LITTLE_ENDIAN);
            self.regs.write(WTMK_LVL, WTMK_BLOCK);
            self.regs.write(MIX_CTRL, 0);
        } else {
            // The card's power, which a reset turns off.
            self.regs.write(PROT_CTRL, SDHCI_POWER_3V3);
        }
        Ok(())
    }

    /// The clock for identification, and on a uSDHC the 80 clocks that
    /// start a card.
    fn identification_clock(&self) -> Result<(), SdError> {
        match self.controller {
            Controller::Usdhc => {
                // 400 MHz / (32 * 16): 390 kHz.
                self.set_clock(0x20, 0xf)?;
                self.regs
                    .write(SYS_CTRL, self.regs.read(SYS_CTRL) | SYS_INITA);
                // A controller that does not model the 80 clocks keeps the
                // bit (QEMU's), which is no error.
                poll_for(10, || self.regs.read(SYS_CTRL) & SYS_INITA == 0);
                Ok(())
            }
            Controller::Sdhci { base_hz } => {
                self.sdhci_clock(sdhci::clock_divisor(base_hz, IDENTIFICATION_HZ))
            }
        }
    }

    /// The clock for transfers: default speed, which every card takes,
    /// 25 MHz or the nearest below; at high speed 50 MHz (an SDHCI is told
    /// in Host Control 1). Returns the clock.
    fn data_clock(&self, high_speed: bool) -> Result<u64, SdError> {
        let max = if high_speed {
            HIGH_SPEED_HZ
        } else {
            DEFAULT_SPEED_HZ
        };
        match self.controller {
            // 400 MHz / (1 * 8) or (1 * 16).
            Controller::Usdhc => {
                self.set_clock(0x00, if high_speed { 0x7 } else { 0xf })?;
                Ok(max)
            }
            Controller::Sdhci { base_hz } => {
                if high_speed {
                    self.regs
                        .write(PROT_CTRL, self.regs.read(PROT_CTRL) | SDHCI_HIGH_SPEED);
                }
                let n = sdhci::clock_divisor(base_hz, max);
                self.sdhci_clock(n)?;
                Ok(sdhci::clock_hz(base_hz, n))
            }
        }
    }

    /// SDHCI: the SD clock off, divisor `n`, the internal clock on and
    /// stable, then the SD clock on; the data timeout at its longest.
    fn sdhci_clock(&self, n: u32) -> Result<(), SdError> {
        let divisor = sdhci::clock_control_divisor(n);
        let keep = self.regs.read(SYS_CTRL) & 0xff00_0000;
        self.regs
            .write(SYS_CTRL, keep | SYS_DTOCV | divisor | SDHCI_ICE);
        if !poll_for(COMMAND_MS, || self.regs.read(SYS_CTRL) & SDHCI_ICS != 0) {
            return Err(SdError::Timeout("the SDHCI's clock did not settle"));
        }
        self.regs.write(
            SYS_CTRL,
            keep | SYS_DTOCV | divisor | SDHCI_ICE | SDHCI_SDCE,
        );
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
        if !poll_for(COMMAND_MS, || self.regs.read(PRES_STATE) & PRES_SDSTB != 0) {
            return Err(SdError::Timeout("the SD clock did not settle"));
        }
        Ok(())
    }

    /// Reset the command and data lines after an error (one reset at a
    /// time, the clocks kept on).
    fn recover(&self) {
        let clocks = match self.controller {
            Controller::Usdhc => SYS_CLOCKS_ON,
            Controller::Sdhci { .. } => 0,
        };
        for reset in [SYS_RSTC, SYS_RSTD] {
            self.regs
                .write(SYS_CTRL, self.regs.read(SYS_CTRL) | reset | clocks);
            poll_for(COMMAND_MS, || self.regs.read(SYS_CTRL) & reset == 0);
        }
    }

    /// Waits for any of `bits` in INT_STATUS; an error bit ends the wait
    /// too, and the request (the lines reset).
    fn wait_status(&self, bits: u32, what: &'static str) -> Result<(), SdError> {
        let mut status = 0;
        if !poll_for(COMMAND_MS, || {
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
    /// (R1, R3, R6, R7: the card's 32 bits).
    fn command(&self, cmd: Command, arg: u32) -> Result<u32, SdError> {
        self.issue(cmd, arg, 0)
    }

    /// [`SdCard::command`] with the transfer mode `mode` for its data
    /// ([`sdhci::transfer_mode`]): a uSDHC takes it in MIX_CTRL, an SDHCI
    /// in the Command register's low half, written with the command. The
    /// data follows separately.
    fn issue(&self, cmd: Command, arg: u32, mode: u32) -> Result<u32, SdError> {
        let busy = PRES_CIHB | if cmd.data { PRES_CDIHB } else { 0 };
        let dat0 = match self.controller {
            Controller::Usdhc => PRES_DAT0_USDHC,
            Controller::Sdhci { .. } => PRES_DAT0_SDHCI,
        };
        // A card still programming the last block holds DAT0 low.
        let idle = |s: u32| s & busy == 0 && (!cmd.data || s & dat0 != 0);
        if !poll_for(COMMAND_MS, || idle(self.regs.read(PRES_STATE))) {
            self.recover();
            return Err(SdError::Timeout("the command line stayed busy"));
        }
        self.regs.write(INT_STATUS, u32::MAX);
        self.regs.write(CMD_ARG, arg);
        let mode = match self.controller {
            Controller::Usdhc if cmd.data => {
                self.regs.write(MIX_CTRL, mode);
                0
            }
            Controller::Usdhc => 0,
            Controller::Sdhci { .. } => mode,
        };
        self.regs.write(CMD_XFR_TYP, transfer_type(cmd) | mode);
        self.wait_status(INT_CC, "no response")?;
        self.regs.write(INT_STATUS, INT_CC);
        let response = self.regs.read(CMD_RSP0);
        if cmd.response.is_status() && status_errors(response) != 0 {
            self.recover();
            return Err(SdError::Card(response));
        }
        Ok(response)
    }

    /// The argument naming block `lba`, the first of `count`.
    fn address(&self, lba: u64, count: usize) -> Result<u32, SdError> {
        let beyond = SdError::Unusable("a block beyond the card");
        if lba
            .checked_add(count as u64)
            .is_none_or(|end| end > self.blocks)
        {
            return Err(beyond);
        }
        block_address(self.ocr, lba).ok_or(beyond)
    }

    /// Start a transfer of `count` blocks from block `lba`: the block
    /// count, then the command with its transfer mode.
    fn start(&self, lba: u64, count: usize, write: bool) -> Result<(), SdError> {
        let arg = self.address(lba, count)?;
        self.regs
            .write(BLK_ATT, ((count as u32) << 16) | BLOCK as u32);
        let mode = sdhci::transfer_mode(count, !write);
        self.issue(transfer_command(count, write), arg, mode)
            .map(|_| ())
    }

    /// The end of a transfer of `count` blocks: transfer complete (after
    /// the controller's CMD12 for several). A transfer that failed half
    /// way leaves the card sending or receiving: CMD12 stops it, whatever
    /// it answers.
    fn finish(&self, count: usize, moved: Result<(), SdError>) -> Result<(), SdError> {
        let done = moved.and_then(|()| self.wait_status(INT_TC, "the transfer did not complete"));
        match done {
            Ok(()) => {
                self.regs.write(INT_STATUS, INT_TC);
                Ok(())
            }
            Err(e) => {
                if count > 1 {
                    let _ = self.command(STOP_TRANSMISSION, 0);
                }
                Err(e)
            }
        }
    }

    /// Take one block (whole words) from the buffer port once it is ready.
    fn take_block(&self, block: &mut [u8]) -> Result<(), SdError> {
        self.wait_status(INT_BRR, "no data to read")?;
        // Cleared before the block is read: the read of its last word may
        // already make the next block ready.
        self.regs.write(INT_STATUS, INT_BRR);
        for word in block.chunks_exact_mut(4) {
            word.copy_from_slice(&self.regs.read(DATA_BUFF_ACC_PORT).to_le_bytes());
        }
        Ok(())
    }

    /// Issue `cmd`, whose data is one block of `buf.len()` bytes (a
    /// multiple of 4, at most [`BLOCK`]: CMD6's status), and read it. A
    /// uSDHC's read watermark comes down to the block for it: a block
    /// shorter than the watermark would never make its buffer ready.
    fn read_data(&self, cmd: Command, arg: u32, buf: &mut [u8]) -> Result<(), SdError> {
        let words = (buf.len() / 4) as u32;
        let usdhc = matches!(self.controller, Controller::Usdhc);
        if usdhc {
            self.regs.write(WTMK_LVL, (WTMK_BLOCK & !WTMK_READ) | words);
        }
        self.regs.write(BLK_ATT, (1 << 16) | buf.len() as u32);
        let done = self
            .issue(cmd, arg, sdhci::transfer_mode(1, true))
            .and_then(|_| {
                let moved = self.take_block(buf);
                self.finish(1, moved)
            });
        if usdhc {
            self.regs.write(WTMK_LVL, WTMK_BLOCK);
        }
        done
    }

    /// Read `buf.len() / BLOCK` blocks from block `lba` into `buf`, up to
    /// [`MAX_TRANSFER_BLOCKS`] a transfer.
    pub fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), SdError> {
        let mut lba = lba;
        for part in buf.chunks_mut(MAX_TRANSFER_BLOCKS * BLOCK) {
            let count = part.len() / BLOCK;
            self.start(lba, count, false)?;
            let moved = part
                .chunks_exact_mut(BLOCK)
                .try_for_each(|block| self.take_block(block));
            self.finish(count, moved)?;
            lba += count as u64;
        }
        Ok(())
    }

    /// Write `buf` (whole blocks) from block `lba` on, up to
    /// [`MAX_TRANSFER_BLOCKS`] a transfer.
    pub fn write(&self, lba: u64, buf: &[u8]) -> Result<(), SdError> {
        let mut lba = lba;
        for part in buf.chunks(MAX_TRANSFER_BLOCKS * BLOCK) {
            let count = part.len() / BLOCK;
            self.start(lba, count, true)?;
            let moved = part.chunks_exact(BLOCK).try_for_each(|block| {
                self.wait_status(INT_BWR, "no room to write")?;
                self.regs.write(INT_STATUS, INT_BWR);
                for word in block.chunks_exact(4) {
                    self.regs.write(
                        DATA_BUFF_ACC_PORT,
                        u32::from_le_bytes([word[0], word[1], word[2], word[3]]),
                    );
                }
                Ok(())
            });
            self.finish(count, moved)?;
            lba += count as u64;
        }
        Ok(())
    }
}
