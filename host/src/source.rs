//! Reading migration directories: versions, names, directives and checksums.
//!
//! Everything here is checked before a single statement runs, so a malformed file
//! late in the list stops the deploy while the database is still untouched.

use std::cmp::Ordering;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::split::{self, Statement};
use crate::{Dialect, Error};

/// A migration version: the digits before the first `_` of the directory name.
///
/// Compared by numeric value so `9_x` sorts before `10_x` whatever the padding; the text is
/// kept as written because it is what the history table and the user see.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Version(String);

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        (!text.is_empty() && text.len() <= 32 && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Version(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn significant(&self) -> &str {
        let trimmed = self.0.trim_start_matches('0');
        if trimmed.is_empty() { "0" } else { trimmed }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.significant(), other.significant());
        a.len()
            .cmp(&b.len())
            .then_with(|| a.cmp(b))
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Per-file settings written as `-- godwit:` comments above the first statement.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Directives {
    /// Run statement by statement outside a transaction (`CREATE INDEX CONCURRENTLY`).
    pub no_transaction: bool,
    pub lock_timeout: Option<Duration>,
    pub statement_timeout: Option<Duration>,
}

/// One SQL file, normalised: BOM stripped, CRLF turned into LF.
#[derive(Clone, Debug)]
pub struct Script {
    pub path: PathBuf,
    pub text: String,
    pub directives: Directives,
}

impl Script {
    fn read(path: &Path) -> Result<Script, Error> {
        let bytes =
            std::fs::read(path).map_err(|e| Error::source(path, format!("cannot read: {e}")))?;
        let text = normalize(&bytes).map_err(|m| Error::source(path, m))?;
        let directives = parse_directives(&text).map_err(|m| Error::source(path, m))?;
        Ok(Script {
            path: path.to_path_buf(),
            text,
            directives,
        })
    }

    /// Splits the file into statements for `dialect`; errors name the file and line.
    pub fn statements(&self, dialect: Dialect) -> Result<Vec<Statement>, Error> {
        split::split(&self.text, dialect).map_err(|e| Error::source(&self.path, e.to_string()))
    }
}

/// A migration directory.
#[derive(Clone, Debug)]
pub struct Migration {
    pub version: Version,
    pub name: String,
    pub dir: PathBuf,
    pub up: Script,
    pub down: Option<Script>,
    /// SHA-256 of the normalised `up.sql`: what was applied is what is checked.
    pub checksum: String,
}

impl Migration {
    /// `20261121090000_create_users`, as the directory is named.
    pub fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// Strips a UTF-8 BOM and turns CRLF into LF, so a Windows checkout has the same checksum.
pub fn normalize(bytes: &[u8]) -> Result<String, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        format!("not valid UTF-8 (line {line}); save the file as UTF-8")
    })?;
    Ok(if text.contains('\r') {
        text.replace("\r\n", "\n")
    } else {
        text.to_string()
    })
}

pub fn checksum(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_directives(text: &str) -> Result<Directives, String> {
    let mut directives = Directives::default();
    let mut in_header = true;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        let directive = trimmed
            .strip_prefix("--")
            .map(str::trim)
            .and_then(|c| c.strip_prefix("godwit:"));
        match directive {
            // Ignore comments sit above the statement they are about, anywhere in the
            // file; they belong to lint, not to how the file runs.
            Some(body) if is_ignore(body) => {}
            Some(body) if in_header => apply_directive(&mut directives, body.trim())
                .map_err(|m| format!("line {}: {m}", index + 1))?,
            Some(_) => {
                return Err(format!(
                    "line {}: `{trimmed}` comes after the first statement; move godwit directives to the top of the file",
                    index + 1
                ));
            }
            None if trimmed.is_empty() || trimmed.starts_with("--") => {}
            None => in_header = false,
        }
    }
    Ok(directives)
}

