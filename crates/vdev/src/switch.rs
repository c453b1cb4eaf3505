//! Aerie's Ethernet switch: the logic that decides where a frame one VM's
//! network card sent goes. Ports are VMs, by index; a port has a card (and
//! with it one fixed unicast address, a network and whether it reaches the
//! uplink, from the VM config) or not. One more port, after the VMs', may be
//! the uplink: the machine's own network card, behind which lies the rest of
//! the world.
//!
//! Cards exchange frames only with cards on the same network. Every VM's
//! address is known in advance, so there is nothing to learn: a unicast
//! frame goes to the card on the sender's network with its destination
//! address, else out of the uplink (if the sender reaches it; else nowhere);
//! a group (broadcast or multicast) frame to every other card on the
//! network and the uplink. A frame from a card whose source address is not
//! that card's own is dropped, so one VM cannot pose as another and draw its
//! traffic; so is a frame from the uplink that claims a VM's address. From
//! the uplink frames reach only the cards that reach it. Nor does a VM get a
//! frame back through the switch (its own stack loops those).

use alloc::vec::Vec;

/// An Ethernet (MAC) address.
pub type Mac = [u8; 6];

/// A VM's network card as the switch sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Card {
    pub mac: Mac,
    /// Its network: it exchanges frames only with cards on the same one.
    pub network: u16,
    /// It reaches the uplink.
    pub uplink: bool,
}

/// Bytes of an Ethernet header: destination, source, type.
pub const ETHERNET_HEADER: usize = 14;

/// Where a frame goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// To this one port.
    Port(usize),
    /// To every port with a card except the sender's: see [`Switch::flood`].
    Flood,
    /// Nowhere, and why.
    Drop(DropReason),
}

/// Why the switch dropped a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Shorter than an Ethernet header, or sent by a port without a card.
    Malformed,
    /// Its source address is not the sending card's.
    Spoofed,
    /// No other port has its (unicast) destination address.
    NoSuchAddress,
}

/// Frames a port's card sent that the switch dropped, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortDrops {
    pub malformed: u64,
    pub spoofed: u64,
    pub no_such_address: u64,
}

impl PortDrops {
    /// Count one more, dropped for `why`.
    pub fn add(&mut self, why: DropReason) {
        match why {
            DropReason::Malformed => self.malformed += 1,
            DropReason::Spoofed => self.spoofed += 1,
            DropReason::NoSuchAddress => self.no_such_address += 1,
        }
    }

    /// All of them.
    pub fn total(&self) -> u64 {
        self.malformed + self.spoofed + self.no_such_address
    }
}

/// The switch: one port per VM, then the uplink if there is one. It decides
/// and keeps nothing: what it drops the caller counts (in a [`PortDrops`] per
/// port).
#[derive(Clone, Debug, Default)]
pub struct Switch {
    cards: Vec<Option<Card>>,
    uplink: bool,
}

impl Switch {
    /// A switch with no ports (what a machine starts with before its VMs).
    pub const fn empty() -> Self {
        Switch {
            cards: Vec::new(),
            uplink: false,
        }
    }

    /// A switch with one port per item of `cards`: that VM's card, or `None`
    /// for a VM without one; then, if `uplink`, the uplink's port.
    pub fn new(cards: impl IntoIterator<Item = Option<Card>>, uplink: bool) -> Self {
        Switch {
            cards: cards.into_iter().collect(),
            uplink,
        }
    }

    /// The uplink's port, if there is one.
    pub fn uplink(&self) -> Option<usize> {
        self.uplink.then_some(self.cards.len())
    }

    /// The card port whose address is `mac`.
    fn port_of(&self, mac: &[u8]) -> Option<usize> {
        self.cards
            .iter()
            .position(|c| c.is_some_and(|c| c.mac == mac))
    }

