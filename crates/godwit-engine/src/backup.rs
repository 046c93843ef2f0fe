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

pub mod copy;

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use godwit_core::Dialect;
use godwit_core::sql::{literal, quote};
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
    #[error("{context}: {message}")]
    Database { context: String, message: String },
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

/// A table as a statement names it. `quoted` parts keep their case; PostgreSQL folds the
/// others to lower case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub schema: Option<Ident>,
    pub table: Ident,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub text: String,
    pub quoted: bool,
}

impl Ident {
    /// The name as the database stores it in its catalog.
    pub fn catalog(&self, dialect: Dialect) -> String {
        if dialect == Dialect::Postgres && !self.quoted {
            self.text.to_lowercase()
        } else {
            self.text.clone()
        }
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{}.{}", s.text, self.table.text),
            None => f.write_str(&self.table.text),
        }
    }
}

/// What a statement destroys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destroys {
    Table(Name),
    Column(Name, Ident),
    Truncate(Name),
    Delete { table: Name, filtered: bool },
}

impl Destroys {
    /// The table whose data is destroyed.
    pub fn table(&self) -> &Name {
        match self {
            Destroys::Table(t)
            | Destroys::Column(t, _)
            | Destroys::Truncate(t)
            | Destroys::Delete { table: t, .. } => t,
        }
    }
}

/// The destructive effects of one statement, found by a keyword scan.
///
/// `analyze.rs` finds the same drops for lint and plan, but it lowercases names and strips
/// schemas and quotes, which is right for messages and wrong for copying data: a copy of
/// `"Billing"."Invoices"` has to name exactly that table. So the copy keeps its own scan,
/// which keeps identifiers as written.
pub fn destroys(sql: &str) -> Vec<Destroys> {
    let tokens = scan::tokens(sql);
    let mut t = scan::Cursor::new(&tokens);
    let mut out = Vec::new();
    if t.word("DROP") {
        if !t.word("TABLE") {
            return out;
        }
        t.words(&["IF", "EXISTS"]);
        while let Some(name) = t.name() {
            out.push(Destroys::Table(name));
            if !t.punct(',') {
                break;
            }
        }
    } else if t.word("ALTER") {
        if !t.word("TABLE") {
            return out;
        }
        t.words(&["IF", "EXISTS"]);
        t.word("ONLY");
        let Some(table) = t.name() else {
            return out;
        };
        // Actions are separated by top-level commas; only `DROP [COLUMN] name` drops data.
        loop {
            if t.word("DROP") {
                let column = if t.word("COLUMN") {
                    true
                } else {
                    !t.peek_word_in(&[
                        "CONSTRAINT",
                        "INDEX",
                        "KEY",
                        "PRIMARY",
                        "FOREIGN",
                        "CHECK",
                        "PARTITION",
                        "DEFAULT",
                        "SYSTEM",
                        "PERIOD",
                        "EXPRESSION",
                        "IDENTITY",
                        "NOT",
                    ])
                };
                if column {
                    t.words(&["IF", "EXISTS"]);
                    if let Some(c) = t.ident() {
                        out.push(Destroys::Column(table.clone(), c));
                    }
                }
            }
            if !t.skip_to_top_level_comma() {
                break;
            }
        }
    } else if t.word("TRUNCATE") {
        t.word("TABLE");
        t.word("ONLY");
        while let Some(name) = t.name() {
            out.push(Destroys::Truncate(name));
            if !t.punct(',') {
                break;
            }
        }
    } else if t.word("DELETE") {
        t.word("FROM");
        t.word("ONLY");
        if let Some(table) = t.name() {
            let filtered = t.rest_has_word("WHERE");
            out.push(Destroys::Delete { table, filtered });
        }
    }
    out
}

