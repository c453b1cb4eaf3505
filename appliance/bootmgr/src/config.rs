//! Parser for `boot.cfg`, the contract with the appliance builder.
//!
//! UTF-8, one `key=value` per line, split at the first `=`; a trailing `\r`
//! is dropped; blank lines are skipped. Keys: `name`, `arch`, `kernel`,
//! `initrd` (optional), `cmdline` (optional, the rest of the line verbatim).
//! Unknown keys are ignored; when a key repeats, the last one wins.

use core::fmt;

/// A parsed `boot.cfg`, borrowing from the file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootConfig<'a> {
    /// Appliance name, printed in the boot line.
    pub name: &'a str,
    /// Architecture the configuration is for (`aarch64` or `x86_64`).
    pub arch: &'a str,
    /// UEFI path of the kernel on the ESP, e.g. `\aerie\aarch64\vmlinuz`.
    pub kernel: &'a str,
    /// UEFI path of the initrd on the ESP, if there is one.
    pub initrd: Option<&'a str>,
    /// Kernel command line (may be empty).
    pub cmdline: &'a str,
}

/// Why a `boot.cfg` was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError<'a> {
    /// A required key is absent or has an empty value.
    MissingKey(&'static str),
    /// A non-blank line without `=` (1-based line number).
    Malformed(usize),
    /// The file is for another architecture than the one running.
    WrongArch {
        /// The `arch` value in the file.
        found: &'a str,
        /// The architecture this boot manager runs on.
        expected: &'static str,
    },
}

impl fmt::Display for ConfigError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingKey(key) => write!(f, "missing key `{key}`"),
            Self::Malformed(line) => write!(f, "line {line} is not key=value"),
            Self::WrongArch { found, expected } => {
                write!(f, "arch is `{found}`, expected `{expected}`")
            }
        }
    }
}

/// Parses `text` and checks that it is for architecture `expected`.
pub fn parse<'a>(text: &'a str, expected: &'static str) -> Result<BootConfig<'a>, ConfigError<'a>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (mut name, mut arch, mut kernel, mut initrd, mut cmdline) = (None, None, None, None, None);
    for (index, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or(ConfigError::Malformed(index + 1))?;
        let slot = match key.trim() {
            "name" => &mut name,
            "arch" => &mut arch,
            "kernel" => &mut kernel,
            "initrd" => &mut initrd,
            "cmdline" => &mut cmdline,
            _ => continue,
        };
        *slot = Some(value);
    }
    let required = |value: Option<&'a str>, key| {
        value
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(ConfigError::MissingKey(key))
    };
    let config = BootConfig {
        name: required(name, "name")?,
        arch: required(arch, "arch")?,
        kernel: required(kernel, "kernel")?,
        initrd: initrd.map(str::trim).filter(|v| !v.is_empty()),
        cmdline: cmdline.unwrap_or(""),
    };
    if config.arch != expected {
        return Err(ConfigError::WrongArch {
            found: config.arch,
            expected,
        });
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "name=demo\narch=aarch64\nkernel=\\aerie\\aarch64\\vmlinuz\n\
                        initrd=\\aerie\\aarch64\\initrd\ncmdline=console=ttyAMA0 rdinit=/init quiet\n";

    #[test]
    fn parses_every_key() {
        let config = parse(FULL, "aarch64").unwrap();
        assert_eq!(
            config,
            BootConfig {
                name: "demo",
                arch: "aarch64",
                kernel: "\\aerie\\aarch64\\vmlinuz",
                initrd: Some("\\aerie\\aarch64\\initrd"),
                cmdline: "console=ttyAMA0 rdinit=/init quiet",
            }
        );
    }

    #[test]
    fn tolerates_crlf_blank_lines_bom_and_unknown_keys() {
        let text =
            "\u{feff}name=demo\r\n\r\nversion=3\r\narch=x86_64\r\nkernel=\\k\r\ncmdline=a=b c\r\n";
        let config = parse(text, "x86_64").unwrap();
        assert_eq!(config.name, "demo");
        assert_eq!(config.kernel, "\\k");
        assert_eq!(config.cmdline, "a=b c");
        assert_eq!(config.initrd, None);
    }

    #[test]
    fn cmdline_keeps_spaces_and_equals_verbatim() {
        let text = "name=n\narch=x86_64\nkernel=\\k\ncmdline= root=/dev/vda  x==y ";
        assert_eq!(
            parse(text, "x86_64").unwrap().cmdline,
            " root=/dev/vda  x==y "
        );
    }

    #[test]
    fn cmdline_and_initrd_are_optional() {
        let config = parse("name=n\narch=x86_64\nkernel=\\k\ninitrd=", "x86_64").unwrap();
        assert_eq!(config.cmdline, "");
        assert_eq!(config.initrd, None);
    }

    #[test]
    fn last_duplicate_wins() {
        let text = "name=a\nname=b\narch=x86_64\nkernel=\\k";
        assert_eq!(parse(text, "x86_64").unwrap().name, "b");
    }

    #[test]
    fn reports_the_first_missing_key() {
        assert_eq!(parse("", "x86_64"), Err(ConfigError::MissingKey("name")));
        assert_eq!(
            parse("name=n\narch=x86_64", "x86_64"),
            Err(ConfigError::MissingKey("kernel"))
        );
        assert_eq!(
            parse("name=n\narch=x86_64\nkernel=  ", "x86_64"),
            Err(ConfigError::MissingKey("kernel"))
        );
    }

    #[test]
    fn rejects_a_line_without_equals() {
        assert_eq!(
            parse("name=n\n\ngarbage\n", "x86_64"),
            Err(ConfigError::Malformed(3))
        );
    }

    #[test]
    fn rejects_another_architecture() {
        let err = parse(FULL, "x86_64").unwrap_err();
        assert_eq!(
            err,
            ConfigError::WrongArch {
                found: "aarch64",
                expected: "x86_64"
            }
        );
        assert_eq!(format!("{err}"), "arch is `aarch64`, expected `x86_64`");
    }
}
