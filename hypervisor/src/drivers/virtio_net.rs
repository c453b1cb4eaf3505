//! The host's network card (QEMU `-device virtio-net-device`), driven with
//! the `virtio-drivers` crate's raw interface: the uplink port of Aerie's
//! switch. Nothing here waits for the device. A frame goes out by adding a
//! buffer to the transmit queue (buffers the device has finished with are
//! taken back first; with the queue full the frame is dropped and counted),
//! so a slow or stuck host card can cost frames but never stall a pCPU.
//! Frames come in by the card's interrupt, which the interrupt handler only
//! acknowledges: the machine's exit and idle paths then take them
//! ([`receive`]) and hand them to the switch.

use super::virtio_mmio::{self, HostHal};
use aerie_dt::HostVirtio;
use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use spin::Mutex;
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::mmio::MmioTransport;
use virtio_drivers::transport::DeviceType;

/// Descriptors per queue: receive buffers kept posted, transmit buffers in
/// flight at most (each buffer one descriptor). A guest's 64 KiB TCP packet
/// leaves as up to 45 frames, so more would help, but `VirtIONetRaw` keeps
/// its queues inline and is built on the boot stack: at 256 it took the
/// boot stack from 31 to 116 KiB deep (`aerie.log=debug` prints the depth),
/// past its 64 KiB.
const QUEUE_SIZE: usize = 64;
/// One receive buffer: the virtio-net header and a 1518-byte frame, rounded up.
const BUFFER_LEN: usize = 2048;

/// The card and the buffers the device holds, by descriptor token. A
/// buffer is boxed so that it stays where the device was told it is while
/// the box itself moves in and out of its slot.
struct Card {
    raw: VirtIONetRaw<HostHal, MmioTransport<'static>, QUEUE_SIZE>,
    rx: Vec<Option<Box<[u8]>>>,
    tx: Vec<Option<Box<[u8]>>>,
}

static CARD: Mutex<Option<Card>> = Mutex::new(None);
/// The card's interrupt (0: none).
static INTID: AtomicU32 = AtomicU32::new(0);

impl Card {
    fn new(transport: MmioTransport<'static>) -> virtio_drivers::Result<Card> {
        let mut card = Card {
            raw: VirtIONetRaw::new(transport)?,
            rx: (0..QUEUE_SIZE).map(|_| None).collect(),
            tx: (0..QUEUE_SIZE).map(|_| None).collect(),
        };
        for _ in 0..QUEUE_SIZE {
            card.post(vec![0; BUFFER_LEN].into_boxed_slice())?;
        }
        Ok(card)
    }

    /// Give the device `buf` to receive into.
    fn post(&mut self, mut buf: Box<[u8]>) -> virtio_drivers::Result {
        // SAFETY: the buffer is kept in `rx` under the token, untouched,
        // until the device returns that token (receive_complete in
        // `receive`); the box's contents do not move while it is there.
        let token = unsafe { self.raw.receive_begin(&mut buf) }?;
        let slot = self
            .rx
            .get_mut(usize::from(token))
            .ok_or(virtio_drivers::Error::WrongToken)?;
        *slot = Some(buf);
        Ok(())
    }

    /// Take back the transmit buffers the device has finished with.
    fn reclaim(&mut self) {
        while let Some(token) = self.raw.poll_transmit() {
            let Some(buf) = self.tx.get_mut(usize::from(token)).and_then(Option::take) else {
                log::warn!("uplink: the card returned unknown transmit token {token}");
                return;
            };
            // SAFETY: `buf` is the buffer transmit_begin was given for
            // this token (kept in `tx` until now).
            if let Err(e) = unsafe { self.raw.transmit_complete(token, &buf) } {
                log::warn!("uplink: transmit completion: {e:?}");
            }
        }
    }