/// The table `sql` renames and its new name: `ALTER TABLE a RENAME TO b`, or MySQL's
/// `RENAME TABLE a TO b` (the first pair). A drop of `b` later in the run drops `a`'s rows.
pub fn renames(sql: &str) -> Option<(Name, Name)> {
    let tokens = scan::tokens(sql);
    let mut t = scan::Cursor::new(&tokens);
    if t.words(&["RENAME", "TABLE"]) {
        let from = t.name()?;
        return t
            .word("TO")
            .then(|| t.name())
            .flatten()
            .map(|to| (from, to));
    }
    if !t.words(&["ALTER", "TABLE"]) {
        return None;
    }
    t.words(&["IF", "EXISTS"]);
    t.word("ONLY");
    let from = t.name()?;
    if !t.words(&["RENAME", "TO"]) {
        return None;
    }
    let mut to = t.name()?;
    // PostgreSQL keeps a renamed table in its schema; the new name has none.
    if to.schema.is_none() {
        to.schema.clone_from(&from.schema);
    }
    Some((from, to))
}

impl Name {
    /// The same table, as the database folds unquoted names (case aside).
    pub fn same_as(&self, other: &Name) -> bool {
        let eq = |a: &Ident, b: &Ident| a.text.eq_ignore_ascii_case(&b.text);
        eq(&self.table, &other.table)
            && match (&self.schema, &other.schema) {
                (Some(a), Some(b)) => eq(a, b),
                _ => true,
            }
    }
}

/// Why a migration may destroy data that [`destroys`] cannot name a table for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unnamed {
    /// `DROP SCHEMA` or `DROP DATABASE`: every table in it goes.
    DropsSchema,
    /// Dynamic SQL (a `DO` block, `EXECUTE`, `CALL`, MySQL's `PREPARE`) runs statements
    /// godwit cannot read before they run, and the migration's text, string literals
    /// included, holds a destructive one.
    DynamicSql,
}

impl std::fmt::Display for Unnamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unnamed::DropsSchema => "drops a schema",
            Unnamed::DynamicSql => "drops or deletes through dynamic SQL",
        })
    }
}

/// Data one migration's statements may destroy without [`destroys`] naming it.
///
/// A statement built at run time (`EXECUTE 'ALTER TABLE t DROP COLUMN ' || c`, or a
/// `SET @s := '…DROP COLUMN id'` that a later `PREPARE`/`EXECUTE` runs, or a procedure the
/// migration creates and then `CALL`s) is only text until it runs, so once a migration
/// runs dynamic SQL, every statement of it is read with its string literals and bodies
/// opened, and any destructive statement found there counts: an unneeded backup at
/// worst, never a missing one.
pub fn destroys_unnamed<'a>(statements: impl IntoIterator<Item = &'a str>) -> Option<Unnamed> {
    let statements: Vec<&str> = statements.into_iter().collect();
    let mut dynamic = false;
    for sql in &statements {
        let tokens = scan::tokens(sql);
        let mut t = scan::Cursor::new(&tokens);
        dynamic |= t.peek_word_in(DYNAMIC);
        if t.word("DROP") && t.peek_word_in(&["SCHEMA", "DATABASE"]) {
            return Some(Unnamed::DropsSchema);
        }
    }
    let destructive = dynamic
        && statements
            .iter()
            .any(|sql| mentions_destruction(&scan::tokens_opening_strings(sql)));
    destructive.then_some(Unnamed::DynamicSql)
}

/// Whether `sql` runs SQL it holds as text or elsewhere: a `DO` block, `EXECUTE`, `CALL`,
/// MySQL's `PREPARE`.
pub fn runs_dynamic_sql(sql: &str) -> bool {
    let tokens = scan::tokens(sql);
    scan::Cursor::new(&tokens).peek_word_in(DYNAMIC)
}

/// The first words of a statement that runs dynamic SQL.
const DYNAMIC: &[&str] = &["DO", "EXECUTE", "CALL", "PREPARE"];

