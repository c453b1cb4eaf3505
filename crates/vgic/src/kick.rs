//! The set of vCPUs whose deliverable interrupts changed. The hypervisor
//! makes each one re-evaluate: an IPI if it is running (so it exits and the
//! next entry's flush picks the interrupt up), a wake-up if it is blocked in
//! WFI.

use core::ops::{BitOr, BitOrAssign};

/// Bitmask of vCPU indices (bit `i` = vCPU `i`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Kick(u32);

impl Kick {
    /// Nobody needs kicking.
    pub const NONE: Kick = Kick(0);

    /// Just vCPU `vcpu` (empty for indices a mask cannot hold).
    pub const fn vcpu(vcpu: usize) -> Kick {
        if vcpu < 32 {
            Kick(1 << vcpu)
        } else {
            Kick(0)
        }
    }

    /// vCPUs `0..count`.
    pub const fn first(count: usize) -> Kick {
        if count >= 32 {
            Kick(u32::MAX)
        } else {
            Kick((1 << count) - 1)
        }
    }

    /// A mask built from raw bits.
    pub const fn from_bits(bits: u32) -> Kick {
        Kick(bits)
    }

    /// This set without vCPU `vcpu`.
    pub const fn without(self, vcpu: usize) -> Kick {
        Kick(self.0 & !Kick::vcpu(vcpu).0)
    }

    /// The raw mask.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether nobody needs kicking.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether vCPU `vcpu` needs kicking.
    pub const fn contains(self, vcpu: usize) -> bool {
        vcpu < 32 && self.0 & (1 << vcpu) != 0
    }

    /// The vCPU indices in ascending order.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        let mut rest = self.0;
        core::iter::from_fn(move || {
            if rest == 0 {
                return None;
            }
            let v = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            Some(v)
        })
    }
}

impl BitOr for Kick {
    type Output = Kick;
    fn bitor(self, rhs: Kick) -> Kick {
        Kick(self.0 | rhs.0)
    }
}

impl BitOrAssign for Kick {
    fn bitor_assign(&mut self, rhs: Kick) {
        self.0 |= rhs.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iter_lists_members_in_order() {
        let k = Kick::vcpu(5) | Kick::vcpu(0) | Kick::vcpu(2);
        let v: std::vec::Vec<usize> = k.iter().collect();
        assert_eq!(v, [0, 2, 5]);
        assert!(k.contains(2) && !k.contains(1));
        assert!(!k.contains(40));
        assert!(Kick::NONE.is_empty());
        assert_eq!(Kick::first(3).bits(), 0b111);
        assert_eq!(Kick::first(32).bits(), u32::MAX);
        assert_eq!(Kick::vcpu(40), Kick::NONE);
        assert_eq!(k.without(2).without(40), Kick::vcpu(0) | Kick::vcpu(5));
    }
}
