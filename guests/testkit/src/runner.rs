//! Runs every test under a guard and prints one line per test plus a summary.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::console::println;
use crate::detail::detail;
use crate::guard::{self, Outcome};
use crate::machine::Machine;
use crate::tests::{TestResult, TESTS};

/// Index + 1 of the running test (0 = none), for the panic handler.
static CURRENT: AtomicUsize = AtomicUsize::new(0);

/// The name of the test running now, if any.
pub fn current_test() -> Option<&'static str> {
    let index = CURRENT.load(Ordering::SeqCst).checked_sub(1)?;
    TESTS.get(index).map(|t| t.name)
}

/// Runs all tests; returns (passed, failed).
pub fn run_all(machine: &Machine) -> (usize, usize) {
    let (mut passed, mut failed) = (0, 0);
    for (index, test) in TESTS.iter().enumerate() {
        CURRENT.store(index + 1, Ordering::SeqCst);
        let mut result: Option<TestResult> = None;
        let outcome = guard::run(&mut || result = Some((test.run)(machine)));
        CURRENT.store(0, Ordering::SeqCst);
        let verdict = match outcome {
            Outcome::Returned => result.unwrap_or_else(|| Err(detail!("test produced no result"))),
            Outcome::Unexpected(info) | Outcome::El0Svc(info) => Err(detail!("unexpected {info}")),
            // The panic handler printed the FAIL line itself.
            Outcome::Panicked => {
                failed += 1;
                continue;
            }
        };
        match verdict {
            Ok(detail) => {
                passed += 1;
                if detail.is_empty() {
                    println!("testkit: PASS {}", test.name);
                } else {
                    println!("testkit: PASS {} ({detail})", test.name);
                }
            }
            Err(detail) => {
                failed += 1;
                println!("testkit: FAIL {}: {detail}", test.name);
            }
        }
    }
    (passed, failed)
}
