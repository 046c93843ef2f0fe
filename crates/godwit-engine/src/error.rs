//! Errors at the library boundary, each mapped to the exit code DESIGN.md promises.
//!
//! Messages are complete sentences a person can act on: what was wrong, where, and the
//! command to run next. Anything that could hold a password goes through
//! [`crate::config::redact`] before it reaches a variant.

use std::path::PathBuf;
use std::time::Duration;

use godwit_db::dump::DumpError;
pub use godwit_db::{DbError, RoleProblem, describe_db_error};

pub use crate::exit;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// godwit.toml, flags or environment are wrong.
    #[error("{0}")]
    Config(String),

    /// A database could not be reached or used: connecting, the migration lock, godwit's
    /// history table, a plugin's role. [`DbError`] says which.
    #[error(transparent)]
    Db(#[from] DbError),

    /// A migration file or directory cannot be used as it is.
    #[error("{}: {message}", path.display())]
    Source { path: PathBuf, message: String },

    /// A command that reads the database (and never creates one) was pointed at a SQLite
    /// file that does not exist: a mistyped path, most often. Nothing was created.
    #[error(
        "{target}: the SQLite file {} does not exist, and `godwit {command}` does not create one; nothing was done\n  \
         check the URL (`--database-url`, DATABASE_URL or `database_url` in godwit.toml); `godwit deploy` creates the file on a new project",
        path.display()
    )]
    SqliteFileMissing {
        path: PathBuf,
        target: String,
        command: &'static str,
    },

    /// Another deployer holds the migration lock for longer than we were willing to wait.
    #[error(
        "could not acquire the migration lock within {}: {holder}\n  another `godwit deploy` is probably running; wait for it, or raise `lock_wait` in godwit.toml",
        humantime::format_duration(*waited)
    )]
    LockTimeout { waited: Duration, holder: String },

    /// Refused for safety: a failed migration awaits resolve, a checksum differs, a
    /// plugin reaches beyond its grants… `reason` says which; callers decide from it.
    #[error("{message}")]
    Blocked { reason: Refusal, message: String },

    /// The whole-database backup a deploy or down takes before it changes anything could
    /// not be made, so nothing was changed.
    #[error("{}", run_backup_message(*operation, why, source))]
    RunBackup {
        operation: godwit_core::history::Operation,
        why: BackupWhy,
        /// Boxed: beside `why` it would make every `Result<_, Error>` larger.
        source: Box<crate::backup::BackupError>,
    },

    /// The database holds another tool's migration history and none of godwit's: a
    /// deploy would run every migration again from the first, over objects that tool
    /// already created. Nothing was applied and no backup taken.
    #[error("{}", other_history_message(.0))]
    OtherToolHistory(Vec<godwit_core::foreign::OtherHistory>),

    /// A migration failed; its state is recorded in the history table. `cause` says
    /// what failed: a statement, the plugin, its confinement, or the step's batches.
    /// `message` says what happened; `next`, what to do about it (empty when there is
    /// nothing to say), which a restore of the whole database makes moot.
    #[error("{message}{next}")]
    MigrationFailed {
        cause: Failure,
        message: String,
        next: String,
    },

    /// A database error outside any migration (history table, lock bookkeeping).
    #[error("{context}: {message}")]
    Database { context: String, message: String },

    #[error("{0}")]
    Io(String),

    /// The targets file of `--targets` cannot be used; nothing was done on any target.
    #[error(transparent)]
    Targets(crate::config::targets::TargetsError),

    /// A whole-database backup or restore could not be made.
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),

    /// The declared schema (`schema =` in godwit.toml) cannot be read or built.
    #[error(transparent)]
    Declared(#[from] crate::schema::declared::DeclaredError),

    /// `godwit diff NAME` wrote nothing: a probable rename, a destructive change not
    /// allowed, or a change it cannot write.
    #[error(transparent)]
    Diff(crate::schema::generate::DiffError),
    /// A step's health checks (replication lag, the health query) are misconfigured, or
    /// the database stayed unhealthy for longer than the step may pause.
    #[error(transparent)]
    Health(crate::health::HealthError),

    /// A step was asked to run with more than one worker where it cannot have them;
    /// nothing of the step was run or recorded.
    #[error(
        "step {step}: workers = {workers} refused: {reason}\n  set `[batch] workers = 1` in its step.toml (or pass `--workers 1`)"
    )]
    WorkersRefused {
        step: String,
        workers: u32,
        reason: WorkersRefusal,
    },

    /// An error of another kind with a note added (what was applied before it, what a
    /// rolled-back batch left): its type, and so its exit code, are the source's.
    #[error("{source}{note}")]
    Noted { source: Box<Error>, note: String },

    /// `godwit work` found no running step with batches left to take.
    #[error(
        "{target}: no step is running with batches left to take{}\n  `godwit work` helps a `godwit deploy` whose backfill runs with workers (`--workers N` or `[batch] workers`); start that first, or give `--wait SECONDS` to wait for it",
        waited.map(|w| format!(" (waited {})", humantime::format_duration(w))).unwrap_or_default()
    )]
    NoStepToJoin {
        target: String,
        waited: Option<Duration>,
    },

    /// `godwit work` would run a step other than the one the deploying process runs: it
    /// took no batch.
    #[error(
        "step {step}: refused to join: {what} (the deploying process recorded {recorded}, this project has {here}); nothing was done\n  run `godwit work` from the same checkout (same migrations, same plugin files) as the `godwit deploy` it helps"
    )]
    JoinMismatch {
        step: String,
        what: JoinDifference,
        recorded: String,
        here: String,
    },
}

