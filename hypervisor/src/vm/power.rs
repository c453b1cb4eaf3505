//! What a vCPU told Aerie about its idleness (C1, the capture side): how
//! often it entered each idle kind (WFI, PSCI retention, PSCI power-down)
//! and how long it stayed blocked in each. `Ctrl-A d` prints it.

use aerie_firmware::IdleKind;

/// Per-vCPU idle record, kept for the VM's life (a guest reset keeps it).
#[derive(Default)]
pub struct IdleRecord {
    /// Entries per kind, in [`IdleKind::ALL`] order, including those that
    /// completed at once because an interrupt was already pending.
    entries: [u64; 3],
    /// Counter ticks spent blocked per kind.
    blocked_ticks: [u64; 3],
    /// The kind and start of the current block, while blocked.
    blocked: Option<(IdleKind, u64)>,
}

impl IdleRecord {
    /// The vCPU entered `kind`.
    pub fn entered(&mut self, kind: IdleKind) {
        self.entries[kind.index()] += 1;
    }

    /// It has nothing pending: it blocks from `now`.
    pub fn block(&mut self, kind: IdleKind, now: u64) {
        self.blocked = Some((kind, now));
    }

    /// It woke (or was taken off the machine) at `now`.
    pub fn wake(&mut self, now: u64) {
        if let Some((kind, since)) = self.blocked.take() {
            self.blocked_ticks[kind.index()] += now.saturating_sub(since);
        }
    }

    /// The kind it is blocked in, if it is.
    pub fn blocked_in(&self) -> Option<IdleKind> {
        self.blocked.map(|(kind, _)| kind)
    }

    /// One line: `wfi 12 (3 ms) retention 0 (0 ms) power-down 4 (950 ms)`.
    pub fn summary(&self, ticks_per_ms: u64) -> alloc::string::String {
        let mut s = alloc::string::String::new();
        for kind in IdleKind::ALL {
            let i = kind.index();
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&alloc::format!(
                "{} {} ({} ms)",
                kind.name(),
                self.entries[i],
                self.blocked_ticks[i] / ticks_per_ms.max(1)
            ));
        }
        s
    }
}
