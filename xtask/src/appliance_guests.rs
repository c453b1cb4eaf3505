//! The example appliance's guests (issue 6): Debian's arm64 and amd64
//! kernels and a busybox initramfs per architecture whose /init prints the
//! architecture it runs on and powers off.
//!
//! The arm64 kernel and busybox are the Linux guest's (`guest_pkgs`); the
//! amd64 ones are downloaded the same way (`apt-get download`, `dpkg-deb
//! -x`) into `target/guest-cache/amd64/`. Outputs, which
//! `appliance/examples/hello.toml` names:
//! `target/aerie/appliance/<arch>/vmlinuz` and `.../initrd.img`, and the
//! aarch64 configuration's data disks `target/aerie/appliance/aarch64/data.img`
//! and `data2.img` (1 MiB each: [`DATA_LINE`] or [`DATA2_LINE`], then zeros).
//!
//! The aarch64 /init also looks for those disks and prints their first lines, and
//! both look for the network card the example's configurations have and ping
//! the NAT network's gateway (10.0.2.2: QEMU's user-mode network, straight
//! or through Aerie's uplink): the initramfs carries the virtio modules (MMIO
//! for Aerie, PCI for QEMU) the kernel builds as modules, and /init loads
//! them with busybox `insmod`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::cmd::step;
use crate::cpio::Archive;
use crate::guest_pkgs;
use crate::kmod;
use crate::linux::{one_file, write_if_changed};
use crate::paths;

const AMD64_KERNEL_META: &str = "linux-image-amd64";

/// `target/aerie/appliance/<arch>/`.
pub fn arch_dir(arch: &str) -> PathBuf {
    paths::aerie_dir().join("appliance").join(arch)
}

fn amd64_dir(name: &str) -> PathBuf {
    guest_pkgs::cache_dir().join("amd64").join(name)
}

/// The amd64 kernel package `linux-image-amd64` depends on.
fn amd64_kernel_package() -> Result<String> {
    guest_pkgs::kernel_package_named_by(AMD64_KERNEL_META)
}

/// Whether the amd64 kernel and busybox are unpacked (for `setup`).
pub fn present() -> Result<bool> {
    let Ok(kernel) = amd64_kernel_package() else {
        return Ok(false);
    };
    Ok([kernel.as_str(), guest_pkgs::BUSYBOX_PACKAGE]
        .iter()
        .all(|p| guest_pkgs::is_unpacked_dir(&amd64_dir(p))))
}

/// Downloads and unpacks the amd64 kernel and busybox (for `setup`).
pub fn install() -> Result<()> {
    let kernel = amd64_kernel_package()?;
    for name in [kernel.as_str(), guest_pkgs::BUSYBOX_PACKAGE] {
        let dir = amd64_dir(name);
        if !guest_pkgs::is_unpacked_dir(&dir) {
            guest_pkgs::download_and_unpack(name, "amd64", &dir)?;
        }
    }
    Ok(())
}

/// The first line of the aarch64 configuration's data disk, which its /init
/// prints (`appliance: data disk says aerie-appliance-data-ok (/dev/vdb)`).
pub const DATA_LINE: &str = "aerie-appliance-data-ok\n";
/// The first line of its second data disk.
pub const DATA2_LINE: &str = "aerie-appliance-data2-ok\n";
/// The data disk's size: 1 MiB.
const DATA_BYTES: usize = 1 << 20;

/// The drivers the aarch64 guest needs for the data disk and the network
/// card: (config symbol, module name). virtio-mmio is Aerie's transport,
/// virtio-pci QEMU's (`deploy` puts every disk on virtio-blk-pci and the
/// card on virtio-net-pci); the device drivers come last so they bind the
/// devices of both.
const AARCH64_DRIVERS: [(&str, &str); 4] = [
    ("CONFIG_VIRTIO_MMIO", "virtio_mmio"),
    ("CONFIG_VIRTIO_PCI", "virtio_pci"),
    ("CONFIG_VIRTIO_BLK", "virtio_blk"),
    ("CONFIG_VIRTIO_NET", "virtio_net"),
];

/// The x86-64 guest's: only the network card (QEMU, virtio-pci).
const X86_64_DRIVERS: [(&str, &str); 2] = [
    ("CONFIG_VIRTIO_PCI", "virtio_pci"),
    ("CONFIG_VIRTIO_NET", "virtio_net"),
];

/// /init's start: /proc for `uname`.
const INIT_START: &str = "#!/bin/sh
/bin/busybox mount -t proc proc /proc
";

