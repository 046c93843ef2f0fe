//! godwit's model of migrations, with nothing that talks to a database or runs a plugin.
//!
//! Everything here is pure: dialects, versions, [`value`]s, [`finding`]s, the statement
//! [`split`]ter, the statement [`analyze`]r, migration [`source`]s and their layouts, the
//! [`step`] file model (what `step.toml` says, not running it), the [`history`] model
//! (the rows and what they mean, not the SQL that reads them) and the [`schema`] model (a
//! database's tables, columns and indexes, dialect-neutral, and the drift between two;
//! not the catalog queries that read it). No database driver, no tokio, no wasmtime:
//! `.ci/core-deps` keeps it that way, so this crate and `godwit-lint` build and test on
//! any machine in seconds.

pub mod analyze;
pub mod columns;
pub mod duration;
pub mod error;
pub mod finding;
pub mod foreign;
pub mod history;
pub mod project;
pub mod rebuild;
pub mod schema;
pub mod scope;
pub mod source;
pub mod split;
pub mod sql;
pub mod step;
pub mod value;

pub use error::Error;
pub use scope::{Enforcement, Scope};

/// The SQL dialect a database speaks; it decides how files are split and which
/// statements a driver sends for locking, timeouts and history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL",
            Dialect::Sqlite => "SQLite",
        })
    }
}

/// The version of this build, recorded in every history row. Every crate of the workspace
/// shares one version, so this is the binary's too.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
