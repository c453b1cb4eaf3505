//! Frames between the VMs' network cards and the uplink: what a card's
//! transmit queue gave up goes through Aerie's switch ([`aerie_vdev::Switch`],
//! which decides) into the receive queues of the cards it is for, or out of
//! the uplink (the host's own card), here, synchronously, in the exit of the
//! vCPU that sent it. Frames from the uplink come the same way when its
//! interrupt has left them waiting. A receiving card without a free buffer
//! keeps a bounded backlog; what does not fit is dropped and counted, as a
//! real switch port would. A packet a guest left unfinished (checksum or TCP
//! segmentation offload) travels as it is; the receiving card finishes it
//! if its driver cannot take it so, and the uplink always does
//! ([`aerie_virtio::net::finish`]).

use super::virtio::VmRam;
use super::Vm;
use crate::sched::Machine;
use aerie_vdev::Route;
use aerie_virtio::net::{finish, Packet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The transport index of `vm`'s network card, if it has one.
pub fn card_slot(vm: &Vm) -> Option<usize> {
    vm.virtio.iter().position(|s| s.net().is_some())
}

/// One line about `vm`'s card, for `Ctrl-A d` and the VM's stop:
/// `net 52:54:00:ae:00:01 (network 0, uplink): sent 12 frames (1400
/// bytes; TSO 2 packets, 1200 bytes), received 10 (1200 bytes; 1 over
/// several buffers); dropped: 0 sent, 0 received, switch 0 (spoofed 0, to
/// no card 0, malformed 0)`.
/// None without a card.
pub fn summary(vm: &Vm) -> Option<String> {
    let card = vm.image.net?;
    let drops = vm.net_drops;
    let slot = card_slot(vm)?;
    let s = vm.virtio[slot].net()?.device().stats();
    Some(format!(
        "net {} (network {}, {}): sent {} frames ({} bytes; TSO {} packets, {} bytes), \
         received {} ({} bytes; {} over several buffers); \
         dropped: {} sent, {} received, switch {} (spoofed {}, to no card {}, malformed {})",
        aerie_bootmodule::mac_text(&card.mac),
        card.network,
        if card.uplink { "uplink" } else { "no uplink" },
        s.tx_frames,
        s.tx_bytes,
        s.tx_tso_packets,
        s.tx_tso_bytes,
        s.rx_frames,
        s.rx_bytes,
        s.rx_merged,
        s.tx_dropped,
        s.rx_dropped,
        drops.total(),
        drops.spoofed,
        drops.no_such_address,
        drops.malformed
    ))
}

/// Carry the frames VM `from`'s card has sent (its transport `slot`) to
/// where the switch routes them, waking the receivers.
pub fn carry(m: &mut Machine, cpu: usize, from: usize, slot: usize) {
    let Some(card) = m.vms[from].virtio[slot].net_mut() else {
        return;
    };
    let packets = card.device_mut().take_outbound();
    for packet in packets {
        switch(m, cpu, from, &packet);
    }
}

/// Take the frames waiting at the uplink (the host's network card) and
/// switch them to the cards they are for.
pub fn receive_uplink(m: &mut Machine, cpu: usize) {
    let Some(uplink) = m.switch.uplink() else {
        return;
    };
    let mut frames = Vec::new();
    crate::drivers::uplink::receive(|f| frames.push(Packet::whole(f.to_vec())));
    for packet in frames {
        switch(m, cpu, uplink, &packet);
    }
}

/// One packet from port `from` to wherever the switch sends it: cards, the
/// uplink, or nowhere (counted against the sending VM; the uplink's drops
/// are not counted: the outside's broadcasts for nobody here are normal).
fn switch(m: &mut Machine, cpu: usize, from: usize, packet: &Packet) {
    match m.switch.route(from, &packet.frame) {
        Route::Port(to) => deliver(m, cpu, to, packet),
        Route::Flood => {
            let ports: Vec<usize> = m.switch.flood(from).collect();
            for to in ports {
                deliver(m, cpu, to, packet);
            }
        }
        Route::Drop(why) => {
            if let Some(vm) = m.vms.get_mut(from) {
                vm.net_drops.add(why);
            }
        }
    }
}

/// Put `packet` into VM `to`'s card (its backlog, if no buffer is free) and
/// raise the card's interrupt if a buffer was filled; or send it out of the
/// uplink, finished. A VM that is not running has no driver to take it: the
/// packet is lost, as on a cable to a machine that is off.
fn deliver(m: &mut Machine, cpu: usize, to: usize, packet: &Packet) {
    if Some(to) == m.switch.uplink() {
        // A full transmit queue drops frames (TCP sends them again); the
        // card counts them for `Ctrl-A d`, so a burst does not flood the log.
        finish(packet, |frame| {
            if let Err(e) = crate::drivers::uplink::send(frame) {
                log::debug!("uplink: {e}");
            }
        });
        return;
    }
    let vm = &mut m.vms[to];
    if !vm.running() {
        return;
    }
    let Some(slot) = card_slot(vm) else { return };
    let Some(ram) = vm.memory.as_ref() else {
        return;
    };
    let Some(card) = vm.virtio[slot].net_mut() else {
        return;
    };
    let notify = card.deliver(packet, &mut VmRam(ram));
    super::virtio::act_on(m, cpu, to, slot, notify);
}
