//! Powers a VM off, resets it or boots it again once stopped, by index or
//! name, after an optional wait in milliseconds:
//! `vmctl:stop|reset|start:<vm>[:<ms>]`: hard, like a power switch, the
//! guest is not asked. `vmctl:halt|reboot:<vm>[:<ms>]` asks the guest's
//! tools for a clean shutdown or restart instead.
#![no_std]
#![no_main]

use aerie_userworlds::abi::{err, nr, vm_op, VmInfo};
use aerie_userworlds::{println, sleep, syscall, vm_info};

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
    let op = match op_name {
        "stop" => vm_op::STOP,
        "reset" => vm_op::RESET,
        "start" => vm_op::START,
        "halt" => vm_op::HALT,
        "reboot" => vm_op::REBOOT,
        _ => return usage(),
    };
    if wait_ms > 0 {
        sleep(wait_ms * 1_000_000);
    }
    let Some((index, info)) = find(vm) else {
        println!("vmctl: no VM {vm}");
        return 1;
    };
    let name = info.name();
    // SAFETY: vm_control takes no memory.
    let result = unsafe { syscall(nr::VM_CONTROL, index, op) };
    match result {
        0 => {
            println!("vmctl: {op_name} vm {index} ({name}): done");
            0
        }
        err::EBUSY if op == vm_op::START => {
            println!("vmctl: start vm {index}: it is not stopped");
            1
        }
        err::EBUSY if matches!(op, vm_op::HALT | vm_op::REBOOT) => {
            println!("vmctl: {op_name} vm {index}: it is not running, or its tools are busy");
            1
        }
        err::EBUSY => {
            println!("vmctl: {op_name} vm {index}: it is not running");
            1
        }
        err::ENOMEM => {
            println!("vmctl: start vm {index}: no memory for it");
            1
        }
        err::EPERM => {
            println!("vmctl: {op_name} vm {index}: this world may not control VMs");
            1
        }
        err::ENOTCONN => {
            println!("vmctl: {op_name} vm {index}: no guest tools to ask");
            1
        }
        e => {
            println!("vmctl: {op_name} vm {index}: error {e}");
            1
        }
    }
}

/// The index and record of the VM `vm` names: its index, or its name.
fn find(vm: &str) -> Option<(u64, VmInfo)> {
    if let Ok(index) = vm.parse::<u64>() {
        return vm_info(index).ok().map(|info| (index, info));
    }
    (0..)
        .map_while(|i| vm_info(i).ok().map(|info| (i, info)))
        .find(|(_, info)| info.name() == vm)
}

fn usage() -> i32 {
    println!(
        "usage: vmctl:stop|reset|start|halt|reboot:<vm>[:<ms>] (a VM index or name; a wait of at most 60000 ms)"
    );
    2
}
