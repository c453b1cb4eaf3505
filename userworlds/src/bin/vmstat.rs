//! Watches the VMs from EL0 through `vm_info`: prints each VM as it first
//! sees it and again whenever its state changes, looking again each time
//! Aerie says a VM's state changed (`vm_wait`; at least every minute).
//! With no argument it stops once every VM has stopped; `vmstat:once`
//! prints one look and exits.
#![no_std]
#![no_main]

use aerie_userworlds::abi::{err, VmInfo, VmState};
use aerie_userworlds::{println, vm_info, vm_wait, vms};

aerie_userworlds::entry!(main);

/// How many VMs it keeps track of (more are watched but not remembered).
const MAX_VMS: usize = 16;
/// The longest it waits between looks, in nanoseconds.
const PATIENCE_NS: u64 = 60_000_000_000;

fn show(index: usize, vm: &VmInfo) {
    println!("{}", vms::describe(index as u64, vm));
}

fn main(arg: &str) -> i32 {
    let once = match arg {
        "" => false,
        "once" => true,
        _ => {
            println!("usage: vmstat[:once]");
            return 2;
        }
    };
    let mut seen: [Option<VmState>; MAX_VMS] = [None; MAX_VMS];
    let mut looks = 0u64;
    // The count of VM state changes this look has seen (or later).
    let mut changes = vm_wait(0, 0).unwrap_or(0);
    loop {
        looks += 1;
        let mut all_stopped = true;
        let mut index = 0;
        loop {
            let vm = match vm_info(index as u64) {
                Ok(vm) => vm,
                Err(err::ENOENT) => break,
                Err(e) => {
                    println!("vm_info({index}) failed: {e}");
                    return 1;
                }
            };
            all_stopped &= vm.state == VmState::Stopped;
            let last = seen.get_mut(index);
            if once || last.as_ref().is_none_or(|s| **s != Some(vm.state)) {
                show(index, &vm);
            }
            if let Some(last) = last {
                *last = Some(vm.state);
            }
            index += 1;
        }
        if once {
            return 0;
        }
        if all_stopped {
            println!("every VM has stopped ({looks} looks)");
            return 0;
        }
        match vm_wait(changes, PATIENCE_NS) {
            Ok(now) => changes = now,
            Err(err::ETIMEDOUT) => {}
            Err(e) => {
                println!("vm_wait failed: {e}");
                return 1;
            }
        }
    }
}
