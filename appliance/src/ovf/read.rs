//! XML text -> Descriptor. Reads what [`super::render`] writes, and the same
//! shapes from other writers where they use the standard elements.

use anyhow::{bail, ensure, Context, Result};
use roxmltree::{Document, Node};

use super::model::{Config, Descriptor, Disk, FileRef, AERIE_NS, NAT_NETWORK, OVF_NS, RASD_NS};
use crate::arch::Arch;

fn ovf<'a>(n: Node<'a, 'a>, name: &str) -> Option<Node<'a, 'a>> {
    n.children().find(|c| c.has_tag_name((OVF_NS, name)))
}

fn ovf_all<'a>(n: Node<'a, 'a>, name: &'a str) -> impl Iterator<Item = Node<'a, 'a>> {
    n.children().filter(move |c| c.has_tag_name((OVF_NS, name)))
}

fn attr<'a>(n: Node<'a, 'a>, name: &str) -> Result<&'a str> {
    n.attribute((OVF_NS, name))
        .with_context(|| format!("<{}> has no ovf:{name}", n.tag_name().name()))
}

fn text(n: Node<'_, '_>) -> String {
    n.text().unwrap_or("").trim().to_string()
}

fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T> {
    s.trim()
        .parse()
        .ok()
        .with_context(|| format!("{what} `{s}` is not a number"))
}

