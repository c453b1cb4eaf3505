//! The OVF manifest (`NAME.mf`): one `SHA256(file)= hex` line per file.

use anyhow::{bail, Context, Result};

/// File name and lower-case hex SHA-256, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub entries: Vec<(String, String)>,
}

impl Manifest {
    pub fn push(&mut self, file: &str, sha256_hex: &str) {
        self.entries
            .push((file.to_string(), sha256_hex.to_ascii_lowercase()));
    }

    /// The digest listed for `file`.
    pub fn get(&self, file: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(f, _)| f == file)
            .map(|(_, d)| d.as_str())
    }

    pub fn render(&self) -> String {
        self.entries
            .iter()
            .map(|(f, d)| format!("SHA256({f})= {d}\n"))
            .collect()
    }

    /// Parses a manifest; only SHA256 lines are accepted (OVF 2 also allows
    /// SHA1/SHA512, which this tool does not write).
    pub fn parse(text: &str) -> Result<Manifest> {
        let mut m = Manifest::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let parse = || -> Result<(String, String)> {
                let (algo, rest) = line
                    .split_once('(')
                    .context("expected `SHA256(file)= digest`")?;
                if algo != "SHA256" {
                    bail!("digest algorithm `{algo}` is not supported (only SHA256)");
                }
                let (file, digest) = rest
                    .rsplit_once(")=")
                    .context("expected `SHA256(file)= digest`")?;
                let digest = digest.trim();
                if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                    bail!("`{digest}` is not a SHA-256 hex digest");
                }
                Ok((file.to_string(), digest.to_ascii_lowercase()))
            };
            let (file, digest) = parse().with_context(|| format!("manifest line {}", n + 1))?;
            if m.get(&file).is_some() {
                bail!("manifest line {}: `{file}` listed twice", n + 1);
            }
            m.entries.push((file, digest));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut m = Manifest::default();
        m.push("a.ovf", &"AB".repeat(32));
        m.push("a-system.vmdk", &"01".repeat(32));
        let text = m.render();
        assert_eq!(
            text.lines().next().unwrap(),
            format!("SHA256(a.ovf)= {}", "ab".repeat(32))
        );
        assert_eq!(Manifest::parse(&text).unwrap(), m);
        assert_eq!(m.get("a-system.vmdk"), Some("01".repeat(32).as_str()));
    }

    #[test]
    fn rejects() {
        for (t, want) in [
            ("SHA1(a)= 00", "not supported"),
            ("SHA256(a)= xyz", "not a SHA-256"),
            ("garbage", "expected"),
            (
                &format!("SHA256(a)= {0}\nSHA256(a)= {0}", "0".repeat(64)),
                "twice",
            ),
        ] {
            let e = format!("{:#}", Manifest::parse(t).unwrap_err());
            assert!(e.contains(want), "{e}");
        }
    }
}
