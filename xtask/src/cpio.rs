//! A writer for the cpio "newc" format (magic `070701`), the format Linux
//! unpacks as an initramfs (Documentation/driver-api/early-userspace/
//! buffer-format.rst). Uncompressed: the kernel accepts that, and the archive is
//! small.
//!
//! Each entry is a 110-byte ASCII header (the magic and 13 eight-digit hex
//! fields), the NUL-terminated name padded so header + name is a multiple of 4,
//! then the data padded to a multiple of 4. The archive ends with an entry named
//! `TRAILER!!!`.
//!
//! The kernel does not create missing parent directories and applies entries in
//! order, so [`Archive`] adds every parent directory itself and writes entries
//! sorted by path: a directory's name sorts before any path below it. Every
//! file is dated [`MTIME`] and inode numbers are sequential, so the same
//! inputs give the same bytes.

use std::collections::BTreeMap;

const MAGIC: &str = "070701";
const TRAILER: &str = "TRAILER!!!";
/// File type bits of `st_mode` (Linux `include/uapi/linux/stat.h`).
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

/// What an archive path holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Dir,
    File(Vec<u8>),
    /// The link target.
    Symlink(String),
    /// A character device `major:minor` (e.g. `/dev/console` is 5:1).
    CharDevice {
        major: u32,
        minor: u32,
    },
}

/// An entry: its node and permission bits (`0o755`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub node: Node,
    pub perm: u32,
}

/// An initramfs being assembled; paths are absolute (`/bin/busybox`).
#[derive(Clone, Debug, Default)]
pub struct Archive {
    /// Keyed by the path without its leading `/`.
    entries: BTreeMap<String, Entry>,
}

fn key(path: &str) -> String {
    path.trim_matches('/').to_string()
}

impl Archive {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `path` and any missing parent directories (mode 0755).
    fn insert(&mut self, path: &str, node: Node, perm: u32) {
        let k = key(path);
        assert!(!k.is_empty(), "cpio: the root cannot be an entry");
        let mut parent = String::new();
        for part in k.split('/').take(k.split('/').count() - 1) {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            self.entries.entry(parent.clone()).or_insert(Entry {
                node: Node::Dir,
                perm: 0o755,
            });
        }
        self.entries.insert(k, Entry { node, perm });
    }

    pub fn dir(&mut self, path: &str, perm: u32) {
        self.insert(path, Node::Dir, perm);
    }

    pub fn file(&mut self, path: &str, perm: u32, data: Vec<u8>) {
        self.insert(path, Node::File(data), perm);
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        self.insert(path, Node::Symlink(target.into()), 0o777);
    }

    pub fn char_device(&mut self, path: &str, perm: u32, major: u32, minor: u32) {
        self.insert(path, Node::CharDevice { major, minor }, perm);
    }

    /// The entry at `path`, if any.
    #[cfg(test)]
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(&key(path))
    }

    /// Serialises the archive, trailer included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (ino, (name, entry)) in self.entries.iter().enumerate() {
            let (kind, data, nlink, rdev): (u32, &[u8], u32, (u32, u32)) = match &entry.node {
                Node::Dir => (S_IFDIR, &[], 2, (0, 0)),
                Node::File(d) => (S_IFREG, d, 1, (0, 0)),
                Node::Symlink(t) => (S_IFLNK, t.as_bytes(), 1, (0, 0)),
                Node::CharDevice { major, minor } => (S_IFCHR, &[], 1, (*major, *minor)),
            };
            let header = Header {
                ino: ino as u32 + 1,
                mode: kind | (entry.perm & 0o7777),
                nlink,
                rdev,
                filesize: data.len() as u32,
            };
            write_entry(&mut out, &header, name, data);
        }
        let trailer = Header {
            ino: 0,
            mode: 0,
            nlink: 1,
            rdev: (0, 0),
            filesize: 0,
        };
        write_entry(&mut out, &trailer, TRAILER, &[]);
        out
    }
}

/// Every entry's modification time: fixed, for reproducible archives, and 1
/// rather than 0, which some programs read as "never written" (vmtoolsd
/// loads its tools.conf only if it is newer than time 0).
const MTIME: u32 = 1;

