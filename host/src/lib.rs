//! godwit applies versioned SQL migrations to PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! This package is the `godwit` binary: its command line ([`cli`], one file per command,
//! and [`plugin_cli`]) and its output ([`report`]). What the commands do is
//! `godwit-engine`'s, re-exported here under the paths it always had: the history table,
//! ordering, the migration lock, transactions, timeouts and [`backup`]s. The binary in
//! `main.rs` is a thin shell over [`cli`]; everything it does is reachable from this library.
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

/// `println!` for command output, through [`output::write_out`]: output that cannot be
/// written (a closed pipe) never panics mid-command.
macro_rules! outln {
    () => {
        $crate::output::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for command output; see [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_out(format_args!($($arg)*))
    };
}

pub mod cli;
pub mod output;
pub mod plugin_cli;
pub mod report;

// The engine (issue 13): configuration, the run, plugins, backups and the rest. Its
// modules keep the paths they had when they were this crate's (`godwit::migrator`,
// `crate::config`, …), so the commands, tests and benches did not change.
pub use godwit_engine::{
    Dialect, Error, VERSION, adopt, analyze, backup, config, diff, driver, error, event, finding,
    findings_report, fleet, foreign, health, history, lint, lockfile, migrator, notify, plan,
    plugin, redact, schema, source, split, step, text, validate, value, verify,
};