/// What `godwit work` found different from what the deploying process runs
/// ([`Error::JoinMismatch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinDifference {
    /// This project has no migration with the step's version.
    MigrationMissing,
    /// The migration's checksum differs.
    Checksum,
    /// The migration here is not a plugin step.
    NotAStep,
    /// The plugin's SHA-256 differs.
    Plugin,
}

impl std::fmt::Display for JoinDifference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JoinDifference::MigrationMissing => "this project has no migration with its version",
            JoinDifference::Checksum => "the migration's checksum differs",
            JoinDifference::NotAStep => "the migration here is not a plugin step",
            JoinDifference::Plugin => "the plugin's SHA-256 differs",
        })
    }
}

/// Why a step cannot run with more than one worker ([`Error::WorkersRefused`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkersRefusal {
    /// SQLite lets one connection write at a time.
    Sqlite,
    /// A data step's plugin keeps its own cursor: its batches cannot be split up front.
    DataStep,
}

impl std::fmt::Display for WorkersRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WorkersRefusal::Sqlite => {
                "SQLite lets only one connection write at a time, so more workers would only wait for each other's locks"
            }
            WorkersRefusal::DataStep => {
                "a data step's plugin walks its own cursor from one batch to the next, so its batches cannot be split among workers up front; only backfills run in parallel"
            }
        })
    }
}

impl From<crate::config::ConfigError> for Error {
    fn from(e: crate::config::ConfigError) -> Error {
        Error::Config(e.0)
    }
}

impl From<crate::health::HealthError> for Error {
    /// `[throttle] replicas` fails as any other setting of godwit.toml would.
    fn from(e: crate::health::HealthError) -> Error {
        match e {
            crate::health::HealthError::Config(e) => e.into(),
            e => Error::Health(e),
        }
    }
}