    /// Where `frame`, sent by port `from`, goes.
    pub fn route(&self, from: usize, frame: &[u8]) -> Route {
        let from_uplink = Some(from) == self.uplink();
        let own = match self.cards.get(from) {
            Some(Some(card)) => Some(*card),
            _ if from_uplink => None,
            _ => return Route::Drop(DropReason::Malformed),
        };
        if frame.len() < ETHERNET_HEADER {
            return Route::Drop(DropReason::Malformed);
        }
        let (dst, src) = (&frame[0..6], &frame[6..12]);
        let spoofed = match own {
            Some(own) => src != own.mac,
            None => self.port_of(src).is_some(), // the outside posing as a VM
        };
        if spoofed {
            return Route::Drop(DropReason::Spoofed);
        }
        if dst[0] & 1 != 0 {
            return Route::Flood; // broadcast and multicast
        }
        if let Some(port) = self.port_of(dst) {
            return if port != from && self.can_reach(own, port) {
                Route::Port(port)
            } else {
                Route::Drop(DropReason::NoSuchAddress)
            };
        }
        match (own, self.uplink()) {
            (Some(card), Some(up)) if card.uplink => Route::Port(up),
            _ => Route::Drop(DropReason::NoSuchAddress),
        }
    }

    /// Whether a frame from `own` (None: the uplink) may reach card port
    /// `port`: the same network, or from the uplink a card that reaches it.
    fn can_reach(&self, own: Option<Card>, port: usize) -> bool {
        let Some(Some(to)) = self.cards.get(port) else {
            return false;
        };
        match own {
            Some(own) => own.network == to.network,
            None => to.uplink,
        }
    }

