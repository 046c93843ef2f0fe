//! Backups: whole-database copies made with the database's own tools, and copies of
//! exactly the data a destructive statement is about to destroy, kept in the database.
//!
//! A whole-database backup is one file in the project's `.godwit/backups/` (or
//! `[backup] dir`), named by its ID, next to a JSON sidecar ([`Meta`]) that says where
//! it came from and why. The sidecar is written last, so a backup without one is a
//! backup that never finished and is never listed or restored. Each backup covers
//! every object and row godwit can reach — the history table included, so a restore
//! puts the history back as it was — except the migration lock table, which belongs
//! to whoever is running now, not to the past. How each database is dumped and put
//! back (`pg_dump`, `mariadb-dump`, `VACUUM INTO`) is [`godwit_db::dump`]'s; this module
//! names, keeps, checks and finds the files.
//!
//! The data copies live in [`copy`].

pub use godwit_db::copy;

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use godwit_core::Dialect;
use godwit_db::Driver;

/// Where backups go when godwit.toml does not say.
pub const DEFAULT_DIR: &str = ".godwit/backups";

/// What went wrong with a backup or a restore.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("there is no backup {id} in {}; `godwit backups` lists them", dir.display())]
    NotFound { id: String, dir: PathBuf },
    #[error(
        "backup {id} was taken from {from}, not from {to}; pass --force to restore it here anyway"
    )]
    OtherDatabase {
        id: String,
        from: String,
        to: String,
    },
    /// A tenant's backup (`?schema=`) restored where another schema, or the whole
    /// database, is the target, or the other way round. `--force` does not override it:
    /// the archive names its schema, so it would put back that one, not the target's.
    #[error(
        "backup {id} holds {}, but this target is {}; nothing was restored\n  \
         restore it with the URL it was taken from{}",
        scope_name(from.as_deref()),
        scope_name(to.as_deref()),
        from.as_deref().map(|s| format!(" (with `?schema={s}`)")).unwrap_or_default()
    )]
    OtherScope {
        id: String,
        from: Option<String>,
        to: Option<String>,
    },
    #[error("backup {id} is a {from} backup and cannot be restored into {to}")]
    OtherDialect {
        id: String,
        from: Dialect,
        to: Dialect,
    },
    #[error("backup {id} cannot be used: {reason}")]
    Damaged { id: String, reason: String },
    #[error("cannot {action} {}: {message}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        message: String,
    },
    /// The database's own tools, or the SQL that dumps or restores it, failed.
    #[error(transparent)]
    Dump(#[from] godwit_db::dump::DumpError),
}

impl BackupError {
    pub(crate) fn io(action: &'static str, path: &Path, err: std::io::Error) -> BackupError {
        BackupError::Io {
            action,
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }
}

/// The sidecar of one backup, `<id>.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Meta {
    pub id: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub dialect: Dialect,
    /// The database's URL without its password.
    pub database: String,
    /// The tool that made it and its version line, e.g. `pg_dump (PostgreSQL) 15.20`.
    pub tool: String,
    /// The backup file's name, next to the sidecar.
    pub file: String,
    pub size: u64,
    /// SHA-256 of the file, checked before every restore.
    pub sha256: String,
    /// `manual`, or what deploy was about to do.
    pub reason: String,
    /// Migration versions applied when the backup was taken.
    pub applied: Vec<String>,
    pub godwit_version: String,
    /// PostgreSQL `?schema=`: the tenant schema the backup holds, alone. `None` for a
    /// backup of the whole database (and in sidecars written before tenants had backups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
}

/// What a backup of `schema` holds, in words.
fn scope_name(schema: Option<&str>) -> String {
    match schema {
        Some(s) => format!("the tenant schema {s:?} alone"),
        None => "the whole database".into(),
    }
}

/// The directory holding a project's backups.
pub fn dir(config: &Config) -> PathBuf {
    config.project_dir.join(
        config
            .file
            .backup
            .dir
            .clone()
            .unwrap_or_else(|| DEFAULT_DIR.into()),
    )
}

