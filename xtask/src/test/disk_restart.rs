//! `linux-disk-restart`: what a VM writes to its disk survives an Aerie
//! restart. Run 1 (tests/configs/linux-disk-write.toml) writes a marker and
//! 256 KiB of data (tests/linux/disk-restart.sh) and powers off, which ends
//! QEMU. The test then reads the host disk file itself: the marker and data
//! must sit at the VM's region offset and every byte outside the region must
//! still be zero. Run 2 (linux-disk-verify.toml) is a new QEMU and Aerie on the
//! same file; the VM must read back what run 1 wrote.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use aerie_vmconfig::DiskRegion;

use super::{clean_exit, fresh_disk, run_aerie, test_config, AerieRun, LINUX_TIMEOUT};
use crate::output;
use crate::run::Guest;

const NAME: &str = "linux-disk-restart";
const WRITE_CONFIG: &str = "linux-disk-write.toml";
const VERIFY_CONFIG: &str = "linux-disk-verify.toml";
/// Where disk-restart.sh puts its data in the region, and how much.
const DATA_OFFSET: u64 = 4096;
const DATA_BYTES: usize = 262_144;

pub fn linux_disk_restart() -> Result<(), String> {
    let write_config = test_config(WRITE_CONFIG);
    let region = vm_region(&write_config)?;
    let disk = fresh_disk(NAME)?;
    let run = |log, config| AerieRun::new(log, Guest::Config(config), &disk, LINUX_TIMEOUT);

    let mut written = None;
    run_aerie(
        &run("linux-disk-restart.write", write_config),
        |status, out| {
            let w = output::disk_token(out, "written")
                .ok_or("no `check: disk written token=<T> md5=<M>` line")?;
            clean_exit(status, out)?;
            written = Some(w);
            Ok(())
        },
    )
    .map_err(|e| format!("run 1 (aerie.disk=write): {e}"))?;
    let (token, md5) = written.expect("set when run 1 passed");

    check_host_disk(&disk, region, &token, &md5)
        .map_err(|e| format!("after run 1, host disk {}: {e}", disk.display()))?;

    let verify = run("linux-disk-restart.verify", test_config(VERIFY_CONFIG));
    run_aerie(&verify, |status, out| {
        match output::disk_token(out, "persisted") {
            Some((t, m)) if t == token && m == md5 => {}
            Some((t, m)) => {
                return Err(format!(
                    "read back token={t} md5={m}, run 1 wrote token={token} md5={md5}"
                ))
            }
            None => {
                let why = output::line_index(out, 0, &["check: disk not persisted"])
                    .and_then(|i| out.lines().nth(i))
                    .unwrap_or("no `check: disk persisted` line");
                return Err(why.trim_end().to_string());
            }
        }
        clean_exit(status, out)
    })
    .map_err(|e| format!("run 2 (aerie.disk=verify, new QEMU on the same disk): {e}"))
}

/// The disk region of the config's only VM; both runs must use the same one.
fn vm_region(config: &Path) -> Result<DiskRegion, String> {
    let c = aerie_vmconfig::load(config).map_err(|e| e.to_string())?;
    c.vms
        .first()
        .and_then(|vm| vm.disks.first().copied())
        .ok_or_else(|| format!("{}: the VM has no [vm.disk]", config.display()))
}

/// The file holds run 1's marker and data at the region's offset and zeros
/// everywhere outside the region.
fn check_host_disk(disk: &Path, region: DiskRegion, token: &str, md5: &str) -> Result<(), String> {
    let mut f = File::open(disk).map_err(|e| format!("open: {e}"))?;
    let mut read_at = |offset: u64, len: usize| -> Result<Vec<u8>, String> {
        let mut buf = vec![0; len];
        f.seek(SeekFrom::Start(offset))
            .and_then(|_| f.read_exact(&mut buf))
            .map_err(|e| format!("reading {len} bytes at {offset:#x}: {e}"))?;
        Ok(buf)
    };
    let sector = read_at(region.offset, 512)?;
    let data = read_at(region.offset + DATA_OFFSET, DATA_BYTES)?;
    region_holds(&sector, &data, token, md5)
        .map_err(|e| format!("region at {:#x}: {e}", region.offset))?;

    let len = std::fs::metadata(disk).map_err(|e| e.to_string())?.len();
    let end = region.offset + region.size;
    for (from, to) in [(0, region.offset), (end, len)] {
        if let Some(at) = first_nonzero(&mut read_at, from, to)? {
            return Err(format!(
                "byte {at:#x} is not zero, outside the VM's region {:#x}..{end:#x}",
                region.offset
            ));
        }
    }
    Ok(())
}