/// Parses a descriptor.
pub fn parse(xml: &str) -> Result<Descriptor> {
    let doc = Document::parse(xml).context("the descriptor is not well-formed XML")?;
    let env = doc.root_element();
    ensure!(
        env.has_tag_name((OVF_NS, "Envelope")),
        "the root element is not an OVF 2 Envelope (namespace {OVF_NS})"
    );
    let mut files = Vec::new();
    if let Some(refs) = ovf(env, "References") {
        for f in ovf_all(refs, "File") {
            files.push(FileRef {
                id: attr(f, "id")?.to_string(),
                href: attr(f, "href")?.to_string(),
                size: num(attr(f, "size")?, "File size")?,
            });
        }
    }
    let mut disks = Vec::new();
    if let Some(ds) = ovf(env, "DiskSection") {
        for k in ovf_all(ds, "Disk") {
            let units = k
                .attribute((OVF_NS, "capacityAllocationUnits"))
                .unwrap_or("byte");
            let mult = capacity_units(units)?;
            let cap: u64 = num(attr(k, "capacity")?, "Disk capacity")?;
            disks.push(Disk {
                id: attr(k, "diskId")?.to_string(),
                file_ref: attr(k, "fileRef")?.to_string(),
                capacity: cap.checked_mul(mult).context("Disk capacity overflows")?,
                format: attr(k, "format")?.to_string(),
            });
        }
    }
    let vs = ovf(env, "VirtualSystem").context("the descriptor has no VirtualSystem")?;
    let name = ovf(vs, "Name")
        .map(text)
        .or_else(|| vs.attribute((OVF_NS, "id")).map(str::to_string))
        .context("the VirtualSystem has no name")?;
    let product = ovf(vs, "ProductSection");
    let version = product.and_then(|p| ovf(p, "Version")).map(text);
    let description = ovf(vs, "AnnotationSection")
        .and_then(|a| ovf(a, "Annotation"))
        .map(text);
    let networks: Vec<String> = ovf(env, "NetworkSection")
        .map(|ns| {
            ovf_all(ns, "Network")
                .filter_map(|n| n.attribute((OVF_NS, "name")))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let mut configs = Vec::new();
    for hw in ovf_all(vs, "VirtualHardwareSection") {
        let c = hardware(hw, &networks).with_context(|| {
            format!(
                "VirtualHardwareSection `{}`",
                hw.attribute((OVF_NS, "id")).unwrap_or("")
            )
        })?;
        ensure!(
            !configs.iter().any(|o: &Config| o.arch == c.arch),
            "two configurations for {}",
            c.arch
        );
        configs.push(c);
    }
    Ok(Descriptor {
        name,
        version,
        description,
        files,
        disks,
        configs,
    })
}

fn capacity_units(units: &str) -> Result<u64> {
    let u = units.replace(' ', "");
    Ok(match u.as_str() {
        "byte" => 1,
        _ => match u.strip_prefix("byte*2^") {
            Some(p) => 1u64 << num::<u32>(p, "capacity unit exponent")?.min(62),
            None => bail!("capacity units `{units}` not understood"),
        },
    })
}

fn hardware(hw: Node<'_, '_>, networks: &[String]) -> Result<Config> {
    let ext = hw
        .children()
        .find(|c| c.has_tag_name((AERIE_NS, "ArchitectureSection")))
        .context("no aerie:ArchitectureSection (not built by aerie-appliance?)")?;
    let arch_text = ext
        .children()
        .find(|c| c.has_tag_name((AERIE_NS, "Architecture")))
        .map(text)
        .context("aerie:ArchitectureSection has no aerie:Architecture")?;
    let arch: Arch = arch_text.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let cmdline = ext
        .children()
        .find(|c| c.has_tag_name((AERIE_NS, "KernelCommandLine")))
        .map(|n| n.text().unwrap_or("").to_string())
        .unwrap_or_default();
    let (mut cpus, mut memory, mut disks, mut network) = (None, None, Vec::new(), false);
    for item in ovf_all(hw, "Item") {
        let field = |name: &str| {
            item.children()
                .find(|c| c.has_tag_name((RASD_NS, name)))
                .map(text)
        };
        match field("ResourceType").as_deref() {
            Some("3") => {
                cpus = Some(num(
                    &field("VirtualQuantity").unwrap_or_default(),
                    "CPU count",
                )?)
            }
            Some("4") => {
                let q: u64 = num(&field("VirtualQuantity").unwrap_or_default(), "memory")?;
                let units = field("AllocationUnits").unwrap_or_else(|| "byte * 2^20".into());
                memory = Some(
                    q.checked_mul(capacity_units(&units)?)
                        .context("memory overflows")?,
                );
            }
            Some("17") => {
                let host = field("HostResource").context("a disk Item has no HostResource")?;
                let id = host
                    .strip_prefix("ovf:/disk/")
                    .with_context(|| format!("disk HostResource `{host}` is not ovf:/disk/<id>"))?;
                disks.push(id.to_string());
            }
            Some("10") => {
                ensure!(!network, "more than one network card (ResourceType 10)");
                let to = field("Connection").context("a network card Item has no Connection")?;
                ensure!(
                    networks.contains(&to),
                    "the network card is connected to `{to}`, which the NetworkSection does not name"
                );
                ensure!(
                    to == NAT_NETWORK,
                    "the network card is connected to `{to}`; this tool deploys only `{NAT_NETWORK}`"
                );
                network = true;
            }
            _ => {}
        }
    }
    Ok(Config {
        arch,
        cpus: cpus.context("no CPU Item (ResourceType 3)")?,
        memory: memory.context("no memory Item (ResourceType 4)")?,
        cmdline,
        disks,
        network,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{render, VMDK_STREAM};
    use super::*;

    pub(crate) fn sample() -> Descriptor {
        Descriptor {
            name: "hello".into(),
            version: Some("1.0 <beta> & \"more\"".into()),
            description: Some("An appliance".into()),
            files: vec![
                FileRef {
                    id: "file-system".into(),
                    href: "hello-system.vmdk".into(),
                    size: 12345,
                },
                FileRef {
                    id: "file-aarch64-1".into(),
                    href: "hello-aarch64-disk1.vmdk".into(),
                    size: 99,
                },
            ],
            disks: vec![
                Disk {
                    id: "system".into(),
                    file_ref: "file-system".into(),
                    capacity: 10 << 20,
                    format: VMDK_STREAM.into(),
                },
                Disk {
                    id: "aarch64-disk1".into(),
                    file_ref: "file-aarch64-1".into(),
                    capacity: 1 << 20,
                    format: VMDK_STREAM.into(),
                },
            ],
            configs: vec![
                Config {
                    arch: Arch::Aarch64,
                    cpus: 2,
                    memory: 512 << 20,
                    cmdline: "console=ttyAMA0 root=/dev/vda x=<y>".into(),
                    disks: vec!["system".into(), "aarch64-disk1".into()],
                    network: true,
                },
                Config {
                    arch: Arch::X86_64,
                    cpus: 1,
                    memory: 256 << 20,
                    cmdline: "".into(),
                    disks: vec!["system".into()],
                    network: false,
                },
            ],
        }
    }

    #[test]
    fn round_trip() {
        let d = sample();
        let xml = render(&d);
        assert_eq!(parse(&xml).unwrap(), d);
    }

    #[test]
    fn validates_against_the_schema() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.ovf");
        std::fs::write(&p, render(&sample())).unwrap();
        match crate::schema::check(&p, t.path()) {
            Ok(problems) => assert!(problems.is_empty(), "{problems:?}"),
            Err(e) => eprintln!("note: schema check skipped: {e:#}"),
        }
    }

    #[test]
    fn network_cards_need_the_nat_network() {
        let xml = render(&sample());
        assert!(xml.contains("<rasd:ResourceType>10</rasd:ResourceType>"));
        assert!(xml.contains(r#"<Network ovf:name="nat">"#));
        // A card on a network the descriptor does not name, or on one this
        // tool cannot deploy.
        let unnamed = xml.replace(r#"<Network ovf:name="nat">"#, r#"<Network ovf:name="lab">"#);
        let e = format!("{:#}", parse(&unnamed).unwrap_err());
        assert!(e.contains("does not name"), "{e}");
        let lab = unnamed.replace(
            "<rasd:Connection>nat</rasd:Connection>",
            "<rasd:Connection>lab</rasd:Connection>",
        );
        let e = format!("{:#}", parse(&lab).unwrap_err());
        assert!(e.contains("deploys only `nat`"), "{e}");
        // Without cards, no NetworkSection.
        let mut d = sample();
        d.configs[0].network = false;
        assert!(!render(&d).contains("NetworkSection"));
    }

    #[test]
    fn rejects_foreign_xml() {
        assert!(parse("<a/>").is_err());
        assert!(parse("<a").is_err());
    }
}
