//! Problems found by `validate`: one line each.

use std::fmt;

/// One problem with a package; prints as `error: <what>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem(pub String);

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.0)
    }
}

/// An ordered list of problems.
#[derive(Default, Debug)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn add(&mut self, what: impl Into<String>) {
        self.0.push(Problem(what.into()));
    }
}
