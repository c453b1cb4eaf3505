//! Memory: Aerie's own mappings, physical frames, the heap, guest stage 2.

pub mod frames;
pub mod heap;
pub mod kernel_map;
pub mod layout;
pub mod stage2;
