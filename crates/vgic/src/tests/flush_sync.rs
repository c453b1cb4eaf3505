use super::{linux_like, sgi_base};
use crate::{FlushResult, Kick, ListRegister, LrState, Vgic};

const PENDING: u64 = 1 << 62;
const ACTIVE: u64 = 2 << 62;

fn state(lr: u64) -> LrState {
    ListRegister(lr).state()
}

fn set_priority(g: &mut Vgic, intid: u32, p: u8) {
    if intid < 32 {
        for v in 0..g.vcpus() as u64 {
            g.redist_write(sgi_base(v) + 0x0400 + u64::from(intid), 1, u64::from(p))
                .unwrap();
        }
    } else {
        g.dist_write(0x0400 + u64::from(intid), 1, u64::from(p))
            .unwrap();
    }
}

#[test]
fn nothing_pending_fills_nothing() {
    let mut g = linux_like(&[27, 33]);
    let mut lrs = [0xDEAD_u64; 4];
    assert_eq!(
        g.flush(0, &mut lrs),
        FlushResult {
            used: 0,
            underflow: false
        }
    );
    // Only LRs it fills are written.
    assert_eq!(lrs, [0xDEAD; 4]);
}

#[test]
fn flush_picks_by_priority_and_moves_state() {
    let mut g = linux_like(&[1, 27, 40, 41, 42]);
    set_priority(&mut g, 40, 0x60);
    set_priority(&mut g, 41, 0x20);
    set_priority(&mut g, 42, 0xF0);
    set_priority(&mut g, 1, 0x40);
    for i in [40, 41, 42] {
        g.pulse_spi(i);
    }
    g.send_sgi(0, (1 << 24) | 1);
    g.set_ppi_pending(0, 27); // priority 0xA0

    let mut lrs = [0u64; 4];
    let r = g.flush(0, &mut lrs);
    assert_eq!(
        r,
        FlushResult {
            used: 4,
            underflow: true
        }
    );
    let order: Vec<u32> = lrs.iter().map(|&l| ListRegister(l).vintid()).collect();
    assert_eq!(order, [41, 1, 40, 27]);
    // INTID 41: pending, Group 1, priority 0x20, no EOI (edge).
    assert_eq!(lrs[0], PENDING | (1 << 60) | (0x20 << 48) | 41);

    // The model no longer holds them as deliverable: a second flush (after
    // the guest took nothing) gives back the same set, not duplicates.
    let mut again = [0u64; 4];
    let kick = g.sync(0, &lrs);
    assert_eq!(kick, Kick::NONE);
    g.flush(0, &mut again);
    assert_eq!(again, lrs);

    // While they sit in LRs, register reads still see them pending.
    assert_eq!(g.dist_read(0x0204, 4), Ok(0b111 << 8));
    assert_eq!(
        g.redist_read(sgi_base(0) + 0x0200, 4),
        Ok((1 << 27) | (1 << 1))
    );
}

#[test]
fn flush_without_sync_does_not_duplicate() {
    let mut g = linux_like(&[40]);
    g.pulse_spi(40);
    let mut lrs = [0u64; 4];
    assert_eq!(g.flush(0, &mut lrs).used, 1);
    // A second flush with no sync in between: still exactly one LR.
    let mut lrs2 = [0u64; 4];
    assert_eq!(g.flush(0, &mut lrs2).used, 1);
    assert_eq!(lrs2[0], lrs[0]);
    assert_eq!(lrs2[1..], [0; 3]);
}

#[test]
fn flush_respects_enable_and_group_enables() {
    let mut g = linux_like(&[40]);
    g.pulse_spi(40);
    g.pulse_spi(41); // not enabled
    g.dist_write(0x0000, 4, 0b01).unwrap(); // Group 1 disabled
    let mut lrs = [0u64; 4];
    assert_eq!(g.flush(0, &mut lrs).used, 0);
    g.sync(0, &lrs);
    // Group 0 interrupts go out under EnableGrp0, with LR.Group = 0.
    g.dist_write(0x0084, 4, !(1u64 << 8) & 0xFFFF_FFFF).unwrap(); // 40 -> Group 0
    assert_eq!(g.flush(0, &mut lrs).used, 1);
    assert!(!ListRegister(lrs[0]).group1());
    assert_eq!(ListRegister(lrs[0]).vintid(), 40);
}

#[test]
fn spi_goes_only_to_its_target_and_never_twice() {
    let mut g = linux_like(&[40]);
    g.dist_write(0x6000 + 8 * 40, 8, 1 << 31).unwrap(); // 1 of N
    g.pulse_spi(40);
    let mut lrs0 = [0u64; 4];
    let mut lrs1 = [0u64; 4];
    assert_eq!(g.flush(1, &mut lrs1).used, 1);
    assert_eq!(g.flush(0, &mut lrs0).used, 0);
    g.sync(1, &[0]); // guest on vCPU 1 handled and deactivated it
    assert_eq!(g.flush(0, &mut lrs0).used, 0);
}

