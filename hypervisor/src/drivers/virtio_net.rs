//! The host's network card (QEMU `-device virtio-net-device`), driven with
//! the `virtio-drivers` crate: the uplink port of Aerie's switch. Frames go
//! out synchronously (the send waits for the device); frames come in by its
//! interrupt, which the interrupt handler only acknowledges: the machine's
//! exit and idle paths then take them ([`receive`]) and hand them to the
//! switch.

use super::virtio_mmio::{self, HostHal};
use aerie_dt::HostVirtio;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use spin::Mutex;
use virtio_drivers::device::net::{TxBuffer, VirtIONet};
use virtio_drivers::transport::mmio::MmioTransport;
use virtio_drivers::transport::DeviceType;

/// Receive buffers the driver keeps posted (each one frame).
const QUEUE_SIZE: usize = 64;
/// One receive buffer: the virtio-net header and a 1518-byte frame, rounded up.
const BUFFER_LEN: usize = 2048;

type Net = VirtIONet<HostHal, MmioTransport<'static>, QUEUE_SIZE>;

static NET: Mutex<Option<Net>> = Mutex::new(None);
/// The card's interrupt (0: none).
static INTID: AtomicU32 = AtomicU32::new(0);
/// Frames sent and received, and sends that failed, for `Ctrl-A d`.
static SENT: AtomicU64 = AtomicU64::new(0);
static RECEIVED: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);

/// Take the first network card among the host's virtio-mmio transports
/// (mapped by [`virtio_mmio::map`]). Returns its interrupt's INTID: the
/// caller routes it to a pCPU. None without a usable card.
pub fn probe(transports: &[HostVirtio]) -> Option<u32> {
    for (transport, t) in virtio_mmio::find(transports, DeviceType::Network) {
        let Some(intid) = t.intid else {
            log::warn!("host network card at {:#x}: no interrupt", t.region.base);
            continue;
        };
        match Net::new(transport, BUFFER_LEN) {
            Ok(mut net) => {
                net.enable_interrupts();
                log::info!(
                    "uplink: virtio-net at {:#x} (INTID {intid}), address {}",
                    t.region.base,
                    aerie_bootmodule::mac_text(&net.mac_address())
                );
                *NET.lock() = Some(net);
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
    if let Some(net) = NET.lock().as_mut() {
        net.ack_interrupt();
    }
}

/// Send one Ethernet frame out of the uplink.
pub fn send(frame: &[u8]) -> Result<(), &'static str> {
    let mut net = NET.lock();
    let net = net.as_mut().ok_or("no uplink")?;
    let sent = net.send(TxBuffer::from(frame));
    let counter = if sent.is_ok() { &SENT } else { &FAILED };
    counter.fetch_add(1, Ordering::Relaxed);
    sent.map_err(|_| "uplink send failed")
}

/// One line for `Ctrl-A d`: the card's traffic. None without a card.
pub fn summary() -> Option<alloc::string::String> {
    (intid() != 0).then(|| {
        alloc::format!(
            "sent {} frames, received {}, {} sends failed",
            SENT.load(Ordering::Relaxed),
            RECEIVED.load(Ordering::Relaxed),
            FAILED.load(Ordering::Relaxed)
        )
    })
}

/// Hand every frame the card has received to `f`, at most a queue's worth
/// (more arriving meanwhile raise the interrupt again). Returns how many.
pub fn receive(mut f: impl FnMut(&[u8])) -> usize {
    let mut guard = NET.lock();
    let Some(net) = guard.as_mut() else {
        return 0;
    };
    let mut n = 0;
    while n < QUEUE_SIZE {
        let Ok(buf) = net.receive() else { break };
        f(buf.packet());
        n += 1;
        RECEIVED.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = net.recycle_rx_buffer(buf) {
            log::warn!("uplink: receive buffer lost: {e:?}");
        }
    }
    n
}
