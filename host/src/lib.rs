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

/// `println!` for command output, through [`text::write_out`]: output that cannot be
/// written (a closed pipe) never panics mid-command.
macro_rules! outln {
    () => {
        $crate::text::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::text::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for command output; see [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::text::write_out(format_args!($($arg)*))
    };
}

pub mod adopt;
pub mod backup;
pub mod cli;
pub mod config;
pub mod diff;
pub mod error;
pub mod fleet;
pub mod health;
pub mod lockfile;
pub mod migrator;
pub mod notify;
pub mod plan;
pub mod plugin;
pub mod plugin_cli;
pub mod report;
pub mod schema;
pub mod step;
mod text;
pub mod validate;
pub mod verify;

pub use error::Error;

// The pure model and the lint rules live in their own crates (issue 13); these keep the
// old paths (`crate::split::...`, `godwit::lint::...`) working.
pub use godwit_core::{Dialect, VERSION, analyze, finding, history, source, split, value};
pub use godwit_lint as lint;
pub use godwit_lint::findings_report;
// The drivers are the crate godwit-db; `godwit::driver` and `godwit::redact` are its paths.
pub use godwit_db as driver;
pub use godwit_db::redact;
