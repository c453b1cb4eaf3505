//! The uplink port's card, the one place that picks between the cards
//! Aerie drives: the host's virtio-net (QEMU's `virt` and Versal boards),
//! else the machine's own Ethernet (`imx_fec`: i.MX boards; `cadence_gem`:
//! Xilinx ZynqMP and Versal). One at most.

use super::{cadence_gem, imx_fec, virtio_net};
use crate::mm::kernel_map::KernelSpace;
use aerie_dt::{EthernetKind, HostInfo};
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Card {
    None = 0,
    Virtio = 1,
    ImxFec = 2,
    CadenceGem = 3,
}

static CARD: AtomicU8 = AtomicU8::new(Card::None as u8);
/// Frames sent and received, and frames dropped because the card had no
/// room or refused them, for `Ctrl-A d`.
static SENT: AtomicU64 = AtomicU64::new(0);
static RECEIVED: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);

fn card() -> Card {
    match CARD.load(Ordering::Relaxed) {
        1 => Card::Virtio,
        2 => Card::ImxFec,
        3 => Card::CadenceGem,
        _ => Card::None,
    }
}

/// Find and bring up the uplink's card: a virtio-net among the host's
/// virtio-mmio transports (`virtio_mapped`: they are mapped), else the
/// Ethernet controller the device tree names. Returns its INTID, which the
/// caller routes to a pCPU; None without a usable card.
pub fn probe(host: &HostInfo, space: &mut KernelSpace, virtio_mapped: bool) -> Option<u32> {
    if virtio_mapped {
        if let Some(intid) = virtio_net::probe(&host.virtio_mmio) {
            CARD.store(Card::Virtio as u8, Ordering::Relaxed);
            return Some(intid);
        }
    }
    let eth = host.ethernet.as_ref()?;
    let (intid, card) = match eth.kind {
        EthernetKind::ImxFec => (
            imx_fec::ENET.probe(eth, space, imx_fec::bring_up)?,
            Card::ImxFec,
        ),
        EthernetKind::CadenceGem => (
            cadence_gem::GEM.probe(eth, space, cadence_gem::bring_up)?,
            Card::CadenceGem,
        ),
    };
    CARD.store(card as u8, Ordering::Relaxed);
    Some(intid)
}

/// The card's INTID, 0 without a card.
pub fn intid() -> u32 {
    match card() {
        Card::Virtio => virtio_net::intid(),
        Card::ImxFec => imx_fec::ENET.intid(),
        Card::CadenceGem => cadence_gem::GEM.intid(),
        Card::None => 0,
    }
}

/// The card raised its interrupt: acknowledge it at the device (from
/// interrupt context).
pub fn acknowledge() {
    match card() {
        Card::Virtio => virtio_net::acknowledge(),
        Card::ImxFec => imx_fec::ENET.acknowledge(),
        Card::CadenceGem => cadence_gem::GEM.acknowledge(),
        Card::None => {}
    }
}

/// Send one Ethernet frame out, without waiting: one the card has no room
/// for is dropped, and counted.
pub fn send(frame: &[u8]) -> Result<(), &'static str> {
    let sent = match card() {
        Card::Virtio => virtio_net::send(frame),
        Card::ImxFec => imx_fec::ENET.send(frame),
        Card::CadenceGem => cadence_gem::GEM.send(frame),
        Card::None => return Err("no uplink"),
    };
    let counter = if sent.is_ok() { &SENT } else { &DROPPED };
    counter.fetch_add(1, Ordering::Relaxed);
    sent
}

/// Hand the frames the card has received to `f`; returns how many it took
/// off the card (those with errors included).
pub fn receive(mut f: impl FnMut(&[u8])) -> usize {
    let mut counted = |frame: &[u8]| {
        RECEIVED.fetch_add(1, Ordering::Relaxed);
        f(frame)
    };
    match card() {
        Card::Virtio => virtio_net::receive(&mut counted),
        Card::ImxFec => imx_fec::ENET.receive(&mut counted),
        Card::CadenceGem => cadence_gem::GEM.receive(&mut counted),
        Card::None => 0,
    }
}

/// One line for `Ctrl-A d`: the card's traffic, and for the machine's own
/// Ethernet the frames it received with errors. None without a card.
pub fn summary() -> Option<alloc::string::String> {
    let errors = match card() {
        Card::None => return None,
        Card::Virtio => None,
        Card::ImxFec => Some(imx_fec::ENET.receive_errors()),
        Card::CadenceGem => Some(cadence_gem::GEM.receive_errors()),
    };
    let mut line = alloc::format!(
        "sent {} frames, received {}, dropped {} (no room on the card)",
        SENT.load(Ordering::Relaxed),
        RECEIVED.load(Ordering::Relaxed),
        DROPPED.load(Ordering::Relaxed)
    );
    if let Some(errors) = errors {
        line.push_str(&alloc::format!(", {errors} received with errors"));
    }
    Some(line)
}