/// `godwit:ignore RULE -- reason: ...`, read by [`crate::lint`].
fn is_ignore(body: &str) -> bool {
    body.strip_prefix("ignore")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

fn apply_directive(d: &mut Directives, body: &str) -> Result<(), String> {
    let (key, value) = match body.find(['=', ' ', ':']) {
        Some(at) => (
            &body[..at],
            body[at + 1..].trim_start_matches(['=', ':', ' ']).trim(),
        ),
        None => (body, ""),
    };
    let key = key.trim().replace('_', "-").to_ascii_lowercase();
    let duration = |value: &str| -> Result<Option<Duration>, String> {
        if value.is_empty() {
            return Err(format!(
                "`godwit:{key}` needs a value, e.g. `-- godwit:{key}=5s`"
            ));
        }
        crate::config::parse_duration(value).map(Some)
    };
    match key.as_str() {
        "no-transaction" if value.is_empty() => d.no_transaction = true,
        "lock-timeout" => d.lock_timeout = duration(value)?,
        "statement-timeout" => d.statement_timeout = duration(value)?,
        _ => {
            return Err(format!(
                "unknown directive `godwit:{body}`; godwit knows `no-transaction`, `lock-timeout=DURATION` and `statement-timeout=DURATION`"
            ));
        }
    }
    Ok(())
}

/// Reads every migration under `dir`, sorted by version.
pub fn read_dir(dir: &Path) -> Result<Vec<Migration>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Config(format!(
                "the migrations directory {} does not exist; run `godwit init`, or set `migrations` in godwit.toml",
                dir.display()
            ))
        } else {
            Error::source(dir, format!("cannot read the migrations directory: {e}"))
        }
    })?;
    let mut migrations: Vec<Migration> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::source(dir, format!("cannot list: {e}")))?;
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') {
            continue;
        }
        if !path.is_dir() {
            if file_name.ends_with(".sql") {
                return Err(Error::source(
                    &path,
                    "godwit expects one directory per migration: move this file to <version>_<name>/up.sql",
                ));
            }
            continue;
        }
        let migration = read_migration(&path)?;
        if let Some(other) = migrations.iter().find(|m| m.version == migration.version) {
            return Err(Error::source(
                &path,
                format!(
                    "version {} is also used by {}; give each migration its own version",
                    migration.version,
                    other.dir.display()
                ),
            ));
        }
        migrations.push(migration);
    }
    migrations.sort_by(|a, b| a.version.cmp(&b.version));
    Ok(migrations)
}

/// Reads one migration directory, `<version>_<name>/` with `up.sql` and maybe `down.sql`.
pub fn read_migration(path: &Path) -> Result<Migration, Error> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (version, name) = file_name
        .split_once('_')
        .and_then(|(v, n)| Some((Version::parse(v)?, n)))
        .filter(|(_, n)| !n.is_empty())
        .ok_or_else(|| {
            Error::source(
                path,
                "a migration directory is named <version>_<name>, e.g. 20261121090000_create_users",
            )
        })?;
    let up_path = path.join("up.sql");
    if !up_path.exists() {
        return Err(Error::source(
            path,
            "has no up.sql; every migration directory needs one",
        ));
    }
    let up = Script::read(&up_path)?;
    let down_path = path.join("down.sql");
    let down = down_path
        .exists()
        .then(|| Script::read(&down_path))
        .transpose()?;
    Ok(Migration {
        checksum: checksum(&up.text),
        version,
        name: name.to_string(),
        dir: path.to_path_buf(),
        up,
        down,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_bom_do_not_change_the_checksum() {
        let lf = normalize(b"CREATE TABLE t (id int);\nSELECT 1;\n").unwrap();
        let crlf = normalize(b"\xEF\xBB\xBFCREATE TABLE t (id int);\r\nSELECT 1;\r\n").unwrap();
        assert_eq!(checksum(&lf), checksum(&crlf));
    }

    #[test]
    fn versions_compare_numerically() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("9") < v("10"));
        assert!(v("0009") < v("10"));
        assert!(v("20261121090000") > v("20261121085959"));
        assert!(Version::parse("v1").is_none());
    }

    #[test]
    fn directives() {
        let d = parse_directives("-- godwit:no-transaction\n-- godwit:lock_timeout=5s\n-- godwit:statement-timeout 2min\nCREATE INDEX x;").unwrap();
        assert!(d.no_transaction);
        assert_eq!(d.lock_timeout, Some(Duration::from_secs(5)));
        assert_eq!(d.statement_timeout, Some(Duration::from_secs(120)));
        let err = parse_directives("-- godwit:no-transactoin\n").unwrap_err();
        assert!(err.contains("line 1: unknown directive"), "{err}");
        let err = parse_directives("SELECT 1;\n-- godwit:no-transaction\n").unwrap_err();
        assert!(err.contains("after the first statement"), "{err}");
        let err = parse_directives("-- godwit:lock-timeout=5 parsecs\n").unwrap_err();
        assert!(err.contains("not a duration"), "{err}");
        // Ignore comments are lint's, and sit above any statement.
        let d = parse_directives("-- godwit:no-transaction\n-- godwit:ignore ban-truncate -- reason: cache\nTRUNCATE t;\n-- godwit:ignore GW001 -- reason: gone\nDROP TABLE u;\n").unwrap();
        assert!(d.no_transaction);
        let err = parse_directives("-- godwit:ignored\n").unwrap_err();
        assert!(err.contains("unknown directive"), "{err}");
    }
}
