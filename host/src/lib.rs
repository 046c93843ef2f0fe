//! godwit applies versioned SQL migrations to PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! The host owns everything that has to be trustworthy: the history table, ordering,
//! the migration lock, transactions, timeouts and [`backup`]s. The binary in `main.rs` is a thin
//! shell over [`cli`]; everything it does is reachable from this library.
//!
//! ```no_run
//! # async fn demo() -> Result<(), godwit::Error> {
//! use godwit::{config::Config, migrator::Migrator};
//!
//! let config = Config::load(std::path::Path::new("."), &Default::default())?;
//! let mut migrator = Migrator::connect(&config).await?;
//! let report = migrator.deploy(&Default::default()).await?;
//! println!("{} applied", report.applied.len());
//! # Ok(()) }
//! ```

pub mod adopt;
pub mod analyze;
pub mod backup;
pub mod cli;
pub mod config;
pub mod diff;
pub mod driver;
pub mod error;
pub mod finding;
pub mod findings_report;
pub mod history;
pub mod lint;
pub mod lockfile;
pub mod migrator;
pub mod notify;
pub mod plan;
pub mod plugin;
pub mod plugin_cli;
pub mod report;
pub mod schema;
pub mod source;
pub mod split;
pub mod step;
pub mod validate;
pub mod value;
pub mod verify;

pub use error::Error;

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

/// The version of this build, recorded in every history row.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