    /// The ports a flooded frame from `from` goes to: every other card it
    /// may reach, and the uplink if it came from a card that reaches it.
    pub fn flood(&self, from: usize) -> impl Iterator<Item = usize> + '_ {
        let own = self.cards.get(from).copied().flatten();
        let up = self.uplink().filter(|_| own.is_some_and(|c| c.uplink));
        (0..self.cards.len())
            .filter(move |&p| p != from && self.can_reach(own, p))
            .chain(up)
    }

    /// Port `port`'s card, if it has one.
    pub fn card(&self, port: usize) -> Option<Card> {
        self.cards.get(port).copied().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Mac = [0x52, 0x54, 0, 0xae, 0, 1];
    const B: Mac = [0x52, 0x54, 0, 0xae, 0, 2];
    const C: Mac = [0x52, 0x54, 0, 0xae, 0, 4];
    const BROADCAST: Mac = [0xff; 6];

    fn frame(dst: Mac, src: Mac) -> Vec<u8> {
        let mut f = Vec::from(dst);
        f.extend_from_slice(&src);
        f.extend_from_slice(&[0x08, 0x00, 0x45]);
        f
    }

    /// A card on network 0 that reaches the uplink.
    fn card(mac: Mac) -> Option<Card> {
        Some(Card {
            mac,
            network: 0,
            uplink: true,
        })
    }

    /// Ports 0 (A), 1 (no card), 2 (B), 3 (C); no uplink.
    fn switch() -> Switch {
        Switch::new([card(A), None, card(B), card(C)], false)
    }

    #[test]
    fn unicast_goes_to_its_port_group_frames_to_every_other_card() {
        let s = switch();
        assert_eq!(s.route(0, &frame(B, A)), Route::Port(2));
        assert_eq!(s.route(3, &frame(A, C)), Route::Port(0));
        assert_eq!(s.route(0, &frame(BROADCAST, A)), Route::Flood);
        let ipv6_multicast = [0x33, 0x33, 0, 0, 0, 1];
        assert_eq!(s.route(2, &frame(ipv6_multicast, B)), Route::Flood);
        assert_eq!(s.flood(0).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(s.flood(2).collect::<Vec<_>>(), [0, 3]);
    }

    #[test]
    fn spoofed_unknown_and_malformed_frames_are_dropped() {
        let s = switch();
        // A poses as B: dropped, whatever the destination.
        assert_eq!(s.route(0, &frame(C, B)), Route::Drop(DropReason::Spoofed));
        assert_eq!(
            s.route(0, &frame(BROADCAST, B)),
            Route::Drop(DropReason::Spoofed)
        );
        // Nobody has this address; nor does the switch hairpin to the sender.
        let nobody = [0x52, 0x54, 0, 0xae, 0, 9];
        assert_eq!(
            s.route(2, &frame(nobody, B)),
            Route::Drop(DropReason::NoSuchAddress)
        );
        assert_eq!(
            s.route(2, &frame(B, B)),
            Route::Drop(DropReason::NoSuchAddress)
        );
        // Runts, and ports without a card or outside the switch.
        assert_eq!(
            s.route(3, &frame(A, C)[..13]),
            Route::Drop(DropReason::Malformed)
        );
        assert_eq!(s.route(1, &frame(A, B)), Route::Drop(DropReason::Malformed));
        assert_eq!(s.route(7, &frame(A, B)), Route::Drop(DropReason::Malformed));
        assert_eq!((s.card(2), s.card(1), s.card(9)), (card(B), None, None));
    }

    #[test]
    fn the_uplink_takes_what_no_card_does_and_may_not_pose_as_one() {
        // Ports 0 (A), 1 (B), uplink 2.
        let s = Switch::new([card(A), card(B)], true);
        assert_eq!(s.uplink(), Some(2));
        assert_eq!(switch().uplink(), None);
        let gateway = [0x52, 0x55, 10, 0, 2, 2];
        // Out: to the VMs' neighbours by address, the rest to the uplink.
        assert_eq!(s.route(0, &frame(B, A)), Route::Port(1));
        assert_eq!(s.route(0, &frame(gateway, A)), Route::Port(2));
        assert_eq!(s.route(1, &frame(BROADCAST, B)), Route::Flood);
        assert_eq!(s.flood(1).collect::<Vec<_>>(), [0, 2]);
        assert_eq!(
            s.route(0, &frame(gateway, B)),
            Route::Drop(DropReason::Spoofed)
        );
        // In: any outside source, but not a VM's address; only to the cards.
        assert_eq!(s.route(2, &frame(A, gateway)), Route::Port(0));
        assert_eq!(s.route(2, &frame(BROADCAST, gateway)), Route::Flood);
        assert_eq!(s.flood(2).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(s.route(2, &frame(B, A)), Route::Drop(DropReason::Spoofed));
        let nobody = [0x52, 0x54, 0, 0xae, 0, 9];
        assert_eq!(
            s.route(2, &frame(nobody, gateway)),
            Route::Drop(DropReason::NoSuchAddress)
        );
        assert_eq!(
            s.route(2, &frame(A, gateway)[..10]),
            Route::Drop(DropReason::Malformed)
        );
        assert_eq!(
            s.route(3, &frame(A, gateway)),
            Route::Drop(DropReason::Malformed)
        );
    }

    #[test]
    fn networks_keep_apart_and_a_card_may_stay_off_the_uplink() {
        // 0: A on network 0; 1: B on network 1; 2: C on network 1, no
        // uplink; the uplink is port 3.
        let on = |mac, network, uplink| {
            Some(Card {
                mac,
                network,
                uplink,
            })
        };
        let s = Switch::new([on(A, 0, true), on(B, 1, true), on(C, 1, false)], true);
        let gateway = [0x52, 0x55, 10, 0, 2, 2];
        // Across networks: as if the address were nobody's.
        assert_eq!(
            s.route(0, &frame(B, A)),
            Route::Drop(DropReason::NoSuchAddress)
        );
        assert_eq!(s.route(1, &frame(C, B)), Route::Port(2));
        assert_eq!(s.route(2, &frame(B, C)), Route::Port(1));
        // Floods stay on the sender's network (and reach the uplink if it does).
        assert_eq!(s.flood(0).collect::<Vec<_>>(), [3]);
        assert_eq!(s.flood(1).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(s.flood(2).collect::<Vec<_>>(), [1]);
        // C never reaches the uplink, nor the uplink C.
        assert_eq!(
            s.route(2, &frame(gateway, C)),
            Route::Drop(DropReason::NoSuchAddress)
        );
        assert_eq!(
            s.route(3, &frame(C, gateway)),
            Route::Drop(DropReason::NoSuchAddress)
        );
        assert_eq!(s.route(3, &frame(A, gateway)), Route::Port(0));
        assert_eq!(s.flood(3).collect::<Vec<_>>(), [0, 1]);
    }

    #[test]
    fn drops_add_up_by_reason() {
        let mut d = PortDrops::default();
        for why in [
            DropReason::Spoofed,
            DropReason::Spoofed,
            DropReason::Malformed,
            DropReason::NoSuchAddress,
        ] {
            d.add(why);
        }
        assert_eq!(
            d,
            PortDrops {
                malformed: 1,
                spoofed: 2,
                no_such_address: 1
            }
        );
        assert_eq!(d.total(), 4);
    }
}
