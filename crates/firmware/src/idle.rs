//! The CPU idle states Aerie offers its guests through PSCI CPU_SUSPEND,
//! published in each guest's device tree (`/cpus/idle-states`, the
//! `arm,idle-state` binding) so that Linux's cpuidle-psci driver uses them.
//!
//! A guest entering an idle state tells Aerie how long it expects to sleep:
//! WFI says "briefly", retention "a while", power-down "long, and I have
//! saved my state". That is what a power-aware scheduler needs to know.
//!
//! power_state, original format (PSCI 1.1 section 5.4.2): StateID \[15:0\],
//! StateType \[16\] (0 standby or retention, 1 power-down), PowerLevel
//! \[25:24\]. Aerie's states are all core-level (PowerLevel 0).

/// What the guest's vCPU does while idle, shallowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleKind {
    /// WFI: the vCPU continues after the instruction.
    Wfi,
    /// A standby (retention) CPU_SUSPEND: the call returns SUCCESS on wake-up.
    Standby,
    /// A power-down CPU_SUSPEND: on wake-up the vCPU starts again at the
    /// entry point the guest gave, x0 = its context id, MMU off.
    PowerDown,
}

impl IdleKind {
    /// Every kind, shallowest first (the order of per-kind statistics).
    pub const ALL: [IdleKind; 3] = [IdleKind::Wfi, IdleKind::Standby, IdleKind::PowerDown];

    /// This kind's position in [`IdleKind::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    pub const fn name(self) -> &'static str {
        match self {
            IdleKind::Wfi => "wfi",
            IdleKind::Standby => "retention",
            IdleKind::PowerDown => "power-down",
        }
    }
}

/// One idle state as published in the guest's device tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdleState {
    /// The DT node name under `/cpus/idle-states`.
    pub name: &'static str,
    /// `arm,psci-suspend-param`: the power_state the guest passes.
    pub power_state: u32,
    pub kind: IdleKind,
    /// The binding's `entry-latency-us`, `exit-latency-us` and
    /// `min-residency-us`: what the guest's governor weighs. The values
    /// are Aerie's own costs as a guest sees them: a retention round trip
    /// is an exit and a reschedule; a power-down also runs the guest's own
    /// resume path (Linux: cpu_resume, a few tens of microseconds), so it
    /// only pays off for sleeps of milliseconds.
    pub entry_latency_us: u32,
    pub exit_latency_us: u32,
    pub min_residency_us: u32,
}

/// StateType: power-down.
const STATE_TYPE_POWER_DOWN: u32 = 1 << 16;
/// PowerLevel field.
const POWER_LEVEL: u32 = 0b11 << 24;

/// The states every guest sees, shallowest first.
pub const IDLE_STATES: [IdleState; 2] = [
    IdleState {
        name: "cpu-retention",
        power_state: 0x0000_0001,
        kind: IdleKind::Standby,
        entry_latency_us: 20,
        exit_latency_us: 40,
        min_residency_us: 100,
    },
    IdleState {
        name: "cpu-power-down",
        power_state: STATE_TYPE_POWER_DOWN,
        kind: IdleKind::PowerDown,
        entry_latency_us: 100,
        exit_latency_us: 250,
        min_residency_us: 2000,
    },
];

/// What a CPU_SUSPEND `power_state` (reserved bits already checked) asks
/// for: any core-level standby StateID is a standby (QEMU and KVM accept
/// them all; a guest need not read the DT to idle), a core-level
/// power-down must be one Aerie published. Anything above the core level
/// is refused: Aerie publishes no cluster or system states.
pub fn classify(power_state: u32) -> Option<IdleKind> {
    if power_state & POWER_LEVEL != 0 {
        return None;
    }
    if power_state & STATE_TYPE_POWER_DOWN == 0 {
        return Some(IdleKind::Standby);
    }
    IDLE_STATES
        .iter()
        .find(|s| s.power_state == power_state)
        .map(|s| s.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_states_classify_as_published() {
        for s in IDLE_STATES {
            assert_eq!(classify(s.power_state), Some(s.kind), "{}", s.name);
        }
    }

    #[test]
    fn published_states_are_ordered_and_sane() {
        // The binding wants states listed shallowest first; a deeper
        // state must cost more and need a longer sleep to pay off.
        for pair in IDLE_STATES.windows(2) {
            assert!(pair[0].kind.index() < pair[1].kind.index());
            assert!(pair[0].exit_latency_us < pair[1].exit_latency_us);
            assert!(pair[0].min_residency_us < pair[1].min_residency_us);
        }
        for s in IDLE_STATES {
            // Linux's cpuidle rejects a state whose residency is below
            // its entry + exit latency ("min-residency-us" semantics).
            assert!(s.min_residency_us >= s.entry_latency_us + s.exit_latency_us);
        }
    }

    #[test]
    fn any_core_standby_id_is_standby() {
        assert_eq!(classify(0), Some(IdleKind::Standby));
        assert_eq!(classify(0xffff), Some(IdleKind::Standby));
    }

    #[test]
    fn unpublished_power_down_and_higher_levels_are_refused() {
        assert_eq!(classify(STATE_TYPE_POWER_DOWN | 7), None);
        assert_eq!(classify(1 << 24), None); // cluster standby
        assert_eq!(classify(STATE_TYPE_POWER_DOWN | 2 << 24), None);
    }

    #[test]
    fn kinds_index_their_own_position() {
        for (i, k) in IdleKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }
}
