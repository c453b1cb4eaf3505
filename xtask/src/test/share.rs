//! `sched-share`: the weight of C1. The testkit's `share` mode on one pCPU
//! under `-icount shift=0` (exact): vCPU 1's guest sets its clock to half
//! of vCPU 0's, then both count loop iterations until the same deadline
//! while taking turns on the pCPU. With turns weighted by the clock the
//! fast vCPU counts twice as much; equal turns would make it 1.

use super::{clean_exit, fresh_disk, run_aerie_icount, AerieRun};
use crate::output;
use crate::qemu::icount;
use crate::run::Guest;

/// The fast vCPU's count over the slow one's must be 2 within this.
const TOLERANCE: f64 = 0.2;

pub fn sched_share() -> Result<(), String> {
    let name = "sched-share";
    let disk = fresh_disk(name)?;
    let run = AerieRun {
        smp: 1,
        ..AerieRun::new(
            name,
            Guest::Testkit {
                cmdline: "share".into(),
            },
            &disk,
            300,
        )
    };
    run_aerie_icount(&run, Some(icount::EXACT), |status, out| {
        let line = output::lines_with(out, "share: ")
            .first()
            .copied()
            .ok_or("no `share:` line")?;
        let ratio = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("ratio="))
            .and_then(|r| r.parse::<f64>().ok())
            .ok_or_else(|| format!("no ratio in `{line}`"))?;
        if (ratio - 2.0).abs() > TOLERANCE {
            return Err(format!(
                "`{line}`: the vCPU at 1000 MHz got {ratio} times the share of the one at 500 MHz, want 2 +- {TOLERANCE}"
            ));
        }
        clean_exit(status, out)
    })
}
