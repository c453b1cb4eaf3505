//! EL0 user worlds (C6): small static programs that Aerie runs at EL0 in
//! the 39-bit EL1&0 regime, on the same page-table hierarchy as its own
//! 48-bit EL2 space. A world's level-1 table is entry 0 of the root of the
//! pCPU it runs on (`mm::user_range`), so Aerie reads and writes the world's buffers at the
//! world's own addresses; everything of Aerie's lies above 2^39, outside
//! anything the world can name. A world that faults, or runs out of its
//! time, is ended with a line saying why; Aerie carries on.
//!
//! Worlds come from the boot module (the config's `[[world]]` tables: any
//! static AArch64 program) and from Aerie's built-in programs
//! (`userworlds/`) named on the command line
//! (`aerie.user=hello,probe:kernel-read`); all are loaded at boot.
//! The scheduler runs them beside the vCPUs (`sched::worlds`): each takes
//! turns of a time slice on any pCPU, several at once on several pCPUs.

mod space;
mod world;

use aerie_bootmodule::{BootModule, Control, Operations, WorldImage};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};
pub use world::{End, Turn, World};

// PROGRAMS: every `userworlds/src/bin/<name>.rs` as `(name, its release
// ELF)`, listed by build.rs.
include!(concat!(env!("OUT_DIR"), "/userworld_programs.rs"));

/// The config's worlds (boot module): besides the built-in programs, what
/// the command line and `Ctrl-A u` may start again.
static CONFIG_PROGRAMS: spin::Once<Vec<WorldImage<'static>>> = spin::Once::new();

/// The id the next world gets: one per world asked for, loaded or not, so
/// that ids follow the order worlds were named in.
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

fn next_id() -> usize {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The programs a world can be started from, for messages.
fn program_names() -> String {
    let config = CONFIG_PROGRAMS.get().map_or(&[][..], Vec::as_slice);
    let mut names = PROGRAMS.map(|(n, _)| n).join(", ");
    if !config.is_empty() {
        let config: Vec<&str> = config.iter().map(|w| w.name).collect();
        names = format!("{names}; from the config: {}", config.join(", "));
    }
    names
}

/// Load the worlds the boot module carries (the config's `[[world]]`
/// tables), in order, each with the right to control VMs its config gave
/// it. One the module describes badly, or whose program cannot be loaded,
/// is reported and skipped. Call once, before the others.
pub fn load_from_module(module: &BootModule<'static>) -> Vec<World> {
    let mut worlds = Vec::new();
    let mut programs = Vec::new();
    for i in 0..module.world_count() {
        let id = next_id();
        match module.world(i) {
            Ok(image) => {
                programs.push(image);
                let arg = Arc::from(image.arg);
                let rights = (image.control, image.operations);
                match World::load(id, image.name, arg, image.program, rights) {
                    Ok(w) => worlds.push(w),
                    Err(e) => log::error!("user world {}[{id}]: refused: {e}", image.name),
                }
            }
            Err(e) => log::error!("boot module: world {i}: refused: {e}"),
        }
    }
    CONFIG_PROGRAMS.call_once(|| programs);
    worlds
}

/// Load each world of the command line's `spec` (`name[:arg],...`), in
/// order. An item that names no program, or whose program cannot be
/// loaded, is reported and skipped.
pub fn load_from_command_line(spec: &str) -> Vec<World> {
    spec.split(',')
        .filter(|s| !s.is_empty())
        .filter_map(load_named)
        .collect()
}

/// Load a world typed on the console (`Ctrl-A u`), reporting it.
pub fn load_from_console(line: &str) -> Option<World> {
    let world = load_named(line)?;
    log::info!(
        "user world {}[{}]: started from the console",
        world.name,
        world.id
    );
    Some(world)
}

/// Load `name[:arg]`: a config world's program (without `:arg`, with its
/// configured argument; with its right to control VMs) or a built-in one
/// (with that right: whoever writes the command line or types on the
/// console already controls the machine). Reports why it could not.
fn load_named(item: &str) -> Option<World> {
    let id = next_id();
    let (name, arg) = match item.split_once(':') {
        Some((name, arg)) => (name, Some(arg)),
        None => (item, None),
    };
    let config = CONFIG_PROGRAMS.get().map_or(&[][..], Vec::as_slice);
    let found = config
        .iter()
        .find(|w| w.name == name)
        .map(|w| {
            let rights = (w.control, w.operations);
            (w.name, w.program, arg.unwrap_or(w.arg), rights)
        })
        .or_else(|| {
            PROGRAMS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|&(n, elf)| (n, elf, arg.unwrap_or(""), (Control::All, Operations::ALL)))
        });
    let Some((name, elf, arg, rights)) = found else {
        log::error!(
            "user world {name}[{id}]: no such program (built in: {})",
            program_names()
        );
        return None;
    };
    World::load(id, name, Arc::from(arg), elf, rights)
        .map_err(|e| log::error!("user world {name}[{id}]: refused: {e}"))
        .ok()
}

/// Say how `world` ended.
pub fn report_end(world: &World, end: &End) {
    let (name, id) = (world.name, world.id);
    match end {
        End::Exited(status) => log::info!(
            "user world {name}[{id}]: exited with status {status} ({} system calls)",
            world.syscalls
        ),
        End::Killed(why) => log::info!("user world {name}[{id}]: killed: {why}"),
    }
}