#[test]
fn sync_returns_active_and_pending_state() {
    let mut g = linux_like(&[40, 41]);
    g.pulse_spi(40);
    g.pulse_spi(41);
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    // The guest acknowledged 40 (now active) and left 41 pending; a new
    // edge on 40 arrived meanwhile.
    lrs[0] = (lrs[0] & !(3 << 62)) | ACTIVE;
    g.pulse_spi(40);
    g.sync(0, &lrs);
    assert_eq!(g.dist_read(0x0304, 4), Ok(1 << 8)); // 40 active
    assert_eq!(g.dist_read(0x0204, 4), Ok(0b11 << 8)); // both pending
                                                       // Next flush: 40 goes out pending and active, first (active first).
    g.flush(0, &mut lrs);
    assert_eq!(ListRegister(lrs[0]).vintid(), 40);
    assert_eq!(state(lrs[0]), LrState::PendingActive);
    assert_eq!(state(lrs[1]), LrState::Pending);
    // The guest deactivated everything: the model is empty.
    g.sync(0, &[0, 0]);
    assert_eq!(g.dist_read(0x0204, 4), Ok(0));
    assert_eq!(g.dist_read(0x0304, 4), Ok(0));
    assert_eq!(g.flush(0, &mut lrs).used, 0);
}

#[test]
fn active_interrupt_is_listed_even_when_disabled() {
    let mut g = linux_like(&[40]);
    g.pulse_spi(40);
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    lrs[0] = (lrs[0] & !(3 << 62)) | ACTIVE;
    g.sync(0, &lrs);
    g.dist_write(0x0184, 4, 1 << 8).unwrap(); // disable while active
    assert_eq!(g.flush(0, &mut lrs).used, 1);
    assert_eq!(state(lrs[0]), LrState::Active);
}

#[test]
fn level_interrupt_resamples_on_deactivation() {
    let mut g = linux_like(&[33]);
    g.set_spi_level(33, true);
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    let lr = ListRegister(lrs[0]);
    assert_eq!((lr.vintid(), lr.state()), (33, LrState::Pending));
    assert!(
        lr.eoi(),
        "level interrupt asks for an EOI maintenance interrupt"
    );
    // Guest deactivated it, but the device still holds its line high.
    g.sync(0, &[0]);
    assert!(g.pending_irq(0, 0xFF));
    g.flush(0, &mut lrs);
    assert_eq!(state(lrs[0]), LrState::Pending);
    // Line drops (the guest drained the FIFO) and the guest EOIs: done.
    g.set_spi_level(33, false);
    g.sync(0, &[0]);
    assert!(!g.pending_irq(0, 0xFF));
    assert_eq!(g.flush(0, &mut lrs).used, 0);
}

#[test]
fn level_line_dropping_while_listed_withdraws_it() {
    let mut g = linux_like(&[33]);
    g.set_spi_level(33, true);
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    // The line drops while the LR still says pending: kick the holder.
    assert_eq!(g.set_spi_level(33, false), Kick::vcpu(0));
    g.sync(0, &lrs);
    assert_eq!(g.dist_read(0x0204, 4), Ok(0));
    assert_eq!(g.flush(0, &mut lrs).used, 0);
}

#[test]
fn software_pending_on_level_interrupt_survives_sync_until_acked() {
    let mut g = linux_like(&[34]);
    g.dist_write(0x0204, 4, 1 << 2).unwrap(); // ISPENDR: latch 34
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    g.sync(0, &lrs); // not taken yet
    assert_eq!(g.dist_read(0x0204, 4), Ok(1 << 2));
    g.flush(0, &mut lrs);
    lrs[0] = (lrs[0] & !(3 << 62)) | ACTIVE; // acknowledged
    g.sync(0, &lrs);
    assert_eq!(g.dist_read(0x0204, 4), Ok(0));
    assert_eq!(g.dist_read(0x0304, 4), Ok(1 << 2));
}

#[test]
fn icpendr_and_icactiver_reach_an_interrupt_held_in_an_lr() {
    let mut g = linux_like(&[40]);
    g.pulse_spi(40);
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    // vCPU 1 clears it while it sits in vCPU 0's LR: vCPU 0 is kicked.
    assert_eq!(g.dist_write(0x0284, 4, 1 << 8), Ok(Kick::vcpu(0)));
    assert_eq!(g.dist_read(0x0204, 4), Ok(0));
    g.sync(0, &lrs);
    assert_eq!(g.flush(0, &mut lrs).used, 0);
}

