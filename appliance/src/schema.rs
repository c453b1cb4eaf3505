//! Validating a descriptor against the DMTF OVF 2.0.1 schema with `xmllint`.
//!
//! The schema files (DSP8023 and what it imports, local `schemaLocation`s)
//! are built into the binary from `appliance/schemas/ovf/` and written to a
//! scratch directory for each check, so an installed binary needs nothing but
//! `xmllint` (Debian: libxml2-utils). `AERIE_OVF_SCHEMA=/path/dsp8023.xsd`
//! uses another copy instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

const FILES: &[(&str, &str)] = &[
    ("dsp8023.xsd", include_str!("../schemas/ovf/dsp8023.xsd")),
    (
        "dsp8023_2.0.1.xsd",
        include_str!("../schemas/ovf/dsp8023_2.0.1.xsd"),
    ),
    ("common.xsd", include_str!("../schemas/ovf/common.xsd")),
    (
        "CIM_VirtualSystemSettingData.xsd",
        include_str!("../schemas/ovf/CIM_VirtualSystemSettingData.xsd"),
    ),
    (
        "CIM_ResourceAllocationSettingData.xsd",
        include_str!("../schemas/ovf/CIM_ResourceAllocationSettingData.xsd"),
    ),
    (
        "CIM_StorageAllocationSettingData.xsd",
        include_str!("../schemas/ovf/CIM_StorageAllocationSettingData.xsd"),
    ),
    (
        "CIM_EthernetPortAllocationSettingData.xsd",
        include_str!("../schemas/ovf/CIM_EthernetPortAllocationSettingData.xsd"),
    ),
    (
        "CIM_BootConfigSetting.xsd",
        include_str!("../schemas/ovf/CIM_BootConfigSetting.xsd"),
    ),
    (
        "CIM_BootSourceSetting.xsd",
        include_str!("../schemas/ovf/CIM_BootSourceSetting.xsd"),
    ),
    ("xml.xsd", include_str!("../schemas/ovf/xml.xsd")),
    (
        "xmldsig-core-schema.xsd",
        include_str!("../schemas/ovf/xmldsig-core-schema.xsd"),
    ),
    (
        "xenc-schema.xsd",
        include_str!("../schemas/ovf/xenc-schema.xsd"),
    ),
    (
        "xenc-schema-11.xsd",
        include_str!("../schemas/ovf/xenc-schema-11.xsd"),
    ),
];

/// The schema entry point: `AERIE_OVF_SCHEMA`, else the built-in copy written under `scratch`.
fn schema_path(scratch: &Path) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("AERIE_OVF_SCHEMA") {
        return Ok(PathBuf::from(p));
    }
    let dir = scratch.join("ovf-schema");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in FILES {
        std::fs::write(dir.join(name), text).with_context(|| format!("writing schema {name}"))?;
    }
    Ok(dir.join("dsp8023.xsd"))
}

/// Checks `ovf` against the schema. `Ok(vec![])` = valid; `Ok(problems)` =
/// xmllint's complaints, one per line; `Err` = the check could not run
/// (xmllint missing, schema unreadable).
pub fn check(ovf: &Path, scratch: &Path) -> Result<Vec<String>> {
    let schema = schema_path(scratch)?;
    let out = match Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(&schema)
        .arg(ovf)
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("xmllint is not installed (Debian: apt-get install libxml2-utils); cannot check the descriptor against the OVF schema")
        }
        Err(e) => return Err(e).context("running xmllint"),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => Ok(vec![]),
        Some(3) | Some(1) => {
            let ovf_s = ovf.display().to_string();
            let lines: Vec<String> = stderr
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.ends_with("fails to validate"))
                .map(|l| {
                    l.strip_prefix(&ovf_s)
                        .unwrap_or(l)
                        .trim_start_matches(':')
                        .to_string()
                })
                .collect();
            Ok(if lines.is_empty() {
                vec!["the descriptor fails to validate".into()]
            } else {
                lines
            })
        }
        _ => bail!(
            "xmllint could not check the descriptor (schema {}): {}",
            schema.display(),
            stderr.trim()
        ),
    }
}