    fn send(&mut self, frame: &[u8]) -> virtio_drivers::Result {
        self.reclaim();
        if !self.raw.can_send() {
            return Err(virtio_drivers::Error::QueueFull);
        }
        // The virtio-net header (its size depends on what was negotiated),
        // then the frame, in one buffer.
        let mut header = [0u8; 16];
        let header_len = self.raw.fill_buffer_header(&mut header)?;
        let mut buf = Vec::with_capacity(header_len + frame.len());
        buf.extend_from_slice(&header[..header_len]);
        buf.extend_from_slice(frame);
        let buf = buf.into_boxed_slice();
        // SAFETY: the buffer is kept in `tx` under the token, untouched,
        // until the device returns that token (`reclaim`).
        let token = unsafe { self.raw.transmit_begin(&buf) }?;
        match self.tx.get_mut(usize::from(token)) {
            Some(slot) => *slot = Some(buf),
            None => return Err(virtio_drivers::Error::WrongToken),
        }
        Ok(())
    }
}

/// Take the first network card among the host's virtio-mmio transports
/// (mapped by [`virtio_mmio::map`]). Returns its interrupt's INTID: the
/// caller routes it to a pCPU. None without a usable card.
pub fn probe(transports: &[HostVirtio]) -> Option<u32> {
    for (transport, t) in virtio_mmio::find(transports, DeviceType::Network) {
        let Some(intid) = t.intid else {
            log::warn!("host network card at {:#x}: no interrupt", t.region.base);
            continue;
        };
        match Card::new(transport) {
            Ok(mut card) => {
                card.raw.enable_interrupts();
                log::info!(
                    "uplink: virtio-net at {:#x} (INTID {intid}), address {}",
                    t.region.base,
                    aerie_bootmodule::mac_text(&card.raw.mac_address())
                );
                *CARD.lock() = Some(card);
                INTID.store(intid, Ordering::Relaxed);
                return Some(intid);
            }
            Err(e) => log::warn!("host network card at {:#x}: {e:?}", t.region.base),
        }
    }
    None
}

/// The card's INTID, 0 without a card.
pub fn intid() -> u32 {
    INTID.load(Ordering::Relaxed)
}

/// The card raised its interrupt: acknowledge it at the device, so the
/// level drops before the GIC's end of interrupt. Called from interrupt
/// context, never on a pCPU that holds the card (Aerie's own code runs with
/// regular interrupts masked).
pub fn acknowledge() {
    if let Some(card) = CARD.lock().as_mut() {
        card.raw.ack_interrupt();
    }
}

/// Send one Ethernet frame out of the uplink, without waiting: a frame the
/// card has no room for is refused (`uplink` counts it dropped).
pub fn send(frame: &[u8]) -> Result<(), &'static str> {
    let mut card = CARD.lock();
    let card = card.as_mut().ok_or("no uplink")?;
    card.send(frame).map_err(|e| match e {
        virtio_drivers::Error::QueueFull => "transmit queue full: frame dropped",
        _ => "frame refused by the card",
    })
}

/// Hand every frame the card has received to `f`, at most a queue's worth
/// (more arriving meanwhile raise the interrupt again), each buffer posted
/// again after. Returns how many.
pub fn receive(mut f: impl FnMut(&[u8])) -> usize {
    let mut guard = CARD.lock();
    let Some(card) = guard.as_mut() else {
        return 0;
    };
    let mut n = 0;
    while n < QUEUE_SIZE {
        let Some(token) = card.raw.poll_receive() else {
            break;
        };
        let Some(mut buf) = card.rx.get_mut(usize::from(token)).and_then(Option::take) else {
            log::warn!("uplink: the card returned unknown receive token {token}");
            break;
        };
        // SAFETY: `buf` is the buffer receive_begin was given for this
        // token (kept in `rx` until now).
        match unsafe { card.raw.receive_complete(token, &mut buf) } {
            Ok((header, len)) => {
                if let Some(frame) = buf.get(header..header + len) {
                    f(frame);
                }
            }
            Err(e) => log::warn!("uplink: receive completion: {e:?}"),
        }
        n += 1;
        if let Err(e) = card.post(buf) {
            log::warn!("uplink: receive buffer lost: {e:?}");
        }
    }
    n
}
