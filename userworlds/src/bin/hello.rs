//! Says hello with its argument and checks the basics of its world: the
//! clock runs and the stack is where layout.rs puts it.
#![no_std]
#![no_main]

use aerie_userworlds::layout::{STACK_BOTTOM, STACK_TOP};
use aerie_userworlds::{clock, println, sleep};

aerie_userworlds::entry!(main);

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn main(arg: &str) -> i32 {
    println!("hello from EL0, arg \"{arg}\"");
    let first = clock();
    let second = clock();
    println!("clock advances: {}", yes_no(second >= first));
    // Asleep, the world is off its pCPU; it comes back no sooner than asked.
    let before = clock();
    let slept = sleep(20_000_000);
    let after = clock();
    println!(
        "sleep 20 ms: {}",
        yes_no(slept == 0 && after - before >= 20_000_000)
    );
    // black_box keeps the local in memory, so its address is a stack address.
    let local = 0u64;
    let addr = core::hint::black_box(&local) as *const u64 as u64;
    println!(
        "sp in the user stack: {}",
        yes_no((STACK_BOTTOM..STACK_TOP).contains(&addr))
    );
    0
}
