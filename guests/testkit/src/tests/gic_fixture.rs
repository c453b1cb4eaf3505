//! What every interrupt test shares: the device tree must describe a GICv3
//! or a GICv2;
//! this CPU's GIC is brought up before the test body runs (PMR 0xF0, EOImode
//! 0, group 1 on); afterwards, also when the body crashed, PSTATE.I is set
//! again, the handler removed, unfinished interrupts EOId and every SGI/PPI
//! and the listed SPIs disabled with their pending/active state dropped.

use super::TestResult;
use crate::detail::{detail, fail};
use crate::gic::{self, distributor, Redistributor, ALL_PRIVATE, PMR_ALL};
use crate::guard::{self, Outcome};
use crate::irq;
use crate::machine::Machine;

pub fn with_gic(
    machine: &Machine,
    spis: &[u32],
    body: impl FnOnce(&Redistributor) -> TestResult,
) -> TestResult {
    if !machine.has_gic() {
        fail!("no GICv3 or GICv2 in the device tree");
    }
    let rd = gic::init_this_cpu(PMR_ALL)?;
    let saved_bpr = gic::binary_point1();

    let mut body = Some(body);
    let mut result = None;
    let outcome = guard::run(&mut || {
        if let Some(body) = body.take() {
            result = Some(body(&rd));
        }
    });

    irq::mask();
    irq::set_handler(None);
    irq::finish_abandoned();
    rd.quiesce(ALL_PRIVATE);
    let spis_off = spis
        .iter()
        .try_for_each(|&spi| distributor::disable_spi(spi));
    gic::set_binary_point1(saved_bpr);
    gic::set_priority_mask(PMR_ALL);

    let verdict = match outcome {
        Outcome::Returned => result.unwrap_or_else(|| Err(detail!("test produced no result"))),
        Outcome::Unexpected(info) | Outcome::El0Svc(info) => Err(detail!("unexpected {info}")),
        Outcome::Panicked => {
            // The panic handler printed the FAIL line: hand the panic on to
            // the runner's guard so it is counted once.
            guard::abandon(guard::CODE_PANICKED);
            Err(detail!("panicked"))
        }
    };
    let detail = verdict?;
    spis_off?;
    Ok(detail)
}