/// The data disks: the virtio disks with no partitions (on a UEFI target
/// the GPT system disk is a virtio disk too, `vda`, and the data disks
/// follow; on Aerie the data disks are all there are). Probing may finish
/// after `insmod` returns, so it waits (up to 3 s) until the list is not
/// empty and the same twice in a row. devtmpfs makes the device nodes
/// (`mknod` from sysfs if it did not). Each prints its first line.
const INIT_DATA_DISK: &str = r#"bb=/bin/busybox
data_disks() {
    for b in /sys/block/vd*; do
        [ -e "$b/dev" ] || continue
        name=${b##*/}
        parted=
        for p in "$b/$name"*; do
            [ -e "$p/partition" ] && parted=1
        done
        [ -z "$parted" ] && echo "$name"
    done
}
disks=
seen=
tries=0
while [ "$tries" -lt 30 ]; do
    disks=$(data_disks)
    [ -n "$disks" ] && [ "$disks" = "$seen" ] && break
    seen=$disks
    tries=$((tries + 1))
    $bb sleep 0.1
done
for disk in $disks; do
    if [ ! -b "/dev/$disk" ]; then
        IFS=: read -r major minor < "/sys/block/$disk/dev"
        $bb mknod "/dev/$disk" b "$major" "$minor"
    fi
    echo "appliance: data disk says $($bb head -c 64 "/dev/$disk" | $bb head -n 1) (/dev/$disk)"
done
[ -n "$disks" ] || echo "appliance: no data disk"
"#;

/// The network card: `eth0` once its driver has probed (up to 3 s), with
/// the address QEMU's DHCP would give; then one ping to the gateway.
const INIT_NETWORK: &str = r#"bb=/bin/busybox
tries=0
while [ ! -e /sys/class/net/eth0 ] && [ "$tries" -lt 30 ]; do
    tries=$((tries + 1))
    $bb sleep 0.1
done
if [ -e /sys/class/net/eth0 ]; then
    $bb ip link set eth0 up
    $bb ip addr add 10.0.2.15/24 dev eth0
    if $bb ping -c 1 -W 5 10.0.2.2 > /dev/null; then
        echo "appliance: network: 10.0.2.2 answers"
    else
        echo "appliance: network: 10.0.2.2 does not answer"
    fi
else
    echo "appliance: no network card"
fi
"#;

/// /init's end: say where it runs, power off.
const INIT_END: &str = "echo \"appliance: hello running on $(/bin/busybox uname -m)\"
/bin/busybox poweroff -f
";

/// /init: it mounts sysfs and devtmpfs and loads `modules` (archive paths,
/// in order), reports the data disk if `data_disk`, then the network card,
/// and says hello.
fn init_script(modules: &[String], data_disk: bool) -> String {
    let mut s = INIT_START.to_string();
    s.push_str(
        "/bin/busybox mount -t sysfs sysfs /sys\n\
         /bin/busybox mount -t devtmpfs devtmpfs /dev\n",
    );
    for m in modules {
        s.push_str(&format!(
            "/bin/busybox insmod {m} || echo \"appliance: insmod {m} failed\"\n"
        ));
    }
    if data_disk {
        s.push_str(INIT_DATA_DISK);
    }
    s.push_str(INIT_NETWORK);
    s.push_str(INIT_END);
    s
}

/// The initramfs around one architecture's busybox, with `modules` (archive
/// path, contents) and the /init of [`init_script`].
fn initramfs(busybox: Vec<u8>, modules: Vec<(String, Vec<u8>)>, data_disk: bool) -> Vec<u8> {
    let mut a = Archive::new();
    for dir in ["/proc", "/sys", "/dev", "/bin"] {
        a.dir(dir, 0o755);
    }
    a.char_device("/dev/console", 0o600, 5, 1);
    a.file("/bin/busybox", 0o755, busybox);
    a.symlink("/bin/sh", "busybox");
    let mut paths = Vec::new();
    for (path, bytes) in modules {
        a.file(&path, 0o644, bytes);
        paths.push(path);
    }
    a.file("/init", 0o755, init_script(&paths, data_disk).into_bytes());
    a.to_bytes()
}

/// The modules (archive path, contents; in load order) the kernel unpacked
/// in `kdir` needs for `drivers`.
fn modules_for(
    kdir: &Path,
    vmlinuz: &Path,
    drivers: &[(&str, &str)],
) -> Result<Vec<(String, Vec<u8>)>> {
    let release = kmod::release_of(vmlinuz)?;
    let modules = kmod::read_modules(kdir, &release, drivers)?;
    Ok(modules
        .into_iter()
        .map(|(rel, bytes)| (format!("/lib/modules/{release}/{rel}"), bytes))
        .collect())
}

/// A data disk's bytes: `line`, zeros to [`DATA_BYTES`].
fn data_image(line: &str) -> Vec<u8> {
    let mut bytes = line.as_bytes().to_vec();
    bytes.resize(DATA_BYTES, 0);
    bytes
}

/// Builds both architectures' kernel copies and initramfs images, and the
/// aarch64 data disk.
pub fn build() -> Result<()> {
    let amd64_kernel = amd64_dir(&amd64_kernel_package()?);
    let amd64_vmlinuz = one_file(&amd64_kernel.join("boot"), "vmlinuz-")?;
    let amd64_modules = modules_for(&amd64_kernel, &amd64_vmlinuz, &X86_64_DRIVERS)?;
    let arm64_kernel = guest_pkgs::unpacked_dir(&guest_pkgs::kernel_package()?);
    let arm64_vmlinuz = one_file(&arm64_kernel.join("boot"), "vmlinuz-")?;
    let arm64_modules = modules_for(&arm64_kernel, &arm64_vmlinuz, &AARCH64_DRIVERS)?;
    let names = |modules: &[(String, Vec<u8>)]| {
        let names: Vec<&str> = modules.iter().map(|(p, _)| kmod::file_name(p)).collect();
        if names.is_empty() {
            "none needed".to_string()
        } else {
            names.join(" ")
        }
    };
    let summary = format!(
        "appliance guests: {} (data.img, data2.img; modules: {}) and {} (modules: {})",
        paths::show(&arch_dir("aarch64")),
        names(&arm64_modules),
        paths::show(&arch_dir("x86_64")),
        names(&amd64_modules)
    );
    let inputs = [
        (
            "aarch64",
            arm64_vmlinuz,
            guest_pkgs::unpacked_dir(guest_pkgs::BUSYBOX_PACKAGE).join("bin/busybox"),
            arm64_modules,
            true,
        ),
        (
            "x86_64",
            amd64_vmlinuz,
            amd64_dir(guest_pkgs::BUSYBOX_PACKAGE).join("bin/busybox"),
            amd64_modules,
            false,
        ),
    ];
    for (arch, kernel, busybox, modules, data_disk) in inputs {
        let dir = arch_dir(arch);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let kernel_bytes =
            std::fs::read(&kernel).with_context(|| format!("reading {}", kernel.display()))?;
        write_if_changed(&dir.join("vmlinuz"), &kernel_bytes)?;
        let busybox =
            std::fs::read(&busybox).with_context(|| format!("reading {}", busybox.display()))?;
        if data_disk {
            write_if_changed(&dir.join("data.img"), &data_image(DATA_LINE))?;
            write_if_changed(&dir.join("data2.img"), &data_image(DATA2_LINE))?;
        }
        write_if_changed(
            &dir.join("initrd.img"),
            &initramfs(busybox, modules, data_disk),
        )?;
    }
    step(summary);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initramfs_has_init_busybox_and_console() {
        let bytes = initramfs(b"\x7fELF busybox".to_vec(), Vec::new(), false);
        let text = String::from_utf8_lossy(&bytes);
        for name in ["init", "bin/busybox", "dev/console", "bin/sh"] {
            assert!(text.contains(name), "{name} missing");
        }
        let init = init_script(&[], false);
        assert!(init.contains("uname -m") && init.ends_with("poweroff -f\n"));
        assert!(!init.contains("data disk") && !init.contains("insmod"));
        // The network card is looked for on every architecture.
        assert!(init.find("ping -c 1 -W 5 10.0.2.2") < init.find("hello running on"));
    }

    #[test]
    fn aarch64_initramfs_loads_modules_and_reads_the_data_disk() {
        let modules = vec![
            (
                "/lib/modules/6.1.0-56-arm64/kernel/drivers/virtio/virtio_mmio.ko".to_string(),
                b"mmio".to_vec(),
            ),
            (
                "/lib/modules/6.1.0-56-arm64/kernel/drivers/block/virtio_blk.ko".to_string(),
                b"blk".to_vec(),
            ),
        ];
        let bytes = initramfs(b"\x7fELF busybox".to_vec(), modules, true);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("lib/modules/6.1.0-56-arm64/kernel/drivers/virtio/virtio_mmio.ko"));
        let paths: Vec<String> = [
            "/lib/modules/6.1.0-56-arm64/kernel/drivers/virtio/virtio_mmio.ko",
            "/lib/modules/6.1.0-56-arm64/kernel/drivers/block/virtio_blk.ko",
        ]
        .map(String::from)
        .to_vec();
        let init = init_script(&paths, true);
        assert!(text.contains(&init), "the archive holds this /init");
        let pos = |needle: &str| {
            init.find(needle)
                .unwrap_or_else(|| panic!("{needle} missing from:\n{init}"))
        };
        // sysfs and devtmpfs, the modules in order, the disk, then hello.
        assert!(pos("mount -t sysfs") < pos("insmod /lib/modules"));
        assert!(pos("mount -t devtmpfs") < pos("insmod /lib/modules"));
        assert!(pos("virtio_mmio.ko") < pos("virtio_blk.ko"));
        assert!(pos("virtio_blk.ko") < pos("/sys/block/vd*"));
        assert!(pos("appliance: data disk says") < pos("appliance: hello running on"));
        assert!(pos("appliance: no data disk") < pos("appliance: network:"));
        assert!(pos("appliance: network:") < pos("appliance: hello running on"));
        assert!(init.ends_with("poweroff -f\n"));
    }

    #[test]
    fn data_image_is_one_line_then_zeros() {
        let img = data_image(DATA_LINE);
        assert_eq!(img.len(), 1 << 20);
        assert!(img.starts_with(b"aerie-appliance-data-ok\n"));
        assert!(img[DATA_LINE.len()..].iter().all(|&b| b == 0));
        assert!(data_image(DATA2_LINE).starts_with(b"aerie-appliance-data2-ok\n"));
    }
}
