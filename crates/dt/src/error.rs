//! Errors for reading and building flattened device trees.

use alloc::string::String;
use core::fmt;

/// What went wrong while reading or building a device tree. Every variant says
/// where (node path, property name, byte offset) so a boot log line is enough to
/// find the fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtError {
    /// The header does not start with the FDT magic 0xd00dfeed.
    BadMagic(u32),
    /// The blob is shorter than a header field or block says it must be.
    Truncated {
        what: &'static str,
        needed: usize,
        available: usize,
    },
    /// `last_comp_version` is newer than the v17 layout this reader understands,
    /// or `version` predates v16 (no `size_dt_strings`).
    UnsupportedVersion {
        version: u32,
        last_comp_version: u32,
    },
    /// A block offset/size in the header points outside the blob.
    BadHeader(&'static str),
    /// The structure block holds a token we did not expect at this offset.
    BadToken { offset: usize, token: u32 },
    /// A node name or property name is not NUL-terminated UTF-8.
    BadName { offset: usize },
    /// A property value does not have the shape the binding requires.
    BadProperty {
        node: String,
        property: &'static str,
        reason: &'static str,
    },
    /// A node the caller cannot do without is absent.
    MissingNode(&'static str),
    /// A required property is absent from a node.
    MissingProperty {
        node: String,
        property: &'static str,
    },
    /// The guest description cannot be turned into a device tree.
    InvalidSpec(&'static str),
    /// The FDT writer refused a step (`what`), with its own reason.
    Build { what: &'static str, reason: String },
}

impl fmt::Display for DtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic(m) => write!(f, "bad FDT magic {m:#010x} (expected 0xd00dfeed)"),
            Self::Truncated {
                what,
                needed,
                available,
            } => write!(
                f,
                "truncated device tree: {what} needs {needed} bytes, only {available} available"
            ),
            Self::UnsupportedVersion {
                version,
                last_comp_version,
            } => write!(
                f,
                "unsupported FDT version {version} (last compatible {last_comp_version}); need 16..=17"
            ),
            Self::BadHeader(what) => write!(f, "bad FDT header: {what}"),
            Self::BadToken { offset, token } => write!(
                f,
                "unexpected FDT structure token {token:#x} at struct offset {offset:#x}"
            ),
            Self::BadName { offset } => {
                write!(f, "malformed name (not NUL-terminated UTF-8) at offset {offset:#x}")
            }
            Self::BadProperty {
                node,
                property,
                reason,
            } => write!(f, "bad property {node}:{property}: {reason}"),
            Self::MissingNode(what) => write!(f, "device tree has no {what} node"),
            Self::MissingProperty { node, property } => {
                write!(f, "node {node} lacks required property {property}")
            }
            Self::InvalidSpec(why) => write!(f, "invalid guest spec: {why}"),
            Self::Build { what, reason } => write!(f, "building guest DT ({what}): {reason}"),
        }
    }
}

impl core::error::Error for DtError {}

/// Maps an FDT writer error to one that says which step failed.
pub(crate) trait Step<T> {
    fn step(self, what: &'static str) -> Result<T, DtError>;
}

impl<T> Step<T> for Result<T, vm_fdt::Error> {
    fn step(self, what: &'static str) -> Result<T, DtError> {
        self.map_err(|e| DtError::Build {
            what,
            reason: alloc::string::ToString::to_string(&e),
        })
    }
}