/// Whether the words hold a statement that destroys data: `DROP TABLE`, `DROP SCHEMA`,
/// `DROP DATABASE`, `DROP [COLUMN] c`, `TRUNCATE`, `DELETE FROM`. `ON DELETE CASCADE`,
/// `GRANT DELETE`, `DROP INDEX`, `DROP CONSTRAINT` and the like are not.
fn mentions_destruction(tokens: &[scan::Token]) -> bool {
    use scan::Token;
    /// What may follow `DROP` without dropping data.
    const KEEPS_DATA: &[&str] = &[
        "ACCESS",
        "AGGREGATE",
        "CAST",
        "CHECK",
        "COLLATION",
        "CONSTRAINT",
        "CONVERSION",
        "DEFAULT",
        "DOMAIN",
        "EVENT",
        "EXPRESSION",
        "EXTENSION",
        "FOREIGN",
        "FUNCTION",
        "IDENTITY",
        "INDEX",
        "KEY",
        "LANGUAGE",
        "MATERIALIZED",
        "NOT",
        "OPERATOR",
        "PARTITION",
        "PERIOD",
        "POLICY",
        "PRIMARY",
        "PROCEDURE",
        "PUBLICATION",
        "ROLE",
        "ROUTINE",
        "RULE",
        "SEQUENCE",
        "SERVER",
        "STATISTICS",
        "SUBSCRIPTION",
        "SYSTEM",
        "TABLESPACE",
        "TEXT",
        "TRANSFORM",
        "TRIGGER",
        "TYPE",
        "UNIQUE",
        "USER",
        "VIEW",
    ];
    let word = |i: usize| match tokens.get(i) {
        Some(Token::Word(w)) => Some(w.to_ascii_uppercase()),
        _ => None,
    };
    (0..tokens.len()).any(|i| match word(i).as_deref() {
        Some("TRUNCATE") => true,
        Some("DELETE") => word(i + 1).as_deref() == Some("FROM"),
        Some("DROP") => match tokens.get(i + 1) {
            Some(Token::Quoted(_)) => true,
            Some(Token::Word(w)) => !KEEPS_DATA.iter().any(|k| w.eq_ignore_ascii_case(k)),
            _ => false,
        },
        _ => false,
    })
}

/// A tokenizer just good enough for [`destroys`]: words, quoted identifiers and
/// punctuation, with strings and comments skipped.
mod scan {
    use crate::backup::{Ident, Name};

    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Token {
        Word(String),
        Quoted(String),
        Punct(char),
        Other,
    }

    pub fn tokens(sql: &str) -> Vec<Token> {
        tokenize(sql, false)
    }

    /// Like [`tokens`], but a string literal's text is read as SQL too (the statements
    /// dynamic SQL runs are strings until then).
    pub fn tokens_opening_strings(sql: &str) -> Vec<Token> {
        tokenize(sql, true)
    }

    fn tokenize(sql: &str, open_strings: bool) -> Vec<Token> {
        let chars: Vec<char> = sql.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        let closing = |open: char| match open {
            '[' => ']',
            c => c,
        };
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() {
                i += 1;
            } else if (c == '-' && chars.get(i + 1) == Some(&'-')) || c == '#' {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            } else if c == '/' && chars.get(i + 1) == Some(&'*') {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
            } else if matches!(c, '"' | '`' | '[') {
                let end = closing(c);
                let mut text = String::new();
                i += 1;
                while i < chars.len() {
                    if chars[i] == end {
                        // A doubled quote is one quote character inside the name.
                        if end != ']' && chars.get(i + 1) == Some(&end) {
                            text.push(end);
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    text.push(chars[i]);
                    i += 1;
                }
                i += 1;
                out.push(Token::Quoted(text));
            } else if c == '\'' {
                i += 1;
                let start = i;
                while i < chars.len() {
                    if chars[i] == '\\' {
                        i += 2;
                        continue;
                    }
                    if chars[i] == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                if open_strings {
                    let text: String = chars[start..i.min(chars.len())].iter().collect();
                    out.extend(tokenize(&text.replace("''", "'"), true));
                } else {
                    out.push(Token::Other);
                }
                i += 1;
            } else if c.is_alphanumeric() || c == '_' || c == '$' {
                let mut text = String::new();
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    text.push(chars[i]);
                    i += 1;
                }
                out.push(Token::Word(text));
            } else {
                out.push(Token::Punct(c));
                i += 1;
            }
        }
        out
    }

    pub struct Cursor<'a> {
        tokens: &'a [Token],
        at: usize,
    }

