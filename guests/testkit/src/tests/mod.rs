//! The test list. Each test returns Ok(detail) for PASS (empty detail: none
//! printed) or Err(what was expected and what happened) for FAIL.

use crate::detail::Detail;
use crate::machine::Machine;

mod aborts;
mod backdoor;
mod cpu_on;
mod cpu_suspend;
mod debug_exc;
mod el0;
mod gic_fixture;
mod gic_priority;
mod gic_sgi;
mod gic_spi;
mod guest_storm;
mod id_regs;
mod psci;
mod rtc_alarm;
pub(crate) mod scmi;
mod smccc;
mod stolen_time;
mod timer_irq;
mod uart;
mod virtio_blk;
mod virtio_blk_ring;
pub(crate) mod virtio_mmio;
mod wfi;

pub type TestResult = Result<Detail, Detail>;

pub struct Test {
    pub name: &'static str,
    pub run: fn(&Machine) -> TestResult,
}

pub const TESTS: &[Test] = &[
    Test {
        name: "psci_version",
        run: psci::psci_version,
    },
    Test {
        name: "psci_features",
        run: psci::psci_features,
    },
    Test {
        name: "smccc_version",
        run: smccc::smccc_version,
    },
    Test {
        name: "hvc_unknown",
        run: smccc::hvc_unknown,
    },
    Test {
        name: "stolen_time",
        run: stolen_time::stolen_time,
    },
    Test {
        name: "smc_psci_version",
        run: smccc::smc_psci_version,
    },
    Test {
        name: "cpu_on",
        run: cpu_on::cpu_on,
    },
    Test {
        name: "affinity_info",
        run: psci::affinity_info,
    },
    Test {
        name: "wfi_wakeup",
        run: wfi::wfi_wakeup,
    },
    Test {
        name: "wfi_short_deadlines",
        run: wfi::wfi_short_deadlines,
    },
    Test {
        name: "cpu_suspend_retention",
        run: cpu_suspend::cpu_suspend_retention,
    },
    Test {
        name: "cpu_suspend_power_down",
        run: cpu_suspend::cpu_suspend_power_down,
    },
    Test {
        name: "scmi_clock",
        run: scmi::scmi_clock,
    },
    Test {
        name: "uart_output",
        run: uart::uart_output,
    },
    Test {
        name: "unmapped_ipa_abort",
        run: aborts::unmapped_ipa_abort,
    },
    Test {
        name: "unknown_sysreg_undef",
        run: aborts::unknown_sysreg_undef,
    },
    Test {
        name: "id_registers",
        run: id_regs::id_registers,
    },
    Test {
        name: "el0_roundtrip",
        run: el0::el0_roundtrip,
    },
    Test {
        name: "backdoor_dcc_el1",
        run: backdoor::backdoor_dcc_el1,
    },
    Test {
        name: "backdoor_brk_el1",
        run: backdoor::backdoor_brk_el1,
    },
    Test {
        name: "backdoor_dcc_el0",
        run: backdoor::backdoor_dcc_el0,
    },
    Test {
        name: "backdoor_brk_el0",
        run: backdoor::backdoor_brk_el0,
    },
    Test {
        name: "backdoor_dcc_plain",
        run: backdoor::backdoor_dcc_plain,
    },
    Test {
        name: "backdoor_malformed",
        run: backdoor::backdoor_malformed,
    },
    Test {
        name: "backdoor_rpc_misuse",
        run: backdoor::backdoor_rpc_misuse,
    },
    Test {
        name: "backdoor_hb_bad_buffer",
        run: backdoor::backdoor_hb_bad_buffer,
    },
    Test {
        name: "backdoor_rpc_roundtrip",
        run: backdoor::backdoor_rpc_roundtrip,
    },
    Test {
        name: "debug_regs_readback",
        run: debug_exc::debug_regs_readback,
    },
    Test {
        name: "debug_brk_el1h",
        run: debug_exc::debug_brk_el1h,
    },
    Test {
        name: "debug_brk_el1t",
        run: debug_exc::debug_brk_el1t,
    },
    Test {
        name: "debug_brk_el0",
        run: debug_exc::debug_brk_el0,
    },
    Test {
        name: "debug_breakpoint_el1",
        run: debug_exc::debug_breakpoint_el1,
    },
    Test {
        name: "debug_breakpoint_el0",
        run: debug_exc::debug_breakpoint_el0,
    },
    Test {
        name: "debug_watchpoint_el1",
        run: debug_exc::debug_watchpoint_el1,
    },
    Test {
        name: "debug_watchpoint_el0",
        run: debug_exc::debug_watchpoint_el0,
    },
    Test {
        name: "debug_step_el1",
        run: debug_exc::debug_step_el1,
    },
    Test {
        name: "debug_step_el0",
        run: debug_exc::debug_step_el0,
    },
    Test {
        name: "debug_step_emulated",
        run: debug_exc::debug_step_emulated,
    },
    Test {
        name: "debug_suppressed",
        run: debug_exc::debug_suppressed,
    },
    Test {
        name: "gic_sgi_self",
        run: gic_sgi::gic_sgi_self,
    },
    Test {
        name: "gic_sgi_other",
        run: gic_sgi::gic_sgi_other,
    },
    Test {
        name: "gic_priority_mask",
        run: gic_priority::gic_priority_mask,
    },
    Test {
        name: "gic_preemption",
        run: gic_priority::gic_preemption,
    },
    Test {
        name: "gic_spi_device",
        run: gic_spi::gic_spi_device,
    },
    Test {
        name: "timer_irq",
        run: timer_irq::timer_irq,
    },
    Test {
        name: "rtc_alarm",
        run: rtc_alarm::rtc_alarm,
    },
    Test {
        name: "virtio_blk",
        run: virtio_blk::virtio_blk,
    },
    Test {
        name: "virtio_blk_ring",
        run: virtio_blk_ring::virtio_blk_ring,
    },
    // Last: it reads every device register at random, so a device left in
    // a strange state cannot affect another test.
    Test {
        name: "guest_storm",
        run: guest_storm::guest_storm,
    },
];
