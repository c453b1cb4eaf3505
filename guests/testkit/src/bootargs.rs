//! Options the testkit takes from /chosen/bootargs (whitespace-separated words).

pub const DEFAULT_BENCH_ITERS: u64 = 100_000;

/// `backdoor=`: the backdoor policy the hypervisor applies to this VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackdoorPolicy {
    /// `off`: nothing is served; the trapping instructions behave as on hardware.
    Off,
    /// `el1`: served from EL1 only.
    El1,
    /// `all`: served from EL1 and EL0.
    All,
}

/// `timer-left=`: which side of timer_left.rs this VM plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerLeft {
    Leave,
    Stay,
}

pub struct Options<'a> {
    /// `bench`: run the micro-benchmarks instead of the tests.
    pub bench: bool,
    /// `bench=<name>`: run only that benchmark (and the benchmarks, not the
    /// tests), e.g. to profile it.
    pub bench_only: Option<&'a str>,
    /// `share`: measure two vCPUs' shares of one pCPU instead (share.rs).
    pub share: bool,
    /// `disk-reset`: reset the VM with disk reads in flight, and check
    /// after the reset that none wrote its memory (disk_reset.rs).
    pub disk_reset: bool,
    /// `timer-left=leave|stay`: the two sides of timer_left.rs.
    pub timer_left: Option<TimerLeft>,
    /// `bench_iters=<n>` (n >= 1).
    pub bench_iters: u64,
    /// `backdoor=off|el1|all`; None when absent (or not one of those).
    pub backdoor: Option<BackdoorPolicy>,
    /// `brk=<imm16>` (decimal or 0x hex): the BRK immediate of the BRK
    /// transport; None when absent.
    pub brk: Option<u16>,
}

fn parse_u16(text: &str) -> Option<u16> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

impl<'a> Options<'a> {
    pub fn parse(bootargs: &'a str) -> Self {
        let mut options = Self {
            bench: false,
            bench_only: None,
            share: false,
            disk_reset: false,
            timer_left: None,
            bench_iters: DEFAULT_BENCH_ITERS,
            backdoor: None,
            brk: None,
        };
        for word in bootargs.split_ascii_whitespace() {
            if word == "bench" {
                options.bench = true;
            } else if let Some(name) = word.strip_prefix("bench=") {
                options.bench = true;
                options.bench_only = Some(name);
            } else if word == "share" {
                options.share = true;
            } else if let Some(side) = word.strip_prefix("timer-left=") {
                options.timer_left = match side {
                    "leave" => Some(TimerLeft::Leave),
                    "stay" => Some(TimerLeft::Stay),
                    _ => None,
                };
            } else if word == "disk-reset" {
                options.disk_reset = true;
            } else if let Some(n) = word.strip_prefix("bench_iters=") {
                if let Ok(n @ 1..) = n.parse::<u64>() {
                    options.bench_iters = n;
                }
            } else if let Some(policy) = word.strip_prefix("backdoor=") {
                options.backdoor = match policy {
                    "off" => Some(BackdoorPolicy::Off),
                    "el1" => Some(BackdoorPolicy::El1),
                    "all" => Some(BackdoorPolicy::All),
                    _ => None,
                };
            } else if let Some(imm) = word.strip_prefix("brk=") {
                options.brk = parse_u16(imm);
            }
        }
        options
    }
}
