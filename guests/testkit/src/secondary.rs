//! What a secondary vCPU does when PSCI CPU_ON starts it (entry.rs sets up its
//! stack): publish its context_id for the primary, then power itself off.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::{psci, sysreg};

/// The last context_id a secondary received (0 = none yet). Plain store/load
/// only: exclusives are not usable on Device memory (MMU off).
pub static CONTEXT_SEEN: AtomicU64 = AtomicU64::new(0);

#[no_mangle]
extern "C" fn testkit_secondary_main(context_id: u64) -> ! {
    CONTEXT_SEEN.store(context_id, Ordering::SeqCst);
    // Make the store visible before waking the primary out of WFE.
    sysreg::dsb_sy();
    sysreg::sev();
    psci::cpu_off();
    // CPU_OFF only returns on failure; stay quiet rather than race the console.
    loop {
        sysreg::wfe();
    }
}
