//! Aerie's own boot arguments, from the host device tree's /chosen/bootargs.
//! Words Aerie does not know are ignored (a boot loader may add its own).

/// A deliberate fault, for the integration tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootTest {
    None,
    /// After the re-map, read the image's old identity address: must fault.
    IdentityFault,
    /// A regular interrupt handler on pCPU 0 spins with regular interrupts
    /// masked: the watchdog must report it.
    SpinInIrq,
    /// pCPU 1 sits with interrupts off; pCPU 0 asks for a dump.
    DumpMasked,
    /// Pseudo-NMIs during a pseudo-NMI, and to a stopping pCPU.
    PnmiNested,
    /// memcpy and memset against byte-wise references (not misbehaviour:
    /// a check only Aerie's own build can run).
    Mem,
}

#[derive(Debug, Clone, Copy)]
pub struct BootArgs {
    pub log: log::LevelFilter,
    pub test: BootTest,
    /// `aerie.profile=1`: run the sampling profiler.
    pub profile: bool,
    /// `aerie.bench=irq`: measure the interrupt paths at boot.
    pub bench_irq: bool,
    /// `aerie.watchdog=report`: a lock-up is reported, not a panic.
    pub watchdog_panics: bool,
    /// `aerie.user=hello,probe:kernel-read`: the user worlds to run at boot
    /// (C6), each `program[:argument]`.
    pub user: Option<&'static str>,
    /// `aerie.shutdown_timeout=SECS`: how long a machine shutdown waits for
    /// the VMs to power themselves off before it stops them (0: for ever).
    pub shutdown_timeout_s: u64,
    /// `aerie.virq=hcr`: signal guests' virtual IRQs through HCR_EL2.VI, on
    /// a machine whose GIC's virtual IRQ line is not wired to its CPUs
    /// (`vm::irq::SIGNAL_BY_HCR`).
    pub virq_by_hcr: bool,
    /// `aerie.semihosting=1`: the machine is an emulator with semihosting
    /// on, through which Aerie reports its exit status (QEMU's `virt` is
    /// known by its model; a board's model names the real board).
    pub semihosting: bool,
}

/// What `aerie.shutdown_timeout` is unless given: two minutes, time for a
/// distribution to stop its services.
const SHUTDOWN_TIMEOUT_S: u64 = 120;

impl BootArgs {
    pub fn parse(args: &'static str) -> Self {
        let mut out = BootArgs {
            log: log::LevelFilter::Info,
            test: BootTest::None,
            profile: false,
            bench_irq: false,
            watchdog_panics: true,
            user: None,
            shutdown_timeout_s: SHUTDOWN_TIMEOUT_S,
            virq_by_hcr: false,
            semihosting: false,
        };
        for word in args.split_ascii_whitespace() {
            match word.split_once('=') {
                Some(("aerie.log", level)) => {
                    out.log = match level {
                        "error" => log::LevelFilter::Error,
                        "warn" => log::LevelFilter::Warn,
                        "debug" => log::LevelFilter::Debug,
                        "trace" => log::LevelFilter::Trace,
                        _ => log::LevelFilter::Info,
                    }
                }
                Some(("aerie.test", "identity-fault")) => out.test = BootTest::IdentityFault,
                Some(("aerie.test", "spin-in-irq")) => out.test = BootTest::SpinInIrq,
                Some(("aerie.test", "dump-masked")) => out.test = BootTest::DumpMasked,
                Some(("aerie.test", "pnmi-nested")) => out.test = BootTest::PnmiNested,
                Some(("aerie.test", "mem")) => out.test = BootTest::Mem,
                Some(("aerie.profile", v)) => out.profile = v != "0",
                Some(("aerie.bench", "irq")) => out.bench_irq = true,
                Some(("aerie.watchdog", "report")) => out.watchdog_panics = false,
                Some(("aerie.user", worlds)) => out.user = Some(worlds),
                Some(("aerie.virq", "hcr")) => out.virq_by_hcr = true,
                Some(("aerie.semihosting", "1")) => out.semihosting = true,
                Some(("aerie.shutdown_timeout", secs)) => {
                    if let Ok(secs) = secs.parse() {
                        out.shutdown_timeout_s = secs;
                    }
                }
                _ => {}
            }
        }
        out
    }
}
