//! Descriptor -> XML text that validates against DSP8023 (OVF 2.0.1).

use std::fmt::Write;

use super::model::{Config, Descriptor, AERIE_NS, NAT_NETWORK, OVF_NS, RASD_NS, VSSD_NS};

/// XML-escapes text and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// The descriptor's XML.
pub fn render(d: &Descriptor) -> String {
    let mut x = String::new();
    let w = &mut x;
    let _ = writeln!(w, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        w,
        r#"<Envelope xmlns="{OVF_NS}" xmlns:ovf="{OVF_NS}" xmlns:rasd="{RASD_NS}" xmlns:vssd="{VSSD_NS}" xmlns:aerie="{AERIE_NS}" ovf:version="2.0">"#
    );
    let _ = writeln!(w, "  <References>");
    for f in &d.files {
        let _ = writeln!(
            w,
            r#"    <File ovf:id="{}" ovf:href="{}" ovf:size="{}"/>"#,
            esc(&f.id),
            esc(&f.href),
            f.size
        );
    }
    let _ = writeln!(w, "  </References>");
    let _ = writeln!(w, "  <DiskSection>\n    <Info>Virtual disks</Info>");
    for k in &d.disks {
        let _ = writeln!(
            w,
            r#"    <Disk ovf:diskId="{}" ovf:fileRef="{}" ovf:capacity="{}" ovf:capacityAllocationUnits="byte" ovf:format="{}"/>"#,
            esc(&k.id),
            esc(&k.file_ref),
            k.capacity,
            esc(&k.format)
        );
    }
    let _ = writeln!(w, "  </DiskSection>");
    if d.configs.iter().any(|c| c.network) {
        let _ = writeln!(
            w,
            r#"  <NetworkSection>
    <Info>Logical networks</Info>
    <Network ovf:name="{NAT_NETWORK}">
      <Description>The deploy target's NAT network</Description>
    </Network>
  </NetworkSection>"#
        );
    }
    let _ = writeln!(
        w,
        "  <DeploymentOptionSection>\n    <Info>One configuration per architecture</Info>"
    );
    for (i, c) in d.configs.iter().enumerate() {
        let def = if i == 0 { r#" ovf:default="true""# } else { "" };
        let _ = writeln!(
            w,
            r#"    <Configuration ovf:id="{a}"{def}>
      <Label>{a}</Label>
      <Description>The appliance on {a} ({n} vCPUs, {m} MiB)</Description>
    </Configuration>"#,
            a = c.arch,
            n = c.cpus,
            m = c.memory >> 20
        );
    }
    let _ = writeln!(w, "  </DeploymentOptionSection>");
    let _ = writeln!(w, r#"  <VirtualSystem ovf:id="{}">"#, esc(&d.name));
    let _ = writeln!(w, "    <Info>The {} appliance</Info>", esc(&d.name));
    let _ = writeln!(w, "    <Name>{}</Name>", esc(&d.name));
    let _ = writeln!(
        w,
        "    <ProductSection>\n      <Info>Product information</Info>"
    );
    let _ = writeln!(w, "      <Product>{}</Product>", esc(&d.name));
    if let Some(v) = &d.version {
        let _ = writeln!(w, "      <Version>{}</Version>", esc(v));
    }
    let _ = writeln!(w, "    </ProductSection>");
    if let Some(desc) = &d.description {
        let _ = writeln!(
            w,
            "    <AnnotationSection>\n      <Info>Description</Info>\n      <Annotation>{}</Annotation>\n    </AnnotationSection>",
            esc(desc)
        );
    }
    for c in &d.configs {
        hardware(w, d, c);
    }
    let _ = writeln!(w, "  </VirtualSystem>");
    let _ = writeln!(w, "</Envelope>");
    x
}

/// One `rasd` Item; `fields` are (element, value) in the schema's (alphabetical) order.
fn item(w: &mut String, arch: &str, fields: &[(&str, String)]) {
    let _ = writeln!(w, r#"      <Item ovf:configuration="{arch}">"#);
    for (k, v) in fields {
        let _ = writeln!(w, "        <rasd:{k}>{}</rasd:{k}>", esc(v));
    }
    let _ = writeln!(w, "      </Item>");
}

fn hardware(w: &mut String, d: &Descriptor, c: &Config) {
    let a = c.arch.name();
    let _ = writeln!(w, r#"    <VirtualHardwareSection ovf:id="{a}">"#);
    let _ = writeln!(w, "      <Info>Virtual hardware for {a}</Info>");
    let _ = writeln!(
        w,
        "      <System>
        <vssd:ElementName>{a} virtual hardware</vssd:ElementName>
        <vssd:InstanceID>{a}</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>{n}-{a}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>{t}</vssd:VirtualSystemType>
      </System>",
        n = esc(&d.name),
        t = c.arch.virtual_system_type()
    );
    let id = |n: u32| format!("{a}-{n}");
    item(
        w,
        a,
        &[
            ("Description", "Number of virtual CPUs".into()),
            ("ElementName", format!("{} virtual CPU(s)", c.cpus)),
            ("InstanceID", id(1)),
            ("ResourceType", "3".into()),
            ("VirtualQuantity", c.cpus.to_string()),
        ],
    );
    item(
        w,
        a,
        &[
            ("AllocationUnits", "byte * 2^20".into()),
            ("Description", "Memory size".into()),
            ("ElementName", format!("{} MiB of memory", c.memory >> 20)),
            ("InstanceID", id(2)),
            ("ResourceType", "4".into()),
            ("VirtualQuantity", (c.memory >> 20).to_string()),
        ],
    );
    item(
        w,
        a,
        &[
            ("Description", "virtio block devices".into()),
            ("ElementName", "virtio controller".into()),
            ("InstanceID", id(3)),
            ("ResourceSubType", "virtio".into()),
            ("ResourceType", "20".into()),
        ],
    );
    for (unit, disk) in c.disks.iter().enumerate() {
        item(
            w,
            a,
            &[
                ("AddressOnParent", unit.to_string()),
                ("ElementName", format!("disk {unit} ({disk})")),
                ("HostResource", format!("ovf:/disk/{disk}")),
                ("InstanceID", id(4 + unit as u32)),
                ("Parent", id(3)),
                ("ResourceType", "17".into()),
            ],
        );
    }
    if c.network {
        item(
            w,
            a,
            &[
                ("AutomaticAllocation", "true".into()),
                ("Connection", NAT_NETWORK.into()),
                ("Description", "virtio network card".into()),
                ("ElementName", "network card".into()),
                ("InstanceID", id(4 + c.disks.len() as u32)),
                ("ResourceSubType", "virtio".into()),
                ("ResourceType", "10".into()),
            ],
        );
    }
    let _ = writeln!(
        w,
        r#"      <aerie:ArchitectureSection ovf:required="false">
        <aerie:Info>Guest architecture and kernel command line of this configuration</aerie:Info>
        <aerie:Architecture>{a}</aerie:Architecture>
        <aerie:KernelCommandLine>{}</aerie:KernelCommandLine>
      </aerie:ArchitectureSection>"#,
        esc(&c.cmdline)
    );
    let _ = writeln!(w, "    </VirtualHardwareSection>");
}
