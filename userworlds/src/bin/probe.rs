//! Misbehaves in the one way its argument names, so the tests can check that
//! Aerie stops the world and reports why. A probe that should fault and
//! returns prints `probe: <arg> survived` and exits 1.
#![no_std]
#![no_main]

use aerie_userworlds::abi::nr;
use aerie_userworlds::layout::SHIM_VA;
use aerie_userworlds::{clock, exit, println, sleep, syscall3};
use core::arch::asm;
use core::hint::black_box;
use core::ptr::{read_volatile, write_volatile};

aerie_userworlds::entry!(main);

/// `ret`: harmless if it ever ran, so only the mapping decides.
const RET: u32 = 0xd65f03c0;

/// Writable memory for an instruction (.bss: mapped RW, never X). Filled at
/// run time: a static never written would be made a constant in .rodata.
static mut CODE: [u32; 1] = [0];

/// Aerie's direct map: outside the 39-bit range.
const KERNEL_DIRECT_MAP: u64 = 0x8000_0000_0000;
/// Aerie's image: also outside the 39-bit range.
const KERNEL_IMAGE: u64 = 0xffff_c000_0000;
/// In range but unmapped (between the program and the stack).
const UNMAPPED: u64 = 0x10_0000_0000;

fn main(arg: &str) -> i32 {
    println!("probe: {arg}");
    match arg {
        "kernel-read" => read(KERNEL_DIRECT_MAP),
        "kernel-read-high" => read(KERNEL_IMAGE),
        "null" => read(0x8),
        "write-text" => write(main as *const () as u64),
        "exec-data" => {
            let code = core::ptr::addr_of_mut!(CODE);
            // SAFETY: nothing else uses CODE; this is the only access.
            unsafe { write_volatile(code, [RET]) };
            call(code as u64);
        }
        "exec-stack" => {
            let code = [RET; 4];
            call(black_box(code.as_ptr()) as u64);
        }
        "shim-write" => write(SHIM_VA),
        "shim-exec" => call(SHIM_VA),
        // The instruction probes: each is undefined or trapped at EL0, so
        // Aerie ends the world. Should one run, it clobbers at most the
        // register declared.
        // SAFETY: reads a system register into a scratch register.
        "sysreg" => unsafe { asm!("mrs {}, sctlr_el1", out(reg) _, options(nomem, nostack)) },
        // SAFETY: a hypervisor call with no arguments.
        "hvc" => unsafe { asm!("hvc #0", options(nomem, nostack)) },
        // SAFETY: a firmware call with no arguments.
        "smc" => unsafe { asm!("smc #0", options(nomem, nostack)) },
        // fmov d0, xzr, encoded by hand: the softfloat target's assembler
        // refuses FP instructions.
        // SAFETY: writes d0, which the softfloat code never uses.
        "fp" => unsafe { asm!(".inst 0x9e6703e0", options(nomem, nostack)) },
        // SAFETY: a breakpoint, no registers or memory.
        "brk" => unsafe { asm!("brk #0x42", options(nomem, nostack)) },
        // SAFETY: waits for an interrupt, no registers or memory.
        "wfi" => unsafe { asm!("wfi", options(nomem, nostack)) },
        "stack-overflow" => {
            recurse(0);
        }
        "spin" => loop {
            core::hint::spin_loop()
        },
        "bad-write" => return bad_syscalls(),
        "pace" => return pace(),
        "exit7" => exit(7),
        _ => {
            println!("probe: unknown probe {arg}");
            return 2;
        }
    }
    println!("probe: {arg} survived");
    1
}

fn read(addr: u64) {
    // SAFETY: deliberately not (validly) mapped: the load must fault. Volatile
    // so it is not optimised away.
    unsafe { read_volatile(addr as *const u64) };
}

fn write(addr: u64) {
    // SAFETY: deliberately not writable: the store must fault.
    unsafe { write_volatile(addr as *mut u64, 0) };
}

fn call(addr: u64) {
    // SAFETY: deliberately not executable: the branch must fault. Were it
    // executable, the code at `addr` is a `ret`.
    let f: extern "C" fn() = unsafe { core::mem::transmute(addr as usize) };
    f();
}

/// Busy for 100 ms, asleep for 400 ms, eight times: 800 ms of CPU time in
/// all (on a pCPU of its own), but never 500 ms within 2 s, so Aerie's
/// budget must let it finish.
fn pace() -> i32 {
    for _ in 0..8 {
        let start = clock();
        while clock() - start < 100_000_000 {
            core::hint::spin_loop();
        }
        sleep(400_000_000);
    }
    println!("probe: pace done");
    0
}

/// 4 KiB per frame until the stack runs into its guard page.
fn recurse(depth: u64) -> u64 {
    // black_box makes the frame real and the depth unknown, so the compiler
    // can neither shrink the array nor turn the recursion into a loop.
    let mut frame = [0u8; 4096];
    frame[0] = depth as u8;
    let frame = black_box(&mut frame);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + u64::from(frame[4095])
}

/// System calls with bad arguments: each must fail, not fault.
fn bad_syscalls() -> i32 {
    let mut local = [0u8; 64];
    let buf = local.as_mut_ptr() as u64;
    let text = main as *const () as u64;
    let calls: [(&str, u64, u64, u64, u64); 9] = [
        ("write(kernel address)", nr::WRITE, KERNEL_DIRECT_MAP, 16, 0),
        ("write(unmapped)", nr::WRITE, UNMAPPED, 16, 0),
        ("write(huge length)", nr::WRITE, buf, 1 << 40, 0),
        ("arg(text page)", nr::ARG, text, 16, 0),
        ("syscall(999)", 999, 0, 0, 0),
        ("sleep(61 s)", nr::SLEEP, 61_000_000_000, 0, 0),
        ("vm_info(no such VM)", nr::VM_INFO, 999, buf, 64),
        ("vm_info(text page)", nr::VM_INFO, 0, text, 64),
        ("vm_info(short buffer)", nr::VM_INFO, 0, buf, 8),
    ];
    for (name, number, a0, a1, a2) in calls {
        // SAFETY: Aerie may write only `local` (vm_info of a VM that does
        // not exist writes nothing; a short buffer is refused) or the
        // read-only text page, which it must refuse with EFAULT.
        let result = unsafe { syscall3(number, a0, a1, a2) };
        println!("{name} = {result}");
    }
    black_box(&mut local);
    0
}
