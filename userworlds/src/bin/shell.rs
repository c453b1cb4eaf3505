//! Aerie's console shell, at EL0: reads the lines typed for the user
//! worlds (`Ctrl-A w` gives them the keyboard, `Ctrl-A` takes it back) and
//! runs them: `list`, `stop|reset|start|halt|reboot|button <vm>` (a VM index or
//! name), `help`, `exit`. Start it with `Ctrl-A u shell`, or from a config's
//! `[[world]]` (with `control = true` to control VMs).
#![no_std]
#![no_main]

use aerie_userworlds::abi::err;
use aerie_userworlds::{println, read_line, vm_info, vms};

aerie_userworlds::entry!(main);

/// How long one wait for a line lasts; the shell then simply waits again.
const WAIT_NS: u64 = 60_000_000_000;

fn main(_arg: &str) -> i32 {
    println!("shell: Aerie's shell; Ctrl-A w to type to it, `help` for its commands");
    let mut buf = [0u8; 128];
    loop {
        println!("shell>");
        let n = loop {
            match read_line(&mut buf, WAIT_NS) {
                Ok(n) => break n,
                Err(err::ETIMEDOUT) => continue,
                Err(e) => {
                    println!("shell: read_line failed: {e}");
                    return 1;
                }
            }
        };
        let line = core::str::from_utf8(&buf[..n]).unwrap_or_default();
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (None, ..) => {}
            (Some("exit"), None, _) => {
                println!("shell: bye");
                return 0;
            }
            (Some("help"), None, _) => help(),
            (Some("list"), None, _) => list(),
            (Some(op_name), Some(vm), None) if vms::op(op_name).is_some() => {
                let op = vms::op(op_name).unwrap_or_default();
                match vms::find(vm) {
                    Some((index, info)) => {
                        println!("shell: {}", vms::control(index, &info, op_name, op).1)
                    }
                    None => println!("shell: no VM {vm}"),
                }
            }
            _ => println!("shell: unknown command `{line}` (try `help`)"),
        }
    }
}

fn help() {
    println!("shell: list                   every VM and its state");
    println!("shell: stop|reset|start <vm>  power a VM off, reset it, boot it again");
    println!("shell: halt|reboot <vm>       ask its guest tools for a clean shutdown or restart");
    println!("shell: button <vm>            press its power button (the guest shuts itself down)");
    println!("shell: exit                   end the shell");
}

fn list() {
    let mut index = 0;
    while let Ok(vm) = vm_info(index) {
        println!("shell: {}", vms::describe(index, &vm));
        index += 1;
    }
    if index == 0 {
        println!("shell: no VMs");
    }
}
