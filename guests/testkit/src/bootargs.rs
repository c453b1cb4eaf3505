//! Options the testkit takes from /chosen/bootargs (whitespace-separated words).

pub const DEFAULT_BENCH_ITERS: u64 = 100_000;

pub struct Options {
    /// `bench`: run the micro-benchmarks instead of the tests.
    pub bench: bool,
    /// `bench_iters=<n>` (n >= 1).
    pub bench_iters: u64,
}

impl Options {
    pub fn parse(bootargs: &str) -> Self {
        let mut options = Self {
            bench: false,
            bench_iters: DEFAULT_BENCH_ITERS,
        };
        for word in bootargs.split_ascii_whitespace() {
            if word == "bench" {
                options.bench = true;
            } else if let Some(n) = word.strip_prefix("bench_iters=") {
                if let Ok(n @ 1..) = n.parse::<u64>() {
                    options.bench_iters = n;
                }
            }
        }
        options
    }
}
