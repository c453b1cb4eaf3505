//! Powers a VM off, resets it or boots it again once stopped, by index or
//! name, after an optional wait in milliseconds:
//! `vmctl:stop|reset|start:<vm>[:<ms>]`: hard, like a power switch, the
//! guest is not asked. `vmctl:halt|reboot:<vm>[:<ms>]` asks the guest's
//! tools for a clean shutdown or restart instead, and `vmctl:button:<vm>`
//! presses its power button (the guest's own power key handling).
#![no_std]
#![no_main]

use aerie_userworlds::{println, sleep, vms};

aerie_userworlds::entry!(main);

fn main(arg: &str) -> i32 {
    let Some((op_name, rest)) = arg.split_once(':') else {
        return usage();
    };
    let (vm, wait_ms) = match rest.split_once(':') {
        None => (rest, 0),
        Some((vm, ms)) => match ms.parse::<u64>() {
            Ok(ms) if ms <= 60_000 => (vm, ms),
            _ => return usage(),
        },
    };
    let Some(op) = vms::op(op_name) else {
        return usage();
    };
    if wait_ms > 0 {
        sleep(wait_ms * 1_000_000);
    }
    let Some((index, info)) = vms::find(vm) else {
        println!("vmctl: no VM {vm}");
        return 1;
    };
    let (done, what) = vms::control(index, &info, op_name, op);
    println!("vmctl: {what}");
    i32::from(!done)
}

fn usage() -> i32 {
    println!(
        "usage: vmctl:stop|reset|start|halt|reboot|button:<vm>[:<ms>] (a VM index or name; a wait of at most 60000 ms)"
    );
    2
}
