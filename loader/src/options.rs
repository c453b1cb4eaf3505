//! Aerie's command line from the loader's UEFI load options: what follows
//! the program's own name when it is started from the UEFI shell
//! (`fs0:\EFI\BOOT\BOOTAA64.EFI aerie.log=debug`). Firmware boot entries
//! pass other things there (EDK2 puts a binary GUID in the entries it makes
//! itself, which decodes as UCS-2 into anything), so only printable ASCII
//! is taken: all an Aerie command line holds.

use alloc::string::String;

/// The arguments in `options` (UCS-2, little-endian, as the shell passes
/// them), or None when there are none or the options are not text.
pub fn arguments(options: &[u8]) -> Option<String> {
    if !options.len().is_multiple_of(2) {
        return None;
    }
    let units = options
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0);
    let text: String = char::decode_utf16(units).collect::<Result<_, _>>().ok()?;
    if !text
        .chars()
        .all(|c| c == '\t' || c.is_ascii_graphic() || c == ' ')
    {
        return None;
    }
    let text = text.trim();
    // The shell passes the command first; a boot entry may not.
    let mut words = text.splitn(2, char::is_whitespace);
    let first = words.next().unwrap_or("");
    let rest = if first.to_ascii_lowercase().ends_with(".efi") {
        words.next().unwrap_or("")
    } else {
        text
    };
    let rest = rest.trim();
    (!rest.is_empty()).then(|| String::from(rest))
}

#[cfg(test)]
mod tests {
    use super::arguments;
    use alloc::vec::Vec;

    fn ucs2(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    #[test]
    fn the_shells_arguments_follow_the_program() {
        let o = ucs2("FS0:\\EFI\\BOOT\\BOOTAA64.EFI aerie.log=debug aerie.profile=1");
        assert_eq!(
            arguments(&o).as_deref(),
            Some("aerie.log=debug aerie.profile=1")
        );
        assert_eq!(arguments(&ucs2("bootaa64.efi")), None);
        assert_eq!(
            arguments(&ucs2("  aerie.log=warn ")).as_deref(),
            Some("aerie.log=warn")
        );
    }

    #[test]
    fn binary_options_are_not_a_command_line() {
        // EDK2's auto-created boot entries: a GUID.
        let guid = [
            0x58, 0x5c, 0x0e, 0x1a, 0x9c, 0x3a, 0xbe, 0x4a, 0x8c, 0x88, 0xa3, 0x8a, 0x1e, 0x17,
            0x44, 0x06,
        ];
        assert_eq!(arguments(&guid), None);
        assert_eq!(arguments(&[]), None);
        assert_eq!(arguments(&[0x41]), None, "odd length");
        assert_eq!(arguments(&ucs2("a\u{1}b")), None, "control character");
        assert_eq!(arguments(&ucs2("aerie.log=débug")), None, "not ASCII");
    }
}