#[test]
fn underflow_only_when_candidates_exceed_lrs() {
    let mut g = linux_like(&[40, 41]);
    g.pulse_spi(40);
    g.pulse_spi(41);
    let mut lrs = [0u64; 2];
    assert_eq!(
        g.flush(0, &mut lrs),
        FlushResult {
            used: 2,
            underflow: false
        }
    );
    g.sync(0, &[0, 0]);
    g.pulse_spi(40);
    g.pulse_spi(41);
    let mut one = [0u64; 1];
    assert_eq!(
        g.flush(0, &mut one),
        FlushResult {
            used: 1,
            underflow: true
        }
    );
    assert_eq!(ListRegister(one[0]).vintid(), 40); // equal priority: lower INTID
    g.sync(0, &[0]);
    assert_eq!(
        g.flush(0, &mut one),
        FlushResult {
            used: 1,
            underflow: false
        }
    );
    assert_eq!(ListRegister(one[0]).vintid(), 41);
}

#[test]
fn mapped_timer_ppi_uses_a_hardware_lr() {
    let mut g = linux_like(&[27]);
    g.set_hw_mapping(1, 27, 27).unwrap();
    g.set_ppi_pending(1, 27);
    let mut lrs = [0u64; 4];
    assert_eq!(g.flush(1, &mut lrs).used, 1);
    // State 01, HW 1, Group 1, priority 0xA0, pINTID 27, vINTID 27.
    assert_eq!(lrs[0], 0x70A0_001B_0000_001B);
    // The guest acked it; a new physical firing latched it again: the HW
    // LR carries only the active state, the pending one waits.
    lrs[0] = (lrs[0] & !(3 << 62)) | ACTIVE;
    g.sync(1, &lrs);
    g.set_ppi_pending(1, 27);
    g.flush(1, &mut lrs);
    assert_eq!(state(lrs[0]), LrState::Active);
    assert!(ListRegister(lrs[0]).hw());
    g.sync(1, &[0]);
    g.flush(1, &mut lrs);
    assert_eq!(state(lrs[0]), LrState::Pending);
    // vCPU 0 is not mapped: its timer PPI goes out as purely virtual.
    g.set_ppi_pending(0, 27);
    g.flush(0, &mut lrs);
    assert!(!ListRegister(lrs[0]).hw());
}

#[test]
fn sync_kicks_the_new_target_of_a_rerouted_spi() {
    let mut g = linux_like(&[40]);
    g.pulse_spi(40);
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    g.dist_write(0x6000 + 8 * 40, 8, 1).unwrap(); // now to vCPU 1
    assert_eq!(g.sync(0, &lrs), Kick::vcpu(1));
    assert_eq!(g.flush(0, &mut lrs).used, 0);
    assert_eq!(g.flush(1, &mut lrs).used, 1);
}

#[test]
fn more_than_sixteen_lrs_are_capped() {
    let mut g = linux_like(&[]);
    g.dist_write(0x0104, 4, 0xFFFF_FFFF).unwrap();
    for i in 32..64 {
        g.pulse_spi(i);
    }
    let mut lrs = [0u64; 20];
    assert_eq!(
        g.flush(0, &mut lrs),
        FlushResult {
            used: 16,
            underflow: true
        }
    );
    assert_eq!(lrs[16..], [0; 4]);
}

#[test]
fn a_dropped_hw_interrupt_is_no_longer_in_flight() {
    let mut g = linux_like(&[27]);
    g.set_hw_mapping(1, 27, 27).unwrap();
    assert!(!g.private_in_flight(1, 27));
    g.set_ppi_pending(1, 27);
    assert!(g.private_in_flight(1, 27));
    let mut lrs = [0u64; 4];
    g.flush(1, &mut lrs);
    assert!(g.private_in_flight(1, 27), "held by a list register");
    g.sync(1, &lrs);
    // The guest clears the pending timer interrupt before taking it
    // (GICR_ICPENDR0 in vCPU 1's SGI_base frame).
    g.redist_write(sgi_base(1) + 0x0280, 4, 1 << 27).unwrap();
    assert!(!g.private_in_flight(1, 27));
    assert!(!g.private_in_flight(0, 27));
}

#[test]
fn needs_flush_exactly_when_flush_would_fill() {
    let mut g = linux_like(&[40]);
    let mut lrs = [0u64; 4];
    assert!(!g.needs_flush(0));
    assert_eq!(g.flush(0, &mut lrs).used, 0);
    g.pulse_spi(40);
    assert!(g.needs_flush(0));
    assert_eq!(g.flush(0, &mut lrs).used, 1);
    // Outstanding until synced.
    assert!(g.needs_flush(0));
    lrs[0] = 0; // the guest completed it
    g.sync(0, &lrs);
    assert!(!g.needs_flush(0));
}
