//! `godwit.lock`: the name, version, world, API version and SHA-256 of every plugin a
//! project installed with `godwit plugin add`, beside godwit.toml.
//!
//! The lock is the pin: a `[plugins.NAME]` with a `path` and no `sha256` of its own takes
//! its digest from the lock, and godwit refuses a file whose digest differs. A pin in both
//! places must agree. A plugin installed with a sidecar manifest (`NAME.toml` beside
//! `NAME.wasm`) has that file pinned too (`manifest_sha256`), since it says what the plugin
//! asks for. Commit the lock with the plugins it names.
//!
//! ```
//! use godwit_engine::lockfile::{Lock, LockEntry};
//!
//! let mut lock = Lock::default();
//! lock.insert(LockEntry {
//!     name: "normalize-email".into(),
//!     version: "0.1.0".into(),
//!     world: "backfill".into(),
//!     api: "0.1".into(),
//!     sha256: "0".repeat(64),
//!     manifest_sha256: None,
//!     source: "plugins/normalize-email.wasm".into(),
//! });
//! let text = lock.to_toml();
//! assert_eq!(Lock::parse(&text, "godwit.lock").unwrap(), lock);
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The lock file's name, in the project directory.
pub const LOCK_FILE: &str = "godwit.lock";

/// The format version this godwit writes and reads.
const FORMAT: u32 = 1;

/// A whole `godwit.lock`, plugins sorted by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    #[serde(default = "format")]
    version: u32,
    #[serde(default, rename = "plugin")]
    plugins: Vec<LockEntry>,
}

fn format() -> u32 {
    FORMAT
}

impl Default for Lock {
    fn default() -> Lock {
        Lock {
            version: FORMAT,
            plugins: Vec::new(),
        }
    }
}

/// One installed plugin.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// The name godwit.toml and step.toml files use.
    pub name: String,
    /// The plugin's own version, from its manifest (`unknown` without one).
    pub version: String,
    /// `backfill`, `data-step`, `validator` or `notifier`.
    pub world: String,
    /// The `godwit:plugin` API version it was built against, `major.minor`.
    pub api: String,
    /// SHA-256 of the `.wasm`, lower-case hex.
    pub sha256: String,
    /// SHA-256 of the sidecar manifest installed beside it (`NAME.toml`), if it came
    /// with one: what the plugin asks for is pinned with its code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<String>,
    /// Where it was installed from: the path or URL given to `godwit plugin add`.
    pub source: String,
}

impl Lock {
    /// Reads `dir/godwit.lock`; a missing file is an empty lock.
    pub fn read(dir: &Path) -> Result<Lock, String> {
        let path = dir.join(LOCK_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Lock::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lock::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Parses lock text; errors name `source_name` and say how to recover.
    pub fn parse(text: &str, source_name: &str) -> Result<Lock, String> {
        let lock: Lock = toml::from_str(text).map_err(|e| {
            format!(
                "{source_name} is not a valid lock file: {}\n  it is written by `godwit plugin add`; restore it from version control, or delete it and add the plugins again",
                e.to_string().trim_end()
            )
        })?;
        if lock.version != FORMAT {
            return Err(format!(
                "{source_name} has format version {}, but this godwit reads version {FORMAT}; use the godwit that wrote it",
                lock.version
            ));
        }
        for entry in &lock.plugins {
            for (key, digest) in [
                ("sha256", Some(&entry.sha256)),
                ("manifest_sha256", entry.manifest_sha256.as_ref()),
            ] {
                if let Some(digest) = digest
                    && !is_digest(digest)
                {
                    return Err(format!(
                        "{source_name}: plugin `{}` has {key} = \"{digest}\", which is not a SHA-256 digest (64 lower-case hex digits)",
                        entry.name
                    ));
                }
            }
        }
        Ok(lock)
    }

    /// The entry for `name`, if the lock has one.
    pub fn get(&self, name: &str) -> Option<&LockEntry> {
        self.plugins.iter().find(|e| e.name == name)
    }

    /// Adds `entry`, replacing any entry of the same name; returns the one it replaced.
    pub fn insert(&mut self, entry: LockEntry) -> Option<LockEntry> {
        let old = self
            .plugins
            .iter()
            .position(|e| e.name == entry.name)
            .map(|i| self.plugins.remove(i));
        self.plugins.push(entry);
        self.plugins.sort_by(|a, b| a.name.cmp(&b.name));
        old
    }

    /// Every entry, by name.
    pub fn entries(&self) -> &[LockEntry] {
        &self.plugins
    }

    /// The file's text, with a header saying what it is.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(&Lock {
            version: FORMAT,
            plugins: self.plugins.clone(),
        })
        .expect("a lock serializes");
        format!(
            "# godwit.lock: the plugins this project installed with `godwit plugin add`, pinned by\n\
             # SHA-256. Written by godwit; commit it with the plugins it names.\n{body}"
        )
    }

    /// Writes `dir/godwit.lock` atomically (a temporary file renamed over it).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let path = dir.join(LOCK_FILE);
        let tmp = dir.join(format!(".{LOCK_FILE}.tmp"));
        std::fs::write(&tmp, self.to_toml())?;
        std::fs::rename(&tmp, &path)
    }
}

/// Whether `text` is a SHA-256 digest as godwit writes them.
pub fn is_digest(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> LockEntry {
        LockEntry {
            name: name.into(),
            version: "0.1.0".into(),
            world: "backfill".into(),
            api: "0.1".into(),
            sha256: "a".repeat(64),
            manifest_sha256: Some("b".repeat(64)),
            source: format!("plugins/{name}.wasm"),
        }
    }

    #[test]
    fn insert_replaces_by_name_and_keeps_names_sorted() {
        let mut lock = Lock::default();
        assert_eq!(lock.insert(entry("b")), None);
        assert_eq!(lock.insert(entry("a")), None);
        let mut newer = entry("b");
        newer.version = "0.2.0".into();
        assert_eq!(lock.insert(newer.clone()), Some(entry("b")));
        let names: Vec<_> = lock.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(lock.get("b"), Some(&newer));
    }

    #[test]
    fn round_trips_and_reads_a_missing_file_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Lock::read(dir.path()).unwrap(), Lock::default());
        let mut lock = Lock::default();
        lock.insert(entry("normalize-email"));
        lock.write(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert!(text.starts_with("# godwit.lock"), "{text}");
        assert!(text.contains("[[plugin]]"), "{text}");
        assert_eq!(Lock::read(dir.path()).unwrap(), lock);
    }

    #[test]
    fn refuses_a_bad_digest_an_unknown_format_and_junk() {
        let mut lock = Lock::default();
        lock.insert(entry("x"));
        let text = lock.to_toml();
        let err = Lock::parse(&text.replace(&"a".repeat(64), "abc"), "godwit.lock").unwrap_err();
        assert!(
            err.contains("`x`") && err.contains("not a SHA-256"),
            "{err}"
        );
        let err = Lock::parse(&text.replace(&"b".repeat(64), "abc"), "godwit.lock").unwrap_err();
        assert!(err.contains("manifest_sha256"), "{err}");
        let err =
            Lock::parse(&text.replace("version = 1", "version = 9"), "godwit.lock").unwrap_err();
        assert!(err.contains("format version 9"), "{err}");
        let err = Lock::parse("[[plugin]]\nname = 1\n", "godwit.lock").unwrap_err();
        assert!(
            err.contains("not a valid lock file") && err.contains("plugin add"),
            "{err}"
        );
    }
}