/// Every finished backup in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<Meta>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(BackupError::io("read", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| BackupError::io("read", dir, e))?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let meta = read_meta(&path)?;
        // A sidecar whose file was deleted by hand describes nothing restorable.
        if dir.join(&meta.file).is_file() {
            out.push(meta);
        }
    }
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// Deletes the backups older than `older_than` (all when `None`), file and sidecar; the
/// sidecar goes first, so an interrupted prune never leaves a listed backup without its
/// file. Returns what it deleted (or, with `dry_run`, would delete).
pub fn prune_files(
    dir: &Path,
    older_than: Option<std::time::Duration>,
    dry_run: bool,
) -> Result<Vec<Meta>, BackupError> {
    let cutoff = older_than.map(|age| {
        chrono::Utc::now() - chrono::TimeDelta::from_std(age).unwrap_or(chrono::TimeDelta::MAX)
    });
    let chosen: Vec<Meta> = list(dir)?
        .into_iter()
        .filter(|m| {
            cutoff.is_none_or(|cutoff| {
                chrono::DateTime::parse_from_rfc3339(&m.created_at)
                    .is_ok_and(|t| t.with_timezone(&chrono::Utc) < cutoff)
            })
        })
        .collect();
    if !dry_run {
        for m in &chosen {
            let sidecar = dir.join(format!("{}.json", m.id));
            std::fs::remove_file(&sidecar).map_err(|e| BackupError::io("delete", &sidecar, e))?;
            let file = dir.join(&m.file);
            std::fs::remove_file(&file).map_err(|e| BackupError::io("delete", &file, e))?;
        }
    }
    Ok(chosen)
}

fn read_meta(path: &Path) -> Result<Meta, BackupError> {
    let text = std::fs::read_to_string(path).map_err(|e| BackupError::io("read", path, e))?;
    serde_json::from_str(&text).map_err(|e| BackupError::Io {
        action: "understand the backup sidecar",
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The backup with this ID, or a clear error.
pub fn find(dir: &Path, id: &str) -> Result<Meta, BackupError> {
    let not_found = || BackupError::NotFound {
        id: id.to_string(),
        dir: dir.to_path_buf(),
    };
    // IDs come from the command line: never let one point outside the directory.
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(not_found());
    }
    let sidecar = dir.join(format!("{id}.json"));
    if !sidecar.is_file() {
        return Err(not_found());
    }
    let meta = read_meta(&sidecar)?;
    if !dir.join(&meta.file).is_file() {
        return Err(BackupError::Damaged {
            id: id.to_string(),
            reason: format!("its file {} is gone", dir.join(&meta.file).display()),
        });
    }
    Ok(meta)
}

/// A new ID: the UTC time to the second, then a short random-enough suffix so that two
/// backups in the same second never collide.
fn new_id() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let now = chrono::Utc::now();
    let seed = format!(
        "{}:{}:{}:{}",
        now.timestamp_nanos_opt().unwrap_or_default(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        godwit_db::hostname()
    );
    let digest = Sha256::digest(seed.as_bytes());
    let short: String = digest.iter().take(3).map(|b| format!("{b:02x}")).collect();
    format!("{}-{short}", now.format("%Y%m%dT%H%M%SZ"))
}

/// Takes a whole-database backup. The caller holds the migration lock, so no godwit run
/// changes the database meanwhile; `driver` also keeps a lease alive while a tool runs.
pub async fn take(
    config: &Config,
    driver: &mut dyn Driver,
    reason: &str,
    applied: Vec<String>,
) -> Result<Meta, BackupError> {
    let dir = dir(config);
    if !dir.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| BackupError::io("create", &dir, e))?;
        private(&dir, 0o700)?;
        crate::config::keep_out_of_git(&dir);
    }
    let id = new_id();
    let extension = match config.target.dialect {
        Dialect::Postgres => "pgdump",
        Dialect::MySql => "sql",
        Dialect::Sqlite => "sqlite",
    };
    let file = format!("{id}.{extension}");
    let partial = dir.join(format!("{file}.partial"));
    let tool = match godwit_db::dump::dump(&config.target, driver, &partial).await {
        Ok(tool) => tool,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.into());
        }
    };
    let path = dir.join(&file);
    private(&partial, 0o600)?;
    std::fs::rename(&partial, &path).map_err(|e| BackupError::io("rename", &partial, e))?;
    let meta = Meta {
        id: id.clone(),
        created_at: godwit_db::now_rfc3339(),
        dialect: config.target.dialect,
        database: config.target.display.clone(),
        tool,
        size: std::fs::metadata(&path)
            .map_err(|e| BackupError::io("read", &path, e))?
            .len(),
        sha256: sha256_file(&path)?,
        file,
        reason: reason.to_string(),
        applied,
        godwit_version: godwit_core::VERSION.into(),
        schema: config.target.schema.clone(),
    };
    let sidecar = dir.join(format!("{id}.json"));
    let text = serde_json::to_string_pretty(&meta).expect("serializable");
    // Written last and renamed into place: a sidecar means a complete backup.
    let tmp = dir.join(format!("{id}.json.partial"));
    std::fs::write(&tmp, text).map_err(|e| BackupError::io("write", &tmp, e))?;
    private(&tmp, 0o600)?;
    std::fs::rename(&tmp, &sidecar).map_err(|e| BackupError::io("rename", &tmp, e))?;
    Ok(meta)
}

