//! Aerie's own boot arguments, from the host device tree's /chosen/bootargs.
//! Words Aerie does not know are ignored (a boot loader may add its own).

/// A deliberate fault, for the integration tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootTest {
    None,
    /// After the re-map, read the image's old identity address: must fault.
    IdentityFault,
}

#[derive(Debug, Clone, Copy)]
pub struct BootArgs {
    pub log: log::LevelFilter,
    pub test: BootTest,
}

impl BootArgs {
    pub fn parse(args: &str) -> Self {
        let mut out = BootArgs {
            log: log::LevelFilter::Info,
            test: BootTest::None,
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
                _ => {}
            }
        }
        out
    }
}
