//! What `[[vm]]` and `[[world]]` tables share: the name rule, path fields,
//! and errors that name the table.

use std::path::{Path, PathBuf};

use toml::Value;

use crate::error::{ConfigError, ErrorKind, TableKind, TableRef};

/// Longest VM or world name (the boot module stores 31 bytes plus a NUL).
pub const NAME_MAX: usize = 31;

/// Builds errors about one table, naming it once its name is known.
pub(crate) struct Ctx(TableRef);

impl Ctx {
    pub(crate) fn new(kind: TableKind, index: usize) -> Self {
        Ctx(TableRef {
            kind,
            index: u32::try_from(index).unwrap_or(u32::MAX),
            name: None,
        })
    }

    /// A table whose name is known.
    pub(crate) fn named(kind: TableKind, index: usize, name: &str) -> Self {
        let mut ctx = Ctx::new(kind, index);
        ctx.0.name = Some(name.to_string());
        ctx
    }

    pub(crate) fn err(&self, field: &str, kind: ErrorKind) -> ConfigError {
        ConfigError {
            file: None,
            table: Some(self.0.clone()),
            field: Some(field.to_string()),
            kind,
        }
    }

    pub(crate) fn wrong_type(&self, field: &str, expected: &'static str, v: &Value) -> ConfigError {
        self.err(
            field,
            ErrorKind::WrongType {
                expected,
                found: v.type_str(),
            },
        )
    }

    /// The array element as a table, then its checked `name`, which every
    /// later error shows.
    pub(crate) fn open<'a>(
        &mut self,
        value: &'a Value,
    ) -> Result<(&'a toml::Table, String), ConfigError> {
        let Value::Table(table) = value else {
            let expected = match self.0.kind {
                TableKind::Vm => "a table ([[vm]])",
                TableKind::World => "a table ([[world]])",
            };
            return Err(self.wrong_type(self.0.kind.key(), expected, value));
        };
        let name = match table.get("name") {
            None => return Err(self.err("name", ErrorKind::MissingField)),
            Some(Value::String(s)) => s.clone(),
            Some(v) => return Err(self.wrong_type("name", "a string", v)),
        };
        check_name(&name).map_err(|why| self.err("name", ErrorKind::BadName(why)))?;
        self.0.name = Some(name.clone());
        Ok((table, name))
    }

    pub(crate) fn optional_string(
        &self,
        table: &toml::Table,
        field: &str,
    ) -> Result<Option<String>, ConfigError> {
        match table.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.wrong_type(field, "a string", v)),
        }
    }

    /// A path field, resolved against the config file's directory.
    pub(crate) fn path(
        &self,
        base_dir: &Path,
        field: &str,
        s: &str,
    ) -> Result<PathBuf, ConfigError> {
        if s.is_empty() {
            Err(self.err(field, ErrorKind::EmptyPath))
        } else {
            Ok(base_dir.join(s))
        }
    }

    /// A required path field.
    pub(crate) fn required_path(
        &self,
        table: &toml::Table,
        base_dir: &Path,
        field: &str,
    ) -> Result<PathBuf, ConfigError> {
        match self.optional_string(table, field)? {
            None => Err(self.err(field, ErrorKind::MissingField)),
            Some(s) => self.path(base_dir, field, &s),
        }
    }
}

pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is empty".into());
    }
    if name.len() > NAME_MAX {
        return Err(format!(
            "{name:?} is {} characters, more than {NAME_MAX}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!("{name:?} contains {c:?}; use only A-Z a-z 0-9 _ -"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names() {
        assert!(check_name("testkit").is_ok());
        assert!(check_name("a-b_C9").is_ok());
        assert!(check_name(&"x".repeat(31)).is_ok());
        assert!(check_name(&"x".repeat(32)).is_err());
        assert!(check_name("").is_err());
        assert!(check_name("has space").is_err());
        assert!(check_name("dot.ted").is_err());
        assert!(check_name("naïve").is_err());
    }
}