/// Puts the database back as it was when `meta` was taken, history table included.
/// The caller holds the migration lock and has checked that `meta` belongs here.
pub async fn restore(
    config: &Config,
    driver: &mut dyn Driver,
    meta: &Meta,
) -> Result<(), BackupError> {
    if meta.dialect != config.target.dialect {
        return Err(BackupError::OtherDialect {
            id: meta.id.clone(),
            from: meta.dialect,
            to: config.target.dialect,
        });
    }
    same_scope(meta, config)?;
    let dir = dir(config);
    let path = dir.join(&meta.file);
    let actual = sha256_file(&path)?;
    if actual != meta.sha256 {
        return Err(BackupError::Damaged {
            id: meta.id.clone(),
            reason: format!(
                "{} changed since it was written (SHA-256 {} recorded, {} now)",
                path.display(),
                &meta.sha256[..12.min(meta.sha256.len())],
                &actual[..12]
            ),
        });
    }
    Ok(godwit_db::dump::restore(&config.target, driver, &path).await?)
}

/// Refuses `meta` unless it holds what `config`'s target is: the same tenant schema, or
/// the whole database for both.
pub fn same_scope(meta: &Meta, config: &Config) -> Result<(), BackupError> {
    if meta.schema == config.target.schema {
        return Ok(());
    }
    Err(BackupError::OtherScope {
        id: meta.id.clone(),
        from: meta.schema.clone(),
        to: config.target.schema.clone(),
    })
}

/// A backup is a copy of the data: readable by its owner only, whatever the umask says.
fn private(path: &Path, mode: u32) -> Result<(), BackupError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| BackupError::io("restrict the permissions of", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String, BackupError> {
    let mut file = std::fs::File::open(path).map_err(|e| BackupError::io("open", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| BackupError::io("read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

// What a statement destroys, read as the copies and the backup policy need it.
pub use godwit_core::analyze::destroys::{
    Destroys, Ident, Name, Unnamed, destroys, destroys_unnamed, renames, runs_dynamic_sql,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_safe() {
        let a = new_id();
        let b = new_id();
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        let dir = std::env::temp_dir();
        assert!(matches!(
            find(&dir, "../etc/passwd"),
            Err(BackupError::NotFound { .. })
        ));
    }
}