/// The header fields that vary here (uid, gid, dev and check are 0; mtime is
/// [`MTIME`]).
struct Header {
    ino: u32,
    mode: u32,
    nlink: u32,
    rdev: (u32, u32),
    filesize: u32,
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn write_entry(out: &mut Vec<u8>, h: &Header, name: &str, data: &[u8]) {
    // Each entry starts 4-byte aligned, so padding the absolute length pads
    // header + name and the data as the format requires.
    debug_assert_eq!(out.len() % 4, 0);
    let fields = [
        h.ino,
        h.mode,
        0, // uid: root
        0, // gid: root
        h.nlink,
        MTIME,
        h.filesize,
        0, // devmajor
        0, // devminor
        h.rdev.0,
        h.rdev.1,
        name.len() as u32 + 1, // namesize counts the NUL
        0,                     // check: only for the "070702" CRC format
    ];
    out.extend_from_slice(MAGIC.as_bytes());
    for f in fields {
        out.extend_from_slice(format!("{f:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal newc reader: (name, mode, rdevmajor, rdevminor, data) per entry.
    fn read(mut b: &[u8]) -> Vec<(String, u32, u32, u32, Vec<u8>)> {
        let total = b.len();
        let mut out = vec![];
        loop {
            assert_eq!((total - b.len()) % 4, 0, "entry not 4-byte aligned");
            assert_eq!(&b[..6], b"070701");
            let field = |i: usize| {
                u32::from_str_radix(std::str::from_utf8(&b[6 + 8 * i..14 + 8 * i]).unwrap(), 16)
                    .unwrap()
            };
            let (mode, size, rmaj, rmin, namesize) =
                (field(1), field(6), field(9), field(10), field(11));
            let name = std::str::from_utf8(&b[110..110 + namesize as usize - 1])
                .unwrap()
                .to_string();
            assert_eq!(b[110 + namesize as usize - 1], 0, "name NUL");
            let data_at = (110 + namesize as usize).div_ceil(4) * 4;
            let data = b[data_at..data_at + size as usize].to_vec();
            let next = (data_at + size as usize).div_ceil(4) * 4;
            b = &b[next..];
            if name == TRAILER {
                assert!(b.is_empty(), "bytes after the trailer");
                return out;
            }
            out.push((name, mode, rmaj, rmin, data));
        }
    }

    #[test]
    fn header_layout_matches_the_format() {
        let mut a = Archive::new();
        a.file("/init", 0o755, b"#!/bin/sh\n".to_vec());
        let bytes = a.to_bytes();
        // ino 1, mode 0100755, uid 0, gid 0, nlink 1, mtime 1, size 10, ...,
        // namesize 5 ("init" + NUL).
        let expect = [
            "070701", "00000001", "000081ED", "00000000", "00000000", "00000001", "00000001",
            "0000000A", "00000000", "00000000", "00000000", "00000000", "00000005", "00000000",
        ]
        .concat();
        assert_eq!(&bytes[..110], expect.as_bytes());
        // 110 + 5 = 115 -> name padded to 116, data 10 bytes padded to 12.
        assert_eq!(&bytes[110..116], b"init\0\0");
        assert_eq!(&bytes[116..126], b"#!/bin/sh\n");
        assert_eq!(&bytes[126..128], b"\0\0");
        assert_eq!(&bytes[128..134], b"070701");
    }

    #[test]
    fn parents_first_and_every_kind_round_trips() {
        let mut a = Archive::new();
        a.file(
            "/lib/modules/6.1/kernel/virtio_mmio.ko",
            0o644,
            vec![1, 2, 3],
        );
        a.symlink("/bin/sh", "busybox");
        a.char_device("/dev/console", 0o600, 5, 1);
        a.file("/bin/busybox", 0o755, vec![0x7f, b'E', b'L', b'F', 9]);
        a.dir("/proc", 0o555);
        let entries = read(&a.to_bytes());
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin",
                "bin/busybox",
                "bin/sh",
                "dev",
                "dev/console",
                "lib",
                "lib/modules",
                "lib/modules/6.1",
                "lib/modules/6.1/kernel",
                "lib/modules/6.1/kernel/virtio_mmio.ko",
                "proc"
            ]
        );
        let by = |n: &str| entries.iter().find(|e| e.0 == n).unwrap();
        assert_eq!(by("bin").1, 0o040755);
        assert_eq!(by("bin/sh").1, 0o120777);
        assert_eq!(by("bin/sh").4, b"busybox");
        assert_eq!(
            (
                by("dev/console").1,
                by("dev/console").2,
                by("dev/console").3
            ),
            (0o020600, 5, 1)
        );
        assert_eq!(by("bin/busybox").4, [0x7f, b'E', b'L', b'F', 9]);
        assert_eq!(by("proc").1, 0o040555);
    }

    #[test]
    fn explicit_dir_mode_survives_later_children() {
        let mut a = Archive::new();
        a.dir("/root", 0o700);
        a.file("/root/.profile", 0o644, vec![]);
        assert_eq!(a.get("/root").unwrap().perm, 0o700);
        assert!(read(&a.to_bytes()).iter().any(|e| e.0 == "root/.profile"));
    }

    #[test]
    fn empty_archive_is_just_the_trailer() {
        let bytes = Archive::new().to_bytes();
        assert_eq!(bytes.len(), 124); // 110 + "TRAILER!!!\0" (11) padded to 124
        assert!(read(&bytes).is_empty());
    }
}
