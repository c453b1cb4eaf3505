//! A storm of system calls with hostile arguments, from a seeded generator:
//! buffers in the kernel, unmapped, read-only, straddling the end of the
//! stack, at address 0 or u64::MAX; lengths of 0, a page and a bit, 2^40;
//! unknown call numbers. Aerie must answer each with a result the ABI
//! allows, and neither this world nor Aerie may fault. `storm[:seed]`
//! (default 1) makes 20000 calls, then prints `storm: 20000 calls, every
//! answer as the ABI says` and exits 0; a wrong answer is printed with its
//! call and the world exits 1. `exit` and `vm_control` are left out (the
//! first would end the storm, the second may stop VMs).
#![no_std]
#![no_main]

use aerie_userworlds::abi::{err, nr, VmInfo, SLEEP_MAX_NS};
use aerie_userworlds::layout::SHIM_VA;
use aerie_userworlds::{println, syscall3};
use core::hint::black_box;

aerie_userworlds::entry!(main);

const CALLS: u32 = 20_000;

/// xorshift64: small, seeded, good enough to pick arguments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[(self.next() % from.len() as u64) as usize]
    }
}

fn main(arg: &str) -> i32 {
    // arg is written into `buf` below: keep it short.
    if arg.len() > 20 {
        println!("usage: storm[:seed]");
        return 2;
    }
    let seed = arg.parse::<u64>().unwrap_or(1).max(1);
    let mut rng = Rng(seed);
    let mut buf = [0u8; 128];
    let stack = buf.as_mut_ptr() as u64;
    let text = main as *const () as u64;
    let arg_len = arg.len() as i64;
    // Addresses no call may read: null, the top of the address space,
    // Aerie's direct map and image, unmapped, just past the 39 bits.
    let unreadable = [
        0,
        8,
        u64::MAX,
        u64::MAX - 15,
        0x8000_0000_0000,
        0xffff_c000_0000,
        0x10_0000_0000,
        1 << 39,
    ];
    // And no call may write the program's text or the shim page.
    let lengths = [0, 1, 63, 64, 127, 4096, 4097, 1 << 40, u64::MAX];
    for i in 0..CALLS {
        let number = rng.pick(&[
            nr::ARG,
            nr::WRITE,
            nr::CLOCK,
            nr::NULL,
            nr::SLEEP,
            nr::VM_INFO,
            nr::VM_WAIT,
            nr::READ_LINE,
            10,
            42,
            u64::MAX,
        ]);
        let some_addr = match rng.next() % 4 {
            0 => stack,
            1 => text,
            2 => SHIM_VA,
            _ => rng.pick(&unreadable),
        };
        let some_len = match rng.next() % 3 {
            0 => rng.next() % 200,
            _ => rng.pick(&lengths),
        };
        let (a0, a1, a2) = match number {
            // Only buffers it may not read (or none): a readable one would
            // print its bytes on the console.
            nr::WRITE => (rng.pick(&unreadable), rng.pick(&lengths[1..]), 0),
            nr::ARG => (some_addr, some_len, 0),
            nr::SLEEP => (rng.pick(&[0, 1, 1000, SLEEP_MAX_NS + 1, u64::MAX]), 0, 0),
            nr::VM_INFO => (rng.pick(&[0, 1, 7, u64::MAX]), some_addr, some_len),
            nr::VM_WAIT => (rng.next() % 4, rng.pick(&[0, 500, SLEEP_MAX_NS + 1]), 0),
            // Short waits only: nobody types a line here.
            nr::READ_LINE => (
                some_addr,
                some_len,
                rng.pick(&[0, 500, SLEEP_MAX_NS + 1, u64::MAX]),
            ),
            _ => (rng.next(), rng.next(), rng.next()),
        };
        // SAFETY: the only memory Aerie may write is `buf`, which is ours:
        // arg writes at most the argument (a seed, under 21 bytes),
        // vm_info 64 bytes and read_line a console line (at most 128 bytes,
        // and none is typed here), all within its 128; every other address
        // given is one Aerie must refuse.
        let result = unsafe { syscall3(number, a0, a1, a2) };
        let allowed = match number {
            nr::ARG => result == arg_len || result == err::EFAULT,
            nr::WRITE => matches!(result, err::EFAULT | err::EINVAL),
            nr::CLOCK => result > 0,
            nr::NULL => result == 0,
            nr::SLEEP => result == 0 || (a0 > SLEEP_MAX_NS && result == err::EINVAL),
            nr::VM_INFO => {
                matches!(result, err::ENOENT | err::EINVAL | err::EFAULT)
                    || result == VmInfo::SIZE as i64
            }
            nr::VM_WAIT => result > 0 || matches!(result, err::ETIMEDOUT | err::EINVAL),
            nr::READ_LINE => {
                matches!(result, err::ETIMEDOUT | err::EINVAL | err::EFAULT)
                    || (0..=a1 as i64).contains(&result)
            }
            _ => result == err::ENOSYS,
        };
        if !allowed {
            println!("storm: call {i}: syscall({number}, {a0:#x}, {a1:#x}, {a2:#x}) = {result}: not an answer the ABI allows");
            return 1;
        }
    }
    black_box(&mut buf);
    println!("storm: {CALLS} calls, every answer as the ABI says");
    0
}