impl From<crate::config::targets::TargetsError> for Error {
    /// A targets file's godwit.toml or `.env` fails as the project's own would.
    fn from(e: crate::config::targets::TargetsError) -> Error {
        match e {
            crate::config::targets::TargetsError::Config(e) => e.into(),
            e => Error::Targets(e),
        }
    }
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_)
            | Error::Source { .. }
            | Error::Io(_)
            | Error::Declared(_)
            | Error::Targets(_)
            | Error::WorkersRefused { .. }
            | Error::NoStepToJoin { .. } => exit::USAGE,
            Error::LockTimeout { .. } | Error::SqliteFileMissing { .. } => exit::CONNECT,
            Error::Blocked { .. } | Error::JoinMismatch { .. } | Error::OtherToolHistory(_) => {
                exit::BLOCKED
            }
            Error::Db(e) => match e {
                DbError::InitSql(_) => exit::USAGE,
                DbError::Connect(_) | DbError::SchemaMissing { .. } => exit::CONNECT,
                // Another deployer's work, or a role an administrator must fix first.
                DbError::LockLost(_) | DbError::RoleMissing { .. } | DbError::RoleUnfit { .. } => {
                    exit::BLOCKED
                }
                DbError::Database { .. } => exit::FAILED,
            },
            // Nothing was applied: not "a migration failed". A missing tool is the
            // machine's setup, as for `godwit backup`; any other failure stops the deploy
            // for the safety the backup was for.
            Error::RunBackup { source, .. } => match **source {
                crate::backup::BackupError::Dump(DumpError::ToolMissing { .. }) => exit::USAGE,
                _ => exit::BLOCKED,
            },
            Error::MigrationFailed { .. } | Error::Database { .. } => exit::FAILED,
            Error::Noted { source, .. } => source.exit_code(),
            Error::Diff(e) => e.exit_code(),
            Error::Health(e) => e.exit_code(),
            Error::Backup(e) => {
                use crate::backup::BackupError as B;
                match e {
                    // Nothing was changed and no retry helps: the machine or the command
                    // needs fixing (install the tool, name an existing backup).
                    B::Dump(DumpError::ToolMissing { .. } | DumpError::Unsupported(_))
                    | B::NotFound { .. }
                    | B::OtherDialect { .. } => exit::USAGE,
                    // Restoring another database's backup here is the wrong-database
                    // mistake the safety checks exist for.
                    B::OtherDatabase { .. }
                    | B::OtherScope { .. }
                    | B::Dump(DumpError::TenantEntangled { .. })
                    | B::Damaged { .. } => exit::BLOCKED,
                    B::Dump(
                        DumpError::ToolFailed { .. }
                        | DumpError::Io { .. }
                        | DumpError::Database { .. },
                    )
                    | B::Io { .. } => exit::FAILED,
                }
            }
        }
    }

    /// A refusal (exit 4) for `reason`.
    pub fn blocked(reason: Refusal, message: impl Into<String>) -> Self {
        Error::Blocked {
            reason,
            message: message.into(),
        }
    }

    /// A failed migration (exit 1) whose `cause` failed.
    pub fn failed(cause: Failure, message: impl Into<String>) -> Self {
        Error::MigrationFailed {
            cause,
            message: message.into(),
            next: String::new(),
        }
    }

    /// A failure with the advice on what to do next kept apart from what happened, so
    /// that [`Error::without_advice`] can drop it.
    pub fn failed_with_advice(
        cause: Failure,
        message: impl Into<String>,
        next: impl Into<String>,
    ) -> Self {
        Error::MigrationFailed {
            cause,
            message: message.into(),
            next: next.into(),
        }
    }

    /// This error without the advice a failed migration carried: after a restore of the
    /// whole database put everything back, resolving the migration is no longer the
    /// next step. Notes added since stay.
    #[must_use]
    pub fn without_advice(self) -> Error {
        match self {
            Error::MigrationFailed { cause, message, .. } => Error::MigrationFailed {
                cause,
                message,
                next: String::new(),
            },
            Error::Noted { source, note } => Error::Noted {
                source: Box::new(source.without_advice()),
                note,
            },
            other => other,
        }
    }

    /// The same error, its message followed by `note`; its type, its kind and its exit
    /// code do not change.
    #[must_use]
    pub fn with_note(self, note: &str) -> Error {
        match self {
            Error::Blocked { reason, message } => Error::Blocked {
                reason,
                message: message + note,
            },
            Error::MigrationFailed {
                cause,
                message,
                next,
            } => Error::MigrationFailed {
                cause,
                // Notes tell more of what happened; what to do next stays last.
                message: message + note,
                next,
            },
            Error::Config(m) => Error::Config(m + note),
            Error::Noted { source, note: n } => Error::Noted {
                source,
                note: n + note,
            },
            other => Error::Noted {
                source: Box::new(other),
                note: note.to_owned(),
            },
        }
    }

    /// The error a note was added to ([`Error::Noted`]), or this one.
    pub fn unnoted(&self) -> &Error {
        match self {
            Error::Noted { source, .. } => source.unnoted(),
            other => other,
        }
    }

    pub(crate) fn db(
        context: impl Into<String>,
        err: &(impl godwit_db::Described + ?Sized),
    ) -> Self {
        Error::Database {
            context: context.into(),
            message: describe_db_error(err),
        }
    }
}

/// Reading migrations and their settings fails with the same variants, messages and exit
/// codes here as in `godwit-core`.
impl From<godwit_core::Error> for Error {
    fn from(e: godwit_core::Error) -> Self {
        match e {
            godwit_core::Error::Config(message) => Error::Config(message),
            godwit_core::Error::Source { path, message } => Error::Source { path, message },
        }
    }
}

/// What godwit refused ([`Error::Blocked`], exit 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The history needs a person first: a failed or interrupted migration awaits
    /// `resolve`, a checksum changed, a migration is out of order, or an applied
    /// migration's files are gone.
    History,
    /// The command does not apply to what it was asked about: `resolve` of a migration
    /// that is not failed, `down` past a newer migration, `reset` outside development.
    NotApplicable,
    /// A plugin's file is not the one pinned (its SHA-256, its manifest's pin), or not
    /// one this godwit can install.
    PluginFile,
    /// A plugin's description or output reaches beyond its grants or its batch.
    Grants,
    /// A validator rule blocked the deploy.
    Validation,
}

/// What failed in a migration ([`Error::MigrationFailed`], exit 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A statement of a SQL migration (or `down.sql`) failed on the database.
    Statement,
    /// The plugin trapped, returned an error, overran its time, or misbehaved (no
    /// progress, an impossible row count).
    Plugin,
    /// A statement of the plugin escaped its database confinement, or its result went
    /// over the plugin's cap.
    Confinement,
    /// godwit could not read, split, write or checkpoint a step's batches.
    Batch,
}

