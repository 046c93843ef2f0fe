//! Errors at the library boundary, each mapped to the exit code DESIGN.md promises.
//!
//! Messages are complete sentences a person can act on: what was wrong, where, and the
//! command to run next. Anything that could hold a password goes through
//! [`crate::config::redact`] before it reaches a variant.

use std::path::PathBuf;
use std::time::Duration;

/// Process exit codes; scripts depend on them, so they never change meaning.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const CONNECT: u8 = 3;
    pub const BLOCKED: u8 = 4;
    pub const PENDING: u8 = 5;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// godwit.toml, flags or environment are wrong.
    #[error("{0}")]
    Config(String),

    /// A migration file or directory cannot be used as it is.
    #[error("{}: {message}", path.display())]
    Source { path: PathBuf, message: String },

    /// The database cannot be reached or refused us.
    #[error("{0}")]
    Connect(String),

    /// Another deployer holds the migration lock for longer than we were willing to wait.
    #[error(
        "could not acquire the migration lock within {}: {holder}\n  another `godwit deploy` is probably running; wait for it, or raise `lock_wait` in godwit.toml",
        humantime::format_duration(*waited)
    )]
    LockTimeout { waited: Duration, holder: String },

    /// Refused for safety: a failed migration awaits resolve, a checksum differs, …
    #[error("{0}")]
    Blocked(String),

    /// The database holds another tool's migration history and none of godwit's: a
    /// deploy would run every migration again from the first, over objects that tool
    /// already created. Nothing was applied and no backup taken.
    #[error("{}", other_history_message(.0))]
    OtherToolHistory(Vec<crate::adopt::OtherHistory>),

    /// A migration failed; its state is recorded in the history table.
    #[error("{0}")]
    MigrationFailed(String),

    /// A database error outside any migration (history table, lock bookkeeping).
    #[error("{context}: {message}")]
    Database { context: String, message: String },

    #[error("{0}")]
    Io(String),

    /// PostgreSQL: godwit's user can neither create nor enter the role that confines a
    /// plugin's statements to its grants (no CREATEROLE); an administrator must create it.
    #[error(
        "the database user {user} cannot create or enter the role {role} that confines a plugin's statements to its grants (it lacks CREATEROLE); nothing was run for this plugin\n  \
         ask an administrator to run once: {sql}\n  \
         godwit then keeps the role's privileges in line with the grants itself, on the tables it owns"
    )]
    RoleMissing {
        user: String,
        role: String,
        sql: String,
    },

    /// A whole-database backup or restore could not be made.
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Source { .. } | Error::Io(_) => exit::USAGE,
            Error::Connect(_) | Error::LockTimeout { .. } => exit::CONNECT,
            Error::Blocked(_) | Error::OtherToolHistory(_) | Error::RoleMissing { .. } => {
                exit::BLOCKED
            }
            Error::MigrationFailed(_) | Error::Database { .. } => exit::FAILED,
            Error::Backup(e) => {
                use crate::backup::BackupError as B;
                match e {
                    // Nothing was changed and no retry helps: the machine or the command
                    // needs fixing (install the tool, name an existing backup).
                    B::ToolMissing { .. }
                    | B::NotFound { .. }
                    | B::OtherDialect { .. }
                    | B::Unsupported(_) => exit::USAGE,
                    // Restoring another database's backup here is the wrong-database
                    // mistake the safety checks exist for.
                    B::OtherDatabase { .. } | B::Damaged { .. } => exit::BLOCKED,
                    B::ToolFailed { .. } | B::Io { .. } | B::Database { .. } => exit::FAILED,
                }
            }
        }
    }

    pub(crate) fn source(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Source {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn db(context: impl Into<String>, err: &sqlx::Error) -> Self {
        Error::Database {
            context: context.into(),
            message: describe_db_error(err),
        }
    }
}

fn other_history_message(found: &[crate::adopt::OtherHistory]) -> String {
    let tables: Vec<String> = found
        .iter()
        .map(|h| {
            format!(
                "{} ({}'s history, {} row{})",
                h.table,
                h.tool.name(),
                h.rows,
                if h.rows == 1 { "" } else { "s" }
            )
        })
        .collect();
    let adopt = if found.len() == 1 {
        "`godwit adopt`"
    } else {
        "`godwit adopt --from TOOL`"
    };
    format!(
        "this database has {} and no godwit history: another tool applied migrations here, so deploying would run every migration again from the first, \
         over the objects that tool already created. Nothing was applied and no backup was taken.\n  \
         Run {adopt} to record what it applied as applied in godwit's history (it runs nothing and leaves its table as it is), then `godwit deploy`.\n  \
         If that table has nothing to do with these migrations, `godwit deploy --ignore-other-history` applies them anyway.",
        tables.join(" and ")
    )
}

/// The database's own words, with its error code, as a DBA would want to search for them.
pub fn describe_db_error(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => {
            let mut text = match db.code() {
                Some(code) => format!("{} (code {code})", db.message()),
                None => db.message().to_string(),
            };
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                if let Some(detail) = pg.detail() {
                    text.push_str(&format!("\n  detail: {detail}"));
                }
                if let Some(hint) = pg.hint() {
                    text.push_str(&format!("\n  hint: {hint}"));
                }
            }
            if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                text = format!("{} (error {})", my.message(), my.number());
            }
            text
        }
        other => crate::config::redact(&other.to_string()),
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::Io(err.to_string())
    }
}
