//! User worlds as the scheduler sees them (C6). A world is ready, running
//! on one pCPU, or asleep until a deadline; it takes turns with the vCPUs
//! in the same round robin, for the same slice. While a pCPU runs a world
//! it holds the world itself (the slot is empty) and not the machine lock.

use super::Machine;
use crate::arch::aarch64::cpu;
use crate::userworld::{self, Turn, World};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorldState {
    Ready,
    Running(usize),
    /// Asleep until this counter value.
    Sleeping(u64),
    /// In `vm_wait`: until the count of VM state changes is no longer
    /// `seen`, or the counter reaches `until`.
    WaitingVm {
        seen: u64,
        until: u64,
    },
    /// In `read_line`: until a console line comes for it (the longest
    /// waiting, `since` the earliest, gets the next line), or the counter
    /// reaches `until`.
    WaitingInput {
        since: u64,
        until: u64,
    },
}

pub struct WorldSlot {
    /// None while a pCPU runs it.
    pub world: Option<Box<World>>,
    pub state: WorldState,
    /// `name[id]`, for the console's view while a pCPU holds the world.
    pub label: String,
}

impl WorldSlot {
    pub fn new(world: World) -> Self {
        WorldSlot {
            label: format!("{}[{}]", world.name, world.id),
            // Boxed: a pCPU takes it out of its slot for every turn.
            world: Some(Box::new(world)),
            state: WorldState::Ready,
        }
    }
}

impl Machine {
    /// Take world `w` out of its slot to run it on `cpu`.
    pub(super) fn take_world(&mut self, cpu: usize, w: usize) -> Box<World> {
        let slot = &mut self.worlds[w];
        slot.state = WorldState::Running(cpu);
        slot.world.take().expect("a ready world is in its slot")
    }

    /// `cpu`'s turn with `world` is over: put it back as `turn` says, or
    /// drop it if it ended.
    pub(super) fn end_turn(&mut self, cpu: usize, world: Box<World>, turn: Turn) {
        let w = self
            .worlds
            .iter()
            .position(|s| s.state == WorldState::Running(cpu))
            .expect("the world this pCPU ran has a slot");
        let now = cpu::counter();
        let after = |ns: u64| {
            let ticks = u128::from(ns) * u128::from(cpu::counter_frequency()) / 1_000_000_000;
            now + ticks as u64
        };
        let state = match turn {
            Turn::Preempted => WorldState::Ready,
            Turn::Sleep(ns) => WorldState::Sleeping(after(ns)),
            Turn::WaitVm { seen, timeout_ns } => WorldState::WaitingVm {
                seen,
                until: after(timeout_ns),
            },
            Turn::WaitInput { timeout_ns } => WorldState::WaitingInput {
                since: now,
                until: after(timeout_ns),
            },
            Turn::Ended(end) => {
                userworld::report_end(&world, &end);
                self.worlds.remove(w);
                return;
            }
        };
        self.worlds[w].world = Some(world);
        self.worlds[w].state = state;
    }

    /// Sleeping worlds whose deadline has passed, and waiting ones whose
    /// VM state change came (or whose timeout passed), become ready.
    pub(super) fn wake_expired_worlds(&mut self, now: u64) -> bool {
        let mut woke = false;
        for slot in &mut self.worlds {
            let result = match slot.state {
                WorldState::Sleeping(t) if t <= now => 0,
                WorldState::WaitingVm { seen, until } => match crate::vm::state_changes() {
                    changes if changes != seen => changes as i64,
                    _ if until <= now => aerie_userworld::abi::err::ETIMEDOUT,
                    _ => continue,
                },
                WorldState::WaitingInput { until, .. } if until <= now => {
                    aerie_userworld::abi::err::ETIMEDOUT
                }
                _ => continue,
            };
            if let Some(world) = slot.world.as_mut() {
                world.set_result(result);
            }
            slot.state = WorldState::Ready;
            woke = true;
        }
        woke
    }

    /// The earliest deadline of a sleeping world.
    pub(super) fn earliest_world_deadline(&self) -> Option<u64> {
        self.worlds
            .iter()
            .filter_map(|s| match s.state {
                WorldState::Sleeping(t)
                | WorldState::WaitingVm { until: t, .. }
                | WorldState::WaitingInput { until: t, .. } => Some(t),
                _ => None,
            })
            .min()
    }

    /// A line typed for the user worlds (`Ctrl-A w`): to the world that
    /// has waited longest in `read_line`, which is then ready. False when
    /// none waits (the line is dropped).
    pub(super) fn world_line(&mut self, line: &str) -> bool {
        let waiting = self
            .worlds
            .iter()
            .enumerate()
            .filter_map(|(w, s)| match s.state {
                WorldState::WaitingInput { since, .. } => Some((since, w)),
                _ => None,
            })
            .min();
        let Some((_, w)) = waiting else {
            return false;
        };
        let slot = &mut self.worlds[w];
        if let Some(world) = slot.world.as_mut() {
            world.give_line(String::from(line));
        }
        slot.state = WorldState::Ready;
        true
    }

    pub(super) fn world_ready(&self, w: usize) -> bool {
        self.worlds[w].state == WorldState::Ready
    }
}
