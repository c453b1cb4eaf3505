//! Host tests: the plan against the GIC's masking rules, and the handler's
//! decisions for every class and PMR, including nesting.

use crate::*;

/// The GIC's signalling rule (IHI 0069, 4.8): an interrupt is signalled to
/// the PE only if its priority is strictly higher (numerically lower) than
/// ICC_PMR_EL1.
fn passes_pmr(priority: u8, pmr: u8) -> bool {
    priority < pmr
}

#[test]
fn plan_values() {
    assert_eq!(PRIORITY_PNMI, 0x20);
    assert_eq!(PRIORITY_REGULAR, 0xA0);
    assert_eq!(PMR_ALL, 0xF0);
    assert_eq!(PMR_REGULAR_MASKED, 0xA0);
    assert_eq!(PRIVATE_INTIDS, [0, 1, 23, 25, 26, 27, 30]);
}

#[test]
fn pmr_all_passes_both_classes_masked_passes_only_pnmi() {
    assert!(passes_pmr(PRIORITY_PNMI, PMR_ALL));
    assert!(passes_pmr(PRIORITY_REGULAR, PMR_ALL));
    assert!(passes_pmr(PRIORITY_PNMI, PMR_REGULAR_MASKED));
    assert!(!passes_pmr(PRIORITY_REGULAR, PMR_REGULAR_MASKED));
}

/// The same rules where the distributor stores Non-secure priorities
/// shifted and the CPU interface shows them raw (two security states,
/// SCR_EL3.FIQ = 0), and where it shows them shifted too (SCR_EL3.FIQ = 1:
/// a mask written `m` is stored `non_secure(m)`).
#[test]
fn the_plan_holds_in_both_views_of_a_priority() {
    let (pnmi, regular) = (non_secure(PRIORITY_PNMI), non_secure(PRIORITY_REGULAR));
    assert_eq!((pnmi, regular), (0x90, 0xD0));
    // Raw PMR against shifted priorities.
    assert!(passes_pmr(pnmi, PMR_ALL) && passes_pmr(regular, PMR_ALL));
    assert!(passes_pmr(pnmi, PMR_REGULAR_MASKED));
    assert!(!passes_pmr(regular, PMR_REGULAR_MASKED));
    // Shifted PMR against shifted priorities.
    assert!(passes_pmr(pnmi, non_secure(PMR_REGULAR_MASKED)));
    assert!(!passes_pmr(regular, non_secure(PMR_REGULAR_MASKED)));
    assert!(passes_pmr(regular, non_secure(PMR_ALL)));
    // The running priority read raw.
    assert_eq!(classify(PPI_WATCHDOG, pnmi), Class::PseudoNmi);
    assert_eq!(classify(PPI_HYP_TIMER, regular), Class::Regular);
    // With 4 and 3 implemented priority bits.
    for mask in [0xF0u8, 0xE0] {
        let (p, r) = (pnmi & mask, regular & mask);
        assert!(passes_pmr(p, PMR_REGULAR_MASKED & mask), "{mask:#x}");
        assert!(!passes_pmr(r, PMR_REGULAR_MASKED & mask), "{mask:#x}");
        assert_eq!(classify(PPI_WATCHDOG, p), Class::PseudoNmi);
        assert_eq!(classify(PPI_HYP_TIMER, r), Class::Regular);
    }
}

#[test]
fn plan_values_survive_five_priority_bits() {
    // QEMU implements 5 priority bits: bits [2:0] are RAZ/WI.
    for v in [PRIORITY_PNMI, PRIORITY_REGULAR, PMR_ALL, PMR_REGULAR_MASKED] {
        assert_eq!(v & 0xF8, v, "{v:#x} loses bits on a 5-bit GIC");
    }
}

#[test]
fn priority_of_follows_plan() {
    for intid in [SGI_STOP, PPI_PMU, PPI_WATCHDOG] {
        assert_eq!(priority_of(intid), PRIORITY_PNMI, "intid {intid}");
        assert!(is_pseudo_nmi(intid));
    }
    for intid in [
        SGI_KICK,
        2,
        15,
        PPI_MAINTENANCE,
        PPI_HYP_TIMER,
        PPI_VIRTUAL_TIMER,
        33,
        1019,
    ] {
        assert_eq!(priority_of(intid), PRIORITY_REGULAR, "intid {intid}");
        assert!(!is_pseudo_nmi(intid));
    }
}

#[test]
fn classify_by_running_priority() {
    assert_eq!(classify(SGI_STOP, 0x20), Class::PseudoNmi);
    assert_eq!(classify(PPI_WATCHDOG, 0x00), Class::PseudoNmi);
    assert_eq!(classify(PPI_HYP_TIMER, 0xA0), Class::Regular);
    assert_eq!(classify(PPI_HYP_TIMER, 0x98), Class::PseudoNmi);
    assert_eq!(classify(PPI_HYP_TIMER, 0xA8), Class::Regular);
    // The running priority wins over the INTID plan: a "regular" INTID that
    // was programmed at 0x20 preempted like a pNMI and is handled as one.
    assert_eq!(classify(SGI_KICK, 0x20), Class::PseudoNmi);
    assert_eq!(classify(SGI_STOP, 0xA0), Class::Regular);
}

#[test]
fn classify_spurious_regardless_of_priority() {
    for intid in 1020..=1023 {
        for rpr in [0x00, 0x20, 0xA0, 0xFF] {
            assert_eq!(classify(intid, rpr), Class::Spurious);
        }
    }
    assert_eq!(classify(1019, 0xA0), Class::Regular);
    assert_eq!(classify(1024, 0xA0), Class::Regular);
}