/// Why deploy took a backup before applying anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackupWhy {
    /// `[backup] policy = "always"`.
    PolicyAlways,
    /// `[backup] policy = "destructive"` (the default), and these migrations drop data
    /// that exists now.
    Destructive(String),
    /// `--restore-on-failure` needs a backup to restore.
    RestoreOnFailure,
}

fn run_backup_message(
    operation: godwit_core::history::Operation,
    why: &BackupWhy,
    source: &crate::backup::BackupError,
) -> String {
    let command = operation.as_str();
    let (reason, instead) = match why {
        BackupWhy::PolicyAlways => (
            format!(
                "`[backup] policy = \"always\"` in godwit.toml asks for one before every {command}"
            ),
            "set `[backup] policy = \"destructive\"` (only before drops of existing data) or `\"never\"` in godwit.toml",
        ),
        BackupWhy::Destructive(which) => (
            format!(
                "the backup policy (`destructive`, the default) asks for one before a {command} that drops existing data, as {which} does"
            ),
            "set `[backup] policy = \"never\"` in godwit.toml (then drops keep no copy of their data either)",
        ),
        BackupWhy::RestoreOnFailure => (
            "`--restore-on-failure` needs one to put the database back if a migration fails"
                .to_owned(),
            "deploy without `--restore-on-failure`",
        ),
    };
    let (changing, changed) = match operation {
        godwit_core::history::Operation::Down => ("reverting", "reverted"),
        _ => ("applying", "applied"),
    };
    let source = source.to_string().replace('\n', "\n  ");
    format!(
        "{command} stopped before {changing} anything: the backup it takes first could not be made\n  {source}\n\n\
         Nothing was {changed}; the database is as it was. godwit backs up first because {reason}.\n  \
         Fix the cause above and run `godwit {command}` again; or, to {command} without that backup, {instead}."
    )
}

fn other_history_message(found: &[godwit_core::foreign::OtherHistory]) -> String {
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

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::Io(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A note (what was applied before, what a rolled-back batch left) changes the text
    /// only: the kind a caller decides from, and the exit code, stay the source's.
    #[test]
    fn a_note_keeps_the_kind_and_the_exit_code() {
        let note = "\n  the failed batch was rolled back";
        for reason in [
            Refusal::History,
            Refusal::NotApplicable,
            Refusal::PluginFile,
            Refusal::Grants,
            Refusal::Validation,
        ] {
            let noted = Error::blocked(reason, "refused").with_note(note);
            assert!(
                matches!(&noted, Error::Blocked { reason: r, message } if *r == reason && message.ends_with(note)),
                "{noted:?}"
            );
            assert_eq!(noted.exit_code(), exit::BLOCKED);
        }
        for cause in [
            Failure::Statement,
            Failure::Plugin,
            Failure::Confinement,
            Failure::Batch,
        ] {
            let noted = Error::failed(cause, "failed")
                .with_note(note)
                .with_note(note);
            assert!(
                matches!(&noted, Error::MigrationFailed { cause: c, .. } if *c == cause),
                "{noted:?}"
            );
            assert_eq!(noted.exit_code(), exit::FAILED);
        }
        // A refused step is never taken for a lost lock, nor a lost lock for anything else.
        let refused = Error::blocked(Refusal::Grants, "refused").with_note(note);
        assert!(!matches!(
            refused.unnoted(),
            Error::Db(DbError::LockLost(_))
        ));
        let lost = Error::from(DbError::LockLost("lost the lease".into())).with_note(note);
        assert!(matches!(lost.unnoted(), Error::Db(DbError::LockLost(_))));
        assert_eq!(lost.exit_code(), exit::BLOCKED);
        // Errors without a message of their own are wrapped, and stay what they were.
        for (error, code) in [
            (
                Error::Database {
                    context: "cannot write".into(),
                    message: "disk full".into(),
                },
                exit::FAILED,
            ),
            (DbError::Connect("refused".into()).into(), exit::CONNECT),
            (
                DbError::InitSql("init_sql failed".into()).into(),
                exit::USAGE,
            ),
            (
                Error::LockTimeout {
                    waited: Duration::from_secs(1),
                    holder: "pid 7".into(),
                },
                exit::CONNECT,
            ),
        ] {
            let text = format!("{error}{note}{note}");
            let noted = error.with_note(note).with_note(note);
            assert_eq!(noted.exit_code(), code);
            assert_eq!(noted.to_string(), text);
            assert!(!matches!(noted.unnoted(), Error::Noted { .. }));
        }
    }
}