/// Sector 0 of the region starts with the marker line, and the data is the
/// token repeated, one per line, as disk-restart.sh writes it.
fn region_holds(sector: &[u8], data: &[u8], token: &str, md5: &str) -> Result<(), String> {
    let want = format!("AERIE-DISK token={token} md5={md5}\n");
    if !sector.starts_with(want.as_bytes()) {
        let got = String::from_utf8_lossy(&sector[..sector.len().min(want.len())]);
        return Err(format!(
            "sector 0 holds {got:?}, expected the marker {want:?}"
        ));
    }
    let line = format!("{token}\n");
    let expected = line.bytes().cycle().take(data.len());
    if let Some(at) = data.iter().copied().zip(expected).position(|(a, b)| a != b) {
        return Err(format!(
            "data byte {at} (region byte {}) differs from what the VM wrote",
            DATA_OFFSET as usize + at
        ));
    }
    Ok(())
}

/// The first non-zero byte in `from..to`, read in 1 MiB pieces.
fn first_nonzero(
    read_at: &mut impl FnMut(u64, usize) -> Result<Vec<u8>, String>,
    from: u64,
    to: u64,
) -> Result<Option<u64>, String> {
    let mut at = from;
    while at < to {
        let len = (to - at).min(1 << 20) as usize;
        let buf = read_at(at, len)?;
        if let Some(i) = buf.iter().position(|&b| b != 0) {
            return Ok(Some(at + i as u64));
        }
        at += len as u64;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD5: &str = "2c2b561c0d7961eaee0c6cfb462caed8";

    fn written(token: &str) -> (Vec<u8>, Vec<u8>) {
        let mut sector = format!("AERIE-DISK token={token} md5={MD5}\n").into_bytes();
        sector.resize(512, 0);
        let data = format!("{token}\n")
            .bytes()
            .cycle()
            .take(DATA_BYTES)
            .collect();
        (sector, data)
    }

    #[test]
    fn marker_and_data_must_match_run_1() {
        let (sector, data) = written("5581b28d");
        assert!(region_holds(&sector, &data, "5581b28d", MD5).is_ok());
        assert!(region_holds(&sector, &data, "00000000", MD5).is_err());
        assert!(region_holds(&[0; 512], &data, "5581b28d", MD5).is_err());
        let mut torn = data.clone();
        torn[DATA_BYTES - 1] = 0;
        let e = region_holds(&sector, &torn, "5581b28d", MD5).unwrap_err();
        assert!(e.contains(&format!("data byte {}", DATA_BYTES - 1)), "{e}");
    }

    #[test]
    fn nonzero_bytes_are_found_across_pieces() {
        let mut file = vec![0u8; 3 << 20];
        file[(2 << 20) + 5] = 1;
        let mut read_at =
            |o: u64, n: usize| Ok::<_, String>(file[o as usize..o as usize + n].to_vec());
        assert_eq!(
            first_nonzero(&mut read_at, 0, 3 << 20),
            Ok(Some((2 << 20) + 5))
        );
        assert_eq!(first_nonzero(&mut read_at, 0, 2 << 20), Ok(None));
        assert_eq!(
            first_nonzero(&mut read_at, (2 << 20) + 6, 3 << 20),
            Ok(None)
        );
    }

    #[test]
    fn both_runs_boot_the_same_vm_and_region_in_the_two_modes() {
        let w = aerie_vmconfig::load(&test_config(WRITE_CONFIG)).unwrap();
        let v = aerie_vmconfig::load(&test_config(VERIFY_CONFIG)).unwrap();
        assert_eq!((w.vms.len(), v.vms.len()), (1, 1));
        let (w, v) = (&w.vms[0], &v.vms[0]);
        assert!(w.cmdline.contains("aerie.disk=write"), "{}", w.cmdline);
        assert_eq!(
            v.cmdline,
            w.cmdline.replace("aerie.disk=write", "aerie.disk=verify")
        );
        assert_eq!(
            (&v.name, v.vcpus, v.memory, &v.disks),
            (&w.name, w.vcpus, w.memory, &w.disks)
        );
        // A region away from byte 0, so finding the marker at its offset
        // proves Aerie placed the VM's writes there.
        let region = w.disks[0];
        assert!(region.offset > 0);
        assert!(region.offset + region.size <= crate::disk::DEFAULT_SIZE);
        assert!(DATA_OFFSET + DATA_BYTES as u64 <= region.size);
    }
}