    impl<'a> Cursor<'a> {
        pub fn new(tokens: &'a [Token]) -> Self {
            Cursor { tokens, at: 0 }
        }

        /// Consumes the keyword if it comes next.
        pub fn word(&mut self, keyword: &str) -> bool {
            match self.tokens.get(self.at) {
                Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword) => {
                    self.at += 1;
                    true
                }
                _ => false,
            }
        }

        /// Consumes the keywords if all of them come next, in order.
        pub fn words(&mut self, keywords: &[&str]) -> bool {
            let start = self.at;
            if keywords.iter().all(|k| self.word(k)) {
                true
            } else {
                self.at = start;
                false
            }
        }

        pub fn peek_word_in(&self, keywords: &[&str]) -> bool {
            matches!(self.tokens.get(self.at), Some(Token::Word(w)) if keywords.iter().any(|k| w.eq_ignore_ascii_case(k)))
        }

        pub fn punct(&mut self, c: char) -> bool {
            if self.tokens.get(self.at) == Some(&Token::Punct(c)) {
                self.at += 1;
                true
            } else {
                false
            }
        }

        pub fn ident(&mut self) -> Option<Ident> {
            let ident = match self.tokens.get(self.at)? {
                Token::Word(w) => Ident {
                    text: w.clone(),
                    quoted: false,
                },
                Token::Quoted(q) => Ident {
                    text: q.clone(),
                    quoted: true,
                },
                _ => return None,
            };
            self.at += 1;
            Some(ident)
        }

        /// `table` or `schema.table` (a leading catalog part, as in `db.schema.t`, is dropped).
        pub fn name(&mut self) -> Option<Name> {
            let mut parts = vec![self.ident()?];
            while self.punct('.') {
                parts.push(self.ident()?);
            }
            let table = parts.pop()?;
            Some(Name {
                schema: parts.pop(),
                table,
            })
        }

        /// Moves past the next comma outside parentheses; false at the end.
        pub fn skip_to_top_level_comma(&mut self) -> bool {
            let mut depth = 0usize;
            while let Some(t) = self.tokens.get(self.at) {
                self.at += 1;
                match t {
                    Token::Punct('(') => depth += 1,
                    Token::Punct(')') => depth = depth.saturating_sub(1),
                    Token::Punct(',') if depth == 0 => return true,
                    _ => {}
                }
            }
            false
        }

        /// Inside parentheses: moves past the next comma at this depth; false at the
        /// closing parenthesis (which is consumed) or the end.
        pub fn skip_to_comma_within_parentheses(&mut self) -> bool {
            let mut depth = 0usize;
            while let Some(t) = self.tokens.get(self.at) {
                self.at += 1;
                match t {
                    Token::Punct('(') => depth += 1,
                    Token::Punct(')') if depth == 0 => return false,
                    Token::Punct(')') => depth -= 1,
                    Token::Punct(',') if depth == 0 => return true,
                    _ => {}
                }
            }
            false
        }