#[test]
fn on_irq_every_class_and_pmr() {
    for pmr in 0..=u8::MAX {
        let e = on_irq(Class::Regular, pmr);
        assert_eq!(e.saved_pmr, pmr);
        assert!(e.unmask);
        assert_eq!(e.new_pmr, pmr.min(PMR_REGULAR_MASKED), "pmr {pmr:#x}");
        // Whatever the entry PMR, the body runs with regular interrupts
        // masked and never with less masking than the interrupted code.
        assert!(!passes_pmr(PRIORITY_REGULAR, e.new_pmr));
        assert!(e.new_pmr <= pmr);
        assert_eq!(e.exit_pmr(), pmr);

        for class in [Class::PseudoNmi, Class::Spurious] {
            let e = on_irq(class, pmr);
            assert_eq!(
                e,
                Entry {
                    saved_pmr: pmr,
                    unmask: false,
                    new_pmr: pmr
                },
                "{class:?} pmr {pmr:#x}"
            );
        }
    }
}

#[test]
fn regular_handler_lets_pnmi_in() {
    let e = on_irq(Class::Regular, PMR_ALL);
    assert_eq!(e.new_pmr, PMR_REGULAR_MASKED);
    assert!(e.unmask);
    assert!(passes_pmr(PRIORITY_PNMI, e.new_pmr));
}

/// A tiny model of one CPU: PMR and PSTATE.I, driven by the plan.
struct Cpu {
    pmr: u8,
    i_masked: bool,
}

impl Cpu {
    fn enter(&mut self, class: Class) -> Entry {
        // Exception entry sets PSTATE.I.
        self.i_masked = true;
        let e = on_irq(class, self.pmr);
        self.pmr = e.new_pmr;
        if e.unmask {
            self.i_masked = false;
        }
        e
    }
    fn exit(&mut self, e: Entry, was_masked: bool) {
        self.i_masked = true;
        self.pmr = e.exit_pmr();
        // ERET restores the interrupted PSTATE.I.
        self.i_masked = was_masked;
    }
    fn can_take(&self, priority: u8) -> bool {
        !self.i_masked && passes_pmr(priority, self.pmr)
    }
}

#[test]
fn nested_pnmi_in_regular_handler_restores_each_level() {
    let mut cpu = Cpu {
        pmr: PMR_ALL,
        i_masked: false,
    };
    let outer = cpu.enter(classify(PPI_HYP_TIMER, PRIORITY_REGULAR));
    assert_eq!(cpu.pmr, PMR_REGULAR_MASKED);
    assert!(!cpu.can_take(PRIORITY_REGULAR));
    assert!(cpu.can_take(PRIORITY_PNMI));

    let inner = cpu.enter(classify(PPI_WATCHDOG, PRIORITY_PNMI));
    assert_eq!(cpu.pmr, PMR_REGULAR_MASKED);
    assert!(!cpu.can_take(PRIORITY_PNMI), "pNMI handlers do not nest");
    assert_eq!(
        eoi_sequence(Class::PseudoNmi),
        &[Step::PriorityDrop, Step::Deactivate]
    );
    cpu.exit(inner, false);
    // Back in the regular handler: its raised PMR, not the original one.
    assert_eq!(cpu.pmr, PMR_REGULAR_MASKED);
    assert!(cpu.can_take(PRIORITY_PNMI));
    assert!(!cpu.can_take(PRIORITY_REGULAR));

    cpu.exit(outer, false);
    assert_eq!(cpu.pmr, PMR_ALL);
    assert!(cpu.can_take(PRIORITY_REGULAR));
}

#[test]
fn pnmi_while_interrupts_off_keeps_them_off() {
    // Regular code has "interrupts off" (PMR 0xA0); a pNMI arrives.
    let mut cpu = Cpu {
        pmr: PMR_REGULAR_MASKED,
        i_masked: false,
    };
    let e = cpu.enter(Class::PseudoNmi);
    assert_eq!(cpu.pmr, PMR_REGULAR_MASKED);
    cpu.exit(e, false);
    assert_eq!(cpu.pmr, PMR_REGULAR_MASKED);
    assert!(!cpu.can_take(PRIORITY_REGULAR));
}

#[test]
fn spurious_does_nothing() {
    let mut cpu = Cpu {
        pmr: PMR_ALL,
        i_masked: false,
    };
    let class = classify(1023, 0xFF);
    let e = cpu.enter(class);
    assert_eq!(cpu.pmr, PMR_ALL);
    assert!(cpu.i_masked);
    assert!(eoi_sequence(class).is_empty());
    assert!(eoi_for(1023, false).is_empty());
    assert!(eoi_for(1020, true).is_empty());
    cpu.exit(e, false);
    assert_eq!(cpu.pmr, PMR_ALL);
}

#[test]
fn eoi_sequences() {
    let full: &[Step] = &[Step::PriorityDrop, Step::Deactivate];
    assert_eq!(eoi_sequence(Class::Regular), full);
    assert_eq!(eoi_sequence(Class::PseudoNmi), full);
    assert_eq!(eoi_for(PPI_VIRTUAL_TIMER, true), &[Step::PriorityDrop]);
    assert_eq!(eoi_for(PPI_VIRTUAL_TIMER, false), full);
    for intid in [
        SGI_KICK,
        SGI_STOP,
        PPI_PMU,
        PPI_MAINTENANCE,
        PPI_HYP_TIMER,
        PPI_WATCHDOG,
        33,
    ] {
        assert_eq!(eoi_for(intid, false), full, "intid {intid}");
        // Only the virtual timer is ever forwarded; others must not be left active.
        assert_eq!(eoi_for(intid, true), full, "intid {intid}");
    }
}
