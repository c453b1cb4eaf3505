//! The host disk: one raw image file QEMU gives Aerie's machine as a
//! virtio-blk device; each VM with a `[vm.disk]` region sees its slice of it.
//! The default file persists across runs, so what a guest writes survives a VM
//! reboot and an Aerie restart.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::paths;

/// Size of a newly created host disk (larger if the VMs' regions need it).
pub const DEFAULT_SIZE: u64 = 256 << 20;

/// `target/aerie/disk.img`: the host disk unless `--disk FILE` names another.
pub fn default_path() -> PathBuf {
    paths::aerie_dir().join("disk.img")
}

/// Why the host disk cannot serve the configured regions.
#[derive(Debug)]
pub enum DiskError {
    /// An existing file is smaller than the regions need: a config problem.
    TooSmall {
        path: PathBuf,
        len: u64,
        needed: u64,
    },
    Io(anyhow::Error),
}

/// Makes sure `path` exists and holds at least `needed` bytes: a missing file
/// is created sparse (zeros) at `max(DEFAULT_SIZE, needed)`; an existing one is
/// never resized, since it may be someone's data.
pub fn ensure(path: &Path, needed: u64) -> Result<(), DiskError> {
    match std::fs::metadata(path) {
        Ok(m) if m.len() >= needed => Ok(()),
        Ok(m) => Err(DiskError::TooSmall {
            path: path.to_path_buf(),
            len: m.len(),
            needed,
        }),
        Err(_) => create(path, DEFAULT_SIZE.max(needed)).map_err(DiskError::Io),
    }
}

/// Creates (or empties) `path` as a sparse all-zero file of `size` bytes.
pub fn create(path: &Path, size: u64) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.set_len(size)
        .with_context(|| format!("sizing {} to {size} bytes", path.display()))
}

/// Whether the host disk `path` (if any) can go where `board` takes it: a
/// board must have one Aerie drives, and an SD card (the boards with a card
/// slot for it) must be a power of two in size, which QEMU 10.0's SD card
/// model insists on.
pub fn fits_board(path: Option<&Path>, board: crate::board::Board) -> Result<(), String> {
    if path.is_some() && !board.takes_disk() {
        return Err(format!(
            "the {} has no disk Aerie drives, so a VM's disk region cannot be served: give its VMs no [vm.disk]",
            board.name()
        ));
    }
    let (Some(path), Some(_)) = (path, board.sd_card_slot()) else {
        return Ok(());
    };
    let len = std::fs::metadata(path)
        .map_err(|e| format!("host disk {}: {e}", path.display()))?
        .len();
    if !len.is_power_of_two() {
        return Err(format!(
            "host disk {}: {len} bytes; on --board {} it is an SD card, whose size QEMU needs to be a power of two (e.g. `truncate -s 512M`)",
            path.display(),
            board.name()
        ));
    }
    Ok(())
}

/// QEMU's `-drive` option value for `path` (commas in a file name are doubled,
/// QEMU's escape).
pub fn drive_option(path: &Path) -> String {
    format!("if=none,file={},format=raw,id=hostdisk", file_option(path))
}

/// QEMU's `-drive` option value for `path` as the SD card in `slot`
/// (`bus=` or `index=`, as the board numbers its slots).
pub fn sd_drive_option(path: &Path, slot: &str) -> String {
    format!(
        "if=sd,{slot},file={},format=raw,id=sdcard",
        file_option(path)
    )
}

/// `path` as a `-drive` option's `file=` value: commas doubled.
fn file_option(path: &Path) -> String {
    path.to_string_lossy().replace(',', ",,")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sd_card_must_be_a_power_of_two() {
        use crate::board::Board;
        let dir = std::env::temp_dir().join(format!("xtask-sd-{}", std::process::id()));
        let (pow, odd) = (dir.join("pow.img"), dir.join("odd.img"));
        create(&pow, 64 << 20).unwrap();
        create(&odd, 100 << 20).unwrap();
        assert!(fits_board(Some(&pow), Board::Imx8mpEvk).is_ok());
        let e = fits_board(Some(&odd), Board::Imx8mpEvk).unwrap_err();
        assert!(e.contains("power of two") && e.contains("104857600"), "{e}");
        // virtio takes any size; no disk is always fine.
        assert!(fits_board(Some(&odd), Board::Virt).is_ok());
        assert!(fits_board(None, Board::Imx8mpEvk).is_ok());
        // The Raspberry Pi 4's card slot too.
        assert!(fits_board(Some(&pow), Board::Raspi4b).is_ok());
        assert!(fits_board(Some(&odd), Board::Raspi4b).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn created_sparse_kept_and_never_shrunk_or_grown() {
        let dir = std::env::temp_dir().join(format!("xtask-disk-{}", std::process::id()));
        let path = dir.join("d.img");
        ensure(&path, 1 << 20).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), DEFAULT_SIZE);
        // Data survives a second ensure.
        std::fs::write(&path, b"marker").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(DEFAULT_SIZE)
            .unwrap();
        ensure(&path, DEFAULT_SIZE).unwrap();
        assert_eq!(&std::fs::read(&path).unwrap()[..6], b"marker");
        // Too small for the regions: an error, the file untouched.
        match ensure(&path, DEFAULT_SIZE + 1) {
            Err(DiskError::TooSmall { len, needed, .. }) => {
                assert_eq!((len, needed), (DEFAULT_SIZE, DEFAULT_SIZE + 1))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::metadata(&path).unwrap().len(), DEFAULT_SIZE);
        // A new file grows to what the regions need.
        let big = dir.join("big.img");
        ensure(&big, 300 << 20).unwrap();
        assert_eq!(std::fs::metadata(&big).unwrap().len(), 300 << 20);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn drive_option_escapes_commas() {
        assert_eq!(
            drive_option(Path::new("/a,b/disk.img")),
            "if=none,file=/a,,b/disk.img,format=raw,id=hostdisk"
        );
    }
}