        pub fn rest_has_word(&self, keyword: &str) -> bool {
            self.tokens[self.at..]
                .iter()
                .any(|t| matches!(t, Token::Word(w) if w.eq_ignore_ascii_case(keyword)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(schema: Option<&str>, table: &str) -> Name {
        Name {
            schema: schema.map(|s| Ident {
                text: s.into(),
                quoted: false,
            }),
            table: Ident {
                text: table.into(),
                quoted: false,
            },
        }
    }

    fn col(text: &str) -> Ident {
        Ident {
            text: text.into(),
            quoted: false,
        }
    }

    #[test]
    fn drop_table_with_if_exists_schema_and_lists() {
        assert_eq!(
            destroys("DROP TABLE IF EXISTS app.users, posts CASCADE"),
            vec![
                Destroys::Table(name(Some("app"), "users")),
                Destroys::Table(name(None, "posts"))
            ]
        );
        assert_eq!(
            destroys("drop table \"Odd \"\"Name\"\"\""),
            vec![Destroys::Table(Name {
                schema: None,
                table: Ident {
                    text: "Odd \"Name\"".into(),
                    quoted: true
                }
            })]
        );
        assert_eq!(
            destroys("DROP TABLE `my db`.`t`"),
            vec![Destroys::Table(Name {
                schema: Some(Ident {
                    text: "my db".into(),
                    quoted: true
                }),
                table: Ident {
                    text: "t".into(),
                    quoted: true
                }
            })]
        );
        assert!(destroys("DROP INDEX users_email_idx").is_empty());
        assert!(destroys("DROP VIEW v").is_empty());
    }

    #[test]
    fn alter_table_drop_column_but_not_constraints() {
        assert_eq!(
            destroys("ALTER TABLE ONLY users DROP COLUMN IF EXISTS email, DROP nickname"),
            vec![
                Destroys::Column(name(None, "users"), col("email")),
                Destroys::Column(name(None, "users"), col("nickname"))
            ]
        );
        assert!(destroys("ALTER TABLE users DROP CONSTRAINT users_pkey").is_empty());
        assert!(destroys("ALTER TABLE t DROP PRIMARY KEY, DROP FOREIGN KEY fk").is_empty());
        assert!(destroys("ALTER TABLE t ALTER COLUMN c DROP DEFAULT").is_empty());
        assert!(destroys("ALTER TABLE t ADD COLUMN c int DEFAULT 1").is_empty());
        assert_eq!(
            destroys("ALTER TABLE t ADD CHECK (a IN (1, 2)), DROP COLUMN b"),
            vec![Destroys::Column(name(None, "t"), col("b"))]
        );
    }

    #[test]
    fn truncate_and_delete() {
        assert_eq!(
            destroys("TRUNCATE TABLE a, b"),
            vec![
                Destroys::Truncate(name(None, "a")),
                Destroys::Truncate(name(None, "b"))
            ]
        );
        assert_eq!(
            destroys("DELETE FROM users WHERE id = 1"),
            vec![Destroys::Delete {
                table: name(None, "users"),
                filtered: true
            }]
        );
        assert_eq!(
            destroys("delete from users -- WHERE never"),
            vec![Destroys::Delete {
                table: name(None, "users"),
                filtered: false
            }]
        );
        assert!(destroys("INSERT INTO t VALUES ('DROP TABLE x')").is_empty());
        assert!(destroys("/* DROP TABLE t */ SELECT 1").is_empty());
    }

    #[test]
    fn postgres_folds_unquoted_names() {
        let d = destroys("DROP TABLE Users");
        let Destroys::Table(n) = &d[0] else {
            panic!("{d:?}")
        };
        assert_eq!(n.table.catalog(Dialect::Postgres), "users");
        assert_eq!(n.table.catalog(Dialect::MySql), "Users");
    }

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

    #[test]
    fn dynamic_sql_that_drops_counts_as_destructive() {
        let dynamic = |sql: &[&str]| destroys_unnamed(sql.iter().copied());
        // PostgreSQL: a DO block, with the drop in its body or in a string it runs.
        for body in [
            "DO $$ BEGIN EXECUTE 'ALTER TABLE t DROP COLUMN c'; END $$",
            "DO $$ BEGIN ALTER TABLE t DROP COLUMN c; END $$",
            "do $body$ begin execute format('drop table %I', 't'); end $body$",
            "DO $$ DECLARE r record; BEGIN FOR r IN SELECT tablename FROM pg_tables LOOP EXECUTE 'TRUNCATE ' || quote_ident(r.tablename); END LOOP; END $$",
            "DO $$ BEGIN EXECUTE 'ALTER TABLE t DROP \"Odd\"'; END $$",
            "DO $$ BEGIN DELETE FROM sessions; END $$",
        ] {
            assert_eq!(dynamic(&[body]), Some(Unnamed::DynamicSql), "{body}");
        }
        // MySQL: the statement is a user variable's string; PREPARE and EXECUTE run it.
        assert_eq!(
            dynamic(&[
                "SET @s := IF(@has, 'ALTER TABLE queue_message DROP COLUMN id', 'SELECT 1')",
                "PREPARE stmt FROM @s",
                "EXECUTE stmt",
                "DEALLOCATE PREPARE stmt",
            ]),
            Some(Unnamed::DynamicSql)
        );
        // A procedure the migration creates and calls.
        assert_eq!(
            dynamic(&[
                "CREATE PROCEDURE fix() BEGIN ALTER TABLE t DROP PRIMARY KEY, DROP id; END",
                "CALL fix()",
            ]),
            Some(Unnamed::DynamicSql)
        );
        assert_eq!(
            dynamic(&["DROP SCHEMA app CASCADE"]),
            Some(Unnamed::DropsSchema)
        );
        assert_eq!(
            dynamic(&["drop database if exists app"]),
            Some(Unnamed::DropsSchema)
        );
    }

    #[test]
    fn dynamic_sql_that_keeps_data_is_not_destructive() {
        let dynamic = |sql: &[&str]| destroys_unnamed(sql.iter().copied());
        for sql in [
            // Drizzle's and Prisma's guarded foreign keys and types.
            "DO $$ BEGIN ALTER TABLE \"a\" ADD CONSTRAINT \"a_b_fk\" FOREIGN KEY (\"b\") REFERENCES \"b\"(\"id\") ON DELETE cascade ON UPDATE no action; EXCEPTION WHEN duplicate_object THEN null; END $$",
            "DO $$ BEGIN CREATE TYPE mood AS ENUM ('sad', 'ok'); EXCEPTION WHEN duplicate_object THEN null; END $$",
            "DO $$ BEGIN EXECUTE 'DROP INDEX IF EXISTS i'; EXECUTE 'ALTER TABLE t DROP CONSTRAINT c, ALTER COLUMN x DROP DEFAULT, ALTER COLUMN y DROP NOT NULL'; END $$",
            "DO $$ BEGIN EXECUTE 'GRANT SELECT, INSERT, DELETE ON t TO app'; END $$",
            "DO $$ BEGIN -- drop table t would be wrong here\n PERFORM 1; END $$",
        ] {
            assert_eq!(dynamic(&[sql]), None, "{sql}");
        }
        // A destructive string without dynamic SQL to run it is only a string.
        assert_eq!(
            dynamic(&["INSERT INTO notes VALUES ('DROP TABLE t')"]),
            None
        );
        // Statements destroys() names are not its business.
        assert_eq!(dynamic(&["DROP TABLE t", "TRUNCATE t"]), None);
    }

    #[test]
    fn renames_are_read_in_both_spellings() {
        let (from, to) = renames("ALTER TABLE accounts RENAME TO accounts_old").unwrap();
        assert_eq!(
            (from.table.text.as_str(), to.table.text.as_str()),
            ("accounts", "accounts_old")
        );
        let (from, to) = renames("RENAME TABLE `a` TO `b`, c TO d").unwrap();
        assert_eq!(
            (from.table.text.as_str(), to.table.text.as_str()),
            ("a", "b")
        );
        let (_, to) = renames("ALTER TABLE app.t RENAME TO t_old").unwrap();
        assert_eq!(to.schema.unwrap().text, "app");
        assert!(renames("ALTER TABLE t RENAME COLUMN a TO b").is_none());
        assert!(name(None, "T_OLD").same_as(&name(Some("public"), "t_old")));
    }
}
