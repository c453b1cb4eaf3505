//! The type-level mark of "running in a pseudo-NMI handler".

use core::marker::PhantomData;

/// Proof that the code holding it runs in the pseudo-NMI handler of the
/// current CPU. Only [`NmiContext::enter`] creates one, and the hypervisor's
/// pNMI dispatcher is its only caller; the dispatcher passes `&NmiContext`
/// down to the handlers, and NMI-only operations (such as
/// [`SampleRing::push`](crate::SampleRing::push)) require it.
///
/// It is neither `Send`, `Sync`, `Clone` nor `Copy`: it cannot leave the
/// handler's CPU or outlive the dispatcher's stack frame by accident.
///
/// The other half of the contract is on the hypervisor's machine lock: it
/// asserts that it is not taken in NMI context (the hypervisor tracks pNMI
/// nesting per CPU), because a pNMI that waits for a lock its own CPU holds
/// never returns.
#[derive(Debug)]
pub struct NmiContext {
    _private: (),
    // `*mut ()` is neither Send nor Sync.
    _not_send: PhantomData<*mut ()>,
}

impl NmiContext {
    /// Mark the start of a pseudo-NMI handler.
    ///
    /// # Safety
    ///
    /// Call only from the pNMI dispatcher, on the CPU that took the pNMI,
    /// with PSTATE.I set for as long as the returned value lives (pNMI
    /// handlers do not nest, which is what makes a [`SampleRing`] per CPU
    /// single-producer), and drop it before the handler returns.
    ///
    /// [`SampleRing`]: crate::SampleRing
    pub unsafe fn enter() -> NmiContext {
        NmiContext {
            _private: (),
            _not_send: PhantomData,
        }
    }
}
